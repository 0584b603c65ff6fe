/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * jsonx: jansson accepts up to 2048 levels of nesting, more than any request
 * of ours needs and enough to burn CPU, so the depth and string lengths are
 * checked by a linear scan before jansson sees the bytes.
 */
#include "common/jsonx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"

int jsonx_fail(struct rerr *e, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rerr_setv(e, ERR_INVALID, field, fmt, ap);
	va_end(ap);
	return r;
}

/* Scans for depth and string-length limits; strings are skipped with escapes. */
static int jsonx_prescan(const char *p, size_t len, unsigned max_depth, struct rerr *e)
{
	unsigned depth = 0;
	size_t i = 0;

	while (i < len) {
		char c = p[i];

		if (c == '\0')
			return jsonx_fail(e, NULL, "body contains a NUL byte");
		if (c == '"') {
			size_t start = ++i;

			while (i < len && p[i] != '"') {
				if (p[i] == '\\')
					i++;
				i++;
			}
			if (i - start > JSONX_MAX_STRING)
				return jsonx_fail(e, NULL, "a string is longer than %d bytes", JSONX_MAX_STRING);
			i++;
			continue;
		}
		if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return jsonx_fail(e, NULL, "nesting deeper than %u levels", max_depth);
		} else if (c == '}' || c == ']') {
			if (depth)
				depth--;
		}
		i++;
	}
	return 0;
}

int jsonx_parse_object(const char *data, size_t len, unsigned max_depth,
		       json_t **ret, struct rerr *e)
{
	json_error_t jerr;
	json_t *j;
	int r;

	if (len == 0)
		return jsonx_fail(e, NULL, "empty body; a JSON object is expected");
	r = jsonx_prescan(data, len, max_depth, e);
	if (r < 0)
		return r;
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return jsonx_fail(e, NULL, "malformed JSON at line %d column %d: %s",
				  jerr.line, jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return jsonx_fail(e, NULL, "a JSON object is expected");
	}
	*ret = j;
	return 0;
}

static int jsonx_missing(const json_t *v, const char *key, bool required, struct rerr *e)
{
	if (v && !json_is_null(v))
		return 1;
	if (required)
		return jsonx_fail(e, key, "'%s' is required", key);
	return -ENOENT;
}

int jsonx_get_str(const json_t *obj, const char *key, bool required, size_t max_len,
		  const char **ret, struct rerr *e)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;
	int r = jsonx_missing(v, key, required, e);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return jsonx_fail(e, key, "'%s' must be a string", key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 && required)
		return jsonx_fail(e, key, "'%s' must not be empty", key);
	if (n > max_len)
		return jsonx_fail(e, key, "'%s' is longer than %zu bytes", key, max_len);
	if (strlen(s) != n || !str_is_clean_utf8(s, n))
		return jsonx_fail(e, key, "'%s' contains control characters", key);
	*ret = s;
	return 0;
}

int jsonx_get_int(const json_t *obj, const char *key, bool required, int64_t min,
		  int64_t max, int64_t *ret, struct rerr *e)
{
	const json_t *v = json_object_get(obj, key);
	int r = jsonx_missing(v, key, required, e);
	json_int_t n;

	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return jsonx_fail(e, key, "'%s' must be an integer", key);
	n = json_integer_value(v);
	if (n < min || n > max)
		return jsonx_fail(e, key, "'%s' must be between %lld and %lld", key,
				  (long long)min, (long long)max);
	*ret = n;
	return 0;
}

int jsonx_get_bool(const json_t *obj, const char *key, bool required, bool *ret,
		   struct rerr *e)
{
	const json_t *v = json_object_get(obj, key);
	int r = jsonx_missing(v, key, required, e);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return jsonx_fail(e, key, "'%s' must be true or false", key);
	*ret = json_is_true(v);
	return 0;
}

int jsonx_only_keys(const json_t *obj, const char *const *allowed, struct rerr *e)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			char shown[48];

			snprintf(shown, sizeof(shown), "%s", key);
			return jsonx_fail(e, shown, "unknown field '%s'", shown);
		}
	}
	return 0;
}

int jsonx_set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, s ? json_string(s) : json_null()) < 0 ? -ENOMEM : 0;
}

int jsonx_set_asked(json_t *obj, const char *key, const char *s)
{
	char out[JSONX_ASKED_MAX * 4 + 8];
	size_t o = 0, i = 0, n;

	if (!s)
		return 0;
	n = strlen(s);
	while (i < n && o < JSONX_ASKED_MAX) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len && i + len <= n && str_is_clean_utf8(s + i, len)) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02X", c);
			i++;
		}
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	return json_object_set_new(obj, key, json_stringn(out, o)) < 0 ? -ENOMEM : 0;
}

int jsonx_set_time(json_t *obj, const char *key, int64_t ms)
{
	char t[40];

	if (ms == 0)
		return json_object_set_new(obj, key, json_null()) < 0 ? -ENOMEM : 0;
	return jsonx_set_str(obj, key, rtime_format(t, sizeof(t), ms));
}
