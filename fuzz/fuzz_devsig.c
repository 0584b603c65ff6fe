/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_devsig: libFuzzer target for the device signature headers
 * (formats/devsig.h) as ep_device_check reads them.  The input is split at
 * newlines into X-Rampart-Device, X-Rampart-Timestamp, X-Rampart-Signature,
 * the method and the path; the rest is the body.  The headers go through
 * the same checks (ids_is_ulid, the signature's length, str_parse_i64) and
 * then devsig_verify with a fixed key.  Invariants checked: no crash or
 * read past a buffer; a fuzzed signature verifies only when it is the one
 * devsig_sign makes; whatever devsig_sign signs, devsig_verify accepts;
 * base64 decoding round-trips through devsig_b64_encode.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/str.h"
#include "formats/devsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next field of @s up to a newline (cut there); NULL when none is left. */
static char *next_field(char **s)
{
	char *f = *s, *nl;

	if (!f)
		return NULL;
	nl = strchr(f, '\n');
	if (nl) {
		*nl = '\0';
		*s = nl + 1;
	} else {
		*s = NULL;
	}
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pk[DEVSIG_PK_BYTES], sk[DEVSIG_SK_BYTES];
	static int ready;
	char *buf = malloc(size + 1), *rest = buf, *did, *ts_s, *sig, *method, *path;
	char good[DEVSIG_SIG_B64_SIZE], again[DEVSIG_SIG_B64_SIZE], msg[DEVSIG_MSG_SIZE];
	unsigned char raw[DEVSIG_SIG_BYTES];
	const char *body;
	size_t body_len;
	int64_t ts = 0;
	int vr;

	if (!buf)
		return 0;
	if (!ready) {
		unsigned char seed[crypto_sign_SEEDBYTES];

		if (sodium_init() < 0)
			abort();
		memset(seed, 7, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}
	if (size)
		memcpy(buf, data, size);
	buf[size] = '\0';
	did = next_field(&rest);
	ts_s = next_field(&rest);
	sig = next_field(&rest);
	method = next_field(&rest);
	path = next_field(&rest);
	body = rest ? rest : "";
	body_len = rest ? strlen(rest) : 0;
	if (!did || !ts_s || !sig)
		goto out;
	/* The header checks of ep_device_check, in its order. */
	(void)ids_is_ulid(did);
	if (strlen(sig) >= DEVSIG_SIG_B64_SIZE || str_parse_i64(ts_s, 0, INT64_MAX / 2, &ts) < 0)
		goto out;
	if (devsig_b64_decode(sig, raw, sizeof(raw)) == 0) {
		if (devsig_b64_encode(raw, sizeof(raw), again, sizeof(again)) < 0)
			abort();
		if (devsig_b64_decode(again, raw, sizeof(raw)) < 0)
			abort();
	}
	if (!method || !path)
		goto out;
	(void)devsig_message(method, path, ts, body, body_len, msg, sizeof(msg));
	vr = devsig_verify(pk, method, path, ts, body, body_len, sig);
	if (devsig_sign(sk, method, path, ts, body, body_len, good) == 0) {
		if (devsig_verify(pk, method, path, ts, body, body_len, good) != 0)
			abort();
		/* Ed25519 signatures are deterministic: only the real one (as base64) verifies. */
		if (vr == 0 && devsig_b64_decode(sig, raw, sizeof(raw)) == 0) {
			unsigned char want[DEVSIG_SIG_BYTES];

			if (devsig_b64_decode(good, want, sizeof(want)) < 0 || memcmp(raw, want, sizeof(raw)) != 0)
				abort();
		}
	} else if (vr == 0) {
		abort();   /* a message that cannot be signed cannot verify either */
	}
out:
	free(buf);
	return 0;
}
