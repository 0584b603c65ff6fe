/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * router: the route table and matching.  A route is a pattern of segments,
 * literal or "{name}", the last of which may be "{*rest}" to take any
 * suffix; routes are tried in the order they were added and the first
 * whose path and method both match wins.  A path that some route matches
 * with another method is ERR_METHOD (405 with Allow), else ERR_NOT_FOUND.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "http/http_internal.h"

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_PATCH: return "PATCH";
	case HTTP_DELETE: return "DELETE";
	case HTTP_HEAD: return "HEAD";
	}
	return "?";
}

enum http_method http_parse_method(const char *m)
{
	static const struct { const char *n; enum http_method m; } t[] = {
		{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT },
		{ "PATCH", HTTP_PATCH }, { "DELETE", HTTP_DELETE }, { "HEAD", HTTP_HEAD },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(m, t[i].n) == 0)
			return t[i].m;
	return 0;
}

static void http_route_free(struct route *rt)
{
	for (size_t i = 0; i < HTTP_MAX_SEGS; i++)
		free(rt->segs[i]);
	free(rt->pattern);
	free(rt);
}

int http_route(struct http_server *s, unsigned methods, const char *pattern,
	       http_handler_fn fn, unsigned flags)
{
	struct route *rt, **grown;
	char *work;
	char *segs[HTTP_MAX_SEGS];
	int n;

	if (pattern[0] != '/')
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->pattern = strdup(pattern);
	work = strdup(pattern);
	if (!rt->pattern || !work)
		goto nomem;
	n = http_path_split(work, segs);
	if (n < 0) {
		free(work);
		http_route_free(rt);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		rt->segs[i] = strdup(segs[i]);
		if (!rt->segs[i])
			goto nomem;
	}
	free(work);
	work = NULL;
	rt->nsegs = (size_t)n;
	if (n > 0 && strcmp(rt->segs[n - 1], "{*rest}") == 0)
		rt->wildcard = true;
	rt->methods = methods;
	rt->fn = fn;
	rt->flags = flags;
	rt->upload = NULL;
	grown = realloc(s->routes, (s->nroutes + 1) * sizeof(*grown));
	if (!grown)
		goto nomem;
	s->routes = grown;
	s->routes[s->nroutes++] = rt;
	return 0;
nomem:
	free(work);
	http_route_free(rt);
	return -ENOMEM;
}

int http_route_stream(struct http_server *s, unsigned methods, const char *pattern,
		      http_handler_fn fn, http_upload_fn upload, unsigned flags)
{
	int r;

	if (!upload)
		return -EINVAL;
	r = http_route(s, methods, pattern, fn, flags | HTTP_BODY_STREAM);
	if (r < 0)
		return r;
	s->routes[s->nroutes - 1]->upload = upload;
	return 0;
}

void http_routes_foreach(struct http_server *s,
			 void (*cb)(const char *method, const char *pattern, void *ud), void *ud)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		struct route *rt = s->routes[i];

		if (rt->flags & HTTP_UNDOCUMENTED)
			continue;
		for (unsigned m = HTTP_GET; m <= HTTP_DELETE; m <<= 1)
			if (rt->methods & m)
				cb(http_method_name(m), rt->pattern, ud);
	}
}

void http_router_free(struct http_server *s)
{
	for (size_t i = 0; i < s->nroutes; i++)
		http_route_free(s->routes[i]);
	free(s->routes);
	s->routes = NULL;
	s->nroutes = 0;
}

/* True if the @n segments @segs fit @rt's pattern (methods aside). */
static bool http_route_fits(const struct route *rt, char *const *segs, size_t n)
{
	if (rt->wildcard ? n < rt->nsegs - 1 : n != rt->nsegs)
		return false;
	for (size_t k = 0; k < rt->nsegs; k++) {
		const char *pat = rt->segs[k];

		if (rt->wildcard && k == rt->nsegs - 1)
			break;
		if (pat[0] == '{') {
			if (segs[k][0] == '\0')
				return false;
		} else if (strcmp(pat, segs[k]) != 0) {
			return false;
		}
	}
	return true;
}

/*
 * Copies @rt's parameters out of @path, split into @segs inside @work.
 * Offsets in @work equal offsets in @path: splitting only cut at '/'.
 * Returns 0 or -ENOMEM (the values copied so far are counted).
 */
static int http_route_params(const struct route *rt, const char *path, const char *work,
			     char *const *segs, size_t n, struct http_param *params,
			     size_t *ret_nparams)
{
	*ret_nparams = 0;
	for (size_t k = 0; k < rt->nsegs; k++) {
		const char *pat = rt->segs[k];
		char *v;

		if (pat[0] != '{')
			continue;
		if (rt->wildcard && k == rt->nsegs - 1)
			v = strdup(n > k ? path + (segs[k] - work) : "");
		else
			v = strdup(segs[k]);
		if (!v)
			return -ENOMEM;
		params[*ret_nparams].name = pat;
		params[(*ret_nparams)++].value = v;
	}
	return 0;
}

struct route *http_router_match(struct http_server *s, const char *path, enum http_method method,
				struct http_param params[HTTP_MAX_SEGS], size_t *ret_nparams,
				unsigned *allow, int *ret_err)
{
	char work[HTTP_MAX_PATH];
	char *segs[HTTP_MAX_SEGS];
	int n;
	bool path_matched = false;

	*allow = 0;
	if (str_copy(work, sizeof(work), path) < 0 || (n = http_path_split(work, segs)) < 0) {
		*ret_err = ERR_NOT_FOUND;
		return NULL;
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		struct route *rt = s->routes[i];

		if (!http_route_fits(rt, segs, (size_t)n))
			continue;
		path_matched = true;
		*allow |= rt->methods;
		if (!(rt->methods & method) && !(method == HTTP_HEAD && (rt->methods & HTTP_GET)))
			continue;
		if (http_route_params(rt, path, work, segs, (size_t)n, params, ret_nparams) < 0) {
			*ret_err = -ENOMEM;
			return NULL;
		}
		return rt;
	}
	*ret_err = path_matched ? ERR_METHOD : ERR_NOT_FOUND;
	return NULL;
}

const char *http_params_find(const struct http_param *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *pn = params[i].name;

		if (!pn)
			continue;
		size_t len = strlen(name);

		/* stored as the pattern segment: "{name}" or "{*rest}" */
		if (pn[0] == '{' && pn[1] == '*')
			pn++;
		if (strncmp(pn + 1, name, len) == 0 && pn[1 + len] == '}' && pn[2 + len] == '\0')
			return params[i].value;
	}
	return NULL;
}
