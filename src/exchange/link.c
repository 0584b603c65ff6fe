/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/link: the one-time link /x/{token} as an outsider meets it.
 * GET shows a page and never consumes anything (a preview or a mail
 * scanner may be what opened it); POST takes the password form and
 * downloads (download.c), or, for a request, the outsider's upload
 * (upload.c).  Wrong passwords are counted in the database and burn the
 * link when the attempts are used up.
 */
#include "exchange/internal.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"
#include "identity/people.h"
#include "store/store.h"

int xlink_password_failed(struct app *app, const struct audit_ctx *ctx, struct store_conn *c,
			  const struct xfer_row *x, bool *ret_burned)
{
	struct store_stmt *q;
	int64_t failures = 0;
	bool burned = false;
	int r;

	r = store_query(c, "UPDATE exchange_transfers SET failures = failures + 1, "
			   "status = CASE WHEN failures + 1 >= $2 THEN 'burned' ELSE status END, "
			   "ended_at = CASE WHEN failures + 1 >= $2 THEN $3 ELSE ended_at END "
			   "WHERE id = $1 AND status IN ('active', 'awaiting_upload') RETURNING failures, status",
			STORE_ARGS(SA_TEXT(x->id), SA_I64(app->cfg.exchange_password_attempts),
				   SA_I64(rtime_now_ms())), &q);
	if (r < 0)
		return r;
	if (store_step(q) == 1) {
		failures = store_col_i64(q, 0);
		burned = strcmp(store_col_text(q, 1), "burned") == 0;
	}
	store_stmt_free(q);
	audit_record(c, ctx, "exchange.password_failure", "transfer", x->id, AUDIT_FAILURE,
		     json_pack("{s:I}", "failures", (json_int_t)failures));
	if (burned) {
		char email[X_MAX_EMAIL + 1] = "";
		struct person owner;

		xfer_drop_blobs(app, c, x->id);
		audit_record(c, ctx, "exchange.burn", "transfer", x->id, AUDIT_SUCCESS,
			     json_pack("{s:I}", "failures", (json_int_t)failures));
		if (people_get(c, x->owner_id, &owner) == 0)
			str_copy(email, sizeof(email), owner.email);
		if (email[0] && app->cfg.smtp_url[0]) {
			r = xmail_burned(app, email, x->id, x->peer_email, failures);
			audit_record(c, ctx, "exchange.notify", "transfer", x->id, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
				     json_pack("{s:s, s:s}", "to", email, "reason", "burned"));
		}
	}
	*ret_burned = burned;
	return 0;
}

int xlink_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	char text[X_MAX_MESSAGE + 512];
	struct xfer_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = xpage_unusable(resp, xfer_row_by_token(c, http_req_param(req, "token"), &x), &x, now);
	if (r < 0)
		return r;
	/* Seen, not used: a preview or a mail scanner may be what opened it. */
	if (store_exec(c, "UPDATE exchange_transfers SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now))) == 1)
		audit_req(req, c, "exchange.open", "transfer", x.id, AUDIT_SUCCESS, NULL);
	if (strcmp(x.status, "awaiting_upload") == 0) {
		snprintf(text, sizeof(text), "Someone asked you (%s) to upload files. Only they can download them.",
			 x.peer_email);
		return xpage(resp, 200, "Upload files", text, xpage_upload_form);
	}
	if (strcmp(x.kind, "request") == 0)
		return xpage(resp, 200, "Files received",
			     "The files were uploaded. Only the person who asked for them can download them, "
			     "signed in, with the password.", xpage_download_form);
	snprintf(text, sizeof(text), "%lld file(s) were sent to %s.", (long long)x.file_count, x.peer_email);
	return xpage(resp, 200, "Files for you", text, xpage_download_form);
}

/* Decodes application/x-www-form-urlencoded value of @key from @body into @out. */
static int xlink_form_value(const char *body, size_t len, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), i = 0;

	while (i < len) {
		size_t end = i;

		while (end < len && body[end] != '&')
			end++;
		if (end - i > klen && strncmp(body + i, key, klen) == 0 && body[i + klen] == '=') {
			size_t o = 0;

			for (size_t k = i + klen + 1; k < end; k++) {
				char ch = body[k];

				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					char hex[3];
					long v;

					if (k + 2 >= end || !isxdigit((unsigned char)body[k + 1]) ||
					    !isxdigit((unsigned char)body[k + 2]))
						return ERR_INVALID;
					hex[0] = body[k + 1];
					hex[1] = body[k + 2];
					hex[2] = '\0';
					v = strtol(hex, NULL, 16);
					if (v < 0x20 || v == 0x7f)
						return ERR_INVALID;
					ch = (char)v;
					k += 2;
				}
				if (o + 1 >= size)
					return ERR_INVALID;
				out[o++] = ch;
			}
			out[o] = '\0';
			return 0;
		}
		i = end + 1;
	}
	return -ENOENT;
}

/* The BEGIN phase of POST /x/{token}: which kind of body this link takes. */
static int xlink_upload_begin(struct http_req *req, struct http_resp *resp, struct xup **ret)
{
	const char *ct = http_req_header(req, "Content-Type");
	struct xup *u;
	int r;

	r = xup_new(req, resp, XUP_FORM, &u);
	if (r < 0)
		return r;
	*ret = u;
	r = xpage_unusable(resp, xfer_row_by_token(u->c, http_req_param(req, "token"), &u->row), &u->row,
			   rtime_now_ms());
	if (r < 0)
		return r;
	if (str_copy(u->token, sizeof(u->token), http_req_param(req, "token")) < 0)
		return xpage_not_found(resp);
	if (strcmp(u->row.status, "awaiting_upload") == 0) {
		u->mode = XUP_REQUEST;
		if (xup_start(u, ct) < 0) {
			xpage(resp, 415, "Upload refused", "Send the files with the form on this page.", NULL);
			return ERR_UNSUPPORTED;
		}
		return 0;
	}
	if (strcmp(u->row.kind, "request") == 0 && ct && strncasecmp(ct, "multipart/", 10) == 0)
		return xpage_gone(resp, "used");   /* a request takes one upload */
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		xpage(resp, 415, "Download refused", "Use the form on this page.", NULL);
		return ERR_UNSUPPORTED;
	}
	return 0;
}

int xlink_upload(struct http_req *req, struct http_resp *resp, enum http_upload_phase ph, const char *data,
		 size_t len)
{
	struct xup *u = http_req_ctx(req);

	if (ph == HTTP_UPLOAD_BEGIN)
		return xlink_upload_begin(req, resp, &u);
	if (u->mode == XUP_FORM) {
		if (ph == HTTP_UPLOAD_DATA && buf_append(&u->form, data, len) < 0) {
			xpage(resp, 413, "Too large", "The form is too large.", NULL);
			return ERR_TOO_LARGE;
		}
		return 0;
	}
	return xup_stream(u, ph, data, len);
}

int xlink_post(struct http_req *req, struct http_resp *resp)
{
	struct xup *u = http_req_ctx(req);
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	unsigned char check[XC_CHECK];
	char password[X_PASSWORD_SIZE + 1];
	bool burned = false;
	int r;

	if (u->mode == XUP_REQUEST)
		return xpage(resp, 201, "Files uploaded",
			     "Thank you. The person who asked for the files can download them now.", NULL);
	if (strcmp(u->row.kind, "request") == 0 &&
	    (!principal_is_authenticated(p) || strcmp(p->person_id, u->row.owner_id) != 0)) {
		audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_DENIED, NULL);
		xpage(resp, 403, "Sign in first", "Only the person who asked for these files can download them.", NULL);
		return ERR_FORBIDDEN;
	}
	r = xlink_form_value(u->form.data ? u->form.data : "", u->form.len, "password", password, sizeof(password));
	if (r < 0) {
		xpage(resp, 400, "Password needed", "Enter the password.", xpage_download_form);
		return ERR_INVALID;
	}
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xblob_derive(u->token, password, u->row.salt, u->key);
	sodium_memzero(password, sizeof(password));
	if (r < 0)
		return r;
	xblob_key_check(u->key, check);
	if (sodium_memcmp(check, u->row.check, sizeof(check)) != 0) {
		r = xlink_password_failed(app, http_req_audit_ctx(req), u->c, &u->row, &burned);
		if (r < 0)
			return r;
		if (burned)
			return xpage_gone(resp, "burned");
		xpage(resp, 403, "Wrong password", "The password is not right. Try again.", xpage_download_form);
		return ERR_FORBIDDEN;
	}
	return xdl_respond(u, resp);
}
