/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_common: the endpoint platform's shared helpers (see ep_common.h), and
 * endpoint_may and the policy-signing key of endpoint.h.
 *
 * Invariants:
 *   - a device request is accepted only after its signature checks, its
 *     timestamp is within DEVSIG_WINDOW_MS and (device, SHA-256 of the
 *     signature) was inserted into device_request_seen, in the transaction
 *     that stores what the request carries (ep_device_seen), or alone when
 *     the request is refused (ep_device_seen_alone);
 *   - the policy key's secret lives in sodium_malloc'd memory, read-only
 *     after loading, and reaches no log line.
 */
#include "endpoint/ep_common.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "crypto/rcrypto.h"
#include "endpoint/endpoint.h"
#include "formats/devsig.h"
#include "formats/policy.h"
#include "http/http.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "store/store.h"

/* Org units on a path from the root. */
#define EP_MAX_DEPTH 32

/* ---------------------------------------------------------------- authorization */

bool endpoint_may(const struct principal *p, enum endpoint_action a, const char *org_path)
{
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
	return !org_path || scope_path_within(org_path, p->manages_path);
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

/* ---------------------------------------------------------------- org units and scope */

int ep_device_path(struct store_conn *c, const char *device_id, char ret_path[PRINCIPAL_PATH_SIZE])
{
	struct store_stmt *q = NULL;
	int r;

	r = store_query(c, "SELECT o.path FROM devices d" PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id") " WHERE d.id = $1",
			STORE_ARGS(SA_TEXT(device_id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		str_copy(ret_path, PRINCIPAL_PATH_SIZE, store_col_text(q, 0));
		r = 0;
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

int ep_scope_where(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap, const struct principal *p,
		   const char *path_col)
{
	/* endpoint_may's rule for lists: the whole fleet, or a security manager's subtree. */
	return scope_sql_where(sql, args, nargs, cap, p, SCOPE_SUBTREE, path_col, NULL);
}

int ep_query_scoped(struct store_conn *c, const struct principal *p, const char *head, const char *path_col,
		    const char *tail, const struct store_arg *args, size_t nargs, struct store_stmt **ret)
{
	struct store_arg all[EP_QUERY_ARGS + 1];
	struct buf sql;
	int r;

	if (nargs > EP_QUERY_ARGS)
		return ERR_TOO_LARGE;
	if (nargs)
		memcpy(all, args, nargs * sizeof(*args));
	buf_init(&sql, 4096);
	r = buf_puts(&sql, head) < 0 ? -ENOMEM : 0;
	if (r == 0)
		r = ep_scope_where(&sql, all, &nargs, EP_QUERY_ARGS + 1, p, path_col);
	if (r == 0)
		r = buf_puts(&sql, tail) < 0 ? -ENOMEM : 0;
	if (r == 0)
		r = store_query(c, sql.data, all, nargs, ret);
	buf_done(&sql);
	return r;
}

int ep_list_page(struct http_req *req, struct http_resp *resp, int64_t def, int64_t *ret_limit,
		 const char **ret_cursor)
{
	struct app *app = http_req_app(req);
	struct rerr e = { "", "" };

	if (!endpoint_may(http_req_principal(req), ENDPOINT_READ, NULL))
		return ERR_FORBIDDEN;
	if (!store_conn(app->store))
		return ERR_STORE;
	if (http_req_page(req, def, app->cfg.max_list, ret_limit, ret_cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (*ret_cursor && !ids_is_ulid(*ret_cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	return 0;
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
	r = store_query(c, "SELECT d.public_key, d.state, o.path FROM devices d" PEOPLE_SQL_UNIT_JOIN("o", "d.org_unit_id")
			   " WHERE d.id = $1", STORE_ARGS(SA_TEXT(did)), &q);
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

/* ---------------------------------------------------------------- policies */

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
	/* The units on the path from the root: those @path lies within. */
	r = store_query(c, "SELECT o.path, p.version, p.policy, p.created_at FROM endpoint_policies p"
			   PEOPLE_SQL_UNIT_JOIN("o", "p.org_unit_id") " WHERE " SCOPE_SQL_WITHIN("$1", "o.path")
			   " AND p.version = (SELECT max(x.version) FROM endpoint_policies x WHERE x.org_unit_id = p.org_unit_id) "
			   "ORDER BY length(o.path)", STORE_ARGS(SA_TEXT(path)), &q);
	while (r == 0 && (r = store_step(q)) == 1) {
		const char *text = store_col_text(q, 2);
		json_t *v = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
		struct rerr pe = { "" };

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

/* ---------------------------------------------------------------- stored JSON */

json_t *ep_json_col(struct store_stmt *q, int col)
{
	const char *t = store_col_text(q, col);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}
