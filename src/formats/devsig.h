/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * devsig: the signed-request format shared by rampart-agent and rampartd.
 *
 * A device signs every request after enrollment with its Ed25519 key over
 *   "METHOD\nPATH\nTIMESTAMP\nhex(SHA-256(body))"
 * where TIMESTAMP is Unix milliseconds in decimal.  The request carries
 *   X-Rampart-Device     the device id
 *   X-Rampart-Timestamp  TIMESTAMP
 *   X-Rampart-Signature  base64 (standard, padded) of the 64-byte signature
 * The server accepts a timestamp within DEVSIG_WINDOW_MS of its clock and
 * each signature once (see endpoint.c for the replay cache).
 */
#ifndef RAMPART_DEVSIG_H
#define RAMPART_DEVSIG_H

#include <stddef.h>
#include <stdint.h>

#define DEVSIG_WINDOW_MS (5 * 60 * 1000)
#define DEVSIG_HDR_DEVICE "X-Rampart-Device"
#define DEVSIG_HDR_TIMESTAMP "X-Rampart-Timestamp"
#define DEVSIG_HDR_SIGNATURE "X-Rampart-Signature"
#define DEVSIG_PK_BYTES 32
#define DEVSIG_SK_BYTES 64
#define DEVSIG_SIG_BYTES 64
/* base64 of 64 bytes, padded, plus NUL */
#define DEVSIG_SIG_B64_SIZE 89
/* base64 of 32 bytes, padded, plus NUL */
#define DEVSIG_PK_B64_SIZE 45
#define DEVSIG_MSG_SIZE 1200

/*
 * Writes the canonical message for a request into @out (@size bytes).
 * Returns its length, or ERR_INVALID when @method or @path hold a newline
 * or the message does not fit.
 */
int devsig_message(const char *method, const char *path, int64_t ts_ms, const void *body,
		   size_t body_len, char *out, size_t size);

/* Signs the canonical message with @sk, writing base64 into @out.  Returns 0 or ERR_INVALID. */
int devsig_sign(const unsigned char sk[DEVSIG_SK_BYTES], const char *method, const char *path,
		int64_t ts_ms, const void *body, size_t body_len, char out[DEVSIG_SIG_B64_SIZE]);

/*
 * Checks base64 signature @sig_b64 by @pk over the request.  Returns 0, or
 * ERR_UNAUTHENTICATED for a malformed or wrong signature.
 */
int devsig_verify(const unsigned char pk[DEVSIG_PK_BYTES], const char *method, const char *path,
		  int64_t ts_ms, const void *body, size_t body_len, const char *sig_b64);

/* Decodes standard base64 of exactly @len bytes into @out.  Returns 0 or ERR_INVALID. */
int devsig_b64_decode(const char *b64, unsigned char *out, size_t len);

/* Encodes @len bytes as standard padded base64 into @out (@size bytes).  Returns 0 or ERR_INVALID. */
int devsig_b64_encode(const unsigned char *in, size_t len, char *out, size_t size);

#endif
