/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fileio: the CLI's plain reads and writes on file descriptors: a read
 * retried after EINTR, a write that writes everything, an input file named
 * on the command line ('-' being standard input), and a whole file into a
 * buffer with a size limit.  Nothing here prints.
 */
#ifndef RAMPART_CLI_FILEIO_H
#define RAMPART_CLI_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/* read(2) retried after EINTR.  Returns the bytes read (0 at the end) or -errno. */
ssize_t fileio_read(int fd, void *p, size_t n);

/* Writes all @len bytes of @p to @fd, after short writes and EINTR too.  Returns 0 or -errno. */
int fileio_write_all(int fd, const void *p, size_t len);

/*
 * Opens the input file @path for reading (close-on-exec, never as a
 * controlling terminal); "-" is standard input, returned as is.  Returns
 * the descriptor or -errno.  Close it with fileio_close_input.
 */
int fileio_open_input(const char *path);

/* Closes @fd from fileio_open_input unless it is standard input. */
void fileio_close_input(int fd);

/*
 * Appends everything left to read from @fd to @b.  Returns 0; -errno when
 * reading fails; -ENOMEM, or -EMSGSIZE when there is more than @b's limit
 * (@b then holds what fitted before the chunk that did not).
 */
int fileio_read_all(int fd, struct buf *b);

#endif
