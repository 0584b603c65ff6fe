/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fileio: the CLI's input files: one named on the command line ('-' being
 * standard input), and a whole file into a buffer with a size limit.  The
 * EINTR-safe reads and writes are common/fsio.h's.  Nothing here prints.
 */
#ifndef RAMPART_CLI_FILEIO_H
#define RAMPART_CLI_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/fsio.h"


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
