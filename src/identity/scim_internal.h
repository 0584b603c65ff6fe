/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim_internal: what the parts of the SCIM service share: the SCIM
 * response and error helpers (scim.c), the Users handlers
 * (scim_users.c) and the Groups handlers (scim_groups.c).
 */
#ifndef RAMPART_SCIM_INTERNAL_H
#define RAMPART_SCIM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct app;
struct http_req;
struct http_resp;

#define SCIM_USER_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_ENT_SCHEMA "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_GROUP_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_LIST_SCHEMA "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_ERROR_SCHEMA "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_PATCH_SCHEMA "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_CTYPE "application/scim+json"

#define SCIM_STR_MAX 256
#define SCIM_LOGIN_MAX 127
#define SCIM_MAX_OPS 100
#define SCIM_MAX_MEMBERS 10000
#define SCIM_DEFAULT_COUNT 100

/*
 * Why a SCIM request was refused.  The message is the SCIM error's
 * "detail"; beside the struct rerr it keeps the two things a SCIM error
 * body needs that no other error has: the status (@err) and the scimType.
 * Filled on error only.
 */
struct scim_err {
	struct rerr r;
	int err;               /* ERR_* for the status */
	const char *type;      /* scimType, may be NULL */
};

/* Fills @e with @err, @type (may be NULL) and the message; returns @err. */
int scim_bad(struct scim_err *e, int err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Answers @body (stolen; NULL is -ENOMEM) as application/scim+json with @status. */
int scim_reply(struct http_resp *resp, int status, json_t *body);

/* Writes the SCIM error body for @e and returns its error. */
int scim_fail_err(struct http_resp *resp, const struct scim_err *e);

/* Writes a SCIM error body for @err with @type and the message; returns @err. */
int scim_fail(struct http_resp *resp, int err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Any other error (store, memory) as a SCIM error. */
int scim_fail_code(struct http_resp *resp, int err);

/* The URL prefix of this server for meta.location ("<public_url>/scim/v2"). */
void scim_base(const struct app *app, char *out, size_t size);

/* A resource's "meta" object; a new reference or NULL. */
json_t *scim_meta(const struct app *app, const char *type, const char *what, const char *id,
		  int64_t created, int64_t modified);

/* Answers (and returns the error) unless the request was authenticated by a SCIM token; 0 then. */
int scim_check(struct http_req *req, struct http_resp *resp);

/* Reads startIndex and count (RFC 7644 3.4.2.4); answers a bad one and returns its error. */
int scim_page(struct http_req *req, struct http_resp *resp, int64_t max, int64_t *ret_start,
	      int64_t *ret_count);

/* A ListResponse of @resources (stolen). */
json_t *scim_list(json_t *resources, int64_t total, int64_t start);

/*
 * Sets @dst (@size bytes) from the JSON string @v; null or a removal (@v
 * NULL) clears it when @clearable.  Returns 0 or ERR_INVALID with @e.
 */
int scim_str(const json_t *v, char *dst, size_t size, bool clearable, const char *attr,
	     struct scim_err *e);

/* /scim/v2/Users and /scim/v2/Users/{id} (scim_users.c). */
int scim_h_users(struct http_req *req, struct http_resp *resp);
int scim_h_user(struct http_req *req, struct http_resp *resp);

/* /scim/v2/Groups and /scim/v2/Groups/{id} (scim_groups.c). */
int scim_h_groups(struct http_req *req, struct http_resp *resp);
int scim_h_group(struct http_req *req, struct http_resp *resp);

#endif
