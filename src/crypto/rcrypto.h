/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * crypto: the few primitives the server core needs, all on libsodium:
 * random tokens, token hashing, Argon2id password hashes, SHA-256, and
 * server key files (created once with mode 0600, read back strictly).
 */
#ifndef RAMPART_RCRYPTO_H
#define RAMPART_RCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCRYPTO_TOKEN_BYTES 32
/* prefix (<= 8) + '_' + 43 base64url characters + NUL */
#define RCRYPTO_TOKEN_SIZE 64
#define RCRYPTO_HASH_HEX_SIZE 65
#define RCRYPTO_PWHASH_SIZE 128

/* Initializes libsodium.  Returns 0 or ERR_INTERNAL. */
int rcrypto_init(void);

/*
 * Writes "<prefix>_<43 base64url chars>" (256 random bits) to @out.
 * @prefix names the kind ("rs" session, "rt" API token...).  Returns 0 or -EINVAL.
 */
int rcrypto_token_new(char *out, size_t size, const char *prefix);

/* SHA-256 of @token as lowercase hex: what is stored instead of the token. */
void rcrypto_token_hash(const char *token, char out[RCRYPTO_HASH_HEX_SIZE]);

/* SHA-256 of @len bytes as lowercase hex. */
void rcrypto_sha256_hex(const void *data, size_t len, char out[RCRYPTO_HASH_HEX_SIZE]);

/*
 * Lowers every later Argon2id derivation (passwords, exchange transfer
 * keys) to libsodium's minimum cost.  For tests only: nothing in a release
 * program calls it (rampartd-test, a test build, does when
 * RAMPART_TEST_FAST_PWHASH=1; unit tests call it directly).
 */
void rcrypto_pwhash_set_minimal(void);

/* The Argon2id limits in force (interactive, or the tests' minimum). */
void rcrypto_pwhash_limits(unsigned long long *ret_ops, size_t *ret_mem);

/*
 * Hashes @password with Argon2id (interactive limits, or minimal ones in a
 * test build; see rcrypto_pwhash_set_minimal).
 * Returns 0, -ENOMEM, or -EINVAL for a password over 1024 bytes.
 */
int rcrypto_pwhash(const char *password, char out[RCRYPTO_PWHASH_SIZE]);

/* True if @password matches @hash (constant time in the password). */
bool rcrypto_pwhash_verify(const char *hash, const char *password);

/* Constant-time comparison of two equal-length NUL-terminated strings. */
bool rcrypto_str_eq(const char *a, const char *b);

/*
 * Loads the @len-byte key at @path, creating it from random bytes with mode
 * 0600 when absent.  Refuses a file of the wrong size or readable by group
 * or others.  Returns 0, -errno, or ERR_INVALID.
 */
int rcrypto_keyfile_load(const char *path, unsigned char *key, size_t len);

#endif
