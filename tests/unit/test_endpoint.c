/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the endpoint domain without HTTP or a database: the agent's
 * posture parsers and collectors on the fixture tree
 * (tests/fixtures/endpoint/root), the signed-request format, the baseline
 * evaluation, endpoint_may and the scope of lists (ep_scope_where).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/posture.h"
#include "common/buf.h"
#include "common/err.h"
#include "formats/devsig.h"
#include "endpoint/endpoint.h"
#include "endpoint/ep_common.h"
#include "formats/policy.h"
#include "identity/scope.h"
#include "store/store.h"

#ifndef EP_FIXTURE_ROOT
#error "EP_FIXTURE_ROOT must name tests/fixtures/endpoint/root"
#endif

static const char *str_at(const json_t *arr, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(arr, i), key));
}

/* ---------------------------------------------------------------- os-release, dpkg */

static void test_os_release_fixture(void **state)
{
	struct rerr e = { "" };
	json_t *os = NULL;
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(posture_read_file(EP_FIXTURE_ROOT, "/etc/os-release", POSTURE_MAX_SMALL_FILE, &data, &len), 0);
	assert_int_equal(posture_os_release_parse(data, len, &os, &e), 0);
	free(data);
	assert_string_equal(json_string_value(json_object_get(os, "id")), "debian");
	assert_string_equal(json_string_value(json_object_get(os, "version_id")), "12");
	assert_string_equal(json_string_value(json_object_get(os, "pretty_name")), "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(json_string_value(json_object_get(os, "codename")), "bookworm");
	json_decref(os);
}

static void test_os_release_refuses_garbage(void **state)
{
	static const char bad[] = "ID=debian\nthis line has no equals sign\n";
	struct rerr e = { "" };
	json_t *os = NULL;

	(void)state;
	assert_int_equal(posture_os_release_parse(bad, sizeof(bad) - 1, &os, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "line 2"));
	assert_null(os);
}

static void test_dpkg_fixture(void **state)
{
	struct rerr e = { "" };
	json_t *items = NULL;
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(posture_read_file(EP_FIXTURE_ROOT, "/var/lib/dpkg/status", POSTURE_MAX_FILE, &data, &len), 0);
	assert_int_equal(posture_dpkg_parse(data, len, &items, &e), 0);
	free(data);
	/* oldpkg is deinstalled (config-files only): not reported. */
	assert_int_equal(json_array_size(items), 3);
	assert_string_equal(str_at(items, 0, "name"), "bash");
	assert_string_equal(str_at(items, 0, "version"), "5.2.15-2+b7");
	assert_string_equal(str_at(items, 0, "source"), "bash");
	assert_string_equal(str_at(items, 1, "name"), "libssl3");
	assert_string_equal(str_at(items, 1, "source"), "openssl");
	assert_string_equal(str_at(items, 2, "name"), "clamav");
	json_decref(items);
}

static void test_dpkg_limits(void **state)
{
	struct rerr e = { "" };
	char big[POSTURE_MAX_FIELD + 64];
	json_t *items = NULL;
	int n;

	(void)state;
	memset(big, 0, sizeof(big));
	n = snprintf(big, sizeof(big), "Package: ");
	memset(big + n, 'a', POSTURE_MAX_FIELD + 1);
	assert_int_equal(posture_dpkg_parse(big, strlen(big), &items, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "longer"));

	static const char noversion[] = "Package: x\nStatus: install ok installed\n";
	e.message[0] = '\0';
	assert_int_equal(posture_dpkg_parse(noversion, sizeof(noversion) - 1, &items, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "Version"));

	static const char nul[] = "Package: x\0y\nVersion: 1\n";
	assert_int_equal(posture_dpkg_parse(nul, sizeof(nul) - 1, &items, &e), ERR_INVALID);

	static const char empty[] = "";
	assert_int_equal(posture_dpkg_parse(empty, 0, &items, &e), 0);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
}

/* ---------------------------------------------------------------- sysfs, ClamAV */

static void test_disk_encryption_fixture(void **state)
{
	json_t *d = NULL;

	(void)state;
	assert_int_equal(posture_disk_encryption(EP_FIXTURE_ROOT, &d), 0);
	assert_int_equal(json_array_size(d), 2);
	/* / is LVM (dm-1) on LUKS (dm-0): encrypted through the slave. */
	assert_string_equal(str_at(d, 0, "mount"), "/");
	assert_string_equal(str_at(d, 0, "device"), "/dev/mapper/vg-root");
	assert_true(json_is_true(json_object_get(json_array_get(d, 0), "encrypted")));
	assert_string_equal(str_at(d, 1, "mount"), "/home");
	assert_true(json_is_false(json_object_get(json_array_get(d, 1), "encrypted")));
	json_decref(d);
}

static void test_usb_storage_fixture(void **state)
{
	json_t *u = NULL;

	(void)state;
	assert_int_equal(posture_usb_storage(EP_FIXTURE_ROOT, &u), 0);
	/* The keyboard (interface class 03) is not storage. */
	assert_int_equal(json_array_size(u), 1);
	assert_string_equal(str_at(u, 0, "vendor_id"), "0781");
	assert_string_equal(str_at(u, 0, "product_id"), "5583");
	assert_string_equal(str_at(u, 0, "vendor"), "SanDisk");
	assert_string_equal(str_at(u, 0, "product"), "Ultra Fit");
	assert_string_equal(str_at(u, 0, "serial"), "4C530001230101117283");
	json_decref(u);
}

static void test_clamav_fixture(void **state)
{
	struct stat st;
	json_t *av = NULL;
	int64_t newest;

	(void)state;
	assert_int_equal(stat(EP_FIXTURE_ROOT "/var/lib/clamav/daily.cld", &st), 0);
	newest = (int64_t)st.st_mtime;
	assert_int_equal(stat(EP_FIXTURE_ROOT "/var/lib/clamav/main.cvd", &st), 0);
	if ((int64_t)st.st_mtime > newest)
		newest = (int64_t)st.st_mtime;
	assert_int_equal(posture_clamav(EP_FIXTURE_ROOT, newest + 3 * 86400, &av), 0);
	assert_true(json_is_true(json_object_get(av, "present")));
	/* freshclam.dat is no database. */
	assert_int_equal(json_integer_value(json_object_get(av, "databases")), 2);
	assert_int_equal(json_integer_value(json_object_get(av, "signature_age_s")), 3 * 86400);
	json_decref(av);

	assert_int_equal(posture_clamav(EP_FIXTURE_ROOT "/etc", 0, &av), 0);
	assert_true(json_is_false(json_object_get(av, "present")));
	assert_true(json_is_null(json_object_get(av, "signature_age_s")));
	json_decref(av);
}

/* ---------------------------------------------------------------- signatures */

static void test_devsig_round_trip(void **state)
{
	unsigned char pk[DEVSIG_PK_BYTES], sk[DEVSIG_SK_BYTES], pk2[DEVSIG_PK_BYTES], sk2[DEVSIG_SK_BYTES];
	char sig[DEVSIG_SIG_B64_SIZE], msg[DEVSIG_MSG_SIZE];
	static const char body[] = "{\"a\":1}";
	const char *p = "/api/v1/endpoint/checkin";

	(void)state;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	assert_true(devsig_message("POST", p, 42, "", 0, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "POST\n/api/v1/endpoint/checkin\n42\n"
				 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(devsig_sign(sk, "POST", p, 1000, body, sizeof(body) - 1, sig), 0);
	assert_int_equal(devsig_verify(pk, "POST", p, 1000, body, sizeof(body) - 1, sig), 0);
	assert_int_equal(devsig_verify(pk, "POST", p, 1001, body, sizeof(body) - 1, sig), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_verify(pk, "PUT", p, 1000, body, sizeof(body) - 1, sig), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_verify(pk, "POST", "/api/v1/x", 1000, body, sizeof(body) - 1, sig), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_verify(pk, "POST", p, 1000, "{\"a\":2}", 7, sig), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_verify(pk2, "POST", p, 1000, body, sizeof(body) - 1, sig), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_verify(pk, "POST", p, 1000, body, sizeof(body) - 1, "not base64!"), ERR_UNAUTHENTICATED);
	assert_int_equal(devsig_message("POST", "/a\nb", 1, "", 0, msg, sizeof(msg)), ERR_INVALID);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk2, sizeof(sk2));
}

/* ---------------------------------------------------------------- baseline */

static json_t *report(bool root_enc, bool fw, json_int_t av_age, const char *version)
{
	json_t *r = json_pack("{s:[{s:s, s:b}], s:{s:b}, s:{s:b, s:I}}",
			      "disk_encryption", "mount", "/", "encrypted", root_enc,
			      "firewall", "nftables_active", fw,
			      "antivirus", "present", av_age >= 0, "signature_age_s", av_age);

	if (version)
		json_object_set_new(r, "agent_version", json_string(version));
	return r;
}

static bool passes(const json_t *results, const char *id)
{
	const json_t *it;
	size_t i;

	json_array_foreach(results, i, it)
		if (strcmp(json_string_value(json_object_get(it, "id")), id) == 0)
			return json_is_true(json_object_get(it, "pass"));
	fail_msg("no result %s", id);
	return false;
}

static void test_baseline(void **state)
{
	json_t *rep, *res;
	bool ok;

	(void)state;
	rep = report(true, true, 86400, "0.1.0");
	assert_int_equal(endpoint_evaluate(rep, &res, &ok), 0);
	assert_true(ok);
	assert_int_equal(json_array_size(res), 4);
	json_decref(res);
	json_decref(rep);

	rep = report(false, true, ENDPOINT_AV_MAX_AGE_S + 1, "0.1.0");
	assert_int_equal(endpoint_evaluate(rep, &res, &ok), 0);
	assert_false(ok);
	assert_false(passes(res, "disk_encryption_root"));
	assert_false(passes(res, "antivirus_signatures"));
	assert_true(passes(res, "firewall_active"));
	assert_true(passes(res, "agent_version"));
	json_decref(res);
	json_decref(rep);

	rep = report(true, false, -1, NULL);
	assert_int_equal(endpoint_evaluate(rep, &res, &ok), 0);
	assert_false(ok);
	assert_false(passes(res, "firewall_active"));
	assert_false(passes(res, "antivirus_signatures"));
	assert_false(passes(res, "agent_version"));
	json_decref(res);
	json_decref(rep);

	/* An empty report fails everything, with reasons. */
	rep = json_object();
	assert_int_equal(endpoint_evaluate(rep, &res, &ok), 0);
	assert_false(ok);
	assert_false(passes(res, "disk_encryption_root"));
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(res, 0), "reason")), "root"));
	json_decref(res);
	json_decref(rep);
}

/* ---------------------------------------------------------------- authorization */

static struct principal who(unsigned roles, const char *manages)
{
	struct principal p;

	memset(&p, 0, sizeof(p));
	p.via = VIA_API_TOKEN;
	p.roles = roles;
	snprintf(p.person_id, sizeof(p.person_id), "01ACTOR0000000000000000000");
	snprintf(p.manages_path, sizeof(p.manages_path), "%s", manages);
	return p;
}


/* ---------------------------------------------------------------- policies */

static json_t *pol(const char *text)
{
	struct rerr e = { "" };
	json_t *p = NULL;

	assert_int_equal(policy_parse(text, strlen(text), &p, &e), 0);
	return p;
}

static void test_policy_parse(void **state)
{
	static const char *const bad[] = {
		"[]", "{\"unknown\":1}", "{\"baseline\":{\"antivirus_max_age_days\":0}}",
		"{\"baseline\":{\"antivirus_max_age_days\":3651}}", "{\"baseline\":{\"firewall\":\"yes\"}}",
		"{\"baseline\":{\"usb\":true}}", "{\"checkin_interval\":\"30s\"}", "{\"checkin_interval\":\"25h\"}",
		"{\"checkin_interval\":5}", "{\"removable_media\":[{\"vendor\":\"a\",\"product\":\"b\"}]}",
		"{\"removable_media\":[{\"vendor\":\"a\",\"product\":\"b\",\"serial\":\"\"}]}",
		"{\"removable_media\":[{\"vendor\":\"a\",\"product\":\"b\",\"serial\":\"c\",\"x\":1}]}",
		"{\"removable_media\":{}}", "{\"logging\":{\"retention_days\":0}}", "{\"logging\":{\"keep\":1}}",
		"{\"baseline\":{},\"baseline\":{}}", "not json",
	};
	struct rerr e = { "" };
	json_t *p = NULL;
	size_t i;

	(void)state;
	p = pol("{\"baseline\":{\"disk_encryption_root\":false,\"firewall\":true,\"antivirus_max_age_days\":30},"
		"\"checkin_interval\":\"1m\",\"removable_media\":[{\"vendor\":\"0781\",\"product\":\"5581\","
		"\"serial\":\"4C53\"}],\"logging\":{\"retention_days\":180}}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "baseline"), "antivirus_max_age_days")), 30);
	json_decref(p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.message[0] = '\0';
		p = NULL;
		assert_int_equal(policy_parse(bad[i], strlen(bad[i]), &p, &e), ERR_INVALID);
		assert_null(p);
		assert_true(e.message[0] != '\0');
	}
}

static void test_policy_merge(void **state)
{
	json_t *root = pol("{\"baseline\":{\"antivirus_max_age_days\":30},\"checkin_interval\":\"10m\"}");
	json_t *div = pol("{\"baseline\":{\"firewall\":false},\"logging\":{\"retention_days\":365}}");
	const json_t *chain[3] = { root, NULL, div };
	json_t *eff = NULL, *b;
	int64_t ms = 0;

	(void)state;
	assert_int_equal(policy_merge(chain, 3, &eff), 0);
	b = json_object_get(eff, "baseline");
	/* The division's baseline replaces the root's as a whole: the AV age falls back to the default. */
	assert_true(json_is_false(json_object_get(b, "firewall")));
	assert_int_equal(json_integer_value(json_object_get(b, "antivirus_max_age_days")), POLICY_DEFAULT_AV_MAX_AGE_DAYS);
	assert_true(json_is_true(json_object_get(b, "disk_encryption_root")));
	assert_int_equal(policy_interval_ms(eff, &ms), 0);
	assert_int_equal(ms, 10 * 60 * 1000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(eff, "logging"), "retention_days")), 365);
	assert_int_equal(json_array_size(json_object_get(eff, "removable_media")), 0);
	json_decref(eff);
	assert_int_equal(policy_merge(chain, 0, &eff), 0);
	assert_int_equal(policy_interval_ms(eff, &ms), 0);
	assert_int_equal(ms, 5 * 60 * 1000);
	json_decref(eff);
	json_decref(root);
	json_decref(div);
}

/* quarantine.grace_period: 0s..30d, merged as a whole field, 24h by default. */
static void test_policy_grace_period(void **state)
{
	static const char *const bad[] = {
		"{\"quarantine\":{\"grace_period\":\"31d\"}}", "{\"quarantine\":{\"grace_period\":\"-1s\"}}",
		"{\"quarantine\":{\"grace_period\":\"24\"}}", "{\"quarantine\":{\"grace_period\":86400}}",
		"{\"quarantine\":{\"grace\":\"1h\"}}", "{\"quarantine\":\"1h\"}",
		"{\"quarantine\":{\"grace_period\":\"720h1\"}}",
	};
	json_t *zero = pol("{\"quarantine\":{\"grace_period\":\"0s\"}}");
	json_t *most = pol("{\"quarantine\":{\"grace_period\":\"30d\"}}");
	json_t *unset = pol("{\"quarantine\":{}}");
	const json_t *chain[2] = { most, zero };
	struct rerr e = { "" };
	json_t *eff = NULL, *p;
	int64_t ms = -1;
	size_t i;

	(void)state;
	assert_int_equal(policy_grace_ms(zero, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(policy_grace_ms(most, &ms), 0);
	assert_int_equal(ms, POLICY_MAX_GRACE_MS);
	/* The nearer unit's field wins. */
	assert_int_equal(policy_merge(chain, 2, &eff), 0);
	assert_int_equal(policy_grace_ms(eff, &ms), 0);
	assert_int_equal(ms, 0);
	json_decref(eff);
	/* No unit sets it, or one sets an empty object: the default. */
	assert_int_equal(policy_merge(chain, 0, &eff), 0);
	assert_int_equal(policy_grace_ms(eff, &ms), 0);
	assert_int_equal(ms, 24 * 3600 * 1000);
	json_decref(eff);
	chain[0] = unset;
	assert_int_equal(policy_merge(chain, 1, &eff), 0);
	assert_int_equal(policy_grace_ms(eff, &ms), 0);
	assert_int_equal(ms, 24 * 3600 * 1000);
	json_decref(eff);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.message[0] = '\0';
		p = NULL;
		assert_int_equal(policy_parse(bad[i], strlen(bad[i]), &p, &e), ERR_INVALID);
		assert_null(p);
		assert_true(e.message[0] != '\0');
	}
	json_decref(zero);
	json_decref(most);
	json_decref(unset);
}

static void test_policy_sign_verify(void **state)
{
	unsigned char pk[32], sk[64], pk2[32], sk2[64];
	struct rerr e = { "" };
	json_t *p = pol("{\"baseline\":{\"antivirus_max_age_days\":3}}"), *eff = NULL, *signed_doc = NULL;
	json_t *doc = NULL, *bad;
	const json_t *chain[1] = { p };
	char *text, *at;

	(void)state;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	assert_int_equal(policy_merge(chain, 1, &eff), 0);
	assert_int_equal(policy_sign("/acme/sales", 4, 1700000000000, eff, sk, &signed_doc), 0);
	/* Canonical: sorted keys, compact. */
	assert_non_null(strstr(json_string_value(json_object_get(signed_doc, "document")),
			       "{\"issued_at\":1700000000000,\"org_unit\":\"/acme/sales\",\"policy\":{\"baseline\":"));
	assert_int_equal(policy_verify(signed_doc, pk, &doc, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 4);
	assert_true(json_equal(json_object_get(doc, "policy"), eff));
	json_decref(doc);
	doc = NULL;
	/* Signed by another key. */
	assert_int_equal(policy_verify(signed_doc, pk2, &doc, &e), ERR_UNAUTHENTICATED);
	assert_null(doc);
	/* One byte of the document changed. */
	text = strdup(json_string_value(json_object_get(signed_doc, "document")));
	at = strstr(text, "\"antivirus_max_age_days\":3");
	assert_non_null(at);
	at[strlen("\"antivirus_max_age_days\":")] = '9';
	bad = json_pack("{s:s, s:O}", "document", text, "signature", json_object_get(signed_doc, "signature"));
	assert_int_equal(policy_verify(bad, pk, &doc, &e), ERR_UNAUTHENTICATED);
	assert_null(doc);
	json_decref(bad);
	free(text);
	/* Garbage signature, missing fields. */
	bad = json_pack("{s:O, s:s}", "document", json_object_get(signed_doc, "document"), "signature", "AAAA");
	assert_int_equal(policy_verify(bad, pk, &doc, &e), ERR_UNAUTHENTICATED);
	json_decref(bad);
	bad = json_pack("{s:O}", "document", json_object_get(signed_doc, "document"));
	assert_int_equal(policy_verify(bad, pk, &doc, &e), ERR_INVALID);
	json_decref(bad);
	json_decref(signed_doc);
	json_decref(eff);
	json_decref(p);
}

static void test_baseline_policy(void **state)
{
	json_t *rep = json_pack("{s:[{s:s, s:b}], s:{s:b}, s:{s:b, s:i}, s:s}",
				"disk_encryption", "mount", "/", "encrypted", 0,
				"firewall", "nftables_active", 1,
				"antivirus", "present", 1, "signature_age_s", 10 * 86400, "agent_version", "1");
	json_t *lax = pol("{\"baseline\":{\"disk_encryption_root\":false,\"antivirus_max_age_days\":30}}");
	const json_t *chain[1] = { lax };
	json_t *eff = NULL, *res = NULL;
	bool ok = true;

	(void)state;
	assert_int_equal(endpoint_evaluate(rep, &res, &ok), 0);
	assert_false(ok);
	json_decref(res);
	assert_int_equal(policy_merge(chain, 1, &eff), 0);
	assert_int_equal(endpoint_evaluate_policy(rep, json_object_get(eff, "baseline"), &res, &ok), 0);
	assert_true(ok);
	json_decref(res);
	json_decref(eff);
	json_decref(lax);
	json_decref(rep);
}

static void test_may(void **state)
{
	struct principal admin = who(ROLE_ADMIN, ""), so = who(ROLE_SECURITY_OFFICER, ""),
			 sm = who(ROLE_SECURITY_MANAGER, "G/C/D"), aud = who(ROLE_AUDITOR, ""),
			 mgr = who(ROLE_MANAGER | ROLE_EMPLOYEE, ""), emp = who(ROLE_EMPLOYEE, ""),
			 scim = who(ROLE_ADMIN, ""), anon;

	(void)state;
	scim.via = VIA_SCIM_TOKEN;
	memset(&anon, 0, sizeof(anon));
	assert_true(endpoint_may(&admin, ENDPOINT_TOKEN_CREATE, "G/X"));
	assert_true(endpoint_may(&so, ENDPOINT_TOKEN_REVOKE, "G/X"));
	assert_true(endpoint_may(&sm, ENDPOINT_TOKEN_CREATE, "G/C/D"));
	assert_true(endpoint_may(&sm, ENDPOINT_TOKEN_CREATE, "G/C/D/E"));
	assert_false(endpoint_may(&sm, ENDPOINT_TOKEN_CREATE, "G/C/DX"));
	assert_false(endpoint_may(&sm, ENDPOINT_TOKEN_CREATE, "G/C"));
	assert_false(endpoint_may(&sm, ENDPOINT_READ, "G/Other"));
	assert_true(endpoint_may(&sm, ENDPOINT_READ, NULL));
	assert_true(endpoint_may(&aud, ENDPOINT_READ, "G/Other"));
	assert_false(endpoint_may(&aud, ENDPOINT_TOKEN_CREATE, "G/Other"));
	assert_false(endpoint_may(&mgr, ENDPOINT_READ, NULL));
	assert_false(endpoint_may(&emp, ENDPOINT_READ, "G/C/D"));
	assert_false(endpoint_may(&scim, ENDPOINT_READ, NULL));
	assert_false(endpoint_may(&anon, ENDPOINT_READ, NULL));
	assert_true(endpoint_may(&admin, ENDPOINT_SWEEP, NULL));
	assert_false(endpoint_may(&so, ENDPOINT_SWEEP, NULL));
	assert_false(endpoint_may(&sm, ENDPOINT_SWEEP, NULL));
	assert_false(endpoint_may(&scim, ENDPOINT_SWEEP, NULL));
}

/* Lists are scoped in one place, by identity's rule: the whole fleet, or a security manager's subtree. */
static void test_scope(void **state)
{
	struct principal admin = who(ROLE_ADMIN, ""), so = who(ROLE_SECURITY_OFFICER, ""),
			 aud = who(ROLE_AUDITOR, ""), sm = who(ROLE_SECURITY_MANAGER, "G/C/D"),
			 lost = who(ROLE_SECURITY_MANAGER, ""), mgr = who(ROLE_MANAGER | ROLE_EMPLOYEE, "G/C/D");
	const struct principal *all[] = { &admin, &so, &aud };
	struct store_arg args[2] = { SA_I64(50) };
	struct buf sql;
	size_t nargs;

	(void)state;
	buf_init(&sql, 0);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		nargs = 1;
		buf_reset(&sql);
		assert_int_equal(ep_scope_where(&sql, args, &nargs, 2, all[i], "o.path"), 0);
		assert_int_equal(sql.len, 0);
		assert_int_equal(nargs, 1);
	}
	/* The subtree, bound as the next parameter: "G/C/D" and below, not "G/C/DX". */
	nargs = 1;
	buf_reset(&sql);
	assert_int_equal(ep_scope_where(&sql, args, &nargs, 2, &sm, "o.path"), 0);
	assert_string_equal(sql.data, " AND (" SCOPE_SQL_WITHIN("o.path", "$2") ")");
	assert_int_equal(nargs, 2);
	assert_string_equal((const char *)args[1].p, "G/C/D");
	assert_true(scope_path_within("G/C/D/E", "G/C/D"));
	assert_false(scope_path_within("G/C/DX", "G/C/D"));
	/* No room for the parameter: an error, nothing bound. */
	nargs = 2;
	buf_reset(&sql);
	assert_int_equal(ep_scope_where(&sql, args, &nargs, 2, &sm, "o.path"), ERR_TOO_LARGE);
	assert_int_equal(nargs, 2);
	/* Whom endpoint_may refuses lists sees no row either. */
	nargs = 1;
	buf_reset(&sql);
	assert_int_equal(ep_scope_where(&sql, args, &nargs, 2, &lost, "o.path"), 0);
	assert_string_equal(sql.data, " AND (1 = 0)");
	assert_false(endpoint_may(&lost, ENDPOINT_READ, NULL));
	buf_reset(&sql);
	assert_int_equal(ep_scope_where(&sql, args, &nargs, 2, &mgr, "o.path"), 0);
	assert_string_equal(sql.data, " AND (1 = 0)");
	assert_false(endpoint_may(&mgr, ENDPOINT_READ, NULL));
	buf_done(&sql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_release_fixture),
		cmocka_unit_test(test_os_release_refuses_garbage),
		cmocka_unit_test(test_dpkg_fixture),
		cmocka_unit_test(test_dpkg_limits),
		cmocka_unit_test(test_disk_encryption_fixture),
		cmocka_unit_test(test_usb_storage_fixture),
		cmocka_unit_test(test_clamav_fixture),
		cmocka_unit_test(test_devsig_round_trip),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_may),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_policy_parse),
		cmocka_unit_test(test_policy_merge),
		cmocka_unit_test(test_policy_grace_period),
		cmocka_unit_test(test_policy_sign_verify),
		cmocka_unit_test(test_baseline_policy),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
