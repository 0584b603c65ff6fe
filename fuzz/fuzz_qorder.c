/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_qorder: libFuzzer target for qorder_verify, which rampart-agent runs
 * on the quarantine order of every check-in answer.  The input is used
 * three ways: as the document of an order signed with a fixed key (so that
 * the field checks behind the signature are reached), as a whole
 * {"document","signature"} envelope, and as a reason to clean.  Invariants
 * checked: no crash or leak; a refusal carries a message; an accepted order
 * has exactly the documented fields and types, and signing those fields
 * again gives an order that verifies to the same document; a cleaned reason
 * is always acceptable.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qorder.h"

#define DEV "fuzz-device"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

static void check_accepted(const json_t *doc)
{
	const char *reason = json_string_value(json_object_get(doc, "reason"));
	json_t *again = NULL, *doc2 = NULL;
	struct rerr e = { "" };

	if (json_object_size(doc) != 4 || strcmp(json_string_value(json_object_get(doc, "device_id")), DEV) != 0 ||
	    !json_is_boolean(json_object_get(doc, "quarantined")) ||
	    !json_is_integer(json_object_get(doc, "issued_at")) || !qorder_reason_ok(reason))
		abort();
	if (qorder_sign(DEV, json_is_true(json_object_get(doc, "quarantined")), reason,
			json_integer_value(json_object_get(doc, "issued_at")), sk, &again) != 0 ||
	    qorder_verify(again, pk, DEV, &doc2, &e) != 0 || !json_equal(doc, doc2))
		abort();
	json_decref(again);
	json_decref(doc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct rerr e = { "" };
	unsigned char sig[crypto_sign_BYTES], seed[crypto_sign_SEEDBYTES] = { 7 };
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char *text, reason[QORDER_MAX_REASON + 1];
	json_t *env, *doc = NULL;
	int r;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}
	if (size > 4096)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* The document signed with the right key: only the fields decide. */
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sk);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	env = json_pack("{s:s%, s:s}", "document", text, strlen(text), "signature", b64);
	if (env) {
		r = qorder_verify(env, pk, DEV, &doc, &e);
		if (r == 0)
			check_accepted(doc);
		else if (e.message[0] == '\0')
			abort();
		json_decref(doc);
		doc = NULL;
		json_decref(env);
	}

	/* The input as the whole envelope. */
	e.message[0] = '\0';
	env = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
	if (env) {
		r = qorder_verify(env, pk, DEV, &doc, &e);
		if (r == 0)
			check_accepted(doc);
		else if (e.message[0] == '\0')
			abort();
		json_decref(doc);
		json_decref(env);
	}

	qorder_reason_clean(reason, text);
	if (!qorder_reason_ok(reason))
		abort();
	free(text);
	return 0;
}
