/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* page: keyset paging over a store query (see page.h). */
#include "store/page.h"

#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "store/store.h"

int page_collect(struct store_stmt *q, int64_t limit, int key_col, page_row_fn fn, void *ud,
		 json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE])
{
	char last[PAGE_CURSOR_SIZE] = "";
	json_t *items = json_array();
	int64_t n = 0;
	int r = -ENOMEM;

	if (!items)
		goto out;
	while ((r = store_step(q)) == 1) {
		const char *key;
		json_t *item;

		if (n == limit)
			break;   /* the extra row: a further page exists */
		key = store_col_text(q, key_col);
		if (!key)
			key = "";
		if (strlen(key) >= sizeof(last)) {
			r = ERR_TOO_LARGE;
			goto out;
		}
		memcpy(last, key, strlen(key) + 1);
		item = fn(q, ud);
		if (!item || json_array_append_new(items, item) < 0) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (r < 0)
		goto out;
	memcpy(ret_next, r == 1 ? last : "", r == 1 ? strlen(last) + 1 : 1);
	*ret_items = items;
	items = NULL;
	r = 0;
out:
	store_stmt_free(q);
	json_decref(items);
	return r;
}

json_t *page_json(json_t *items, const char *next)
{
	json_t *out;

	if (!items)
		return NULL;
	out = json_object();
	if (!out) {
		json_decref(items);
		return NULL;
	}
	if (json_object_set_new(out, "items", items) < 0) {
		json_decref(out);
		return NULL;
	}
	if (json_object_set_new(out, "next", next && next[0] ? json_string(next) : json_null()) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}
