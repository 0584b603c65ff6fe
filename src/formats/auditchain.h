/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auditchain: the canonical bytes and the hash of one audit entry, the one
 * recipe shared by rampartd (src/audit: append, verify) and the CLI (which
 * recomputes the chain from the entries the API lists, trusting no hash
 * the server sends).  A wire format: common/ and libsodium only.
 *
 * hash(N) = lowercase hex SHA-256 of the compact JSON array (non-ASCII
 * escaped as \uXXXX)
 *   [hash(N-1), N, ts, actor_id, actor_login, source, action, object_type,
 *    object_id, outcome, details, request_id]
 * where ts is Unix milliseconds, absent texts are null, details is the
 * entry's details object serialized compactly with sorted keys and ASCII
 * escapes (a string inside the array), and hash(0) is 64 zeros.
 */
#ifndef RAMPART_FORMATS_AUDITCHAIN_H
#define RAMPART_FORMATS_AUDITCHAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* A hash as text: 64 lowercase hex digits and the NUL. */
#define AUDIT_HASH_HEX 65
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* The fields an entry's hash covers; texts are borrowed. */
struct audit_chain_entry {
	int64_t id;
	int64_t ts;                /* Unix ms */
	const char *actor_id;      /* NULL: null */
	const char *actor_login;
	const char *source;
	const char *action;        /* required */
	const char *object_type;
	const char *object_id;
	const char *outcome;       /* required */
	const char *details;       /* required: the canonical text (audit_chain_details) */
	const char *request_id;
};

/*
 * The hash of @e following @prev into @out.  Returns 0; ERR_INVALID when a
 * required field is NULL or a text is not valid UTF-8 (no stored entry can
 * be that, so a caller that verifies treats it as tampering); -ENOMEM.
 */
int audit_chain_hash(const char *prev, const struct audit_chain_entry *e, char out[AUDIT_HASH_HEX]);

/*
 * The canonical text of a details object (@details NULL: "{}"), malloc'd
 * into *ret.  Returns 0, ERR_INVALID when @details is not an object, or
 * -ENOMEM.
 */
int audit_chain_details(const json_t *details, char **ret);

/* True if @s is 64 lowercase hex digits. */
bool audit_hash_is_valid(const char *s);

/*
 * Reads an entry as the API lists it (GET /api/v1/audit: id, time as RFC
 * 3339 with milliseconds or null, the texts or null, details an object)
 * into @e, borrowing texts from @item, with the canonical details text in
 * *ret_details (the caller frees it).  Returns 0, or ERR_INVALID with @err
 * naming the field that is missing or of the wrong type, or -ENOMEM.
 */
int audit_chain_entry_from_api(const json_t *item, struct audit_chain_entry *e, char **ret_details,
			       struct rerr *err);

#endif
