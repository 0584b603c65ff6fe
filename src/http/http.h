/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http: rampartd's HTTP layer on libmicrohttpd.
 *
 * It owns the listening socket, the worker thread pool, routing with path
 * parameters, request framing and body limits, the client address (the
 * peer's, or the one a trusted proxy forwards), per-client rate and
 * connection limits, the deadline for request heads, request ids, security
 * headers, the JSON error model, and metrics.  Authentication is a
 * hook (http_server_set_authenticator) so that this layer does not depend on
 * identity; domains register handlers with http_route().
 *
 * A handler fills the response and returns 0, or returns a negative error:
 * if it did not set a body, a JSON error body for that code is written.
 * Handlers run on pool threads, one request per thread at a time.
 */
#ifndef RAMPART_HTTP_H
#define RAMPART_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonx.h"
#include "http/principal.h"

struct http_server;
struct http_req;
struct http_resp;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_PATCH = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_HEAD = 1 << 5,
};

enum http_route_flags {
	/* Authentication (exactly one). */
	HTTP_AUTH_USER = 0,             /* session or API token (default) */
	HTTP_AUTH_NONE = 1 << 0,        /* public */
	HTTP_AUTH_SCIM = 1 << 1,        /* SCIM token only */
	HTTP_AUTH_OPTIONAL = 1 << 2,    /* principal filled when credentials are sent */
	/*
	 * Ed25519-signed device request (formats/devsig.h): the authenticator
	 * leaves the principal anonymous and the handler verifies the signature.
	 */
	HTTP_AUTH_DEVICE = 1 << 3,
	/* Body (default: JSON for POST/PUT/PATCH, none otherwise). */
	HTTP_BODY_CSV = 1 << 4,         /* text/csv, up to the import limit */
	HTTP_BODY_SCIM = 1 << 5,        /* application/scim+json or application/json */
	HTTP_BODY_STREAM = 1 << 6,      /* any type, streamed to an upload callback (http_route_stream) */
	/* Reachable while the password must be changed. */
	HTTP_PWCHANGE_OK = 1 << 8,
	/* Not listed in the API document (console assets). */
	HTTP_UNDOCUMENTED = 1 << 9,
};

typedef int (*http_handler_fn)(struct http_req *req, struct http_resp *resp);

/*
 * Authenticates @req for a route with @flags, filling @p.  Returns 0, or an
 * error (ERR_UNAUTHENTICATED, ERR_CSRF, ERR_FORBIDDEN...) that the layer
 * answers with.  For HTTP_AUTH_OPTIONAL a missing credential is not an error.
 */
typedef int (*http_authn_fn)(struct http_req *req, unsigned flags, struct principal *p);

struct http_limits {
	size_t max_body;          /* JSON bodies */
	size_t max_import;        /* CSV bodies */
	unsigned max_connections;
	unsigned rate_per_minute; /* 0: unlimited */
	unsigned threads;
	unsigned max_per_client;  /* connections per socket peer address (trusted proxies exempt); 0: no limit */
	unsigned header_timeout_s; /* to receive a request's head, from connect or the previous answer; 0: none */
};

struct http_tls {
	char *cert_pem;   /* owned by caller, NUL-terminated; NULL for plain HTTP */
	char *key_pem;
};

/* Creates a server with routes to be added; @app is handed to handlers. */
struct http_server *http_server_new(void *app, const struct http_limits *limits);

/* Frees a stopped server; accepts NULL. */
void http_server_free(struct http_server *s);

void http_server_set_authenticator(struct http_server *s, http_authn_fn fn);

/*
 * Adds a route.  @pattern is a path with "{name}" segments, e.g.
 * "/api/v1/people/{id}".  A pattern ending in "/{*rest}" matches any suffix.
 * Returns 0 or -ENOMEM/-EINVAL.
 */
int http_route(struct http_server *s, unsigned methods, const char *pattern,
	       http_handler_fn fn, unsigned flags);

/*
 * Streaming request bodies (HTTP_BODY_STREAM, set by http_route_stream).
 * The body is never buffered: the route's upload callback sees it chunk by
 * chunk, on the pool thread that owns the request, in this order:
 *   HTTP_UPLOAD_BEGIN  once, as soon as the headers are in and the request is
 *                      authenticated (data NULL, len 0); an error here is
 *                      answered at once and the body is not read;
 *   HTTP_UPLOAD_DATA   for each chunk as it arrives (len > 0);
 *   HTTP_UPLOAD_END    once the whole body is in (data NULL, len 0).
 * Then the route's handler runs with the same @resp.  The callback enforces
 * its own size limits while streaming (return ERR_TOO_LARGE).  After an error
 * from DATA or END no more chunks are delivered: the rest of the body is
 * discarded (the connection is closed past 16 MiB) and the error is answered,
 * with the body the callback wrote into @resp if it wrote one.  The
 * Content-Length check of other routes does not apply.  Use http_req_on_done
 * to undo what an interrupted upload left behind.
 */
enum http_upload_phase { HTTP_UPLOAD_BEGIN, HTTP_UPLOAD_DATA, HTTP_UPLOAD_END };

typedef int (*http_upload_fn)(struct http_req *req, struct http_resp *resp,
			      enum http_upload_phase phase, const char *data, size_t len);

/* http_route with HTTP_BODY_STREAM and @upload.  Returns 0 or -ENOMEM/-EINVAL. */
int http_route_stream(struct http_server *s, unsigned methods, const char *pattern,
		      http_handler_fn fn, http_upload_fn upload, unsigned flags);

/* Calls @cb for every documented route (method name, pattern). */
void http_routes_foreach(struct http_server *s,
			 void (*cb)(const char *method, const char *pattern, void *ud), void *ud);

/*
 * Trusts the reverse proxies in @list: IPv4 and IPv6 addresses and CIDR
 * ranges separated by commas ("10.0.0.0/8, ::1").  For a request whose
 * socket peer is one of them, http_req_remote() and the audit context
 * name the client address the proxy forwards in X-Forwarded-For (or, when
 * the request has none, Forwarded), walking the hops from the right past
 * the trusted ones; a malformed header leaves the peer's address (logged
 * at debug).  Other peers' headers are ignored.  An empty list trusts
 * nobody (the default).  Call before http_server_start.  Returns 0, or
 * ERR_INVALID with @e naming the bad entry (the list is then unchanged).
 */
int http_server_set_trusted_proxies(struct http_server *s, const char *list, struct rerr *e);

/*
 * Binds and listens on @listen ("127.0.0.1:8080", "[::1]:0"); with port 0
 * the kernel picks one, which http_server_port() tells from then on.
 * Returns 0, -errno, or ERR_INVALID for a bad address.
 */
int http_server_bind(struct http_server *s, const char *listen);

/* Starts the worker pool on the bound socket.  Returns 0, -EBADF (not bound), -ENOTSUP (no TLS) or -EIO. */
int http_server_start(struct http_server *s, const struct http_tls *tls);
unsigned http_server_port(struct http_server *s);

/* Stops accepting, lets in-flight requests finish (up to @grace_ms), then stops. */
void http_server_stop(struct http_server *s, unsigned grace_ms);

/* Appends Prometheus text for the layer's metrics to @out. */
struct buf;
void http_server_metrics(struct http_server *s, struct buf *out);

/* --- requests --- */
void *http_req_app(struct http_req *r);
enum http_method http_req_method(struct http_req *r);
const char *http_req_path(struct http_req *r);
const char *http_req_id(struct http_req *r);
/*
 * Client address as text (no port): the socket peer's, or the address a
 * trusted proxy forwards (http_server_set_trusted_proxies).  Lockout, rate
 * limits and the audit log all use this one.
 */
const char *http_req_remote(struct http_req *r);
/* Path parameter captured by "{name}", or NULL. */
const char *http_req_param(struct http_req *r, const char *name);
/* Query-string value (decoded), or NULL. */
const char *http_req_query(struct http_req *r, const char *name);
/* Header value, or NULL. */
const char *http_req_header(struct http_req *r, const char *name);
/* Cookie value, or NULL. */
const char *http_req_cookie(struct http_req *r, const char *name);
/* Raw body (NUL-terminated, @len without it). */
const char *http_req_body(struct http_req *r, size_t *len);
/* The body parsed as a JSON object (borrowed; owned by the request). Returns 0 or ERR_INVALID with @e. */
int http_req_json(struct http_req *r, json_t **ret, struct rerr *e);
bool http_req_is_tls(struct http_req *r);
/* Authenticated principal (never NULL; via == VIA_NONE when anonymous). */
const struct principal *http_req_principal(struct http_req *r);

/*
 * The request's audit context (principal.h): its principal, client address
 * and id, valid for the request's lifetime.  Never NULL.
 */
const struct audit_ctx *http_req_audit_ctx(struct http_req *r);

/*
 * Per-request state of a domain: @done (may be NULL) is called exactly once
 * with @ctx when the request ends, answered or not (client gone, timeout,
 * shutdown), after the response is over.  Replaces an earlier pair without
 * calling it.  Streaming routes keep their upload state here.
 */
void http_req_on_done(struct http_req *r, void (*done)(void *ctx), void *ctx);
/* The @ctx given to http_req_on_done, or NULL. */
void *http_req_ctx(struct http_req *r);

/*
 * Reads ?limit= and ?cursor=.  limit defaults to @def and may not exceed
 * @max; cursor is returned borrowed (NULL when absent).  Returns 0 or ERR_INVALID.
 */
int http_req_page(struct http_req *r, int64_t def, int64_t max, int64_t *ret_limit,
		  const char **ret_cursor, struct rerr *e);

/* --- responses --- */
/* Sets a JSON body (reference stolen, NULL means -ENOMEM) and status. Returns 0 or -ENOMEM. */
int http_resp_json(struct http_resp *resp, int status, json_t *body);

/* http_resp_json with another JSON media type (SCIM's application/scim+json). */
int http_resp_json_as(struct http_resp *resp, int status, const char *ctype, json_t *body);
/* Sets a body of @len bytes with @content_type (copied). */
int http_resp_data(struct http_resp *resp, int status, const char *content_type,
		   const void *data, size_t len);
/* A static body not to be copied (must outlive the server). */
int http_resp_static(struct http_resp *resp, int status, const char *content_type,
		     const void *data, size_t len);
/*
 * Streams a body of @size bytes that @read produces as the client takes it:
 * @read fills up to @max bytes at @buf and returns how many (> 0), 0 at the
 * end, or a negative error, which closes the connection (the status line is
 * already sent).  It runs on a pool thread, one call at a time, after the
 * handler returned.  @done (may be NULL) is called exactly once with @ctx
 * when the response is over, sent or not: it owns @ctx from this call on,
 * even when this call fails.  Memory stays flat whatever @size is.
 * Returns 0 or -ENOMEM.
 */
typedef long (*http_reader_fn)(void *ctx, char *buf, size_t max);
int http_resp_reader(struct http_resp *resp, int status, const char *content_type,
		     uint64_t size, http_reader_fn read, void (*done)(void *ctx), void *ctx);
/* Adds a header (copied).  Returns 0 or -ENOMEM / -EINVAL for CR/LF. */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Status with an empty body. */
void http_resp_status(struct http_resp *resp, int status);
/*
 * Writes the API error body for @err, with an optional @field and message,
 * and returns @err so that handlers can "return http_fail(...)".
 */
int http_fail(struct http_resp *resp, int err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* http_fail with @e's message and field (ERR_INVALID). */
int http_fail_rerr(struct http_resp *resp, const struct rerr *e);
/* Marks the response as the console's (console CSP and caching instead of the API's). */
void http_resp_console(struct http_resp *resp, const char *cache_control);

/* Method name ("GET") for one bit. */
const char *http_method_name(enum http_method m);

#endif
