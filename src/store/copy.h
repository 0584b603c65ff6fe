/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * copy: moving a whole Rampart database from one store to another, table
 * by table, through store.h (rampartd migrate-store; the order of the
 * steps and their checks live there).
 *
 * The plan is read from a SQLite database's own catalogue (sqlite_master,
 * table_info, foreign_key_list): every table but schema_migrations (each
 * database keeps its own) and SQLite's internal ones, each with its columns
 * and what they hold by declared type (INTEGER, TEXT or BLOB: the only
 * types the migrations use).  Tables come in an order where a table that a
 * foreign key names is copied before the table naming it (creation order
 * otherwise).  A column that names its own table (people.manager_id,
 * org_units.parent_id) or a table not copied yet cannot be filled while
 * rows go in, since the row it names may come later: it is "deferred",
 * copied as NULL and filled in by store_copy_fill_deferred once every row
 * is there.
 *
 * Values are copied exactly: integers as 64-bit integers, text and blobs
 * byte for byte, each bound as a parameter.  A value whose storage class
 * disagrees with its column's declared type (SQLite would keep text in an
 * INTEGER column; PostgreSQL would not) is refused rather than converted.
 *
 * A table's sum (store_copy_sum) is its row count and an order-independent
 * digest of its rows (the sum of each row's BLAKE2b-256 over its values
 * with their kinds and lengths), read the same way on either engine: equal
 * sums mean the same rows, whatever order an engine returns them in.
 */
#ifndef RAMPART_COPY_H
#define RAMPART_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_conn;
struct store_options;
struct rerr;

enum store_copy_kind { STORE_COPY_INT, STORE_COPY_TEXT, STORE_COPY_BLOB };

struct store_copy_column {
	char *name;
	enum store_copy_kind kind;
	int pk;               /* position in the primary key, from 1; 0 when not part of it */
	bool deferred;        /* names a row of its own table or of one copied later: filled in last */
};

struct store_copy_table {
	char *name;
	struct store_copy_column *cols;
	size_t ncols;
	bool identity;        /* one INTEGER PRIMARY KEY: a rowid in SQLite, an identity column in PostgreSQL */
	bool has_deferred;
};

struct store_copy_plan {
	struct store_copy_table *tables;
	size_t n;
};

struct store_copy_sum {
	int64_t rows;
	unsigned char digest[32];
};

/*
 * Called after each batch a table's copy wrote, @rows being the rows copied
 * so far.  A negative return stops the copy, which then fails with that
 * error.
 */
typedef int (*store_copy_progress_fn)(const struct store_copy_table *t, int64_t rows, void *ud);

struct store_copy_opts {
	size_t batch_rows;                 /* rows per INSERT statement (0: 500) */
	store_copy_progress_fn progress;   /* may be NULL */
	void *ud;
};

/*
 * Opens @target as store_open_opts does (the same targets) without
 * applying any migration, so that the database can be looked at before
 * anything is written to it.  Returns 0 and *ret, or store_open's errors.
 */
int store_open_unmigrated(const char *target, const struct store_options *o, struct store **ret);

/*
 * Applies the pending migrations to a store opened with
 * store_open_unmigrated, as store_open would have.  Returns 0, ERR_SCHEMA
 * (a newer schema than this program's) or a store error.
 */
int store_copy_migrate(struct store *s);

/* The highest migration this program knows. */
int64_t store_copy_newest_schema(void);

/*
 * The schema version of @c's database without creating anything: 0 when it
 * has no Rampart schema (no schema_migrations table).  Returns 0 or a store
 * error.
 */
int store_copy_schema_version(struct store_conn *c, int64_t *ret);

/* @target for people to read: a PostgreSQL URI's password as "***".  A new string, or NULL (no memory). */
char *store_copy_target_shown(const char *target);

/*
 * Reads the tables of the SQLite database behind @c into a new plan (see
 * the top of this file).  Returns 0 and *ret, -ENOTSUP when @c is not
 * SQLite, ERR_INVALID for a table the copy cannot take (a name that is not
 * a plain lower-case identifier, a column of another declared type, a
 * deferred column without a primary key to find its row by) with @e
 * saying which, or a store error.
 */
int store_copy_plan_read(struct store_conn *c, struct store_copy_plan **ret, struct rerr *e);

/* Frees @p; accepts NULL. */
void store_copy_plan_free(struct store_copy_plan *p);

/* The table named @name in @p, or NULL. */
const struct store_copy_table *store_copy_plan_find(const struct store_copy_plan *p, const char *name);

/* Sums the rows of @t in @c's database.  Returns 0 and *ret, or a store error. */
int store_copy_sum_table(struct store_conn *c, const struct store_copy_table *t, struct store_copy_sum *ret);

bool store_copy_sum_equal(const struct store_copy_sum *a, const struct store_copy_sum *b);

/*
 * Copies every row of @t from @src (a SQLite database, read with typeof()
 * to check each value's storage class) to @dst, in multi-row INSERTs of
 * @o->batch_rows rows (fewer when the values are large), deferred columns
 * as NULL.  The caller holds a transaction on @dst.  *ret gets the sum of
 * the rows read, deferred columns' values included.  Returns 0; ERR_INVALID
 * for a value that cannot be copied exactly; the error of the statement
 * @dst refused; or the progress function's.  @e says which table and rows.
 */
int store_copy_rows(struct store_conn *src, struct store_conn *dst, const struct store_copy_table *t,
		    const struct store_copy_opts *o, struct store_copy_sum *ret, struct rerr *e);

/*
 * Fills in @t's deferred columns on @dst from @src, one UPDATE by primary
 * key per row and column whose value is not NULL.  *ret_rows (may be NULL)
 * gets the number of updates.  Returns 0 or an error, @e saying which.
 */
int store_copy_fill_deferred(struct store_conn *src, struct store_conn *dst, const struct store_copy_table *t,
			     int64_t *ret_rows, struct rerr *e);

/* Deletes every row of @t on @dst (the rows migrations seed, before their copies go in). */
int store_copy_clear(struct store_conn *dst, const struct store_copy_table *t);

/*
 * On PostgreSQL, moves the identity sequence of @t (when it has one) past
 * the highest id copied, so that the next row a server inserts gets a new
 * id.  Nothing to do on SQLite, whose rowids follow the highest one.
 * Returns 0 or a store error.
 */
int store_copy_identity_advance(struct store_conn *dst, const struct store_copy_table *t);

#endif
