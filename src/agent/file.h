/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * file: how rampart-agent writes its files: whole writes that survive
 * EINTR and short writes (to a pipe, or at an offset), and the atomic replacement of a file (temporary
 * file beside it, fsync, rename) that every file of the state directory,
 * the event buffer's state.json and the USBGuard rules go through.
 *
 * Invariant: after afile_replace returns, @path holds the old contents or
 * the new ones, never a mixture, also across a crash; its directory entry
 * is durable only once the caller fsyncs the directory, where that matters
 * (oplog.c does).
 */
#ifndef RAMPART_AGENT_FILE_H
#define RAMPART_AGENT_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all @len bytes of @data to @fd, retrying on EINTR.  Returns 0 or -errno. */
int afile_write_all(int fd, const void *data, size_t len);

/* As afile_write_all, at offset @off of @fd (pwrite: the file position does not move). */
int afile_pwrite_all(int fd, const void *data, size_t len, off_t off);

/*
 * Replaces @path by @len bytes of @data with mode @mode: writes @path.tmp
 * (created, or truncated, never through a symbolic link), fsyncs it and
 * renames it over @path.  Returns 0, -ENAMETOOLONG or -errno; on failure
 * @path is unchanged and the temporary file removed.
 */
int afile_replace(const char *path, const void *data, size_t len, mode_t mode);

#endif
