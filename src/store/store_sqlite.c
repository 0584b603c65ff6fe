/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_sqlite: the embedded driver.  WAL journal, synchronous=FULL so that a
 * committed transaction survives power loss and kill -9, a busy timeout so
 * writers queue instead of failing, foreign keys on, one connection per thread.
 *
 * Write transactions of one process queue on a mutex (struct store.writer)
 * before BEGIN IMMEDIATE: SQLite's busy handler makes a waiting writer sleep
 * in steps of up to 100 ms, so under load threads slept while the database
 * was free.  The busy timeout still orders writers of other processes (several
 * servers on one database); the mutex waits at most as long, then fails as a
 * busy database would.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/rtime.h"
#include "store/migrations.h"

/*
 * Prepared statements are kept per connection and reused: preparing costs
 * more than running most of our queries.  A statement in use (an open
 * store_stmt) is never handed out twice; the least recently used idle one
 * is evicted when the cache is full.
 */
#define STORE_CACHE_SIZE 96
#define STORE_BUSY_TIMEOUT_MS 10000

struct store_cached {
	sqlite3_stmt *st;
	uint64_t hash;
	uint64_t last_used;
	bool busy;
};

struct store_conn {
	sqlite3 *db;
	struct store *owner;
	struct store_conn *next;
	bool in_tx;
	bool writer;     /* holds owner->writer (one connection per thread) */
	uint64_t tick;
	struct store_cached cache[STORE_CACHE_SIZE];
};

struct store {
	char *path;
	pthread_mutex_t lock;
	pthread_mutex_t writer;     /* one write transaction at a time in this process */
	struct store_conn *conns;   /* every connection, for store_close */
	pthread_key_t key;
};

struct store_stmt {
	sqlite3_stmt *st;
	struct store_conn *c;
	int slot;        /* cache slot, or -1 when not cached */
};

static atomic_uint_fast64_t store_errors;

uint64_t store_error_count(void)
{
	return atomic_load(&store_errors);
}

static int store_map(struct store_conn *c, int rc, const char *what)
{
	int ext = c ? sqlite3_extended_errcode(c->db) : rc;

	atomic_fetch_add(&store_errors, 1);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		log_debug("store: constraint", "what=%s code=%d", what, ext);
		return ERR_CONFLICT;
	}
	log_debug("store: error", "what=%s code=%d detail=\"%s\"", what, ext,
		  c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	return ERR_STORE;
}

static int store_conn_open(struct store *s, struct store_conn **ret)
{
	static const char setup[] =
		"PRAGMA journal_mode=WAL;"
		"PRAGMA synchronous=FULL;"
		"PRAGMA foreign_keys=ON;"
		"PRAGMA trusted_schema=OFF;";
	struct store_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	rc = sqlite3_open_v2(s->path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
			     SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: cannot open database", "path=\"%s\" detail=\"%s\"", s->path,
			  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return ERR_STORE;
	}
	sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(c->db, 1);
	rc = sqlite3_exec(c->db, setup, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: cannot configure database", "path=\"%s\" detail=\"%s\"", s->path,
			  sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return ERR_STORE;
	}
	c->owner = s;
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	*ret = c;
	return 0;
}

struct store_conn *store_conn(struct store *s)
{
	struct store_conn *c = pthread_getspecific(s->key);

	if (c)
		return c;
	if (store_conn_open(s, &c) < 0)
		return NULL;
	pthread_setspecific(s->key, c);
	return c;
}

/* Binds @args to "$1".."$N" of @st.  Returns 0 or ERR_STORE (nothing is finalized). */
static int store_bind(struct store_conn *c, sqlite3_stmt *st, const struct store_arg *args, size_t nargs)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < nargs; i++) {
		char name[24];
		int idx;

		snprintf(name, sizeof(name), "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0)
			continue;   /* the statement does not use this parameter */
		switch (args[i].type) {
		case STORE_ARG_NULL: rc = sqlite3_bind_null(st, idx); break;
		case STORE_ARG_I64: rc = sqlite3_bind_int64(st, idx, args[i].i); break;
		case STORE_ARG_TEXT: rc = sqlite3_bind_text(st, idx, args[i].p, -1, SQLITE_TRANSIENT); break;
		case STORE_ARG_BLOB:
			rc = sqlite3_bind_blob64(st, idx, args[i].p ? args[i].p : "", args[i].n, SQLITE_TRANSIENT);
			break;
		}
		if (rc != SQLITE_OK)
			return store_map(c, rc, "bind");
	}
	return 0;
}

/* Gives @st back: a cached statement is reset for its next use, any other finalized. */
static void store_release(struct store_conn *c, sqlite3_stmt *st, int slot)
{
	if (slot < 0) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	c->cache[slot].busy = false;
}

/*
 * Finds or prepares the statement for @sql and binds @args.  On success
 * *ret holds it and *ret_slot its cache slot (-1 if uncached); release it
 * with store_release.
 */
static int store_prepare(struct store_conn *c, const char *sql, const struct store_arg *args,
			 size_t nargs, sqlite3_stmt **ret, int *ret_slot)
{
	uint64_t h = hash_str(sql);
	sqlite3_stmt *st = NULL;
	int slot = -1, victim = -1, rc, r;

	for (int i = 0; i < STORE_CACHE_SIZE; i++) {
		struct store_cached *e = &c->cache[i];

		if (!e->st) {
			if (victim < 0 || c->cache[victim].st)
				victim = i;
			continue;
		}
		if (!e->busy && e->hash == h && strcmp(sqlite3_sql(e->st), sql) == 0) {
			slot = i;
			st = e->st;
			break;
		}
		if (!e->busy && (victim < 0 || (c->cache[victim].st &&
						 e->last_used < c->cache[victim].last_used)))
			victim = i;
	}
	if (!st) {
		rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK)
			return store_map(c, rc, "prepare");
		if (victim >= 0) {
			if (c->cache[victim].st)
				sqlite3_finalize(c->cache[victim].st);
			c->cache[victim].st = st;
			c->cache[victim].hash = h;
			slot = victim;
		}
	}
	if (slot >= 0) {
		c->cache[slot].busy = true;
		c->cache[slot].last_used = ++c->tick;
	}
	r = store_bind(c, st, args, nargs);
	if (r < 0) {
		store_release(c, st, slot);
		return r;
	}
	*ret = st;
	*ret_slot = slot;
	return 0;
}

int store_exec(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs)
{
	sqlite3_stmt *st;
	int rc, r, slot;

	r = store_prepare(c, sql, args, nargs, &st, &slot);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? sqlite3_changes(c->db) : store_map(c, rc, "exec");
	store_release(c, st, slot);
	return r;
}

int store_query(struct store_conn *c, const char *sql, const struct store_arg *args,
		size_t nargs, struct store_stmt **ret)
{
	struct store_stmt *q = calloc(1, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	r = store_prepare(c, sql, args, nargs, &q->st, &q->slot);
	if (r < 0) {
		free(q);
		return r;
	}
	q->c = c;
	*ret = q;
	return 0;
}

int store_step(struct store_stmt *q)
{
	int rc = sqlite3_step(q->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_map(q->c, rc, "step");
}

int64_t store_col_i64(struct store_stmt *q, int col)
{
	return sqlite3_column_int64(q->st, col);
}

const char *store_col_text(struct store_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(q->st, col);
}

const void *store_col_blob(struct store_stmt *q, int col, size_t *ret_len)
{
	const void *p = sqlite3_column_blob(q->st, col);

	*ret_len = (size_t)sqlite3_column_bytes(q->st, col);
	return p;
}

bool store_col_is_null(struct store_stmt *q, int col)
{
	return sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

int store_stmt_rebind(struct store_stmt *q, const struct store_arg *args, size_t nargs)
{
	/* reset's result repeats the last step's error, which was already reported. */
	sqlite3_reset(q->st);
	sqlite3_clear_bindings(q->st);
	return store_bind(q->c, q->st, args, nargs);
}

int store_stmt_exec(struct store_stmt *q, const struct store_arg *args, size_t nargs)
{
	int rc, r = store_stmt_rebind(q, args, nargs);

	if (r < 0)
		return r;
	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? sqlite3_changes(q->c->db) : store_map(q->c, rc, "exec");
	sqlite3_reset(q->st);
	return r;
}

void store_stmt_free(struct store_stmt *q)
{
	if (!q)
		return;
	store_release(q->c, q->st, q->slot);
	free(q);
}

int store_query_i64(struct store_conn *c, const char *sql, const struct store_arg *args,
		    size_t nargs, int64_t *ret)
{
	struct store_stmt *q;
	int r = store_query(c, sql, args, nargs, &q);

	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		*ret = store_col_i64(q, 0);
		r = 0;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

static void store_writer_release(struct store_conn *c)
{
	if (c->writer) {
		c->writer = false;
		pthread_mutex_unlock(&c->owner->writer);
	}
}

int store_begin(struct store_conn *c)
{
	struct timespec until;
	int rc;

	/* Already held by this thread: let SQLite refuse the nested BEGIN as before. */
	if (!c->writer) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STORE_BUSY_TIMEOUT_MS / 1000;
		rc = pthread_mutex_timedlock(&c->owner->writer, &until);
		if (rc != 0) {
			atomic_fetch_add(&store_errors, 1);
			log_warn("store: no write slot", "waited_ms=%d error=%d", STORE_BUSY_TIMEOUT_MS, rc);
			return ERR_STORE;
		}
		c->writer = true;
	}
	rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = store_map(c, rc, "begin");

		if (sqlite3_get_autocommit(c->db))
			store_writer_release(c);
		return r;
	}
	c->in_tx = true;
	return 0;
}

int store_commit(struct store_conn *c)
{
	int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		int r = store_map(c, rc, "commit");

		store_rollback(c);
		return r;
	}
	c->in_tx = false;
	store_writer_release(c);
	return 0;
}

void store_rollback(struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	c->in_tx = false;
	store_writer_release(c);
}

bool store_in_transaction(struct store_conn *c)
{
	return !sqlite3_get_autocommit(c->db);
}

int store_schema_version(struct store_conn *c, int64_t *ret)
{
	int r = store_query_i64(c, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				STORE_NOARGS, ret);
	return r;
}

int store_check_integrity(struct store_conn *c)
{
	struct store_stmt *q;
	const char *t;
	int r = store_query(c, "PRAGMA integrity_check", STORE_NOARGS, &q);

	if (r < 0)
		return r;
	r = store_step(q);
	t = r == 1 ? store_col_text(q, 0) : NULL;
	r = (t && strcmp(t, "ok") == 0) ? 0 : ERR_STORE;
	store_stmt_free(q);
	return r;
}

static int store_migrate(struct store_conn *c)
{
	int64_t current = 0, newest = 0;
	int r;

	r = store_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
		       STORE_NOARGS);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		return r;
	r = store_schema_version(c, &current);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < store_migrations_count; i++)
		if (store_migrations[i].version > newest)
			newest = store_migrations[i].version;
	if (current > newest) {
		log_error("store: database schema is newer than this program",
			  "schema=%lld known=%lld", (long long)current, (long long)newest);
		r = ERR_SCHEMA;
		goto fail;
	}
	for (size_t i = 0; i < store_migrations_count; i++) {
		const struct store_migration *m = &store_migrations[i];

		if (m->version <= current)
			continue;
		if (sqlite3_exec(c->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
			log_error("store: migration failed", "version=%d name=%s detail=\"%s\"",
				  m->version, m->name, sqlite3_errmsg(c->db));
			r = ERR_STORE;
			goto fail;
		}
		r = store_exec(c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			       STORE_ARGS(SA_I64(m->version), SA_TEXT(m->name), SA_I64(rtime_now_ms())));
		if (r < 0)
			goto fail;
		log_info("store: migration applied", "version=%d name=%s", m->version, m->name);
	}
	return store_commit(c);
fail:
	store_rollback(c);
	return r;
}

int store_open(const char *path, struct store **ret)
{
	struct store *s = calloc(1, sizeof(*s));
	struct store_conn *c;
	int r;

	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	/*
	 * Create the file 0600 ourselves: SQLite would use 0644 less the umask,
	 * and gives its -wal and -shm files the database file's mode.
	 */
	{
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0) {
			r = -errno;
			free(s->path);
			free(s);
			return r;
		}
		close(fd);
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->writer, NULL);
	/* Connections are closed by store_close, not at thread exit, so no destructor. */
	if (pthread_key_create(&s->key, NULL) != 0) {
		free(s->path);
		free(s);
		return -ENOMEM;
	}
	c = store_conn(s);
	if (!c) {
		store_close(s);
		return ERR_STORE;
	}
	r = store_migrate(c);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void store_close(struct store *s)
{
	struct store_conn *c, *next;

	if (!s)
		return;
	for (c = s->conns; c; c = next) {
		next = c->next;
		for (int i = 0; i < STORE_CACHE_SIZE; i++)
			sqlite3_finalize(c->cache[i].st);
		sqlite3_close_v2(c->db);
		free(c);
	}
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->writer);
	free(s->path);
	free(s);
}
