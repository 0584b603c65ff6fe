/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * job: periodic jobs that every rampartd on one database offers to run and
 * exactly one runs per interval, decided in the database.
 *
 * Every server runs the same tickers (the sweepers): without a claim, N
 * servers would do each job N times an interval.  Before a run, a ticker
 * claims the job by name; the claim is one conditional UPDATE of the job's
 * row in the table "jobs" (migration 0011) that only one connection can
 * win on either engine: SQLite has one writer at a time, and PostgreSQL
 * re-checks the condition of an UPDATE that waited for a row another
 * transaction changed.  The winner moves the job's next_run one interval
 * ahead and runs it; everyone else skips it until then.
 *
 * Invariants:
 *   - a job is claimed at most once until next_run, whatever the number of
 *     servers and threads: the claim decides it, never a process's memory;
 *   - a claim is not a lease: a server that dies in the middle of a run
 *     leaves the job to the next interval, so jobs must be safe to run
 *     again and to be cut short (the sweepers are: every change they make
 *     is a conditional UPDATE of its own);
 *   - times are the servers' wall clocks (keep them in sync, NTP): a clock
 *     behind only delays its claims, and a row claimed more than one
 *     interval in the future (a clock that was ahead) is claimable again,
 *     so that a bad clock can never stop a job;
 *   - running a job by hand (an administrator's sweep route) takes no
 *     claim and runs at once.
 */
#ifndef RAMPART_STORE_JOB_H
#define RAMPART_STORE_JOB_H

#include <stddef.h>
#include <stdint.h>

struct store_conn;

/* Longest job name (bytes, without the NUL). */
#define STORE_JOB_NAME_MAX 63

/*
 * Claims the job @name (1 to STORE_JOB_NAME_MAX bytes) at @now_ms for
 * @interval_ms (> 0): when the job is due (its next_run is at or before
 * @now_ms, or more than @interval_ms after it, or the job was never
 * claimed), sets next_run to @now_ms + @interval_ms and records @owner
 * (NULL: this process, "host:pid") and the time.  Atomic across
 * connections, processes and servers; works inside or outside a
 * transaction (outside is the rule: the claim is then visible at once).
 * Returns 1 when the caller won and must run the job now, 0 when it is not
 * due (another server or thread has it), ERR_INVALID for a bad name or
 * interval, or a store error (ERR_UNAVAILABLE while the database is away).
 */
int store_job_claim(struct store_conn *c, const char *name, int64_t interval_ms, int64_t now_ms,
		    const char *owner);

/*
 * How often, in seconds, a ticker should offer to run a job of
 * @interval_ms: a quarter of the interval (at least 1 s), so that the job
 * runs within a quarter interval of falling due however the servers'
 * tickers are phased.
 */
unsigned store_job_poll_s(int64_t interval_ms);

/* This process's owner name, "host:pid", into @buf of @size bytes (truncated if needed).  Returns @buf. */
const char *store_job_self(char *buf, size_t size);

#endif
