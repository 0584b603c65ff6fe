/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the exchange site's pieces that need neither HTTP nor a
 * database: the authorization decision (exchange_may) role by role, the
 * state the API shows, and the encrypted file format (blob.h): round trips
 * at chunk edges, and refusal of files cut, extended, altered or opened
 * with the wrong key; the key check, the password shape and held links.
 * And, on a scratch database, who must wait for approval and who decides
 * (approval.c), asked of identity's API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsio.h"
#include "common/app.h"
#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"
#include "exchange/internal.h"
#include "identity/people.h"
#include "store/store.h"

#define OWNER "01ARZ3NDEKTSV4RRFFQ69G5FAV"
#define OTHER "01BX5ZZKBKACTAV9WEVGEMMVRZ"
#define TID "01HZZZZZZZZZZZZZZZZZZZZZZZ"

/* ---------------------------------------------------------------- exchange_may */

static struct principal who(const char *id, unsigned roles, const char *manages)
{
	struct principal p;

	memset(&p, 0, sizeof(p));
	p.via = VIA_COOKIE;
	str_copy(p.person_id, sizeof(p.person_id), id);
	str_copy(p.org_path, sizeof(p.org_path), "Corp/Sales");
	str_copy(p.manages_path, sizeof(p.manages_path), manages);
	p.roles = roles;
	return p;
}

static void test_may_create_and_settings(void **state)
{
	struct principal emp = who(OTHER, ROLE_EMPLOYEE, ""), admin = who(OTHER, ROLE_ADMIN, "");
	struct principal so = who(OTHER, ROLE_SECURITY_OFFICER, ""), aud = who(OTHER, ROLE_AUDITOR, "");
	struct principal anon = emp, scim = admin;

	anon.via = VIA_NONE;
	scim.via = VIA_SCIM_TOKEN;
	assert_true(exchange_may(&emp, EXCHANGE_CREATE, NULL));
	assert_false(exchange_may(&anon, EXCHANGE_CREATE, NULL));
	assert_false(exchange_may(NULL, EXCHANGE_CREATE, NULL));
	assert_false(exchange_may(&scim, EXCHANGE_CREATE, NULL));
	assert_false(exchange_may(&scim, EXCHANGE_SWEEP, NULL));
	assert_true(exchange_may(&admin, EXCHANGE_SWEEP, NULL));
	assert_true(exchange_may(&admin, EXCHANGE_CONFIGURE, NULL));
	assert_false(exchange_may(&so, EXCHANGE_SWEEP, NULL));
	assert_false(exchange_may(&so, EXCHANGE_CONFIGURE, NULL));
	assert_true(exchange_may(&so, EXCHANGE_READ_SETTINGS, NULL));
	assert_true(exchange_may(&aud, EXCHANGE_READ_SETTINGS, NULL));
	assert_false(exchange_may(&aud, EXCHANGE_CONFIGURE, NULL));
	assert_false(exchange_may(&emp, EXCHANGE_READ_SETTINGS, NULL));
	assert_false(exchange_may(&emp, EXCHANGE_SWEEP, NULL));
}

static void test_may_read_and_revoke(void **state)
{
	struct exchange_target t = { OWNER, "Corp/Sales/East" };
	struct principal owner = who(OWNER, ROLE_EMPLOYEE, ""), emp = who(OTHER, ROLE_EMPLOYEE | ROLE_MANAGER, "");
	struct principal admin = who(OTHER, ROLE_ADMIN, ""), so = who(OTHER, ROLE_SECURITY_OFFICER, "");
	struct principal aud = who(OTHER, ROLE_AUDITOR, "");
	struct principal sm_in = who(OTHER, ROLE_SECURITY_MANAGER, "Corp/Sales");
	struct principal sm_out = who(OTHER, ROLE_SECURITY_MANAGER, "Corp/Sale");
	struct principal sm_none = who(OTHER, ROLE_SECURITY_MANAGER, "");
	struct principal scim = owner;

	scim.via = VIA_SCIM_TOKEN;
	for (int a = EXCHANGE_READ; a <= EXCHANGE_REVOKE; a++) {
		assert_true(exchange_may(&owner, a, &t));
		assert_true(exchange_may(&admin, a, &t));
		assert_true(exchange_may(&so, a, &t));
		assert_true(exchange_may(&sm_in, a, &t));
		assert_false(exchange_may(&sm_out, a, &t));   /* "Corp/Sale" is not above "Corp/Sales/East" */
		assert_false(exchange_may(&sm_none, a, &t));
		assert_false(exchange_may(&emp, a, &t));      /* a manager reads only what waits for approval */
		assert_false(exchange_may(&scim, a, &t));
		assert_false(exchange_may(&owner, a, NULL));  /* no target, no answer but no */
	}
	assert_true(exchange_may(&aud, EXCHANGE_READ, &t));
	assert_false(exchange_may(&aud, EXCHANGE_REVOKE, &t));
}

/* ---------------------------------------------------------------- states */

static void test_states(void **state)
{
	const int64_t now = 1000000, later = now + 1, earlier = now - 1;

	assert_string_equal(xfer_state("active", "none", later, 1, false, false, now), "sent");
	assert_string_equal(xfer_state("active", "none", later, 1, true, false, now), "opened");
	assert_string_equal(xfer_state("active", "none", later, 1, true, true, now), "downloaded");
	assert_string_equal(xfer_state("active", "none", later, 0, false, false, now), "downloaded");
	assert_string_equal(xfer_state("active", "none", earlier, 1, false, false, now), "expired");
	assert_string_equal(xfer_state("active", "none", now, 1, false, false, now), "expired");
	assert_string_equal(xfer_state("active", "pending", later, 1, false, false, now), "pending_approval");
	assert_string_equal(xfer_state("active", "approved", later, 1, false, false, now), "sent");
	assert_string_equal(xfer_state("revoked", "rejected", later, 1, false, false, now), "rejected");
	assert_string_equal(xfer_state("awaiting_upload", "none", later, 1, false, false, now), "requested");
	assert_string_equal(xfer_state("receiving", "none", later, 1, false, false, now), "requested");
	assert_string_equal(xfer_state("awaiting_upload", "none", earlier, 1, false, false, now), "expired");
	assert_string_equal(xfer_state("burned", "none", later, 1, false, false, now), "burned");
	assert_string_equal(xfer_state("revoked", "none", later, 1, false, false, now), "revoked");
}

/* ---------------------------------------------------------------- blobs */

struct blob_fixture {
	struct app app;
	char dir[256];
	unsigned char key[XC_KEY];
};

static int blob_setup(void **state)
{
	struct blob_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sodium_init() < 0, 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rampart-test-exchange-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	str_copy(f->app.cfg.data_dir, sizeof(f->app.cfg.data_dir), f->dir);
	randombytes_buf(f->key, sizeof(f->key));
	*state = f;
	return 0;
}

static int blob_teardown(void **state)
{
	struct blob_fixture *f = *state;
	char path[512];

	xblob_remove(&f->app, TID);
	snprintf(path, sizeof(path), "%s/blobs", f->dir);
	rmdir(path);
	rmdir(f->dir);
	free(f->app.secret_key);
	free(f);
	return 0;
}

/* Writes @len pseudo-random bytes as file @fid in pieces of @piece; returns the plaintext (caller frees). */
static char *blob_write(struct blob_fixture *f, const char *fid, size_t len, size_t piece)
{
	struct xblob_writer w;
	char dir[700], path[800];
	char *data = malloc(len + 1);

	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 131 + i / 7);
	assert_int_equal(xblob_dir_create(&f->app, TID, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, fid);
	assert_int_equal(xblob_writer_init(&w), 0);
	assert_int_equal(xblob_writer_open(&w, path, f->key), 0);
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(xblob_writer_write(&w, data + off, len - off < piece ? len - off : piece), 0);
	assert_int_equal(xblob_writer_close(&w), 0);
	assert_int_equal(xblob_writer_open(&w, path, f->key), -EEXIST);   /* never over an existing file */
	xblob_writer_done(&w);
	assert_int_equal(fsio_sync_dir(dir), 0);
	return data;
}

/* Reads file @fid back with @key; returns 0 with the plaintext in @out, or the reader's error. */
static int blob_read(struct blob_fixture *f, const char *fid, const unsigned char *key, int64_t size, char *out)
{
	static unsigned char chunk[XC_CHUNK];
	struct xblob_reader *r = malloc(sizeof(*r));
	size_t got = 0, n;
	int fd = xblob_open(&f->app, TID, fid), e;

	assert_non_null(r);
	assert_true(fd >= 0);
	e = xblob_reader_start(r, fd, key, size);
	while (e == 0 && !r->final_seen) {
		e = xblob_reader_next(r, chunk, &n);
		if (e == 0) {
			memcpy(out + got, chunk, n);
			got += n;
		}
	}
	close(fd);
	free(r);
	if (e == 0)
		assert_int_equal(got, (size_t)size);
	return e;
}

static void test_blob_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, XC_CHUNK - 1, XC_CHUNK, XC_CHUNK + 1, 3 * XC_CHUNK + 17 };
	static const size_t pieces[] = { 1000, 7, XC_CHUNK, 4096, 65537, 100000 };
	struct blob_fixture *f = *state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char fid[16], *data, *back = malloc(sizes[i] + 1);

		snprintf(fid, sizeof(fid), "f%zu", i);
		data = blob_write(f, fid, sizes[i], pieces[i]);
		assert_int_equal(blob_read(f, fid, f->key, (int64_t)sizes[i], back), 0);
		assert_memory_equal(back, data, sizes[i]);
		free(data);
		free(back);
	}
}

/* Overwrites or cuts the stored file @fid to show that the reader notices. */
static void blob_damage(struct blob_fixture *f, const char *fid, off_t at, bool cut)
{
	char path[800];
	int fd;

	snprintf(path, sizeof(path), "%s/blobs/%s/%s", f->dir, TID, fid);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	if (cut) {
		assert_int_equal(ftruncate(fd, at), 0);
	} else {
		unsigned char b;

		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= 0x40;
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
	}
	close(fd);
}

static void test_blob_refuses_damage(void **state)
{
	struct blob_fixture *f = *state;
	const size_t len = 2 * XC_CHUNK + 100;
	unsigned char wrong[XC_KEY];
	char *data, *back = malloc(len);

	data = blob_write(f, "good", len, 5000);
	memcpy(wrong, f->key, sizeof(wrong));
	wrong[0] ^= 1;
	assert_int_equal(blob_read(f, "good", wrong, (int64_t)len, back), -EIO);
	/* Told a size that does not match: cut or extended. */
	assert_int_equal(blob_read(f, "good", f->key, (int64_t)len - 1, back), -EIO);
	assert_int_equal(blob_read(f, "good", f->key, (int64_t)len + XC_CHUNK, back), -EIO);
	assert_int_equal(blob_read(f, "good", f->key, (int64_t)len, back), 0);
	free(data);

	data = blob_write(f, "flipped", len, 5000);
	blob_damage(f, "flipped", XC_CHUNK + 500, false);
	assert_int_equal(blob_read(f, "flipped", f->key, (int64_t)len, back), -EIO);
	free(data);

	data = blob_write(f, "magic", len, 5000);
	blob_damage(f, "magic", 0, false);
	assert_int_equal(blob_read(f, "magic", f->key, (int64_t)len, back), -EIO);
	free(data);

	data = blob_write(f, "cut", len, 5000);
	blob_damage(f, "cut", 4 + 24 + XC_CHUNK + XC_ABYTES, true);   /* the last chunks are gone */
	assert_int_equal(blob_read(f, "cut", f->key, (int64_t)len, back), -EIO);
	free(data);
	free(back);
	assert_int_equal(xblob_remove(&f->app, TID), 0);
	assert_int_equal(xblob_remove(&f->app, TID), 0);   /* missing is fine */
	assert_int_equal(xblob_remove(&f->app, "../etc"), -EINVAL);
}

static void test_keys_and_passwords(void **state)
{
	struct blob_fixture *f = *state;
	unsigned char salt[XC_SALT], k1[XC_KEY], k2[XC_KEY], c1[XC_CHECK], c2[XC_CHECK];
	char pw[X_PASSWORD_SIZE], token[RCRYPTO_TOKEN_SIZE] = "x_token", back[RCRYPTO_TOKEN_SIZE];
	unsigned char held[X_HOLD_MAX];
	size_t held_len = 0;

	xblob_password_new(pw);
	assert_int_equal(strlen(pw), 19);
	for (int i = 0; i < 19; i++)
		assert_true(i % 5 == 4 ? pw[i] == '-' : strchr("abcdefghijkmnpqrstuvwxyz23456789", pw[i]) != NULL);
	randombytes_buf(salt, sizeof(salt));
	assert_int_equal(xblob_derive(token, pw, salt, k1), 0);
	assert_int_equal(xblob_derive(token, pw, salt, k2), 0);
	assert_memory_equal(k1, k2, XC_KEY);
	xblob_key_check(k1, c1);
	assert_memory_not_equal(c1, k1, XC_CHECK);
	assert_int_equal(xblob_derive(token, "wrong-pass-word-xx", salt, k2), 0);
	xblob_key_check(k2, c2);
	assert_memory_not_equal(c1, c2, XC_CHECK);

	/* Held links need the server key, and open only for their own transfer. */
	assert_int_equal(xblob_hold_seal(&f->app, TID, token, held, &held_len), ERR_INTERNAL);
	f->app.secret_key = malloc(APP_SECRET_KEY_BYTES);
	randombytes_buf(f->app.secret_key, APP_SECRET_KEY_BYTES);
	assert_int_equal(xblob_hold_seal(&f->app, TID, token, held, &held_len), 0);
	assert_int_equal(xblob_hold_open(&f->app, TID, held, held_len, back), 0);
	assert_string_equal(back, token);
	assert_int_equal(xblob_hold_open(&f->app, OWNER, held, held_len, back), ERR_INTERNAL);
	held[held_len - 1] ^= 1;
	assert_int_equal(xblob_hold_open(&f->app, TID, held, held_len, back), ERR_INTERNAL);
	assert_int_equal(xblob_hold_open(&f->app, TID, held, 3, back), ERR_INTERNAL);
}

/* ---------------------------------------------------------------- approval */

struct appr_fixture {
	char dir[256], db[300];
	struct store *store;
	struct store_conn *c;
	struct people_writer *w;
};

static int appr_setup(void **state)
{
	struct appr_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rampart-test-exchange-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/x.db", f->dir);
	assert_int_equal(store_open(f->db, &f->store), 0);
	f->c = store_conn(f->store);
	assert_non_null(f->c);
	assert_int_equal(people_writer_new(f->c, "csv", NULL, rtime_now_ms(), &f->w), 0);
	*state = f;
	return 0;
}

static int appr_teardown(void **state)
{
	struct appr_fixture *f = *state;
	char path[400];
	static const char *const tails[] = { "", "-wal", "-shm", "-journal" };

	people_writer_free(f->w);
	store_close(f->store);
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, tails[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The id of the unit at @path, created with the units above it. */
static void appr_unit(struct appr_fixture *f, const char *path, char id[ULID_SIZE])
{
	assert_int_equal(people_org_ensure(f->c, path, NULL, rtime_now_ms(), id, NULL), 0);
}

/* Adds person @login (@email, @status) in unit @path reporting to @manager (may be NULL). */
static void appr_person(struct appr_fixture *f, const char *login, const char *email, const char *status,
			const char *path, const char *manager, char id[ULID_SIZE])
{
	struct people_rec rec = { .login = login, .family_name = login, .given_name = "X", .email = email,
				  .status = status, .kind = "employee", .manager_id = manager };
	char unit[ULID_SIZE];

	appr_unit(f, path, unit);
	rec.org_unit_id = unit;
	ids_ulid(id, rtime_now_ms());
	assert_int_equal(people_create(f->w, id, &rec, NULL), 0);
}

/* Requires approval (or not) for the unit at @path, naming @approver (may be NULL). */
static void appr_require(struct appr_fixture *f, const char *path, bool required, const char *approver)
{
	char unit[ULID_SIZE];

	appr_unit(f, path, unit);
	assert_true(store_exec(f->c, "INSERT INTO exchange_approval_units (org_unit_id, required, updated_by, "
				     "updated_at, approver_id) VALUES ($1, $2, 'test', 0, $3) ON CONFLICT (org_unit_id) "
				     "DO UPDATE SET required = excluded.required, approver_id = excluded.approver_id",
			       STORE_ARGS(SA_TEXT(unit), SA_I64(required), approver ? SA_TEXT(approver) : SA_NULL)) >= 0);
}

/* xappr_needed's answer for a sender in @path writing to @to; the approver lands in @approver. */
static int appr_needed(struct appr_fixture *f, const char *path, const char *to, char approver[ULID_SIZE])
{
	str_copy(approver, ULID_SIZE, "unchanged");
	return xappr_needed(f->c, path, to, approver);
}

static void test_approval_needed(void **state)
{
	struct appr_fixture *f = *state;
	char boss[ULID_SIZE], ann[ULID_SIZE], old[ULID_SIZE], ab[ULID_SIZE], got[ULID_SIZE], unit[ULID_SIZE];
	const char *out = "partner@example.org";

	appr_person(f, "boss", "boss@corp.example", "active", "G/A", NULL, boss);
	appr_person(f, "ann", "ann@corp.example", "on_leave", "G/A/B", boss, ann);
	appr_person(f, "old", "old@corp.example", "retired", "G/A", NULL, old);
	appr_person(f, "ab", "ab@corp.example", "active", "G/AB", NULL, ab);
	/* Names that trap a prefix test made without the separator, or with LIKE. */
	appr_unit(f, "G/A%", unit);
	appr_unit(f, "G/A_", unit);

	assert_int_equal(appr_needed(f, "G/A/B", out, got), 0);     /* nothing required yet */
	appr_require(f, "G/A", true, boss);
	appr_require(f, "G/AB", true, ab);
	assert_int_equal(appr_needed(f, "", out, got), 0);          /* outside the tree */
	assert_string_equal(got, "unchanged");
	assert_int_equal(appr_needed(f, "G/A", out, got), 1);       /* the unit itself */
	assert_string_equal(got, boss);
	assert_int_equal(appr_needed(f, "G/A/B/C", out, got), 1);   /* a unit above */
	assert_string_equal(got, boss);
	assert_int_equal(appr_needed(f, "G/AB", out, got), 1);
	assert_string_equal(got, ab);
	assert_int_equal(appr_needed(f, "G/A%", out, got), 0);
	assert_int_equal(appr_needed(f, "G/A_", out, got), 0);
	assert_int_equal(appr_needed(f, "G/ABC", out, got), 0);
	assert_int_equal(appr_needed(f, "G", out, got), 0);         /* below is not above */

	/* The deepest unit requiring it names the approver, or none. */
	appr_require(f, "G/A/B", true, NULL);
	assert_int_equal(appr_needed(f, "G/A/B/C", out, got), 1);
	assert_string_equal(got, "");
	appr_require(f, "G/A/B", false, NULL);
	assert_int_equal(appr_needed(f, "G/A/B/C", out, got), 1);
	assert_string_equal(got, boss);

	/* A person's address (any case, on leave too) needs none; a retired one's counts as outside. */
	assert_int_equal(appr_needed(f, "G/A/B", "ANN@Corp.Example", got), 0);
	assert_string_equal(got, "unchanged");
	assert_int_equal(appr_needed(f, "G/A/B", "old@corp.example", got), 1);
}

static void test_approval_deciders(void **state)
{
	struct appr_fixture *f = *state;
	char boss[ULID_SIZE], ann[ULID_SIZE], other[ULID_SIZE];
	struct xfer_row x;

	appr_person(f, "boss", "boss@corp.example", "active", "G/A", NULL, boss);
	appr_person(f, "ann", "ann@corp.example", "active", "G/A/B", boss, ann);
	appr_person(f, "other", "other@corp.example", "active", "G/A", NULL, other);
	memset(&x, 0, sizeof(x));
	str_copy(x.owner_id, sizeof(x.owner_id), ann);

	assert_true(xappr_is_approver(f->c, boss, &x));        /* the owner's manager */
	assert_false(xappr_is_approver(f->c, ann, &x));        /* never the owner */
	assert_false(xappr_is_approver(f->c, other, &x));
	assert_false(xappr_is_approver(f->c, "", &x));
	str_copy(x.approver_id, sizeof(x.approver_id), other);
	assert_true(xappr_is_approver(f->c, other, &x));       /* the approver named on it */
	str_copy(x.approver_id, sizeof(x.approver_id), ann);
	assert_false(xappr_is_approver(f->c, ann, &x));        /* not even when named */
	/* A manager is not a report's approver: it goes up, not down. */
	str_copy(x.owner_id, sizeof(x.owner_id), boss);
	x.approver_id[0] = '\0';
	assert_false(xappr_is_approver(f->c, ann, &x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_may_create_and_settings),
		cmocka_unit_test(test_may_read_and_revoke),
		cmocka_unit_test(test_states),
		cmocka_unit_test_setup_teardown(test_blob_round_trip, blob_setup, blob_teardown),
		cmocka_unit_test_setup_teardown(test_blob_refuses_damage, blob_setup, blob_teardown),
		cmocka_unit_test_setup_teardown(test_keys_and_passwords, blob_setup, blob_teardown),
		cmocka_unit_test_setup_teardown(test_approval_needed, appr_setup, appr_teardown),
		cmocka_unit_test_setup_teardown(test_approval_deciders, appr_setup, appr_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
