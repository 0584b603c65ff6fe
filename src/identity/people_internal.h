/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * people_internal: what people.c, people_org.c and people_group.c share:
 * the writer, whose statements each file prepares on first use.
 */
#ifndef RAMPART_PEOPLE_INTERNAL_H
#define RAMPART_PEOPLE_INTERNAL_H

#include <stdint.h>

#include "identity/people.h"

struct store_arg;

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

#endif
