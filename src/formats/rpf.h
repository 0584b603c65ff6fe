/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rpf: the Rampart protected-file container (docs/formats/protected-file.md).
 *
 * A file is a fixed 226-byte header followed by the body in chunks of
 * 64 KiB of plaintext, each sealed with AES-256-GCM (OpenSSL libcrypto)
 * under the file's content key.  The nonce of chunk i is
 * prefix(7) || i (4, big-endian) || last(1), the STREAM construction: the
 * final chunk is sealed with last = 1 and every other one with last = 0, so
 * truncation at a chunk boundary, reordering and dropping are detected.  The
 * whole header is the associated data of every chunk, so any header edit,
 * and any chunk moved from another file, fails authentication.
 *
 * The content key travels in the header sealed (libsodium sealed box) to
 * the server's X25519 key-wrapping key together with the file id, so that
 * the server hands a key out only for the file it was sealed for.
 *
 * Encryption and decryption run on a pool of threads, each taking its own
 * spans of chunks, reading them (a file is mapped a span at a time), sealing
 * or opening them and writing them at their offsets: memory stays flat
 * whatever the file size.
 * Nothing here logs or keeps key material beyond the call; keys are wiped.
 */
#ifndef RAMPART_RPF_H
#define RAMPART_RPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/ids.h"

#define RPF_MAGIC "\x89RPF\r\n\x1a\n"
#define RPF_MAGIC_LEN 8
#define RPF_VERSION 1
#define RPF_SUITE_AES256GCM_STREAM 1
#define RPF_CHUNK ((size_t)65536)
#define RPF_TAG 16
#define RPF_KEY_BYTES 32
#define RPF_NONCE_PREFIX 7
#define RPF_KEY_ID_BYTES 16
#define RPF_WRAP_PLAIN (ULID_LEN + RPF_KEY_BYTES)
#define RPF_WRAPPED_LEN (RPF_WRAP_PLAIN + 48) /* crypto_box_SEALBYTES */
#define RPF_HEADER_LEN 226
#define RPF_PK_BYTES 32
#define RPF_SK_BYTES 32

/* Errors, besides -errno and -ENOMEM (rpf_strerror explains each). */
enum {
	RPF_E_MAGIC = -(ERR_BASE + 200),     /* not a protected file */
	RPF_E_VERSION = -(ERR_BASE + 201),   /* a format version this program does not read */
	RPF_E_HEADER = -(ERR_BASE + 202),    /* a malformed header field */
	RPF_E_TRUNCATED = -(ERR_BASE + 203), /* the file ends early (header, chunk or final chunk missing) */
	RPF_E_AUTH = -(ERR_BASE + 204),      /* a chunk failed authentication */
	RPF_E_KEY_ID = -(ERR_BASE + 205),    /* sealed to another key-wrapping key */
	RPF_E_UNWRAP = -(ERR_BASE + 206),    /* the wrapped key does not open or names another file */
	RPF_E_CRYPTO = -(ERR_BASE + 207),    /* libcrypto refused an operation */
	RPF_E_CHANGED = -(ERR_BASE + 208),   /* the input changed size while it was read */
};

/* Flags of rpf_encrypt_fd and rpf_decrypt_fd. */
enum {
	/*
	 * Read the input with positional reads instead of mapping it.  Without
	 * it the input is mapped a span at a time, and an input cut short under
	 * the mapping (SIGBUS) fails with RPF_E_CHANGED: a process-wide SIGBUS
	 * handler is installed the first time, which passes faults outside the
	 * mapped spans on to the disposition that was there before.
	 */
	RPF_FD_READ = 1u << 0,
	/*
	 * Start writing each finished span of the output to its disk at once
	 * (sync_file_range), for a caller that will fdatasync the output: the
	 * disk works while the cipher does, and the final sync has little left.
	 */
	RPF_FD_WRITEBACK = 1u << 1,
};

struct rpf_header {
	uint8_t version;
	uint8_t suite;
	uint32_t chunk_size;
	char file_id[ULID_SIZE];
	char server_id[ULID_SIZE];
	char policy_id[ULID_SIZE];
	unsigned char key_id[RPF_KEY_ID_BYTES];
	unsigned char nonce_prefix[RPF_NONCE_PREFIX];
	unsigned char wrapped[RPF_WRAPPED_LEN];
};

/*
 * Errors are explained in a struct rerr (common/err.h); when a chunk is at
 * fault, its index is in the rerr's @at and its message names it.
 */

/* A sentence for an rpf error (or any other error code), never NULL. */
const char *rpf_strerror(int err);

/* The key id of a server's X25519 public key: the first 16 bytes of its SHA-256. */
void rpf_key_id(const unsigned char pk[RPF_PK_BYTES], unsigned char out[RPF_KEY_ID_BYTES]);

/*
 * Parses the @len bytes at @data as a header (at least RPF_HEADER_LEN are
 * read).  Returns 0 and fills @h, or RPF_E_TRUNCATED, RPF_E_MAGIC,
 * RPF_E_VERSION or RPF_E_HEADER with @e (may be NULL) saying which field.
 */
int rpf_header_parse(const unsigned char *data, size_t len, struct rpf_header *h,
		     struct rerr *e);

/* Writes @h as RPF_HEADER_LEN bytes.  Returns 0 or RPF_E_HEADER for ids that are not ULIDs. */
int rpf_header_serialize(const struct rpf_header *h, unsigned char out[RPF_HEADER_LEN]);

/*
 * Builds a header for a new file: a fresh content key (written to @ret_key)
 * and nonce prefix, the key sealed to the server key @server_pk together with
 * @file_id.  Returns 0, or RPF_E_HEADER for ids that are not ULIDs, or
 * RPF_E_CRYPTO.
 */
int rpf_header_new(const char *file_id, const char *server_id, const char *policy_id,
		   const unsigned char server_pk[RPF_PK_BYTES], struct rpf_header *h,
		   unsigned char ret_key[RPF_KEY_BYTES]);

/*
 * Opens the wrapped key of @h with the server key pair: RPF_E_KEY_ID when @h
 * names another key, RPF_E_UNWRAP when the box does not open or was sealed
 * for another file id.  The key is written to @ret_key only on success.
 */
int rpf_unwrap(const struct rpf_header *h, const unsigned char pk[RPF_PK_BYTES],
	       const unsigned char sk[RPF_SK_BYTES], unsigned char ret_key[RPF_KEY_BYTES]);

/*
 * Encrypts @in_fd, from its current offset to its end, to @out_fd at its
 * current offset: the header, then the chunks; @out_fd's offset is left
 * after them.  @in_fd must be a regular file (positional I/O from several
 * threads).  An @out_fd that is a regular file is written with positional
 * writes; any other (a pipe, a terminal, /dev/null) is a stream, written in
 * order, a span (4 MiB) at a time.  @threads 0 means one per online CPU;
 * @flags are RPF_FD_*.
 * Returns 0, -ESPIPE for an input that is not a regular file,
 * RPF_E_CHANGED when the input changed size meanwhile, other -errno for
 * I/O errors, -ENOMEM, -EFBIG, or RPF_E_CRYPTO.  On failure the output
 * holds a partial file, which the caller discards.
 */
int rpf_encrypt_fd(int in_fd, int out_fd, const struct rpf_header *h,
		   const unsigned char key[RPF_KEY_BYTES], unsigned threads, unsigned flags);

/*
 * Decrypts the chunks of @in_fd (a regular file positioned just after the
 * header @hdr_bytes, which is the associated data) to @out_fd (a regular
 * file, from its current offset, or a stream as for rpf_encrypt_fd).
 * Plaintext is written only once its own chunk verified, in batches that
 * may land out of order in a file and in order, a span at a time, in a
 * stream; after a failure nothing later is started, but the caller must
 * discard the output unless 0 is returned (a stream then holds a prefix of
 * the plaintext that ends before the failing chunk's span, and a
 * truncated file is found only at its end).  @flags are RPF_FD_*.  Returns 0, -ESPIPE (not a
 * regular file), -errno, -ENOMEM, RPF_E_AUTH (@e names the lowest failing
 * chunk), RPF_E_TRUNCATED, RPF_E_CHANGED (the input changed size while it
 * was read) or RPF_E_CRYPTO.
 */
int rpf_decrypt_fd(int in_fd, int out_fd, const unsigned char hdr_bytes[RPF_HEADER_LEN],
		   const struct rpf_header *h, const unsigned char key[RPF_KEY_BYTES],
		   unsigned threads, unsigned flags, struct rerr *e);

/*
 * Whole-buffer helpers for tests and tools: the same format and pipeline
 * as the fd functions, over memory.  *ret (malloc'd) and
 * *ret_len are set only on success.
 */
int rpf_encrypt_buf(const void *in, size_t len, const struct rpf_header *h,
		    const unsigned char key[RPF_KEY_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len);
int rpf_decrypt_buf(const unsigned char *in, size_t len, const unsigned char pk[RPF_PK_BYTES],
		    const unsigned char sk[RPF_SK_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len, struct rerr *e);

#endif
