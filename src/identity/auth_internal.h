/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auth_internal: the logic behind auth.h, without HTTP, for auth_http.c and
 * the unit tests.  Every function takes the current time (@now, Unix
 * milliseconds) so that expiry, lockout and TOTP steps can be tested.
 *
 * Lockout model.  auth_failures holds one row per failed attempt, keyed by
 * factor ("password" or "totp") and subject ("account:<login>" or
 * "source:<address>").  A subject is locked for lockout_s after the failure
 * that brought its count within lockout_window_s to the threshold
 * (lockout_threshold for accounts, source_lockout_threshold for sources).
 * Attempts refused because of a lock are not counted, so the lock ends on
 * time.  A success clears the account's failures for that factor, never the
 * source's.  The rows live in the database so that every server sees them.
 */
#ifndef RAMPART_AUTH_INTERNAL_H
#define RAMPART_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/ids.h"
#include "crypto/rcrypto.h"
#include "http/principal.h"

struct app;
struct http_req;
struct store_conn;

#define AUTH_LOGIN_MAX 128
#define AUTH_PASSWORD_MAX 1024
#define AUTH_RECOVERY_CODES 10
/* "xxxx-xxxx-xxxx": 12 characters of a 32-letter alphabet (60 bits). */
#define AUTH_RECOVERY_CODE_SIZE 15
#define AUTH_RECOVERY_INPUT_MAX 64
#define AUTH_TOTP_STEP_S 30
#define AUTH_TOTP_DIGITS 6
#define AUTH_TOTP_SECRET_BYTES 20
/* Base32 of 20 bytes: 32 characters, no padding. */
#define AUTH_TOTP_B32_SIZE 33
#define AUTH_SEEN_UPDATE_MS 60000
#define AUTH_TOKEN_NAME_MAX 100
#define AUTH_TOKENS_PER_PERSON 50
#define AUTH_TOKEN_MAX_TTL_MS (365LL * 86400 * 1000)
#define AUTH_TOKEN_DEFAULT_TTL_MS (90LL * 86400 * 1000)
#define AUTH_USER_AGENT_MAX 256

enum auth_factor { AUTH_FACTOR_PASSWORD, AUTH_FACTOR_TOTP };

/* Who is asking, for audit entries and session records (all borrowed). */
struct auth_client {
	const char *actor_id;     /* authenticated person, or NULL */
	const char *actor_login;  /* or NULL */
	const char *source;       /* client address; never NULL */
	const char *user_agent;   /* may be NULL */
	const char *request_id;   /* may be NULL */
};

/*
 * Computes the dummy password hash that unknown logins are verified
 * against, so that even the first such login takes the usual time.  Call
 * after rcrypto_init(); login calls it too.
 */
void auth_prepare(void);

/* Fills @cl from @req (its principal, address, User-Agent and id). */
void auth_client_from_req(struct http_req *req, struct auth_client *cl);

/*
 * Why an operation was refused, for the API message; filled on error only.
 * Beside the struct rerr (message and field) it keeps what only a lockout
 * has: when the lock ends, which the answer's Retry-After tells.
 */
struct auth_err {
	struct rerr r;
	int64_t retry_at;         /* ERR_LOCKED: when the lock ends (ms) */
};

/* Fills @e (may be NULL) and returns @err. */
int auth_fail_msg(struct auth_err *e, int err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Appends an audit entry for @cl (details stolen, may be NULL).  Errors are
 * logged and returned; callers inside a transaction roll back on them.
 */
int auth_audit(struct store_conn *c, const struct auth_client *cl, const char *action,
	       const char *object_type, const char *object_id, enum audit_outcome outcome,
	       json_t *details);

/*
 * Ends the transaction of a change that went well so far (@r >= 0): audits
 * @action on the object as a success for @cl, then commits.  When @r is an
 * error, or the audit or the commit fails, rolls back.  @details is stolen
 * in every case.  Returns 0 or the error.
 */
int auth_commit_audited(struct store_conn *c, const struct auth_client *cl, int r, const char *action,
			const char *object_type, const char *object_id, json_t *details);

/* --- credentials (the authenticator's core) --- */

enum auth_cred_kind { AUTH_CRED_BEARER, AUTH_CRED_COOKIE };

struct auth_cred {
	enum auth_cred_kind kind;
	const char *token;        /* "rs_..." session or "rt_..." API token */
	const char *csrf;         /* X-CSRF-Token header, or NULL */
	bool write;               /* POST, PUT, PATCH or DELETE */
};

/*
 * Checks @cred for a route with @flags (HTTP_AUTH_USER, HTTP_AUTH_OPTIONAL
 * or HTTP_AUTH_SCIM) and fills @p.  Sessions must be neither revoked,
 * expired (expires_at) nor idle longer than session_idle_s; their
 * last_seen_at is refreshed at most once per AUTH_SEEN_UPDATE_MS.  Cookie
 * writes need the session's CSRF token.  Returns 0; ERR_UNAUTHENTICATED
 * (unknown, revoked, expired, or the person is not active); ERR_CSRF;
 * ERR_FORBIDDEN (a SCIM token outside /scim, or anything else on a SCIM
 * route; audited as authz.denied for @cl); or a store error.
 */
int auth_check(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
	       const struct auth_cred *cred, unsigned flags, struct principal *p);

/* --- login and sessions --- */

struct auth_login_req {
	const char *login;          /* at most AUTH_LOGIN_MAX bytes */
	const char *password;       /* at most AUTH_PASSWORD_MAX bytes */
	const char *totp;           /* six digits, or NULL */
	const char *recovery_code;  /* or NULL; not together with totp */
};

struct auth_session_new {
	char id[ULID_SIZE];
	char token[RCRYPTO_TOKEN_SIZE];   /* secret: shown once, never logged */
	char csrf[RCRYPTO_TOKEN_SIZE];    /* secret */
	int64_t created_at;
	int64_t expires_at;
};

struct auth_login_result {
	char person_id[ULID_SIZE];
	char login[AUTH_LOGIN_MAX + 1];
	bool must_change_password;
	struct auth_session_new session;
};

/*
 * Password (and second factor) login.  Checks the locks first, verifies the
 * password with Argon2id (against a dummy hash for an unknown login, so the
 * time spent does not tell), then TOTP with replay protection or a one-time
 * recovery code when the person has TOTP, and creates a session.  Every
 * outcome is audited (auth.login; auth.lockout when a lock starts).
 * Returns 0 with @ret filled; ERR_UNAUTHENTICATED (wrong login, password or
 * code, or the person is not active); ERR_TOTP_REQUIRED; ERR_LOCKED with
 * @e->retry_at; ERR_INVALID; or a store error.  @ret holds secrets: wipe it.
 */
int auth_login(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
	       const struct auth_login_req *in, struct auth_login_result *ret, struct auth_err *e);

/* Creates a session for @person_id (in the caller's transaction if one is open). */
int auth_session_create(struct app *app, struct store_conn *c, int64_t now,
			const char *person_id, const struct auth_client *cl,
			struct auth_session_new *ret);

/*
 * Revokes session @session_id of @person_id.  Returns 0, or ERR_NOT_FOUND
 * when it is not that person's live session.
 */
int auth_session_revoke(struct store_conn *c, int64_t now, const char *person_id,
			const char *session_id);

/*
 * Whether @subject ("account:alice", "source:10.0.0.1") is locked for
 * @factor.  Returns 0 when free, ERR_LOCKED with *ret_until, or a store error.
 */
int auth_lock_check(struct app *app, struct store_conn *c, int64_t now, enum auth_factor factor,
		    const char *subject, int64_t *ret_until);

/* --- passwords --- */

/*
 * Changes @person_id's password after verifying @current (counted against
 * the password lockout like a login).  The new password must meet the
 * length rules and differ from the current one.  Clears must-change,
 * revokes the person's other sessions (all but @keep_session_id, may be
 * NULL) and audits auth.password_change.  Returns 0; ERR_LOCKED;
 * ERR_UNAUTHENTICATED (current password wrong); ERR_INVALID (@e names
 * the field); or a store error.
 */
int auth_password_change(struct app *app, struct store_conn *c, int64_t now,
			 const struct auth_client *cl, const char *person_id,
			 const char *keep_session_id, const char *current, const char *next,
			 struct auth_err *e);

/*
 * Verifies @password for @person_id as a second confirmation of a
 * sensitive change, with the password lockout.  Returns 0, ERR_LOCKED,
 * ERR_UNAUTHENTICATED, or a store error.  Failures are recorded (and
 * audited as @action, failure).
 */
int auth_password_confirm(struct app *app, struct store_conn *c, int64_t now,
			  const struct auth_client *cl, const char *person_id,
			  const char *password, const char *action, struct auth_err *e);

/* Checks the length rules (code points >= min_password_len, bytes <= 1024). */
int auth_password_acceptable(const struct app *app, const char *password, const char *field,
			     struct auth_err *e);

/*
 * Consumes activation token @token and sets the person's password.
 * Wrong, used and expired tokens count against the source lockout.
 * Audits person.activate.  Returns 0 with @ret_person_id; ERR_INVALID
 * (password rules); ERR_NOT_FOUND (unknown, used or expired token, or the
 * person is not active); ERR_LOCKED; or a store error.
 */
int auth_activate(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
		  const char *token, const char *password, char ret_person_id[ULID_SIZE],
		  struct auth_err *e);

/* --- TOTP (auth_totp.c) --- */

/*
 * Matches six-digit @code against @secret for the steps around @now (window
 * +-1 step of AUTH_TOTP_STEP_S), refusing steps <= @last_step (replay).
 * Returns 0 with *ret_step, or ERR_UNAUTHENTICATED.
 */
int auth_totp_match(const unsigned char *secret, size_t len, int64_t now, int64_t last_step,
		    const char *code, int64_t *ret_step);

/* The code for @secret at time @now (for tests and tools); @out has 7 bytes. */
int auth_totp_code(const unsigned char *secret, size_t len, int64_t now, char out[7]);

/*
 * Seals and opens a TOTP seed with the server's secret key, bound to
 * @person_id.  auth_totp_seal writes a new buffer to *ret (caller frees).
 * auth_totp_open fills @secret (AUTH_TOTP_SECRET_BYTES).  Return 0,
 * -ENOMEM, or ERR_INTERNAL (blob altered, wrong key or person).
 */
int auth_totp_seal(const struct app *app, const char *person_id, const unsigned char *secret,
		   unsigned char **ret, size_t *ret_len);
int auth_totp_open(const struct app *app, const char *person_id, const void *blob, size_t len,
		   unsigned char secret[AUTH_TOTP_SECRET_BYTES]);

/*
 * Starts TOTP enrollment: a new seed sealed into people.totp_pending.
 * Returns 0 with the base32 seed in @ret_b32; ERR_CONFLICT when TOTP is
 * already on; or an error.  Audits auth.totp_enroll.
 */
int auth_totp_enroll(struct app *app, struct store_conn *c, int64_t now,
		     const struct auth_client *cl, const char *person_id,
		     char ret_b32[AUTH_TOTP_B32_SIZE]);

/*
 * Confirms enrollment with @code from the pending seed, turns TOTP on and
 * replaces the recovery codes with AUTH_RECOVERY_CODES new ones, written
 * to @ret_codes.  Returns 0; ERR_CONFLICT (no enrollment pending);
 * ERR_INVALID (wrong code); or an error.  Audits auth.totp_confirm.
 */
int auth_totp_confirm(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id, const char *code,
		      char ret_codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE]);

/* Turns TOTP off and deletes the recovery codes.  Audits auth.totp_disable. */
int auth_totp_disable(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id);

/*
 * Second factor at login for a person with TOTP on: @totp or
 * @recovery_code (exactly one non-NULL).  A TOTP step is accepted once;
 * a recovery code once.  Returns 0, ERR_UNAUTHENTICATED, or an error.
 * *ret_reason (static) says why a code was refused, for the audit.
 */
int auth_totp_verify_login(struct app *app, struct store_conn *c, int64_t now,
			   const char *person_id, const char *totp, const char *recovery_code,
			   const char **ret_reason);

/* Hash under which a recovery code of @person_id is stored (normalized first). */
int auth_recovery_hash(const char *person_id, const char *code, char out[RCRYPTO_HASH_HEX_SIZE]);

/* --- API tokens --- */

struct auth_token_new {
	char id[ULID_SIZE];
	char token[RCRYPTO_TOKEN_SIZE];   /* secret: shown once */
	int64_t expires_at;
};

/*
 * Creates an API token for @person_id with @scope ("api" or "scim")
 * valid @ttl_ms (1 ms .. 365 days).  Refuses a 51st live token
 * (ERR_CONFLICT) and bad names (ERR_INVALID).  Authorization is the
 * caller's.  Audits auth.token_create.
 */
int auth_token_create(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id, const char *name,
		      const char *scope, int64_t ttl_ms, struct auth_token_new *ret,
		      struct auth_err *e);

#endif
