/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fsio: the file operations every program of Rampart needs whole: reads and
 * writes that retry on EINTR and finish short writes, a directory's fsync
 * (what makes a rename or a new file durable), and atomic replacement of a
 * small file.
 *
 * All return 0 (or a byte count) on success and a negative errno on error;
 * none logs.
 */
#ifndef RAMPART_FSIO_H
#define RAMPART_FSIO_H

#include <stddef.h>
#include <sys/types.h>

/* read() that retries on EINTR.  Returns the bytes read (0 at end of file) or -errno. */
ssize_t fsio_read(int fd, void *buf, size_t len);

/* Writes all @len bytes at the file position.  Returns 0 or -errno. */
int fsio_write_all(int fd, const void *data, size_t len);

/* Writes all @len bytes at offset @off (pwrite: the position does not move).  Returns 0, -EINVAL or -errno. */
int fsio_pwrite_all(int fd, const void *data, size_t len, off_t off);

/* fsyncs the directory @dir, so that entries created or renamed in it survive a crash.  Returns 0 or -errno. */
int fsio_sync_dir(const char *dir);

/*
 * Replaces @path with @len bytes at @data, of mode exactly @mode: written
 * to "@path.tmp" (never following a link), fsynced, then renamed over
 * @path.  After it returns, @path holds the old contents or the new ones,
 * never a mix; the caller syncs the directory when the rename itself must
 * survive a crash.  Returns 0 or -errno (the temporary file removed).
 */
int fsio_replace(const char *path, const void *data, size_t len, mode_t mode);

#endif
