/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim_internal: what the parts of the SCIM service share: the SCIM
 * response and error helpers and the scaffolding of every handler (scim.c:
 * start, body, lists, PATCH operations, the end of a transaction), the
 * Users handlers (scim_users.c) and the Groups handlers (scim_groups.c).
 */
#ifndef RAMPART_SCIM_INTERNAL_H
#define RAMPART_SCIM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/scim_filter.h"

struct app;
struct http_req;
struct http_resp;
struct people_writer;
struct store_conn;
struct store_stmt;

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

/* Sets the Location header of a created resource: "<scim_base>/@what/@id". */
void scim_location(const struct app *app, struct http_resp *resp, const char *what, const char *id);

/* A resource's "meta" object; a new reference or NULL. */
json_t *scim_meta(const struct app *app, const char *type, const char *what, const char *id,
		  int64_t created, int64_t modified);

/* Answers (and returns the error) unless the request was authenticated by a SCIM token; 0 then. */
int scim_check(struct http_req *req, struct http_resp *resp);

/*
 * The start of every SCIM handler: answers (and returns the error) unless
 * the request came with a SCIM token and the store answers; 0 with *ret_c then.
 */
int scim_start(struct http_req *req, struct http_resp *resp, struct store_conn **ret_c);

/* The request body as a JSON object (borrowed); answers invalidSyntax and returns its error. */
int scim_body(struct http_req *req, struct http_resp *resp, json_t **ret);

/* Answers a failed load of a resource of @type: 404 "no @type has this id" for ERR_NOT_FOUND; returns @r. */
int scim_fail_load(struct http_resp *resp, int r, const char *type);

/*
 * Ends the transaction of a change: commits when @r is 0; otherwise, or
 * when the commit fails, rolls back and answers @e when it holds a message
 * (@e may be NULL), else the error.  Returns 0 or the answered error.
 */
int scim_tx_end(struct http_resp *resp, struct store_conn *c, int r, const struct scim_err *e);

/*
 * Opens a people writer of source "scim" for the request's principal at
 * @now, then a transaction.  Returns 0 with *ret (freed by the caller), or
 * an error with nothing to free.
 */
int scim_writer_begin(struct http_req *req, struct store_conn *c, int64_t now, struct people_writer **ret);

/* Turns the current row of a list query into a resource; NULL leaves the row out. */
typedef json_t *(*scim_row_fn)(struct store_stmt *q, void *ud);

/* How a resource type is listed (GET /scim/v2/Users, /scim/v2/Groups). */
struct scim_list_def {
	const char *const *attrs;               /* filterable; NULL: those of Users (scim_filter_parse) */
	const char *(*where)(const char *attr); /* " WHERE ..." on $1, the value of a filter on @attr */
	const char *count;                      /* "SELECT count(*) FROM ...", to which the WHERE is added */
	const char *select;                     /* the rows' query, to which the WHERE and ORDER BY are added */
	const char *order;                      /* the ORDER BY: a unique key */
	scim_row_fn row;
};

/*
 * Answers a list request with the ListResponse of @def: reads startIndex
 * and count (RFC 7644 3.4.2.4) and the filter, counts the matches, and
 * makes each row of the page a resource with @ud.  Returns 0 or the
 * answered error.
 */
int scim_list_answer(struct http_req *req, struct http_resp *resp, struct store_conn *c,
		     const struct scim_list_def *def, void *ud);

/* The Operations of a PatchOp @body (borrowed): a non-empty array of at most SCIM_MAX_OPS. */
int scim_patch_ops(const json_t *body, const json_t **ret_ops, struct scim_err *e);

/* One operation of a PatchOp, as scim_op_read leaves it (all borrowed from the body). */
struct scim_op {
	const char *name;       /* add, replace or remove, as sent */
	const char *path;       /* NULL when absent */
	const json_t *value;    /* NULL when absent */
	bool add, remove;
};

/*
 * Reads @op: its op must be add, replace or remove, its path a string when
 * there is one, and a remove needs a path.  Returns 0 or ERR_INVALID with @e.
 */
int scim_op_read(const json_t *op, struct scim_op *ret, struct scim_err *e);

/*
 * Sets @dst (@size bytes) from the JSON string @v; null or a removal (@v
 * NULL) clears it when @clearable.  Returns 0 or ERR_INVALID with @e.
 */
int scim_str(const json_t *v, char *dst, size_t size, bool clearable, const char *attr,
	     struct scim_err *e);

/* How a request body is read by scim_user_body_check. */
enum scim_body_kind { SCIM_BODY_POST, SCIM_BODY_PUT, SCIM_BODY_PATCH };

/*
 * Reads a User body (@kind: a POST or PUT User, or a PATCH PatchOp) over an
 * empty user exactly as the Users handlers do before they touch the store:
 * every attribute, the PatchOp operations, and the agreement of externalId
 * with employeeNumber.  For fuzz/fuzz_scim_body.c.  Returns 0 or
 * ERR_INVALID with @e.
 */
int scim_user_body_check(const json_t *body, enum scim_body_kind kind, struct scim_err *e);

/*
 * Reads a Group body of POST or PUT (displayName, externalId, members) as
 * the Groups handlers do before they touch the store.  For fuzzing.
 * Returns 0 or ERR_INVALID with @e.
 */
int scim_group_body_check(const json_t *body, struct scim_err *e);

/* /scim/v2/Users and /scim/v2/Users/{id} (scim_users.c). */
int scim_h_users(struct http_req *req, struct http_resp *resp);
int scim_h_user(struct http_req *req, struct http_resp *resp);

/* /scim/v2/Groups and /scim/v2/Groups/{id} (scim_groups.c). */
int scim_h_groups(struct http_req *req, struct http_resp *resp);
int scim_h_group(struct http_req *req, struct http_resp *resp);

#endif
