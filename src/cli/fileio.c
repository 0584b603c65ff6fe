/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fileio: input files and whole-file reads for the CLI (see fileio.h). */
#include "cli/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int fileio_open_input(const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0)
		return STDIN_FILENO;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

void fileio_close_input(int fd)
{
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
}

int fileio_read_all(int fd, struct buf *b)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = fsio_read(fd, chunk, sizeof(chunk));
		int r;

		if (n <= 0)
			return (int)n;
		if ((r = buf_append(b, chunk, (size_t)n)) < 0)
			return r;
	}
}
