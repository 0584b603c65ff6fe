/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests of rampart-agent's on-disk event buffer (src/agent/oplog.c) in
 * a fresh temporary directory each: sequence numbers, batches, restarts, a
 * torn or corrupted tail, the size bound with its dropped count, the lock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/oplog.h"
#include "common/err.h"

struct t_dir {
	char path[256];
};

static int t_setup(void **state)
{
	struct t_dir *d = calloc(1, sizeof(*d));

	snprintf(d->path, sizeof(d->path), "/tmp/rampart-oplog-XXXXXX");
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

static const char *t_events(const struct t_dir *d)
{
	static char p[300];

	snprintf(p, sizeof(p), "%s/events", d->path);
	return p;
}

static json_t *t_event(int i, size_t pad)
{
	char *fill = malloc(pad + 1);
	json_t *ev;

	memset(fill, 'x', pad);
	fill[pad] = '\0';
	ev = json_pack("{s:I, s:s, s:i, s:s}", "ts", (json_int_t)1700000000000 + i, "kind", "exec", "pid", i,
		       "path", fill);
	free(fill);
	return ev;
}

static void t_append(struct oplog *ol, int from, int n, size_t pad, int64_t expect_first)
{
	json_t **evs = calloc((size_t)n, sizeof(*evs));
	int64_t first = -1;

	for (int i = 0; i < n; i++)
		evs[i] = t_event(from + i, pad);
	assert_int_equal(oplog_append(ol, evs, (size_t)n, &first), 0);
	assert_int_equal(first, expect_first);
	for (int i = 0; i < n; i++)
		json_decref(evs[i]);
	free(evs);
}

/* The only segment file's path. */
static void t_segment(const struct t_dir *d, char *out, size_t size)
{
	struct dirent *de;
	DIR *dir = opendir(t_events(d));
	int n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)))
		if (strstr(de->d_name, ".seg")) {
			assert_true(snprintf(out, size, "%s/%.200s", t_events(d), de->d_name) < (int)size);
			n++;
		}
	closedir(dir);
	assert_int_equal(n, 1);
}

static void test_append_read_drop(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *batch = NULL;
	int64_t last = 0;

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	t_append(ol, 1, 5, 10, 1);
	t_append(ol, 6, 1, 10, 6);
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 7);
	assert_int_equal(st.pending, 6);
	assert_int_equal(st.max_bytes, OPLOG_DEFAULT_MAX_BYTES);

	/* At most 4 events per batch; the events keep their fields and get their seq. */
	assert_int_equal(oplog_read(ol, 4, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 4);
	assert_int_equal(last, 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *ev = json_array_get(batch, i);

		assert_int_equal(json_integer_value(json_object_get(ev, "seq")), (json_int_t)i + 1);
		assert_int_equal(json_integer_value(json_object_get(ev, "pid")), (json_int_t)i + 1);
		assert_string_equal(json_string_value(json_object_get(ev, "kind")), "exec");
	}
	json_decref(batch);

	/* Reading does not consume; dropping does, and only through the seq given. */
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 6);
	json_decref(batch);
	assert_int_equal(oplog_drop_through(ol, 4), 0);
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(batch, 0), "seq")), 5);
	assert_int_equal(last, 6);
	json_decref(batch);
	/* An older acknowledgement changes nothing. */
	assert_int_equal(oplog_drop_through(ol, 2), 0);
	oplog_stats(ol, &st);
	assert_int_equal(st.pending, 2);
	assert_int_equal(st.acked_through, 4);

	assert_int_equal(oplog_drop_through(ol, 6), 0);
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 0);
	assert_int_equal(last, 0);
	json_decref(batch);
	oplog_stats(ol, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.segments, 0);
	oplog_close(ol);
}

static void test_read_byte_limit(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL;
	json_t *batch = NULL;
	int64_t last = 0;

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	t_append(ol, 1, 10, 1000, 1);
	/* Each event is over 1000 bytes: 3500 bytes hold three of them. */
	assert_int_equal(oplog_read(ol, 1000, 3500, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 3);
	assert_int_equal(last, 3);
	json_decref(batch);
	/* A limit below one event still returns one, so that a batch always moves forward. */
	assert_int_equal(oplog_read(ol, 1000, 10, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 1);
	json_decref(batch);
	oplog_close(ol);
}

static void test_restart_keeps_events_and_seq(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *batch = NULL;
	int64_t last = 0;

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	t_append(ol, 1, 3, 10, 1);
	oplog_close(ol);   /* as after kill -9: the handle holds nothing that is not on disk */

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 3);
	json_decref(batch);
	t_append(ol, 4, 2, 10, 4);
	/* Everything acknowledged and removed: the next number still survives a restart. */
	assert_int_equal(oplog_drop_through(ol, 5), 0);
	oplog_close(ol);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 6);
	assert_int_equal(st.pending, 0);
	t_append(ol, 6, 1, 10, 6);
	/* The server holds more than this buffer (a state directory restored from a backup): never reuse. */
	assert_int_equal(oplog_drop_through(ol, 100), 0);
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 101);
	assert_int_equal(st.pending, 0);
	oplog_close(ol);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	t_append(ol, 7, 1, 10, 101);
	oplog_close(ol);
}

static void test_torn_tail_is_cut(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *batch = NULL;
	char seg[1024];
	struct stat sb;
	int64_t last = 0;
	off_t good;
	int fd;

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	t_append(ol, 1, 3, 100, 1);
	oplog_close(ol);
	t_segment(d, seg, sizeof(seg));
	assert_int_equal(stat(seg, &sb), 0);
	good = sb.st_size;

	/* Half of a fourth record, as a crash in the middle of a write leaves it. */
	fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	{
		static const unsigned char torn[] = { 0x40, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78,
						      0x04, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'k' };

		assert_int_equal(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
	}
	close(fd);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	oplog_stats(ol, &st);
	assert_int_equal(st.torn_bytes, 19);
	assert_int_equal(st.next_seq, 4);
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 3);
	assert_int_equal(last, 3);
	json_decref(batch);
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(sb.st_size, good);   /* cut on disk */
	t_append(ol, 4, 1, 100, 4);
	oplog_close(ol);

	/* A flipped byte in the last record's payload: its CRC fails and it is cut, never misread. */
	assert_int_equal(stat(seg, &sb), 0);
	fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "y", 1, sb.st_size - 5), 1);
	close(fd);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	assert_int_equal(oplog_read(ol, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 3);
	assert_int_equal(last, 3);
	json_decref(batch);
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 4);   /* seq 4 was never acknowledged by the buffer that held it whole */
	oplog_close(ol);

	/* A length field beyond the file (a torn header) is cut as well. */
	fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\xff\xff\x00\x00\x00\x00", 6), 6);
	close(fd);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	oplog_stats(ol, &st);
	assert_int_equal(st.torn_bytes, 6);
	assert_int_equal(st.pending, 3);
	oplog_close(ol);
}

static void test_full_buffer_drops_oldest(void **state)
{
	struct t_dir *d = *state;
	struct oplog_opts o = { .max_bytes = OPLOG_MIN_MAX_BYTES };
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *batch = NULL;
	int64_t last = 0, first_left;

	assert_int_equal(oplog_open(t_events(d), &o, &ol), 0);
	/* 1000 events of about 1 KiB each: four times what 256 KiB can hold. */
	for (int i = 0; i < 100; i++)
		t_append(ol, i * 10 + 1, 10, 1000, i * 10 + 1);
	oplog_stats(ol, &st);
	assert_true(st.bytes <= OPLOG_MIN_MAX_BYTES);
	assert_true(st.bytes > OPLOG_MIN_MAX_BYTES / 2);
	assert_true(st.dropped > 0);
	assert_int_equal(st.next_seq, 1001);
	/* What is left is the newest events, with the dropped ones the only gap. */
	assert_int_equal(st.pending + st.dropped, 1000);
	assert_int_equal(oplog_read(ol, 1000, 16 << 20, &batch, &last), 0);
	first_left = json_integer_value(json_object_get(json_array_get(batch, 0), "seq"));
	assert_int_equal(first_left, st.dropped + 1);
	assert_int_equal(last, 1000);
	assert_int_equal((int64_t)json_array_size(batch), st.pending);
	json_decref(batch);
	oplog_close(ol);
	/* The dropped count survives a restart. */
	assert_int_equal(oplog_open(t_events(d), &o, &ol), 0);
	{
		struct oplog_stats st2;

		oplog_stats(ol, &st2);
		assert_int_equal(st2.dropped, st.dropped);
		assert_int_equal(st2.pending, st.pending);
	}
	oplog_close(ol);
}

static void test_batch_larger_than_buffer(void **state)
{
	struct t_dir *d = *state;
	struct oplog_opts o = { .max_bytes = OPLOG_MIN_MAX_BYTES };
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *evs[300];

	assert_int_equal(oplog_open(t_events(d), &o, &ol), 0);
	t_append(ol, 1, 2, 10, 1);
	for (int i = 0; i < 300; i++)
		evs[i] = t_event(i, 1000);
	assert_int_equal(oplog_append(ol, evs, 300, NULL), ERR_TOO_LARGE);
	for (int i = 0; i < 300; i++)
		json_decref(evs[i]);
	/* Nothing of the batch is kept and its numbers are given again. */
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 3);
	t_append(ol, 3, 1, 10, 3);
	oplog_close(ol);
}

static void test_refuses_bad_events(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL;
	struct oplog_stats st;
	json_t *ev[2];

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	ev[0] = json_pack("{s:s}", "kind", "exec");
	ev[1] = json_pack("{s:s, s:i}", "kind", "exec", "seq", 9);
	assert_int_equal(oplog_append(ol, ev, 2, NULL), ERR_INVALID);
	json_decref(ev[1]);
	ev[1] = t_event(1, OPLOG_MAX_RECORD);
	assert_int_equal(oplog_append(ol, ev, 2, NULL), ERR_INVALID);
	json_decref(ev[0]);
	json_decref(ev[1]);
	oplog_stats(ol, &st);
	assert_int_equal(st.next_seq, 1);
	assert_int_equal(st.pending, 0);
	oplog_close(ol);
	/* A buffer limit out of range is refused. */
	{
		struct oplog_opts o = { .max_bytes = 1024 };

		assert_int_equal(oplog_open(t_events(d), &o, &ol), ERR_INVALID);
	}
}

static void test_one_writer(void **state)
{
	struct t_dir *d = *state;
	struct oplog_opts ro = { .read_only = true };
	struct oplog *ol = NULL, *other = NULL, *reader = NULL;
	json_t *batch = NULL;
	int64_t last = 0;

	assert_int_equal(oplog_open(t_events(d), &ro, &reader), -ENOENT);
	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	assert_int_equal(oplog_open(t_events(d), NULL, &other), -EBUSY);
	t_append(ol, 1, 2, 10, 1);
	/* `rampart-agent events` reads while `run` holds the buffer. */
	assert_int_equal(oplog_open(t_events(d), &ro, &reader), 0);
	assert_int_equal(oplog_read(reader, 1000, 1 << 20, &batch, &last), 0);
	assert_int_equal(json_array_size(batch), 2);
	json_decref(batch);
	assert_int_equal(oplog_append(reader, NULL, 0, NULL), -EROFS);
	assert_int_equal(oplog_drop_through(reader, 1), -EROFS);
	oplog_close(reader);
	oplog_close(ol);
	assert_int_equal(oplog_open(t_events(d), NULL, &other), 0);
	oplog_close(other);
}

/* A forked child (a check-in still running) does not keep the writer's lock once the writer is gone. */
static void test_child_does_not_hold_the_lock(void **state)
{
	struct t_dir *d = *state;
	struct oplog *ol = NULL, *again = NULL;
	int go[2], ready[2], status = 0;
	char c = 0;
	pid_t pid;

	assert_int_equal(oplog_open(t_events(d), NULL, &ol), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* fork() has returned here: the handlers it runs in the child are done. */
		close(go[1]);
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		/* Outlives the writer below: waits until told to go. */
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	oplog_close(ol);
	/* The writer is gone while its child lives on: a new writer gets the buffer. */
	assert_int_equal(oplog_open(t_events(d), NULL, &again), 0);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	oplog_close(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read_drop, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_read_byte_limit, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_events_and_seq, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_full_buffer_drops_oldest, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_batch_larger_than_buffer, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_events, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_one_writer, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_child_does_not_hold_the_lock, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
