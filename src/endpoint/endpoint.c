/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * endpoint: enrollment tokens, enrollment, signed check-ins, baseline
 * evaluation and the device API (see endpoint.h).
 *
 * Invariants:
 *   - an enrollment token is consumed by one conditional UPDATE (uses left,
 *     not expired, not revoked), inside the transaction that creates the
 *     device, so parallel enrollments cannot overdraw it;
 *   - a device request is accepted only after its signature checks, its
 *     timestamp is within DEVSIG_WINDOW_MS and (device, SHA-256 of the
 *     signature) was inserted into device_request_seen, in the transaction
 *     that stores what the request carries;
 *   - no token or key reaches a log line or an audit entry.
 */
#include "endpoint/endpoint.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "crypto/rcrypto.h"
#include "formats/devsig.h"
#include "endpoint/endpoint_internal.h"
#include "endpoint/oplog.h"
#include "formats/policy.h"
#include "endpoint/quarantine.h"
#include "http/http.h"
#include "store/store.h"

#define EP_MAX_USES 100000
#define EP_MAX_TOKEN_LIFE_MS ((int64_t)365 * 24 * 3600 * 1000)
#define EP_DEFAULT_TOKEN_LIFE_MS ((int64_t)7 * 24 * 3600 * 1000)
#define EP_MAX_NAME 255
#define EP_MAX_PACKAGES 50000
#define EP_MAX_PKG_FIELD 256
#define EP_HISTORY 50
#define EP_MAX_DEPTH 32   /* org units on a path from the root */

/* ---------------------------------------------------------------- authorization */

bool endpoint_may(const struct principal *p, enum endpoint_action a, const char *org_path)
{
	bool in_scope;

	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return false;
	if (a == ENDPOINT_SWEEP)
		return principal_has(p, ROLE_ADMIN);
	if (a == ENDPOINT_ALERT_POST)
		return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER);
	if (principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER))
		return true;
	if (a == ENDPOINT_READ && principal_has(p, ROLE_AUDITOR))
		return true;
	if (!principal_has(p, ROLE_SECURITY_MANAGER) || !p->manages_path[0])
		return false;
	in_scope = !org_path || (org_path[0] && org_path_within(org_path, p->manages_path));
	return in_scope;
}

/* ---------------------------------------------------------------- baseline */

static int ep_result(json_t *results, bool *all, const char *id, bool pass, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int ep_result(json_t *results, bool *all, const char *id, bool pass, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!pass)
		*all = false;
	return json_array_append_new(results, json_pack("{s:s, s:b, s:s}", "id", id, "pass", pass,
							"reason", reason)) == 0 ? 0 : -ENOMEM;
}

int endpoint_evaluate(const json_t *report, json_t **ret_results, bool *ret_compliant)
{
	return endpoint_evaluate_policy(report, NULL, ret_results, ret_compliant);
}

int endpoint_evaluate_policy(const json_t *report, const json_t *baseline, json_t **ret_results,
			     bool *ret_compliant)
{
	const json_t *disk_req = json_object_get(baseline, "disk_encryption_root");
	const json_t *fw_req = json_object_get(baseline, "firewall");
	const json_t *days_req = json_object_get(baseline, "antivirus_max_age_days");
	bool want_disk = !json_is_false(disk_req), want_fw = !json_is_false(fw_req);
	json_int_t max_age = json_is_integer(days_req) ? json_integer_value(days_req) * 86400 : ENDPOINT_AV_MAX_AGE_S;
	const json_t *disks, *d, *fw, *av, *age, *ver;
	json_t *results = json_array();
	bool all = true, root_seen = false, root_enc = false, present, active;
	size_t i;
	int r = 0;

	if (!results)
		return -ENOMEM;
	disks = json_object_get(report, "disk_encryption");
	json_array_foreach(disks, i, d) {
		const char *mount = json_string_value(json_object_get(d, "mount"));

		if (mount && strcmp(mount, "/") == 0) {
			root_seen = true;
			root_enc = json_is_true(json_object_get(d, "encrypted"));
		}
	}
	if (!want_disk)
		r = 0;   /* not required by the device's policy */
	else if (!root_seen)
		r = ep_result(results, &all, "disk_encryption_root", false, "no report on the root file system");
	else
		r = ep_result(results, &all, "disk_encryption_root", root_enc,
			      root_enc ? "the root file system is on dm-crypt/LUKS"
				       : "the root file system is not encrypted");

	fw = json_object_get(report, "firewall");
	active = json_is_true(json_object_get(fw, "nftables_active"));
	if (r == 0 && want_fw)
		r = ep_result(results, &all, "firewall_active", active,
			      active ? "an nftables ruleset is loaded" : "no nftables ruleset is loaded");

	av = json_object_get(report, "antivirus");
	present = json_is_true(json_object_get(av, "present"));
	age = json_object_get(av, "signature_age_s");
	if (r == 0 && !present)
		r = ep_result(results, &all, "antivirus_signatures", false, "no antivirus signature database found");
	else if (r == 0 && !json_is_integer(age))
		r = ep_result(results, &all, "antivirus_signatures", false, "antivirus signature age unknown");
	else if (r == 0) {
		json_int_t s = json_integer_value(age);
		bool ok = s <= max_age;

		r = ep_result(results, &all, "antivirus_signatures", ok,
			      "antivirus signatures are %lld days old (limit %lld)", (long long)(s / 86400),
			      (long long)(max_age / 86400));
	}

	ver = json_object_get(report, "agent_version");
	if (r == 0)
		r = ep_result(results, &all, "agent_version",
			      json_is_string(ver) && json_string_length(ver) > 0,
			      json_is_string(ver) && json_string_length(ver) > 0
				      ? "the agent reports its version" : "the agent version is missing");
	if (r < 0) {
		json_decref(results);
		return r;
	}
	*ret_results = results;
	*ret_compliant = all;
	return 0;
}

/* ---------------------------------------------------------------- keys */

static unsigned char *policy_sk;   /* sodium_malloc'd, read-only after load */
static unsigned char policy_pk[crypto_sign_PUBLICKEYBYTES];

const unsigned char *ep_policy_sk(void)
{
	return policy_sk;
}

const unsigned char *ep_policy_pk(void)
{
	return policy_pk;
}

int endpoint_keys_load(const char *data_dir)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	char path[1024];
	int r, n;

	n = snprintf(path, sizeof(path), "%s/policy_sign.key", data_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	r = rcrypto_keyfile_load(path, seed, sizeof(seed));
	if (r < 0)
		return r;
	endpoint_keys_free();
	policy_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!policy_sk) {
		sodium_memzero(seed, sizeof(seed));
		return -ENOMEM;
	}
	crypto_sign_seed_keypair(policy_pk, policy_sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_mprotect_readonly(policy_sk);
	return 0;
}

void endpoint_keys_free(void)
{
	if (policy_sk)
		sodium_free(policy_sk);
	policy_sk = NULL;
}

/* ---------------------------------------------------------------- helpers */

int ep_unit_find(struct store_conn *c, const char *key, struct ep_unit *u)
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT id, path FROM org_units WHERE id = $1 OR path = $1",
			STORE_ARGS(SA_TEXT(key)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		str_copy(u->id, sizeof(u->id), store_col_text(q, 0));
		str_copy(u->path, sizeof(u->path), store_col_text(q, 1));
		r = 0;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

const char *ep_scope(const struct principal *p)
{
	if (principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR))
		return "";
	return p->manages_path;
}

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

#define EP_TOKEN_COLS \
	"SELECT t.id, o.id, o.path, t.uses_left, t.expires_at, t.created_at, t.revoked_at, t.uses_total " \
	"FROM enrollment_tokens t JOIN org_units o ON o.id = t.org_unit_id "

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
	struct ep_unit u;
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
	r = ep_unit_find(c, org, &u);
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

static int h_token_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *cursor;
	int64_t limit, n = 0, now = rtime_now_ms();
	char last[ULID_SIZE] = "";
	struct store_stmt *q = NULL;
	json_t *items;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (http_req_page(req, 50, app->cfg.max_list, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	r = store_query(c, EP_TOKEN_COLS "WHERE ($1 = '' OR t.id < $1) AND " EP_SCOPE_SQL("o.path", 2)
			   " ORDER BY t.id DESC LIMIT $3",
			STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(ep_scope(p)), SA_I64(limit + 1)), &q);
	if (r < 0)
		return r;
	items = json_array();
	while ((r = store_step(q)) == 1) {
		if (n++ == limit)
			break;
		str_copy(last, sizeof(last), store_col_text(q, 0));
		json_array_append_new(items, ep_token_row_json(q, now));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	return http_resp_json(resp, 200, json_pack("{s:o, s:s?}", "items", items, "next",
						   n > limit ? last : NULL));
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
	r = store_query(c, "SELECT o.path FROM enrollment_tokens t JOIN org_units o ON o.id = t.org_unit_id "
			   "WHERE t.id = $1", STORE_ARGS(SA_TEXT(id)), &q);
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

static int h_enroll(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "token", "hostname", "machine_id", "public_key", "org_unit",
					    "owner", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *token, *hostname, *machine_id, *pk_b64, *org = NULL, *owner = NULL;
	unsigned char pk[DEVSIG_PK_BYTES];
	char hash[RCRYPTO_HASH_HEX_SIZE], id[ULID_SIZE], tok_id[ULID_SIZE] = "", owner_id[ULID_SIZE] = "";
	char spk[DEVSIG_PK_B64_SIZE];
	struct ep_unit tu, u;
	struct store_stmt *q = NULL;
	int64_t now = rtime_now_ms();
	json_t *body;
	int r;

	if (!c)
		return ERR_STORE;
	if (!policy_sk)
		return ERR_UNAVAILABLE;
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, &e);
	if (r == 0)
		r = jsonx_get_str(body, "token", true, RCRYPTO_TOKEN_SIZE, &token, &e);
	if (r == 0)
		r = jsonx_get_str(body, "hostname", true, EP_MAX_NAME, &hostname, &e);
	if (r == 0 && !ep_is_name(hostname))
		r = jsonx_fail(&e, "hostname", "hostname must be printable text");
	if (r == 0)
		r = jsonx_get_str(body, "machine_id", true, 64, &machine_id, &e);
	if (r == 0 && !ep_is_name(machine_id))
		r = jsonx_fail(&e, "machine_id", "machine_id must be printable text");
	if (r == 0)
		r = jsonx_get_str(body, "public_key", true, DEVSIG_PK_B64_SIZE, &pk_b64, &e);
	if (r == 0 && devsig_b64_decode(pk_b64, pk, sizeof(pk)) < 0)
		r = jsonx_fail(&e, "public_key", "public_key must be a base64 Ed25519 public key");
	if (r == 0 && (r = jsonx_get_str(body, "org_unit", false, PRINCIPAL_PATH_SIZE - 1, &org, &e)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_str(body, "owner", false, 128, &owner, &e)) == -ENOENT)
		r = 0;
	if (r < 0)
		return http_fail_rerr(resp, &e);

	rcrypto_token_hash(token, hash);
	r = store_begin(c);
	if (r < 0)
		return r;
	/* Consume one use, or learn that the token is not (or no longer) good. */
	r = store_query(c, "UPDATE enrollment_tokens SET uses_left = uses_left - 1 "
			   "WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2 AND revoked_at IS NULL "
			   "RETURNING id, org_unit_id", STORE_ARGS(SA_TEXT(hash), SA_I64(now)), &q);
	if (r == 0) {
		r = store_step(q);
		if (r == 1) {
			str_copy(tok_id, sizeof(tok_id), store_col_text(q, 0));
			str_copy(tu.id, sizeof(tu.id), store_col_text(q, 1));
			r = 0;
		} else if (r == 0) {
			r = ERR_UNAUTHENTICATED;
		}
		store_stmt_free(q);
	}
	if (r < 0) {
		store_rollback(c);
		if (r == ERR_UNAUTHENTICATED) {
			audit_req(req, c, "endpoint.enroll", NULL, NULL, AUDIT_DENIED,
				  json_pack("{s:s}", "hostname", hostname));
			return http_fail(resp, ERR_UNAUTHENTICATED, "token",
					 "the enrollment token is not valid, expired or used up");
		}
		return r;
	}
	r = ep_unit_find(c, tu.id, &tu);
	u = tu;
	if (r == 0 && org) {
		r = ep_unit_find(c, org, &u);
		if (r == ERR_NOT_FOUND || (r == 0 && !org_path_within(u.path, tu.path))) {
			store_rollback(c);
			return http_fail(resp, ERR_INVALID, "org_unit",
					 "org_unit must be the token's unit or a unit below it");
		}
	}
	if (r == 0 && owner) {
		r = store_query(c, "SELECT id FROM people WHERE login = $1 OR id = $1", STORE_ARGS(SA_TEXT(owner)), &q);
		if (r == 0) {
			r = store_step(q);
			if (r == 1)
				str_copy(owner_id, sizeof(owner_id), store_col_text(q, 0));
			store_stmt_free(q);
			if (r == 0) {
				store_rollback(c);
				return http_fail(resp, ERR_INVALID, "owner", "no such person");
			}
			r = r == 1 ? 0 : r;
		}
	}
	ids_ulid(id, now);
	if (r == 0)
		r = store_exec(c, "INSERT INTO devices (id, hostname, machine_id, org_unit_id, owner_id, public_key, "
				  "enrolled_with, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'unknown', $8)",
			       STORE_ARGS(SA_TEXT(id), SA_TEXT(hostname), SA_TEXT(machine_id), SA_TEXT(u.id),
					  SA_TEXT(owner_id[0] ? owner_id : NULL), SA_BLOB(pk, sizeof(pk)),
					  SA_TEXT(tok_id), SA_I64(now)));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.enroll", "device", id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:s, s:s, s:s}", "hostname", hostname, "machine_id", machine_id,
					"org_unit", u.path, "enrollment_token", tok_id));
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	devsig_b64_encode(policy_pk, sizeof(policy_pk), spk, sizeof(spk));
	return http_resp_json(resp, 201, json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "device_id", id,
						   "org_unit", "id", u.id, "path", u.path,
						   "server_public_key", spk, "signature", "ed25519"));
}

/* ---------------------------------------------------------------- signed requests */

int ep_device_check(struct http_req *req, struct store_conn *c, struct ep_device *dev)
{
	const char *did = http_req_header(req, DEVSIG_HDR_DEVICE);
	const char *ts_s = http_req_header(req, DEVSIG_HDR_TIMESTAMP);
	const char *sig = http_req_header(req, DEVSIG_HDR_SIGNATURE);
	unsigned char pk[DEVSIG_PK_BYTES];
	const void *blob;
	size_t blen = 0, body_len = 0;
	const char *body = http_req_body(req, &body_len);
	int64_t ts, now = rtime_now_ms();
	struct store_stmt *q = NULL;
	int r;

	if (!did || !ts_s || !sig || !ids_is_ulid(did) || strlen(sig) >= DEVSIG_SIG_B64_SIZE)
		return ERR_UNAUTHENTICATED;
	if (str_parse_i64(ts_s, 0, INT64_MAX / 2, &ts) < 0 || ts < now - DEVSIG_WINDOW_MS ||
	    ts > now + DEVSIG_WINDOW_MS) {
		log_debug("endpoint: signed request refused", "reason=timestamp device=%s", did);
		return ERR_UNAUTHENTICATED;
	}
	r = store_query(c, "SELECT d.public_key, d.state, o.path FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
			   "WHERE d.id = $1", STORE_ARGS(SA_TEXT(did)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		blob = store_col_blob(q, 0, &blen);
		if (blen == sizeof(pk))
			memcpy(pk, blob, sizeof(pk));
		str_copy(dev->state, sizeof(dev->state), store_col_text(q, 1));
		str_copy(dev->path, sizeof(dev->path), store_col_text(q, 2));
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (r == 0 || blen != sizeof(pk))
		return ERR_UNAUTHENTICATED;
	r = devsig_verify(pk, http_method_name(http_req_method(req)), http_req_path(req), ts, body,
			  body ? body_len : 0, sig);
	if (r < 0) {
		log_debug("endpoint: signed request refused", "reason=signature device=%s", did);
		return ERR_UNAUTHENTICATED;
	}
	rcrypto_sha256_hex(sig, strlen(sig), dev->sig_hash);
	dev->ts = ts;
	str_copy(dev->id, sizeof(dev->id), did);
	return 0;
}

int ep_device_seen(struct store_conn *c, const struct ep_device *dev)
{
	/* Entries older than the window can no longer be replayed: drop them. */
	int r = store_exec(c, "DELETE FROM device_request_seen WHERE device_id = $1 AND ts < $2",
			   STORE_ARGS(SA_TEXT(dev->id), SA_I64(rtime_now_ms() - 2 * DEVSIG_WINDOW_MS)));

	if (r >= 0)
		r = store_exec(c, "INSERT INTO device_request_seen (device_id, sig_hash, ts) VALUES ($1, $2, $3)",
			       STORE_ARGS(SA_TEXT(dev->id), SA_TEXT(dev->sig_hash), SA_I64(dev->ts)));
	if (r == ERR_CONFLICT) {
		log_debug("endpoint: signed request refused", "reason=replay device=%s", dev->id);
		return ERR_UNAUTHENTICATED;
	}
	return r < 0 ? r : 0;
}

int ep_device_refused(struct http_resp *resp, int r)
{
	if (r != ERR_UNAUTHENTICATED)
		return r;
	return http_fail(resp, r, NULL, "the request is not signed by an enrolled device, "
					"or is outside the time window, or was seen before");
}

int ep_device_seen_alone(struct store_conn *c, const struct ep_device *dev)
{
	int r = store_begin(c);

	if (r < 0)
		return r;
	r = ep_device_seen(c, dev);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return store_commit(c);
}

/* ---------------------------------------------------------------- check-in */

static bool ep_pkg_field_ok(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) <= EP_MAX_PKG_FIELD;
}

/* Applies the report's package list (full replaces, delta patches).  Returns the count seen or an error. */
static int ep_packages_apply(struct store_conn *c, const char *device_id, const json_t *pk, struct rerr *e)
{
	const char *mode = json_string_value(json_object_get(pk, "mode"));
	const json_t *items = json_object_get(pk, "items"), *removed = json_object_get(pk, "removed"), *it;
	struct store_stmt *ins = NULL;
	size_t i;
	int r = 0;

	if (!mode || (strcmp(mode, "full") != 0 && strcmp(mode, "delta") != 0))
		return jsonx_fail(e, "packages.mode", "packages.mode must be full or delta");
	if ((items && !json_is_array(items)) || (removed && !json_is_array(removed)) ||
	    json_array_size(items) + json_array_size(removed) > EP_MAX_PACKAGES)
		return jsonx_fail(e, "packages", "packages.items and packages.removed must be arrays of at most %d",
				  EP_MAX_PACKAGES);
	if (strcmp(mode, "full") == 0)
		r = store_exec(c, "DELETE FROM device_packages WHERE device_id = $1", STORE_ARGS(SA_TEXT(device_id)));
	json_array_foreach(removed, i, it) {
		if (r < 0)
			break;
		if (!ep_pkg_field_ok(it))
			return jsonx_fail(e, "packages.removed", "package names must be short strings");
		r = store_exec(c, "DELETE FROM device_packages WHERE device_id = $1 AND name = $2",
			       STORE_ARGS(SA_TEXT(device_id), SA_TEXT(json_string_value(it))));
	}
	if (r >= 0)
		r = store_query(c, "INSERT INTO device_packages (device_id, name, version, source) VALUES ($1, $2, $3, $4) "
				   "ON CONFLICT (device_id, name) DO UPDATE SET version = excluded.version, "
				   "source = excluded.source", STORE_NOARGS, &ins);
	json_array_foreach(items, i, it) {
		const json_t *n = json_object_get(it, "name"), *v = json_object_get(it, "version"),
			     *s = json_object_get(it, "source");

		if (r < 0)
			break;
		if (!ep_pkg_field_ok(n) || !ep_pkg_field_ok(v) || (s && !ep_pkg_field_ok(s))) {
			store_stmt_free(ins);
			return jsonx_fail(e, "packages.items", "each package needs name and version strings");
		}
		r = store_stmt_exec(ins, STORE_ARGS(SA_TEXT(device_id), SA_TEXT(json_string_value(n)),
						    SA_TEXT(json_string_value(v)),
						    SA_TEXT(s ? json_string_value(s) : "")));
	}
	store_stmt_free(ins);
	return r < 0 ? r : 0;
}

static int h_checkin(struct http_req *req, struct http_resp *resp)
{
	static const char *const report_keys[] = {
		"agent_version", "policy_version", "os", "kernel", "uptime_s", "machine_id", "hostname",
		"packages", "disk_encryption", "firewall", "antivirus", "usb_storage", "errors", "addresses", NULL,
	};
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct ep_device dev = { "", "", "" };
	json_t *eff = NULL, *signed_pol = NULL, *qorder = NULL, *out;
	int64_t pol_version = 0, pol_issued = 0, grace_ms = 0;
	struct quarantine_state qs;
	json_t *body, *report = NULL, *results = NULL, *pk;
	char rid[ULID_SIZE], *rtext = NULL, *restext = NULL;
	int64_t now = rtime_now_ms(), npkg = 0;
	const char *state;
	bool compliant = false;
	int r;

	if (!c)
		return ERR_STORE;
	/*
	 * The signature is checked first; its replay entry is written in the
	 * same transaction as the report (one commit), and stays even when the
	 * report is refused.
	 */
	r = ep_device_check(req, c, &dev);
	if (r < 0)
		return ep_device_refused(resp, r);
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, report_keys, &e);
	if (r < 0) {
		r = ep_device_seen_alone(c, &dev);
		return r < 0 ? ep_device_refused(resp, r) : http_fail_rerr(resp, &e);
	}
	pk = json_object_get(body, "packages");
	/* A shallow copy: only its package list is replaced (by counts), never changed inside. */
	report = json_copy(body);
	if (!report)
		return -ENOMEM;
	if (pk) {
		npkg = (int64_t)json_array_size(json_object_get(pk, "items"));
		json_object_set_new(report, "packages",
				    json_pack("{s:O?, s:I, s:I}", "mode", json_object_get(pk, "mode"),
					      "items", (json_int_t)npkg, "removed",
					      (json_int_t)json_array_size(json_object_get(pk, "removed"))));
	}
	r = ep_policy_effective(c, dev.path, &eff, &pol_version, &pol_issued, NULL);
	if (r == 0)
		r = endpoint_evaluate_policy(report, pol_version ? json_object_get(eff, "baseline") : NULL, &results,
					     &compliant);
	/* Without any policy on its path the device is held to the default baseline, unsigned. */
	if (r == 0 && pol_version)
		r = policy_sign(dev.path, pol_version, pol_issued, eff, policy_sk, &signed_pol);
	if (r == 0 && policy_grace_ms(eff, &grace_ms) < 0)
		r = ERR_INTERNAL;   /* policy_merge always sets it */
	json_decref(eff);
	if (r < 0) {
		json_decref(report);
		json_decref(results);
		json_decref(signed_pol);
		if (ep_device_seen_alone(c, &dev) == ERR_UNAUTHENTICATED)
			return ep_device_refused(resp, ERR_UNAUTHENTICATED);
		return r;
	}
	state = compliant ? "compliant" : "non_compliant";
	rtext = json_dumps(report, JSON_COMPACT);
	restext = json_dumps(results, JSON_COMPACT);
	ids_ulid(rid, now);
	r = rtext && restext ? store_begin(c) : -ENOMEM;
	if (r == 0)
		r = ep_device_seen(c, &dev);
	/* The report's changes, taken back alone if it is refused. */
	if (r == 0 && (r = store_exec(c, "SAVEPOINT report", STORE_NOARGS)) > 0)
		r = 0;
	if (r == 0 && pk)
		r = ep_packages_apply(c, dev.id, pk, &e);
	if (r == 0)
		r = store_exec(c, "INSERT INTO device_reports (id, device_id, received_at, report, results, state) "
				  "VALUES ($1, $2, $3, $4, $5, $6)",
			       STORE_ARGS(SA_TEXT(rid), SA_TEXT(dev.id), SA_I64(now), SA_TEXT(rtext),
					  SA_TEXT(restext), SA_TEXT(state)));
	if (r >= 0)
		r = store_exec(c, "UPDATE devices SET last_report_id = $2, last_seen_at = $3 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(dev.id), SA_TEXT(rid), SA_I64(now)));
	/* State, grace clock and quarantine (audited there), and the addresses alerts are matched against. */
	if (r >= 0)
		r = quarantine_addresses_set(c, dev.id, json_object_get(body, "addresses"), http_req_remote(req), now, &e);
	if (r >= 0)
		r = quarantine_checkin(c, req, dev.id, compliant, results, grace_ms, now, &qs);
	if (r >= 0)
		r = quarantine_order(dev.id, &qs, now, &qorder);
	if (r == ERR_INVALID) {
		/* Refused: only the replay entry is kept. */
		int r2 = store_exec(c, "ROLLBACK TO SAVEPOINT report", STORE_NOARGS);

		if (r2 >= 0)
			r2 = store_commit(c);
		if (r2 < 0)
			r = r2;
	} else if (r >= 0) {
		r = store_commit(c);
	}
	free(rtext);
	free(restext);
	json_decref(report);
	if (r < 0) {
		if (store_in_transaction(c))
			store_rollback(c);
		json_decref(results);
		json_decref(signed_pol);
		json_decref(qorder);
		if (r == ERR_INVALID)
			return http_fail_rerr(resp, &e);
		return ep_device_refused(resp, r);
	}
	out = json_pack("{s:s, s:s, s:o, s:I, s:o}", "device_id", dev.id, "state", qs.state, "results", results,
			"policy_version", (json_int_t)pol_version, "quarantine", qorder);
	if (out && signed_pol)
		json_object_set(out, "policy", signed_pol);
	json_decref(signed_pol);
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- devices API */

static const char ep_device_cols[] =
	"SELECT d.id, d.hostname, d.machine_id, o.id, o.path, d.owner_id, p.login, d.state, d.last_seen_at, "
	"d.created_at, d.last_report_id FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
	"LEFT JOIN people p ON p.id = d.owner_id ";

static json_t *ep_device_row_json(struct store_stmt *q)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s}",
			      "id", store_col_text(q, 0), "hostname", store_col_text(q, 1),
			      "machine_id", store_col_text(q, 2),
			      "org_unit", "id", store_col_text(q, 3), "path", store_col_text(q, 4),
			      "state", store_col_text(q, 7));

	if (!o)
		return NULL;
	if (store_col_is_null(q, 5))
		json_object_set_new(o, "owner", json_null());
	else
		json_object_set_new(o, "owner", json_pack("{s:s, s:s?}", "id", store_col_text(q, 5),
							  "login", store_col_text(q, 6)));
	jsonx_set_time(o, "last_seen_at", store_col_is_null(q, 8) ? 0 : store_col_i64(q, 8));
	jsonx_set_time(o, "created_at", store_col_i64(q, 9));
	return o;
}

static int h_device_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *cursor, *state = http_req_query(req, "state");
	int64_t limit, n = 0;
	char last[ULID_SIZE] = "";
	struct store_stmt *q = NULL;
	struct buf sql;
	json_t *items;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (http_req_page(req, 50, app->cfg.max_list, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	if (state && strcmp(state, "compliant") != 0 && strcmp(state, "non_compliant") != 0 &&
	    strcmp(state, "unknown") != 0 && strcmp(state, "quarantined") != 0)
		return http_fail(resp, ERR_INVALID, "state",
				 "state must be compliant, non_compliant, unknown or quarantined");
	buf_init(&sql, 4096);
	buf_puts(&sql, ep_device_cols);
	buf_puts(&sql, "WHERE ($1 = '' OR d.id > $1) AND " EP_SCOPE_SQL("o.path", 2)
		       " AND ($3 = '' OR d.state = $3) ORDER BY d.id LIMIT $4");
	r = sql.data ? store_query(c, sql.data, STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(ep_scope(p)),
							    SA_TEXT(state ? state : ""), SA_I64(limit + 1)), &q)
		     : -ENOMEM;
	buf_done(&sql);
	if (r < 0)
		return r;
	items = json_array();
	while ((r = store_step(q)) == 1) {
		if (n++ == limit)
			break;
		str_copy(last, sizeof(last), store_col_text(q, 0));
		json_array_append_new(items, ep_device_row_json(q));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	return http_resp_json(resp, 200, json_pack("{s:o, s:s?}", "items", items, "next",
						   n > limit ? last : NULL));
}

#define EP_SUMMARY_UNITS 12

/* Adds @n to obj[@key] (an integer member). */
static void ep_count_add(json_t *obj, const char *key, json_int_t n)
{
	json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + n));
}

static json_t *ep_state_counts(void)
{
	return json_pack("{s:i, s:i, s:i, s:i}", "compliant", 0, "non_compliant", 0, "unknown", 0, "quarantined", 0);
}

static int ep_unit_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t nx = json_integer_value(json_object_get(x, "total")), ny = json_integer_value(json_object_get(y, "total"));

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "org_unit")), json_string_value(json_object_get(y, "org_unit")));
}

static int ep_fail_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t nx = json_integer_value(json_object_get(x, "devices")), ny = json_integer_value(json_object_get(y, "devices"));

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

/* A new array of the object's members {@name: key, ...value} sorted with @cmp, at most @max (0: all). */
static json_t *ep_sorted(json_t *obj, const char *name, int (*cmp)(const void *, const void *), size_t max)
{
	size_t n = json_object_size(obj), i = 0;
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array(), *val;
	const char *key;

	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(obj, key, val) {
		v[i] = json_copy(val);
		if (v[i])
			json_object_set_new(v[i], name, json_string(key));
		i++;
	}
	for (i = 0; i < n; i++)
		if (!v[i])
			break;
	if (i == n)
		qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++) {
		if (v[i] && (!max || json_array_size(out) < max))
			json_array_append(out, v[i]);
		json_decref(v[i]);
	}
	free(v);
	return out;
}

#define EP_TREND_DAYS 14
#define EP_TREND_MAX_DAYS 90
#define EP_DAY_MS ((int64_t)24 * 3600 * 1000)

static const char *const ep_state_names[] = { "compliant", "non_compliant", "unknown", "quarantined" };

static int ep_state_index(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, ep_state_names[i]) == 0)
			return i;
	return -1;
}

struct ep_change {
	size_t device;
	int64_t ts;
	int from;
};

/*
 * The devices of @scope per state at the end of each of the last @days UTC
 * days (today up to @now): from the states now, each audited change
 * (endpoint.device.state and .quarantine {from}, .release: from
 * quarantined) is undone going back in time; a device counts from its
 * enrollment on.  Sets *ret to [{day, compliant, non_compliant, unknown,
 * quarantined}], oldest first.
 */
static int ep_trend(struct store_conn *c, const char *scope, int days, int64_t now, json_t **ret)
{
	int64_t start = now - now % EP_DAY_MS - (int64_t)(days - 1) * EP_DAY_MS;
	json_t *index = json_object(), *out = json_array();
	struct ep_change *ch = NULL;
	int *state = NULL;
	int64_t *enrolled = NULL;
	size_t n = 0, cap = 0, nch = 0, chcap = 0, k = 0;
	struct store_stmt *q = NULL;
	int r = index && out ? 0 : -ENOMEM;

	if (r == 0)
		r = store_query(c, "SELECT d.id, d.state, d.created_at FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
				   "WHERE " EP_SCOPE_SQL("o.path", 1), STORE_ARGS(SA_TEXT(scope)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			int *ns = realloc(state, nc * sizeof(*ns));
			int64_t *ne = ns ? realloc(enrolled, nc * sizeof(*ne)) : NULL;

			if (ns)
				state = ns;
			if (!ne) {
				r = -ENOMEM;
				break;
			}
			enrolled = ne;
			cap = nc;
		}
		state[n] = ep_state_index(store_col_text(q, 1));
		enrolled[n] = store_col_i64(q, 2);
		r = json_object_set_new(index, store_col_text(q, 0), json_integer((json_int_t)n)) < 0 ? -ENOMEM : 0;
		n++;
	}
	store_stmt_free(q);
	q = NULL;
	if (r == 0)
		r = store_query(c, "SELECT object_id, ts, action, details FROM audit_log "
				   "WHERE action IN ('endpoint.device.state', 'endpoint.device.quarantine', "
				   "'endpoint.device.release') AND outcome = 'success' AND ts >= $1 ORDER BY ts DESC, id DESC",
				STORE_ARGS(SA_I64(start)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const json_t *at = store_col_text(q, 0) ? json_object_get(index, store_col_text(q, 0)) : NULL;
		const char *action = store_col_text(q, 2), *text = store_col_text(q, 3);
		json_t *det;
		int from = 3;   /* a release: from quarantined */

		r = 0;
		if (!at)
			continue;   /* another scope's device, or one that is gone */
		if (strcmp(action, "endpoint.device.release") != 0) {
			det = text ? json_loads(text, 0, NULL) : NULL;
			from = ep_state_index(json_string_value(json_object_get(det, "from")));
			json_decref(det);
			if (from < 0)
				continue;
		}
		if (nch == chcap) {
			size_t nc = chcap ? chcap * 2 : 256;
			struct ep_change *nn = realloc(ch, nc * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			ch = nn;
			chcap = nc;
		}
		ch[nch++] = (struct ep_change){ (size_t)json_integer_value(at), store_col_i64(q, 1), from };
	}
	store_stmt_free(q);
	for (int i = days - 1; r == 0 && i >= 0; i--) {
		int64_t end = start + (int64_t)(i + 1) * EP_DAY_MS, cnt[4] = { 0, 0, 0, 0 };
		char day[16];
		time_t t = (time_t)((start + (int64_t)i * EP_DAY_MS) / 1000);
		struct tm tm;
		json_t *row;

		if (end > now)
			end = now;
		for (; k < nch && ch[k].ts > end; k++)
			state[ch[k].device] = ch[k].from;
		for (size_t d = 0; d < n; d++)
			if (enrolled[d] <= end && state[d] >= 0)
				cnt[state[d]]++;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		row = json_pack("{s:s, s:I, s:I, s:I, s:I}", "day", day, "compliant", (json_int_t)cnt[0], "non_compliant",
				(json_int_t)cnt[1], "unknown", (json_int_t)cnt[2], "quarantined", (json_int_t)cnt[3]);
		if (!row || json_array_insert_new(out, 0, row) < 0)
			r = -ENOMEM;
	}
	free(ch);
	free(state);
	free(enrolled);
	json_decref(index);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/*
 * GET /api/v1/endpoint/summary[?days=N]: the devices in the caller's scope
 * counted by state, the org units with the most devices (by state), how
 * many devices fail each baseline requirement in their latest report, and
 * the trend by state over the last N days (ep_trend).  Counted
 * by the database, so it holds for any fleet size (the device list pages).
 */
static int h_device_summary(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	json_t *by_state = ep_state_counts(), *units = json_object(), *fails = json_object(), *out = NULL;
	struct store_stmt *q = NULL;
	json_int_t total = 0;
	int64_t days = EP_TREND_DAYS;
	const char *days_s;
	json_t *trend = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL)) {
		r = ERR_FORBIDDEN;
		goto done;
	}
	days_s = http_req_query(req, "days");
	if (days_s && str_parse_i64(days_s, 1, EP_TREND_MAX_DAYS, &days) < 0) {
		r = http_fail(resp, ERR_INVALID, "days", "days must be a whole number from 1 to %d", EP_TREND_MAX_DAYS);
		goto done;
	}
	r = c ? 0 : ERR_STORE;
	if (r == 0 && (!by_state || !units || !fails))
		r = -ENOMEM;
	if (r == 0)
		r = store_query(c, "SELECT o.path, d.state, count(*) FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
				   "WHERE " EP_SCOPE_SQL("o.path", 1) " GROUP BY o.path, d.state",
				STORE_ARGS(SA_TEXT(ep_scope(p))), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *path = store_col_text(q, 0), *state = store_col_text(q, 1);
		json_int_t n = store_col_i64(q, 2);
		json_t *u = json_object_get(units, path);

		if (!u) {
			u = ep_state_counts();
			if (!u || json_object_set_new(units, path, json_pack("{s:o, s:i}", "states", u, "total", 0)) < 0) {
				r = -ENOMEM;
				break;
			}
			u = json_object_get(units, path);
		}
		ep_count_add(json_object_get(u, "states"), state, n);
		ep_count_add(u, "total", n);
		ep_count_add(by_state, state, n);
		total += n;
		r = 0;
	}
	store_stmt_free(q);
	q = NULL;
	if (r == 0)
		r = store_query(c, "SELECT r.results FROM devices d JOIN org_units o ON o.id = d.org_unit_id "
				   "JOIN device_reports r ON r.id = d.last_report_id WHERE " EP_SCOPE_SQL("o.path", 1),
				STORE_ARGS(SA_TEXT(ep_scope(p))), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *text = store_col_text(q, 0);
		json_t *res = text ? json_loads(text, 0, NULL) : NULL, *it;
		size_t i;

		json_array_foreach(res, i, it) {
			const char *id = json_string_value(json_object_get(it, "id"));
			json_t *f;

			if (!id || json_is_true(json_object_get(it, "pass")))
				continue;
			f = json_object_get(fails, id);
			if (!f) {
				json_object_set_new(fails, id, json_pack("{s:i}", "devices", 0));
				f = json_object_get(fails, id);
			}
			if (f)
				ep_count_add(f, "devices", 1);
		}
		json_decref(res);
		r = 0;
	}
	store_stmt_free(q);
	if (r == 0)
		r = ep_trend(c, ep_scope(p), (int)days, rtime_now_ms(), &trend);
	if (r == 0) {
		json_t *top = ep_sorted(units, "org_unit", ep_unit_cmp, EP_SUMMARY_UNITS);
		json_t *failing = ep_sorted(fails, "id", ep_fail_cmp, 0);

		if (!top || !failing) {
			json_decref(top);
			json_decref(failing);
		} else {
			/* "o" values are stolen, on failure too. */
			out = json_pack("{s:I, s:O, s:o, s:I, s:o, s:O}", "total", (json_int_t)total, "by_state", by_state,
					"by_unit", top, "units", (json_int_t)json_object_size(units), "failing", failing,
					"trend", trend);
		}
		if (!out)
			r = -ENOMEM;
	}
done:
	json_decref(by_state);
	json_decref(units);
	json_decref(fails);
	json_decref(trend);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, out);
}

/* Parses stored JSON text; a broken row shows as null rather than failing the page. */
static json_t *ep_json_col(struct store_stmt *q, int col)
{
	const char *t = store_col_text(q, col);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static int h_device_show(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	const char *id = http_req_param(req, "id");
	char path[PRINCIPAL_PATH_SIZE] = "", report_id[ULID_SIZE] = "";
	struct store_stmt *q = NULL;
	json_t *out = NULL, *history;
	int64_t npkg = 0;
	struct buf sql;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	buf_init(&sql, 4096);
	buf_puts(&sql, ep_device_cols);
	buf_puts(&sql, "WHERE d.id = $1");
	r = sql.data ? store_query(c, sql.data, STORE_ARGS(SA_TEXT(id)), &q) : -ENOMEM;
	buf_done(&sql);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		str_copy(path, sizeof(path), store_col_text(q, 4));
		if (!store_col_is_null(q, 10))
			str_copy(report_id, sizeof(report_id), store_col_text(q, 10));
		out = ep_device_row_json(q);
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (r == 0 || !endpoint_may(p, ENDPOINT_READ, path)) {
		json_decref(out);
		if (r == 1)
			audit_req(req, c, "endpoint.device.read", "device", id, AUDIT_DENIED, NULL);
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such device");
	}
	if (!out)
		return -ENOMEM;
	json_object_set_new(out, "report", json_null());
	json_object_set_new(out, "results", json_array());
	if (report_id[0]) {
		r = store_query(c, "SELECT report, results FROM device_reports WHERE id = $1",
				STORE_ARGS(SA_TEXT(report_id)), &q);
		if (r == 0 && store_step(q) == 1) {
			json_object_set_new(out, "report", ep_json_col(q, 0));
			json_object_set_new(out, "results", ep_json_col(q, 1));
		}
		store_stmt_free(q);
	}
	history = json_array();
	r = store_query(c, "SELECT id, received_at, state, results FROM device_reports WHERE device_id = $1 "
			   "ORDER BY received_at DESC, id DESC LIMIT $2", STORE_ARGS(SA_TEXT(id), SA_I64(EP_HISTORY)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		json_t *h = json_pack("{s:s, s:s, s:o}", "id", store_col_text(q, 0), "state", store_col_text(q, 2),
				      "results", ep_json_col(q, 3));

		if (h)
			jsonx_set_time(h, "received_at", store_col_i64(q, 1));
		json_array_append_new(history, h);
		r = 0;
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(out);
		json_decref(history);
		return r;
	}
	json_object_set_new(out, "history", history);
	r = quarantine_device_json(c, id, out);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	if (store_query_i64(c, "SELECT count(*) FROM device_packages WHERE device_id = $1",
			    STORE_ARGS(SA_TEXT(id)), &npkg) == 0)
		json_object_set_new(out, "package_count", json_integer(npkg));
	return http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- policies */

/* See endpoint_internal.h. */
int ep_policy_effective(struct store_conn *c, const char *path, json_t **ret_policy, int64_t *ret_version,
			       int64_t *ret_issued, json_t **ret_sources)
{
	json_t *chain[EP_MAX_DEPTH], *sources = json_array(), *eff = NULL;
	int64_t version = 0, issued = 0;
	struct store_stmt *q = NULL;
	size_t n = 0, i;
	int r;

	if (!sources)
		return -ENOMEM;
	r = store_query(c, "SELECT o.path, p.version, p.policy, p.created_at FROM endpoint_policies p "
			   "JOIN org_units o ON o.id = p.org_unit_id "
			   "WHERE (o.path = $1 OR substr($1, 1, length(o.path) + 1) = o.path || '/') "
			   "AND p.version = (SELECT max(x.version) FROM endpoint_policies x WHERE x.org_unit_id = p.org_unit_id) "
			   "ORDER BY length(o.path)", STORE_ARGS(SA_TEXT(path)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *text = store_col_text(q, 2);
		json_t *v = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
		struct policy_err pe = { "" };

		r = n < EP_MAX_DEPTH && v ? policy_check(v, &chain[n], &pe) : ERR_INTERNAL;
		json_decref(v);
		if (r < 0) {
			log_error("endpoint: stored policy refused", "org_unit=\"%s\" error=\"%s\"", store_col_text(q, 0),
				  pe.message);
			r = ERR_INTERNAL;
			break;
		}
		n++;
		version += store_col_i64(q, 1);
		if (store_col_i64(q, 3) > issued)
			issued = store_col_i64(q, 3);
		json_array_append_new(sources, json_pack("{s:s, s:I}", "org_unit", store_col_text(q, 0),
							 "version", (json_int_t)store_col_i64(q, 1)));
		r = 0;
	}
	store_stmt_free(q);
	if (r == 0)
		r = policy_merge((const json_t *const *)chain, n, &eff);
	for (i = 0; i < n; i++)
		json_decref(chain[i]);
	if (r < 0) {
		json_decref(sources);
		return r;
	}
	*ret_policy = eff;
	*ret_version = version;
	*ret_issued = issued;
	if (ret_sources)
		*ret_sources = sources;
	else
		json_decref(sources);
	return 0;
}

/* The unit's own current policy {version, policy, created_at} or null. */
static int ep_policy_own(struct store_conn *c, const char *unit_id, json_t **ret)
{
	struct store_stmt *q = NULL;
	json_t *o = json_null();
	int r;

	r = store_query(c, "SELECT version, policy, created_at FROM endpoint_policies WHERE org_unit_id = $1 "
			   "ORDER BY version DESC LIMIT 1", STORE_ARGS(SA_TEXT(unit_id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		o = json_pack("{s:I, s:o}", "version", (json_int_t)store_col_i64(q, 0), "policy", ep_json_col(q, 1));
		if (o)
			jsonx_set_time(o, "updated_at", store_col_i64(q, 2));
		r = o ? 0 : -ENOMEM;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

static int ep_policy_answer(struct store_conn *c, const struct ep_unit *u, json_t **ret)
{
	json_t *own = NULL, *eff = NULL, *sources = NULL;
	int64_t version = 0, issued = 0;
	int r;

	r = ep_policy_own(c, u->id, &own);
	if (r == 0)
		r = ep_policy_effective(c, u->path, &eff, &version, &issued, &sources);
	if (r < 0) {
		json_decref(own);
		return r;
	}
	*ret = json_pack("{s:{s:s, s:s}, s:o, s:{s:I, s:o, s:o}}", "org_unit", "id", u->id, "path", u->path,
			 "own", own, "effective", "version", (json_int_t)version, "policy", eff, "sources", sources);
	return *ret ? 0 : -ENOMEM;
}

/* GET /api/v1/endpoint/policies/{id}: the unit's own policy and its effective one. */
static int h_policy_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct ep_unit u;
	json_t *out = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = ep_unit_find(c, http_req_param(req, "id"), &u);
	if (r == 0 && !endpoint_may(p, ENDPOINT_READ, u.path))
		r = ERR_NOT_FOUND;
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such org unit");
	if (r == 0)
		r = ep_policy_answer(c, &u, &out);
	return r < 0 ? r : http_resp_json(resp, 200, out);
}

/* PUT /api/v1/endpoint/policies/{id}: a new version of the unit's policy. */
static int h_policy_put(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	struct policy_err pe = { "" };
	size_t body_len = 0;
	int64_t version = 0, now = rtime_now_ms();
	struct ep_unit u;
	json_t *body, *pol = NULL, *out = NULL;
	char *text = NULL;
	int r;

	if (!endpoint_may(p, ENDPOINT_POLICY_SET, NULL)) {
		audit_req(req, c, "endpoint.policy.set", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	http_req_body(req, &body_len);
	if (body_len > POLICY_MAX_BYTES)
		return http_fail(resp, ERR_INVALID, NULL, "a policy is at most 64 KiB");
	r = http_req_json(req, &body, &e);
	if (r < 0)
		return http_fail_rerr(resp, &e);
	r = ep_unit_find(c, http_req_param(req, "id"), &u);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, NULL, "no such org unit");
	if (r < 0)
		return r;
	if (!endpoint_may(p, ENDPOINT_POLICY_SET, u.path)) {
		audit_req(req, c, "endpoint.policy.set", "org_unit", u.id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	r = policy_check(body, &pol, &pe);
	if (r == ERR_INVALID)
		return http_fail(resp, ERR_INVALID, NULL, "%s", pe.message);
	if (r < 0)
		return r;
	text = json_dumps(pol, JSON_COMPACT | JSON_SORT_KEYS);
	r = text ? store_begin(c) : -ENOMEM;
	if (r == 0)
		r = store_query_i64(c, "SELECT coalesce(max(version), 0) + 1 FROM endpoint_policies WHERE org_unit_id = $1",
				    STORE_ARGS(SA_TEXT(u.id)), &version);
	/* A concurrent change of the same unit takes the same version and loses on the primary key. */
	if (r >= 0)
		r = store_exec(c, "INSERT INTO endpoint_policies (org_unit_id, version, policy, created_by, created_at) "
				  "VALUES ($1, $2, $3, $4, $5)",
			       STORE_ARGS(SA_TEXT(u.id), SA_I64(version), SA_TEXT(text), SA_TEXT(p->person_id),
					  SA_I64(now)));
	if (r >= 0)
		r = audit_req(req, c, "endpoint.policy.set", "org_unit", u.id, AUDIT_SUCCESS,
			      json_pack("{s:s, s:I, s:O}", "path", u.path, "version", (json_int_t)version,
					"policy", pol));
	if (r >= 0)
		r = store_commit(c);
	free(text);
	json_decref(pol);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	r = ep_policy_answer(c, &u, &out);
	return r < 0 ? r : http_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- missed check-ins */

int endpoint_sweep(struct store_conn *c, int64_t now_ms)
{
	int64_t cutoff = now_ms - (int64_t)ENDPOINT_MISSED_CHECKINS * ENDPOINT_CHECKIN_INTERVAL_S * 1000;
	char ids[64][ULID_SIZE], states[64][16];
	struct store_stmt *q = NULL;
	int r, n = 0, changed = 0, batch, i;

	/* In batches, so that one transaction stays short whatever the fleet's size. */
	do {
		r = store_query(c, "SELECT id, state FROM devices WHERE state NOT IN ('unknown', 'quarantined') AND "
				   "coalesce(last_seen_at, created_at) < $1 ORDER BY id LIMIT 64",
				STORE_ARGS(SA_I64(cutoff)), &q);
		if (r < 0)
			return r;
		n = 0;
		while ((r = store_step(q)) == 1 && n < 64) {
			str_copy(ids[n], sizeof(ids[n]), store_col_text(q, 0));
			str_copy(states[n], sizeof(states[n]), store_col_text(q, 1));
			n++;
		}
		store_stmt_free(q);
		if (r < 0)
			return r;
		batch = changed;
		for (i = 0; i < n; i++) {
			struct audit_entry ae = {
				.source = "system", .action = "endpoint.device.state", .object_type = "device",
				.object_id = ids[i], .outcome = AUDIT_SUCCESS,
			};
			json_t *d;

			r = store_begin(c);
			if (r < 0)
				return r;
			/* Conditional: a check-in or another server may have changed it meanwhile. */
			r = store_exec(c, "UPDATE devices SET state = 'unknown' WHERE id = $1 AND state = $2 AND "
					  "state <> 'quarantined' AND "
					  "coalesce(last_seen_at, created_at) < $3",
				       STORE_ARGS(SA_TEXT(ids[i]), SA_TEXT(states[i]), SA_I64(cutoff)));
			if (r == 1) {
				d = json_pack("{s:s, s:s, s:s}", "from", states[i], "to", "unknown", "reason",
					      "missed check-ins");
				ae.details = d;
				r = audit_append(c, &ae);
				json_decref(d);
				if (r == 0)
					changed++;
			}
			if (r >= 0)
				r = store_commit(c);
			if (r < 0) {
				store_rollback(c);
				return r;
			}
		}
	} while (n == 64 && changed > batch);   /* a batch others changed entirely is not retried */
	return changed;
}

static struct ticker *ep_ticker;

static void ep_sweep_tick(void *arg)
{
	struct app *app = arg;
	struct store_conn *c = store_conn(app->store);
	int r = c ? endpoint_sweep(c, rtime_now_ms()) : ERR_STORE;

	if (r < 0)
		log_warn("endpoint: sweep failed", "error=\"%s\"", err_str(r));
	r = c ? quarantine_sweep(c, rtime_now_ms()) : ERR_STORE;
	if (r < 0)
		log_warn("endpoint: quarantine sweep failed", "error=\"%s\"", err_str(r));
	r = c ? oplog_sweep_due(c, rtime_now_ms()) : ERR_STORE;
	if (r < 0)
		log_warn("endpoint: retention sweep failed", "error=\"%s\"", err_str(r));
}

int endpoint_sweeper_start(struct app *app, unsigned interval_s)
{
	return ticker_start(interval_s ? interval_s : 60, ep_sweep_tick, app, &ep_ticker);
}

void endpoint_sweeper_stop(void)
{
	ticker_stop(ep_ticker);
	ep_ticker = NULL;
}

static int h_sweep(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct oplog_sweep_result ret;
	int r, changed, quarantined;

	if (!endpoint_may(http_req_principal(req), ENDPOINT_SWEEP, NULL)) {
		audit_req(req, c, "endpoint.sweep", NULL, NULL, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	if (!c)
		return ERR_STORE;
	r = endpoint_sweep(c, rtime_now_ms());
	if (r < 0)
		return r;
	changed = r;
	r = quarantine_sweep(c, rtime_now_ms());
	if (r < 0)
		return r;
	quarantined = r;
	r = oplog_sweep(c, rtime_now_ms(), &ret);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, json_pack("{s:i, s:i, s:I, s:I}", "changed", changed, "quarantined",
						   quarantined, "events_removed", (json_int_t)ret.events,
						   "reports_removed", (json_int_t)ret.reports));
}

/* ---------------------------------------------------------------- routes */

int endpoint_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/enrollment-tokens", h_token_create, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/enrollment-tokens", h_token_list, 0);
	r = r ? r : http_route(s, HTTP_DELETE, "/api/v1/endpoint/enrollment-tokens/{id}", h_token_delete, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/enroll", h_enroll, HTTP_AUTH_NONE);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/checkin", h_checkin, HTTP_AUTH_DEVICE);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/endpoint/sweep", h_sweep, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/policies/{id}", h_policy_get, 0);
	r = r ? r : http_route(s, HTTP_PUT, "/api/v1/endpoint/policies/{id}", h_policy_put, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/devices", h_device_list, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/endpoint/summary", h_device_summary, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/devices/{id}", h_device_show, 0);
	r = r ? r : quarantine_routes(s);
	r = r ? r : oplog_routes(s);
	return r;
}
