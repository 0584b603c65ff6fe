/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_pg_internal: what the PostgreSQL driver's files share (store_pg.c
 * statements and transactions, store_pg_pool.c connections, store_pg_sql.c
 * the SQL text it reads and rewrites).  The design is in store_pg.c's
 * header.  Never included outside src/store/.
 */
#ifndef RAMPART_STORE_PG_INTERNAL_H
#define RAMPART_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store_internal.h"

#define PG_CACHE_SIZE 96
#define PG_RETRIES 3
#define PG_DEFAULT_POOL 16
#define PG_DEFAULT_WAIT_MS 10000
#define PG_INLINE_ARGS 16
/* The advisory lock every write transaction takes: "RMPT" in ASCII. */
#define PG_WRITE_LOCK "1380798548"
#define PG_SAVEPOINT "rampart_stmt"

#define OID_UNKNOWN 0
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

struct pg_store;
struct pg_stmt;

struct pg_cached {
	char *sql;           /* NULL: a free slot */
	Oid *types;          /* the parameter types it was prepared with */
	int ntypes;
	uint64_t hash;
	uint64_t last_used;
	unsigned users;      /* open statements using it: never evicted while > 0 */
	bool prepared;       /* exists on the current server session */
};

struct pg_conn {
	struct store_conn base;   /* first: the driver's operations */
	PGconn *pg;
	struct pg_store *owner;
	struct pg_conn *next;     /* every connection, for close */
	struct pg_conn *next_idle;
	bool in_tx;
	bool broken;              /* the server went away: reconnect before the next statement */
	bool savepoint;           /* PG_SAVEPOINT is established in this transaction */
	struct pg_stmt *streaming;/* the query whose rows are still on the wire */
	uint64_t tick;
	unsigned uncached;        /* counter for names of uncached statements */
	struct pg_cached cache[PG_CACHE_SIZE];
};

struct pg_store {
	struct store base;        /* first: the driver's operations */
	char *target;             /* the connection URI */
	char *shown;              /* the same without its password, for logs */
	unsigned pool_size, wait_ms;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned count;           /* connections made */
	struct pg_conn *all, *idle;
	pthread_key_t key;
};

struct pg_stmt {
	struct store_stmt base;   /* first: the driver's operations */
	struct pg_conn *c;
	int slot;                 /* cache slot, or -1 for an uncached statement */
	char name[40];
	Oid *types;               /* an uncached statement's parameter types */
	int ntypes;               /* the values every execution sends */
	bool writes;              /* not a SELECT: runs after a savepoint inside a transaction */
	bool control;             /* a caller's SAVEPOINT, RELEASE or ROLLBACK TO */
	int nparams;
	char **values;            /* the bound values (text, or bytes for a blob) */
	int *lengths, *formats;
	char **owned;             /* what values point into, freed at rebind */
	bool sent, on_wire, done, rows_seen;
	int err;                  /* the result's error once the buffered rows are taken */
	PGresult **buf;           /* rows read off the wire before their turn */
	size_t nbuf, ibuf, capbuf;
	PGresult *row;            /* the current row */
	unsigned char *blob;      /* the last decoded bytea (PQfreemem) */
};

#define PG_STORE(s) ((struct pg_store *)(s))
#define PG_CONN(c) ((struct pg_conn *)(c))
#define PG_STMT(q) ((struct pg_stmt *)(q))

/* The length of @msg's first line: libpq's messages end in newlines, log lines must not. */
static inline int store_pg_line_len(const char *msg)
{
	return msg ? (int)strcspn(msg, "\n") : 0;
}

/* store_pg.c */

/* Runs @sql (no parameters) on @c's live session.  Returns 0 or a store error. */
int store_pg_simple(struct pg_conn *c, const char *sql, const char *what);

/* store_pg_pool.c */

/* This thread's connection from the pool (store_ops.conn); NULL when none came within wait_ms. */
struct store_conn *store_pg_conn(struct store *store);

/*
 * Makes sure @c has a live session: reconnects a broken connection, never
 * inside a transaction (the transaction died with its session).  Returns 0
 * or ERR_UNAVAILABLE.
 */
int store_pg_alive(struct pg_conn *c);

/* Gives a thread's connection back to the pool: the pthread key's destructor. */
void store_pg_conn_return(void *p);

/* Closes @c's session and frees it. */
void store_pg_conn_free(struct pg_conn *c);

/* store_pg_sql.c */

/* @url with its password (user part or "password=" parameter) as "***", for logs; NULL if out of memory. */
char *store_pg_redact(const char *url);

/* The highest "$N" @sql names outside quotes (0 when none). */
int store_pg_max_param(const char *sql);

/* Whether @sql is a SELECT (or VALUES): it writes nothing, so needs no statement savepoint. */
bool store_pg_is_select(const char *sql);

/* Whether @sql is a caller's SAVEPOINT, RELEASE or ROLLBACK (TO). */
bool store_pg_is_savepoint_control(const char *sql);

/*
 * The portable DDL of migrations/ in PostgreSQL's words; a new string or
 * NULL when out of memory.  Outside quotes and comments:
 *   "INTEGER PRIMARY KEY"  (SQLite's rowid alias, filled in when omitted)
 *                          -> BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY
 *   "INTEGER"              -> BIGINT (times are milliseconds, beyond 32 bits)
 *   "BLOB"                 -> BYTEA
 */
char *store_pg_translate_ddl(const char *sql);

#endif
