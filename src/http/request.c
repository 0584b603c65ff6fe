/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * request: the request object handlers see.  Headers, cookies and query
 * values come from libmicrohttpd (already decoded by http_path_unescape);
 * the body is buffered up to the route's limit (limits.c) and parsed as
 * JSON once, on first use.  Everything returned is borrowed and lives as
 * long as the request.  The client address is settled when the request
 * starts: the socket peer's, or the one a trusted proxy forwards (proxy.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/jsonx.h"
#include "common/log.h"
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

/* The socket peer of @conn.  Returns false when it has no IP address. */
static bool http_conn_peer(struct MHD_Connection *conn, struct http_addr *ret)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci && http_addr_from_sockaddr(ci->client_addr, ret);
}

/* The values of every @name header line of a request, the last HTTP_MAX_FWD_LINES of them. */
struct http_lines {
	const char *name;
	const char *v[HTTP_MAX_FWD_LINES];
	size_t n;   /* lines seen, maybe more than kept */
};

static enum MHD_Result http_lines_add(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct http_lines *l = cls;

	(void)kind;
	if (value && strcasecmp(key, l->name) == 0)
		l->v[l->n++ % HTTP_MAX_FWD_LINES] = value;
	return MHD_YES;
}

/* Collects the @name lines of @conn into @l in order; returns how many were kept. */
static size_t http_lines_collect(struct MHD_Connection *conn, const char *name, struct http_lines *l,
				 const char **ordered)
{
	size_t kept;

	l->name = name;
	l->n = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_lines_add, l);
	kept = l->n < HTTP_MAX_FWD_LINES ? l->n : HTTP_MAX_FWD_LINES;
	for (size_t i = 0; i < kept; i++)
		ordered[i] = l->v[(l->n - kept + i) % HTTP_MAX_FWD_LINES];
	return kept;
}

/*
 * Sets @r's peer and client address: the peer's, or, when the peer is a
 * trusted proxy, the one it forwards (X-Forwarded-For first, else Forwarded).
 */
static void http_req_client(struct http_req *r)
{
	struct http_addr peer, client;
	struct http_lines l;
	const char *lines[HTTP_MAX_FWD_LINES];
	enum http_fwd_kind kind = HTTP_FWD_XFF;
	struct rerr e;
	size_t n;

	if (!http_conn_peer(r->conn, &peer)) {
		snprintf(r->peer, sizeof(r->peer), "unknown");
		snprintf(r->remote, sizeof(r->remote), "unknown");
		return;
	}
	http_addr_format(&peer, r->peer, sizeof(r->peer));
	client = peer;
	if (r->s->proxies.n && http_proxies_contain(&r->s->proxies, &peer)) {
		n = http_lines_collect(r->conn, "X-Forwarded-For", &l, lines);
		if (!n) {
			kind = HTTP_FWD_FORWARDED;
			n = http_lines_collect(r->conn, "Forwarded", &l, lines);
		}
		if (n && http_forwarded_client(&r->s->proxies, kind, lines, n, &client, &e) < 0) {
			log_debug("http: forwarding header not used", "peer=%s header=%s reason=\"%s\"",
				  r->peer, kind == HTTP_FWD_XFF ? "X-Forwarded-For" : "Forwarded", e.message);
			client = peer;
		}
	}
	http_addr_format(&client, r->remote, sizeof(r->remote));
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
	http_req_client(r);
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
