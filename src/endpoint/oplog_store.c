/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog_store: operation logs in the store (see oplog.h): a checked batch
 * stored above the device's mark, the search, and the retention sweep.
 * No HTTP: oplog_http.c answers the routes and owns their transactions.
 *
 * Invariants:
 *   - devices.events_through only grows; an event is inserted only when its
 *     seq is above it, and (device_id, seq) is the primary key, so a
 *     retried batch, on any server, adds nothing;
 *   - seqs the device never delivered (events its agent dropped: a full
 *     buffer, an event the server refused) are a gap between the stored
 *     mark and the batch, recorded as an endpoint.events.gap audit entry,
 *     because lost operation logs are themselves evidence;
 *   - the retention sweep deletes in statements of at most
 *     OPLOG_SWEEP_BATCH rows, each its own transaction, and never a
 *     device's latest posture report (devices.last_report_id);
 *   - no event content reaches a log line.
 */
#include "endpoint/oplog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/str.h"
#include "endpoint/ep_common.h"
#include "formats/policy.h"
#include "identity/people.h"
#include "store/page.h"
#include "store/store.h"

/* ---------------------------------------------------------------- ingest */

/* The stored high-water mark of @device_id. */
static int oplog_through(struct store_conn *c, const char *device_id, int64_t *ret)
{
	return store_query_i64(c, "SELECT events_through FROM devices WHERE id = $1", STORE_ARGS(SA_TEXT(device_id)),
			       ret);
}

/* Records that @missing seqs after @after up to @last never arrived from the device.  Inside a transaction. */
static int oplog_gap(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, int64_t after,
		     int64_t last, int64_t missing)
{
	json_t *d = json_pack("{s:I, s:I, s:I}", "missing", (json_int_t)missing, "after_seq", (json_int_t)after,
			      "through_seq", (json_int_t)last);
	int r;

	if (!d)
		return -ENOMEM;
	r = audit_record(c, ctx, "endpoint.events.gap", "device", device_id, AUDIT_FAILURE, d);
	log_warn("endpoint: operation-log events missing", "device=%s missing=%lld after=%lld", device_id,
		 (long long)missing, (long long)after);
	return r;
}

int oplog_store_batch(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id,
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
		r = oplog_gap(c, ctx, device_id, through, b->events[b->n - 1].seq,
			      b->events[b->n - 1].seq - through - added);
	if (r >= 0)
		r = store_exec(c, "UPDATE devices SET events_through = $2 WHERE id = $1 AND events_through < $2",
			       STORE_ARGS(SA_TEXT(device_id), SA_I64(b->events[b->n - 1].seq)));
	if (r < 0)
		return r;
	*ret_through = b->events[b->n - 1].seq;
	return 0;
}

/* ---------------------------------------------------------------- search */

int oplog_cursor_parse(const char *s, struct oplog_cursor *cur)
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

/* Remembers the cursor of the last row taken: "TS.DEVICE.SEQ". */
static json_t *oplog_row(struct store_stmt *q, void *last)
{
	snprintf(last, PAGE_CURSOR_SIZE, "%lld.%s.%lld", (long long)store_col_i64(q, 4), store_col_text(q, 0),
		 (long long)store_col_i64(q, 3));
	return oplog_row_json(q);
}

/* Room for the search's parameters: the scope's (at most 1), the filters' (8), the limit. */
#define OPLOG_SEARCH_ARGS 12

/* Builds the search's query into @sql and @args (OPLOG_SEARCH_ARGS).  Returns 0 or an error of ep_scope_where. */
static int oplog_search_sql(struct buf *sql, struct store_arg *args, size_t *ret_n, const struct principal *p,
			    const struct oplog_filter *f, int64_t limit)
{
	size_t nargs = 0;
	int r;

	buf_puts(sql, "SELECT e.device_id, d.hostname, o.path, e.seq, e.ts, e.kind, e.username, e.received_at, "
		      "e.data, pw.login FROM device_events e JOIN devices d ON d.id = e.device_id"
		      PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id") PEOPLE_SQL_JOIN("pw", "d.owner_id") " WHERE 1 = 1");
	r = ep_scope_where(sql, args, &nargs, OPLOG_SEARCH_ARGS, p, "o.path");
	if (r < 0)
		return r;
	if (f->device) {
		args[nargs++] = SA_TEXT(f->device);
		buf_printf(sql, " AND e.device_id = $%zu", nargs);
	}
	if (f->kind) {
		args[nargs++] = SA_TEXT(f->kind);
		buf_printf(sql, " AND e.kind = $%zu", nargs);
	}
	if (f->person) {
		args[nargs++] = SA_TEXT(f->person);
		/* The event's user, or the login of its device's owner. */
		buf_printf(sql, " AND (e.username = $%zu OR pw.login = $%zu)", nargs, nargs);
	}
	if (f->has_since) {
		args[nargs++] = SA_I64(f->since);
		buf_printf(sql, " AND e.ts >= $%zu", nargs);
	}
	if (f->has_until) {
		args[nargs++] = SA_I64(f->until);
		buf_printf(sql, " AND e.ts < $%zu", nargs);
	}
	if (f->cursor) {
		args[nargs++] = SA_I64(f->cursor->ts);
		args[nargs++] = SA_TEXT(f->cursor->device);
		args[nargs++] = SA_I64(f->cursor->seq);
		buf_printf(sql, " AND (e.ts, e.device_id, e.seq) < ($%zu, $%zu, $%zu)", nargs - 2, nargs - 1, nargs);
	}
	args[nargs++] = SA_I64(limit + 1);
	buf_printf(sql, " ORDER BY e.ts DESC, e.device_id DESC, e.seq DESC LIMIT $%zu", nargs);
	*ret_n = nargs;
	return 0;
}

int oplog_search(struct store_conn *c, const struct principal *p, const struct oplog_filter *f, int64_t limit,
		 json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE])
{
	char last[PAGE_CURSOR_SIZE] = "", more[PAGE_CURSOR_SIZE];
	struct store_arg args[OPLOG_SEARCH_ARGS];
	struct store_stmt *q = NULL;
	size_t nargs = 0;
	struct buf sql;
	int r;

	buf_init(&sql, 8192);
	r = oplog_search_sql(&sql, args, &nargs, p, f, limit);
	if (r == 0)
		r = sql.data ? store_query(c, sql.data, args, nargs, &q) : -ENOMEM;
	buf_done(&sql);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, oplog_row, last, ret_items, more);
	if (r < 0)
		return r;
	/* page_collect tells whether a further page exists; its cursor is the last row's (ts, device, seq). */
	str_copy(ret_next, PAGE_CURSOR_SIZE, more[0] ? last : "");
	return 0;
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

	r = store_query(c, "SELECT DISTINCT d.org_unit_id, o.path FROM devices d" PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id")
			   " ORDER BY d.org_unit_id", STORE_NOARGS, &q);
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

int oplog_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms, struct oplog_sweep_result *ret)
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
		int ar = audit_record(c, ctx, "endpoint.retention", NULL, NULL, AUDIT_SUCCESS,
				      json_pack("{s:I, s:I, s:I}", "events_removed", (json_int_t)res.events,
						"reports_removed", (json_int_t)res.reports, "org_units", (json_int_t)n));

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
