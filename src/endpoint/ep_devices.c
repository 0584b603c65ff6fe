/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_devices: the device API (see endpoint.h): the list, one device's
 * detail (its latest report, history, quarantine, addresses, alerts and
 * package count) and the summary with its trend by state.
 *
 * Invariants:
 *   - reads only; every list and count is filtered by the caller's scope
 *     (ep_scope_where), and a device outside it is answered as not found, its
 *     read audited as denied;
 *   - the trend is rebuilt from the audit log's state changes, so it needs
 *     no table of its own and agrees with what was audited.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "endpoint/ep_routes.h"
#include "endpoint/quarantine.h"
#include "http/http.h"
#include "identity/people.h"
#include "store/page.h"
#include "store/store.h"

#define EP_HISTORY 50

/* ---------------------------------------------------------------- devices */

/* A device's unit, as o (o.path). */
#define EP_DEVICE_UNIT PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id")

/* The columns ep_device_row_json reads: the device, its unit and its owner. */
#define EP_DEVICE_COLS \
	"SELECT d.id, d.hostname, d.machine_id, d.org_unit_id, o.path, d.owner_id, p.login, d.state, " \
	"d.last_seen_at, d.created_at, d.last_report_id FROM devices d" EP_DEVICE_UNIT \
	PEOPLE_SQL_JOIN("p", "d.owner_id") " "

static json_t *ep_device_row_json(struct store_stmt *q)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s}",
			      "id", store_col_text(q, 0), "hostname", store_col_text(q, 1),
			      "machine_id", store_col_text(q, 2),
			      "org_unit", "id", store_col_text(q, 3), "path", store_col_text(q, 4),
			      "state", store_col_text(q, 7));

	if (!o)
		return NULL;
	if (store_col_is_null(q, 5))
		json_object_set_new(o, "owner", json_null());
	else
		json_object_set_new(o, "owner", json_pack("{s:s, s:s?}", "id", store_col_text(q, 5),
							  "login", store_col_text(q, 6)));
	jsonx_set_time(o, "last_seen_at", store_col_is_null(q, 8) ? 0 : store_col_i64(q, 8));
	jsonx_set_time(o, "created_at", store_col_i64(q, 9));
	return o;
}

/* Org units the summary lists by name. */
#define EP_SUMMARY_UNITS 12

/* Adds @n to obj[@key] (an integer member). */
static void ep_count_add(json_t *obj, const char *key, json_int_t n)
{
	json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + n));
}

static json_t *ep_state_counts(void)
{
	return json_pack("{s:i, s:i, s:i, s:i}", "compliant", 0, "non_compliant", 0, "unknown", 0, "quarantined", 0);
}

static int ep_unit_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t nx = json_integer_value(json_object_get(x, "total")), ny = json_integer_value(json_object_get(y, "total"));

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "org_unit")), json_string_value(json_object_get(y, "org_unit")));
}

static int ep_fail_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t nx = json_integer_value(json_object_get(x, "devices")), ny = json_integer_value(json_object_get(y, "devices"));

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

/* A new array of the object's members {@name: key, ...value} sorted with @cmp, at most @max (0: all). */
static json_t *ep_sorted(json_t *obj, const char *name, int (*cmp)(const void *, const void *), size_t max)
{
	size_t n = json_object_size(obj), i = 0;
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array(), *val;
	const char *key;

	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(obj, key, val) {
		v[i] = json_copy(val);
		if (v[i])
			json_object_set_new(v[i], name, json_string(key));
		i++;
	}
	for (i = 0; i < n; i++)
		if (!v[i])
			break;
	if (i == n)
		qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++) {
		if (v[i] && (!max || json_array_size(out) < max))
			json_array_append(out, v[i]);
		json_decref(v[i]);
	}
	free(v);
	return out;
}

#define EP_TREND_DAYS 14
#define EP_TREND_MAX_DAYS 90
#define EP_DAY_MS ((int64_t)24 * 3600 * 1000)

static const char *const ep_state_names[] = { "compliant", "non_compliant", "unknown", "quarantined" };

static int ep_state_index(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, ep_state_names[i]) == 0)
			return i;
	return -1;
}

/* An audited change of a device's state: which device (its index), when, and from which state. */
struct ep_change {
	size_t device;
	int64_t ts;
	int from;
};

/* The devices of a trend: their states now and when they were enrolled, by index. */
struct ep_fleet {
	json_t *index;       /* device id -> its index */
	int *state;          /* ep_state_index of its state now (-1: none of the four) */
	int64_t *enrolled;
	size_t n, cap;
	struct ep_change *ch;  /* changes, newest first */
	size_t nch, chcap;
};

static void ep_fleet_done(struct ep_fleet *f)
{
	json_decref(f->index);
	free(f->state);
	free(f->enrolled);
	free(f->ch);
}

/* ---------------------------------------------------------------- device list */

static json_t *ep_device_row(struct store_stmt *q, void *ud)
{
	(void)ud;
	return ep_device_row_json(q);
}

static int h_device_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *cursor, *state = http_req_query(req, "state");
	int64_t limit;
	char next[PAGE_CURSOR_SIZE];
	struct store_stmt *q = NULL;
	json_t *items;
	int r;

	r = ep_list_page(req, resp, 50, &limit, &cursor);
	if (r < 0)
		return r;
	if (state && ep_state_index(state) < 0)
		return http_fail(resp, ERR_INVALID, "state",
				 "state must be compliant, non_compliant, unknown or quarantined");
	r = ep_query_scoped(c, p, EP_DEVICE_COLS "WHERE ($1 = '' OR d.id > $1) AND ($2 = '' OR d.state = $2)", "o.path",
			    " ORDER BY d.id LIMIT $3",
			    STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(state ? state : ""), SA_I64(limit + 1)),
			    &q);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, ep_device_row, NULL, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

/* ---------------------------------------------------------------- summary and trend */

/* Reads the devices @p sees into @f.  Returns 0 or an error. */
static int ep_fleet_devices(struct store_conn *c, const struct principal *p, struct ep_fleet *f)
{
	struct store_stmt *q = NULL;
	int r;

	r = ep_query_scoped(c, p, "SELECT d.id, d.state, d.created_at FROM devices d" EP_DEVICE_UNIT " WHERE 1 = 1",
			    "o.path", "", STORE_NOARGS, &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		if (f->n == f->cap) {
			size_t nc = f->cap ? f->cap * 2 : 256;
			int *ns = realloc(f->state, nc * sizeof(*ns));
			int64_t *ne = ns ? realloc(f->enrolled, nc * sizeof(*ne)) : NULL;

			if (ns)
				f->state = ns;
			if (!ne) {
				r = -ENOMEM;
				break;
			}
			f->enrolled = ne;
			f->cap = nc;
		}
		f->state[f->n] = ep_state_index(store_col_text(q, 1));
		f->enrolled[f->n] = store_col_i64(q, 2);
		r = json_object_set_new(f->index, store_col_text(q, 0), json_integer((json_int_t)f->n)) < 0 ? -ENOMEM : 0;
		f->n++;
	}
	store_stmt_free(q);
	return r;
}

/*
 * Reads the audited state changes since @start of the devices in @f,
 * newest first (endpoint.device.state and .quarantine {from}, .release:
 * from quarantined).  Returns 0 or an error.
 */
static int ep_fleet_changes(struct store_conn *c, int64_t start, struct ep_fleet *f)
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT object_id, ts, action, details FROM audit_log "
			   "WHERE action IN ('endpoint.device.state', 'endpoint.device.quarantine', "
			   "'endpoint.device.release') AND outcome = 'success' AND ts >= $1 ORDER BY ts DESC, id DESC",
			STORE_ARGS(SA_I64(start)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const json_t *at = store_col_text(q, 0) ? json_object_get(f->index, store_col_text(q, 0)) : NULL;
		const char *action = store_col_text(q, 2), *text = store_col_text(q, 3);
		json_t *det;
		int from = 3;   /* a release: from quarantined */

		r = 0;
		if (!at)
			continue;   /* another scope's device, or one that is gone */
		if (strcmp(action, "endpoint.device.release") != 0) {
			det = text ? json_loads(text, 0, NULL) : NULL;
			from = ep_state_index(json_string_value(json_object_get(det, "from")));
			json_decref(det);
			if (from < 0)
				continue;
		}
		if (f->nch == f->chcap) {
			size_t nc = f->chcap ? f->chcap * 2 : 256;
			struct ep_change *nn = realloc(f->ch, nc * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			f->ch = nn;
			f->chcap = nc;
		}
		f->ch[f->nch++] = (struct ep_change){ (size_t)json_integer_value(at), store_col_i64(q, 1), from };
	}
	store_stmt_free(q);
	return r;
}

/*
 * Counts @f by state at the end of each of @days UTC days from @start
 * (the last one up to @now), going back in time from the states now:
 * each change is undone once its time is past the day's end, and a device
 * counts from its enrollment on.  Rows are inserted into @out oldest
 * first.  Changes @f's states.  Returns 0 or -ENOMEM.
 */
static int ep_fleet_days(struct ep_fleet *f, int64_t start, int days, int64_t now, json_t *out)
{
	size_t k = 0;

	for (int i = days - 1; i >= 0; i--) {
		int64_t end = start + (int64_t)(i + 1) * EP_DAY_MS, cnt[4] = { 0, 0, 0, 0 };
		char day[16];
		time_t t = (time_t)((start + (int64_t)i * EP_DAY_MS) / 1000);
		struct tm tm;
		json_t *row;

		if (end > now)
			end = now;
		for (; k < f->nch && f->ch[k].ts > end; k++)
			f->state[f->ch[k].device] = f->ch[k].from;
		for (size_t d = 0; d < f->n; d++)
			if (f->enrolled[d] <= end && f->state[d] >= 0)
				cnt[f->state[d]]++;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		row = json_pack("{s:s, s:I, s:I, s:I, s:I}", "day", day, "compliant", (json_int_t)cnt[0], "non_compliant",
				(json_int_t)cnt[1], "unknown", (json_int_t)cnt[2], "quarantined", (json_int_t)cnt[3]);
		if (!row || json_array_insert_new(out, 0, row) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The devices @p sees per state at the end of each of the last @days UTC
 * days (today up to @now): from the states now, each audited change
 * (endpoint.device.state and .quarantine {from}, .release: from
 * quarantined) is undone going back in time; a device counts from its
 * enrollment on.  Sets *ret to [{day, compliant, non_compliant, unknown,
 * quarantined}], oldest first.
 */
static int ep_trend(struct store_conn *c, const struct principal *p, int days, int64_t now, json_t **ret)
{
	int64_t start = now - now % EP_DAY_MS - (int64_t)(days - 1) * EP_DAY_MS;
	struct ep_fleet f = { .index = json_object() };
	json_t *out = json_array();
	int r = f.index && out ? 0 : -ENOMEM;

	if (r == 0)
		r = ep_fleet_devices(c, p, &f);
	if (r == 0)
		r = ep_fleet_changes(c, start, &f);
	if (r == 0)
		r = ep_fleet_days(&f, start, days, now, out);
	ep_fleet_done(&f);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/*
 * Counts the devices @p sees by unit and state into @units
 * ({path: {states, total}}) and @by_state, and their number into *total.
 * Returns 0 or an error.
 */
static int ep_summary_units(struct store_conn *c, const struct principal *p, json_t *units, json_t *by_state,
			    json_int_t *total)
{
	struct store_stmt *q = NULL;
	int r;

	r = ep_query_scoped(c, p, "SELECT o.path, d.state, count(*) FROM devices d" EP_DEVICE_UNIT " WHERE 1 = 1",
			    "o.path", " GROUP BY o.path, d.state", STORE_NOARGS, &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *path = store_col_text(q, 0), *state = store_col_text(q, 1);
		json_int_t n = store_col_i64(q, 2);
		json_t *u = json_object_get(units, path);

		if (!u) {
			u = ep_state_counts();
			if (!u || json_object_set_new(units, path, json_pack("{s:o, s:i}", "states", u, "total", 0)) < 0) {
				r = -ENOMEM;
				break;
			}
			u = json_object_get(units, path);
		}
		ep_count_add(json_object_get(u, "states"), state, n);
		ep_count_add(u, "total", n);
		ep_count_add(by_state, state, n);
		*total += n;
		r = 0;
	}
	store_stmt_free(q);
	return r;
}

/* Counts, per requirement, the devices @p sees whose latest report fails it, into @fails.  Returns 0 or an error. */
static int ep_summary_failing(struct store_conn *c, const struct principal *p, json_t *fails)
{
	struct store_stmt *q = NULL;
	int r;

	r = ep_query_scoped(c, p, "SELECT r.results FROM devices d" EP_DEVICE_UNIT
			    " JOIN device_reports r ON r.id = d.last_report_id WHERE 1 = 1", "o.path", "", STORE_NOARGS, &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *text = store_col_text(q, 0);
		json_t *res = text ? json_loads(text, 0, NULL) : NULL, *it;
		size_t i;

		json_array_foreach(res, i, it) {
			const char *id = json_string_value(json_object_get(it, "id"));
			json_t *f;

			if (!id || json_is_true(json_object_get(it, "pass")))
				continue;
			f = json_object_get(fails, id);
			if (!f) {
				json_object_set_new(fails, id, json_pack("{s:i}", "devices", 0));
				f = json_object_get(fails, id);
			}
			if (f)
				ep_count_add(f, "devices", 1);
		}
		json_decref(res);
		r = 0;
	}
	store_stmt_free(q);
	return r;
}

/*
 * GET /api/v1/endpoint/summary[?days=N]: the devices in the caller's scope
 * counted by state, the org units with the most devices (by state), how
 * many devices fail each baseline requirement in their latest report, and
 * the trend by state over the last N days (ep_trend).  Counted
 * by the database, so it holds for any fleet size (the device list pages).
 */
static int h_device_summary(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	json_t *by_state = ep_state_counts(), *units = json_object(), *fails = json_object(), *out = NULL;
	json_int_t total = 0;
	int64_t days = EP_TREND_DAYS;
	const char *days_s;
	json_t *trend = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL)) {
		r = ERR_FORBIDDEN;
		goto done;
	}
	days_s = http_req_query(req, "days");
	if (days_s && str_parse_i64(days_s, 1, EP_TREND_MAX_DAYS, &days) < 0) {
		r = http_fail(resp, ERR_INVALID, "days", "days must be a whole number from 1 to %d", EP_TREND_MAX_DAYS);
		goto done;
	}
	r = c ? 0 : ERR_STORE;
	if (r == 0 && (!by_state || !units || !fails))
		r = -ENOMEM;
	if (r == 0)
		r = ep_summary_units(c, p, units, by_state, &total);
	if (r == 0)
		r = ep_summary_failing(c, p, fails);
	if (r == 0)
		r = ep_trend(c, p, (int)days, rtime_now_ms(), &trend);
	if (r == 0) {
		json_t *top = ep_sorted(units, "org_unit", ep_unit_cmp, EP_SUMMARY_UNITS);
		json_t *failing = ep_sorted(fails, "id", ep_fail_cmp, 0);

		if (!top || !failing) {
			json_decref(top);
			json_decref(failing);
		} else {
			/* "o" values are stolen, on failure too. */
			out = json_pack("{s:I, s:O, s:o, s:I, s:o, s:O}", "total", (json_int_t)total, "by_state", by_state,
					"by_unit", top, "units", (json_int_t)json_object_size(units), "failing", failing,
					"trend", trend);
		}
		if (!out)
			r = -ENOMEM;
	}
done:
	json_decref(by_state);
	json_decref(units);
	json_decref(fails);
	json_decref(trend);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- device detail */

static int h_device_show(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *id = http_req_param(req, "id");
	char path[PRINCIPAL_PATH_SIZE] = "", report_id[ULID_SIZE] = "";
	struct store_stmt *q = NULL;
	json_t *out = NULL, *history;
	int64_t npkg = 0;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = store_query(c, EP_DEVICE_COLS "WHERE d.id = $1", STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		str_copy(path, sizeof(path), store_col_text(q, 4));
		if (!store_col_is_null(q, 10))
			str_copy(report_id, sizeof(report_id), store_col_text(q, 10));
		out = ep_device_row_json(q);
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (r == 0 || !endpoint_may(p, ENDPOINT_READ, path)) {
		json_decref(out);
		if (r == 1)
			audit_req(req, c, "endpoint.device.read", "device", id, AUDIT_DENIED, NULL);
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such device");
	}
	if (!out)
		return -ENOMEM;
	json_object_set_new(out, "report", json_null());
	json_object_set_new(out, "results", json_array());
	if (report_id[0]) {
		r = store_query(c, "SELECT report, results FROM device_reports WHERE id = $1",
				STORE_ARGS(SA_TEXT(report_id)), &q);
		if (r == 0 && store_step(q) == 1) {
			json_object_set_new(out, "report", ep_json_col(q, 0));
			json_object_set_new(out, "results", ep_json_col(q, 1));
		}
		store_stmt_free(q);
	}
	history = json_array();
	r = store_query(c, "SELECT id, received_at, state, results FROM device_reports WHERE device_id = $1 "
			   "ORDER BY received_at DESC, id DESC LIMIT $2", STORE_ARGS(SA_TEXT(id), SA_I64(EP_HISTORY)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		json_t *h = json_pack("{s:s, s:s, s:o}", "id", store_col_text(q, 0), "state", store_col_text(q, 2),
				      "results", ep_json_col(q, 3));

		if (h)
			jsonx_set_time(h, "received_at", store_col_i64(q, 1));
		json_array_append_new(history, h);
		r = 0;
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(out);
		json_decref(history);
		return r;
	}
	json_object_set_new(out, "history", history);
	r = quarantine_device_json(c, id, out);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	if (store_query_i64(c, "SELECT count(*) FROM device_packages WHERE device_id = $1",
			    STORE_ARGS(SA_TEXT(id)), &npkg) == 0)
		json_object_set_new(out, "package_count", json_integer(npkg));
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- routes */

int ep_devices_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_GET, "/api/v1/devices", h_device_list, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/summary", h_device_summary, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/devices/{id}", h_device_show, 0);
	return r;
}
