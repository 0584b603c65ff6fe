/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auth: credentials, principals, login, lockout, passwords, activation
 * links and API tokens, without HTTP (auth_http.c holds the handlers,
 * auth_totp.c the second factor).
 *
 * Invariants: only hashes of secrets reach the database (session, CSRF,
 * API and activation tokens: SHA-256 of 256 random bits; passwords:
 * Argon2id); nothing secret is logged or audited; a person whose status is
 * not "active" never gets a principal.  Lockout state lives in
 * auth_failures so that several servers share it (see auth_internal.h).
 */
#include "identity/auth.h"
#include "identity/auth_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http.h"
#include "identity/people.h"
#include "store/store.h"

/* "account:" or "source:" plus a login (<= 128 bytes) or an address. */
#define AUTH_SUBJECT_SIZE 192

int auth_fail_msg(struct auth_err *e, int err, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return err;
	snprintf(e->r.field, sizeof(e->r.field), "%s", field ? field : "");
	e->r.message[0] = '\0';
	e->r.at = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(e->r.message, sizeof(e->r.message), fmt, ap);
		va_end(ap);
	}
	return err;
}

int auth_audit(struct store_conn *c, const struct auth_client *cl, const char *action,
	       const char *object_type, const char *object_id, enum audit_outcome outcome,
	       json_t *details)
{
	struct audit_entry e = {
		.actor_id = cl->actor_id,
		.actor_login = cl->actor_login,
		.source = cl->source,
		.action = action,
		.object_type = object_type,
		.object_id = object_id,
		.outcome = outcome,
		.details = details,
		.request_id = cl->request_id,
	};
	int r = audit_append(c, &e);

	if (r < 0)
		log_error("auth: cannot append audit entry", "action=%s error=\"%s\"", action, err_str(r));
	json_decref(details);
	return r;
}

int auth_commit_audited(struct store_conn *c, const struct auth_client *cl, int r, const char *action,
			const char *object_type, const char *object_id, json_t *details)
{
	if (r < 0)
		json_decref(details);
	else
		r = auth_audit(c, cl, action, object_type, object_id, AUDIT_SUCCESS, details);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return 0;
}

static const char *auth_factor_name(enum auth_factor f)
{
	return f == AUTH_FACTOR_TOTP ? "totp" : "password";
}

/* Begins a transaction unless the caller has one; *own says whether to end it. */
static int auth_tx_begin(struct store_conn *c, bool *own)
{
	*own = !store_in_transaction(c);
	return *own ? store_begin(c) : 0;
}

static int auth_tx_end(struct store_conn *c, bool own, int r)
{
	if (!own)
		return r;
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return store_commit(c);
}

/* Number of Unicode code points in UTF-8 @s. */
static size_t auth_utf8_len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

/* ------------------------------------------------------------ principals */

int auth_load_principal(struct store_conn *c, const char *person_id, struct principal *p)
{
	struct principal q = { .via = VIA_NONE };
	struct store_stmt *st = NULL;
	bool sm_scoped = false, manager;
	int r;

	r = store_query(c, "SELECT p.login, p.org_unit_id, o.path, p.kind, p.status, "
			   "p.password_must_change FROM people p "
			   "LEFT JOIN org_units o ON o.id = p.org_unit_id WHERE p.id = $1",
			STORE_ARGS(SA_TEXT(person_id)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r <= 0) {
		store_stmt_free(st);
		return r < 0 ? r : ERR_NOT_FOUND;
	}
	if (strcmp(store_col_text(st, 4) ? store_col_text(st, 4) : "", "active") != 0) {
		store_stmt_free(st);
		return ERR_UNAUTHENTICATED;
	}
	if (str_copy(q.person_id, sizeof(q.person_id), person_id) < 0 ||
	    str_copy(q.login, sizeof(q.login), store_col_text(st, 0) ? store_col_text(st, 0) : "") < 0 ||
	    str_copy(q.org_unit_id, sizeof(q.org_unit_id),
		     store_col_text(st, 1) ? store_col_text(st, 1) : "") < 0 ||
	    str_copy(q.org_path, sizeof(q.org_path), store_col_text(st, 2) ? store_col_text(st, 2) : "") < 0 ||
	    str_copy(q.kind, sizeof(q.kind), store_col_text(st, 3) ? store_col_text(st, 3) : "") < 0) {
		store_stmt_free(st);
		log_error("auth: person record does not fit a principal", "person=%s", person_id);
		return ERR_INTERNAL;
	}
	q.must_change_password = store_col_i64(st, 5) != 0;
	store_stmt_free(st);
	st = NULL;

	if (strcmp(q.kind, "employee") == 0)
		q.roles |= ROLE_EMPLOYEE;
	else if (strcmp(q.kind, "partner_staff") == 0)
		q.roles |= ROLE_PARTNER_STAFF;

	r = store_query(c, "SELECT r.role, r.scope_org_id, s.path FROM person_roles r "
			   "LEFT JOIN org_units s ON s.id = r.scope_org_id WHERE r.person_id = $1",
			STORE_ARGS(SA_TEXT(person_id)), &st);
	if (r < 0)
		return r;
	while ((r = store_step(st)) == 1) {
		unsigned bit = role_from_name(store_col_text(st, 0));

		q.roles |= bit;
		if (bit == ROLE_SECURITY_MANAGER && !store_col_is_null(st, 1)) {
			/* A scope whose unit vanished grants nothing rather than the own unit. */
			sm_scoped = true;
			if (str_copy(q.manages_path, sizeof(q.manages_path),
				     store_col_text(st, 2) ? store_col_text(st, 2) : "") < 0)
				r = ERR_INTERNAL;
			if (r < 0)
				break;
		}
	}
	store_stmt_free(st);
	if (r < 0)
		return r;
	if ((q.roles & ROLE_SECURITY_MANAGER) && !sm_scoped)
		memcpy(q.manages_path, q.org_path, sizeof(q.manages_path));

	r = people_is_manager(c, person_id, &manager);
	if (r < 0)
		return r;
	if (manager)
		q.roles |= ROLE_MANAGER;
	*p = q;
	return 0;
}

/* ----------------------------------------------------------- credentials */

static int auth_refuse(const char *why)
{
	log_debug("auth: credential refused", "reason=%s", why);
	return ERR_UNAUTHENTICATED;
}

/* Loads the principal of a credential's owner @person; one gone or not active is refused. */
static int auth_load_owner(struct store_conn *c, const char *person, struct principal *p)
{
	int r = auth_load_principal(c, person, p);

	if (r == ERR_NOT_FOUND || r == ERR_UNAUTHENTICATED)
		return auth_refuse("person_not_active");
	return r;
}

/* A valid credential of the wrong kind for the route: audited, refused. */
static int auth_scope_denied(struct store_conn *c, const struct auth_client *cl,
			     const struct principal *q, const char *object_type, const char *id,
			     bool scim_route)
{
	struct auth_client a = *cl;

	log_debug("auth: credential does not fit the route", "credential=%s", id);
	a.actor_id = q->person_id;
	a.actor_login = q->login;
	auth_audit(c, &a, "authz.denied", object_type, id, AUDIT_DENIED,
		   json_pack("{s:s}", "reason", scim_route ? "only SCIM tokens reach /scim/v2"
							   : "SCIM tokens reach only /scim/v2"));
	return ERR_FORBIDDEN;
}

static int auth_check_session(struct app *app, struct store_conn *c, int64_t now,
			      const struct auth_client *cl, const struct auth_cred *cred,
			      const char *hash, unsigned flags, struct principal *p)
{
	struct store_stmt *st;
	char id[ULID_SIZE], person[ULID_SIZE], csrf_hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t last_seen, expires;
	bool revoked;
	int r;

	r = store_query(c, "SELECT id, person_id, csrf_hash, last_seen_at, expires_at, "
			   "revoked_at IS NOT NULL FROM sessions WHERE token_hash = $1",
			STORE_ARGS(SA_TEXT(hash)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r <= 0) {
		store_stmt_free(st);
		return r < 0 ? r : auth_refuse("unknown_session");
	}
	if (str_copy(id, sizeof(id), store_col_text(st, 0) ? store_col_text(st, 0) : "") < 0 ||
	    str_copy(person, sizeof(person), store_col_text(st, 1) ? store_col_text(st, 1) : "") < 0 ||
	    str_copy(csrf_hash, sizeof(csrf_hash), store_col_text(st, 2) ? store_col_text(st, 2) : "") < 0) {
		store_stmt_free(st);
		return auth_refuse("malformed_session");
	}
	last_seen = store_col_i64(st, 3);
	expires = store_col_i64(st, 4);
	revoked = store_col_i64(st, 5) != 0;
	store_stmt_free(st);

	if (revoked)
		return auth_refuse("session_revoked");
	if (expires <= now)
		return auth_refuse("session_expired");
	if (now - last_seen >= app->cfg.session_idle_s * 1000)
		return auth_refuse("session_idle");
	r = auth_load_owner(c, person, p);
	if (r < 0)
		return r;
	if (flags & HTTP_AUTH_SCIM)
		return auth_scope_denied(c, cl, p, "session", id, true);
	if (cred->kind == AUTH_CRED_COOKIE && cred->write) {
		char h[RCRYPTO_HASH_HEX_SIZE];

		if (!cred->csrf || !*cred->csrf || strlen(cred->csrf) >= RCRYPTO_TOKEN_SIZE) {
			log_debug("auth: CSRF token missing", "session=%s", id);
			return ERR_CSRF;
		}
		rcrypto_token_hash(cred->csrf, h);
		if (!rcrypto_str_eq(h, csrf_hash)) {
			log_debug("auth: CSRF token wrong", "session=%s", id);
			return ERR_CSRF;
		}
	}
	p->via = cred->kind == AUTH_CRED_COOKIE ? VIA_COOKIE : VIA_SESSION_TOKEN;
	memcpy(p->credential_id, id, sizeof(p->credential_id));
	if (now - last_seen >= AUTH_SEEN_UPDATE_MS) {
		/* Best effort: a missed refresh only makes the session expire sooner. */
		r = store_exec(c, "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
			       STORE_ARGS(SA_TEXT(id), SA_I64(now)));
		if (r < 0)
			log_debug("auth: cannot refresh session", "session=%s error=\"%s\"", id, err_str(r));
	}
	return 0;
}

static int auth_check_token(struct app *app, struct store_conn *c, int64_t now,
			    const struct auth_client *cl, const char *hash, unsigned flags,
			    struct principal *p)
{
	struct store_stmt *st;
	char id[ULID_SIZE], person[ULID_SIZE];
	int64_t expires, last_used;
	bool revoked, scim;
	int r;

	r = store_query(c, "SELECT id, person_id, scope, expires_at, revoked_at IS NOT NULL, last_used_at "
			   "FROM api_tokens WHERE token_hash = $1", STORE_ARGS(SA_TEXT(hash)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r <= 0) {
		store_stmt_free(st);
		return r < 0 ? r : auth_refuse("unknown_token");
	}
	if (str_copy(id, sizeof(id), store_col_text(st, 0) ? store_col_text(st, 0) : "") < 0 ||
	    str_copy(person, sizeof(person), store_col_text(st, 1) ? store_col_text(st, 1) : "") < 0) {
		store_stmt_free(st);
		return auth_refuse("malformed_token");
	}
	scim = strcmp(store_col_text(st, 2) ? store_col_text(st, 2) : "", "scim") == 0;
	expires = store_col_is_null(st, 3) ? 0 : store_col_i64(st, 3);
	revoked = store_col_i64(st, 4) != 0;
	last_used = store_col_is_null(st, 5) ? 0 : store_col_i64(st, 5);
	store_stmt_free(st);

	if (revoked)
		return auth_refuse("token_revoked");
	if (expires && expires <= now)
		return auth_refuse("token_expired");
	r = auth_load_owner(c, person, p);
	if (r < 0)
		return r;
	if (scim != ((flags & HTTP_AUTH_SCIM) != 0))
		return auth_scope_denied(c, cl, p, "api_token", id, !scim);
	p->via = scim ? VIA_SCIM_TOKEN : VIA_API_TOKEN;
	memcpy(p->credential_id, id, sizeof(p->credential_id));
	if (now - last_used >= AUTH_SEEN_UPDATE_MS) {
		r = store_exec(c, "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 "
				  "AND (last_used_at IS NULL OR last_used_at < $2)",
			       STORE_ARGS(SA_TEXT(id), SA_I64(now)));
		if (r < 0)
			log_debug("auth: cannot note token use", "token=%s error=\"%s\"", id, err_str(r));
	}
	return 0;
}

int auth_check(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
	       const struct auth_cred *cred, unsigned flags, struct principal *p)
{
	struct principal q;
	char hash[RCRYPTO_HASH_HEX_SIZE];
	bool session;
	int r;

	if (!cred->token || strlen(cred->token) >= RCRYPTO_TOKEN_SIZE)
		return auth_refuse("malformed_credential");
	if (str_has_prefix(cred->token, "rs_"))
		session = true;
	else if (str_has_prefix(cred->token, "rt_") && cred->kind == AUTH_CRED_BEARER)
		session = false;
	else
		return auth_refuse("malformed_credential");
	rcrypto_token_hash(cred->token, hash);
	r = session ? auth_check_session(app, c, now, cl, cred, hash, flags, &q)
		    : auth_check_token(app, c, now, cl, hash, flags, &q);
	if (r < 0)
		return r;
	*p = q;
	return 0;
}

/* --------------------------------------------------------------- lockout */

static int64_t auth_threshold(const struct app *app, const char *subject)
{
	return str_has_prefix(subject, "source:") ? app->cfg.source_lockout_threshold
						  : app->cfg.lockout_threshold;
}

int auth_lock_check(struct app *app, struct store_conn *c, int64_t now, enum auth_factor factor,
		    const char *subject, int64_t *ret_until)
{
	int64_t lockout_ms = app->cfg.lockout_s * 1000, start;
	int r;

	/* The newest failure within the lock period that completed a full window. */
	r = store_query_i64(c, "SELECT coalesce(max(f.at), 0) FROM auth_failures f "
			       "WHERE f.factor = $1 AND f.subject = $2 AND f.at > $3 AND "
			       "(SELECT count(*) FROM auth_failures g WHERE g.factor = $1 AND "
			       "g.subject = $2 AND g.at <= f.at AND g.at > f.at - $4) >= $5",
			    STORE_ARGS(SA_TEXT(auth_factor_name(factor)), SA_TEXT(subject),
				       SA_I64(now - lockout_ms), SA_I64(app->cfg.lockout_window_s * 1000),
				       SA_I64(auth_threshold(app, subject))), &start);
	if (r < 0)
		return r;
	if (start == 0 || start + lockout_ms <= now)
		return 0;
	*ret_until = start + lockout_ms;
	return ERR_LOCKED;
}

/* Checks the account (may be NULL) and the source; returns the later lock. */
static int auth_locks_check(struct app *app, struct store_conn *c, int64_t now, enum auth_factor f,
			    const char *account, const char *source, int64_t *ret_until)
{
	int64_t a = 0, s = 0;
	int ra = 0, rs;

	if (account) {
		ra = auth_lock_check(app, c, now, f, account, &a);
		if (ra < 0 && ra != ERR_LOCKED)
			return ra;
	}
	rs = auth_lock_check(app, c, now, f, source, &s);
	if (rs < 0 && rs != ERR_LOCKED)
		return rs;
	if (ra == 0 && rs == 0)
		return 0;
	*ret_until = a > s ? a : s;
	return ERR_LOCKED;
}

/*
 * Records one failure of @factor for @subject inside the caller's
 * transaction and audits auth.lockout when it starts a lock.
 */
static int auth_failure_note(struct app *app, struct store_conn *c, int64_t now,
			     const struct auth_client *cl, enum auth_factor factor, const char *subject)
{
	int64_t until = 0, horizon = (app->cfg.lockout_s + app->cfg.lockout_window_s) * 1000;
	bool was_locked;
	const char *colon;
	char when[40];
	int r;

	r = auth_lock_check(app, c, now, factor, subject, &until);
	if (r < 0 && r != ERR_LOCKED)
		return r;
	was_locked = r == ERR_LOCKED;
	r = store_exec(c, "INSERT INTO auth_failures (factor, subject, at) VALUES ($1, $2, $3)",
		       STORE_ARGS(SA_TEXT(auth_factor_name(factor)), SA_TEXT(subject), SA_I64(now)));
	if (r < 0)
		return r;
	/* Rows older than a window before the oldest possible lock decide nothing. */
	r = store_exec(c, "DELETE FROM auth_failures WHERE factor = $1 AND subject = $2 AND at <= $3",
		       STORE_ARGS(SA_TEXT(auth_factor_name(factor)), SA_TEXT(subject), SA_I64(now - horizon)));
	if (r < 0)
		return r;
	r = auth_lock_check(app, c, now, factor, subject, &until);
	if (r == 0 || was_locked)
		return 0;
	if (r != ERR_LOCKED)
		return r;
	colon = strchr(subject, ':');
	log_info("auth: lockout", "factor=%s kind=%.*s", auth_factor_name(factor),
		 (int)(colon ? colon - subject : 0), subject);
	return auth_audit(c, cl, "auth.lockout", str_has_prefix(subject, "source:") ? "source" : "account",
			  colon ? colon + 1 : subject, AUDIT_FAILURE,
			  json_pack("{s:s, s:s, s:I}", "factor", auth_factor_name(factor),
				    "until", rtime_format(when, sizeof(when), until),
				    "threshold", (json_int_t)auth_threshold(app, subject)));
}

/*
 * Records a failed attempt against @account (may be NULL) and @source and
 * audits @action as a failure with @details (stolen), in one transaction.
 * Errors are logged: the caller answers with the failure anyway.
 */
static void auth_failure(struct app *app, struct store_conn *c, int64_t now,
			 const struct auth_client *cl, enum auth_factor factor, const char *account,
			 const char *source, const char *action, const char *object_id, json_t *details)
{
	int r = store_begin(c);

	if (r < 0) {
		json_decref(details);
		log_error("auth: cannot record a failed attempt", "error=\"%s\"", err_str(r));
		return;
	}
	if (account)
		r = auth_failure_note(app, c, now, cl, factor, account);
	if (r >= 0)
		r = auth_failure_note(app, c, now, cl, factor, source);
	if (r >= 0)
		r = auth_audit(c, cl, action, "person", object_id, AUDIT_FAILURE, details);
	else
		json_decref(details);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		log_error("auth: cannot record a failed attempt", "error=\"%s\"", err_str(r));
	}
}

static int auth_failures_clear(struct store_conn *c, enum auth_factor factor, const char *subject)
{
	int r = store_exec(c, "DELETE FROM auth_failures WHERE factor = $1 AND subject = $2",
			   STORE_ARGS(SA_TEXT(auth_factor_name(factor)), SA_TEXT(subject)));

	return r < 0 ? r : 0;
}

static int auth_subject(char *out, size_t size, const char *kind, const char *value)
{
	int n = snprintf(out, size, "%s:%s", kind, value);

	return n < 0 || (size_t)n >= size ? ERR_INVALID : 0;
}

static int auth_locked_fail(struct auth_err *e, int64_t until, int64_t now)
{
	char when[40];
	int64_t secs = (until - now + 999) / 1000;

	if (e)
		e->retry_at = until;
	return auth_fail_msg(e, ERR_LOCKED, NULL,
			     "too many failed attempts; try again after %s (in %lld seconds)",
			     rtime_format(when, sizeof(when), until), (long long)secs);
}

/* ------------------------------------------------------------- passwords */

static pthread_once_t auth_dummy_once = PTHREAD_ONCE_INIT;
static char auth_dummy_hash[RCRYPTO_PWHASH_SIZE];

/* A hash of a random password, verified for unknown logins so they take as long. */
static void auth_dummy_init(void)
{
	unsigned char raw[16];
	char pw[sizeof(raw) * 2 + 1];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
	if (rcrypto_pwhash(pw, auth_dummy_hash) < 0)
		auth_dummy_hash[0] = '\0';
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(pw, sizeof(pw));
}

static const char *auth_dummy(void)
{
	pthread_once(&auth_dummy_once, auth_dummy_init);
	return auth_dummy_hash;
}

void auth_prepare(void)
{
	auth_dummy();
}

int auth_password_acceptable(const struct app *app, const char *password, const char *field,
			     struct auth_err *e)
{
	size_t bytes = strlen(password);

	if (bytes > AUTH_PASSWORD_MAX)
		return auth_fail_msg(e, ERR_INVALID, field, "the password is longer than %d bytes",
				     AUTH_PASSWORD_MAX);
	if (!str_is_clean_utf8(password, bytes))
		return auth_fail_msg(e, ERR_INVALID, field,
				     "the password contains control characters or invalid UTF-8");
	if ((int64_t)auth_utf8_len(password) < app->cfg.min_password_len)
		return auth_fail_msg(e, ERR_INVALID, field,
				     "the password must have at least %lld characters",
				     (long long)app->cfg.min_password_len);
	return 0;
}

int auth_set_password(struct app *app, struct store_conn *c, const char *person_id,
		      const char *password, bool must_change)
{
	char hash[RCRYPTO_PWHASH_SIZE];
	int r;

	r = auth_password_acceptable(app, password, "password", NULL);
	if (r < 0)
		return r;
	r = rcrypto_pwhash(password, hash);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE people SET password_hash = $2, password_must_change = $3, "
			  "updated_at = $4 WHERE id = $1",
		       STORE_ARGS(SA_TEXT(person_id), SA_TEXT(hash), SA_I64(must_change ? 1 : 0),
				  SA_I64(rtime_now_ms())));
	sodium_memzero(hash, sizeof(hash));
	if (r < 0)
		return r;
	return r == 0 ? ERR_NOT_FOUND : 0;
}

/* What login and confirmation need to know about a person. */
struct auth_person {
	char id[ULID_SIZE];
	char login[AUTH_LOGIN_MAX + 1];
	char hash[RCRYPTO_PWHASH_SIZE];
	bool active;
	bool must_change;
	bool totp;
};

static int auth_person_load(struct store_conn *c, const char *by_login, const char *by_id,
			    struct auth_person *ret)
{
	struct auth_person a = { 0 };
	struct store_stmt *st;
	int r;

	r = store_query(c, by_login
			? "SELECT id, login, password_hash, status, password_must_change, "
			  "totp_secret IS NOT NULL FROM people WHERE login = $1"
			: "SELECT id, login, password_hash, status, password_must_change, "
			  "totp_secret IS NOT NULL FROM people WHERE id = $1",
			STORE_ARGS(SA_TEXT(by_login ? by_login : by_id)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r == 1) {
		if (str_copy(a.id, sizeof(a.id), store_col_text(st, 0) ? store_col_text(st, 0) : "") < 0 ||
		    str_copy(a.login, sizeof(a.login), store_col_text(st, 1) ? store_col_text(st, 1) : "") < 0 ||
		    str_copy(a.hash, sizeof(a.hash), store_col_text(st, 2) ? store_col_text(st, 2) : "") < 0)
			r = ERR_INTERNAL;
		a.active = strcmp(store_col_text(st, 3) ? store_col_text(st, 3) : "", "active") == 0;
		a.must_change = store_col_i64(st, 4) != 0;
		a.totp = store_col_i64(st, 5) != 0;
	}
	store_stmt_free(st);
	if (r < 0)
		return r;
	if (r == 0)
		return ERR_NOT_FOUND;
	*ret = a;
	return 0;
}

/*
 * Verifies @password for the person @who with the password lockout: a
 * lock refuses at once, a wrong password is counted and audited as
 * @action.  A success clears the account's password failures.
 */
static int auth_verify_with_lockout(struct app *app, struct store_conn *c, int64_t now,
				    const struct auth_client *cl, const struct auth_person *who,
				    const char *password, const char *action, const char *field,
				    struct auth_err *e)
{
	char account[AUTH_SUBJECT_SIZE], source[AUTH_SUBJECT_SIZE];
	int64_t until = 0;
	int r;

	if (auth_subject(account, sizeof(account), "account", who->login) < 0 ||
	    auth_subject(source, sizeof(source), "source", cl->source) < 0)
		return ERR_INVALID;
	r = auth_locks_check(app, c, now, AUTH_FACTOR_PASSWORD, account, source, &until);
	if (r == ERR_LOCKED) {
		auth_audit(c, cl, action, "person", who->id, AUDIT_FAILURE,
			   json_pack("{s:s, s:s}", "factor", "password", "reason", "locked"));
		return auth_locked_fail(e, until, now);
	}
	if (r < 0)
		return r;
	if (strlen(password) > AUTH_PASSWORD_MAX ||
	    !rcrypto_pwhash_verify(who->hash[0] ? who->hash : auth_dummy(), password) || !who->hash[0]) {
		auth_failure(app, c, now, cl, AUTH_FACTOR_PASSWORD, account, source, action, who->id,
			     json_pack("{s:s, s:s}", "factor", "password", "reason", "wrong_password"));
		return auth_fail_msg(e, ERR_UNAUTHENTICATED, field, "the password is wrong");
	}
	return auth_failures_clear(c, AUTH_FACTOR_PASSWORD, account);
}

int auth_password_confirm(struct app *app, struct store_conn *c, int64_t now,
			  const struct auth_client *cl, const char *person_id,
			  const char *password, const char *action, struct auth_err *e)
{
	struct auth_person who;
	int r;

	r = auth_person_load(c, NULL, person_id, &who);
	if (r < 0)
		return r;
	r = auth_verify_with_lockout(app, c, now, cl, &who, password, action, "password", e);
	sodium_memzero(&who, sizeof(who));
	return r;
}

int auth_password_change(struct app *app, struct store_conn *c, int64_t now,
			 const struct auth_client *cl, const char *person_id,
			 const char *keep_session_id, const char *current, const char *next,
			 struct auth_err *e)
{
	struct auth_person who;
	char hash[RCRYPTO_PWHASH_SIZE];
	int r, revoked = 0;

	r = auth_person_load(c, NULL, person_id, &who);
	if (r < 0)
		return r;
	r = auth_verify_with_lockout(app, c, now, cl, &who, current, "auth.password_change",
				     "current_password", e);
	sodium_memzero(&who, sizeof(who));
	if (r < 0)
		return r;
	r = auth_password_acceptable(app, next, "new_password", e);
	if (r < 0)
		return r;
	if (strcmp(current, next) == 0)
		return auth_fail_msg(e, ERR_INVALID, "new_password",
				     "the new password must differ from the current one");
	r = rcrypto_pwhash(next, hash);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = store_exec(c, "UPDATE people SET password_hash = $2, password_must_change = 0, updated_at = $3 "
			  "WHERE id = $1", STORE_ARGS(SA_TEXT(person_id), SA_TEXT(hash), SA_I64(now)));
	if (r >= 0)
		r = revoked = store_exec(c, "UPDATE sessions SET revoked_at = $2 WHERE person_id = $1 "
					    "AND revoked_at IS NULL AND id <> $3",
					 STORE_ARGS(SA_TEXT(person_id), SA_I64(now),
						    SA_TEXT(keep_session_id ? keep_session_id : "")));
	r = auth_commit_audited(c, cl, r, "auth.password_change", "person", person_id,
				json_pack("{s:i}", "sessions_revoked", revoked));
out:
	sodium_memzero(hash, sizeof(hash));
	return r < 0 ? r : 0;
}

/* -------------------------------------------------------------- sessions */

/* Copies a User-Agent, cut to AUTH_USER_AGENT_MAX bytes on a character boundary. */
static void auth_user_agent(char out[AUTH_USER_AGENT_MAX + 1], const char *ua)
{
	size_t n = ua ? strlen(ua) : 0;

	if (n > AUTH_USER_AGENT_MAX) {
		n = AUTH_USER_AGENT_MAX;
		while (n > 0 && ((unsigned char)ua[n] & 0xc0) == 0x80)
			n--;
	}
	if (n && str_is_clean_utf8(ua, n))
		memcpy(out, ua, n);
	else
		n = 0;
	out[n] = '\0';
}

int auth_session_create(struct app *app, struct store_conn *c, int64_t now,
			const char *person_id, const struct auth_client *cl,
			struct auth_session_new *ret)
{
	struct auth_session_new s = { .created_at = now };
	char th[RCRYPTO_HASH_HEX_SIZE], ch[RCRYPTO_HASH_HEX_SIZE], ua[AUTH_USER_AGENT_MAX + 1];
	int r;

	s.expires_at = now + app->cfg.session_absolute_s * 1000;
	ids_ulid(s.id, now);
	if (rcrypto_token_new(s.token, sizeof(s.token), "rs") < 0 ||
	    rcrypto_token_new(s.csrf, sizeof(s.csrf), "csrf") < 0)
		return ERR_INTERNAL;
	rcrypto_token_hash(s.token, th);
	rcrypto_token_hash(s.csrf, ch);
	auth_user_agent(ua, cl->user_agent);
	r = store_exec(c, "INSERT INTO sessions (id, token_hash, csrf_hash, person_id, created_at, "
			  "last_seen_at, expires_at, source, user_agent) "
			  "VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
		       STORE_ARGS(SA_TEXT(s.id), SA_TEXT(th), SA_TEXT(ch), SA_TEXT(person_id),
				  SA_I64(now), SA_I64(s.expires_at), SA_TEXT(cl->source), SA_TEXT(ua)));
	if (r >= 0)
		*ret = s;
	sodium_memzero(&s, sizeof(s));
	return r < 0 ? r : 0;
}

int auth_session_revoke(struct store_conn *c, int64_t now, const char *person_id,
			const char *session_id)
{
	int r = store_exec(c, "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND person_id = $2 "
			      "AND revoked_at IS NULL AND expires_at > $3",
			   STORE_ARGS(SA_TEXT(session_id), SA_TEXT(person_id), SA_I64(now)));

	if (r < 0)
		return r;
	return r == 0 ? ERR_NOT_FOUND : 0;
}

int auth_revoke_all(struct store_conn *c, const char *person_id, int64_t now_ms)
{
	int r, n = 0;
	bool own;

	r = auth_tx_begin(c, &own);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE sessions SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
		       STORE_ARGS(SA_TEXT(person_id), SA_I64(now_ms)));
	if (r >= 0) {
		n = r;
		r = store_exec(c, "UPDATE api_tokens SET revoked_at = $2 WHERE person_id = $1 "
				  "AND revoked_at IS NULL", STORE_ARGS(SA_TEXT(person_id), SA_I64(now_ms)));
	}
	if (r >= 0)
		n += r;
	r = auth_tx_end(c, own, r);
	return r < 0 ? r : n;
}

int auth_sessions_active(struct store_conn *c, int64_t now_ms, int64_t *ret)
{
	return store_query_i64(c, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
			       STORE_ARGS(SA_I64(now_ms)), ret);
}

/* ----------------------------------------------------------------- login */

/*
 * A login's second factor, once the password was right: the TOTP code or a
 * recovery code, under the TOTP lockout.  Sets *ret_factor to the factor
 * used.  Returns 0, or an error with @e filled and the failure recorded.
 */
static int auth_login_second_factor(struct app *app, struct store_conn *c, int64_t now,
				    const struct auth_client *cl, const struct auth_login_req *in,
				    const struct auth_person *who, const char *account, const char *source,
				    const char **ret_factor, struct auth_err *e)
{
	const char *factor, *reason = NULL;
	int64_t until = 0;
	int r;

	r = auth_failures_clear(c, AUTH_FACTOR_PASSWORD, account);
	if (r < 0)
		return r;
	if (!in->totp && !in->recovery_code) {
		auth_audit(c, cl, "auth.login", "person", who->id, AUDIT_FAILURE,
			   json_pack("{s:s, s:s, s:s}", "login", who->login, "factor", "totp",
				     "reason", "totp_required"));
		return auth_fail_msg(e, ERR_TOTP_REQUIRED, "totp",
				     "a one-time code from the authenticator app, or a recovery code, "
				     "is required");
	}
	factor = in->totp ? "totp" : "recovery_code";
	*ret_factor = factor;
	r = auth_locks_check(app, c, now, AUTH_FACTOR_TOTP, account, source, &until);
	if (r == ERR_LOCKED) {
		auth_audit(c, cl, "auth.login", "person", who->id, AUDIT_FAILURE,
			   json_pack("{s:s, s:s, s:s}", "login", who->login, "factor", factor,
				     "reason", "locked"));
		return auth_locked_fail(e, until, now);
	}
	if (r < 0)
		return r;
	r = auth_totp_verify_login(app, c, now, who->id, in->totp, in->recovery_code, &reason);
	if (r == ERR_UNAUTHENTICATED) {
		auth_failure(app, c, now, cl, AUTH_FACTOR_TOTP, account, source, "auth.login", who->id,
			     json_pack("{s:s, s:s, s:s}", "login", who->login, "factor", factor,
				       "reason", reason ? reason : "wrong_code"));
		return auth_fail_msg(e, ERR_UNAUTHENTICATED, in->totp ? "totp" : "recovery_code",
				     "wrong one-time code");
	}
	return r < 0 ? r : 0;
}

int auth_login(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
	       const struct auth_login_req *in, struct auth_login_result *ret, struct auth_err *e)
{
	struct auth_login_result res = { 0 };
	struct auth_person who = { 0 };
	struct auth_client actor = *cl;
	char account[AUTH_SUBJECT_SIZE], source[AUTH_SUBJECT_SIZE];
	const char *factor = "password", *reason = NULL;
	bool found, ok;
	int64_t until = 0;
	int r;

	if (!in->login || !*in->login || strlen(in->login) > AUTH_LOGIN_MAX)
		return auth_fail_msg(e, ERR_INVALID, "login", "'login' must have 1 to %d bytes", AUTH_LOGIN_MAX);
	if (!in->password || strlen(in->password) > AUTH_PASSWORD_MAX)
		return auth_fail_msg(e, ERR_INVALID, "password", "'password' must have at most %d bytes",
				     AUTH_PASSWORD_MAX);
	if (in->totp && in->recovery_code)
		return auth_fail_msg(e, ERR_INVALID, "recovery_code",
				     "send either 'totp' or 'recovery_code', not both");
	if (auth_subject(account, sizeof(account), "account", in->login) < 0 ||
	    auth_subject(source, sizeof(source), "source", cl->source) < 0)
		return auth_fail_msg(e, ERR_INVALID, NULL, "login or address too long");

	r = auth_locks_check(app, c, now, AUTH_FACTOR_PASSWORD, account, source, &until);
	if (r == ERR_LOCKED) {
		auth_audit(c, cl, "auth.login", "person", NULL, AUDIT_FAILURE,
			   json_pack("{s:s, s:s, s:s}", "login", in->login, "factor", "password",
				     "reason", "locked"));
		return auth_locked_fail(e, until, now);
	}
	if (r < 0)
		return r;

	r = auth_person_load(c, in->login, NULL, &who);
	if (r < 0 && r != ERR_NOT_FOUND)
		return r;
	found = r == 0;
	/* Always one Argon2id verification, so that timing does not tell which logins exist. */
	ok = rcrypto_pwhash_verify(found && who.hash[0] ? who.hash : auth_dummy(), in->password);
	if (!found)
		reason = "unknown_login";
	else if (!who.hash[0])
		reason = "no_password";
	else if (!ok)
		reason = "wrong_password";
	else if (!who.active)
		reason = "not_active";
	if (reason) {
		auth_failure(app, c, now, cl, AUTH_FACTOR_PASSWORD, account, source, "auth.login",
			     found ? who.id : NULL,
			     json_pack("{s:s, s:s, s:s}", "login", in->login, "factor", "password",
				       "reason", reason));
		r = auth_fail_msg(e, ERR_UNAUTHENTICATED, NULL, "wrong login or password");
		goto out;
	}

	if (who.totp) {
		r = auth_login_second_factor(app, c, now, cl, in, &who, account, source, &factor, e);
		if (r < 0)
			goto out;
	}

	actor.actor_id = who.id;
	actor.actor_login = who.login;
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = auth_session_create(app, c, now, who.id, cl, &res.session);
	if (r >= 0)
		r = auth_failures_clear(c, AUTH_FACTOR_PASSWORD, account);
	if (r >= 0 && who.totp)
		r = auth_failures_clear(c, AUTH_FACTOR_TOTP, account);
	r = auth_commit_audited(c, &actor, r, "auth.login", "person", who.id,
				json_pack("{s:s, s:s, s:s}", "factor", who.totp ? factor : "password",
					  "session", res.session.id, "login", who.login));
	if (r < 0)
		goto out;
	memcpy(res.person_id, who.id, sizeof(res.person_id));
	memcpy(res.login, who.login, sizeof(res.login));
	res.must_change_password = who.must_change;
	*ret = res;
	r = 0;
out:
	sodium_memzero(&res, sizeof(res));
	sodium_memzero(&who, sizeof(who));
	return r;
}

/* ------------------------------------------------------------ activation */

int auth_activation_create(struct store_conn *c, const char *person_id, const char *created_by,
			   int64_t ttl_ms, char *ret_token, size_t size)
{
	char token[RCRYPTO_TOKEN_SIZE], hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t now = rtime_now_ms();
	bool own;
	int r;

	if (ttl_ms <= 0 || size < sizeof(token))
		return -EINVAL;
	if (rcrypto_token_new(token, sizeof(token), "ra") < 0)
		return ERR_INTERNAL;
	rcrypto_token_hash(token, hash);
	r = auth_tx_begin(c, &own);
	if (r < 0)
		goto out;
	/* A new link replaces the person's earlier ones. */
	r = store_exec(c, "UPDATE activations SET used_at = $2 WHERE person_id = $1 AND used_at IS NULL",
		       STORE_ARGS(SA_TEXT(person_id), SA_I64(now)));
	if (r >= 0)
		r = store_exec(c, "INSERT INTO activations (token_hash, person_id, created_by, created_at, "
				  "expires_at) VALUES ($1, $2, $3, $4, $5)",
			       STORE_ARGS(SA_TEXT(hash), SA_TEXT(person_id), SA_TEXT(created_by),
					  SA_I64(now), SA_I64(now + ttl_ms)));
	r = auth_tx_end(c, own, r);
	if (r >= 0) {
		memcpy(ret_token, token, strlen(token) + 1);
		r = 0;
	}
out:
	sodium_memzero(token, sizeof(token));
	return r;
}

int auth_activate(struct app *app, struct store_conn *c, int64_t now, const struct auth_client *cl,
		  const char *token, const char *password, char ret_person_id[ULID_SIZE],
		  struct auth_err *e)
{
	char source[AUTH_SUBJECT_SIZE], th[RCRYPTO_HASH_HEX_SIZE], ph[RCRYPTO_PWHASH_SIZE];
	char person[ULID_SIZE] = "", login[AUTH_LOGIN_MAX + 1] = "";
	struct auth_client actor = *cl;
	const char *reason = NULL;
	struct store_stmt *st;
	int64_t until = 0;
	int r;

	if (auth_subject(source, sizeof(source), "source", cl->source) < 0)
		return ERR_INVALID;
	r = auth_lock_check(app, c, now, AUTH_FACTOR_PASSWORD, source, &until);
	if (r == ERR_LOCKED) {
		auth_audit(c, cl, "person.activate", "person", NULL, AUDIT_FAILURE,
			   json_pack("{s:s}", "reason", "locked"));
		return auth_locked_fail(e, until, now);
	}
	if (r < 0)
		return r;
	r = auth_password_acceptable(app, password, "password", e);
	if (r < 0)
		return r;
	if (!token || strlen(token) >= RCRYPTO_TOKEN_SIZE || !str_has_prefix(token, "ra_")) {
		reason = "malformed_token";
		goto refuse;
	}
	rcrypto_token_hash(token, th);
	r = rcrypto_pwhash(password, ph);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = store_query(c, "SELECT a.person_id, p.status, p.login FROM activations a "
			   "JOIN people p ON p.id = a.person_id "
			   "WHERE a.token_hash = $1 AND a.used_at IS NULL AND a.expires_at > $2",
			STORE_ARGS(SA_TEXT(th), SA_I64(now)), &st);
	if (r < 0)
		goto fail;
	r = store_step(st);
	if (r == 1) {
		if (str_copy(person, sizeof(person), store_col_text(st, 0) ? store_col_text(st, 0) : "") < 0 ||
		    str_copy(login, sizeof(login), store_col_text(st, 2) ? store_col_text(st, 2) : "") < 0)
			r = ERR_INTERNAL;
		else if (strcmp(store_col_text(st, 1) ? store_col_text(st, 1) : "", "active") != 0)
			reason = "not_active";
	} else if (r == 0) {
		reason = "unknown_used_or_expired";
	}
	store_stmt_free(st);
	if (r < 0)
		goto fail;
	if (reason) {
		store_rollback(c);
		goto refuse;
	}
	r = store_exec(c, "UPDATE people SET password_hash = $2, password_must_change = 0, updated_at = $3 "
			  "WHERE id = $1", STORE_ARGS(SA_TEXT(person), SA_TEXT(ph), SA_I64(now)));
	if (r >= 0)
		r = store_exec(c, "UPDATE activations SET used_at = $2 WHERE person_id = $1 AND used_at IS NULL",
			       STORE_ARGS(SA_TEXT(person), SA_I64(now)));
	if (r >= 0) {
		/* Whoever holds the link speaks for the person. */
		actor.actor_id = person;
		actor.actor_login = login;
		r = auth_audit(c, &actor, "person.activate", "person", person, AUDIT_SUCCESS, NULL);
	}
	if (r >= 0)
		r = store_commit(c);
	if (r < 0)
		goto fail;
	memcpy(ret_person_id, person, ULID_SIZE);
	r = 0;
	goto out;
fail:
	store_rollback(c);
	goto out;
refuse:
	auth_failure(app, c, now, cl, AUTH_FACTOR_PASSWORD, NULL, source, "person.activate",
		     person[0] ? person : NULL, json_pack("{s:s}", "reason", reason));
	r = auth_fail_msg(e, ERR_NOT_FOUND, "token", "the activation link is invalid, used or expired");
out:
	sodium_memzero(ph, sizeof(ph));
	return r;
}

/* ------------------------------------------------------------ API tokens */

int auth_token_create(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id, const char *name,
		      const char *scope, int64_t ttl_ms, struct auth_token_new *ret,
		      struct auth_err *e)
{
	struct auth_token_new t = { 0 };
	char hash[RCRYPTO_HASH_HEX_SIZE];
	size_t chars = name ? auth_utf8_len(name) : 0;
	int64_t live;
	int r;

	if (!name || chars < 1 || chars > AUTH_TOKEN_NAME_MAX || !str_is_clean_utf8(name, strlen(name)))
		return auth_fail_msg(e, ERR_INVALID, "name", "'name' must have 1 to %d characters",
				     AUTH_TOKEN_NAME_MAX);
	if (!scope || (strcmp(scope, "api") != 0 && strcmp(scope, "scim") != 0))
		return auth_fail_msg(e, ERR_INVALID, "scope", "'scope' must be \"api\" or \"scim\"");
	if (ttl_ms <= 0 || ttl_ms > AUTH_TOKEN_MAX_TTL_MS)
		return auth_fail_msg(e, ERR_INVALID, "expires_in", "'expires_in' must be from 1s to 365d");
	ids_ulid(t.id, now);
	t.expires_at = now + ttl_ms;
	if (rcrypto_token_new(t.token, sizeof(t.token), "rt") < 0)
		return ERR_INTERNAL;
	rcrypto_token_hash(t.token, hash);
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = store_query_i64(c, "SELECT count(*) FROM api_tokens WHERE person_id = $1 AND revoked_at IS NULL "
			       "AND (expires_at IS NULL OR expires_at > $2)",
			    STORE_ARGS(SA_TEXT(person_id), SA_I64(now)), &live);
	if (r >= 0 && live >= AUTH_TOKENS_PER_PERSON)
		r = auth_fail_msg(e, ERR_CONFLICT, NULL, "at most %d live API tokens per person; "
				  "revoke one first", AUTH_TOKENS_PER_PERSON);
	if (r >= 0)
		r = store_exec(c, "INSERT INTO api_tokens (id, token_hash, person_id, name, scope, created_at, "
				  "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			       STORE_ARGS(SA_TEXT(t.id), SA_TEXT(hash), SA_TEXT(person_id), SA_TEXT(name),
					  SA_TEXT(scope), SA_I64(now), SA_I64(t.expires_at)));
	r = auth_commit_audited(c, cl, r, "auth.token_create", "api_token", t.id,
				json_pack("{s:s, s:s, s:s}", "name", name, "scope", scope, "person", person_id));
	if (r < 0)
		goto out;
	*ret = t;
	r = 0;
out:
	sodium_memzero(&t, sizeof(t));
	return r;
}
