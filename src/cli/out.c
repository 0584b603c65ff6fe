/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* out: cleaned text, aligned tables and JSON printing for the CLI. */
#include "cli/out.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decodes one UTF-8 character at @s (@len bytes left).  Returns its length
 * and stores the code point, or returns 0 for an invalid or truncated
 * sequence, overlong forms and surrogates.
 */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
	size_t extra;
	uint32_t cp;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) { extra = 1; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { extra = 2; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { extra = 3; cp = s[0] & 0x07; }
	else return 0;
	if (extra >= len)
		return 0;
	for (size_t k = 1; k <= extra; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return extra + 1;
}

/* Control characters: C0, DEL, C1, and the bidirectional overrides that can disguise text. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Terminal columns of a printable code point: 0 for combining marks, 2 for wide East Asian ones. */
static unsigned cp_width(uint32_t cp)
{
	if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0xfe00 && cp <= 0xfe0f))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
	    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

const char *out_clean(char *out, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), i = 0, o = 0;
	bool cut = false;

	if (size == 0)
		return out;
	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_next(p + i, len - i, &cp);
		bool bad = n == 0 || is_control(cp);
		size_t rlen = bad ? 1 : n;

		if (o + rlen + 1 > size) {
			cut = true;
			break;
		}
		memcpy(out + o, bad ? "?" : (const char *)p + i, rlen);
		o += rlen;
		i += n ? n : 1;
	}
	if (cut && size >= 4) {
		/* Drop whole characters until "..." fits. */
		while (o > 0 && o + 4 > size) {
			o--;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
				o--;
		}
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

void out_put_clean(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), i = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_next(p + i, len - i, &cp);

		if (n == 0 || is_control(cp)) {
			/* Newlines and tabs in multi-line messages are kept readable. */
			fputc(n == 1 && (cp == '\n' || cp == '\t') ? (int)cp : '?', f);
			i += n ? n : 1;
			continue;
		}
		fwrite(p + i, 1, n, f);
		i += n;
	}
}

size_t out_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, w = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_next(p + i, len - i, &cp);

		if (n == 0) {
			w++;
			i++;
			continue;
		}
		w += cp_width(cp);
		i += n;
	}
	return w;
}

int out_json(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF)
		return -EIO;
	return 0;
}

int out_json_line(FILE *f, const json_t *j)
{
	if (json_dumpf(j, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

const char *out_time(char *buf, size_t size, const char *t)
{
	size_t n;

	if (!t || !*t)
		return out_clean(buf, size, "-");
	n = strlen(t);
	/* YYYY-MM-DDTHH:MM:SS[.fff]Z */
	if (n >= 20 && n <= 30 && t[4] == '-' && t[10] == 'T' && t[n - 1] == 'Z' && size >= 21) {
		memcpy(buf, t, 19);
		buf[10] = ' ';
		buf[19] = 'Z';
		buf[20] = '\0';
		return out_clean(buf, size, buf);
	}
	return out_clean(buf, size, t);
}

const char *out_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

const char *out_str2(const json_t *obj, const char *sub, const char *key)
{
	return out_str(json_object_get(obj, sub), key);
}

void out_kv(const char *key, const char *value)
{
	char clean[1024];

	printf("%-14s %s\n", key, value && *value ? out_clean(clean, sizeof(clean), value) : "-");
}

/* ------------------------------------------------------------------ tables */

struct table {
	unsigned ncols;
	size_t nrows, cap;
	char **cells;      /* (nrows + 1) * ncols, row 0 the headers */
};

/* Stores cleaned copies of @cells as row @row (0: the headers). */
static int table_put(struct table *t, size_t row, const char *const *cells)
{
	char buf[512];

	if ((row + 1) * t->ncols > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : (size_t)t->ncols * 16;
		char **p;

		while (cap < (row + 1) * t->ncols)
			cap *= 2;
		p = realloc(t->cells, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	for (unsigned c = 0; c < t->ncols; c++) {
		const char *v = cells[c] && *cells[c] ? cells[c] : "-";
		char *copy = strdup(out_clean(buf, sizeof(buf), v));

		if (!copy) {
			for (unsigned k = 0; k < c; k++)
				free(t->cells[row * t->ncols + k]);
			return -ENOMEM;
		}
		t->cells[row * t->ncols + c] = copy;
	}
	return 0;
}

struct table *table_new(unsigned ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_put(t, 0, headers) < 0) {
		free(t->cells);
		free(t);
		return NULL;
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	int r = table_put(t, t->nrows + 1, cells);

	if (r == 0)
		t->nrows++;
	return r;
}

size_t table_rows(const struct table *t)
{
	return t->nrows;
}

void table_print(const struct table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (!w)
		return;
	for (size_t r = 0; r <= t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++) {
			size_t cw = out_width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *v = t->cells[r * t->ncols + c];

			fputs(v, f);
			if (c + 1 < t->ncols)
				for (size_t pad = out_width(v); pad < w[c] + 2; pad++)
					fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	if (t->cells)
		for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
			free(t->cells[i]);
	free(t->cells);
	free(t);
}
