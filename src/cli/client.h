/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * client: the CLI's one HTTP connection to rampartd (libcurl, one easy
 * handle reused for every request), bearer authentication, and the mapping
 * from API errors to the CLI's exit codes.
 *
 * Invariants: only http and https are spoken; redirects are never followed;
 * certificate verification is never disabled (--ca adds a trust anchor);
 * response bodies are capped at CLIENT_MAX_BODY; the bearer token, request
 * bodies and response bodies are wiped from memory when released.  Nothing
 * here prints a token or a request body.
 */
#ifndef RAMPART_CLI_CLIENT_H
#define RAMPART_CLI_CLIENT_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Exit codes of the rampart program (see docs/cli.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,      /* the operation failed or the server refused it */
	CLI_EXIT_USAGE = 2,       /* bad command line */
	CLI_EXIT_AUTH = 3,        /* not authenticated, or not allowed */
	CLI_EXIT_NOT_FOUND = 4,   /* the object does not exist (or is not visible) */
	CLI_EXIT_UNREACHABLE = 5, /* the server could not be reached */
};

/* Transport failure (connection, DNS, TLS, timeout): the server was not reached. */
#define CLIENT_ERR_UNREACHABLE (-EHOSTUNREACH)

#define CLIENT_MAX_BODY ((size_t)64 << 20)
#define CLIENT_URL_MAX 512

struct client;

struct client_opts {
	const char *server;      /* base URL, http:// or https:// (required) */
	const char *token;       /* bearer token, copied; may be NULL */
	const char *token_from;  /* where the token came from, for messages ("RAMPART_TOKEN") */
	const char *ca_file;     /* extra CA bundle for a self-signed server; may be NULL */
};

/*
 * Creates a client.  Returns 0, -EINVAL when the server URL is not an
 * absolute http(s) URL without credentials, query or fragment, or -ENOMEM.
 */
int client_new(const struct client_opts *o, struct client **ret);

/* Frees @c, wiping the token; accepts NULL. */
void client_free(struct client *c);

/* The base URL (no trailing slash). */
const char *client_server(const struct client *c);

/* True if a bearer token will be sent. */
bool client_has_token(const struct client *c);

/*
 * Sends one request to @path (starting with '/', already escaped, with its
 * query) and reads the answer.  @body (may be NULL) is sent with Content-Type
 * @ctype.  @timeout_s bounds the whole exchange (0: 60 seconds).
 *
 * Returns 0 for a 2xx answer, with *ret_json (if @ret_json is not NULL) set
 * to the parsed body (NULL for an empty body).  Otherwise returns
 * CLIENT_ERR_UNREACHABLE, -EMSGSIZE for a body over the cap, -EBADMSG for a
 * 2xx body that is not JSON, -ENOMEM, or the ERR_* code of the API error;
 * the error's details stay in @c (client_error_*) until the next request.
 * When the API error body carries more than the error (such as an import
 * report), *ret_json receives that whole body too.
 */
int client_request(struct client *c, const char *method, const char *path, const char *ctype,
		   const void *body, size_t len, long timeout_s, json_t **ret_json);

struct curl_mime;
struct curl_slist;

/* Progress of a long transfer: @fn gets bytes expected and done each way; nonzero aborts. */
struct client_progress {
	int (*fn)(void *ud, long long dltotal, long long dlnow, long long ultotal, long long ulnow);
	void *ud;
};

/* A multipart body for client_upload (free it with curl_mime_free).  NULL when out of memory. */
struct curl_mime *client_mime_new(struct client *c);

/*
 * POSTs the multipart body @mime to @path; file parts stream from disk, so
 * memory stays flat.  There is no overall deadline, but a transfer that
 * stalls (under 1 byte/s for a minute) fails.  @prog may be NULL.
 * Returns as client_request.
 */
int client_upload(struct client *c, const char *path, struct curl_mime *mime,
		  const struct client_progress *prog, json_t **ret_json);

/*
 * Gives the caller's own easy handle @easy the client's transport settings
 * (protocols, no redirects, connect timeout, certificate verification, the
 * --ca file, user agent) and appends the Authorization header, when there
 * is a token, to *@hdrs (free the list with client_headers_wipe_free).
 * Returns 0 or -ENOMEM.
 */
int client_easy_prepare(struct client *c, void *easy, struct curl_slist **hdrs);

/*
 * Has the caller's easy handle @easy report its progress to @prog (which
 * must outlive the transfer).  Returns 0 or -ENOMEM.
 */
int client_easy_progress(void *easy, const struct client_progress *prog);

/*
 * If the received header line @line (@len bytes, not NUL-terminated) is
 * the header @name (lower case, with its colon: "content-disposition:"),
 * copies its value without leading blanks and the line end into @out (cut
 * to @size - 1 bytes, not cleaned) and returns true; else returns false.
 */
bool client_header_value(const char *line, size_t len, const char *name, char *out, size_t size);

/* Frees a header list, wiping every header first; accepts NULL. */
void client_headers_wipe_free(struct curl_slist *h);

/* client_request with a JSON body (@body may be NULL: no body). */
int client_call(struct client *c, const char *method, const char *path, const json_t *body,
		json_t **ret_json);

/*
 * Appends @base (ending in '/') + @id escaped as one path segment + @suffix
 * ("/revoke"; may be NULL) to @b.  Returns 0, -ENOMEM or -EMSGSIZE.
 */
int client_path_id(struct client *c, struct buf *b, const char *base, const char *id, const char *suffix);

/*
 * client_call on the path that client_path_id builds from @base, @id and
 * @suffix.  Returns as client_call, or -ENOMEM or -EMSGSIZE when the path
 * cannot be built (then nothing is sent).
 */
int client_call_id(struct client *c, const char *method, const char *base, const char *id,
		   const char *suffix, const json_t *body, json_t **ret_json);

/* HTTP status of the last answer (0 when none). */
int client_status(const struct client *c);

/* The API error code ("not_found") of the last answer, or "". */
const char *client_error_code(const struct client *c);

/* The server's message for the last error, or "" (not sanitized: print with out_clean). */
const char *client_error_message(const struct client *c);

/* The field the server named in the last error, or "". */
const char *client_error_field(const struct client *c);

/*
 * Prints what went wrong in doing @what ("cannot list people") and what to do
 * about it on stderr, and returns the exit code for @err.
 */
int client_fail(const struct client *c, int err, const char *what);

/* The exit code for an error returned by client_request. */
int client_exit_code(int err);

/*
 * Appends @s to @b escaped for a URL path segment or query value.
 * Returns 0, -ENOMEM or -EMSGSIZE.
 */
int client_escape(struct client *c, struct buf *b, const char *s);

/*
 * Appends "?key=value" or "&key=value" (value escaped) to @b, choosing the
 * separator from whether @b already holds a '?'.  Nothing is appended when
 * @value is NULL.  Returns 0, -ENOMEM or -EMSGSIZE.
 */
int client_query(struct client *c, struct buf *b, const char *key, const char *value);

/* A query parameter: "key=value"; one with a NULL value is left out. */
struct client_param {
	const char *key;
	const char *value;
};

/*
 * client_query for each parameter of @params, which ends with a NULL key:
 * "?k1=v1&k2=v2".  Returns 0, -ENOMEM or -EMSGSIZE.
 */
int client_queries(struct client *c, struct buf *b, const struct client_param *params);

/* Wipes and frees the storage of @b. */
void client_buf_wipe(struct buf *b);

#endif
