/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect_files: files written to removable USB storage (see collect.h).
 *
 * Each tick the mount table (/proc/self/mountinfo) is read; a mount whose
 * block device (/sys/dev/block/MAJ:MIN) sits below a USB device is marked
 * with fanotify FAN_CLOSE_WRITE for the whole mount.  Each event names an
 * open file: its path (/proc/self/fd/N), its size and the user of the
 * writing process (from /proc/PID/status, when it still runs) go into a
 * file_write event with the device as "vendor:product:serial".  File
 * contents are never read.  A mount that goes away takes its mark with it.
 */
#include "agent/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/posture.h"
#include "common/log.h"
#include "common/rtime.h"

#define F_PATH 4096
#define F_MAX_MOUNTS 64

struct collect_files {
	char root[F_PATH];
	int fd;
	json_t *marked;   /* mount point -> device */
};

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void f_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The USB device (its sysfs name, such as "2-1.3") that block device
 * @majmin sits below, from the link /sys/dev/block/MAJ:MIN.
 */
static int f_usb_device(const char *root, const char *majmin, char *out, size_t size)
{
	char path[F_PATH], link[F_PATH], *save = NULL, *comp, *prev = NULL;
	bool in_usb = false;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/sys/dev/block/%s", strcmp(root, "/") == 0 ? "" : root, majmin) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	for (comp = strtok_r(link, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (!in_usb && strncmp(comp, "usb", 3) == 0 && comp[3] >= '0' && comp[3] <= '9') {
			in_usb = true;
		} else if (in_usb && strchr(comp, ':')) {
			if (!prev)
				return -ENOENT;
			return snprintf(out, size, "%s", prev) >= (int)size ? -ENAMETOOLONG : 0;
		}
		if (in_usb)
			prev = comp;
	}
	return -ENOENT;
}

int collect_files_removable_mounts(const char *root, json_t **ret)
{
	char *data = NULL, *line, *save = NULL;
	json_t *arr = json_array();
	size_t len;
	int r;

	if (!arr)
		return -ENOMEM;
	r = posture_read_file(root, "/proc/self/mountinfo", POSTURE_MAX_FILE, &data, &len);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	for (line = strtok_r(data, "\n", &save); line && json_array_size(arr) < F_MAX_MOUNTS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[10] = { NULL }, *sep, *after[3] = { NULL }, *s2 = NULL, *p;
		char dev[80], attr[F_PATH], vendor[16] = "", product[16] = "", serial[COLLECT_MAX_STR] = "", id[400];
		int i = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (p = strtok_r(line, " ", &s2); p && i < 10; p = strtok_r(NULL, " ", &s2))
			f[i++] = p;
		if (i < 5)
			continue;
		i = 0;
		for (p = strtok_r(sep + 3, " ", &s2); p && i < 3; p = strtok_r(NULL, " ", &s2))
			after[i++] = p;
		if (i < 2 || f_usb_device(root, f[2], dev, sizeof(dev)) < 0)
			continue;
		snprintf(attr, sizeof(attr), "/sys/bus/usb/devices/%s/idVendor", dev);
		posture_read_line(root, attr, vendor, sizeof(vendor));
		snprintf(attr, sizeof(attr), "/sys/bus/usb/devices/%s/idProduct", dev);
		posture_read_line(root, attr, product, sizeof(product));
		snprintf(attr, sizeof(attr), "/sys/bus/usb/devices/%s/serial", dev);
		posture_read_line(root, attr, serial, sizeof(serial));
		snprintf(id, sizeof(id), "%s:%s:%s", vendor[0] ? vendor : "?", product[0] ? product : "?", serial);
		f_unescape(f[4]);
		f_unescape(after[1]);
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o}",
			"mount", collect_str(f[4], strlen(f[4]), COLLECT_MAX_PATH, "?"),
			"source", collect_str(after[1], strlen(after[1]), COLLECT_MAX_PATH, "?"),
			"device", collect_str(id, strlen(id), COLLECT_MAX_STR, "?")));
	}
	free(data);
	*ret = arr;
	return 0;
}

int collect_files_open(const char *root, struct collect_files **ret)
{
	struct collect_files *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	snprintf(c->root, sizeof(c->root), "%s", root);
	c->marked = json_object();
	c->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (c->fd < 0 || !c->marked) {
		r = c->fd < 0 ? -errno : -ENOMEM;
		collect_files_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

void collect_files_close(struct collect_files *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	json_decref(c->marked);
	free(c);
}

int collect_files_fd(const struct collect_files *c)
{
	return c->fd;
}

int collect_files_tick(struct collect_files *c, json_t *out)
{
	json_t *mounts = NULL, *m, *now = json_object();
	size_t i;
	int r;

	(void)out;
	if (!now)
		return -ENOMEM;
	r = collect_files_removable_mounts(c->root, &mounts);
	if (r < 0) {
		json_decref(now);
		return r;
	}
	json_array_foreach(mounts, i, m) {
		const char *mp = json_string_value(json_object_get(m, "mount"));
		char full[F_PATH];

		if (json_object_get(c->marked, mp)) {
			json_object_set(now, mp, json_object_get(m, "device"));
			continue;
		}
		if (snprintf(full, sizeof(full), "%s%s", strcmp(c->root, "/") == 0 ? "" : c->root, mp) >=
		    (int)sizeof(full))
			continue;
		if (fanotify_mark(c->fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, full) < 0) {
			log_warn("collect: cannot watch a removable medium", "mount=%s error=\"%s\"", mp, strerror(errno));
			continue;
		}
		log_info("collect: watching files written to a removable medium", "mount=%s", mp);
		json_object_set(now, mp, json_object_get(m, "device"));
	}
	json_decref(mounts);
	json_decref(c->marked);
	c->marked = now;
	return 0;
}

/* The device of the marked mount that holds @path (the longest mount point that prefixes it). */
static const char *f_device_of(const struct collect_files *c, const char *path)
{
	const char *best = NULL, *mp;
	size_t best_len = 0;
	json_t *dev;

	json_object_foreach(c->marked, mp, dev) {
		size_t l = strlen(mp);

		if (strncmp(path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0' || l == 1) && l >= best_len) {
			best = json_string_value(dev);
			best_len = l;
		}
	}
	return best;
}

int collect_files_read(struct collect_files *c, json_t *out)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));

	for (int reads = 0; reads < 64; reads++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		struct fanotify_event_metadata *md;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 0;
		for (md = (struct fanotify_event_metadata *)buf; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
			char fdpath[64], path[COLLECT_MAX_PATH + 1], status[64], user[COLLECT_MAX_STR];
			const char *dev;
			struct stat st;
			json_t *ev;
			ssize_t l;

			if (md->vers != FANOTIFY_METADATA_VERSION || md->fd < 0)
				continue;
			snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", md->fd);
			l = readlink(fdpath, path, sizeof(path) - 1);
			if (l >= 0 && (md->mask & FAN_CLOSE_WRITE)) {
				path[l] = '\0';
				dev = f_device_of(c, path);
				ev = collect_event("file_write", rtime_now_ms());
				if (ev) {
					json_object_set_new(ev, "path", collect_str(path, (size_t)l, COLLECT_MAX_PATH, "?"));
					json_object_set_new(ev, "device", json_string(dev ? dev : "?"));
					if (fstat(md->fd, &st) == 0)
						json_object_set_new(ev, "size", json_integer(st.st_size));
					snprintf(status, sizeof(status), "/proc/%d/status", (int)md->pid);
					{
						char *data = NULL, *u;
						size_t dl;

						if (posture_read_file(NULL, status, POSTURE_MAX_SMALL_FILE, &data, &dl) == 0 &&
						    (u = strstr(data, "\nUid:"))) {
							collect_user(c->root, (uint32_t)strtoul(u + 5, NULL, 10), user,
								     sizeof(user));
							json_object_set_new(ev, "user", collect_str(user, strlen(user),
												    COLLECT_MAX_STR, "?"));
						}
						free(data);
					}
					json_array_append_new(out, ev);
				}
			}
			close(md->fd);
		}
	}
	return 0;
}
