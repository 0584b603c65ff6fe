-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Periodic jobs (the sweepers) that several servers on one database run
-- once per interval between them: a server runs a job only after claiming
-- it, which moves next_run one interval ahead (store_job_claim in
-- src/store/job.c).  One row per job, created by its first claim; owner
-- is the "host:pid" of the last server that claimed it, claimed_at when,
-- runs how many claims were won since the row was created.

CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    next_run    INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    claimed_at  INTEGER NOT NULL,
    runs        INTEGER NOT NULL DEFAULT 0
);
