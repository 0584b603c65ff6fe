/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange: model, store queries, streaming upload and download, sweeper
 * and notification mail of the secure exchange site (see exchange.h).
 *
 * Blobs live in DATA/blobs/<transfer id>/<file id>: "RXB1", a secretstream
 * header, then chunks of XC_CHUNK plaintext bytes tagged MESSAGE and a last
 * shorter (possibly empty) chunk tagged FINAL; the file id is the additional
 * data, so blobs cannot be swapped.  Transfer states: uploading (invisible)
 * -> active; awaiting_upload -> receiving -> active for requests; active ->
 * revoked | expired | burned.  A used-up transfer stays active with
 * downloads_left = 0.
 *
 * Approval (migration 0004): a transfer sent by someone whose org unit (or
 * a unit above it) requires approval, to an address that is no person's in
 * the directory, is created with approval = 'pending'.  Its link cannot be
 * used and is not mailed; the link is kept sealed (XChaCha20-Poly1305 under
 * the server's secret key, the transfer id as additional data) in held_link
 * until the sender's manager, the unit's named approver (migration 0006) or an
 * administrator (never the sender) decides.
 * Approving mails the link and empties held_link; rejecting ends the
 * transfer (status revoked, approval rejected) and deletes its files.
 */
#include "exchange/exchange.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"
#include "crypto/rcrypto.h"
#include "exchange/multipart.h"
#include "http/http.h"
#include "store/store.h"

#define XC_CHUNK 65536
#define XC_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define XC_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define XC_KEY 32
#define XC_SALT crypto_pwhash_SALTBYTES
#define XC_MAGIC "RXB1"
#define X_MAX_EMAIL 254
#define X_MAX_MESSAGE 2000
#define X_MAX_FILENAME 255
#define X_MAX_FILES 100
#define X_MAX_FORM 4096
#define X_PASSWORD_SIZE 32
#define X_STALE_UPLOAD_MS (15 * 60 * 1000)
#define X_BEAT_MS 30000

/* ---------------------------------------------------------------- authorization */

bool exchange_may(const struct principal *p, enum exchange_action a, const struct exchange_target *t)
{
	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return false;
	switch (a) {
	case EXCHANGE_CREATE:
		return true;
	case EXCHANGE_SWEEP:
	case EXCHANGE_CONFIGURE:
		return principal_has(p, ROLE_ADMIN);
	case EXCHANGE_READ_SETTINGS:
		return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR);
	case EXCHANGE_READ:
	case EXCHANGE_REVOKE:
		if (!t)
			return false;
		if (strcmp(p->person_id, t->owner_id) == 0)
			return true;
		if (principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER))
			return true;
		if (a == EXCHANGE_READ && principal_has(p, ROLE_AUDITOR))
			return true;
		if (principal_has(p, ROLE_SECURITY_MANAGER) && p->manages_path[0] &&
		    org_path_within(t->owner_org_path, p->manages_path))
			return true;
		return false;
	}
	return false;
}

/* ---------------------------------------------------------------- crypto */

/* Derives the file key from the link token and the password (Argon2id). */
static int xc_derive(const char *token, const char *password, const unsigned char *salt,
		     unsigned char key[XC_KEY])
{
	const char *fast = secure_getenv("RAMPART_TEST_FAST_PWHASH");
	unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	char in[RCRYPTO_TOKEN_SIZE + X_PASSWORD_SIZE + 2];
	int n, r;

	if (fast && strcmp(fast, "1") == 0) {
		ops = crypto_pwhash_OPSLIMIT_MIN;
		mem = crypto_pwhash_MEMLIMIT_MIN;
	}
	n = snprintf(in, sizeof(in), "%s\n%s", token, password);
	if (n < 0 || (size_t)n >= sizeof(in))
		return ERR_INVALID;
	r = crypto_pwhash(key, XC_KEY, in, (unsigned long long)n, salt, ops, mem,
			  crypto_pwhash_ALG_ARGON2ID13);
	sodium_memzero(in, sizeof(in));
	return r == 0 ? 0 : -ENOMEM;
}

/* What is stored to recognize the right password: a keyed hash, not the key. */
static void xc_check(const unsigned char key[XC_KEY], unsigned char out[32])
{
	static const char label[] = "rampart exchange key check v1";

	crypto_generichash(out, 32, (const unsigned char *)label, sizeof(label) - 1, key, XC_KEY);
}

/* A password for people to type: 4 groups of 4 unambiguous characters (80 bits). */
static void x_password_new(char out[X_PASSWORD_SIZE])
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		out[o++] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	}
	out[o] = '\0';
}

/* ---------------------------------------------------------------- blobs */

static int x_blob_dir(const struct app *app, const char *tid, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/blobs/%s", app->cfg.data_dir, tid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Removes a transfer's blob directory and everything in it; missing is fine. */
static int x_blobs_remove(const struct app *app, const char *tid)
{
	char dir[700], path[800];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (!ids_is_ulid(tid) || x_blob_dir(app, tid, dir, sizeof(dir)) < 0)
		return -EINVAL;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (unlink(path) < 0 && errno != ENOENT)
			r = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

static int x_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int x_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int x_read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t got = read(fd, c, n);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -EIO;   /* truncated blob */
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/* ---------------------------------------------------------------- mail */

static bool x_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (n < 3 || n > X_MAX_EMAIL || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || strchr("<>()[],;:\\\"", *c))
			return false;
	return true;
}

struct x_mail_src {
	const char *data;
	size_t len, pos;
};

static size_t x_mail_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct x_mail_src *m = ud;
	size_t n = size * nitems;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return n;
}

/*
 * Sends a plain-text mail through [exchange] smtp_url.  Returns 0, -ENOTCONN
 * when no relay is configured, or ERR_UNAVAILABLE when the relay refused it.
 * The body may hold a link: it is never logged.
 */
static int x_mail(const struct app *app, const char *to, const char *subject, const char *body)
{
	struct curl_slist *rcpt = NULL;
	struct x_mail_src src;
	struct buf msg;
	char addr[300], date[64], mid[ULID_SIZE];
	time_t now = time(NULL);
	struct tm tm;
	CURLcode cr;
	CURL *h;
	int r;

	if (!app->cfg.smtp_url[0])
		return -ENOTCONN;
	if (!x_email_ok(to) || !x_email_ok(app->cfg.smtp_from))
		return ERR_INVALID;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	ids_ulid(mid, rtime_now_ms());
	buf_init(&msg, 64 * 1024);
	r = buf_printf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@rampart>\r\n"
		       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		       "Content-Transfer-Encoding: 8bit\r\n\r\n",
		       app->cfg.smtp_from, to, subject, date, mid);
	for (const char *p = body; r == 0 && *p; p++)
		r = *p == '\n' ? buf_puts(&msg, "\r\n") : buf_append(&msg, p, 1);
	if (r < 0) {
		buf_done(&msg);
		return r;
	}
	h = curl_easy_init();
	if (!h) {
		buf_done(&msg);
		return -ENOMEM;
	}
	snprintf(addr, sizeof(addr), "<%s>", to);
	rcpt = curl_slist_append(NULL, addr);
	src = (struct x_mail_src){ msg.data, msg.len, 0 };
	snprintf(addr, sizeof(addr), "<%s>", app->cfg.smtp_from);
	curl_easy_setopt(h, CURLOPT_URL, app->cfg.smtp_url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, x_mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	cr = rcpt ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	sodium_memzero(msg.data, msg.len);
	buf_done(&msg);
	if (cr != CURLE_OK) {
		log_warn("exchange: the mail relay refused a notification", "error=\"%s\"", curl_easy_strerror(cr));
		return ERR_UNAVAILABLE;
	}
	return 0;
}

/* ---------------------------------------------------------------- transfers */

struct x_row {
	char id[ULID_SIZE];
	char kind[16];
	char owner_id[ULID_SIZE];
	char owner_org_path[PRINCIPAL_PATH_SIZE];
	char peer_email[X_MAX_EMAIL + 1];
	char status[24];
	unsigned char salt[XC_SALT];
	unsigned char check[32];
	int64_t expires_at, downloads_left, failures, file_count;
	char approval[16];
	char approver_id[ULID_SIZE];     /* the named approver of a held transfer, or "" */
};

#define X_ROW_COLS "id, kind, owner_id, owner_org_path, peer_email, status, kdf_salt, key_check, " \
		   "expires_at, downloads_left, failures, file_count, approval, coalesce(approver_id, '')"

static int x_row_read(struct store_stmt *q, struct x_row *x)
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
	if (b && n == 32)
		memcpy(x->check, b, 32);
	x->expires_at = store_col_i64(q, 8);
	x->downloads_left = store_col_i64(q, 9);
	x->failures = store_col_i64(q, 10);
	x->file_count = store_col_i64(q, 11);
	if (str_copy(x->approval, sizeof(x->approval), store_col_text(q, 12)) < 0 ||
	    str_copy(x->approver_id, sizeof(x->approver_id), store_col_text(q, 13)) < 0)
		return ERR_STORE;
	return 0;
}

static int x_row_by(struct store_conn *c, const char *col_sql, const char *value, struct x_row *x)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, col_sql, STORE_ARGS(SA_TEXT(value)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	r = r == 1 ? x_row_read(q, x) : r == 0 ? ERR_NOT_FOUND : r;
	store_stmt_free(q);
	return r;
}

static int x_row_by_token(struct store_conn *c, const char *token, struct x_row *x)
{
	char h[RCRYPTO_HASH_HEX_SIZE];

	if (strlen(token) >= RCRYPTO_TOKEN_SIZE)
		return ERR_NOT_FOUND;
	rcrypto_token_hash(token, h);
	return x_row_by(c, "SELECT " X_ROW_COLS " FROM exchange_transfers WHERE token_hash = $1", h, x);
}

static int x_row_by_id(struct store_conn *c, const char *id, struct x_row *x)
{
	if (!ids_is_ulid(id))
		return ERR_NOT_FOUND;
	return x_row_by(c, "SELECT " X_ROW_COLS " FROM exchange_transfers WHERE id = $1", id, x);
}

static const char *x_state(const char *status, const char *approval, int64_t expires_at,
			   int64_t downloads_left, bool opened, bool downloaded, int64_t now)
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

static const char *const x_list_cols =
	"SELECT t.id, t.kind, t.status, t.owner_id, p.login, t.peer_email, t.message, t.created_at, "
	"t.expires_at, t.downloads_max, t.downloads_left, t.failures, t.total_bytes, t.file_count, "
	"t.opened_at, t.downloaded_at, t.downloaded_from, t.ended_at, t.mail_status, t.owner_org_path, "
	"t.approval, t.decided_at, d.login, ap.login "
	"FROM exchange_transfers t JOIN people p ON p.id = t.owner_id LEFT JOIN people d ON d.id = t.decided_by "
	"LEFT JOIN people ap ON ap.id = t.approver_id ";

static json_t *x_row_json(struct store_stmt *q, int64_t now)
{
	bool opened = !store_col_is_null(q, 14), downloaded = !store_col_is_null(q, 15);
	json_t *o = json_object();

	if (!o)
		return NULL;
	jsonx_set_str(o, "id", store_col_text(q, 0));
	jsonx_set_str(o, "kind", store_col_text(q, 1));
	jsonx_set_str(o, "state", x_state(store_col_text(q, 2), store_col_text(q, 20), store_col_i64(q, 8),
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

/* ---------------------------------------------------------------- pages */

static int x_html_escape(struct buf *b, const char *s)
{
	int r = 0;

	for (; r == 0 && *s; s++) {
		switch (*s) {
		case '<': r = buf_puts(b, "&lt;"); break;
		case '>': r = buf_puts(b, "&gt;"); break;
		case '&': r = buf_puts(b, "&amp;"); break;
		case '"': r = buf_puts(b, "&quot;"); break;
		case '\'': r = buf_puts(b, "&#39;"); break;
		default: r = buf_append(b, s, 1);
		}
	}
	return r;
}

/*
 * A self-contained page: no script, no external resource (the layer's CSP
 * is default-src 'none').  @text is escaped; @form_html is trusted markup.
 */
static int x_page(struct http_resp *resp, int status, const char *title, const char *text,
		  const char *form_html)
{
	struct buf b;
	int r;

	buf_init(&b, 64 * 1024);
	r = buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width\">"
			 "<meta name=\"robots\" content=\"noindex\"><title>");
	r = r ? r : x_html_escape(&b, title);
	r = r ? r : buf_puts(&b, " - Rampart</title></head><body><main><h1>");
	r = r ? r : x_html_escape(&b, title);
	r = r ? r : buf_puts(&b, "</h1><p>");
	r = r ? r : x_html_escape(&b, text);
	r = r ? r : buf_puts(&b, "</p>");
	r = r ? r : buf_puts(&b, form_html ? form_html : "");
	r = r ? r : buf_puts(&b, "</main></body></html>\n");
	if (r == 0)
		r = http_resp_data(resp, status, "text/html; charset=utf-8", b.data, b.len);
	buf_done(&b);
	if (r == 0)
		http_resp_header(resp, "X-Robots-Tag", "noindex");
	return r;
}

/* The page for a link that can no longer be used; returns an error for the layer. */
static int x_page_gone(struct http_resp *resp, const char *state)
{
	const char *text = strcmp(state, "expired") == 0 ? "This link has expired. Ask the sender for a new one."
		: strcmp(state, "burned") == 0 ? "This link was blocked after too many wrong passwords. Ask the sender for a new one."
		: strcmp(state, "revoked") == 0 ? "The sender withdrew this link."
		: "This link has already been used.";

	x_page(resp, 410, "Link no longer available", text, NULL);
	return ERR_CONFLICT;
}

/* The page for a link whose transfer waits for approval: nothing is counted or consumed. */
static int x_page_pending(struct http_resp *resp)
{
	x_page(resp, 403, "Not available yet",
	       "This transfer waits for approval in the sender's organization. Try again later.", NULL);
	return ERR_FORBIDDEN;
}

static int x_page_not_found(struct http_resp *resp)
{
	x_page(resp, 404, "Link not valid", "This link is not valid. Check that you copied all of it.", NULL);
	return ERR_NOT_FOUND;
}

/* ---------------------------------------------------------------- approval */

#define X_HOLD_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define X_HOLD_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define X_HOLD_MAX (X_HOLD_NONCE + RCRYPTO_TOKEN_SIZE + X_HOLD_ABYTES)

/*
 * Whether a transfer from a sender in @org_path to @to waits for approval:
 * 1 when the sender's unit or one above it requires it and @to is not the
 * email of a person in the directory (retired people count as outside),
 * 0 when not, or a store error (the caller refuses the transfer then).
 * On 1, @ret_approver (ULID_SIZE bytes) receives the named approver of the
 * deepest such unit, or "".
 */
static int x_approval_needed(struct store_conn *c, const char *org_path, const char *to, char *ret_approver)
{
	char approver[ULID_SIZE] = "";
	struct store_stmt *q;
	int64_t n = 0;
	int r;

	if (!org_path[0])
		return 0;
	r = store_query(c, "SELECT coalesce(a.approver_id, '') FROM exchange_approval_units a JOIN org_units o "
			   "ON o.id = a.org_unit_id WHERE a.required = 1 AND (o.path = $1 OR "
			   "substr($1, 1, length(o.path) + 1) = o.path || '/') ORDER BY length(o.path) DESC LIMIT 1",
			STORE_ARGS(SA_TEXT(org_path)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		str_copy(approver, sizeof(approver), store_col_text(q, 0));
	store_stmt_free(q);
	if (r <= 0)
		return r;
	r = store_query_i64(c, "SELECT count(*) FROM people WHERE lower(email) = lower($1) AND status <> 'retired'",
			    STORE_ARGS(SA_TEXT(to)), &n);
	if (r < 0)
		return r;
	if (n > 0)
		return 0;
	memcpy(ret_approver, approver, sizeof(approver));
	return 1;
}

/* True when @person_id is the manager of @owner_id in the directory. */
static bool x_is_manager_of(struct store_conn *c, const char *person_id, const char *owner_id)
{
	int64_t n = 0;

	if (!person_id[0])
		return false;
	return store_query_i64(c, "SELECT count(*) FROM people WHERE id = $1 AND manager_id = $2",
			       STORE_ARGS(SA_TEXT(owner_id), SA_TEXT(person_id)), &n) == 0 && n > 0;
}

/*
 * True when @person_id may decide on the held transfer @x besides an admin:
 * the owner's manager in the directory, or the named approver kept on it;
 * never the owner.
 */
static bool x_is_approver(struct store_conn *c, const char *person_id, const struct x_row *x)
{
	if (!person_id[0] || strcmp(person_id, x->owner_id) == 0)
		return false;
	return strcmp(person_id, x->approver_id) == 0 || x_is_manager_of(c, person_id, x->owner_id);
}

/* Seals @token for transfer @tid into @out (X_HOLD_MAX bytes); *ret_len its length. */
static int x_hold_seal(const struct app *app, const char *tid, const char *token, unsigned char *out,
		       size_t *ret_len)
{
	size_t n = strlen(token);
	unsigned long long clen;

	if (!app->secret_key || n >= RCRYPTO_TOKEN_SIZE)
		return ERR_INTERNAL;
	randombytes_buf(out, X_HOLD_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + X_HOLD_NONCE, &clen, (const unsigned char *)token, n,
						   (const unsigned char *)tid, strlen(tid), NULL, out,
						   app->secret_key);
	*ret_len = X_HOLD_NONCE + (size_t)clen;
	return 0;
}

/* Opens a held link into @token (RCRYPTO_TOKEN_SIZE bytes).  ERR_INTERNAL when it does not open. */
static int x_hold_open(const struct app *app, const char *tid, const void *blob, size_t len,
		       char token[RCRYPTO_TOKEN_SIZE])
{
	const unsigned char *b = blob;
	unsigned long long mlen;

	if (!app->secret_key || !blob || len <= X_HOLD_NONCE + X_HOLD_ABYTES || len > X_HOLD_MAX)
		return ERR_INTERNAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)token, &mlen, NULL, b + X_HOLD_NONCE,
						       len - X_HOLD_NONCE, (const unsigned char *)tid, strlen(tid),
						       b, app->secret_key) != 0 ||
	    mlen >= RCRYPTO_TOKEN_SIZE) {
		sodium_memzero(token, RCRYPTO_TOKEN_SIZE);
		log_error("exchange: a held link does not open (altered, or another server key)", "transfer=%s", tid);
		return ERR_INTERNAL;
	}
	token[mlen] = '\0';
	return 0;
}

/*
 * Mails @to the download link @url of a transfer from @sender.  Returns as
 * x_mail.  The body holds the link: it is wiped and never logged.
 */
static int x_mail_link(const struct app *app, const char *sender, const char *to, const char *message,
		       int64_t downloads, int64_t expires_at, const char *url)
{
	char body[4096], when[40];
	time_t sec = (time_t)(expires_at / 1000);
	struct tm tm;
	int r;

	gmtime_r(&sec, &tm);
	if (strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		return ERR_INTERNAL;
	snprintf(body, sizeof(body),
		 "%s sent you files through Rampart.\n\n%s%s%s"
		 "Download them here:\n%s\n\n"
		 "You need a password, which %s gives you another way (phone, chat).\n"
		 "The link works %lld time(s) and expires at %s.\n",
		 sender, message[0] ? "Message: " : "", message, message[0] ? "\n\n" : "",
		 url, sender, (long long)downloads, when);
	r = x_mail(app, to, "Files for you from Rampart", body);
	sodium_memzero(body, sizeof(body));
	return r;
}

/* ---------------------------------------------------------------- upload */

enum xup_mode { XUP_SEND, XUP_FORM, XUP_REQUEST };

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
	struct x_row row;           /* XUP_FORM, XUP_REQUEST: the link's transfer */
	char token[RCRYPTO_TOKEN_SIZE];
	char tid[ULID_SIZE];
	bool created, committed, receiving;
	bool pending;               /* XUP_SEND: waits for approval; the link is held, not mailed */
	char approver[ULID_SIZE];   /* with pending: the unit's named approver, or "" */
	unsigned char *key;         /* sodium_malloc'd, XC_KEY bytes */
	char dir[700];
	/* the file being written */
	int fd;
	char fid[ULID_SIZE];
	char fname[X_MAX_FILENAME + 1];
	int64_t fsize;
	unsigned nfiles;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *pbuf, *cbuf;
	size_t plen;
	int64_t total, quota_used, last_beat;
	/* XUP_FORM: the urlencoded body */
	struct buf form;
	int fail_status;
};

/* Removes what a refused or interrupted upload wrote, at once (before the answer goes out). */
static void xup_abort(struct xup *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	if ((u->created || u->receiving) && !u->committed) {
		/* Interrupted or refused: nothing of it may stay visible or on disk. */
		struct store_conn *c = store_conn(u->app->store);

		x_blobs_remove(u->app, u->tid);
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
	sodium_memzero(&u->st, sizeof(u->st));
	if (u->pbuf) {
		sodium_memzero(u->pbuf, XC_CHUNK);
		free(u->pbuf);
	}
	free(u->cbuf);
	buf_done(&u->field);
	if (u->form.data)
		sodium_memzero(u->form.data, u->form.len);
	buf_done(&u->form);
	free(u);
}

static int xup_fail(struct xup *u, int err, const char *field, const char *msg)
{
	if (u->mode == XUP_SEND)
		return http_fail(u->resp, err, field, "%s", msg);
	x_page(u->resp, err_http_status(err), err == ERR_TOO_LARGE ? "Too large" : "Upload refused", msg, NULL);
	return err;
}

/* The file name as the recipient will see it: last path component, no control characters. */
static int x_clean_filename(const char *raw, char out[X_MAX_FILENAME + 1])
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

static int64_t x_quota_used(struct store_conn *c, const char *owner_id)
{
	int64_t used = 0;

	store_query_i64(c, "SELECT COALESCE(SUM(total_bytes), 0) FROM exchange_transfers WHERE owner_id = $1 "
			   "AND status IN ('uploading', 'receiving', 'active', 'awaiting_upload')",
			STORE_ARGS(SA_TEXT(owner_id)), &used);
	return used;
}

/* XUP_SEND: the first file part: check the fields and create the (invisible) transfer. */
static int xup_create(struct xup *u)
{
	const struct principal *p = http_req_principal(u->req);
	unsigned char salt[XC_SALT], check[32], held[X_HOLD_MAX];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t now = rtime_now_ms(), exp_ms;
	size_t held_len = 0;
	int r;

	if (!x_email_ok(u->to))
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
	r = x_approval_needed(u->c, p->org_path, u->to, u->approver);
	if (r < 0)
		return r;
	u->pending = r == 1;
	u->quota_used = x_quota_used(u->c, p->person_id);
	ids_ulid(u->tid, now);
	x_password_new(u->password);
	r = rcrypto_token_new(u->token, sizeof(u->token), "x");
	if (r < 0)
		return r;
	randombytes_buf(salt, sizeof(salt));
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xc_derive(u->token, u->password, salt, u->key);
	if (r < 0)
		return r;
	xc_check(u->key, check);
	rcrypto_token_hash(u->token, hash);
	if (u->pending) {
		r = x_hold_seal(u->app, u->tid, u->token, held, &held_len);
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

/* Burns the link after a wrong password when the attempts are used up; tells the owner. */
static int x_password_failed(struct app *app, struct http_req *req, struct store_conn *c,
			     const struct x_row *x, bool *ret_burned)
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
	audit_req(req, c, "exchange.password_failure", "transfer", x->id, AUDIT_FAILURE,
		  json_pack("{s:I}", "failures", (json_int_t)failures));
	if (burned) {
		char email[X_MAX_EMAIL + 1] = "";
		struct store_stmt *e;

		x_blobs_remove(app, x->id);
		store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1, key_check = x'', kdf_salt = x'' "
			      "WHERE id = $1", STORE_ARGS(SA_TEXT(x->id)));
		audit_req(req, c, "exchange.burn", "transfer", x->id, AUDIT_SUCCESS,
			  json_pack("{s:I}", "failures", (json_int_t)failures));
		if (store_query(c, "SELECT email FROM people WHERE id = $1", STORE_ARGS(SA_TEXT(x->owner_id)), &e) == 0) {
			if (store_step(e) == 1 && store_col_text(e, 0))
				str_copy(email, sizeof(email), store_col_text(e, 0));
			store_stmt_free(e);
		}
		if (email[0] && app->cfg.smtp_url[0]) {
			char body[512];

			snprintf(body, sizeof(body), "Your transfer %s to %s was blocked after %lld wrong passwords.\n"
				 "Nobody can download it any more. Send the files again if they are still needed.\n",
				 x->id, x->peer_email, (long long)failures);
			r = x_mail(app, email, "Rampart: a transfer was blocked", body);
			audit_req(req, c, "exchange.notify", "transfer", x->id, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
				  json_pack("{s:s, s:s}", "to", email, "reason", "burned"));
		}
	}
	*ret_burned = burned;
	return 0;
}

/* XUP_REQUEST: the password field arrived before the first file: check it and take the request. */
static int xup_request_open(struct xup *u)
{
	unsigned char check[32];
	bool burned = false;
	int r;

	if (!u->has_password)
		return xup_fail(u, ERR_INVALID, "password", "Enter the password before choosing files.");
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xc_derive(u->token, u->password, u->row.salt, u->key);
	if (r < 0)
		return r;
	xc_check(u->key, check);
	if (sodium_memcmp(check, u->row.check, sizeof(check)) != 0) {
		x_password_failed(u->app, u->req, u->c, &u->row, &burned);
		if (burned)
			return x_page_gone(u->resp, "burned");
		x_page(u->resp, 403, "Wrong password", "The password is not right. Try again.", NULL);
		return ERR_FORBIDDEN;
	}
	r = store_exec(u->c, "UPDATE exchange_transfers SET status = 'receiving', updated_at = $2 "
			     "WHERE id = $1 AND status = 'awaiting_upload' AND expires_at > $2",
		       STORE_ARGS(SA_TEXT(u->row.id), SA_I64(rtime_now_ms())));
	if (r < 0)
		return r;
	if (r == 0)
		return x_page_gone(u->resp, "used");
	u->receiving = true;
	str_copy(u->tid, sizeof(u->tid), u->row.id);
	u->quota_used = x_quota_used(u->c, u->row.owner_id);
	return 0;
}

static int xup_flush(struct xup *u, unsigned char tag)
{
	unsigned long long clen;

	crypto_secretstream_xchacha20poly1305_push(&u->st, u->cbuf, &clen, u->pbuf, u->plen, NULL, 0, tag);
	u->plen = 0;
	return x_write_all(u->fd, u->cbuf, (size_t)clen);
}

static int xup_part_begin(void *ud, const char *name, const char *filename)
{
	struct xup *u = ud;
	unsigned char header[XC_HEADER];
	char path[800];
	int r;

	if (!filename) {
		if (strlen(name) >= sizeof(u->field_name))
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
	if (x_clean_filename(filename, u->fname) < 0)
		return xup_fail(u, ERR_INVALID, "file",
				"a file name is empty, too long or holds control characters");
	if (!u->created && !u->receiving) {
		r = u->mode == XUP_SEND ? xup_create(u) : xup_request_open(u);
		if (r < 0)
			return r;
		r = x_blob_dir(u->app, u->tid, u->dir, sizeof(u->dir));
		if (r < 0)
			return r;
		snprintf(path, sizeof(path), "%s/blobs", u->app->cfg.data_dir);
		if ((mkdir(path, 0700) < 0 && errno != EEXIST) || (mkdir(u->dir, 0700) < 0 && errno != EEXIST))
			return -errno;
	}
	ids_ulid(u->fid, rtime_now_ms());
	snprintf(path, sizeof(path), "%s/%s", u->dir, u->fid);
	u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (u->fd < 0)
		return -errno;
	crypto_secretstream_xchacha20poly1305_init_push(&u->st, header, u->key);
	r = x_write_all(u->fd, XC_MAGIC, 4);
	r = r ? r : x_write_all(u->fd, header, sizeof(header));
	if (r < 0)
		return r;
	u->fsize = 0;
	u->plen = 0;
	u->in_file = true;
	return 0;
}

static int xup_part_data(void *ud, const char *data, size_t len)
{
	struct xup *u = ud;
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
	while (len) {
		size_t n = XC_CHUNK - u->plen;

		if (n > len)
			n = len;
		memcpy(u->pbuf + u->plen, data, n);
		u->plen += n;
		data += n;
		len -= n;
		if (u->plen == XC_CHUNK && (r = xup_flush(u, 0)) < 0)
			return r;
	}
	{
		int64_t now = rtime_now_ms();

		/* A heartbeat, so that the sweeper never takes a live upload for an abandoned one. */
		if (now - u->last_beat > X_BEAT_MS) {
			u->last_beat = now;
			store_exec(u->c, "UPDATE exchange_transfers SET updated_at = $2 WHERE id = $1",
				   STORE_ARGS(SA_TEXT(u->tid), SA_I64(now)));
		}
	}
	return 0;
}

static int xup_set_field(struct xup *u)
{
	const char *v = u->field.data ? u->field.data : "";
	size_t n = u->field.len;
	int64_t i;

	if (memchr(v, '\0', n) || !str_is_clean_utf8(v, n))
		if (strcmp(u->field_name, "message") != 0 || memchr(v, '\0', n))
			return xup_fail(u, ERR_INVALID, u->field_name, "a field holds control characters");
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
	r = xup_flush(u, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	if (r == 0 && fsync(u->fd) < 0)
		r = -errno;
	close(u->fd);
	u->fd = -1;
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

static int xup_new(struct http_req *req, struct http_resp *resp, enum xup_mode mode, struct xup **ret)
{
	struct xup *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->app = http_req_app(req);
	u->req = req;
	u->resp = resp;
	u->mode = mode;
	u->fd = -1;
	u->downloads = 1;
	u->last_beat = rtime_now_ms();
	buf_init(&u->field, X_MAX_MESSAGE + 16);
	buf_init(&u->form, X_MAX_FORM);
	u->c = store_conn(u->app->store);
	u->pbuf = malloc(XC_CHUNK);
	u->cbuf = malloc(XC_CHUNK + XC_ABYTES);
	if (!u->c || !u->pbuf || !u->cbuf) {
		xup_free(u);
		return u->c ? -ENOMEM : ERR_STORE;
	}
	http_req_on_done(req, xup_free, u);
	*ret = u;
	return 0;
}

/* Makes the upload visible: all files are on disk; one UPDATE commits it. */
static int xup_commit(struct xup *u)
{
	int64_t now = rtime_now_ms(), used;
	const char *owner = u->mode == XUP_SEND ? http_req_principal(u->req)->person_id : u->row.owner_id;
	int r;

	if (u->nfiles == 0)
		return xup_fail(u, ERR_INVALID, "file", "no file was uploaded");
	r = x_fsync_dir(u->dir);
	if (r < 0)
		return r;
	r = store_begin(u->c);
	if (r < 0)
		return r;
	/* The quota again, inside the write lock: parallel uploads of one person count too. */
	used = x_quota_used(u->c, owner);
	if (used - (u->mode == XUP_SEND ? 0 : 0) + u->total > u->app->cfg.exchange_quota) {
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

/* ---------------------------------------------------------------- API: send */

static int x_send_upload(struct http_req *req, struct http_resp *resp, enum http_upload_phase ph,
			 const char *data, size_t len)
{
	struct xup *u = http_req_ctx(req);
	int r;

	if (ph == HTTP_UPLOAD_BEGIN) {
		const char *cl = http_req_header(req, "Content-Length");
		struct app *app = http_req_app(req);
		int64_t n;

		if (!exchange_may(http_req_principal(req), EXCHANGE_CREATE, NULL))
			return ERR_FORBIDDEN;
		if (cl && str_parse_i64(cl, 0, INT64_MAX, &n) == 0 &&
		    n > app->cfg.exchange_max_file * X_MAX_FILES + (1 << 20))
			return http_fail(resp, ERR_TOO_LARGE, NULL, "the upload is larger than the limit");
		r = xup_new(req, resp, XUP_SEND, &u);
		if (r < 0)
			return r;
		r = mp_init(&u->mp, http_req_header(req, "Content-Type"), &xup_cbs, u);
		if (r < 0)
			return http_fail(resp, ERR_UNSUPPORTED, NULL, "Content-Type must be multipart/form-data");
		return 0;
	}
	if (ph == HTTP_UPLOAD_DATA) {
		r = mp_feed(&u->mp, data, len);
		if (r < 0 && u->mp.message[0])
			http_fail(resp, r, NULL, "%s", u->mp.message);
	} else if (mp_finish(&u->mp) < 0) {
		r = http_fail(resp, ERR_INVALID, NULL, "%s", u->mp.message);
	} else {
		r = xup_commit(u);
	}
	if (r < 0)
		xup_abort(u);
	return r;
}

/*
 * Tells who may decide (the sender's manager and the unit's named approver,
 * when active with an email) that a transfer waits; no link in it.
 */
static void x_notify_approver(const struct app *app, struct http_req *req, struct store_conn *c,
			      const struct principal *p, const char *tid, const char *to, unsigned nfiles,
			      const char *approver_id)
{
	char emails[2][X_MAX_EMAIL + 1] = { "", "" }, body[2048];
	struct store_stmt *q;
	int r;

	if (!app->cfg.smtp_url[0])
		return;
	if (store_query(c, "SELECT m.email FROM people s JOIN people m ON m.id = s.manager_id WHERE s.id = $1 "
			   "AND m.status = 'active' UNION SELECT email FROM people WHERE id = $2 AND id <> $1 "
			   "AND status = 'active' LIMIT 2",
			STORE_ARGS(SA_TEXT(p->person_id), SA_TEXT(approver_id)), &q) == 0) {
		for (int i = 0; i < 2 && store_step(q) == 1; i++)
			str_copy(emails[i], sizeof(emails[i]), store_col_text(q, 0));
		store_stmt_free(q);
	}
	snprintf(body, sizeof(body),
		 "%s wants to send %u file(s) to %s, outside the organization, through Rampart.\n\n"
		 "Their unit requires approval: the link is mailed only once you approve.\n"
		 "Approve or reject transfer %s in the Rampart console, or with\n"
		 "    rampart transfers approve %s\n    rampart transfers reject %s\n",
		 p->login, nfiles, to, tid, tid, tid);
	for (int i = 0; i < 2; i++) {
		if (!emails[i][0] || !x_email_ok(emails[i]) || (i == 1 && strcasecmp(emails[0], emails[1]) == 0))
			continue;
		r = x_mail(app, emails[i], "Rampart: a transfer waits for your approval", body);
		audit_req(req, c, "exchange.notify", "transfer", tid, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s, s:s}", "to", emails[i], "reason", "approval"));
	}
}

static int x_send_done(struct http_req *req, struct http_resp *resp)
{
	struct xup *u = http_req_ctx(req);
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	char url[600];
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
		x_notify_approver(app, req, u->c, p, u->tid, u->to, u->nfiles, u->approver);
	} else if (app->cfg.smtp_url[0]) {
		r = x_mail_link(app, p->login, u->to, u->message, u->downloads, u->expires_at, url);
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

/* ---------------------------------------------------------------- API: request */

static int h_request_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "from", "message", "expires", NULL };
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *from, *message = "", *expires = NULL;
	char tid[ULID_SIZE], token[RCRYPTO_TOKEN_SIZE], password[X_PASSWORD_SIZE], url[600];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	unsigned char salt[XC_SALT], check[32], *key;
	int64_t now = rtime_now_ms(), exp_ms = app->cfg.exchange_default_expiry_s * 1000;
	const char *mail = "none";
	json_t *body, *out;
	int r;

	if (!exchange_may(p, EXCHANGE_CREATE, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = http_req_json(req, &body, &e);
	if (r == 0)
		r = jsonx_only_keys(body, keys, &e);
	if (r == 0)
		r = jsonx_get_str(body, "from", true, X_MAX_EMAIL, &from, &e);
	if (r == 0 && !x_email_ok(from))
		r = jsonx_fail(&e, "from", "from must be one email address");
	if (r == 0 && (r = jsonx_get_str(body, "message", false, X_MAX_MESSAGE, &message, &e)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_str(body, "expires", false, 16, &expires, &e)) == -ENOENT)
		r = 0;
	if (r == 0 && expires && (str_parse_duration_ms(expires, &exp_ms) < 0 || exp_ms < 1000))
		r = jsonx_fail(&e, "expires", "expires must be a duration such as 3d or 12h");
	if (r == 0 && exp_ms > app->cfg.exchange_max_expiry_s * 1000)
		r = jsonx_fail(&e, "expires", "expires is longer than the administrator allows");
	if (r < 0)
		return http_fail_rerr(resp, &e);
	key = sodium_malloc(XC_KEY);
	if (!key)
		return -ENOMEM;
	ids_ulid(tid, now);
	x_password_new(password);
	r = rcrypto_token_new(token, sizeof(token), "x");
	randombytes_buf(salt, sizeof(salt));
	if (r == 0)
		r = xc_derive(token, password, salt, key);
	if (r == 0)
		xc_check(key, check);
	sodium_free(key);
	if (r < 0)
		return r;
	rcrypto_token_hash(token, hash);
	r = store_exec(c, "INSERT INTO exchange_transfers (id, kind, owner_id, owner_org_path, peer_email, "
			  "message, token_hash, kdf_salt, key_check, status, created_at, updated_at, expires_at, "
			  "downloads_max, downloads_left) VALUES ($1, 'request', $2, $3, $4, $5, $6, $7, $8, "
			  "'awaiting_upload', $9, $9, $10, 1, 1)",
		       STORE_ARGS(SA_TEXT(tid), SA_TEXT(p->person_id), SA_TEXT(p->org_path), SA_TEXT(from),
				  SA_TEXT(message), SA_TEXT(hash), SA_BLOB(salt, sizeof(salt)),
				  SA_BLOB(check, sizeof(check)), SA_I64(now), SA_I64(now + exp_ms)));
	if (r < 0)
		return r;
	audit_req(req, c, "exchange.request", "transfer", tid, AUDIT_SUCCESS, json_pack("{s:s}", "from", from));
	snprintf(url, sizeof(url), "%s/x/%s", app->cfg.public_url, token);
	if (app->cfg.smtp_url[0]) {
		char text[4096];

		snprintf(text, sizeof(text),
			 "%s asks you to upload files through Rampart.\n\n%s%s%s"
			 "Upload them here:\n%s\n\n"
			 "You need a password, which %s gives you another way (phone, chat).\n",
			 p->login, message[0] ? "Message: " : "", message, message[0] ? "\n\n" : "", url, p->login);
		r = x_mail(app, from, "Please upload files through Rampart", text);
		sodium_memzero(text, sizeof(text));
		mail = r == 0 ? "sent" : "failed";
		store_exec(c, "UPDATE exchange_transfers SET mail_status = $2 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(tid), SA_TEXT(mail)));
		audit_req(req, c, "exchange.notify", "transfer", tid, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s}", "to", from));
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", tid, "url", url, "password", password, "from", from,
			"mail", mail);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(password, sizeof(password));
	sodium_memzero(url, sizeof(url));
	return http_resp_json(resp, 201, out);
}

/* ---------------------------------------------------------------- API: list, show, revoke */

static int h_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *cursor, *mine = http_req_query(req, "mine"), *approval = http_req_query(req, "approval");
	int64_t limit, now = rtime_now_ms(), n = 0;
	struct buf sql;
	struct store_stmt *q;
	json_t *items, *out;
	char last[ULID_SIZE] = "";
	int r;

	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	if (http_req_page(req, 50, app->cfg.max_list, &limit, &cursor, &e) < 0)
		return http_fail_rerr(resp, &e);
	if (cursor && !ids_is_ulid(cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	buf_init(&sql, 4096);
	buf_puts(&sql, x_list_cols);
	if (approval && strcmp(approval, "pending") != 0)
		return http_fail(resp, ERR_INVALID, "approval", "approval must be pending");
	buf_puts(&sql, "WHERE t.status NOT IN ('uploading') AND ($1 = '' OR t.id < $1) ");
	if (approval) {
		/* What waits for the caller's decision: their reports' transfers, or every one for an admin. */
		buf_puts(&sql, "AND t.approval = 'pending' AND t.status = 'active' AND t.owner_id <> $2 ");
		if (principal_has(p, ROLE_ADMIN))
			buf_puts(&sql, "AND $3 = $3 ");
		else
			buf_puts(&sql, "AND (t.owner_id IN (SELECT id FROM people WHERE manager_id = $2) OR "
				       "t.approver_id = $2) AND $3 = $3 ");
	} else if ((mine && strcmp(mine, "1") == 0) ||
	    !principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR | ROLE_SECURITY_MANAGER))
		buf_puts(&sql, "AND t.owner_id = $2 ");
	else if (!principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR))
		buf_puts(&sql, "AND (t.owner_id = $2 OR t.owner_org_path = $3 OR "
			       "substr(t.owner_org_path, 1, length($3) + 1) = $3 || '/') ");
	else
		buf_puts(&sql, "AND $2 = $2 AND $3 = $3 ");
	buf_puts(&sql, "ORDER BY t.id DESC LIMIT $4");
	r = store_query(c, sql.data, STORE_ARGS(SA_TEXT(cursor ? cursor : ""), SA_TEXT(p->person_id),
						 SA_TEXT(p->manages_path[0] ? p->manages_path : "\x01"),
						 SA_I64(limit + 1)), &q);
	buf_done(&sql);
	if (r < 0)
		return r;
	items = json_array();
	while ((r = store_step(q)) == 1) {
		if (n++ == limit)
			break;
		str_copy(last, sizeof(last), store_col_text(q, 0));
		json_array_append_new(items, x_row_json(q, now));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	out = json_pack("{s:o, s:s?}", "items", items, "next", n > limit ? last : NULL);
	return http_resp_json(resp, 200, out);
}

/* Loads a transfer the principal may act on; 404 hides one they may not even see. */
static int x_load_authorized(struct http_req *req, struct store_conn *c, enum exchange_action a,
			     struct x_row *x)
{
	const struct principal *p = http_req_principal(req);
	struct exchange_target t;
	bool approver;
	int r = x_row_by_id(c, http_req_param(req, "id"), x);

	if (r < 0)
		return r;
	if (strcmp(x->status, "uploading") == 0)
		return ERR_NOT_FOUND;
	t = (struct exchange_target){ x->owner_id, x->owner_org_path };
	/* The sender's manager sees a transfer waiting for their approval. */
	approver = principal_is_authenticated(p) && p->via != VIA_SCIM_TOKEN &&
		   strcmp(x->approval, "pending") == 0 && x_is_approver(c, p->person_id, x);
	if (!exchange_may(p, EXCHANGE_READ, &t) && !approver)
		return ERR_NOT_FOUND;
	if (!exchange_may(p, a, &t) && !(a == EXCHANGE_READ && approver)) {
		audit_req(req, c, "authz.denied", "transfer", x->id, AUDIT_DENIED, NULL);
		return ERR_FORBIDDEN;
	}
	return 0;
}

static json_t *x_detail_json(struct store_conn *c, const char *id)
{
	struct store_stmt *q;
	json_t *o = NULL, *files, *dl;
	struct buf sql;
	int r;

	buf_init(&sql, 4096);
	buf_puts(&sql, x_list_cols);
	buf_puts(&sql, "WHERE t.id = $1");
	r = store_query(c, sql.data, STORE_ARGS(SA_TEXT(id)), &q);
	buf_done(&sql);
	if (r < 0)
		return NULL;
	if (store_step(q) == 1)
		o = x_row_json(q, rtime_now_ms());
	store_stmt_free(q);
	if (!o)
		return NULL;
	files = json_array();
	if (store_query(c, "SELECT id, name, size FROM exchange_files WHERE transfer_id = $1 ORDER BY seq",
			STORE_ARGS(SA_TEXT(id)), &q) == 0) {
		while (store_step(q) == 1)
			json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "id", store_col_text(q, 0),
							      "name", store_col_text(q, 1),
							      "size", (json_int_t)store_col_i64(q, 2)));
		store_stmt_free(q);
	}
	json_object_set_new(o, "files", files);
	dl = json_array();
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
	json_object_set_new(o, "downloads", dl);
	return o;
}

static int h_show(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct x_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = x_load_authorized(req, c, EXCHANGE_READ, &x);
	if (r < 0)
		return r;
	return http_resp_json(resp, 200, x_detail_json(c, x.id));
}

static int h_revoke(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	struct x_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = x_load_authorized(req, c, EXCHANGE_REVOKE, &x);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE exchange_transfers SET status = 'revoked', ended_at = $2, key_check = x'', "
			  "kdf_salt = x'', held_link = NULL WHERE id = $1 AND status IN ('active', 'awaiting_upload', 'receiving') "
			  "AND expires_at > $2 AND downloads_left > 0",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now)));
	if (r < 0)
		return r;
	if (r == 0)
		return http_fail(resp, ERR_CONFLICT, NULL, "the transfer has already ended or been used");
	x_blobs_remove(app, x.id);
	store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1 WHERE id = $1", STORE_ARGS(SA_TEXT(x.id)));
	audit_req(req, c, "exchange.revoke", "transfer", x.id, AUDIT_SUCCESS, NULL);
	return http_resp_json(resp, 200, x_detail_json(c, x.id));
}

static int h_sweep(struct http_req *req, struct http_resp *resp)
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

/* ---------------------------------------------------------------- API: approval */

/* POST /api/v1/transfers/{id}/approve and /reject: the sender's manager or an admin, never the sender. */
static int x_decide(struct http_req *req, struct http_resp *resp, bool approve)
{
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	struct exchange_target t;
	struct store_stmt *q;
	char token[RCRYPTO_TOKEN_SIZE], url[600], sender[256] = "";
	char message[X_MAX_MESSAGE + 1] = "";
	int64_t downloads = 1;
	const char *mail = "none";
	struct x_row x;
	int r;

	if (!c)
		return ERR_STORE;
	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return ERR_FORBIDDEN;
	r = x_row_by_id(c, http_req_param(req, "id"), &x);
	if (r < 0)
		return r;
	if (strcmp(x.status, "uploading") == 0)
		return ERR_NOT_FOUND;
	t = (struct exchange_target){ x.owner_id, x.owner_org_path };
	if (strcmp(p->person_id, x.owner_id) == 0 ||
	    !(principal_has(p, ROLE_ADMIN) || x_is_approver(c, p->person_id, &x))) {
		if (!exchange_may(p, EXCHANGE_READ, &t))
			return ERR_NOT_FOUND;
		audit_req(req, c, "authz.denied", "transfer", x.id, AUDIT_DENIED,
			  json_pack("{s:s}", "action", approve ? "approve" : "reject"));
		return http_fail(resp, ERR_FORBIDDEN, NULL, strcmp(p->person_id, x.owner_id) == 0 ?
				 "a sender cannot decide on their own transfer" :
				 "only the sender's manager, the unit's approver or an administrator decides");
	}
	if (strcmp(x.approval, "pending") != 0 || strcmp(x.status, "active") != 0 || x.expires_at <= now)
		return http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
	if (!approve) {
		r = store_exec(c, "UPDATE exchange_transfers SET approval = 'rejected', status = 'revoked', "
				  "ended_at = $2, decided_by = $3, decided_at = $2, held_link = NULL, key_check = x'', "
				  "kdf_salt = x'' WHERE id = $1 AND approval = 'pending' AND status = 'active'",
			       STORE_ARGS(SA_TEXT(x.id), SA_I64(now), SA_TEXT(p->person_id)));
		if (r < 0)
			return r;
		if (r == 0)
			return http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
		x_blobs_remove(app, x.id);
		store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1 WHERE id = $1", STORE_ARGS(SA_TEXT(x.id)));
		audit_req(req, c, "exchange.reject", "transfer", x.id, AUDIT_SUCCESS, NULL);
		return http_resp_json(resp, 200, x_detail_json(c, x.id));
	}
	/* Open the held link first: a link that does not open must not be marked approved. */
	r = store_query(c, "SELECT t.held_link, t.message, t.downloads_max, p.login FROM exchange_transfers t "
			   "JOIN people p ON p.id = t.owner_id WHERE t.id = $1", STORE_ARGS(SA_TEXT(x.id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		size_t n = 0;
		const void *b = store_col_blob(q, 0, &n);

		r = x_hold_open(app, x.id, b, n, token);
		str_copy(message, sizeof(message), store_col_text(q, 1));
		downloads = store_col_i64(q, 2);
		str_copy(sender, sizeof(sender), store_col_text(q, 3));
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE exchange_transfers SET approval = 'approved', held_link = NULL, decided_by = $3, "
			  "decided_at = $2 WHERE id = $1 AND approval = 'pending' AND status = 'active' AND expires_at > $2",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now), SA_TEXT(p->person_id)));
	if (r <= 0) {
		sodium_memzero(token, sizeof(token));
		return r < 0 ? r : http_fail(resp, ERR_CONFLICT, NULL, "the transfer is not waiting for approval");
	}
	audit_req(req, c, "exchange.approve", "transfer", x.id, AUDIT_SUCCESS, NULL);
	if (app->cfg.smtp_url[0]) {
		snprintf(url, sizeof(url), "%s/x/%s", app->cfg.public_url, token);
		r = x_mail_link(app, sender, x.peer_email, message, downloads, x.expires_at, url);
		sodium_memzero(url, sizeof(url));
		mail = r == 0 ? "sent" : "failed";
		audit_req(req, c, "exchange.notify", "transfer", x.id, r == 0 ? AUDIT_SUCCESS : AUDIT_FAILURE,
			  json_pack("{s:s}", "to", x.peer_email));
	}
	sodium_memzero(token, sizeof(token));
	store_exec(c, "UPDATE exchange_transfers SET mail_status = $2 WHERE id = $1",
		   STORE_ARGS(SA_TEXT(x.id), SA_TEXT(mail)));
	return http_resp_json(resp, 200, x_detail_json(c, x.id));
}

static int h_approve(struct http_req *req, struct http_resp *resp)
{
	return x_decide(req, resp, true);
}

static int h_reject(struct http_req *req, struct http_resp *resp)
{
	return x_decide(req, resp, false);
}

/* GET /api/v1/exchange/approval: the units that require approval of external transfers. */
static int h_approval_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct store_stmt *q;
	json_t *items;
	int r;

	if (!exchange_may(http_req_principal(req), EXCHANGE_READ_SETTINGS, NULL))
		return ERR_FORBIDDEN;
	if (!c)
		return ERR_STORE;
	r = store_query(c, "SELECT o.id, o.path, a.updated_at, a.approver_id, p.login FROM exchange_approval_units a "
			   "JOIN org_units o ON o.id = a.org_unit_id LEFT JOIN people p ON p.id = a.approver_id "
			   "WHERE a.required = 1 ORDER BY o.path", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	items = json_array();
	while ((r = store_step(q)) == 1) {
		json_t *o = json_pack("{s:s, s:s, s:b}", "org_unit", store_col_text(q, 0), "path",
				      store_col_text(q, 1), "required", 1);

		if (o) {
			jsonx_set_time(o, "updated_at", store_col_i64(q, 2));
			if (!store_col_is_null(q, 3))
				json_object_set_new(o, "approver", json_pack("{s:s, s:s?}", "id", store_col_text(q, 3),
									      "login", store_col_text(q, 4)));
		}
		json_array_append_new(items, o);
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "items", items));
}

/*
 * PUT /api/v1/exchange/approval/{id}: {"required": bool, "approver": person id | null}
 * for the org unit {id} and the units under it.  The approver, when named,
 * decides besides the sender's manager and administrators.
 */
static int h_approval_set(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "required", "approver", NULL };
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	struct store_conn *c = store_conn(app->store);
	struct rerr e = { "", "" };
	const char *id = http_req_param(req, "id");
	char path[PRINCIPAL_PATH_SIZE] = "";
	const char *approver = NULL;
	struct store_stmt *q;
	bool required = false;
	json_t *body, *out;
	int64_t n = 0;
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
	if (approver) {
		r = store_query_i64(c, "SELECT count(*) FROM people WHERE id = $1 AND status = 'active'",
				    STORE_ARGS(SA_TEXT(approver)), &n);
		if (r < 0)
			return r;
		if (n == 0)
			return http_fail(resp, ERR_INVALID, "approver", "approver must be the id of an active person");
	}
	r = store_query(c, "SELECT path FROM org_units WHERE id = $1", STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	if (store_step(q) == 1)
		str_copy(path, sizeof(path), store_col_text(q, 0));
	store_stmt_free(q);
	if (!path[0])
		return ERR_NOT_FOUND;
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

/* ---------------------------------------------------------------- /x/{token} */

static const char x_download_form[] =
	"<form method=\"post\" enctype=\"application/x-www-form-urlencoded\">"
	"<label for=\"password\">Password</label> "
	"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" required> "
	"<button type=\"submit\">Download</button></form>"
	"<p>The sender gives you the password another way. Opening this page does not use up the link.</p>";

static const char x_upload_form[] =
	"<form method=\"post\" enctype=\"multipart/form-data\">"
	"<p><label for=\"password\">Password</label> "
	"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" required></p>"
	"<p><label for=\"file\">Files</label> <input id=\"file\" name=\"file\" type=\"file\" multiple required></p>"
	"<p><button type=\"submit\">Upload</button></p></form>";

static int h_link_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t now = rtime_now_ms();
	char text[X_MAX_MESSAGE + 512];
	struct x_row x;
	int r;

	if (!c)
		return ERR_STORE;
	r = x_row_by_token(c, http_req_param(req, "token"), &x);
	if (r == ERR_NOT_FOUND || (r == 0 && strcmp(x.status, "uploading") == 0))
		return x_page_not_found(resp);
	if (r < 0)
		return r;
	if (strcmp(x.status, "active") != 0 && strcmp(x.status, "awaiting_upload") != 0)
		return x_page_gone(resp, strcmp(x.status, "receiving") == 0 ? "used" : x.status);
	if (x.expires_at <= now)
		return x_page_gone(resp, "expired");
	if (x.downloads_left <= 0)
		return x_page_gone(resp, "used");
	if (strcmp(x.approval, "pending") == 0)
		return x_page_pending(resp);
	/* Seen, not used: a preview or a mail scanner may be what opened it. */
	if (store_exec(c, "UPDATE exchange_transfers SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL",
		       STORE_ARGS(SA_TEXT(x.id), SA_I64(now))) == 1)
		audit_req(req, c, "exchange.open", "transfer", x.id, AUDIT_SUCCESS, NULL);
	if (strcmp(x.status, "awaiting_upload") == 0) {
		snprintf(text, sizeof(text), "Someone asked you (%s) to upload files. Only they can download them.",
			 x.peer_email);
		return x_page(resp, 200, "Upload files", text, x_upload_form);
	}
	if (strcmp(x.kind, "request") == 0)
		return x_page(resp, 200, "Files received",
			      "The files were uploaded. Only the person who asked for them can download them, "
			      "signed in, with the password.", x_download_form);
	snprintf(text, sizeof(text), "%lld file(s) were sent to %s.", (long long)x.file_count, x.peer_email);
	return x_page(resp, 200, "Files for you", text, x_download_form);
}

/* Decodes application/x-www-form-urlencoded value of @key from @body into @out. */
static int x_form_value(const char *body, size_t len, const char *key, char *out, size_t size)
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

static int x_link_upload(struct http_req *req, struct http_resp *resp, enum http_upload_phase ph,
			 const char *data, size_t len)
{
	struct xup *u = http_req_ctx(req);
	int r;

	if (ph == HTTP_UPLOAD_BEGIN) {
		const char *ct = http_req_header(req, "Content-Type");
		int64_t now = rtime_now_ms();

		r = xup_new(req, resp, XUP_FORM, &u);
		if (r < 0)
			return r;
		r = x_row_by_token(u->c, http_req_param(req, "token"), &u->row);
		if (r == ERR_NOT_FOUND || (r == 0 && strcmp(u->row.status, "uploading") == 0))
			return x_page_not_found(resp);
		if (r < 0)
			return r;
		if (strcmp(u->row.status, "active") != 0 && strcmp(u->row.status, "awaiting_upload") != 0)
			return x_page_gone(resp, strcmp(u->row.status, "receiving") == 0 ? "used" : u->row.status);
		if (u->row.expires_at <= now)
			return x_page_gone(resp, "expired");
		if (u->row.downloads_left <= 0)
			return x_page_gone(resp, "used");
		if (strcmp(u->row.approval, "pending") == 0)
			return x_page_pending(resp);
		if (str_copy(u->token, sizeof(u->token), http_req_param(req, "token")) < 0)
			return x_page_not_found(resp);
		if (strcmp(u->row.status, "awaiting_upload") == 0) {
			u->mode = XUP_REQUEST;
			if (mp_init(&u->mp, ct, &xup_cbs, u) < 0) {
				x_page(resp, 415, "Upload refused", "Send the files with the form on this page.", NULL);
				return ERR_UNSUPPORTED;
			}
			return 0;
		}
		if (strcmp(u->row.kind, "request") == 0 && ct && strncasecmp(ct, "multipart/", 10) == 0)
			return x_page_gone(resp, "used");   /* a request takes one upload */
		if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
			x_page(resp, 415, "Download refused", "Use the form on this page.", NULL);
			return ERR_UNSUPPORTED;
		}
		return 0;
	}
	if (u->mode == XUP_FORM) {
		if (ph == HTTP_UPLOAD_DATA && buf_append(&u->form, data, len) < 0) {
			x_page(resp, 413, "Too large", "The form is too large.", NULL);
			return ERR_TOO_LARGE;
		}
		return 0;
	}
	if (ph == HTTP_UPLOAD_DATA) {
		r = mp_feed(&u->mp, data, len);
		if (r < 0 && u->mp.message[0])
			xup_fail(u, r, NULL, u->mp.message);
	} else if (mp_finish(&u->mp) < 0) {
		r = xup_fail(u, ERR_INVALID, NULL, u->mp.message);
	} else {
		r = xup_commit(u);
	}
	if (r < 0)
		xup_abort(u);
	return r;
}

/* ---------------------------------------------------------------- download */

struct xdl_file {
	int fd;
	char id[ULID_SIZE];
	char name[X_MAX_FILENAME + 1];
	int64_t size;
};

struct xdl {
	unsigned char *key;          /* sodium_malloc'd */
	struct xdl_file *f;
	unsigned nfiles, cur;
	bool tar, in_file, final_seen, trailer;
	crypto_secretstream_xchacha20poly1305_state st;
	int64_t left;                /* plaintext bytes of the current file not yet decrypted */
	unsigned char cbuf[XC_CHUNK + XC_ABYTES];
	unsigned char pbuf[XC_CHUNK];
	size_t ppos, plen;
	unsigned char hdr[2048];     /* tar headers, padding and trailer waiting to go out */
	size_t hpos, hlen;
};

static void xdl_free(void *ctx)
{
	struct xdl *d = ctx;

	if (!d)
		return;
	for (unsigned i = 0; i < d->nfiles; i++)
		if (d->f[i].fd >= 0)
			close(d->f[i].fd);
	free(d->f);
	if (d->key)
		sodium_free(d->key);
	sodium_memzero(d, sizeof(*d));
	free(d);
}

static void tar_octal(char *field, size_t size, uint64_t v)
{
	snprintf(field, size, "%0*llo", (int)size - 1, (unsigned long long)v);
}

static void tar_header(unsigned char h[512], const char *name, uint64_t size, char type)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	memcpy(h, name, strnlen(name, 99));
	tar_octal((char *)h + 100, 8, 0644);
	tar_octal((char *)h + 108, 8, 0);
	tar_octal((char *)h + 116, 8, 0);
	tar_octal((char *)h + 124, 12, size);
	tar_octal((char *)h + 136, 12, (uint64_t)(rtime_now_ms() / 1000));
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

/* Queues the tar headers for file @i: a pax header carrying the UTF-8 name, then ustar. */
static void xdl_tar_file(struct xdl *d, unsigned i)
{
	char rec[X_MAX_FILENAME + 32];
	size_t n = strlen(d->f[i].name) + 7, len;   /* " path=" + name + "\n" */

	/* The record length counts its own digits. */
	len = n + 1;
	while (len != n + (size_t)snprintf(rec, sizeof(rec), "%zu", len))
		len = n + (size_t)snprintf(rec, sizeof(rec), "%zu", len);
	snprintf(rec, sizeof(rec), "%zu path=%s\n", len, d->f[i].name);
	tar_header(d->hdr, "PaxHeader", len, 'x');
	memset(d->hdr + 512, 0, 512);
	memcpy(d->hdr + 512, rec, len);
	tar_header(d->hdr + 1024, d->f[i].name, (uint64_t)d->f[i].size, '0');
	d->hpos = 0;
	d->hlen = 1536;
}

static uint64_t xdl_tar_size(const struct xdl *d)
{
	uint64_t n = 1024;

	for (unsigned i = 0; i < d->nfiles; i++)
		n += 1536 + (((uint64_t)d->f[i].size + 511) / 512) * 512;
	return n;
}

static int xdl_open_file(struct xdl *d)
{
	struct xdl_file *f = &d->f[d->cur];
	unsigned char head[4 + XC_HEADER];
	int r = x_read_all(f->fd, head, sizeof(head));

	if (r < 0 || memcmp(head, XC_MAGIC, 4) != 0)
		return -EIO;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&d->st, head + 4, d->key) != 0)
		return -EIO;
	d->left = f->size;
	d->final_seen = false;
	d->in_file = true;
	return 0;
}

static int xdl_next_chunk(struct xdl *d)
{
	size_t plain = d->left >= XC_CHUNK ? XC_CHUNK : (size_t)d->left;
	unsigned long long mlen;
	unsigned char tag;
	int r = x_read_all(d->f[d->cur].fd, d->cbuf, plain + XC_ABYTES);

	if (r < 0)
		return r;
	if (crypto_secretstream_xchacha20poly1305_pull(&d->st, d->pbuf, &mlen, &tag, d->cbuf,
						       plain + XC_ABYTES, NULL, 0) != 0 || mlen != plain)
		return -EIO;
	if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) != (plain < XC_CHUNK))
		return -EIO;   /* cut or extended */
	d->final_seen = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	d->left -= (int64_t)plain;
	d->ppos = 0;
	d->plen = plain;
	return 0;
}

static long xdl_read(void *ctx, char *out, size_t max)
{
	struct xdl *d = ctx;
	size_t n;
	int r;

	for (;;) {
		if (d->hpos < d->hlen) {
			n = d->hlen - d->hpos < max ? d->hlen - d->hpos : max;
			memcpy(out, d->hdr + d->hpos, n);
			d->hpos += n;
			return (long)n;
		}
		if (d->ppos < d->plen) {
			n = d->plen - d->ppos < max ? d->plen - d->ppos : max;
			memcpy(out, d->pbuf + d->ppos, n);
			d->ppos += n;
			return (long)n;
		}
		if (d->in_file && !d->final_seen) {
			r = xdl_next_chunk(d);
			if (r < 0) {
				log_error("exchange: a stored file does not decrypt", "file=%s", d->f[d->cur].id);
				return r;
			}
			continue;
		}
		if (d->in_file) {
			/* The file is done: tar padding, then the next one. */
			size_t pad = (size_t)((512 - d->f[d->cur].size % 512) % 512);

			d->in_file = false;
			d->cur++;
			if (d->tar && pad) {
				memset(d->hdr, 0, pad);
				d->hpos = 0;
				d->hlen = pad;
			}
			continue;
		}
		if (d->cur < d->nfiles) {
			if (d->tar)
				xdl_tar_file(d, d->cur);
			r = xdl_open_file(d);
			if (r < 0)
				return r;
			continue;
		}
		if (d->tar && !d->trailer) {
			d->trailer = true;
			memset(d->hdr, 0, 1024);
			d->hpos = 0;
			d->hlen = 1024;
			continue;
		}
		return 0;
	}
}

/* Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266). */
static int x_disposition(struct http_resp *resp, const char *name)
{
	struct buf b;
	int r;

	buf_init(&b, 4096);
	r = buf_puts(&b, "attachment; filename=\"");
	for (const unsigned char *c = (const unsigned char *)name; r == 0 && *c; c++)
		r = buf_printf(&b, "%c", (*c < 0x20 || *c >= 0x7f || *c == '"' || *c == '\\') ? '_' : *c);
	r = r ? r : buf_puts(&b, "\"; filename*=UTF-8''");
	for (const unsigned char *c = (const unsigned char *)name; r == 0 && *c; c++)
		r = isalnum(*c) || strchr("-._~", *c) ? buf_printf(&b, "%c", *c) : buf_printf(&b, "%%%02X", *c);
	if (r == 0)
		r = http_resp_header(resp, "Content-Disposition", b.data);
	buf_done(&b);
	return r;
}

static int h_link_post(struct http_req *req, struct http_resp *resp)
{
	struct xup *u = http_req_ctx(req);
	struct app *app = http_req_app(req);
	const struct principal *p = http_req_principal(req);
	int64_t now = rtime_now_ms(), left = -1;
	unsigned char check[32];
	char password[X_PASSWORD_SIZE + 1];
	struct store_stmt *q;
	struct xdl *d = NULL;
	bool burned = false;
	int r;

	if (u->mode == XUP_REQUEST)
		return x_page(resp, 201, "Files uploaded",
			      "Thank you. The person who asked for the files can download them now.", NULL);
	if (strcmp(u->row.kind, "request") == 0 &&
	    (!principal_is_authenticated(p) || strcmp(p->person_id, u->row.owner_id) != 0)) {
		audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_DENIED, NULL);
		x_page(resp, 403, "Sign in first", "Only the person who asked for these files can download them.", NULL);
		return ERR_FORBIDDEN;
	}
	r = x_form_value(u->form.data ? u->form.data : "", u->form.len, "password", password, sizeof(password));
	if (r < 0) {
		x_page(resp, 400, "Password needed", "Enter the password.", x_download_form);
		return ERR_INVALID;
	}
	u->key = sodium_malloc(XC_KEY);
	if (!u->key)
		return -ENOMEM;
	r = xc_derive(u->token, password, u->row.salt, u->key);
	sodium_memzero(password, sizeof(password));
	if (r < 0)
		return r;
	xc_check(u->key, check);
	if (sodium_memcmp(check, u->row.check, sizeof(check)) != 0) {
		r = x_password_failed(app, req, u->c, &u->row, &burned);
		if (r < 0)
			return r;
		if (burned)
			return x_page_gone(resp, "burned");
		x_page(resp, 403, "Wrong password", "The password is not right. Try again.", x_download_form);
		return ERR_FORBIDDEN;
	}
	/* Open every blob before consuming, so that a used-up link can drop them at once. */
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->f = calloc((size_t)u->row.file_count + 1, sizeof(*d->f));
	if (!d->f) {
		free(d);
		return -ENOMEM;
	}
	r = store_query(u->c, "SELECT id, name, size FROM exchange_files WHERE transfer_id = $1 ORDER BY seq",
			STORE_ARGS(SA_TEXT(u->row.id)), &q);
	if (r == 0) {
		while (d->nfiles < u->row.file_count && (r = store_step(q)) == 1) {
			struct xdl_file *f = &d->f[d->nfiles];
			char path[800];

			str_copy(f->id, sizeof(f->id), store_col_text(q, 0));
			str_copy(f->name, sizeof(f->name), store_col_text(q, 1));
			f->size = store_col_i64(q, 2);
			snprintf(path, sizeof(path), "%s/blobs/%s/%s", app->cfg.data_dir, u->row.id, f->id);
			f->fd = open(path, O_RDONLY | O_CLOEXEC);
			d->nfiles++;
			if (f->fd < 0) {
				r = -errno;
				break;
			}
		}
		store_stmt_free(q);
	}
	if (r < 0 || d->nfiles == 0) {
		xdl_free(d);
		return x_page_gone(resp, "used");
	}
	/* The one atomic step: only one of any number of parallel downloads takes the last use. */
	r = store_query(u->c, "UPDATE exchange_transfers SET downloads_left = downloads_left - 1, "
			      "downloaded_at = $2, downloaded_from = $3 WHERE id = $1 AND status = 'active' "
			      "AND downloads_left > 0 AND expires_at > $2 RETURNING downloads_left",
			STORE_ARGS(SA_TEXT(u->row.id), SA_I64(now), SA_TEXT(http_req_remote(req))), &q);
	if (r == 0) {
		if (store_step(q) == 1)
			left = store_col_i64(q, 0);
		store_stmt_free(q);
	}
	if (left < 0) {
		xdl_free(d);
		audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_FAILURE,
			  json_pack("{s:s}", "reason", "used up"));
		return x_page_gone(resp, "used");
	}
	store_exec(u->c, "INSERT INTO exchange_downloads (transfer_id, at, source) VALUES ($1, $2, $3)",
		   STORE_ARGS(SA_TEXT(u->row.id), SA_I64(now), SA_TEXT(http_req_remote(req))));
	audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_SUCCESS,
		  json_pack("{s:I, s:I}", "files", (json_int_t)d->nfiles, "downloads_left", (json_int_t)left));
	if (left == 0) {
		/* The open descriptors keep the data until this download ends. */
		x_blobs_remove(app, u->row.id);
		store_exec(u->c, "UPDATE exchange_transfers SET blobs_deleted = 1, key_check = x'', kdf_salt = x'' "
				 "WHERE id = $1", STORE_ARGS(SA_TEXT(u->row.id)));
	}
	d->key = steal_ptr(&u->key);
	d->tar = d->nfiles > 1;
	if (d->tar) {
		char name[64];

		snprintf(name, sizeof(name), "rampart-%s.tar", u->row.id);
		x_disposition(resp, name);
		return http_resp_reader(resp, 200, "application/x-tar", xdl_tar_size(d), xdl_read, xdl_free, d);
	}
	x_disposition(resp, d->f[0].name);
	return http_resp_reader(resp, 200, "application/octet-stream", (uint64_t)d->f[0].size, xdl_read,
				xdl_free, d);
}

/* ---------------------------------------------------------------- sweeper */

/*
 * Removes blob directories with no transfer row.  A row is always written
 * before its directory, so only directories older than an upload's
 * heartbeat window are considered, which also covers other servers sharing
 * the blob store.  At most 256 entries are looked at per sweep.
 */
static void x_sweep_orphans(struct app *app, struct store_conn *c, int64_t now)
{
	char base[600], dir[700];
	struct dirent *e;
	struct stat st;
	unsigned seen = 0;
	DIR *d;

	if (snprintf(base, sizeof(base), "%s/blobs", app->cfg.data_dir) >= (int)sizeof(base))
		return;
	d = opendir(base);
	if (!d)
		return;
	while ((e = readdir(d)) && seen++ < 256) {
		int64_t one;

		if (!ids_is_ulid(e->d_name) || x_blob_dir(app, e->d_name, dir, sizeof(dir)) < 0 ||
		    lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    (int64_t)st.st_mtime * 1000 > now - X_STALE_UPLOAD_MS)
			continue;
		if (store_query_i64(c, "SELECT 1 FROM exchange_transfers WHERE id = $1",
				    STORE_ARGS(SA_TEXT(e->d_name)), &one) != ERR_NOT_FOUND)
			continue;
		if (x_blobs_remove(app, e->d_name) == 0)
			log_warn("exchange: removed blobs of a transfer the database does not know",
				 "transfer=%s", e->d_name);
	}
	closedir(d);
}

int exchange_sweep(struct app *app, struct store_conn *c)
{
	int64_t now = rtime_now_ms();
	struct store_stmt *q;
	char ids[64][ULID_SIZE];
	char kinds[64][16];
	int n = 0, changed = 0, r;

	/* 1. Expire: one server wins each UPDATE, and only it audits. */
	r = store_query(c, "SELECT id, status FROM exchange_transfers WHERE status IN "
			   "('active', 'awaiting_upload') AND expires_at <= $1 LIMIT 64",
			STORE_ARGS(SA_I64(now)), &q);
	if (r < 0)
		return r;
	while (n < 64 && store_step(q) == 1) {
		str_copy(ids[n], sizeof(ids[n]), store_col_text(q, 0));
		str_copy(kinds[n], sizeof(kinds[n]), store_col_text(q, 1));
		n++;
	}
	store_stmt_free(q);
	for (int i = 0; i < n; i++) {
		r = store_exec(c, "UPDATE exchange_transfers SET status = 'expired', ended_at = $2, "
				  "key_check = x'', kdf_salt = x'', held_link = NULL WHERE id = $1 AND status = $3 AND expires_at <= $2",
			       STORE_ARGS(SA_TEXT(ids[i]), SA_I64(now), SA_TEXT(kinds[i])));
		if (r != 1)
			continue;
		changed++;
		x_blobs_remove(app, ids[i]);
		store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1 WHERE id = $1", STORE_ARGS(SA_TEXT(ids[i])));
		audit_append(c, &(struct audit_entry){ .source = "system", .action = "exchange.expire",
						       .object_type = "transfer", .object_id = ids[i],
						       .outcome = AUDIT_SUCCESS });
	}
	/* 2. Uploads abandoned by a crashed server: no heartbeat for a while. */
	n = 0;
	r = store_query(c, "SELECT id, status FROM exchange_transfers WHERE status IN ('uploading', 'receiving') "
			   "AND updated_at < $1 LIMIT 64", STORE_ARGS(SA_I64(now - X_STALE_UPLOAD_MS)), &q);
	if (r < 0)
		return r;
	while (n < 64 && store_step(q) == 1) {
		str_copy(ids[n], sizeof(ids[n]), store_col_text(q, 0));
		str_copy(kinds[n], sizeof(kinds[n]), store_col_text(q, 1));
		n++;
	}
	store_stmt_free(q);
	for (int i = 0; i < n; i++) {
		x_blobs_remove(app, ids[i]);
		store_exec(c, "DELETE FROM exchange_files WHERE transfer_id = $1", STORE_ARGS(SA_TEXT(ids[i])));
		if (strcmp(kinds[i], "uploading") == 0)
			r = store_exec(c, "DELETE FROM exchange_transfers WHERE id = $1 AND status = 'uploading'",
				       STORE_ARGS(SA_TEXT(ids[i])));
		else
			r = store_exec(c, "UPDATE exchange_transfers SET status = 'awaiting_upload' WHERE id = $1 "
					  "AND status = 'receiving'", STORE_ARGS(SA_TEXT(ids[i])));
		changed += r == 1;
	}
	/* 3. Blobs of ended or used-up transfers that are still on disk. */
	n = 0;
	r = store_query(c, "SELECT id FROM exchange_transfers WHERE blobs_deleted = 0 AND "
			   "(status IN ('revoked', 'expired', 'burned') OR (status = 'active' AND downloads_left <= 0)) "
			   "LIMIT 64", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while (n < 64 && store_step(q) == 1)
		str_copy(ids[n++], sizeof(ids[0]), store_col_text(q, 0));
	store_stmt_free(q);
	for (int i = 0; i < n; i++)
		if (x_blobs_remove(app, ids[i]) == 0)
			store_exec(c, "UPDATE exchange_transfers SET blobs_deleted = 1 WHERE id = $1",
				   STORE_ARGS(SA_TEXT(ids[i])));
	/* 4. Blob directories the database does not know (a restored older database, a lost row). */
	x_sweep_orphans(app, c, now);
	return changed;
}

static struct ticker *x_ticker;

static void x_sweep_tick(void *arg)
{
	struct app *app = arg;
	struct store_conn *c = store_conn(app->store);
	int r = c ? exchange_sweep(app, c) : ERR_STORE;

	if (r < 0)
		log_warn("exchange: sweep failed", "error=\"%s\"", err_str(r));
}

int exchange_sweeper_start(struct app *app, unsigned interval_s)
{
	return ticker_start(interval_s ? interval_s : 60, x_sweep_tick, app, &x_ticker);
}

void exchange_sweeper_stop(void)
{
	ticker_stop(x_ticker);
	x_ticker = NULL;
}

/* ---------------------------------------------------------------- routes */

int exchange_routes(struct http_server *s)
{
	int r = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = r ? r : http_route_stream(s, HTTP_POST, "/api/v1/transfers", x_send_done, x_send_upload, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/transfers", h_list, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/transfers/{id}", h_show, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/revoke", h_revoke, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/approve", h_approve, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/transfers/{id}/reject", h_reject, 0);
	r = r ? r : http_route(s, HTTP_GET, "/api/v1/exchange/approval", h_approval_list, 0);
	r = r ? r : http_route(s, HTTP_PUT, "/api/v1/exchange/approval/{id}", h_approval_set, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/requests", h_request_create, 0);
	r = r ? r : http_route(s, HTTP_POST, "/api/v1/exchange/sweep", h_sweep, 0);
	r = r ? r : http_route(s, HTTP_GET, "/x/{token}", h_link_get, HTTP_AUTH_NONE);
	r = r ? r : http_route_stream(s, HTTP_POST, "/x/{token}", h_link_post, x_link_upload, HTTP_AUTH_OPTIONAL);
	return r;
}
