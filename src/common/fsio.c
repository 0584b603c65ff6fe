/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fsio: whole reads and writes, directory sync, atomic replacement (see fsio.h). */
#include "common/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t fsio_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t got = read(fd, buf, len);

		if (got >= 0)
			return got;
		if (errno != EINTR)
			return -errno;
	}
}

/* The loop of both writers: write() when @off is negative, else pwrite() from @off. */
static int fsio_write_loop(int fd, const void *data, size_t len, off_t off)
{
	const char *p = data;

	while (len) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int fsio_write_all(int fd, const void *data, size_t len)
{
	return fsio_write_loop(fd, data, len, -1);
}

int fsio_pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	return off < 0 ? -EINVAL : fsio_write_loop(fd, data, len, off);
}

int fsio_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int fsio_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = fsio_write_all(fd, data, len);
	/* open() applies the umask, and keeps the mode of a temporary file a crash left: set it exactly. */
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
