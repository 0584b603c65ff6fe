/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect_wtmp: login and logout events from the utmpx records appended to
 * /var/log/wtmp (see collect.h).  USER_PROCESS is a login; DEAD_PROCESS
 * ends the session on its tty, whose user comes from the login seen on
 * that tty (wtmp's logout records carry none).  The position read, the file's
 * inode and the open sessions are kept in STATE_DIR/wtmp.json; a new inode
 * or a file shorter than the position means the file was rotated: the rest
 * of the old file is read from wtmp.1 when that is it (same inode), then
 * the new one from its start.
 */
#include "agent/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmpx.h>

#define W_PATH 4096
#define W_MAX_READ ((size_t)1 << 20)   /* per tick; the rest waits for the next one */
#define W_MAX_TTYS 1024

struct collect_wtmp {
	char path[W_PATH];
	char state_path[W_PATH];
	uint64_t inode, offset;
	json_t *ttys;   /* tty -> user of the open sessions */
	bool dirty;
};

static json_t *w_field(const char *s, size_t max_len)
{
	return collect_str(s, strnlen(s, max_len), COLLECT_MAX_STR, NULL);
}

int collect_wtmp_parse(const void *data, size_t len, json_t *ttys, json_t *out, size_t *ret_rest)
{
	const char *p = data;
	size_t n = len / sizeof(struct utmpx);

	for (size_t i = 0; i < n; i++) {
		struct utmpx u;
		char line[sizeof(u.ut_line) + 1], user[sizeof(u.ut_user) + 1];
		int64_t ts;
		json_t *ev;

		memcpy(&u, p + i * sizeof(u), sizeof(u));
		if (u.ut_type != USER_PROCESS && u.ut_type != DEAD_PROCESS)
			continue;
		memcpy(line, u.ut_line, sizeof(u.ut_line));
		line[sizeof(u.ut_line)] = '\0';
		memcpy(user, u.ut_user, sizeof(u.ut_user));
		user[sizeof(u.ut_user)] = '\0';
		if (!line[0])
			continue;
		ts = (int64_t)u.ut_tv.tv_sec * 1000 + u.ut_tv.tv_usec / 1000;
		if (u.ut_type == USER_PROCESS) {
			if (!user[0])
				continue;
			ev = collect_event("login", ts);
			if (!ev)
				return -ENOMEM;
			json_object_set_new(ev, "user", w_field(user, sizeof(u.ut_user)));
			if (json_object_size(ttys) < W_MAX_TTYS || json_object_get(ttys, line))
				json_object_set(ttys, line, json_object_get(ev, "user"));
		} else {
			json_t *who = json_object_get(ttys, line);

			if (!who && !user[0])
				who = json_string("unknown");   /* the login was before the agent started */
			else if (!who)
				who = w_field(user, sizeof(u.ut_user));
			else
				json_incref(who);
			ev = collect_event("logout", ts);
			if (!ev || !who) {
				json_decref(ev);
				json_decref(who);
				return -ENOMEM;
			}
			json_object_set_new(ev, "user", who);
			json_object_del(ttys, line);
		}
		json_object_set_new(ev, "tty", w_field(u.ut_line, sizeof(u.ut_line)));
		if (u.ut_host[0])
			json_object_set_new(ev, "host", w_field(u.ut_host, sizeof(u.ut_host)));
		if (u.ut_session) {
			char s[24];

			snprintf(s, sizeof(s), "%ld", (long)u.ut_session);
			json_object_set_new(ev, "session", json_string(s));
		}
		if (json_array_append_new(out, ev) < 0)
			return -ENOMEM;
	}
	*ret_rest = len - n * sizeof(struct utmpx);
	return 0;
}

int collect_wtmp_open(const char *root, const char *state_dir, struct collect_wtmp **ret)
{
	struct collect_wtmp *c = calloc(1, sizeof(*c));
	struct stat st;
	json_t *s;

	if (!c)
		return -ENOMEM;
	if (snprintf(c->path, sizeof(c->path), "%s/var/log/wtmp", strcmp(root, "/") == 0 ? "" : root) >=
		    (int)sizeof(c->path) ||
	    snprintf(c->state_path, sizeof(c->state_path), "%s/wtmp.json", state_dir) >= (int)sizeof(c->state_path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	s = json_load_file(c->state_path, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_integer(json_object_get(s, "inode")) && json_is_integer(json_object_get(s, "offset")) &&
	    json_integer_value(json_object_get(s, "offset")) >= 0) {
		c->inode = (uint64_t)json_integer_value(json_object_get(s, "inode"));
		c->offset = (uint64_t)json_integer_value(json_object_get(s, "offset"));
		if (json_is_object(json_object_get(s, "ttys")))
			c->ttys = json_incref(json_object_get(s, "ttys"));
	} else if (stat(c->path, &st) == 0) {
		/* No position yet: what happened before the agent was installed is not sent. */
		c->inode = (uint64_t)st.st_ino;
		c->offset = (uint64_t)st.st_size - (uint64_t)st.st_size % sizeof(struct utmpx);
		c->dirty = true;
	} else {
		c->dirty = true;   /* no file yet: everything written to it is new */
	}
	json_decref(s);
	if (!c->ttys)
		c->ttys = json_object();
	if (!c->ttys) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void collect_wtmp_close(struct collect_wtmp *c)
{
	if (!c)
		return;
	json_decref(c->ttys);
	free(c);
}

/*
 * Reads @path from @off to its end (at most W_MAX_READ), appending events;
 * returns the bytes consumed (whole records) in *ret_used.
 */
static int w_read(struct collect_wtmp *c, int fd, uint64_t off, uint64_t size, json_t *out, uint64_t *ret_used)
{
	size_t want, rest = 0;
	ssize_t got;
	char *buf;
	int r;

	*ret_used = 0;
	if (size <= off)
		return 0;
	want = size - off > W_MAX_READ ? W_MAX_READ : (size_t)(size - off);
	if (want < sizeof(struct utmpx))
		return 0;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	got = pread(fd, buf, want, (off_t)off);
	if (got < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	r = collect_wtmp_parse(buf, (size_t)got, c->ttys, out, &rest);
	free(buf);
	if (r == 0)
		*ret_used = (uint64_t)got - rest;
	return r;
}

/*
 * The file was rotated: what was appended to it between the last read and
 * the rotation is at the end of wtmp.1 (logrotate's name), if that is the
 * file last read.
 */
static void w_read_rotated(struct collect_wtmp *c, json_t *out)
{
	char old[W_PATH + 4];
	struct stat st;
	uint64_t used;
	int fd;

	if (snprintf(old, sizeof(old), "%s.1", c->path) >= (int)sizeof(old))
		return;
	fd = open(old, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_ino == c->inode && (uint64_t)st.st_size >= c->offset)
		w_read(c, fd, c->offset, (uint64_t)st.st_size, out, &used);
	close(fd);
}

int collect_wtmp_tick(struct collect_wtmp *c, json_t *out)
{
	struct stat st;
	uint64_t used = 0;
	int fd, r;

	fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((uint64_t)st.st_ino != c->inode || (uint64_t)st.st_size < c->offset) {
		/* Rotated (a new file, or the old one truncated): read the new one from its start. */
		if ((uint64_t)st.st_ino != c->inode)
			w_read_rotated(c, out);
		c->inode = (uint64_t)st.st_ino;
		c->offset = 0;
		c->dirty = true;
	}
	r = w_read(c, fd, c->offset, (uint64_t)st.st_size, out, &used);
	close(fd);
	if (r < 0)
		return r;
	if (used) {
		c->offset += used;
		c->dirty = true;
	}
	return 0;
}

int collect_wtmp_commit(struct collect_wtmp *c)
{
	char tmp[W_PATH + 8];
	json_t *s;
	int r = 0;

	if (!c->dirty)
		return 0;
	s = json_pack("{s:I, s:I, s:O}", "inode", (json_int_t)c->inode, "offset", (json_int_t)c->offset, "ttys",
		      c->ttys);
	if (!s)
		return -ENOMEM;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->state_path) >= (int)sizeof(tmp))
		r = -ENAMETOOLONG;
	if (r == 0 && json_dump_file(s, tmp, JSON_COMPACT | JSON_SORT_KEYS) < 0)
		r = -EIO;
	if (r == 0 && rename(tmp, c->state_path) < 0)
		r = -errno;
	json_decref(s);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	c->dirty = false;
	return 0;
}
