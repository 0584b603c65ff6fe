/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* job: claiming a periodic job in the database, once per interval across servers (see job.h). */
#include "store/job.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "store/store.h"

const char *store_job_self(char *buf, size_t size)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "%s:%ld", host[0] ? host : "localhost", (long)getpid());
	return buf;
}

unsigned store_job_poll_s(int64_t interval_ms)
{
	int64_t s = interval_ms / 4000;

	if (s < 1)
		return 1;
	return s > 86400 ? 86400u : (unsigned)s;
}

int store_job_claim(struct store_conn *c, const char *name, int64_t interval_ms, int64_t now_ms,
		    const char *owner)
{
	char self[300];
	int64_t next, stale;
	size_t n = name ? strlen(name) : 0;
	int r;

	if (n == 0 || n > STORE_JOB_NAME_MAX || interval_ms <= 0 || now_ms < 0 ||
	    interval_ms > (INT64_MAX - now_ms) / 2)
		return ERR_INVALID;
	next = now_ms + interval_ms;
	/* Claimed further ahead than two intervals: by a clock that was ahead, not by a run due later. */
	stale = now_ms + 2 * interval_ms;
	if (!owner)
		owner = store_job_self(self, sizeof(self));
	/*
	 * One statement decides: a second connection's UPDATE waits for the
	 * first one's (PostgreSQL's row lock, SQLite's single writer) and then
	 * finds next_run moved ahead, so its condition no longer holds.
	 */
	r = store_exec(c, "UPDATE jobs SET next_run = $3, owner = $4, claimed_at = $2, runs = runs + 1 "
			  "WHERE name = $1 AND (next_run <= $2 OR next_run > $5)",
		       STORE_ARGS(SA_TEXT(name), SA_I64(now_ms), SA_I64(next), SA_TEXT(owner), SA_I64(stale)));
	if (r != 0)
		return r < 0 ? r : 1;
	/* Not due, or never claimed: the first INSERT of a new job wins, the others find its row. */
	r = store_exec(c, "INSERT INTO jobs (name, next_run, owner, claimed_at, runs) VALUES ($1, $3, $4, $2, 1) "
			  "ON CONFLICT (name) DO NOTHING",
		       STORE_ARGS(SA_TEXT(name), SA_I64(now_ms), SA_I64(next), SA_TEXT(owner)));
	if (r < 0)
		return r;
	return r == 1 ? 1 : 0;
}
