/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * migrate_store: "rampartd migrate-store", moving an installation's SQLite
 * database into a new PostgreSQL database (or a new SQLite file), checked
 * on the target before anything is kept.  The steps, and why each is
 * where it is, are at the top of migrate_store.c; store/copy.h moves the
 * rows and store/snapshot.h takes the source's snapshot.
 */
#ifndef RAMPART_MIGRATE_STORE_H
#define RAMPART_MIGRATE_STORE_H

/* Exit statuses of the subcommand (also in its --help and docs/operations.md). */
enum {
	MIGRATE_OK = 0,          /* copied, verified, committed */
	MIGRATE_FAILED = 1,      /* an error: the target keeps no copied row */
	MIGRATE_USAGE = 2,       /* bad command line */
	MIGRATE_NOT_EMPTY = 3,   /* the target holds data (or an older schema): nothing was written */
	MIGRATE_MISMATCH = 4,    /* the copy did not verify: rolled back, nothing kept */
};

/*
 * Runs "rampartd migrate-store" with @argv[0] = "migrate-store" and its
 * options after it.  Prints progress on stdout, refusals and errors on
 * stderr.  Returns the exit status.
 */
int migrate_store_main(int argc, char **argv);

#endif
