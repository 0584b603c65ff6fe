/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit_http: audit entries for HTTP requests (audit_req), and the audit
 * log's routes: GET /api/v1/audit (filtered, keyset paged by entry id,
 * newest first) and GET /api/v1/audit/verify.  Reading
 * needs admin, security_officer or auditor; every refusal is itself an
 * audit entry.
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
#include "http/http.h"
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
