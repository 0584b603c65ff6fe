/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * policy: endpoint policies, shared by rampartd and rampart-agent.
 *
 * A policy, as set on an org unit, is a JSON object with any of the fields
 *   baseline          {"disk_encryption_root": bool, "firewall": bool,
 *                      "antivirus_max_age_days": 1..3650}
 *   checkin_interval  a duration from 1m to 24h, such as "5m"
 *   removable_media   [{"vendor","product","serial"}], at most
 *                     POLICY_MAX_MEDIA, each a printable string of 1..128
 *   logging           {"retention_days": 1..3650}
 *   quarantine        {"grace_period": a duration from 0s to 30d, such as
 *                      "24h"}: how long a device may stay non-compliant
 *                      before it is quarantined (0s: at once)
 * Unknown keys, wrong types and values out of bounds are refused
 * (policy_parse).  A unit's effective policy is its nearest ancestors'
 * fields overridden, whole field by whole field, by those of units nearer
 * to it, the missing ones filled with the defaults (policy_merge).
 *
 * The signed document is the canonical JSON (sorted keys, compact, ASCII)
 * of {"org_unit","version","issued_at","policy"}, signed with Ed25519
 * (crypto_sign_detached) by the server's policy key; it travels as
 * {"document": "<the canonical text>", "signature": "<base64>"} so that the
 * verifier checks exactly the bytes that were signed.
 */
#ifndef RAMPART_POLICY_H
#define RAMPART_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define POLICY_MAX_BYTES ((size_t)64 << 10)
#define POLICY_MAX_MEDIA 256
#define POLICY_MAX_MEDIA_FIELD 128
#define POLICY_MAX_DAYS 3650
#define POLICY_MIN_INTERVAL_MS ((int64_t)60 * 1000)
#define POLICY_MAX_INTERVAL_MS ((int64_t)24 * 3600 * 1000)
#define POLICY_MAX_GRACE_MS ((int64_t)30 * 86400 * 1000)

/* Defaults of the fields no unit on the path sets. */
#define POLICY_DEFAULT_AV_MAX_AGE_DAYS 7
#define POLICY_DEFAULT_INTERVAL "5m"
#define POLICY_DEFAULT_RETENTION_DAYS 90
#define POLICY_DEFAULT_GRACE "24h"

/*
 * Parses @len bytes of untrusted JSON as a policy.  Returns 0 and a new
 * object in *ret, -ENOMEM, or ERR_INVALID with @e (may be NULL) filled.
 */
int policy_parse(const char *data, size_t len, json_t **ret, struct rerr *e);

/* As policy_parse, for an already parsed value (not stolen).  Returns 0 and a new copy, or an error. */
int policy_check(const json_t *v, json_t **ret, struct rerr *e);

/*
 * Merges @n policies ordered from the root down (each already checked; a
 * NULL entry is skipped) into a new effective policy with every field set.
 * Returns 0 and *ret, or -ENOMEM.
 */
int policy_merge(const json_t *const *chain, size_t n, json_t **ret);

/* The checkin_interval of an effective policy in milliseconds, or -ENOENT/ERR_INVALID. */
int policy_interval_ms(const json_t *policy, int64_t *ret_ms);

/* The quarantine.grace_period of a policy in milliseconds, or -ENOENT/ERR_INVALID. */
int policy_grace_ms(const json_t *policy, int64_t *ret_ms);

/*
 * Builds and signs the document for @org_unit (a path) at @version and
 * @issued_at_ms with the 64-byte secret key @sk.  Returns 0 and a new
 * {"document","signature"} in *ret, or -ENOMEM/ERR_INVALID.
 */
int policy_sign(const char *org_unit, int64_t version, int64_t issued_at_ms, const json_t *policy,
		const unsigned char *sk, json_t **ret);

/*
 * Verifies a signed {"document","signature"} against the 32-byte public key
 * @pk and parses the document: the fields must be exactly those above and
 * the policy must pass policy_check.  Returns 0 and a new document object
 * in *ret, or ERR_UNAUTHENTICATED (bad signature) / ERR_INVALID (malformed),
 * with @e filled.
 */
int policy_verify(const json_t *signed_doc, const unsigned char *pk, json_t **ret, struct rerr *e);

/*
 * The signing primitive policy_sign and other signed documents (qorder.h)
 * share: signs the canonical text of @doc with @sk.  Returns 0 and a new
 * {"document","signature"} in *ret, or -ENOMEM.
 */
int policy_sign_json(const json_t *doc, const unsigned char *sk, json_t **ret);

/*
 * Checks that @signed_doc is {"document","signature"}, the document at most
 * @max_len bytes, the signature over its exact bytes checks against @pk,
 * and parses the document as a JSON object of at most @max_depth levels.
 * @what names the document in messages.  Returns 0 and a new object in
 * *ret, ERR_UNAUTHENTICATED or ERR_INVALID with @e filled, or -ENOMEM.
 */
int policy_open_signed(const json_t *signed_doc, const unsigned char *pk, const char *what, size_t max_len,
		       unsigned max_depth, json_t **ret, struct rerr *e);

#endif
