/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * request: the request object handlers see.  Headers, cookies and query
 * values come from libmicrohttpd (already decoded by http_path_unescape);
 * the body is buffered up to the route's limit (limits.c) and parsed as
 * JSON once, on first use.  Everything returned is borrowed and lives as
 * long as the request.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http_internal.h"

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
	return http_params_find(r->params, r->nparams, name);
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

/* Writes the client address of @conn (no port) into @out, or "unknown". */
static void http_conn_remote(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
	}
	if (!out[0])
		snprintf(out, size, "unknown");
}

struct http_req *http_req_new(struct http_server *s, struct MHD_Connection *conn,
			      const char *url, const char *method)
{
	struct http_req *r = calloc(1, sizeof(*r));
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
	http_conn_remote(conn, r->remote, sizeof(r->remote));
	r->actx = (struct audit_ctx){ .principal = &r->p, .source = r->remote, .request_id = r->id };
	return r;
}

void http_req_free(struct http_req *r)
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
