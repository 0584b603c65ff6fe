/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/transfer: the transfer model and its store queries: reading a
 * row by id or by link token, the state the API shows, a transfer as API
 * JSON, the storage quota.  No HTTP here.
 */
#include "exchange/internal.h"

#include <string.h>

#include "common/app.h"
#include "common/err.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "identity/people.h"
#include "store/store.h"

#define XFER_ROW_COLS "id, kind, owner_id, owner_org_path, peer_email, status, kdf_salt, key_check, " \
		      "expires_at, downloads_left, failures, file_count, approval, coalesce(approver_id, '')"

static int xfer_row_read(struct store_stmt *q, struct xfer_row *x)
{
	const void *b;
	size_t n;

	memset(x, 0, sizeof(*x));
	if (str_copy(x->id, sizeof(x->id), store_col_text(q, 0)) < 0 ||
	    str_copy(x->kind, sizeof(x->kind), store_col_text(q, 1)) < 0 ||
	    str_copy(x->owner_id, sizeof(x->owner_id), store_col_text(q, 2)) < 0 ||
	    str_copy(x->owner_org_path, sizeof(x->owner_org_path), store_col_text(q, 3)) < 0 ||
	    str_copy(x->peer_email, sizeof(x->peer_email), store_col_text(q, 4)) < 0 ||
	    str_copy(x->status, sizeof(x->status), store_col_text(q, 5)) < 0)
		return ERR_STORE;
	b = store_col_blob(q, 6, &n);
	if (b && n == XC_SALT)
		memcpy(x->salt, b, XC_SALT);
	b = store_col_blob(q, 7, &n);
	if (b && n == XC_CHECK)
		memcpy(x->check, b, XC_CHECK);
	x->expires_at = store_col_i64(q, 8);
	x->downloads_left = store_col_i64(q, 9);
	x->failures = store_col_i64(q, 10);
	x->file_count = store_col_i64(q, 11);
	if (str_copy(x->approval, sizeof(x->approval), store_col_text(q, 12)) < 0 ||
	    str_copy(x->approver_id, sizeof(x->approver_id), store_col_text(q, 13)) < 0)
		return ERR_STORE;
	return 0;
}

static int xfer_row_by(struct store_conn *c, const char *col_sql, const char *value, struct xfer_row *x)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, col_sql, STORE_ARGS(SA_TEXT(value)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	r = r == 1 ? xfer_row_read(q, x) : r == 0 ? ERR_NOT_FOUND : r;
	store_stmt_free(q);
	return r;
}

int xfer_row_by_token(struct store_conn *c, const char *token, struct xfer_row *x)
{
	char h[RCRYPTO_HASH_HEX_SIZE];

	if (strlen(token) >= RCRYPTO_TOKEN_SIZE)
		return ERR_NOT_FOUND;
	rcrypto_token_hash(token, h);
	return xfer_row_by(c, "SELECT " XFER_ROW_COLS " FROM exchange_transfers WHERE token_hash = $1", h, x);
}

int xfer_row_by_id(struct store_conn *c, const char *id, struct xfer_row *x)
{
	if (!ids_is_ulid(id))
		return ERR_NOT_FOUND;
	return xfer_row_by(c, "SELECT " XFER_ROW_COLS " FROM exchange_transfers WHERE id = $1", id, x);
}

const char *xfer_state(const char *status, const char *approval, int64_t expires_at, int64_t downloads_left,
		       bool opened, bool downloaded, int64_t now)
{
	if (strcmp(approval, "rejected") == 0)
		return "rejected";
	if (strcmp(status, "active") == 0) {
		if (expires_at <= now)
			return "expired";
		if (strcmp(approval, "pending") == 0)
			return "pending_approval";
		if (downloads_left <= 0 || downloaded)
			return "downloaded";
		return opened ? "opened" : "sent";
	}
	if (strcmp(status, "awaiting_upload") == 0 || strcmp(status, "receiving") == 0)
		return expires_at <= now ? "expired" : "requested";
	return status;
}

const char *const xfer_list_cols =
	"SELECT t.id, t.kind, t.status, t.owner_id, p.login, t.peer_email, t.message, t.created_at, "
	"t.expires_at, t.downloads_max, t.downloads_left, t.failures, t.total_bytes, t.file_count, "
	"t.opened_at, t.downloaded_at, t.downloaded_from, t.ended_at, t.mail_status, t.owner_org_path, "
	"t.approval, t.decided_at, d.login, ap.login "
	"FROM exchange_transfers t" PEOPLE_SQL_JOIN("p", "t.owner_id") PEOPLE_SQL_JOIN("d", "t.decided_by")
	PEOPLE_SQL_JOIN("ap", "t.approver_id") " ";

json_t *xfer_row_json(struct store_stmt *q, void *ud)
{
	int64_t now = *(const int64_t *)ud;
	bool opened = !store_col_is_null(q, 14), downloaded = !store_col_is_null(q, 15);
	json_t *o = json_object();

	if (!o)
		return NULL;
	jsonx_set_str(o, "id", store_col_text(q, 0));
	jsonx_set_str(o, "kind", store_col_text(q, 1));
	jsonx_set_str(o, "state", xfer_state(store_col_text(q, 2), store_col_text(q, 20), store_col_i64(q, 8),
					     store_col_i64(q, 10), opened, downloaded, now));
	json_object_set_new(o, "owner", json_pack("{s:s?, s:s?}", "id", store_col_text(q, 3),
						   "login", store_col_text(q, 4)));
	jsonx_set_str(o, strcmp(store_col_text(q, 1), "send") == 0 ? "to" : "from", store_col_text(q, 5));
	jsonx_set_str(o, "message", store_col_text(q, 6));
	jsonx_set_time(o, "created_at", store_col_i64(q, 7));
	jsonx_set_time(o, "expires_at", store_col_i64(q, 8));
	json_object_set_new(o, "downloads_max", json_integer(store_col_i64(q, 9)));
	json_object_set_new(o, "downloads_left", json_integer(store_col_i64(q, 10)));
	json_object_set_new(o, "password_failures", json_integer(store_col_i64(q, 11)));
	json_object_set_new(o, "total_bytes", json_integer(store_col_i64(q, 12)));
	json_object_set_new(o, "file_count", json_integer(store_col_i64(q, 13)));
	jsonx_set_time(o, "opened_at", store_col_i64(q, 14));
	jsonx_set_time(o, "downloaded_at", store_col_i64(q, 15));
	jsonx_set_str(o, "downloaded_from", store_col_text(q, 16));
	jsonx_set_time(o, "ended_at", store_col_i64(q, 17));
	jsonx_set_str(o, "mail", store_col_text(q, 18));
	jsonx_set_str(o, "approval", store_col_text(q, 20));
	if (!store_col_is_null(q, 21)) {
		jsonx_set_time(o, "decided_at", store_col_i64(q, 21));
		jsonx_set_str(o, "decided_by", store_col_text(q, 22));
	}
	if (!store_col_is_null(q, 23))
		jsonx_set_str(o, "approver", store_col_text(q, 23));
	return o;
}

/* The files of transfer @id, in upload order. */
static json_t *xfer_files_json(struct store_conn *c, const char *id)
{
	json_t *files = json_array();
	struct store_stmt *q;

	if (store_query(c, "SELECT id, name, size FROM exchange_files WHERE transfer_id = $1 ORDER BY seq",
			STORE_ARGS(SA_TEXT(id)), &q) == 0) {
		while (store_step(q) == 1)
			json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "id", store_col_text(q, 0),
							      "name", store_col_text(q, 1),
							      "size", (json_int_t)store_col_i64(q, 2)));
		store_stmt_free(q);
	}
	return files;
}

/* The downloads of transfer @id: when and from where. */
static json_t *xfer_downloads_json(struct store_conn *c, const char *id)
{
	json_t *dl = json_array();
	struct store_stmt *q;

	if (store_query(c, "SELECT at, source FROM exchange_downloads WHERE transfer_id = $1 ORDER BY id",
			STORE_ARGS(SA_TEXT(id)), &q) == 0) {
		while (store_step(q) == 1) {
			json_t *d = json_object();

			jsonx_set_time(d, "at", store_col_i64(q, 0));
			jsonx_set_str(d, "from", store_col_text(q, 1));
			json_array_append_new(dl, d);
		}
		store_stmt_free(q);
	}
	return dl;
}

json_t *xfer_detail_json(struct store_conn *c, const char *id)
{
	int64_t now = rtime_now_ms();
	struct store_stmt *q;
	json_t *o = NULL;
	struct buf sql;
	int r;

	buf_init(&sql, 4096);
	buf_puts(&sql, xfer_list_cols);
	buf_puts(&sql, "WHERE t.id = $1");
	r = store_query(c, sql.data, STORE_ARGS(SA_TEXT(id)), &q);
	buf_done(&sql);
	if (r < 0)
		return NULL;
	if (store_step(q) == 1)
		o = xfer_row_json(q, &now);
	store_stmt_free(q);
	if (!o)
		return NULL;
	json_object_set_new(o, "files", xfer_files_json(c, id));
	json_object_set_new(o, "downloads", xfer_downloads_json(c, id));
	return o;
}

int64_t xfer_quota_used(struct store_conn *c, const char *owner_id)
{
	int64_t used = 0;

	store_query_i64(c, "SELECT COALESCE(SUM(total_bytes), 0) FROM exchange_transfers WHERE owner_id = $1 "
			   "AND status IN ('uploading', 'receiving', 'active', 'awaiting_upload')",
			STORE_ARGS(SA_TEXT(owner_id)), &used);
	return used;
}

void xfer_drop_blobs(struct app *app, struct store_conn *c, const char *tid)
{
	xblob_remove(app, tid);
	store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1, key_check = $2, kdf_salt = $2 WHERE id = $1",
		   STORE_ARGS(SA_TEXT(tid), SA_BLOB("", 0)));
}
