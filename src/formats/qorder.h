/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * qorder: signed quarantine orders, shared by rampartd (which signs one
 * into every check-in answer) and rampart-agent (which verifies it and
 * installs or removes its nftables quarantine table).
 *
 * The signed document is the canonical JSON (sorted keys, compact, ASCII;
 * see policy.h) of exactly
 *   {"device_id": str, "quarantined": bool, "reason": str, "issued_at": ms}
 * where reason is printable UTF-8 of at most QORDER_MAX_REASON bytes (may be
 * empty), signed with Ed25519 by the server's policy key.  It travels as
 * {"document": "<the canonical text>", "signature": "<base64>"}.
 *
 * The agent applies an order only when it verifies against the key pinned at
 * enrollment, names its own device and was issued no earlier than the last
 * order it applied, so that an old "released" order cannot be replayed to
 * lift a quarantine.
 */
#ifndef RAMPART_QORDER_H
#define RAMPART_QORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/policy.h"

#define QORDER_MAX_REASON 200
#define QORDER_MAX_DEVICE_ID 128
#define QORDER_MAX_BYTES 1024

/*
 * Builds and signs the order for @device_id with the 64-byte secret key @sk.
 * @reason must be printable (see qorder_reason_clean).  Returns 0 and a new
 * {"document","signature"} in *ret, ERR_INVALID or -ENOMEM.
 */
int qorder_sign(const char *device_id, bool quarantined, const char *reason, int64_t issued_at_ms,
		const unsigned char *sk, json_t **ret);

/*
 * Verifies @signed_doc against the 32-byte public key @pk, checks the exact
 * field set and types and that device_id equals @device_id.  Returns 0 and
 * the parsed document in *ret_doc, ERR_UNAUTHENTICATED (signature) or
 * ERR_INVALID (malformed, or another device's order) with @e filled, or
 * -ENOMEM.
 */
int qorder_verify(const json_t *signed_doc, const unsigned char *pk, const char *device_id,
		  json_t **ret_doc, struct rerr *e);

/* True when @s is an acceptable reason: printable UTF-8 of at most QORDER_MAX_REASON bytes. */
bool qorder_reason_ok(const char *s);

/*
 * Copies @src into @dst (QORDER_MAX_REASON + 1 bytes) as an acceptable
 * reason: control characters become spaces, invalid UTF-8 becomes '?', and
 * the text is cut at a character boundary.
 */
void qorder_reason_clean(char dst[QORDER_MAX_REASON + 1], const char *src);

#endif
