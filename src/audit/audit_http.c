/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit_http: audit entries for HTTP requests (audit_req), and the audit
 * log's routes: GET /api/v1/audit (filtered, keyset paged by entry id,
 * newest first, or oldest first with order=asc), GET /api/v1/audit/verify,
 * GET /api/v1/audit/checkpoint (the latest signed checkpoint and the
 * server's checkpoint key) and GET /api/v1/audit/checkpoints (all of them,
 * newest first).  Reading needs admin, security_officer or auditor; every
 * refusal is itself an audit entry.
 */
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
#include "audit/audit_internal.h"
#include "http/http.h"
#include "store/page.h"
#include "store/store.h"

int audit_req(struct http_req *req, struct store_conn *c, const char *action,
	      const char *object_type, const char *object_id, enum audit_outcome outcome,
	      json_t *details)
{
	return audit_record(c, http_req_audit_ctx(req), action, object_type, object_id, outcome, details);
}

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
	const char *cursor, *v, *order;
	int64_t limit, n, last = 0;
	json_t *items = NULL;
	bool asc = false;
	int r;

	if (!c)
		return ERR_STORE;
	if (!audit_may_read(http_req_principal(req)))
		return audit_deny(req, resp, c, "GET /api/v1/audit");
	if (http_req_page(req, 100, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	order = http_req_query(req, "order");
	if (order && strcmp(order, "asc") && strcmp(order, "desc"))
		return http_fail(resp, ERR_INVALID, "order", "order must be asc or desc");
	asc = order && strcmp(order, "asc") == 0;
	buf_init(&sql, 4096);
	buf_puts(&sql, "SELECT " AUDIT_ENTRY_COLUMNS " FROM audit_log WHERE 1 = 1");
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

		if (str_parse_i64(cursor, asc ? 0 : 1, INT64_MAX, &cid) < 0) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
		}
		args[nargs++] = SA_I64(cid);
		buf_printf(&sql, asc ? " AND id > $%zu" : " AND id < $%zu", nargs);
	}
	args[nargs++] = SA_I64(limit + 1);
	buf_printf(&sql, asc ? " ORDER BY id LIMIT $%zu" : " ORDER BY id DESC LIMIT $%zu", nargs);
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
	out = json_pack("{s:b, s:I, s:I, s:I, s:I}", "intact", v.intact, "entries", (json_int_t)v.entries,
			"proved_through", (json_int_t)v.proved_through,
			"checkpoints_checked", (json_int_t)v.checkpoints_checked,
			"checkpoints_ignored", (json_int_t)v.checkpoints_ignored);
	if (!out)
		return -ENOMEM;
	json_object_set_new(out, "first_broken", v.first_broken ? json_integer(v.first_broken) : json_null());
	if (!v.intact)
		json_object_set_new(out, "reason", json_string(v.reason));
	if (!v.intact)
		log_warn("audit: chain is broken", "first_broken=%lld", (long long)v.first_broken);
	return http_resp_json(resp, 200, out);
}

/* The current row (AUDIT_CKPT_COLUMNS) as the API's checkpoint object. */
static json_t *audit_ckpt_item(struct store_stmt *q, void *ud)
{
	struct audit_checkpoint cp;

	/* A row damaged by hand is shown as such, never dropped from the list. */
	if (audit_ckpt_row(q, &cp) < 0)
		return json_pack("{s:I, s:s}", "id", (json_int_t)store_col_i64(q, 0), "error",
				 "this stored checkpoint is damaged");
	return audit_checkpoint_json(&cp);
}

static int audit_h_checkpoints(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	char next[PAGE_CURSOR_SIZE];
	struct store_stmt *q;
	const char *cursor;
	int64_t limit, cid = INT64_MAX;
	struct rerr je;
	json_t *items;
	int r;

	if (!c)
		return ERR_STORE;
	if (!audit_may_read(http_req_principal(req)))
		return audit_deny(req, resp, c, "GET /api/v1/audit/checkpoints");
	if (http_req_page(req, 100, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (cursor && str_parse_i64(cursor, 1, INT64_MAX, &cid) < 0)
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	r = store_query(c, "SELECT " AUDIT_CKPT_COLUMNS " FROM audit_checkpoints WHERE id < $1 "
			   "ORDER BY id DESC LIMIT $2", STORE_ARGS(SA_I64(cid), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, audit_ckpt_item, NULL, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

static int audit_h_checkpoint(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	unsigned char pk[AUDIT_KEY_BYTES];
	char pk_text[AUDIT_KEY_B64_SIZE];
	struct audit_checkpoint cp;
	json_t *out;
	int r;

	if (!c)
		return ERR_STORE;
	if (!audit_may_read(http_req_principal(req)))
		return audit_deny(req, resp, c, "GET /api/v1/audit/checkpoint");
	r = audit_checkpoint_latest(c, &cp);
	if (r < 0 && r != ERR_NOT_FOUND)
		return r;
	out = json_pack("{s:o}", "checkpoint", r == 0 ? audit_checkpoint_json(&cp) : json_null());
	if (!out)
		return -ENOMEM;
	if (audit_checkpoint_public_key(pk)) {
		audit_key_text(pk, pk_text);
		json_object_set_new(out, "public_key", json_string(pk_text));
	} else {
		json_object_set_new(out, "public_key", json_null());
	}
	return http_resp_json(resp, 200, out);
}

int audit_routes(struct http_server *s)
{
	int r = http_route(s, HTTP_GET, "/api/v1/audit", audit_h_list, 0);

	if (r == 0)
		r = http_route(s, HTTP_GET, "/api/v1/audit/verify", audit_h_verify, 0);
	if (r == 0)
		r = http_route(s, HTTP_GET, "/api/v1/audit/checkpoint", audit_h_checkpoint, 0);
	if (r == 0)
		r = http_route(s, HTTP_GET, "/api/v1/audit/checkpoints", audit_h_checkpoints, 0);
	return r;
}
