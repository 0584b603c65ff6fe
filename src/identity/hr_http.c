/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hr_http: POST /api/v1/hr/import, the HR import over HTTP (hr.h). */
#include "identity/hr.h"

#include <errno.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "http/http.h"
#include "identity/directory.h"
#include "store/store.h"

/* Reads a ?name flag: absent false; "", "1", "true", "yes" true; "0", "false", "no" false. */
static int hr_query_flag(struct http_req *req, const char *name, bool *ret)
{
	const char *v = http_req_query(req, name);

	if (!v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*ret = false;
		return 0;
	}
	if (!*v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*ret = true;
		return 0;
	}
	return ERR_INVALID;
}

static int hr_h_import(struct http_req *req, struct http_resp *resp)
{
	static const char *const flags[] = { "dry_run", "full_snapshot", "force", "skip_bad_lines" };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct hr_options opt = {
		.retire_threshold_pct = app->cfg.retire_threshold_pct,
		.source = "csv",
		.actor_id = p->person_id,
		.actor_login = p->login,
		.remote = http_req_remote(req),
		.request_id = http_req_id(req),
		.actor = p,
	};
	bool *dst[] = { &opt.dry_run, &opt.full_snapshot, &opt.force, &opt.skip_bad_lines };
	json_t *report = NULL, *body;
	const char *data;
	size_t len;
	int r;

	if (!c)
		return ERR_STORE;
	if (!directory_may(p, DIR_IMPORT_HR, NULL)) {
		audit_req(req, c, "authz.denied", "hr_import", NULL, AUDIT_DENIED,
			  json_pack("{s:s}", "endpoint", "POST /api/v1/hr/import"));
		return http_fail(resp, ERR_FORBIDDEN, NULL,
				 "importing the HR file needs the admin or security_officer role");
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (hr_query_flag(req, flags[i], dst[i]) < 0)
			return http_fail(resp, ERR_INVALID, flags[i], "%s must be 1 or 0", flags[i]);
	data = http_req_body(req, &len);
	if (len == 0)
		return http_fail(resp, ERR_INVALID, NULL, "the body is empty; send the HR file as text/csv");
	r = hr_import(app, c, data, len, &opt, &report);
	if (r == 0)
		return http_resp_json(resp, 200, report);
	if (!report)
		return r;
	{
		json_t *msg = json_object_get(report, "message");
		json_t *err = json_pack("{s:s, s:s}", "code", err_name(r),
					"message", json_is_string(msg) ? json_string_value(msg) : err_str(r));

		body = err ? json_pack("{s:o, s:o}", "error", err, "report", report) : NULL;
		if (!body) {
			json_decref(report);
			return -ENOMEM;
		}
	}
	return http_resp_json(resp, err_http_status(r), body);
}

int hr_routes(struct http_server *s)
{
	return http_route(s, HTTP_POST, "/api/v1/hr/import", hr_h_import, HTTP_BODY_CSV);
}
