/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * mhd: libmicrohttpd's per-request callbacks.  The first call of a request
 * checks the method, path, rate and route and answers at once what it
 * refuses; the body is then buffered (or streamed to the route's upload
 * callback); the last call authenticates, runs the handler and sends.
 * Invariants: every response carries X-Request-Id and the security headers;
 * the access log names the route pattern, never the raw path, because paths
 * such as /x/{token} carry secrets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "http/http_internal.h"

/* ---------------------------------------------------------------- sending */

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

/* The headers every response carries, then those of @resp. */
static void http_add_headers(struct http_req *r, struct http_resp *resp, struct MHD_Response *mr)
{
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
}

/* Queues @resp (an internal error when it has no body), counts it and writes the access log line. */
static enum MHD_Result http_send(struct http_req *r, struct http_resp *resp)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	int64_t dur_ns;
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
	http_add_headers(r, resp, mr);
	ret = MHD_queue_response(r->conn, (unsigned)resp->status, mr);
	MHD_destroy_response(mr);

	dur_ns = rtime_mono_ns() - r->start_ns;
	http_metrics_record(r->s, r->route, r->method, resp->status, dur_ns);
	log_quote(qroute, sizeof(qroute), r->route ? r->route->pattern : "unmatched");
	if (strcmp(r->peer, r->remote) == 0)
		log_write(resp->status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO, "request",
			  "method=%s route=%s status=%d dur_ms=%.3f remote=%s", http_method_name(r->method),
			  qroute, resp->status, (double)dur_ns / 1e6, r->remote);
	else   /* a trusted proxy's: the client it named, then the proxy */
		log_write(resp->status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO, "request",
			  "method=%s route=%s status=%d dur_ms=%.3f remote=%s peer=%s",
			  http_method_name(r->method), qroute, resp->status, (double)dur_ns / 1e6,
			  r->remote, r->peer);
	return ret;
}

/*
 * Answers a request refused before its handler ran, with @msg (NULL: the
 * error's own text), Allow for 405 and Retry-After for 429.  With @close
 * the connection is closed after the answer.
 */
static enum MHD_Result http_answer_refusal(struct http_req *r, int err, unsigned allow,
					   const char *msg, bool close)
{
	struct http_resp resp = { 0 };
	enum MHD_Result ret;

	log_set_request_id(r->id);
	http_error_body(&resp, err, NULL, msg);
	if (close)
		http_resp_header(&resp, "Connection", "close");
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

static enum MHD_Result http_answer_error(struct http_req *r, int err, unsigned allow)
{
	return http_answer_refusal(r, err, allow, NULL, false);
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

/* ---------------------------------------------------------------- dispatch */

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
	if (rc == 0)
		rc = http_req_check_body_type(r, &resp);
	if (rc == 0)
		rc = r->route->fn(r, &resp);
	return http_finish(r, &resp, rc);
}

/* ---------------------------------------------------------------- callbacks */

/* The first call of a request: checks, routing, and refusals answered before any body is read. */
static enum MHD_Result http_begin(struct http_server *s, struct MHD_Connection *conn,
				  const char *url, const char *method, void **con_cls)
{
	struct http_req *r;
	struct rerr fe;
	unsigned allow = 0;
	int err = 0, rc;

	r = http_req_new(s, conn, url, method);
	if (!r)
		return MHD_NO;
	*con_cls = r;
	atomic_fetch_add(&s->inflight, 1);
	http_conn_head_received(s, conn);
	if (atomic_load(&s->draining)) {
		/* Stopping: finish what is in flight, take nothing new. */
		r->dispatched = true;
		r->early_err = ERR_UNAVAILABLE;
		return http_answer_refusal(r, ERR_UNAVAILABLE, 0, "the server is shutting down", true);
	}
	if (http_conn_check_framing(conn, &fe) < 0) {
		/*
		 * Where this body ends is ambiguous, so where the next request
		 * starts is too: answer and close (libmicrohttpd closes a
		 * connection whose answer was queued before its body was read).
		 */
		r->dispatched = true;
		r->early_err = ERR_INVALID;
		return http_answer_refusal(r, ERR_INVALID, 0, fe.message, true);
	}
	if (!r->method)
		r->early_err = ERR_METHOD;
	else if (!http_path_is_sane(r->path))
		r->early_err = ERR_INVALID;
	else if (!http_rate_allow(s, r->remote))
		r->early_err = ERR_RATE_LIMITED;
	else if (!(r->route = http_router_match(s, r->path, r->method, r->params, &r->nparams,
						&allow, &err)))
		r->early_err = err;
	rc = http_req_limit_body(r, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length"));
	if (!r->early_err)
		r->early_err = rc;
	if (r->early_err) {
		/* Answer before reading a body we would refuse anyway. */
		r->dispatched = true;
		return http_answer_error(r, r->early_err, allow);
	}
	if (r->route->flags & HTTP_BODY_STREAM) {
		rc = http_stream_begin(r);
		if (rc < 0) {
			r->dispatched = true;
			log_set_request_id(r->id);
			return http_finish(r, &r->sresp, rc);
		}
	}
	return MHD_YES;
}

/* A chunk of @n body bytes: streamed, buffered, or discarded after a refusal. */
static enum MHD_Result http_body_chunk(struct http_req *r, const char *data, size_t n)
{
	if (r->route->flags & HTTP_BODY_STREAM) {
		if (r->stream_err)
			return http_req_discard(r, n) ? MHD_YES : MHD_NO;
		http_stream_feed(r, HTTP_UPLOAD_DATA, data, n);
		return MHD_YES;
	}
	if (r->early_err) {
		/*
		 * Over the limit (chunked bodies have no Content-Length): the
		 * rest is discarded so that the client can read the 413, but
		 * only up to a bound, after which the connection is closed.
		 */
		return http_req_discard(r, n) ? MHD_YES : MHD_NO;
	}
	if (buf_append(&r->body, data, n) < 0) {
		r->early_err = ERR_TOO_LARGE;
		buf_done(&r->body);
	}
	return MHD_YES;
}

enum MHD_Result http_mhd_access(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload_data,
				size_t *upload_data_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	size_t n;

	if (!r)
		return http_begin(cls, conn, url, method, con_cls);
	if (r->dispatched) {
		*upload_data_size = 0;   /* discard what follows a refusal */
		return MHD_YES;
	}
	if (*upload_data_size) {
		n = *upload_data_size;
		*upload_data_size = 0;
		return http_body_chunk(r, upload_data, n);
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

void http_mhd_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;

	if (!r)
		return;
	http_req_free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
	http_conn_answered(s, conn);
}

void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: libmicrohttpd", "detail=\"%s\"", msg);
}

size_t http_mhd_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	return http_path_unescape(s);
}
