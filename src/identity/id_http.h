/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * id_http: what identity's JSON handlers (auth_http.c, directory.c) share:
 * reading a request body with known keys, reading a keyset page whose
 * cursor is a ULID, and answering a page.
 *
 * Each reader answers a bad request itself (400 with the reason, the
 * field named) and returns that error, so a handler returns it unchanged;
 * on 0 nothing is written to the response.
 */
#ifndef RAMPART_ID_HTTP_H
#define RAMPART_ID_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/page.h"

struct http_req;
struct http_resp;
struct store_stmt;

/*
 * Parses the body as a JSON object whose keys are all in the
 * NULL-terminated list @keys; *ret is borrowed from the request.  An empty
 * body is accepted when @may_be_empty, with *ret NULL.  Returns 0 or the
 * answered ERR_INVALID.
 */
int id_http_body(struct http_req *req, struct http_resp *resp, const char *const *keys, bool may_be_empty,
		 json_t **ret);

/*
 * Reads ?limit= (@def when absent, at most the configured max_list) and
 * ?cursor=, which must be a ULID ("cursor is not valid" otherwise); the
 * cursor is borrowed, NULL when absent.  Returns 0 or the answered ERR_INVALID.
 */
int id_http_page(struct http_req *req, struct http_resp *resp, int64_t def, int64_t *ret_limit,
		 const char **ret_cursor);

/*
 * Answers 200 with the page of @q, a query asked for @limit + 1 rows keyed
 * by column 0 (page_collect), each row made an item by @fn with @ud.  @q
 * is freed in every case.  Returns 0 or an error, with nothing answered.
 */
int id_http_page_reply(struct http_resp *resp, struct store_stmt *q, int64_t limit, page_row_fn fn, void *ud);

#endif
