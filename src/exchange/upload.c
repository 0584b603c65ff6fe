/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/upload: streaming uploads, for both POST /api/v1/transfers (a
 * person sends files) and POST /x/{token} of a request (an outsider answers
 * one).  The multipart parser hands each file's bytes straight to the
 * cipher (blob.h), a chunk at a time, so memory stays flat for any size;
 * the fields before the first file create the transfer (invisible, status
 * uploading or receiving) and one UPDATE after the last byte makes it
 * visible.  A refused or interrupted upload removes what it wrote before
 * its answer goes out; a crash leaves it to the sweeper, which the
 * heartbeat (updated_at every X_BEAT_MS) keeps off live uploads.
 */
#include "exchange/internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/rtime.h"
#include "common/str.h"
#include "store/store.h"

/* Removes what a refused or interrupted upload wrote, at once (before the answer goes out). */
static void xup_abort(struct xup *u)
{
	xblob_writer_abort(&u->w);
	if ((u->created || u->receiving) && !u->committed) {
		/* Interrupted or refused: nothing of it may stay visible or on disk. */
		struct store_conn *c = store_conn(u->app->store);

		xblob_remove(u->app, u->tid);
		if (c && u->created) {
			store_exec(c, "DELETE FROM exchange_files WHERE transfer_id = $1", STORE_ARGS(SA_TEXT(u->tid)));
			store_exec(c, "DELETE FROM exchange_transfers WHERE id = $1 AND status = 'uploading'",
				   STORE_ARGS(SA_TEXT(u->tid)));
		} else if (c) {
			store_exec(c, "DELETE FROM exchange_files WHERE transfer_id = $1", STORE_ARGS(SA_TEXT(u->tid)));
			store_exec(c, "UPDATE exchange_transfers SET status = 'awaiting_upload', file_count = 0, "
				      "total_bytes = 0 WHERE id = $1 AND status = 'receiving'",
				   STORE_ARGS(SA_TEXT(u->tid)));
		}
	}
	u->created = false;
	u->receiving = false;
}

static void xup_free(void *ctx)
{
	struct xup *u = ctx;

	if (!u)
		return;
	xup_abort(u);
	if (u->key)
		sodium_free(u->key);
	sodium_memzero(u->password, sizeof(u->password));
	sodium_memzero(u->token, sizeof(u->token));
	xblob_writer_done(&u->w);
	buf_done(&u->field);
	if (u->form.data)
		sodium_memzero(u->form.data, u->form.len);
	buf_done(&u->form);
	free(u);
}

int xup_fail(struct xup *u, int err, const char *field, const char *msg)
{
	if (u->mode == XUP_SEND)
		return http_fail(u->resp, err, field, "%s", msg);
	xpage(u->resp, err_http_status(err), err == ERR_TOO_LARGE ? "Too large" : "Upload refused", msg, NULL);
	return err;
}

/* The file name as the recipient will see it: last path component, no control characters. */
static int xup_clean_filename(const char *raw, char out[X_MAX_FILENAME + 1])
{
	const char *base = raw, *p;

	for (p = raw; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return ERR_INVALID;
	if (strlen(base) > X_MAX_FILENAME || !str_is_clean_utf8(base, strlen(base)) || strchr(base, '\t'))
		return ERR_INVALID;
	for (p = base; *p; p++)
		if ((unsigned char)*p == 0x7f)
			return ERR_INVALID;
	return str_copy(out, X_MAX_FILENAME + 1, base);
}

/* XUP_SEND: checks the fields that came before the first file. */
static int xup_check_fields(struct xup *u, int64_t *ret_exp_ms)
{
	int64_t exp_ms;

	if (!email_is_valid(u->to))
		return xup_fail(u, ERR_INVALID, "to", "to must be one email address (fields come before the files)");
	if (u->expires[0]) {
		if (str_parse_duration_ms(u->expires, &exp_ms) < 0 || exp_ms < 1000)
			return xup_fail(u, ERR_INVALID, "expires", "expires must be a duration such as 3d or 12h");
	} else {
		exp_ms = u->app->cfg.exchange_default_expiry_s * 1000;
	}
	if (exp_ms > u->app->cfg.exchange_max_expiry_s * 1000)
		return xup_fail(u, ERR_INVALID, "expires", "expires is longer than the administrator allows");
	if (u->downloads < 1 || u->downloads > u->app->cfg.exchange_max_downloads)
		return xup_fail(u, ERR_INVALID, "downloads", "downloads is out of the allowed range");
	*ret_exp_ms = exp_ms;
	return 0;
}

/* XUP_SEND: the first file part: check the fields and create the (invisible) transfer. */
static int xup_create(struct xup *u)
{
	const struct principal *p = http_req_principal(u->req);
	unsigned char salt[XC_SALT], check[XC_CHECK], held[X_HOLD_MAX];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t now = rtime_now_ms(), exp_ms = 0;
	size_t held_len = 0;
	int r;

	r = xup_check_fields(u, &exp_ms);
	if (r < 0)
		return r;
	r = xappr_needed(u->c, p->org_path, u->to, u->approver);
	if (r < 0)
		return r;
	u->pending = r == 1;
	u->quota_used = xfer_quota_used(u->c, p->person_id);
	ids_ulid(u->tid, now);
	xblob_password_new(u->password);
	r = rcrypto_token_new(u->token, sizeof(u->token), "x");
	if (r < 0)
		return r;
	randombytes_buf(salt, sizeof(salt));
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xblob_derive(u->token, u->password, salt, u->key);
	if (r < 0)
		return r;
	xblob_key_check(u->key, check);
	rcrypto_token_hash(u->token, hash);
	if (u->pending) {
		r = xblob_hold_seal(u->app, u->tid, u->token, held, &held_len);
		if (r < 0)
			return r;
	}
	r = store_exec(u->c, "INSERT INTO exchange_transfers (id, kind, owner_id, owner_org_path, peer_email, "
			     "message, token_hash, kdf_salt, key_check, status, created_at, updated_at, expires_at, "
			     "downloads_max, downloads_left, approval, held_link, approver_id) VALUES ($1, 'send', $2, $3, "
			     "$4, $5, $6, $7, $8, 'uploading', $9, $9, $10, $11, $11, $12, $13, $14)",
		       STORE_ARGS(SA_TEXT(u->tid), SA_TEXT(p->person_id), SA_TEXT(p->org_path), SA_TEXT(u->to),
				  SA_TEXT(u->message), SA_TEXT(hash), SA_BLOB(salt, sizeof(salt)),
				  SA_BLOB(check, sizeof(check)), SA_I64(now), SA_I64(now + exp_ms),
				  SA_I64(u->downloads), SA_TEXT(u->pending ? "pending" : "none"),
				  u->pending ? SA_BLOB(held, held_len) : SA_NULL,
				  u->pending && u->approver[0] ? SA_TEXT(u->approver) : SA_NULL));
	sodium_memzero(held, sizeof(held));
	if (r < 0)
		return r;
	u->expires_at = now + exp_ms;
	u->created = true;
	return 0;
}

/* XUP_REQUEST: the password field arrived before the first file: check it and take the request. */
static int xup_request_open(struct xup *u)
{
	unsigned char check[XC_CHECK];
	bool burned = false;
	int r;

	if (!u->has_password)
		return xup_fail(u, ERR_INVALID, "password", "Enter the password before choosing files.");
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xblob_derive(u->token, u->password, u->row.salt, u->key);
	if (r < 0)
		return r;
	xblob_key_check(u->key, check);
	if (sodium_memcmp(check, u->row.check, sizeof(check)) != 0) {
		xlink_password_failed(u->app, http_req_audit_ctx(u->req), u->c, &u->row, &burned);
		if (burned)
			return xpage_gone(u->resp, "burned");
		xpage(u->resp, 403, "Wrong password", "The password is not right. Try again.", NULL);
		return ERR_FORBIDDEN;
	}
	r = store_exec(u->c, "UPDATE exchange_transfers SET status = 'receiving', updated_at = $2 "
			     "WHERE id = $1 AND status = 'awaiting_upload' AND expires_at > $2",
		       STORE_ARGS(SA_TEXT(u->row.id), SA_I64(rtime_now_ms())));
	if (r < 0)
		return r;
	if (r == 0)
		return xpage_gone(u->resp, "used");
	u->receiving = true;
	str_copy(u->tid, sizeof(u->tid), u->row.id);
	u->quota_used = xfer_quota_used(u->c, u->row.owner_id);
	return 0;
}

static int xup_part_begin(void *ud, const char *name, const char *filename)
{
	struct xup *u = ud;
	char path[800];
	int r;

	if (!filename) {
		/* A name that is not clean text is unknown, and is not echoed back as the error's field. */
		if (strlen(name) >= sizeof(u->field_name) || !str_is_clean_utf8(name, strlen(name)))
			return xup_fail(u, ERR_INVALID, NULL, "unknown form field");
		str_copy(u->field_name, sizeof(u->field_name), name);
		buf_reset(&u->field);
		u->in_file = false;
		return 0;
	}
	if (u->mode == XUP_FORM)
		return xup_fail(u, ERR_INVALID, NULL, "This link takes no files.");
	if (u->nfiles == X_MAX_FILES)
		return xup_fail(u, ERR_TOO_LARGE, "file", "too many files in one transfer");
	if (xup_clean_filename(filename, u->fname) < 0)
		return xup_fail(u, ERR_INVALID, "file",
				"a file name is empty, too long or holds control characters");
	if (!u->created && !u->receiving) {
		r = u->mode == XUP_SEND ? xup_create(u) : xup_request_open(u);
		if (r < 0)
			return r;
		r = xblob_dir_create(u->app, u->tid, u->dir, sizeof(u->dir));
		if (r < 0)
			return r;
	}
	ids_ulid(u->fid, rtime_now_ms());
	snprintf(path, sizeof(path), "%s/%s", u->dir, u->fid);
	r = xblob_writer_open(&u->w, path, u->key);
	if (r < 0)
		return r;
	u->fsize = 0;
	u->in_file = true;
	return 0;
}

static int xup_part_data(void *ud, const char *data, size_t len)
{
	struct xup *u = ud;
	int64_t now;
	int r;

	if (!u->in_file) {
		if (buf_append(&u->field, data, len) < 0)
			return xup_fail(u, ERR_TOO_LARGE, u->field_name, "a form field is too long");
		return 0;
	}
	if (u->fsize + (int64_t)len > u->app->cfg.exchange_max_file)
		return xup_fail(u, ERR_TOO_LARGE, "file", "a file is larger than the limit");
	if (u->quota_used + u->total + (int64_t)len > u->app->cfg.exchange_quota)
		return xup_fail(u, ERR_TOO_LARGE, "file", "the transfer would exceed the quota for stored files");
	u->fsize += (int64_t)len;
	u->total += (int64_t)len;
	r = xblob_writer_write(&u->w, data, len);
	if (r < 0)
		return r;
	/* A heartbeat, so that the sweeper never takes a live upload for an abandoned one. */
	now = rtime_now_ms();
	if (now - u->last_beat > X_BEAT_MS) {
		u->last_beat = now;
		store_exec(u->c, "UPDATE exchange_transfers SET updated_at = $2 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(u->tid), SA_I64(now)));
	}
	return 0;
}

/*
 * True if @v (@n bytes) is a message's text: valid UTF-8 whose only
 * control characters are line breaks (CR, LF) and tabs.
 */
static bool xup_is_text(const char *v, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '\n' && v[i] != '\r')
			continue;
		/* CR and LF never sit inside a UTF-8 sequence, so each line is checked whole. */
		if (!str_is_clean_utf8(v + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

static int xup_set_field(struct xup *u)
{
	const char *v = u->field.data ? u->field.data : "";
	size_t n = u->field.len;
	int64_t i;

	/* Refused here, at input: text that is not UTF-8 could not be shown by the API later. */
	if (strcmp(u->field_name, "message") == 0) {
		if (!xup_is_text(v, n))
			return xup_fail(u, ERR_INVALID, "message", "message must be UTF-8 text without control "
					"characters other than line breaks and tabs");
	} else if (memchr(v, '\0', n) || !str_is_clean_utf8(v, n)) {
		return xup_fail(u, ERR_INVALID, u->field_name, "a field holds control characters");
	}
	if (u->mode == XUP_SEND) {
		if (strcmp(u->field_name, "to") == 0)
			return str_copy(u->to, sizeof(u->to), v) < 0 ? xup_fail(u, ERR_INVALID, "to", "to is too long") : 0;
		if (strcmp(u->field_name, "message") == 0)
			return str_copy(u->message, sizeof(u->message), v) < 0 ?
				xup_fail(u, ERR_INVALID, "message", "message is longer than 2000 bytes") : 0;
		if (strcmp(u->field_name, "expires") == 0)
			return str_copy(u->expires, sizeof(u->expires), v) < 0 ?
				xup_fail(u, ERR_INVALID, "expires", "expires is not a duration") : 0;
		if (strcmp(u->field_name, "downloads") == 0) {
			if (str_parse_i64(v, 1, 1000, &i) < 0)
				return xup_fail(u, ERR_INVALID, "downloads", "downloads must be a whole number");
			u->downloads = i;
			return 0;
		}
	} else if (strcmp(u->field_name, "password") == 0) {
		if (str_copy(u->password, sizeof(u->password), v) < 0)
			return xup_fail(u, ERR_INVALID, "password", "The password is not right.");
		u->has_password = true;
		sodium_memzero(u->field.data, u->field.len);
		return 0;
	}
	return xup_fail(u, ERR_INVALID, u->field_name, "unknown form field");
}

static int xup_part_end(void *ud)
{
	struct xup *u = ud;
	int64_t now = rtime_now_ms();
	int r;

	if (!u->in_file)
		return xup_set_field(u);
	r = xblob_writer_close(&u->w);
	u->in_file = false;
	if (r < 0)
		return r;
	r = store_exec(u->c, "INSERT INTO exchange_files (id, transfer_id, seq, name, size, created_at) "
			     "VALUES ($1, $2, $3, $4, $5, $6)",
		       STORE_ARGS(SA_TEXT(u->fid), SA_TEXT(u->tid), SA_I64(u->nfiles), SA_TEXT(u->fname),
				  SA_I64(u->fsize), SA_I64(now)));
	if (r < 0)
		return r;
	u->nfiles++;
	return 0;
}

static const struct mp_callbacks xup_cbs = { xup_part_begin, xup_part_data, xup_part_end };

int xup_new(struct http_req *req, struct http_resp *resp, enum xup_mode mode, struct xup **ret)
{
	struct xup *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->app = http_req_app(req);
	u->req = req;
	u->resp = resp;
	u->mode = mode;
	u->downloads = 1;
	u->last_beat = rtime_now_ms();
	buf_init(&u->field, X_MAX_MESSAGE + 16);
	buf_init(&u->form, X_MAX_FORM);
	r = xblob_writer_init(&u->w);
	u->c = store_conn(u->app->store);
	if (!u->c || r < 0) {
		r = u->c ? -ENOMEM : ERR_STORE;
		xup_free(u);
		return r;
	}
	http_req_on_done(req, xup_free, u);
	*ret = u;
	return 0;
}

int xup_start(struct xup *u, const char *content_type)
{
	return mp_init(&u->mp, content_type, &xup_cbs, u);
}

/* Makes the upload visible: all files are on disk; one UPDATE commits it. */
static int xup_commit(struct xup *u)
{
	int64_t now = rtime_now_ms(), used;
	const char *owner = u->mode == XUP_SEND ? http_req_principal(u->req)->person_id : u->row.owner_id;
	int r;

	if (u->nfiles == 0)
		return xup_fail(u, ERR_INVALID, "file", "no file was uploaded");
	r = fsio_sync_dir(u->dir);
	if (r < 0)
		return r;
	r = store_begin(u->c);
	if (r < 0)
		return r;
	/* The quota again, inside the write lock: parallel uploads of one person count too. */
	used = xfer_quota_used(u->c, owner);
	if (used + u->total > u->app->cfg.exchange_quota) {
		store_rollback(u->c);
		return xup_fail(u, ERR_TOO_LARGE, "file", "the transfer would exceed the quota for stored files");
	}
	r = store_exec(u->c, "UPDATE exchange_transfers SET status = 'active', total_bytes = $2, "
			     "file_count = $3, updated_at = $4 WHERE id = $1 AND status IN ('uploading', 'receiving')",
		       STORE_ARGS(SA_TEXT(u->tid), SA_I64(u->total), SA_I64(u->nfiles), SA_I64(now)));
	if (r == 1) {
		audit_req(u->req, u->c, "exchange.upload", "transfer", u->tid, AUDIT_SUCCESS,
			  json_pack("{s:s, s:I, s:I}", "kind", u->mode == XUP_SEND ? "send" : "request",
				    "files", (json_int_t)u->nfiles, "bytes", (json_int_t)u->total));
		r = store_commit(u->c);
	} else {
		store_rollback(u->c);
		r = r < 0 ? r : ERR_CONFLICT;
	}
	if (r == 0)
		u->committed = true;
	return r;
}

int xup_stream(struct xup *u, enum http_upload_phase ph, const char *data, size_t len)
{
	int r;

	if (ph == HTTP_UPLOAD_DATA) {
		r = mp_feed(&u->mp, data, len);
		if (r < 0 && u->mp.err.message[0])
			xup_fail(u, r, NULL, u->mp.err.message);
	} else if (mp_finish(&u->mp) < 0) {
		r = xup_fail(u, ERR_INVALID, NULL, u->mp.err.message);
	} else {
		r = xup_commit(u);
	}
	if (r < 0)
		xup_abort(u);
	return r;
}
