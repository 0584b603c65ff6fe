/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* exchange/blob: keys and encrypted files of the exchange site (see blob.h). */
#include "exchange/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/app.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/ids.h"
#include "common/log.h"

#define XC_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define XC_MAGIC "RXB1"
#define X_HOLD_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define X_HOLD_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

/* ---------------------------------------------------------------- keys */

int xblob_derive(const char *token, const char *password, const unsigned char *salt, unsigned char key[XC_KEY])
{
	unsigned long long ops;
	size_t mem;
	char in[RCRYPTO_TOKEN_SIZE + X_PASSWORD_SIZE + 2];
	int n, r;

	rcrypto_pwhash_limits(&ops, &mem);
	n = snprintf(in, sizeof(in), "%s\n%s", token, password);
	if (n < 0 || (size_t)n >= sizeof(in))
		return ERR_INVALID;
	r = crypto_pwhash(key, XC_KEY, in, (unsigned long long)n, salt, ops, mem,
			  crypto_pwhash_ALG_ARGON2ID13);
	sodium_memzero(in, sizeof(in));
	return r == 0 ? 0 : -ENOMEM;
}

void xblob_key_check(const unsigned char key[XC_KEY], unsigned char out[XC_CHECK])
{
	static const char label[] = "rampart exchange key check v1";

	crypto_generichash(out, XC_CHECK, (const unsigned char *)label, sizeof(label) - 1, key, XC_KEY);
}

void xblob_password_new(char out[X_PASSWORD_SIZE])
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

int xblob_hold_seal(const struct app *app, const char *tid, const char *token, unsigned char *out,
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

int xblob_hold_open(const struct app *app, const char *tid, const void *blob, size_t len,
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

/* ---------------------------------------------------------------- storage */

int xblob_dir(const struct app *app, const char *tid, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/blobs/%s", app->cfg.data_dir, tid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xblob_dir_create(const struct app *app, const char *tid, char *out, size_t size)
{
	char path[800];
	int r = xblob_dir(app, tid, out, size);

	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/blobs", app->cfg.data_dir);
	if ((mkdir(path, 0700) < 0 && errno != EEXIST) || (mkdir(out, 0700) < 0 && errno != EEXIST))
		return -errno;
	return 0;
}

int xblob_remove(const struct app *app, const char *tid)
{
	char dir[700], path[800];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (!ids_is_ulid(tid) || xblob_dir(app, tid, dir, sizeof(dir)) < 0)
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

int xblob_open(const struct app *app, const char *tid, const char *fid)
{
	char path[800];
	int fd;

	snprintf(path, sizeof(path), "%s/blobs/%s/%s", app->cfg.data_dir, tid, fid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int xblob_read_all(int fd, void *p, size_t n)
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

/* ---------------------------------------------------------------- writing */

int xblob_writer_init(struct xblob_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->pbuf = malloc(XC_CHUNK);
	w->cbuf = malloc(XC_CHUNK + XC_ABYTES);
	return w->pbuf && w->cbuf ? 0 : -ENOMEM;
}

int xblob_writer_open(struct xblob_writer *w, const char *path, const unsigned char *key)
{
	unsigned char header[XC_HEADER];
	int r;

	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return -errno;
	crypto_secretstream_xchacha20poly1305_init_push(&w->st, header, key);
	r = fsio_write_all(w->fd, XC_MAGIC, 4);
	r = r ? r : fsio_write_all(w->fd, header, sizeof(header));
	w->plen = 0;
	return r;
}

static int xblob_flush(struct xblob_writer *w, unsigned char tag)
{
	unsigned long long clen;

	crypto_secretstream_xchacha20poly1305_push(&w->st, w->cbuf, &clen, w->pbuf, w->plen, NULL, 0, tag);
	w->plen = 0;
	return fsio_write_all(w->fd, w->cbuf, (size_t)clen);
}

int xblob_writer_write(struct xblob_writer *w, const char *data, size_t len)
{
	int r;

	while (len) {
		size_t n = XC_CHUNK - w->plen;

		if (n > len)
			n = len;
		memcpy(w->pbuf + w->plen, data, n);
		w->plen += n;
		data += n;
		len -= n;
		if (w->plen == XC_CHUNK && (r = xblob_flush(w, 0)) < 0)
			return r;
	}
	return 0;
}

int xblob_writer_close(struct xblob_writer *w)
{
	int r = xblob_flush(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL);

	if (r == 0 && fsync(w->fd) < 0)
		r = -errno;
	close(w->fd);
	w->fd = -1;
	return r;
}

void xblob_writer_abort(struct xblob_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

void xblob_writer_done(struct xblob_writer *w)
{
	xblob_writer_abort(w);
	sodium_memzero(&w->st, sizeof(w->st));
	if (w->pbuf) {
		sodium_memzero(w->pbuf, XC_CHUNK);
		free(w->pbuf);
	}
	free(w->cbuf);
	w->pbuf = NULL;
	w->cbuf = NULL;
}

/* ---------------------------------------------------------------- reading */

int xblob_reader_start(struct xblob_reader *r, int fd, const unsigned char *key, int64_t size)
{
	unsigned char head[4 + XC_HEADER];

	r->fd = fd;
	if (xblob_read_all(fd, head, sizeof(head)) < 0 || memcmp(head, XC_MAGIC, 4) != 0)
		return -EIO;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&r->st, head + 4, key) != 0)
		return -EIO;
	r->left = size;
	r->final_seen = false;
	return 0;
}

int xblob_reader_next(struct xblob_reader *r, unsigned char out[XC_CHUNK], size_t *ret_len)
{
	size_t plain = r->left >= XC_CHUNK ? XC_CHUNK : (size_t)r->left;
	unsigned long long mlen;
	unsigned char tag;
	int e = xblob_read_all(r->fd, r->cbuf, plain + XC_ABYTES);

	if (e < 0)
		return e;
	if (crypto_secretstream_xchacha20poly1305_pull(&r->st, out, &mlen, &tag, r->cbuf, plain + XC_ABYTES,
						       NULL, 0) != 0 || mlen != plain)
		return -EIO;
	if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) != (plain < XC_CHUNK))
		return -EIO;   /* cut or extended */
	r->final_seen = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	r->left -= (int64_t)plain;
	*ret_len = plain;
	return 0;
}
