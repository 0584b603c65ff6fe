/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_checkin: POST /api/v1/endpoint/checkin, a device's signed posture
 * report (see endpoint.h).  The handler checks the signature, evaluates the
 * report against the effective policy and signs the policy, then stores
 * everything in one transaction that ep_checkin_store alone opens and
 * closes; the steps it calls (the report, the addresses, the quarantine
 * decision, the quarantine order) neither begin nor commit.
 *
 * Invariants:
 *   - the request's replay entry is written in the transaction that stores
 *     the report (one commit), and stays even when the report is refused
 *     (the report's changes are taken back to a savepoint) or cannot be
 *     evaluated (ep_device_seen_alone);
 *   - the device's state, grace clock and quarantine change only through
 *     quarantine_checkin, in that same transaction;
 *   - without a policy on its path a device is held to the default
 *     baseline, and its answer carries no policy.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "endpoint/ep_routes.h"
#include "endpoint/quarantine.h"
#include "formats/policy.h"
#include "http/http.h"
#include "store/store.h"

#define EP_MAX_PACKAGES 50000
#define EP_MAX_PKG_FIELD 256

/* ---------------------------------------------------------------- packages */

static bool ep_pkg_field_ok(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) <= EP_MAX_PKG_FIELD;
}

/*
 * Applies the report's package list @pk (full replaces, delta patches),
 * inside the caller's transaction.  Returns 0, ERR_INVALID with @e, or a
 * store error.
 */
static int ep_packages_apply(struct store_conn *c, const char *device_id, const json_t *pk, struct rerr *e)
{
	const char *mode = json_string_value(json_object_get(pk, "mode"));
	const json_t *items = json_object_get(pk, "items"), *removed = json_object_get(pk, "removed"), *it;
	struct store_stmt *ins = NULL;
	size_t i;
	int r = 0;

	if (!mode || (strcmp(mode, "full") != 0 && strcmp(mode, "delta") != 0))
		return jsonx_fail(e, "packages.mode", "packages.mode must be full or delta");
	if ((items && !json_is_array(items)) || (removed && !json_is_array(removed)) ||
	    json_array_size(items) + json_array_size(removed) > EP_MAX_PACKAGES)
		return jsonx_fail(e, "packages", "packages.items and packages.removed must be arrays of at most %d",
				  EP_MAX_PACKAGES);
	if (strcmp(mode, "full") == 0)
		r = store_exec(c, "DELETE FROM device_packages WHERE device_id = $1", STORE_ARGS(SA_TEXT(device_id)));
	json_array_foreach(removed, i, it) {
		if (r < 0)
			break;
		if (!ep_pkg_field_ok(it))
			return jsonx_fail(e, "packages.removed", "package names must be short strings");
		r = store_exec(c, "DELETE FROM device_packages WHERE device_id = $1 AND name = $2",
			       STORE_ARGS(SA_TEXT(device_id), SA_TEXT(json_string_value(it))));
	}
	if (r >= 0)
		r = store_query(c, "INSERT INTO device_packages (device_id, name, version, source) VALUES ($1, $2, $3, $4) "
				   "ON CONFLICT (device_id, name) DO UPDATE SET version = excluded.version, "
				   "source = excluded.source", STORE_NOARGS, &ins);
	json_array_foreach(items, i, it) {
		const json_t *n = json_object_get(it, "name"), *v = json_object_get(it, "version"),
			     *s = json_object_get(it, "source");

		if (r < 0)
			break;
		if (!ep_pkg_field_ok(n) || !ep_pkg_field_ok(v) || (s && !ep_pkg_field_ok(s))) {
			store_stmt_free(ins);
			return jsonx_fail(e, "packages.items", "each package needs name and version strings");
		}
		r = store_stmt_exec(ins, STORE_ARGS(SA_TEXT(device_id), SA_TEXT(json_string_value(n)),
						    SA_TEXT(json_string_value(v)),
						    SA_TEXT(s ? json_string_value(s) : "")));
	}
	store_stmt_free(ins);
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- the check-in */

/* A check-in on its way: what is known before its transaction. */
struct ep_checkin {
	struct ep_device dev;
	const json_t *body;        /* the request's report (borrowed) */
	const json_t *packages;    /* its "packages", or NULL */
	const char *remote;        /* the request's source address */
	json_t *report;            /* the report as stored: the package list replaced by counts */
	json_t *results;           /* the baseline's results */
	bool compliant;
	json_t *signed_pol;        /* the signed effective policy, or NULL when none applies */
	int64_t pol_version;
	int64_t grace_ms;
	int64_t now;
};

static void ep_checkin_done(struct ep_checkin *ck)
{
	json_decref(ck->report);
	json_decref(ck->results);
	json_decref(ck->signed_pol);
	ck->report = ck->results = ck->signed_pol = NULL;
}

/* Reads the report.  Returns 0 or ERR_INVALID with @e. */
static int ep_checkin_read(struct http_req *req, const json_t **ret_body, struct rerr *e)
{
	static const char *const report_keys[] = {
		"agent_version", "policy_version", "os", "kernel", "uptime_s", "machine_id", "hostname",
		"packages", "disk_encryption", "firewall", "antivirus", "usb_storage", "errors", "addresses", NULL,
	};
	json_t *body;
	int r;

	r = http_req_json(req, &body, e);
	if (r == 0)
		r = jsonx_only_keys(body, report_keys, e);
	if (r == 0)
		*ret_body = body;
	return r;
}

/*
 * The report as stored: a shallow copy of the body whose package list is
 * replaced by counts (it is never changed inside).  Returns 0 or -ENOMEM.
 */
static int ep_checkin_report_json(struct ep_checkin *ck)
{
	const json_t *pk = ck->packages;

	ck->report = json_copy((json_t *)ck->body);
	if (!ck->report)
		return -ENOMEM;
	if (pk)
		json_object_set_new(ck->report, "packages",
				    json_pack("{s:O?, s:I, s:I}", "mode", json_object_get(pk, "mode"),
					      "items", (json_int_t)json_array_size(json_object_get(pk, "items")),
					      "removed", (json_int_t)json_array_size(json_object_get(pk, "removed"))));
	return 0;
}

/*
 * Evaluates the report against the baseline of the device's effective
 * policy and signs that policy.  Returns 0 or an error.
 */
static int ep_checkin_evaluate(struct store_conn *c, struct ep_checkin *ck)
{
	json_t *eff = NULL;
	int64_t issued = 0;
	int r;

	r = ep_policy_effective(c, ck->dev.path, &eff, &ck->pol_version, &issued, NULL);
	if (r == 0)
		r = endpoint_evaluate_policy(ck->report, ck->pol_version ? json_object_get(eff, "baseline") : NULL,
					     &ck->results, &ck->compliant);
	/* Without any policy on its path the device is held to the default baseline, unsigned. */
	if (r == 0 && ck->pol_version)
		r = policy_sign(ck->dev.path, ck->pol_version, issued, eff, ep_policy_sk(), &ck->signed_pol);
	if (r == 0 && policy_grace_ms(eff, &ck->grace_ms) < 0)
		r = ERR_INTERNAL;   /* policy_merge always sets it */
	json_decref(eff);
	return r;
}

/*
 * Stores the report: the package list, the report row and the device's
 * latest report, inside the caller's transaction.  Returns 0, ERR_INVALID
 * with @e (a package list refused), or a store error.
 */
static int ep_checkin_report(struct store_conn *c, const struct ep_checkin *ck, const char *rid,
			     const char *rtext, const char *restext, struct rerr *e)
{
	int r = 0;

	if (ck->packages)
		r = ep_packages_apply(c, ck->dev.id, ck->packages, e);
	if (r == 0)
		r = store_exec(c, "INSERT INTO device_reports (id, device_id, received_at, report, results, state) "
				  "VALUES ($1, $2, $3, $4, $5, $6)",
			       STORE_ARGS(SA_TEXT(rid), SA_TEXT(ck->dev.id), SA_I64(ck->now), SA_TEXT(rtext),
					  SA_TEXT(restext), SA_TEXT(ck->compliant ? "compliant" : "non_compliant")));
	if (r >= 0)
		r = store_exec(c, "UPDATE devices SET last_report_id = $2, last_seen_at = $3 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(ck->dev.id), SA_TEXT(rid), SA_I64(ck->now)));
	return r < 0 ? r : 0;
}

/*
 * The check-in's one transaction: the replay entry, then (after a
 * savepoint) the report, the device's addresses, the quarantine decision
 * (audited as @ctx, the device's request) and the signed quarantine order
 * for it, *ret_order.  A report refused for its content is taken back to
 * the savepoint and the replay entry alone is committed: ERR_INVALID with
 * @e.  Any other error rolls everything back.  Returns 0, ERR_INVALID,
 * ERR_UNAUTHENTICATED (a replay), ERR_CONFLICT (the device changed
 * meanwhile) or another error.
 */
static int ep_checkin_store(struct store_conn *c, const struct audit_ctx *ctx, const struct ep_checkin *ck,
			    struct quarantine_state *qs, json_t **ret_order, struct rerr *e)
{
	char rid[ULID_SIZE], *rtext = json_dumps(ck->report, JSON_COMPACT);
	char *restext = json_dumps(ck->results, JSON_COMPACT);
	int r;

	ids_ulid(rid, ck->now);
	r = rtext && restext ? store_begin(c) : -ENOMEM;
	if (r == 0)
		r = ep_device_seen(c, &ck->dev);
	/* The report's changes, taken back alone if it is refused. */
	if (r == 0 && (r = store_exec(c, "SAVEPOINT report", STORE_NOARGS)) > 0)
		r = 0;
	if (r == 0)
		r = ep_checkin_report(c, ck, rid, rtext, restext, e);
	/* State, grace clock and quarantine (audited there), and the addresses alerts are matched against. */
	if (r == 0)
		r = quarantine_addresses_set(c, ck->dev.id, json_object_get(ck->body, "addresses"), ck->remote, ck->now, e);
	if (r >= 0)
		r = quarantine_checkin(c, ctx, ck->dev.id, ck->compliant, ck->results, ck->grace_ms, ck->now, qs);
	if (r >= 0)
		r = quarantine_order(ck->dev.id, qs, ck->now, ret_order);
	if (r == ERR_INVALID) {
		/* Refused: only the replay entry is kept. */
		int r2 = store_exec(c, "ROLLBACK TO SAVEPOINT report", STORE_NOARGS);

		if (r2 >= 0)
			r2 = store_commit(c);
		if (r2 < 0)
			r = r2;
	} else if (r >= 0) {
		r = store_commit(c);
	}
	if (r < 0 && store_in_transaction(c))
		store_rollback(c);
	free(rtext);
	free(restext);
	return r < 0 ? r : 0;
}

static int h_checkin(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct ep_checkin ck = { .dev = { "", "", "" }, .remote = http_req_remote(req), .now = rtime_now_ms() };
	struct quarantine_state qs;
	json_t *qorder = NULL, *out;
	int r;

	if (!c)
		return ERR_STORE;
	/*
	 * The signature is checked first; its replay entry is written in the
	 * same transaction as the report (one commit), and stays even when the
	 * report is refused.
	 */
	r = ep_device_check(req, c, &ck.dev);
	if (r < 0)
		return ep_device_refused(resp, r);
	if (ep_checkin_read(req, &ck.body, &e) < 0) {
		r = ep_device_seen_alone(c, &ck.dev);
		return r < 0 ? ep_device_refused(resp, r) : http_fail_rerr(resp, &e);
	}
	ck.packages = json_object_get(ck.body, "packages");
	if (ep_checkin_report_json(&ck) < 0)
		return -ENOMEM;
	r = ep_checkin_evaluate(c, &ck);
	if (r < 0) {
		ep_checkin_done(&ck);
		if (ep_device_seen_alone(c, &ck.dev) == ERR_UNAUTHENTICATED)
			return ep_device_refused(resp, ERR_UNAUTHENTICATED);
		return r;
	}
	r = ep_checkin_store(c, http_req_audit_ctx(req), &ck, &qs, &qorder, &e);
	if (r < 0) {
		ep_checkin_done(&ck);
		json_decref(qorder);
		if (r == ERR_INVALID)
			return http_fail_rerr(resp, &e);
		return ep_device_refused(resp, r);
	}
	out = json_pack("{s:s, s:s, s:O, s:I, s:o}", "device_id", ck.dev.id, "state", qs.state, "results", ck.results,
			"policy_version", (json_int_t)ck.pol_version, "quarantine", qorder);
	if (out && ck.signed_pol)
		json_object_set(out, "policy", ck.signed_pol);
	ep_checkin_done(&ck);
	return http_resp_json(resp, 200, out);
}

int ep_checkin_routes(struct http_server *s)
{
	return http_route(s, HTTP_POST, "/api/v1/endpoint/checkin", h_checkin, HTTP_AUTH_DEVICE);
}
