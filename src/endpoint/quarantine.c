/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * quarantine: the quarantine decision and its store (see quarantine.h):
 * the state machine a check-in runs, administrators' quarantine and
 * release, quarantine by intrusion alerts, the sweep of devices whose grace
 * ran out offline, the signed order and what the device API and the
 * quarantine list show.  No HTTP: its routes are quarantine_http.c's, and
 * every change is audited as the struct audit_ctx its caller passes.
 *
 * Invariants:
 *   - every change of devices.state made here happens inside a transaction
 *     that re-reads the device first (BEGIN IMMEDIATE on SQLite; on a shared
 *     database the conditional UPDATE on the state read makes a concurrent
 *     change lose instead of being overwritten) and appends its audit entry
 *     in the same transaction;
 *   - a quarantine kind only ever grows stronger until a release;
 *   - nothing a client sent reaches the nftables file unless it parsed as
 *     an address and was printed back by inet_ntop.
 */
#include "endpoint/quarantine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "endpoint/ep_common.h"
#include "endpoint/eve.h"
#include "formats/policy.h"
#include "identity/people.h"
#include "store/page.h"
#include "store/store.h"

/* A device's unit, as o (o.path). */
#define Q_DEVICE_UNIT PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id")

/* ---------------------------------------------------------------- kinds */

static int q_kind_rank(const char *kind)
{
	if (!kind)
		return 0;
	if (strcmp(kind, "grace") == 0)
		return 1;
	if (strcmp(kind, "admin") == 0)
		return 2;
	if (strcmp(kind, "infected") == 0)
		return 3;
	return 0;
}

int quarantine_device_load(struct store_conn *c, const char *device_id, struct quarantine_device *d)
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT d.state, d.quarantine_kind, o.path, d.quarantine_reason, d.non_compliant_since, "
			   "d.quarantined_at, d.last_report_id FROM devices d" Q_DEVICE_UNIT " WHERE d.id = $1",
			STORE_ARGS(SA_TEXT(device_id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		memset(d, 0, sizeof(*d));
		str_copy(d->state, sizeof(d->state), store_col_text(q, 0));
		if (!store_col_is_null(q, 1))
			str_copy(d->kind, sizeof(d->kind), store_col_text(q, 1));
		str_copy(d->path, sizeof(d->path), store_col_text(q, 2));
		if (!store_col_is_null(q, 3))
			str_copy(d->reason, sizeof(d->reason), store_col_text(q, 3));
		d->non_compliant_since = store_col_is_null(q, 4) ? 0 : store_col_i64(q, 4);
		d->quarantined_at = store_col_is_null(q, 5) ? 0 : store_col_i64(q, 5);
		if (!store_col_is_null(q, 6))
			str_copy(d->last_report_id, sizeof(d->last_report_id), store_col_text(q, 6));
		r = 0;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

int quarantine_set(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, const char *kind,
		   const char *reason, json_t *extra, int64_t now, bool *ret_changed)
{
	char clean[QORDER_MAX_REASON + 1];
	struct quarantine_device d;
	bool was = false;
	json_t *det;
	int r;

	*ret_changed = false;
	r = quarantine_device_load(c, device_id, &d);
	if (r < 0) {
		json_decref(extra);
		return r;
	}
	was = strcmp(d.state, "quarantined") == 0;
	if (was && q_kind_rank(d.kind) >= q_kind_rank(kind)) {
		json_decref(extra);
		return 0;
	}
	qorder_reason_clean(clean, reason);
	r = store_exec(c, "UPDATE devices SET state = 'quarantined', quarantine_kind = $2, quarantine_reason = $3, "
			  "quarantined_at = coalesce(CASE WHEN state = 'quarantined' THEN quarantined_at END, $4), "
			  "infected = CASE WHEN $2 = 'infected' THEN 1 ELSE infected END "
			  "WHERE id = $1 AND state = $5",
		       STORE_ARGS(SA_TEXT(device_id), SA_TEXT(kind), SA_TEXT(clean), SA_I64(now), SA_TEXT(d.state)));
	if (r != 1) {
		json_decref(extra);
		return r < 0 ? r : ERR_CONFLICT;   /* changed under us: the caller's transaction is rolled back */
	}
	det = json_pack("{s:s, s:s, s:s, s:s*}", "from", d.state, "kind", kind, "reason", clean,
			"previous_kind", d.kind[0] ? d.kind : NULL);
	if (det && extra)
		json_object_update(det, extra);
	json_decref(extra);
	r = audit_record(c, ctx, "endpoint.device.quarantine", "device", device_id, AUDIT_SUCCESS, det);
	if (r < 0)
		return r;
	*ret_changed = true;
	return 0;
}

/* ---------------------------------------------------------------- check-in */

struct q_addr {
	char text[EVE_ADDR_SIZE];
	int family;
	const char *source;
};

static int q_addr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct q_addr *)a)->text, ((const struct q_addr *)b)->text);
}

/* Adds @text to @set unless it is there already (the first source wins). */
static void q_addr_add(struct q_addr *set, size_t *n, const char *text, int family, const char *source)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(set[i].text, text) == 0)
			return;
	str_copy(set[*n].text, sizeof(set[*n].text), text);
	set[*n].family = family;
	set[*n].source = source;
	(*n)++;
}

/* True when the device's stored addresses are exactly @set (sorted). */
static int q_addr_same(struct store_conn *c, const char *device_id, const struct q_addr *set, size_t n, bool *ret)
{
	struct q_addr old[QUARANTINE_MAX_ADDRESSES + 1];
	struct store_stmt *q = NULL;
	size_t k = 0, i;
	bool same = true;
	int r;

	r = store_query(c, "SELECT address, source FROM device_addresses WHERE device_id = $1",
			STORE_ARGS(SA_TEXT(device_id)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		if (k == n) {
			same = false;
			r = 0;
			break;
		}
		str_copy(old[k].text, sizeof(old[k].text), store_col_text(q, 0));
		old[k].source = strcmp(store_col_text(q, 1), "report") == 0 ? "report" : "remote";
		k++;
		r = 0;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (same && k != n)
		same = false;
	qsort(old, k, sizeof(old[0]), q_addr_cmp);
	for (i = 0; same && i < n; i++)
		same = strcmp(old[i].text, set[i].text) == 0 && strcmp(old[i].source, set[i].source) == 0;
	*ret = same;
	return 0;
}

int quarantine_addresses_set(struct store_conn *c, const char *device_id, const json_t *addresses,
			     const char *remote, int64_t now_ms, struct rerr *e)
{
	struct q_addr set[QUARANTINE_MAX_ADDRESSES + 1];
	char canon[EVE_ADDR_SIZE];
	struct store_stmt *ins = NULL;
	const json_t *it;
	size_t i, n = 0;
	bool same = false;
	int fam, r;

	if (addresses && !json_is_null(addresses)) {
		if (!json_is_array(addresses) || json_array_size(addresses) > QUARANTINE_MAX_ADDRESSES)
			return jsonx_fail(e, "addresses", "addresses must be an array of at most %d IP addresses",
					  QUARANTINE_MAX_ADDRESSES);
		json_array_foreach(addresses, i, it) {
			if (eve_addr_canon(json_string_value(it), canon, &fam) < 0)
				return jsonx_fail(e, "addresses", "addresses[%zu] is not an IPv4 or IPv6 address", i);
			q_addr_add(set, &n, canon, fam, "report");
		}
	}
	/* The address the check-in came from, unless it is this host (tests, a local proxy). */
	if (remote && eve_addr_canon(remote, canon, &fam) == 0 && strcmp(canon, "::1") != 0 &&
	    strncmp(canon, "127.", 4) != 0)
		q_addr_add(set, &n, canon, fam, "remote");
	qsort(set, n, sizeof(set[0]), q_addr_cmp);
	/* Most check-ins change nothing: then nothing is written. */
	r = q_addr_same(c, device_id, set, n, &same);
	if (r < 0 || same)
		return r;
	r = store_exec(c, "DELETE FROM device_addresses WHERE device_id = $1", STORE_ARGS(SA_TEXT(device_id)));
	if (r >= 0)
		r = store_query(c, "INSERT INTO device_addresses (device_id, address, family, source, seen_at) "
				   "VALUES ($1, $2, $3, $4, $5)", STORE_NOARGS, &ins);
	for (i = 0; r >= 0 && i < n; i++)
		r = store_stmt_exec(ins, STORE_ARGS(SA_TEXT(device_id), SA_TEXT(set[i].text), SA_I64(set[i].family),
						    SA_TEXT(set[i].source), SA_I64(now_ms)));
	store_stmt_free(ins);
	return r < 0 ? r : 0;
}

static void q_grace_text(char *out, size_t size, int64_t ms)
{
	if (ms % 86400000 == 0 && ms > 0)
		snprintf(out, size, "%lldd", (long long)(ms / 86400000));
	else if (ms % 3600000 == 0 && ms > 0)
		snprintf(out, size, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms > 0)
		snprintf(out, size, "%lldm", (long long)(ms / 60000));
	else
		snprintf(out, size, "%llds", (long long)(ms / 1000));
}

/* "non-compliant for 2d, past the grace period of 24h: antivirus_signatures, ..." */
static void q_grace_reason(char out[QORDER_MAX_REASON + 1], const json_t *results, int64_t grace_ms,
			   int64_t since, int64_t now)
{
	char g[24], t[40], text[512];
	const json_t *it;
	size_t i, o;
	int n;

	q_grace_text(g, sizeof(g), grace_ms);
	n = snprintf(text, sizeof(text), "non-compliant since %s, past the grace period of %s; failing:",
		     rtime_format(t, sizeof(t), since), g);
	o = n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0;
	json_array_foreach(results, i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));

		if (!id || json_is_true(json_object_get(it, "pass")))
			continue;
		n = snprintf(text + o, sizeof(text) - o, " %s", id);
		if (n < 0 || (size_t)n >= sizeof(text) - o)
			break;
		o += (size_t)n;
	}
	(void)now;
	qorder_reason_clean(out, text);
}

enum quarantine_step quarantine_decide(const char *state, const char *kind, int64_t since_ms, bool compliant,
				       int64_t grace_ms, int64_t now_ms, int64_t *ret_since)
{
	int64_t since = compliant ? 0 : since_ms ? since_ms : now_ms;

	/* A clock started by a server whose time runs ahead counts from now, never backwards. */
	if (since > now_ms)
		since = now_ms;
	*ret_since = since;
	if (state && strcmp(state, "quarantined") == 0)
		return kind && strcmp(kind, "grace") == 0 && compliant ? QUARANTINE_RELEASE : QUARANTINE_STAY;
	if (compliant)
		return QUARANTINE_EVALUATED;
	return now_ms - since >= grace_ms ? QUARANTINE_START : QUARANTINE_EVALUATED;
}

/* The grace clock as a store argument: NULL when stopped. */
static struct store_arg q_since_arg(int64_t since)
{
	return since ? SA_I64(since) : SA_NULL;
}

int quarantine_checkin(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, bool compliant,
		       const json_t *results, int64_t grace_ms, int64_t now_ms, struct quarantine_state *ret)
{
	const char *eval = compliant ? "compliant" : "non_compliant";
	char reason[QORDER_MAX_REASON + 1];
	struct quarantine_device d;
	int64_t since = 0;
	bool changed;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = quarantine_device_load(c, device_id, &d);
	if (r < 0)
		return r;
	/*
	 * Every UPDATE below is conditional on the state just read: on a
	 * database shared by several servers, an administrator's quarantine
	 * that lands in between wins, and this check-in fails (ERR_CONFLICT)
	 * rather than overwrite it; the agent checks in again.
	 */
	switch (quarantine_decide(d.state, d.kind, d.non_compliant_since, compliant, grace_ms, now_ms, &since)) {
	case QUARANTINE_RELEASE:
		/* Back in line: the grace quarantine ends by itself. */
		r = store_exec(c, "UPDATE devices SET state = 'compliant', non_compliant_since = NULL, "
				  "quarantined_at = NULL, quarantine_kind = NULL, quarantine_reason = NULL "
				  "WHERE id = $1 AND state = 'quarantined' AND quarantine_kind = 'grace'",
			       STORE_ARGS(SA_TEXT(device_id)));
		if (r == 1)
			r = audit_record(c, ctx, "endpoint.device.release", "device", device_id, AUDIT_SUCCESS,
					 json_pack("{s:s, s:s, s:s, s:s}", "kind", "grace", "to", "compliant", "reason",
						   "compliant check-in", "by", "device"));
		else if (r >= 0)
			r = ERR_CONFLICT;
		if (r < 0)
			return r;
		str_copy(ret->state, sizeof(ret->state), "compliant");
		return 0;
	case QUARANTINE_STAY:
		r = store_exec(c, "UPDATE devices SET non_compliant_since = $2 WHERE id = $1 AND state = 'quarantined'",
			       STORE_ARGS(SA_TEXT(device_id), q_since_arg(since)));
		if (r < 0)
			return r;
		str_copy(ret->state, sizeof(ret->state), "quarantined");
		ret->quarantined = true;
		str_copy(ret->kind, sizeof(ret->kind), d.kind);
		str_copy(ret->reason, sizeof(ret->reason), d.reason);
		return 0;
	case QUARANTINE_START:
		q_grace_reason(reason, results, grace_ms, since, now_ms);
		r = store_exec(c, "UPDATE devices SET non_compliant_since = $2 WHERE id = $1 AND state = $3",
			       STORE_ARGS(SA_TEXT(device_id), SA_I64(since), SA_TEXT(d.state)));
		if (r == 1)
			r = quarantine_set(c, ctx, device_id, "grace", reason, json_pack("{s:O}", "results", results),
					   now_ms, &changed);
		else if (r >= 0)
			r = ERR_CONFLICT;
		if (r < 0)
			return r;
		str_copy(ret->state, sizeof(ret->state), "quarantined");
		ret->quarantined = true;
		str_copy(ret->kind, sizeof(ret->kind), "grace");
		str_copy(ret->reason, sizeof(ret->reason), reason);
		return 0;
	case QUARANTINE_EVALUATED:
		break;
	}
	r = store_exec(c, "UPDATE devices SET state = $2, non_compliant_since = $3 WHERE id = $1 AND state = $4",
		       STORE_ARGS(SA_TEXT(device_id), SA_TEXT(eval), q_since_arg(since), SA_TEXT(d.state)));
	if (r >= 0 && r != 1)
		r = ERR_CONFLICT;
	if (r >= 0 && strcmp(d.state, eval) != 0)
		r = audit_record(c, ctx, "endpoint.device.state", "device", device_id, AUDIT_SUCCESS,
				 json_pack("{s:s, s:s, s:O}", "from", d.state, "to", eval, "results", results));
	if (r < 0)
		return r;
	str_copy(ret->state, sizeof(ret->state), eval);
	return 0;
}

#define Q_SWEEP_BATCH 64
#define Q_SWEEP_CACHE 32

struct q_grace_cache {
	char path[PRINCIPAL_PATH_SIZE];
	int64_t grace_ms;
};

/* The effective grace period of the unit at @path, remembered for the sweep's other devices there. */
static int q_grace_of(struct store_conn *c, const char *path, struct q_grace_cache *cache, size_t *next,
		      int64_t *ret)
{
	int64_t version, issued;
	json_t *eff = NULL;
	size_t i;
	int r;

	for (i = 0; i < Q_SWEEP_CACHE; i++)
		if (cache[i].path[0] && strcmp(cache[i].path, path) == 0) {
			*ret = cache[i].grace_ms;
			return 0;
		}
	r = ep_policy_effective(c, path, &eff, &version, &issued, NULL);
	if (r < 0)
		return r;
	r = policy_grace_ms(eff, ret) < 0 ? ERR_INTERNAL : 0;
	json_decref(eff);
	if (r == 0) {
		str_copy(cache[*next].path, sizeof(cache[*next].path), path);
		cache[*next].grace_ms = *ret;
		*next = (*next + 1) % Q_SWEEP_CACHE;
	}
	return r;
}

int quarantine_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms)
{
	struct q_grace_cache *cache = calloc(Q_SWEEP_CACHE, sizeof(*cache));
	char ids[Q_SWEEP_BATCH][ULID_SIZE], last[ULID_SIZE] = "";
	size_t next = 0;
	struct store_stmt *q = NULL;
	int r = 0, n, i, count = 0;

	if (!cache)
		return -ENOMEM;
	do {
		r = store_query(c, "SELECT id FROM devices WHERE non_compliant_since IS NOT NULL AND "
				   "state IN ('non_compliant', 'unknown') AND id > $1 ORDER BY id LIMIT $2",
				STORE_ARGS(SA_TEXT(last), SA_I64(Q_SWEEP_BATCH)), &q);
		n = 0;
		while (r == 0 && (r = store_step(q)) == 1 && n < Q_SWEEP_BATCH) {
			str_copy(ids[n++], ULID_SIZE, store_col_text(q, 0));
			r = 0;
		}
		store_stmt_free(q);
		q = NULL;
		if (r < 0)
			break;
		for (i = 0; i < n && r >= 0; i++) {
			char reason[QORDER_MAX_REASON + 1], g[24], t[40], text[256];
			struct quarantine_device d;
			int64_t grace = 0;
			bool changed = false;

			str_copy(last, sizeof(last), ids[i]);
			r = store_begin(c);
			if (r < 0)
				break;
			/* Again inside the transaction: a check-in may have come in meanwhile. */
			r = quarantine_device_load(c, ids[i], &d);
			if (r == 0 && d.non_compliant_since &&
			    (strcmp(d.state, "non_compliant") == 0 || strcmp(d.state, "unknown") == 0))
				r = q_grace_of(c, d.path, cache, &next, &grace);
			else if (r == 0)
				d.non_compliant_since = 0;
			if (r == 0 && d.non_compliant_since && now_ms - d.non_compliant_since >= grace) {
				q_grace_text(g, sizeof(g), grace);
				snprintf(text, sizeof(text), "non-compliant since %s, past the grace period of %s, "
					 "without a compliant check-in since", rtime_format(t, sizeof(t), d.non_compliant_since), g);
				qorder_reason_clean(reason, text);
				r = quarantine_set(c, ctx, ids[i], "grace", reason, json_pack("{s:s}", "by", "sweep"), now_ms,
						   &changed);
			}
			if (r == ERR_NOT_FOUND || r == ERR_CONFLICT) {
				store_rollback(c);
				r = 0;
				continue;
			}
			if (r >= 0)
				r = store_commit(c);
			if (r < 0)
				store_rollback(c);
			else if (changed)
				count++;
		}
	} while (r >= 0 && n == Q_SWEEP_BATCH);
	free(cache);
	return r < 0 ? r : count;
}

int quarantine_order(const char *device_id, const struct quarantine_state *qs, int64_t now_ms, json_t **ret)
{
	const unsigned char *sk = ep_policy_sk();

	if (!sk)
		return ERR_UNAVAILABLE;
	return qorder_sign(device_id, qs->quarantined, qs->quarantined ? qs->reason : "", now_ms, sk, ret);
}

/* ---------------------------------------------------------------- device details */

json_t *quarantine_addresses_json(struct store_conn *c, const char *device_id)
{
	struct store_stmt *q = NULL;
	json_t *a = json_array();
	int r;

	r = store_query(c, "SELECT address FROM device_addresses WHERE device_id = $1 ORDER BY family, address",
			STORE_ARGS(SA_TEXT(device_id)), &q);
	while (r == 0 && a && (r = store_step(q)) == 1) {
		json_array_append_new(a, json_string(store_col_text(q, 0)));
		r = 0;
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

#define Q_SHOW_ALERTS 20

/* The device's latest intrusion alerts, newest first. */
static json_t *q_alerts(struct store_conn *c, const char *device_id)
{
	struct store_stmt *q = NULL;
	json_t *a = json_array(), *it;
	int r;

	r = store_query(c, "SELECT received_at, event_ts, src_ip, dest_ip, signature_id, signature, severity "
			   "FROM device_alerts WHERE device_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
			STORE_ARGS(SA_TEXT(device_id), SA_I64(Q_SHOW_ALERTS)), &q);
	while (r == 0 && a && (r = store_step(q)) == 1) {
		it = json_pack("{s:s, s:s, s:I, s:s, s:I}", "src_ip", store_col_text(q, 2), "dest_ip",
			       store_col_text(q, 3), "signature_id", (json_int_t)store_col_i64(q, 4), "signature",
			       store_col_text(q, 5), "severity", (json_int_t)store_col_i64(q, 6));
		if (it) {
			jsonx_set_time(it, "received_at", store_col_i64(q, 0));
			jsonx_set_time(it, "timestamp", store_col_i64(q, 1));
		}
		json_array_append_new(a, it);
		r = 0;
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int quarantine_device_json(struct store_conn *c, const char *device_id, json_t *out)
{
	struct quarantine_device d;
	json_t *a, *qo;
	int r;

	r = quarantine_device_load(c, device_id, &d);
	if (r < 0)
		return r;
	a = quarantine_addresses_json(c, device_id);
	if (!a)
		return ERR_STORE;
	json_object_set_new(out, "addresses", a);
	a = q_alerts(c, device_id);
	if (!a)
		return ERR_STORE;
	json_object_set_new(out, "alerts", a);
	if (strcmp(d.state, "quarantined") != 0) {
		json_object_set_new(out, "quarantine", json_null());
	} else {
		qo = json_pack("{s:s, s:s}", "kind", d.kind, "reason", d.reason);
		if (qo)
			jsonx_set_time(qo, "since", d.quarantined_at);
		json_object_set_new(out, "quarantine", qo);
	}
	if (d.non_compliant_since)
		jsonx_set_time(out, "non_compliant_since", d.non_compliant_since);
	else
		json_object_set_new(out, "non_compliant_since", json_null());
	return 0;
}

/* ---------------------------------------------------------------- administrators */

int quarantine_release(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, const char *reason,
		       int64_t now_ms, struct rerr *e)
{
	char to[16] = "unknown";
	struct store_stmt *q = NULL;
	struct quarantine_device d;
	int r;

	r = quarantine_device_load(c, device_id, &d);
	if (r == 0 && strcmp(d.state, "quarantined") != 0)
		return rerr_set(e, ERR_CONFLICT, NULL, "the device is not quarantined");
	if (r == 0 && d.last_report_id[0]) {
		r = store_query(c, "SELECT state FROM device_reports WHERE id = $1", STORE_ARGS(SA_TEXT(d.last_report_id)),
				&q);
		if (r == 0 && (r = store_step(q)) == 1)
			str_copy(to, sizeof(to), store_col_text(q, 0));
		store_stmt_free(q);
		r = r < 0 ? r : 0;
	}
	if (r == 0 && strcmp(to, "compliant") != 0 && strcmp(to, "non_compliant") != 0)
		str_copy(to, sizeof(to), "unknown");
	/* The grace clock restarts: a still non-compliant device gets its whole grace period again. */
	if (r == 0)
		r = store_exec(c, "UPDATE devices SET state = $2, non_compliant_since = $3, quarantined_at = NULL, "
				  "quarantine_kind = NULL, quarantine_reason = NULL, infected = 0 "
				  "WHERE id = $1 AND state = 'quarantined'",
			       STORE_ARGS(SA_TEXT(device_id), SA_TEXT(to),
					  strcmp(to, "non_compliant") == 0 ? SA_I64(now_ms) : SA_NULL));
	if (r == 1)
		r = audit_record(c, ctx, "endpoint.device.release", "device", device_id, AUDIT_SUCCESS,
				 json_pack("{s:s, s:s, s:s, s:s}", "kind", d.kind, "previous_reason", d.reason, "to", to,
					   "reason", reason));
	else if (r >= 0)
		r = ERR_CONFLICT;
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- intrusion alerts */

/* Devices known by @addr: appended to @ids (at most @max, no duplicates). */
static int q_devices_at(struct store_conn *c, const char *addr, char (*ids)[ULID_SIZE], size_t *n, size_t max)
{
	struct store_stmt *q = NULL;
	size_t i;
	int r;

	r = store_query(c, "SELECT DISTINCT device_id FROM device_addresses WHERE address = $1 ORDER BY device_id",
			STORE_ARGS(SA_TEXT(addr)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *id = store_col_text(q, 0);
		bool dup = false;

		for (i = 0; i < *n; i++)
			dup = dup || strcmp(ids[i], id) == 0;
		if (!dup && *n < max)
			str_copy(ids[(*n)++], ULID_SIZE, id);
		r = 0;
	}
	store_stmt_free(q);
	return r;
}

#define Q_MAX_MATCH 64   /* devices one alert may name */

/* Adds @id to the array @list unless it is there. */
static void q_list_add(json_t *list, const char *id)
{
	const json_t *v;
	bool listed = false;
	size_t j;

	json_array_foreach(list, j, v) {
		listed = listed || strcmp(json_string_value(v), id) == 0;
	}
	if (!listed)
		json_array_append_new(list, json_string(id));
}

/*
 * Records alert @a against each of the @n devices @ids and quarantines
 * them as infected, adding those it quarantined to @quarantined.  Inside
 * the caller's transaction.  Returns 0 or an error.
 */
static int q_alert_apply(struct store_conn *c, const struct audit_ctx *ctx, const struct eve_alert *a,
			 char (*ids)[ULID_SIZE], size_t n, const char *posted_by, int64_t now, json_t *quarantined)
{
	char reason[EVE_MAX_SIGNATURE + 2 * EVE_ADDR_SIZE + 96], aid[ULID_SIZE];
	int r = 0;

	snprintf(reason, sizeof(reason), "intrusion alert: %s (sid %lld, severity %d) %s -> %s", a->signature,
		 (long long)a->signature_id, a->severity, a->src_ip, a->dest_ip);
	for (size_t k = 0; r == 0 && k < n; k++) {
		bool changed = false;

		ids_ulid(aid, now);
		r = store_exec(c, "INSERT INTO device_alerts (id, device_id, received_at, event_ts, src_ip, dest_ip, "
				  "signature_id, signature, severity, posted_by) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			       STORE_ARGS(SA_TEXT(aid), SA_TEXT(ids[k]), SA_I64(now), SA_I64(a->ts_ms),
					  SA_TEXT(a->src_ip), SA_TEXT(a->dest_ip), SA_I64(a->signature_id),
					  SA_TEXT(a->signature), SA_I64(a->severity), SA_TEXT(posted_by)));
		if (r >= 0)
			r = quarantine_set(c, ctx, ids[k], "infected", reason,
					   json_pack("{s:{s:s, s:I, s:s, s:i, s:s, s:s}}", "alert", "id", aid,
						     "signature_id", (json_int_t)a->signature_id, "signature",
						     a->signature, "severity", a->severity, "src_ip", a->src_ip,
						     "dest_ip", a->dest_ip),
					   now, &changed);
		if (r >= 0 && changed)
			q_list_add(quarantined, ids[k]);
		r = r < 0 ? r : 0;
	}
	return r;
}

int quarantine_alerts_apply(struct store_conn *c, const struct audit_ctx *ctx, const struct eve_batch *b,
			    int64_t max_severity, const char *posted_by, int64_t now_ms, struct quarantine_alerts *ret)
{
	char (*ids)[ULID_SIZE] = calloc(Q_MAX_MATCH, sizeof(*ids));
	size_t i, n;
	int r = 0;

	if (!ids)
		return -ENOMEM;
	for (i = 0; r == 0 && i < b->n_alerts; i++) {
		const struct eve_alert *a = &b->alerts[i];

		if (a->severity > max_severity)
			continue;
		ret->actionable++;
		n = 0;
		r = q_devices_at(c, a->src_ip, ids, &n, Q_MAX_MATCH);
		if (r == 0)
			r = q_devices_at(c, a->dest_ip, ids, &n, Q_MAX_MATCH);
		if (n)
			ret->matched++;
		if (r == 0)
			r = q_alert_apply(c, ctx, a, ids, n, posted_by, now_ms, ret->quarantined);
	}
	free(ids);
	return r;
}

/* ---------------------------------------------------------------- lists for network equipment */

#define Q_LIST_COLS \
	"SELECT d.id, d.hostname, d.org_unit_id, o.path, d.quarantined_at, d.quarantine_kind, d.quarantine_reason " \
	"FROM devices d" Q_DEVICE_UNIT " "

static json_t *q_list_row(struct store_stmt *q, void *ud)
{
	json_t *it = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s?, s:s?}", "device_id", store_col_text(q, 0),
			       "hostname", store_col_text(q, 1), "org_unit", "id", store_col_text(q, 2), "path",
			       store_col_text(q, 3), "kind", store_col_text(q, 5), "reason", store_col_text(q, 6));

	(void)ud;
	if (it)
		jsonx_set_time(it, "since", store_col_is_null(q, 4) ? 0 : store_col_i64(q, 4));
	return it;
}

int quarantine_list(struct store_conn *c, const struct principal *p, const char *cursor, int64_t limit,
		    json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE])
{
	struct store_stmt *q = NULL;
	json_t *items = NULL, *it;
	size_t i;
	int r;

	r = ep_query_scoped(c, p, Q_LIST_COLS "WHERE d.state = 'quarantined' AND ($1 = '' OR d.id > $1)", "o.path",
			    " ORDER BY d.id LIMIT $2", STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, q_list_row, NULL, &items, ret_next);
	json_array_foreach(items, i, it) {
		json_t *a;

		if (r < 0)
			break;
		a = quarantine_addresses_json(c, json_string_value(json_object_get(it, "device_id")));
		if (!a)
			r = ERR_STORE;
		else
			json_object_set_new(it, "addresses", a);
	}
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	return 0;
}

int quarantine_nft_addresses(struct store_conn *c, const struct principal *p, json_t *v4, json_t *v6,
			     int64_t *ret_devices)
{
	struct store_stmt *q = NULL;
	int r;

	r = ep_query_scoped(c, p, "SELECT DISTINCT a.address, a.family FROM device_addresses a "
				  "JOIN devices d ON d.id = a.device_id" Q_DEVICE_UNIT " WHERE d.state = 'quarantined'",
			    "o.path", " ORDER BY a.family, a.address", STORE_NOARGS, &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		char canon[EVE_ADDR_SIZE];
		int fam;

		/* Printed back by inet_ntop: nothing but an address reaches the script. */
		if (eve_addr_canon(store_col_text(q, 0), canon, &fam) == 0)
			json_array_append_new(fam == 4 ? v4 : v6, json_string(canon));
		r = 0;
	}
	store_stmt_free(q);
	q = NULL;
	if (r == 0)
		r = ep_query_scoped(c, p, "SELECT count(*) FROM devices d" Q_DEVICE_UNIT " WHERE d.state = 'quarantined'",
				    "o.path", "", STORE_NOARGS, &q);
	if (r == 0) {
		r = store_step(q);
		if (r == 1)
			*ret_devices = store_col_i64(q, 0);
		r = r < 0 ? r : 0;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}
