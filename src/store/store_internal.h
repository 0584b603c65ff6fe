/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_internal: what the drivers (store_sqlite.c, store_pg.c) share with
 * the dispatch in store.c.  Never included outside src/store/.
 *
 * Every struct store, store_conn and store_stmt a driver hands out begins
 * with a pointer to its driver's operations (struct store_ops), so that
 * store.c forwards each public call of store.h to the driver that made the
 * object.  A driver implements exactly the semantics store.h documents; the
 * parts that are the same for every engine (the migration runner, the
 * schema version, store_query_i64, the error counter) live in store.c.
 */
#ifndef RAMPART_STORE_INTERNAL_H
#define RAMPART_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops {
	const char *name;   /* "sqlite", "postgresql" */
	/* Opens without migrating; @target is the path or the connection URI. */
	int (*open)(const char *target, const struct store_options *o, struct store **ret);
	void (*close)(struct store *s);
	struct store_conn *(*conn)(struct store *s);
	int (*begin)(struct store_conn *c);
	int (*commit)(struct store_conn *c);
	void (*rollback)(struct store_conn *c);
	bool (*in_transaction)(struct store_conn *c);
	int (*exec)(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs);
	int (*query)(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
		     struct store_stmt **ret);
	int (*step)(struct store_stmt *st);
	int64_t (*col_i64)(struct store_stmt *st, int col);
	const char *(*col_text)(struct store_stmt *st, int col);
	const void *(*col_blob)(struct store_stmt *st, int col, size_t *ret_len);
	bool (*col_is_null)(struct store_stmt *st, int col);
	int (*stmt_rebind)(struct store_stmt *st, const struct store_arg *args, size_t nargs);
	int (*stmt_exec)(struct store_stmt *st, const struct store_arg *args, size_t nargs);
	void (*stmt_free)(struct store_stmt *st);
	int (*check_integrity)(struct store_conn *c);
	/*
	 * Runs a migration's text (several statements, no parameters) inside
	 * the open transaction.  A driver may rewrite the portable DDL for its
	 * engine first.  Returns 0 or an error (the reason logged).
	 */
	int (*script)(struct store_conn *c, const char *what, const char *sql);
};

/* The first member of each driver's struct store, store_conn and store_stmt. */
struct store { const struct store_ops *ops; };
struct store_conn { const struct store_ops *ops; };
struct store_stmt { const struct store_ops *ops; };

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Counts one statement the engine refused (store_error_count). */
void store_note_error(void);

/*
 * Applies the pending numbered migrations on @c in one write transaction,
 * refusing a schema newer than this program (ERR_SCHEMA).  Shared by the
 * drivers' open paths through store_open.
 */
int store_migrate(struct store_conn *c);

/* The highest migration this program knows. */
int64_t store_newest_migration(void);

#endif
