/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for src/audit: the chain verifies, and edits, deletions,
 * reorders, cut tails, forged tails and values stored out of canonical
 * form are caught; signed checkpoints anchor the chain; the checkpoint
 * document parser, the walk's verdict, the SIEM cursor, targets and
 * syslog framing, and the [audit] settings keep their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "formats/auditchain.h"
#include "formats/auditckpt.h"
#include "audit/siem.h"
#include "audit/siem_net.h"
#include "formats/auditwalk.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/rtime.h"
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

/* ------------------------------------------------------------ canonical storage */

/* Runs @sql on a fresh chain of five and expects the break at @at with @why in the reason. */
static void expect_tamper(const char *sql, int64_t at, const char *why)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_true(store_exec(store_conn(s), sql, STORE_NOARGS) >= 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, at);
	if (why && !strstr(v.reason, why))
		fail_msg("reason '%s' lacks '%s'", v.reason, why);
	store_close(s);
}

/*
 * Each of these reads back "the same" through a lenient accessor, so the
 * recomputed hash still matches: only the storage check notices.
 */
static void test_real_for_integer(void **state)
{
	/* INTEGER affinity turns a whole real back into an integer; a fraction stays a real. */
	expect_tamper("UPDATE audit_log SET ts = ts + 0.25 WHERE id = 3", 3, "ts is not stored as an integer");
}

static void test_text_for_integer(void **state)
{
	expect_tamper("UPDATE audit_log SET ts = CAST(ts AS TEXT) || 'x' WHERE id = 2", 2, "ts");
}

static void test_blob_for_integer(void **state)
{
	expect_tamper("UPDATE audit_log SET ts = CAST(CAST(ts AS TEXT) AS BLOB) WHERE id = 2", 2, "ts");
}

static void test_blob_for_text(void **state)
{
	expect_tamper("UPDATE audit_log SET source = CAST(source AS BLOB) WHERE id = 2", 2,
		      "source is not stored as text");
	expect_tamper("UPDATE audit_log SET details = CAST(details AS BLOB) WHERE id = 5", 5, "details");
}

static void test_nul_in_text(void **state)
{
	expect_tamper("UPDATE audit_log SET actor_login = actor_login || char(0) || 'mallory' WHERE id = 4", 4,
		      "actor_login holds a NUL");
	expect_tamper("UPDATE audit_log SET hash = hash || char(0) || 'x' WHERE id = 1", 1, "hash holds a NUL");
	expect_tamper("UPDATE audit_log SET details = details || char(0) || '{}' WHERE id = 3", 3, "NUL");
}

static void test_invalid_utf8(void **state)
{
	expect_tamper("UPDATE audit_log SET source = CAST(X'3132372e302e302e31ff' AS TEXT) WHERE id = 3", 3,
		      "UTF-8");
}

/* Rewrites entry 5, the last, with @sql, then recomputes its hash and the head as a writer could. */
static struct audit_verify_result rehash_last(const char *sql)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct audit_verify_result v;
	struct store_stmt *q;
	char hash[AUDIT_HASH_HEX];

	assert_true(store_exec(c, sql, STORE_NOARGS) == 1);
	assert_int_equal(store_query(c, "SELECT " AUDIT_ENTRY_COLUMNS " FROM audit_log WHERE id = 5",
				     STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	assert_int_equal(audit_chain_hash(store_col_text(q, 11), &(struct audit_chain_entry){
		.id = 5, .ts = store_col_i64(q, 1), .actor_id = store_col_text(q, 2),
		.actor_login = store_col_text(q, 3), .source = store_col_text(q, 4),
		.action = store_col_text(q, 5), .object_type = store_col_text(q, 6),
		.object_id = store_col_text(q, 7), .outcome = store_col_text(q, 8),
		.details = store_col_text(q, 9), .request_id = store_col_text(q, 10) }, hash), 0);
	store_stmt_free(q);
	assert_int_equal(store_exec(c, "UPDATE audit_log SET hash = $1 WHERE id = 5", STORE_ARGS(SA_TEXT(hash))), 1);
	assert_int_equal(store_exec(c, "UPDATE audit_head SET hash = $1", STORE_ARGS(SA_TEXT(hash))), 1);
	v = verify(s);
	store_close(s);
	return v;
}

static void test_rehashed_noncanonical_details(void **state)
{
	/* The same object, spaced: hashed as stored it would pass; it is not what append wrote. */
	struct audit_verify_result v = rehash_last("UPDATE audit_log SET details = '{\"n\": 4}' WHERE id = 5");

	assert_false(v.intact);
	assert_int_equal(v.first_broken, 5);
	assert_non_null(strstr(v.reason, "canonical"));
	v = rehash_last("UPDATE audit_log SET details = '{\"n\":4,\"n\":5}' WHERE id = 5");
	assert_false(v.intact);
	v = rehash_last("UPDATE audit_log SET details = '[1]' WHERE id = 5");
	assert_false(v.intact);
	/* A consistent rewrite of the last entry in canonical form is not detectable without a checkpoint. */
	v = rehash_last("UPDATE audit_log SET details = '{\"n\":9}' WHERE id = 5");
	assert_true(v.intact);
}

/* Appends a forged entry 6 with a correct hash; with @move_head the head follows it. */
static struct audit_verify_result forge_tail(struct store *s, bool move_head)
{
	struct store_conn *c = store_conn(s);
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	struct store_stmt *q;

	assert_int_equal(store_query(c, "SELECT hash FROM audit_log WHERE id = 5", STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	snprintf(prev, sizeof(prev), "%s", store_col_text(q, 0));
	store_stmt_free(q);
	assert_int_equal(audit_chain_hash(prev, &(struct audit_chain_entry){
		.id = 6, .ts = 1700000000000, .source = "system", .action = "test.forged", .outcome = "success",
		.details = "{}" }, hash), 0);
	assert_int_equal(store_exec(c, "INSERT INTO audit_log (id, ts, source, action, outcome, details, prev_hash, "
				    "hash) VALUES (6, 1700000000000, 'system', 'test.forged', 'success', '{}', $1, $2)",
				    STORE_ARGS(SA_TEXT(prev), SA_TEXT(hash))), 1);
	if (move_head)
		assert_int_equal(store_exec(c, "UPDATE audit_head SET seq = 6, hash = $1", STORE_ARGS(SA_TEXT(hash))), 1);
	return verify(s);
}

static void test_forged_tail(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v = forge_tail(s, false);

	assert_false(v.intact);
	assert_int_equal(v.entries, 6);
	assert_int_equal(v.first_broken, 6);   /* the first entry not proved: the forged one */
	assert_non_null(strstr(v.reason, "after the chain's head"));
	store_close(s);
}

static void test_head_hash_edited(void **state)
{
	struct store *s = fresh();
	struct audit_verify_result v;

	assert_int_equal(store_exec(store_conn(s), "UPDATE audit_head SET hash = $1",
				    STORE_ARGS(SA_TEXT(AUDIT_GENESIS))), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 5);
	store_close(s);
}

/* ------------------------------------------------------------ checkpoints */

static char key_path[128];

/* A checkpoint key in a fresh file; checkpoints every @every entries. */
static void key_setup(int64_t every)
{
	static int n;

	snprintf(key_path, sizeof(key_path), "%s/ckpt%d.key", dir, n++);
	assert_int_equal(audit_checkpoint_setup(key_path, "01HSERVERTESTID0000000000", every), 0);
}

static int key_teardown(void **state)
{
	audit_keys_free();
	return 0;
}

static void test_key_file(void **state)
{
	unsigned char pk1[AUDIT_KEY_BYTES], pk2[AUDIT_KEY_BYTES];
	char path[160];
	struct stat st;
	int fd;

	assert_false(audit_checkpoint_public_key(pk1));
	key_setup(10);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_true(audit_checkpoint_public_key(pk1));
	/* Loaded again, the same key. */
	assert_int_equal(audit_checkpoint_setup(key_path, "01HSERVERTESTID0000000000", 10), 0);
	assert_true(audit_checkpoint_public_key(pk2));
	assert_memory_equal(pk1, pk2, sizeof(pk1));
	assert_int_equal(chmod(key_path, 0644), 0);
	assert_int_equal(audit_checkpoint_setup(key_path, "01HSERVERTESTID0000000000", 10), ERR_INVALID);
	snprintf(path, sizeof(path), "%s/short.key", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && write(fd, "0123456789", 10) == 10);
	close(fd);
	assert_int_equal(audit_checkpoint_setup(path, "01HSERVERTESTID0000000000", 10), ERR_INVALID);
	snprintf(path, sizeof(path), "%s/no-such-dir/a.key", dir);
	assert_true(audit_checkpoint_setup(path, "01HSERVERTESTID0000000000", 10) < 0);
	assert_int_equal(audit_checkpoint_setup(key_path, "01HSERVERTESTID0000000000", 0), ERR_INVALID);
	audit_keys_free();
	assert_false(audit_checkpoint_public_key(pk1));
}

static void test_checkpoints_every_n(void **state)
{
	unsigned char pk[AUDIT_KEY_BYTES];
	struct audit_checkpoint cp;
	struct audit_verify_result v;
	struct store *s;
	int64_t n;

	key_setup(2);
	s = fresh();
	assert_int_equal(store_query_i64(store_conn(s), "SELECT count(*) FROM audit_checkpoints", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 2);   /* at 2 and 4 */
	assert_int_equal(audit_checkpoint_latest(store_conn(s), &cp), 0);
	assert_int_equal(cp.seq, 4);
	assert_true(audit_checkpoint_public_key(pk));
	assert_true(audit_checkpoint_verify(&cp, pk));
	assert_string_equal(cp.server_id, "01HSERVERTESTID0000000000");
	v = verify(s);
	assert_true(v.intact);
	assert_int_equal(v.checkpoints_checked, 2);
	assert_int_equal(v.checkpoints_ignored, 0);
	assert_int_equal(v.proved_through, 4);
	store_close(s);
}

static void test_checkpoint_timer(void **state)
{
	struct store *s = fresh();   /* no key yet: no checkpoint */
	struct store_conn *c = store_conn(s);
	int64_t now = rtime_now_ms(), n;

	assert_int_equal(audit_checkpoint_head(c, now, 0), 0);
	key_setup(1000);
	assert_int_equal(audit_checkpoint_head(c, now, 60000), 1);   /* none yet: signed at once */
	assert_int_equal(audit_checkpoint_head(c, now, 0), 0);       /* the head did not move */
	assert_int_equal(audit_append(c, &(struct audit_entry){ .action = "test.more", .source = "system" }), 0);
	assert_int_equal(audit_checkpoint_head(c, now + 1000, 60000), 0);   /* the last one is too recent */
	assert_int_equal(audit_checkpoint_head(c, now + 61000, 60000), 1);
	assert_int_equal(store_query_i64(c, "SELECT max(seq) FROM audit_checkpoints", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 6);
	assert_true(verify(s).intact);
	store_close(s);
}

/* Rewrites entries 3 to 5 consistently (each rehashed, and the head), as a database writer can. */
static void rewrite_from_3(struct store *s)
{
	struct store_conn *c = store_conn(s);
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	struct store_stmt *q;

	assert_int_equal(store_exec(c, "UPDATE audit_log SET outcome = 'success' WHERE id = 4", STORE_NOARGS), 1);
	assert_int_equal(store_query(c, "SELECT hash FROM audit_log WHERE id = 2", STORE_NOARGS, &q), 0);
	assert_int_equal(store_step(q), 1);
	snprintf(prev, sizeof(prev), "%s", store_col_text(q, 0));
	store_stmt_free(q);
	for (int64_t id = 3; id <= 5; id++) {
		assert_int_equal(store_query(c, "SELECT " AUDIT_ENTRY_COLUMNS " FROM audit_log WHERE id = $1",
					     STORE_ARGS(SA_I64(id)), &q), 0);
		assert_int_equal(store_step(q), 1);
		assert_int_equal(audit_chain_hash(prev, &(struct audit_chain_entry){
			.id = id, .ts = store_col_i64(q, 1), .actor_id = store_col_text(q, 2),
			.actor_login = store_col_text(q, 3), .source = store_col_text(q, 4),
			.action = store_col_text(q, 5), .object_type = store_col_text(q, 6),
			.object_id = store_col_text(q, 7), .outcome = store_col_text(q, 8),
			.details = store_col_text(q, 9), .request_id = store_col_text(q, 10) }, hash), 0);
		store_stmt_free(q);
		assert_int_equal(store_exec(c, "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3",
					    STORE_ARGS(SA_TEXT(prev), SA_TEXT(hash), SA_I64(id))), 1);
		memcpy(prev, hash, sizeof(prev));
	}
	assert_int_equal(store_exec(c, "UPDATE audit_head SET hash = $1", STORE_ARGS(SA_TEXT(prev))), 1);
}

static void test_rewrite_caught_by_checkpoint(void **state)
{
	struct audit_verify_result v;
	struct store *s;

	/* Without checkpoints a consistent rewrite verifies: the documented limit. */
	s = fresh();
	rewrite_from_3(s);
	assert_true(verify(s).intact);
	store_close(s);

	key_setup(2);
	s = fresh();
	rewrite_from_3(s);
	v = verify(s);
	assert_false(v.intact);
	/* Checkpoint 2 still matches; the one at 4 does not: entries after 2 are not proved. */
	assert_int_equal(v.first_broken, 3);
	assert_int_equal(v.proved_through, 2);
	assert_non_null(strstr(v.reason, "checkpoint"));
	store_close(s);
}

static void test_forged_checkpoint_ignored(void **state)
{
	struct audit_verify_result v;
	struct store *s;

	key_setup(2);
	s = fresh();
	/* A writer without the key can only add rows whose signature does not verify. */
	assert_int_equal(store_exec(store_conn(s), "UPDATE audit_checkpoints SET document = "
				    "replace(document, '\"seq\":4', '\"seq\":5'), seq = 5 WHERE seq = 4", STORE_NOARGS), 1);
	v = verify(s);
	assert_true(v.intact);
	assert_int_equal(v.checkpoints_checked, 1);
	assert_int_equal(v.checkpoints_ignored, 1);
	assert_int_equal(v.proved_through, 2);
	/* Signed by another key: ignored too. */
	audit_keys_free();
	key_setup(2);
	v = verify(s);
	assert_int_equal(v.checkpoints_checked, 0);
	assert_int_equal(v.checkpoints_ignored, 2);
	store_close(s);
}

static void test_checkpoint_beyond_chain(void **state)
{
	struct audit_verify_result v;
	struct store *s;

	key_setup(4);
	s = fresh();
	/* The tail cut, head included, back to 3: the checkpoint at 4 still says 4 entries existed. */
	assert_int_equal(store_exec(store_conn(s), "DELETE FROM audit_log WHERE id > 3", STORE_NOARGS), 2);
	assert_int_equal(store_exec(store_conn(s), "UPDATE audit_head SET seq = 3, hash = "
				    "(SELECT hash FROM audit_log WHERE id = 3)", STORE_NOARGS), 1);
	v = verify(s);
	assert_false(v.intact);
	assert_int_equal(v.first_broken, 4);
	assert_non_null(strstr(v.reason, "checkpoint"));
	store_close(s);
}

/* ------------------------------------------------------------ the checkpoint document */

static void signed_checkpoint(struct audit_checkpoint *cp, unsigned char pk[32])
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];

	crypto_sign_keypair(pk, sk);
	assert_int_equal(audit_checkpoint_sign("01HSERVER", 42,
					       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
					       1764145300123, sk, cp), 0);
}

static char *ckpt_text(const struct audit_checkpoint *cp)
{
	json_t *o = audit_checkpoint_json(cp);
	char *t = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return t;
}

static void test_checkpoint_roundtrip(void **state)
{
	unsigned char pk[32], other[32], osk[crypto_sign_SECRETKEYBYTES];
	struct audit_checkpoint cp, back;
	struct rerr e;
	char *t;

	signed_checkpoint(&cp, pk);
	assert_string_equal(cp.document, "{\"format\":\"rampart-audit-checkpoint\",\"version\":1,"
			    "\"server_id\":\"01HSERVER\",\"seq\":42,\"hash\":"
			    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
			    "\"time\":\"2025-11-26T08:21:40.123Z\"}");
	t = ckpt_text(&cp);
	assert_int_equal(audit_checkpoint_parse(t, strlen(t), &back, &e), 0);
	free(t);
	assert_int_equal(back.seq, 42);
	assert_int_equal(back.time_ms, 1764145300123);
	assert_string_equal(back.document, cp.document);
	assert_memory_equal(back.public_key, pk, 32);
	assert_true(audit_checkpoint_verify(&back, pk));
	crypto_sign_keypair(other, osk);
	assert_false(audit_checkpoint_verify(&back, other));
	/* The document is what is signed: one byte changed and the signature fails. */
	back.document[strlen(back.document) - 3] = '4';
	assert_false(audit_checkpoint_verify(&back, pk));
	/* Sign refuses what the document cannot carry. */
	assert_int_equal(audit_checkpoint_sign("bad id", 1, cp.hash, 1764145300123, osk, &back), ERR_INVALID);
	assert_int_equal(audit_checkpoint_sign("s", 0, cp.hash, 1764145300123, osk, &back), ERR_INVALID);
	assert_int_equal(audit_checkpoint_sign("s", 1, "abc", 1764145300123, osk, &back), ERR_INVALID);
	assert_int_equal(audit_checkpoint_sign("s", 1, cp.hash, -5, osk, &back), ERR_INVALID);
}

/* Builds a checkpoint object with @doc (signed by a throwaway key) and member overrides in @extra. */
static int parse_with(const char *doc, const char *extra, struct rerr *e)
{
	unsigned char pk[32], sk[crypto_sign_SECRETKEYBYTES], sig[64];
	char sig64[AUDIT_SIG_B64_SIZE], pk64[AUDIT_KEY_B64_SIZE];
	struct audit_checkpoint cp;
	json_t *o, *x;
	char *t;
	int r;

	crypto_sign_keypair(pk, sk);
	crypto_sign_detached(sig, NULL, (const unsigned char *)doc, strlen(doc), sk);
	sodium_bin2base64(sig64, sizeof(sig64), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	audit_key_text(pk, pk64);
	o = json_pack("{s:s, s:s, s:s}", "document", doc, "signature", sig64, "public_key", pk64);
	x = extra ? json_loads(extra, 0, NULL) : NULL;
	if (x)
		json_object_update(o, x);
	json_decref(x);
	t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	r = audit_checkpoint_parse(t, strlen(t), &cp, e);
	free(t);
	return r;
}

#define DOC(fmt_, ver_, sid_, seq_, hash_, time_) \
	"{\"format\":\"" fmt_ "\",\"version\":" ver_ ",\"server_id\":\"" sid_ "\",\"seq\":" seq_ \
	",\"hash\":\"" hash_ "\",\"time\":\"" time_ "\"}"
#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define GOOD DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", H64, "2025-11-26T08:21:40.123Z")

static void expect_refused(const char *doc, const char *extra, const char *field)
{
	struct rerr e = { "" };

	if (parse_with(doc, extra, &e) != ERR_INVALID)
		fail_msg("accepted %s with %s", doc, extra ? extra : "nothing");
	if (field && strcmp(e.field, field) != 0)
		fail_msg("expected field '%s', got '%s' (%s)", field, e.field, e.message);
}

static void test_checkpoint_parser_limits(void **state)
{
	struct audit_checkpoint cp;
	struct rerr e;
	char big[AUDIT_CKPT_FILE_MAX + 2];

	assert_int_equal(parse_with(GOOD, NULL, &e), 0);
	assert_int_equal(parse_with(GOOD, "{\"id\":7,\"seq\":42,\"hash\":\"" H64 "\",\"server_id\":\"01HSERVER\","
				    "\"time\":\"2025-11-26T08:21:40.123Z\"}", &e), 0);
	/* The readable copies must say what the document says. */
	expect_refused(GOOD, "{\"seq\":43}", "seq");
	expect_refused(GOOD, "{\"hash\":\"" AUDIT_GENESIS "\"}", "hash");
	expect_refused(GOOD, "{\"server_id\":\"other\"}", "server_id");
	expect_refused(GOOD, "{\"time\":\"2025-11-26T08:21:41.123Z\"}", "time");
	expect_refused(GOOD, "{\"id\":0}", "id");
	expect_refused(GOOD, "{\"note\":\"x\"}", NULL);
	/* The document, member by member. */
	expect_refused(DOC("rampart-audit-checkpoinT", "1", "01HSERVER", "42", H64, "2025-11-26T08:21:40.123Z"), NULL, "format");
	expect_refused(DOC("rampart-audit-checkpoint", "2", "01HSERVER", "42", H64, "2025-11-26T08:21:40.123Z"), NULL, "version");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01H SERVER", "42", H64, "2025-11-26T08:21:40.123Z"), NULL, "server_id");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "", "42", H64, "2025-11-26T08:21:40.123Z"), NULL, "server_id");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "0", H64, "2025-11-26T08:21:40.123Z"), NULL, "seq");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "4.2", H64, "2025-11-26T08:21:40.123Z"), NULL, "seq");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff", "2025-11-26T08:21:40.123Z"), NULL, "hash");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", "0011", "2025-11-26T08:21:40.123Z"), NULL, "hash");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", H64, "2025-11-26T08:21:40Z"), NULL, "time");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", H64, "1969-12-31T23:59:59.000Z"), NULL, "time");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", H64, "yesterday"), NULL, "time");
	expect_refused("{\"format\":\"rampart-audit-checkpoint\",\"version\":1}", NULL, NULL);
	{
		/* A server id of 64 characters is the longest; a document of 1 KiB the largest. */
		char id65[66], doc[2048];
		struct rerr e2 = { "" };

		memset(id65, 'A', 65);
		id65[64] = '\0';
		snprintf(doc, sizeof(doc), DOC("rampart-audit-checkpoint", "1", "%s", "42", H64,
					       "2025-11-26T08:21:40.123Z"), id65);
		assert_int_equal(parse_with(doc, NULL, &e2), 0);
		id65[64] = 'A';
		id65[65] = '\0';
		snprintf(doc, sizeof(doc), DOC("rampart-audit-checkpoint", "1", "%s", "42", H64,
					       "2025-11-26T08:21:40.123Z"), id65);
		expect_refused(doc, NULL, "server_id");
		memset(doc, ' ', sizeof(doc));
		memcpy(doc, GOOD, strlen(GOOD));
		doc[AUDIT_CKPT_DOC_MAX + 1] = '\0';
		expect_refused(doc, NULL, "document");
	}
	expect_refused("[1]", NULL, "document");
	expect_refused("{\"format\":{\"a\":1}}", NULL, "document");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "42", H64, "2025-11-26T08:21:40.123Z") " ", NULL, "document");
	expect_refused("{\"version\":1,\"format\":\"rampart-audit-checkpoint\",\"server_id\":\"01HSERVER\",\"seq\":42,"
		       "\"hash\":\"" H64 "\",\"time\":\"2025-11-26T08:21:40.123Z\"}", NULL, "document");
	expect_refused(DOC("rampart-audit-checkpoint", "1", "01HSERVER", "042", H64, "2025-11-26T08:21:40.123Z"), NULL, NULL);
	/* The carrying object. */
	assert_int_equal(audit_checkpoint_parse("", 0, &cp, &e), ERR_INVALID);
	assert_int_equal(audit_checkpoint_parse("{\"document\":1}", 14, &cp, &e), ERR_INVALID);
	assert_int_equal(audit_checkpoint_parse("{\"a\":1,\"a\":1}", 13, &cp, &e), ERR_INVALID);
	assert_int_equal(audit_checkpoint_parse("{\"a\":\"\xff\"}", 9, &cp, &e), ERR_INVALID);
	assert_int_equal(audit_checkpoint_parse("{\"a\":\0}", 7, &cp, &e), ERR_INVALID);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	assert_int_equal(audit_checkpoint_parse(big, sizeof(big), &cp, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "at most"));
	{
		struct audit_checkpoint good;
		unsigned char pk[32];
		json_t *o;
		char *t;

		signed_checkpoint(&good, pk);
		o = audit_checkpoint_json(&good);
		json_object_set_new(o, "signature", json_string("AAAA"));
		t = json_dumps(o, JSON_COMPACT);
		assert_int_equal(audit_checkpoint_parse(t, strlen(t), &cp, &e), ERR_INVALID);
		assert_string_equal(e.field, "signature");
		free(t);
		json_object_set_new(o, "signature", json_string("not base64 at all ..."));
		t = json_dumps(o, JSON_COMPACT);
		assert_int_equal(audit_checkpoint_parse(t, strlen(t), &cp, &e), ERR_INVALID);
		free(t);
		json_decref(o);
	}
	{
		unsigned char k[32];

		assert_int_equal(audit_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", k), 0);
		assert_int_equal(audit_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", k), ERR_INVALID);
		assert_int_equal(audit_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", k), ERR_INVALID);
		assert_int_equal(audit_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", k), ERR_INVALID);
		assert_int_equal(audit_key_parse(NULL, k), ERR_INVALID);
	}
}

/* ------------------------------------------------------------ the walk and the API's entries */

static void test_walk(void **state)
{
	struct audit_anchor a[2] = { { .seq = 2, .what = "checkpoint A" }, { .seq = 9, .what = "checkpoint B" } };
	char h[3][AUDIT_HASH_HEX] = { AUDIT_GENESIS, "", "" };
	struct audit_walk w;

	memset(h[1], '1', 64);
	memset(h[2], '2', 64);
	memcpy(a[0].hash, h[2], sizeof(h[2]));
	memcpy(a[1].hash, h[1], sizeof(h[1]));
	/* Anchored at 2; the chain ends at 2 though the second anchor covers 9. */
	audit_walk_init(&w, a, 2);
	audit_walk_entry(&w, 1, AUDIT_GENESIS, h[1], h[1], NULL);
	audit_walk_entry(&w, 2, h[1], h[2], h[2], NULL);
	assert_false(w.broken);
	audit_walk_finish(&w);
	assert_true(w.broken);
	assert_int_equal(w.first_broken, 3);
	assert_int_equal(w.proved_through, 2);
	/* An anchor that differs: everything after the last match is unproved. */
	audit_walk_init(&w, a + 1, 1);
	for (int64_t i = 1; i <= 9; i++)
		audit_walk_entry(&w, i, i == 1 ? AUDIT_GENESIS : h[2], h[2], h[2], NULL);
	assert_true(w.broken);
	assert_int_equal(w.first_broken, 1);   /* no anchor matched before the one that differs */
	assert_non_null(strstr(w.reason, "checkpoint B"));
	audit_walk_init(&w, NULL, 0);
	audit_walk_set_head(&w, 1, h[1]);
	audit_walk_entry(&w, 1, AUDIT_GENESIS, h[1], h[1], "ts is not stored as an integer");
	assert_int_equal(w.first_broken, 1);
	assert_non_null(strstr(w.reason, "ts is not"));
	audit_walk_entry(&w, 2, h[1], h[2], h[2], NULL);
	assert_int_equal(w.entries, 2);
	assert_int_equal(w.first_broken, 1);
}

/* Every entry, as the API lists it, hashes back to its stored hash: what the CLI relies on. */
static void test_api_entries_rehash(void **state)
{
	struct store *s = fresh();
	struct store_conn *c = store_conn(s);
	struct store_stmt *q;
	json_t *d = json_pack("{s:s, s:f, s:[i,n], s:{s:b}}", "name", "Jürgen \u00e9\u3042 \"quoted\"\n", "r", 0.1,
			      "list", 3, "z", "a", 1);
	char prev[AUDIT_HASH_HEX] = AUDIT_GENESIS;
	int n = 0;

	assert_int_equal(audit_append(c, &(struct audit_entry){ .actor_login = "m\u00fcller", .source = "::1",
				      .action = "test.unicode", .object_id = "\t\u2603", .outcome = AUDIT_FAILURE,
				      .details = d, .request_id = "r1" }), 0);
	json_decref(d);
	assert_int_equal(store_query(c, "SELECT " AUDIT_ENTRY_COLUMNS " FROM audit_log ORDER BY id", STORE_NOARGS, &q), 0);
	while (store_step(q) == 1) {
		json_t *item = audit_row_json(q);
		char *text = json_dumps(item, JSON_COMPACT), *details = NULL;
		json_t *back = json_loads(text, 0, NULL);   /* as the CLI receives it */
		struct audit_chain_entry e;
		char hash[AUDIT_HASH_HEX];
		struct rerr err;

		assert_int_equal(audit_chain_entry_from_api(back, &e, &details, &err), 0);
		assert_int_equal(audit_chain_hash(prev, &e, hash), 0);
		assert_string_equal(hash, store_col_text(q, 12));
		memcpy(prev, hash, sizeof(prev));
		free(details);
		free(text);
		json_decref(back);
		json_decref(item);
		n++;
	}
	store_stmt_free(q);
	assert_int_equal(n, 6);
	{
		struct audit_chain_entry e;
		struct rerr err;
		char *details = NULL;
		json_t *bad = json_pack("{s:i, s:n, s:n, s:n, s:n, s:s, s:n, s:n, s:s, s:[], s:n}", "id", 1, "time",
					"actor_id", "actor_login", "source", "action", "a", "object_type",
					"object_id", "outcome", "success", "details", "request_id");

		assert_int_equal(audit_chain_entry_from_api(bad, &e, &details, &err), ERR_INVALID);
		assert_string_equal(err.field, "details");
		json_object_set_new(bad, "details", json_object());
		json_object_set_new(bad, "time", json_string("now"));
		assert_int_equal(audit_chain_entry_from_api(bad, &e, &details, &err), ERR_INVALID);
		assert_string_equal(err.field, "time");
		json_object_set_new(bad, "time", json_null());
		json_object_del(bad, "action");
		assert_int_equal(audit_chain_entry_from_api(bad, &e, &details, &err), ERR_INVALID);
		assert_string_equal(err.field, "action");
		json_decref(bad);
	}
	store_close(s);
}

/* ------------------------------------------------------------ SIEM */

static void test_siem_cursor(void **state)
{
	struct siem_pos p = { .entry = 1234, .checkpoint = 5 }, back;
	char text[SIEM_CURSOR_MAX];
	size_t n;

	memset(p.hash, 'a', 64);
	p.hash[64] = '\0';
	n = siem_cursor_text(&p, text);
	assert_int_equal(siem_cursor_parse(text, n, &back), 0);
	assert_int_equal(back.entry, 1234);
	assert_int_equal(back.checkpoint, 5);
	assert_string_equal(back.hash, p.hash);
	assert_int_equal(siem_cursor_parse(text, n - 1, &back), ERR_INVALID);   /* cut */
	assert_int_equal(siem_cursor_parse("", 0, &back), ERR_INVALID);
	assert_int_equal(siem_cursor_parse("rampart-siem-cursor 1\nentry -1 " AUDIT_GENESIS "\ncheckpoint 0\n", 110,
					   &back), ERR_INVALID);
	n = strlen("rampart-siem-cursor 1\nentry 0 " AUDIT_GENESIS "\ncheckpoint 0\n");
	assert_int_equal(siem_cursor_parse("rampart-siem-cursor 1\nentry 0 " AUDIT_GENESIS "\ncheckpoint 0\n", n,
					   &back), 0);
	assert_int_equal(siem_cursor_parse("rampart-siem-cursor 1\nentry 0 " H64 "\ncheckpoint 0\n", n, &back),
			 ERR_INVALID);
	assert_int_equal(siem_cursor_parse("rampart-siem-cursor 2\nentry 0 " AUDIT_GENESIS "\ncheckpoint 0\n", n,
					   &back), ERR_INVALID);
	memset(text, 'x', sizeof(text));
	assert_int_equal(siem_cursor_parse(text, sizeof(text), &back), ERR_INVALID);
}

static void test_siem_targets(void **state)
{
	struct siem_target t;
	struct rerr e;
	char longpath[200];

	assert_int_equal(siem_target_parse_syslog("tcp://127.0.0.1:6514", &t, &e), 0);
	assert_int_equal(t.kind, SIEM_SYSLOG_TCP);
	assert_string_equal(t.host, "127.0.0.1");
	assert_string_equal(t.port, "6514");
	assert_int_equal(siem_target_parse_syslog("tcp://[::1]:514", &t, &e), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(siem_target_parse_syslog("tcp://siem.corp.example:10514", &t, &e), 0);
	assert_int_equal(siem_target_parse_syslog("unix:/run/rampart/audit.sock", &t, &e), 0);
	assert_int_equal(t.kind, SIEM_SYSLOG_UNIX);
	assert_string_equal(t.path, "/run/rampart/audit.sock");
	static const char *const bad[] = { "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536",
					   "tcp://:514", "tcp://::1:514", "tcp://[::1]514", "tcp://a b:514",
					   "tcp://h:514x", "udp://127.0.0.1:514", "unix:relative", "unix:", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (siem_target_parse_syslog(bad[i], &t, &e) != ERR_INVALID)
			fail_msg("accepted '%s'", bad[i]);
		assert_string_equal(e.field, "siem_syslog");
	}
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(siem_target_parse_syslog(longpath, &t, &e), ERR_INVALID);

	assert_int_equal(siem_target_parse_http("https://siem.example/hec?x=1", "Authorization: Splunk abc", &t, &e), 0);
	assert_string_equal(t.header, "Authorization: Splunk abc");
	assert_int_equal(siem_target_parse_http("http://127.0.0.1:8088/", "", &t, &e), 0);
	assert_int_equal(siem_target_parse_http("ftp://x/", "", &t, &e), ERR_INVALID);
	{
		char url[600], hdr[600];

		memset(url, 'a', sizeof(url));
		memcpy(url, "http://", 7);
		url[SIEM_URL_MAX - 1] = '\0';   /* 511 bytes: the longest */
		assert_int_equal(siem_target_parse_http(url, "", &t, &e), 0);
		url[SIEM_URL_MAX - 1] = 'a';
		url[SIEM_URL_MAX] = '\0';
		assert_int_equal(siem_target_parse_http(url, "", &t, &e), ERR_INVALID);
		memset(hdr, 'v', sizeof(hdr));
		memcpy(hdr, "X-Token: ", 9);
		hdr[SIEM_URL_MAX] = '\0';
		assert_int_equal(siem_target_parse_http("http://a/", hdr, &t, &e), ERR_INVALID);
		hdr[SIEM_URL_MAX - 1] = '\0';
		assert_int_equal(siem_target_parse_http("http://a/", hdr, &t, &e), 0);
	}
	assert_int_equal(siem_target_parse_http("http://", "", &t, &e), ERR_INVALID);
	assert_int_equal(siem_target_parse_http("http://a b/", "", &t, &e), ERR_INVALID);
	assert_int_equal(siem_target_parse_http("http://a/", "NoColon", &t, &e), ERR_INVALID);
	assert_string_equal(e.field, "siem_http_header");
	assert_int_equal(siem_target_parse_http("http://a/", "Bad Name: v", &t, &e), ERR_INVALID);
	assert_int_equal(siem_target_parse_http("http://a/", "X-A: v\r\nX-B: w", &t, &e), ERR_INVALID);
	assert_int_equal(siem_target_parse_http("http://a/", ": v", &t, &e), ERR_INVALID);
}

static void test_syslog_format(void **state)
{
	struct siem_msg m = { .msgid = "audit", .severity = 5, .time_ms = 1764145300123, .json = "{\"id\":1}" };
	const char *want = "<109>1 2025-11-26T08:21:40.123Z host.example rampartd 42 audit - {\"id\":1}";
	struct buf b;
	char framed[256];

	buf_init(&b, 0);
	assert_int_equal(siem_syslog_format(&b, &m, "host.example", 42, false), 0);
	assert_string_equal(b.data, want);
	buf_reset(&b);
	assert_int_equal(siem_syslog_format(&b, &m, "host.example", 42, true), 0);
	snprintf(framed, sizeof(framed), "%zu %s", strlen(want), want);
	assert_string_equal(b.data, framed);
	/* No hostname, no time; a hostname is printable ASCII only. */
	buf_reset(&b);
	m.time_ms = 0;
	m.severity = 4;
	assert_int_equal(siem_syslog_format(&b, &m, "", 7, false), 0);
	assert_string_equal(b.data, "<108>1 - - rampartd 7 audit - {\"id\":1}");
	buf_reset(&b);
	assert_int_equal(siem_syslog_format(&b, &m, "a b\xc3\xa9", 7, false), 0);
	assert_string_equal(b.data, "<108>1 - ab rampartd 7 audit - {\"id\":1}");
	buf_done(&b);
}

static void test_config_audit(void **state)
{
	struct config c;
	struct rerr e;

	config_defaults(&c);
	assert_int_equal(c.audit_checkpoint_every_entries, 1000);
	assert_int_equal(c.audit_checkpoint_every_s, 300);
	assert_int_equal(c.audit_siem_backlog_warn, 10000);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every", "15m", &e), 0);
	assert_int_equal(c.audit_checkpoint_every_s, 900);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every", "0", &e), -EINVAL);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every", "8d", &e), -EINVAL);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every_entries", "1", &e), 0);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every_entries", "0", &e), -EINVAL);
	assert_int_equal(config_set(&c, "audit", "checkpoint_every_entries", "100000001", &e), -EINVAL);
	assert_int_equal(config_set(&c, "audit", "checkpoint_key", "/mnt/keys/audit.key", &e), 0);
	assert_string_equal(c.audit_checkpoint_key, "/mnt/keys/audit.key");
	assert_int_equal(config_set(&c, "audit", "siem_syslog", "tcp://127.0.0.1:514", &e), 0);
	assert_int_equal(config_set(&c, "audit", "siem_backlog_warn", "0", &e), -EINVAL);
	assert_int_equal(config_set(&c, "audit", "siem_udp", "x", &e), -EINVAL);
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
		cmocka_unit_test(test_real_for_integer),
		cmocka_unit_test(test_text_for_integer),
		cmocka_unit_test(test_blob_for_integer),
		cmocka_unit_test(test_blob_for_text),
		cmocka_unit_test(test_nul_in_text),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_rehashed_noncanonical_details),
		cmocka_unit_test(test_forged_tail),
		cmocka_unit_test(test_head_hash_edited),
		cmocka_unit_test_teardown(test_key_file, key_teardown),
		cmocka_unit_test_teardown(test_checkpoints_every_n, key_teardown),
		cmocka_unit_test_teardown(test_checkpoint_timer, key_teardown),
		cmocka_unit_test_teardown(test_rewrite_caught_by_checkpoint, key_teardown),
		cmocka_unit_test_teardown(test_forged_checkpoint_ignored, key_teardown),
		cmocka_unit_test_teardown(test_checkpoint_beyond_chain, key_teardown),
		cmocka_unit_test(test_checkpoint_roundtrip),
		cmocka_unit_test(test_checkpoint_parser_limits),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_api_entries_rehash),
		cmocka_unit_test(test_siem_cursor),
		cmocka_unit_test(test_siem_targets),
		cmocka_unit_test(test_syslog_format),
		cmocka_unit_test(test_config_audit),
	};
	snprintf(dir, sizeof(dir), "/tmp/rampart-audit-XXXXXX");
	if (!mkdtemp(dir) || rcrypto_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
