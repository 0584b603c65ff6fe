/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the operation-log batch parser (src/endpoint/oplog.c):
 * every kind with its fields, the data kept per event, and every refusal
 * with the event and field it names — order of seq, unknown kinds and
 * fields, missing fields, types, bounds, and the batch limits; events ahead
 * of the server's clock; the search cursor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "endpoint/oplog.h"

/* Parses @text; returns the result and leaves the batch in @b, the root in *root. */
static int parse(const char *text, struct oplog_batch *b, json_t **root, struct rerr *e)
{
	*root = NULL;
	memset(e, 0, sizeof(*e));
	return oplog_batch_parse(text, strlen(text), root, b, e);
}

/* Expects @text refused as ERR_INVALID naming @field, with @words in the message. */
static void refused(const char *text, const char *field, const char *words)
{
	struct oplog_batch b;
	struct rerr e;
	json_t *root;

	assert_int_equal(parse(text, &b, &root, &e), ERR_INVALID);
	assert_int_equal(b.n, 0);
	assert_null(b.events);
	assert_null(root);
	if (field)
		assert_string_equal(e.field, field);
	if (words && !strstr(e.message, words))
		fail_msg("message '%s' lacks '%s'", e.message, words);
}

static void test_every_kind(void **state)
{
	static const char text[] =
		"{\"events\": ["
		"{\"seq\": 1, \"ts\": 1000, \"kind\": \"exec\", \"pid\": 10, \"ppid\": 1, \"uid\": 0, \"user\": \"root\","
		" \"path\": \"/bin/sh\", \"argv\": [\"sh\", \"-c\", \"\"], \"cwd\": \"/\"},"
		"{\"seq\": 2, \"ts\": 1001, \"kind\": \"login\", \"user\": \"alice\", \"tty\": \"pts/0\"},"
		"{\"seq\": 3, \"ts\": 1002, \"kind\": \"logout\", \"user\": \"alice\", \"host\": null},"
		"{\"seq\": 5, \"ts\": 1003, \"kind\": \"usb_insert\", \"vendor\": \"0781\", \"product\": \"5583\","
		" \"serial\": \"\", \"storage\": true, \"action\": \"reported\"},"
		"{\"seq\": 6, \"ts\": 1004, \"kind\": \"usb_remove\", \"vendor\": \"0781\", \"product\": \"5583\"},"
		"{\"seq\": 7, \"ts\": 1005, \"kind\": \"usb_block\", \"vendor\": \"0781\", \"product\": \"5583\", \"name\": \"x\"},"
		"{\"seq\": 9007199254740991, \"ts\": 1006, \"kind\": \"file_write\", \"path\": \"/media/a/b\","
		" \"device\": \"/dev/sdb1\", \"size\": 0}"
		"]}";
	struct oplog_batch b;
	struct rerr e;
	json_t *root;

	(void)state;
	assert_int_equal(parse(text, &b, &root, &e), 0);
	assert_int_equal(b.n, 7);
	assert_int_equal(b.events[0].seq, 1);
	assert_int_equal(b.events[0].ts, 1000);
	assert_string_equal(b.events[0].kind, "exec");
	assert_string_equal(b.events[0].user, "root");
	/* data holds the kind's other fields, never seq, ts, kind or user. */
	assert_int_equal(json_object_size(b.events[0].data), 6);
	assert_null(json_object_get(b.events[0].data, "user"));
	assert_int_equal(json_array_size(json_object_get(b.events[0].data, "argv")), 3);
	/* A null optional field is left out. */
	assert_null(json_object_get(b.events[2].data, "host"));
	assert_null(b.events[3].user);
	assert_true(json_is_true(json_object_get(b.events[3].data, "storage")));
	assert_string_equal(b.events[6].kind, "file_write");
	assert_int_equal(b.events[6].seq, OPLOG_MAX_SEQ);
	assert_null(b.events[6].user);
	oplog_batch_done(&b);
	assert_int_equal(b.n, 0);
	json_decref(root);

	assert_int_equal(parse("{\"events\": []}", &b, &root, &e), 0);
	assert_int_equal(b.n, 0);
	oplog_batch_done(&b);
	json_decref(root);
	assert_true(oplog_kind_is_known("usb_block"));
	assert_false(oplog_kind_is_known("keystroke"));
	assert_false(oplog_kind_is_known(NULL));
}

static void test_refusals(void **state)
{
	(void)state;
	refused("[]", NULL, NULL);
	refused("{}", "events", "array");
	refused("{\"events\": [], \"x\": 1}", "x", "unknown field");
	refused("{\"events\": [1]}", "events[0]", "object");
	refused("{\"events\": [{\"seq\": 2, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"},"
		"{\"seq\": 2, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"}]}", "events[1].seq", "greater");
	refused("{\"events\": [{\"seq\": 3, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"},"
		"{\"seq\": 1, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"}]}", "events[1].seq", "greater");
	refused("{\"events\": [{\"seq\": 0, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"}]}", "events[0].seq", NULL);
	refused("{\"events\": [{\"seq\": 9007199254740992, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"}]}",
		"events[0].seq", NULL);
	refused("{\"events\": [{\"seq\": 1.5, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\"}]}", "events[0].seq", NULL);
	refused("{\"events\": [{\"seq\": 1, \"kind\": \"login\", \"user\": \"a\"}]}", "events[0].ts", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 253402300800000, \"kind\": \"login\", \"user\": \"a\"}]}",
		"events[0].ts", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"keys\", \"user\": \"a\"}]}", "events[0].kind",
		"unknown kind");
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"user\": \"a\"}]}", "events[0].kind", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\", \"pid\": 1}]}", "events[0]",
		"login events have no field 'pid'");
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"login\"}]}", "events[0].user", "required");
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"login\", \"user\": \"\"}]}", "events[0].user", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"login\", \"user\": \"a\\u001bb\"}]}", "events[0].user",
		"control");
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"login\", \"user\": 5}]}", "events[0].user", "string");
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"exec\", \"pid\": -1, \"ppid\": 1, \"uid\": 0, "
		"\"user\": \"a\", \"path\": \"/x\", \"argv\": []}]}", "events[0].pid", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"exec\", \"pid\": 1, \"ppid\": 1, \"uid\": 4294967296, "
		"\"user\": \"a\", \"path\": \"/x\", \"argv\": []}]}", "events[0].uid", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"exec\", \"pid\": 1, \"ppid\": 1, \"uid\": 0, "
		"\"user\": \"a\", \"path\": \"\", \"argv\": []}]}", "events[0].path", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"exec\", \"pid\": 1, \"ppid\": 1, \"uid\": 0, "
		"\"user\": \"a\", \"path\": \"/x\", \"argv\": [1]}]}", "events[0].argv", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"usb_insert\", \"vendor\": \"v\", \"product\": \"p\", "
		"\"storage\": 1, \"action\": \"allowed\"}]}", "events[0].storage", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"usb_insert\", \"vendor\": \"v\", \"product\": \"p\", "
		"\"storage\": true, \"action\": \"maybe\"}]}", "events[0].action", NULL);
	refused("{\"events\": [{\"seq\": 1, \"ts\": 1, \"kind\": \"file_write\", \"path\": \"/m\", \"device\": \"d\", "
		"\"size\": -4}]}", "events[0].size", NULL);
}

/* Builds {"events": [N logins]} with user names of @ulen bytes. */
static char *logins(size_t n, size_t ulen)
{
	size_t cap = 64 + n * (ulen + 80);
	char *s = malloc(cap), *p = s;

	assert_non_null(s);
	p += snprintf(p, cap, "{\"events\": [");
	for (size_t i = 0; i < n; i++) {
		p += snprintf(p, cap - (size_t)(p - s), "%s{\"seq\": %zu, \"ts\": 1, \"kind\": \"login\", \"user\": \"",
			      i ? "," : "", i + 1);
		memset(p, 'u', ulen);
		p += ulen;
		p += snprintf(p, cap - (size_t)(p - s), "\"}");
	}
	snprintf(p, cap - (size_t)(p - s), "]}");
	return s;
}

static void test_limits(void **state)
{
	struct oplog_batch b;
	struct rerr e;
	json_t *root;
	char *t;

	(void)state;
	t = logins(OPLOG_MAX_EVENTS, 1);
	assert_int_equal(parse(t, &b, &root, &e), 0);
	assert_int_equal(b.n, OPLOG_MAX_EVENTS);
	oplog_batch_done(&b);
	json_decref(root);
	free(t);
	t = logins(OPLOG_MAX_EVENTS + 1, 1);
	refused(t, "events", "1000");
	free(t);
	t = logins(1, OPLOG_MAX_STR);
	assert_int_equal(parse(t, &b, &root, &e), 0);
	oplog_batch_done(&b);
	json_decref(root);
	free(t);
	t = logins(1, OPLOG_MAX_STR + 1);
	refused(t, "events[0].user", "256");
	free(t);
	/* Over 1 MiB: refused before parsing. */
	t = logins(400, 3000);
	assert_true(strlen(t) > OPLOG_MAX_BODY);
	assert_int_equal(parse(t, &b, &root, &e), ERR_TOO_LARGE);
	assert_null(root);
	free(t);
}

/* An event more than an hour ahead of the server's clock refuses the batch, naming it. */
static void test_clock_skew(void **state)
{
	const int64_t now = 1796605200000LL;
	char text[256];
	struct oplog_batch b;
	struct rerr e;
	json_t *root;

	(void)state;
	snprintf(text, sizeof(text), "{\"events\": [{\"seq\": 1, \"ts\": %lld, \"kind\": \"login\", \"user\": \"a\"},"
		 "{\"seq\": 2, \"ts\": %lld, \"kind\": \"login\", \"user\": \"a\"}]}",
		 (long long)(now + OPLOG_MAX_SKEW_MS), (long long)(now + OPLOG_MAX_SKEW_MS + 1));
	assert_int_equal(parse(text, &b, &root, &e), 0);
	assert_int_equal(oplog_batch_check_time(&b, now + 1, &e), 0);
	assert_int_equal(oplog_batch_check_time(&b, now, &e), ERR_INVALID);
	assert_string_equal(e.field, "events[1].ts");
	assert_non_null(strstr(e.message, "ahead of the server's clock"));
	oplog_batch_done(&b);
	json_decref(root);
}

/* The search cursor is "TS.DEVICE.SEQ"; anything else is refused. */
static void test_cursor(void **state)
{
	struct oplog_cursor cur;

	(void)state;
	assert_int_equal(oplog_cursor_parse("1796605200000.01JDEV0000000000000000000A.42", &cur), 0);
	assert_true(cur.ts == 1796605200000LL);
	assert_string_equal(cur.device, "01JDEV0000000000000000000A");
	assert_true(cur.seq == 42);
	assert_int_equal(oplog_cursor_parse("1796605200000.01JDEV0000000000000000000A.0", &cur), -EINVAL);
	assert_int_equal(oplog_cursor_parse("1796605200000.not-a-ulid.42", &cur), -EINVAL);
	assert_int_equal(oplog_cursor_parse("-1.01JDEV0000000000000000000A.42", &cur), -EINVAL);
	assert_int_equal(oplog_cursor_parse("1796605200000.01JDEV0000000000000000000A", &cur), -EINVAL);
	assert_int_equal(oplog_cursor_parse("", &cur), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
