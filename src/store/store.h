/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store: Rampart's one interface to its database.
 *
 * SQL given to this interface is the portable dialect of ARCHITECTURE.md
 * section 5: "$1"-style parameters, INTEGER milliseconds, TEXT JSON,
 * INSERT ... ON CONFLICT and RETURNING.  Engine specifics stay in the
 * drivers: store_sqlite.c (a file path, the default) and store_pg.c (a
 * postgresql:// URI), chosen by store_open from its target (store.c).
 *
 * A struct store is shared by the whole process; each thread gets its own
 * connection from store_conn(), opened on first use and closed by
 * store_close().  A struct store_conn must never be used by two threads.
 *
 * A write transaction (store_begin) excludes every other write transaction
 * on the same database, on SQLite and on PostgreSQL alike, also across
 * several servers: check-then-act code inside one stays correct.  A failed
 * statement inside a transaction undoes only itself, as in SQLite.
 *
 * Errors: ERR_CONFLICT for a constraint violation (unique, foreign key,
 * check, not null), ERR_UNAVAILABLE when the database cannot be reached
 * or the connection was lost (the next use on that thread reconnects) or a
 * transaction lost a serialization conflict, ERR_STORE for anything else
 * the engine refused (details logged at debug).
 */
#ifndef RAMPART_STORE_H
#define RAMPART_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_conn;
struct store_stmt;

enum store_arg_type { STORE_ARG_NULL, STORE_ARG_I64, STORE_ARG_TEXT, STORE_ARG_BLOB };

struct store_arg {
	enum store_arg_type type;
	int64_t i;
	const void *p;
	size_t n;
};

#define SA_NULL ((struct store_arg){ .type = STORE_ARG_NULL })
#define SA_I64(v) ((struct store_arg){ .type = STORE_ARG_I64, .i = (int64_t)(v) })
/* A NULL string binds SQL NULL. */
static inline struct store_arg store_arg_text(const char *s)
{
	return (struct store_arg){ .type = s ? STORE_ARG_TEXT : STORE_ARG_NULL, .p = s };
}
#define SA_TEXT(s) store_arg_text(s)
#define SA_BLOB(ptr, len) ((struct store_arg){ .type = STORE_ARG_BLOB, .p = (ptr), .n = (len) })
/* Expands to "array, count" for the args/nargs parameters below. */
#define STORE_ARGS(...) (const struct store_arg[]){ __VA_ARGS__ }, \
	(sizeof((const struct store_arg[]){ __VA_ARGS__ }) / sizeof(struct store_arg))
#define STORE_NOARGS NULL, 0

/* How a store is opened; zero values mean the defaults. */
struct store_options {
	unsigned pool_size;   /* PostgreSQL: most connections at once (default 16) */
	unsigned wait_ms;     /* PostgreSQL: how long store_conn waits for one (default 10000) */
};

/*
 * Opens the database @target names and applies pending migrations inside
 * one transaction, refusing a schema newer than this program (ERR_SCHEMA):
 *   "postgresql://..." or "postgres://..."  a PostgreSQL database (libpq
 *       connection URI); its collation must be C or POSIX (ERR_STORE
 *       otherwise, the reason logged);
 *   "sqlite:PATH" or a plain PATH  a SQLite file, created (mode 0600) if
 *       needed.
 * Returns 0 and *ret, or an error.
 */
int store_open(const char *target, struct store **ret);

/* store_open with options (@o may be NULL). */
int store_open_opts(const char *target, const struct store_options *o, struct store **ret);

/* "sqlite" or "postgresql": the engine behind @s. */
const char *store_engine(const struct store *s);

/* Closes every connection.  No thread may use the store afterwards.  Accepts NULL. */
void store_close(struct store *s);

/*
 * This thread's connection, opened on first use; NULL if it cannot be
 * opened (SQLite), or when every connection of the pool is taken by other
 * threads for longer than the options' wait_ms (PostgreSQL).  On
 * PostgreSQL a connection to a database that is down is still returned;
 * its statements fail with ERR_UNAVAILABLE until the database is back.
 */
struct store_conn *store_conn(struct store *s);

/* Highest applied migration. */
int store_schema_version(struct store_conn *c, int64_t *ret);

/*
 * Starts a write transaction (takes the write lock at once: on PostgreSQL
 * an advisory lock shared by every server on the database).  Returns 0,
 * ERR_STORE (also when a transaction is already open on @c), or
 * ERR_UNAVAILABLE.
 */
int store_begin(struct store_conn *c);
int store_commit(struct store_conn *c);
/* Rolls back; safe to call when no transaction is open. */
void store_rollback(struct store_conn *c);
bool store_in_transaction(struct store_conn *c);

/* Runs a statement.  Returns the number of rows changed (>= 0) or an error. */
int store_exec(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs);

/* Prepares and binds a query; step it with store_step.  Returns 0 and *ret, or an error. */
int store_query(struct store_conn *c, const char *sql, const struct store_arg *args,
		size_t nargs, struct store_stmt **ret);

/* Advances: 1 a row is ready, 0 no more rows, or an error. */
int store_step(struct store_stmt *st);

int64_t store_col_i64(struct store_stmt *st, int col);
/* Text of a column, or NULL for SQL NULL; valid until the next step or free. */
const char *store_col_text(struct store_stmt *st, int col);
const void *store_col_blob(struct store_stmt *st, int col, size_t *ret_len);
bool store_col_is_null(struct store_stmt *st, int col);

/*
 * Makes @st ready to run again with new @args: resets it and replaces every
 * binding.  With store_query (args may be none) this prepares a statement
 * once for many rows.  Returns 0 or an error.
 */
int store_stmt_rebind(struct store_stmt *st, const struct store_arg *args, size_t nargs);

/*
 * Rebinds @st with @args and runs it to completion (rows it returns are
 * skipped), leaving it ready for the next call.  Returns the number of rows
 * changed (>= 0) or an error.
 */
int store_stmt_exec(struct store_stmt *st, const struct store_arg *args, size_t nargs);

/* Finalizes; accepts NULL. */
void store_stmt_free(struct store_stmt *st);

/* Runs a query expecting one integer.  Returns 0, ERR_NOT_FOUND if no row, or an error. */
int store_query_i64(struct store_conn *c, const char *sql, const struct store_arg *args,
		    size_t nargs, int64_t *ret);

/*
 * Runs "PRAGMA integrity_check" on SQLite; on PostgreSQL checks that the
 * database answers and that its schema is one this program knows.
 * Returns 0 if ok, ERR_STORE or ERR_UNAVAILABLE otherwise.
 */
int store_check_integrity(struct store_conn *c);

/* Number of statements the engine refused since start, either engine (for /metrics). */
uint64_t store_error_count(void);

#endif
