/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the endpoint domain without HTTP or a database: the agent's
 * posture parsers and collectors on the fixture tree
 * (tests/fixtures/endpoint/root), the signed-request format, the baseline
 * evaluation and endpoint_may.
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
#include "common/err.h"
#include "endpoint/devsig.h"
#include "endpoint/endpoint.h"

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
	struct posture_err e = { "" };
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
	struct posture_err e = { "" };
	json_t *os = NULL;

	(void)state;
	assert_int_equal(posture_os_release_parse(bad, sizeof(bad) - 1, &os, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "line 2"));
	assert_null(os);
}

static void test_dpkg_fixture(void **state)
{
	struct posture_err e = { "" };
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
	struct posture_err e = { "" };
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
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
