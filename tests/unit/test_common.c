/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for src/common: buffers, strings, time, ids, JSON limits, config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/email.h"
#include "common/err.h"
#include "common/fsio.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "common/ticker.h"

static void test_buf_limit(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_puts(&b, "67890"), 0);
	assert_int_equal(buf_puts(&b, "x"), -EMSGSIZE);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ok"), 0);
	assert_string_equal(b.data, "42-ok");
	buf_done(&b);
}

static void test_str_copy(void **state)
{
	char small[4];

	assert_int_equal(str_copy(small, sizeof(small), "abc"), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(str_copy(small, sizeof(small), "abcd"), -ENAMETOOLONG);
	assert_string_equal(small, "");
}

static void test_str_parse(void **state)
{
	int64_t v = 7;

	assert_int_equal(str_parse_i64("123", 0, 1000, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(str_parse_i64("12a", 0, 1000, &v), -EINVAL);
	assert_int_equal(str_parse_i64("", 0, 1000, &v), -EINVAL);
	assert_int_equal(str_parse_i64(" 1", 0, 1000, &v), -EINVAL);
	assert_int_equal(str_parse_i64("1001", 0, 1000, &v), -ERANGE);
	assert_int_equal(str_parse_i64("99999999999999999999", 0, INT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 123);
	assert_int_equal(str_parse_duration_ms("3d", &v), 0);
	assert_int_equal(v, 3 * 86400000LL);
	assert_int_equal(str_parse_duration_ms("15m", &v), 0);
	assert_int_equal(v, 15 * 60000);
	assert_int_equal(str_parse_duration_ms("5x", &v), -EINVAL);
	assert_int_equal(str_parse_duration_ms("d", &v), -EINVAL);
}

static void test_utf8(void **state)
{
	assert_true(str_is_clean_utf8("plain", 5));
	assert_true(str_is_clean_utf8("\xe5\xb1\xb1\xe7\x94\xb0", 6)); /* 山田 */
	assert_false(str_is_clean_utf8("a\nb", 3));
	assert_false(str_is_clean_utf8("\xc0\xaf", 2));         /* overlong */
	assert_false(str_is_clean_utf8("\xe5\xb1", 2));         /* truncated */
	assert_false(str_is_clean_utf8("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(str_is_clean_utf8("a\x7f", 2));
}

static void test_rtime(void **state)
{
	int64_t ms = 0;
	char buf[40];

	assert_int_equal(rtime_parse("2026-11-26T08:21:40.123Z", &ms), 0);
	assert_string_equal(rtime_format(buf, sizeof(buf), ms), "2026-11-26T08:21:40.123Z");
	assert_int_equal(rtime_parse("2026-11-26", &ms), 0);
	assert_int_equal(ms % 86400000, 0);
	assert_int_equal(rtime_parse("2026-11-26T08:21:40+09:00", &ms), 0);
	assert_string_equal(rtime_format(buf, sizeof(buf), ms), "2026-11-25T23:21:40.000Z");
	assert_int_equal(rtime_parse("yesterday", &ms), -EINVAL);
}

#define ANY (~0u)

/* Times that parse, with the flags they need and their Unix ms. */
static const struct {
	const char *text;
	unsigned flags;
	int64_t ms;
} rtime_good[] = {
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "1970-01-01T00:00:00.001Z", 0, 1 },
	{ "2026-12-07T10:00:00+09:00", 0, 1796605200000LL },
	{ "2026-12-07T01:00:00Z", 0, 1796605200000LL },
	{ "2026-12-07T01:00:00z", 0, 1796605200000LL },          /* 5.6: lower case z */
	{ "2026-12-07t01:00:00Z", 0, 1796605200000LL },          /* 5.6: lower case t */
	{ "2026-12-06T20:30:00-04:30", 0, 1796605200000LL },
	{ "2026-12-07T01:00:00-00:00", 0, 1796605200000LL },     /* 4.3: offset unknown, UTC */
	{ "2026-12-07T01:00:00+00:00", 0, 1796605200000LL },
	{ "2026-12-07T01:00:00.5Z", 0, 1796605200500LL },
	{ "2026-12-07T01:00:00.123456789Z", 0, 1796605200123LL }, /* truncated, not rounded */
	{ "2026-12-07T01:00:00.999999Z", 0, 1796605200999LL },
	{ "2026-12-07T23:59:00+23:59", 0, 1796688000000LL - 86400000LL },
	{ "2026-12-07T00:01:00-23:59", 0, 1796688000000LL },
	{ "2026-12-07T10:00:00.123456+0900", RTIME_OFFSET_BASIC, 1796605200123LL },
	{ "2026-12-07 01:00:00Z", RTIME_SPACE, 1796605200000LL },
	{ "2026-12-07", RTIME_DATE, 1796601600000LL },
	/* Leap days and the century rule. */
	{ "2024-02-29T00:00:00Z", 0, 1709164800000LL },
	{ "2000-02-29T00:00:00Z", 0, 951782400000LL },
	{ "2028-02-29T12:00:00Z", 0, 1835438400000LL },
	{ "2026-03-01T00:00:00Z", 0, 1772323200000LL },
	{ "2026-12-31T23:59:59.999Z", 0, 1798761599999LL },
	/* A leap second is the next minute's first second. */
	{ "2016-12-31T23:59:60Z", 0, 1483228800000LL },
	{ "2016-12-31T23:59:60.5Z", 0, 1483228800500LL },
	/* The calendar's ends. */
	{ "9999-12-31T23:59:59.999Z", 0, 253402300799999LL },
	{ "0000-01-01T00:00:00Z", 0, -62167219200000LL },
	{ "1969-12-31T23:59:59.5Z", 0, -500 },
	{ "1900-03-01", RTIME_DATE, -2203891200000LL },
};

/* Times refused with the flags given (ANY: with every flag). */
static const struct {
	const char *text;
	unsigned flags;
} rtime_bad[] = {
	{ "", ANY },
	{ "yesterday", ANY },
	{ "2026-12-07T10:00:00", ANY },                 /* no offset */
	{ "2026-12-07T10:00Z", ANY },                   /* no seconds */
	{ "2026-12-07T10:00:00.Z", ANY },               /* empty fraction */
	{ "2026-12-07T10:00:00.1234567891Z", ANY },     /* more than nanoseconds */
	{ "2026-12-07T10:00:00ZZ", ANY },
	{ "2026-12-07T10:00:00Z ", ANY },
	{ " 2026-12-07T10:00:00Z", ANY },
	{ "2026-12-07T10:00:00+09", ANY },
	{ "2026-12-07T10:00:00+9:00", ANY },
	{ "2026-12-07T10:00:00+09:0", ANY },
	{ "2026-12-07T10:00:00+24:00", ANY },
	{ "2026-12-07T10:00:00+09:60", ANY },
	{ "2026-12-07T10:00:00+0900", RTIME_DATE | RTIME_SPACE | RTIME_EPOCH },
	{ "2026-12-07 10:00:00Z", RTIME_DATE | RTIME_OFFSET_BASIC | RTIME_EPOCH },
	{ "2026-12-07", RTIME_SPACE | RTIME_OFFSET_BASIC | RTIME_EPOCH },
	{ "2026-12-07T", ANY },
	{ "2026-12-7T10:00:00Z", ANY },
	{ "2026-1-07T10:00:00Z", ANY },
	{ "26-12-07T10:00:00Z", ANY },
	{ "+2026-12-07T10:00:00Z", ANY },
	{ "2026/12/07T10:00:00Z", ANY },
	{ "2026-00-07T10:00:00Z", ANY },
	{ "2026-13-07T10:00:00Z", ANY },
	{ "2026-12-00T10:00:00Z", ANY },
	{ "2026-12-32T10:00:00Z", ANY },
	{ "2026-04-31T10:00:00Z", ANY },
	{ "2026-02-29T10:00:00Z", ANY },                 /* not a leap year */
	{ "1900-02-29T10:00:00Z", ANY },                 /* nor 1900 (a century) */
	{ "2026-02-30", ANY },
	{ "2026-12-07T24:00:00Z", ANY },
	{ "2026-12-07T10:60:00Z", ANY },
	{ "2026-12-07T10:00:61Z", ANY },
	{ "2026-12-07T1:00:00Z", ANY },
	{ "1969-12-31T23:59:59Z", RTIME_EPOCH },
	{ "1969-12-31T23:00:00-02:00", RTIME_EPOCH },   /* after the epoch, but a year before it */
	{ "1970-01-01T00:30:00+01:00", RTIME_EPOCH },   /* before the epoch in UTC */
};

static void test_rtime_table(void **state)
{
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rtime_good) / sizeof(rtime_good[0]); i++) {
		ms = 42;
		if (rtime_parse_flags(rtime_good[i].text, rtime_good[i].flags, &ms) != 0)
			fail_msg("'%s' (flags %u) was refused", rtime_good[i].text, rtime_good[i].flags);
		if (ms != rtime_good[i].ms)
			fail_msg("'%s' is %lld, not %lld", rtime_good[i].text, (long long)ms, (long long)rtime_good[i].ms);
		/* Widening flags never change what already parses. */
		ms = 42;
		assert_int_equal(rtime_parse_flags(rtime_good[i].text, RTIME_DATE | RTIME_SPACE | RTIME_OFFSET_BASIC,
						   &ms), 0);
		assert_true(ms == rtime_good[i].ms);
	}
	for (i = 0; i < sizeof(rtime_bad) / sizeof(rtime_bad[0]); i++) {
		unsigned f = rtime_bad[i].flags == ANY ? RTIME_DATE | RTIME_SPACE | RTIME_OFFSET_BASIC : rtime_bad[i].flags;

		ms = 42;
		if (rtime_parse_flags(rtime_bad[i].text, f, &ms) != -EINVAL)
			fail_msg("'%s' (flags %u) was accepted as %lld", rtime_bad[i].text, f, (long long)ms);
		assert_true(ms == 42);   /* nothing written */
		if (rtime_bad[i].flags == ANY)
			assert_int_equal(rtime_parse_flags(rtime_bad[i].text, 0, &ms), -EINVAL);
	}
	assert_int_equal(rtime_parse_flags(NULL, 0, &ms), -EINVAL);
}

/* What rtime_format writes parses back to itself, across leap days, years and the epoch. */
static void test_rtime_round_trip(void **state)
{
	char buf[40];
	int64_t t, ms;

	(void)state;
	for (t = -62167219200000LL; t < 253402300799999LL; t += 86399999LL * 37 + 1234) {
		rtime_format(buf, sizeof(buf), t);
		assert_int_equal(rtime_parse_flags(buf, 0, &ms), 0);
		if (ms != t)
			fail_msg("'%s' parsed as %lld, not %lld", buf, (long long)ms, (long long)t);
	}
	assert_string_equal(rtime_format(buf, sizeof(buf), -500), "1969-12-31T23:59:59.500Z");
	assert_string_equal(rtime_format(buf, sizeof(buf), -1000), "1969-12-31T23:59:59.000Z");
	assert_string_equal(rtime_format(buf, sizeof(buf), 253402300799999LL), "9999-12-31T23:59:59.999Z");
	assert_string_equal(rtime_format(buf, sizeof(buf), -62167219200000LL), "0000-01-01T00:00:00.000Z");
}

static void test_ulid(void **state)
{
	char a[ULID_SIZE], b[ULID_SIZE];

	ids_ulid(a, 1700000000000);
	ids_ulid(b, 1700000000001);
	assert_true(ids_is_ulid(a));
	assert_true(ids_is_ulid(b));
	assert_true(strcmp(a, b) < 0);
	assert_false(ids_is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));   /* I is not Crockford */
	assert_false(ids_is_ulid("short"));
}

static void test_json_limits(void **state)
{
	struct rerr e = { "", "" };
	json_t *j = NULL;
	const char *s;
	int64_t n;
	char deep[200];
	size_t k;

	assert_int_equal(jsonx_parse_object("{\"a\":\"b\",\"n\":5}", 15, 8, &j, &e), 0);
	assert_int_equal(jsonx_get_str(j, "a", true, 10, &s, &e), 0);
	assert_string_equal(s, "b");
	assert_int_equal(jsonx_get_str(j, "missing", false, 10, &s, &e), -ENOENT);
	assert_int_equal(jsonx_get_str(j, "missing", true, 10, &s, &e), ERR_INVALID);
	assert_string_equal(e.field, "missing");
	assert_int_equal(jsonx_get_int(j, "n", true, 0, 4, &n, &e), ERR_INVALID);
	assert_int_equal(jsonx_get_str(j, "n", true, 10, &s, &e), ERR_INVALID);
	json_decref(j);

	for (k = 0; k < 40; k++)
		deep[k] = '[';
	deep[k] = '\0';
	{
		char body[300];

		snprintf(body, sizeof(body), "{\"x\":%s}", deep);
		assert_int_equal(jsonx_parse_object(body, strlen(body), 16, &j, &e), ERR_INVALID);
		assert_non_null(strstr(e.message, "nesting"));
	}
	assert_int_equal(jsonx_parse_object("[1]", 3, 8, &j, &e), ERR_INVALID);
	assert_int_equal(jsonx_parse_object("{\"a\":1,\"a\":2}", 13, 8, &j, &e), ERR_INVALID);
	assert_int_equal(jsonx_parse_object("", 0, 8, &j, &e), ERR_INVALID);
	assert_int_equal(jsonx_parse_object("{\"a\":\"x\0\"}", 10, 8, &j, &e), ERR_INVALID);
	{
		size_t big = JSONX_MAX_STRING + 20;
		char *body = malloc(big + 20);

		memcpy(body, "{\"a\":\"", 6);
		memset(body + 6, 'x', big);
		memcpy(body + 6 + big, "\"}", 3);
		assert_int_equal(jsonx_parse_object(body, strlen(body), 8, &j, &e), ERR_INVALID);
		free(body);
	}
	assert_int_equal(jsonx_parse_object("{\"a\":\"\\u0001\"}", 14, 8, &j, &e), 0);
	assert_int_equal(jsonx_get_str(j, "a", true, 10, &s, &e), ERR_INVALID);
	json_decref(j);
}

static void test_config(void **state)
{
	struct config c;
	struct rerr e = { "" };
	static const char good[] = "[server]\nlisten = 127.0.0.1:9000\n[auth]\nsession_idle = 15m\n"
				   "lockout_threshold = 3\n[hr]\nretire_threshold_percent = 20\n";

	config_defaults(&c);
	assert_int_equal(config_parse_string(&c, good, strlen(good), &e), 0);
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.session_idle_s, 900);
	assert_int_equal(c.lockout_threshold, 3);
	assert_int_equal(c.retire_threshold_pct, 20);

	config_defaults(&c);
	assert_int_equal(config_parse_string(&c, "[auth]\nlockout_threshold = 0\n", 29, &e), -EINVAL);
	assert_non_null(strstr(e.message, "lockout_threshold"));
	assert_int_equal(c.lockout_threshold, 5);
	assert_int_equal(config_parse_string(&c, "[server]\nlistn = x\n", 19, &e), -EINVAL);
	assert_non_null(strstr(e.message, "unknown setting"));
	assert_int_equal(config_parse_string(&c, "garbage line\n", 13, &e), -EINVAL);
	assert_int_equal(config_parse_string(&c, "[hr]\nretire_threshold_percent = 101\n", 35, &e), -EINVAL);

	setenv("RAMPART_LISTEN", "127.0.0.1:7000", 1);
	setenv("RAMPART_AUTH_LOCKOUT_THRESHOLD", "9", 1);
	assert_int_equal(config_load_env(&c, &e), 0);
	assert_string_equal(c.listen, "127.0.0.1:7000");
	assert_int_equal(c.lockout_threshold, 9);
	setenv("RAMPART_AUTH_LOCKOUT_THRESHOLD", "nine", 1);
	assert_int_equal(config_load_env(&c, &e), -EINVAL);
	unsetenv("RAMPART_AUTH_LOCKOUT_THRESHOLD");
	unsetenv("RAMPART_LISTEN");
	/* A server that sends mail needs a full sender address; one that does not, none. */
	config_defaults(&c);
	assert_int_equal(config_check(&c, &e), 0);
	assert_int_equal(config_set(&c, "exchange", "smtp_url", "smtp://127.0.0.1:25", &e), 0);
	assert_int_equal(config_check(&c, &e), -EINVAL);
	assert_non_null(strstr(e.message, "smtp_from"));
	assert_int_equal(config_set(&c, "exchange", "smtp_from", "rampart@corp.example", &e), 0);
	assert_int_equal(config_check(&c, &e), 0);
}

static void test_err_table(void **state)
{
	assert_int_equal(err_http_status(ERR_NOT_FOUND), 404);
	assert_string_equal(err_name(ERR_NOT_FOUND), "not_found");
	assert_int_equal(err_http_status(ERR_LOCKED), 429);
	assert_int_equal(err_http_status(-ENOMEM), 500);
	assert_int_equal(err_http_status(-12345), 500);
}

struct tick_count {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
};

static void tick(void *arg)
{
	struct tick_count *tc = arg;

	pthread_mutex_lock(&tc->lock);
	tc->n++;
	pthread_cond_broadcast(&tc->cond);
	pthread_mutex_unlock(&tc->lock);
}

static void test_ticker(void **state)
{
	struct tick_count tc = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct ticker *t = NULL;
	int n;

	/* The first call comes at once; stopping during the long wait returns without a second. */
	assert_int_equal(ticker_start(3600, tick, &tc, &t), 0);
	pthread_mutex_lock(&tc.lock);
	while (tc.n == 0)
		pthread_cond_wait(&tc.cond, &tc.lock);
	pthread_mutex_unlock(&tc.lock);
	ticker_stop(t);
	pthread_mutex_lock(&tc.lock);
	n = tc.n;
	pthread_mutex_unlock(&tc.lock);
	assert_int_equal(n, 1);
	ticker_stop(NULL);
}

static void test_hash(void **state)
{
	/* Published FNV-1a 64 vectors. */
	assert_true(hash_str("") == 0xcbf29ce484222325ULL);
	assert_true(hash_str("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_str("foobar") == 0x85944171f73967e8ULL);
	assert_true(hash_bytes("foobar", 6) == hash_str("foobar"));
	assert_true(hash_bytes("a\0b", 3) != hash_str("a"));
}

static void test_email(void **state)
{
	static const char *good[] = { "a@b.jp", "taro.yamada@kestrel.example", "x+tag@sub.example.co.jp",
				      "o'brien@example.com" };
	static const char *bad[] = { "", "@", "a@", "@b.jp", "a@b", "a@@b.jp", "a@b@c.jp", ".a@b.jp", "a.@b.jp",
				     "a..b@c.jp", "a b@c.jp", "a@-b.jp", "a@b-.jp", "a@b..jp", "a@b.jp.",
				     "\"a\"@b.jp", "a@[127.0.0.1]", "a<b@c.jp", "\xe5\xa4\xaa@b.jp", "a@b_c.jp" };
	char big[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(email_is_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(email_is_valid(bad[i]));
	assert_false(email_is_valid(NULL));
	/* 65-byte local part, and an address over EMAIL_MAX. */
	memset(big, 'a', 65);
	snprintf(big + 65, sizeof(big) - 65, "@b.jp");
	assert_false(email_is_valid(big));
	memset(big, 'a', 64);
	big[64] = '@';
	for (size_t i = 65; i < 65 + 190; i += 2) {
		big[i] = 'b';
		big[i + 1] = '.';
	}
	snprintf(big + 255, sizeof(big) - 255, "jp");
	assert_true(strlen(big) > EMAIL_MAX);
	assert_false(email_is_valid(big));
	assert_string_equal(email_domain("x@Kestrel.example"), "Kestrel.example");
	assert_null(email_domain("nope"));
}

static void test_rerr(void **state)
{
	struct rerr e = { .at = 9 };

	assert_int_equal(rerr_set(&e, ERR_INVALID, "name", "bad %s", "thing"), ERR_INVALID);
	assert_string_equal(e.message, "bad thing");
	assert_string_equal(e.field, "name");
	assert_int_equal(e.at, 0);
	assert_int_equal(rerr_set_at(&e, ERR_TOO_LARGE, 42, NULL, "line too long"), ERR_TOO_LARGE);
	assert_string_equal(e.field, "");
	assert_int_equal(e.at, 42);
	assert_string_equal(rerr_text(&e, ERR_TOO_LARGE), "line too long");
	assert_int_equal(rerr_set(NULL, -ENOMEM, NULL, "x"), -ENOMEM);
	assert_string_equal(rerr_text(NULL, ERR_NOT_FOUND), err_str(ERR_NOT_FOUND));
}

/* Text a client asked for is recorded bounded, and safe even when malformed. */
static void test_json_asked(void **state)
{
	json_t *o = json_object();
	char big[600];

	assert_int_equal(jsonx_set_asked(o, "none", NULL), 0);
	assert_null(json_object_get(o, "none"));
	assert_int_equal(jsonx_set_asked(o, "ok", "\xe7\x94\xb0\xe4\xb8\xad tab\t"), 0);
	assert_string_equal(json_string_value(json_object_get(o, "ok")), "\xe7\x94\xb0\xe4\xb8\xad tab\t");
	assert_int_equal(jsonx_set_asked(o, "bad", "a\x01" "b\xff\xc3(\x7f"), 0);
	assert_string_equal(json_string_value(json_object_get(o, "bad")), "a\\x01b\\xFF\\xC3(\\x7F");
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(jsonx_set_asked(o, "big", big), 0);
	assert_int_equal(json_string_length(json_object_get(o, "big")), JSONX_ASKED_MAX + 3);
	json_decref(o);
}

static void test_fsio(void **state)
{
	char dir[] = "/tmp/rampart-fsio-XXXXXX", path[128], link[128], got[32];
	struct stat st;
	ssize_t n;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(fsio_replace(path, "first", 5, 0640), 0);
	assert_int_equal(fsio_replace(path, "second", 6, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 6);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fsio_pwrite_all(fd, "XY", 2, 3), 0);
	assert_int_equal(fsio_pwrite_all(fd, "XY", 2, -1), -EINVAL);
	assert_int_equal(lseek(fd, 0, SEEK_END), 6);
	assert_int_equal(fsio_write_all(fd, "!", 1), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = fsio_read(fd, got, sizeof(got));
	assert_int_equal(n, 7);
	assert_memory_equal(got, "secXYd!", 7);
	close(fd);
	assert_int_equal(fsio_sync_dir(dir), 0);
	assert_int_equal(fsio_sync_dir(path), -ENOTDIR);
	/* The temporary file is never followed through a link an attacker placed. */
	snprintf(link, sizeof(link), "%s/f.tmp", dir);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(fsio_replace(path, "x", 1, 0600), -ELOOP);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_str_parse),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_rtime),
		cmocka_unit_test(test_rtime_table),
		cmocka_unit_test(test_rtime_round_trip),
		cmocka_unit_test(test_ulid),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_ticker),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_rerr),
		cmocka_unit_test(test_fsio),
		cmocka_unit_test(test_json_asked),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
