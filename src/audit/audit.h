/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit: the hash-chained audit log (audit.c: append and verify; audit_http.c:
 * audit_req and the /api/v1/audit routes).
 *
 * Entry N stores hash(N) = SHA-256 over a canonical JSON array of
 * (hash(N-1), N, ts, actor, source, action, object, outcome, details,
 * request id).  audit_head keeps the last sequence and hash so a cut tail is
 * noticed too.  Appends take the head row with an UPDATE first, which
 * serializes writers on every engine.
 *
 * When the caller has a transaction open, the entry joins it (committed or
 * rolled back with the change it records); otherwise it is its own
 * transaction.  Denials and failures are recorded outside the failed
 * change's transaction, after its rollback.
 */
#ifndef RAMPART_AUDIT_H
#define RAMPART_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/principal.h"

struct store_conn;
struct http_req;
struct http_server;

enum audit_outcome { AUDIT_SUCCESS, AUDIT_FAILURE, AUDIT_DENIED };

struct audit_entry {
	const char *actor_id;     /* may be NULL (anonymous, system) */
	const char *actor_login;  /* may be NULL */
	const char *source;       /* client address, "cli", "system" */
	const char *action;       /* "auth.login", "hr.import", ... */
	const char *object_type;  /* may be NULL */
	const char *object_id;    /* may be NULL */
	enum audit_outcome outcome;
	const json_t *details;    /* borrowed; may be NULL; never secrets */
	const char *request_id;   /* may be NULL */
};

/* Appends @e.  Returns 0 or an ERR_STORE / -ENOMEM. */
int audit_append(struct store_conn *c, const struct audit_entry *e);

/*
 * Appends an entry for the author @ctx describes (principal.h; NULL is
 * AUDIT_CTX_SYSTEM).  @details is stolen (may be NULL).  Errors are logged
 * and returned: callers inside a transaction roll back on them, the others
 * have already decided the outcome.  Returns 0 or the error.
 */
int audit_record(struct store_conn *c, const struct audit_ctx *ctx, const char *action,
		 const char *object_type, const char *object_id, enum audit_outcome outcome,
		 json_t *details);

/*
 * audit_record for an HTTP request's context (http_req_audit_ctx): the
 * request's principal and address.  @details is
 * stolen (may be NULL).  Errors are logged, never returned: the caller has
 * already decided the outcome.  Returns 0 or the error.
 */
int audit_req(struct http_req *req, struct store_conn *c, const char *action,
	      const char *object_type, const char *object_id, enum audit_outcome outcome,
	      json_t *details);

struct audit_verify_result {
	bool intact;
	int64_t entries;
	int64_t first_broken;     /* id of the first bad entry, 0 if intact */
	char reason[128];
};

/* Walks the whole chain.  Returns 0 with @ret filled, or a store error. */
int audit_verify(struct store_conn *c, struct audit_verify_result *ret);

/* Row to JSON (the API's representation). */
struct store_stmt;
json_t *audit_row_json(struct store_stmt *q);

/* Registers /api/v1/audit and /api/v1/audit/verify. */
int audit_routes(struct http_server *s);

const char *audit_outcome_name(enum audit_outcome o);

#endif
