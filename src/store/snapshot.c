/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * snapshot: SQLite's online backup of a whole database into a new file
 * (snapshot.h).  One sqlite3_backup_step(-1) copies every page inside a
 * single read transaction, so the copy is one moment of the source even
 * while a server commits beside it.
 */
#include "store/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/rtime.h"

#define SNAPSHOT_BUSY_MS 10000
#define SNAPSHOT_TRIES 20

/* Opens @path with @flags and the busy timeout.  Returns SQLITE_OK or SQLite's code (*ret closed). */
static int snap_open(const char *path, int flags, sqlite3 **ret)
{
	int rc = sqlite3_open_v2(path, ret, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_close(*ret);
		*ret = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*ret, SNAPSHOT_BUSY_MS);
	return SQLITE_OK;
}

/* Runs the backup from @src to @dst.  Returns SQLITE_DONE or SQLite's error code. */
static int snap_copy(sqlite3 *src, sqlite3 *dst)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return sqlite3_errcode(dst);
	/*
	 * All pages in one step: one read transaction, hence one moment.  A
	 * step that found the source busy (a writer checkpointing, WAL
	 * recovery) has copied nothing yet and is simply run again.
	 */
	for (int i = 0; i < SNAPSHOT_TRIES; i++) {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		sqlite3_sleep(100);
	}
	sqlite3_backup_finish(b);
	return rc;
}

int store_sqlite_snapshot(const char *path, const char *dest, int64_t *ret_at, struct rerr *e)
{
	sqlite3 *src = NULL, *dst = NULL;
	struct stat st;
	int64_t at;
	int fd, rc, r = 0;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return rerr_set(e, ERR_NOT_FOUND, "from", "there is no database at '%s'", path);
		r = -errno;
		return rerr_set(e, r, "from", "cannot read '%s': %s", path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return rerr_set(e, ERR_STORE, "from", "'%s' is not a database file", path);
	/* Made here so that its mode is 0600 from the start: the copy holds every secret hash. */
	fd = open(dest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		return rerr_set(e, r, "temp-dir", "cannot create '%s': %s", dest, strerror(-r));
	}
	close(fd);

	/*
	 * Read-write but never written: a read-only connection could not set
	 * up the WAL index of a database whose server is stopped.  Without
	 * SQLITE_OPEN_CREATE a missing file is never created.
	 */
	rc = snap_open(path, SQLITE_OPEN_READWRITE, &src);
	if (rc != SQLITE_OK) {
		r = rerr_set(e, ERR_STORE, "from", "cannot open '%s': %s", path, sqlite3_errstr(rc));
		goto out;
	}
	rc = snap_open(dest, SQLITE_OPEN_READWRITE, &dst);
	if (rc != SQLITE_OK) {
		r = rerr_set(e, ERR_STORE, "temp-dir", "cannot open '%s': %s", dest, sqlite3_errstr(rc));
		goto out;
	}
	at = rtime_now_ms();
	rc = snap_copy(src, dst);
	if (rc != SQLITE_DONE) {
		r = rerr_set(e, ERR_STORE, "from", "cannot copy '%s': %s", path,
			     rc == SQLITE_NOTADB ? "not a SQLite database" : sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_close(dst);
	dst = NULL;
	if (rc != SQLITE_OK) {
		r = rerr_set(e, ERR_STORE, "temp-dir", "cannot write '%s': %s", dest, sqlite3_errstr(rc));
		goto out;
	}
	if (ret_at)
		*ret_at = at;
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	if (r < 0)
		unlink(dest);
	return r;
}
