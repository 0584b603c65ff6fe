/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* migrations: the numbered SQL files of migrations/, embedded at build time. */
#ifndef RAMPART_MIGRATIONS_H
#define RAMPART_MIGRATIONS_H

#include <stddef.h>

struct store_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
