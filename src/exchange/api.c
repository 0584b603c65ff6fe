/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/api: the transfer API under /api/v1 (send files, request files,
 * list, show, revoke, sweep now) and the exchange site's route table.
 * Every handler asks exchange_may (authz.c) before it acts; approval's
 * routes are in approval.c, the link's in link.c.
 */
#include "exchange/internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "identity/scope.h"
#include "mail/mail.h"
#include "store/page.h"
#include "store/store.h"

/* ---------------------------------------------------------------- send */

/* POST /api/v1/transfers, streamed: multipart fields (to, message, expires, downloads), then the files. */
static int xapi_send_upload(struct http_req *req, struct http_resp *resp, enum http_upload_phase ph,
			    const char *data, size_t len)
{
	struct xup *u = http_req_ctx(req);
	struct app *app = http_req_app(req);
	const char *cl;
	int64_t n;
	int r;

	if (ph != HTTP_UPLOAD_BEGIN)
		return xup_stream(u, ph, data, len);
	cl = http_req_header(req, "Content-Length");
	if (!exchange_may(http_req_principal(req), EXCHANGE_CREATE, NULL))
		return ERR_FORBIDDEN;
	if (cl && str_parse_i64(cl, 0, INT64_MAX, &n) == 0 &&
	    n > app->cfg.exchange_max_file * X_MAX_FILES + (1 << 20))
		return http_fail(resp, ERR_TOO_LARGE, NULL, "the upload is larger than the limit");
	r = xup_new(req, resp, XUP_SEND, &u);
	if (r < 0)
		return r;
	if (xup_start(u, http_req_header(req, "Content-Type")) < 0)
		return http_fail(resp, ERR_UNSUPPORTED, NULL, "Content-Type must be multipart/form-data");
	return 0;
}

/* The upload is committed: mail the link (or hold it for approval) and answer. */
static int xapi_send_done(struct http_req *req, struct http_resp *resp)
{
	struct xup *u = http_req_ctx(req);
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	char url[X_URL_SIZE];
	const char *mail = "none";
	json_t *out;
	int r;

	snprintf(url, sizeof(url), "%s/x/%s", app->cfg.public_url, u->token);
	if (u->pending) {
		/* The link goes out only once approved. */
		mail = "held";
		store_exec(u->c, "UPDATE exchange_transfers SET mail_status = 'held' WHERE id = $1",
			   STORE_ARGS(SA_TEXT(u->tid)));
		audit_req(req, u->c, "exchange.approval_request", "transfer", u->tid, AUDIT_SUCCESS,
			  json_pack("{s:s}", "to", u->to));
		xappr_notify(app, http_req_audit_ctx(req), u->c, p, u->tid, u->to, u->nfiles, u->approver);
	} else if (app->cfg.smtp_url[0]) {
		r = xmail_link(app, p->login, u->to, u->message, u->downloads, u->expires_at, url);
		mail = r == 0 ? "sent" : "failed";
		store_exec(u->c, "UPDATE exchange_transfers SET mail_status = $2 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(u->tid), SA_TEXT(mail)));
		audit_req(req, u->c, "exchange.notify", "transfer", u->tid, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s}", "to", u->to));
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", u->tid, "url", url, "password",
			u->password, "to", u->to, "files", (json_int_t)u->nfiles, "bytes", (json_int_t)u->total,
			"mail", mail, "state", u->pending ? "pending_approval" : "sent");
	sodium_memzero(url, sizeof(url));
	return http_resp_json(resp, 201, out);
}

/* ---------------------------------------------------------------- request */

/* The body of POST /api/v1/requests. */
struct xapi_request {
	const char *from, *message, *expires;
	int64_t exp_ms;
};

static int xapi_request_parse(struct http_req *req, struct app *app, struct xapi_request *rq, struct rerr *e)
{
	static const char *const keys[] = { "from", "message", "expires", NULL };
	json_t *body;
	int r;

	rq->message = "";
	rq->expires = NULL;
	rq->exp_ms = app->cfg.exchange_default_expiry_s * 1000;
	r = http_req_json(req, &body, e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, e);
	if (r == 0)
		r = jsonx_get_str(body, "from", true, X_MAX_EMAIL, &rq->from, e);
	if (r == 0 && !email_is_valid(rq->from))
		r = jsonx_fail(e, "from", "from must be one email address");
	if (r == 0 && (r = jsonx_get_str(body, "message", false, X_MAX_MESSAGE, &rq->message, e)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_str(body, "expires", false, 16, &rq->expires, e)) == -ENOENT)
		r = 0;
	if (r == 0 && rq->expires && (str_parse_duration_ms(rq->expires, &rq->exp_ms) < 0 || rq->exp_ms < 1000))
		r = jsonx_fail(e, "expires", "expires must be a duration such as 3d or 12h");
	if (r == 0 && rq->exp_ms > app->cfg.exchange_max_expiry_s * 1000)
		r = jsonx_fail(e, "expires", "expires is longer than the administrator allows");
	return r;
}

/* New link secrets: token, password, salt and key check. */
static int xapi_secrets_new(char token[RCRYPTO_TOKEN_SIZE], char password[X_PASSWORD_SIZE],
			    unsigned char salt[XC_SALT], unsigned char check[XC_CHECK])
{
	unsigned char *key = sodium_malloc(XC_KEY);
	int r;

	if (!key)
		return -ENOMEM;
	xblob_password_new(password);
	r = rcrypto_token_new(token, RCRYPTO_TOKEN_SIZE, "x");
	randombytes_buf(salt, XC_SALT);
	if (r == 0)
		r = xblob_derive(token, password, salt, key);
	if (r == 0)
		xblob_key_check(key, check);
	sodium_free(key);
	return r;
}

/* POST /api/v1/requests {"from", "message"?, "expires"?}: ask an outsider to upload files. */
static int xapi_request_create(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "", 0 };
	struct xapi_request rq;
	char tid[ULID_SIZE], token[RCRYPTO_TOKEN_SIZE], password[X_PASSWORD_SIZE], url[X_URL_SIZE];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	unsigned char salt[XC_SALT], check[XC_CHECK];
	int64_t now = rtime_now_ms();
	const char *mail = "none";
	json_t *out;
	int r;

	if (!exchange_may(p, EXCHANGE_CREATE, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (xapi_request_parse(req, app, &rq, &e) < 0)
		return http_fail_rerr(resp, &e);
	ids_ulid(tid, now);
	r = xapi_secrets_new(token, password, salt, check);
	if (r < 0)
		return r;
	rcrypto_token_hash(token, hash);
	r = store_exec(c, "INSERT INTO exchange_transfers (id, kind, owner_id, owner_org_path, peer_email, "
			  "message, token_hash, kdf_salt, key_check, status, created_at, updated_at, expires_at, "
			  "downloads_max, downloads_left) VALUES ($1, 'request', $2, $3, $4, $5, $6, $7, $8, "
			  "'awaiting_upload', $9, $9, $10, 1, 1)",
		       STORE_ARGS(SA_TEXT(tid), SA_TEXT(p->person_id), SA_TEXT(p->org_path), SA_TEXT(rq.from),
				  SA_TEXT(rq.message), SA_TEXT(hash), SA_BLOB(salt, sizeof(salt)),
				  SA_BLOB(check, sizeof(check)), SA_I64(now), SA_I64(now + rq.exp_ms)));
	if (r < 0)
		return r;
	audit_req(req, c, "exchange.request", "transfer", tid, AUDIT_SUCCESS, json_pack("{s:s}", "from", rq.from));
	snprintf(url, sizeof(url), "%s/x/%s", app->cfg.public_url, token);
	if (app->cfg.smtp_url[0]) {
		r = xmail_request(app, p->login, rq.from, rq.message, url);
		mail = r == 0 ? "sent" : "failed";
		store_exec(c, "UPDATE exchange_transfers SET mail_status = $2 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(tid), SA_TEXT(mail)));
		audit_req(req, c, "exchange.notify", "transfer", tid, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s}", "to", rq.from));
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", tid, "url", url, "password", password, "from", rq.from,
			"mail", mail);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(password, sizeof(password));
	sodium_memzero(url, sizeof(url));
	return http_resp_json(resp, 201, out);
}

/* ---------------------------------------------------------------- list, show, revoke */

/*
 * The WHERE of GET /api/v1/transfers for @p ($1 cursor, $2 the caller, $3
 * their managed subtree, $4 the limit; p is the owner, joined by
 * xfer_list_cols).  ?approval=pending lists what waits for the caller's
 * decision: their direct reports' transfers and those naming them, or
 * every one for an admin.
 */
static void xapi_list_where(struct buf *sql, const struct principal *p, const char *mine, const char *approval)
{
	buf_puts(sql, "WHERE t.status NOT IN ('uploading') AND ($1 = '' OR t.id < $1) ");
	if (approval) {
		buf_puts(sql, "AND t.approval = 'pending' AND t.status = 'active' AND t.owner_id <> $2 ");
		if (principal_has(p, ROLE_ADMIN))
			buf_puts(sql, "AND $3 = $3 ");
		else
			buf_puts(sql, "AND (p.manager_id = $2 OR t.approver_id = $2) AND $3 = $3 ");
	} else if ((mine && strcmp(mine, "1") == 0) ||
		   !principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR | ROLE_SECURITY_MANAGER)) {
		buf_puts(sql, "AND t.owner_id = $2 ");
	} else if (!principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR)) {
		buf_puts(sql, "AND (t.owner_id = $2 OR " SCOPE_SQL_WITHIN("t.owner_org_path", "$3") ") ");
	} else {
		buf_puts(sql, "AND $2 = $2 AND $3 = $3 ");
	}
	buf_puts(sql, "ORDER BY t.id DESC LIMIT $4");
}

/* GET /api/v1/transfers[?mine=1][?approval=pending]: the transfers the caller may see, newest first. */
static int xapi_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "", 0 };
	const char *cursor, *mine = http_req_query(req, "mine"), *approval = http_req_query(req, "approval");
	int64_t limit, now = rtime_now_ms();
	char next[PAGE_CURSOR_SIZE];
	struct store_stmt *q;
	json_t *items;
	struct buf sql;
	int r;

	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (http_req_page(req, 50, app->cfg.max_list, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	if (approval && strcmp(approval, "pending") != 0)
		return http_fail(resp, ERR_INVALID, "approval", "approval must be pending");
	buf_init(&sql, 4096);
	buf_puts(&sql, xfer_list_cols);
	xapi_list_where(&sql, p, mine, approval);
	r = store_query(c, sql.data, STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(p->person_id),
						 SA_TEXT(p->manages_path[0] ? p->manages_path : "\x01"),
						 SA_I64(limit + 1)), &q);
	buf_done(&sql);
	if (r < 0)
		return r;
	r = page_collect(q, limit, 0, xfer_row_json, &now, &items, next);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, page_json(items, next));
}

int xapi_load_authorized(struct http_req *req, struct store_conn *c, enum exchange_action a, struct xfer_row *x)
{
	const struct principal *p = http_req_principal(req);
	struct exchange_target t;
	bool approver;
	int r = xfer_row_by_id(c, http_req_param(req, "id"), x);

	if (r < 0)
		return r;
	if (strcmp(x->status, "uploading") == 0)
		return ERR_NOT_FOUND;
	t = (struct exchange_target){ x->owner_id, x->owner_org_path };
	/* The sender's manager sees a transfer waiting for their approval. */
	approver = principal_is_authenticated(p) && p->via != VIA_SCIM_TOKEN &&
		   strcmp(x->approval, "pending") == 0 && xappr_is_approver(c, p->person_id, x);
	if (!exchange_may(p, EXCHANGE_READ, &t) && !approver)
		return ERR_NOT_FOUND;
	if (!exchange_may(p, a, &t) && !(a == EXCHANGE_READ && approver)) {
		audit_req(req, c, "authz.denied", "transfer", x->id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	return 0;
}

/* GET /api/v1/transfers/{id}: one transfer with its files and downloads. */
static int xapi_show(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct xfer_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = xapi_load_authorized(req, c, EXCHANGE_READ, &x);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, xfer_detail_json(c, x.id));
}

/* POST /api/v1/transfers/{id}/revoke: ends a transfer not yet used up, and deletes its files. */
static int xapi_revoke(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	struct xfer_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = xapi_load_authorized(req, c, EXCHANGE_REVOKE, &x);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE exchange_transfers SET status = 'revoked', ended_at = $2, key_check = $3, "
			  "kdf_salt = $3, held_link = NULL WHERE id = $1 AND status IN ('active', 'awaiting_upload', "
			  "'receiving') AND expires_at > $2 AND downloads_left > 0",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now), SA_BLOB("", 0)));
	if (r < 0)
		return r;
	if (r == 0)
		return http_fail(resp, ERR_CONFLICT, NULL, "the transfer has already ended or been used");
	xfer_drop_blobs(app, c, x.id);
	audit_req(req, c, "exchange.revoke", "transfer", x.id, AUDIT_SUCCESS, NULL);
	return http_resp_json(resp, 200, xfer_detail_json(c, x.id));
}

/* POST /api/v1/exchange/sweep: runs the sweeper now (admins). */
static int xapi_sweep(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int r;

	if (!exchange_may(http_req_principal(req), EXCHANGE_SWEEP, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = exchange_sweep(app, c);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, json_pack("{s:i}", "changed", r));
}

/* ---------------------------------------------------------------- routes */

int exchange_routes(struct http_server *s)
{
	int r = 0;

	/* Before the server's threads start; a notice fails on its own if this could not be done. */
	mail_init();
	r = r ? r : http_route_stream(s, HTTP_POST, "/api/v1/transfers", xapi_send_done, xapi_send_upload, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/transfers", xapi_list, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/transfers/{id}", xapi_show, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/revoke", xapi_revoke, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/approve", xappr_approve, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/reject", xappr_reject, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/exchange/approval", xappr_settings_list, 0);
	r = r ? r : http_route(s, HTTP_PUT, "/api/v1/exchange/approval/{id}", xappr_settings_set, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/requests", xapi_request_create, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/exchange/sweep", xapi_sweep, 0);
	r = r ? r : http_route(s, HTTP_GET, "/x/{token}", xlink_get, HTTP_AUTH_NONE);
	r = r ? r : http_route_stream(s, HTTP_POST, "/x/{token}", xlink_post, xlink_upload, HTTP_AUTH_OPTIONAL);
	return r;
}
