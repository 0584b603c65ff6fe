/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * quarantine: the quarantine state machine, administrators' quarantine and
 * release, intrusion alerts and the quarantine list for network equipment
 * (see quarantine.h).
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

#include <arpa/inet.h>
#include <errno.h>
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
#include "endpoint/eve.h"
#include "http/http.h"
#include "store/store.h"

#define Q_NFT_MAX_BYTES ((size_t)16 << 20)
#define Q_NFT_MAX_TABLE 32

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

/* The device as this transaction sees it. */
struct q_dev {
	char state[16];
	char kind[16];
	char path[PRINCIPAL_PATH_SIZE];
	char reason[QORDER_MAX_REASON + 1];
	int64_t non_compliant_since;   /* 0: none */
	int64_t quarantined_at;
	char last_report_id[ULID_SIZE];
};

static int q_dev_load(struct store_conn *c, const char *device_id, struct q_dev *d)
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT d.state, d.quarantine_kind, o.path, d.quarantine_reason, d.non_compliant_since, "
			   "d.quarantined_at, d.last_report_id FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
			   "WHERE d.id = $1", STORE_ARGS(SA_TEXT(device_id)), &q);
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

/* Who or what made a change: a request (its principal and address) or the system. */
static int q_audit(struct store_conn *c, struct http_req *req, bool as_device, const char *action,
		   const char *device_id, json_t *details)
{
	struct audit_entry ae = {
		.source = req ? http_req_remote(req) : "system", .action = action, .object_type = "device",
		.object_id = device_id, .outcome = AUDIT_SUCCESS, .details = details,
		.request_id = req ? http_req_id(req) : NULL,
	};
	int r;

	if (req && !as_device)
		return audit_req(req, c, action, "device", device_id, AUDIT_SUCCESS, details);
	r = details ? audit_append(c, &ae) : -ENOMEM;
	json_decref(details);
	return r;
}

/*
 * Quarantines @device_id with @kind and @reason (inside the caller's
 * transaction) unless it already is, at the same or a stronger kind.
 * *ret_changed tells whether anything changed.  Audited as @req's
 * principal (or as the device when @as_device), with the fields of @extra
 * (stolen; may be NULL) added to the details.
 */
static int q_apply(struct store_conn *c, struct http_req *req, bool as_device, const char *device_id,
		   const char *kind, const char *reason, json_t *extra, int64_t now, bool *ret_changed)
{
	char clean[QORDER_MAX_REASON + 1];
	struct q_dev d;
	bool was = false;
	json_t *det;
	int r;

	*ret_changed = false;
	r = q_dev_load(c, device_id, &d);
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
	r = q_audit(c, req, as_device, "endpoint.device.quarantine", device_id, det);
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

int quarantine_checkin(struct store_conn *c, struct http_req *req, const char *device_id, bool compliant,
		       const json_t *results, int64_t grace_ms, int64_t now_ms, struct quarantine_state *ret)
{
	const char *eval = compliant ? "compliant" : "non_compliant";
	char reason[QORDER_MAX_REASON + 1];
	struct q_dev d;
	int64_t since = 0;
	bool changed;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = q_dev_load(c, device_id, &d);
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
			r = q_audit(c, req, true, "endpoint.device.release", device_id,
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
			r = q_apply(c, req, true, device_id, "grace", reason, json_pack("{s:O}", "results", results),
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
		r = q_audit(c, req, true, "endpoint.device.state", device_id,
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

int quarantine_sweep(struct store_conn *c, int64_t now_ms)
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
			struct q_dev d;
			int64_t grace = 0;
			bool changed = false;

			str_copy(last, sizeof(last), ids[i]);
			r = store_begin(c);
			if (r < 0)
				break;
			/* Again inside the transaction: a check-in may have come in meanwhile. */
			r = q_dev_load(c, ids[i], &d);
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
				r = q_apply(c, NULL, true, ids[i], "grace", reason, json_pack("{s:s}", "by", "sweep"), now_ms,
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

static json_t *q_addresses(struct store_conn *c, const char *device_id)
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
	struct q_dev d;
	json_t *a, *qo;
	int r;

	r = q_dev_load(c, device_id, &d);
	if (r < 0)
		return r;
	a = q_addresses(c, device_id);
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
 * action: 404 when it does not exist or is outside what @p may read, 403
 * (audited) when @p may read but not act on it.
 */
static int q_device_for(struct http_req *req, struct http_resp *resp, struct store_conn *c, const char *action,
			struct q_dev *d)
{
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	int r;

	r = ids_is_ulid(id) ? q_dev_load(c, id, d) : ERR_NOT_FOUND;
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
	struct q_dev d;
	json_t *out;
	int r;

	r = q_dev_load(c, id, &d);
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
	struct q_dev d;
	json_t *body;
	int r;

	if (!endpoint_may(http_req_principal(req), ENDPOINT_QUARANTINE, NULL)) {
		audit_req(req, c, "endpoint.device.quarantine", "device", id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
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
		r = q_apply(c, req, false, id, infected ? "infected" : "admin", reason,
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
	struct rerr e = { "", "" };
	char reason[QORDER_MAX_REASON + 1], to[16] = "unknown";
	int64_t now = rtime_now_ms();
	struct store_stmt *q = NULL;
	struct q_dev d;
	json_t *body = NULL;
	size_t len = 0;
	int r;

	if (!endpoint_may(http_req_principal(req), ENDPOINT_QUARANTINE, NULL)) {
		audit_req(req, c, "endpoint.device.release", "device", id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
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
		r = q_dev_load(c, id, &d);
	if (r == 0 && strcmp(d.state, "quarantined") != 0) {
		store_rollback(c);
		return http_fail(resp, ERR_CONFLICT, NULL, "the device is not quarantined");
	}
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
			       STORE_ARGS(SA_TEXT(id), SA_TEXT(to),
					  strcmp(to, "non_compliant") == 0 ? SA_I64(now) : SA_NULL));
	if (r == 1)
		r = audit_req(req, c, "endpoint.device.release", "device", id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:s, s:s, s:s}", "kind", d.kind, "previous_reason", d.reason, "to", to,
					"reason", reason));
	else if (r >= 0)
		r = ERR_CONFLICT;
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return q_device_answer(c, id, resp);
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

/* POST /api/v1/endpoint/alerts: Suricata EVE JSON. */
static int h_alerts(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	int64_t max_sev = app->cfg.endpoint_alert_max_severity, now = rtime_now_ms();
	struct eve_batch b = { 0, 0, 0, NULL };
	struct rerr ee = { "", "", 0 };
	char (*ids)[ULID_SIZE] = NULL;
	size_t len = 0, i, k, n, actionable = 0, matched = 0;
	const char *data;
	json_t *quarantined = json_array(), *out;
	int r;

	if (!endpoint_may(p, ENDPOINT_ALERT_POST, NULL)) {
		audit_req(req, c, "endpoint.alerts.post", NULL, NULL, AUDIT_DENIED, NULL);
		json_decref(quarantined);
		return ERR_FORBIDDEN;
	}
	if (!c || !quarantined) {
		json_decref(quarantined);
		return c ? -ENOMEM : ERR_STORE;
	}
	data = http_req_body(req, &len);
	r = eve_parse(data, len, &b, &ee);
	if (r == ERR_INVALID || r == ERR_TOO_LARGE) {
		json_decref(quarantined);
		return http_fail(resp, r, ee.field[0] ? ee.field : NULL, "%s", ee.message);
	}
	ids = r == 0 ? calloc(Q_MAX_MATCH, sizeof(*ids)) : NULL;
	if (r < 0 || !ids) {
		json_decref(quarantined);
		eve_batch_done(&b);
		return r < 0 ? r : -ENOMEM;
	}
	r = store_begin(c);
	for (i = 0; r == 0 && i < b.n_alerts; i++) {
		const struct eve_alert *a = &b.alerts[i];
		char reason[EVE_MAX_SIGNATURE + 2 * EVE_ADDR_SIZE + 96], aid[ULID_SIZE];

		if (a->severity > max_sev)
			continue;
		actionable++;
		n = 0;
		r = q_devices_at(c, a->src_ip, ids, &n, Q_MAX_MATCH);
		if (r == 0)
			r = q_devices_at(c, a->dest_ip, ids, &n, Q_MAX_MATCH);
		if (n)
			matched++;
		snprintf(reason, sizeof(reason), "intrusion alert: %s (sid %lld, severity %d) %s -> %s", a->signature,
			 (long long)a->signature_id, a->severity, a->src_ip, a->dest_ip);
		for (k = 0; r == 0 && k < n; k++) {
			bool changed = false, listed = false;
			size_t j;
			json_t *v;

			ids_ulid(aid, now);
			r = store_exec(c, "INSERT INTO device_alerts (id, device_id, received_at, event_ts, src_ip, dest_ip, "
					  "signature_id, signature, severity, posted_by) "
					  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				       STORE_ARGS(SA_TEXT(aid), SA_TEXT(ids[k]), SA_I64(now), SA_I64(a->ts_ms),
						  SA_TEXT(a->src_ip), SA_TEXT(a->dest_ip), SA_I64(a->signature_id),
						  SA_TEXT(a->signature), SA_I64(a->severity), SA_TEXT(p->person_id)));
			if (r >= 0)
				r = q_apply(c, req, false, ids[k], "infected", reason,
					    json_pack("{s:{s:s, s:I, s:s, s:i, s:s, s:s}}", "alert", "id", aid,
						      "signature_id", (json_int_t)a->signature_id, "signature",
						      a->signature, "severity", a->severity, "src_ip", a->src_ip,
						      "dest_ip", a->dest_ip),
					    now, &changed);
			if (r >= 0 && changed) {
				json_array_foreach(quarantined, j, v) {
					listed = listed || strcmp(json_string_value(v), ids[k]) == 0;
				}
				if (!listed)
					json_array_append_new(quarantined, json_string(ids[k]));
			}
			r = r < 0 ? r : 0;
		}
	}
	if (r == 0)
		r = audit_req(req, c, "endpoint.alerts.post", NULL, NULL, AUDIT_SUCCESS,
			      json_pack("{s:I, s:I, s:I, s:I, s:I, s:O}", "events", (json_int_t)b.events,
					"alerts", (json_int_t)b.n_alerts, "ignored", (json_int_t)b.ignored,
					"actionable", (json_int_t)actionable, "matched", (json_int_t)matched,
					"quarantined", quarantined));
	if (r >= 0)
		r = store_commit(c);
	free(ids);
	if (r < 0) {
		store_rollback(c);
		eve_batch_done(&b);
		json_decref(quarantined);
		return r;
	}
	if (json_array_size(quarantined))
		log_warn("endpoint: intrusion alerts quarantined devices", "count=%zu", json_array_size(quarantined));
	out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "events", (json_int_t)b.events, "alerts",
			(json_int_t)b.n_alerts, "ignored", (json_int_t)b.ignored, "actionable", (json_int_t)actionable,
			"matched", (json_int_t)matched, "max_severity", (json_int_t)max_sev, "quarantined", quarantined);
	eve_batch_done(&b);
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- quarantine list */

#define Q_LIST_COLS \
	"SELECT d.id, d.hostname, o.id, o.path, d.quarantined_at, d.quarantine_kind, d.quarantine_reason " \
	"FROM devices d JOIN org_units o ON o.id = d.org_unit_id "

/* GET /api/v1/endpoint/quarantine: quarantined devices in scope, with their addresses. */
static int h_qlist(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *cursor;
	int64_t limit, n = 0;
	char last[ULID_SIZE] = "";
	struct store_stmt *q = NULL;
	json_t *items, *it;
	size_t i;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (http_req_page(req, app->cfg.max_list, app->cfg.max_list, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	r = store_query(c, Q_LIST_COLS "WHERE d.state = 'quarantined' AND ($1 = '' OR d.id > $1) AND "
			   EP_SCOPE_SQL("o.path", 2) " ORDER BY d.id LIMIT $3",
			STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(ep_scope(p)), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	items = json_array();
	while ((r = store_step(q)) == 1) {
		if (n++ == limit)
			break;
		str_copy(last, sizeof(last), store_col_text(q, 0));
		it = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s?, s:s?}", "device_id", store_col_text(q, 0),
			       "hostname", store_col_text(q, 1), "org_unit", "id", store_col_text(q, 2), "path",
			       store_col_text(q, 3), "kind", store_col_text(q, 5), "reason", store_col_text(q, 6));
		if (it)
			jsonx_set_time(it, "since", store_col_is_null(q, 4) ? 0 : store_col_i64(q, 4));
		json_array_append_new(items, it);
	}
	store_stmt_free(q);
	json_array_foreach(items, i, it) {
		json_t *a;

		if (r < 0)
			break;
		a = q_addresses(c, json_string_value(json_object_get(it, "device_id")));
		if (!a)
			r = ERR_STORE;
		else
			json_object_set_new(it, "addresses", a);
	}
	if (r < 0) {
		json_decref(items);
		return r;
	}
	return http_resp_json(resp, 200, json_pack("{s:o, s:s?}", "items", items, "next", n > limit ? last : NULL));
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
	struct store_stmt *q = NULL;
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
		r = store_query(c, "SELECT DISTINCT a.address, a.family FROM device_addresses a "
				   "JOIN devices d ON d.id = a.device_id JOIN org_units o ON o.id = d.org_unit_id "
				   "WHERE d.state = 'quarantined' AND " EP_SCOPE_SQL("o.path", 1)
				   " ORDER BY a.family, a.address", STORE_ARGS(SA_TEXT(ep_scope(p))), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		char canon[EVE_ADDR_SIZE];
		int fam;

		/* Printed back by inet_ntop: nothing but an address reaches the script. */
		if (eve_addr_canon(store_col_text(q, 0), canon, &fam) == 0)
			json_array_append_new(fam == 4 ? v4 : v6, json_string(canon));
		r = 0;
	}
	store_stmt_free(q);
	if (r == 0)
		r = store_query_i64(c, "SELECT count(*) FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
				       "WHERE d.state = 'quarantined' AND " EP_SCOPE_SQL("o.path", 1),
				    STORE_ARGS(SA_TEXT(ep_scope(p))), &devices);
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
