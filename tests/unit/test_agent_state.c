/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for what rampart-agent's commands share (src/agent/agent.h)
 * in a scratch state directory, without a server: atomic JSON files
 * (file.c), the device key and the reload of a stored signed document
 * (state.c); the signed policy stored, verified again when
 * loaded and never replaced by an older one of the same unit (policy.c);
 * the signed quarantine order stored and refused when older, for another
 * device or signed by another key (quarantine.c, with --no-enforce, so
 * that nftables is never touched).
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
#include <unistd.h>

#include "agent/agent.h"
#include "common/fsio.h"
#include "common/err.h"
#include "formats/policy.h"
#include "formats/qorder.h"

#define DEV "5f0c1d2e-0000-4000-8000-00000000abcd"
#define SERVER "http://127.0.0.1:9"

static unsigned char spk[DEVSIG_PK_BYTES], ssk[DEVSIG_SK_BYTES], opk[DEVSIG_PK_BYTES], osk[DEVSIG_SK_BYTES];

struct scratch {
	char dir[64];
};

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (!s || sodium_init() < 0)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/rampart-agent-test.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	crypto_sign_keypair(spk, ssk);
	crypto_sign_keypair(opk, osk);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	static const char *const names[] = {
		"x.json", "x.json.tmp", "device.json", "device.key", "policy.json", "quarantine.json",
	};
	char path[AGENT_PATH];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, names[i]);
		unlink(path);
	}
	rmdir(s->dir);
	free(s);
	return 0;
}

static char *slurp(const char *dir, const char *name)
{
	char path[AGENT_PATH], *text = calloc(1, 4096);
	FILE *f;

	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(text, 1, 4095, f) > 0);
	fclose(f);
	return text;
}

static void put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[AGENT_PATH];

	assert_int_equal(agent_path(path, sizeof(path), dir, name), 0);
	assert_int_equal(fsio_replace(path, text, len, 0600), 0);
}

/* ---------------------------------------------------------------- state.c */

static void test_json_files(void **state)
{
	struct scratch *s = *state;
	char path[AGENT_PATH], tmp[128], *text, *long_name;
	json_t *v = NULL, *w = json_pack("{s:i, s:i}", "b", 1, "a", 2);
	struct stat st;

	assert_int_equal(agent_read_json(s->dir, "x.json", &v), -ENOENT);
	assert_int_equal(agent_write_json(s->dir, "x.json", w), 0);
	/* Compact, sorted keys, mode 0600, and no temporary file left behind. */
	text = slurp(s->dir, "x.json");
	assert_string_equal(text, "{\"a\":2,\"b\":1}");
	free(text);
	snprintf(path, sizeof(path), "%s/x.json", s->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s/x.json.tmp", s->dir);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(agent_read_json(s->dir, "x.json", &v), 0);
	assert_true(json_equal(v, w));
	json_decref(v);
	json_decref(w);

	/* A temporary file a crash left, with another mode, does not lend its mode or bytes. */
	{
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		assert_true(fd >= 0);
		assert_int_equal(fchmod(fd, 0644), 0);
		assert_int_equal(write(fd, "left over by a crash, longer than the new text", 46), 46);
		close(fd);
	}
	put(s->dir, "x.json", "{}", 2);
	text = slurp(s->dir, "x.json");
	assert_string_equal(text, "{}");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);

	/* Replaced whole; duplicate keys and text that is not JSON are refused. */
	put(s->dir, "x.json", "{\"a\":1,\"a\":2}", 13);
	assert_int_equal(agent_read_json(s->dir, "x.json", &v), ERR_INVALID);
	put(s->dir, "x.json", "not json", 8);
	assert_int_equal(agent_read_json(s->dir, "x.json", &v), ERR_INVALID);

	long_name = malloc(AGENT_PATH + 1);
	assert_non_null(long_name);
	memset(long_name, 'a', AGENT_PATH);
	long_name[AGENT_PATH] = '\0';
	assert_int_equal(agent_path(path, sizeof(path), s->dir, long_name), -ENAMETOOLONG);
	assert_int_equal(agent_read_json(s->dir, long_name, &v), -ENAMETOOLONG);
	free(long_name);
}

static void test_device_load(void **state)
{
	struct scratch *s = *state;
	struct agent_opts o = { .state_dir = s->dir };
	unsigned char key[DEVSIG_SK_BYTES], got[DEVSIG_SK_BYTES], pk[DEVSIG_PK_BYTES];
	char b64[DEVSIG_PK_B64_SIZE];
	json_t *st = NULL, *dev;

	randombytes_buf(key, sizeof(key));
	assert_int_equal(agent_device_load(&o, &st, got), -ENOENT);
	/* A device.json without a device id is no enrollment. */
	dev = json_pack("{s:s}", "server", SERVER);
	assert_int_equal(agent_write_json(s->dir, "device.json", dev), 0);
	json_decref(dev);
	assert_int_equal(agent_device_load(&o, &st, got), ERR_INVALID);
	devsig_b64_encode(spk, sizeof(spk), b64, sizeof(b64));
	dev = json_pack("{s:s, s:s, s:s}", "device_id", DEV, "server", SERVER, "server_public_key", b64);
	assert_int_equal(agent_write_json(s->dir, "device.json", dev), 0);
	assert_int_equal(agent_device_load(&o, &st, got), -ENOENT);
	/* A key of the wrong size is refused, one byte short or one over. */
	put(s->dir, "device.key", (const char *)key, sizeof(key) - 1);
	assert_int_equal(agent_device_key_load(s->dir, got), ERR_INVALID);
	put(s->dir, "device.key", (const char *)key, sizeof(key));
	assert_int_equal(agent_device_key_load(s->dir, got), 0);
	assert_memory_equal(got, key, sizeof(key));
	memset(got, 0, sizeof(got));
	assert_int_equal(agent_device_load(&o, &st, got), 0);
	assert_memory_equal(got, key, sizeof(key));
	assert_true(json_equal(st, dev));
	/* The pinned server key. */
	assert_int_equal(agent_pinned_key(st, pk), 0);
	assert_memory_equal(pk, spk, sizeof(pk));
	json_object_del(st, "server_public_key");
	assert_int_equal(agent_pinned_key(st, pk), ERR_INVALID);
	json_decref(st);
	json_decref(dev);
}

/* A verifier that counts its calls and refuses a document without "ok". */
static int t_verify_calls;

static int t_verify(const json_t *signed_doc, const void *ud, json_t **ret, struct rerr *e)
{
	t_verify_calls++;
	assert_string_equal(ud, "key");
	if (!json_is_true(json_object_get(signed_doc, "ok")))
		return rerr_set(e, ERR_UNAUTHENTICATED, "signature", "bad signature");
	*ret = json_pack("{s:s}", "document", "verified");
	return 0;
}

/* Runs agent_signed_load on @dir/x.json with stderr caught in @err. */
static int t_signed_load(const char *dir, json_t **ret, char *err, size_t size)
{
	char path[AGENT_PATH];
	int saved = dup(2), fd, r;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr.txt", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	r = agent_signed_load(dir, "x.json", "thing", t_verify, "key", ret);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, err, size - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return r;
}

static void test_signed_load(void **state)
{
	struct scratch *s = *state;
	char err[512], want[512];
	json_t *doc = NULL;

	/* None stored: -ENOENT, quietly, the verifier not asked. */
	assert_int_equal(t_signed_load(s->dir, &doc, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "");
	assert_int_equal(t_verify_calls, 0);
	/* Not JSON: refused before the verifier, with err_str's sentence. */
	put(s->dir, "x.json", "{", 1);
	assert_int_equal(t_signed_load(s->dir, &doc, err, sizeof(err)), ERR_INVALID);
	snprintf(want, sizeof(want), "rampart-agent: the stored thing in %s/x.json is refused: invalid input\n", s->dir);
	assert_string_equal(err, want);
	assert_int_equal(t_verify_calls, 0);
	/* The verifier refuses: its message. */
	put(s->dir, "x.json", "{\"ok\":false}", 12);
	assert_int_equal(t_signed_load(s->dir, &doc, err, sizeof(err)), ERR_UNAUTHENTICATED);
	snprintf(want, sizeof(want), "rampart-agent: the stored thing in %s/x.json is refused: bad signature\n", s->dir);
	assert_string_equal(err, want);
	assert_null(doc);
	/* Verified: the document it returns, nothing said. */
	put(s->dir, "x.json", "{\"ok\":true}", 11);
	assert_int_equal(t_signed_load(s->dir, &doc, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(json_string_value(json_object_get(doc, "document")), "verified");
	assert_int_equal(t_verify_calls, 2);
	json_decref(doc);
}

/* ---------------------------------------------------------------- policy.c */

static json_t *signed_policy(const char *unit, int64_t version, const unsigned char *key)
{
	struct rerr e = { "" };
	json_t *p = NULL, *eff = NULL, *signed_doc = NULL;
	const json_t *chain[1];

	assert_int_equal(policy_parse("{}", 2, &p, &e), 0);
	chain[0] = p;
	assert_int_equal(policy_merge(chain, 1, &eff), 0);
	assert_int_equal(policy_sign(unit, version, 1700000000000 + version, eff, key, &signed_doc), 0);
	json_decref(eff);
	json_decref(p);
	return signed_doc;
}

static void test_policy(void **state)
{
	struct scratch *s = *state;
	json_t *v2 = signed_policy("/acme", 2, ssk), *v1 = signed_policy("/acme", 1, ssk);
	json_t *other_unit = signed_policy("/other", 1, ssk), *forged = signed_policy("/acme", 9, osk);
	json_t *cur = NULL, *doc = NULL;

	assert_int_equal(agent_policy_version(NULL), 0);
	assert_int_equal(agent_policy_load(s->dir, spk, &cur), -ENOENT);
	assert_int_equal(agent_policy_apply(s->dir, spk, v2, NULL), 0);
	assert_int_equal(agent_policy_load(s->dir, spk, &cur), 0);
	assert_int_equal(agent_policy_version(cur), 2);
	/* An older version of the same unit is refused and the stored one stays. */
	assert_int_equal(agent_policy_apply(s->dir, spk, v1, cur), ERR_INVALID);
	/* So is one the pinned key did not sign. */
	assert_int_equal(agent_policy_apply(s->dir, spk, forged, cur), ERR_UNAUTHENTICATED);
	assert_int_equal(agent_policy_load(s->dir, spk, &doc), 0);
	assert_int_equal(agent_policy_version(doc), 2);
	json_decref(doc);
	doc = NULL;
	/* A PC moved to another unit takes that unit's policy, whatever its version. */
	assert_int_equal(agent_policy_apply(s->dir, spk, other_unit, cur), 0);
	assert_int_equal(agent_policy_load(s->dir, spk, &doc), 0);
	assert_string_equal(json_string_value(json_object_get(doc, "org_unit")), "/other");
	json_decref(doc);
	doc = NULL;
	/* A stored policy is verified again: one written there by someone else is not used. */
	assert_int_equal(agent_write_json(s->dir, "policy.json", forged), 0);
	assert_int_equal(agent_policy_load(s->dir, spk, &doc), ERR_UNAUTHENTICATED);
	assert_null(doc);
	json_decref(cur);
	json_decref(v2);
	json_decref(v1);
	json_decref(other_unit);
	json_decref(forged);
}

/* ---------------------------------------------------------------- quarantine.c */

static json_t *order(const char *did, bool quarantined, int64_t issued_at, const unsigned char *key)
{
	json_t *signed_doc = NULL;

	assert_int_equal(qorder_sign(did, quarantined, "test", issued_at, key, &signed_doc), 0);
	return signed_doc;
}

static void test_quarantine(void **state)
{
	struct scratch *s = *state;
	struct agent_opts o = { .state_dir = s->dir, .root = "/", .no_enforce = true };
	json_t *on = order(DEV, true, 1000, ssk), *older = order(DEV, false, 500, ssk);
	json_t *other = order("5f0c1d2e-0000-4000-8000-00000000ffff", false, 2000, ssk);
	json_t *forged = order(DEV, false, 2000, osk), *off = order(DEV, false, 2000, ssk);
	json_t *dev = json_pack("{s:s, s:s}", "device_id", DEV, "server", SERVER), *doc = NULL;

	assert_false(agent_quarantined(NULL));
	assert_int_equal(agent_issued_at(NULL), 0);
	assert_int_equal(agent_quarantine_load(s->dir, spk, DEV, &doc), -ENOENT);
	assert_int_equal(agent_quarantine_restore(&o, dev, spk), 0);
	assert_int_equal(agent_quarantine_apply(&o, SERVER, spk, DEV, on), 0);
	assert_int_equal(agent_quarantine_load(s->dir, spk, DEV, &doc), 0);
	assert_true(agent_quarantined(doc));
	assert_int_equal(agent_issued_at(doc), 1000);
	json_decref(doc);
	doc = NULL;
	/* Refused, each changing nothing: older, another device's, another key's. */
	assert_int_equal(agent_quarantine_apply(&o, SERVER, spk, DEV, older), ERR_INVALID);
	assert_int_equal(agent_quarantine_apply(&o, SERVER, spk, DEV, other), ERR_INVALID);
	assert_int_equal(agent_quarantine_apply(&o, SERVER, spk, DEV, forged), ERR_UNAUTHENTICATED);
	assert_int_equal(agent_quarantine_load(s->dir, spk, DEV, &doc), 0);
	assert_true(agent_quarantined(doc));
	json_decref(doc);
	doc = NULL;
	assert_int_equal(agent_quarantine_restore(&o, dev, spk), 0);
	/* The release is stored once applied; the stored order names this device only. */
	assert_int_equal(agent_quarantine_apply(&o, SERVER, spk, DEV, off), 0);
	assert_int_equal(agent_quarantine_load(s->dir, spk, DEV, &doc), 0);
	assert_false(agent_quarantined(doc));
	assert_int_equal(agent_issued_at(doc), 2000);
	json_decref(doc);
	doc = NULL;
	assert_int_equal(agent_quarantine_load(s->dir, spk, "5f0c1d2e-0000-4000-8000-00000000ffff", &doc), ERR_INVALID);
	assert_null(doc);
	json_decref(dev);
	json_decref(on);
	json_decref(older);
	json_decref(other);
	json_decref(forged);
	json_decref(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
