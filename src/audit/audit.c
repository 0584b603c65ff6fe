/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* audit: append and verify the chain (the HTTP routes are in audit_http.c). */
#include "audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "store/store.h"

#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static const char *const audit_outcomes[] = { "success", "failure", "denied" };

const char *audit_outcome_name(enum audit_outcome o)
{
	return audit_outcomes[o];
}

/* Canonical bytes of one entry; the same function serves append and verify. */
static int audit_hash(const char *prev, int64_t id, int64_t ts, const char *actor_id,
		      const char *actor_login, const char *source, const char *action,
		      const char *object_type, const char *object_id, const char *outcome,
		      const char *details, const char *request_id, char out[RCRYPTO_HASH_HEX_SIZE])
{
#define JS(s) ((s) ? json_string(s) : json_null())
	json_t *a = json_pack("[s,I,I,o,o,o,s,o,o,s,s,o]", prev, (json_int_t)id, (json_int_t)ts,
			      JS(actor_id), JS(actor_login), JS(source), action, JS(object_type),
			      JS(object_id), outcome, details, JS(request_id));
#undef JS
	char *text;

	if (!a)
		return -ENOMEM;
	text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!text)
		return -ENOMEM;
	rcrypto_sha256_hex(text, strlen(text), out);
	free(text);
	return 0;
}

int audit_append(struct store_conn *c, const struct audit_entry *e)
{
	static const char take_head[] =
		"UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash";
	bool own = !store_in_transaction(c);
	struct store_stmt *q = NULL;
	char prev[RCRYPTO_HASH_HEX_SIZE], hash[RCRYPTO_HASH_HEX_SIZE];
	char *details = NULL;
	int64_t seq, ts = rtime_now_ms();
	const char *outcome = audit_outcomes[e->outcome];
	int r;

	details = e->details ? json_dumps(e->details, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS)
			     : strdup("{}");
	if (!details)
		return -ENOMEM;
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
	r = audit_hash(prev, seq, ts, e->actor_id, e->actor_login, e->source, e->action,
		       e->object_type, e->object_id, outcome, details, e->request_id, hash);
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

int audit_verify(struct store_conn *c, struct audit_verify_result *ret)
{
	struct audit_verify_result v = { .intact = true };
	struct store_stmt *q;
	char prev[RCRYPTO_HASH_HEX_SIZE] = AUDIT_GENESIS, hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t expect = 1, head_seq = 0;
	char head_hash[RCRYPTO_HASH_HEX_SIZE] = "";
	int r;

	r = store_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	if (store_step(q) == 1) {
		head_seq = store_col_i64(q, 0);
		str_copy(head_hash, sizeof(head_hash), store_col_text(q, 1) ? store_col_text(q, 1) : "");
	}
	store_stmt_free(q);

	r = store_query(c, "SELECT id, ts, actor_id, actor_login, source, action, object_type, "
			   "object_id, outcome, details, request_id, prev_hash, hash "
			   "FROM audit_log ORDER BY id", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		int64_t id = store_col_i64(q, 0);
		const char *details = store_col_text(q, 9);
		const char *stored_prev = store_col_text(q, 11);
		const char *stored_hash = store_col_text(q, 12);

		v.entries++;
		if (!v.intact)
			continue;
		if (id != expect) {
			v.intact = false;
			v.first_broken = id;
			snprintf(v.reason, sizeof(v.reason), "entry %lld is missing before %lld",
				 (long long)expect, (long long)id);
			continue;
		}
		if (!stored_prev || strcmp(stored_prev, prev) != 0) {
			v.intact = false;
			v.first_broken = id;
			snprintf(v.reason, sizeof(v.reason), "entry %lld does not follow its predecessor",
				 (long long)id);
			continue;
		}
		r = audit_hash(prev, id, store_col_i64(q, 1), store_col_text(q, 2), store_col_text(q, 3),
			       store_col_text(q, 4), store_col_text(q, 5) ? store_col_text(q, 5) : "",
			       store_col_text(q, 6), store_col_text(q, 7),
			       store_col_text(q, 8) ? store_col_text(q, 8) : "",
			       details ? details : "", store_col_text(q, 10), hash);
		if (r < 0)
			break;
		if (!stored_hash || strcmp(stored_hash, hash) != 0) {
			v.intact = false;
			v.first_broken = id;
			snprintf(v.reason, sizeof(v.reason), "entry %lld was altered", (long long)id);
			continue;
		}
		memcpy(prev, hash, sizeof(prev));
		expect++;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (v.intact && (head_seq != expect - 1 || strcmp(head_hash, prev) != 0)) {
		v.intact = false;
		v.first_broken = expect;
		snprintf(v.reason, sizeof(v.reason),
			 "the chain ends at %lld but %lld entries were written",
			 (long long)(expect - 1), (long long)head_seq);
	}
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
