/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/sweep: the sweeper.  It expires transfers past their time,
 * removes uploads a crashed server abandoned, deletes the files of ended
 * and used-up transfers, and removes blob directories the database does
 * not know.  Safe with several servers on one database: each change is a
 * conditional UPDATE that only one server wins, and only the winner audits.
 * At most 64 transfers per step and 256 directories are looked at per sweep.
 *
 * The periodic sweep is the job "exchange.sweep" (store/job.h): every
 * server's ticker offers to run it, and the one that claims it in the
 * database runs it, once per interval between all of them.  The sweep
 * route (api.c) calls exchange_sweep directly, at once, without a claim.
 */
#include "exchange/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "store/job.h"
#include "store/store.h"

#define X_SWEEP_BATCH 64
#define X_SWEEP_JOB "exchange.sweep"

/* Up to X_SWEEP_BATCH rows of (id, status) from @q into @ids and @statuses; @q is freed. */
static int xsweep_collect(struct store_stmt *q, char ids[][ULID_SIZE], char statuses[][16])
{
	int n = 0;

	while (n < X_SWEEP_BATCH && store_step(q) == 1) {
		str_copy(ids[n], ULID_SIZE, store_col_text(q, 0));
		if (statuses)
			str_copy(statuses[n], 16, store_col_text(q, 1));
		n++;
	}
	store_stmt_free(q);
	return n;
}

/* 1. Expire: one server wins each UPDATE, and only it audits. */
static int xsweep_expire(struct app *app, struct store_conn *c, int64_t now)
{
	char ids[X_SWEEP_BATCH][ULID_SIZE], statuses[X_SWEEP_BATCH][16];
	struct store_stmt *q;
	int n, changed = 0, r;

	r = store_query(c, "SELECT id, status FROM exchange_transfers WHERE status IN "
			   "('active', 'awaiting_upload') AND expires_at <= $1 LIMIT 64",
			STORE_ARGS(SA_I64(now)), &q);
	if (r < 0)
		return r;
	n = xsweep_collect(q, ids, statuses);
	for (int i = 0; i < n; i++) {
		r = store_exec(c, "UPDATE exchange_transfers SET status = 'expired', ended_at = $2, "
				  "key_check = $4, kdf_salt = $4, held_link = NULL WHERE id = $1 AND status = $3 "
				  "AND expires_at <= $2",
			       STORE_ARGS(SA_TEXT(ids[i]), SA_I64(now), SA_TEXT(statuses[i]), SA_BLOB("", 0)));
		if (r != 1)
			continue;
		changed++;
		xfer_drop_blobs(app, c, ids[i]);
		audit_record(c, &AUDIT_CTX_SYSTEM, "exchange.expire", "transfer", ids[i], AUDIT_SUCCESS, NULL);
	}
	return changed;
}

/* 2. Uploads abandoned by a crashed server: no heartbeat for a while. */
static int xsweep_abandoned(struct app *app, struct store_conn *c, int64_t now)
{
	char ids[X_SWEEP_BATCH][ULID_SIZE], statuses[X_SWEEP_BATCH][16];
	struct store_stmt *q;
	int n, changed = 0, r;

	r = store_query(c, "SELECT id, status FROM exchange_transfers WHERE status IN ('uploading', 'receiving') "
			   "AND updated_at < $1 LIMIT 64", STORE_ARGS(SA_I64(now - X_STALE_UPLOAD_MS)), &q);
	if (r < 0)
		return r;
	n = xsweep_collect(q, ids, statuses);
	for (int i = 0; i < n; i++) {
		xblob_remove(app, ids[i]);
		store_exec(c, "DELETE FROM exchange_files WHERE transfer_id = $1", STORE_ARGS(SA_TEXT(ids[i])));
		if (strcmp(statuses[i], "uploading") == 0)
			r = store_exec(c, "DELETE FROM exchange_transfers WHERE id = $1 AND status = 'uploading'",
				       STORE_ARGS(SA_TEXT(ids[i])));
		else
			r = store_exec(c, "UPDATE exchange_transfers SET status = 'awaiting_upload' WHERE id = $1 "
					  "AND status = 'receiving'", STORE_ARGS(SA_TEXT(ids[i])));
		changed += r == 1;
	}
	return changed;
}

/* 3. Files of ended or used-up transfers that are still on disk. */
static int xsweep_leftovers(struct app *app, struct store_conn *c)
{
	char ids[X_SWEEP_BATCH][ULID_SIZE];
	struct store_stmt *q;
	int n, r;

	r = store_query(c, "SELECT id FROM exchange_transfers WHERE blobs_deleted = 0 AND "
			   "(status IN ('revoked', 'expired', 'burned') OR (status = 'active' AND downloads_left <= 0)) "
			   "LIMIT 64", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	n = xsweep_collect(q, ids, NULL);
	for (int i = 0; i < n; i++)
		if (xblob_remove(app, ids[i]) == 0)
			store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1 WHERE id = $1",
				   STORE_ARGS(SA_TEXT(ids[i])));
	return 0;
}

/*
 * 4. Blob directories with no transfer row (a restored older database, a
 * lost row).  A row is always written before its directory, so only
 * directories older than an upload's heartbeat window are considered,
 * which also covers other servers sharing the blob store.
 */
static void xsweep_orphans(struct app *app, struct store_conn *c, int64_t now)
{
	char base[600], dir[700];
	struct dirent *e;
	struct stat st;
	unsigned seen = 0;
	DIR *d;

	if (snprintf(base, sizeof(base), "%s/blobs", app->cfg.data_dir) >= (int)sizeof(base))
		return;
	d = opendir(base);
	if (!d)
		return;
	while ((e = readdir(d)) && seen++ < 256) {
		int64_t one;

		if (!ids_is_ulid(e->d_name) || xblob_dir(app, e->d_name, dir, sizeof(dir)) < 0 ||
		    lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    (int64_t)st.st_mtime * 1000 > now - X_STALE_UPLOAD_MS)
			continue;
		if (store_query_i64(c, "SELECT 1 FROM exchange_transfers WHERE id = $1",
				    STORE_ARGS(SA_TEXT(e->d_name)), &one) != ERR_NOT_FOUND)
			continue;
		if (xblob_remove(app, e->d_name) == 0)
			log_warn("exchange: removed blobs of a transfer the database does not know",
				 "transfer=%s", e->d_name);
	}
	closedir(d);
}

int exchange_sweep(struct app *app, struct store_conn *c)
{
	int64_t now = rtime_now_ms();
	int expired, abandoned, r;

	expired = xsweep_expire(app, c, now);
	if (expired < 0)
		return expired;
	abandoned = xsweep_abandoned(app, c, now);
	if (abandoned < 0)
		return abandoned;
	r = xsweep_leftovers(app, c);
	if (r < 0)
		return r;
	xsweep_orphans(app, c, now);
	return expired + abandoned;
}

static struct ticker *xsweep_ticker;
static int64_t xsweep_interval_ms;

static void xsweep_tick(void *arg)
{
	struct app *app = arg;
	struct store_conn *c = store_conn(app->store);
	int r = c ? store_job_claim(c, X_SWEEP_JOB, xsweep_interval_ms, rtime_now_ms(), NULL) : ERR_STORE;

	if (r == 1)
		r = exchange_sweep(app, c);
	if (r < 0)
		log_warn("exchange: sweep failed", "error=\"%s\"", err_str(r));
}

int exchange_sweeper_start(struct app *app, unsigned interval_s)
{
	xsweep_interval_ms = (int64_t)(interval_s ? interval_s : 60) * 1000;
	return ticker_start(store_job_poll_s(xsweep_interval_ms), xsweep_tick, app, &xsweep_ticker);
}

void exchange_sweeper_stop(void)
{
	ticker_stop(xsweep_ticker);
	xsweep_ticker = NULL;
}
