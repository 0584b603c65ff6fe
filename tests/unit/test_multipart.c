/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the streaming multipart/form-data parser: the same events
 * whatever the chunking (a body split at every offset, byte by byte),
 * near-boundaries inside file data, filename and filename* parameters,
 * a missing final boundary, oversize part headers and names, control
 * characters and NUL bytes in headers, Content-Type checks, part limits and
 * callback errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "exchange/multipart.h"

#define CT "multipart/form-data; boundary=XyZ-b0undary"
#define B "XyZ-b0undary"

/* What the callbacks saw, as text: "B(name|filename)" "D<bytes>" "E" per event, data merged. */
struct rec {
	struct buf log;
	bool in_data;
	int fail_begin;   /* part_begin returns this when nonzero */
};

static int rec_begin(void *ud, const char *name, const char *filename)
{
	struct rec *r = ud;

	r->in_data = false;
	buf_printf(&r->log, "B(%s|%s)", name, filename ? filename : "<none>");
	return r->fail_begin;
}

static int rec_data(void *ud, const char *data, size_t len)
{
	struct rec *r = ud;

	assert_true(len > 0);
	if (!r->in_data)
		buf_puts(&r->log, "D");
	r->in_data = true;
	buf_append(&r->log, data, len);
	return 0;
}

static int rec_end(void *ud)
{
	struct rec *r = ud;

	r->in_data = false;
	buf_puts(&r->log, "E");
	return 0;
}

static const struct mp_callbacks rec_cbs = { rec_begin, rec_data, rec_end };

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->log, 1 << 20);
}

/* Parses @body fed in pieces at the offsets @cuts (sorted, @ncuts of them); returns the first error. */
static int parse_cut(const char *ct, const char *body, size_t len, const size_t *cuts, size_t ncuts,
		     struct rec *r, struct mp_parser *p)
{
	size_t from = 0;
	int e;

	rec_init(r);
	e = mp_init(p, ct, &rec_cbs, r);
	if (e < 0)
		return e;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		e = mp_feed(p, body + from, to - from);
		if (e < 0)
			return e;
		from = to;
	}
	return mp_finish(p);
}

static int parse_all(const char *ct, const char *body, size_t len, struct rec *r, struct mp_parser *p)
{
	return parse_cut(ct, body, len, NULL, 0, r, p);
}

/* A body with two fields and a file whose data nearly holds the boundary, several ways. */
static const char tricky[] =
	"--" B "\r\n"
	"Content-Disposition: form-data; name=\"to\"\r\n"
	"\r\n"
	"bob@partner.example\r\n"
	"--" B "\r\n"
	"Content-Disposition: form-data; name=\"message\"\r\n"
	"\r\n"
	"line one\r\nline two\r\n\r\n--not the boundary\r\n"
	"--" B "\r\n"
	"Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"quoted\\\" name.bin\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"\r\r\n\r\n-\r\n--\r\n--XyZ\r\n--XyZ-b0undar\r\n--" B "x"   /* "--B" followed by 'x' is data? no: see below */
	"\r\n--" B "--\r\n"
	"epilogue is ignored too";

static const char tricky_events[] =
	"B(to|<none>)Dbob@partner.exampleE"
	"B(message|<none>)Dline one\r\nline two\r\n\r\n--not the boundaryE"
	"B(file|a \"quoted\" name.bin)D\r\r\n\r\n-\r\n--\r\n--XyZ\r\n--XyZ-b0undar";

static void test_whole_body(void **state)
{
	struct mp_parser p;
	struct rec r;
	int e;

	(void)state;
	e = parse_all(CT, tricky, sizeof(tricky) - 1, &r, &p);
	/* "\r\n--B" followed by "x" is a boundary with bad trailing bytes: refused, not taken as data. */
	assert_int_equal(e, ERR_INVALID);
	assert_non_null(strstr(p.err.message, "boundary"));
	buf_done(&r.log);
}

/* The same body without the "--Bx" trap, parsed whole, split at every offset, and byte by byte. */
static void test_split_at_every_offset(void **state)
{
	char *body;
	size_t len, n = 0;
	struct mp_parser p;
	struct rec whole, r;
	const char *trap = "--" B "x";
	const char *at;

	(void)state;
	body = strdup(tricky);
	assert_non_null(body);
	at = strstr(body, trap);
	assert_non_null(at);
	/* Drop the trap (the bytes "\r\n--B" + "x" just before the real closing boundary). */
	memmove(body + (at - body) - 2, at + strlen(trap), strlen(at + strlen(trap)) + 1);
	len = strlen(body);
	assert_int_equal(parse_all(CT, body, len, &whole, &p), 0);
	assert_int_equal(whole.log.len, strlen(tricky_events) + 1);
	assert_memory_equal(whole.log.data, tricky_events, strlen(tricky_events));
	assert_int_equal(whole.log.data[whole.log.len - 1], 'E');
	for (size_t cut = 0; cut <= len; cut++) {
		assert_int_equal(parse_cut(CT, body, len, &cut, 1, &r, &p), 0);
		assert_int_equal(r.log.len, whole.log.len);
		assert_memory_equal(r.log.data, whole.log.data, whole.log.len);
		buf_done(&r.log);
		n++;
	}
	/* Two cuts: every pair within the region around the file's data. */
	for (size_t a = len - 60; a < len; a++)
		for (size_t b2 = a; b2 <= len; b2++) {
			size_t cuts[2] = { a, b2 };

			assert_int_equal(parse_cut(CT, body, len, cuts, 2, &r, &p), 0);
			assert_memory_equal(r.log.data, whole.log.data, whole.log.len);
			buf_done(&r.log);
		}
	{
		size_t *cuts = malloc(len * sizeof(*cuts));

		assert_non_null(cuts);
		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		assert_int_equal(parse_cut(CT, body, len, cuts, len, &r, &p), 0);
		assert_int_equal(r.log.len, whole.log.len);
		assert_memory_equal(r.log.data, whole.log.data, whole.log.len);
		buf_done(&r.log);
		free(cuts);
	}
	assert_int_equal(n, len + 1);
	buf_done(&whole.log);
	free(body);
}

static void expect(const char *body, int want_err, const char *want_log, const char *want_msg)
{
	struct mp_parser p;
	struct rec r;
	int e = parse_all(CT, body, strlen(body), &r, &p);

	assert_int_equal(e, want_err);
	if (want_log) {
		assert_int_equal(r.log.len, strlen(want_log));
		assert_memory_equal(r.log.data, want_log, r.log.len);
	}
	if (want_msg)
		assert_non_null(strstr(p.err.message, want_msg));
	buf_done(&r.log);
}

static void test_filename_star(void **state)
{
	(void)state;
	/* RFC 7578 4.2: filename* is not for form-data; it is not taken for the file name. */
	expect("--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%2E%2E%2Fx\r\n\r\n"
	       "d\r\n--" B "--", 0, "B(f|<none>)DdE", NULL);
	/* With both, filename is used and filename* does not shadow it. */
	expect("--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''evil; filename=\"ok.txt\"\r\n"
	       "\r\nd\r\n--" B "--", 0, "B(f|ok.txt)DdE", NULL);
	/* "name" is not found inside "filename". */
	expect("--" B "\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nd\r\n--" B "--", ERR_INVALID,
	       "", "name");
	/* A token (unquoted) value ends at ';'. */
	expect("--" B "\r\nContent-Disposition: form-data; name=f; filename=t.bin\r\n\r\nd\r\n--" B "--", 0,
	       "B(f|t.bin)DdE", NULL);
}

static void test_missing_final_boundary(void **state)
{
	(void)state;
	expect("--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", ERR_INVALID, NULL,
	       "closing boundary");
	/* The boundary of the next part, but never the closing one. */
	expect("--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" B "\r\n", ERR_INVALID, NULL,
	       "closing boundary");
	/* Headers cut off. */
	expect("--" B "\r\nContent-Disposition: form-da", ERR_INVALID, "", "closing boundary");
	expect("", ERR_INVALID, "", "closing boundary");
	/* Nothing but the closing boundary: no part at all, well formed. */
	expect("--" B "--\r\n", 0, "", NULL);
	/* A body that does not open with the boundary. */
	expect("garbage", ERR_INVALID, "", "start with the boundary");
}

static void test_oversize_headers(void **state)
{
	struct buf b;
	char name[MP_MAX_NAME + 10];

	(void)state;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Long: ");
	for (int i = 0; i < MP_MAX_HEADERS; i++)
		buf_puts(&b, "a");
	buf_puts(&b, "\r\n\r\nv\r\n--" B "--");
	expect(b.data, ERR_TOO_LARGE, "", "too long");
	buf_done(&b);
	/* Just under the limit is fine. */
	buf_init(&b, 1 << 20);
	buf_puts(&b, "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Long: ");
	for (size_t i = 0; i < MP_MAX_HEADERS - 200; i++)
		buf_puts(&b, "a");
	buf_puts(&b, "\r\n\r\nv\r\n--" B "--");
	expect(b.data, 0, "B(a|<none>)DvE", NULL);
	buf_done(&b);
	/* A name over MP_MAX_NAME. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	buf_init(&b, 1 << 20);
	buf_printf(&b, "--" B "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nv\r\n--" B "--", name);
	expect(b.data, ERR_TOO_LARGE, "", "too long");
	buf_done(&b);
	/* An unterminated quoted name. */
	expect("--" B "\r\nContent-Disposition: form-data; name=\"abc\r\n\r\nv\r\n--" B "--", ERR_INVALID, "",
	       "malformed");
}

static void test_control_characters_in_names(void **state)
{
	static const char nul_body[] = "--" B "\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nv\r\n--" B "--";
	struct mp_parser p;
	struct rec r;

	(void)state;
	/* Reported exactly as sent: validating names is the caller's job (the contract in multipart.h). */
	expect("--" B "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x1b[31m\x7f\tb\"\r\n\r\n"
	       "d\r\n--" B "--", 0, "B(file|a\x1b[31m\x7f\tb)DdE", NULL);
	expect("--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\n"
	       "d\r\n--" B "--", 0, "B(f|../../etc/passwd)DdE", NULL);
	/* A NUL byte would cut a name short: refused. */
	assert_int_equal(parse_all(CT, nul_body, sizeof(nul_body) - 1, &r, &p), ERR_INVALID);
	assert_non_null(strstr(p.err.message, "NUL"));
	assert_int_equal(r.log.len, 0);
	buf_done(&r.log);
	/* A part without Content-Disposition, or one that is not form-data. */
	expect("--" B "\r\nContent-Type: text/plain\r\n\r\nv\r\n--" B "--", ERR_INVALID, "", "Content-Disposition");
	expect("--" B "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--" B "--", ERR_INVALID, "",
	       "form-data");
	expect("--" B "\r\n\r\nv\r\n--" B "--", ERR_INVALID, "", "without headers");
}

static void test_content_type(void **state)
{
	struct mp_parser p;
	struct rec r;
	char ct[200];

	(void)state;
	rec_init(&r);
	assert_int_equal(mp_init(&p, NULL, &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "application/json", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data; boundary=", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data; boundary=\"abc", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data; boundary=a\rb", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data; boundary=\"a\r\nb\"", &rec_cbs, &r), ERR_INVALID);
	assert_int_equal(mp_init(&p, "multipart/form-data; boundary=\"ab \"", &rec_cbs, &r), ERR_INVALID);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 0);
	assert_int_equal(mp_init(&p, ct, &rec_cbs, &r), ERR_INVALID);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%070d", 0);
	assert_int_equal(mp_init(&p, ct, &rec_cbs, &r), 0);
	assert_int_equal(mp_init(&p, "Multipart/Form-Data; charset=utf-8; boundary=\"q b\"", &rec_cbs, &r), 0);
	buf_done(&r.log);
}

static void test_callback_error_stops(void **state)
{
	static const char body[] = "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" B "--";
	struct mp_parser p;
	struct rec r;

	(void)state;
	rec_init(&r);
	r.fail_begin = ERR_FORBIDDEN;
	assert_int_equal(mp_init(&p, CT, &rec_cbs, &r), 0);
	assert_int_equal(mp_feed(&p, body, sizeof(body) - 1), ERR_FORBIDDEN);
	/* Nothing more is accepted after a refusal. */
	assert_int_equal(mp_feed(&p, "x", 1), ERR_INVALID);
	assert_int_equal(mp_finish(&p), ERR_INVALID);
	buf_done(&r.log);
}

static void test_too_many_parts(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 22);
	for (int i = 0; i <= MP_MAX_PARTS; i++)
		buf_puts(&b, "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n");
	buf_puts(&b, "--" B "--");
	expect(b.data, ERR_TOO_LARGE, NULL, "too many parts");
	buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_body),
		cmocka_unit_test(test_split_at_every_offset),
		cmocka_unit_test(test_filename_star),
		cmocka_unit_test(test_missing_final_boundary),
		cmocka_unit_test(test_oversize_headers),
		cmocka_unit_test(test_control_characters_in_names),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_too_many_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
