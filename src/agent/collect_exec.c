/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect_exec: process executions (see collect.h).
 *
 * The kernel's process connector (a NETLINK_CONNECTOR socket subscribed to
 * CN_IDX_PROC) announces every execve() as PROC_EVENT_EXEC with the pid;
 * the process is then described from /proc/PID.  A process that has ended
 * by then is skipped.  Subscribing needs CAP_NET_ADMIN and works only in
 * the initial network namespace (elsewhere no events arrive or bind
 * fails), so a probe checks that a child's fork is announced; without it the collector scans /proc each tick and reports the
 * processes that appeared since the last scan, keyed by pid and start time
 * so that a reused pid counts as new.  The scan misses processes shorter
 * than a tick and a running process that calls execve().
 */
#include "agent/collect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/posture.h"
#include "common/log.h"
#include "common/rtime.h"

#define X_PATH 4096
#define X_MAX_PROCS 65536

struct x_proc {
	int pid;
	unsigned long long start;
};

struct collect_exec {
	char root[X_PATH];
	int fd;                 /* netlink socket, or -1 */
	struct x_proc *seen;    /* scan mode: sorted by pid */
	size_t nseen;
	bool scanned;
	int64_t overflow_logged;   /* when an overflow was last logged */
};

/* readlink of @root/proc/@pid/@name into @out. */
static int x_link(const char *root, int pid, const char *name, char *out, size_t size)
{
	char path[X_PATH];
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/proc/%d/%s", root, pid, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, out, size - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

int collect_exec_describe(const char *root, int pid, int64_t ts_ms, json_t **ret)
{
	char path[64], link[COLLECT_MAX_PATH + 1], user[COLLECT_MAX_STR];
	char *data = NULL, *line, *save = NULL;
	const char *r0 = strcmp(root, "/") == 0 ? "" : root;
	long ppid = -1, uid = -1;
	json_t *ev, *argv;
	size_t len, off, bytes = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	r = posture_read_file(root, path, POSTURE_MAX_SMALL_FILE, &data, &len);
	if (r < 0)
		return r == -ESRCH ? -ENOENT : r;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "PPid:", 5) == 0)
			ppid = strtol(line + 5, NULL, 10);
		else if (strncmp(line, "Uid:", 4) == 0)
			uid = strtol(line + 4, NULL, 10);
	}
	free(data);
	if (ppid < 0 || uid < 0)
		return -ENOENT;
	ev = collect_event("exec", ts_ms);
	argv = json_array();
	if (!ev || !argv) {
		json_decref(ev);
		json_decref(argv);
		return -ENOMEM;
	}
	collect_user(root, (uint32_t)uid, user, sizeof(user));
	json_object_set_new(ev, "pid", json_integer(pid));
	json_object_set_new(ev, "ppid", json_integer(ppid));
	json_object_set_new(ev, "uid", json_integer(uid));
	json_object_set_new(ev, "user", collect_str(user, strlen(user), COLLECT_MAX_STR, "?"));
	/* A kernel thread or a process we may not inspect has no exe link: say so rather than guess. */
	if (x_link(r0, pid, "exe", link, sizeof(link)) < 0)
		snprintf(link, sizeof(link), "?");
	json_object_set_new(ev, "path", collect_str(link, strlen(link), COLLECT_MAX_PATH, "?"));
	if (x_link(r0, pid, "cwd", link, sizeof(link)) == 0)
		json_object_set_new(ev, "cwd", collect_str(link, strlen(link), COLLECT_MAX_PATH, "?"));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (posture_read_file(root, path, 256 << 10, &data, &len) == 0) {
		for (off = 0; off < len && json_array_size(argv) < COLLECT_MAX_ARGV && bytes < COLLECT_MAX_ARGV_BYTES;) {
			size_t l = strnlen(data + off, len - off), keep = l;

			if (keep > COLLECT_MAX_ARGV_BYTES - bytes)
				keep = COLLECT_MAX_ARGV_BYTES - bytes;
			json_array_append_new(argv, collect_str(data + off, keep, COLLECT_MAX_PATH, NULL));
			bytes += keep;
			off += l + 1;
		}
		free(data);
	}
	collect_argv_redact(argv);
	json_object_set_new(ev, "argv", argv);
	*ret = ev;
	return 0;
}

/* ---------------------------------------------------------------- netlink */

static int x_netlink_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))]
		__attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg *cn = NLMSG_DATA(nl);
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	int fd, r;

	fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	memset(msg, 0, sizeof(msg));
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(op));
	nl->nlmsg_type = NLMSG_DONE;
	nl->nlmsg_pid = (uint32_t)getpid();
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (send(fd, msg, nl->nlmsg_len, 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Whether events arrive: outside the initial network namespace the socket
 * binds but stays silent.  A child that exits at once must be announced
 * (PROC_EVENT_FORK or PROC_EVENT_EXIT) within half a second.
 */
static bool x_netlink_works(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = (int64_t)time(NULL) + 2;
	bool seen = false;
	pid_t child;

	child = fork();
	if (child < 0)
		return false;
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	while (!seen && (int64_t)time(NULL) < deadline && poll(&pfd, 1, 500) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n <= 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event pe;

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(pe)))
				continue;
			/* The event follows the 20-byte cn_msg header: copy it out to align it. */
			memcpy(&pe, cn->data, sizeof(pe));
			if ((pe.what == PROC_EVENT_FORK && pe.event_data.fork.child_tgid == child) ||
			    (pe.what == PROC_EVENT_EXIT && pe.event_data.exit.process_tgid == child))
				seen = true;
		}
	}
	return seen;
}

int collect_exec_read(struct collect_exec *c, json_t *out)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

	if (c->fd < 0)
		return 0;
	/* Bounded, so that a storm of processes cannot keep the loop from its other work. */
	for (int reads = 0; reads < 256; reads++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			/* Once a minute at most: an overflow tends to come in bursts. */
			if (rtime_now_ms() - c->overflow_logged > 60000) {
				log_warn("collect: the process connector overflowed; some executions were not recorded",
					 NULL);
				c->overflow_logged = rtime_now_ms();
			}
			continue;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event pe;
			json_t *ev = NULL;

			if (h->nlmsg_type != NLMSG_DONE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(pe)))
				continue;
			if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
				continue;
			memcpy(&pe, cn->data, sizeof(pe));   /* unaligned in the message */
			if (pe.what != PROC_EVENT_EXEC ||
			    pe.event_data.exec.process_pid != pe.event_data.exec.process_tgid)
				continue;
			if (collect_exec_describe(c->root, pe.event_data.exec.process_tgid, rtime_now_ms(), &ev) == 0)
				json_array_append_new(out, ev);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- /proc scan */

static int x_cmp(const void *a, const void *b)
{
	const struct x_proc *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The start time (field 22 of /proc/PID/stat, after the parenthesised name), or 0. */
static unsigned long long x_start(const char *root, int pid)
{
	char path[64], *data = NULL, *p;
	unsigned long long start = 0;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (posture_read_file(root, path, 4096, &data, &len) < 0)
		return 0;
	p = strrchr(data, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	free(data);
	return start;
}

int collect_exec_tick(struct collect_exec *c, int64_t now_ms, json_t *out)
{
	char dir[X_PATH];
	struct x_proc *cur;
	struct dirent *de;
	size_t n = 0, cap = 256;
	int r = 0;
	DIR *d;

	if (c->fd >= 0)
		return 0;
	if (snprintf(dir, sizeof(dir), "%s/proc", strcmp(c->root, "/") == 0 ? "" : c->root) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -errno;
	cur = malloc(cap * sizeof(*cur));
	if (!cur) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && n < X_MAX_PROCS) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid > 0x7fffffff)
			continue;
		if (n == cap) {
			struct x_proc *nc = realloc(cur, 2 * cap * sizeof(*cur));

			if (!nc) {
				r = -ENOMEM;
				break;
			}
			cur = nc;
			cap *= 2;
		}
		cur[n].pid = (int)pid;
		cur[n].start = x_start(c->root, (int)pid);
		n++;
	}
	closedir(d);
	if (r < 0) {
		free(cur);
		return r;
	}
	qsort(cur, n, sizeof(*cur), x_cmp);
	for (size_t i = 0; c->scanned && i < n; i++) {
		struct x_proc *old = bsearch(&cur[i], c->seen, c->nseen, sizeof(*cur), x_cmp);
		json_t *ev = NULL;

		if (old && old->start == cur[i].start)
			continue;
		if (collect_exec_describe(c->root, cur[i].pid, now_ms, &ev) == 0)
			json_array_append_new(out, ev);
	}
	free(c->seen);
	c->seen = cur;
	c->nseen = n;
	c->scanned = true;
	return 0;
}

/* ---------------------------------------------------------------- open, close */

int collect_exec_open(const char *root, bool use_netlink, struct collect_exec **ret)
{
	struct collect_exec *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (snprintf(c->root, sizeof(c->root), "%s", root) >= (int)sizeof(c->root)) {
		free(c);
		return -ENAMETOOLONG;
	}
	c->fd = -1;
	if (use_netlink) {
		int fd = x_netlink_open();

		if (fd >= 0 && !x_netlink_works(fd)) {
			close(fd);
			fd = -EPROTONOSUPPORT;
		}
		if (fd >= 0) {
			c->fd = fd;
		} else {
			log_warn("collect: the process connector is unavailable; scanning /proc instead, which misses "
				 "processes shorter than a tick", "error=\"%s\"", strerror(-fd));
		}
	}
	*ret = c;
	return 0;
}

void collect_exec_close(struct collect_exec *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->seen);
	free(c);
}

int collect_exec_fd(const struct collect_exec *c)
{
	return c->fd;
}

bool collect_exec_is_netlink(const struct collect_exec *c)
{
	return c->fd >= 0;
}
