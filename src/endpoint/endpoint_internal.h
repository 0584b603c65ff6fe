/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * endpoint_internal: what the endpoint modules of rampartd share (device
 * authentication, org unit lookup, scope filters, effective policies and the
 * policy key).  Not for use outside src/endpoint.
 */
#ifndef RAMPART_ENDPOINT_INTERNAL_H
#define RAMPART_ENDPOINT_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "common/ids.h"
#include "crypto/rcrypto.h"
#include "http/principal.h"

struct http_req;
struct http_resp;
struct store_conn;

struct ep_unit {
	char id[ULID_SIZE];
	char path[PRINCIPAL_PATH_SIZE];
};

struct ep_device {
	char id[ULID_SIZE];
	char state[16];
	char path[PRINCIPAL_PATH_SIZE];   /* its org unit */
	char sig_hash[RCRYPTO_HASH_HEX_SIZE]; /* the request's signature, for the replay cache */
	int64_t ts;                       /* the request's signed time */
};

/* Finds a unit by id or path.  Returns 0, ERR_NOT_FOUND or a store error. */
int ep_unit_find(struct store_conn *c, const char *key, struct ep_unit *u);

/* A scope filter value for list queries: the SM's subtree, or "" for everything. */
const char *ep_scope(const struct principal *p);

/* SQL condition: column @col is within the scope bound as parameter $n (ep_scope). */
#define EP_SCOPE_SQL(col, n) \
	"($" #n " = '' OR " col " = $" #n " OR substr(" col ", 1, length($" #n ") + 1) = $" #n " || '/')"

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

#endif
