/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * out: what the CLI prints.  Text from the server is never written to the
 * terminal as is: control characters (escape sequences) and invalid UTF-8
 * become '?'.  Tables are aligned by display width (CJK characters count
 * two columns).  --json output is the API's JSON, indented.
 */
#ifndef RAMPART_CLI_OUT_H
#define RAMPART_CLI_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Copies @s into @out (@size bytes) with control characters and invalid
 * UTF-8 replaced by '?', cut at a character boundary with "..." when it does
 * not fit.  NULL becomes "".  Returns @out.
 */
const char *out_clean(char *out, size_t size, const char *s);

/* Writes @s (any length, may be NULL) to @f cleaned as out_clean does. */
void out_put_clean(FILE *f, const char *s);

/* Writes @j indented, with a final newline, to stdout.  Returns 0 or -EIO. */
int out_json(const json_t *j);

/* Writes @j on one line (JSON lines) to @f.  Returns 0 or -EIO. */
int out_json_line(FILE *f, const json_t *j);

/*
 * "2026-11-26T08:21:40.123Z" -> "2026-11-26 08:21:40Z" into @buf; NULL or
 * an empty string -> "-"; anything unexpected is cleaned and copied.
 */
const char *out_time(char *buf, size_t size, const char *rfc3339);

/* The string member @key of @obj, or "" when missing, null or not a string. */
const char *out_str(const json_t *obj, const char *key);

/* The string member @key of member object @sub of @obj, or "". */
const char *out_str2(const json_t *obj, const char *sub, const char *key);

/* Prints "key           value" (value cleaned; "-" when NULL or empty) on stdout. */
void out_kv(const char *key, const char *value);

struct table;

/* A table of @ncols columns with these headers.  NULL only when out of memory. */
struct table *table_new(unsigned ncols, const char *const *headers);

/* Adds a row of ncols cells (a NULL cell prints "-").  Cells are cleaned and copied.  0 or -ENOMEM. */
int table_add(struct table *t, const char *const *cells);

/* Number of rows added. */
size_t table_rows(const struct table *t);

/* Prints the headers and rows aligned, two spaces between columns. */
void table_print(const struct table *t, FILE *f);

/* Frees @t; accepts NULL. */
void table_free(struct table *t);

/* Display width of UTF-8 text @s (cleaned text: one column per unknown byte). */
size_t out_width(const char *s);

#endif
