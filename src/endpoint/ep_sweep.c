/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_sweep: the endpoint platform's periodic work (see endpoint.h): devices
 * that missed their check-ins become unknown (endpoint_sweep), devices
 * whose grace ran out offline are quarantined (quarantine_sweep), and
 * operation logs and reports past their retention go (oplog_sweep); a
 * ticker runs the three, POST /api/v1/endpoint/sweep runs them at once.
 *
 * The ticker's three are jobs (store/job.h) every server offers to run:
 * "endpoint.sweep" and "endpoint.quarantine" once per sweeper interval,
 * "endpoint.retention" once per OPLOG_SWEEP_INTERVAL_MS, each run by the
 * one server that claims it in the database.  The route claims nothing.
 *
 * Invariants:
 *   - every change is a conditional UPDATE in a short transaction of its
 *     own, so that several servers sweeping one database change each
 *     device once, and a check-in that lands meanwhile wins;
 *   - the sweeps' changes are the system's, audited as AUDIT_CTX_SYSTEM,
 *     whoever asked for the sweep.
 */
#include <errno.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_routes.h"
#include "endpoint/oplog.h"
#include "endpoint/quarantine.h"
#include "http/http.h"
#include "store/job.h"
#include "store/store.h"

/* Devices one sweep transaction batch reads. */
#define EP_SWEEP_BATCH 64

int endpoint_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms)
{
	int64_t cutoff = now_ms - (int64_t)ENDPOINT_MISSED_CHECKINS * ENDPOINT_CHECKIN_INTERVAL_S * 1000;
	char ids[EP_SWEEP_BATCH][ULID_SIZE], states[EP_SWEEP_BATCH][16];
	struct store_stmt *q = NULL;
	int r, n = 0, changed = 0, batch, i;

	/* In batches, so that one transaction stays short whatever the fleet's size. */
	do {
		r = store_query(c, "SELECT id, state FROM devices WHERE state NOT IN ('unknown', 'quarantined') AND "
				   "coalesce(last_seen_at, created_at) < $1 ORDER BY id LIMIT $2",
				STORE_ARGS(SA_I64(cutoff), SA_I64(EP_SWEEP_BATCH)), &q);
		if (r < 0)
			return r;
		n = 0;
		while ((r = store_step(q)) == 1 && n < EP_SWEEP_BATCH) {
			str_copy(ids[n], sizeof(ids[n]), store_col_text(q, 0));
			str_copy(states[n], sizeof(states[n]), store_col_text(q, 1));
			n++;
		}
		store_stmt_free(q);
		if (r < 0)
			return r;
		batch = changed;
		for (i = 0; i < n; i++) {
			r = store_begin(c);
			if (r < 0)
				return r;
			/* Conditional: a check-in or another server may have changed it meanwhile. */
			r = store_exec(c, "UPDATE devices SET state = 'unknown' WHERE id = $1 AND state = $2 AND "
					  "state <> 'quarantined' AND "
					  "coalesce(last_seen_at, created_at) < $3",
				       STORE_ARGS(SA_TEXT(ids[i]), SA_TEXT(states[i]), SA_I64(cutoff)));
			if (r == 1) {
				r = audit_record(c, ctx, "endpoint.device.state", "device", ids[i], AUDIT_SUCCESS,
						 json_pack("{s:s, s:s, s:s}", "from", states[i], "to", "unknown", "reason",
							   "missed check-ins"));
				if (r == 0)
					changed++;
			}
			if (r >= 0)
				r = store_commit(c);
			if (r < 0) {
				store_rollback(c);
				return r;
			}
		}
	} while (n == EP_SWEEP_BATCH && changed > batch);   /* a batch others changed entirely is not retried */
	return changed;
}

static struct ticker *ep_ticker;
static int64_t ep_interval_ms;

static int ep_retention_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms)
{
	struct oplog_sweep_result res;

	return oplog_sweep(c, ctx, now_ms, &res);
}

/* The periodic jobs: name, interval (0: the sweeper's), what runs, and what its failure is called. */
static const struct ep_job {
	const char *name;
	int64_t interval_ms;
	int (*run)(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms);
	const char *failed;
} ep_jobs[] = {
	{ "endpoint.sweep", 0, endpoint_sweep, "endpoint: sweep failed" },
	{ "endpoint.quarantine", 0, quarantine_sweep, "endpoint: quarantine sweep failed" },
	{ "endpoint.retention", OPLOG_SWEEP_INTERVAL_MS, ep_retention_sweep, "endpoint: retention sweep failed" },
};

static void ep_sweep_tick(void *arg)
{
	struct app *app = arg;
	struct store_conn *c = store_conn(app->store);

	for (size_t i = 0; i < sizeof(ep_jobs) / sizeof(ep_jobs[0]); i++) {
		const struct ep_job *j = &ep_jobs[i];
		int r = c ? store_job_claim(c, j->name, j->interval_ms ? j->interval_ms : ep_interval_ms,
					    rtime_now_ms(), NULL) : ERR_STORE;

		if (r == 1)
			r = j->run(c, &AUDIT_CTX_SYSTEM, rtime_now_ms());
		if (r < 0)
			log_warn(j->failed, "error=\"%s\"", err_str(r));
	}
}

int endpoint_sweeper_start(struct app *app, unsigned interval_s)
{
	ep_interval_ms = (int64_t)(interval_s ? interval_s : 60) * 1000;
	return ticker_start(store_job_poll_s(ep_interval_ms), ep_sweep_tick, app, &ep_ticker);
}

void endpoint_sweeper_stop(void)
{
	ticker_stop(ep_ticker);
	ep_ticker = NULL;
}

static int h_sweep(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct oplog_sweep_result ret;
	int r, changed, quarantined;

	if (!endpoint_may(http_req_principal(req), ENDPOINT_SWEEP, NULL)) {
		audit_req(req, c, "endpoint.sweep", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	/* The changes are the system's, as the sweeper's are: only the request is the caller's. */
	r = endpoint_sweep(c, &AUDIT_CTX_SYSTEM, rtime_now_ms());
	if (r < 0)
		return r;
	changed = r;
	r = quarantine_sweep(c, &AUDIT_CTX_SYSTEM, rtime_now_ms());
	if (r < 0)
		return r;
	quarantined = r;
	r = oplog_sweep(c, &AUDIT_CTX_SYSTEM, rtime_now_ms(), &ret);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, json_pack("{s:i, s:i, s:I, s:I}", "changed", changed, "quarantined",
						   quarantined, "events_removed", (json_int_t)ret.events,
						   "reports_removed", (json_int_t)ret.reports));
}

int ep_sweep_routes(struct http_server *s)
{
	return http_route(s, HTTP_POST, "/api/v1/endpoint/sweep", h_sweep, 0);
}
