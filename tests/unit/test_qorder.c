/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for signed quarantine orders (src/formats/qorder.c): the
 * round trip, and every way an order must be refused — another key, another
 * device, an altered document, missing or extra fields, wrong types, a
 * reason out of bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "formats/qorder.h"

#define DEV "5f0c1d2e-0000-4000-8000-00000000abcd"

static unsigned char pk[32], sk[64], pk2[32], sk2[64];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	return 0;
}

/* Signs the exact @text with @key, as a forger holding the key would. */
static json_t *sign_text(const char *text, const unsigned char *key)
{
	unsigned char sig[64];
	char b64[89];

	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), key);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:s}", "document", text, "signature", b64);
}

static void test_round_trip(void **state)
{
	struct rerr e = { "" };
	json_t *signed_doc = NULL, *doc = NULL;

	(void)state;
	assert_int_equal(qorder_sign(DEV, true, "non-compliant past grace period", 1700000000123, sk, &signed_doc), 0);
	/* Canonical: sorted keys, compact, ASCII. */
	assert_string_equal(json_string_value(json_object_get(signed_doc, "document")),
			    "{\"device_id\":\"" DEV "\",\"issued_at\":1700000000123,\"quarantined\":true,"
			    "\"reason\":\"non-compliant past grace period\"}");
	assert_int_equal(qorder_verify(signed_doc, pk, DEV, &doc, &e), 0);
	assert_string_equal(json_string_value(json_object_get(doc, "device_id")), DEV);
	assert_true(json_is_true(json_object_get(doc, "quarantined")));
	assert_int_equal(json_integer_value(json_object_get(doc, "issued_at")), 1700000000123);
	json_decref(doc);
	json_decref(signed_doc);

	/* A release with an empty reason. */
	assert_int_equal(qorder_sign(DEV, false, "", 0, sk, &signed_doc), 0);
	assert_int_equal(qorder_verify(signed_doc, pk, DEV, &doc, &e), 0);
	assert_true(json_is_false(json_object_get(doc, "quarantined")));
	assert_string_equal(json_string_value(json_object_get(doc, "reason")), "");
	json_decref(doc);
	json_decref(signed_doc);

	/* Non-ASCII reasons travel escaped and come back as they were. */
	assert_int_equal(qorder_sign(DEV, true, "Virus gefunden: \xc3\xa4rger", 5, sk, &signed_doc), 0);
	assert_non_null(strstr(json_string_value(json_object_get(signed_doc, "document")), "\\u00E4rger"));
	assert_int_equal(qorder_verify(signed_doc, pk, DEV, &doc, &e), 0);
	assert_string_equal(json_string_value(json_object_get(doc, "reason")), "Virus gefunden: \xc3\xa4rger");
	json_decref(doc);
	json_decref(signed_doc);
}

static void test_wrong_key_device_altered(void **state)
{
	struct rerr e = { "" };
	json_t *signed_doc = NULL, *doc = NULL, *bad;
	char *text, *at;

	(void)state;
	assert_int_equal(qorder_sign(DEV, true, "infected", 1700000000000, sk, &signed_doc), 0);
	/* Another key. */
	assert_int_equal(qorder_verify(signed_doc, pk2, DEV, &doc, &e), ERR_UNAUTHENTICATED);
	assert_null(doc);
	/* Another device. */
	assert_int_equal(qorder_verify(signed_doc, pk, "other-device", &doc, &e), ERR_INVALID);
	assert_null(doc);
	assert_non_null(strstr(e.message, "another device"));
	assert_int_equal(qorder_verify(signed_doc, pk, NULL, &doc, &e), ERR_INVALID);
	assert_null(doc);
	/* One byte changed: true -> fals(e) is longer, so flip the time instead. */
	text = strdup(json_string_value(json_object_get(signed_doc, "document")));
	at = strstr(text, "1700000000000");
	assert_non_null(at);
	at[0] = '2';
	bad = json_pack("{s:s, s:O}", "document", text, "signature", json_object_get(signed_doc, "signature"));
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_UNAUTHENTICATED);
	assert_null(doc);
	json_decref(bad);
	free(text);
	/* The document re-serialised (whitespace added): not the signed bytes. */
	bad = json_pack("{s:s, s:O}", "document",
			"{\"device_id\": \"" DEV "\",\"issued_at\":1700000000000,\"quarantined\":true,\"reason\":\"infected\"}",
			"signature", json_object_get(signed_doc, "signature"));
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_UNAUTHENTICATED);
	json_decref(bad);
	/* Garbage or missing signature, extra envelope key, not an object. */
	bad = json_pack("{s:O, s:s}", "document", json_object_get(signed_doc, "document"), "signature", "AAAA");
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_UNAUTHENTICATED);
	json_decref(bad);
	bad = json_pack("{s:O}", "document", json_object_get(signed_doc, "document"));
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_INVALID);
	json_decref(bad);
	bad = json_pack("{s:O, s:O, s:i}", "document", json_object_get(signed_doc, "document"), "signature",
			json_object_get(signed_doc, "signature"), "extra", 1);
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_INVALID);
	json_decref(bad);
	bad = json_string("quarantine");
	assert_int_equal(qorder_verify(bad, pk, DEV, &doc, &e), ERR_INVALID);
	json_decref(bad);
	assert_int_equal(qorder_verify(NULL, pk, DEV, &doc, &e), ERR_INVALID);
	assert_null(doc);
	json_decref(signed_doc);
}

/* Documents correctly signed by the right key that must still be refused. */
static void test_fields_and_types(void **state)
{
	static const char *const bad[] = {
		/* missing fields */
		"{\"issued_at\":1,\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":true}",
		/* extra field */
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":true,\"reason\":\"x\",\"until\":2}",
		/* wrong types */
		"{\"device_id\":1,\"issued_at\":1,\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":\"1\",\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1.5,\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":1,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":\"true\",\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":null,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":true,\"reason\":null}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":true,\"reason\":[\"x\"]}",
		/* out of bounds */
		"{\"device_id\":\"" DEV "\",\"issued_at\":-1,\"quarantined\":true,\"reason\":\"x\"}",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":true,\"reason\":\"a\\u0007b\"}",
		"{\"device_id\":\"\",\"issued_at\":1,\"quarantined\":true,\"reason\":\"x\"}",
		/* not an object, duplicate key */
		"[1]",
		"{\"device_id\":\"" DEV "\",\"issued_at\":1,\"quarantined\":false,\"quarantined\":true,\"reason\":\"x\"}",
		NULL,
	};
	struct rerr e = { "" };
	json_t *s, *doc = NULL;
	char text[512], reason[QORDER_MAX_REASON + 2];
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		s = sign_text(bad[i], sk);
		assert_int_equal(qorder_verify(s, pk, DEV, &doc, &e), ERR_INVALID);
		assert_null(doc);
		json_decref(s);
	}
	/* The document limit: a valid order padded past QORDER_MAX_BYTES with whitespace. */
	{
		char big[QORDER_MAX_BYTES + 64];
		int n = snprintf(big, sizeof(big), "{\"device_id\":\"%s\",\"issued_at\":1,\"quarantined\":true,"
				 "\"reason\":\"x\"", DEV);

		memset(big + n, ' ', QORDER_MAX_BYTES - (size_t)n - 1);
		strcpy(big + QORDER_MAX_BYTES - 1, "}");
		s = sign_text(big, sk);
		assert_int_equal(qorder_verify(s, pk, DEV, &doc, &e), 0);
		json_decref(doc);
		doc = NULL;
		json_decref(s);
		big[QORDER_MAX_BYTES - 1] = ' ';
		strcpy(big + QORDER_MAX_BYTES, "}");
		s = sign_text(big, sk);
		assert_int_equal(qorder_verify(s, pk, DEV, &doc, &e), ERR_INVALID);
		assert_null(doc);
		json_decref(s);
	}
	/* The reason limit, both sides of it. */
	memset(reason, 'r', sizeof(reason) - 1);
	reason[QORDER_MAX_REASON] = '\0';
	snprintf(text, sizeof(text), "{\"device_id\":\"%s\",\"issued_at\":1,\"quarantined\":true,\"reason\":\"%s\"}",
		 DEV, reason);
	s = sign_text(text, sk);
	assert_int_equal(qorder_verify(s, pk, DEV, &doc, &e), 0);
	json_decref(doc);
	doc = NULL;
	json_decref(s);
	reason[QORDER_MAX_REASON] = 'r';
	reason[QORDER_MAX_REASON + 1] = '\0';
	snprintf(text, sizeof(text), "{\"device_id\":\"%s\",\"issued_at\":1,\"quarantined\":true,\"reason\":\"%s\"}",
		 DEV, reason);
	s = sign_text(text, sk);
	assert_int_equal(qorder_verify(s, pk, DEV, &doc, &e), ERR_INVALID);
	assert_null(doc);
	json_decref(s);
}

static void test_sign_refuses(void **state)
{
	char reason[QORDER_MAX_REASON + 2];
	json_t *s = NULL;

	(void)state;
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(qorder_sign(DEV, true, reason, 1, sk, &s), ERR_INVALID);
	assert_int_equal(qorder_sign(DEV, true, "tab\there", 1, sk, &s), ERR_INVALID);
	assert_int_equal(qorder_sign(DEV, true, NULL, 1, sk, &s), ERR_INVALID);
	assert_int_equal(qorder_sign("", true, "x", 1, sk, &s), ERR_INVALID);
	assert_int_equal(qorder_sign(NULL, true, "x", 1, sk, &s), ERR_INVALID);
	assert_int_equal(qorder_sign(DEV, true, "x", -1, sk, &s), ERR_INVALID);
	assert_null(s);
}

static void test_reason_clean(void **state)
{
	char out[QORDER_MAX_REASON + 1], in[600];
	size_t i;

	(void)state;
	qorder_reason_clean(out, "ET MALWARE\tbeacon\r\n");
	assert_string_equal(out, "ET MALWARE beacon  ");
	assert_true(qorder_reason_ok(out));
	qorder_reason_clean(out, "bad \xff byte");
	assert_string_equal(out, "bad ? byte");
	qorder_reason_clean(out, NULL);
	assert_string_equal(out, "");
	/* 199 ASCII bytes then a 2-byte character: cut before the character. */
	memset(in, 'a', 199);
	strcpy(in + 199, "\xc3\xa4zzz");
	qorder_reason_clean(out, in);
	assert_int_equal(strlen(out), 199);
	assert_true(qorder_reason_ok(out));
	for (i = 0; i < sizeof(in) - 1; i++)
		in[i] = (char)('a' + i % 26);
	in[sizeof(in) - 1] = '\0';
	qorder_reason_clean(out, in);
	assert_int_equal(strlen(out), QORDER_MAX_REASON);
	assert_true(qorder_reason_ok(out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_key_device_altered),
		cmocka_unit_test(test_fields_and_types),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_reason_clean),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
