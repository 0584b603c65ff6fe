/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the operation-log batch parser (src/endpoint/oplog.c):
 * every kind with its fields, the data kept per event, and every refusal
 * with the event and field it names — order of seq, unknown kinds and
 * fields, missing fields, types, bounds, and the batch limits; events ahead
 * of the server's clock; the search cursor.  Then, on a fresh SQLite
 * database, the search as each caller's scope allows it (by the device's
 * unit, the event's user or the device owner's login) and the retention
 * sweep over the units that have devices.
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

#include "audit/audit.h"
#include "common/err.h"
#include "endpoint/oplog.h"
#include "identity/people.h"
#include "store/store.h"

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

/* ---------------------------------------------------------------- with a store */

#define NOW ((int64_t)1796605200000LL)
#define DEV_A "01JDEV0000000000000000000A"
#define DEV_B "01JDEV0000000000000000000B"
#define BOB "01JBOB0000000000000000000A"

/* Adds device @id to the unit at @path (created if missing), owned by @owner (may be NULL). */
static void add_device(struct store_conn *c, const char *id, const char *path, const char *owner)
{
	char unit[ULID_SIZE];

	assert_int_equal(people_org_ensure(c, path, NULL, NOW, unit, NULL), 0);
	assert_int_equal(store_exec(c, "INSERT INTO devices (id, hostname, machine_id, org_unit_id, owner_id, public_key, "
				       "state, created_at) VALUES ($1, $1, $1, $2, $3, x'00', 'unknown', 0)",
				    STORE_ARGS(SA_TEXT(id), SA_TEXT(unit), SA_TEXT(owner))), 1);
}

/* Stores the batch @text from device @id. */
static void add_events(struct store_conn *c, const char *id, const char *text)
{
	struct oplog_batch b;
	struct rerr e;
	json_t *root;
	int64_t through = 0;

	assert_int_equal(parse(text, &b, &root, &e), 0);
	assert_int_equal(oplog_store_batch(c, &AUDIT_CTX_SYSTEM, id, &b, NOW, &through), 0);
	assert_int_equal(through, b.events[b.n - 1].seq);
	oplog_batch_done(&b);
	json_decref(root);
}

/* Searches as @p for @person (may be NULL); expects @n events, the newest of device @first. */
static void check_search(struct store_conn *c, const struct principal *p, const char *person, size_t n,
			 const char *first)
{
	struct oplog_filter f = { .person = person };
	char next[PAGE_CURSOR_SIZE];
	json_t *items = NULL;

	assert_int_equal(oplog_search(c, p, &f, 10, &items, next), 0);
	assert_int_equal(json_array_size(items), n);
	assert_string_equal(next, "");
	if (first)
		assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "device"),
								      "id")), first);
	json_decref(items);
}

static void test_search_and_sweep(void **state)
{
	char dir[] = "/tmp/rampart-oplog-XXXXXX", path[128], cmd[160];
	struct principal admin = { .via = VIA_API_TOKEN, .person_id = "01JADM0000000000000000000A", .login = "admin",
				   .roles = ROLE_ADMIN };
	struct principal sm = { .via = VIA_COOKIE, .person_id = "01JSMG0000000000000000000A", .login = "sm",
				.roles = ROLE_SECURITY_MANAGER, .manages_path = "G/C" };
	struct principal emp = { .via = VIA_COOKIE, .person_id = BOB, .login = "bob", .roles = ROLE_EMPLOYEE };
	struct people_rec bob = { .login = "bob", .family_name = "B", .given_name = "Bob", .status = "active",
				  .kind = "employee" };
	struct oplog_sweep_result res;
	struct people_writer *w = NULL;
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *q = NULL;
	json_t *items = NULL, *det;
	struct oplog_filter all = { 0 };
	char next[PAGE_CURSOR_SIZE];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/o.db", dir);
	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(people_writer_new(c, "seed", NULL, NOW, &w), 0);
	assert_int_equal(people_create(w, BOB, &bob, NULL), 0);
	people_writer_free(w);
	add_device(c, DEV_A, "G/C/D", BOB);
	add_device(c, DEV_B, "G/CX", NULL);
	add_events(c, DEV_A, "{\"events\": [{\"seq\": 1, \"ts\": 1000, \"kind\": \"login\", \"user\": \"root\"}]}");
	add_events(c, DEV_B, "{\"events\": [{\"seq\": 1, \"ts\": 2000, \"kind\": \"login\", \"user\": \"bob\"},"
			     "{\"seq\": 2, \"ts\": 3000, \"kind\": \"login\", \"user\": \"carol\"}]}");
	check_search(c, &admin, NULL, 3, DEV_B);
	/* A person: the events they were the user of, and those of the devices they own. */
	check_search(c, &admin, "bob", 2, DEV_B);
	check_search(c, &admin, "carol", 1, DEV_B);
	check_search(c, &admin, "nobody", 0, NULL);
	/* A security manager of "G/C" sees "G/C/D", not "G/CX". */
	check_search(c, &sm, NULL, 1, DEV_A);
	check_search(c, &sm, "bob", 1, DEV_A);
	check_search(c, &emp, NULL, 0, NULL);
	assert_int_equal(oplog_search(c, &sm, &all, 10, &items, next), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "device"),
							      "owner")), "bob");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "device"),
							      "org_unit")), "G/C/D");
	json_decref(items);
	/* Every event is past the default retention: gone, unit by unit, in one audit entry. */
	assert_int_equal(oplog_sweep(c, &AUDIT_CTX_SYSTEM, NOW, &res), 0);
	assert_int_equal(res.events, 3);
	check_search(c, &admin, NULL, 0, NULL);
	assert_int_equal(store_query(c, "SELECT details FROM audit_log WHERE action = 'endpoint.retention'", STORE_NOARGS,
				     &q), 0);
	assert_int_equal(store_step(q), 1);
	det = json_loads(store_col_text(q, 0), 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(det, "org_units")), 2);
	json_decref(det);
	store_stmt_free(q);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_search_and_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
