/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * policy: parsing, inheritance and signing of endpoint policies (see
 * policy.h).  Invariant: everything policy_check accepts stays within the
 * bounds documented in policy.h, and policy_verify returns a document only
 * after the signature over its exact bytes has checked.
 */
#include "formats/policy.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jsonx.h"
#include "common/str.h"

#define POLICY_SIG_BYTES 64
#define POLICY_SIG_B64_SIZE 89

static int pol_from_jsonx(struct rerr *e, const struct rerr *je)
{
	return rerr_set(e, ERR_INVALID, NULL, "%s", je->message);
}

static bool pol_is_text(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n > POLICY_MAX_MEDIA_FIELD || strlen(s) != n || !str_is_clean_utf8(s, n))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int pol_check_baseline(const json_t *b, struct rerr *e)
{
	static const char *const keys[] = { "disk_encryption_root", "firewall", "antivirus_max_age_days", NULL };
	struct rerr je = { "", "" };
	int64_t days;
	bool flag;
	int r;

	if (!json_is_object(b))
		return rerr_set(e, ERR_INVALID, NULL, "baseline must be an object");
	r = jsonx_only_keys(b, keys, &je);
	if (r == 0 && (r = jsonx_get_bool(b, "disk_encryption_root", false, &flag, &je)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_bool(b, "firewall", false, &flag, &je)) == -ENOENT)
		r = 0;
	if (r == 0 && (r = jsonx_get_int(b, "antivirus_max_age_days", false, 1, POLICY_MAX_DAYS, &days, &je)) == -ENOENT)
		r = 0;
	return r < 0 ? pol_from_jsonx(e, &je) : 0;
}

static int pol_check_media(const json_t *m, struct rerr *e)
{
	static const char *const keys[] = { "vendor", "product", "serial", NULL };
	struct rerr je = { "", "" };
	const json_t *it;
	size_t i;

	if (!json_is_array(m) || json_array_size(m) > POLICY_MAX_MEDIA)
		return rerr_set(e, ERR_INVALID, NULL, "removable_media must be an array of at most %d devices",
				POLICY_MAX_MEDIA);
	json_array_foreach(m, i, it) {
		if (!json_is_object(it) || jsonx_only_keys(it, keys, &je) < 0)
			return rerr_set(e, ERR_INVALID, NULL, "removable_media[%zu] must be {vendor, product, serial}", i);
		if (!pol_is_text(json_object_get(it, "vendor")) || !pol_is_text(json_object_get(it, "product")) ||
		    !pol_is_text(json_object_get(it, "serial")))
			return rerr_set(e, ERR_INVALID, NULL,
					"removable_media[%zu]: vendor, product and serial must be printable text "
					"of 1 to %d bytes", i, POLICY_MAX_MEDIA_FIELD);
	}
	return 0;
}

int policy_interval_ms(const json_t *policy, int64_t *ret_ms)
{
	const json_t *v = json_object_get(policy, "checkin_interval");
	int64_t ms;

	if (!v)
		return -ENOENT;
	if (!json_is_string(v) || json_string_length(v) > 16 ||
	    str_parse_duration_ms(json_string_value(v), &ms) < 0 || ms < POLICY_MIN_INTERVAL_MS ||
	    ms > POLICY_MAX_INTERVAL_MS)
		return ERR_INVALID;
	*ret_ms = ms;
	return 0;
}

int policy_grace_ms(const json_t *policy, int64_t *ret_ms)
{
	const json_t *q = json_object_get(policy, "quarantine"), *v = json_object_get(q, "grace_period");
	int64_t ms;

	if (!v)
		return -ENOENT;
	if (!json_is_string(v) || json_string_length(v) > 16 ||
	    str_parse_duration_ms(json_string_value(v), &ms) < 0 || ms < 0 || ms > POLICY_MAX_GRACE_MS)
		return ERR_INVALID;
	*ret_ms = ms;
	return 0;
}

int policy_check(const json_t *v, json_t **ret, struct rerr *e)
{
	static const char *const keys[] = { "baseline", "checkin_interval", "removable_media", "logging",
					    "quarantine", NULL };
	static const char *const log_keys[] = { "retention_days", NULL };
	static const char *const q_keys[] = { "grace_period", NULL };
	struct rerr je = { "", "" };
	const json_t *f;
	int64_t n;
	json_t *copy;
	int r;

	if (!json_is_object(v))
		return rerr_set(e, ERR_INVALID, NULL, "a policy must be a JSON object");
	if (jsonx_only_keys(v, keys, &je) < 0)
		return pol_from_jsonx(e, &je);
	f = json_object_get(v, "baseline");
	if (f && (r = pol_check_baseline(f, e)) < 0)
		return r;
	if (json_object_get(v, "checkin_interval") && policy_interval_ms(v, &n) < 0)
		return rerr_set(e, ERR_INVALID, NULL, "checkin_interval must be a duration from 1m to 24h, such as 5m");
	f = json_object_get(v, "removable_media");
	if (f && (r = pol_check_media(f, e)) < 0)
		return r;
	f = json_object_get(v, "logging");
	if (f) {
		if (!json_is_object(f) || jsonx_only_keys(f, log_keys, &je) < 0)
			return rerr_set(e, ERR_INVALID, NULL, "logging must be {retention_days}");
		if (jsonx_get_int(f, "retention_days", false, 1, POLICY_MAX_DAYS, &n, &je) == ERR_INVALID)
			return pol_from_jsonx(e, &je);
	}
	f = json_object_get(v, "quarantine");
	if (f) {
		if (!json_is_object(f) || jsonx_only_keys(f, q_keys, &je) < 0)
			return rerr_set(e, ERR_INVALID, NULL, "quarantine must be {grace_period}");
		if (policy_grace_ms(v, &n) == ERR_INVALID)
			return rerr_set(e, ERR_INVALID, NULL,
					"quarantine.grace_period must be a duration from 0s to 30d, such as 24h");
	}
	copy = json_deep_copy(v);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int policy_parse(const char *data, size_t len, json_t **ret, struct rerr *e)
{
	struct rerr je = { "", "" };
	json_t *v = NULL;
	int r;

	if (len > POLICY_MAX_BYTES)
		return rerr_set(e, ERR_INVALID, NULL, "a policy is at most %zu bytes", POLICY_MAX_BYTES);
	r = jsonx_parse_object(data, len, 4, &v, &je);
	if (r < 0)
		return r == -ENOMEM ? r : pol_from_jsonx(e, &je);
	r = policy_check(v, ret, e);
	json_decref(v);
	return r;
}

int policy_merge(const json_t *const *chain, size_t n, json_t **ret)
{
	json_t *out, *base, *v;
	const char *key;
	size_t i;

	out = json_pack("{s:{s:b, s:b, s:i}, s:s, s:[], s:{s:i}, s:{s:s}}",
			"baseline", "disk_encryption_root", 1, "firewall", 1,
			"antivirus_max_age_days", POLICY_DEFAULT_AV_MAX_AGE_DAYS,
			"checkin_interval", POLICY_DEFAULT_INTERVAL, "removable_media",
			"logging", "retention_days", POLICY_DEFAULT_RETENTION_DAYS,
			"quarantine", "grace_period", POLICY_DEFAULT_GRACE);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!chain[i])
			continue;
		json_object_foreach((json_t *)chain[i], key, v) {
			if (json_object_set_new(out, key, json_deep_copy(v)) < 0) {
				json_decref(out);
				return -ENOMEM;
			}
		}
	}
	/* A baseline that sets only some requirements leaves the others at their defaults. */
	base = json_object_get(out, "baseline");
	if (!json_object_get(base, "disk_encryption_root"))
		json_object_set_new(base, "disk_encryption_root", json_true());
	if (!json_object_get(base, "firewall"))
		json_object_set_new(base, "firewall", json_true());
	if (!json_object_get(base, "antivirus_max_age_days"))
		json_object_set_new(base, "antivirus_max_age_days", json_integer(POLICY_DEFAULT_AV_MAX_AGE_DAYS));
	if (!json_object_get(json_object_get(out, "logging"), "retention_days"))
		json_object_set_new(json_object_get(out, "logging"), "retention_days",
				    json_integer(POLICY_DEFAULT_RETENTION_DAYS));
	if (!json_object_get(json_object_get(out, "quarantine"), "grace_period"))
		json_object_set_new(json_object_get(out, "quarantine"), "grace_period",
				    json_string(POLICY_DEFAULT_GRACE));
	*ret = out;
	return 0;
}

int policy_sign_json(const json_t *doc, const unsigned char *sk, json_t **ret)
{
	unsigned char sig[POLICY_SIG_BYTES];
	char sig_b64[POLICY_SIG_B64_SIZE], *text;
	json_t *out;

	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!text)
		return -ENOMEM;
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sk);
	sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	out = json_pack("{s:s, s:s}", "document", text, "signature", sig_b64);
	free(text);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int policy_open_signed(const json_t *signed_doc, const unsigned char *pk, const char *what, size_t max_len,
		       unsigned max_depth, json_t **ret, struct rerr *e)
{
	static const char *const keys[] = { "document", "signature", NULL };
	struct rerr je = { "", "" };
	const json_t *d = json_object_get(signed_doc, "document"), *s = json_object_get(signed_doc, "signature");
	unsigned char sig[POLICY_SIG_BYTES];
	size_t sig_len = 0;
	int r;

	if (!json_is_object(signed_doc) || jsonx_only_keys(signed_doc, keys, &je) < 0 || !json_is_string(d) ||
	    !json_is_string(s) || json_string_length(d) > max_len || json_string_length(s) >= POLICY_SIG_B64_SIZE)
		return rerr_set(e, ERR_INVALID, NULL, "a signed %s must be {document, signature} strings", what);
	if (sodium_base642bin(sig, sizeof(sig), json_string_value(s), json_string_length(s), NULL, &sig_len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || sig_len != sizeof(sig)) {
		rerr_set(e, ERR_INVALID, NULL, "the %s signature is not base64 of 64 bytes", what);
		return ERR_UNAUTHENTICATED;
	}
	if (crypto_sign_verify_detached(sig, (const unsigned char *)json_string_value(d), json_string_length(d),
					pk) != 0) {
		rerr_set(e, ERR_INVALID, NULL, "the %s signature does not check against the pinned server key", what);
		return ERR_UNAUTHENTICATED;
	}
	r = jsonx_parse_object(json_string_value(d), json_string_length(d), max_depth, ret, &je);
	if (r < 0)
		return r == -ENOMEM ? r : pol_from_jsonx(e, &je);
	return 0;
}

int policy_sign(const char *org_unit, int64_t version, int64_t issued_at_ms, const json_t *policy,
		const unsigned char *sk, json_t **ret)
{
	json_t *doc;
	int r;

	if (!org_unit || !json_is_object(policy) || version < 1 || issued_at_ms < 0)
		return ERR_INVALID;
	doc = json_pack("{s:s, s:I, s:I, s:O}", "org_unit", org_unit, "version", (json_int_t)version,
			"issued_at", (json_int_t)issued_at_ms, "policy", policy);
	if (!doc)
		return -ENOMEM;
	r = policy_sign_json(doc, sk, ret);
	json_decref(doc);
	return r;
}

int policy_verify(const json_t *signed_doc, const unsigned char *pk, json_t **ret, struct rerr *e)
{
	static const char *const doc_keys[] = { "org_unit", "version", "issued_at", "policy", NULL };
	struct rerr je = { "", "" };
	const char *unit;
	int64_t n;
	json_t *doc = NULL, *pol = NULL;
	int r;

	r = policy_open_signed(signed_doc, pk, "policy", 2 * POLICY_MAX_BYTES, 5, &doc, e);
	if (r < 0)
		return r;
	if (jsonx_only_keys(doc, doc_keys, &je) < 0 || jsonx_get_str(doc, "org_unit", true, 1024, &unit, &je) < 0 ||
	    jsonx_get_int(doc, "version", true, 1, INT64_MAX / 2, &n, &je) < 0 ||
	    jsonx_get_int(doc, "issued_at", true, 0, INT64_MAX / 2, &n, &je) < 0) {
		json_decref(doc);
		return pol_from_jsonx(e, &je);
	}
	r = policy_check(json_object_get(doc, "policy"), &pol, e);
	json_decref(pol);
	if (r < 0) {
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}
