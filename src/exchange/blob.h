/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/blob: the exchange site's keys and its encrypted files on disk
 * (internal to src/exchange).
 *
 * Keys: a transfer's file key is Argon2id(link token "\n" password, salt);
 * the database keeps only the salt and a keyed hash of the key (the key
 * check), so neither the database nor the data directory alone opens a
 * file.  A link held for approval is sealed under the server's secret key
 * with the transfer id as additional data.
 *
 * Files: DATA/blobs/<transfer id>/<file id>, mode 0600 in 0700 directories:
 * "RXB1", a secretstream (XChaCha20-Poly1305) header, then chunks of
 * XC_CHUNK plaintext bytes tagged MESSAGE and a last shorter (possibly
 * empty) chunk tagged FINAL.  A reader refuses a file that is cut,
 * extended or altered.
 *
 * Includes nothing of the exchange's other rooms.
 */
#ifndef RAMPART_EXCHANGE_BLOB_H
#define RAMPART_EXCHANGE_BLOB_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/rcrypto.h"

struct app;

#define XC_CHUNK 65536
#define XC_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define XC_KEY 32
#define XC_SALT crypto_pwhash_SALTBYTES
#define XC_CHECK 32
#define X_PASSWORD_SIZE 32
#define X_HOLD_MAX (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + RCRYPTO_TOKEN_SIZE + \
		    crypto_aead_xchacha20poly1305_ietf_ABYTES)

/* ---------------------------------------------------------------- keys */

/*
 * Derives the file key from the link token and the password (Argon2id;
 * the minimum cost under RAMPART_TEST_FAST_PWHASH=1).  Returns 0,
 * ERR_INVALID for a token and password too long together, or -ENOMEM.
 */
int xblob_derive(const char *token, const char *password, const unsigned char *salt,
		 unsigned char key[XC_KEY]);

/* The key check stored to recognize the right password: a keyed hash, not the key. */
void xblob_key_check(const unsigned char key[XC_KEY], unsigned char out[XC_CHECK]);

/* A password for people to type: 4 groups of 4 unambiguous characters (80 bits). */
void xblob_password_new(char out[X_PASSWORD_SIZE]);

/*
 * Seals @token for transfer @tid into @out (X_HOLD_MAX bytes) under the
 * server's secret key; *ret_len receives its length.  ERR_INTERNAL without
 * a server key or for a token too long.
 */
int xblob_hold_seal(const struct app *app, const char *tid, const char *token, unsigned char *out,
		    size_t *ret_len);

/*
 * Opens a held link into @token (RCRYPTO_TOKEN_SIZE bytes).  ERR_INTERNAL
 * (logged once, without the link) when it does not open: altered, or
 * sealed under another server key.
 */
int xblob_hold_open(const struct app *app, const char *tid, const void *blob, size_t len,
		    char token[RCRYPTO_TOKEN_SIZE]);

/* ---------------------------------------------------------------- storage */

/* DATA/blobs/@tid into @out.  Returns 0 or -ENAMETOOLONG. */
int xblob_dir(const struct app *app, const char *tid, char *out, size_t size);

/* Creates DATA/blobs and its directory for @tid (0700), written to @out.  Returns 0 or -errno. */
int xblob_dir_create(const struct app *app, const char *tid, char *out, size_t size);

/* Removes a transfer's directory and everything in it; missing is fine.  Returns 0 or -errno. */
int xblob_remove(const struct app *app, const char *tid);

/* Opens file @fid of transfer @tid for reading.  Returns the descriptor or -errno. */
int xblob_open(const struct app *app, const char *tid, const char *fid);

/* Reads exactly @n bytes; -EIO when the file ends first.  Returns 0 or -errno. */
int xblob_read_all(int fd, void *p, size_t n);

/* ---------------------------------------------------------------- writing */

/* One file being encrypted as it streams in; its buffers are reused from file to file. */
struct xblob_writer {
	int fd;                       /* -1 between files */
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *pbuf;          /* XC_CHUNK plaintext bytes waiting */
	unsigned char *cbuf;          /* one encrypted chunk */
	size_t plen;
};

/* Allocates the buffers.  Returns 0 or -ENOMEM (then xblob_writer_done is still safe). */
int xblob_writer_init(struct xblob_writer *w);

/* Creates @path (it must not exist) and writes the file's header under @key.  Returns 0 or -errno. */
int xblob_writer_open(struct xblob_writer *w, const char *path, const unsigned char *key);

/* Encrypts @len bytes into the open file, a chunk at a time.  Returns 0 or -errno. */
int xblob_writer_write(struct xblob_writer *w, const char *data, size_t len);

/* Writes the final chunk, fsyncs and closes the file.  Returns 0 or -errno (the file is closed). */
int xblob_writer_close(struct xblob_writer *w);

/* Closes an unfinished file, if one is open; the caller removes it. */
void xblob_writer_abort(struct xblob_writer *w);

/* Aborts, then wipes and frees the buffers and the stream state. */
void xblob_writer_done(struct xblob_writer *w);

/* ---------------------------------------------------------------- reading */

/* One file being decrypted, a chunk at a time. */
struct xblob_reader {
	int fd;                       /* borrowed */
	crypto_secretstream_xchacha20poly1305_state st;
	int64_t left;                 /* plaintext bytes not yet decrypted */
	bool final_seen;              /* the FINAL chunk was read: the file is complete */
	unsigned char cbuf[XC_CHUNK + XC_ABYTES];
};

/* Reads the header of a file of @size plaintext bytes on @fd.  Returns 0 or -EIO. */
int xblob_reader_start(struct xblob_reader *r, int fd, const unsigned char *key, int64_t size);

/*
 * Decrypts the next chunk into @out; *ret_len receives its length.
 * Returns 0, or -EIO for a file cut, extended or altered, or -errno.
 */
int xblob_reader_next(struct xblob_reader *r, unsigned char out[XC_CHUNK], size_t *ret_len);

#endif
