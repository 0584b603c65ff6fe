/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store: the dispatch behind store.h.  store_open picks a driver from its
 * target (a postgresql:// URI or a SQLite path); every other call forwards
 * to the driver that made the object (store_internal.h).  What is the same
 * for both engines lives here: the migration runner, the schema version,
 * store_query_i64 and the refusal counter.
 */
#include "store/store.h"

#include <stdatomic.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "store/migrations.h"
#include "store/store_internal.h"

static atomic_uint_fast64_t store_errors;

void store_note_error(void)
{
	atomic_fetch_add(&store_errors, 1);
}

uint64_t store_error_count(void)
{
	return atomic_load(&store_errors);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_open_opts(const char *target, const struct store_options *o, struct store **ret)
{
	static const struct store_options defaults = { 0 };
	const struct store_ops *ops = &store_sqlite_ops;
	struct store *s = NULL;
	struct store_conn *c;
	int r;

	if (!o)
		o = &defaults;
	if (has_prefix(target, "postgresql://") || has_prefix(target, "postgres://"))
		ops = &store_pg_ops;
	else if (has_prefix(target, "sqlite:"))
		target += strlen("sqlite:");
	r = ops->open(target, o, &s);
	if (r < 0)
		return r;
	c = ops->conn(s);
	if (!c) {
		ops->close(s);
		return ERR_STORE;
	}
	r = store_migrate(c);
	if (r < 0) {
		ops->close(s);
		return r;
	}
	*ret = s;
	return 0;
}

int store_open(const char *target, struct store **ret)
{
	return store_open_opts(target, NULL, ret);
}

const char *store_engine(const struct store *s)
{
	return s->ops->name;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

struct store_conn *store_conn(struct store *s)
{
	return s->ops->conn(s);
}

int store_begin(struct store_conn *c)
{
	return c->ops->begin(c);
}

int store_commit(struct store_conn *c)
{
	return c->ops->commit(c);
}

void store_rollback(struct store_conn *c)
{
	c->ops->rollback(c);
}

bool store_in_transaction(struct store_conn *c)
{
	return c->ops->in_transaction(c);
}

int store_exec(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs)
{
	return c->ops->exec(c, sql, args, nargs);
}

int store_query(struct store_conn *c, const char *sql, const struct store_arg *args,
		size_t nargs, struct store_stmt **ret)
{
	return c->ops->query(c, sql, args, nargs, ret);
}

int store_step(struct store_stmt *st)
{
	return st->ops->step(st);
}

int64_t store_col_i64(struct store_stmt *st, int col)
{
	return st->ops->col_i64(st, col);
}

const char *store_col_text(struct store_stmt *st, int col)
{
	return st->ops->col_text(st, col);
}

const void *store_col_blob(struct store_stmt *st, int col, size_t *ret_len)
{
	return st->ops->col_blob(st, col, ret_len);
}

bool store_col_is_null(struct store_stmt *st, int col)
{
	return st->ops->col_is_null(st, col);
}

int store_stmt_rebind(struct store_stmt *st, const struct store_arg *args, size_t nargs)
{
	return st->ops->stmt_rebind(st, args, nargs);
}

int store_stmt_exec(struct store_stmt *st, const struct store_arg *args, size_t nargs)
{
	return st->ops->stmt_exec(st, args, nargs);
}

void store_stmt_free(struct store_stmt *st)
{
	if (st)
		st->ops->stmt_free(st);
}

int store_check_integrity(struct store_conn *c)
{
	return c->ops->check_integrity(c);
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

int store_schema_version(struct store_conn *c, int64_t *ret)
{
	return store_query_i64(c, "SELECT coalesce(max(version), 0) FROM schema_migrations",
			       STORE_NOARGS, ret);
}

int64_t store_newest_migration(void)
{
	int64_t newest = 0;

	for (size_t i = 0; i < store_migrations_count; i++)
		if (store_migrations[i].version > newest)
			newest = store_migrations[i].version;
	return newest;
}

int store_migrate(struct store_conn *c)
{
	int64_t current = 0, newest = store_newest_migration();
	int r;

	/*
	 * Inside the write transaction, so that several servers starting at
	 * once on one PostgreSQL database create the table and apply each
	 * migration exactly once: the others wait for the write lock, then
	 * find everything applied.
	 */
	r = store_begin(c);
	if (r < 0)
		return r;
	r = c->ops->script(c, "schema_migrations",
			   "CREATE TABLE IF NOT EXISTS schema_migrations ("
			   " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
	if (r < 0)
		goto fail;
	r = store_schema_version(c, &current);
	if (r < 0)
		goto fail;
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
		r = c->ops->script(c, m->name, m->sql);
		if (r < 0) {
			log_error("store: migration failed", "version=%d name=%s", m->version, m->name);
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
