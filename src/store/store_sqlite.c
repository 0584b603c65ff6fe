/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_sqlite: the embedded driver, the default (store_sqlite_ops, chosen by
 * store.c for a path or "sqlite:PATH").  WAL journal, synchronous=FULL so that a
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
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/log.h"
#include "store/store_internal.h"

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

struct sq_store;

struct sq_conn {
	struct store_conn base;   /* first: the driver's operations */
	sqlite3 *db;
	struct sq_store *owner;
	struct sq_conn *next;
	bool in_tx;
	bool writer;     /* holds owner->writer (one connection per thread) */
	uint64_t tick;
	struct store_cached cache[STORE_CACHE_SIZE];
};

struct sq_store {
	struct store base;          /* first: the driver's operations */
	char *path;
	pthread_mutex_t lock;
	pthread_mutex_t writer;     /* one write transaction at a time in this process */
	struct sq_conn *conns;      /* every connection, for store_close */
	pthread_key_t key;
};

struct sq_stmt {
	struct store_stmt base;     /* first: the driver's operations */
	sqlite3_stmt *st;
	struct sq_conn *c;
	int slot;        /* cache slot, or -1 when not cached */
};

#define SQ_STORE(s) ((struct sq_store *)(s))
#define SQ_CONN(c) ((struct sq_conn *)(c))
#define SQ_STMT(q) ((struct sq_stmt *)(q))

static int sq_map(struct sq_conn *c, int rc, const char *what)
{
	int ext = c ? sqlite3_extended_errcode(c->db) : rc;

	store_note_error();
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		log_debug("store: constraint", "what=%s code=%d", what, ext);
		return ERR_CONFLICT;
	}
	log_debug("store: error", "what=%s code=%d detail=\"%s\"", what, ext,
		  c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	return ERR_STORE;
}

static int sq_conn_open(struct sq_store *s, struct sq_conn **ret)
{
	static const char setup[] =
		"PRAGMA journal_mode=WAL;"
		"PRAGMA synchronous=FULL;"
		"PRAGMA foreign_keys=ON;"
		"PRAGMA trusted_schema=OFF;";
	struct sq_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->base.ops = &store_sqlite_ops;
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

static struct store_conn *sq_conn(struct store *store)
{
	struct sq_store *s = SQ_STORE(store);
	struct sq_conn *c = pthread_getspecific(s->key);

	if (c)
		return &c->base;
	if (sq_conn_open(s, &c) < 0)
		return NULL;
	pthread_setspecific(s->key, c);
	return &c->base;
}

/* Binds @args to "$1".."$N" of @st.  Returns 0 or ERR_STORE (nothing is finalized). */
static int sq_bind(struct sq_conn *c, sqlite3_stmt *st, const struct store_arg *args, size_t nargs)
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
			return sq_map(c, rc, "bind");
	}
	return 0;
}

/* Gives @st back: a cached statement is reset for its next use, any other finalized. */
static void sq_release(struct sq_conn *c, sqlite3_stmt *st, int slot)
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
 * with sq_release.
 */
static int sq_prepare(struct sq_conn *c, const char *sql, const struct store_arg *args,
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
			return sq_map(c, rc, "prepare");
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
	r = sq_bind(c, st, args, nargs);
	if (r < 0) {
		sq_release(c, st, slot);
		return r;
	}
	*ret = st;
	*ret_slot = slot;
	return 0;
}

static int sq_exec(struct store_conn *conn, const char *sql, const struct store_arg *args, size_t nargs)
{
	struct sq_conn *c = SQ_CONN(conn);
	sqlite3_stmt *st;
	int rc, r, slot;

	r = sq_prepare(c, sql, args, nargs, &st, &slot);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? sqlite3_changes(c->db) : sq_map(c, rc, "exec");
	sq_release(c, st, slot);
	return r;
}

static int sq_query(struct store_conn *conn, const char *sql, const struct store_arg *args,
		    size_t nargs, struct store_stmt **ret)
{
	struct sq_stmt *q = calloc(1, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	r = sq_prepare(SQ_CONN(conn), sql, args, nargs, &q->st, &q->slot);
	if (r < 0) {
		free(q);
		return r;
	}
	q->base.ops = &store_sqlite_ops;
	q->c = SQ_CONN(conn);
	*ret = &q->base;
	return 0;
}

static int sq_step(struct store_stmt *stmt)
{
	struct sq_stmt *q = SQ_STMT(stmt);
	int rc = sqlite3_step(q->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_map(q->c, rc, "step");
}

static int64_t sq_col_i64(struct store_stmt *q, int col)
{
	return sqlite3_column_int64(SQ_STMT(q)->st, col);
}

static const char *sq_col_text(struct store_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(SQ_STMT(q)->st, col);
}

static const void *sq_col_blob(struct store_stmt *q, int col, size_t *ret_len)
{
	const void *p = sqlite3_column_blob(SQ_STMT(q)->st, col);

	*ret_len = (size_t)sqlite3_column_bytes(SQ_STMT(q)->st, col);
	return p;
}

static bool sq_col_is_null(struct store_stmt *q, int col)
{
	return sqlite3_column_type(SQ_STMT(q)->st, col) == SQLITE_NULL;
}

static int sq_stmt_rebind(struct store_stmt *stmt, const struct store_arg *args, size_t nargs)
{
	struct sq_stmt *q = SQ_STMT(stmt);

	/* reset's result repeats the last step's error, which was already reported. */
	sqlite3_reset(q->st);
	sqlite3_clear_bindings(q->st);
	return sq_bind(q->c, q->st, args, nargs);
}

static int sq_stmt_exec(struct store_stmt *stmt, const struct store_arg *args, size_t nargs)
{
	struct sq_stmt *q = SQ_STMT(stmt);
	int rc, r = sq_stmt_rebind(stmt, args, nargs);

	if (r < 0)
		return r;
	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? sqlite3_changes(q->c->db) : sq_map(q->c, rc, "exec");
	sqlite3_reset(q->st);
	return r;
}

static void sq_stmt_free(struct store_stmt *stmt)
{
	struct sq_stmt *q = SQ_STMT(stmt);

	sq_release(q->c, q->st, q->slot);
	free(q);
}

static void sq_writer_release(struct sq_conn *c)
{
	if (c->writer) {
		c->writer = false;
		pthread_mutex_unlock(&c->owner->writer);
	}
}

static int sq_begin(struct store_conn *conn)
{
	struct sq_conn *c = SQ_CONN(conn);
	struct timespec until;
	int rc;

	/* Already held by this thread: let SQLite refuse the nested BEGIN as before. */
	if (!c->writer) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STORE_BUSY_TIMEOUT_MS / 1000;
		rc = pthread_mutex_timedlock(&c->owner->writer, &until);
		if (rc != 0) {
			store_note_error();
			log_warn("store: no write slot", "waited_ms=%d error=%d", STORE_BUSY_TIMEOUT_MS, rc);
			return ERR_STORE;
		}
		c->writer = true;
	}
	rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = sq_map(c, rc, "begin");

		if (sqlite3_get_autocommit(c->db))
			sq_writer_release(c);
		return r;
	}
	c->in_tx = true;
	return 0;
}

static void sq_rollback(struct store_conn *conn)
{
	struct sq_conn *c = SQ_CONN(conn);

	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	c->in_tx = false;
	sq_writer_release(c);
}

static int sq_commit(struct store_conn *conn)
{
	struct sq_conn *c = SQ_CONN(conn);
	int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		int r = sq_map(c, rc, "commit");

		sq_rollback(conn);
		return r;
	}
	c->in_tx = false;
	sq_writer_release(c);
	return 0;
}

static bool sq_in_transaction(struct store_conn *conn)
{
	return !sqlite3_get_autocommit(SQ_CONN(conn)->db);
}

static int sq_check_integrity(struct store_conn *c)
{
	struct store_stmt *q;
	const char *t;
	int r = sq_query(c, "PRAGMA integrity_check", STORE_NOARGS, &q);

	if (r < 0)
		return r;
	r = sq_step(q);
	t = r == 1 ? sq_col_text(q, 0) : NULL;
	r = (t && strcmp(t, "ok") == 0) ? 0 : ERR_STORE;
	sq_stmt_free(q);
	return r;
}

static int sq_script(struct store_conn *conn, const char *what, const char *sql)
{
	struct sq_conn *c = SQ_CONN(conn);

	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_error("store: statements refused", "what=%s detail=\"%s\"", what, sqlite3_errmsg(c->db));
		return ERR_STORE;
	}
	return 0;
}

static void sq_close(struct store *store)
{
	struct sq_store *s = SQ_STORE(store);
	struct sq_conn *c, *next;

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

static int sq_open(const char *path, const struct store_options *o, struct store **ret)
{
	struct sq_store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &store_sqlite_ops;
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
	*ret = &s->base;
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.conn = sq_conn,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_transaction = sq_in_transaction,
	.exec = sq_exec,
	.query = sq_query,
	.step = sq_step,
	.col_i64 = sq_col_i64,
	.col_text = sq_col_text,
	.col_blob = sq_col_blob,
	.col_is_null = sq_col_is_null,
	.stmt_rebind = sq_stmt_rebind,
	.stmt_exec = sq_stmt_exec,
	.stmt_free = sq_stmt_free,
	.check_integrity = sq_check_integrity,
	.script = sq_script,
};
