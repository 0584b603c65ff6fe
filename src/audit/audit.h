/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit: the hash-chained audit log (audit.c: append and verify;
 * audit_ckpt.c: signed checkpoints; siem.c, siem_net.c: streaming to a
 * SIEM; audit_http.c: audit_req and the /api/v1/audit routes).  The
 * chain's hash, the verdict of a walk and the checkpoint document are
 * shared with the CLI: formats/auditchain.h, auditwalk.h, auditckpt.h.
 *
 * Entry N stores hash(N) = SHA-256 over a canonical JSON array of
 * (hash(N-1), N, ts, actor, source, action, object, outcome, details,
 * request id) (formats/auditchain.h).  audit_head keeps the last sequence and hash so a
 * cut tail is noticed too.  Appends take the head row with an UPDATE first,
 * which serializes writers on every engine, and hold it to their commit, so
 * entries become visible in id order.
 *
 * Signed checkpoints (Ed25519, a key outside the database) anchor the
 * chain against someone who can write the whole database: see
 * docs/security.md section 9.
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

#include "formats/auditckpt.h"

struct app;
struct buf;
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

/*
 * Appends @e, and signs a checkpoint in the same transaction when the new
 * entry's sequence is a multiple of checkpoint_every_entries (a failure to
 * checkpoint is logged, never returned).  Returns 0, ERR_INVALID (a text
 * that is not UTF-8), a store error or -ENOMEM.
 */
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
	int64_t first_broken;         /* id of the first entry not proved, 0 if intact (auditwalk.h) */
	char reason[192];
	int64_t proved_through;       /* last entry a matching signed checkpoint covers; 0 none */
	int64_t checkpoints_checked;  /* stored checkpoints signed with the server's key, compared */
	int64_t checkpoints_ignored;  /* stored ones whose signature is not good under that key */
};

/*
 * Walks the whole chain (formats/auditwalk.h): recomputes every hash, checks that every
 * stored value is in the form audit_append wrote it (integers stored as
 * integers, texts as texts without NUL, valid UTF-8, details in canonical
 * JSON, a known outcome), that the chain ends at audit_head, and that it
 * agrees with every stored checkpoint signed by the loaded checkpoint key.
 * Returns 0 with @ret filled, or a store error.
 */
int audit_verify(struct store_conn *c, struct audit_verify_result *ret);

/* ------------------------------------------------------------ checkpoints (audit_ckpt.c) */

/*
 * Loads the checkpoint key at @key_path (a 32-byte Ed25519 seed, mode
 * 0600; created from random bytes when absent), and from then on signs
 * checkpoints as @server_id every @every_entries entries.  Call before
 * any thread appends.  Returns 0, ERR_INVALID (a bad file or argument),
 * -ENOMEM or -errno.
 */
int audit_checkpoint_setup(const char *key_path, const char *server_id, int64_t every_entries);

/*
 * audit_checkpoint_setup from rampartd's settings: [audit] checkpoint_key
 * (default DATA/audit_checkpoint.key) and checkpoint_every_entries, and
 * app->server_id.  Returns as audit_checkpoint_setup, or -ENAMETOOLONG.
 */
int audit_keys_load(const struct app *app);

/* Forgets the key (wiped).  No checkpoint is signed afterwards. */
void audit_keys_free(void);

/* Copies the loaded key's public half to @pk.  False when no key is loaded. */
bool audit_checkpoint_public_key(unsigned char pk[AUDIT_KEY_BYTES]);

/*
 * Signs the head now if it moved past the last checkpoint and that one is
 * at least @min_age_ms old (in its own transaction unless one is open).
 * Returns 1 when a checkpoint was stored, 0 when none was due (or no key
 * is loaded), or a store error.
 */
int audit_checkpoint_head(struct store_conn *c, int64_t now_ms, int64_t min_age_ms);

/* The checkpoint with the highest seq.  Returns 0, ERR_NOT_FOUND, or a store error. */
int audit_checkpoint_latest(struct store_conn *c, struct audit_checkpoint *ret);

/*
 * Starts the timer that calls audit_checkpoint_head with [audit]
 * checkpoint_every.  Returns 0 or -errno.
 */
int audit_checkpointer_start(struct app *app);
/* Stops it (waits for a checkpoint in progress).  Safe when not started. */
void audit_checkpointer_stop(void);

/* ------------------------------------------------------------ SIEM streaming (siem.c) */

/*
 * Checks [audit] siem_syslog, siem_http and siem_http_header.  Returns 0
 * or ERR_INVALID with @e saying which setting is wrong.
 */
int audit_siem_check(const struct app *app, struct rerr *e);

/*
 * Starts one shipper per configured destination: a background thread that
 * sends entries and checkpoints as they are committed, from a cursor kept
 * in DATA/siem/ (docs/security.md section 9).  Never blocks an append.
 * Returns 0 or -errno.
 */
int audit_siem_start(struct app *app);
/* Stops the shippers (each finishes the batch in progress).  Safe when not started. */
void audit_siem_stop(void);

/*
 * How many threads audit_checkpointer_start and audit_siem_start will run
 * with @app's settings, each holding a database connection of its own:
 * for sizing a connection pool.
 */
unsigned audit_store_threads(const struct app *app);

/* Appends the audit metrics (Prometheus text) to @out. */
void audit_metrics(struct buf *out);

/* Row to JSON (the API's representation). */
struct store_stmt;
json_t *audit_row_json(struct store_stmt *q);

/* Registers /api/v1/audit, /api/v1/audit/verify, /api/v1/audit/checkpoint and /api/v1/audit/checkpoints. */
int audit_routes(struct http_server *s);

const char *audit_outcome_name(enum audit_outcome o);

#endif
