/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auth_http: the HTTP face of auth: the authenticator hook and the
 * /api/v1/auth, /api/v1/me and /api/v1/tokens handlers.  Handlers parse
 * and limit input, decide authorization, and call the logic in auth.c and
 * auth_totp.c, which audits.
 *
 * Secrets in answers (session and API tokens, CSRF token, TOTP seed,
 * recovery codes) are written once into the response and wiped here.
 */
#include "identity/auth.h"
#include "identity/auth_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http.h"
#include "identity/directory.h"
#include "identity/id_http.h"
#include "store/store.h"

void auth_client_from_req(struct http_req *req, struct auth_client *cl)
{
	const struct principal *p = http_req_principal(req);
	const char *remote = http_req_remote(req);

	*cl = (struct auth_client){
		.actor_id = principal_is_authenticated(p) ? p->person_id : NULL,
		.actor_login = principal_is_authenticated(p) ? p->login : NULL,
		.source = remote ? remote : "",
		.user_agent = http_req_header(req, "User-Agent"),
		.request_id = http_req_id(req),
	};
}

/* ------------------------------------------------------- authenticator */

/* The token of an "Authorization: Bearer" header @authz, or NULL for another scheme. */
static const char *bearer_token(const char *authz)
{
	if (strncasecmp(authz, "Bearer ", 7) != 0)
		return NULL;
	authz += 7;
	while (*authz == ' ')
		authz++;
	return authz;
}

int auth_authenticate(struct http_req *req, unsigned flags, struct principal *p)
{
	struct app *app = http_req_app(req);
	struct auth_cred cred = { 0 };
	struct auth_client cl;
	struct store_conn *c;
	struct principal q;
	const char *authz, *cookie;
	int r;

	memset(p, 0, sizeof(*p));
	p->via = VIA_NONE;
	if (flags & (HTTP_AUTH_NONE | HTTP_AUTH_DEVICE))
		return 0;
	authz = http_req_header(req, "Authorization");
	cookie = http_req_cookie(req, AUTH_COOKIE);
	if (authz) {
		cred.token = bearer_token(authz);
		if (!cred.token) {
			log_debug("auth: credential refused", "reason=not_bearer");
			return (flags & HTTP_AUTH_OPTIONAL) ? 0 : ERR_UNAUTHENTICATED;
		}
		cred.kind = AUTH_CRED_BEARER;
	} else if (cookie && *cookie) {
		cred.kind = AUTH_CRED_COOKIE;
		cred.token = cookie;
		cred.csrf = http_req_header(req, AUTH_CSRF_HEADER);
		cred.write = (http_req_method(req) & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)) != 0;
	} else {
		return (flags & HTTP_AUTH_OPTIONAL) ? 0 : ERR_UNAUTHENTICATED;
	}
	c = store_conn(app->store);
	if (!c)
		return ERR_STORE;
	auth_client_from_req(req, &cl);
	r = auth_check(app, c, rtime_now_ms(), &cl, &cred, flags, &q);
	if (r == 0) {
		*p = q;
		return 0;
	}
	if (r == ERR_CSRF)
		log_info("auth: cookie request without a valid CSRF token", "method=%s",
			 http_method_name(http_req_method(req)));
	if ((flags & HTTP_AUTH_OPTIONAL) && (r == ERR_UNAUTHENTICATED || r == ERR_CSRF))
		return 0;
	return r;
}

int auth_req_inactive_owner(struct http_req *req, char ret_person_id[ULID_SIZE], char *ret_login,
			    size_t login_size)
{
	struct app *app = http_req_app(req);
	const char *authz = http_req_header(req, "Authorization"), *token = NULL, *id, *login;
	char hash[RCRYPTO_HASH_HEX_SIZE];
	struct store_conn *c;
	struct store_stmt *st;
	bool session;
	int r;

	if (authz)
		token = bearer_token(authz);
	if (!token)
		return ERR_NOT_FOUND;
	session = str_has_prefix(token, "rs_");
	if (strlen(token) >= RCRYPTO_TOKEN_SIZE || (!session && !str_has_prefix(token, "rt_")))
		return ERR_NOT_FOUND;
	c = store_conn(app->store);
	if (!c)
		return ERR_STORE;
	rcrypto_token_hash(token, hash);
	r = store_query(c, session ? "SELECT p.id, p.login FROM sessions s JOIN people p ON p.id = s.person_id "
				     "WHERE s.token_hash = $1 AND p.status <> 'active'"
				   : "SELECT p.id, p.login FROM api_tokens t JOIN people p ON p.id = t.person_id "
				     "WHERE t.token_hash = $1 AND t.scope = 'api' AND p.status <> 'active'",
			STORE_ARGS(SA_TEXT(hash)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r == 1) {
		id = store_col_text(st, 0);
		login = store_col_text(st, 1);
		r = id && str_copy(ret_person_id, ULID_SIZE, id) == 0 &&
		    str_copy(ret_login, login_size, login ? login : "") == 0 ? 0 : ERR_NOT_FOUND;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(st);
	return r;
}

/* -------------------------------------------------------------- helpers */

/* Answers an error from the logic: its message and field, Retry-After for locks. */
static int auth_http_fail(struct http_resp *resp, int r, const struct auth_err *e)
{
	if (r == ERR_LOCKED) {
		char secs[24];
		int64_t left = (e->retry_at - rtime_now_ms() + 999) / 1000;

		snprintf(secs, sizeof(secs), "%lld", (long long)(left > 0 ? left : 1));
		http_resp_header(resp, "Retry-After", secs);
	}
	if (e->r.message[0])
		return http_fail(resp, r, e->r.field[0] ? e->r.field : NULL, "%s", e->r.message);
	return r;
}

/* Sets the session cookie, or clears it when @token is NULL. */
static int auth_cookie(struct http_req *req, struct http_resp *resp, const char *token)
{
	struct app *app = http_req_app(req);
	char v[RCRYPTO_TOKEN_SIZE + 96];
	int n = snprintf(v, sizeof(v), AUTH_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/%s%s",
			 token ? token : "", token ? "" : "; Max-Age=0",
			 app->tls || http_req_is_tls(req) ? "; Secure" : "");
	int r;

	if (n < 0 || (size_t)n >= sizeof(v))
		return ERR_INTERNAL;
	r = http_resp_header(resp, "Set-Cookie", v);
	sodium_memzero(v, sizeof(v));
	return r;
}

/* A string field of a request body; an optional one that is absent leaves *ret as it was. */
struct auth_field {
	const char *key;
	size_t max;              /* bytes */
	bool required;
	const char **ret;        /* borrowed from the request */
};

#define AUTH_FIELDS_MAX 8
#define AUTH_FIELDS(f) (f), sizeof(f) / sizeof((f)[0])

/*
 * Reads a JSON body of the @n string @fields, in order; any other key is
 * refused.  Returns 0, or answers the first bad field and returns its error.
 */
static int auth_body_fields(struct http_req *req, struct http_resp *resp, const struct auth_field *f,
			    size_t n)
{
	const char *keys[AUTH_FIELDS_MAX + 1];
	struct rerr je;
	json_t *body;
	int r;

	assert(n <= AUTH_FIELDS_MAX);
	for (size_t i = 0; i < n; i++)
		keys[i] = f[i].key;
	keys[n] = NULL;
	r = id_http_body(req, resp, keys, false, &body);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = jsonx_get_str(body, f[i].key, f[i].required, f[i].max, f[i].ret, &je);
		if (r == -ENOENT)
			r = 0;
		else if (r < 0)
			return http_fail_rerr(resp, &je);
	}
	return r;
}

/* Whether @s is a TOTP code: exactly AUTH_TOTP_DIGITS digits. */
static bool auth_is_totp_code(const char *s)
{
	return strlen(s) == AUTH_TOTP_DIGITS && strspn(s, "0123456789") == AUTH_TOTP_DIGITS;
}

static bool auth_is_session(const struct principal *p)
{
	return p->via == VIA_COOKIE || p->via == VIA_SESSION_TOKEN;
}

/* Refuses (and audits) actions that need a login session rather than an API token. */
static int auth_need_session(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			     const char *what)
{
	const struct principal *p = http_req_principal(req);

	if (auth_is_session(p))
		return 0;
	audit_req(req, c, "authz.denied", "person", p->person_id, AUDIT_DENIED,
		  json_pack("{s:s, s:s}", "endpoint", what, "reason", "needs a login session"));
	return http_fail(resp, ERR_FORBIDDEN, NULL, "%s needs a login session, not an API token", what);
}

static const char *auth_via_name(enum principal_via v)
{
	switch (v) {
	case VIA_COOKIE: return "cookie";
	case VIA_SESSION_TOKEN: return "session_token";
	case VIA_API_TOKEN: return "api_token";
	case VIA_SCIM_TOKEN: return "scim_token";
	default: return "none";
	}
}

/* A minimal person object when the directory cannot give one. */
static json_t *auth_person_json(struct store_conn *c, const char *person_id, const char *login)
{
	json_t *j = directory_person_json(c, person_id);

	if (!j)
		j = json_pack("{s:s, s:s}", "id", person_id, "login", login);
	return j;
}

/* ---------------------------------------------------------------- login */

static int auth_h_login(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct auth_login_req in = { 0 };
	struct auth_login_result res;
	struct auth_err e = { 0 };
	struct auth_client cl;
	const char *client = NULL;
	const struct auth_field fields[] = {
		{ "login", AUTH_LOGIN_MAX, true, &in.login },
		{ "password", AUTH_PASSWORD_MAX, true, &in.password },
		{ "totp", AUTH_TOTP_DIGITS, false, &in.totp },
		{ "recovery_code", AUTH_RECOVERY_INPUT_MAX, false, &in.recovery_code },
		{ "client", 16, false, &client },
	};
	json_t *out, *session;
	bool cli;
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	if (in.totp && !auth_is_totp_code(in.totp))
		return http_fail(resp, ERR_INVALID, "totp", "'totp' must be exactly %d digits", AUTH_TOTP_DIGITS);
	if (client && strcmp(client, "browser") != 0 && strcmp(client, "cli") != 0)
		return http_fail(resp, ERR_INVALID, "client", "'client' must be \"browser\" or \"cli\"");
	cli = client && strcmp(client, "cli") == 0;

	auth_client_from_req(req, &cl);
	r = auth_login(app, c, rtime_now_ms(), &cl, &in, &res, &e);
	if (r < 0)
		return auth_http_fail(resp, r, &e);

	session = json_object();
	out = json_object();
	if (!session || !out ||
	    jsonx_set_str(session, "id", res.session.id) < 0 ||
	    jsonx_set_time(session, "created_at", res.session.created_at) < 0 ||
	    jsonx_set_time(session, "expires_at", res.session.expires_at) < 0 ||
	    (cli && jsonx_set_str(out, "token", res.session.token) < 0) ||
	    jsonx_set_str(out, "csrf_token", res.session.csrf) < 0 ||
	    json_object_set(out, "session", session) < 0 ||
	    json_object_set_new(out, "person", auth_person_json(c, res.person_id, res.login)) < 0 ||
	    json_object_set_new(out, "must_change_password", json_boolean(res.must_change_password)) < 0 ||
	    (!cli && auth_cookie(req, resp, res.session.token) < 0)) {
		json_decref(session);
		json_decref(out);
		sodium_memzero(&res, sizeof(res));
		return -ENOMEM;
	}
	json_decref(session);
	sodium_memzero(&res, sizeof(res));
	return http_resp_json(resp, 200, out);
}

static int auth_h_activate(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct auth_err e = { 0 };
	struct auth_client cl;
	const char *token, *password;
	const struct auth_field fields[] = {
		{ "token", 128, true, &token },
		{ "password", AUTH_PASSWORD_MAX, true, &password },
	};
	char person[ULID_SIZE];
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	auth_client_from_req(req, &cl);
	r = auth_activate(app, c, rtime_now_ms(), &cl, token, password, person, &e);
	if (r < 0)
		return auth_http_fail(resp, r, &e);
	http_resp_status(resp, 204);
	return 0;
}

static int auth_h_logout(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	int r;

	if (!c)
		return ERR_STORE;
	if (!auth_is_session(p))
		return http_fail(resp, ERR_INVALID, NULL, "logout ends a login session; revoke API tokens "
				 "with DELETE /api/v1/tokens/{id}");
	r = auth_session_revoke(c, rtime_now_ms(), p->person_id, p->credential_id);
	if (r < 0 && r != ERR_NOT_FOUND)
		return r;
	audit_req(req, c, "auth.logout", "session", p->credential_id, AUDIT_SUCCESS, NULL);
	if (p->via == VIA_COOKIE)
		auth_cookie(req, resp, NULL);
	http_resp_status(resp, 204);
	return 0;
}

static int auth_h_logout_all(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	int r, n;

	if (!c)
		return ERR_STORE;
	r = store_begin(c);
	if (r < 0)
		return r;
	r = n = auth_revoke_all(c, p->person_id, rtime_now_ms());
	if (r >= 0)
		r = audit_req(req, c, "auth.logout_all", "person", p->person_id, AUDIT_SUCCESS,
			      json_pack("{s:i}", "revoked", n));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	if (p->via == VIA_COOKIE)
		auth_cookie(req, resp, NULL);
	http_resp_status(resp, 204);
	return 0;
}

/* ------------------------------------------------------------------- me */

/* The current session as SessionInfo, or JSON null for an API token. */
static int auth_session_json(struct store_conn *c, const struct principal *p, json_t **ret)
{
	struct store_stmt *st;
	json_t *s = NULL;
	int r;

	if (!auth_is_session(p)) {
		*ret = json_null();
		return 0;
	}
	r = store_query(c, "SELECT created_at, last_seen_at, expires_at, source, user_agent FROM sessions "
			   "WHERE id = $1", STORE_ARGS(SA_TEXT(p->credential_id)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r == 1) {
		s = json_object();
		if (!s || jsonx_set_str(s, "id", p->credential_id) < 0 ||
		    jsonx_set_time(s, "created_at", store_col_i64(st, 0)) < 0 ||
		    jsonx_set_time(s, "last_seen_at", store_col_i64(st, 1)) < 0 ||
		    jsonx_set_time(s, "expires_at", store_col_i64(st, 2)) < 0 ||
		    jsonx_set_str(s, "source", store_col_text(st, 3)) < 0 ||
		    jsonx_set_str(s, "user_agent", store_col_text(st, 4)) < 0 ||
		    json_object_set_new(s, "current", json_true()) < 0)
			r = -ENOMEM;
	}
	store_stmt_free(st);
	if (r < 0) {
		json_decref(s);
		return r;
	}
	*ret = s ? s : json_null();
	return 0;
}

static int auth_h_me(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	json_t *me, *session, *roles;
	int64_t totp = 0;
	int r;

	if (!c)
		return ERR_STORE;
	r = store_query_i64(c, "SELECT totp_secret IS NOT NULL FROM people WHERE id = $1",
			    STORE_ARGS(SA_TEXT(p->person_id)), &totp);
	if (r < 0)
		return r;
	r = auth_session_json(c, p, &session);
	if (r < 0)
		return r;
	me = auth_person_json(c, p->person_id, p->login);
	if (!me) {
		json_decref(session);
		return -ENOMEM;
	}
	if (json_object_set_new(me, "session", session) < 0)
		goto nomem;
	/* The directory lists grants and implicit roles; without it, the principal's roles. */
	if (!json_object_get(me, "roles")) {
		roles = json_array();
		for (unsigned i = 0; roles && i < ROLE_COUNT; i++)
			if (p->roles & (1u << i))
				json_array_append_new(roles, json_pack("{s:s, s:s?}", "role", role_name(1u << i),
								       "scope", (1u << i) == ROLE_SECURITY_MANAGER &&
								       p->manages_path[0] ? p->manages_path : NULL));
		if (!roles || json_object_set_new(me, "roles", roles) < 0)
			goto nomem;
	}
	if (jsonx_set_str(me, "manages_path", p->manages_path[0] ? p->manages_path : NULL) < 0 ||
	    json_object_set_new(me, "totp_enabled", json_boolean(totp != 0)) < 0 ||
	    json_object_set_new(me, "must_change_password", json_boolean(p->must_change_password)) < 0 ||
	    jsonx_set_str(me, "via", auth_via_name(p->via)) < 0)
		goto nomem;
	return http_resp_json(resp, 200, me);
nomem:
	json_decref(me);
	return -ENOMEM;
}

static int auth_h_password(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct auth_err e = { 0 };
	struct auth_client cl;
	const char *cur, *next;
	const struct auth_field fields[] = {
		{ "current_password", AUTH_PASSWORD_MAX, true, &cur },
		{ "new_password", AUTH_PASSWORD_MAX, true, &next },
	};
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	auth_client_from_req(req, &cl);
	r = auth_password_change(app, c, rtime_now_ms(), &cl, p->person_id,
				 auth_is_session(p) ? p->credential_id : NULL, cur, next, &e);
	if (r == ERR_UNAUTHENTICATED)
		return http_fail(resp, ERR_INVALID, "current_password", "the current password is wrong");
	if (r < 0)
		return auth_http_fail(resp, r, &e);
	http_resp_status(resp, 204);
	return 0;
}

/* A session row of the list (@ud: the caller, to mark their own). */
static json_t *auth_session_item(struct store_stmt *st, void *ud)
{
	const struct principal *p = ud;
	const char *id = store_col_text(st, 0);
	json_t *it = json_object();

	if (!it || jsonx_set_str(it, "id", id) < 0 ||
	    jsonx_set_time(it, "created_at", store_col_i64(st, 1)) < 0 ||
	    jsonx_set_time(it, "last_seen_at", store_col_i64(st, 2)) < 0 ||
	    jsonx_set_time(it, "expires_at", store_col_i64(st, 3)) < 0 ||
	    jsonx_set_str(it, "source", store_col_text(st, 4)) < 0 ||
	    jsonx_set_str(it, "user_agent", store_col_text(st, 5)) < 0 ||
	    json_object_set_new(it, "current", json_boolean(auth_is_session(p) && id &&
							    strcmp(id, p->credential_id) == 0)) < 0) {
		json_decref(it);
		return NULL;
	}
	return it;
}

static int auth_h_sessions(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct store_stmt *st;
	const char *cursor;
	int64_t limit, now = rtime_now_ms();
	int r;

	if (!c)
		return ERR_STORE;
	r = id_http_page(req, resp, 100, &limit, &cursor);
	if (r < 0)
		return r;
	r = store_query(c, "SELECT id, created_at, last_seen_at, expires_at, source, user_agent FROM sessions "
			   "WHERE person_id = $1 AND revoked_at IS NULL AND expires_at > $2 "
			   "AND last_seen_at > $3 AND (CAST($4 AS TEXT) IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
			STORE_ARGS(SA_TEXT(p->person_id), SA_I64(now),
				   SA_I64(now - app->cfg.session_idle_s * 1000), SA_TEXT(cursor),
				   SA_I64(limit + 1)), &st);
	if (r < 0)
		return r;
	return id_http_page_reply(resp, st, limit, auth_session_item, (void *)p);
}

static int auth_h_session_delete(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	int r;

	if (!c)
		return ERR_STORE;
	if (!id || !ids_is_ulid(id))
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such session");
	r = auth_session_revoke(c, rtime_now_ms(), p->person_id, id);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such session");
	if (r < 0)
		return r;
	audit_req(req, c, "auth.session_revoke", "session", id, AUDIT_SUCCESS, NULL);
	if (p->via == VIA_COOKIE && strcmp(id, p->credential_id) == 0)
		auth_cookie(req, resp, NULL);
	http_resp_status(resp, 204);
	return 0;
}

/* ----------------------------------------------------------------- TOTP */

/* Appends @s percent-encoded for a URI path or query (RFC 3986 unreserved kept). */
static int auth_uri_escape(struct buf *b, const char *s)
{
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~')
			r = buf_append(b, p, 1);
		else
			r = buf_printf(b, "%%%02X", *p);
	}
	return r;
}

static int auth_h_totp_enroll(struct http_req *req, struct http_resp *resp)
{
	static const char *const no_keys[] = { NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	char b32[AUTH_TOTP_B32_SIZE];
	struct auth_client cl;
	struct buf uri;
	json_t *body = NULL, *out;
	int r;

	if (!c)
		return ERR_STORE;
	r = id_http_body(req, resp, no_keys, true, &body);
	if (r < 0)
		return r;
	r = auth_need_session(req, resp, c, "POST /api/v1/me/totp");
	if (r < 0)
		return r;
	auth_client_from_req(req, &cl);
	r = auth_totp_enroll(app, c, rtime_now_ms(), &cl, p->person_id, b32);
	if (r == ERR_CONFLICT)
		return http_fail(resp, ERR_CONFLICT, NULL, "two-factor authentication is already on; "
				 "turn it off first");
	if (r < 0)
		return r;
	buf_init(&uri, 4096);
	r = buf_puts(&uri, "otpauth://totp/Rampart:");
	if (r == 0)
		r = auth_uri_escape(&uri, p->login);
	if (r == 0)
		r = buf_printf(&uri, "?secret=%s&issuer=Rampart", b32);
	out = r == 0 ? json_pack("{s:s, s:s}", "secret", b32, "otpauth_uri", uri.data) : NULL;
	sodium_memzero(b32, sizeof(b32));
	if (uri.data)
		sodium_memzero(uri.data, uri.len);
	buf_done(&uri);
	if (!out)
		return r < 0 ? r : -ENOMEM;
	return http_resp_json(resp, 200, out);
}

static int auth_h_totp_confirm(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE];
	struct auth_client cl;
	const char *code;
	const struct auth_field fields[] = { { "code", AUTH_TOTP_DIGITS, true, &code } };
	json_t *list;
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	if (!auth_is_totp_code(code))
		return http_fail(resp, ERR_INVALID, "code", "'code' must be exactly %d digits", AUTH_TOTP_DIGITS);
	r = auth_need_session(req, resp, c, "POST /api/v1/me/totp/confirm");
	if (r < 0)
		return r;
	auth_client_from_req(req, &cl);
	r = auth_totp_confirm(app, c, rtime_now_ms(), &cl, p->person_id, code, codes);
	if (r == ERR_CONFLICT)
		return http_fail(resp, ERR_CONFLICT, NULL, "no enrollment is pending; start with "
				 "POST /api/v1/me/totp");
	if (r == ERR_INVALID)
		return http_fail(resp, ERR_INVALID, "code", "the code does not match; check the device's clock");
	if (r < 0)
		return r;
	list = json_array();
	for (int i = 0; list && i < AUTH_RECOVERY_CODES; i++)
		if (json_array_append_new(list, json_string(codes[i])) < 0) {
			json_decref(list);
			list = NULL;
		}
	sodium_memzero(codes, sizeof(codes));
	if (!list)
		return -ENOMEM;
	return http_resp_json(resp, 200, json_pack("{s:o}", "recovery_codes", list));
}

static int auth_h_totp_disable(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct auth_err e = { 0 };
	struct auth_client cl;
	const char *password;
	const struct auth_field fields[] = { { "password", AUTH_PASSWORD_MAX, true, &password } };
	int64_t now = rtime_now_ms();
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	r = auth_need_session(req, resp, c, "DELETE /api/v1/me/totp");
	if (r < 0)
		return r;
	auth_client_from_req(req, &cl);
	r = auth_password_confirm(app, c, now, &cl, p->person_id, password, "auth.totp_disable", &e);
	if (r == ERR_UNAUTHENTICATED)
		return http_fail(resp, ERR_INVALID, "password", "the password is wrong");
	if (r < 0)
		return auth_http_fail(resp, r, &e);
	r = auth_totp_disable(app, c, now, &cl, p->person_id);
	if (r == ERR_CONFLICT)
		return http_fail(resp, ERR_CONFLICT, NULL, "two-factor authentication is not on");
	if (r < 0)
		return r;
	http_resp_status(resp, 204);
	return 0;
}

/* --------------------------------------------------------------- tokens */

/* A token row of the list. */
static json_t *auth_token_item(struct store_stmt *st, void *ud)
{
	json_t *it = json_object();

	(void)ud;
	if (!it || jsonx_set_str(it, "id", store_col_text(st, 0)) < 0 ||
	    jsonx_set_str(it, "name", store_col_text(st, 1)) < 0 ||
	    jsonx_set_str(it, "scope", store_col_text(st, 2)) < 0 ||
	    jsonx_set_time(it, "created_at", store_col_i64(st, 3)) < 0 ||
	    jsonx_set_time(it, "expires_at", store_col_is_null(st, 4) ? 0 : store_col_i64(st, 4)) < 0 ||
	    jsonx_set_time(it, "last_used_at", store_col_is_null(st, 5) ? 0 : store_col_i64(st, 5)) < 0 ||
	    jsonx_set_time(it, "revoked_at", store_col_is_null(st, 6) ? 0 : store_col_i64(st, 6)) < 0 ||
	    jsonx_set_str(it, "person_id", store_col_text(st, 7)) < 0) {
		json_decref(it);
		return NULL;
	}
	return it;
}

static int auth_h_tokens(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *all_q = http_req_query(req, "all"), *cursor;
	struct store_stmt *st;
	int64_t limit;
	bool all;
	int r;

	if (!c)
		return ERR_STORE;
	if (all_q && strcmp(all_q, "1") != 0 && strcmp(all_q, "0") != 0 && strcmp(all_q, "true") != 0 &&
	    strcmp(all_q, "false") != 0)
		return http_fail(resp, ERR_INVALID, "all", "'all' must be 1 or 0");
	all = all_q && (strcmp(all_q, "1") == 0 || strcmp(all_q, "true") == 0);
	if (all && !principal_has(p, ROLE_ADMIN)) {
		audit_req(req, c, "authz.denied", "api_token", NULL, AUDIT_DENIED,
			  json_pack("{s:s}", "endpoint", "GET /api/v1/tokens?all=1"));
		return http_fail(resp, ERR_FORBIDDEN, "all", "listing everyone's tokens needs the admin role");
	}
	r = id_http_page(req, resp, 100, &limit, &cursor);
	if (r < 0)
		return r;
	r = store_query(c, "SELECT id, name, scope, created_at, expires_at, last_used_at, revoked_at, person_id "
			   "FROM api_tokens WHERE (CAST($1 AS TEXT) IS NULL OR person_id = $1) AND (CAST($2 AS TEXT) IS NULL OR id < $2) "
			   "ORDER BY id DESC LIMIT $3",
			STORE_ARGS(SA_TEXT(all ? NULL : p->person_id), SA_TEXT(cursor), SA_I64(limit + 1)), &st);
	if (r < 0)
		return r;
	return id_http_page_reply(resp, st, limit, auth_token_item, NULL);
}

static int auth_h_token_create(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *name, *scope = "api", *expires_in = NULL;
	const struct auth_field fields[] = {
		/* 100 characters of up to 4 bytes each; the character count is checked later. */
		{ "name", AUTH_TOKEN_NAME_MAX * 4, true, &name },
		{ "scope", 8, false, &scope },
		{ "expires_in", 16, false, &expires_in },
	};
	int64_t ttl = AUTH_TOKEN_DEFAULT_TTL_MS;
	struct auth_token_new t;
	struct auth_err e = { 0 };
	struct auth_client cl;
	json_t *out;
	char when[40];
	int r;

	if (!c)
		return ERR_STORE;
	r = auth_body_fields(req, resp, AUTH_FIELDS(fields));
	if (r < 0)
		return r;
	if (expires_in && strspn(expires_in, "0123456789") == strlen(expires_in)) {
		/* A bare number is seconds. */
		int64_t secs;

		ttl = str_parse_i64(expires_in, 1, AUTH_TOKEN_MAX_TTL_MS / 1000, &secs) < 0 ? -1 : secs * 1000;
		expires_in = NULL;
	}
	if ((expires_in && str_parse_duration_ms(expires_in, &ttl) < 0) || ttl <= 0 ||
	    ttl > AUTH_TOKEN_MAX_TTL_MS)
		return http_fail(resp, ERR_INVALID, "expires_in",
				 "'expires_in' must be a duration such as \"30d\", \"12h\" or 3600 (seconds), "
				 "at most 365d");
	if (p->via == VIA_API_TOKEN) {
		/* A token may make tokens, but none that outlives it: a leaked one cannot entrench itself. */
		int64_t parent_expiry = 0, now = rtime_now_ms();

		r = store_query_i64(c, "SELECT coalesce(expires_at, 0) FROM api_tokens WHERE id = $1",
				    STORE_ARGS(SA_TEXT(p->credential_id)), &parent_expiry);
		if (r < 0)
			return r;
		if (parent_expiry && now + ttl > parent_expiry)
			ttl = parent_expiry - now;
		if (ttl <= 0)
			return ERR_UNAUTHENTICATED;
	}
	if (strcmp(scope, "scim") == 0 && !principal_has(p, ROLE_ADMIN)) {
		audit_req(req, c, "authz.denied", "api_token", NULL, AUDIT_DENIED,
			  json_pack("{s:s, s:s}", "endpoint", "POST /api/v1/tokens", "scope", "scim"));
		return http_fail(resp, ERR_FORBIDDEN, "scope", "SCIM tokens need the admin role");
	}
	auth_client_from_req(req, &cl);
	r = auth_token_create(app, c, rtime_now_ms(), &cl, p->person_id, name, scope, ttl, &t, &e);
	if (r < 0)
		return auth_http_fail(resp, r, &e);
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", t.id, "name", name, "scope", scope,
			"token", t.token, "expires_at", rtime_format(when, sizeof(when), t.expires_at));
	sodium_memzero(&t, sizeof(t));
	if (!out)
		return -ENOMEM;
	return http_resp_json(resp, 201, out);
}

static int auth_h_token_delete(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	struct store_stmt *st;
	char owner[ULID_SIZE] = "";
	int r;

	if (!c)
		return ERR_STORE;
	if (!id || !ids_is_ulid(id))
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such token");
	r = store_query(c, "SELECT person_id FROM api_tokens WHERE id = $1", STORE_ARGS(SA_TEXT(id)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r == 1)
		str_copy(owner, sizeof(owner), store_col_text(st, 0) ? store_col_text(st, 0) : "");
	store_stmt_free(st);
	if (r < 0)
		return r;
	if (r == 0 || !owner[0])
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such token");
	if (strcmp(owner, p->person_id) != 0 && !principal_has(p, ROLE_ADMIN)) {
		/* Someone else's token: denied, and answered as absent so ids cannot be probed. */
		audit_req(req, c, "authz.denied", "api_token", id, AUDIT_DENIED,
			  json_pack("{s:s}", "endpoint", "DELETE /api/v1/tokens/{id}"));
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such token");
	}
	r = store_begin(c);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
		       STORE_ARGS(SA_TEXT(id), SA_I64(rtime_now_ms())));
	if (r > 0)
		r = audit_req(req, c, "auth.token_revoke", "api_token", id, AUDIT_SUCCESS,
			      json_pack("{s:s}", "person", owner));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	http_resp_status(resp, 204);
	return 0;
}

/* --------------------------------------------------------------- routes */

int auth_routes(struct http_server *s)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		http_handler_fn fn;
		unsigned flags;
	} routes[] = {
		{ HTTP_POST, "/api/v1/auth/login", auth_h_login, HTTP_AUTH_NONE },
		{ HTTP_POST, "/api/v1/auth/activate", auth_h_activate, HTTP_AUTH_NONE },
		{ HTTP_POST, "/api/v1/auth/logout", auth_h_logout, HTTP_AUTH_USER | HTTP_PWCHANGE_OK },
		{ HTTP_POST, "/api/v1/auth/logout-all", auth_h_logout_all, HTTP_AUTH_USER | HTTP_PWCHANGE_OK },
		{ HTTP_GET, "/api/v1/me", auth_h_me, HTTP_AUTH_USER | HTTP_PWCHANGE_OK },
		{ HTTP_POST, "/api/v1/me/password", auth_h_password, HTTP_AUTH_USER | HTTP_PWCHANGE_OK },
		{ HTTP_GET, "/api/v1/me/sessions", auth_h_sessions, HTTP_AUTH_USER },
		{ HTTP_DELETE, "/api/v1/me/sessions/{id}", auth_h_session_delete, HTTP_AUTH_USER },
		{ HTTP_POST, "/api/v1/me/totp", auth_h_totp_enroll, HTTP_AUTH_USER },
		{ HTTP_DELETE, "/api/v1/me/totp", auth_h_totp_disable, HTTP_AUTH_USER },
		{ HTTP_POST, "/api/v1/me/totp/confirm", auth_h_totp_confirm, HTTP_AUTH_USER },
		{ HTTP_GET, "/api/v1/tokens", auth_h_tokens, HTTP_AUTH_USER },
		{ HTTP_POST, "/api/v1/tokens", auth_h_token_create, HTTP_AUTH_USER },
		{ HTTP_DELETE, "/api/v1/tokens/{id}", auth_h_token_delete, HTTP_AUTH_USER },
	};

	auth_prepare();
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int r = http_route(s, routes[i].methods, routes[i].pattern, routes[i].fn, routes[i].flags);

		if (r < 0)
			return r;
	}
	return 0;
}
