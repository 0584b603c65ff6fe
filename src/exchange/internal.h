/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/internal: what the rooms of the exchange site share.  Included
 * only by the .c files of src/exchange; nothing outside the folder may include it.
 *
 * The rooms, lowest first (each includes this header and blob.h, never
 * each other):
 *   authz.c     exchange_may: the one authorization decision (pure)
 *   blob.c      keys and the encrypted files on disk (blob.h)
 *   transfer.c  the transfer model: rows, states, JSON, quota (store queries)
 *   notify.c    the notices the site mails, composed through src/mail
 *   page.c      the self-contained HTML pages of /x/{token}
 *   upload.c    streaming uploads (multipart -> cipher -> disk -> one commit)
 *   download.c  streaming downloads: decrypt, one file or a tar of several
 *   link.c      the one-time link: GET page, POST upload or password + download
 *   approval.c  approval of external transfers: settings, who decides, decisions
 *   api.c       the transfer API (send, request, list, show, revoke, sweep) and the routes
 *   sweep.c     the sweeper: expiry, abandoned uploads, leftover files
 *
 * People, org units and the org-scope rule come from identity's API
 * (identity/people.h, identity/scope.h): no file here reads identity's
 * tables with SQL of its own; a query that shows a person's login joins
 * them with PEOPLE_SQL_JOIN.  Model functions audit through a struct
 * audit_ctx, never an http_req.
 *
 * Transfer states: uploading (invisible) -> active; awaiting_upload ->
 * receiving -> active for requests; active -> revoked | expired | burned.
 * A used-up transfer stays active with downloads_left = 0.
 */
#ifndef RAMPART_EXCHANGE_INTERNAL_H
#define RAMPART_EXCHANGE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/email.h"
#include "common/ids.h"
#include "exchange/blob.h"
#include "exchange/exchange.h"
#include "exchange/multipart.h"
#include "http/http.h"

struct app;
struct store_conn;
struct store_stmt;

#define X_MAX_EMAIL EMAIL_MAX       /* a recipient or requested sender; email_is_valid holds the same limit */
#define X_MAX_MESSAGE 2000
#define X_MAX_FILENAME 255
#define X_MAX_FILES 100
#define X_MAX_FORM 4096
#define X_STALE_UPLOAD_MS (15 * 60 * 1000)
#define X_BEAT_MS 30000
#define X_URL_SIZE 600

/* ---------------------------------------------------------------- transfer.c */

/* A transfer row as the handlers need it. */
struct xfer_row {
	char id[ULID_SIZE];
	char kind[16];
	char owner_id[ULID_SIZE];
	char owner_org_path[PRINCIPAL_PATH_SIZE];
	char peer_email[X_MAX_EMAIL + 1];
	char status[24];
	unsigned char salt[XC_SALT];
	unsigned char check[XC_CHECK];
	int64_t expires_at, downloads_left, failures, file_count;
	char approval[16];
	char approver_id[ULID_SIZE];     /* the named approver of a held transfer, or "" */
};

/* The transfer whose link token is @token.  Returns 0, ERR_NOT_FOUND or a store error. */
int xfer_row_by_token(struct store_conn *c, const char *token, struct xfer_row *x);

/* The transfer @id.  Returns 0, ERR_NOT_FOUND or a store error. */
int xfer_row_by_id(struct store_conn *c, const char *id, struct xfer_row *x);

/* The state the API shows ("sent", "opened", "downloaded", "pending_approval", ...). */
const char *xfer_state(const char *status, const char *approval, int64_t expires_at, int64_t downloads_left,
		       bool opened, bool downloaded, int64_t now);

/* The list query's SELECT ... FROM ... JOIN ...; the caller appends WHERE and ORDER. */
extern const char *const xfer_list_cols;

/* A row of an xfer_list_cols query as API JSON; @ud points to the current time (int64_t ms). */
json_t *xfer_row_json(struct store_stmt *q, void *ud);

/* The API JSON of transfer @id with its files and downloads, or NULL. */
json_t *xfer_detail_json(struct store_conn *c, const char *id);

/* Bytes stored or being stored for @owner_id's transfers (0 when the query fails). */
int64_t xfer_quota_used(struct store_conn *c, const char *owner_id);

/*
 * Removes transfer @tid's files and records that they are gone
 * (blobs_deleted = 1), forgetting what checked its password: nothing is
 * left to open.
 */
void xfer_drop_blobs(struct app *app, struct store_conn *c, const char *tid);

/* ---------------------------------------------------------------- notify.c */

/*
 * Each mails one notice through [exchange] smtp_url, from smtp_from.
 * Returns 0, -ENOTCONN when no relay is configured, ERR_INVALID for an
 * address email_is_valid refuses, or ERR_UNAVAILABLE when the relay
 * refused it (logged once, without the mail).  Links in a body are wiped
 * and never logged.
 */
/* The download link @url of a transfer from @sender to @to. */
int xmail_link(const struct app *app, const char *sender, const char *to, const char *message,
	       int64_t downloads, int64_t expires_at, const char *url);
/* The upload link @url of @requester's request to @to. */
int xmail_request(const struct app *app, const char *requester, const char *to, const char *message,
		  const char *url);
/* Tells owner @to that transfer @tid to @peer was blocked after @failures wrong passwords. */
int xmail_burned(const struct app *app, const char *to, const char *tid, const char *peer, int64_t failures);
/* Tells approver @to that @sender's transfer @tid of @nfiles files to @peer waits; no link. */
int xmail_approval(const struct app *app, const char *to, const char *sender, unsigned nfiles,
		   const char *peer, const char *tid);

/* ---------------------------------------------------------------- page.c */

extern const char xpage_download_form[];
extern const char xpage_upload_form[];

/*
 * Answers a self-contained page: no script, no external resource (the
 * layer's CSP is default-src 'none').  @text is escaped; @form_html is
 * trusted markup or NULL.  Returns 0 or an error.
 */
int xpage(struct http_resp *resp, int status, const char *title, const char *text, const char *form_html);

/* The 410 page for a link in @state that can no longer be used; returns ERR_CONFLICT for the layer. */
int xpage_gone(struct http_resp *resp, const char *state);

/* The 403 page of a link waiting for approval; returns ERR_FORBIDDEN. */
int xpage_pending(struct http_resp *resp);

/* The 404 page of an unknown link; returns ERR_NOT_FOUND. */
int xpage_not_found(struct http_resp *resp);

/*
 * The page for the link of transfer @x that cannot be used now (unknown,
 * ended, used up, expired, waiting for approval), or 0 when it can.
 * @lookup is what finding it returned.
 */
int xpage_unusable(struct http_resp *resp, int lookup, const struct xfer_row *x, int64_t now);

/* ---------------------------------------------------------------- upload.c */

enum xup_mode {
	XUP_SEND,       /* POST /api/v1/transfers: a new transfer, errors as JSON */
	XUP_FORM,       /* POST /x/{token} with the password form: the body is collected in @form */
	XUP_REQUEST,    /* POST /x/{token} of a request: the outsider's files, errors as pages */
};

/* One upload (or link form) in flight: the request context of both POST routes. */
struct xup {
	struct app *app;
	struct http_req *req;
	struct http_resp *resp;
	struct store_conn *c;
	enum xup_mode mode;
	struct mp_parser mp;
	/* the plain field being read */
	char field_name[32];
	struct buf field;
	bool in_file;
	/* fields */
	char to[X_MAX_EMAIL + 1];
	char message[X_MAX_MESSAGE + 1];
	char expires[32];
	int64_t expires_at;         /* of the transfer created (XUP_SEND) */
	int64_t downloads;
	char password[X_PASSWORD_SIZE + 1];
	bool has_password;
	/* the transfer */
	struct xfer_row row;        /* XUP_FORM, XUP_REQUEST: the link's transfer */
	char token[RCRYPTO_TOKEN_SIZE];
	char tid[ULID_SIZE];
	bool created, committed, receiving;
	bool pending;               /* XUP_SEND: waits for approval; the link is held, not mailed */
	char approver[ULID_SIZE];   /* with pending: the unit's named approver, or "" */
	unsigned char *key;         /* sodium_malloc'd, XC_KEY bytes */
	char dir[700];
	/* the file being written */
	struct xblob_writer w;
	char fid[ULID_SIZE];
	char fname[X_MAX_FILENAME + 1];
	int64_t fsize;
	unsigned nfiles;
	int64_t total, quota_used, last_beat;
	/* XUP_FORM: the urlencoded body */
	struct buf form;
};

/*
 * A new upload context for @req, freed when the request ends (its files
 * removed unless committed).  Returns 0 with *ret, -ENOMEM or ERR_STORE.
 */
int xup_new(struct http_req *req, struct http_resp *resp, enum xup_mode mode, struct xup **ret);

/* Starts the multipart parser on @content_type.  Returns 0 or ERR_INVALID. */
int xup_start(struct xup *u, const char *content_type);

/*
 * The DATA and END phases of a multipart upload: feeds the parser, and at
 * the end commits the transfer.  On error the answer is written (JSON for
 * XUP_SEND, a page otherwise) and what was stored is removed.
 */
int xup_stream(struct xup *u, enum http_upload_phase ph, const char *data, size_t len);

/* Answers a refusal: JSON for XUP_SEND, a page otherwise.  Returns @err. */
int xup_fail(struct xup *u, int err, const char *field, const char *msg);

/* ---------------------------------------------------------------- download.c */

/*
 * POST /x/{token} of a transfer that can be downloaded, once the password
 * is known right (u->key holds the file key): opens every file, consumes
 * one download, audits it and streams the files (one, or a tar of
 * several).  Answers the "used" page when another download took the last use.
 */
int xdl_respond(struct xup *u, struct http_resp *resp);

/* ---------------------------------------------------------------- link.c */

/*
 * Counts a wrong password for @x; the link burns when the attempts are
 * used up (its files deleted, the owner told).  *ret_burned says which.
 * Audits each step as @ctx.  Returns 0 or a store error.
 */
int xlink_password_failed(struct app *app, const struct audit_ctx *ctx, struct store_conn *c,
			  const struct xfer_row *x, bool *ret_burned);

int xlink_get(struct http_req *req, struct http_resp *resp);
int xlink_upload(struct http_req *req, struct http_resp *resp, enum http_upload_phase ph, const char *data,
		 size_t len);
int xlink_post(struct http_req *req, struct http_resp *resp);

/* ---------------------------------------------------------------- approval.c */

/*
 * Whether a transfer from a sender in @org_path to @to waits for approval:
 * 1 when the sender's unit or one above it requires it and @to is not the
 * email of a person in the directory (retired people count as outside),
 * 0 when not, or a store error (the caller refuses the transfer then).
 * On 1, @ret_approver (ULID_SIZE bytes) receives the named approver of the
 * deepest such unit, or "".
 */
int xappr_needed(struct store_conn *c, const char *org_path, const char *to, char *ret_approver);

/*
 * True when @person_id may decide on the held transfer @x besides an admin:
 * the owner's manager in the directory, or the named approver kept on it;
 * never the owner.
 */
bool xappr_is_approver(struct store_conn *c, const char *person_id, const struct xfer_row *x);

/*
 * Mails who may decide (the sender @p's manager and the unit's named
 * approver, when active with an email) that transfer @tid waits; audits
 * each notice as @ctx.
 */
void xappr_notify(const struct app *app, const struct audit_ctx *ctx, struct store_conn *c,
		  const struct principal *p, const char *tid, const char *to, unsigned nfiles,
		  const char *approver_id);

int xappr_approve(struct http_req *req, struct http_resp *resp);
int xappr_reject(struct http_req *req, struct http_resp *resp);
int xappr_settings_list(struct http_req *req, struct http_resp *resp);
int xappr_settings_set(struct http_req *req, struct http_resp *resp);

/* ---------------------------------------------------------------- api.c */

/*
 * Loads transfer {id} for action @a on behalf of the request's principal;
 * ERR_NOT_FOUND hides one they may not even see, ERR_FORBIDDEN (audited)
 * one they see but may not act on.
 */
int xapi_load_authorized(struct http_req *req, struct store_conn *c, enum exchange_action a, struct xfer_row *x);

#endif
