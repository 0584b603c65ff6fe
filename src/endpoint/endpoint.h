/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * endpoint: enrolled devices, their posture reports and compliance.
 *
 * Trust: administrators create enrollment tokens per org unit (expiring,
 * limited uses, only SHA-256 stored).  A device enrolls with one and its
 * Ed25519 public key, and is answered the server's policy-signing public key
 * (DATA/policy_sign.key, a 32-byte seed, mode 0600, created at first start).
 * Every later device request is signed (devsig.h); the server refuses a
 * timestamp outside the window and any signature it has accepted before,
 * using a table in the database so that a replay is refused by every server
 * sharing it.
 *
 * Policies (policy.h): each PUT of a unit's policy is a new version; a
 * device's effective policy is merged down its unit's path, signed with the
 * policy key, returned in the check-in answer, and its baseline is the one
 * the check-in is evaluated against (the default when no unit on the path
 * has a policy).  Setting a policy: as creating a token.
 *
 * Compliance: each check-in is evaluated against the baseline
 * (endpoint_evaluate): every requirement pass or fail with a reason; the
 * device is compliant when all pass.  Reports and results are kept.  A
 * device that has not checked in for ENDPOINT_MISSED_CHECKINS intervals is
 * set to unknown by the sweep (endpoint_sweep), until its next check-in.  The
 * sweeper also applies the retention of operation logs and posture reports
 * (oplog_sweep, oplog.h).  Each periodic job runs once per interval across
 * every server sharing the database (store/job.h).
 *
 * Authorization (endpoint_may), default deny:
 *   admin, security_officer  every token and device
 *   security_manager         tokens and devices of units in their subtree
 *   auditor                  reads every token and device
 *   everyone else, SCIM      nothing
 * Quarantine and release follow the same rule as creating a token; posting
 * intrusion alerts is for admin and security_officer only, since an alert
 * may quarantine any device (quarantine.h).
 * Device requests are authorized by their signature alone.
 *
 * Files (each part includes ep_common.h and never another part's
 * internals): ep_common.c (endpoint_may, the policy key, what the parts
 * share), ep_baseline.c (endpoint_evaluate*), ep_enroll.c (tokens and
 * enrollment), ep_checkin.c (the check-in), ep_devices.c (device list,
 * detail, summary), ep_policies.c (policy routes), ep_sweep.c
 * (endpoint_sweep and the sweeper), endpoint.c (endpoint_routes);
 * quarantine.h and oplog.h describe theirs.
 */
#ifndef RAMPART_ENDPOINT_H
#define RAMPART_ENDPOINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/principal.h"

struct http_server;

enum endpoint_action {
	ENDPOINT_TOKEN_CREATE,
	ENDPOINT_TOKEN_REVOKE,
	ENDPOINT_READ,        /* tokens and devices */
	ENDPOINT_SWEEP,       /* run the missed check-in sweep now (admin) */
	ENDPOINT_POLICY_SET,  /* a new version of a unit's policy */
	ENDPOINT_QUARANTINE,  /* quarantine or release a device (quarantine.h) */
	ENDPOINT_ALERT_POST,  /* post intrusion alerts (admin, security_officer) */
};

/*
 * True if @p may do @a on an object of the unit at @org_path.  With
 * @org_path NULL: whether @p may do @a on some unit at all (lists, which
 * are then filtered by scope).
 */
bool endpoint_may(const struct principal *p, enum endpoint_action a, const char *org_path);

/* Check-in interval the agent uses until policies set one, and how many may be missed. */
#define ENDPOINT_CHECKIN_INTERVAL_S 300
#define ENDPOINT_MISSED_CHECKINS 3

/* Baseline thresholds. */
#define ENDPOINT_AV_MAX_AGE_S (7 * 24 * 3600)

/*
 * Evaluates posture report @report against the default baseline: disk
 * encryption on the root file system, an active nftables ruleset, antivirus
 * signatures younger than ENDPOINT_AV_MAX_AGE_S, an agent version.  Sets
 * *ret_results to a new array of {"id","pass","reason"} and *ret_compliant.
 * Returns 0 or -ENOMEM.
 */
int endpoint_evaluate(const json_t *report, json_t **ret_results, bool *ret_compliant);

/*
 * As endpoint_evaluate, against the baseline of an effective policy
 * (policy.h; NULL for the default): a requirement set to false is not
 * evaluated, antivirus_max_age_days replaces ENDPOINT_AV_MAX_AGE_S.
 */
int endpoint_evaluate_policy(const json_t *report, const json_t *baseline, json_t **ret_results,
			     bool *ret_compliant);

/*
 * Loads (creating on first start) the policy-signing key in @data_dir.
 * Returns 0, -errno or ERR_INVALID (wrong size or mode).
 */
int endpoint_keys_load(const char *data_dir);

/* Frees the key memory; safe when not loaded. */
void endpoint_keys_free(void);

struct app;
struct audit_ctx;
struct store_conn;

/*
 * Sets every device whose last check-in (or, never checked in, whose
 * enrollment) is older than ENDPOINT_MISSED_CHECKINS intervals before
 * @now_ms, and is not unknown yet, to unknown, with an audit entry each
 * as @ctx (AUDIT_CTX_SYSTEM from the sweeper and the sweep route).
 * Safe with several servers on one database: each change is a conditional
 * UPDATE that only one of them wins.  Returns the number of devices
 * changed, or an error.
 */
int endpoint_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms);

/* Starts a thread that sweeps every @interval_s seconds.  Returns 0 or -errno. */
int endpoint_sweeper_start(struct app *app, unsigned interval_s);
/* Stops it (waits for a sweep in progress).  Safe when not started. */
void endpoint_sweeper_stop(void);

/*
 * Registers /api/v1/endpoint/enrollment-tokens..., /api/v1/endpoint/enroll,
 * /api/v1/endpoint/checkin, /api/v1/endpoint/sweep,
 * /api/v1/endpoint/policies/{id}, /api/v1/devices... and the operation-log
 * routes (oplog_routes, oplog.h).  Returns 0 or -ENOMEM.
 */
int endpoint_routes(struct http_server *s);

#endif
