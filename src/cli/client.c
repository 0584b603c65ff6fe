/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * client: libcurl requests to rampartd, API error bodies, exit codes.
 *
 * One easy handle is kept for the life of the program so that the
 * connection (and TLS session) is reused across pages of a listing.  Every
 * buffer that may hold a secret (the Authorization header, request and
 * response bodies) is wiped before it is freed.
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/out.h"
#include "common/err.h"
#include "common/str.h"

#define CLIENT_CONNECT_TIMEOUT_S 10L
#define CLIENT_DEFAULT_TIMEOUT_S 60L

struct client {
	CURL *curl;
	char server[CLIENT_URL_MAX];
	char *token;
	char token_from[64];
	char ca_file[CLIENT_URL_MAX];
	bool plain_remote;       /* http:// to a host other than loopback */
	bool warned_plain;
	/* The last answer. */
	int status;
	bool too_large;
	CURLcode curl_code;
	char curl_err[CURL_ERROR_SIZE];
	char request_id[64];
	char err_code[64];
	char err_message[1024];
	char err_field[64];
};

static bool host_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "[::1]") == 0 || str_has_prefix(host, "127.");
}

/* Checks that @url is an absolute http(s) URL without credentials, query or fragment. */
static int client_check_url(const char *url, bool *ret_plain_remote)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *part = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
		goto out;
	/* The scheme must be written out: "example.com" is not guessed to be http. */
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		goto out;
	*ret_plain_remote = strcmp(scheme, "http") == 0 && !host_is_loopback(host);
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(part);
	curl_url_cleanup(u);
	return r;
}

static size_t client_on_data(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	if (buf_append(b, p, size * n) < 0)
		return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
	return size * n;
}

bool client_header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t n = strlen(name), i = n, o = 0;

	if (len <= n || strncasecmp(line, name, n) != 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < len && line[i] != '\r' && line[i] != '\n' && o + 1 < size)
		out[o++] = line[i++];
	out[o] = '\0';
	return true;
}

/* Keeps the X-Request-Id of the answer so that a failure can be traced in the server log. */
static size_t client_on_header(char *p, size_t size, size_t n, void *ud)
{
	struct client *c = ud;
	size_t len = size * n;

	if (client_header_value(p, len, "x-request-id:", c->request_id, sizeof(c->request_id)))
		for (char *s = c->request_id; *s; s++)
			if (!(*s > 0x20 && *s < 0x7f))
				*s = '?';
	return len;
}

/* The transport settings of every handle: see client_easy_prepare. */
static int client_easy_common(CURL *h, const char *ca_file, char *errbuf)
{
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "rampart-cli/" RAMPART_VERSION) != CURLE_OK ||
	    (errbuf && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) ||
	    (ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, ca_file) != CURLE_OK))
		return -ENOMEM;
	return 0;
}

int client_new(const struct client_opts *o, struct client **ret)
{
	struct client *c;
	bool plain_remote = false;
	size_t n;
	int r;

	r = client_check_url(o->server, &plain_remote);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (str_copy(c->server, sizeof(c->server), o->server) < 0) {
		free(c);
		return -EINVAL;
	}
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->plain_remote = plain_remote;
	if (o->token && *o->token) {
		c->token = strdup(o->token);
		if (!c->token) {
			free(c);
			return -ENOMEM;
		}
	}
	snprintf(c->token_from, sizeof(c->token_from), "%s", o->token_from ? o->token_from : "");
	if (o->ca_file && str_copy(c->ca_file, sizeof(c->ca_file), o->ca_file) < 0) {
		client_free(c);
		return -EINVAL;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		client_free(c);
		return -ENOMEM;
	}
	/* Settings that hold for every request. */
	if (client_easy_common(c->curl, o->ca_file, c->curl_err) < 0 ||
	    curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLIENT_MAX_BODY) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_on_data) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, client_on_header) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c) != CURLE_OK) {
		client_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c);
}

const char *client_server(const struct client *c)
{
	return c->server;
}

bool client_has_token(const struct client *c)
{
	return c->token != NULL;
}

int client_status(const struct client *c)
{
	return c->status;
}

const char *client_error_code(const struct client *c)
{
	return c->err_code;
}

const char *client_error_message(const struct client *c)
{
	return c->err_message;
}

const char *client_error_field(const struct client *c)
{
	return c->err_field;
}

void client_buf_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_done(b);
}

/* Frees a header list, wiping each header first (one of them carries the token). */
static void client_headers_free(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static int client_err_from_code(const char *code, int status)
{
	static const struct {
		const char *name;
		int err;
	} codes[] = {
		{ "invalid", ERR_INVALID },
		{ "not_found", ERR_NOT_FOUND },
		{ "conflict", ERR_CONFLICT },
		{ "unauthenticated", ERR_UNAUTHENTICATED },
		{ "forbidden", ERR_FORBIDDEN },
		{ "too_large", ERR_TOO_LARGE },
		{ "rate_limited", ERR_RATE_LIMITED },
		{ "locked", ERR_LOCKED },
		{ "store_error", ERR_STORE },
		{ "schema_too_new", ERR_SCHEMA },
		{ "unsupported_media_type", ERR_UNSUPPORTED },
		{ "totp_required", ERR_TOTP_REQUIRED },
		{ "password_change_required", ERR_PASSWORD_CHANGE },
		{ "csrf", ERR_CSRF },
		{ "internal", ERR_INTERNAL },
		{ "threshold_exceeded", ERR_THRESHOLD },
		{ "method_not_allowed", ERR_METHOD },
		{ "unavailable", ERR_UNAVAILABLE },
	};

	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i].name) == 0)
			return codes[i].err;
	switch (status) {
	case 400: return ERR_INVALID;
	case 401: return ERR_UNAUTHENTICATED;
	case 403: return ERR_FORBIDDEN;
	case 404: return ERR_NOT_FOUND;
	case 405: return ERR_METHOD;
	case 409: return ERR_CONFLICT;
	case 413: return ERR_TOO_LARGE;
	case 415: return ERR_UNSUPPORTED;
	case 429: return ERR_RATE_LIMITED;
	case 503: return ERR_UNAVAILABLE;
	default: return ERR_INTERNAL;
	}
}

/* Fills the error fields from an API error answer and returns its ERR_* code. */
static int client_take_error(struct client *c, const json_t *body)
{
	const json_t *e = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));

	snprintf(c->err_code, sizeof(c->err_code), "%s", code ? code : "");
	snprintf(c->err_field, sizeof(c->err_field), "%s", field ? field : "");
	if (msg)
		snprintf(c->err_message, sizeof(c->err_message), "%s", msg);
	else if (!json_is_object(e))
		snprintf(c->err_message, sizeof(c->err_message),
			 "HTTP %d from %s is not a Rampart API answer (a proxy in the way?)", c->status,
			 c->server);
	return client_err_from_code(code, c->status);
}

static int client_set_method(struct client *c, const char *method, const void *body, size_t len)
{
	CURL *h = c->curl;
	CURLcode e;

	e = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	if (e == CURLE_OK)
		e = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (e != CURLE_OK)
		return -ENOMEM;
	if (strcmp(method, "GET") == 0)
		return body ? -EINVAL : 0;
	if (body || strcmp(method, "DELETE") != 0) {
		/* POST and PUT always send a body, even an empty one (Content-Length: 0). */
		e = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		if (e == CURLE_OK)
			e = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	}
	if (e == CURLE_OK && strcmp(method, "POST") != 0)
		e = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	return e == CURLE_OK ? 0 : -ENOMEM;
}

/* A request with either a plain body or (@mime) a multipart body streamed from files. */
static int client_do(struct client *c, const char *method, const char *path, const char *ctype,
		     const void *body, size_t len, curl_mime *mime, const struct client_progress *prog,
		     long timeout_s, json_t **ret_json);

int client_request(struct client *c, const char *method, const char *path, const char *ctype,
		   const void *body, size_t len, long timeout_s, json_t **ret_json)
{
	return client_do(c, method, path, ctype, body, len, NULL, NULL, timeout_s, ret_json);
}

struct curl_mime *client_mime_new(struct client *c)
{
	return curl_mime_init(c->curl);
}

int client_upload(struct client *c, const char *path, struct curl_mime *mime,
		  const struct client_progress *prog, json_t **ret_json)
{
	return client_do(c, "POST", path, NULL, NULL, 0, mime, prog, -1, ret_json);
}

/*
 * Appends the Authorization header to *@hdrs when there is a token, warning
 * once when it would travel over plain http to another host.  Returns 0 or
 * -ENOMEM (*@hdrs is then unchanged).
 */
static int client_add_auth(struct client *c, struct curl_slist **hdrs)
{
	struct curl_slist *t;
	struct buf auth;

	if (!c->token)
		return 0;
	if (c->plain_remote && !c->warned_plain) {
		fprintf(stderr, "rampart: warning: sending credentials to %s over unencrypted http; "
				"use https\n", c->server);
		c->warned_plain = true;
	}
	buf_init(&auth, 4096);
	if (buf_printf(&auth, "Authorization: Bearer %s", c->token) < 0) {
		client_buf_wipe(&auth);
		return -ENOMEM;
	}
	t = curl_slist_append(*hdrs, auth.data);
	client_buf_wipe(&auth);
	if (!t)
		return -ENOMEM;
	*hdrs = t;
	return 0;
}

int client_easy_prepare(struct client *c, void *easy, struct curl_slist **hdrs)
{
	if (client_easy_common(easy, c->ca_file[0] ? c->ca_file : NULL, NULL) < 0)
		return -ENOMEM;
	return client_add_auth(c, hdrs);
}

void client_headers_wipe_free(struct curl_slist *h)
{
	client_headers_free(h);
}

static int client_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			      curl_off_t ulnow)
{
	const struct client_progress *p = ud;

	return p->fn(p->ud, (long long)dltotal, (long long)dlnow, (long long)ultotal, (long long)ulnow);
}

int client_easy_progress(void *easy, const struct client_progress *prog)
{
	if (curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, client_on_progress) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, (void *)prog) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK)
		return -ENOMEM;
	return 0;
}

static int client_do(struct client *c, const char *method, const char *path, const char *ctype,
		     const void *body, size_t len, curl_mime *mime, const struct client_progress *prog,
		     long timeout_s, json_t **ret_json)
{
	struct curl_slist *hdrs = NULL, *t;
	struct buf url, resp;
	json_t *j = NULL;
	long status = 0;
	CURLcode e;
	int r;

	c->status = 0;
	c->too_large = false;
	c->curl_code = CURLE_OK;
	c->curl_err[0] = c->request_id[0] = '\0';
	c->err_code[0] = c->err_message[0] = c->err_field[0] = '\0';
	if (ret_json)
		*ret_json = NULL;

	buf_init(&url, 8192);
	buf_init(&resp, CLIENT_MAX_BODY);
	r = buf_puts(&url, c->server);
	if (r == 0)
		r = buf_puts(&url, path);
	if (r < 0)
		goto out;

	r = -ENOMEM;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!hdrs)
		goto out;
	/* No "Expect: 100-continue" round trip before large uploads. */
	if (!(t = curl_slist_append(hdrs, "Expect:")))
		goto out;
	if (body) {
		char ct[128];

		if (snprintf(ct, sizeof(ct), "Content-Type: %s", ctype) >= (int)sizeof(ct)) {
			r = -EINVAL;
			goto out;
		}
		if (!(t = curl_slist_append(hdrs, ct)))
			goto out;
	}
	if (client_add_auth(c, &hdrs) < 0)
		goto out;
	r = mime ? 0 : client_set_method(c, method, body, len);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (mime && curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, mime) != CURLE_OK)
		goto out;
	/* A streamed upload has no deadline, only a floor: under 1 byte/s for a minute is a stall. */
	if (curl_easy_setopt(c->curl, CURLOPT_URL, url.data) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &resp) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s
				      : timeout_s < 0 ? 0L : CLIENT_DEFAULT_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, timeout_s < 0 ? 1L : 0L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, timeout_s < 0 ? 60L : 0L) != CURLE_OK)
		goto out;
	if (prog && client_easy_progress(c->curl, prog) < 0)
		goto out;

	e = curl_easy_perform(c->curl);
	/* The header list, the body and the progress hook must not outlive this request in the handle. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	if (mime)
		curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, NULL);
	if (prog)
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	if (e != CURLE_OK) {
		c->curl_code = e;
		if (e == CURLE_WRITE_ERROR || e == CURLE_FILESIZE_EXCEEDED) {
			c->too_large = true;
			r = -EMSGSIZE;
		} else {
			if (!c->curl_err[0])
				snprintf(c->curl_err, sizeof(c->curl_err), "%s", curl_easy_strerror(e));
			r = CLIENT_ERR_UNREACHABLE;
		}
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	c->status = (int)status;

	if (resp.len > 0) {
		json_error_t jerr;

		j = json_loadb(resp.data, resp.len, 0, &jerr);
	}
	if (status >= 200 && status < 300) {
		if (resp.len > 0 && !j) {
			r = -EBADMSG;
			goto out;
		}
		if (ret_json)
			*ret_json = steal_ptr(&j);
		r = 0;
		goto out;
	}
	r = client_take_error(c, j);
	/* An error answer that carries more than the error (an import report) goes to the caller. */
	if (ret_json && json_is_object(j) && json_object_size(j) > 1)
		*ret_json = steal_ptr(&j);
out:
	json_decref(j);
	client_headers_free(hdrs);
	client_buf_wipe(&resp);
	buf_done(&url);
	return r;
}

int client_call(struct client *c, const char *method, const char *path, const json_t *body,
		json_t **ret_json)
{
	char *text = NULL;
	int r;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
	}
	r = client_request(c, method, path, "application/json", text, text ? strlen(text) : 0, 0,
			   ret_json);
	if (text) {
		/* Request bodies carry passwords and codes. */
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return r;
}

int client_path_id(struct client *c, struct buf *b, const char *base, const char *id, const char *suffix)
{
	int r = buf_puts(b, base);

	r = r < 0 ? r : client_escape(c, b, id);
	return r < 0 || !suffix ? r : buf_puts(b, suffix);
}

int client_call_id(struct client *c, const char *method, const char *base, const char *id,
		   const char *suffix, const json_t *body, json_t **ret_json)
{
	struct buf path;
	int r;

	buf_init(&path, 4096);
	r = client_path_id(c, &path, base, id, suffix);
	r = r < 0 ? r : client_call(c, method, path.data, body, ret_json);
	buf_done(&path);
	return r;
}

int client_exit_code(int err)
{
	switch (err) {
	case 0:
		return CLI_EXIT_OK;
	case CLIENT_ERR_UNREACHABLE:
		return CLI_EXIT_UNREACHABLE;
	case ERR_UNAUTHENTICATED:
	case ERR_FORBIDDEN:
	case ERR_TOTP_REQUIRED:
	case ERR_PASSWORD_CHANGE:
	case ERR_CSRF:
	case ERR_LOCKED:
		return CLI_EXIT_AUTH;
	case ERR_NOT_FOUND:
		return CLI_EXIT_NOT_FOUND;
	default:
		return CLI_EXIT_FAILED;
	}
}

/* What to do about a transport failure. */
static void client_fail_transport(const struct client *c)
{
	switch (c->curl_code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		fprintf(stderr, "  The TLS connection failed or the server's certificate is not trusted.\n"
				"  If the server uses a self-signed certificate, pass --ca FILE with that\n"
				"  certificate (rampartd writes it to DATA/tls/cert.pem).\n");
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		fprintf(stderr, "  Only http:// and https:// servers are supported.\n");
		break;
	default:
		fprintf(stderr, "  Is rampartd running there?  Choose the server with --server URL or\n"
				"  RAMPART_SERVER (now %s).\n", c->server);
		break;
	}
}

int client_fail(const struct client *c, int err, const char *what)
{
	char msg[1100];

	fprintf(stderr, "rampart: %s: ", what);
	switch (err) {
	case CLIENT_ERR_UNREACHABLE:
		fprintf(stderr, "cannot reach the server at %s (%s)\n", c->server,
			out_clean(msg, sizeof(msg), c->curl_err));
		client_fail_transport(c);
		return CLI_EXIT_UNREACHABLE;
	case -EMSGSIZE:
		fprintf(stderr, "the server's answer is larger than %zu MiB\n", CLIENT_MAX_BODY >> 20);
		return CLI_EXIT_FAILED;
	case -EBADMSG:
		fprintf(stderr, "the answer from %s is not JSON; is it a Rampart server?\n", c->server);
		return CLI_EXIT_FAILED;
	case -ENOMEM:
		fprintf(stderr, "out of memory\n");
		return CLI_EXIT_FAILED;
	default:
		break;
	}
	if (err > -ERR_BASE && !c->status) {
		/* A local failure, not an API answer. */
		fprintf(stderr, "%s\n", err_str(err));
		return CLI_EXIT_FAILED;
	}
	fprintf(stderr, "%s", c->err_message[0] ? out_clean(msg, sizeof(msg), c->err_message)
						: err_str(err));
	if (c->err_field[0])
		fprintf(stderr, " (field '%s')", out_clean(msg, sizeof(msg), c->err_field));
	fputc('\n', stderr);
	switch (err) {
	case ERR_UNAUTHENTICATED:
		if (!c->token)
			fprintf(stderr, "  You are not logged in to %s: run 'rampart login' (or set "
					"RAMPART_TOKEN).\n", c->server);
		else
			fprintf(stderr, "  The server did not accept the credentials from %s; they may have\n"
					"  expired or been revoked: run 'rampart login'.\n",
				c->token_from[0] ? c->token_from : "the saved login");
		break;
	case ERR_FORBIDDEN:
		fprintf(stderr, "  Your roles do not allow this; ask an administrator or security officer.\n");
		break;
	case ERR_PASSWORD_CHANGE:
		fprintf(stderr, "  Change your password first: run 'rampart passwd'.\n");
		break;
	case ERR_RATE_LIMITED:
		fprintf(stderr, "  Too many requests: wait a minute, then try again.\n");
		break;
	case ERR_INTERNAL:
	case ERR_STORE:
	case ERR_UNAVAILABLE:
	case ERR_SCHEMA:
		if (c->request_id[0])
			fprintf(stderr, "  The server failed; its log has the details under req=%s.\n",
				c->request_id);
		break;
	case ERR_METHOD:
		fprintf(stderr, "  The server at %s does not offer this operation (an older version?).\n",
			c->server);
		break;
	default:
		break;
	}
	return client_exit_code(err);
}

int client_escape(struct client *c, struct buf *b, const char *s)
{
	char *e = curl_easy_escape(c->curl, s, 0);
	int r;

	if (!e)
		return -ENOMEM;
	r = buf_puts(b, e);
	curl_free(e);
	return r;
}

int client_query(struct client *c, struct buf *b, const char *key, const char *value)
{
	int r;

	if (!value)
		return 0;
	r = buf_printf(b, "%c%s=", b->data && strchr(b->data, '?') ? '&' : '?', key);
	return r < 0 ? r : client_escape(c, b, value);
}

int client_queries(struct client *c, struct buf *b, const struct client_param *params)
{
	int r = 0;

	for (const struct client_param *p = params; r == 0 && p->key; p++)
		r = client_query(c, b, p->key, p->value);
	return r;
}
