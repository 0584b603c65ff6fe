/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * quarantine_http: the quarantine routes (see quarantine.h): an
 * administrator's quarantine and release, intrusion alerts posted by a
 * sensor, and the quarantine list for network equipment, as JSON and as an
 * nftables script.  Each handler authorizes (endpoint_may), reads the
 * request, owns the transaction and calls quarantine.c's decision with the
 * request's audit context.
 *
 * Invariants:
 *   - a device outside what the caller may read is answered as not found;
 *     a refusal to act on one the caller may read is audited as denied;
 *   - nothing a client sent reaches the nftables script unless it parsed
 *     as an address and was printed back by inet_ntop (the table name and
 *     family are checked against fixed sets).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "endpoint/eve.h"
#include "endpoint/quarantine.h"
#include "http/http.h"
#include "store/page.h"
#include "store/store.h"

#define Q_NFT_MAX_BYTES ((size_t)16 << 20)
#define Q_NFT_MAX_TABLE 32

/* ---------------------------------------------------------------- administrators */

/* Reads the optional/required "reason" of an action body into @out. */
static int q_body_reason(const json_t *body, bool required, char out[QORDER_MAX_REASON + 1], struct rerr *e)
{
	const char *s = NULL;
	int r;

	r = jsonx_get_str(body, "reason", required, QORDER_MAX_REASON, &s, e);
	if (r == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	if (r < 0)
		return r;
	if (!qorder_reason_ok(s) || (required && !s[0]))
		return jsonx_fail(e, "reason", "reason must be printable text of 1 to %d bytes", QORDER_MAX_REASON);
	str_copy(out, QORDER_MAX_REASON + 1, s);
	return 0;
}

/*
 * Finds the device of the {id} path parameter for an administrator's
 * @action: 403 (audited) when the caller may quarantine no device at all,
 * 404 when it does not exist or is outside what the caller may read, 403
 * (audited) when the caller may read but not act on it.  Returns 0 or the
 * error, answered.
 */
static int q_device_for(struct http_req *req, struct http_resp *resp, struct store_conn *c, const char *action,
			struct quarantine_device *d)
{
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	int r;

	if (!endpoint_may(p, ENDPOINT_QUARANTINE, NULL)) {
		audit_req(req, c, action, "device", id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	r = ids_is_ulid(id) ? quarantine_device_load(c, id, d) : ERR_NOT_FOUND;
	if (r == ERR_NOT_FOUND || (r == 0 && !endpoint_may(p, ENDPOINT_READ, d->path)))
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such device");
	if (r < 0)
		return r;
	if (!endpoint_may(p, ENDPOINT_QUARANTINE, d->path)) {
		audit_req(req, c, action, "device", id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	return 0;
}

static int q_device_answer(struct store_conn *c, const char *id, struct http_resp *resp)
{
	struct quarantine_device d;
	json_t *out;
	int r;

	r = quarantine_device_load(c, id, &d);
	if (r < 0)
		return r;
	out = json_pack("{s:s, s:s}", "id", id, "state", d.state);
	if (!out)
		return -ENOMEM;
	r = quarantine_device_json(c, id, out);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	return http_resp_json(resp, 200, out);
}

/* POST /api/v1/devices/{id}/quarantine {"reason", "infected"?}. */
static int h_quarantine(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "reason", "infected", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const char *id = http_req_param(req, "id");
	struct rerr e = { "", "" };
	char reason[QORDER_MAX_REASON + 1];
	bool infected = false, changed = false;
	struct quarantine_device d;
	json_t *body;
	int r;

	r = q_device_for(req, resp, c, "endpoint.device.quarantine", &d);
	if (r < 0)
		return r;
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, &e);
	if (r == 0)
		r = q_body_reason(body, true, reason, &e);
	if (r == 0 && (r = jsonx_get_bool(body, "infected", false, &infected, &e)) == -ENOENT)
		r = 0;
	if (r < 0)
		return http_fail_rerr(resp, &e);
	r = store_begin(c);
	if (r == 0)
		r = quarantine_set(c, http_req_audit_ctx(req), id, infected ? "infected" : "admin", reason,
				   json_pack("{s:b}", "infected", infected), rtime_now_ms(), &changed);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return q_device_answer(c, id, resp);
}

/* POST /api/v1/devices/{id}/release {"reason"?}: back to its last evaluated state, grace clock restarted. */
static int h_release(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "reason", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const char *id = http_req_param(req, "id");
	struct rerr e = { "", "" }, conflict = { "", "" };
	char reason[QORDER_MAX_REASON + 1];
	struct quarantine_device d;
	json_t *body = NULL;
	size_t len = 0;
	int r;

	r = q_device_for(req, resp, c, "endpoint.device.release", &d);
	if (r < 0)
		return r;
	http_req_body(req, &len);
	if (len > 0) {
		r = http_req_json(req, &body, &e);
		if (r == 0)
			r = jsonx_only_keys(body, keys, &e);
		if (r == 0)
			r = q_body_reason(body, false, reason, &e);
		if (r < 0)
			return http_fail_rerr(resp, &e);
	} else {
		reason[0] = '\0';
	}
	r = store_begin(c);
	if (r == 0)
		r = quarantine_release(c, http_req_audit_ctx(req), id, reason, rtime_now_ms(), &conflict);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return conflict.message[0] ? http_fail(resp, r, NULL, "%s", conflict.message) : r;
	}
	return q_device_answer(c, id, resp);
}

/* ---------------------------------------------------------------- intrusion alerts */

/* POST /api/v1/endpoint/alerts: Suricata EVE JSON. */
static int h_alerts(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	int64_t max_sev = app->cfg.endpoint_alert_max_severity, now = rtime_now_ms();
	struct eve_batch b = { 0, 0, 0, NULL };
	struct rerr ee = { "", "", 0 };
	struct quarantine_alerts res = { 0, 0, json_array() };
	size_t len = 0;
	const char *data;
	json_t *out;
	int r;

	if (!endpoint_may(p, ENDPOINT_ALERT_POST, NULL)) {
		audit_req(req, c, "endpoint.alerts.post", NULL, NULL, AUDIT_DENIED, NULL);
		json_decref(res.quarantined);
		return ERR_FORBIDDEN;
	}
	if (!c || !res.quarantined) {
		json_decref(res.quarantined);
		return c ? -ENOMEM : ERR_STORE;
	}
	data = http_req_body(req, &len);
	r = eve_parse(data, len, &b, &ee);
	if (r == ERR_INVALID || r == ERR_TOO_LARGE) {
		json_decref(res.quarantined);
		return http_fail(resp, r, ee.field[0] ? ee.field : NULL, "%s", ee.message);
	}
	if (r < 0) {
		json_decref(res.quarantined);
		return r;
	}
	r = store_begin(c);
	if (r == 0)
		r = quarantine_alerts_apply(c, http_req_audit_ctx(req), &b, max_sev, p->person_id, now, &res);
	if (r == 0)
		r = audit_req(req, c, "endpoint.alerts.post", NULL, NULL, AUDIT_SUCCESS,
			      json_pack("{s:I, s:I, s:I, s:I, s:I, s:O}", "events", (json_int_t)b.events,
					"alerts", (json_int_t)b.n_alerts, "ignored", (json_int_t)b.ignored,
					"actionable", (json_int_t)res.actionable, "matched", (json_int_t)res.matched,
					"quarantined", res.quarantined));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		eve_batch_done(&b);
		json_decref(res.quarantined);
		return r;
	}
	if (json_array_size(res.quarantined))
		log_warn("endpoint: intrusion alerts quarantined devices", "count=%zu", json_array_size(res.quarantined));
	out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "events", (json_int_t)b.events, "alerts",
			(json_int_t)b.n_alerts, "ignored", (json_int_t)b.ignored, "actionable", (json_int_t)res.actionable,
			"matched", (json_int_t)res.matched, "max_severity", (json_int_t)max_sev, "quarantined",
			res.quarantined);
	eve_batch_done(&b);
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- quarantine list */

/* GET /api/v1/endpoint/quarantine: quarantined devices in scope, with their addresses. */
static int h_qlist(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *cursor;
	char next[PAGE_CURSOR_SIZE];
	int64_t limit;
	json_t *items;
	int r;

	r = ep_list_page(req, resp, app->cfg.max_list, &limit, &cursor);
	if (r == 0)
		r = quarantine_list(c, p, cursor, limit, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

static bool q_nft_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > Q_NFT_MAX_TABLE || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Writes one set's elements for @family (4 or 6) from the ordered rows. */
static int q_nft_set(struct buf *b, const char *family, const char *table, const char *set, const char *type,
		     json_t *addrs)
{
	const json_t *v;
	size_t i;
	int r;

	r = buf_printf(b, "add set %s %s %s { type %s; }\nflush set %s %s %s\n", family, table, set, type, family,
		       table, set);
	if (r < 0 || json_array_size(addrs) == 0)
		return r;
	/* Elements in chunks, so that no line grows without bound. */
	json_array_foreach(addrs, i, v) {
		if (i % 64 == 0)
			r = r < 0 ? r : buf_printf(b, "%sadd element %s %s %s { ", i ? " }\n" : "", family, table, set);
		r = r < 0 ? r : buf_printf(b, "%s%s", i % 64 ? ", " : "", json_string_value(v));
	}
	return r < 0 ? r : buf_puts(b, " }\n");
}

/*
 * GET /api/v1/endpoint/quarantine.nft[?table=NAME&family=inet|ip|ip6|bridge|netdev]:
 * an nftables script that (re)defines the sets quarantine_v4 and
 * quarantine_v6 in the table (created if missing) with the addresses of
 * the quarantined devices in scope; `nft -f` applies it atomically.
 */
static int h_qnft(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *table = http_req_query(req, "table"), *family = http_req_query(req, "family");
	json_t *v4 = json_array(), *v6 = json_array();
	int64_t devices = 0;
	char t[40];
	struct buf b;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL)) {
		json_decref(v4);
		json_decref(v6);
		return ERR_FORBIDDEN;
	}
	if (!table)
		table = "rampart";
	if (!family)
		family = "inet";
	if (!c || !v4 || !v6)
		r = c ? -ENOMEM : ERR_STORE;
	else if (!q_nft_name_ok(table))
		r = http_fail(resp, ERR_INVALID, "table", "table must be a name of letters, digits and _ (at most %d)",
			      Q_NFT_MAX_TABLE);
	else if (strcmp(family, "inet") != 0 && strcmp(family, "ip") != 0 && strcmp(family, "ip6") != 0 &&
		 strcmp(family, "bridge") != 0 && strcmp(family, "netdev") != 0)
		r = http_fail(resp, ERR_INVALID, "family", "family must be inet, ip, ip6, bridge or netdev");
	else
		r = quarantine_nft_addresses(c, p, v4, v6, &devices);
	if (r < 0) {
		json_decref(v4);
		json_decref(v6);
		return r;
	}
	buf_init(&b, Q_NFT_MAX_BYTES);
	r = buf_printf(&b, "#!/usr/sbin/nft -f\n# Rampart quarantine list: %lld quarantined device(s), %zu IPv4 and "
			   "%zu IPv6 address(es), generated %s.\n# Applied with nft -f, it replaces the sets' contents "
			   "in one transaction.\nadd table %s %s\n",
		       (long long)devices, json_array_size(v4), json_array_size(v6),
		       rtime_format(t, sizeof(t), rtime_now_ms()), family, table);
	if (r == 0 && strcmp(family, "ip6") != 0)
		r = q_nft_set(&b, family, table, "quarantine_v4", "ipv4_addr", v4);
	if (r == 0 && strcmp(family, "ip") != 0)
		r = q_nft_set(&b, family, table, "quarantine_v6", "ipv6_addr", v6);
	json_decref(v4);
	json_decref(v6);
	if (r == 0)
		r = http_resp_data(resp, 200, "text/plain; charset=utf-8", b.data, b.len);
	buf_done(&b);
	return r;
}

/* ---------------------------------------------------------------- routes */

int quarantine_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_POST, "/api/v1/devices/{id}/quarantine", h_quarantine, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/devices/{id}/release", h_release, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/alerts", h_alerts, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/quarantine", h_qlist, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/quarantine.nft", h_qnft, 0);
	return r;
}
