/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * snapshot: a consistent copy of a SQLite database file that a running
 * server may be writing, made with SQLite's online backup API (what the
 * sqlite3 shell's ".backup" does).
 *
 * The copy is taken inside one read transaction on the source: it holds
 * every transaction committed before the copy began (also those still in
 * the write-ahead log) and nothing committed after.  With the WAL journal
 * Rampart uses, writers are not blocked while it runs.  The source is
 * never created or changed; the copy is a new file, mode 0600.
 */
#ifndef RAMPART_SNAPSHOT_H
#define RAMPART_SNAPSHOT_H

#include <stdint.h>

struct rerr;

/*
 * Copies the SQLite database at @path to the new file @dest (which must
 * not exist).  *ret_at (may be NULL) gets the time the copy's read
 * transaction began, Unix milliseconds.  Returns 0, ERR_NOT_FOUND when
 * @path does not exist, ERR_STORE when SQLite refused (not a database, a
 * read error), or a negative errno for @dest; @e says which in a sentence.
 * On failure @dest is removed.
 */
int store_sqlite_snapshot(const char *path, const char *dest, int64_t *ret_at, struct rerr *e);

#endif
