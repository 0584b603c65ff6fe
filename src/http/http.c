/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http: libmicrohttpd glue.  Invariants: a request's body never exceeds its
 * route's limit in memory; every response carries X-Request-Id and the
 * security headers; access log lines name the route pattern, never the raw
 * path, because paths such as /x/{token} carry secrets.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"

#define HTTP_MAX_SEGS 16
#define HTTP_MAX_PATH 2048
#define HTTP_RATE_SLOTS 4096
#define HTTP_MAX_DISCARD ((size_t)16 << 20)

/* Statuses counted per route for /metrics; the last slot counts the rest. */
static const int http_statuses[] = { 200, 201, 204, 302, 304, 400, 401, 403, 404, 405,
				     409, 413, 415, 429, 500, 503, 0 };
#define HTTP_NSTATUS (sizeof(http_statuses) / sizeof(http_statuses[0]))

static const double http_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				       0.5, 1, 2.5, 5, 10 };
#define HTTP_NBUCKETS (sizeof(http_buckets) / sizeof(http_buckets[0]))

struct route {
	unsigned methods;
	char *pattern;
	char *segs[HTTP_MAX_SEGS];
	size_t nsegs;
	bool wildcard;
	http_handler_fn fn;
	http_upload_fn upload;
	unsigned flags;
	atomic_uint_fast64_t counts[HTTP_NSTATUS];
};

struct rate_slot {
	char addr[64];
	int64_t window;
	unsigned count;
};

struct http_server {
	void *app;
	struct http_limits lim;
	struct MHD_Daemon *d;
	struct route **routes;
	size_t nroutes;
	http_authn_fn authn;
	unsigned port;
	int listen_fd;
	bool ipv6;
	bool tls;
	atomic_int inflight;
	pthread_mutex_t rate_lock;
	struct rate_slot *rate;
	atomic_uint_fast64_t unmatched[HTTP_NSTATUS];
	atomic_uint_fast64_t lat_buckets[HTTP_NBUCKETS + 1];
	atomic_uint_fast64_t lat_count;
	atomic_uint_fast64_t lat_sum_us;
};

struct http_header {
	char *name;
	char *value;
};

struct http_resp {
	int status;
	char *ctype;
	void *data;
	size_t len;
	bool is_static;
	bool has_body;
	bool console;
	char cache_control[64];
	struct http_header headers[16];
	size_t nheaders;
	/* http_resp_reader */
	http_reader_fn reader;
	void (*reader_done)(void *ctx);
	void *reader_ctx;
	uint64_t reader_size;
};

struct http_param {
	const char *name;
	char *value;
};

struct http_req {
	struct http_server *s;
	struct MHD_Connection *conn;
	enum http_method method;
	char *path;
	char id[24];
	char remote[64];
	struct route *route;
	struct http_param params[HTTP_MAX_SEGS];
	size_t nparams;
	struct buf body;
	size_t body_limit;
	int early_err;
	json_t *json;
	struct principal p;
	struct audit_ctx actx;     /* points at p, remote and id */
	int64_t start_ns;
	size_t discarded;
	bool dispatched;
	/* HTTP_BODY_STREAM: the response the upload callback and handler share. */
	struct http_resp sresp;
	int stream_err;
	void (*done)(void *ctx);
	void *done_ctx;
};

/* ---------------------------------------------------------------- routes */

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

static enum http_method http_parse_method(const char *m)
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

/* Splits @path (copied into @work) into segments; returns count or -1 if too many. */
static int http_split(char *work, char **segs)
{
	int n = 0;
	char *p = work;

	if (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (n == HTTP_MAX_SEGS)
			return -1;
		segs[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
		if (*p == '\0') {
			/* trailing slash: an empty last segment */
			if (n == HTTP_MAX_SEGS)
				return -1;
			segs[n++] = p;
		}
	}
	return n;
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
	n = http_split(work, segs);
	if (n < 0) {
		free(work);
		free(rt->pattern);
		free(rt);
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
	for (size_t i = 0; i < HTTP_MAX_SEGS; i++)
		free(rt->segs[i]);
	free(rt->pattern);
	free(rt);
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

/*
 * Finds the route for @path.  Returns it with params filled, or NULL with
 * *ret_err = ERR_NOT_FOUND or ERR_METHOD (and @allow the allowed methods).
 */
static struct route *http_match(struct http_server *s, struct http_req *r, unsigned *allow,
				int *ret_err)
{
	char work[HTTP_MAX_PATH];
	char *segs[HTTP_MAX_SEGS];
	int n;
	bool path_matched = false;

	*allow = 0;
	if (str_copy(work, sizeof(work), r->path) < 0 || (n = http_split(work, segs)) < 0) {
		*ret_err = ERR_NOT_FOUND;
		return NULL;
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		struct route *rt = s->routes[i];
		size_t k, np = 0;
		bool ok = true;

		if (rt->wildcard ? (size_t)n < rt->nsegs - 1 : (size_t)n != rt->nsegs)
			continue;
		for (k = 0; k < rt->nsegs && ok; k++) {
			const char *pat = rt->segs[k];

			if (rt->wildcard && k == rt->nsegs - 1)
				break;
			if (pat[0] == '{') {
				if (segs[k][0] == '\0')
					ok = false;
				else
					np++;
			} else if (strcmp(pat, segs[k]) != 0) {
				ok = false;
			}
		}
		if (!ok)
			continue;
		path_matched = true;
		*allow |= rt->methods;
		if (!(rt->methods & r->method) &&
		    !(r->method == HTTP_HEAD && (rt->methods & HTTP_GET)))
			continue;
		/* Offsets in @work equal offsets in r->path: split only cut at '/'. */
		r->nparams = 0;
		for (k = 0; k < rt->nsegs; k++) {
			const char *pat = rt->segs[k];
			char *v;

			if (pat[0] != '{')
				continue;
			if (rt->wildcard && k == rt->nsegs - 1)
				v = strdup((size_t)n > k ? r->path + (segs[k] - work) : "");
			else
				v = strdup(segs[k]);
			if (!v) {
				*ret_err = -ENOMEM;
				return NULL;
			}
			r->params[r->nparams].name = pat;
			r->params[r->nparams++].value = v;
		}
		return rt;
	}
	*ret_err = path_matched ? ERR_METHOD : ERR_NOT_FOUND;
	return NULL;
}

/* ---------------------------------------------------------------- server */

struct http_server *http_server_new(void *app, const struct http_limits *limits)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->rate = calloc(HTTP_RATE_SLOTS, sizeof(*s->rate));
	if (!s->rate) {
		free(s);
		return NULL;
	}
	s->app = app;
	s->lim = *limits;
	s->listen_fd = -1;
	pthread_mutex_init(&s->rate_lock, NULL);
	return s;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nroutes; i++) {
		for (size_t k = 0; k < HTTP_MAX_SEGS; k++)
			free(s->routes[i]->segs[k]);
		free(s->routes[i]->pattern);
		free(s->routes[i]);
	}
	free(s->routes);
	free(s->rate);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_mutex_destroy(&s->rate_lock);
	free(s);
}

void http_server_set_authenticator(struct http_server *s, http_authn_fn fn)
{
	s->authn = fn;
}

/* Fixed one-minute windows per client address; the table forgets old windows. */
static bool http_rate_allow(struct http_server *s, const char *addr)
{
	int64_t window = rtime_now_ms() / 60000;
	uint64_t h = hash_str(addr);
	struct rate_slot *slot;
	bool ok;

	if (s->lim.rate_per_minute == 0)
		return true;
	pthread_mutex_lock(&s->rate_lock);
	slot = &s->rate[h % HTTP_RATE_SLOTS];
	if (slot->window != window || strcmp(slot->addr, addr) != 0) {
		/* A colliding address takes the slot over only for a new window. */
		if (slot->window == window && slot->addr[0] && strcmp(slot->addr, addr) != 0) {
			pthread_mutex_unlock(&s->rate_lock);
			return true;
		}
		snprintf(slot->addr, sizeof(slot->addr), "%s", addr);
		slot->window = window;
		slot->count = 0;
	}
	ok = ++slot->count <= s->lim.rate_per_minute;
	pthread_mutex_unlock(&s->rate_lock);
	return ok;
}

static size_t http_status_slot(int status)
{
	for (size_t i = 0; i + 1 < HTTP_NSTATUS; i++)
		if (http_statuses[i] == status)
			return i;
	return HTTP_NSTATUS - 1;
}

/* ---------------------------------------------------------------- responses */

static void http_resp_clear_body(struct http_resp *resp)
{
	if (resp->reader && resp->reader_done)
		resp->reader_done(resp->reader_ctx);
	resp->reader = NULL;
	resp->reader_done = NULL;
	resp->reader_ctx = NULL;
	if (!resp->is_static)
		free(resp->data);
	free(resp->ctype);
	resp->data = NULL;
	resp->ctype = NULL;
	resp->len = 0;
	resp->has_body = false;
	resp->is_static = false;
}

int http_resp_data(struct http_resp *resp, int status, const char *content_type,
		   const void *data, size_t len)
{
	void *copy = malloc(len ? len : 1);
	char *ct = strdup(content_type);

	if (!copy || !ct) {
		free(copy);
		free(ct);
		return -ENOMEM;
	}
	if (len)
		memcpy(copy, data, len);
	http_resp_clear_body(resp);
	resp->status = status;
	resp->data = copy;
	resp->len = len;
	resp->ctype = ct;
	resp->has_body = true;
	return 0;
}

int http_resp_static(struct http_resp *resp, int status, const char *content_type,
		     const void *data, size_t len)
{
	char *ct = strdup(content_type);

	if (!ct)
		return -ENOMEM;
	http_resp_clear_body(resp);
	resp->status = status;
	resp->data = (void *)data;
	resp->len = len;
	resp->ctype = ct;
	resp->is_static = true;
	resp->has_body = true;
	return 0;
}

int http_resp_reader(struct http_resp *resp, int status, const char *content_type,
		     uint64_t size, http_reader_fn read, void (*done)(void *ctx), void *ctx)
{
	char *ct = strdup(content_type);

	if (!ct) {
		if (done)
			done(ctx);
		return -ENOMEM;
	}
	http_resp_clear_body(resp);
	resp->status = status;
	resp->ctype = ct;
	resp->has_body = true;
	resp->reader = read;
	resp->reader_done = done;
	resp->reader_ctx = ctx;
	resp->reader_size = size;
	return 0;
}

int http_resp_json(struct http_resp *resp, int status, json_t *body)
{
	char *text;
	int r;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	r = http_resp_data(resp, status, "application/json", text, strlen(text));
	free(text);
	return r;
}

int http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return -EINVAL;
	if (resp->nheaders == sizeof(resp->headers) / sizeof(resp->headers[0]))
		return -ENOMEM;
	resp->headers[resp->nheaders].name = strdup(name);
	resp->headers[resp->nheaders].value = strdup(value);
	if (!resp->headers[resp->nheaders].name || !resp->headers[resp->nheaders].value) {
		free(resp->headers[resp->nheaders].name);
		free(resp->headers[resp->nheaders].value);
		return -ENOMEM;
	}
	resp->nheaders++;
	return 0;
}

void http_resp_status(struct http_resp *resp, int status)
{
	http_resp_clear_body(resp);
	resp->status = status;
	resp->has_body = true;   /* deliberately empty */
}

void http_resp_console(struct http_resp *resp, const char *cache_control)
{
	resp->console = true;
	snprintf(resp->cache_control, sizeof(resp->cache_control), "%s", cache_control);
}

static int http_error_body(struct http_resp *resp, int err, const char *field, const char *msg)
{
	json_t *e = json_pack("{s:s, s:s}", "code", err_name(err), "message", msg ? msg : err_str(err));
	int status = err_http_status(err);

	if (!e)
		return -ENOMEM;
	if (field && *field)
		json_object_set_new(e, "field", json_string(field));
	return http_resp_json(resp, status, json_pack("{s:o}", "error", e));
}

/* SCIM clients expect RFC 7644 section 3.12 error bodies, also for refused credentials. */
static int http_scim_error_body(struct http_resp *resp, int err)
{
	char status[8];
	json_t *body;
	char *text;
	int r;

	snprintf(status, sizeof(status), "%d", err_http_status(err));
	body = json_pack("{s:[s], s:s, s:s}", "schemas", "urn:ietf:params:scim:api:messages:2.0:Error",
			 "status", status, "detail", err_str(err));
	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	r = http_resp_data(resp, err_http_status(err), "application/scim+json", text, strlen(text));
	free(text);
	return r;
}

int http_fail(struct http_resp *resp, int err, const char *field, const char *fmt, ...)
{
	char msg[512];

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	http_error_body(resp, err, field, fmt ? msg : NULL);
	return err;
}

int http_fail_rerr(struct http_resp *resp, const struct rerr *e)
{
	return http_fail(resp, ERR_INVALID, e->field, "%s", e->message);
}

/* ---------------------------------------------------------------- requests */

void *http_req_app(struct http_req *r) { return r->s->app; }
enum http_method http_req_method(struct http_req *r) { return r->method; }
const char *http_req_path(struct http_req *r) { return r->path; }
const char *http_req_id(struct http_req *r) { return r->id; }
const char *http_req_remote(struct http_req *r) { return r->remote; }
bool http_req_is_tls(struct http_req *r) { return r->s->tls; }
const struct principal *http_req_principal(struct http_req *r) { return &r->p; }
const struct audit_ctx *http_req_audit_ctx(struct http_req *r) { return &r->actx; }
void *http_req_ctx(struct http_req *r) { return r->done_ctx; }

void http_req_on_done(struct http_req *r, void (*done)(void *ctx), void *ctx)
{
	r->done = done;
	r->done_ctx = ctx;
}

const char *http_req_param(struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++) {
		const char *n = r->params[i].name;

		if (!n)
			continue;
		size_t len = strlen(name);

		/* stored as the pattern segment: "{name}" or "{*rest}" */
		if (n[0] == '{' && n[1] == '*')
			n++;
		if (strncmp(n + 1, name, len) == 0 && n[1 + len] == '}' && n[2 + len] == '\0')
			return r->params[i].value;
	}
	return NULL;
}

const char *http_req_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_cookie(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *http_req_body(struct http_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

int http_req_json(struct http_req *r, json_t **ret, struct rerr *e)
{
	int rc;

	if (!r->json) {
		rc = jsonx_parse_object(r->body.data ? r->body.data : "", r->body.len,
					JSONX_MAX_DEPTH, &r->json, e);
		if (rc < 0)
			return rc;
	}
	*ret = r->json;
	return 0;
}

int http_req_page(struct http_req *r, int64_t def, int64_t max, int64_t *ret_limit,
		  const char **ret_cursor, struct rerr *e)
{
	const char *l = http_req_query(r, "limit");
	const char *c = http_req_query(r, "cursor");
	int64_t v = def;

	if (l && str_parse_i64(l, 1, max, &v) < 0)
		return jsonx_fail(e, "limit", "limit must be a whole number from 1 to %lld", (long long)max);
	if (c && (strlen(c) == 0 || strlen(c) > 200))
		return jsonx_fail(e, "cursor", "cursor is not valid");
	*ret_limit = v;
	*ret_cursor = c;
	return 0;
}

static struct http_req *http_req_new(struct http_server *s, struct MHD_Connection *conn,
				     const char *url, const char *method)
{
	struct http_req *r = calloc(1, sizeof(*r));
	const union MHD_ConnectionInfo *ci;
	unsigned char rnd[8];

	if (!r)
		return NULL;
	r->s = s;
	r->conn = conn;
	r->start_ns = rtime_mono_ns();
	r->method = http_parse_method(method);
	r->path = strndup(url, HTTP_MAX_PATH + 1);
	if (!r->path) {
		free(r);
		return NULL;
	}
	buf_init(&r->body, 1);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(r->id, sizeof(r->id), rnd, sizeof(rnd));
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->remote, sizeof(r->remote));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->remote, sizeof(r->remote));
	}
	if (!r->remote[0])
		snprintf(r->remote, sizeof(r->remote), "unknown");
	r->actx = (struct audit_ctx){ .principal = &r->p, .source = r->remote, .request_id = r->id };
	return r;
}

static void http_resp_free(struct http_resp *resp);

static void http_req_free(struct http_req *r)
{
	http_resp_free(&r->sresp);
	if (r->done)
		r->done(r->done_ctx);
	for (size_t i = 0; i < r->nparams; i++)
		free(r->params[i].value);
	buf_done(&r->body);
	json_decref(r->json);
	free(r->path);
	sodium_memzero(&r->p, sizeof(r->p));
	free(r);
}

static bool http_ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool http_path_is_sane(const char *p)
{
	if (p[0] != '/' || strlen(p) > HTTP_MAX_PATH)
		return false;
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
		return false;
	{
		size_t n = strlen(p);

		if ((n >= 3 && strcmp(p + n - 3, "/..") == 0) || (n >= 2 && strcmp(p + n - 2, "/.") == 0))
			return false;
	}
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

struct http_reader {
	http_reader_fn read;
	void (*done)(void *ctx);
	void *ctx;
};

static ssize_t http_reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_reader *rd = cls;
	long n = rd->read(rd->ctx, buf, max);

	(void)pos;   /* the reader is sequential: MHD asks for each byte once */
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void http_reader_free(void *cls)
{
	struct http_reader *rd = cls;

	if (rd->done)
		rd->done(rd->ctx);
	free(rd);
}

/* Hands the reader of @resp to a new MHD response, which owns it from then on. */
static struct MHD_Response *http_reader_response(struct http_resp *resp)
{
	struct http_reader *rd = malloc(sizeof(*rd));
	struct MHD_Response *mr;

	if (!rd)
		return NULL;
	*rd = (struct http_reader){ resp->reader, resp->reader_done, resp->reader_ctx };
	resp->reader = NULL;
	resp->reader_done = NULL;
	resp->reader_ctx = NULL;
	mr = MHD_create_response_from_callback(resp->reader_size, 64 * 1024, http_reader_cb, rd,
					       http_reader_free);
	if (!mr)
		http_reader_free(rd);
	return mr;
}

static enum MHD_Result http_send(struct http_req *r, struct http_resp *resp)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	int64_t dur_ns;
	double secs;
	size_t slot;
	char qroute[160];

	if (!resp->has_body)
		http_error_body(resp, ERR_INTERNAL, NULL, NULL);
	if (resp->reader)
		mr = http_reader_response(resp);
	else if (resp->is_static)
		mr = MHD_create_response_from_buffer(resp->len, resp->data, MHD_RESPMEM_PERSISTENT);
	else
		mr = MHD_create_response_from_buffer(resp->len, resp->data ? resp->data : (void *)"",
						     MHD_RESPMEM_MUST_COPY);
	if (!mr)
		return MHD_NO;
	if (resp->ctype)
		MHD_add_response_header(mr, "Content-Type", resp->ctype);
	MHD_add_response_header(mr, "X-Request-Id", r->id);
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(mr, "X-Frame-Options", "DENY");
	MHD_add_response_header(mr, "Cross-Origin-Opener-Policy", "same-origin");
	if (resp->console) {
		MHD_add_response_header(mr, "Content-Security-Policy",
			"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
			"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
			"frame-ancestors 'none'");
		MHD_add_response_header(mr, "Cache-Control", resp->cache_control[0] ? resp->cache_control : "no-cache");
	} else {
		MHD_add_response_header(mr, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
		MHD_add_response_header(mr, "Cache-Control", "no-store");
	}
	if (r->s->tls)
		MHD_add_response_header(mr, "Strict-Transport-Security", "max-age=31536000");
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
	ret = MHD_queue_response(r->conn, (unsigned)resp->status, mr);
	MHD_destroy_response(mr);

	dur_ns = rtime_mono_ns() - r->start_ns;
	secs = (double)dur_ns / 1e9;
	slot = http_status_slot(resp->status);
	if (r->route)
		atomic_fetch_add(&r->route->counts[slot], 1);
	else
		atomic_fetch_add(&r->s->unmatched[slot], 1);
	{
		size_t b = 0;

		while (b < HTTP_NBUCKETS && secs > http_buckets[b])
			b++;
		atomic_fetch_add(&r->s->lat_buckets[b], 1);
		atomic_fetch_add(&r->s->lat_count, 1);
		atomic_fetch_add(&r->s->lat_sum_us, (uint64_t)(dur_ns / 1000));
	}
	log_write(resp->status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO, "request",
		  "method=%s route=%s status=%d dur_ms=%.3f remote=%s", http_method_name(r->method),
		  log_quote(qroute, sizeof(qroute), r->route ? r->route->pattern : "unmatched"),
		  resp->status, (double)dur_ns / 1e6, r->remote);
	return ret;
}

static void http_resp_free(struct http_resp *resp)
{
	http_resp_clear_body(resp);
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->nheaders = 0;   /* a streaming request's response is freed again with it */
}

static enum MHD_Result http_answer_error(struct http_req *r, int err, unsigned allow)
{
	struct http_resp resp = { 0 };
	enum MHD_Result ret;

	log_set_request_id(r->id);
	http_error_body(&resp, err, NULL, NULL);
	if (err == ERR_METHOD && allow) {
		char a[64] = "";
		size_t o = 0;

		for (unsigned m = HTTP_GET; m <= HTTP_DELETE; m <<= 1)
			if (allow & m)
				o += (size_t)snprintf(a + o, sizeof(a) - o, "%s%s", o ? ", " : "", http_method_name(m));
		http_resp_header(&resp, "Allow", a);
	}
	if (err == ERR_RATE_LIMITED)
		http_resp_header(&resp, "Retry-After", "60");
	ret = http_send(r, &resp);
	http_resp_free(&resp);
	log_set_request_id(NULL);
	return ret;
}

static int http_authenticate(struct http_req *r)
{
	int rc = 0;

	if (r->s->authn) {
		rc = r->s->authn(r, r->route->flags, &r->p);
		if (rc == 0 && r->p.must_change_password && !(r->route->flags & HTTP_PWCHANGE_OK))
			rc = ERR_PASSWORD_CHANGE;
	}
	return rc;
}

/* Sends @resp, or the error body for @rc when the handler wrote none, and frees it. */
static enum MHD_Result http_finish(struct http_req *r, struct http_resp *resp, int rc)
{
	enum MHD_Result ret;

	if (rc < 0 && !resp->has_body) {
		if (r->route->flags & HTTP_AUTH_SCIM)
			http_scim_error_body(resp, rc);
		else
			http_error_body(resp, rc, NULL, NULL);
	}
	if (resp->status == 401)
		http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"rampart\"");
	ret = http_send(r, resp);
	http_resp_free(resp);
	log_set_request_id(NULL);
	return ret;
}

/* A streaming route's first call: authenticate, then let the callback accept or refuse. */
static int http_stream_begin(struct http_req *r)
{
	int rc;

	log_set_request_id(r->id);
	rc = http_authenticate(r);
	if (rc == 0)
		rc = r->route->upload(r, &r->sresp, HTTP_UPLOAD_BEGIN, NULL, 0);
	log_set_request_id(NULL);
	return rc;
}

static void http_stream_feed(struct http_req *r, enum http_upload_phase phase, const char *data,
			     size_t len)
{
	int rc;

	log_set_request_id(r->id);
	rc = r->route->upload(r, &r->sresp, phase, data, len);
	log_set_request_id(NULL);
	if (rc < 0)
		r->stream_err = rc;
}

static enum MHD_Result http_stream_dispatch(struct http_req *r)
{
	int rc = r->stream_err;

	log_set_request_id(r->id);
	if (rc == 0)
		rc = r->route->fn(r, &r->sresp);
	return http_finish(r, &r->sresp, rc);
}

static enum MHD_Result http_dispatch(struct http_req *r)
{
	struct http_resp resp = { 0 };
	int rc;

	log_set_request_id(r->id);
	rc = http_authenticate(r);
	if (rc == 0 && r->body.len > 0 && (r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH))) {
		const char *ct = http_req_header(r, "Content-Type");
		unsigned f = r->route->flags;

		if ((f & HTTP_BODY_CSV) ? !http_ctype_is(ct, "text/csv")
		    : (f & HTTP_BODY_SCIM) ? !(http_ctype_is(ct, "application/scim+json") ||
					       http_ctype_is(ct, "application/json"))
		    : !http_ctype_is(ct, "application/json"))
			rc = http_fail(&resp, ERR_UNSUPPORTED, NULL, "Content-Type must be %s",
				       (f & HTTP_BODY_CSV) ? "text/csv" : "application/json");
	}
	if (rc == 0)
		rc = r->route->fn(r, &resp);
	return http_finish(r, &resp, rc);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;

	if (!r) {
		unsigned allow = 0;
		int err = 0;
		const char *cl;

		r = http_req_new(s, conn, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&s->inflight, 1);
		if (!r->method)
			r->early_err = ERR_METHOD;
		else if (!http_path_is_sane(r->path))
			r->early_err = ERR_INVALID;
		else if (!http_rate_allow(s, r->remote))
			r->early_err = ERR_RATE_LIMITED;
		else if (!(r->route = http_match(s, r, &allow, &err)))
			r->early_err = err;
		if (r->route && (r->route->flags & HTTP_BODY_STREAM))
			r->body_limit = SIZE_MAX;   /* the upload callback enforces its own */
		else if (r->route)
			r->body_limit = (r->route->flags & HTTP_BODY_CSV) ? s->lim.max_import : s->lim.max_body;
		r->body.limit = r->body_limit ? r->body_limit : 1;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (!r->early_err && cl) {
			int64_t n;

			if (str_parse_i64(cl, 0, INT64_MAX, &n) < 0)
				r->early_err = ERR_INVALID;
			else if ((uint64_t)n > r->body_limit)
				r->early_err = ERR_TOO_LARGE;
		}
		if (r->early_err) {
			/* Answer before reading a body we would refuse anyway. */
			r->dispatched = true;
			return http_answer_error(r, r->early_err, allow);
		}
		if (r->route->flags & HTTP_BODY_STREAM) {
			int rc = http_stream_begin(r);

			if (rc < 0) {
				r->dispatched = true;
				log_set_request_id(r->id);
				return http_finish(r, &r->sresp, rc);
			}
		}
		return MHD_YES;
	}
	if (r->dispatched) {
		*upload_data_size = 0;   /* discard what follows a refusal */
		return MHD_YES;
	}
	if (*upload_data_size && (r->route->flags & HTTP_BODY_STREAM)) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->stream_err) {
			r->discarded += n;
			return r->discarded > HTTP_MAX_DISCARD ? MHD_NO : MHD_YES;
		}
		http_stream_feed(r, HTTP_UPLOAD_DATA, upload_data, n);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->early_err) {
			/*
			 * Over the limit (chunked bodies have no Content-Length): the
			 * rest is discarded so that the client can read the 413, but
			 * only up to a bound, after which the connection is closed.
			 */
			r->discarded += n;
			return r->discarded > HTTP_MAX_DISCARD ? MHD_NO : MHD_YES;
		}
		if (buf_append(&r->body, upload_data, n) < 0) {
			r->early_err = ERR_TOO_LARGE;
			buf_done(&r->body);
		}
		return MHD_YES;
	}
	r->dispatched = true;
	if (r->early_err)
		return http_answer_error(r, r->early_err, 0);
	if (r->route->flags & HTTP_BODY_STREAM) {
		if (!r->stream_err)
			http_stream_feed(r, HTTP_UPLOAD_END, NULL, 0);
		return http_stream_dispatch(r);
	}
	return http_dispatch(r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;

	if (!r)
		return;
	http_req_free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

/* A printf-style callback: the attribute lets clang's -Wformat-nonliteral accept vsnprintf. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: libmicrohttpd", "detail=\"%s\"", msg);
}

/*
 * Percent-decoding for paths and query values.  libmicrohttpd's own decoder
 * turns "%00" into a NUL that silently cuts the string; here every decoded
 * control byte becomes 0x01 instead, which the path check and the field
 * validators refuse, so "/a%00.js" can never be mistaken for "/a".
 */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;

	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hex[3] = { p[1], p[2], '\0' };

			c = (unsigned char)strtoul(hex, NULL, 16);
			p += 2;
		}
		if (c < 0x20 || c == 0x7f)
			c = 0x01;
		*w++ = (char)c;
	}
	*w = '\0';
	return (size_t)(w - s);
}

static int http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128], *port;
	struct addrinfo hints = { 0 }, *ai = NULL;
	const char *colon;

	if (str_copy(host, sizeof(host), listen) < 0)
		return ERR_INVALID;
	if (host[0] == '[') {
		char *end = strchr(host, ']');

		if (!end || end[1] != ':')
			return ERR_INVALID;
		*end = '\0';
		port = end + 2;
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else {
		colon = strrchr(host, ':');
		if (!colon)
			return ERR_INVALID;
		port = host + (colon - host);
		*port++ = '\0';
	}
	{
		int64_t p;

		if (str_parse_i64(port, 0, 65535, &p) < 0)
			return ERR_INVALID;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return ERR_INVALID;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int http_server_bind(struct http_server *s, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, r;

	if (s->listen_fd >= 0)
		return -EALREADY;
	r = http_parse_listen(addr, &ss, &sl);
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 512) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	s->listen_fd = fd;
	s->ipv6 = ss.ss_family == AF_INET6;
	return 0;
}

int http_server_start(struct http_server *s, const struct http_tls *tls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	unsigned threads = s->lim.threads;

	if (s->listen_fd < 0)
		return -EBADF;
	if (s->ipv6)
		flags |= MHD_USE_IPv6;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 2;
	}
	if (tls && tls->cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return -ENOTSUP;
		flags |= MHD_USE_TLS;
		s->tls = true;
	}
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, s->lim.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
		MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
		s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, s->tls ? tls->key_pem : NULL,
		MHD_OPTION_HTTPS_MEM_CERT, s->tls ? tls->cert_pem : NULL,
		MHD_OPTION_END);
	if (!s->d)
		return -EIO;
	/* The daemon owns the socket now and closes it when stopped. */
	s->listen_fd = -1;
	return 0;
}

unsigned http_server_port(struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s, unsigned grace_ms)
{
	MHD_socket fd;
	unsigned waited = 0;

	if (!s->d)
		return;
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&s->inflight) > 0 && waited < grace_ms) {
		usleep(10000);
		waited += 10;
	}
	MHD_stop_daemon(s->d);
	s->d = NULL;
}

void http_server_metrics(struct http_server *s, struct buf *out)
{
	uint64_t cum = 0;

	buf_puts(out, "# HELP rampart_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE rampart_http_requests_total counter\n");
	for (size_t i = 0; i <= s->nroutes; i++) {
		atomic_uint_fast64_t *counts = i < s->nroutes ? s->routes[i]->counts : s->unmatched;
		const char *pat = i < s->nroutes ? s->routes[i]->pattern : "unmatched";

		for (size_t k = 0; k < HTTP_NSTATUS; k++) {
			uint64_t v = atomic_load(&counts[k]);

			if (!v)
				continue;
			if (http_statuses[k])
				buf_printf(out, "rampart_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					   pat, http_statuses[k], (unsigned long long)v);
			else
				buf_printf(out, "rampart_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					   pat, (unsigned long long)v);
		}
	}
	buf_puts(out, "# HELP rampart_http_request_duration_seconds Time to answer a request.\n"
		      "# TYPE rampart_http_request_duration_seconds histogram\n");
	for (size_t b = 0; b < HTTP_NBUCKETS; b++) {
		cum += atomic_load(&s->lat_buckets[b]);
		buf_printf(out, "rampart_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			   http_buckets[b], (unsigned long long)cum);
	}
	cum += atomic_load(&s->lat_buckets[HTTP_NBUCKETS]);
	buf_printf(out, "rampart_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		   (unsigned long long)cum);
	buf_printf(out, "rampart_http_request_duration_seconds_sum %.6f\n",
		   (double)atomic_load(&s->lat_sum_us) / 1e6);
	buf_printf(out, "rampart_http_request_duration_seconds_count %llu\n",
		   (unsigned long long)atomic_load(&s->lat_count));
	buf_printf(out, "# HELP rampart_http_requests_in_flight Requests being answered.\n"
			"# TYPE rampart_http_requests_in_flight gauge\nrampart_http_requests_in_flight %d\n",
		   atomic_load(&s->inflight));
}
