/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http_internal: what the files of src/http/ share and nothing outside it
 * may include (tests and fuzz targets of this folder excepted).
 *
 * The HTTP layer is split by concern:
 *   path.c      pure string work on paths: percent-decoding, sanity, splitting
 *   proxy.c     trusted proxies and the client address they forward (pure)
 *   router.c    the route table, method names, matching with path parameters
 *   request.c   the request object: accessors, headers, query, body, JSON, paging
 *   response.c  the response object and the JSON and SCIM error bodies
 *   limits.c    what a client may send: rate limit, framing, body limits, Content-Type
 *   conn.c      what a connection may hold: connections per address, header deadline
 *   metrics.c   per-route status counters, the latency histogram, /metrics text
 *   mhd.c       libmicrohttpd's per-request callbacks: dispatch and sending
 *   server.c    the server's lifecycle: create, bind, start, stop, free
 *
 * Invariants: a request's body never exceeds its route's limit in memory;
 * every response carries X-Request-Id and the security headers; access log
 * lines name the route pattern, never the raw path, because paths such as
 * /x/{token} carry secrets.
 */
#ifndef RAMPART_HTTP_INTERNAL_H
#define RAMPART_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "http/http.h"
#include "http/path.h"
#include "http/proxy.h"

/* The rate table: HTTP_RATE_SETS sets of HTTP_RATE_WAYS counters (limits.c). */
#define HTTP_RATE_SETS 1024
#define HTTP_RATE_WAYS 8
#define HTTP_RATE_KEY_BYTES 16
#define HTTP_MAX_DISCARD ((size_t)16 << 20)

/* Sizes of metrics.c's status and latency tables (checked there). */
#define HTTP_NSTATUS 17
#define HTTP_NBUCKETS 13
/* Methods counted apart: GET, POST, PUT, PATCH, DELETE, HEAD (enum http_method's bits). */
#define HTTP_NMETHODS 6

struct route {
	unsigned methods;
	char *pattern;
	char *segs[HTTP_MAX_SEGS];
	size_t nsegs;
	bool wildcard;
	http_handler_fn fn;
	http_upload_fn upload;
	unsigned flags;
	atomic_uint_fast64_t counts[HTTP_NMETHODS][HTTP_NSTATUS];   /* by method bit, then status */
};

struct rate_slot {
	char addr[64];           /* "" when never used */
	int64_t window;          /* minutes since the epoch */
	unsigned count;
};

struct rate_set {
	struct rate_slot ways[HTTP_RATE_WAYS];
	int64_t overflow_window;
	unsigned overflow;       /* shared by the addresses that found no free way */
};

/* Connection tracking (conn.c); the lock guards the list and the counts. */
struct http_conn;
struct http_peer;
struct http_conns {
	pthread_mutex_t lock;
	pthread_cond_t wake;             /* the sweeper's: a deadline was added, or stop */
	pthread_t sweeper;
	bool running, stop;
	struct http_conn *head, *tail;   /* waiting for a request head, by deadline */
	struct http_peer **buckets;      /* connections per peer address */
	size_t nbuckets;                 /* a power of two */
	unsigned char key[16];           /* SipHash key of the buckets */
	unsigned live;                   /* tracked connections not shut down */
	atomic_uint_fast64_t refused;    /* over max_per_client */
	atomic_uint_fast64_t header_timeouts;
	atomic_uint_fast64_t evicted;    /* closed to make room */
	atomic_int open;                 /* tracked connections */
};

struct http_server {
	void *app;
	struct http_limits lim;
	struct MHD_Daemon *d;
	struct route **routes;
	size_t nroutes;
	http_authn_fn authn;
	struct http_proxies proxies;   /* peers whose forwarding headers are read */
	struct http_conns conns;
	unsigned port;
	int listen_fd;
	bool ipv6;
	bool tls;
	atomic_int inflight;
	atomic_bool draining;      /* stopping: new requests are refused with 503 and closed */
	pthread_mutex_t rate_lock;
	struct rate_set *rate;   /* HTTP_RATE_SETS */
	unsigned char rate_key[HTTP_RATE_KEY_BYTES];
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

/* A captured path parameter: @name is the pattern segment ("{id}", "{*rest}"). */
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
	char remote[64];           /* the client: the peer, or whom a trusted proxy names */
	char peer[64];             /* the socket peer */
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

/* --- router.c --- */

/* Method bit for a request line's method ("GET"), or 0 when unknown. */
enum http_method http_parse_method(const char *m);

/*
 * Finds the route of @s for @path and @method.  Returns it with @params
 * filled (*ret_nparams values, each strdup'ed, owned by the caller even on
 * failure), or NULL with *ret_err = ERR_NOT_FOUND, ERR_METHOD (and @allow
 * the methods the path allows) or -ENOMEM.  HEAD matches GET routes.
 */
struct route *http_router_match(struct http_server *s, const char *path, enum http_method method,
				struct http_param params[HTTP_MAX_SEGS], size_t *ret_nparams,
				unsigned *allow, int *ret_err);

/* Frees the route table of @s. */
void http_router_free(struct http_server *s);

/* The value of parameter @name ("id" for "{id}", "rest" for "{*rest}") in @params, or NULL. */
const char *http_params_find(const struct http_param *params, size_t n, const char *name);

/* --- request.c --- */

/* A request for @url and @method on @conn, with a fresh id; NULL when out of memory. */
struct http_req *http_req_new(struct http_server *s, struct MHD_Connection *conn,
			      const char *url, const char *method);

/* Ends @r: calls its on-done hook, frees its response, body and parameters; wipes its principal. */
void http_req_free(struct http_req *r);

/* --- response.c --- */

/* Writes the API error body for @err (message @msg or err_str(@err)).  Returns 0 or -ENOMEM. */
int http_error_body(struct http_resp *resp, int err, const char *field, const char *msg);

/* Writes an RFC 7644 section 3.12 error body for @err.  Returns 0 or -ENOMEM. */
int http_scim_error_body(struct http_resp *resp, int err);

/* Frees the body and headers of @resp (not @resp itself); may be called again. */
void http_resp_free(struct http_resp *resp);

/* --- limits.c --- */

/* True if @addr may make one more request in this minute (always with no limit set). */
bool http_rate_allow(struct http_server *s, const char *addr);

/* http_rate_allow at the Unix time @now_ms. */
bool http_rate_allow_at(struct http_server *s, const char *addr, int64_t now_ms);

/* The set of the rate table that @addr falls in (for tests that need a collision). */
size_t http_rate_set_of(const struct http_server *s, const char *addr);

/*
 * Checks that a request's body length is unambiguous (RFC 9112 section 6)
 * from its headers: @n_te Transfer-Encoding lines, the first being @te
 * (may be NULL when there is none), and @n_cl Content-Length lines.
 * Accepted: no length, one Content-Length, or one Transfer-Encoding that
 * is "chunked" alone.  Anything else (both headers, a header twice, any
 * other coding, "chunked" twice or not last) returns ERR_INVALID with @e
 * saying why: the caller answers 400 and closes the connection, since no
 * byte after such a head can be trusted to start a request.
 */
int http_framing_check(const char *te, unsigned n_te, unsigned n_cl, struct rerr *e);

/* http_framing_check on the request headers of @conn. */
int http_conn_check_framing(struct MHD_Connection *conn, struct rerr *e);

/*
 * Sets the body limit of @r from its route (none for streaming routes) and
 * checks a @content_length header (may be NULL) against it.  Returns 0,
 * ERR_INVALID for a malformed length or ERR_TOO_LARGE.
 */
int http_req_limit_body(struct http_req *r, const char *content_length);

/*
 * Counts @n more bytes of a refused body as discarded.  Returns false once
 * more than HTTP_MAX_DISCARD were thrown away: close the connection then.
 */
bool http_req_discard(struct http_req *r, size_t n);

/*
 * Checks the Content-Type of @r's buffered body against its route's body
 * kind (JSON, CSV, SCIM).  Returns 0, or writes the error into @resp and
 * returns ERR_UNSUPPORTED.
 */
int http_req_check_body_type(struct http_req *r, struct http_resp *resp);

/* --- conn.c --- */

/* Sets up connection tracking for @s (before any connection).  Returns 0 or -ENOMEM. */
int http_conns_init(struct http_server *s);

/* Starts the header-deadline sweeper (none without a header timeout).  Returns 0 or -EAGAIN. */
int http_conns_start(struct http_server *s);

/* Stops the sweeper; may be called again. */
void http_conns_stop(struct http_server *s);

/* Frees the tracking of a stopped @s; accepts one never set up. */
void http_conns_done(struct http_server *s);

/* A request's head is in: its connection has no deadline while the request runs. */
void http_conn_head_received(struct http_server *s, struct MHD_Connection *conn);

/* A request is over: the connection's next head is due within the header timeout. */
void http_conn_answered(struct http_server *s, struct MHD_Connection *conn);

/* libmicrohttpd's accept policy: refuses an address at its connection limit. */
enum MHD_Result http_mhd_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* libmicrohttpd's connection notification: tracks connections (MHD_OPTION_NOTIFY_CONNECTION). */
void http_mhd_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			 enum MHD_ConnectionNotificationCode toe);

/* --- metrics.c --- */

/* Counts a response of @status to @method for @rt (NULL: unmatched) that took @dur_ns. */
void http_metrics_record(struct http_server *s, struct route *rt, enum http_method method,
			 int status, int64_t dur_ns);

/* --- mhd.c: libmicrohttpd callbacks, given to the daemon by http_server_start --- */

enum MHD_Result http_mhd_access(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload_data,
				size_t *upload_data_size, void **con_cls);
void http_mhd_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			enum MHD_RequestTerminationCode toe);
/* A printf-style callback: the attribute lets clang's -Wformat-nonliteral accept vsnprintf. */
void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Decodes a path or query value in place with http_path_unescape. */
size_t http_mhd_unescape(void *cls, struct MHD_Connection *conn, char *s);

#endif
