/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * principal: who is making a request, as established by authentication.
 * Domains read it to decide authorization; only identity fills it in.
 */
#ifndef RAMPART_PRINCIPAL_H
#define RAMPART_PRINCIPAL_H

#include <stdbool.h>

#include "common/ids.h"

enum role {
	ROLE_ADMIN = 1u << 0,
	ROLE_SECURITY_OFFICER = 1u << 1,
	ROLE_SECURITY_MANAGER = 1u << 2,
	ROLE_MANAGER = 1u << 3,
	ROLE_AUDITOR = 1u << 4,
	ROLE_EMPLOYEE = 1u << 5,
	ROLE_PARTNER_STAFF = 1u << 6,
};
#define ROLE_COUNT 7

enum principal_via {
	VIA_NONE = 0,
	VIA_COOKIE,        /* browser session cookie; needs CSRF on writes */
	VIA_SESSION_TOKEN, /* session token as Bearer (CLI login) */
	VIA_API_TOKEN,     /* named API token */
	VIA_SCIM_TOKEN,    /* token limited to /scim/v2 */
};

#define PRINCIPAL_PATH_SIZE 512

struct principal {
	enum principal_via via;
	char person_id[ULID_SIZE];
	char login[128];
	char org_unit_id[ULID_SIZE];        /* may be empty */
	char org_path[PRINCIPAL_PATH_SIZE]; /* may be empty */
	char kind[16];                      /* employee, partner_staff */
	unsigned roles;                     /* enum role bits */
	/* Subtree a security_manager manages (its grant's scope, else own unit). */
	char manages_path[PRINCIPAL_PATH_SIZE];
	char credential_id[ULID_SIZE];      /* session or token id */
	bool must_change_password;
};

/*
 * The audit context: who acts, from where, in which request; what every
 * audit entry records about its author.  The HTTP layer fills one per
 * request when it is received (http_req_audit_ctx; the principal it points
 * to is filled by authentication), so that domain functions take this
 * instead of an HTTP request.  Work that no request started (sweepers,
 * start-up, imports from a file) passes AUDIT_CTX_SYSTEM or one of its own.
 * Everything is borrowed and must outlive the calls it is passed to.
 */
struct audit_ctx {
	const struct principal *principal; /* may be NULL: nobody authenticated */
	const char *source;                /* client address, "cli", "system" */
	const char *request_id;            /* may be NULL */
};

/* The context of work Rampart does on its own. */
#define AUDIT_CTX_SYSTEM ((const struct audit_ctx){ .principal = NULL, .source = "system" })

/* True if the request carries an authenticated person. */
static inline bool principal_is_authenticated(const struct principal *p)
{
	return p && p->via != VIA_NONE;
}

static inline bool principal_has(const struct principal *p, unsigned role)
{
	return p && (p->roles & role) != 0;
}

/* Role name ("security_manager") for a single role bit, or NULL. */
const char *role_name(unsigned role);

/* Role bit for a name, or 0 if unknown. */
unsigned role_from_name(const char *name);

#endif
