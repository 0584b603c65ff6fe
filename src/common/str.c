/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* str: bounded copies and strict number parsing. */
#include "common/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void str_freep(void *p)
{
	free(*(void **)p);
}

int str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return -ENAMETOOLONG;
	if (n >= size) {
		dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int str_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0' || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int str_parse_duration_ms(const char *s, int64_t *ret_ms)
{
	char num[24];
	size_t n;
	int64_t v, mul;
	int r;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n < 2 || n > sizeof(num))
		return -EINVAL;
	switch (s[n - 1]) {
	case 's': mul = 1000; break;
	case 'm': mul = 60 * 1000; break;
	case 'h': mul = 3600 * 1000; break;
	case 'd': mul = 86400LL * 1000; break;
	default: return -EINVAL;
	}
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	r = str_parse_i64(num, 0, INT64_MAX / mul, &v);
	if (r < 0)
		return r;
	*ret_ms = v * mul;
	return 0;
}

bool str_is_clean_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t extra;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; }
		else return false;
		if (i + extra >= len)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return false;
		i += extra + 1;
	}
	return true;
}

bool str_eq_ci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
