/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for src/identity/auth*: login, lockout, TOTP and recovery
 * codes, sessions and their expiry, CSRF, token scopes, principals,
 * passwords and activation links.  Each test gets a fresh SQLite file; the
 * clock is passed in, so expiry and lockout are tested without sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <oath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/config.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "crypto/rcrypto.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/auth_internal.h"
#include "store/store.h"

#define PW "correct horse battery"
#define PW2 "another long password"
/* A fixed, step-aligned start: 2026-01-01T00:00:00Z. */
#define T0 1767225600000LL
#define MIN (60LL * 1000)

static char dir[] = "/tmp/rampart-auth-XXXXXX";

struct fx {
	struct app app;
	struct store_conn *c;
	struct auth_client cl;
};

static int fx_setup(void **state)
{
	static int n;
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	if (!f)
		return -1;
	config_defaults(&f->app.cfg);
	snprintf(path, sizeof(path), "%s/a%d.db", dir, n++);
	if (store_open(path, &f->app.store) < 0)
		return -1;
	f->app.secret_key = sodium_malloc(APP_SECRET_KEY_BYTES);
	if (!f->app.secret_key)
		return -1;
	randombytes_buf(f->app.secret_key, APP_SECRET_KEY_BYTES);
	f->c = store_conn(f->app.store);
	f->cl = (struct auth_client){ .source = "192.0.2.1", .user_agent = "cmocka", .request_id = "t1" };
	*state = f;
	return f->c ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result v;

	/* Whatever a test did, the audit chain it left behind must verify. */
	assert_int_equal(audit_verify(f->c, &v), 0);
	assert_true(v.intact);
	store_close(f->app.store);
	sodium_free(f->app.secret_key);
	free(f);
	return 0;
}

static int64_t q64(struct fx *f, const char *sql, const char *arg)
{
	int64_t v = -1;

	assert_int_equal(store_query_i64(f->c, sql, STORE_ARGS(SA_TEXT(arg)), &v), 0);
	return v;
}

static int64_t audits(struct fx *f, const char *action, const char *outcome)
{
	int64_t v = -1;

	assert_int_equal(store_query_i64(f->c, "SELECT count(*) FROM audit_log WHERE action = $1 AND outcome = $2",
					 STORE_ARGS(SA_TEXT(action), SA_TEXT(outcome)), &v), 0);
	return v;
}

static void org(struct fx *f, const char *id, const char *parent, const char *path)
{
	assert_true(store_exec(f->c, "INSERT INTO org_units (id, parent_id, name, path, level, kind, created_at) "
				     "VALUES ($1, $2, $3, $3, 'division', 'own', 1)",
			       STORE_ARGS(SA_TEXT(id), SA_TEXT(parent), SA_TEXT(path))) == 1);
}

/* Creates a person (status, kind, org, manager may vary) with @password (NULL: none). */
static void person_ex(struct fx *f, const char *login, const char *status, const char *kind,
		      const char *org_id, const char *manager, const char *password, char id[ULID_SIZE])
{
	ids_ulid(id, T0);
	assert_int_equal(store_exec(f->c, "INSERT INTO people (id, login, family_name, given_name, status, kind, "
					  "org_unit_id, manager_id, created_at, updated_at) "
					  "VALUES ($1, $2, 'Family', 'Given', $3, $4, $5, $6, 1, 1)",
				    STORE_ARGS(SA_TEXT(id), SA_TEXT(login), SA_TEXT(status), SA_TEXT(kind),
					       SA_TEXT(org_id), SA_TEXT(manager))), 1);
	if (password)
		assert_int_equal(auth_set_password(&f->app, f->c, id, password, false), 0);
}

static void person(struct fx *f, const char *login, char id[ULID_SIZE])
{
	person_ex(f, login, "active", "employee", NULL, NULL, PW, id);
}

static int login(struct fx *f, int64_t now, const char *who, const char *pw, const char *totp,
		 const char *recovery, struct auth_login_result *res, struct auth_err *e)
{
	struct auth_login_req in = { .login = who, .password = pw, .totp = totp, .recovery_code = recovery };
	struct auth_login_result tmp;
	struct auth_err etmp;

	return auth_login(&f->app, f->c, now, &f->cl, &in, res ? res : &tmp, e ? e : &etmp);
}

static int check(struct fx *f, int64_t now, enum auth_cred_kind kind, const char *token,
		 const char *csrf, bool write, unsigned flags, struct principal *p)
{
	struct auth_cred cred = { .kind = kind, .token = token, .csrf = csrf, .write = write };
	struct principal tmp;

	return auth_check(&f->app, f->c, now, &f->cl, &cred, flags, p ? p : &tmp);
}

/* ------------------------------------------------------------- password */

static void test_login_ok(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	struct principal p;
	char id[ULID_SIZE], h[RCRYPTO_HASH_HEX_SIZE];

	person(f, "alice", id);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	assert_string_equal(res.person_id, id);
	assert_string_equal(res.login, "alice");
	assert_false(res.must_change_password);
	assert_true(strncmp(res.session.token, "rs_", 3) == 0);
	assert_true(ids_is_ulid(res.session.id));
	assert_int_equal(res.session.expires_at, T0 + f->app.cfg.session_absolute_s * 1000);
	/* Only hashes are stored. */
	rcrypto_token_hash(res.session.token, h);
	assert_int_equal(q64(f, "SELECT count(*) FROM sessions WHERE token_hash = $1", h), 1);
	assert_int_equal(q64(f, "SELECT count(*) FROM sessions WHERE token_hash = $1", res.session.token), 0);
	assert_int_equal(audits(f, "auth.login", "success"), 1);

	assert_int_equal(check(f, T0 + 1000, AUTH_CRED_BEARER, res.session.token, NULL, true, 0, &p), 0);
	assert_int_equal(p.via, VIA_SESSION_TOKEN);
	assert_string_equal(p.person_id, id);
	assert_string_equal(p.credential_id, res.session.id);
}

static void test_wrong_password_and_unknown_login(void **state)
{
	struct fx *f = *state;
	struct auth_err e1, e2, e3;
	char id[ULID_SIZE], nopw[ULID_SIZE];

	person(f, "alice", id);
	person_ex(f, "newcomer", "active", "employee", NULL, NULL, NULL, nopw);
	assert_int_equal(login(f, T0, "alice", "wrong password!", NULL, NULL, NULL, &e1), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0, "nobody", PW, NULL, NULL, NULL, &e2), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0, "newcomer", "", NULL, NULL, NULL, &e3), ERR_UNAUTHENTICATED);
	/* The answer does not tell an unknown login from a wrong password. */
	assert_string_equal(e1.r.message, "wrong login or password");
	assert_string_equal(e1.r.message, e2.r.message);
	assert_string_equal(e1.r.message, e3.r.message);
	assert_int_equal(audits(f, "auth.login", "failure"), 3);
	/* The password never reaches the audit log. */
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE instr(details, $1) > 0", "wrong password!"), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM sessions WHERE person_id = $1", id), 0);
}

static void test_lockout_per_account(void **state)
{
	struct fx *f = *state;
	struct auth_err e;
	char id[ULID_SIZE], bob[ULID_SIZE];
	int64_t t = T0;

	person(f, "alice", id);
	person(f, "bob", bob);
	for (int i = 0; i < 5; i++)
		assert_int_equal(login(f, t += 1000, "alice", "not the password", NULL, NULL, NULL, NULL),
				 ERR_UNAUTHENTICATED);
	/* Locked: even the right password is refused, with a time to retry. */
	assert_int_equal(login(f, t + 1000, "alice", PW, NULL, NULL, NULL, &e), ERR_LOCKED);
	assert_int_equal(e.retry_at, t + f->app.cfg.lockout_s * 1000);
	assert_non_null(strstr(e.r.message, "try again after"));
	assert_int_equal(audits(f, "auth.lockout", "failure"), 1);
	/* The account is locked from every address ... */
	f->cl.source = "198.51.100.7";
	assert_int_equal(login(f, t + 2000, "alice", PW, NULL, NULL, NULL, NULL), ERR_LOCKED);
	/* ... but other accounts from the first address are not. */
	f->cl.source = "192.0.2.1";
	assert_int_equal(login(f, t + 3000, "bob", PW, NULL, NULL, NULL, NULL), 0);
	/* Refusals during the lock neither count nor extend it, and it ends on time. */
	assert_int_equal(login(f, t + f->app.cfg.lockout_s * 1000 - 1, "alice", PW, NULL, NULL, NULL, NULL),
			 ERR_LOCKED);
	assert_int_equal(login(f, t + f->app.cfg.lockout_s * 1000, "alice", PW, NULL, NULL, NULL, NULL), 0);
	/* Success cleared the account's password failures. */
	assert_int_equal(q64(f, "SELECT count(*) FROM auth_failures WHERE subject = $1", "account:alice"), 0);
	assert_int_equal(audits(f, "auth.lockout", "failure"), 1);
}

static void test_lockout_unknown_login(void **state)
{
	struct fx *f = *state;

	/* Unknown logins lock like real ones, so a lock does not reveal that a login exists. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(login(f, T0 + i, "ghost", PW, NULL, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0 + 10, "ghost", PW, NULL, NULL, NULL, NULL), ERR_LOCKED);
}

static void test_failures_outside_window_do_not_lock(void **state)
{
	struct fx *f = *state;
	char id[ULID_SIZE];
	int64_t step = f->app.cfg.lockout_window_s * 1000 / 4 + 1;

	person(f, "alice", id);
	/* Five failures spread wider than the window never have five inside it. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(login(f, T0 + i * step, "alice", "nope nope nope", NULL, NULL, NULL, NULL),
				 ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0 + 8 * step, "alice", PW, NULL, NULL, NULL, NULL), 0);
}

static void test_success_clears_failures(void **state)
{
	struct fx *f = *state;
	char id[ULID_SIZE];

	person(f, "alice", id);
	for (int i = 0; i < 4; i++)
		assert_int_equal(login(f, T0 + i, "alice", "bad bad bad", NULL, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0 + 10, "alice", PW, NULL, NULL, NULL, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(login(f, T0 + 20 + i, "alice", "bad bad bad", NULL, NULL, NULL, NULL),
				 ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0 + 30, "alice", PW, NULL, NULL, NULL, NULL), 0);
}

static void test_lockout_per_source(void **state)
{
	struct fx *f = *state;
	char id[ULID_SIZE];
	char name[16];

	f->app.cfg.source_lockout_threshold = 3;
	person(f, "alice", id);
	/* Spraying different logins from one address locks the address. */
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		assert_int_equal(login(f, T0 + i, name, "guess guess", NULL, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	}
	assert_int_equal(login(f, T0 + 10, "alice", PW, NULL, NULL, NULL, NULL), ERR_LOCKED);
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action = 'auth.lockout' AND object_type = $1",
			     "source"), 1);
	/* Another address is not affected; success does not clear the source's count. */
	f->cl.source = "203.0.113.9";
	assert_int_equal(login(f, T0 + 20, "alice", PW, NULL, NULL, NULL, NULL), 0);
	f->cl.source = "192.0.2.1";
	assert_int_equal(login(f, T0 + 30, "alice", PW, NULL, NULL, NULL, NULL), ERR_LOCKED);
	assert_int_equal(login(f, T0 + 2 + f->app.cfg.lockout_s * 1000, "alice", PW, NULL, NULL, NULL, NULL), 0);
}

static void test_inactive_people_refused(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	struct auth_err e;
	char id[ULID_SIZE], ret[ULID_SIZE];

	person(f, "alice", id);
	person_ex(f, "carol", "on_leave", "employee", NULL, NULL, PW, ret);
	assert_int_equal(login(f, T0, "carol", PW, NULL, NULL, NULL, &e), ERR_UNAUTHENTICATED);
	assert_string_equal(e.r.message, "wrong login or password");

	/* A retirement ends existing sessions on the next request, even unrevoked ones. */
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	assert_int_equal(store_exec(f->c, "UPDATE people SET status = 'retired' WHERE id = $1",
				    STORE_ARGS(SA_TEXT(id))), 1);
	assert_int_equal(check(f, T0 + 2, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL),
			 ERR_UNAUTHENTICATED);
	assert_int_equal(check(f, T0 + 2, AUTH_CRED_BEARER, res.session.token, NULL, false,
			       HTTP_AUTH_OPTIONAL, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0 + 3, "alice", PW, NULL, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	{
		struct principal p;

		assert_int_equal(auth_load_principal(f->c, id, &p), ERR_UNAUTHENTICATED);
		assert_int_equal(auth_load_principal(f->c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", &p), ERR_NOT_FOUND);
	}
}

static void test_input_limits(void **state)
{
	struct fx *f = *state;
	char big[AUTH_PASSWORD_MAX + 2];
	char longlogin[AUTH_LOGIN_MAX + 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(longlogin, 'a', sizeof(longlogin) - 1);
	longlogin[sizeof(longlogin) - 1] = '\0';
	assert_int_equal(login(f, T0, "alice", big, NULL, NULL, NULL, NULL), ERR_INVALID);
	assert_int_equal(login(f, T0, longlogin, PW, NULL, NULL, NULL, NULL), ERR_INVALID);
	assert_int_equal(login(f, T0, "", PW, NULL, NULL, NULL, NULL), ERR_INVALID);
	assert_int_equal(login(f, T0, "alice", PW, "123456", "abcd-efgh-ijkm", NULL, NULL), ERR_INVALID);
}

/* ----------------------------------------------------------------- TOTP */

/* A six-digit code valid at none of the steps around @now. */
static void wrong_code(const unsigned char *seed, int64_t now, char out[7])
{
	char near[4][7];

	for (int i = 0; i < 4; i++)
		assert_int_equal(auth_totp_code(seed, AUTH_TOTP_SECRET_BYTES, now + (i - 1) * 30000LL, near[i]), 0);
	for (unsigned n = 0; n < 1000000; n++) {
		bool used = false;

		snprintf(out, 7, "%06u", n % 1000000u);
		for (int i = 0; i < 4; i++)
			used = used || strcmp(out, near[i]) == 0;
		if (!used)
			return;
	}
	fail();
}

/* Enrolls @id in TOTP at @now; returns the raw seed (from the base32 shown to the user). */
static void enroll(struct fx *f, const char *id, int64_t now, unsigned char seed[AUTH_TOTP_SECRET_BYTES],
		   char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE])
{
	char b32[AUTH_TOTP_B32_SIZE], code[7];
	struct store_stmt *st;
	const void *blob;
	char *raw = NULL;
	size_t rawlen = 0, bloblen = 0;
	int64_t failures;

	assert_int_equal(auth_totp_enroll(&f->app, f->c, now, &f->cl, id, b32), 0);
	assert_int_equal(strlen(b32), 32);
	assert_int_equal(oath_base32_decode(b32, strlen(b32), &raw, &rawlen), OATH_OK);
	assert_int_equal(rawlen, AUTH_TOTP_SECRET_BYTES);
	memcpy(seed, raw, rawlen);
	free(raw);
	/* The seed is stored sealed, never in clear. */
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE id = $1 AND totp_pending IS NOT NULL "
				"AND totp_secret IS NULL", id), 1);
	assert_int_equal(store_query(f->c, "SELECT totp_pending FROM people WHERE id = $1",
				     STORE_ARGS(SA_TEXT(id)), &st), 0);
	assert_int_equal(store_step(st), 1);
	blob = store_col_blob(st, 0, &bloblen);
	assert_true(bloblen > AUTH_TOTP_SECRET_BYTES);
	assert_null(memmem(blob, bloblen, seed, AUTH_TOTP_SECRET_BYTES));
	store_stmt_free(st);
	/* Not on before a code proves the device has the seed. */
	wrong_code(seed, now, code);
	failures = audits(f, "auth.totp_confirm", "failure");
	assert_int_equal(auth_totp_confirm(&f->app, f->c, now, &f->cl, id, code, codes), ERR_INVALID);
	assert_int_equal(audits(f, "auth.totp_confirm", "failure"), failures + 1);
	assert_int_equal(auth_totp_code(seed, AUTH_TOTP_SECRET_BYTES, now, code), 0);
	assert_int_equal(auth_totp_confirm(&f->app, f->c, now, &f->cl, id, code, codes), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE id = $1 AND totp_pending IS NULL "
				"AND totp_secret IS NOT NULL", id), 1);
}

static void test_totp_login(void **state)
{
	struct fx *f = *state;
	unsigned char seed[AUTH_TOTP_SECRET_BYTES];
	char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE];
	char id[ULID_SIZE], code[7], old[7], next[7], far[7];
	struct auth_err e;
	int64_t t = T0 + 10 * MIN;

	person(f, "alice", id);
	enroll(f, id, T0, seed, codes);
	assert_int_equal(audits(f, "auth.totp_enroll", "success"), 1);
	assert_int_equal(audits(f, "auth.totp_confirm", "success"), 1);
	/* A second enrollment is refused while TOTP is on. */
	{
		char b32[AUTH_TOTP_B32_SIZE];

		assert_int_equal(auth_totp_enroll(&f->app, f->c, T0, &f->cl, id, b32), ERR_CONFLICT);
	}

	/* The code used to confirm cannot log in: its step is spent. */
	assert_int_equal(auth_totp_code(seed, sizeof(seed), T0, code), 0);
	assert_int_equal(login(f, T0 + 1000, "alice", PW, code, NULL, NULL, NULL), ERR_UNAUTHENTICATED);

	/* The password alone asks for the code. */
	assert_int_equal(login(f, t, "alice", PW, NULL, NULL, NULL, &e), ERR_TOTP_REQUIRED);
	/* A wrong password with a code is still a wrong password. */
	assert_int_equal(auth_totp_code(seed, sizeof(seed), t, code), 0);
	assert_int_equal(login(f, t, "alice", "wrong wrong wrong", code, NULL, NULL, &e), ERR_UNAUTHENTICATED);
	assert_string_equal(e.r.message, "wrong login or password");

	assert_int_equal(login(f, t, "alice", PW, code, NULL, NULL, NULL), 0);
	/* Replay of the same code, even within its step, is refused. */
	assert_int_equal(login(f, t + 1000, "alice", PW, code, NULL, NULL, &e), ERR_UNAUTHENTICATED);
	assert_string_equal(e.r.message, "wrong one-time code");
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action = 'auth.login' "
				"AND json_extract(details, '$.reason') = $1", "replayed_code"), 2);
	/* A code of an older step than the last accepted one is refused too. */
	assert_int_equal(auth_totp_code(seed, sizeof(seed), t - 30000, old), 0);
	assert_int_equal(login(f, t + 2000, "alice", PW, old, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	/* One step of clock drift ahead is accepted; two are not. */
	assert_int_equal(auth_totp_code(seed, sizeof(seed), t + 60000 + 30000, next), 0);
	assert_int_equal(auth_totp_code(seed, sizeof(seed), t + 60000 + 60000, far), 0);
	assert_int_equal(login(f, t + 60000, "alice", PW, far, NULL, NULL, NULL), strcmp(far, next) == 0 ? 0
			 : ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, t + 60000, "alice", PW, next, NULL, NULL, NULL), 0);
}

static void test_totp_lockout(void **state)
{
	struct fx *f = *state;
	unsigned char seed[AUTH_TOTP_SECRET_BYTES];
	char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE];
	char id[ULID_SIZE], code[7], wrong[7];
	int64_t t = T0 + 10 * MIN;

	person(f, "alice", id);
	enroll(f, id, T0, seed, codes);
	assert_int_equal(auth_totp_code(seed, sizeof(seed), t + 5 * MIN, code), 0);
	wrong_code(seed, t + 2000, wrong);
	for (int i = 0; i < 5; i++)
		assert_int_equal(login(f, t + i * 1000, "alice", PW, wrong, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	/* The TOTP factor is locked; the password factor is not, and was not counted. */
	assert_int_equal(login(f, t + 5 * MIN, "alice", PW, code, NULL, NULL, NULL), ERR_LOCKED);
	assert_int_equal(q64(f, "SELECT count(*) FROM auth_failures WHERE factor = 'password' AND subject = $1",
			     "account:alice"), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action = 'auth.lockout' "
				"AND json_extract(details, '$.factor') = $1", "totp"), 1);
	assert_int_equal(login(f, t + 4000 + f->app.cfg.lockout_s * 1000, "alice", PW, NULL, NULL, NULL, NULL),
			 ERR_TOTP_REQUIRED);
}

static void test_recovery_codes(void **state)
{
	struct fx *f = *state;
	unsigned char seed[AUTH_TOTP_SECRET_BYTES];
	char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE], shouted[AUTH_RECOVERY_CODE_SIZE];
	char id[ULID_SIZE];
	int64_t t = T0 + 10 * MIN;

	person(f, "alice", id);
	enroll(f, id, T0, seed, codes);
	assert_int_equal(q64(f, "SELECT count(*) FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL", id),
			 AUTH_RECOVERY_CODES);
	for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
		assert_int_equal(strlen(codes[i]), 14);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(codes[i], codes[k]);
		/* Stored hashed only. */
		assert_int_equal(q64(f, "SELECT count(*) FROM recovery_codes WHERE code_hash = $1", codes[i]), 0);
	}
	assert_int_equal(login(f, t, "alice", PW, NULL, codes[0], NULL, NULL), 0);
	/* Single use. */
	assert_int_equal(login(f, t + 1, "alice", PW, NULL, codes[0], NULL, NULL), ERR_UNAUTHENTICATED);
	/* Case and dashes do not matter. */
	for (size_t i = 0, o = 0; i <= strlen(codes[1]); i++)
		if (codes[1][i] != '-')
			shouted[o++] = (char)(codes[1][i] >= 'a' && codes[1][i] <= 'z' ? codes[1][i] - 32 : codes[1][i]);
	assert_int_equal(login(f, t + 2, "alice", PW, NULL, shouted, NULL, NULL), 0);
	assert_int_equal(login(f, t + 3, "alice", PW, NULL, "aaaa-bbbb-cccc", NULL, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(q64(f, "SELECT count(*) FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL", id),
			 AUTH_RECOVERY_CODES - 2);
	/* Codes of one person are worthless for another. */
	{
		char bob[ULID_SIZE];
		unsigned char seed2[AUTH_TOTP_SECRET_BYTES];
		char codes2[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_SIZE];

		person(f, "bob", bob);
		enroll(f, bob, T0, seed2, codes2);
		assert_int_equal(login(f, t + 4, "bob", PW, NULL, codes[5], NULL, NULL), ERR_UNAUTHENTICATED);
	}
	/* Turning TOTP off removes the codes; the password alone works again. */
	assert_int_equal(auth_totp_disable(&f->app, f->c, t, &f->cl, id), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM recovery_codes WHERE person_id = $1", id), 0);
	assert_int_equal(login(f, t + 5, "alice", PW, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(auth_totp_disable(&f->app, f->c, t, &f->cl, id), ERR_CONFLICT);
}

static void test_totp_seal(void **state)
{
	struct fx *f = *state;
	unsigned char seed[AUTH_TOTP_SECRET_BYTES], out[AUTH_TOTP_SECRET_BYTES], *blob;
	size_t len;

	randombytes_buf(seed, sizeof(seed));
	assert_int_equal(auth_totp_seal(&f->app, "01ARZ3NDEKTSV4RRFFQ69G5FAV", seed, &blob, &len), 0);
	assert_int_equal(auth_totp_open(&f->app, "01ARZ3NDEKTSV4RRFFQ69G5FAV", blob, len, out), 0);
	assert_memory_equal(seed, out, sizeof(seed));
	/* Bound to the person, and tamper-evident. */
	assert_int_equal(auth_totp_open(&f->app, "01BX5ZZKBKACTAV9WEVGEMMVRZ", blob, len, out), ERR_INTERNAL);
	blob[len - 1] ^= 1;
	assert_int_equal(auth_totp_open(&f->app, "01ARZ3NDEKTSV4RRFFQ69G5FAV", blob, len, out), ERR_INTERNAL);
	free(blob);
}

/* ------------------------------------------------------------- sessions */

static void test_session_idle_and_absolute_expiry(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	char id[ULID_SIZE];
	int64_t idle = f->app.cfg.session_idle_s * 1000, t;

	person(f, "alice", id);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	/* Idle: fine just before the limit, refused at it. */
	assert_int_equal(check(f, T0 + idle - 1, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	/* That use moved last_seen_at, so the limit moved too. */
	assert_int_equal(q64(f, "SELECT last_seen_at FROM sessions WHERE id = $1", res.session.id), T0 + idle - 1);
	assert_int_equal(check(f, T0 + 2 * idle - 2, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	assert_int_equal(check(f, T0 + 3 * idle - 2, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL),
			 ERR_UNAUTHENTICATED);

	/* Absolute: a session in constant use still ends at expires_at. */
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	for (t = T0 + idle / 2; t < res.session.expires_at; t += idle / 2)
		assert_int_equal(check(f, t, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	assert_int_equal(check(f, res.session.expires_at, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL),
			 ERR_UNAUTHENTICATED);
}

static void test_last_seen_written_at_most_once_a_minute(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	char id[ULID_SIZE];

	person(f, "alice", id);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	assert_int_equal(check(f, T0 + MIN - 1, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	assert_int_equal(q64(f, "SELECT last_seen_at FROM sessions WHERE id = $1", res.session.id), T0);
	assert_int_equal(check(f, T0 + MIN, AUTH_CRED_BEARER, res.session.token, NULL, false, 0, NULL), 0);
	assert_int_equal(q64(f, "SELECT last_seen_at FROM sessions WHERE id = $1", res.session.id), T0 + MIN);
}

static void test_revoked_session_refused(void **state)
{
	struct fx *f = *state;
	struct auth_login_result a, b;
	struct auth_token_new tok;
	char id[ULID_SIZE], other[ULID_SIZE];

	person(f, "alice", id);
	person(f, "bob", other);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &a, NULL), 0);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &b, NULL), 0);
	/* Someone else's session cannot be revoked through one's own id. */
	assert_int_equal(auth_session_revoke(f->c, T0 + 1, other, a.session.id), ERR_NOT_FOUND);
	assert_int_equal(auth_session_revoke(f->c, T0 + 1, id, a.session.id), 0);
	assert_int_equal(auth_session_revoke(f->c, T0 + 1, id, a.session.id), ERR_NOT_FOUND);
	assert_int_equal(check(f, T0 + 2, AUTH_CRED_BEARER, a.session.token, NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(check(f, T0 + 2, AUTH_CRED_BEARER, b.session.token, NULL, false, 0, NULL), 0);

	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "ci", "api", 86400000, &tok, NULL), 0);
	assert_int_equal(auth_revoke_all(f->c, id, T0 + 3), 2);
	assert_int_equal(check(f, T0 + 4, AUTH_CRED_BEARER, b.session.token, NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(check(f, T0 + 4, AUTH_CRED_BEARER, tok.token, NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
	/* Inside a caller's transaction it joins it. */
	assert_int_equal(login(f, T0 + 5, "alice", PW, NULL, NULL, &a, NULL), 0);
	assert_int_equal(store_begin(f->c), 0);
	assert_int_equal(auth_revoke_all(f->c, id, T0 + 6), 1);
	store_rollback(f->c);
	assert_int_equal(check(f, T0 + 7, AUTH_CRED_BEARER, a.session.token, NULL, false, 0, NULL), 0);
}

static void test_csrf_for_cookie_writes(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	struct principal p;
	char id[ULID_SIZE];

	person(f, "alice", id);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &res, NULL), 0);
	/* Reads with a cookie need no CSRF token. */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, NULL, false, 0, &p), 0);
	assert_int_equal(p.via, VIA_COOKIE);
	/* Writes need the right one. */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, NULL, true, 0, NULL), ERR_CSRF);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, "", true, 0, NULL), ERR_CSRF);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, res.session.token, true, 0, NULL),
			 ERR_CSRF);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, res.session.csrf, true, 0, NULL), 0);
	/* Another session's CSRF token does not fit. */
	{
		struct auth_login_result other;

		assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &other, NULL), 0);
		assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, res.session.token, other.session.csrf, true, 0,
				       NULL), ERR_CSRF);
	}
	/* A bearer token is not sent by browsers on their own: no CSRF token needed. */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, res.session.token, NULL, true, 0, NULL), 0);
	/* A cookie holding an API token is not a credential. */
	{
		struct auth_token_new tok;

		assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "x", "api", MIN, &tok, NULL), 0);
		assert_int_equal(check(f, T0 + 1, AUTH_CRED_COOKIE, tok.token, NULL, false, 0, NULL),
				 ERR_UNAUTHENTICATED);
	}
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, "rs_forged", NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, "", NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
}

/* --------------------------------------------------------------- tokens */

static void test_token_scopes(void **state)
{
	struct fx *f = *state;
	struct auth_token_new api, scim;
	struct auth_login_result res;
	struct principal p;
	char id[ULID_SIZE];

	person(f, "admin1", id);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "hr feed", "scim", 86400000, &scim, NULL), 0);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "script", "api", 86400000, &api, NULL), 0);
	assert_true(strncmp(scim.token, "rt_", 3) == 0);
	assert_int_equal(audits(f, "auth.token_create", "success"), 2);

	/* A SCIM token reaches only SCIM routes ... */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, scim.token, NULL, false, 0, NULL), ERR_FORBIDDEN);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, scim.token, NULL, false, HTTP_AUTH_OPTIONAL, NULL),
			 ERR_FORBIDDEN);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, scim.token, NULL, true, HTTP_AUTH_SCIM, &p), 0);
	assert_int_equal(p.via, VIA_SCIM_TOKEN);
	assert_string_equal(p.credential_id, scim.id);
	/* ... and SCIM routes take nothing else. */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, api.token, NULL, false, HTTP_AUTH_SCIM, NULL), ERR_FORBIDDEN);
	assert_int_equal(login(f, T0, "admin1", PW, NULL, NULL, &res, NULL), 0);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, res.session.token, NULL, false, HTTP_AUTH_SCIM, NULL),
			 ERR_FORBIDDEN);
	assert_int_equal(audits(f, "authz.denied", "denied"), 4);

	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, api.token, NULL, true, 0, &p), 0);
	assert_int_equal(p.via, VIA_API_TOKEN);
	assert_int_equal(q64(f, "SELECT last_used_at FROM api_tokens WHERE id = $1", api.id), T0 + 1);
	/* Expiry. */
	assert_int_equal(check(f, T0 + 86400000, AUTH_CRED_BEARER, api.token, NULL, false, 0, NULL),
			 ERR_UNAUTHENTICATED);
}

static void test_token_limits(void **state)
{
	struct fx *f = *state;
	struct auth_token_new t;
	struct auth_err e;
	char id[ULID_SIZE], name[AUTH_TOKEN_NAME_MAX * 2 + 2];

	person(f, "alice", id);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "", "api", MIN, &t, &e), ERR_INVALID);
	assert_string_equal(e.r.field, "name");
	memset(name, 'n', AUTH_TOKEN_NAME_MAX + 1);
	name[AUTH_TOKEN_NAME_MAX + 1] = '\0';
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, name, "api", MIN, &t, NULL), ERR_INVALID);
	/* 100 characters is fine even when they take two bytes each. */
	for (int i = 0; i < AUTH_TOKEN_NAME_MAX; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[2 * AUTH_TOKEN_NAME_MAX] = '\0';
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, name, "api", MIN, &t, NULL), 0);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "x", "root", MIN, &t, NULL), ERR_INVALID);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "x", "api", AUTH_TOKEN_MAX_TTL_MS + 1, &t,
					   NULL), ERR_INVALID);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "x", "api", 0, &t, NULL), ERR_INVALID);
	for (int i = 1; i < AUTH_TOKENS_PER_PERSON; i++)
		assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "many", "api", 10 * MIN, &t, NULL), 0);
	assert_int_equal(auth_token_create(&f->app, f->c, T0, &f->cl, id, "one more", "api", MIN, &t, &e), ERR_CONFLICT);
	/* Expired tokens do not count. */
	assert_int_equal(auth_token_create(&f->app, f->c, T0 + MIN, &f->cl, id, "one more", "api", MIN, &t, NULL), 0);
}

/* ----------------------------------------------------------- principals */

static void test_principal_roles(void **state)
{
	struct fx *f = *state;
	struct principal p;
	char boss[ULID_SIZE], worker[ULID_SIZE], partner[ULID_SIZE], sm[ULID_SIZE], gone[ULID_SIZE];

	org(f, "01ARZ3NDEKTSV4RRFFQ69G5FA1", NULL, "Group");
	org(f, "01ARZ3NDEKTSV4RRFFQ69G5FA2", "01ARZ3NDEKTSV4RRFFQ69G5FA1", "Group/Sales");
	org(f, "01ARZ3NDEKTSV4RRFFQ69G5FA3", "01ARZ3NDEKTSV4RRFFQ69G5FA1", "Group/IT");
	person_ex(f, "boss", "active", "employee", "01ARZ3NDEKTSV4RRFFQ69G5FA2", NULL, PW, boss);
	person_ex(f, "worker", "active", "employee", "01ARZ3NDEKTSV4RRFFQ69G5FA2", boss, PW, worker);
	person_ex(f, "partner", "active", "partner_staff", NULL, NULL, PW, partner);
	person_ex(f, "sm", "active", "employee", "01ARZ3NDEKTSV4RRFFQ69G5FA3", NULL, PW, sm);

	assert_int_equal(auth_load_principal(f->c, boss, &p), 0);
	assert_int_equal(p.via, VIA_NONE);
	assert_string_equal(p.login, "boss");
	assert_string_equal(p.org_path, "Group/Sales");
	assert_string_equal(p.kind, "employee");
	assert_int_equal(p.roles, ROLE_EMPLOYEE | ROLE_MANAGER);
	assert_string_equal(p.manages_path, "");

	assert_int_equal(auth_load_principal(f->c, worker, &p), 0);
	assert_int_equal(p.roles, ROLE_EMPLOYEE);
	assert_int_equal(auth_load_principal(f->c, partner, &p), 0);
	assert_int_equal(p.roles, ROLE_PARTNER_STAFF);
	assert_string_equal(p.org_unit_id, "");

	/* Managing only retired people does not make a manager. */
	person_ex(f, "gone", "retired", "employee", NULL, partner, NULL, gone);
	assert_int_equal(auth_load_principal(f->c, partner, &p), 0);
	assert_int_equal(p.roles, ROLE_PARTNER_STAFF);

	/* security_manager without a scope manages the own unit; with one, that unit's subtree. */
	assert_int_equal(store_exec(f->c, "INSERT INTO person_roles (person_id, role, granted_at) "
					  "VALUES ($1, 'security_manager', 1), ($1, 'auditor', 1)",
				    STORE_ARGS(SA_TEXT(sm))), 2);
	assert_int_equal(auth_load_principal(f->c, sm, &p), 0);
	assert_int_equal(p.roles, ROLE_EMPLOYEE | ROLE_SECURITY_MANAGER | ROLE_AUDITOR);
	assert_string_equal(p.manages_path, "Group/IT");
	assert_int_equal(store_exec(f->c, "UPDATE person_roles SET scope_org_id = $2 WHERE person_id = $1 "
					  "AND role = 'security_manager'",
				    STORE_ARGS(SA_TEXT(sm), SA_TEXT("01ARZ3NDEKTSV4RRFFQ69G5FA1"))), 1);
	assert_int_equal(auth_load_principal(f->c, sm, &p), 0);
	assert_string_equal(p.manages_path, "Group");

	/* must_change_password comes from the person. */
	assert_int_equal(auth_set_password(&f->app, f->c, worker, "temporary password", true), 0);
	assert_int_equal(auth_load_principal(f->c, worker, &p), 0);
	assert_true(p.must_change_password);
}

/* ------------------------------------------------------------ passwords */

static void test_set_password(void **state)
{
	struct fx *f = *state;
	struct auth_login_result res;
	char id[ULID_SIZE];

	person(f, "alice", id);
	assert_int_equal(auth_set_password(&f->app, f->c, id, "short", false), ERR_INVALID);
	/* The minimum counts characters, not bytes. */
	assert_int_equal(auth_set_password(&f->app, f->c, id, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", false),
			 ERR_INVALID);
	assert_int_equal(auth_set_password(&f->app, f->c, "01ARZ3NDEKTSV4RRFFQ69G5FAV", PW, false), ERR_NOT_FOUND);
	assert_int_equal(auth_set_password(&f->app, f->c, id, PW2, true), 0);
	assert_int_equal(q64(f, "SELECT substr(password_hash, 1, 10) = '$argon2id$' FROM people WHERE id = $1", id), 1);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, NULL, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(login(f, T0, "alice", PW2, NULL, NULL, &res, NULL), 0);
	assert_true(res.must_change_password);
}

static void test_password_change(void **state)
{
	struct fx *f = *state;
	struct auth_login_result a, b;
	struct auth_err e;
	struct principal p;
	char id[ULID_SIZE];

	person(f, "alice", id);
	assert_int_equal(auth_set_password(&f->app, f->c, id, PW, true), 0);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &a, NULL), 0);
	assert_int_equal(login(f, T0, "alice", PW, NULL, NULL, &b, NULL), 0);
	assert_int_equal(auth_password_change(&f->app, f->c, T0, &f->cl, id, a.session.id, "not it at all", PW2, &e),
			 ERR_UNAUTHENTICATED);
	assert_string_equal(e.r.field, "current_password");
	assert_int_equal(auth_password_change(&f->app, f->c, T0, &f->cl, id, a.session.id, PW, "tiny", &e), ERR_INVALID);
	assert_string_equal(e.r.field, "new_password");
	assert_int_equal(auth_password_change(&f->app, f->c, T0, &f->cl, id, a.session.id, PW, PW, &e), ERR_INVALID);
	assert_string_equal(e.r.field, "new_password");
	assert_int_equal(auth_password_change(&f->app, f->c, T0, &f->cl, id, a.session.id, PW, PW2, &e), 0);
	/* The session that changed it stays, the others end; must-change is cleared. */
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, a.session.token, NULL, false, 0, &p), 0);
	assert_false(p.must_change_password);
	assert_int_equal(check(f, T0 + 1, AUTH_CRED_BEARER, b.session.token, NULL, false, 0, NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(audits(f, "auth.password_change", "success"), 1);
	assert_int_equal(audits(f, "auth.password_change", "failure"), 1);
	/* Guessing the current password counts against the lockout. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(auth_password_change(&f->app, f->c, T0 + 10 + i, &f->cl, id, NULL, "guess guess", PW,
						      NULL), ERR_UNAUTHENTICATED);
	assert_int_equal(auth_password_change(&f->app, f->c, T0 + 20, &f->cl, id, NULL, PW2, PW, &e), ERR_LOCKED);
	assert_int_equal(auth_password_confirm(&f->app, f->c, T0 + 20, &f->cl, id, PW2, "auth.totp_disable", &e),
			 ERR_LOCKED);
}

/* ------------------------------------------------------------ activation */

static void test_activation(void **state)
{
	struct fx *f = *state;
	char id[ULID_SIZE], tok[RCRYPTO_TOKEN_SIZE], tok2[RCRYPTO_TOKEN_SIZE], who[ULID_SIZE];
	char h[RCRYPTO_HASH_HEX_SIZE];
	struct auth_err e;
	int64_t now = rtime_now_ms();

	person_ex(f, "newbie", "active", "employee", NULL, NULL, NULL, id);
	assert_int_equal(auth_activation_create(f->c, id, NULL, 3600000, tok, 8), -EINVAL);
	assert_int_equal(auth_activation_create(f->c, id, NULL, 3600000, tok, sizeof(tok)), 0);
	assert_true(strncmp(tok, "ra_", 3) == 0);
	rcrypto_token_hash(tok, h);
	assert_int_equal(q64(f, "SELECT count(*) FROM activations WHERE token_hash = $1", h), 1);

	assert_int_equal(auth_activate(&f->app, f->c, now, &f->cl, "ra_wrong", PW, who, &e), ERR_NOT_FOUND);
	assert_int_equal(auth_activate(&f->app, f->c, now, &f->cl, tok, "short", who, &e), ERR_INVALID);
	assert_string_equal(e.r.field, "password");
	assert_int_equal(auth_activate(&f->app, f->c, now, &f->cl, tok, PW, who, &e), 0);
	assert_string_equal(who, id);
	assert_int_equal(audits(f, "person.activate", "success"), 1);
	assert_int_equal(login(f, now, "newbie", PW, NULL, NULL, NULL, NULL), 0);
	/* One time only. */
	assert_int_equal(auth_activate(&f->app, f->c, now, &f->cl, tok, PW2, who, &e), ERR_NOT_FOUND);
	/* A new link replaces older ones; links expire. */
	assert_int_equal(auth_activation_create(f->c, id, NULL, 3600000, tok, sizeof(tok)), 0);
	assert_int_equal(auth_activation_create(f->c, id, NULL, 3600000, tok2, sizeof(tok2)), 0);
	assert_int_equal(auth_activate(&f->app, f->c, now, &f->cl, tok, PW2, who, &e), ERR_NOT_FOUND);
	assert_int_equal(auth_activate(&f->app, f->c, now + 3600000 + 1000, &f->cl, tok2, PW2, who, &e),
			 ERR_NOT_FOUND);
	assert_int_equal(audits(f, "person.activate", "failure"), 4);
}

static void test_activation_source_lockout(void **state)
{
	struct fx *f = *state;
	char id[ULID_SIZE], tok[RCRYPTO_TOKEN_SIZE], who[ULID_SIZE];
	struct auth_err e;
	int64_t now = rtime_now_ms();

	f->app.cfg.source_lockout_threshold = 4;
	person_ex(f, "newbie", "active", "employee", NULL, NULL, NULL, id);
	assert_int_equal(auth_activation_create(f->c, id, NULL, 3600000, tok, sizeof(tok)), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(auth_activate(&f->app, f->c, now + i, &f->cl, "ra_guess", PW, who, &e),
				 ERR_NOT_FOUND);
	/* Even the right link is refused from a locked address. */
	assert_int_equal(auth_activate(&f->app, f->c, now + 10, &f->cl, tok, PW, who, &e), ERR_LOCKED);
	f->cl.source = "203.0.113.50";
	assert_int_equal(auth_activate(&f->app, f->c, now + 10, &f->cl, tok, PW, who, &e), 0);
}

static void test_lock_check_direct(void **state)
{
	struct fx *f = *state;
	int64_t until = 0;

	f->app.cfg.lockout_threshold = 2;
	assert_int_equal(auth_lock_check(&f->app, f->c, T0, AUTH_FACTOR_PASSWORD, "account:zed", &until), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_exec(f->c, "INSERT INTO auth_failures (factor, subject, at) "
						  "VALUES ('password', 'account:zed', $1)", STORE_ARGS(SA_I64(T0 + i))), 1);
	assert_int_equal(auth_lock_check(&f->app, f->c, T0 + 5, AUTH_FACTOR_PASSWORD, "account:zed", &until),
			 ERR_LOCKED);
	assert_int_equal(until, T0 + 1 + f->app.cfg.lockout_s * 1000);
	/* Factors are separate. */
	assert_int_equal(auth_lock_check(&f->app, f->c, T0 + 5, AUTH_FACTOR_TOTP, "account:zed", &until), 0);
	assert_int_equal(auth_lock_check(&f->app, f->c, T0 + 1 + f->app.cfg.lockout_s * 1000, AUTH_FACTOR_PASSWORD,
					 "account:zed", &until), 0);
}

static void test_commit_audited(void **state)
{
	struct fx *f = *state;

	/* Gone well so far: the change and its success entry are committed together. */
	assert_int_equal(store_begin(f->c), 0);
	assert_int_equal(store_exec(f->c, "INSERT INTO groups (id, name, created_at, updated_at) "
				       "VALUES ('01G1', 'kept', 1, 1)", STORE_NOARGS), 1);
	assert_int_equal(auth_commit_audited(f->c, &f->cl, 1, "test.change", "group", "01G1",
					     json_pack("{s:s}", "k", "v")), 0);
	assert_false(store_in_transaction(f->c));
	assert_int_equal(q64(f, "SELECT count(*) FROM groups WHERE name = $1", "kept"), 1);
	assert_int_equal(audits(f, "test.change", "success"), 1);
	/* An error: rolled back, nothing audited, the details freed, the error returned. */
	assert_int_equal(store_begin(f->c), 0);
	assert_int_equal(store_exec(f->c, "INSERT INTO groups (id, name, created_at, updated_at) "
				       "VALUES ('01G2', 'dropped', 1, 1)", STORE_NOARGS), 1);
	assert_int_equal(auth_commit_audited(f->c, &f->cl, ERR_CONFLICT, "test.change", "group", "01G2",
					     json_pack("{s:s}", "k", "v")), ERR_CONFLICT);
	assert_false(store_in_transaction(f->c));
	assert_int_equal(q64(f, "SELECT count(*) FROM groups WHERE name = $1", "dropped"), 0);
	assert_int_equal(audits(f, "test.change", "success"), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_login_ok),
		T(test_wrong_password_and_unknown_login),
		T(test_lockout_per_account),
		T(test_lockout_unknown_login),
		T(test_failures_outside_window_do_not_lock),
		T(test_success_clears_failures),
		T(test_lockout_per_source),
		T(test_inactive_people_refused),
		T(test_input_limits),
		T(test_totp_login),
		T(test_totp_lockout),
		T(test_recovery_codes),
		T(test_totp_seal),
		T(test_session_idle_and_absolute_expiry),
		T(test_last_seen_written_at_most_once_a_minute),
		T(test_revoked_session_refused),
		T(test_csrf_for_cookie_writes),
		T(test_token_scopes),
		T(test_token_limits),
		T(test_principal_roles),
		T(test_set_password),
		T(test_password_change),
		T(test_activation),
		T(test_activation_source_lockout),
		T(test_lock_check_direct),
		T(test_commit_audited),
	};
#undef T
	int r;

	if (!mkdtemp(dir) || rcrypto_init() < 0)
		return 1;
	rcrypto_pwhash_set_minimal();   /* hundreds of hashes; the cost is not what is tested */
	r = cmocka_run_group_tests_name("auth", tests, NULL, NULL);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			r = r ? r : 1;
	}
	return r;
}
