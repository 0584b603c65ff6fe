/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auth_totp: the second factor.  TOTP (RFC 6238: HMAC-SHA1, 6 digits,
 * 30-second steps, one step of drift either way) through liboath, with the
 * last accepted step stored per person so a code is never accepted twice;
 * ten one-time recovery codes stored as salted SHA-256.
 *
 * Seeds are kept sealed with XChaCha20-Poly1305 under the server's secret
 * key, bound to the person's id, so a database copy alone reveals nothing
 * and a sealed seed cannot be moved to another person.
 */
#include "identity/auth_internal.h"

#include <errno.h>
#include <oath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/log.h"
#include "common/str.h"
#include "store/store.h"

#define TOTP_AD_PREFIX "rampart.totp.v1:"
#define RECOVERY_SALT "rampart.recovery.v1:"
#define RECOVERY_CHARS 12
/* 32 letters without the look-alikes l, o, 0 and 1. */
static const char recovery_alphabet[32] = "abcdefghijkmnpqrstuvwxyz23456789";

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_status;

static void auth_oath_init(void)
{
	oath_status = oath_init();
}

static int auth_oath_ready(void)
{
	pthread_once(&oath_once, auth_oath_init);
	if (oath_status != OATH_OK) {
		log_error("auth: liboath failed to initialize", "error=\"%s\"", oath_strerror(oath_status));
		return ERR_INTERNAL;
	}
	return 0;
}

static bool auth_is_code(const char *code)
{
	if (!code || strlen(code) != AUTH_TOTP_DIGITS)
		return false;
	for (const char *p = code; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int auth_totp_code(const unsigned char *secret, size_t len, int64_t now, char out[7])
{
	char code[AUTH_TOTP_DIGITS + 1];
	int rc;

	if (auth_oath_ready() < 0 || now < 0)
		return ERR_INTERNAL;
	rc = oath_totp_generate2((const char *)secret, len, (time_t)(now / 1000), AUTH_TOTP_STEP_S,
				 OATH_TOTP_DEFAULT_START_TIME, AUTH_TOTP_DIGITS, 0, code);
	if (rc != OATH_OK)
		return ERR_INTERNAL;
	memcpy(out, code, sizeof(code));
	sodium_memzero(code, sizeof(code));
	return 0;
}

int auth_totp_match(const unsigned char *secret, size_t len, int64_t now, int64_t last_step,
		    const char *code, int64_t *ret_step)
{
	int64_t step = now / 1000 / AUTH_TOTP_STEP_S, found = 0;
	char expect[AUTH_TOTP_DIGITS + 1];

	if (!auth_is_code(code))
		return ERR_UNAUTHENTICATED;
	for (int64_t s = step - 1; s <= step + 1; s++) {
		if (s <= last_step || s < 0)
			continue;
		if (auth_totp_code(secret, len, s * AUTH_TOTP_STEP_S * 1000, expect) < 0) {
			sodium_memzero(expect, sizeof(expect));
			return ERR_INTERNAL;
		}
		if (sodium_memcmp(expect, code, AUTH_TOTP_DIGITS) == 0 && !found)
			found = s;
	}
	sodium_memzero(expect, sizeof(expect));
	if (!found)
		return ERR_UNAUTHENTICATED;
	*ret_step = found;
	return 0;
}

static int auth_totp_ad(const char *person_id, char *ad, size_t size, size_t *ret_len)
{
	int n = snprintf(ad, size, TOTP_AD_PREFIX "%s", person_id);

	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	*ret_len = (size_t)n;
	return 0;
}

int auth_totp_seal(const struct app *app, const char *person_id, const unsigned char *secret,
		   unsigned char **ret, size_t *ret_len)
{
	size_t n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + AUTH_TOTP_SECRET_BYTES +
		   crypto_aead_xchacha20poly1305_ietf_ABYTES, adlen;
	unsigned long long clen;
	unsigned char *blob;
	char ad[64];

	if (auth_totp_ad(person_id, ad, sizeof(ad), &adlen) < 0)
		return -EINVAL;
	blob = malloc(n);
	if (!blob)
		return -ENOMEM;
	randombytes_buf(blob, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						   &clen, secret, AUTH_TOTP_SECRET_BYTES,
						   (const unsigned char *)ad, adlen, NULL, blob, app->secret_key);
	*ret = blob;
	*ret_len = n;
	return 0;
}

int auth_totp_open(const struct app *app, const char *person_id, const void *blob, size_t len,
		   unsigned char secret[AUTH_TOTP_SECRET_BYTES])
{
	const unsigned char *b = blob;
	unsigned char out[AUTH_TOTP_SECRET_BYTES];
	unsigned long long mlen;
	size_t adlen;
	char ad[64];

	if (!blob || len != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + AUTH_TOTP_SECRET_BYTES +
			     crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    auth_totp_ad(person_id, ad, sizeof(ad), &adlen) < 0)
		return ERR_INTERNAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
						       b + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       (const unsigned char *)ad, adlen, b,
						       app->secret_key) != 0 ||
	    mlen != AUTH_TOTP_SECRET_BYTES) {
		log_error("auth: a sealed TOTP seed does not open (altered, or another server key)",
			  "person=%s", person_id);
		sodium_memzero(out, sizeof(out));
		return ERR_INTERNAL;
	}
	memcpy(secret, out, sizeof(out));
	sodium_memzero(out, sizeof(out));
	return 0;
}

/* Reads the sealed seed in @column ("totp_secret" or "totp_pending") and opens it. */
static int auth_totp_load(const struct app *app, struct store_conn *c, const char *person_id,
			  bool pending, unsigned char secret[AUTH_TOTP_SECRET_BYTES],
			  int64_t *ret_last_step)
{
	struct store_stmt *st;
	const void *blob;
	size_t len;
	int r;

	r = store_query(c, pending ? "SELECT totp_pending, totp_last_step FROM people WHERE id = $1"
				   : "SELECT totp_secret, totp_last_step FROM people WHERE id = $1",
			STORE_ARGS(SA_TEXT(person_id)), &st);
	if (r < 0)
		return r;
	r = store_step(st);
	if (r == 1 && store_col_is_null(st, 0))
		r = 0;
	if (r == 1) {
		blob = store_col_blob(st, 0, &len);
		r = auth_totp_open(app, person_id, blob, len, secret);
		if (r == 0 && ret_last_step)
			*ret_last_step = store_col_i64(st, 1);
	} else if (r == 0) {
		r = ERR_NOT_FOUND;
	}
	store_stmt_free(st);
	return r;
}

/* Recovery codes: 12 characters; dashes, spaces and case are ignored on input. */
static int auth_recovery_normalize(const char *code, char out[RECOVERY_CHARS + 1])
{
	size_t n = 0;

	if (!code || strlen(code) > AUTH_RECOVERY_INPUT_MAX)
		return ERR_INVALID;
	for (const char *p = code; *p; p++) {
		char ch = *p;

		if (ch == '-' || ch == ' ')
			continue;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!memchr(recovery_alphabet, ch, sizeof(recovery_alphabet)) || n == RECOVERY_CHARS)
			return ERR_INVALID;
		out[n++] = ch;
	}
	if (n != RECOVERY_CHARS)
		return ERR_INVALID;
	out[n] = '\0';
	return 0;
}

int auth_recovery_hash(const char *person_id, const char *code, char out[RCRYPTO_HASH_HEX_SIZE])
{
	char norm[RECOVERY_CHARS + 1], text[128];
	int n, r;

	r = auth_recovery_normalize(code, norm);
	if (r < 0)
		return r;
	n = snprintf(text, sizeof(text), RECOVERY_SALT "%s:%s", person_id, norm);
	if (n < 0 || (size_t)n >= sizeof(text))
		r = ERR_INVALID;
	else
		rcrypto_sha256_hex(text, (size_t)n, out);
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(text, sizeof(text));
	return r;
}

static void auth_recovery_new(char out[AUTH_RECOVERY_CODE_SIZE])
{
	unsigned char raw[RECOVERY_CHARS];
	size_t o = 0;

	randombytes_buf(raw, sizeof(raw));
	for (size_t i = 0; i < RECOVERY_CHARS; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		/* 256 is a multiple of 32: every letter is equally likely. */
		out[o++] = recovery_alphabet[raw[i] & 31];
	}
	out[o] = '\0';
	sodium_memzero(raw, sizeof(raw));
}

int auth_totp_enroll(struct app *app, struct store_conn *c, int64_t now,
		     const struct auth_client *cl, const char *person_id,
		     char ret_b32[AUTH_TOTP_B32_SIZE])
{
	unsigned char secret[AUTH_TOTP_SECRET_BYTES], *blob = NULL;
	char *b32 = NULL;
	size_t blen = 0, b32len = 0;
	int64_t on;
	int r;

	r = store_query_i64(c, "SELECT totp_secret IS NOT NULL FROM people WHERE id = $1",
			    STORE_ARGS(SA_TEXT(person_id)), &on);
	if (r < 0)
		return r;
	if (on)
		return ERR_CONFLICT;
	r = auth_oath_ready();
	if (r < 0)
		return r;
	randombytes_buf(secret, sizeof(secret));
	r = auth_totp_seal(app, person_id, secret, &blob, &blen);
	if (r < 0)
		goto out;
	if (oath_base32_encode((const char *)secret, sizeof(secret), &b32, &b32len) != OATH_OK ||
	    b32len != AUTH_TOTP_B32_SIZE - 1) {
		r = ERR_INTERNAL;
		goto out;
	}
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = store_exec(c, "UPDATE people SET totp_pending = $2 WHERE id = $1 AND totp_secret IS NULL",
		       STORE_ARGS(SA_TEXT(person_id), SA_BLOB(blob, blen)));
	if (r == 0)
		r = ERR_CONFLICT;
	r = auth_commit_audited(c, cl, r, "auth.totp_enroll", "person", person_id, NULL);
	if (r < 0)
		goto out;
	memcpy(ret_b32, b32, AUTH_TOTP_B32_SIZE);
	r = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	if (b32) {
		sodium_memzero(b32, b32len);
		free(b32);
	}
	free(blob);
	return r;
}

int auth_totp_confirm(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id, const char *code,
		      char ret_codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE])
{
	unsigned char secret[AUTH_TOTP_SECRET_BYTES];
	char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t step = 0;
	int r;

	r = auth_totp_load(app, c, person_id, true, secret, NULL);
	if (r == ERR_NOT_FOUND)
		return ERR_CONFLICT;
	if (r < 0)
		return r;
	r = auth_totp_match(secret, sizeof(secret), now, 0, code, &step);
	sodium_memzero(secret, sizeof(secret));
	if (r == ERR_UNAUTHENTICATED) {
		auth_audit(c, cl, "auth.totp_confirm", "person", person_id, AUDIT_FAILURE,
			   json_pack("{s:s}", "reason", "wrong_code"));
		return ERR_INVALID;
	}
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE people SET totp_secret = totp_pending, totp_pending = NULL, "
			  "totp_last_step = $2, updated_at = $3 WHERE id = $1 AND totp_pending IS NOT NULL",
		       STORE_ARGS(SA_TEXT(person_id), SA_I64(step), SA_I64(now)));
	if (r == 0)
		r = ERR_CONFLICT;
	if (r >= 0)
		r = store_exec(c, "DELETE FROM recovery_codes WHERE person_id = $1", STORE_ARGS(SA_TEXT(person_id)));
	for (int i = 0; r >= 0 && i < AUTH_RECOVERY_CODES; i++) {
		auth_recovery_new(codes[i]);
		r = auth_recovery_hash(person_id, codes[i], hash);
		if (r >= 0)
			r = store_exec(c, "INSERT INTO recovery_codes (person_id, code_hash) VALUES ($1, $2)",
				       STORE_ARGS(SA_TEXT(person_id), SA_TEXT(hash)));
	}
	r = auth_commit_audited(c, cl, r, "auth.totp_confirm", "person", person_id,
				json_pack("{s:i}", "recovery_codes", AUTH_RECOVERY_CODES));
	if (r == 0)
		memcpy(ret_codes, codes, sizeof(codes));
	sodium_memzero(codes, sizeof(codes));
	return r < 0 ? r : 0;
}

int auth_totp_disable(struct app *app, struct store_conn *c, int64_t now,
		      const struct auth_client *cl, const char *person_id)
{
	int r = store_begin(c);

	if (r < 0)
		return r;
	r = store_exec(c, "UPDATE people SET totp_secret = NULL, totp_pending = NULL, updated_at = $2 "
			  "WHERE id = $1 AND (totp_secret IS NOT NULL OR totp_pending IS NOT NULL)",
		       STORE_ARGS(SA_TEXT(person_id), SA_I64(now)));
	if (r == 0)
		r = ERR_CONFLICT;
	if (r >= 0)
		r = store_exec(c, "DELETE FROM recovery_codes WHERE person_id = $1", STORE_ARGS(SA_TEXT(person_id)));
	return auth_commit_audited(c, cl, r, "auth.totp_disable", "person", person_id, NULL);
}

int auth_totp_verify_login(struct app *app, struct store_conn *c, int64_t now,
			   const char *person_id, const char *totp, const char *recovery_code,
			   const char **ret_reason)
{
	unsigned char secret[AUTH_TOTP_SECRET_BYTES];
	char hash[RCRYPTO_HASH_HEX_SIZE];
	int64_t last = 0, step = 0;
	int r;

	if (recovery_code) {
		if (auth_recovery_hash(person_id, recovery_code, hash) < 0) {
			*ret_reason = "malformed_recovery_code";
			return ERR_UNAUTHENTICATED;
		}
		/* The conditional update is the single use: two servers cannot both win. */
		r = store_exec(c, "UPDATE recovery_codes SET used_at = $3 WHERE person_id = $1 "
				  "AND code_hash = $2 AND used_at IS NULL",
			       STORE_ARGS(SA_TEXT(person_id), SA_TEXT(hash), SA_I64(now)));
		if (r < 0)
			return r;
		if (r == 0) {
			*ret_reason = "wrong_recovery_code";
			return ERR_UNAUTHENTICATED;
		}
		return 0;
	}
	if (!auth_is_code(totp)) {
		*ret_reason = "malformed_code";
		return ERR_UNAUTHENTICATED;
	}
	r = auth_totp_load(app, c, person_id, false, secret, &last);
	if (r == ERR_NOT_FOUND) {
		*ret_reason = "totp_off";
		return ERR_UNAUTHENTICATED;
	}
	if (r < 0)
		return r;
	r = auth_totp_match(secret, sizeof(secret), now, last, totp, &step);
	if (r == ERR_UNAUTHENTICATED) {
		int64_t old;

		*ret_reason = auth_totp_match(secret, sizeof(secret), now, 0, totp, &old) == 0
			      ? "replayed_code" : "wrong_code";
	}
	sodium_memzero(secret, sizeof(secret));
	if (r < 0)
		return r;
	/* Only a later step than the last accepted one moves the mark: replays lose. */
	r = store_exec(c, "UPDATE people SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
		       STORE_ARGS(SA_TEXT(person_id), SA_I64(step)));
	if (r < 0)
		return r;
	if (r == 0) {
		*ret_reason = "replayed_code";
		return ERR_UNAUTHENTICATED;
	}
	return 0;
}
