/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auditckpt: a signed statement of the audit chain's head, and the
 * JSON object that carries it (the checkpoint file, the API's and the SIEM
 * stream's representation).  Shared by rampartd, which signs, and the CLI,
 * which verifies; libsodium (Ed25519) and jansson only.
 *
 * The signed document is this exact text (keys in this order, no spaces):
 *   {"format":"rampart-audit-checkpoint","version":1,"server_id":"…",
 *    "seq":N,"hash":"<64 hex>","time":"2026-11-26T08:21:40.123Z"}
 * and the signature is Ed25519 over its bytes with the checkpoint key.
 * The carrying object (docs/security.md section 9):
 *   {"document": "<the text>", "signature": "<base64, 64 bytes>",
 *    "public_key": "<base64, 32 bytes>",
 *    optional, unsigned, for reading: "id", "seq", "hash", "time", "server_id"}
 * Copies of the document's fields must agree with it; any other member is
 * refused.  Parsing never trusts public_key: whoever verifies pins a key
 * (audit_checkpoint_verify) and the carried one is only compared with it.
 *
 * Invariants of a parsed struct audit_checkpoint: seq >= 1, hash is 64
 * lowercase hex, server_id 1..64 of [0-9A-Za-z_-], time a valid time, and
 * the fields are the document's.
 */
#ifndef RAMPART_FORMATS_AUDITCKPT_H
#define RAMPART_FORMATS_AUDITCKPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/auditchain.h"
#include "common/err.h"

#define AUDIT_CKPT_FORMAT "rampart-audit-checkpoint"
#define AUDIT_CKPT_VERSION 1
/* Largest checkpoint file (and API object) accepted. */
#define AUDIT_CKPT_FILE_MAX 16384
/* Largest signed document accepted; what rampartd writes is under 300 bytes. */
#define AUDIT_CKPT_DOC_MAX 1024
#define AUDIT_CKPT_SERVER_ID_MAX 64
#define AUDIT_KEY_BYTES 32
#define AUDIT_SIG_BYTES 64
/* Base64 (with padding) of a key and a signature, with the NUL. */
#define AUDIT_KEY_B64_SIZE 45
#define AUDIT_SIG_B64_SIZE 89

struct audit_checkpoint {
	int64_t id;                                  /* the server's row id; 0 when not given */
	char server_id[AUDIT_CKPT_SERVER_ID_MAX + 1];
	int64_t seq;
	char hash[AUDIT_HASH_HEX];
	int64_t time_ms;
	char document[AUDIT_CKPT_DOC_MAX + 1];
	unsigned char signature[AUDIT_SIG_BYTES];
	unsigned char public_key[AUDIT_KEY_BYTES];   /* as carried: never trusted by itself */
};

/*
 * Writes the document for (@server_id, @seq, @hash, @time_ms) and signs it
 * with the Ed25519 secret key @sk (crypto_sign_SECRETKEYBYTES) into *ret.
 * Returns 0, or ERR_INVALID when an argument breaks the invariants above.
 */
int audit_checkpoint_sign(const char *server_id, int64_t seq, const char *hash, int64_t time_ms,
			  const unsigned char *sk, struct audit_checkpoint *ret);

/*
 * Parses the signed document @doc (@len bytes) into the fields of *ret
 * (document included; signature and key untouched).  Exactly the six
 * members, each of its type and range, written exactly as
 * audit_checkpoint_sign writes them (that order, no spaces): one text per
 * checkpoint.  Returns 0 or ERR_INVALID with @e saying what is wrong.
 */
int audit_checkpoint_parse_document(const char *doc, size_t len, struct audit_checkpoint *ret,
				    struct rerr *e);

/*
 * Parses a checkpoint object (a file's @len bytes; at most
 * AUDIT_CKPT_FILE_MAX, no NUL, valid UTF-8, no duplicate members) into
 * *ret.  The signature is NOT checked.  Returns 0 or ERR_INVALID with @e.
 */
int audit_checkpoint_parse(const char *data, size_t len, struct audit_checkpoint *ret, struct rerr *e);

/* audit_checkpoint_parse of an object already parsed (an API item). */
int audit_checkpoint_from_json(const json_t *o, struct audit_checkpoint *ret, struct rerr *e);

/* True when @c's signature is good for its document under the pinned key @pk. */
bool audit_checkpoint_verify(const struct audit_checkpoint *c, const unsigned char pk[AUDIT_KEY_BYTES]);

/* The carrying object of @c (with id when not 0, and the readable copies).  NULL on ENOMEM. */
json_t *audit_checkpoint_json(const struct audit_checkpoint *c);

/* Base64 of a 32-byte key into @out. */
void audit_key_text(const unsigned char pk[AUDIT_KEY_BYTES], char out[AUDIT_KEY_B64_SIZE]);

/* Parses a base64 key (exactly 32 bytes).  Returns 0 or ERR_INVALID. */
int audit_key_parse(const char *text, unsigned char pk[AUDIT_KEY_BYTES]);

#endif
