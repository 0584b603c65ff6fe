/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * protect_http: the HTTP API of file protection.
 *
 *   GET   /api/v1/protect/key          the server's key-wrapping public key
 *   POST  /api/v1/files                register a protected file and its access list
 *   GET   /api/v1/files                files the caller may see
 *   GET   /api/v1/files/{id}           one file with its access list
 *   PATCH /api/v1/files/{id}           grant, ungrant, change expiry
 *   POST  /api/v1/files/{id}/revoke    revoke: nobody can open it any more
 *   GET   /api/v1/files/{id}/access    the file's access history
 *   POST  /api/v1/files/{id}/open      ask for the content key
 *
 * Every open, allowed or refused, is written to the access history and the
 * audit log in one transaction.  Files the caller may not read answer 404.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "protect/protect.h"
#include "store/page.h"
#include "store/store.h"

#define FILE_NAME_MAX 255
#define FILE_GRANTS_MAX 256

/* What authorization and the answers need about one file. */
struct file_row {
	char id[ULID_SIZE];
	char owner_id[ULID_SIZE];
	char owner_path[PRINCIPAL_PATH_SIZE];
	char header_hash[RCRYPTO_HASH_HEX_SIZE];
	char name[FILE_NAME_MAX + 1];
	int64_t revoked_at;
};

static const char FILE_COLUMNS[] =
	"f.id, f.policy_id, f.name, f.owner_id, p.login, coalesce(p_unit.path, ''), f.created_by, "
	"f.created_at, f.updated_at, coalesce(f.expires_at, 0), coalesce(f.revoked_at, 0), "
	"f.revoked_by, coalesce(f.size, -1), f.header_hash";
static const char FILE_FROM[] = " FROM protected_files f" PEOPLE_SQL_JOIN("p", "f.owner_id");

static int file_load(struct store_conn *c, const char *id, struct file_row *f)
{
	struct store_stmt *q;
	char sql[1024];
	int r;

	if (!id || !ids_is_ulid(id))
		return ERR_NOT_FOUND;
	snprintf(sql, sizeof(sql), "SELECT %s%s WHERE f.id = $1", FILE_COLUMNS, FILE_FROM);
	r = store_query(c, sql, STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		memset(f, 0, sizeof(*f));
		str_copy(f->id, sizeof(f->id), store_col_text(q, 0));
		str_copy(f->name, sizeof(f->name), store_col_text(q, 2));
		str_copy(f->owner_id, sizeof(f->owner_id), store_col_text(q, 3));
		str_copy(f->owner_path, sizeof(f->owner_path), store_col_text(q, 5));
		f->revoked_at = store_col_i64(q, 10);
		str_copy(f->header_hash, sizeof(f->header_hash), store_col_text(q, 13));
		r = 0;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

/* A file row (FILE_COLUMNS) as the API shows it, with its access list. */
static json_t *file_json(struct store_conn *c, struct store_stmt *q);

/* A file row of the list (page_collect's callback; @ud is the connection). */
static json_t *file_item(struct store_stmt *q, void *ud)
{
	return file_json(ud, q);
}

static json_t *file_json(struct store_conn *c, struct store_stmt *q)
{
	json_t *o = json_object(), *grants = json_array(), *owner;
	struct store_stmt *g;
	const char *id = store_col_text(q, 0);
	int r;

	if (!o || !grants)
		goto fail;
	jsonx_set_str(o, "id", id);
	jsonx_set_str(o, "policy_id", store_col_text(q, 1));
	jsonx_set_str(o, "name", store_col_text(q, 2));
	owner = json_object();
	if (!owner)
		goto fail;
	jsonx_set_str(owner, "id", store_col_text(q, 3));
	jsonx_set_str(owner, "login", store_col_text(q, 4));
	jsonx_set_str(owner, "org_path", store_col_text(q, 5));
	json_object_set_new(o, "owner", owner);
	jsonx_set_str(o, "created_by", store_col_text(q, 6));
	jsonx_set_time(o, "created_at", store_col_i64(q, 7));
	jsonx_set_time(o, "updated_at", store_col_i64(q, 8));
	jsonx_set_time(o, "expires_at", store_col_i64(q, 9));
	jsonx_set_time(o, "revoked_at", store_col_i64(q, 10));
	jsonx_set_str(o, "revoked_by", store_col_text(q, 11));
	if (store_col_i64(q, 12) >= 0)
		json_object_set_new(o, "size", json_integer(store_col_i64(q, 12)));
	else
		json_object_set_new(o, "size", json_null());
	json_object_set_new(o, "status", json_string(store_col_i64(q, 10) ? "revoked" :
		(store_col_i64(q, 9) && rtime_now_ms() >= store_col_i64(q, 9)) ? "expired" : "active"));
	r = store_query(c, "SELECT kind, value, granted_by, granted_at FROM protected_file_grants "
			   "WHERE file_id = $1 ORDER BY kind, value", STORE_ARGS(SA_TEXT(id)), &g);
	if (r < 0)
		goto fail;
	while ((r = store_step(g)) == 1) {
		char grantee[600];
		json_t *e = json_object();

		snprintf(grantee, sizeof(grantee), "%s:%s", store_col_text(g, 0), store_col_text(g, 1));
		if (!e)
			break;
		jsonx_set_str(e, "grantee", grantee);
		jsonx_set_str(e, "kind", store_col_text(g, 0));
		jsonx_set_str(e, "value", store_col_text(g, 1));
		jsonx_set_str(e, "granted_by", store_col_text(g, 2));
		jsonx_set_time(e, "granted_at", store_col_i64(g, 3));
		json_array_append_new(grants, e);
	}
	store_stmt_free(g);
	if (r < 0)
		goto fail;
	json_object_set_new(o, "grants", grants);
	return o;
fail:
	json_decref(grants);
	json_decref(o);
	return NULL;
}

static int file_answer(struct http_req *req, struct http_resp *resp, struct store_conn *c,
		       const char *id, int status)
{
	struct store_stmt *q;
	char sql[1024];
	json_t *o = NULL;
	int r;

	snprintf(sql, sizeof(sql), "SELECT %s%s WHERE f.id = $1", FILE_COLUMNS, FILE_FROM);
	r = store_query(c, sql, STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		o = file_json(c, q);
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (r == 0)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such protected file");
	if (!o)
		return -ENOMEM;
	return http_resp_json(resp, status, o);
}

static const char *action_name(enum protect_action a)
{
	switch (a) {
	case PROTECT_CREATE: return "create";
	case PROTECT_READ: return "read";
	case PROTECT_MANAGE: return "manage";
	}
	return "unknown";
}

static void audit_denied(struct http_req *req, struct store_conn *c, const char *object_id,
			 enum protect_action a)
{
	char endpoint[300];

	snprintf(endpoint, sizeof(endpoint), "%s %s", http_method_name(http_req_method(req)),
		 http_req_path(req));
	audit_req(req, c, "authz.denied", "protected_file", object_id, AUDIT_DENIED,
		  json_pack("{s:s, s:s}", "endpoint", endpoint, "action", action_name(a)));
}

/*
 * Loads the file of the {id} parameter and decides @a.  Returns 0 when
 * allowed; otherwise the answer is written (404 when the caller may not
 * read the file, 403 when they may read but not manage it).
 */
static int file_authorize(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			  enum protect_action a, struct file_row *f)
{
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	struct protect_target t;
	int r = file_load(c, id, f);

	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such protected file");
	if (r < 0)
		return r;
	t = (struct protect_target){ f->owner_id, f->owner_path };
	if (protect_may(p, a, &t))
		return 0;
	audit_denied(req, c, f->id, a);
	if (!protect_may(p, PROTECT_READ, &t))
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such protected file");
	return http_fail(resp, ERR_FORBIDDEN, NULL, "managing this file needs to be its owner, an "
			 "admin, a security_officer, or its owner's security_manager");
}

static int b64_decode(const char *s, unsigned char *out, size_t want)
{
	size_t n = 0;

	if (!s || strlen(s) > 1024 ||
	    sodium_base642bin(out, want, s, strlen(s), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || n != want)
		return ERR_INVALID;
	return 0;
}

static json_t *b64_json(const unsigned char *p, size_t n)
{
	char out[512];

	if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) > sizeof(out))
		return NULL;
	sodium_bin2base64(out, sizeof(out), p, n, sodium_base64_VARIANT_ORIGINAL);
	return json_string(out);
}

/* ---------------------------------------------------------------- grants */

/* Checks that a grantee exists: the person, the group, the org unit. */
static int grant_check(struct store_conn *c, const struct protect_grant *g)
{
	struct person who;
	struct org_unit unit;
	bool found;
	int r;

	switch (g->kind) {
	case GRANT_USER:
		r = people_get(c, g->value, &who);
		return r == ERR_TOO_LARGE ? 0 : r;
	case GRANT_GROUP:
		r = people_group_exists(c, g->value, &found);
		return r < 0 ? r : found ? 0 : ERR_NOT_FOUND;
	case GRANT_ORG:
		r = people_org_at(c, g->value, &unit);
		return r == ERR_TOO_LARGE ? 0 : r;
	case GRANT_ROLE:
		break;
	}
	return 0;
}

static const char *const kind_names[] = { "user", "group", "org", "role" };

/*
 * Validates every grantee of the array @field of @body, inserting them
 * for @file_id when @insert (else deleting them).  Answers and returns an
 * error for the first bad one.
 */
static int grants_apply(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			const json_t *arr, const char *field, const char *file_id, bool insert,
			json_t *changed)
{
	const struct principal *p = http_req_principal(req);
	size_t i;
	json_t *v;
	int r;

	if (!json_is_array(arr) || json_array_size(arr) > FILE_GRANTS_MAX)
		return http_fail(resp, ERR_INVALID, field, "'%s' must be a list of at most %d grantees",
				 field, FILE_GRANTS_MAX);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		struct protect_grant g;

		if (protect_grant_parse(s, &g) < 0)
			return http_fail(resp, ERR_INVALID, field, "each grantee must be user:ID, "
					 "group:NAME, org:PATH or role:ROLE (a known role)");
		if (insert) {
			r = grant_check(c, &g);
			if (r == ERR_NOT_FOUND)
				return http_fail(resp, ERR_INVALID, field, "no such %s: %s",
						 g.kind == GRANT_USER ? "person" : g.kind == GRANT_GROUP ?
						 "group" : "org unit", g.value);
			if (r < 0)
				return r;
			r = store_exec(c, "INSERT INTO protected_file_grants (file_id, kind, value, "
					  "granted_by, granted_at) VALUES ($1, $2, $3, $4, $5) "
					  "ON CONFLICT (file_id, kind, value) DO NOTHING",
				       STORE_ARGS(SA_TEXT(file_id), SA_TEXT(kind_names[g.kind]),
						  SA_TEXT(g.value), SA_TEXT(p->person_id),
						  SA_I64(rtime_now_ms())));
		} else {
			r = store_exec(c, "DELETE FROM protected_file_grants WHERE file_id = $1 AND "
					  "kind = $2 AND value = $3",
				       STORE_ARGS(SA_TEXT(file_id), SA_TEXT(kind_names[g.kind]),
						  SA_TEXT(g.value)));
		}
		if (r < 0)
			return r;
		if (r > 0 && changed)
			json_array_append_new(changed, json_string(s));
	}
	return 0;
}

/* ---------------------------------------------------------------- handlers */

static int h_key(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct protect_keys *k = protect_keys_get();
	char kid[RPF_KEY_ID_BYTES * 2 + 1];

	if (!k)
		return http_fail(resp, ERR_UNAVAILABLE, NULL, "the key service has no key");
	sodium_bin2hex(kid, sizeof(kid), k->key_id, sizeof(k->key_id));
	return http_resp_json(resp, 200, json_pack("{s:s, s:s, s:o, s:s, s:i}",
		"server_id", app->server_id, "key_id", kid, "public_key", b64_json(k->pk, sizeof(k->pk)),
		"suite", "aes-256-gcm-stream", "chunk_size", (int)RPF_CHUNK));
}

static int h_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "header", "name", "grants", "expires_at", "owner", "size", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const struct protect_keys *k = protect_keys_get();
	unsigned char hdr[RPF_HEADER_LEN], key[RPF_KEY_BYTES];
	char hash[RCRYPTO_HASH_HEX_SIZE], owner_path[PRINCIPAL_PATH_SIZE] = "";
	const char *header = NULL, *name = NULL, *expires = NULL, *owner = NULL;
	struct protect_target t;
	struct rpf_header h;
	struct rerr re = { 0 };
	struct rerr je;
	int64_t exp_ms = 0, size = -1, now = rtime_now_ms();
	json_t *body, *d;
	int r;

	if (!c)
		return ERR_STORE;
	if (!k)
		return http_fail(resp, ERR_UNAVAILABLE, NULL, "the key service has no key");
	if (http_req_json(req, &body, &je) < 0 || jsonx_only_keys(body, keys, &je) < 0 ||
	    jsonx_get_str(body, "header", true, 1024, &header, &je) < 0 ||
	    jsonx_get_str(body, "name", true, FILE_NAME_MAX, &name, &je) < 0 ||
	    (r = jsonx_get_str(body, "expires_at", false, 64, &expires, &je)) == ERR_INVALID ||
	    (r = jsonx_get_str(body, "owner", false, 64, &owner, &je)) == ERR_INVALID ||
	    (r = jsonx_get_int(body, "size", false, 0, INT64_MAX, &size, &je)) == ERR_INVALID)
		return http_fail_rerr(resp, &je);
	if (!str_is_clean_utf8(name, strlen(name)))
		return http_fail(resp, ERR_INVALID, "name", "name must be clean UTF-8");
	if (b64_decode(header, hdr, sizeof(hdr)) < 0)
		return http_fail(resp, ERR_INVALID, "header", "header must be the file's %d-byte "
				 "header in base64", RPF_HEADER_LEN);
	r = rpf_header_parse(hdr, sizeof(hdr), &h, &re);
	if (r < 0)
		return http_fail(resp, ERR_INVALID, "header", "%s", re.message);
	if (strcmp(h.server_id, app->server_id) != 0)
		return http_fail(resp, ERR_INVALID, "header", "the file names another server");
	r = rpf_unwrap(&h, k->pk, k->sk, key);
	sodium_memzero(key, sizeof(key));
	if (r < 0)
		return http_fail(resp, ERR_INVALID, "header", "%s", rpf_strerror(r));
	if (expires && (rtime_parse(expires, &exp_ms) < 0 || exp_ms <= 0))
		return http_fail(resp, ERR_INVALID, "expires_at", "expires_at must be an RFC 3339 "
				 "time or a date such as 2027-03-31");
	if (!owner)
		owner = p->person_id;
	if (!ids_is_ulid(owner))
		return http_fail(resp, ERR_INVALID, "owner", "owner must be a person id");
	{
		struct person who;

		r = people_get(c, owner, &who);
		if (r == ERR_NOT_FOUND)
			return http_fail(resp, ERR_INVALID, "owner", "no such person");
		if (r < 0)
			return r;
		memcpy(owner_path, who.org_path, sizeof(owner_path));
	}
	t = (struct protect_target){ owner, owner_path };
	if (!protect_may(p, PROTECT_CREATE, &t)) {
		audit_denied(req, c, h.file_id, PROTECT_CREATE);
		return http_fail(resp, ERR_FORBIDDEN, "owner", "protecting a file for another owner "
				 "needs admin, security_officer, or their security_manager");
	}
	rcrypto_sha256_hex(hdr, sizeof(hdr), hash);

	r = store_begin(c);
	if (r < 0)
		return r;
	r = store_exec(c, "INSERT INTO protected_files (id, policy_id, name, owner_id, created_by, "
			  "header_hash, wrapped_key, size, created_at, updated_at, expires_at) "
			  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
		       STORE_ARGS(SA_TEXT(h.file_id), SA_TEXT(h.policy_id), SA_TEXT(name), SA_TEXT(owner),
				  SA_TEXT(p->person_id), SA_TEXT(hash), SA_BLOB(h.wrapped, RPF_WRAPPED_LEN),
				  size >= 0 ? SA_I64(size) : SA_NULL, SA_I64(now),
				  exp_ms ? SA_I64(exp_ms) : SA_NULL));
	if (r == ERR_CONFLICT) {
		store_rollback(c);
		return http_fail(resp, ERR_CONFLICT, "header", "a file with this id or policy id is "
				 "already registered");
	}
	if (r < 0)
		goto fail;
	if (json_object_get(body, "grants")) {
		r = grants_apply(req, resp, c, json_object_get(body, "grants"), "grants", h.file_id,
				 true, NULL);
		if (r < 0)
			goto fail;
	}
	d = json_pack("{s:s, s:s, s:O}", "name", name, "owner", owner, "grants",
		      json_object_get(body, "grants") ? json_object_get(body, "grants") : json_null());
	if (d && exp_ms)
		jsonx_set_time(d, "expires_at", exp_ms);
	r = audit_req(req, c, "file.protect", "protected_file", h.file_id, AUDIT_SUCCESS, d);
	if (r < 0)
		goto fail;
	r = store_commit(c);
	if (r < 0)
		goto fail;
	return file_answer(req, resp, c, h.file_id, 201);
fail:
	store_rollback(c);
	return r;
}

static int h_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct store_arg args[6];
	size_t nargs = 0;
	struct store_stmt *q = NULL;
	struct rerr je;
	const char *cursor, *status;
	int64_t limit;
	json_t *items;
	char next[PAGE_CURSOR_SIZE];
	struct buf sql;
	int r;

	if (!c)
		return ERR_STORE;
	if (http_req_page(req, 100, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	status = http_req_query(req, "status");
	if (status && strcmp(status, "active") && strcmp(status, "revoked"))
		return http_fail(resp, ERR_INVALID, "status", "status must be active or revoked");
	buf_init(&sql, 4096);
	buf_printf(&sql, "SELECT %s%s WHERE 1 = 1", FILE_COLUMNS, FILE_FROM);
	r = scope_sql_where(&sql, args, &nargs, 4, p, SCOPE_SELF | SCOPE_SUBTREE, "p_unit.path", "f.owner_id");
	if (r < 0) {
		buf_done(&sql);
		return r;
	}
	if (status)
		buf_puts(&sql, strcmp(status, "revoked") == 0 ? " AND f.revoked_at IS NOT NULL"
							       : " AND f.revoked_at IS NULL");
	if (cursor) {
		args[nargs++] = SA_TEXT(cursor);
		buf_printf(&sql, " AND f.id < $%zu", nargs);
	}
	args[nargs++] = SA_I64(limit + 1);
	buf_printf(&sql, " ORDER BY f.id DESC LIMIT $%zu", nargs);
	r = store_query(c, sql.data, args, nargs, &q);
	buf_done(&sql);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, file_item, c, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

static int h_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct file_row f;
	int r;

	if (!c)
		return ERR_STORE;
	r = file_authorize(req, resp, c, PROTECT_READ, &f);
	return r < 0 ? r : file_answer(req, resp, c, f.id, 200);
}

static int h_patch(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "grant", "ungrant", "expires_at", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr je;
	struct file_row f;
	json_t *body, *exp, *added = json_array(), *removed = json_array(), *d;
	int64_t exp_ms = 0;
	int r;

	if (!c)
		return ERR_STORE;
	if (!added || !removed) {
		r = -ENOMEM;
		goto out;
	}
	r = file_authorize(req, resp, c, PROTECT_MANAGE, &f);
	if (r < 0)
		goto out;
	if (http_req_json(req, &body, &je) < 0 || jsonx_only_keys(body, keys, &je) < 0) {
		r = http_fail_rerr(resp, &je);
		goto out;
	}
	if (f.revoked_at) {
		r = http_fail(resp, ERR_CONFLICT, NULL, "the file is revoked; its access list can no "
			      "longer change");
		goto out;
	}
	exp = json_object_get(body, "expires_at");
	if (exp && !json_is_null(exp) && (!json_is_string(exp) ||
	    rtime_parse(json_string_value(exp), &exp_ms) < 0 || exp_ms <= 0)) {
		r = http_fail(resp, ERR_INVALID, "expires_at", "expires_at must be an RFC 3339 time, "
			      "a date, or null for no expiry");
		goto out;
	}
	r = store_begin(c);
	if (r < 0)
		goto out;
	if (json_object_get(body, "grant"))
		r = grants_apply(req, resp, c, json_object_get(body, "grant"), "grant", f.id, true, added);
	if (r == 0 && json_object_get(body, "ungrant"))
		r = grants_apply(req, resp, c, json_object_get(body, "ungrant"), "ungrant", f.id, false,
				 removed);
	if (r == 0 && exp)
		r = store_exec(c, "UPDATE protected_files SET expires_at = $2 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(f.id), exp_ms ? SA_I64(exp_ms) : SA_NULL));
	if (r >= 0)
		r = store_exec(c, "UPDATE protected_files SET updated_at = $2 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(f.id), SA_I64(rtime_now_ms())));
	if (r >= 0 && json_array_size(added)) {
		d = json_pack("{s:O}", "grantees", added);
		r = audit_req(req, c, "file.grant", "protected_file", f.id, AUDIT_SUCCESS, d);
	}
	if (r >= 0 && json_array_size(removed)) {
		d = json_pack("{s:O}", "grantees", removed);
		r = audit_req(req, c, "file.ungrant", "protected_file", f.id, AUDIT_SUCCESS, d);
	}
	if (r >= 0 && exp) {
		d = json_object();
		if (d)
			json_object_set_new(d, "expires_at", json_null());
		if (d && exp_ms)
			jsonx_set_time(d, "expires_at", exp_ms);
		r = audit_req(req, c, "file.expire", "protected_file", f.id, AUDIT_SUCCESS, d);
	}
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		goto out;
	}
	r = file_answer(req, resp, c, f.id, 200);
out:
	json_decref(added);
	json_decref(removed);
	return r;
}

static int h_revoke(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct file_row f;
	int r;

	if (!c)
		return ERR_STORE;
	r = file_authorize(req, resp, c, PROTECT_MANAGE, &f);
	if (r < 0)
		return r;
	if (f.revoked_at)
		return file_answer(req, resp, c, f.id, 200);
	r = store_begin(c);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE protected_files SET revoked_at = $2, revoked_by = $3, updated_at = $2 "
			  "WHERE id = $1 AND revoked_at IS NULL",
		       STORE_ARGS(SA_TEXT(f.id), SA_I64(rtime_now_ms()), SA_TEXT(p->person_id)));
	if (r >= 0)
		r = audit_req(req, c, "file.revoke", "protected_file", f.id, AUDIT_SUCCESS,
			      json_pack("{s:s}", "name", f.name));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return file_answer(req, resp, c, f.id, 200);
}

static int h_access(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct store_stmt *q;
	struct rerr je;
	struct file_row f;
	const char *cursor;
	int64_t limit, n, cid = INT64_MAX, last = 0;
	json_t *items, *out;
	int r;

	if (!c)
		return ERR_STORE;
	r = file_authorize(req, resp, c, PROTECT_READ, &f);
	if (r < 0)
		return r;
	if (http_req_page(req, 100, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (cursor && str_parse_i64(cursor, 1, INT64_MAX, &cid) < 0)
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	r = store_query(c, "SELECT id, person_id, login, at, source, outcome, reason "
			   "FROM protected_file_access WHERE file_id = $1 AND id < $2 "
			   "ORDER BY id DESC LIMIT $3",
			STORE_ARGS(SA_TEXT(f.id), SA_I64(cid), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	items = json_array();
	for (n = 0; items && (r = store_step(q)) == 1; n++) {
		json_t *e;

		if (n == limit)
			break;
		last = store_col_i64(q, 0);
		e = json_pack("{s:I}", "id", (json_int_t)last);
		if (!e)
			continue;
		jsonx_set_str(e, "person_id", store_col_text(q, 1));
		jsonx_set_str(e, "login", store_col_text(q, 2));
		jsonx_set_time(e, "at", store_col_i64(q, 3));
		jsonx_set_str(e, "source", store_col_text(q, 4));
		jsonx_set_str(e, "outcome", store_col_text(q, 5));
		jsonx_set_str(e, "reason", store_col_text(q, 6));
		json_array_append_new(items, e);
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	out = json_pack("{s:o}", "items", items);
	if (out && r == 1 && n == limit) {
		char nb[24];

		snprintf(nb, sizeof(nb), "%lld", (long long)last);
		json_object_set_new(out, "next", json_string(nb));
	} else if (out) {
		json_object_set_new(out, "next", json_null());
	}
	return http_resp_json(resp, 200, out);
}

/*
 * Records one open attempt by @person_id (@login) in the history and the
 * audit log, in one transaction.
 */
static int record_open(struct http_req *req, struct store_conn *c, const char *file_id,
		       const char *person_id, const char *login, bool allowed, const char *reason)
{
	json_t *details = json_pack("{s:s}", "reason", reason);
	struct audit_entry e = {
		.actor_id = person_id,
		.actor_login = login,
		.source = http_req_remote(req),
		.action = "file.open",
		.object_type = "protected_file",
		.object_id = file_id,
		.outcome = allowed ? AUDIT_SUCCESS : AUDIT_DENIED,
		.details = details,
		.request_id = http_req_id(req),
	};
	int r = details ? store_begin(c) : -ENOMEM;

	if (r < 0) {
		json_decref(details);
		return r;
	}
	r = store_exec(c, "INSERT INTO protected_file_access (file_id, person_id, login, at, source, "
			  "outcome, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		       STORE_ARGS(SA_TEXT(file_id), SA_TEXT(person_id), SA_TEXT(login),
				  SA_I64(rtime_now_ms()), SA_TEXT(http_req_remote(req)),
				  SA_TEXT(allowed ? "allowed" : "refused"), SA_TEXT(reason)));
	if (r >= 0)
		r = audit_append(c, &e);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0)
		store_rollback(c);
	json_decref(details);
	return r < 0 ? r : 0;
}

/* Answers a refused open: 403 with the decision's reason and a sentence. */
static int open_refused(struct http_resp *resp, enum protect_decision d)
{
	json_t *out = json_pack("{s:{s:s, s:s}, s:s}", "error", "code", "forbidden", "message",
				protect_decision_message(d), "reason", protect_decision_name(d));

	http_resp_json(resp, 403, out);
	return ERR_FORBIDDEN;
}

/*
 * An open whose credential no longer authenticates.  When it was the
 * session or API token of someone who has since left (retired or on leave:
 * leaving revoked it), the attempt is theirs: refused with its reason and
 * recorded in the file's history and the audit log like any other
 * refusal, so that "a leaver tried to open it" shows where an owner and a
 * security officer look.  Nothing is handed out and nothing about the file
 * is told: an unknown file is answered as an unauthenticated request.
 * Anyone else is simply not authenticated.
 */
static int open_by_leaver(struct http_req *req, struct http_resp *resp, struct store_conn *c)
{
	char person[ULID_SIZE], login[sizeof(((struct principal *)0)->login)];
	enum protect_decision d;
	struct file_row f;
	int r = auth_req_inactive_owner(req, person, login, sizeof(login));

	if (r == ERR_NOT_FOUND)
		return ERR_UNAUTHENTICATED;
	if (r < 0)
		return r;
	r = file_load(c, http_req_param(req, "id"), &f);
	if (r == ERR_NOT_FOUND)
		return ERR_UNAUTHENTICATED;
	if (r < 0)
		return r;
	r = protect_check_open(c, f.id, person, rtime_now_ms(), &d);
	if (r < 0)
		return r;
	if (protect_decision_allows(d))
		return ERR_UNAUTHENTICATED; /* the person came back meanwhile: let them log in */
	r = record_open(req, c, f.id, person, login, false, protect_decision_name(d));
	if (r < 0)
		return r;
	log_info("protect: open refused to a credential of someone who left", "file=%s person=%s reason=%s",
		 f.id, person, protect_decision_name(d));
	return open_refused(resp, d);
}

static int h_open(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "header", "client_key", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const struct protect_keys *k = protect_keys_get();
	unsigned char hdr[RPF_HEADER_LEN], cpk[RPF_PK_BYTES], box[RPF_WRAPPED_LEN];
	const char *header, *client_key;
	enum protect_decision d;
	struct rerr je;
	struct file_row f;
	json_t *body, *out;
	int r;

	if (!c)
		return ERR_STORE;
	if (!principal_is_authenticated(p))
		return open_by_leaver(req, resp, c);
	if (!k)
		return http_fail(resp, ERR_UNAVAILABLE, NULL, "the key service has no key");
	if (http_req_json(req, &body, &je) < 0 || jsonx_only_keys(body, keys, &je) < 0 ||
	    jsonx_get_str(body, "header", true, 1024, &header, &je) < 0 ||
	    jsonx_get_str(body, "client_key", true, 128, &client_key, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (b64_decode(header, hdr, sizeof(hdr)) < 0)
		return http_fail(resp, ERR_INVALID, "header", "header must be the file's %d-byte "
				 "header in base64", RPF_HEADER_LEN);
	if (b64_decode(client_key, cpk, sizeof(cpk)) < 0)
		return http_fail(resp, ERR_INVALID, "client_key", "client_key must be a 32-byte "
				 "X25519 public key in base64");
	r = file_load(c, http_req_param(req, "id"), &f);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such protected file on this server");
	if (r < 0)
		return r;
	r = protect_check_open(c, f.id, p->person_id, rtime_now_ms(), &d);
	if (r < 0)
		return r;
	if (!protect_decision_allows(d)) {
		r = record_open(req, c, f.id, p->person_id, p->login, false, protect_decision_name(d));
		return r < 0 ? r : open_refused(resp, d);
	}
	r = protect_rewrap(k, hdr, f.header_hash, cpk, box);
	if (r < 0) {
		int r2 = record_open(req, c, f.id, p->person_id, p->login, false, "bad_header");

		if (r2 < 0)
			return r2;
		return http_fail(resp, ERR_INVALID, "header", "%s", r == ERR_INVALID ?
				 "the header is not the one registered for this file" : rpf_strerror(r));
	}
	r = record_open(req, c, f.id, p->person_id, p->login, true, protect_decision_name(d));
	if (r < 0)
		return r;
	out = json_pack("{s:s, s:s, s:o, s:s}", "file_id", f.id, "name", f.name,
			"wrapped_key", b64_json(box, sizeof(box)), "decision", protect_decision_name(d));
	return http_resp_json(resp, 200, out);
}

int protect_routes(struct http_server *s)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		http_handler_fn fn;
	} routes[] = {
		{ HTTP_GET, "/api/v1/protect/key", h_key },
		{ HTTP_POST, "/api/v1/files", h_create },
		{ HTTP_GET, "/api/v1/files", h_list },
		{ HTTP_GET, "/api/v1/files/{id}", h_get },
		{ HTTP_PATCH, "/api/v1/files/{id}", h_patch },
		{ HTTP_POST, "/api/v1/files/{id}/revoke", h_revoke },
		{ HTTP_GET, "/api/v1/files/{id}/access", h_access },
		{ HTTP_POST, "/api/v1/files/{id}/open", h_open },
	};
	int r = 0;

	/* An open is answered even for a credential that no longer authenticates: see open_by_leaver. */
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && r == 0; i++)
		r = http_route(s, routes[i].methods, routes[i].pattern, routes[i].fn,
			       routes[i].fn == h_open ? HTTP_AUTH_OPTIONAL : 0);
	return r;
}
