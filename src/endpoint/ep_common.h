/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_common: what the parts of rampartd's endpoint platform share, below
 * all of them: the scope of lists, the join of a row's org unit, signed
 * device requests, effective policies and the policy-signing key (with
 * endpoint_may and endpoint_keys_load/free of endpoint.h).  Enrollment,
 * the check-in, the device API, policies, the sweeper, quarantine and
 * operation logs each include this header and none of them another's
 * internals, so that the endpoint files form no include circle.  Each
 * line below uses only the lines above it (and endpoint.h, the public
 * header, which includes none of them):
 *
 *   ep_baseline, oplog, eve            pure: evaluation and parsers
 *   ep_common                          this header's helpers
 *   quarantine, oplog_store            the decisions and their stores
 *   ep_enroll, ep_checkin, ep_devices, ep_policies, quarantine_http,
 *   oplog_http                         the handlers
 *   ep_sweep                           the sweeper
 *   endpoint                           endpoint_routes
 *
 * Not for use outside src/endpoint.
 *
 * Identity: the endpoint platform asks identity (identity/people.h,
 * identity/scope.h) about org units, people and scope; it keeps no copy of
 * their rules.  A device and an enrollment token name their unit by
 * org_unit_id, the endpoint's own column; a query that needs the unit's
 * path joins it with PEOPLE_SQL_UNIT_JOIN (identity/people.h), and a list is scoped with
 * ep_scope_where.
 */
#ifndef RAMPART_EP_COMMON_H
#define RAMPART_EP_COMMON_H

#include <jansson.h>
#include <stdint.h>

#include "common/ids.h"
#include "crypto/rcrypto.h"
#include "http/principal.h"

struct buf;
struct http_req;
struct http_resp;
struct store_arg;
struct store_conn;
struct store_stmt;

/* ---------------------------------------------------------------- org units and scope */

/*
 * The path of the org unit of device @device_id into @ret_path.  Returns 0,
 * ERR_NOT_FOUND or a store error.
 */
int ep_device_path(struct store_conn *c, const char *device_id, char ret_path[PRINCIPAL_PATH_SIZE]);

/*
 * Appends to @sql the scope of an endpoint list for @p, the rows
 * endpoint_may lets it read: " AND (...)" limiting @path_col (SQL of the
 * row's unit path) to a security manager's subtree, nothing for those who
 * read the whole fleet (admin, security_officer, auditor), " AND (1 = 0)"
 * for anyone else.  scope_sql_where with SCOPE_SUBTREE: binds at most one
 * parameter after the @nargs in @args (room for @cap).  Returns 0,
 * ERR_TOO_LARGE or -ENOMEM (the caller drops the query).
 */
int ep_scope_where(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap, const struct principal *p,
		   const char *path_col);

/* The most parameters ep_query_scoped takes before the scope's. */
#define EP_QUERY_ARGS 7

/*
 * Runs the query @head (ending in a WHERE clause), the scope of @p on
 * @path_col (ep_scope_where), then @tail, with @args (@nargs, at most
 * EP_QUERY_ARGS) as $1..$nargs; the scope's parameter comes after them.
 * Returns 0 with *ret (the caller frees it), ERR_TOO_LARGE, -ENOMEM or a
 * store error.
 */
int ep_query_scoped(struct store_conn *c, const struct principal *p, const char *head, const char *path_col,
		    const char *tail, const struct store_arg *args, size_t nargs, struct store_stmt **ret);

/*
 * The start of a list handler: the caller must be allowed to read lists
 * (ENDPOINT_READ on some unit; the rows are then scoped with
 * ep_scope_where) and the store reachable; then ?limit= (default @def, at
 * most the server's max_list) and ?cursor= (an id: a ULID, or absent) are
 * read.  Returns 0, ERR_FORBIDDEN, ERR_STORE, or the error answered.
 */
int ep_list_page(struct http_req *req, struct http_resp *resp, int64_t def, int64_t *ret_limit,
		 const char **ret_cursor);

/* ---------------------------------------------------------------- signed device requests */

struct ep_device {
	char id[ULID_SIZE];
	char state[16];
	char path[PRINCIPAL_PATH_SIZE];   /* its org unit */
	char sig_hash[RCRYPTO_HASH_HEX_SIZE]; /* the request's signature, for the replay cache */
	int64_t ts;                       /* the request's signed time */
};

/*
 * Checks a signed device request: its headers, time window and signature
 * against the enrolled device's key.  Reads only; the replay cache is
 * ep_device_seen's.  Returns 0 with @dev filled, ERR_UNAUTHENTICATED, or a
 * store error.
 */
int ep_device_check(struct http_req *req, struct store_conn *c, struct ep_device *dev);

/*
 * Records the signature of the request @dev was checked from in the replay
 * cache, inside the transaction the caller has begun.  Returns 0,
 * ERR_UNAUTHENTICATED when it was seen before, or a store error.
 */
int ep_device_seen(struct store_conn *c, const struct ep_device *dev);

/*
 * ep_device_seen in a transaction of its own: the signature of a request
 * refused for its body is spent all the same.
 */
int ep_device_seen_alone(struct store_conn *c, const struct ep_device *dev);

/* Answers the 401 of a refused signed request, or passes another error on. */
int ep_device_refused(struct http_resp *resp, int r);

/* ---------------------------------------------------------------- policies */

/*
 * The effective policy of the unit at @path: the current (highest) version
 * of each unit's policy on the path from the root, merged (policy_merge).
 * *ret_version is the sum of those versions, so that it grows with every
 * change that reaches the unit (0: no policy on the path); *ret_issued the
 * newest of their times; *ret_sources (optional) [{org_unit, version}].
 * Returns 0, ERR_INTERNAL for a stored policy that no longer checks, or a
 * store error.
 */
int ep_policy_effective(struct store_conn *c, const char *path, json_t **ret_policy, int64_t *ret_version,
			int64_t *ret_issued, json_t **ret_sources);

/* The policy-signing key pair (endpoint_keys_load); the secret is NULL before loading. */
const unsigned char *ep_policy_sk(void);
const unsigned char *ep_policy_pk(void);

/* ---------------------------------------------------------------- stored JSON */

/* Column @col of @q parsed as stored JSON text; a broken row shows as null rather than failing a page. */
json_t *ep_json_col(struct store_stmt *q, int col);

#endif
