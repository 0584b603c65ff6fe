/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for src/store: migrations, parameters, transactions, constraints, schema checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "store/page.h"
#include "store/store.h"

static char dir[] = "/tmp/rampart-store-XXXXXX";
static char path[256];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_open_migrates(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	int64_t v = 0;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_non_null(c);
	assert_int_equal(store_schema_version(c, &v), 0);
	assert_true(v >= 1);
	assert_int_equal(store_check_integrity(c), 0);
	store_close(s);
	/* Reopening applies nothing new and keeps the version. */
	assert_int_equal(store_open(path, &s), 0);
	assert_int_equal(store_schema_version(store_conn(s), &v), 0);
	assert_true(v >= 1);
	store_close(s);
}

static void test_params_and_rows(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *q;
	int64_t n;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ($2, $1)",
				    STORE_ARGS(SA_TEXT("v1"), SA_TEXT("k1"))), 1);
	assert_int_equal(store_query(c, "SELECT value FROM server_meta WHERE key = $1",
				     STORE_ARGS(SA_TEXT("k1")), &q), 0);
	assert_int_equal(store_step(q), 1);
	assert_string_equal(store_col_text(q, 0), "v1");
	assert_int_equal(store_step(q), 0);
	store_stmt_free(q);
	/* A quote in a bound value is data, not SQL. */
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ($1, $2)",
				    STORE_ARGS(SA_TEXT("k'2"), SA_TEXT("'); DROP TABLE people; --"))), 1);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM people", STORE_NOARGS, &n), 0);
	/* Unique violation maps to ERR_CONFLICT. */
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ($1, $2)",
				    STORE_ARGS(SA_TEXT("k1"), SA_TEXT("again"))), ERR_CONFLICT);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = $1",
					 STORE_ARGS(SA_TEXT("nope")), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_query_i64(c, "SELECT 1 FROM server_meta WHERE key = $1",
					 STORE_ARGS(SA_TEXT("nope")), &n), ERR_NOT_FOUND);
	assert_int_equal(store_exec(c, "SELECT * FROM no_such_table", STORE_NOARGS), ERR_STORE);
	store_close(s);
}

static void test_rollback(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	int64_t n;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_begin(c), 0);
	assert_true(store_in_transaction(c));
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('tx', 'x')", STORE_NOARGS), 1);
	store_rollback(c);
	assert_false(store_in_transaction(c));
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = 'tx'", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 0);
	store_close(s);
}

static void test_stmt_reuse(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *ins, *sel;
	int64_t n;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	/* One prepared statement, many rows. */
	assert_int_equal(store_query(c, "INSERT INTO server_meta (key, value) VALUES ($1, $2)", STORE_NOARGS, &ins), 0);
	for (int i = 0; i < 50; i++) {
		char k[16];

		snprintf(k, sizeof(k), "reuse%d", i);
		assert_int_equal(store_stmt_exec(ins, STORE_ARGS(SA_TEXT(k), SA_TEXT("v"))), 1);
	}
	/* A failure leaves the statement usable. */
	assert_int_equal(store_stmt_exec(ins, STORE_ARGS(SA_TEXT("reuse1"), SA_TEXT("v"))), ERR_CONFLICT);
	assert_int_equal(store_stmt_exec(ins, STORE_ARGS(SA_TEXT("reuse50"), SA_TEXT("v"))), 1);
	store_stmt_free(ins);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key LIKE 'reuse%'",
					 STORE_NOARGS, &n), 0);
	assert_int_equal(n, 51);
	/* A query rebound to other values returns the new rows. */
	assert_int_equal(store_query(c, "SELECT value FROM server_meta WHERE key = $1",
				     STORE_ARGS(SA_TEXT("reuse3")), &sel), 0);
	assert_int_equal(store_step(sel), 1);
	assert_int_equal(store_stmt_rebind(sel, STORE_ARGS(SA_TEXT("nope"))), 0);
	assert_int_equal(store_step(sel), 0);
	assert_int_equal(store_stmt_rebind(sel, STORE_ARGS(SA_TEXT("reuse7"))), 0);
	assert_int_equal(store_step(sel), 1);
	assert_string_equal(store_col_text(sel, 0), "v");
	store_stmt_free(sel);
	store_close(s);
}

struct writer_arg {
	struct store *s;
	int begin;
	int64_t seen;   /* rows of the other writer visible inside this one's transaction */
	int commit;
};

static void *writer_thread(void *p)
{
	struct writer_arg *a = p;
	struct store_conn *c = store_conn(a->s);

	a->begin = c ? store_begin(c) : ERR_STORE;
	if (a->begin < 0)
		return NULL;
	store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = 'w1'", STORE_NOARGS, &a->seen);
	store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('w2', 'x')", STORE_NOARGS);
	a->commit = store_commit(c);
	return NULL;
}

/* Write transactions of two threads queue one after the other; a nested begin fails without hanging. */
static void test_writers_queue(void **state)
{
	struct writer_arg a = { 0 };
	struct store_conn *c;
	pthread_t t;
	int64_t n;

	assert_int_equal(store_open(path, &a.s), 0);
	c = store_conn(a.s);
	assert_int_equal(store_begin(c), 0);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('w1', 'x')", STORE_NOARGS), 1);
	/* A second begin on the same connection is refused, and the transaction it found stays. */
	assert_int_equal(store_begin(c), ERR_STORE);
	assert_true(store_in_transaction(c));
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &a), 0);
	assert_int_equal(store_commit(c), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.begin, 0);
	assert_int_equal(a.commit, 0);
	/* The other writer began after this one committed: it saw its row. */
	assert_int_equal(a.seen, 1);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key IN ('w1', 'w2')",
					 STORE_NOARGS, &n), 0);
	assert_int_equal(n, 2);
	/* The slot is free again after a rollback too. */
	assert_int_equal(store_begin(c), 0);
	store_rollback(c);
	assert_int_equal(store_begin(c), 0);
	assert_int_equal(store_commit(c), 0);
	store_close(a.s);
}

static void test_refuses_newer_schema(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_exec(c, "INSERT INTO schema_migrations (version, name, applied_at) "
				       "VALUES (99999, 'future', 0)", STORE_NOARGS), 1);
	store_close(s);
	s = NULL;
	assert_int_equal(store_open(path, &s), ERR_SCHEMA);
	assert_null(s);
}

static json_t *page_item(struct store_stmt *q, void *ud)
{
	(*(int *)ud)++;
	return json_string(store_col_text(q, 1));
}

/* Keyset paging walks every row once, in order, and says where the next page starts. */
static void test_page_collect(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *q;
	char next[PAGE_CURSOR_SIZE] = "x", key[16], val[16];
	json_t *items = NULL, *body;
	int calls = 0, seen = 0;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_exec(c, "DELETE FROM server_meta WHERE key LIKE 'pg%'", STORE_NOARGS) >= 0, 1);
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "pg%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ($1, $2)",
					    STORE_ARGS(SA_TEXT(key), SA_TEXT(val))), 1);
	}
	next[0] = '\0';
	do {
		char cursor[PAGE_CURSOR_SIZE];

		snprintf(cursor, sizeof(cursor), "%s", next);
		assert_int_equal(store_query(c, "SELECT key, value FROM server_meta WHERE key LIKE 'pg%' "
					     "AND key > $1 ORDER BY key LIMIT $2",
					     STORE_ARGS(SA_TEXT(cursor), SA_I64(3 + 1)), &q), 0);
		assert_int_equal(page_collect(q, 3, 0, page_item, &calls, &items, next), 0);
		for (size_t i = 0; i < json_array_size(items); i++) {
			snprintf(val, sizeof(val), "v%d", seen++);
			assert_string_equal(json_string_value(json_array_get(items, i)), val);
		}
		body = page_json(items, next);
		assert_non_null(body);
		assert_true(next[0] ? json_is_string(json_object_get(body, "next"))
				    : json_is_null(json_object_get(body, "next")));
		json_decref(body);
	} while (next[0]);
	assert_int_equal(seen, 7);
	assert_int_equal(calls, 7);
	/* An exact multiple of the limit ends without an empty extra page. */
	assert_int_equal(store_query(c, "SELECT key, value FROM server_meta WHERE key LIKE 'pg0%' "
				     "AND key < 'pg06' ORDER BY key LIMIT $1", STORE_ARGS(SA_I64(6 + 1)), &q), 0);
	assert_int_equal(page_collect(q, 6, 0, page_item, &calls, &items, next), 0);
	assert_int_equal(json_array_size(items), 6);
	assert_string_equal(next, "");
	json_decref(items);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_migrates),
		cmocka_unit_test(test_params_and_rows),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_stmt_reuse),
		cmocka_unit_test(test_writers_queue),
		cmocka_unit_test(test_page_collect),
		cmocka_unit_test(test_refuses_newer_schema),
	};
	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
