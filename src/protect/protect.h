/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * protect: rights-managed files, the server side.
 *
 * The key service keeps the server's X25519 key-wrapping key
 * (DATA/protect_wrap.key, 32 bytes, mode 0600, created at first start),
 * registers protected files with their access lists, and answers opens: it
 * checks the list against the person's state at that moment (status, org
 * unit, roles, groups), the file's expiry and revocation, records every
 * attempt in the file's access history and the audit log, and on success
 * re-seals the content key to the client's ephemeral X25519 key.
 *
 * Authorization of the management API is decided in protect_may (one
 * place, default deny):
 *   - anyone authenticated (not a SCIM token) may protect a file for
 *     themselves, ask for the wrapping key, and try to open a file (the
 *     access list then decides);
 *   - a file's owner, admin and security_officer may read and manage it;
 *     a security_manager may when the owner's unit lies in their subtree;
 *     an auditor may read (list, show, access history) every file;
 *   - protecting on behalf of another owner (--owner) needs the right to
 *     manage that owner's files (admin, security_officer, or the
 *     security_manager of the owner's unit).
 */
#ifndef RAMPART_PROTECT_H
#define RAMPART_PROTECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/principal.h"
#include "formats/rpf.h"

struct http_server;
struct store_conn;

/* --- keys --- */

struct protect_keys {
	unsigned char pk[RPF_PK_BYTES];
	unsigned char sk[RPF_SK_BYTES];
	unsigned char key_id[RPF_KEY_ID_BYTES];
};

/*
 * Loads (creating on first start, mode 0600) the key-wrapping key
 * DATA_DIR/protect_wrap.key and makes it the key service's.  Call once
 * before serving.  Returns 0, -errno, ERR_INVALID (wrong size or mode), or
 * -ENOMEM.
 */
int protect_keys_load(const char *data_dir);

/* The loaded keys (read-only), or NULL before protect_keys_load. */
const struct protect_keys *protect_keys_get(void);

/* Uses @k (copied into locked memory) as the key service's; for tests.  Returns 0 or -ENOMEM. */
int protect_keys_set(const struct protect_keys *k);

/* Derives the public key and key id of @k from its secret key. */
void protect_keys_derive(struct protect_keys *k);

/* --- authorization of the management API --- */

enum protect_action {
	PROTECT_CREATE,     /* register a file (owner: see protect_may) */
	PROTECT_READ,       /* show a file, its access list and history */
	PROTECT_MANAGE,     /* grant, ungrant, change expiry, revoke */
};

/* The file (or future owner) acted on. */
struct protect_target {
	const char *owner_id;
	const char *owner_org_path;   /* may be NULL or "" */
};

/* The decision.  For PROTECT_CREATE, @t is the owner-to-be. */
bool protect_may(const struct principal *p, enum protect_action a, const struct protect_target *t);

/* --- the access decision of an open --- */

enum protect_grant_kind { GRANT_USER, GRANT_GROUP, GRANT_ORG, GRANT_ROLE };

struct protect_grant {
	enum protect_grant_kind kind;
	const char *value;            /* person id, group name, org path, role name */
};

/* The file's policy as the key service sees it. */
struct protect_policy {
	const char *owner_id;
	int64_t expires_at;           /* 0: never */
	int64_t revoked_at;           /* 0: not revoked */
	const struct protect_grant *grants;
	size_t ngrants;
};

/* The person opening, as they are now. */
struct protect_subject {
	const char *person_id;
	const char *status;           /* active, on_leave, retired */
	const char *org_path;         /* may be "" */
	unsigned roles;               /* enum role bits, explicit and implicit */
	const char *const *groups;    /* names of the groups the person belongs to */
	size_t ngroups;
};

enum protect_decision {
	PROTECT_ALLOW_OWNER,
	PROTECT_ALLOW_LISTED,
	PROTECT_DENY_REVOKED,
	PROTECT_DENY_EXPIRED,
	PROTECT_DENY_INACTIVE,        /* retired or on leave */
	PROTECT_DENY_NOT_LISTED,
};

/*
 * Decides an open at @now_ms.  Revocation wins over everything, then expiry,
 * then the person's status; an active owner may open; anyone else must
 * match an entry: user (same id), group (a member now), org (their unit is
 * the path or below it), role (they hold it now).
 */
enum protect_decision protect_decide(const struct protect_policy *pol,
				     const struct protect_subject *s, int64_t now_ms);

static inline bool protect_decision_allows(enum protect_decision d)
{
	return d == PROTECT_ALLOW_OWNER || d == PROTECT_ALLOW_LISTED;
}

/* Stable name of a decision ("not_listed", "retired", "expired", "revoked", "owner", "listed"). */
const char *protect_decision_name(enum protect_decision d);

/* A sentence a person can act on, for a refusal. */
const char *protect_decision_message(enum protect_decision d);

/*
 * Parses "user:ID", "group:NAME", "org:PATH" or "role:ROLE" into @g
 * (value borrowed from @s).  Returns 0 or ERR_INVALID.
 */
int protect_grant_parse(const char *s, struct protect_grant *g);

/* --- the key service over the store --- */

/*
 * Decides whether @person_id may open @file_id now, loading the file's
 * policy and the person's current state.  Returns 0 with *ret, or
 * ERR_NOT_FOUND (no such file), or a store error.
 */
int protect_check_open(struct store_conn *c, const char *file_id, const char *person_id,
		       int64_t now_ms, enum protect_decision *ret);

/*
 * Re-seals the content key of the registered file whose header is
 * @hdr (RPF_HEADER_LEN bytes) to @client_pk: writes the box
 * (RPF_WRAPPED_LEN bytes: file id and key) to @ret_box.  Checks that @hdr is
 * the registered header (constant-time hash compare) and names this
 * server's key.  Returns 0, ERR_INVALID (another header), RPF_E_KEY_ID,
 * RPF_E_UNWRAP, or RPF_E_CRYPTO.
 */
int protect_rewrap(const struct protect_keys *k, const unsigned char hdr[RPF_HEADER_LEN],
		   const char *registered_hash_hex, const unsigned char client_pk[RPF_PK_BYTES],
		   unsigned char ret_box[RPF_WRAPPED_LEN]);

/* Registers /api/v1/protect/key and /api/v1/files... */
int protect_routes(struct http_server *s);

#endif
