/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* id_http: the body, page and list answer identity's JSON handlers share (id_http.h). */
#include "identity/id_http.h"

#include <errno.h>

#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "http/http.h"

int id_http_body(struct http_req *req, struct http_resp *resp, const char *const *keys, bool may_be_empty,
		 json_t **ret)
{
	struct rerr je;
	size_t len;
	json_t *j;

	http_req_body(req, &len);
	if (len == 0 && may_be_empty) {
		*ret = NULL;
		return 0;
	}
	if (http_req_json(req, &j, &je) < 0 || jsonx_only_keys(j, keys, &je) < 0)
		return http_fail_rerr(resp, &je);
	*ret = j;
	return 0;
}

int id_http_page(struct http_req *req, struct http_resp *resp, int64_t def, int64_t *ret_limit,
		 const char **ret_cursor)
{
	struct app *app = http_req_app(req);
	struct rerr je;

	if (http_req_page(req, def, app->cfg.max_list, ret_limit, ret_cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (*ret_cursor && !ids_is_ulid(*ret_cursor))
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	return 0;
}

int id_http_page_reply(struct http_resp *resp, struct store_stmt *q, int64_t limit, page_row_fn fn, void *ud)
{
	char next[PAGE_CURSOR_SIZE];
	json_t *items, *out;
	int r = page_collect(q, limit, 0, fn, ud, &items, next);

	if (r < 0)
		return r;
	out = page_json(items, next);
	return out ? http_resp_json(resp, 200, out) : -ENOMEM;
}
