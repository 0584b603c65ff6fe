/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * people_internal: what people.c, people_org.c and people_group.c share:
 * the writer, whose statements each file prepares on first use, and the
 * few ways they read (one row by a key, a count, a column of names).
 */
#ifndef RAMPART_PEOPLE_INTERNAL_H
#define RAMPART_PEOPLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/people.h"

struct store_arg;
struct store_stmt;

enum people_stmt {
	PEOPLE_ST_INSERT,
	PEOPLE_ST_UPDATE,
	PEOPLE_ST_HISTORY,
	PEOPLE_ST_RETIRE,
	PEOPLE_ST_ORG_INSERT,
	PEOPLE_ST_COUNT
};

struct people_writer {
	struct store_conn *c;
	const char *source;        /* borrowed */
	const char *actor_id;      /* borrowed, may be NULL */
	int64_t now;
	struct store_stmt *st[PEOPLE_ST_COUNT];
};

/*
 * Runs statement @which of @w (prepared from @sql on first use) with @args.
 * Returns the number of rows changed or an error.
 */
int people_writer_exec(struct people_writer *w, enum people_stmt which, const char *sql,
		       const struct store_arg *args, size_t nargs);

/* "" -> NULL, for the columns that hold SQL NULL when absent. */
const char *people_opt(const char *s);

/*
 * Runs @sql bound to @key and hands its first row to @fn, which copies
 * what it needs (and may step further).  Returns 0, ERR_NOT_FOUND when
 * @key is NULL or there is no row, @fn's error, or a store error.
 */
int people_read_first(struct store_conn *c, const char *sql, const char *key,
		      int (*fn)(struct store_stmt *q, void *ud), void *ud);

/* Runs a count query; *ret is whether it found anything.  Returns 0 or a store error. */
int people_any(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
	       bool *ret);

/*
 * Calls @fn with column 0 of every row of @sql ("" for NULL) until it
 * returns an error.  Returns 0, @fn's error, or a store error.
 */
int people_each_text(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
		     int (*fn)(const char *text, void *ud), void *ud);

#endif
