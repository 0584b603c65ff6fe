/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for src/store: migrations, parameters, transactions,
 * constraints, schema checks, on SQLite and, when RAMPART_TEST_PG_URL names
 * a PostgreSQL database the tests may empty (scripts/run-tests.sh starts a
 * private cluster for it), the same cases again on PostgreSQL, plus the
 * PostgreSQL driver's own: a lost connection.  The job claim (store/job.h)
 * runs on both, with connections of two stores (two servers) racing.
 */
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

#include <libpq-fe.h>

#include "common/err.h"
#include "store/job.h"
#include "store/page.h"
#include "store/store.h"
#include "store/store_pg_internal.h"

static char dir[] = "/tmp/rampart-store-XXXXXX";
/* The database of the group running: a SQLite path or a PostgreSQL URL. */
static char path[1024];

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

/* Runs @sql on @url outside the store (a second client).  Returns 0 or -1. */
static int pg_admin(const char *url, const char *sql)
{
	PGconn *pg = PQconnectdb(url);
	PGresult *res;
	int r = -1;

	if (PQstatus(pg) == CONNECTION_OK) {
		res = PQexec(pg, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
			r = 0;
		else
			fprintf(stderr, "pg_admin: %s", PQresultErrorMessage(res));
		PQclear(res);
	} else {
		fprintf(stderr, "pg_admin: %s", PQerrorMessage(pg));
	}
	PQfinish(pg);
	return r;
}

/* The PostgreSQL group starts from an empty database. */
static int pg_setup(void **state)
{
	const char *url = getenv("RAMPART_TEST_PG_URL");

	if (!url || snprintf(path, sizeof(path), "%s", url) >= (int)sizeof(path))
		return -1;
	return pg_admin(path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

static bool engine_is_pg(void)
{
	return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
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


/* Values keep their type through the engine: big integers, blobs with NUL bytes, NULL, booleans. */
static void test_types(void **state)
{
	static const unsigned char blob[] = { 'a', 0, 'b', 0, 0xff, 0 };
	const int64_t big = 5000000000123LL, neg = -4000000000LL;
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *q;
	const void *p;
	size_t n;
	int64_t v;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_exec(c, "INSERT INTO people (id, login, family_name, given_name, status, kind, "
				       "totp_secret, totp_last_step, created_at, updated_at) "
				       "VALUES ('P1', 'types', 'F', 'G', 'active', 'employee', $1, $2, $3, $3)",
				    STORE_ARGS(SA_BLOB(blob, sizeof(blob)), SA_I64(neg), SA_I64(big))), 1);
	assert_int_equal(store_query(c, "SELECT totp_secret, totp_last_step, created_at, email, retired_at "
				     "FROM people WHERE login = $1", STORE_ARGS(SA_TEXT("types")), &q), 0);
	assert_int_equal(store_step(q), 1);
	p = store_col_blob(q, 0, &n);
	assert_int_equal(n, sizeof(blob));
	assert_memory_equal(p, blob, sizeof(blob));
	assert_int_equal(store_col_i64(q, 1), neg);
	assert_int_equal(store_col_i64(q, 2), big);
	assert_null(store_col_text(q, 3));
	assert_true(store_col_is_null(q, 3));
	assert_true(store_col_is_null(q, 4));
	assert_int_equal(store_col_i64(q, 4), 0);
	assert_false(store_col_is_null(q, 2));
	assert_int_equal(store_step(q), 0);
	store_stmt_free(q);
	/* An empty blob, and a blob bound where the statement was prepared with NULL. */
	assert_int_equal(store_exec(c, "UPDATE people SET totp_pending = $1 WHERE id = 'P1'", STORE_ARGS(SA_NULL)), 1);
	assert_int_equal(store_exec(c, "UPDATE people SET totp_pending = $1 WHERE id = 'P1'",
				    STORE_ARGS(SA_BLOB("", 0))), 1);
	/* Comparisons, aggregates and a NULL bound to an untyped parameter. */
	assert_int_equal(store_query_i64(c, "SELECT count(*) > 0 FROM people", STORE_NOARGS, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_query_i64(c, "SELECT 1 = 2", STORE_NOARGS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_query_i64(c, "SELECT sum(created_at) FROM people WHERE id = 'P1'", STORE_NOARGS, &v), 0);
	assert_int_equal(v, big);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM people WHERE ($1 IS NULL OR login = $1)",
					 STORE_ARGS(SA_NULL), &v), 0);
	assert_true(v >= 1);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM people WHERE ($1 IS NULL OR login = $1)",
					 STORE_ARGS(SA_TEXT("types")), &v), 0);
	assert_int_equal(v, 1);
	store_close(s);
}

/* INTEGER PRIMARY KEY columns number rows themselves; explicit ids are kept. */
static void test_identity_column(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	int64_t a = 0, b = 0;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_query_i64(c, "INSERT INTO auth_failures (factor, subject, at) VALUES ('password', 'x', 1) "
					 "RETURNING id", STORE_NOARGS, &a), 0);
	assert_int_equal(store_query_i64(c, "INSERT INTO auth_failures (factor, subject, at) VALUES ('password', 'x', 2) "
					 "RETURNING id", STORE_NOARGS, &b), 0);
	assert_true(a >= 1);
	assert_true(b > a);
	assert_int_equal(store_exec(c, "INSERT INTO auth_failures (id, factor, subject, at) VALUES ($1, 'totp', 'y', 3)",
				    STORE_ARGS(SA_I64(1000000))), 1);
	assert_int_equal(store_exec(c, "INSERT INTO auth_failures (id, factor, subject, at) VALUES ($1, 'totp', 'y', 3)",
				    STORE_ARGS(SA_I64(1000000))), ERR_CONFLICT);
	/* A check constraint is a conflict too, as SQLite's. */
	assert_int_equal(store_exec(c, "INSERT INTO auth_failures (factor, subject, at) VALUES ('nope', 'x', 1)",
				    STORE_NOARGS), ERR_CONFLICT);
	store_close(s);
}

/* A failed statement inside a transaction undoes only itself; the transaction goes on. */
static void test_statement_failure_in_transaction(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	int64_t n;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_begin(c), 0);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('sf1', 'x')", STORE_NOARGS), 1);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('sf1', 'y')", STORE_NOARGS),
			 ERR_CONFLICT);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('sf2', 'x')", STORE_NOARGS), 1);
	assert_int_equal(store_commit(c), 0);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key IN ('sf1', 'sf2')",
					 STORE_NOARGS, &n), 0);
	assert_int_equal(n, 2);
	store_close(s);
}

/* Statements run between the rows of an open query, as SQLite allows. */
static void test_nested_statements(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	struct store_stmt *q;
	char key[16];
	int rows = 0;
	int64_t n;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "ns%d", i);
		assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ($1, 'a')",
					    STORE_ARGS(SA_TEXT(key))), 1);
	}
	assert_int_equal(store_query(c, "SELECT key FROM server_meta WHERE key LIKE 'ns%' ORDER BY key",
				     STORE_NOARGS, &q), 0);
	while (store_step(q) == 1) {
		snprintf(key, sizeof(key), "%s", store_col_text(q, 0));
		assert_int_equal(store_exec(c, "UPDATE server_meta SET value = 'b' WHERE key = $1",
					    STORE_ARGS(SA_TEXT(key))), 1);
		assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE value = 'b' AND key LIKE 'ns%'",
						 STORE_NOARGS, &n), 0);
		assert_int_equal(n, ++rows);
	}
	store_stmt_free(q);
	assert_int_equal(rows, 5);
	/* A query abandoned after its first row leaves the connection usable. */
	assert_int_equal(store_query(c, "SELECT key FROM server_meta ORDER BY key", STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	store_stmt_free(q);
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key LIKE 'ns%'", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 5);
	store_close(s);
}

/* The job row's next_run, owner and runs. */
static void job_row(struct store_conn *c, const char *name, int64_t *ret_next, char *owner, size_t size,
		    int64_t *ret_runs)
{
	struct store_stmt *q;

	assert_int_equal(store_query(c, "SELECT next_run, owner, runs FROM jobs WHERE name = $1",
				     STORE_ARGS(SA_TEXT(name)), &q), 0);
	assert_int_equal(store_step(q), 1);
	*ret_next = store_col_i64(q, 0);
	snprintf(owner, size, "%s", store_col_text(q, 1));
	*ret_runs = store_col_i64(q, 2);
	store_stmt_free(q);
}

/* A job is claimed once per interval; names are independent; a clock far ahead cannot stop it. */
static void test_job_claim(void **state)
{
	char owner[300], self[300], name[STORE_JOB_NAME_MAX + 2];
	struct store *s = NULL;
	struct store_conn *c;
	int64_t next, runs;

	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 10000, "one"), 1);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 10000, "two"), 0);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 10999, "two"), 0);
	job_row(c, "t.a", &next, owner, sizeof(owner), &runs);
	assert_int_equal(next, 11000);
	assert_string_equal(owner, "one");
	assert_int_equal(runs, 1);
	/* Due again one interval later, for whoever asks first. */
	assert_int_equal(store_job_claim(c, "t.a", 1000, 11000, "two"), 1);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 11500, "one"), 0);
	job_row(c, "t.a", &next, owner, sizeof(owner), &runs);
	assert_int_equal(next, 12000);
	assert_string_equal(owner, "two");
	assert_int_equal(runs, 2);
	/* Another job has its own schedule; the default owner is this process. */
	assert_int_equal(store_job_claim(c, "t.b", 60000, 11500, NULL), 1);
	job_row(c, "t.b", &next, owner, sizeof(owner), &runs);
	assert_string_equal(owner, store_job_self(self, sizeof(self)));
	assert_non_null(strchr(owner, ':'));

	/* A clock less than an interval behind does not run the job again... */
	assert_int_equal(store_job_claim(c, "t.a", 1000, 11200, "late"), 0);
	/* ...but a claim further ahead than two intervals came from a wrong clock: claimable again. */
	assert_int_equal(store_job_claim(c, "t.a", 1000, 500000, "ahead"), 1);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 13000, "right"), 1);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 13000, "right"), 0);

	/* Inside a transaction the claim is undone with it. */
	assert_int_equal(store_begin(c), 0);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 14000, "tx"), 1);
	store_rollback(c);
	assert_int_equal(store_job_claim(c, "t.a", 1000, 14000, "after"), 1);
	job_row(c, "t.a", &next, owner, sizeof(owner), &runs);
	assert_string_equal(owner, "after");

	/* Refusals. */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(store_job_claim(c, name, 1000, 1, NULL), ERR_INVALID);
	name[STORE_JOB_NAME_MAX] = '\0';
	assert_int_equal(store_job_claim(c, name, 1000, 1, NULL), 1);
	assert_int_equal(store_job_claim(c, "", 1000, 1, NULL), ERR_INVALID);
	assert_int_equal(store_job_claim(c, NULL, 1000, 1, NULL), ERR_INVALID);
	assert_int_equal(store_job_claim(c, "t.c", 0, 1, NULL), ERR_INVALID);
	assert_int_equal(store_job_claim(c, "t.c", INT64_MAX / 2, INT64_MAX / 2, NULL), ERR_INVALID);
	assert_int_equal(store_job_poll_s(60000), 15);
	assert_int_equal(store_job_poll_s(600000), 150);
	assert_int_equal(store_job_poll_s(10), 1);
	store_close(s);
}

#define JOB_ROUNDS 25
#define JOB_THREADS 6

struct job_race {
	struct store *stores[2];       /* two servers on one database */
	pthread_barrier_t start, end;
	int wins[JOB_ROUNDS];
	int errors;
};

struct job_racer {
	struct job_race *race;
	int index;
};

static void *job_racer_main(void *p)
{
	struct job_racer *me = p;
	struct job_race *race = me->race;
	struct store_conn *c = store_conn(race->stores[me->index % 2]);
	char owner[32];

	snprintf(owner, sizeof(owner), "racer%d", me->index);
	for (int round = 0; round < JOB_ROUNDS; round++) {
		int r;

		pthread_barrier_wait(&race->start);
		r = c ? store_job_claim(c, "t.race", 1000, 100000 + (int64_t)round * 1000, owner) : ERR_STORE;
		if (r == 1)
			__atomic_fetch_add(&race->wins[round], 1, __ATOMIC_SEQ_CST);
		else if (r != 0)
			__atomic_fetch_add(&race->errors, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&race->end);
	}
	return NULL;
}

/* Connections of two stores claim one job at the same moments: exactly one wins each round. */
static void test_job_claim_race(void **state)
{
	struct job_racer racers[JOB_THREADS];
	pthread_t threads[JOB_THREADS];
	struct job_race race = { 0 };
	int64_t next, runs;
	char owner[32];

	assert_int_equal(store_open(path, &race.stores[0]), 0);
	assert_int_equal(store_open(path, &race.stores[1]), 0);
	assert_int_equal(pthread_barrier_init(&race.start, NULL, JOB_THREADS), 0);
	assert_int_equal(pthread_barrier_init(&race.end, NULL, JOB_THREADS), 0);
	for (int i = 0; i < JOB_THREADS; i++) {
		racers[i] = (struct job_racer){ &race, i };
		assert_int_equal(pthread_create(&threads[i], NULL, job_racer_main, &racers[i]), 0);
	}
	for (int i = 0; i < JOB_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(race.errors, 0);
	for (int round = 0; round < JOB_ROUNDS; round++)
		assert_int_equal(race.wins[round], 1);
	job_row(store_conn(race.stores[0]), "t.race", &next, owner, sizeof(owner), &runs);
	assert_int_equal(runs, JOB_ROUNDS);
	assert_int_equal(next, 100000 + (int64_t)JOB_ROUNDS * 1000);
	pthread_barrier_destroy(&race.start);
	pthread_barrier_destroy(&race.end);
	store_close(race.stores[1]);
	store_close(race.stores[0]);
}

/* A claim another connection holds in an open transaction waits for it: lost if committed, won if rolled back. */
struct job_waiter {
	struct store *s;
	int64_t now;
	int result;
};

static void *job_waiter_main(void *p)
{
	struct job_waiter *w = p;
	struct store_conn *c = store_conn(w->s);

	w->result = c ? store_job_claim(c, "t.wait", 1000, w->now, "waiter") : ERR_STORE;
	return NULL;
}

static void test_job_claim_waits_for_transaction(void **state)
{
	struct job_waiter w = { 0 };
	struct store *other = NULL;
	struct store_conn *c;
	pthread_t t;

	assert_int_equal(store_open(path, &w.s), 0);
	assert_int_equal(store_open(path, &other), 0);
	c = store_conn(other);
	assert_int_equal(store_job_claim(c, "t.wait", 1000, 1000, "first"), 1);
	for (int commit = 0; commit < 2; commit++) {
		w.now = 2000 + commit * 1000;
		assert_int_equal(store_begin(c), 0);
		assert_int_equal(store_job_claim(c, "t.wait", 1000, w.now, "holder"), 1);
		assert_int_equal(pthread_create(&t, NULL, job_waiter_main, &w), 0);
		usleep(150 * 1000);
		if (commit)
			assert_int_equal(store_commit(c), 0);
		else
			store_rollback(c);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(w.result, commit ? 0 : 1);
	}
	store_close(other);
	store_close(w.s);
}

/* Ends this connection's server session from another client, as a restart of PostgreSQL would. */
static void pg_kill_session(struct store_conn *c)
{
	char sql[96];
	int64_t pid = 0;

	assert_int_equal(store_query_i64(c, "SELECT pg_backend_pid()", STORE_NOARGS, &pid), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", (long long)pid);
	assert_int_equal(pg_admin(path, sql), 0);
	usleep(100 * 1000);
}

/*
 * PostgreSQL: an idle session the server ended is replaced before the next
 * statement, which succeeds; inside a transaction a lost session fails every
 * statement until the rollback.
 */
static void test_pg_lost_connection(void **state)
{
	struct store *s = NULL;
	struct store_conn *c;
	uint64_t errors;
	int64_t n;

	if (!engine_is_pg())
		skip();
	assert_int_equal(store_open(path, &s), 0);
	c = store_conn(s);
	pg_kill_session(c);
	errors = store_error_count();
	assert_int_equal(store_query_i64(c, "SELECT 1", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_error_count(), errors);
	assert_int_equal(store_check_integrity(c), 0);

	/* Inside a transaction: every statement fails until the rollback, nothing is half applied. */
	assert_int_equal(store_begin(c), 0);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('lost1', 'x')", STORE_NOARGS), 1);
	pg_kill_session(c);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('lost2', 'x')", STORE_NOARGS),
			 ERR_UNAVAILABLE);
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('lost3', 'x')", STORE_NOARGS),
			 ERR_UNAVAILABLE);
	assert_true(store_in_transaction(c));
	assert_true(store_error_count() > errors);
	assert_int_equal(store_commit(c), ERR_UNAVAILABLE);
	assert_false(store_in_transaction(c));
	assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key LIKE 'lost%'",
					 STORE_NOARGS, &n), 0);
	assert_int_equal(n, 0);

	/* Lost in the middle of a query's rows. */
	assert_int_equal(store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('lost4', 'x')", STORE_NOARGS), 1);
	{
		struct store_stmt *q;

		assert_int_equal(store_query(c, "SELECT key FROM server_meta", STORE_NOARGS, &q), 0);
		assert_int_equal(store_step(q), 1);
		pg_kill_session(c);
		while (store_step(q) == 1)
			;
		store_stmt_free(q);
	}
	/* The rows may all have arrived before the session ended: then the next statement sees it. */
	if (store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = 'lost4'", STORE_NOARGS, &n) < 0)
		assert_int_equal(store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = 'lost4'",
						 STORE_NOARGS, &n), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

/* PostgreSQL: a thread that finds the pool empty waits, then gets no connection. */
static void *pool_thread(void *p)
{
	return store_conn(p);
}

static void test_pg_pool_bound(void **state)
{
	struct store_options o = { .pool_size = 1, .wait_ms = 200 };
	struct store *s = NULL;
	pthread_t t;
	void *got = (void *)1;

	if (!engine_is_pg())
		skip();
	assert_int_equal(store_open_opts(path, &o, &s), 0);
	assert_string_equal(store_engine(s), "postgresql");
	assert_non_null(store_conn(s));   /* the one connection, this thread's */
	assert_int_equal(pthread_create(&t, NULL, pool_thread, s), 0);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_null(got);
	store_close(s);
}

/* The PostgreSQL driver's text helpers: the migrations' DDL, parameters, and URIs in logs. */
static void test_pg_sql_text(void **state)
{
	char *t;

	t = store_pg_translate_ddl("CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    n integer NOT NULL, "
				   "b BLOB, s TEXT DEFAULT 'INTEGER BLOB', points_integer INTEGER)\n"
				   "-- INTEGER in a comment\n");
	assert_non_null(t);
	assert_string_equal(t, "CREATE TABLE t (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
			    "    n BIGINT NOT NULL, b BYTEA, s TEXT DEFAULT 'INTEGER BLOB', points_integer BIGINT)\n"
			    "-- INTEGER in a comment\n");
	free(t);
	assert_int_equal(store_pg_max_param("SELECT $1, '$9', $12 FROM t WHERE a = $3"), 12);
	assert_int_equal(store_pg_max_param("SELECT 1"), 0);
	assert_true(store_pg_is_select("  SELECT 1"));
	assert_false(store_pg_is_select("INSERT INTO t VALUES (1)"));
	assert_true(store_pg_is_savepoint_control("ROLLBACK TO SAVEPOINT report"));
	assert_false(store_pg_is_savepoint_control("SELECT 1"));
	t = store_pg_redact("postgresql://rampart:s3cret@db.example.com:5432/rampart?sslmode=require");
	assert_string_equal(t, "postgresql://rampart:***@db.example.com:5432/rampart?sslmode=require");
	free(t);
	t = store_pg_redact("postgresql:///rampart?host=/run/pg&password=ab&user=r");
	assert_string_equal(t, "postgresql:///rampart?host=/run/pg&password=***&user=r");
	free(t);
	t = store_pg_redact("postgresql://u:x@h/d?password=y");
	assert_string_equal(t, "postgresql://u:***@h/d?password=***");
	free(t);
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
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_identity_column),
		cmocka_unit_test(test_statement_failure_in_transaction),
		cmocka_unit_test(test_nested_statements),
		cmocka_unit_test(test_job_claim),
		cmocka_unit_test(test_job_claim_race),
		cmocka_unit_test(test_job_claim_waits_for_transaction),
		cmocka_unit_test(test_pg_lost_connection),
		cmocka_unit_test(test_pg_pool_bound),
		cmocka_unit_test(test_refuses_newer_schema),   /* last: the database is unusable afterwards */
	};
	const struct CMUnitTest text_tests[] = {
		cmocka_unit_test(test_pg_sql_text),
	};
	int failed = cmocka_run_group_tests_name("store (sqlite)", tests, setup, teardown);

	failed += cmocka_run_group_tests_name("store (PostgreSQL SQL text)", text_tests, NULL, NULL);

	if (!getenv("RAMPART_TEST_PG_URL")) {
		printf("store: PostgreSQL skipped (set RAMPART_TEST_PG_URL to a database the tests may empty)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("store (postgresql)", tests, pg_setup, NULL);
}
