/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * jsonx: parsing untrusted JSON request bodies with limits, and typed field
 * access that reports exactly which field was wrong.
 */
#ifndef RAMPART_JSONX_H
#define RAMPART_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define JSONX_MAX_DEPTH 16
#define JSONX_MAX_STRING 4096

/* Fills @e (may be NULL) with a message and field name; returns ERR_INVALID. */
int jsonx_fail(struct rerr *e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Parses @len bytes as a JSON object.  Refuses nesting deeper than
 * @max_depth, strings longer than JSONX_MAX_STRING bytes, duplicate keys,
 * NUL bytes and invalid UTF-8.  Returns 0 and a new reference in *ret, or
 * ERR_INVALID with @e filled.
 */
int jsonx_parse_object(const char *data, size_t len, unsigned max_depth,
		       json_t **ret, struct rerr *e);

/*
 * Reads string field @key of @obj.  Missing or null: -ENOENT if !required
 * (ret untouched), else ERR_INVALID.  Wrong type, longer than @max_len
 * bytes, or (when !allow_empty) empty: ERR_INVALID.  *ret is borrowed from @obj.
 */
int jsonx_get_str(const json_t *obj, const char *key, bool required, size_t max_len,
		  const char **ret, struct rerr *e);

/* Reads an integer field within [min,max]; missing semantics as jsonx_get_str. */
int jsonx_get_int(const json_t *obj, const char *key, bool required, int64_t min,
		  int64_t max, int64_t *ret, struct rerr *e);

/* Reads a boolean field; missing semantics as jsonx_get_str. */
int jsonx_get_bool(const json_t *obj, const char *key, bool required, bool *ret,
		   struct rerr *e);

/* Refuses any key of @obj not in the NULL-terminated list @allowed. */
int jsonx_only_keys(const json_t *obj, const char *const *allowed, struct rerr *e);

/* Adds key=str to @obj, or null when @s is NULL.  Returns 0 or -ENOMEM. */
int jsonx_set_str(json_t *obj, const char *key, const char *s);

/*
 * Adds key=@s for text a client sent, as it was asked, for audit details:
 * nothing when @s is NULL; at most JSONX_ASKED_MAX bytes of it (cut at a
 * character boundary, with "..." after); a byte that is not part of clean
 * UTF-8 text (a control character, an invalid sequence) written as \xNN.
 * So even a malformed filter is recorded, and recorded safely.
 * Returns 0 or -ENOMEM.
 */
#define JSONX_ASKED_MAX 256
int jsonx_set_asked(json_t *obj, const char *key, const char *s);

/* Adds key=RFC3339 time, or null when @ms is 0. */
int jsonx_set_time(json_t *obj, const char *key, int64_t ms);

#endif
