/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* path: percent-decoding, the path sanity check and segment splitting. */
#include "http/path.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/*
 * libmicrohttpd's own decoder turns "%00" into a NUL that silently cuts the
 * string; here every decoded control byte becomes 0x01 instead, so
 * "/a%00.js" can never be mistaken for "/a".
 */
size_t http_path_unescape(char *s)
{
	char *w = s;

	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hex[3] = { p[1], p[2], '\0' };

			c = (unsigned char)strtoul(hex, NULL, 16);
			p += 2;
		}
		if (c < 0x20 || c == 0x7f)
			c = 0x01;
		*w++ = (char)c;
	}
	*w = '\0';
	return (size_t)(w - s);
}

bool http_path_is_sane(const char *p)
{
	if (p[0] != '/' || strlen(p) > HTTP_MAX_PATH)
		return false;
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
		return false;
	{
		size_t n = strlen(p);

		if ((n >= 3 && strcmp(p + n - 3, "/..") == 0) || (n >= 2 && strcmp(p + n - 2, "/.") == 0))
			return false;
	}
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

int http_path_split(char *work, char *segs[HTTP_MAX_SEGS])
{
	int n = 0;
	char *p = work;

	if (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (n == HTTP_MAX_SEGS)
			return -1;
		segs[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
		if (*p == '\0') {
			/* trailing slash: an empty last segment */
			if (n == HTTP_MAX_SEGS)
				return -1;
			segs[n++] = p;
		}
	}
	return n;
}
