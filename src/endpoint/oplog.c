/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog: operation-log batches from enrolled PCs, their search and their
 * retention (see oplog.h).
 *
 * Invariants:
 *   - a batch is stored whole or not at all, in one transaction, after its
 *     signature checked (ep_device_check) and every event passed
 *     oplog_batch_check;
 *   - devices.events_through only grows; an event is inserted only when its
 *     seq is above it, and (device_id, seq) is the primary key, so a
 *     retried batch, on any server, adds nothing;
 *   - the retention sweep deletes in statements of at most
 *     OPLOG_SWEEP_BATCH rows, each its own transaction, and never a
 *     device's latest posture report (devices.last_report_id);
 *   - seqs the device never delivered (events its agent dropped: a full
 *     buffer, an event the server refused) are a gap between the stored
 *     mark and the batch, recorded as an endpoint.events.gap audit entry,
 *     because lost operation logs are themselves evidence;
 *   - no event content reaches a log line.
 */
#include "endpoint/oplog.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "endpoint/endpoint_internal.h"
#include "formats/policy.h"
#include "http/http.h"
#include "store/store.h"

/* ---------------------------------------------------------------- batch parser */

enum oplog_ftype {
	F_STR,      /* printable text, 1..OPLOG_MAX_STR bytes */
	F_OPTSTR,   /* printable text, 0..OPLOG_MAX_STR bytes */
	F_PATH,     /* any text without NUL, 1..OPLOG_MAX_PATH bytes */
	F_UINT32,   /* 0..4294967295 */
	F_SIZE,     /* 0..2^62 */
	F_BOOL,
	F_ARGV,     /* array of at most OPLOG_MAX_ARGV texts of 0..OPLOG_MAX_PATH bytes */
	F_ACTION,   /* "allowed", "blocked" or "reported" */
};

struct oplog_field {
	const char *name;
	enum oplog_ftype type;
	bool required;
};

struct oplog_kind {
	const char *name;
	const struct oplog_field *fields;   /* { NULL }-terminated */
};

static const struct oplog_field f_exec[] = {
	{ "pid", F_UINT32, true }, { "ppid", F_UINT32, true }, { "uid", F_UINT32, true },
	{ "user", F_STR, true }, { "path", F_PATH, true }, { "argv", F_ARGV, true },
	{ "cwd", F_PATH, false }, { NULL, 0, false },
};
static const struct oplog_field f_session[] = {
	{ "user", F_STR, true }, { "tty", F_OPTSTR, false }, { "host", F_OPTSTR, false },
	{ "session", F_OPTSTR, false }, { NULL, 0, false },
};
static const struct oplog_field f_usb_insert[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ "name", F_OPTSTR, false }, { "storage", F_BOOL, true }, { "action", F_ACTION, true },
	{ NULL, 0, false },
};
static const struct oplog_field f_usb_remove[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ NULL, 0, false },
};
static const struct oplog_field f_usb_block[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ "name", F_OPTSTR, false }, { NULL, 0, false },
};
static const struct oplog_field f_file_write[] = {
	{ "path", F_PATH, true }, { "device", F_STR, true }, { "size", F_SIZE, false },
	{ "user", F_STR, false }, { NULL, 0, false },
};

static const struct oplog_kind oplog_kinds[] = {
	{ "exec", f_exec },
	{ "login", f_session },
	{ "logout", f_session },
	{ "usb_insert", f_usb_insert },
	{ "usb_remove", f_usb_remove },
	{ "usb_block", f_usb_block },
	{ "file_write", f_file_write },
};

#define OPLOG_KIND_LIST "exec, login, logout, usb_insert, usb_remove, usb_block or file_write"

static const struct oplog_kind *oplog_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(oplog_kinds) / sizeof(oplog_kinds[0]); i++)
		if (strcmp(oplog_kinds[i].name, name) == 0)
			return &oplog_kinds[i];
	return NULL;
}

bool oplog_kind_is_known(const char *kind)
{
	return kind && oplog_kind_find(kind);
}

/* Valid UTF-8 (jsonx checked it) without control characters. */
static bool oplog_is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int oplog_fail(struct rerr *e, size_t i, const char *field, const char *what)
{
	char name[64];

	if (field)
		snprintf(name, sizeof(name), "events[%zu].%s", i, field);
	else
		snprintf(name, sizeof(name), "events[%zu]", i);
	return jsonx_fail(e, name, "%s: %s", name, what);
}

static int oplog_check_field(const json_t *v, const struct oplog_field *f, size_t i, struct rerr *e)
{
	const json_t *it;
	size_t n, k;

	switch (f->type) {
	case F_STR:
	case F_OPTSTR:
		if (!json_is_string(v))
			return oplog_fail(e, i, f->name, "must be a string");
		n = json_string_length(v);
		if (n > OPLOG_MAX_STR || (f->type == F_STR && n == 0))
			return oplog_fail(e, i, f->name, f->type == F_STR ? "must be 1 to 256 bytes"
									 : "must be at most 256 bytes");
		if (!oplog_is_printable(json_string_value(v), n))
			return oplog_fail(e, i, f->name, "must not contain control characters");
		return 0;
	case F_PATH:
		if (!json_is_string(v))
			return oplog_fail(e, i, f->name, "must be a string");
		n = json_string_length(v);
		if (n == 0 || n > OPLOG_MAX_PATH || memchr(json_string_value(v), '\0', n))
			return oplog_fail(e, i, f->name, "must be 1 to 4096 bytes");
		return 0;
	case F_UINT32:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
			return oplog_fail(e, i, f->name, "must be a whole number from 0 to 4294967295");
		return 0;
	case F_SIZE:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((json_int_t)1 << 62))
			return oplog_fail(e, i, f->name, "must be a whole number of bytes");
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return oplog_fail(e, i, f->name, "must be true or false");
		return 0;
	case F_ACTION:
		if (!json_is_string(v) || (strcmp(json_string_value(v), "allowed") != 0 &&
					   strcmp(json_string_value(v), "blocked") != 0 &&
					   strcmp(json_string_value(v), "reported") != 0))
			return oplog_fail(e, i, f->name, "must be allowed, blocked or reported");
		return 0;
	case F_ARGV:
		if (!json_is_array(v) || json_array_size(v) > OPLOG_MAX_ARGV)
			return oplog_fail(e, i, f->name, "must be an array of at most 256 strings");
		json_array_foreach(v, k, it) {
			n = json_string_length(it);
			if (!json_is_string(it) || n > OPLOG_MAX_PATH || memchr(json_string_value(it), '\0', n))
				return oplog_fail(e, i, f->name, "items must be strings of at most 4096 bytes");
		}
		return 0;
	}
	return oplog_fail(e, i, f->name, "is not understood");
}

/* Checks event @i and fills @ev (data is a new object).  Returns 0, -ENOMEM or ERR_INVALID. */
static int oplog_event_check(const json_t *v, size_t i, int64_t prev_seq, struct oplog_event *ev,
			     struct rerr *e)
{
	const struct oplog_kind *k;
	const struct oplog_field *f;
	const json_t *seq, *ts, *kind, *fv;
	const char *key;
	json_t *data;

	if (!json_is_object(v))
		return oplog_fail(e, i, NULL, "must be an object");
	seq = json_object_get(v, "seq");
	ts = json_object_get(v, "ts");
	kind = json_object_get(v, "kind");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || json_integer_value(seq) > OPLOG_MAX_SEQ)
		return oplog_fail(e, i, "seq", "must be a whole number from 1 to 2^53-1");
	if (json_integer_value(seq) <= prev_seq)
		return oplog_fail(e, i, "seq", "must be greater than the seq of the event before it");
	if (!json_is_integer(ts) || json_integer_value(ts) < 0 || json_integer_value(ts) > OPLOG_MAX_TS)
		return oplog_fail(e, i, "ts", "must be a time in Unix milliseconds");
	if (!json_is_string(kind))
		return oplog_fail(e, i, "kind", "must be one of " OPLOG_KIND_LIST);
	k = oplog_kind_find(json_string_value(kind));
	if (!k)
		return oplog_fail(e, i, "kind", "unknown kind; must be " OPLOG_KIND_LIST);
	/* Every key must be a field of the kind (or seq, ts, kind). */
	json_object_foreach((json_t *)v, key, fv) {
		bool known = strcmp(key, "seq") == 0 || strcmp(key, "ts") == 0 || strcmp(key, "kind") == 0;

		for (f = k->fields; !known && f->name; f++)
			known = strcmp(f->name, key) == 0;
		if (!known) {
			char what[64];

			snprintf(what, sizeof(what), "%s events have no field '%.24s'", k->name, key);
			return oplog_fail(e, i, NULL, what);
		}
	}
	for (f = k->fields; f->name; f++) {
		fv = json_object_get(v, f->name);
		if (!fv || json_is_null(fv)) {
			if (f->required)
				return oplog_fail(e, i, f->name, "is required");
			continue;
		}
		if (oplog_check_field(fv, f, i, e) < 0)
			return ERR_INVALID;
	}
	data = json_object();
	if (!data)
		return -ENOMEM;
	for (f = k->fields; f->name; f++) {
		fv = json_object_get(v, f->name);
		if (!fv || json_is_null(fv) || strcmp(f->name, "user") == 0)
			continue;
		if (json_object_set(data, f->name, (json_t *)fv) < 0) {
			json_decref(data);
			return -ENOMEM;
		}
	}
	ev->seq = json_integer_value(seq);
	ev->ts = json_integer_value(ts);
	ev->kind = k->name;
	ev->user = json_string_value(json_object_get(v, "user"));
	ev->data = data;
	return 0;
}

int oplog_batch_check(const json_t *body, struct oplog_batch *b, struct rerr *e)
{
	const json_t *events, *v;
	struct oplog_batch out = { 0, NULL };
	int64_t prev = 0;
	const char *key;
	size_t i;
	int r;

	*b = out;
	if (!json_is_object(body))
		return jsonx_fail(e, NULL, "the batch must be a JSON object {\"events\": [...]}");
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "events") != 0)
			return jsonx_fail(e, key, "unknown field '%.64s'; a batch has only \"events\"", key);
	events = json_object_get(body, "events");
	if (!json_is_array(events))
		return jsonx_fail(e, "events", "events must be an array");
	if (json_array_size(events) > OPLOG_MAX_EVENTS)
		return jsonx_fail(e, "events", "a batch has at most %d events", OPLOG_MAX_EVENTS);
	if (json_array_size(events) > 0) {
		out.events = calloc(json_array_size(events), sizeof(*out.events));
		if (!out.events)
			return -ENOMEM;
	}
	json_array_foreach(events, i, v) {
		r = oplog_event_check(v, i, prev, &out.events[out.n], e);
		if (r < 0) {
			oplog_batch_done(&out);
			return r;
		}
		prev = out.events[out.n].seq;
		out.n++;
	}
	*b = out;
	return 0;
}

int oplog_batch_parse(const char *data, size_t len, json_t **ret_root, struct oplog_batch *b,
		      struct rerr *e)
{
	json_t *root = NULL;
	int r;

	b->n = 0;
	b->events = NULL;
	if (len > OPLOG_MAX_BODY) {
		jsonx_fail(e, NULL, "a batch is at most 1 MiB");
		return ERR_TOO_LARGE;
	}
	r = jsonx_parse_object(data, len, JSONX_MAX_DEPTH, &root, e);
	if (r < 0)
		return r;
	r = oplog_batch_check(root, b, e);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*ret_root = root;
	return 0;
}

void oplog_batch_done(struct oplog_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->events[i].data);
	free(b->events);
	b->n = 0;
	b->events = NULL;
}

/* ---------------------------------------------------------------- ingest */

/* The stored high-water mark of @device_id. */
static int oplog_through(struct store_conn *c, const char *device_id, int64_t *ret)
{
	return store_query_i64(c, "SELECT events_through FROM devices WHERE id = $1", STORE_ARGS(SA_TEXT(device_id)),
			       ret);
}

/* Records that @missing seqs after @after up to @last never arrived from the device.  Inside a transaction. */
static int oplog_gap(struct store_conn *c, struct http_req *req, const char *device_id, int64_t after,
		     int64_t last, int64_t missing)
{
	struct audit_entry ae = {
		.source = http_req_remote(req), .action = "endpoint.events.gap", .object_type = "device",
		.object_id = device_id, .outcome = AUDIT_FAILURE, .request_id = http_req_id(req),
	};
	json_t *d = json_pack("{s:I, s:I, s:I}", "missing", (json_int_t)missing, "after_seq", (json_int_t)after,
			      "through_seq", (json_int_t)last);
	int r;

	if (!d)
		return -ENOMEM;
	ae.details = d;
	r = audit_append(c, &ae);
	json_decref(d);
	log_warn("endpoint: operation-log events missing", "device=%s missing=%lld after=%lld", device_id,
		 (long long)missing, (long long)after);
	return r;
}

/* Inserts the events above the device's mark; *ret_through is the new mark.  Inside a transaction. */
static int oplog_store(struct store_conn *c, struct http_req *req, const char *device_id,
		       const struct oplog_batch *b, int64_t now, int64_t *ret_through)
{
	struct store_stmt *ins = NULL;
	int64_t through = 0, added = 0;
	size_t i;
	int r;

	r = oplog_through(c, device_id, &through);
	if (r < 0)
		return r;
	if (b->n == 0 || b->events[b->n - 1].seq <= through) {
		*ret_through = through;
		return 0;
	}
	r = store_query(c, "INSERT INTO device_events (device_id, seq, ts, kind, username, received_at, data) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id, seq) DO NOTHING",
			STORE_NOARGS, &ins);
	for (i = 0; r >= 0 && i < b->n; i++) {
		const struct oplog_event *ev = &b->events[i];
		char *text;

		if (ev->seq <= through)
			continue;   /* sent before: a retry */
		text = json_dumps(ev->data, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text) {
			r = -ENOMEM;
			break;
		}
		r = store_stmt_exec(ins, STORE_ARGS(SA_TEXT(device_id), SA_I64(ev->seq), SA_I64(ev->ts),
						    SA_TEXT(ev->kind), SA_TEXT(ev->user), SA_I64(now), SA_TEXT(text)));
		free(text);
		added++;
	}
	store_stmt_free(ins);
	/* Seqs are strictly increasing, so what the batch does not cover above the mark never arrived. */
	if (r >= 0 && b->events[b->n - 1].seq - through > added)
		r = oplog_gap(c, req, device_id, through, b->events[b->n - 1].seq,
			      b->events[b->n - 1].seq - through - added);
	if (r >= 0)
		r = store_exec(c, "UPDATE devices SET events_through = $2 WHERE id = $1 AND events_through < $2",
			       STORE_ARGS(SA_TEXT(device_id), SA_I64(b->events[b->n - 1].seq)));
	if (r < 0)
		return r;
	*ret_through = b->events[b->n - 1].seq;
	return 0;
}

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
	for (size_t i = 0; i < b.n; i++) {
		if (b.events[i].ts > now + OPLOG_MAX_SKEW_MS) {
			oplog_batch_done(&b);
			r = oplog_fail(&e, i, "ts", "is more than an hour ahead of the server's clock");
			return events_refused(resp, c, &dev, r, &e);
		}
	}
	r = store_begin(c);
	if (r == 0)
		r = ep_device_seen(c, &dev);
	if (r == 0)
		r = oplog_store(c, req, dev.id, &b, now, &through);
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

struct oplog_cursor {
	int64_t ts;
	char device[ULID_SIZE];
	int64_t seq;
};

/* "TS.DEVICE.SEQ", as oplog_cursor_format writes it.  Returns 0 or -EINVAL. */
static int oplog_cursor_parse(const char *s, struct oplog_cursor *cur)
{
	const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	char num[24];

	if (!d1 || !d2 || (size_t)(d1 - s) >= sizeof(num) || (size_t)(d2 - d1 - 1) >= sizeof(cur->device))
		return -EINVAL;
	memcpy(num, s, (size_t)(d1 - s));
	num[d1 - s] = '\0';
	if (str_parse_i64(num, 0, OPLOG_MAX_TS, &cur->ts) < 0)
		return -EINVAL;
	memcpy(cur->device, d1 + 1, (size_t)(d2 - d1 - 1));
	cur->device[d2 - d1 - 1] = '\0';
	if (!ids_is_ulid(cur->device) || str_parse_i64(d2 + 1, 1, OPLOG_MAX_SEQ, &cur->seq) < 0)
		return -EINVAL;
	return 0;
}

static json_t *oplog_row_json(struct store_stmt *q)
{
	const char *text = store_col_text(q, 8);
	json_t *data = text ? json_loads(text, 0, NULL) : NULL;
	json_t *o = json_pack("{s:{s:s, s:s, s:s, s:s?}, s:I, s:s, s:s?, s:o}",
			      "device", "id", store_col_text(q, 0), "hostname", store_col_text(q, 1),
			      "org_unit", store_col_text(q, 2), "owner", store_col_text(q, 9),
			      "seq", (json_int_t)store_col_i64(q, 3), "kind", store_col_text(q, 5),
			      "user", store_col_text(q, 6), "data", data ? data : json_null());

	if (o) {
		jsonx_set_time(o, "ts", store_col_i64(q, 4));
		jsonx_set_time(o, "received_at", store_col_i64(q, 7));
	}
	return o;
}

/*
 * GET /api/v1/endpoint/events and GET /api/v1/devices/{id}/events: events
 * newest first, filtered and scoped.
 */
static int h_events_search(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *device = http_req_param(req, "id"), *person = http_req_query(req, "person");
	const char *kind = http_req_query(req, "kind"), *cursor, *since_s = http_req_query(req, "since");
	const char *until_s = http_req_query(req, "until");
	struct store_arg args[12];
	struct oplog_cursor cur;
	size_t nargs = 0;
	int64_t limit, since = 0, until = 0, n = 0;
	char last[128] = "", path[PRINCIPAL_PATH_SIZE] = "";
	struct store_stmt *q = NULL;
	struct buf sql;
	json_t *items, *filters;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL)) {
		audit_req(req, c, "endpoint.events.read", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	if (!device)
		device = http_req_query(req, "device");
	if (http_req_page(req, OPLOG_SEARCH_DEFAULT, OPLOG_SEARCH_MAX, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && oplog_cursor_parse(cursor, &cur) < 0)
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	if (kind && !oplog_kind_is_known(kind))
		return http_fail(resp, ERR_INVALID, "kind", "kind must be " OPLOG_KIND_LIST);
	if (person && (strlen(person) == 0 || strlen(person) > OPLOG_MAX_STR))
		return http_fail(resp, ERR_INVALID, "person", "person must be 1 to 256 bytes");
	if (since_s && oplog_time_arg(since_s, &since) < 0)
		return http_fail(resp, ERR_INVALID, "since",
				 "since must be an RFC 3339 time such as 2026-11-26T08:00:00Z or Unix milliseconds");
	if (until_s && oplog_time_arg(until_s, &until) < 0)
		return http_fail(resp, ERR_INVALID, "until",
				 "until must be an RFC 3339 time such as 2026-11-26T08:00:00Z or Unix milliseconds");
	if (device) {
		if (!ids_is_ulid(device))
			return http_fail(resp, ERR_NOT_FOUND, "device", "no such device");
		r = store_query(c, "SELECT o.path FROM devices d JOIN org_units o ON o.id = d.org_unit_id WHERE d.id = $1",
				STORE_ARGS(SA_TEXT(device)), &q);
		if (r < 0)
			return r;
		r = store_step(q);
		if (r == 1)
			str_copy(path, sizeof(path), store_col_text(q, 0));
		store_stmt_free(q);
		q = NULL;
		if (r < 0)
			return r;
		if (r == 0 || !endpoint_may(p, ENDPOINT_READ, path)) {
			if (r == 1)
				audit_req(req, c, "endpoint.events.read", "device", device, AUDIT_DENIED, NULL);
			return http_fail(resp, ERR_NOT_FOUND, "device", "no such device");
		}
	}

	buf_init(&sql, 8192);
	buf_puts(&sql, "SELECT e.device_id, d.hostname, o.path, e.seq, e.ts, e.kind, e.username, e.received_at, "
		       "e.data, pw.login FROM device_events e JOIN devices d ON d.id = e.device_id "
		       "JOIN org_units o ON o.id = d.org_unit_id LEFT JOIN people pw ON pw.id = d.owner_id "
		       "WHERE " EP_SCOPE_SQL("o.path", 1));
	args[nargs++] = SA_TEXT(ep_scope(p));
	if (device) {
		args[nargs++] = SA_TEXT(device);
		buf_printf(&sql, " AND e.device_id = $%zu", nargs);
	}
	if (kind) {
		args[nargs++] = SA_TEXT(kind);
		buf_printf(&sql, " AND e.kind = $%zu", nargs);
	}
	if (person) {
		args[nargs++] = SA_TEXT(person);
		buf_printf(&sql, " AND (e.username = $%zu OR e.device_id IN (SELECT d2.id FROM devices d2 "
				 "JOIN people p2 ON p2.id = d2.owner_id WHERE p2.login = $%zu))", nargs, nargs);
	}
	if (since_s) {
		args[nargs++] = SA_I64(since);
		buf_printf(&sql, " AND e.ts >= $%zu", nargs);
	}
	if (until_s) {
		args[nargs++] = SA_I64(until);
		buf_printf(&sql, " AND e.ts < $%zu", nargs);
	}
	if (cursor) {
		args[nargs++] = SA_I64(cur.ts);
		args[nargs++] = SA_TEXT(cur.device);
		args[nargs++] = SA_I64(cur.seq);
		buf_printf(&sql, " AND (e.ts, e.device_id, e.seq) < ($%zu, $%zu, $%zu)", nargs - 2, nargs - 1, nargs);
	}
	args[nargs++] = SA_I64(limit + 1);
	buf_printf(&sql, " ORDER BY e.ts DESC, e.device_id DESC, e.seq DESC LIMIT $%zu", nargs);
	r = sql.data ? store_query(c, sql.data, args, nargs, &q) : -ENOMEM;
	buf_done(&sql);
	if (r < 0)
		return r;
	items = json_array();
	while (items && (r = store_step(q)) == 1) {
		if (n++ == limit)
			break;
		snprintf(last, sizeof(last), "%lld.%s.%lld", (long long)store_col_i64(q, 4), store_col_text(q, 0),
			 (long long)store_col_i64(q, 3));
		json_array_append_new(items, oplog_row_json(q));
	}
	store_stmt_free(q);
	if (!items)
		return -ENOMEM;
	if (r < 0) {
		json_decref(items);
		return r;
	}
	/* Who read whose operation logs, and with which filters (not what was returned). */
	filters = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "device", device, "person", person, "kind", kind,
			    "since", since_s, "until", until_s, "returned", (json_int_t)json_array_size(items));
	audit_req(req, c, "endpoint.events.read", device ? "device" : NULL, device, AUDIT_SUCCESS, filters);
	return http_resp_json(resp, 200, json_pack("{s:o, s:s?}", "items", items, "next",
						   n > limit ? last : NULL));
}

/* ---------------------------------------------------------------- retention */

struct oplog_unit {
	char id[ULID_SIZE];
	char path[PRINCIPAL_PATH_SIZE];
};

/* Every org unit that has devices, into a new array. */
static int oplog_units(struct store_conn *c, struct oplog_unit **ret, size_t *ret_n)
{
	struct oplog_unit *units = NULL, *tmp;
	size_t n = 0, cap = 0;
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT o.id, o.path FROM org_units o "
			   "WHERE EXISTS (SELECT 1 FROM devices d WHERE d.org_unit_id = o.id) ORDER BY o.id",
			STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(units, cap * sizeof(*units));
			if (!tmp) {
				r = -ENOMEM;
				break;
			}
			units = tmp;
		}
		str_copy(units[n].id, sizeof(units[n].id), store_col_text(q, 0));
		str_copy(units[n].path, sizeof(units[n].path), store_col_text(q, 1));
		n++;
	}
	store_stmt_free(q);
	if (r < 0) {
		free(units);
		return r;
	}
	*ret = units;
	*ret_n = n;
	return 0;
}

/* Runs @sql ($1 unit, $2 cutoff, $3 batch) until it removes less than a batch.  Adds to *count. */
static int oplog_purge(struct store_conn *c, const char *sql, const char *unit, int64_t cutoff, int64_t *count)
{
	int r;

	do {
		r = store_exec(c, sql, STORE_ARGS(SA_TEXT(unit), SA_I64(cutoff), SA_I64(OPLOG_SWEEP_BATCH)));
		if (r < 0)
			return r;
		*count += r;
	} while (r == OPLOG_SWEEP_BATCH);
	return 0;
}

int oplog_sweep(struct store_conn *c, int64_t now_ms, struct oplog_sweep_result *ret)
{
	struct oplog_sweep_result res = { 0, 0 };
	struct oplog_unit *units = NULL;
	size_t n = 0, i;
	int r;

	r = oplog_units(c, &units, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		json_t *eff = NULL;
		int64_t version, issued, days = POLICY_DEFAULT_RETENTION_DAYS, cutoff;
		const json_t *d;

		r = ep_policy_effective(c, units[i].path, &eff, &version, &issued, NULL);
		if (r < 0)
			break;
		d = json_object_get(json_object_get(eff, "logging"), "retention_days");
		if (json_is_integer(d) && json_integer_value(d) >= 1)
			days = json_integer_value(d);
		json_decref(eff);
		cutoff = now_ms - days * 86400 * 1000;
		/* Each statement is its own short transaction: a big purge never holds the lock long. */
		r = oplog_purge(c, "DELETE FROM device_events WHERE (device_id, seq) IN ("
				   "SELECT e.device_id, e.seq FROM devices d JOIN device_events e ON e.device_id = d.id "
				   "WHERE d.org_unit_id = $1 AND e.ts < $2 LIMIT $3)",
				units[i].id, cutoff, &res.events);
		if (r == 0)
			r = oplog_purge(c, "DELETE FROM device_reports WHERE id IN ("
					   "SELECT x.id FROM devices d JOIN device_reports x ON x.device_id = d.id "
					   "WHERE d.org_unit_id = $1 AND x.received_at < $2 "
					   "AND (d.last_report_id IS NULL OR x.id <> d.last_report_id) LIMIT $3)",
					units[i].id, cutoff, &res.reports);
	}
	free(units);
	if (res.events || res.reports) {
		struct audit_entry ae = {
			.source = "system", .action = "endpoint.retention", .outcome = AUDIT_SUCCESS,
		};
		json_t *det = json_pack("{s:I, s:I, s:I}", "events_removed", (json_int_t)res.events,
					"reports_removed", (json_int_t)res.reports, "org_units", (json_int_t)n);
		int ar;

		ae.details = det;
		ar = audit_append(c, &ae);
		json_decref(det);
		if (ar < 0)
			log_warn("endpoint: retention audit entry failed", "error=\"%s\"", err_str(ar));
		log_info("endpoint: retention sweep", "events_removed=%lld reports_removed=%lld",
			 (long long)res.events, (long long)res.reports);
	}
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

static _Atomic int64_t oplog_last_sweep;

int oplog_sweep_due(struct store_conn *c, int64_t now_ms)
{
	struct oplog_sweep_result res;
	int64_t last = atomic_load(&oplog_last_sweep);

	if (last && now_ms - last < OPLOG_SWEEP_INTERVAL_MS && now_ms >= last)
		return 0;
	if (!atomic_compare_exchange_strong(&oplog_last_sweep, &last, now_ms))
		return 0;   /* another thread of this process is on it */
	return oplog_sweep(c, now_ms, &res);
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
