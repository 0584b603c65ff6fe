/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fileio: EINTR-safe reads and writes, input files and whole-file reads for the CLI. */
#include "cli/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

ssize_t fileio_read(int fd, void *p, size_t n)
{
	for (;;) {
		ssize_t got = read(fd, p, n);

		if (got >= 0)
			return got;
		if (errno != EINTR)
			return -errno;
	}
}

int fileio_write_all(int fd, const void *p, size_t len)
{
	const char *s = p;

	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

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
		ssize_t n = fileio_read(fd, chunk, sizeof(chunk));
		int r;

		if (n <= 0)
			return (int)n;
		if ((r = buf_append(b, chunk, (size_t)n)) < 0)
			return r;
	}
}
