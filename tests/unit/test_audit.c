/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for src/audit: the chain verifies, and edits, deletions, reorders and cut tails are caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "crypto/rcrypto.h"
#include "store/store.h"

static char dir[64];

static struct store *fresh(void)
{
	static int n;
	struct store *s = NULL;
	char path[128];
	json_t *d;

	snprintf(path, sizeof(path), "%s/a%d.db", dir, n++);
	assert_int_equal(store_open(path, &s), 0);
	for (int i = 0; i < 5; i++) {
		char obj[16];
		struct audit_entry e = { .actor_id = "P1", .actor_login = "alice", .source = "127.0.0.1",
					 .action = "test.action", .object_type = "thing", .object_id = obj,
					 .outcome = i == 3 ? AUDIT_DENIED : AUDIT_SUCCESS };

		snprintf(obj, sizeof(obj), "obj%d", i);
		d = json_pack("{s:i}", "n", i);
		e.details = d;
		assert_int_equal(audit_append(store_conn(s), &e), 0);
		json_decref(d);
	}
	return s;
}

static struct audit_verify_result verify(struct store *s)
{
	struct audit_verify_result v;

	assert_int_equal(audit_verify(store_conn(s), &v), 0);
	return v;
}

static void test_intact(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v = verify(s);

	assert_true(v.intact);
	assert_int_equal(v.entries, 5);
	assert_int_equal(v.first_broken, 0);
	store_close(s);
}

/* audit_record takes the author from an audit context; no context is the system. */
static void test_record_context(void **state)
{
	struct store *s = fresh();
	struct principal p = { .via = VIA_API_TOKEN, .person_id = "01HZZZZZZZZZZZZZZZZZZZZZZZ", .login = "bob" };
	struct audit_ctx ctx = { .principal = &p, .source = "192.0.2.7", .request_id = "r-42" };
	struct audit_ctx anon = { .principal = NULL, .source = "198.51.100.1" };
	struct store_stmt *q;

	assert_int_equal(audit_record(store_conn(s), &ctx, "test.ctx", "thing", "o1", AUDIT_DENIED,
				      json_pack("{s:s}", "why", "scope")), 0);
	assert_int_equal(audit_record(store_conn(s), NULL, "test.sys", NULL, NULL, AUDIT_SUCCESS, NULL), 0);
	assert_int_equal(audit_record(store_conn(s), &anon, "test.anon", NULL, NULL, AUDIT_FAILURE, NULL), 0);
	assert_int_equal(store_query(store_conn(s), "SELECT coalesce(actor_id, '-'), coalesce(actor_login, '-'), "
				     "source, coalesce(request_id, '-'), outcome, details FROM audit_log "
				     "WHERE action LIKE 'test.%' AND action <> 'test.action' ORDER BY id",
				     STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	assert_string_equal(store_col_text(q, 0), p.person_id);
	assert_string_equal(store_col_text(q, 1), "bob");
	assert_string_equal(store_col_text(q, 2), "192.0.2.7");
	assert_string_equal(store_col_text(q, 3), "r-42");
	assert_string_equal(store_col_text(q, 4), "denied");
	assert_non_null(strstr(store_col_text(q, 5), "scope"));
	assert_int_equal(store_step(q), 1);
	assert_string_equal(store_col_text(q, 0), "-");
	assert_string_equal(store_col_text(q, 2), "system");
	assert_int_equal(store_step(q), 1);
	assert_string_equal(store_col_text(q, 0), "-");
	assert_string_equal(store_col_text(q, 2), "198.51.100.1");
	assert_int_equal(store_step(q), 0);
	store_stmt_free(q);
	assert_true(verify(s).intact);
	store_close(s);
}

static void test_edit_detected(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_int_equal(store_exec(store_conn(s), "UPDATE audit_log SET outcome = 'success' WHERE id = 4",
				    STORE_NOARGS), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 4);
	store_close(s);
}

static void test_details_edit_detected(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_int_equal(store_exec(store_conn(s), "UPDATE audit_log SET details = '{\"n\":9}' WHERE id = 2",
				    STORE_NOARGS), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 2);
	store_close(s);
}

static void test_delete_detected(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_int_equal(store_exec(store_conn(s), "DELETE FROM audit_log WHERE id = 3", STORE_NOARGS), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 4);
	store_close(s);
}

static void test_tail_cut_detected(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_int_equal(store_exec(store_conn(s), "DELETE FROM audit_log WHERE id = 5", STORE_NOARGS), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 5);
	store_close(s);
}

static void test_reorder_detected(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct audit_verify_result v;

	/* Swap entries 2 and 3 wholesale (ids stay, contents move). */
	assert_true(store_exec(c, "UPDATE audit_log SET id = 100 WHERE id = 2", STORE_NOARGS) == 1);
	assert_true(store_exec(c, "UPDATE audit_log SET id = 2 WHERE id = 3", STORE_NOARGS) == 1);
	assert_true(store_exec(c, "UPDATE audit_log SET id = 3 WHERE id = 100", STORE_NOARGS) == 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 2);
	store_close(s);
}

static void test_rehash_without_head_detected(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	/* Dropping the last entry and fixing nothing else leaves the head ahead of the chain. */
	assert_int_equal(store_exec(store_conn(s), "DELETE FROM audit_log WHERE id >= 4", STORE_NOARGS), 2);
	v = verify(s);
	assert_false(v.intact);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact),
		cmocka_unit_test(test_record_context),
		cmocka_unit_test(test_edit_detected),
		cmocka_unit_test(test_details_edit_detected),
		cmocka_unit_test(test_delete_detected),
		cmocka_unit_test(test_tail_cut_detected),
		cmocka_unit_test(test_reorder_detected),
		cmocka_unit_test(test_rehash_without_head_detected),
	};
	snprintf(dir, sizeof(dir), "/tmp/rampart-audit-XXXXXX");
	if (!mkdtemp(dir) || rcrypto_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
