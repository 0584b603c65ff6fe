/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * devsig: canonical message, signing and verification of device requests
 * (see devsig.h).  Pure functions on libsodium; no state.
 */
#include "formats/devsig.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

int devsig_message(const char *method, const char *path, int64_t ts_ms, const void *body,
		   size_t body_len, char *out, size_t size)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	int n;

	if (!method || !path || strpbrk(method, "\r\n") || strpbrk(path, "\r\n"))
		return ERR_INVALID;
	crypto_hash_sha256(h, body_len ? body : (const void *)"", body_len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	n = snprintf(out, size, "%s\n%s\n%" PRId64 "\n%s", method, path, ts_ms, hex);
	if (n < 0 || (size_t)n >= size)
		return ERR_INVALID;
	return n;
}

int devsig_b64_decode(const char *b64, unsigned char *out, size_t len)
{
	size_t got = 0;

	if (!b64 || sodium_base642bin(out, len, b64, strlen(b64), NULL, &got, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 || got != len)
		return ERR_INVALID;
	return 0;
}

int devsig_b64_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
	if (size < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
		return ERR_INVALID;
	sodium_bin2base64(out, size, in, len, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int devsig_sign(const unsigned char sk[DEVSIG_SK_BYTES], const char *method, const char *path,
		int64_t ts_ms, const void *body, size_t body_len, char out[DEVSIG_SIG_B64_SIZE])
{
	unsigned char sig[DEVSIG_SIG_BYTES];
	char msg[DEVSIG_MSG_SIZE];
	int n;

	n = devsig_message(method, path, ts_ms, body, body_len, msg, sizeof(msg));
	if (n < 0)
		return n;
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, (unsigned long long)n, sk);
	return devsig_b64_encode(sig, sizeof(sig), out, DEVSIG_SIG_B64_SIZE);
}

int devsig_verify(const unsigned char pk[DEVSIG_PK_BYTES], const char *method, const char *path,
		  int64_t ts_ms, const void *body, size_t body_len, const char *sig_b64)
{
	unsigned char sig[DEVSIG_SIG_BYTES];
	char msg[DEVSIG_MSG_SIZE];
	int n;

	if (devsig_b64_decode(sig_b64, sig, sizeof(sig)) < 0)
		return ERR_UNAUTHENTICATED;
	n = devsig_message(method, path, ts_ms, body, body_len, msg, sizeof(msg));
	if (n < 0)
		return ERR_UNAUTHENTICATED;
	if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, (unsigned long long)n, pk) != 0)
		return ERR_UNAUTHENTICATED;
	return 0;
}
