/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog_http: the operation-log routes (see oplog.h): POST
 * /api/v1/endpoint/events, a device's signed batch, and the searches GET
 * /api/v1/endpoint/events and GET /api/v1/devices/{id}/events.
 *
 * Invariants:
 *   - a batch is stored whole or not at all, in one transaction (opened and
 *     closed in h_events_post) with its replay entry, after its signature
 *     checked (ep_device_check) and every event passed oplog_batch_check;
 *     a refused batch spends its signature all the same;
 *   - every search is scoped as the devices are (endpoint_may,
 *     ENDPOINT_READ) and audited with its filters, never with what it
 *     returned, since operation logs are personal data.
 */
#include "endpoint/oplog.h"

#include <errno.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "http/http.h"
#include "store/page.h"
#include "store/store.h"

/* ---------------------------------------------------------------- ingest */

/* A batch refused for error @r (@e says why): its signature is spent all the same. */
static int events_refused(struct http_resp *resp, struct store_conn *c, const struct ep_device *dev,
			  int r, struct rerr *e)
{
	int seen = ep_device_seen_alone(c, dev);

	if (seen < 0)
		return ep_device_refused(resp, seen);
	if (r == ERR_TOO_LARGE)
		return http_fail(resp, ERR_TOO_LARGE, NULL, "a batch is at most 1 MiB");
	return r == ERR_INVALID ? http_fail_rerr(resp, e) : r;
}

/* POST /api/v1/endpoint/events: a signed batch of operation-log events. */
static int h_events_post(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct ep_device dev = { "", "", "" };
	struct oplog_batch b = { 0, NULL };
	int64_t now = rtime_now_ms(), through = 0;
	size_t body_len = 0;
	json_t *body;
	int r;

	if (!c)
		return ERR_STORE;
	/*
	 * The signature is checked first; its replay entry is written in the
	 * batch's transaction (one commit), or alone when the batch is refused.
	 */
	r = ep_device_check(req, c, &dev);
	if (r < 0)
		return ep_device_refused(resp, r);
	http_req_body(req, &body_len);
	if (body_len > OPLOG_MAX_BODY)
		return events_refused(resp, c, &dev, ERR_TOO_LARGE, &e);
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = oplog_batch_check(body, &b, &e);
	if (r < 0)
		return events_refused(resp, c, &dev, r, &e);
	r = oplog_batch_check_time(&b, now, &e);
	if (r < 0) {
		oplog_batch_done(&b);
		return events_refused(resp, c, &dev, r, &e);
	}
	r = store_begin(c);
	if (r == 0)
		r = ep_device_seen(c, &dev);
	if (r == 0)
		r = oplog_store_batch(c, http_req_audit_ctx(req), dev.id, &b, now, &through);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0 && store_in_transaction(c))
		store_rollback(c);
	else if (r >= 0)
		log_debug("endpoint: events received", "device=%s events=%zu through=%lld", dev.id, b.n,
			  (long long)through);
	oplog_batch_done(&b);
	if (r < 0)
		return ep_device_refused(resp, r);
	return http_resp_json(resp, 200, json_pack("{s:I}", "accepted_through", (json_int_t)through));
}

/* ---------------------------------------------------------------- search */

/* A time given as Unix milliseconds or RFC 3339.  Returns 0 or -EINVAL. */
static int oplog_time_arg(const char *s, int64_t *ret)
{
	if (s[0] >= '0' && s[0] <= '9' && str_parse_i64(s, 0, OPLOG_MAX_TS, ret) == 0)
		return 0;
	return rtime_parse(s, ret) == 0 ? 0 : -EINVAL;
}

/*
 * Reads the search's filters and cursor from the query string into @f
 * (@cur holds the cursor).  Returns 0, or the error answered.
 */
static int oplog_search_args(struct http_req *req, struct http_resp *resp, struct oplog_filter *f,
			     struct oplog_cursor *cur, int64_t *limit)
{
	const char *cursor, *since_s = http_req_query(req, "since"), *until_s = http_req_query(req, "until");
	struct rerr e = { "", "" };

	f->device = http_req_param(req, "id");
	if (!f->device)
		f->device = http_req_query(req, "device");
	f->person = http_req_query(req, "person");
	f->kind = http_req_query(req, "kind");
	if (http_req_page(req, OPLOG_SEARCH_DEFAULT, OPLOG_SEARCH_MAX, limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && oplog_cursor_parse(cursor, cur) < 0)
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	f->cursor = cursor ? cur : NULL;
	if (f->kind && !oplog_kind_is_known(f->kind))
		return http_fail(resp, ERR_INVALID, "kind", "kind must be " OPLOG_KIND_LIST);
	if (f->person && (strlen(f->person) == 0 || strlen(f->person) > OPLOG_MAX_STR))
		return http_fail(resp, ERR_INVALID, "person", "person must be 1 to 256 bytes");
	f->has_since = since_s != NULL;
	if (since_s && oplog_time_arg(since_s, &f->since) < 0)
		return http_fail(resp, ERR_INVALID, "since",
				 "since must be an RFC 3339 time such as 2026-11-26T08:00:00Z or Unix milliseconds");
	f->has_until = until_s != NULL;
	if (until_s && oplog_time_arg(until_s, &f->until) < 0)
		return http_fail(resp, ERR_INVALID, "until",
				 "until must be an RFC 3339 time such as 2026-11-26T08:00:00Z or Unix milliseconds");
	return 0;
}

/*
 * The filters a search asked for, as the client sent them (jsonx_set_asked:
 * bounded, and safe even when malformed), for its audit entry whatever its
 * outcome.  Returns a new object, or NULL when out of memory.
 */
static json_t *oplog_search_asked(struct http_req *req)
{
	static const char *const keys[] = { "device", "person", "kind", "since", "until", "cursor", "limit" };
	json_t *o = json_object();
	const char *device = http_req_param(req, "id");

	if (!o)
		return NULL;
	jsonx_set_asked(o, "device", device ? device : http_req_query(req, "device"));
	for (size_t i = 1; i < sizeof(keys) / sizeof(keys[0]); i++)
		jsonx_set_asked(o, keys[i], http_req_query(req, keys[i]));
	return o;
}

/*
 * The device a search names must be one the caller may read: not found
 * otherwise (audited as denied, with @asked, when it exists).  Returns 0,
 * or the error answered.
 */
static int oplog_search_device(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			       const char *device, const json_t *asked)
{
	char path[PRINCIPAL_PATH_SIZE] = "";
	int r;

	if (!ids_is_ulid(device))
		return http_fail(resp, ERR_NOT_FOUND, "device", "no such device");
	r = ep_device_path(c, device, path);
	if (r < 0 && r != ERR_NOT_FOUND)
		return r;
	if (r == ERR_NOT_FOUND || !endpoint_may(http_req_principal(req), ENDPOINT_READ, path)) {
		if (r == 0)
			audit_req(req, c, "endpoint.events.read", "device", device, AUDIT_DENIED,
				  json_deep_copy(asked));
		return http_fail(resp, ERR_NOT_FOUND, "device", "no such device");
	}
	return 0;
}

/*
 * GET /api/v1/endpoint/events and GET /api/v1/devices/{id}/events: events
 * newest first, filtered and scoped.  Every search is audited with the
 * filters it asked for: refused, malformed (a failure) or answered.
 */
static int h_events_search(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct oplog_filter f;
	struct oplog_cursor cur;
	char next[PAGE_CURSOR_SIZE];
	int64_t limit;
	json_t *items, *asked = oplog_search_asked(req);
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL)) {
		audit_req(req, c, "endpoint.events.read", NULL, NULL, AUDIT_DENIED, asked);
		return ERR_FORBIDDEN;
	}
	if (!c) {
		json_decref(asked);
		return ERR_STORE;
	}
	r = oplog_search_args(req, resp, &f, &cur, &limit);
	if (r < 0) {
		/* Who asked for what, even when it could not be understood. */
		audit_req(req, c, "endpoint.events.read", NULL, NULL, AUDIT_FAILURE, asked);
		return r;
	}
	if (f.device)
		r = oplog_search_device(req, resp, c, f.device, asked);
	if (r == 0)
		r = oplog_search(c, p, &f, limit, &items, next);
	if (r < 0) {
		json_decref(asked);
		return r;
	}
	/* Who read whose operation logs, and with which filters (not what was returned). */
	if (asked)
		json_object_set_new(asked, "returned", json_integer((json_int_t)json_array_size(items)));
	audit_req(req, c, "endpoint.events.read", f.device ? "device" : NULL, f.device, AUDIT_SUCCESS, asked);
	return http_resp_json(resp, 200, page_json(items, next));
}

/* ---------------------------------------------------------------- routes */

int oplog_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/events", h_events_post, HTTP_AUTH_DEVICE);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/events", h_events_search, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/devices/{id}/events", h_events_search, 0);
	return r;
}
