/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/approval: approval of external transfers (migrations 0004 and
 * 0006).  A transfer sent by someone whose org unit (or a unit above it)
 * requires approval, to an address that is no person's in the directory,
 * is created with approval = 'pending': its link cannot be used and is not
 * mailed, but kept sealed (blob.h) in held_link until the sender's manager,
 * the unit's named approver or an administrator (never the sender)
 * decides.  Approving mails the link and empties held_link; rejecting ends
 * the transfer (status revoked, approval rejected) and deletes its files.
 *
 * Routes: POST /api/v1/transfers/{id}/approve and /reject, GET
 * /api/v1/exchange/approval and PUT /api/v1/exchange/approval/{id}.
 */
#include "exchange/internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "store/store.h"

/*
 * The path of org unit @id (by id only: a unit is never named by its path
 * here).  Returns 0, ERR_NOT_FOUND or a store error.
 */
static int xappr_unit_path(struct store_conn *c, const char *id, char path[PRINCIPAL_PATH_SIZE])
{
	struct org_unit u;
	int r = people_org_get(c, id, &u);

	if (r < 0)
		return r;
	memcpy(path, u.path, PRINCIPAL_PATH_SIZE);
	return 0;
}

/*
 * Finds the deepest unit requiring approval at or above @org_path: its
 * named approver goes to @ret_approver ("" for none).  Returns 1 when there
 * is such a unit, 0 when not, or an error.
 */
static int xappr_unit_above(struct store_conn *c, const char *org_path, char ret_approver[ULID_SIZE])
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT coalesce(a.approver_id, '') FROM exchange_approval_units a"
			   PEOPLE_SQL_UNIT_JOIN("u", "a.org_unit_id") " WHERE a.required = 1 AND "
			   SCOPE_SQL_WITHIN("$1", "u.path") " ORDER BY length(u.path) DESC LIMIT 1",
			STORE_ARGS(SA_TEXT(org_path)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1 && str_copy(ret_approver, ULID_SIZE, store_col_text(q, 0)) < 0)
		ret_approver[0] = '\0';
	store_stmt_free(q);
	return r;
}

int xappr_needed(struct store_conn *c, const char *org_path, const char *to, char *ret_approver)
{
	char approver[ULID_SIZE] = "";
	bool person = false;
	int r;

	if (!org_path[0])
		return 0;
	r = xappr_unit_above(c, org_path, approver);
	if (r <= 0)
		return r;
	r = people_is_person_email(c, to, &person);
	if (r < 0)
		return r;
	if (person)
		return 0;
	memcpy(ret_approver, approver, sizeof(approver));
	return 1;
}

/* True when @person_id is the manager of @owner_id in the directory. */
static bool xappr_is_manager_of(struct store_conn *c, const char *person_id, const char *owner_id)
{
	struct person m;

	if (!person_id[0])
		return false;
	return people_manager_of(c, owner_id, &m) == 0 && strcmp(m.id, person_id) == 0;
}

bool xappr_is_approver(struct store_conn *c, const char *person_id, const struct xfer_row *x)
{
	if (!person_id[0] || strcmp(person_id, x->owner_id) == 0)
		return false;
	return strcmp(person_id, x->approver_id) == 0 || xappr_is_manager_of(c, person_id, x->owner_id);
}

/*
 * The addresses to tell about a held transfer of @p's: their manager's and
 * the named approver's (not @p), each when that person is active, one
 * address once, in byte order (so notices and their audit entries come in
 * a stable order).  Returns how many (0 to 2).
 */
static int xappr_deciders(struct store_conn *c, const struct principal *p, const char *approver_id,
			  char emails[2][X_MAX_EMAIL + 1])
{
	struct person who;
	int n = 0;

	if (people_manager_of(c, p->person_id, &who) == 0 && strcmp(who.status, "active") == 0)
		str_copy(emails[n++], X_MAX_EMAIL + 1, who.email);
	if (strcmp(approver_id, p->person_id) != 0 && people_get(c, approver_id, &who) == 0 &&
	    strcmp(who.status, "active") == 0) {
		str_copy(emails[n], X_MAX_EMAIL + 1, who.email);
		if (n == 0 || strcmp(emails[0], emails[1]) != 0)
			n++;
	}
	if (n == 2 && strcmp(emails[0], emails[1]) > 0) {
		char t[X_MAX_EMAIL + 1];

		memcpy(t, emails[0], sizeof(t));
		memcpy(emails[0], emails[1], sizeof(t));
		memcpy(emails[1], t, sizeof(t));
	}
	return n;
}

void xappr_notify(const struct app *app, const struct audit_ctx *ctx, struct store_conn *c,
		  const struct principal *p, const char *tid, const char *to, unsigned nfiles,
		  const char *approver_id)
{
	char emails[2][X_MAX_EMAIL + 1] = { "", "" };
	int n, r;

	if (!app->cfg.smtp_url[0])
		return;
	n = xappr_deciders(c, p, approver_id, emails);
	for (int i = 0; i < n; i++) {
		if (!emails[i][0] || !email_is_valid(emails[i]) || (i == 1 && strcasecmp(emails[0], emails[1]) == 0))
			continue;
		r = xmail_approval(app, emails[i], p->login, nfiles, to, tid);
		audit_record(c, ctx, "exchange.notify", "transfer", tid, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			     json_pack("{s:s, s:s}", "to", emails[i], "reason", "approval"));
	}
}

/* ---------------------------------------------------------------- decisions */

/*
 * Loads transfer {id} for a decision by the request's principal: the
 * sender's manager, the unit's approver or an admin, never the sender.
 * Answers and returns an error otherwise (404 to those who may not see it).
 */
static int xappr_load(struct http_req *req, struct http_resp *resp, struct store_conn *c, bool approve,
		      struct xfer_row *x)
{
	const struct principal *p = http_req_principal(req);
	struct exchange_target t;
	int r;

	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return ERR_FORBIDDEN;
	r = xfer_row_by_id(c, http_req_param(req, "id"), x);
	if (r < 0)
		return r;
	if (strcmp(x->status, "uploading") == 0)
		return ERR_NOT_FOUND;
	t = (struct exchange_target){ x->owner_id, x->owner_org_path };
	if (strcmp(p->person_id, x->owner_id) == 0 ||
	    !(principal_has(p, ROLE_ADMIN) || xappr_is_approver(c, p->person_id, x))) {
		if (!exchange_may(p, EXCHANGE_READ, &t))
			return ERR_NOT_FOUND;
		audit_req(req, c, "authz.denied", "transfer", x->id, AUDIT_DENIED,
			  json_pack("{s:s}", "action", approve ? "approve" : "reject"));
		return http_fail(resp, ERR_FORBIDDEN, NULL, strcmp(p->person_id, x->owner_id) == 0 ?
				 "a sender cannot decide on their own transfer" :
				 "only the sender's manager, the unit's approver or an administrator decides");
	}
	if (strcmp(x->approval, "pending") != 0 || strcmp(x->status, "active") != 0 ||
	    x->expires_at <= rtime_now_ms())
		return http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
	return 0;
}

int xappr_reject(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	struct xfer_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = xappr_load(req, resp, c, false, &x);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE exchange_transfers SET approval = 'rejected', status = 'revoked', "
			  "ended_at = $2, decided_by = $3, decided_at = $2, held_link = NULL, key_check = $4, "
			  "kdf_salt = $4 WHERE id = $1 AND approval = 'pending' AND status = 'active'",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now), SA_TEXT(p->person_id), SA_BLOB("", 0)));
	if (r < 0)
		return r;
	if (r == 0)
		return http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
	xfer_drop_blobs(app, c, x.id);
	audit_req(req, c, "exchange.reject", "transfer", x.id, AUDIT_SUCCESS, NULL);
	return http_resp_json(resp, 200, xfer_detail_json(c, x.id));
}

/* What mailing the link of a held transfer needs besides its row. */
struct xappr_held {
	char token[RCRYPTO_TOKEN_SIZE];
	char message[X_MAX_MESSAGE + 1];
	char sender[256];
	int64_t downloads;
};

/* Opens the held link of transfer @tid.  Returns 0, ERR_NOT_FOUND, ERR_INTERNAL or a store error. */
static int xappr_held_open(struct app *app, struct store_conn *c, const char *tid, struct xappr_held *h)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT t.held_link, t.message, t.downloads_max, p.login FROM exchange_transfers t"
			   PEOPLE_SQL_JOIN("p", "t.owner_id") " WHERE t.id = $1", STORE_ARGS(SA_TEXT(tid)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		size_t n = 0;
		const void *b = store_col_blob(q, 0, &n);

		r = xblob_hold_open(app, tid, b, n, h->token);
		str_copy(h->message, sizeof(h->message), store_col_text(q, 1));
		h->downloads = store_col_i64(q, 2);
		str_copy(h->sender, sizeof(h->sender), store_col_text(q, 3));
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	return r;
}

int xappr_approve(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct xappr_held h = { .downloads = 1 };
	int64_t now = rtime_now_ms();
	const char *mail = "none";
	char url[X_URL_SIZE];
	struct xfer_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = xappr_load(req, resp, c, true, &x);
	if (r < 0)
		return r;
	/* Open the held link first: a link that does not open must not be marked approved. */
	r = xappr_held_open(app, c, x.id, &h);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE exchange_transfers SET approval = 'approved', held_link = NULL, decided_by = $3, "
			  "decided_at = $2 WHERE id = $1 AND approval = 'pending' AND status = 'active' AND expires_at > $2",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now), SA_TEXT(p->person_id)));
	if (r <= 0) {
		sodium_memzero(h.token, sizeof(h.token));
		return r < 0 ? r : http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
	}
	audit_req(req, c, "exchange.approve", "transfer", x.id, AUDIT_SUCCESS, NULL);
	if (app->cfg.smtp_url[0]) {
		snprintf(url, sizeof(url), "%s/x/%s", app->cfg.public_url, h.token);
		r = xmail_link(app, h.sender, x.peer_email, h.message, h.downloads, x.expires_at, url);
		sodium_memzero(url, sizeof(url));
		mail = r == 0 ? "sent" : "failed";
		audit_req(req, c, "exchange.notify", "transfer", x.id, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s}", "to", x.peer_email));
	}
	sodium_memzero(h.token, sizeof(h.token));
	store_exec(c, "UPDATE exchange_transfers SET mail_status = $2 WHERE id = $1",
		   STORE_ARGS(SA_TEXT(x.id), SA_TEXT(mail)));
	return http_resp_json(resp, 200, xfer_detail_json(c, x.id));
}

/* ---------------------------------------------------------------- settings */

/* A row of the settings query as API JSON, or NULL (out of memory). */
static json_t *xappr_setting_json(struct store_stmt *q, const char *unit, const char *path)
{
	json_t *o = json_pack("{s:s, s:s, s:b}", "org_unit", unit, "path", path, "required", 1);

	if (!o)
		return NULL;
	jsonx_set_time(o, "updated_at", store_col_i64(q, 1));
	if (!store_col_is_null(q, 2))
		json_object_set_new(o, "approver", json_pack("{s:s, s:s?}", "id", store_col_text(q, 2),
							      "login", store_col_text(q, 3)));
	return o;
}

/* GET /api/v1/exchange/approval: the units that require approval of external transfers, by path. */
int xappr_settings_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct store_stmt *q;
	json_t *items, *o;
	int r;

	if (!exchange_may(http_req_principal(req), EXCHANGE_READ_SETTINGS, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = store_query(c, "SELECT a.org_unit_id, a.updated_at, a.approver_id, p.login, u.path "
			   "FROM exchange_approval_units a" PEOPLE_SQL_UNIT_JOIN("u", "a.org_unit_id")
			   PEOPLE_SQL_JOIN("p", "a.approver_id") " WHERE a.required = 1 ORDER BY u.path",
			STORE_NOARGS, &q);
	if (r < 0)
		return r;
	items = json_array();
	while (items && (r = store_step(q)) == 1) {
		o = xappr_setting_json(q, store_col_text(q, 0), store_col_text(q, 4));
		if (!o || json_array_append_new(items, o) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	store_stmt_free(q);
	if (!items || r < 0) {
		json_decref(items);
		return items ? r : -ENOMEM;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "items", items));
}

/* The org unit's path, or ERR_NOT_FOUND; checks @approver (may be NULL) is an active person. */
static int xappr_settings_check(struct http_resp *resp, struct store_conn *c, const char *unit_id,
				const char *approver, char path[PRINCIPAL_PATH_SIZE])
{
	struct person who;
	int r;

	if (approver) {
		r = people_get(c, approver, &who);
		if (r < 0 && r != ERR_NOT_FOUND)
			return r;
		if (r == ERR_NOT_FOUND || strcmp(who.status, "active") != 0)
			return http_fail(resp, ERR_INVALID, "approver", "approver must be the id of an active person");
	}
	return xappr_unit_path(c, unit_id, path);
}

/*
 * PUT /api/v1/exchange/approval/{id}: {"required": bool, "approver": person id | null}
 * for the org unit {id} and the units under it.  The approver, when named,
 * decides besides the sender's manager and administrators.
 */
int xappr_settings_set(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "required", "approver", NULL };
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "", 0 };
	const char *id = http_req_param(req, "id");
	char path[PRINCIPAL_PATH_SIZE] = "";
	const char *approver = NULL;
	bool required = false;
	json_t *body, *out;
	int r;

	if (!exchange_may(p, EXCHANGE_CONFIGURE, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, &e);
	if (r == 0)
		r = jsonx_get_bool(body, "required", true, &required, &e);
	if (r == 0 && !json_is_null(json_object_get(body, "approver")) &&
	    (r = jsonx_get_str(body, "approver", false, ULID_SIZE, &approver, &e)) == -ENOENT)
		r = 0;
	if (r < 0)
		return http_fail_rerr(resp, &e);
	r = xappr_settings_check(resp, c, id, approver, path);
	if (r < 0)
		return r;
	r = store_exec(c, "INSERT INTO exchange_approval_units (org_unit_id, required, updated_by, updated_at, "
			  "approver_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_unit_id) DO UPDATE SET "
			  "required = excluded.required, updated_by = excluded.updated_by, "
			  "updated_at = excluded.updated_at, approver_id = excluded.approver_id",
		       STORE_ARGS(SA_TEXT(id), SA_I64(required), SA_TEXT(p->person_id), SA_I64(rtime_now_ms()),
				  approver ? SA_TEXT(approver) : SA_NULL));
	if (r < 0)
		return r;
	audit_req(req, c, "exchange.approval_setting", "org_unit", id, AUDIT_SUCCESS,
		  json_pack("{s:s, s:b, s:s?}", "path", path, "required", required, "approver", approver));
	out = json_pack("{s:s, s:s, s:b, s:s?}", "org_unit", id, "path", path, "required", required,
			"approver", approver);
	return http_resp_json(resp, 200, out);
}
