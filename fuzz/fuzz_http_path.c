/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_http_path: libFuzzer target for what the HTTP layer does with a
 * request target before any handler runs: percent-decoding, the path check,
 * splitting and route matching against a table shaped like rampartd's
 * (literal segments, {name} parameters, a {*rest} wildcard), and the
 * decoding of query keys and values.  The first input byte picks the
 * method; the rest is the request target "path?query".
 *
 * libmicrohttpd splits the query at '&' and '=' and turns '+' into a space
 * before it hands each key and value to the same decoder
 * (http_path_unescape); the driver does that split itself to reach it.
 *
 * Invariants checked: no crash, no leak, no read past the input; decoding
 * never lengthens a string and never leaves a control byte; a match yields
 * a route allowing the method (HEAD through GET), with non-empty slash-free
 * values for {name} parameters that http_params_find returns; a refusal is
 * ERR_NOT_FOUND, or ERR_METHOD with some other method allowed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "http/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_handler(struct http_req *r, struct http_resp *resp)
{
	return 0;
}

static const char *const fuzz_patterns[] = {
	"/api/v1/people", "/api/v1/people/{id}", "/api/v1/people/{id}/roles/{role}",
	"/api/v1/people/me", "/x/{token}", "/x/{token}/files/{file}", "/scim/v2/Users/{id}",
	"/assets/{file}", "/{file}", "/", "/api/v1/files/{*rest}",
};

static struct http_server *fuzz_server(void)
{
	static struct http_server *s;
	static const struct http_limits lim = { 1 << 20, 1 << 20, 16, 0, 1 };

	if (s)
		return s;
	s = http_server_new(NULL, &lim);
	if (!s)
		abort();
	for (size_t i = 0; i < sizeof(fuzz_patterns) / sizeof(fuzz_patterns[0]); i++)
		if (http_route(s, (i % 2) ? HTTP_GET | HTTP_PATCH : HTTP_GET | HTTP_POST | HTTP_DELETE,
			       fuzz_patterns[i], fuzz_handler, 0) < 0)
			abort();
	return s;
}

/* Decodes @s in place and checks the decoder's invariants. */
static void fuzz_unescape(char *s)
{
	size_t before = strlen(s);
	size_t n = http_path_unescape(s);

	if (n > before || strlen(s) != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != 0x01)
			abort();
		else if ((unsigned char)s[i] == 0x7f)
			abort();
}

static void fuzz_route(const char *path, enum http_method method)
{
	struct http_param params[HTTP_MAX_SEGS] = { { 0 } };
	size_t nparams = 0;
	unsigned allow = 0;
	int err = 0;
	struct route *rt = http_router_match(fuzz_server(), path, method, params, &nparams, &allow, &err);

	if (rt) {
		if (!(rt->methods & method) && !(method == HTTP_HEAD && (rt->methods & HTTP_GET)))
			abort();
		for (size_t i = 0; i < nparams; i++) {
			const char *name = params[i].name;
			char want[64];
			size_t len = strlen(name);

			if (!params[i].value || len < 3 || len > sizeof(want))
				abort();
			/* "{id}" is found as "id", "{*rest}" as "rest". */
			memcpy(want, name + (name[1] == '*' ? 2 : 1), len - (name[1] == '*' ? 3 : 2));
			want[len - (name[1] == '*' ? 3 : 2)] = '\0';
			if (http_params_find(params, nparams, want) == NULL)
				abort();
			if (name[1] != '*' && (params[i].value[0] == '\0' || strchr(params[i].value, '/')))
				abort();
		}
	} else if (err == ERR_METHOD) {
		if (allow == 0 || (allow & method))
			abort();
	} else if (err != ERR_NOT_FOUND) {
		abort();
	}
	for (size_t i = 0; i < nparams; i++)
		free(params[i].value);
}

/* Splits @q as libmicrohttpd does and decodes every key and value. */
static void fuzz_query(char *q)
{
	char *save = q;

	while (save) {
		char *pair = save, *amp = strchr(pair, '&'), *eq;

		save = amp ? amp + 1 : NULL;
		if (amp)
			*amp = '\0';
		eq = strchr(pair, '=');
		if (eq)
			*eq = '\0';
		for (char *p = pair; *p; p++)
			if (*p == '+')
				*p = ' ';
		fuzz_unescape(pair);
		if (eq) {
			for (char *p = eq + 1; *p; p++)
				if (*p == '+')
					*p = ' ';
			fuzz_unescape(eq + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH,
						    HTTP_DELETE, HTTP_HEAD };
	enum http_method method;
	char *target, *query, *segs_work;
	char *segs[HTTP_MAX_SEGS];
	int n;

	if (size < 1 || size > 3 * HTTP_MAX_PATH)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	/* Exact-size copy with its NUL, so that ASan sees any overread. */
	target = malloc(size);
	if (!target)
		return 0;
	memcpy(target, data + 1, size - 1);
	target[size - 1] = '\0';

	query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	fuzz_unescape(target);
	if (http_path_is_sane(target) &&
	    (target[0] != '/' || strstr(target, "//") || strlen(target) > HTTP_MAX_PATH))
		abort();
	/* rampartd routes sane paths only; the matcher must cope with any. */
	fuzz_route(target, method);

	segs_work = strdup(target);
	if (segs_work) {
		n = http_path_split(segs_work, segs);
		if (n > HTTP_MAX_SEGS)
			abort();
		for (int i = 0; i < n; i++)
			if (strchr(segs[i], '/'))
				abort();
		free(segs_work);
	}
	if (query)
		fuzz_query(query);
	free(target);
	return 0;
}
