/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * page: keyset paging, the one way Rampart's lists are read.
 *
 * A list query orders its rows by a unique key, starts after the cursor
 * the client sent (the key of the last row of the previous page), and asks
 * for limit + 1 rows; the extra row only tells that a further page exists.
 * page_collect turns such a query into the API's {"items", "next"} parts,
 * so that no list handler writes the loop again.
 */
#ifndef RAMPART_PAGE_H
#define RAMPART_PAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store_stmt;

/* Largest cursor a list hands out (a ULID, a number or a short text key). */
#define PAGE_CURSOR_SIZE 160

/* Turns the current row of @q into an item; NULL means out of memory. */
typedef json_t *(*page_row_fn)(struct store_stmt *q, void *ud);

/*
 * Steps @q (asked for @limit + 1 rows) and takes at most @limit rows: each
 * becomes @fn's item in a new array.  When a row beyond them exists, the
 * text of column @key_col of the last row taken is written to @ret_next,
 * which is otherwise "".  @q is freed in every case.
 * Returns 0 with *ret_items, a store error, -ENOMEM, or ERR_TOO_LARGE for
 * a key longer than PAGE_CURSOR_SIZE - 1 bytes; nothing is written on error.
 */
int page_collect(struct store_stmt *q, int64_t limit, int key_col, page_row_fn fn, void *ud,
		 json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE]);

/*
 * The list body {"items": @items, "next": @next or null}; @items is
 * stolen, and an empty or NULL @next is null.  Returns a new object or
 * NULL when out of memory.
 */
json_t *page_json(json_t *items, const char *next);

#endif
