/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * response: the response object handlers fill, and the error model.  A
 * response holds at most one body (bytes, a static buffer or a reader);
 * setting another frees the first.  Error bodies are
 * {"error":{"code","message"[,"field"]}} with err_http_status(), or
 * RFC 7644 bodies on SCIM routes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"

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

void http_resp_free(struct http_resp *resp)
{
	http_resp_clear_body(resp);
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->nheaders = 0;   /* a streaming request's response is freed again with it */
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
	return http_resp_json_as(resp, status, "application/json", body);
}

int http_resp_json_as(struct http_resp *resp, int status, const char *ctype, json_t *body)
{
	char *text;
	int r;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	r = http_resp_data(resp, status, ctype, text, strlen(text));
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

int http_error_body(struct http_resp *resp, int err, const char *field, const char *msg)
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
int http_scim_error_body(struct http_resp *resp, int err)
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
