/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests of rampart-agent's collectors and USBGuard rules on fixture
 * trees (tests/fixtures/agent/root, tests/fixtures/endpoint/root) and on
 * trees built in a temporary directory: process descriptions from /proc,
 * the /proc scan, wtmp records with rotation, USB inserts, removals and
 * blocks with the policy's designated media, removable mounts, safe
 * strings, and the generated rules checked by USBGuard's own parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmpx.h>

#include "agent/collect.h"
#include "agent/posture.h"
#include "agent/usbguard.h"
#include "common/buf.h"

#ifndef AGENT_FIXTURE_ROOT
#error "AGENT_FIXTURE_ROOT must name tests/fixtures/agent/root"
#endif
#ifndef EP_FIXTURE_ROOT
#error "EP_FIXTURE_ROOT must name tests/fixtures/endpoint/root"
#endif

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

struct t_dir {
	char path[200];
};

static int t_setup(void **state)
{
	struct t_dir *d = calloc(1, sizeof(*d));

	snprintf(d->path, sizeof(d->path), "/tmp/rampart-collect-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	*state = d;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_dir *d = *state;
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

/* Writes @len bytes to @dir/@rel, creating the directories on the way. */
static void t_write_n(const char *dir, const char *rel, const char *text, size_t len)
{
	char path[600], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void t_write(const char *dir, const char *rel, const char *text)
{
	t_write_n(dir, rel, text, strlen(text));
}

/* ---------------------------------------------------------------- posture_read_line */

/* The first line of a small file, cut to the buffer; a missing file leaves the buffer alone. */
static void test_read_line(void **state)
{
	struct t_dir *d = *state;
	char out[8] = "keep";

	t_write(d->path, "a/one", "0781\n");
	t_write(d->path, "a/two", "first\r\nsecond\n");
	t_write(d->path, "a/long", "0123456789abcdef");
	t_write_n(d->path, "a/nul", "ab\0cd\n", 6);
	t_write(d->path, "a/empty", "");
	assert_int_equal(posture_read_line(d->path, "/a/missing", out, sizeof(out)), -ENOENT);
	assert_string_equal(out, "keep");
	assert_int_equal(posture_read_line(d->path, "/a/one", out, sizeof(out)), 0);
	assert_string_equal(out, "0781");
	assert_int_equal(posture_read_line(d->path, "/a/two", out, sizeof(out)), 0);
	assert_string_equal(out, "first\r");
	assert_int_equal(posture_read_line(d->path, "/a/long", out, sizeof(out)), 0);
	assert_string_equal(out, "0123456");
	assert_int_equal(posture_read_line(d->path, "/a/nul", out, sizeof(out)), 0);
	assert_string_equal(out, "ab");
	assert_int_equal(posture_read_line(d->path, "/a/empty", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* ---------------------------------------------------------------- strings */

static void test_safe_strings(void **state)
{
	json_t *v;

	(void)state;
	v = collect_str("a\x01" "b\xff" "c", 5, 256, NULL);
	assert_string_equal(json_string_value(v), "a?b?c");
	json_decref(v);
	/* Cut on a character boundary: "é" is two bytes and does not fit in 2 after "a". */
	v = collect_str("a\xc3\xa9", 3, 2, NULL);
	assert_string_equal(json_string_value(v), "a");
	json_decref(v);
	v = collect_str("", 0, 10, "unknown");
	assert_string_equal(json_string_value(v), "unknown");
	json_decref(v);
	/* An overlong encoding of '/' is not valid UTF-8. */
	v = collect_str("\xc0\xaf", 2, 10, NULL);
	assert_string_equal(json_string_value(v), "??");
	json_decref(v);
}

/* ---------------------------------------------------------------- exec */

static void test_argv_redact(void **state)
{
	static const char *const in[] = {
		"curl", "-H", "Authorization: Bearer abc.def", "--user-agent", "x",
		"https://alice:hunter2@example.test/p?q=1", "--password", "s3cr3t", "--db-token=tok",
		"PGPASSWORD=pw", "--author=Ann", "-v", "ftp://anon@example.test/", "basic", "--auth", "u:p",
	};
	static const char *const want[] = {
		"curl", "-H", "Authorization: Bearer [redacted]", "--user-agent", "x",
		"https://alice:[redacted]@example.test/p?q=1", "--password", "[redacted]", "--db-token=[redacted]",
		"PGPASSWORD=[redacted]", "--author=Ann", "-v", "ftp://anon@example.test/", "basic", "--auth", "[redacted]",
	};
	json_t *argv = json_array();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		json_array_append_new(argv, json_string(in[i]));
	assert_int_equal(collect_argv_redact(argv), 6);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(json_string_value(json_array_get(argv, i)), want[i]);
	/* A secret option as the last item masks nothing past the end. */
	json_array_clear(argv);
	json_array_append_new(argv, json_string("--token"));
	assert_int_equal(collect_argv_redact(argv), 0);
	assert_int_equal(json_array_size(argv), 1);
	json_decref(argv);
}

static void test_exec_describe_fixture(void **state)
{
	json_t *ev = NULL, *argv;

	(void)state;
	assert_int_equal(collect_exec_describe(AGENT_FIXTURE_ROOT, 4242, 1700000000123, &ev), 0);
	assert_string_equal(sget(ev, "kind"), "exec");
	assert_int_equal(json_integer_value(json_object_get(ev, "ts")), 1700000000123);
	assert_int_equal(json_integer_value(json_object_get(ev, "pid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(ev, "ppid")), 4100);
	assert_int_equal(json_integer_value(json_object_get(ev, "uid")), 1000);
	assert_string_equal(sget(ev, "user"), "alice");
	assert_string_equal(sget(ev, "path"), "/usr/bin/vim.basic");
	assert_string_equal(sget(ev, "cwd"), "/home/alice");
	argv = json_object_get(ev, "argv");
	assert_int_equal(json_array_size(argv), 2);
	assert_string_equal(json_string_value(json_array_get(argv, 0)), "vim");
	/* A control character in an argument is not passed on as it is. */
	assert_string_equal(json_string_value(json_array_get(argv, 1)), "/home/alice/notes?.txt");
	json_decref(ev);
	/* A process that has ended by the time it is read. */
	assert_int_equal(collect_exec_describe(AGENT_FIXTURE_ROOT, 4243, 0, &ev), -ENOENT);
}

static void test_exec_scan(void **state)
{
	struct t_dir *d = *state;
	struct collect_exec *c = NULL;
	json_t *out = json_array();

	t_write(d->path, "proc/10/status", "PPid:\t1\nUid:\t0\t0\t0\t0\n");
	t_write(d->path, "proc/10/stat", "10 (init) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0\n");
	t_write(d->path, "proc/10/cmdline", "init");
	t_write(d->path, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	assert_int_equal(collect_exec_open(d->path, false, &c), 0);
	assert_false(collect_exec_is_netlink(c));
	assert_int_equal(collect_exec_fd(c), -1);
	/* The first scan only records what runs. */
	assert_int_equal(collect_exec_tick(c, 1000, out), 0);
	assert_int_equal(json_array_size(out), 0);
	t_write(d->path, "proc/11/status", "PPid:\t10\nUid:\t0\t0\t0\t0\n");
	t_write(d->path, "proc/11/stat", "11 (my (odd) name) S 10 11 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 200 0\n");
	t_write_n(d->path, "proc/11/cmdline", "backup\0--all", 13);
	assert_int_equal(collect_exec_tick(c, 2000, out), 0);
	assert_int_equal(json_array_size(out), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "pid")), 11);
	assert_string_equal(sget(json_array_get(out, 0), "user"), "root");
	assert_string_equal(sget(json_array_get(out, 0), "path"), "?");   /* no exe link */
	json_array_clear(out);
	/* Nothing new: nothing reported; the same pid with a new start time is a new process. */
	assert_int_equal(collect_exec_tick(c, 3000, out), 0);
	assert_int_equal(json_array_size(out), 0);
	t_write(d->path, "proc/11/stat", "11 (backup) S 10 11 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0\n");
	assert_int_equal(collect_exec_tick(c, 4000, out), 0);
	assert_int_equal(json_array_size(out), 1);
	collect_exec_close(c);
	json_decref(out);
}

/* ---------------------------------------------------------------- wtmp */

static void t_utmp(int fd, short type, const char *user, const char *line, const char *host, int sec)
{
	struct utmpx u;

	memset(&u, 0, sizeof(u));
	u.ut_type = type;
	u.ut_pid = 100;
	/* utmpx fields are fixed-size and need no NUL when full. */
	memcpy(u.ut_user, user, strnlen(user, sizeof(u.ut_user)));
	memcpy(u.ut_line, line, strnlen(line, sizeof(u.ut_line)));
	memcpy(u.ut_host, host, strnlen(host, sizeof(u.ut_host)));
	u.ut_session = 7;
	u.ut_tv.tv_sec = sec;
	u.ut_tv.tv_usec = 250000;
	assert_int_equal(write(fd, &u, sizeof(u)), (ssize_t)sizeof(u));
}

static void test_wtmp_follow_and_rotate(void **state)
{
	struct t_dir *d = *state;
	struct collect_wtmp *c = NULL;
	char wtmp[300], old[300];
	json_t *out = json_array();
	int fd;

	snprintf(wtmp, sizeof(wtmp), "%s/var/log/wtmp", d->path);
	snprintf(old, sizeof(old), "%s/var/log/wtmp.1", d->path);
	t_write(d->path, "var/log/wtmp", "");
	fd = open(wtmp, O_WRONLY | O_APPEND);
	t_utmp(fd, USER_PROCESS, "history", "pts/9", "", 1000);   /* before the agent: not sent */
	close(fd);
	assert_int_equal(collect_wtmp_open(d->path, d->path, &c), 0);
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 0);

	fd = open(wtmp, O_WRONLY | O_APPEND);
	t_utmp(fd, BOOT_TIME, "reboot", "~", "6.1.0", 1700000000);
	t_utmp(fd, USER_PROCESS, "alice", "pts/1", "192.0.2.7", 1700000001);
	t_utmp(fd, DEAD_PROCESS, "", "pts/1", "", 1700000002);
	close(fd);
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(sget(json_array_get(out, 0), "kind"), "login");
	assert_string_equal(sget(json_array_get(out, 0), "user"), "alice");
	assert_string_equal(sget(json_array_get(out, 0), "tty"), "pts/1");
	assert_string_equal(sget(json_array_get(out, 0), "host"), "192.0.2.7");
	assert_string_equal(sget(json_array_get(out, 0), "session"), "7");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "ts")), 1700000001250);
	/* The logout record carries no user: it comes from the login on the same tty. */
	assert_string_equal(sget(json_array_get(out, 1), "kind"), "logout");
	assert_string_equal(sget(json_array_get(out, 1), "user"), "alice");
	json_array_clear(out);
	assert_int_equal(collect_wtmp_commit(c), 0);
	collect_wtmp_close(c);

	/* A restart continues where the last commit was; then the file is rotated. */
	fd = open(wtmp, O_WRONLY | O_APPEND);
	t_utmp(fd, USER_PROCESS, "bob", "tty2", "", 1700000010);
	close(fd);
	assert_int_equal(collect_wtmp_open(d->path, d->path, &c), 0);
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(sget(json_array_get(out, 0), "user"), "bob");
	json_array_clear(out);
	/* A login written just before the rotation is read from wtmp.1, then the new file from its start. */
	fd = open(wtmp, O_WRONLY | O_APPEND);
	t_utmp(fd, USER_PROCESS, "carol", "tty3", "", 1700000015);
	close(fd);
	assert_int_equal(rename(wtmp, old), 0);
	fd = open(wtmp, O_WRONLY | O_CREAT | O_APPEND, 0644);
	t_utmp(fd, DEAD_PROCESS, "", "tty2", "", 1700000020);
	close(fd);
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(sget(json_array_get(out, 0), "kind"), "login");
	assert_string_equal(sget(json_array_get(out, 0), "user"), "carol");
	assert_string_equal(sget(json_array_get(out, 1), "kind"), "logout");
	assert_string_equal(sget(json_array_get(out, 1), "user"), "bob");
	json_array_clear(out);
	/* Nothing new in either file: nothing read twice. */
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 0);
	/* A half-written record waits for the rest. */
	fd = open(wtmp, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\x07\x00\x00\x00", 4), 4);
	close(fd);
	assert_int_equal(collect_wtmp_tick(c, out), 0);
	assert_int_equal(json_array_size(out), 0);
	collect_wtmp_close(c);
	json_decref(out);
}

/* ---------------------------------------------------------------- USB */

static void test_usb_snapshot_fixture(void **state)
{
	json_t *snap = NULL, *dev;

	(void)state;
	assert_int_equal(collect_usb_snapshot(EP_FIXTURE_ROOT, &snap), 0);
	assert_int_equal(json_object_size(snap), 2);
	dev = json_object_get(snap, "1-1");
	assert_non_null(dev);
	assert_true(json_is_true(json_object_get(dev, "storage")));
	assert_true(json_is_true(json_object_get(dev, "authorized")));
	assert_true(json_is_false(json_object_get(json_object_get(snap, "1-2"), "storage")));
	json_decref(snap);
}

static void t_usb_dev(const char *root, const char *name, const char *vendor, const char *product,
		      const char *serial, const char *cls, const char *authorized)
{
	char rel[200];

	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s/idVendor", name);
	t_write(root, rel, vendor);
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s/idProduct", name);
	t_write(root, rel, product);
	if (serial) {
		snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s/serial", name);
		t_write(root, rel, serial);
	}
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s/product", name);
	t_write(root, rel, "Device\x1b[31m name\n");
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s/authorized", name);
	t_write(root, rel, authorized);
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s:1.0/bInterfaceClass", name);
	t_write(root, rel, cls);
}

static json_t *t_find(const json_t *out, const char *kind, const char *product)
{
	json_t *ev;
	size_t i;

	json_array_foreach((json_t *)out, i, ev)
		if (strcmp(sget(ev, "kind"), kind) == 0 && strcmp(sget(ev, "product"), product) == 0)
			return ev;
	return NULL;
}

static void test_usb_insert_remove_block(void **state)
{
	struct t_dir *d = *state;
	struct collect_usb *c = NULL;
	json_t *out = json_array(), *media, *ev;
	char cmd[600];

	media = json_pack("[{s:s, s:s, s:s}]", "vendor", "0781", "product", "5583", "serial", "GOOD1");
	t_usb_dev(d->path, "1-1", "046d\n", "c52b\n", NULL, "03\n", "1\n");   /* a keyboard receiver */
	assert_int_equal(collect_usb_open(d->path, d->path, &c), 0);
	collect_usb_set_policy(c, media, COLLECT_USB_REPORT);
	/* The first snapshot is the baseline. */
	assert_int_equal(collect_usb_tick(c, 1, out), 0);
	assert_int_equal(json_array_size(out), 0);

	t_usb_dev(d->path, "1-2", "0781\n", "5583\n", "GOOD1\n", "08\n", "1\n");   /* designated */
	t_usb_dev(d->path, "1-3", "0951\n", "1666\n", "OTHER\n", "08\n", "1\n");   /* other storage */
	assert_int_equal(collect_usb_tick(c, 2, out), 0);
	assert_int_equal(json_array_size(out), 2);
	ev = t_find(out, "usb_insert", "5583");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "action"), "allowed");
	assert_true(json_is_true(json_object_get(ev, "storage")));
	assert_string_equal(sget(ev, "serial"), "GOOD1");
	assert_string_equal(sget(ev, "name"), "Device?[31m name");   /* the escape sequence is defused */
	ev = t_find(out, "usb_insert", "1666");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "action"), "reported");   /* no USBGuard: reported only */
	json_array_clear(out);
	assert_int_equal(collect_usb_commit(c), 0);
	collect_usb_close(c);

	/* Restarted with USBGuard enforcing: changes while stopped are reported against the saved snapshot. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/sys/bus/usb/devices/1-3' '%s/sys/bus/usb/devices/1-3:1.0'", d->path,
		 d->path);
	assert_int_equal(system(cmd), 0);
	t_usb_dev(d->path, "1-4", "abcd\n", "1234\n", NULL, "08\n", "0\n");   /* blocked by USBGuard */
	assert_int_equal(collect_usb_open(d->path, d->path, &c), 0);
	collect_usb_set_policy(c, media, COLLECT_USB_BLOCK);
	assert_int_equal(collect_usb_tick(c, 3, out), 0);
	assert_int_equal(json_array_size(out), 3);
	ev = t_find(out, "usb_remove", "1666");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "vendor"), "0951");
	assert_null(json_object_get(ev, "action"));
	ev = t_find(out, "usb_insert", "1234");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "action"), "blocked");
	assert_null(json_object_get(ev, "serial"));
	assert_non_null(t_find(out, "usb_block", "1234"));
	json_array_clear(out);
	/* Nothing changed: nothing reported, and a block is reported once. */
	assert_int_equal(collect_usb_tick(c, 4, out), 0);
	assert_int_equal(json_array_size(out), 0);
	collect_usb_close(c);
	json_decref(media);
	json_decref(out);
}

static void test_usb_designated(void **state)
{
	json_t *media = json_pack("[{s:s, s:s, s:s}]", "vendor", "0781", "product", "5583", "serial", "S1");
	json_t *dev = json_pack("{s:s, s:s, s:s}", "vendor", "0781", "product", "5583", "serial", "S1");
	json_t *other = json_pack("{s:s, s:s, s:s}", "vendor", "0781", "product", "5583", "serial", "S2");
	json_t *noserial = json_pack("{s:s, s:s}", "vendor", "0781", "product", "5583");

	(void)state;
	assert_true(collect_usb_is_designated(media, dev));
	assert_false(collect_usb_is_designated(media, other));
	assert_false(collect_usb_is_designated(media, noserial));
	assert_false(collect_usb_is_designated(NULL, dev));
	json_decref(media);
	json_decref(dev);
	json_decref(other);
	json_decref(noserial);
}

/* ---------------------------------------------------------------- removable mounts */

static void test_removable_mounts_fixture(void **state)
{
	json_t *mounts = NULL, *m;

	(void)state;
	assert_int_equal(collect_files_removable_mounts(AGENT_FIXTURE_ROOT, &mounts), 0);
	/* The root file system (NVMe) and /proc are not removable; the USB stick is. */
	assert_int_equal(json_array_size(mounts), 1);
	m = json_array_get(mounts, 0);
	assert_string_equal(sget(m, "mount"), "/media/alice/USB STICK");
	assert_string_equal(sget(m, "source"), "/dev/sdb1");
	assert_string_equal(sget(m, "device"), "0781:5583:4C530001230101117283");
	json_decref(mounts);
}


/*
 * fanotify for real: a temporary root whose mount table names the tmpfs on
 * /dev/shm (reached through a symbolic link) as the partition of a USB
 * stick; a file written there is reported with its path, medium and size.
 */
static void test_files_fanotify(void **state)
{
	struct t_dir *d = *state;
	struct collect_files *c = NULL;
	char link[300], shm[300], mi[400], *line = NULL;
	json_t *out = json_array(), *ev, *found = NULL;
	size_t cap = 0, i;
	FILE *f;
	int r, fd;

	/* The mount id and device of /dev/shm on this machine. */
	f = fopen("/proc/self/mountinfo", "r");
	assert_non_null(f);
	mi[0] = '\0';
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, " /dev/shm ") && strstr(line, " - tmpfs "))
			snprintf(mi, sizeof(mi), "%s", line);
	free(line);
	fclose(f);
	if (!mi[0]) {
		json_decref(out);
		skip();   /* no tmpfs on /dev/shm here */
	}
	t_write(d->path, "proc/self/mountinfo", mi);
	{
		char majmin[32] = "", rel[64];

		assert_int_equal(sscanf(mi, "%*s %*s %31s", majmin), 1);
		snprintf(rel, sizeof(rel), "sys/dev/block/%s", majmin);
		t_write(d->path, rel, "");
		snprintf(link, sizeof(link), "%s/%s", d->path, rel);
		unlink(link);
		assert_int_equal(symlink("../../devices/pci0000:00/0000:00:14.0/usb1/1-9/1-9:1.0/host0/target0:0:0/"
					 "0:0:0:0/block/sdz", link), 0);
	}
	t_write(d->path, "sys/bus/usb/devices/1-9/idVendor", "abcd\n");
	t_write(d->path, "sys/bus/usb/devices/1-9/idProduct", "1234\n");
	t_write(d->path, "sys/bus/usb/devices/1-9/serial", "SER9\n");
	t_write(d->path, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	t_write(d->path, "dev/.keep", "");
	snprintf(link, sizeof(link), "%s/dev/shm", d->path);
	assert_int_equal(symlink("/dev/shm", link), 0);

	r = collect_files_open(d->path, &c);
	if (r == -EPERM) {
		json_decref(out);
		skip();   /* fanotify needs CAP_SYS_ADMIN */
	}
	assert_int_equal(r, 0);
	assert_int_equal(collect_files_tick(c, out), 0);
	snprintf(shm, sizeof(shm), "/dev/shm/rampart-collect-%d", (int)getpid());
	fd = open(shm, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	for (int tries = 0; tries < 40 && !found; tries++) {
		assert_int_equal(collect_files_read(c, out), 0);
		json_array_foreach(out, i, ev)
			if (sget(ev, "path") && strcmp(sget(ev, "path"), shm) == 0)
				found = ev;
		if (!found)
			usleep(50000);
	}
	unlink(shm);
	assert_non_null(found);
	assert_string_equal(sget(found, "kind"), "file_write");
	assert_string_equal(sget(found, "device"), "abcd:1234:SER9");
	assert_int_equal(json_integer_value(json_object_get(found, "size")), 5);
	assert_non_null(sget(found, "user"));
	collect_files_close(c);
	json_decref(out);
}

/* ---------------------------------------------------------------- USBGuard rules */

static void test_usbguard_rules(void **state)
{
	struct t_dir *d = *state;
	json_t *media = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]",
				  "vendor", "0781", "product", "5583", "serial", "4C530001230101117283",
				  "vendor", "ABCD", "product", "12Ef", "serial", "with \"quote\" and \\",
				  "vendor", "SanDisk", "product", "Ultra", "serial", "X");
	char path[300], cmd[600];
	struct buf b;
	size_t skipped = 99;
	FILE *f;
	int st;

	buf_init(&b, 0);
	assert_int_equal(usbguard_rules(media, &b, &skipped), 0);
	assert_int_equal(skipped, 1);   /* names instead of USB ids cannot be a rule */
	assert_non_null(strstr(b.data, "allow id 0781:5583 serial \"4C530001230101117283\"\n"));
	assert_non_null(strstr(b.data, "allow id abcd:12ef serial \"with \\\"quote\\\" and \\\\\"\n"));
	assert_null(strstr(b.data, "SanDisk"));
	/* Designated media first, then other storage blocked, then everything else allowed. */
	assert_true(strstr(b.data, "allow id 0781") < strstr(b.data, "block with-interface one-of { 08:*:* }\n"));
	assert_non_null(strstr(b.data, "block with-interface one-of { 08:*:* }\nallow\n"));
	assert_int_equal(strcmp(b.data + b.len - 6, "allow\n"), 0);

	/* USBGuard's own parser accepts every line. */
	if (access("/usr/bin/usbguard-rule-parser", X_OK) != 0) {
		buf_done(&b);
		json_decref(media);
		skip();
	}
	snprintf(path, sizeof(path), "%s/rules.conf", d->path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(b.data, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/usbguard-rule-parser -f '%s' >/dev/null 2>&1", path);
	st = system(cmd);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* ...and refuses a broken one, so the check above means something. */
	f = fopen(path, "a");
	fputs("allow id 0781:5583 serial \"unterminated\n", f);
	fclose(f);
	st = system(cmd);
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	buf_done(&b);
	json_decref(media);
}

static void test_usbguard_no_media(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(usbguard_rules(NULL, &b, NULL), 0);
	assert_null(strstr(b.data, "allow id"));
	assert_non_null(strstr(b.data, "block with-interface one-of { 08:*:* }\nallow\n"));
	buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_line, t_setup, t_teardown),
		cmocka_unit_test(test_safe_strings),
		cmocka_unit_test(test_argv_redact),
		cmocka_unit_test(test_exec_describe_fixture),
		cmocka_unit_test_setup_teardown(test_exec_scan, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_wtmp_follow_and_rotate, t_setup, t_teardown),
		cmocka_unit_test(test_usb_snapshot_fixture),
		cmocka_unit_test_setup_teardown(test_usb_insert_remove_block, t_setup, t_teardown),
		cmocka_unit_test(test_usb_designated),
		cmocka_unit_test(test_removable_mounts_fixture),
		cmocka_unit_test_setup_teardown(test_files_fanotify, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_usbguard_rules, t_setup, t_teardown),
		cmocka_unit_test(test_usbguard_no_media),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
