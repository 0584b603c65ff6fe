/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * multipart: the body scanner looks for "\r\n--boundary".  A boundary holds
 * no CR (RFC 2046 bchars), so after a mismatch only the current byte can
 * start a new match: no backtracking table is needed.
 */
#include "exchange/multipart.h"

#include <string.h>
#include <strings.h>

#include "common/err.h"

#define MP_ERR_STATE ((enum mp_state)100)

static int mp_fail(struct mp_parser *p, int err, const char *msg)
{
	p->state = MP_ERR_STATE;
	return rerr_set(&p->err, err, NULL, "%s", msg);
}

static bool mp_is_bchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr("'()+_,-./:=? ", c) != NULL;
}

int mp_init(struct mp_parser *p, const char *content_type, const struct mp_callbacks *cb, void *ud)
{
	const char *b, *end;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ud = ud;
	if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0)
		return mp_fail(p, ERR_INVALID, "not multipart/form-data");
	b = strcasestr(content_type, "boundary=");
	if (!b)
		return mp_fail(p, ERR_INVALID, "no boundary");
	b += 9;
	if (*b == '"') {
		b++;
		end = strchr(b, '"');
		if (!end)
			return mp_fail(p, ERR_INVALID, "unterminated boundary");
	} else {
		end = b + strcspn(b, "; \t");
	}
	n = (size_t)(end - b);
	if (n == 0 || n > MP_MAX_BOUNDARY)
		return mp_fail(p, ERR_INVALID, "boundary must be 1 to 70 characters");
	for (size_t i = 0; i < n; i++)
		if (!mp_is_bchar(b[i]))
			return mp_fail(p, ERR_INVALID, "boundary has a character RFC 2046 does not allow");
	if (b[n - 1] == ' ')
		return mp_fail(p, ERR_INVALID, "boundary ends in a space");
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, b, n);
	p->delim_len = n + 4;
	/* The body starts with "--boundary": as if the CRLF before it were already seen. */
	p->match = 2;
	p->state = MP_PREAMBLE;
	return 0;
}

/* Reads a parameter (quoted-string or token) of a Content-Disposition value. */
static int mp_param(const char *v, const char *key, char *out, size_t size, bool *found)
{
	size_t klen = strlen(key);
	const char *s = v;

	*found = false;
	while ((s = strchr(s, ';'))) {
		size_t o = 0;

		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, key, klen) != 0 || s[klen] != '=')
			continue;
		s += klen + 1;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (o + 1 >= size)
					return ERR_TOO_LARGE;
				out[o++] = *s;
			}
			if (*s != '"')
				return ERR_INVALID;
		} else {
			for (; *s && *s != ';' && *s != ' ' && *s != '\t'; s++) {
				if (o + 1 >= size)
					return ERR_TOO_LARGE;
				out[o++] = *s;
			}
		}
		out[o] = '\0';
		*found = true;
		return 0;
	}
	return 0;
}

static int mp_headers_done(struct mp_parser *p)
{
	char name[MP_MAX_NAME], filename[MP_MAX_FILENAME];
	bool has_name = false, has_file = false, seen_cd = false;
	char *line = p->hdr;

	p->hdr[p->hdr_len] = '\0';
	if (memchr(p->hdr, '\0', p->hdr_len))
		return mp_fail(p, ERR_INVALID, "NUL byte in part headers");
	while (*line) {
		char *eol = strstr(line, "\r\n");

		if (!eol)
			break;
		*eol = '\0';
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			const char *v = line + 20;
			int r;

			while (*v == ' ' || *v == '\t')
				v++;
			if (strncasecmp(v, "form-data", 9) != 0)
				return mp_fail(p, ERR_INVALID, "part is not form-data");
			seen_cd = true;
			r = mp_param(v, "name", name, sizeof(name), &has_name);
			if (r == 0)
				r = mp_param(v, "filename", filename, sizeof(filename), &has_file);
			if (r < 0)
				return mp_fail(p, r, "malformed or too long name or filename");
		}
		line = eol + 2;
	}
	if (!seen_cd || !has_name)
		return mp_fail(p, ERR_INVALID, "part without a Content-Disposition name");
	if (++p->parts > MP_MAX_PARTS)
		return mp_fail(p, ERR_TOO_LARGE, "too many parts");
	return p->cb->part_begin(p->ud, name, has_file ? filename : NULL);
}

int mp_feed(struct mp_parser *p, const char *data, size_t len)
{
	size_t i = 0;
	int r;

	if (p->state == MP_ERR_STATE)
		return ERR_INVALID;
	while (i < len) {
		switch (p->state) {
		case MP_PREAMBLE:
		case MP_BODY: {
			bool body = p->state == MP_BODY;

			if (p->match == 0) {
				/* Fast path: everything before the next CR is data. */
				const char *cr = memchr(data + i, '\r', len - i);
				size_t n = cr ? (size_t)(cr - (data + i)) : len - i;

				if (n && body && (r = p->cb->part_data(p->ud, data + i, n)) < 0) {
					p->state = MP_ERR_STATE;
					return r;
				}
				i += n;
				if (!cr)
					break;
			}
			if (data[i] == p->delim[p->match]) {
				p->match++;
				i++;
				if (p->match == p->delim_len) {
					p->match = 0;
					if (body && (r = p->cb->part_end(p->ud)) < 0) {
						p->state = MP_ERR_STATE;
						return r;
					}
					p->state = MP_AFTER_BOUNDARY;
					p->nafter = 0;
				}
				break;
			}
			/* Mismatch: the bytes matched so far were data after all. */
			if (!body)   /* a body must open with its boundary */
				return mp_fail(p, ERR_INVALID, "body does not start with the boundary");
			if (body && p->match && (r = p->cb->part_data(p->ud, p->delim, p->match)) < 0) {
				p->state = MP_ERR_STATE;
				return r;
			}
			p->match = 0;
			if (data[i] != '\r') {
				if (body && (r = p->cb->part_data(p->ud, data + i, 1)) < 0) {
					p->state = MP_ERR_STATE;
					return r;
				}
				i++;
			}
			break;
		}
		case MP_AFTER_BOUNDARY:
			p->after[p->nafter++] = data[i++];
			if (p->nafter < 2)
				break;
			if (p->after[0] == '-' && p->after[1] == '-') {
				p->state = MP_DONE;
			} else if (p->after[0] == '\r' && p->after[1] == '\n') {
				p->state = MP_HEADERS;
				p->hdr_len = 0;
			} else {
				return mp_fail(p, ERR_INVALID, "boundary not followed by CRLF or --");
			}
			break;
		case MP_HEADERS:
			if (p->hdr_len == MP_MAX_HEADERS)
				return mp_fail(p, ERR_TOO_LARGE, "part headers too long");
			p->hdr[p->hdr_len++] = data[i++];
			if (p->hdr_len == 2 && memcmp(p->hdr, "\r\n", 2) == 0)
				return mp_fail(p, ERR_INVALID, "part without headers");
			if (p->hdr_len >= 4 && memcmp(p->hdr + p->hdr_len - 4, "\r\n\r\n", 4) == 0) {
				p->hdr_len -= 2;   /* keep the last header's CRLF */
				r = mp_headers_done(p);
				if (r < 0) {
					p->state = MP_ERR_STATE;
					return r;
				}
				p->state = MP_BODY;
				p->match = 0;
			}
			break;
		case MP_DONE:
			/* The epilogue is ignored. */
			return 0;
		default:
			return ERR_INVALID;
		}
	}
	return 0;
}

int mp_finish(struct mp_parser *p)
{
	if (p->state != MP_DONE)
		return mp_fail(p, ERR_INVALID, "body ends before the closing boundary");
	return 0;
}
