/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auth: proving who someone is.  Password login (Argon2id), TOTP (liboath)
 * with recovery codes, sessions (cookie for browsers, bearer token for the
 * CLI) with idle and absolute expiry, named API tokens and SCIM tokens,
 * activation links, lockout per account and per source address, and the
 * authenticator hook the HTTP layer calls on every request.
 *
 * Only hashes of session tokens, API tokens, CSRF tokens, activation links
 * and recovery codes are stored.  A person whose status is not "active"
 * cannot authenticate, so a retirement takes effect on the next request.
 */
#ifndef RAMPART_AUTH_H
#define RAMPART_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http/principal.h"

struct app;
struct http_req;
struct http_server;
struct store_conn;

#define AUTH_COOKIE "rampart_session"
#define AUTH_CSRF_HEADER "X-CSRF-Token"

/* Registers /api/v1/auth/..., /api/v1/me..., /api/v1/tokens... */
int auth_routes(struct http_server *s);

/* Counts sessions neither expired nor revoked at @now_ms into *ret.  Returns 0 or a store error. */
int auth_sessions_active(struct store_conn *c, int64_t now_ms, int64_t *ret);

/* The http_authn_fn: fills @p from a cookie or Authorization: Bearer. */
int auth_authenticate(struct http_req *req, unsigned flags, struct principal *p);

/*
 * Loads the principal for person @person_id (roles, org path, kind).
 * Roles are the explicit grants, plus employee or partner_staff from the
 * kind, plus manager when someone not retired reports to the person.
 * via is left VIA_NONE and credential_id empty for the caller to set.
 * Returns 0, ERR_NOT_FOUND, or ERR_UNAUTHENTICATED when not active.
 */
int auth_load_principal(struct store_conn *c, const char *person_id, struct principal *p);

/*
 * The person who is no longer active (retired or on leave) and whose
 * session or API token the request's bearer token was, whatever became of
 * the credential since (revoked with the retirement, expired): copied to
 * @ret_person_id and @ret_login (@login_size bytes).  For the few routes
 * that record an attempt by someone who has left (a protected file's open)
 * rather than only refusing it; it authenticates nobody.  Returns 0,
 * ERR_NOT_FOUND (no bearer token, an unknown one, or its person is
 * active), or an error.
 */
int auth_req_inactive_owner(struct http_req *req, char ret_person_id[ULID_SIZE], char *ret_login,
			    size_t login_size);

/*
 * Revokes every session and API token of @person_id (inside the caller's
 * transaction when one is open).  Returns the number revoked or an error.
 */
int auth_revoke_all(struct store_conn *c, const char *person_id, int64_t now_ms);

/*
 * Creates a one-time activation link token for @person_id valid @ttl_ms;
 * writes the secret token (to be put in a link, never logged) to @ret_token
 * (@size >= RCRYPTO_TOKEN_SIZE).  The person's earlier unused links stop
 * working.  Joins the caller's transaction when one is open.  Does not
 * audit: the caller records who invited whom.  Returns 0, -EINVAL, or an error.
 */
int auth_activation_create(struct store_conn *c, const char *person_id, const char *created_by,
			   int64_t ttl_ms, char *ret_token, size_t size);

/*
 * Sets @person_id's password.  @must_change forces a change at next login.
 * Refuses passwords shorter than the configured minimum (counted in
 * characters), longer than 1024 bytes, or with control characters
 * (ERR_INVALID); ERR_NOT_FOUND for an unknown person.  Does not audit and
 * does not end sessions: the caller decides and records both.
 */
int auth_set_password(struct app *app, struct store_conn *c, const char *person_id,
		      const char *password, bool must_change);

#endif
