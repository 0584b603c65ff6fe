/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/download: streaming a transfer's files to the recipient.  Every
 * file is opened before the download is consumed, so that a used-up link
 * can delete its files at once (open descriptors keep the data until the
 * answer ends); then one conditional UPDATE takes a use, and only one of
 * any number of parallel downloads can take the last.  One file goes out
 * as it is; several as a ustar archive with a pax header carrying each
 * UTF-8 name.  Decryption happens a chunk at a time as the answer is read.
 */
#include "exchange/internal.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "store/store.h"

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
	bool tar, in_file, trailer;
	struct xblob_reader rd;      /* the current file */
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

/* ---------------------------------------------------------------- tar */

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

/* ---------------------------------------------------------------- the answer's reader */

/* Copies what is queued in @src[*pos..len) to @out; returns the bytes copied. */
static size_t xdl_take(const unsigned char *src, size_t *pos, size_t len, char *out, size_t max)
{
	size_t n = len - *pos < max ? len - *pos : max;

	memcpy(out, src + *pos, n);
	*pos += n;
	return n;
}

/* The current file is done: queues the tar padding and moves to the next file. */
static void xdl_file_done(struct xdl *d)
{
	size_t pad = (size_t)((512 - d->f[d->cur].size % 512) % 512);

	d->in_file = false;
	d->cur++;
	if (d->tar && pad) {
		memset(d->hdr, 0, pad);
		d->hpos = 0;
		d->hlen = pad;
	}
}

static long xdl_read(void *ctx, char *out, size_t max)
{
	struct xdl *d = ctx;
	int r;

	for (;;) {
		if (d->hpos < d->hlen)
			return (long)xdl_take(d->hdr, &d->hpos, d->hlen, out, max);
		if (d->ppos < d->plen)
			return (long)xdl_take(d->pbuf, &d->ppos, d->plen, out, max);
		if (d->in_file && !d->rd.final_seen) {
			d->ppos = 0;
			r = xblob_reader_next(&d->rd, d->pbuf, &d->plen);
			if (r < 0) {
				log_error("exchange: a stored file does not decrypt", "file=%s", d->f[d->cur].id);
				return r;
			}
			continue;
		}
		if (d->in_file) {
			xdl_file_done(d);
			continue;
		}
		if (d->cur < d->nfiles) {
			if (d->tar)
				xdl_tar_file(d, d->cur);
			r = xblob_reader_start(&d->rd, d->f[d->cur].fd, d->key, d->f[d->cur].size);
			if (r < 0)
				return r;
			d->in_file = true;
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
static int xdl_disposition(struct http_resp *resp, const char *name)
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

/* ---------------------------------------------------------------- the download */

/*
 * Opens every file of transfer @x into *ret.  Returns 0, -ENOMEM, or
 * ERR_NOT_FOUND when the files are gone (or the query failed).
 */
static int xdl_open(struct app *app, struct store_conn *c, const struct xfer_row *x, struct xdl **ret)
{
	struct store_stmt *q;
	struct xdl *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->f = calloc((size_t)x->file_count + 1, sizeof(*d->f));
	if (!d->f) {
		free(d);
		return -ENOMEM;
	}
	r = store_query(c, "SELECT id, name, size FROM exchange_files WHERE transfer_id = $1 ORDER BY seq",
			STORE_ARGS(SA_TEXT(x->id)), &q);
	if (r == 0) {
		while (d->nfiles < x->file_count && (r = store_step(q)) == 1) {
			struct xdl_file *f = &d->f[d->nfiles];

			str_copy(f->id, sizeof(f->id), store_col_text(q, 0));
			str_copy(f->name, sizeof(f->name), store_col_text(q, 1));
			f->size = store_col_i64(q, 2);
			f->fd = xblob_open(app, x->id, f->id);
			d->nfiles++;
			if (f->fd < 0) {
				r = f->fd;
				break;
			}
		}
		store_stmt_free(q);
	}
	if (r < 0 || d->nfiles == 0) {
		xdl_free(d);
		return ERR_NOT_FOUND;
	}
	*ret = d;
	return 0;
}

/*
 * The one atomic step: takes one use of the link, downloaded from address
 * @from.  Returns the uses left, or -1 when none was left.
 */
static int64_t xdl_consume(struct store_conn *c, const char *tid, const char *from, int64_t now)
{
	struct store_stmt *q;
	int64_t left = -1;

	if (store_query(c, "UPDATE exchange_transfers SET downloads_left = downloads_left - 1, "
			   "downloaded_at = $2, downloaded_from = $3 WHERE id = $1 AND status = 'active' "
			   "AND downloads_left > 0 AND expires_at > $2 RETURNING downloads_left",
			STORE_ARGS(SA_TEXT(tid), SA_I64(now), SA_TEXT(from)), &q) == 0) {
		if (store_step(q) == 1)
			left = store_col_i64(q, 0);
		store_stmt_free(q);
	}
	return left;
}

int xdl_respond(struct xup *u, struct http_resp *resp)
{
	struct http_req *req = u->req;
	int64_t now = rtime_now_ms(), left;
	struct xdl *d = NULL;
	int r = xdl_open(u->app, u->c, &u->row, &d);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return xpage_gone(resp, "used");
	left = xdl_consume(u->c, u->row.id, http_req_remote(req), now);
	if (left < 0) {
		xdl_free(d);
		audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_FAILURE,
			  json_pack("{s:s}", "reason", "used up"));
		return xpage_gone(resp, "used");
	}
	store_exec(u->c, "INSERT INTO exchange_downloads (transfer_id, at, source) VALUES ($1, $2, $3)",
		   STORE_ARGS(SA_TEXT(u->row.id), SA_I64(now), SA_TEXT(http_req_remote(req))));
	audit_req(req, u->c, "exchange.download", "transfer", u->row.id, AUDIT_SUCCESS,
		  json_pack("{s:I, s:I}", "files", (json_int_t)d->nfiles, "downloads_left", (json_int_t)left));
	if (left == 0) {
		/* The open descriptors keep the data until this download ends. */
		xfer_drop_blobs(u->app, u->c, u->row.id);
	}
	d->key = steal_ptr(&u->key);
	d->tar = d->nfiles > 1;
	if (d->tar) {
		char name[64];

		snprintf(name, sizeof(name), "rampart-%s.tar", u->row.id);
		xdl_disposition(resp, name);
		return http_resp_reader(resp, 200, "application/x-tar", xdl_tar_size(d), xdl_read, xdl_free, d);
	}
	xdl_disposition(resp, d->f[0].name);
	return http_resp_reader(resp, 200, "application/octet-stream", (uint64_t)d->f[0].size, xdl_read,
				xdl_free, d);
}
