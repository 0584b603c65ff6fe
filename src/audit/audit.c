/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit: append and verify the chain (checkpoints are in audit_ckpt.c, the
 * HTTP routes in audit_http.c).  Verify proves what was stored, not only
 * what reads back the same: see audit_row_problem.
 */
#include "audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_internal.h"
#include "formats/auditchain.h"
#include "formats/auditwalk.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "store/store.h"

static const char *const audit_outcomes[] = { "success", "failure", "denied" };

const char *audit_outcome_name(enum audit_outcome o)
{
	return audit_outcomes[o];
}

int audit_append(struct store_conn *c, const struct audit_entry *e)
{
	static const char take_head[] =
		"UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash";
	bool own = !store_in_transaction(c);
	struct store_stmt *q = NULL;
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	char *details = NULL;
	int64_t seq, ts = rtime_now_ms();
	const char *outcome = audit_outcomes[e->outcome];
	int r;

	r = audit_chain_details(e->details, &details);
	if (r < 0)
		return r;
	if (own && (r = store_begin(c)) < 0)
		goto out;
	r = store_query(c, take_head, STORE_NOARGS, &q);
	if (r < 0)
		goto fail;
	r = store_step(q);
	if (r != 1) {
		r = r < 0 ? r : ERR_STORE;
		goto fail;
	}
	seq = store_col_i64(q, 0);
	if (str_copy(prev, sizeof(prev), store_col_text(q, 1) ? store_col_text(q, 1) : "") < 0) {
		r = ERR_STORE;
		goto fail;
	}
	store_stmt_free(q);
	q = NULL;
	r = audit_chain_hash(prev, &(const struct audit_chain_entry){
		.id = seq, .ts = ts, .actor_id = e->actor_id, .actor_login = e->actor_login,
		.source = e->source, .action = e->action, .object_type = e->object_type,
		.object_id = e->object_id, .outcome = outcome, .details = details,
		.request_id = e->request_id }, hash);
	if (r < 0)
		goto fail;
	r = store_exec(c, "INSERT INTO audit_log (id, ts, actor_id, actor_login, source, action, "
			  "object_type, object_id, outcome, details, request_id, prev_hash, hash) "
			  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
		       STORE_ARGS(SA_I64(seq), SA_I64(ts), SA_TEXT(e->actor_id), SA_TEXT(e->actor_login),
				  SA_TEXT(e->source), SA_TEXT(e->action), SA_TEXT(e->object_type),
				  SA_TEXT(e->object_id), SA_TEXT(outcome), SA_TEXT(details),
				  SA_TEXT(e->request_id), SA_TEXT(prev), SA_TEXT(hash)));
	if (r < 0)
		goto fail;
	r = store_exec(c, "UPDATE audit_head SET hash = $1 WHERE id = 1", STORE_ARGS(SA_TEXT(hash)));
	if (r < 0)
		goto fail;
	audit_ckpt_after_append(c, seq, hash, ts);
	if (own)
		r = store_commit(c);
	else
		r = 0;
	goto out;
fail:
	store_stmt_free(q);
	if (own)
		store_rollback(c);
out:
	free(details);
	return r < 0 ? r : 0;
}

int audit_record(struct store_conn *c, const struct audit_ctx *ctx, const char *action,
		 const char *object_type, const char *object_id, enum audit_outcome outcome,
		 json_t *details)
{
	const struct audit_ctx sys = AUDIT_CTX_SYSTEM;
	const struct principal *p;
	struct audit_entry e;
	int r;

	if (!ctx)
		ctx = &sys;
	p = ctx->principal;
	e = (struct audit_entry){
		.actor_id = principal_is_authenticated(p) ? p->person_id : NULL,
		.actor_login = principal_is_authenticated(p) ? p->login : NULL,
		.source = ctx->source,
		.action = action,
		.object_type = object_type,
		.object_id = object_id,
		.outcome = outcome,
		.details = details,
		.request_id = ctx->request_id,
	};
	r = audit_append(c, &e);
	if (r < 0)
		log_error("audit: cannot append entry", "action=%s error=\"%s\"", action, err_str(r));
	json_decref(details);
	return r;
}

/*
 * The storage check of every column, as one integer: a bit set for each
 * column whose stored value is not of the class audit_append wrote.  Plain
 * SQL on purpose, the same on every engine: on SQLite, where a column may
 * hold any class, an INTEGER column holding text or a blob, or a TEXT
 * column holding a blob, compares unequal to its own CAST (the classes
 * differ and no affinity converts them); on PostgreSQL, whose columns are
 * typed, every value equals its CAST and the check costs nothing.  A real
 * in an INTEGER column compares equal to its CAST and is caught in C
 * (audit_row_problem reads its text).
 */
#define AUDIT_INT_CHECK(col, bit) "(CASE WHEN " col " = CAST(" col " AS BIGINT) THEN 0 ELSE " #bit " END)"
#define AUDIT_TEXT_CHECK(col, bit) \
	"(CASE WHEN " col " IS NULL OR " col " = CAST(" col " AS TEXT) THEN 0 ELSE " #bit " END)"
#define AUDIT_CLASS_CHECKS \
	AUDIT_INT_CHECK("id", 1) " + " AUDIT_INT_CHECK("ts", 2) " + " \
	AUDIT_TEXT_CHECK("actor_id", 4) " + " AUDIT_TEXT_CHECK("actor_login", 8) " + " \
	AUDIT_TEXT_CHECK("source", 16) " + " AUDIT_TEXT_CHECK("action", 32) " + " \
	AUDIT_TEXT_CHECK("object_type", 64) " + " AUDIT_TEXT_CHECK("object_id", 128) " + " \
	AUDIT_TEXT_CHECK("outcome", 256) " + " AUDIT_TEXT_CHECK("details", 512) " + " \
	AUDIT_TEXT_CHECK("request_id", 1024) " + " AUDIT_TEXT_CHECK("prev_hash", 2048) " + " \
	AUDIT_TEXT_CHECK("hash", 4096)

/* The names of the columns of AUDIT_ENTRY_COLUMNS, bit i of the check being column i. */
static const char *const audit_columns[] = { "id", "ts", "actor_id", "actor_login", "source", "action",
					     "object_type", "object_id", "outcome", "details",
					     "request_id", "prev_hash", "hash" };

/*
 * Why the current row of @q (AUDIT_ENTRY_COLUMNS, then the class check)
 * is not in the form audit_append wrote it, into @why; NULL when it is.
 * Reading every value back as text and comparing it with its canonical
 * form is what makes the check independent of the engine: a value that
 * reads back "the same" through a lenient accessor (a real read as an
 * integer, a string cut at a NUL, a blob read as text) is still caught.
 */
static const char *audit_row_problem(struct store_stmt *q, char *why, size_t size)
{
	int64_t classes = store_col_i64(q, 13);
	const char *d, *outcome;
	char canon[24];
	json_t *j;
	char *text;
	bool same;

	for (int i = 0; i < 13; i++) {
		if (classes & (1LL << i)) {
			snprintf(why, size, "%s is not stored as %s", audit_columns[i],
				 i < 2 ? "an integer" : "text");
			return why;
		}
	}
	for (int i = 0; i < 2; i++) {
		snprintf(canon, sizeof(canon), "%lld", (long long)store_col_i64(q, i));
		if (!store_col_text(q, i) || strcmp(store_col_text(q, i), canon) != 0) {
			snprintf(why, size, "%s is not stored as an integer", audit_columns[i]);
			return why;
		}
	}
	for (int i = 2; i < 13; i++) {
		size_t len;
		const char *s;

		store_col_blob(q, i, &len);
		s = store_col_text(q, i);
		if (s && strlen(s) != len) {
			snprintf(why, size, "%s holds a NUL byte", audit_columns[i]);
			return why;
		}
		if (!s && i != 2 && i != 3 && i != 4 && i != 6 && i != 7 && i != 10) {
			snprintf(why, size, "%s is missing", audit_columns[i]);
			return why;
		}
	}
	outcome = store_col_text(q, 8);
	if (strcmp(outcome, "success") && strcmp(outcome, "failure") && strcmp(outcome, "denied")) {
		snprintf(why, size, "outcome is not success, failure or denied");
		return why;
	}
	d = store_col_text(q, 9);
	j = json_loads(d, JSON_REJECT_DUPLICATES, NULL);
	text = json_is_object(j) ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS) : NULL;
	same = text && strcmp(text, d) == 0;
	free(text);
	json_decref(j);
	if (!same) {
		snprintf(why, size, "details is not a JSON object in canonical form");
		return why;
	}
	return NULL;
}

/* The stored head into @w.  Returns 0 or a store error. */
static int audit_verify_head(struct store_conn *c, struct audit_walk *w)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		audit_walk_set_head(w, store_col_i64(q, 0), store_col_text(q, 1));
	else if (r == 0)
		audit_walk_set_head(w, 0, NULL);   /* no head row: nothing may follow */
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

int audit_verify(struct store_conn *c, struct audit_verify_result *ret)
{
	struct audit_verify_result v = { 0 };
	struct audit_anchor *anchors = NULL;
	unsigned char pk[AUDIT_KEY_BYTES];
	struct audit_walk w;
	struct store_stmt *q;
	size_t nanchors = 0;
	char why[128], hash[AUDIT_HASH_HEX];
	int r;

	if (audit_checkpoint_public_key(pk)) {
		r = audit_ckpt_anchors(c, pk, &anchors, &nanchors, &v.checkpoints_ignored);
		if (r < 0)
			return r;
	} else {
		r = store_query_i64(c, "SELECT count(*) FROM audit_checkpoints", STORE_NOARGS,
				    &v.checkpoints_ignored);
		if (r < 0)
			return r;
	}
	audit_walk_init(&w, anchors, nanchors);
	r = audit_verify_head(c, &w);
	if (r == 0)
		r = store_query(c, "SELECT " AUDIT_ENTRY_COLUMNS ", " AUDIT_CLASS_CHECKS
				   " FROM audit_log ORDER BY id", STORE_NOARGS, &q);
	if (r < 0) {
		free(anchors);
		return r;
	}
	while ((r = store_step(q)) == 1) {
		const char *problem = w.broken ? NULL : audit_row_problem(q, why, sizeof(why));
		bool computed = false;

		if (!w.broken && !problem) {
			struct audit_chain_entry e = {
				.id = store_col_i64(q, 0), .ts = store_col_i64(q, 1),
				.actor_id = store_col_text(q, 2), .actor_login = store_col_text(q, 3),
				.source = store_col_text(q, 4), .action = store_col_text(q, 5),
				.object_type = store_col_text(q, 6), .object_id = store_col_text(q, 7),
				.outcome = store_col_text(q, 8), .details = store_col_text(q, 9),
				.request_id = store_col_text(q, 10),
			};

			r = audit_chain_hash(w.prev, &e, hash);
			if (r == ERR_INVALID)
				problem = "a text is not valid UTF-8";
			else if (r < 0)
				break;
			computed = r == 0;
		}
		audit_walk_entry(&w, store_col_i64(q, 0), store_col_text(q, 11), store_col_text(q, 12),
				 computed ? hash : NULL, problem);
	}
	store_stmt_free(q);
	if (r == 0)
		audit_walk_finish(&w);   /* still reads the anchors */
	free(anchors);
	if (r < 0)
		return r;
	v.intact = !w.broken;
	v.entries = w.entries;
	v.first_broken = w.first_broken;
	str_copy(v.reason, sizeof(v.reason), w.reason);
	v.proved_through = w.proved_through;
	v.checkpoints_checked = (int64_t)nanchors;
	*ret = v;
	return 0;
}

json_t *audit_row_json(struct store_stmt *q)
{
	json_t *o = json_object();
	json_t *details;
	const char *d = store_col_text(q, 9);

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(store_col_i64(q, 0)));
	jsonx_set_time(o, "time", store_col_i64(q, 1));
	jsonx_set_str(o, "actor_id", store_col_text(q, 2));
	jsonx_set_str(o, "actor_login", store_col_text(q, 3));
	jsonx_set_str(o, "source", store_col_text(q, 4));
	jsonx_set_str(o, "action", store_col_text(q, 5));
	jsonx_set_str(o, "object_type", store_col_text(q, 6));
	jsonx_set_str(o, "object_id", store_col_text(q, 7));
	jsonx_set_str(o, "outcome", store_col_text(q, 8));
	details = d ? json_loads(d, 0, NULL) : NULL;
	json_object_set_new(o, "details", details ? details : json_object());
	jsonx_set_str(o, "request_id", store_col_text(q, 10));
	jsonx_set_str(o, "prev_hash", store_col_text(q, 11));
	jsonx_set_str(o, "hash", store_col_text(q, 12));
	return o;
}
