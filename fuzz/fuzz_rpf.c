/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_rpf: libFuzzer target for the protected-file container: the header
 * parser, key unwrapping, and the chunk decryption pipeline, all driven by
 * rpf_decrypt_buf with the test vectors' fixed server key (bytes 1..32), so
 * that inputs derived from tests/vectors/protect reach the chunk code.
 * Invariants checked: no crash or leak; a refusal always carries a message;
 * a header that parses serializes back to the same bytes; an accepted file
 * has exactly one tag per chunk.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/rpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char sk[RPF_SK_BYTES], pk[RPF_PK_BYTES];
	static int ready;
	unsigned char *out = NULL, again[RPF_HEADER_LEN];
	struct rpf_header h;
	struct rerr e = { 0 };
	size_t out_len = 0, chunks;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		for (size_t i = 0; i < sizeof(sk); i++)
			sk[i] = (unsigned char)(i + 1);
		crypto_scalarmult_base(pk, sk);
		ready = 1;
	}
	if (size > (4u << 20))
		return 0;
	if (rpf_header_parse(data, size, &h, &e) == 0) {
		if (rpf_header_serialize(&h, again) != 0 || memcmp(again, data, RPF_HEADER_LEN) != 0)
			abort();
	} else if (e.message[0] == '\0') {
		abort();
	}
	e.message[0] = '\0';
	if (rpf_decrypt_buf(data, size, pk, sk, 2, &out, &out_len, &e) == 0) {
		chunks = out_len / RPF_CHUNK + (out_len % RPF_CHUNK || out_len == 0 ? 1 : 0);
		if (size != RPF_HEADER_LEN + out_len + chunks * RPF_TAG)
			abort();
		free(out);
	} else if (e.message[0] == '\0') {
		abort();
	}
	return 0;
}
