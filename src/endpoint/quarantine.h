/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * quarantine: when rampartd cuts a device off, and how it is let back in.
 *
 * States (devices.state) and the kinds of quarantine (devices.quarantine_kind):
 *   compliant / non_compliant  set by each check-in's evaluation; the first
 *                              non-compliant check-in starts the grace clock
 *                              (non_compliant_since), a compliant one clears it
 *   quarantined, kind grace    the device stayed non-compliant for its
 *                              effective policy's quarantine.grace_period
 *                              (policy.h); released by its next compliant
 *                              check-in, or by an administrator
 *   quarantined, kind admin    an administrator quarantined it; only an
 *                              administrator releases it
 *   quarantined, kind infected an administrator marked it infected, or an
 *                              intrusion alert (Suricata EVE, eve.h) at or
 *                              below [endpoint] alert_max_severity named one
 *                              of its addresses; only an administrator
 *                              releases it
 * A stronger kind replaces a weaker one (grace < admin < infected), never
 * the reverse.  An administrator's release sets the device to its last
 * evaluated state and restarts the grace clock.  The missed check-in sweep
 * never touches a quarantined device; the quarantine sweep
 * (quarantine_sweep) quarantines devices whose grace ran out while they
 * were offline.
 *
 * Every check-in answer carries the signed quarantine order (qorder.h) with
 * the device's current decision, quarantined or not.
 *
 * Every transition is audited: endpoint.device.quarantine and
 * endpoint.device.release (who or what, kind, reason), the other state
 * changes as endpoint.device.state.
 *
 * Authorization (endpoint_may):
 *   quarantine, release   admin and security_officer for every device, a
 *                         security_manager for the devices of their subtree
 *   post alerts           admin and security_officer only: a sensor acts
 *                         on the whole network (give it an API token of a
 *                         dedicated security_officer account)
 *   quarantine list       as reading devices (auditors too; a security
 *                         manager sees their subtree)
 *
 * Files: quarantine.c holds the decision and its store (no HTTP; every
 * change is audited as the struct audit_ctx its caller passes: a request's
 * (http_req_audit_ctx), a device's check-in, or AUDIT_CTX_SYSTEM for the
 * sweep); quarantine_http.c the routes.  The functions below that change
 * a device run inside a transaction their caller has begun and neither
 * begin nor commit one (quarantine_sweep excepted: it runs its own).
 */
#ifndef RAMPART_QUARANTINE_H
#define RAMPART_QUARANTINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/ids.h"
#include "formats/qorder.h"
#include "http/principal.h"
#include "store/page.h"

struct audit_ctx;
struct eve_batch;
struct http_server;
struct rerr;
struct store_conn;

/* At most this many addresses in a report's "addresses". */
#define QUARANTINE_MAX_ADDRESSES 64

/* A device's quarantine decision after a check-in. */
struct quarantine_state {
	char state[16];                          /* compliant, non_compliant, quarantined */
	bool quarantined;
	char kind[16];                           /* grace, admin, infected; "" when not quarantined */
	char reason[QORDER_MAX_REASON + 1];      /* "" when not quarantined */
};

/* What a check-in does to a device (quarantine_decide). */
enum quarantine_step {
	QUARANTINE_EVALUATED,  /* not quarantined: its state becomes the evaluation */
	QUARANTINE_START,      /* non-compliant past the grace period: quarantined, kind grace */
	QUARANTINE_RELEASE,    /* a grace quarantine ends with a compliant check-in */
	QUARANTINE_STAY,       /* stays quarantined (admin or infected, or still non-compliant) */
};

/*
 * The check-in's decision, without side effects, from the device's @state
 * and quarantine @kind ("" or NULL when none), its grace clock @since_ms
 * (0: not running), the evaluation @compliant, the effective grace period
 * @grace_ms and the time @now_ms.  Sets *ret_since to the grace clock
 * afterwards (0: stopped): a compliant evaluation stops it, the first
 * non-compliant one starts it at @now_ms.
 */
enum quarantine_step quarantine_decide(const char *state, const char *kind, int64_t since_ms, bool compliant,
				       int64_t grace_ms, int64_t now_ms, int64_t *ret_since);

/*
 * Validates @addresses (a report's "addresses": NULL or an array of at most
 * QUARANTINE_MAX_ADDRESSES IPv4/IPv6 strings) and replaces the device's
 * known addresses with them plus @remote (the check-in's source address,
 * skipped when loopback or not an address), inside the caller's
 * transaction.  Returns 0, ERR_INVALID with @e filled, or a store error.
 */
int quarantine_addresses_set(struct store_conn *c, const char *device_id, const json_t *addresses,
			     const char *remote, int64_t now_ms, struct rerr *e);

/*
 * Runs the state machine for a check-in of @device_id evaluated as
 * @compliant (@results: the requirement results, for the audit entry),
 * with the effective grace period @grace_ms, inside the caller's
 * transaction: updates devices.state and the quarantine columns and audits
 * the transition as @ctx (the check-in's: its source address, no actor).
 * Fills @ret.  Returns 0, ERR_NOT_FOUND, ERR_CONFLICT (the device changed
 * since it was read: an administrator's quarantine wins) or a store error.
 */
int quarantine_checkin(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, bool compliant,
		       const json_t *results, int64_t grace_ms, int64_t now_ms, struct quarantine_state *ret);

/* A device as the quarantine state machine reads it. */
struct quarantine_device {
	char state[16];
	char kind[16];                           /* "" when not quarantined */
	char path[PRINCIPAL_PATH_SIZE];          /* its org unit */
	char reason[QORDER_MAX_REASON + 1];
	int64_t non_compliant_since;             /* 0: the grace clock is not running */
	int64_t quarantined_at;
	char last_report_id[ULID_SIZE];          /* "" when none */
};

/* Reads @device_id into @d.  Returns 0, ERR_NOT_FOUND or a store error. */
int quarantine_device_load(struct store_conn *c, const char *device_id, struct quarantine_device *d);

/*
 * Quarantines @device_id with @kind (grace, admin, infected) and @reason
 * unless it already is, at the same or a stronger kind, inside the
 * caller's transaction.  *ret_changed tells whether anything changed.
 * Audited (endpoint.device.quarantine) as @ctx, with the fields of @extra
 * (stolen; may be NULL) added to the details.  Returns 0, ERR_NOT_FOUND,
 * ERR_CONFLICT (changed meanwhile: roll back) or a store error.
 */
int quarantine_set(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, const char *kind,
		   const char *reason, json_t *extra, int64_t now_ms, bool *ret_changed);

/*
 * An administrator's release of @device_id, inside the caller's
 * transaction: back to the state of its last report (unknown without
 * one), the grace clock restarted, audited (endpoint.device.release, with
 * @reason, possibly "") as @ctx.  Returns 0, ERR_CONFLICT with @e filled
 * when it is not quarantined, ERR_CONFLICT without a message when it
 * changed meanwhile, ERR_NOT_FOUND or a store error.
 */
int quarantine_release(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id, const char *reason,
		       int64_t now_ms, struct rerr *e);

/* What quarantine_alerts_apply did; @quarantined is the caller's array. */
struct quarantine_alerts {
	size_t actionable;     /* alerts at or below the severity limit */
	size_t matched;        /* of them, those naming a known device address */
	json_t *quarantined;   /* ids of the devices newly quarantined (appended) */
};

/*
 * Applies the alerts of @b at or below @max_severity, inside the caller's
 * transaction: each is recorded against every device (at most 64) known by
 * its source or destination address, and those devices are quarantined as
 * infected (quarantine_set, audited as @ctx, @posted_by the poster's person
 * id).  Adds to @ret.  Returns 0 or an error.
 */
int quarantine_alerts_apply(struct store_conn *c, const struct audit_ctx *ctx, const struct eve_batch *b,
			    int64_t max_severity, const char *posted_by, int64_t now_ms, struct quarantine_alerts *ret);

/*
 * Quarantines (kind grace, audited as @ctx: AUDIT_CTX_SYSTEM) every device whose last
 * report was non-compliant, that is non_compliant or unknown, and whose
 * grace clock has run past its effective policy's grace period without a
 * check-in: a PC cannot escape quarantine by going offline (it is on the
 * list for network equipment at once, and its agent gets the order at its
 * next check-in).  In batches, each device in its own transaction that
 * checks the device again.  Returns the number quarantined or an error.
 */
int quarantine_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms);

/*
 * The signed order for @qs, issued at @now_ms with the server's policy key.
 * Returns 0 and a new {"document","signature"} in *ret, ERR_UNAVAILABLE
 * (key not loaded), ERR_INVALID or -ENOMEM.
 */
int quarantine_order(const char *device_id, const struct quarantine_state *qs, int64_t now_ms, json_t **ret);

/*
 * Adds "quarantine" ({kind, reason, since} or null), "addresses",
 * "non_compliant_since" and "alerts" (its latest 20 intrusion alerts,
 * newest first) to a device object @out being answered.  Returns 0 or an
 * error.
 */
int quarantine_device_json(struct store_conn *c, const char *device_id, json_t *out);

/* The device's known addresses, a new array, IPv4 first; NULL on error. */
json_t *quarantine_addresses_json(struct store_conn *c, const char *device_id);

/*
 * One page of the quarantined devices @p may read (ep_scope_where),
 * after @cursor (a device id, or NULL), by id: [{device_id, hostname,
 * org_unit, kind, reason, since, addresses}] in *ret_items and the next
 * cursor in @ret_next ("" on the last page).  Returns 0 or an error.
 */
int quarantine_list(struct store_conn *c, const struct principal *p, const char *cursor, int64_t limit,
		    json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE]);

/*
 * Appends the canonical addresses of the quarantined devices @p may read to
 * @v4 and @v6 (each once, in order) and sets *ret_devices to how many
 * devices are quarantined there.  Returns 0 or an error.
 */
int quarantine_nft_addresses(struct store_conn *c, const struct principal *p, json_t *v4, json_t *v6,
			     int64_t *ret_devices);

/*
 * Registers POST /api/v1/devices/{id}/quarantine, POST
 * /api/v1/devices/{id}/release, POST /api/v1/endpoint/alerts, GET
 * /api/v1/endpoint/quarantine and GET /api/v1/endpoint/quarantine.nft.
 * Returns 0 or -ENOMEM.
 */
int quarantine_routes(struct http_server *s);

#endif
