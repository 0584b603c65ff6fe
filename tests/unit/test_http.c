/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the parts of the HTTP layer that need no socket:
 * percent-decoding (control bytes never survive, "%00" never cuts a path),
 * the path check, segment splitting, route matching with parameters,
 * wildcards, 404 against 405 and HEAD, the error bodies (API and SCIM),
 * response headers and body ownership, addresses, trusted-proxy lists and
 * the client address in X-Forwarded-For and Forwarded, the rate limiter's
 * windows and a full set of its table (nobody over the limit), request
 * framing, body limits, and the exact /metrics text, with one series per
 * method where a pattern has several.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "http/http_internal.h"
#include "http/path.h"
#include "http/proxy.h"

/* ---------------------------------------------------------------- path */

static void check_unescape(const char *in, const char *want, size_t want_len)
{
	char s[256];
	size_t n;

	snprintf(s, sizeof(s), "%s", in);
	n = http_path_unescape(s);
	assert_int_equal(n, want_len);
	assert_int_equal(strlen(s), want_len);
	assert_memory_equal(s, want, want_len);
}

static void test_unescape(void **state)
{
	check_unescape("/a%2Fb", "/a/b", 4);
	check_unescape("%41%61%7e", "Aa~", 3);
	check_unescape("%c3%A9", "\xc3\xa9", 2);
	/* Decoded and raw control bytes become 0x01; a NUL never cuts the string. */
	check_unescape("/a%00.js", "/a\x01.js", 6);
	check_unescape("%0d%0A%7F%1f", "\x01\x01\x01\x01", 4);
	check_unescape("a\tb\x7f", "a\x01" "b\x01", 4);
	/* Not an escape: kept as is. */
	check_unescape("100%", "100%", 4);
	check_unescape("%4", "%4", 2);
	check_unescape("%zz%4g", "%zz%4g", 6);
	check_unescape("%%41", "%A", 2);
	/* '+' is libmicrohttpd's business (query values only). */
	check_unescape("a+b", "a+b", 3);
	check_unescape("", "", 0);
}

static void test_path_is_sane(void **state)
{
	char longp[HTTP_MAX_PATH + 2];

	assert_true(http_path_is_sane("/"));
	assert_true(http_path_is_sane("/api/v1/people"));
	assert_true(http_path_is_sane("/api/v1/people/"));
	assert_true(http_path_is_sane("/a/.../b"));
	assert_true(http_path_is_sane("/a/..b/.c"));
	assert_false(http_path_is_sane(""));
	assert_false(http_path_is_sane("api"));
	assert_false(http_path_is_sane("/a/../b"));
	assert_false(http_path_is_sane("/a/./b"));
	assert_false(http_path_is_sane("/a/.."));
	assert_false(http_path_is_sane("/a/."));
	assert_false(http_path_is_sane("/.."));
	assert_false(http_path_is_sane("/a//b"));
	assert_false(http_path_is_sane("//"));
	assert_false(http_path_is_sane("/a\x01.js"));
	assert_false(http_path_is_sane("/a\x7f"));

	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[HTTP_MAX_PATH] = '\0';
	assert_true(http_path_is_sane(longp));
	longp[HTTP_MAX_PATH] = 'a';
	longp[HTTP_MAX_PATH + 1] = '\0';
	assert_false(http_path_is_sane(longp));
}

static void test_split(void **state)
{
	char w[512];
	char *segs[HTTP_MAX_SEGS];

	snprintf(w, sizeof(w), "/api/v1/people");
	assert_int_equal(http_path_split(w, segs), 3);
	assert_string_equal(segs[0], "api");
	assert_string_equal(segs[2], "people");
	/* Offsets are kept: only slashes became NULs. */
	assert_ptr_equal(segs[1], w + 5);

	snprintf(w, sizeof(w), "/");
	assert_int_equal(http_path_split(w, segs), 0);
	w[0] = '\0';
	assert_int_equal(http_path_split(w, segs), 0);

	snprintf(w, sizeof(w), "/a/");
	assert_int_equal(http_path_split(w, segs), 2);
	assert_string_equal(segs[1], "");

	snprintf(w, sizeof(w), "a/b");
	assert_int_equal(http_path_split(w, segs), 2);

	snprintf(w, sizeof(w), "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16");
	assert_int_equal(http_path_split(w, segs), 16);
	snprintf(w, sizeof(w), "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17");
	assert_int_equal(http_path_split(w, segs), -1);
	/* The empty segment of a trailing slash counts too. */
	snprintf(w, sizeof(w), "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/");
	assert_int_equal(http_path_split(w, segs), -1);
}

/* ---------------------------------------------------------------- router */

static int h_a(struct http_req *r, struct http_resp *resp) { return 0; }
static int h_b(struct http_req *r, struct http_resp *resp) { return 0; }

static const struct http_limits test_limits = {
	.max_body = 1000, .max_import = 5000, .max_connections = 4, .rate_per_minute = 2, .threads = 1,
};

static struct http_server *test_server(void)
{
	struct http_server *s = http_server_new(NULL, &test_limits);

	assert_non_null(s);
	assert_int_equal(http_route(s, HTTP_GET | HTTP_POST, "/api/v1/people", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_GET | HTTP_PATCH, "/api/v1/people/{id}", h_b, 0), 0);
	assert_int_equal(http_route(s, HTTP_POST, "/api/v1/people/{id}/roles/{role}", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/assets/{*rest}", h_a, HTTP_UNDOCUMENTED), 0);
	assert_int_equal(http_route(s, HTTP_DELETE, "/api/v1/people/me", h_a, 0), 0);
	return s;
}

struct match {
	struct route *rt;
	struct http_param params[HTTP_MAX_SEGS];
	size_t n;
	unsigned allow;
	int err;
};

static void match_done(struct match *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->params[i].value);
}

static struct route *match(struct http_server *s, const char *path, enum http_method method,
			   struct match *m)
{
	memset(m, 0, sizeof(*m));
	m->rt = http_router_match(s, path, method, m->params, &m->n, &m->allow, &m->err);
	return m->rt;
}

static void test_router_match(void **state)
{
	struct http_server *s = test_server();
	struct match m;

	assert_non_null(match(s, "/api/v1/people", HTTP_GET, &m));
	assert_string_equal(m.rt->pattern, "/api/v1/people");
	assert_int_equal(m.n, 0);

	assert_non_null(match(s, "/api/v1/people/01J0ABC", HTTP_PATCH, &m));
	assert_string_equal(m.rt->pattern, "/api/v1/people/{id}");
	assert_int_equal(m.n, 1);
	assert_string_equal(http_params_find(m.params, m.n, "id"), "01J0ABC");
	assert_null(http_params_find(m.params, m.n, "i"));
	assert_null(http_params_find(m.params, m.n, "idx"));
	match_done(&m);

	/* The first route that fits wins: "me" is an {id} for GET ... */
	assert_non_null(match(s, "/api/v1/people/me", HTTP_GET, &m));
	assert_string_equal(m.rt->pattern, "/api/v1/people/{id}");
	match_done(&m);
	/* ... and the later literal route still takes DELETE. */
	assert_non_null(match(s, "/api/v1/people/me", HTTP_DELETE, &m));
	assert_string_equal(m.rt->pattern, "/api/v1/people/me");
	assert_int_equal(m.n, 0);

	assert_non_null(match(s, "/api/v1/people/p1/roles/auditor", HTTP_POST, &m));
	assert_int_equal(m.n, 2);
	assert_string_equal(http_params_find(m.params, m.n, "id"), "p1");
	assert_string_equal(http_params_find(m.params, m.n, "role"), "auditor");
	match_done(&m);

	/* HEAD is answered by GET routes. */
	assert_non_null(match(s, "/api/v1/people", HTTP_HEAD, &m));

	/* A known path with another method: 405 with every method allowed there. */
	assert_null(match(s, "/api/v1/people/p1", HTTP_DELETE, &m));
	assert_int_equal(m.err, ERR_METHOD);
	assert_int_equal(m.allow, HTTP_GET | HTTP_PATCH);
	assert_null(match(s, "/api/v1/people/p1/roles/x", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_METHOD);
	assert_int_equal(m.allow, HTTP_POST);

	/* Unknown paths, empty parameters, trailing slashes: 404. */
	assert_null(match(s, "/api/v1/nothing", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	assert_int_equal(m.allow, 0);
	assert_null(match(s, "/api/v1/people/", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	assert_null(match(s, "/api/v1/people//roles/x", HTTP_POST, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	assert_null(match(s, "/", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	assert_null(match(s, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	http_server_free(s);
}

static void test_router_wildcard(void **state)
{
	struct http_server *s = test_server();
	struct match m;

	assert_non_null(match(s, "/assets/js/app.js", HTTP_GET, &m));
	assert_string_equal(http_params_find(m.params, m.n, "rest"), "js/app.js");
	assert_null(http_params_find(m.params, m.n, "*rest"));
	match_done(&m);
	assert_non_null(match(s, "/assets/a", HTTP_GET, &m));
	assert_string_equal(http_params_find(m.params, m.n, "rest"), "a");
	match_done(&m);
	/* The wildcard may match nothing at all. */
	assert_non_null(match(s, "/assets", HTTP_GET, &m));
	assert_string_equal(http_params_find(m.params, m.n, "rest"), "");
	match_done(&m);
	assert_non_null(match(s, "/assets/", HTTP_GET, &m));
	assert_string_equal(http_params_find(m.params, m.n, "rest"), "");
	match_done(&m);
	assert_null(match(s, "/assetsx/a", HTTP_GET, &m));
	assert_int_equal(m.err, ERR_NOT_FOUND);
	http_server_free(s);
}

static void foreach_cb(const char *method, const char *pattern, void *ud)
{
	buf_printf(ud, "%s %s\n", method, pattern);
}

static void test_router_table(void **state)
{
	struct http_server *s = test_server();
	struct buf b;

	assert_int_equal(http_route(s, HTTP_GET, "relative", h_a, 0), -EINVAL);
	assert_int_equal(http_route(s, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", h_a, 0),
			 -EINVAL);
	assert_int_equal(http_route_stream(s, HTTP_POST, "/up", h_a, NULL, 0), -EINVAL);

	buf_init(&b, 4096);
	http_routes_foreach(s, foreach_cb, &b);
	assert_string_equal(b.data,
		"GET /api/v1/people\n"
		"POST /api/v1/people\n"
		"GET /api/v1/people/{id}\n"
		"PATCH /api/v1/people/{id}\n"
		"POST /api/v1/people/{id}/roles/{role}\n"
		"DELETE /api/v1/people/me\n");
	buf_done(&b);

	assert_int_equal(http_parse_method("GET"), HTTP_GET);
	assert_int_equal(http_parse_method("HEAD"), HTTP_HEAD);
	assert_int_equal(http_parse_method("get"), 0);
	assert_int_equal(http_parse_method("OPTIONS"), 0);
	assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
	assert_string_equal(http_method_name(0), "?");
	http_server_free(s);
}

/* ---------------------------------------------------------------- responses */

static void assert_body(const struct http_resp *resp, int status, const char *ctype, const char *body)
{
	assert_int_equal(resp->status, status);
	assert_true(resp->has_body);
	assert_string_equal(resp->ctype, ctype);
	assert_int_equal(resp->len, strlen(body));
	assert_memory_equal(resp->data, body, resp->len);
}

static void test_error_bodies(void **state)
{
	struct http_resp resp = { 0 };
	struct rerr e = { .message = "name is too long", .field = "name" };

	assert_int_equal(http_fail(&resp, ERR_NOT_FOUND, NULL, NULL), ERR_NOT_FOUND);
	assert_body(&resp, 404, "application/json",
		    "{\"error\":{\"code\":\"not_found\",\"message\":\"not found\"}}");
	assert_int_equal(http_fail(&resp, ERR_CONFLICT, "login", "login %s is taken", "b\xc3\xa9"),
			 ERR_CONFLICT);
	assert_body(&resp, 409, "application/json",
		    "{\"error\":{\"code\":\"conflict\",\"message\":\"login b\\u00E9 is taken\",\"field\":\"login\"}}");
	assert_int_equal(http_fail_rerr(&resp, &e), ERR_INVALID);
	assert_body(&resp, 400, "application/json",
		    "{\"error\":{\"code\":\"invalid\",\"message\":\"name is too long\",\"field\":\"name\"}}");
	assert_int_equal(http_fail(&resp, ERR_RATE_LIMITED, "", NULL), ERR_RATE_LIMITED);
	assert_body(&resp, 429, "application/json",
		    "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many requests\"}}");
	assert_int_equal(http_scim_error_body(&resp, ERR_UNAUTHENTICATED), 0);
	assert_body(&resp, 401, "application/scim+json",
		    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
		    "\"status\":\"401\",\"detail\":\"authentication required\"}");
	http_resp_free(&resp);
}

static int done_calls;
static void count_done(void *ctx) { done_calls++; }
static long read_nothing(void *ctx, char *buf, size_t max) { return 0; }

static void test_response_bodies(void **state)
{
	static const char page[] = "<html></html>";
	struct http_resp resp = { 0 };

	assert_int_equal(http_resp_json(&resp, 200, NULL), -ENOMEM);
	assert_false(resp.has_body);
	assert_int_equal(http_resp_json(&resp, 201, json_pack("{s:s}", "id", "x")), 0);
	assert_body(&resp, 201, "application/json", "{\"id\":\"x\"}");

	/* A new body frees the old one; a reader's done runs exactly once. */
	done_calls = 0;
	assert_int_equal(http_resp_reader(&resp, 200, "application/octet-stream", 10, read_nothing,
					  count_done, NULL), 0);
	assert_int_equal(resp.reader_size, 10);
	assert_int_equal(http_resp_static(&resp, 200, "text/html", page, sizeof(page) - 1), 0);
	assert_int_equal(done_calls, 1);
	assert_true(resp.is_static);
	assert_ptr_equal(resp.data, page);
	assert_int_equal(http_resp_data(&resp, 200, "text/plain", "", 0), 0);
	assert_false(resp.is_static);
	assert_int_equal(resp.len, 0);
	http_resp_status(&resp, 204);
	assert_true(resp.has_body);
	assert_null(resp.data);
	assert_int_equal(resp.status, 204);

	http_resp_console(&resp, "max-age=31536000, immutable");
	assert_true(resp.console);
	assert_string_equal(resp.cache_control, "max-age=31536000, immutable");

	assert_int_equal(http_resp_reader(&resp, 200, "text/plain", 0, read_nothing, count_done, NULL), 0);
	http_resp_free(&resp);
	http_resp_free(&resp);
	assert_int_equal(done_calls, 2);
}

static void test_response_headers(void **state)
{
	struct http_resp resp = { 0 };
	char name[16];

	assert_int_equal(http_resp_header(&resp, "X-A", "1"), 0);
	assert_int_equal(http_resp_header(&resp, "X-B\r\nX-C", "1"), -EINVAL);
	assert_int_equal(http_resp_header(&resp, "X-B:", "1"), -EINVAL);
	assert_int_equal(http_resp_header(&resp, "X-B", "1\r\nSet-Cookie: a=b"), -EINVAL);
	assert_int_equal(http_resp_header(&resp, "X-B", "a\nb"), -EINVAL);
	assert_int_equal(resp.nheaders, 1);
	for (int i = 1; i < 16; i++) {
		snprintf(name, sizeof(name), "X-%d", i);
		assert_int_equal(http_resp_header(&resp, name, "v"), 0);
	}
	assert_int_equal(http_resp_header(&resp, "X-17", "v"), -ENOMEM);
	assert_string_equal(resp.headers[0].name, "X-A");
	assert_string_equal(resp.headers[15].name, "X-15");
	http_resp_free(&resp);
	assert_int_equal(resp.nheaders, 0);
}

/* ---------------------------------------------------------------- proxy */

static void test_addr_parse(void **state)
{
	struct http_addr a;
	char text[HTTP_ADDR_TEXT];

	assert_int_equal(http_addr_parse("192.0.2.1", 9, &a), 0);
	assert_int_equal(a.len, 4);
	assert_int_equal(http_addr_parse("2001:DB8::1", 11, &a), 0);
	assert_int_equal(a.len, 16);
	http_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "2001:db8::1");
	/* IPv4-mapped IPv6 is the IPv4 address. */
	assert_int_equal(http_addr_parse("::ffff:192.0.2.9", 16, &a), 0);
	assert_int_equal(a.len, 4);
	http_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "192.0.2.9");
	/* Only the @len bytes count. */
	assert_int_equal(http_addr_parse("10.0.0.1, x", 8, &a), 0);
	http_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "10.0.0.1");
	static const char *const bad[] = {
		"", "192.0.2", "192.0.2.256", "192.0.2.1/8", " 192.0.2.1", "fe80::1%eth0", "[::1]",
		"example.com", "1.2.3.4.5", "::g", "01.2.3.4",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_addr_parse(bad[i], strlen(bad[i]), &a) == 0)
			fail_msg("'%s' was taken for an address", bad[i]);
}

static void test_proxies_parse(void **state)
{
	struct http_proxies p = { .n = 99 };
	struct http_addr a;
	struct rerr e = { "" };

	assert_int_equal(http_proxies_parse("", &p, &e), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(http_proxies_parse("  ,, ", &p, &e), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(http_proxies_parse("10.0.0.0/8, 192.0.2.7 2001:db8::/32,::1,"
					    "172.16.1.9/12\t::ffff:198.51.100.0/120", &p, &e), 0);
	assert_int_equal(p.n, 6);
#define IN(text, want) do { \
		assert_int_equal(http_addr_parse(text, strlen(text), &a), 0); \
		assert_int_equal(http_proxies_contain(&p, &a), want); \
	} while (0)
	IN("10.0.0.0", true);
	IN("10.255.255.255", true);
	IN("11.0.0.0", false);
	IN("9.255.255.255", false);
	IN("192.0.2.7", true);
	IN("192.0.2.8", false);
	IN("2001:db8:ffff::1", true);
	IN("2001:db9::1", false);
	IN("::1", true);
	IN("::2", false);
	/* Host bits are ignored: 172.16.1.9/12 is 172.16.0.0/12. */
	IN("172.31.255.1", true);
	IN("172.32.0.1", false);
	/* A mapped range covers the IPv4 addresses, written either way. */
	IN("198.51.100.200", true);
	IN("::ffff:198.51.100.1", true);
	IN("198.51.101.1", false);
	/* An IPv4 range never matches IPv6 and the other way round. */
	IN("::a00:1", false);
#undef IN
	assert_int_equal(http_proxies_parse("0.0.0.0/0, ::/0", &p, &e), 0);
	assert_int_equal(http_addr_parse("203.0.113.1", 11, &a), 0);
	assert_true(http_proxies_contain(&p, &a));

	static const char *const bad[] = {
		"10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/0x8",
		"proxy.example.com", "10.0.0.0/8;", "::ffff:10.0.0.0/95", "10.0.0.0 / 8",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.n = 7;
		e.message[0] = '\0';
		if (http_proxies_parse(bad[i], &p, &e) != ERR_INVALID)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(p.n, 7);   /* untouched */
		assert_non_null(strstr(e.message, "trusted_proxies"));
	}
	{
		char many[2048] = "";

		for (int i = 0; i <= HTTP_MAX_PROXIES; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
		assert_int_equal(http_proxies_parse(many, &p, &e), ERR_INVALID);
	}
}

/* The client address that @lines forward through proxies 10/8, 192.0.2.7 and ::1, or "" when none. */
static const char *fwd(enum http_fwd_kind kind, const char *l1, const char *l2)
{
	static char out[HTTP_ADDR_TEXT];
	struct http_proxies p;
	struct http_addr a;
	const char *lines[2] = { l1, l2 };

	assert_int_equal(http_proxies_parse("10.0.0.0/8, 192.0.2.7, ::1", &p, NULL), 0);
	if (http_forwarded_client(&p, kind, lines, l2 ? 2 : 1, &a, NULL) < 0)
		return "";
	http_addr_format(&a, out, sizeof(out));
	return out;
}

static void test_forwarded_xff(void **state)
{
	enum http_fwd_kind x = HTTP_FWD_XFF;

	assert_string_equal(fwd(x, "203.0.113.9", NULL), "203.0.113.9");
	/* From the right, past the trusted hops. */
	assert_string_equal(fwd(x, "198.51.100.1, 203.0.113.9", NULL), "203.0.113.9");
	assert_string_equal(fwd(x, "198.51.100.1, 203.0.113.9, 10.1.1.1,192.0.2.7", NULL), "203.0.113.9");
	/* Every hop trusted: the leftmost. */
	assert_string_equal(fwd(x, "10.0.0.2, 10.0.0.3", NULL), "10.0.0.2");
	/* Lines in order, the last one the nearest proxy's. */
	assert_string_equal(fwd(x, "198.51.100.1", "203.0.113.9"), "203.0.113.9");
	assert_string_equal(fwd(x, "198.51.100.1", "10.0.0.1"), "198.51.100.1");
	assert_string_equal(fwd(x, "198.51.100.1, 10.0.0.1", " , "), "198.51.100.1");
	/* Ports, brackets, IPv6, mapped addresses, empty elements. */
	assert_string_equal(fwd(x, "203.0.113.9:4711", NULL), "203.0.113.9");
	assert_string_equal(fwd(x, "[2001:db8::9]:4711", NULL), "2001:db8::9");
	assert_string_equal(fwd(x, "[2001:db8::9]", NULL), "2001:db8::9");
	assert_string_equal(fwd(x, "2001:db8::9, ::1", NULL), "2001:db8::9");
	assert_string_equal(fwd(x, "::ffff:203.0.113.9", NULL), "203.0.113.9");
	assert_string_equal(fwd(x, ",,203.0.113.9,,", NULL), "203.0.113.9");
	/* What a client wrote left of the first untrusted hop is never read. */
	assert_string_equal(fwd(x, "\"garbage[, for=;, 203.0.113.9", NULL), "203.0.113.9");
	assert_string_equal(fwd(x, "not an address", "203.0.113.9"), "203.0.113.9");
	/* Malformed where it decides: no answer (the caller keeps the peer). */
	static const char *const bad[] = {
		"", " , ", "garbage", "203.0.113.9, garbage", "203.0.113.9 10.0.0.1",
		"203.0.113.9:", "203.0.113.9:123456", "[2001:db8::9", "[2001:db8::9]x", "2001:db8::9:",
		"unknown", "203.0.113.9/32", "for=203.0.113.9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fwd(x, bad[i], NULL)[0])
			fail_msg("X-Forwarded-For '%s' gave %s", bad[i], fwd(x, bad[i], NULL));
	/* More trusted hops than are walked. */
	{
		char many[1024] = "203.0.113.9";

		for (int i = 0; i < HTTP_MAX_HOPS; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), ", 10.0.0.%d", i);
		assert_string_equal(fwd(x, many, NULL), "");
	}
}

static void test_forwarded_rfc7239(void **state)
{
	enum http_fwd_kind f = HTTP_FWD_FORWARDED;

	assert_string_equal(fwd(f, "for=203.0.113.9", NULL), "203.0.113.9");
	assert_string_equal(fwd(f, "For=\"203.0.113.9\"", NULL), "203.0.113.9");
	assert_string_equal(fwd(f, "for=192.0.2.60;proto=http;by=203.0.113.43", NULL), "192.0.2.60");
	assert_string_equal(fwd(f, "proto=https; for=203.0.113.9 ;by=10.0.0.1", NULL), "203.0.113.9");
	assert_string_equal(fwd(f, "for=\"[2001:db8:cafe::17]:4711\"", NULL), "2001:db8:cafe::17");
	assert_string_equal(fwd(f, "for=\"203.0.113.9:_hidden\"", NULL), "203.0.113.9");
	assert_string_equal(fwd(f, "for=198.51.100.1, for=203.0.113.9, for=10.0.0.1", NULL), "203.0.113.9");
	assert_string_equal(fwd(f, "for=198.51.100.1", "for=\"[::1]\";proto=https"), "198.51.100.1");
	assert_string_equal(fwd(f, "for=\"\\x, for=203.0.113.9", NULL), "203.0.113.9");
	static const char *const bad[] = {
		"for=unknown", "for=UNKNOWN, for=10.0.0.1", "for=_hidden", "by=10.0.0.1",
		"for=203.0.113.9;for=198.51.100.1", "for=\"203.0.113.9", "for=\"203.0.113.9\\\"\"",
		"for", "for=", "for=203.0.113.9 x", "203.0.113.9", "for=\"203.0.113.9\"x",
		"for=example.com", "for=[2001:db8::1]x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fwd(f, bad[i], NULL)[0])
			fail_msg("Forwarded '%s' gave %s", bad[i], fwd(f, bad[i], NULL));
}

/* ---------------------------------------------------------------- limits */

static void test_rate_limit(void **state)
{
	struct http_server *s = http_server_new(NULL, &test_limits);
	int64_t t = 1700000040000;   /* the start of a minute */
	struct http_limits unlimited = test_limits;

	assert_true(http_rate_allow_at(s, "192.0.2.1", t));
	assert_true(http_rate_allow_at(s, "192.0.2.1", t + 59999));
	assert_false(http_rate_allow_at(s, "192.0.2.1", t + 30000));
	assert_true(http_rate_allow_at(s, "192.0.2.2", t + 1));
	assert_true(http_rate_allow_at(s, "2001:db8::1", t + 1));
	/* A new minute, a new window. */
	assert_true(http_rate_allow_at(s, "192.0.2.1", t + 60000));
	assert_true(http_rate_allow_at(s, "192.0.2.1", t + 60001));
	assert_false(http_rate_allow_at(s, "192.0.2.1", t + 60002));
	http_server_free(s);

	unlimited.rate_per_minute = 0;
	s = http_server_new(NULL, &unlimited);
	for (int i = 0; i < 100; i++)
		assert_true(http_rate_allow_at(s, "192.0.2.1", t));
	http_server_free(s);
}

/*
 * However many addresses share the table, none of them gets more than its
 * limit in a window: 20,000 addresses (more than the table holds) make three
 * requests each under a limit of two.
 */
static void test_rate_limit_never_unlimited(void **state)
{
	struct http_limits lim = test_limits;
	struct http_server *s;
	int64_t t = 1700000040000;
	char addr[64];

	lim.rate_per_minute = 2;
	s = http_server_new(NULL, &lim);
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 20000; i++) {
			bool ok;

			snprintf(addr, sizeof(addr), "2001:db8::%x:%x", i >> 16, i & 0xffff);
			ok = http_rate_allow_at(s, addr, t + round);
			if (round == 2 && ok)
				fail_msg("%s was let through a third time", addr);
		}
	}
	http_server_free(s);
}

/*
 * Addresses that share a set: the first HTTP_RATE_WAYS have their own
 * counters, the rest share one budget; nobody goes over the limit, and a
 * new window frees the set again.
 */
static void test_rate_limit_collision(void **state)
{
	struct http_limits lim = test_limits;
	struct http_server *s;
	int64_t t = 1700000040000;
	char same[HTTP_RATE_WAYS + 3][64];
	size_t n = 0, set;

	lim.rate_per_minute = 2;
	s = http_server_new(NULL, &lim);
	set = http_rate_set_of(s, "198.51.100.1");
	for (unsigned i = 0; n < sizeof(same) / sizeof(same[0]); i++) {
		char a[64];

		assert_true(i < 10000000);
		snprintf(a, sizeof(a), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		if (http_rate_set_of(s, a) == set)
			snprintf(same[n++], sizeof(same[0]), "%s", a);
	}
	/* The ways fill up: each of these addresses has its own two requests. */
	for (size_t i = 0; i < HTTP_RATE_WAYS; i++) {
		assert_true(http_rate_allow_at(s, same[i], t));
		assert_true(http_rate_allow_at(s, same[i], t + 1));
		assert_false(http_rate_allow_at(s, same[i], t + 2));
	}
	/* The set is full: the next three addresses share one budget of two. */
	assert_true(http_rate_allow_at(s, same[HTTP_RATE_WAYS], t + 3));
	assert_true(http_rate_allow_at(s, same[HTTP_RATE_WAYS + 1], t + 4));
	assert_false(http_rate_allow_at(s, same[HTTP_RATE_WAYS + 2], t + 5));
	assert_false(http_rate_allow_at(s, same[HTTP_RATE_WAYS], t + 6));
	/* Addresses with their own counter are not affected by the overflow. */
	assert_false(http_rate_allow_at(s, same[0], t + 7));
	/* A new minute: every address starts again, with its own counter. */
	for (size_t i = 0; i < HTTP_RATE_WAYS; i++)
		assert_true(http_rate_allow_at(s, same[HTTP_RATE_WAYS + 2 - i], t + 60000));
	assert_true(http_rate_allow_at(s, same[HTTP_RATE_WAYS + 2], t + 60001));
	assert_false(http_rate_allow_at(s, same[HTTP_RATE_WAYS + 2], t + 60002));
	http_server_free(s);
}

static void test_framing(void **state)
{
	struct rerr e = { "" };

	/* Unambiguous: no length, one Content-Length, or chunked alone. */
	assert_int_equal(http_framing_check(NULL, 0, 0, &e), 0);
	assert_int_equal(http_framing_check(NULL, 0, 1, &e), 0);
	assert_int_equal(http_framing_check("chunked", 1, 0, &e), 0);
	assert_int_equal(http_framing_check("Chunked", 1, 0, &e), 0);
	assert_int_equal(http_framing_check(" CHUNKED\t", 1, 0, &e), 0);
	/* Both lengths, either order of the headers. */
	assert_int_equal(http_framing_check("chunked", 1, 1, &e), ERR_INVALID);
	assert_non_null(strstr(e.message, "together"));
	/* A header twice. */
	assert_int_equal(http_framing_check(NULL, 0, 2, &e), ERR_INVALID);
	assert_int_equal(http_framing_check("chunked", 2, 0, &e), ERR_INVALID);
	/* Any coding but chunked alone. */
	static const char *const bad[] = {
		"gzip, chunked", "chunked, chunked", "chunked,", ",chunked", "chunked, gzip",
		"identity", "gzip", "", " ", "chunked;q=1", "chunkedx", "xchunked", "chunk ed",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.message[0] = '\0';
		if (http_framing_check(bad[i], 1, 0, &e) != ERR_INVALID)
			fail_msg("Transfer-Encoding '%s' was accepted", bad[i]);
		assert_non_null(strstr(e.message, "chunked"));
	}
	assert_int_equal(http_framing_check(NULL, 1, 0, &e), ERR_INVALID);
}

static void test_body_limits(void **state)
{
	struct http_server *s = http_server_new(NULL, &test_limits);
	struct route json = { .flags = 0 }, csv = { .flags = HTTP_BODY_CSV },
		     stream = { .flags = HTTP_BODY_STREAM };
	struct http_req r = { .s = s };

	/* No route (a refused request): no body at all. */
	assert_int_equal(http_req_limit_body(&r, NULL), 0);
	assert_int_equal(r.body_limit, 0);
	assert_int_equal(r.body.limit, 1);

	r.route = &json;
	assert_int_equal(http_req_limit_body(&r, NULL), 0);
	assert_int_equal(r.body_limit, 1000);
	assert_int_equal(r.body.limit, 1000);
	assert_int_equal(http_req_limit_body(&r, "1000"), 0);
	assert_int_equal(http_req_limit_body(&r, "0"), 0);
	assert_int_equal(http_req_limit_body(&r, "1001"), ERR_TOO_LARGE);
	assert_int_equal(http_req_limit_body(&r, "-1"), ERR_INVALID);
	assert_int_equal(http_req_limit_body(&r, "12x"), ERR_INVALID);
	assert_int_equal(http_req_limit_body(&r, ""), ERR_INVALID);
	assert_int_equal(http_req_limit_body(&r, "99999999999999999999"), ERR_INVALID);

	r.route = &csv;
	assert_int_equal(http_req_limit_body(&r, "5000"), 0);
	assert_int_equal(http_req_limit_body(&r, "5001"), ERR_TOO_LARGE);

	r.route = &stream;
	assert_int_equal(http_req_limit_body(&r, "9223372036854775807"), 0);
	assert_int_equal(r.body_limit, SIZE_MAX);

	assert_true(http_req_discard(&r, HTTP_MAX_DISCARD - 1));
	assert_true(http_req_discard(&r, 1));
	assert_false(http_req_discard(&r, 1));
	http_server_free(s);
}

/* ---------------------------------------------------------------- metrics */

static void test_metrics_text(void **state)
{
	struct http_server *s = http_server_new(NULL, &test_limits);
	struct buf b;

	assert_int_equal(http_route(s, HTTP_GET, "/a", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/b/{id}", h_a, 0), 0);
	http_metrics_record(s, s->routes[0], HTTP_GET, 200, 1500000);      /* 1.5 ms */
	http_metrics_record(s, s->routes[0], HTTP_HEAD, 200, 2500000);     /* 2.5 ms: on the bound */
	http_metrics_record(s, s->routes[1], HTTP_GET, 418, 20000000000);  /* 20 s, other status */
	http_metrics_record(s, NULL, HTTP_PUT, 404, 100);
	buf_init(&b, 1 << 16);
	http_server_metrics(s, &b);
	assert_string_equal(b.data,
		"# HELP rampart_http_requests_total HTTP requests by route, method (where a route has "
		"several) and status.\n"
		"# TYPE rampart_http_requests_total counter\n"
		"rampart_http_requests_total{route=\"/a\",status=\"200\"} 2\n"
		"rampart_http_requests_total{route=\"/b/{id}\",status=\"other\"} 1\n"
		"rampart_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"
		"# HELP rampart_http_request_duration_seconds Time to answer a request.\n"
		"# TYPE rampart_http_request_duration_seconds histogram\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.001\"} 1\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.0025\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.005\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.01\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.025\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.05\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.1\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.25\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"0.5\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"1\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"2.5\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"5\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"10\"} 3\n"
		"rampart_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		"rampart_http_request_duration_seconds_sum 20.004000\n"
		"rampart_http_request_duration_seconds_count 4\n"
		"# HELP rampart_http_requests_in_flight Requests being answered.\n"
		"# TYPE rampart_http_requests_in_flight gauge\n"
		"rampart_http_requests_in_flight 0\n"
		"# HELP rampart_http_connections_open Connections open.\n"
		"# TYPE rampart_http_connections_open gauge\n"
		"rampart_http_connections_open 0\n"
		"# HELP rampart_http_connections_refused_total Connections refused because their "
		"address held max_connections_per_client.\n"
		"# TYPE rampart_http_connections_refused_total counter\n"
		"rampart_http_connections_refused_total 0\n"
		"# HELP rampart_http_connections_closed_total Connections closed while waiting for a "
		"request head: past header_timeout, or to make room.\n"
		"# TYPE rampart_http_connections_closed_total counter\n"
		"rampart_http_connections_closed_total{reason=\"header_timeout\"} 0\n"
		"rampart_http_connections_closed_total{reason=\"crowded\"} 0\n");
	buf_done(&b);
	http_server_free(s);
}

/* A pattern with several methods, on one route or on several, gets one series per method and status. */
static void test_metrics_methods(void **state)
{
	struct http_server *s = http_server_new(NULL, &test_limits);
	struct buf b;
	const char *end;

	assert_int_equal(http_route(s, HTTP_GET | HTTP_POST, "/p", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/t", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_POST, "/t", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/one", h_a, 0), 0);
	assert_int_equal(http_route(s, HTTP_DELETE, "/t", h_a, 0), 0);
	http_metrics_record(s, s->routes[0], HTTP_GET, 401, 1000);
	http_metrics_record(s, s->routes[0], HTTP_POST, 401, 1000);
	http_metrics_record(s, s->routes[0], HTTP_HEAD, 401, 1000);
	http_metrics_record(s, s->routes[1], HTTP_GET, 401, 1000);
	http_metrics_record(s, s->routes[2], HTTP_POST, 401, 1000);
	http_metrics_record(s, s->routes[2], HTTP_POST, 401, 1000);
	http_metrics_record(s, s->routes[3], HTTP_GET, 200, 1000);
	http_metrics_record(s, s->routes[3], HTTP_HEAD, 200, 1000);
	http_metrics_record(s, s->routes[4], HTTP_DELETE, 204, 1000);
	buf_init(&b, 1 << 16);
	http_server_metrics(s, &b);
	end = strstr(b.data, "# HELP rampart_http_request_duration_seconds");
	assert_non_null(end);
	static const char want[] =
		"# HELP rampart_http_requests_total HTTP requests by route, method (where a route has "
		"several) and status.\n"
		"# TYPE rampart_http_requests_total counter\n"
		"rampart_http_requests_total{route=\"/p\",method=\"GET\",status=\"401\"} 1\n"
		"rampart_http_requests_total{route=\"/p\",method=\"POST\",status=\"401\"} 1\n"
		"rampart_http_requests_total{route=\"/p\",method=\"HEAD\",status=\"401\"} 1\n"
		"rampart_http_requests_total{route=\"/t\",method=\"DELETE\",status=\"204\"} 1\n"
		"rampart_http_requests_total{route=\"/t\",method=\"GET\",status=\"401\"} 1\n"
		"rampart_http_requests_total{route=\"/t\",method=\"POST\",status=\"401\"} 2\n"
		"rampart_http_requests_total{route=\"/one\",status=\"200\"} 2\n";
	assert_int_equal((size_t)(end - b.data), strlen(want));
	assert_memory_equal(b.data, want, strlen(want));
	buf_done(&b);
	http_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_path_is_sane),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_router_match),
		cmocka_unit_test(test_router_wildcard),
		cmocka_unit_test(test_router_table),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_response_bodies),
		cmocka_unit_test(test_response_headers),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_proxies_parse),
		cmocka_unit_test(test_forwarded_xff),
		cmocka_unit_test(test_forwarded_rfc7239),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_rate_limit_never_unlimited),
		cmocka_unit_test(test_rate_limit_collision),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_metrics_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
