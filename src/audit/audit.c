/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* audit: append, verify, list. */
#include "audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "http/http.h"
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

int audit_req(struct http_req *req, struct store_conn *c, const char *action,
	      const char *object_type, const char *object_id, enum audit_outcome outcome,
	      json_t *details)
{
	const struct principal *p = http_req_principal(req);
	struct audit_entry e = {
		.actor_id = principal_is_authenticated(p) ? p->person_id : NULL,
		.actor_login = principal_is_authenticated(p) ? p->login : NULL,
		.source = http_req_remote(req),
		.action = action,
		.object_type = object_type,
		.object_id = object_id,
		.outcome = outcome,
		.details = details,
		.request_id = http_req_id(req),
	};
	int r = audit_append(c, &e);

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

/* ---------------------------------------------------------------- HTTP */

/* The audit domain's one authorization decision: who may read the log. */
static bool audit_may_read(const struct principal *p)
{
	return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR);
}

static int audit_deny(struct http_req *req, struct http_resp *resp, struct store_conn *c,
		      const char *what)
{
	audit_req(req, c, "authz.denied", "audit", NULL, AUDIT_DENIED,
		  json_pack("{s:s}", "endpoint", what));
	return http_fail(resp, ERR_FORBIDDEN, NULL, "reading the audit log needs the admin, "
			 "security_officer or auditor role");
}

static int audit_h_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	static const char *const filters[][1] = { { "actor" }, { "action" }, { "object" }, { "outcome" } };
	static const char *const columns[] = { NULL, "action", "object_id", "outcome" };
	struct store_arg args[10];
	size_t nargs = 0;
	struct buf sql;
	struct rerr je;
	struct store_stmt *q = NULL;
	const char *cursor, *v;
	int64_t limit, n, last = 0;
	json_t *items = NULL;
	int r;

	if (!c)
		return ERR_STORE;
	if (!audit_may_read(http_req_principal(req)))
		return audit_deny(req, resp, c, "GET /api/v1/audit");
	if (http_req_page(req, 100, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	buf_init(&sql, 4096);
	buf_puts(&sql, "SELECT id, ts, actor_id, actor_login, source, action, object_type, object_id, "
		       "outcome, details, request_id, prev_hash, hash FROM audit_log WHERE 1 = 1");
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		v = http_req_query(req, filters[i][0]);
		if (!v)
			continue;
		if (strlen(v) == 0 || strlen(v) > 256) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, filters[i][0], "'%s' must be 1 to 256 bytes",
					 filters[i][0]);
		}
		if (i == 3 && strcmp(v, "success") && strcmp(v, "failure") && strcmp(v, "denied")) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "outcome",
					 "outcome must be success, failure or denied");
		}
		args[nargs++] = SA_TEXT(v);
		if (i == 0)
			buf_printf(&sql, " AND (actor_id = $%zu OR actor_login = $%zu)", nargs, nargs);
		else
			buf_printf(&sql, " AND %s = $%zu", columns[i], nargs);
	}
	{
		static const char *const times[] = { "since", "until" };

		for (size_t i = 0; i < 2; i++) {
			int64_t ms;

			v = http_req_query(req, times[i]);
			if (!v)
				continue;
			if (rtime_parse(v, &ms) < 0) {
				buf_done(&sql);
				return http_fail(resp, ERR_INVALID, times[i],
						 "'%s' must be an RFC 3339 time such as 2026-11-26T08:00:00Z",
						 times[i]);
			}
			args[nargs++] = SA_I64(ms);
			buf_printf(&sql, i == 0 ? " AND ts >= $%zu" : " AND ts < $%zu", nargs);
		}
	}
	if (cursor) {
		int64_t cid;

		if (str_parse_i64(cursor, 1, INT64_MAX, &cid) < 0) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
		}
		args[nargs++] = SA_I64(cid);
		buf_printf(&sql, " AND id < $%zu", nargs);
	}
	args[nargs++] = SA_I64(limit + 1);
	buf_printf(&sql, " ORDER BY id DESC LIMIT $%zu", nargs);
	r = store_query(c, sql.data, args, nargs, &q);
	buf_done(&sql);
	if (r < 0)
		return r;
	items = json_array();
	for (n = 0; items && (r = store_step(q)) == 1; n++) {
		if (n == limit)
			break;
		last = store_col_i64(q, 0);
		json_array_append_new(items, audit_row_json(q));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	{
		json_t *out = json_pack("{s:o}", "items", items);
		char nb[24];

		if (out && r == 1 && n == limit) {
			snprintf(nb, sizeof(nb), "%lld", (long long)last);
			json_object_set_new(out, "next", json_string(nb));
		} else if (out) {
			json_object_set_new(out, "next", json_null());
		}
		return http_resp_json(resp, 200, out);
	}
}

static int audit_h_verify(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct audit_verify_result v;
	json_t *out;
	int r;

	if (!c)
		return ERR_STORE;
	if (!audit_may_read(http_req_principal(req)))
		return audit_deny(req, resp, c, "GET /api/v1/audit/verify");
	r = audit_verify(c, &v);
	if (r < 0)
		return r;
	out = json_pack("{s:b, s:I}", "intact", v.intact, "entries", (json_int_t)v.entries);
	if (!out)
		return -ENOMEM;
	json_object_set_new(out, "first_broken", v.first_broken ? json_integer(v.first_broken) : json_null());
	if (!v.intact)
		json_object_set_new(out, "reason", json_string(v.reason));
	if (!v.intact)
		log_warn("audit: chain is broken", "first_broken=%lld", (long long)v.first_broken);
	return http_resp_json(resp, 200, out);
}

int audit_routes(struct http_server *s)
{
	int r = http_route(s, HTTP_GET, "/api/v1/audit", audit_h_list, 0);

	if (r == 0)
		r = http_route(s, HTTP_GET, "/api/v1/audit/verify", audit_h_verify, 0);
	return r;
}
