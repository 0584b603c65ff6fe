/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_policies: GET and PUT /api/v1/endpoint/policies/{id}, a unit's own
 * policy and its effective one (see endpoint.h; the merge is
 * ep_policy_effective's, the format formats/policy.h's).
 *
 * Invariants:
 *   - every PUT adds a version (the unit's highest plus one, in the
 *     transaction that inserts it; a concurrent PUT of the same unit loses
 *     on the primary key) and is audited with the policy it set;
 *   - only a policy that policy_check accepted is stored, in its canonical
 *     text (sorted keys).
 */
#include <errno.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "endpoint/ep_routes.h"
#include "formats/policy.h"
#include "http/http.h"
#include "identity/people.h"
#include "store/store.h"

/* The unit's own current policy {version, policy, created_at} or null. */
static int ep_policy_own(struct store_conn *c, const char *unit_id, json_t **ret)
{
	struct store_stmt *q = NULL;
	json_t *o = json_null();
	int r;

	r = store_query(c, "SELECT version, policy, created_at FROM endpoint_policies WHERE org_unit_id = $1 "
			   "ORDER BY version DESC LIMIT 1", STORE_ARGS(SA_TEXT(unit_id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		o = json_pack("{s:I, s:o}", "version", (json_int_t)store_col_i64(q, 0), "policy", ep_json_col(q, 1));
		if (o)
			jsonx_set_time(o, "updated_at", store_col_i64(q, 2));
		r = o ? 0 : -ENOMEM;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

static int ep_policy_answer(struct store_conn *c, const struct org_unit *u, json_t **ret)
{
	json_t *own = NULL, *eff = NULL, *sources = NULL;
	int64_t version = 0, issued = 0;
	int r;

	r = ep_policy_own(c, u->id, &own);
	if (r == 0)
		r = ep_policy_effective(c, u->path, &eff, &version, &issued, &sources);
	if (r < 0) {
		json_decref(own);
		return r;
	}
	*ret = json_pack("{s:{s:s, s:s}, s:o, s:{s:I, s:o, s:o}}", "org_unit", "id", u->id, "path", u->path,
			 "own", own, "effective", "version", (json_int_t)version, "policy", eff, "sources", sources);
	return *ret ? 0 : -ENOMEM;
}

/* GET /api/v1/endpoint/policies/{id}: the unit's own policy and its effective one. */
static int h_policy_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct org_unit u;
	json_t *out = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = people_org_find(c, http_req_param(req, "id"), &u);
	if (r == 0 && !endpoint_may(p, ENDPOINT_READ, u.path))
		r = ERR_NOT_FOUND;
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such org unit");
	if (r == 0)
		r = ep_policy_answer(c, &u, &out);
	return r < 0 ? r : http_resp_json(resp, 200, out);
}

/* PUT /api/v1/endpoint/policies/{id}: a new version of the unit's policy. */
static int h_policy_put(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct rerr pe = { "" };
	size_t body_len = 0;
	int64_t version = 0, now = rtime_now_ms();
	struct org_unit u;
	json_t *body, *pol = NULL, *out = NULL;
	char *text = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_POLICY_SET, NULL)) {
		audit_req(req, c, "endpoint.policy.set", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	http_req_body(req, &body_len);
	if (body_len > POLICY_MAX_BYTES)
		return http_fail(resp, ERR_INVALID, NULL, "a policy is at most 64 KiB");
	r = http_req_json(req, &body, &e);
	if (r < 0)
		return http_fail_rerr(resp, &e);
	r = people_org_find(c, http_req_param(req, "id"), &u);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such org unit");
	if (r < 0)
		return r;
	if (!endpoint_may(p, ENDPOINT_POLICY_SET, u.path)) {
		audit_req(req, c, "endpoint.policy.set", "org_unit", u.id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	r = policy_check(body, &pol, &pe);
	if (r == ERR_INVALID)
		return http_fail(resp, ERR_INVALID, NULL, "%s", pe.message);
	if (r < 0)
		return r;
	text = json_dumps(pol, JSON_COMPACT | JSON_SORT_KEYS);
	r = text ? store_begin(c) : -ENOMEM;
	if (r == 0)
		r = store_query_i64(c, "SELECT coalesce(max(version), 0) + 1 FROM endpoint_policies WHERE org_unit_id = $1",
				    STORE_ARGS(SA_TEXT(u.id)), &version);
	/* A concurrent change of the same unit takes the same version and loses on the primary key. */
	if (r >= 0)
		r = store_exec(c, "INSERT INTO endpoint_policies (org_unit_id, version, policy, created_by, created_at) "
				  "VALUES ($1, $2, $3, $4, $5)",
			       STORE_ARGS(SA_TEXT(u.id), SA_I64(version), SA_TEXT(text), SA_TEXT(p->person_id),
					  SA_I64(now)));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.policy.set", "org_unit", u.id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:I, s:O}", "path", u.path, "version", (json_int_t)version,
					"policy", pol));
	if (r >= 0)
		r = store_commit(c);
	free(text);
	json_decref(pol);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	r = ep_policy_answer(c, &u, &out);
	return r < 0 ? r : http_resp_json(resp, 200, out);
}

int ep_policies_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/policies/{id}", h_policy_get, 0);
	r = r ? r : http_route(s, HTTP_PUT, "/api/v1/endpoint/policies/{id}", h_policy_put, 0);
	return r;
}
