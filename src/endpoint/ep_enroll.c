/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_enroll: enrollment tokens (create, list, revoke) and the enrollment of
 * a device with one (see endpoint.h).
 *
 * Invariants:
 *   - only the SHA-256 of a token is stored; the token itself is answered
 *     once, at its creation, and reaches no log line or audit entry;
 *   - an enrollment token is consumed by one conditional UPDATE (uses left,
 *     not expired, not revoked), inside the transaction that creates the
 *     device, so parallel enrollments cannot overdraw it;
 *   - a device is enrolled into the token's unit or a unit below it.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "endpoint/ep_routes.h"
#include "formats/devsig.h"
#include "http/http.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "store/page.h"
#include "store/store.h"

#define EP_MAX_USES 100000
#define EP_MAX_TOKEN_LIFE_MS ((int64_t)365 * 24 * 3600 * 1000)
#define EP_DEFAULT_TOKEN_LIFE_MS ((int64_t)7 * 24 * 3600 * 1000)
#define EP_MAX_NAME 255

/* ---------------------------------------------------------------- enrollment tokens */

static json_t *ep_token_row_json(struct store_stmt *q, int64_t now)
{
	int64_t expires = store_col_i64(q, 4);
	const char *status = !store_col_is_null(q, 6) ? "revoked"
			     : expires <= now ? "expired"
			     : store_col_i64(q, 3) == 0 ? "used_up" : "active";
	json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:I, s:I, s:s}",
			      "id", store_col_text(q, 0),
			      "org_unit", "id", store_col_text(q, 1), "path", store_col_text(q, 2),
			      "uses_left", (json_int_t)store_col_i64(q, 3),
			      "uses", (json_int_t)store_col_i64(q, 7),
			      "status", status);

	if (o) {
		jsonx_set_time(o, "expires_at", expires);
		jsonx_set_time(o, "created_at", store_col_i64(q, 5));
	}
	return o;
}

/* A token's unit, as o (o.path). */
#define EP_TOKEN_UNIT PEOPLE_SQL_UNIT_JOIN("o", "t.org_unit_id")

/* The columns ep_token_row_json reads, with the token's unit. */
#define EP_TOKEN_COLS \
	"SELECT t.id, t.org_unit_id, o.path, t.uses_left, t.expires_at, t.created_at, t.revoked_at, t.uses_total " \
	"FROM enrollment_tokens t" EP_TOKEN_UNIT " "

static int h_token_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "org_unit", "uses", "expires", NULL };
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *org = NULL, *expires = NULL;
	int64_t uses = 1, life = EP_DEFAULT_TOKEN_LIFE_MS, now = rtime_now_ms();
	char token[RCRYPTO_TOKEN_SIZE], hash[RCRYPTO_HASH_HEX_SIZE], id[ULID_SIZE];
	struct org_unit u;
	struct store_stmt *q = NULL;
	json_t *body, *out = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_TOKEN_CREATE, NULL)) {
		audit_req(req, c, "endpoint.token.create", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, &e);
	if (r == 0)
		r = jsonx_get_str(body, "org_unit", true, PRINCIPAL_PATH_SIZE - 1, &org, &e);
	if (r == 0 && (r = jsonx_get_int(body, "uses", false, 1, EP_MAX_USES, &uses, &e)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_str(body, "expires", false, 16, &expires, &e)) == -ENOENT)
		r = 0;
	if (r == 0 && expires && (str_parse_duration_ms(expires, &life) < 0 || life <= 0 ||
				  life > EP_MAX_TOKEN_LIFE_MS))
		r = jsonx_fail(&e, "expires", "expires must be a duration such as 7d, at most 365d");
	if (r < 0)
		return http_fail_rerr(resp, &e);
	r = people_org_find(c, org, &u);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_INVALID, "org_unit", "no such org unit");
	if (r < 0)
		return r;
	if (!endpoint_may(p, ENDPOINT_TOKEN_CREATE, u.path)) {
		audit_req(req, c, "endpoint.token.create", "org_unit", u.id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	r = rcrypto_token_new(token, sizeof(token), "re");
	if (r < 0)
		return ERR_INTERNAL;
	rcrypto_token_hash(token, hash);
	ids_ulid(id, now);
	r = store_begin(c);
	if (r == 0)
		r = store_exec(c, "INSERT INTO enrollment_tokens (id, token_hash, org_unit_id, uses_left, "
				  "uses_total, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
			       STORE_ARGS(SA_TEXT(id), SA_TEXT(hash), SA_TEXT(u.id), SA_I64(uses),
					  SA_I64(now + life), SA_TEXT(p->person_id), SA_I64(now)));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.token.create", "enrollment_token", id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:I}", "org_unit", u.path, "uses", (json_int_t)uses));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		sodium_memzero(token, sizeof(token));
		return r;
	}
	r = store_query(c, EP_TOKEN_COLS "WHERE t.id = $1", STORE_ARGS(SA_TEXT(id)), &q);
	if (r == 0 && store_step(q) == 1)
		out = ep_token_row_json(q, now);
	store_stmt_free(q);
	if (out)
		json_object_set_new(out, "token", json_string(token));
	sodium_memzero(token, sizeof(token));
	return http_resp_json(resp, 201, out);
}

static json_t *ep_token_row(struct store_stmt *q, void *now)
{
	return ep_token_row_json(q, *(const int64_t *)now);
}

static int h_token_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *cursor;
	int64_t limit, now = rtime_now_ms();
	char next[PAGE_CURSOR_SIZE];
	struct store_stmt *q = NULL;
	json_t *items;
	int r;

	r = ep_list_page(req, resp, 50, &limit, &cursor);
	if (r < 0)
		return r;
	r = ep_query_scoped(c, p, EP_TOKEN_COLS "WHERE ($1 = '' OR t.id < $1)", "o.path", " ORDER BY t.id DESC LIMIT $2",
			    STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, ep_token_row, &now, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

static int h_token_delete(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *id = http_req_param(req, "id");
	char path[PRINCIPAL_PATH_SIZE] = "";
	struct store_stmt *q = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_TOKEN_REVOKE, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = store_query(c, "SELECT o.path FROM enrollment_tokens t" EP_TOKEN_UNIT " WHERE t.id = $1",
			STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		str_copy(path, sizeof(path), store_col_text(q, 0));
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (r == 0 || !endpoint_may(p, ENDPOINT_READ, path))
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such enrollment token");
	if (!endpoint_may(p, ENDPOINT_TOKEN_REVOKE, path)) {
		audit_req(req, c, "endpoint.token.revoke", "enrollment_token", id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	r = store_begin(c);
	if (r == 0)
		r = store_exec(c, "UPDATE enrollment_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
			       STORE_ARGS(SA_TEXT(id), SA_I64(rtime_now_ms())));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.token.revoke", "enrollment_token", id, AUDIT_SUCCESS, NULL);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	http_resp_status(resp, 204);
	return 0;
}

/* ---------------------------------------------------------------- enrollment */

static bool ep_is_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EP_MAX_NAME || !str_is_clean_utf8(s, n))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * What an enrollment request carries; the strings are borrowed from the
 * request's body.
 */
struct ep_enrollment {
	const char *token, *hostname, *machine_id, *org, *owner;
	unsigned char pk[DEVSIG_PK_BYTES];
};

/* Reads and checks the body of POST /api/v1/endpoint/enroll.  Returns 0 or ERR_INVALID with @e. */
static int ep_enroll_read(struct http_req *req, struct ep_enrollment *en, struct rerr *e)
{
	static const char *const keys[] = { "token", "hostname", "machine_id", "public_key", "org_unit",
					    "owner", NULL };
	const char *pk_b64;
	json_t *body;
	int r;

	en->org = NULL;
	en->owner = NULL;
	r = http_req_json(req, &body, e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, e);
	if (r == 0)
		r = jsonx_get_str(body, "token", true, RCRYPTO_TOKEN_SIZE, &en->token, e);
	if (r == 0)
		r = jsonx_get_str(body, "hostname", true, EP_MAX_NAME, &en->hostname, e);
	if (r == 0 && !ep_is_name(en->hostname))
		r = jsonx_fail(e, "hostname", "hostname must be printable text");
	if (r == 0)
		r = jsonx_get_str(body, "machine_id", true, 64, &en->machine_id, e);
	if (r == 0 && !ep_is_name(en->machine_id))
		r = jsonx_fail(e, "machine_id", "machine_id must be printable text");
	if (r == 0)
		r = jsonx_get_str(body, "public_key", true, DEVSIG_PK_B64_SIZE, &pk_b64, e);
	if (r == 0 && devsig_b64_decode(pk_b64, en->pk, sizeof(en->pk)) < 0)
		r = jsonx_fail(e, "public_key", "public_key must be a base64 Ed25519 public key");
	if (r == 0 && (r = jsonx_get_str(body, "org_unit", false, PRINCIPAL_PATH_SIZE - 1, &en->org, e)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_str(body, "owner", false, 128, &en->owner, e)) == -ENOENT)
		r = 0;
	return r;
}

/*
 * Consumes one use of the enrollment token with SHA-256 @hash, inside the
 * caller's transaction: one conditional UPDATE, so that parallel
 * enrollments cannot overdraw it.  Sets @ret_token_id and @ret_unit_id.
 * Returns 0, ERR_UNAUTHENTICATED when the token is not (or no longer)
 * good, or a store error.
 */
static int ep_token_consume(struct store_conn *c, const char *hash, int64_t now, char ret_token_id[ULID_SIZE],
			    char ret_unit_id[ULID_SIZE])
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "UPDATE enrollment_tokens SET uses_left = uses_left - 1 "
			   "WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2 AND revoked_at IS NULL "
			   "RETURNING id, org_unit_id", STORE_ARGS(SA_TEXT(hash), SA_I64(now)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		str_copy(ret_token_id, ULID_SIZE, store_col_text(q, 0));
		str_copy(ret_unit_id, ULID_SIZE, store_col_text(q, 1));
		r = 0;
	} else if (r == 0) {
		r = ERR_UNAUTHENTICATED;
	}
	store_stmt_free(q);
	return r;
}

/*
 * Where the device goes: the token's unit @tu (filled from its id), or the
 * unit the request names below it (@u), and the owner's id ("" when none).
 * Returns 0, ERR_INVALID with @e, or a store error.
 */
static int ep_enroll_place(struct store_conn *c, const struct ep_enrollment *en, struct org_unit *tu,
			   struct org_unit *u, char owner_id[ULID_SIZE], struct rerr *e)
{
	struct person owner;
	int r;

	owner_id[0] = '\0';
	r = people_org_find(c, tu->id, tu);
	if (r < 0)
		return r;
	*u = *tu;
	if (en->org) {
		r = people_org_find(c, en->org, u);
		if (r == ERR_NOT_FOUND || (r == 0 && !scope_path_within(u->path, tu->path)))
			return jsonx_fail(e, "org_unit", "org_unit must be the token's unit or a unit below it");
		if (r < 0)
			return r;
	}
	if (en->owner) {
		r = people_find(c, en->owner, &owner);
		if (r == ERR_NOT_FOUND)
			return jsonx_fail(e, "owner", "no such person");
		if (r < 0)
			return r;
		str_copy(owner_id, ULID_SIZE, owner.id);
	}
	return 0;
}

/*
 * POST /api/v1/endpoint/enroll: a device with an enrollment token and its
 * public key.  One transaction consumes a use of the token, creates the
 * device and audits it.
 */
static int h_enroll(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct ep_enrollment en;
	char hash[RCRYPTO_HASH_HEX_SIZE], id[ULID_SIZE], tok_id[ULID_SIZE] = "", owner_id[ULID_SIZE] = "";
	char spk[DEVSIG_PK_B64_SIZE];
	struct org_unit tu, u;
	int64_t now = rtime_now_ms();
	int r;

	if (!c)
		return ERR_STORE;
	if (!ep_policy_sk())
		return ERR_UNAVAILABLE;
	if (ep_enroll_read(req, &en, &e) < 0)
		return http_fail_rerr(resp, &e);

	rcrypto_token_hash(en.token, hash);
	r = store_begin(c);
	if (r < 0)
		return r;
	r = ep_token_consume(c, hash, now, tok_id, tu.id);
	if (r == ERR_UNAUTHENTICATED) {
		store_rollback(c);
		audit_req(req, c, "endpoint.enroll", NULL, NULL, AUDIT_DENIED, json_pack("{s:s}", "hostname", en.hostname));
		return http_fail(resp, ERR_UNAUTHENTICATED, "token", "the enrollment token is not valid, expired or used up");
	}
	if (r == 0)
		r = ep_enroll_place(c, &en, &tu, &u, owner_id, &e);
	if (r == ERR_INVALID) {
		store_rollback(c);
		return http_fail_rerr(resp, &e);
	}
	ids_ulid(id, now);
	if (r == 0)
		r = store_exec(c, "INSERT INTO devices (id, hostname, machine_id, org_unit_id, owner_id, public_key, "
				  "enrolled_with, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'unknown', $8)",
			       STORE_ARGS(SA_TEXT(id), SA_TEXT(en.hostname), SA_TEXT(en.machine_id), SA_TEXT(u.id),
					  SA_TEXT(owner_id[0] ? owner_id : NULL), SA_BLOB(en.pk, sizeof(en.pk)),
					  SA_TEXT(tok_id), SA_I64(now)));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.enroll", "device", id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:s, s:s, s:s}", "hostname", en.hostname, "machine_id", en.machine_id,
					"org_unit", u.path, "enrollment_token", tok_id));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	devsig_b64_encode(ep_policy_pk(), DEVSIG_PK_BYTES, spk, sizeof(spk));
	return http_resp_json(resp, 201, json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "device_id", id,
						   "org_unit", "id", u.id, "path", u.path,
						   "server_public_key", spk, "signature", "ed25519"));
}

/* ---------------------------------------------------------------- routes */

int ep_enroll_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/enrollment-tokens", h_token_create, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/enrollment-tokens", h_token_list, 0);
	r = r ? r : http_route(s, HTTP_DELETE, "/api/v1/endpoint/enrollment-tokens/{id}", h_token_delete, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/enroll", h_enroll, HTTP_AUTH_NONE);
	return r;
}
