/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr: the HR CSV feed, in three phases so that nothing is written unless the
 * whole file has been understood.
 *
 *   1. parse (hr_parse_csv): libcsv in strict RFC 4180 mode, fed one
 *      physical line at a time so that each record knows the line it starts
 *      on.  Each record is checked on its own (fields, values, shapes), then
 *      across the file (duplicate employee numbers, manager cycles).
 *   2. plan: the file against the database, with hash maps over every stored
 *      person and org unit: unknown managers (cascading to the people whose
 *      manager's line is bad), login collisions, manager cycles through
 *      people already stored, then one action per record: new, moved,
 *      changed, retired or unchanged; with a full snapshot, the retirement
 *      of HR people the file no longer lists; the org units to create.
 *   3. apply: one transaction: org units, new people (managers before their
 *      reports, with ids growing in that order), updates, history rows,
 *      revocation of the sessions and tokens of everyone retired, and one
 *      hr.import audit entry; each statement is prepared once.
 *
 * Every pass is linear in the size of the file plus the directory.  The
 * rules (logins, org unit kinds, snapshot threshold) are stated in hr.h.
 */
#include "identity/hr.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/directory.h"
#include "store/store.h"

enum hr_col {
	HR_EMP, HR_FAMILY, HR_GIVEN, HR_EMAIL, HR_ORG, HR_TITLE, HR_STATUS, HR_KIND,
	HR_MANAGER, HR_ORG_KIND, HR_NCOLS
};

static const char *const hr_col_names[HR_NCOLS] = {
	"employee_number", "family_name", "given_name", "email", "org_unit", "title",
	"status", "kind", "manager", "org_kind",
};

/* A record with more fields than this is refused before it is stored. */
#define HR_MAX_FILE_COLS 32
/* Input is handed to libcsv in slices of at most this many bytes. */
#define HR_SLICE 4096
/* Levels of an org path. */
#define HR_MAX_DEPTH 8
/* Changes listed in a report. */
#define HR_MAX_CHANGES_REPORTED 1000

/* ------------------------------------------------------------ hash map */

/* Open addressing from borrowed NUL-terminated keys to indexes. */
struct hr_map {
	const char **keys;
	long *vals;
	size_t cap;   /* a power of two, or 0 */
	size_t n;
};

static uint64_t hr_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void hr_map_done(struct hr_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static long hr_map_get(const struct hr_map *m, const char *key)
{
	if (!m->cap || !key)
		return -1;
	for (size_t i = hr_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

static void hr_map_slot_set(struct hr_map *m, const char *key, long val)
{
	size_t i = hr_hash(key) & (m->cap - 1);

	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
}

/* Makes room for @want keys.  Returns 0 or -ENOMEM (the map is unchanged). */
static int hr_map_reserve(struct hr_map *m, size_t want)
{
	struct hr_map g = { 0 };
	size_t cap = 16;

	while (cap < want * 2)
		cap <<= 1;
	if (cap <= m->cap)
		return 0;
	g.keys = calloc(cap, sizeof(*g.keys));
	g.vals = calloc(cap, sizeof(*g.vals));
	if (!g.keys || !g.vals) {
		hr_map_done(&g);
		return -ENOMEM;
	}
	g.cap = cap;
	g.n = m->n;
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			hr_map_slot_set(&g, m->keys[i], m->vals[i]);
	hr_map_done(m);
	*m = g;
	return 0;
}

/*
 * Adds @key -> @val unless @key is present.  Returns 0 when added, 1 when
 * present (*ret_old set if not NULL), or -ENOMEM.  @key must outlive the map.
 */
static int hr_map_put(struct hr_map *m, const char *key, long val, long *ret_old)
{
	long old = hr_map_get(m, key);

	if (old >= 0) {
		if (ret_old)
			*ret_old = old;
		return 1;
	}
	if ((m->n + 1) * 2 > m->cap && hr_map_reserve(m, m->n + 1 > 8 ? (m->n + 1) * 2 : 16) < 0)
		return -ENOMEM;
	hr_map_slot_set(m, key, val);
	m->n++;
	return 0;
}

/* -------------------------------------------------------------- helpers */

/* Cuts @s so that it does not end in a partial UTF-8 sequence (after snprintf truncation). */
static void hr_utf8_trim(char *s)
{
	size_t len = strlen(s), j, need;
	unsigned char c;

	if (!len)
		return;
	j = len - 1;
	while (j > 0 && ((unsigned char)s[j] & 0xc0) == 0x80)
		j--;
	c = (unsigned char)s[j];
	need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
	if (j + need > len)
		s[j] = '\0';
}

/* Copies @src into @dst for a message: printable ASCII kept, anything else '?'. */
static void hr_printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

static bool hr_is_status(const char *s)
{
	return !strcmp(s, "active") || !strcmp(s, "on_leave") || !strcmp(s, "retired");
}

static bool hr_is_kind(const char *s)
{
	return !strcmp(s, "employee") || !strcmp(s, "partner_staff");
}

static bool hr_is_org_kind(const char *s)
{
	return !strcmp(s, "own") || !strcmp(s, "group_company") || !strcmp(s, "business_partner");
}

static bool hr_domain_ok(const char *d)
{
	size_t label = 0, labels = 0, len = strlen(d);

	if (len < 3 || len > 253)
		return false;
	for (const char *p = d;; p++) {
		char c = *p;

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			labels++;
			label = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return labels >= 2;
}

/* The shape of an address: local@domain.tld, ASCII, no spaces or specials. */
static bool hr_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t local;

	if (!at || strchr(at + 1, '@'))
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = s; p < at; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c))
			return false;
		if (c == '.' && p[1] == '.')
			return false;
	}
	return hr_domain_ok(at + 1);
}

/*
 * Normalizes an org path in place: spaces around segments removed.  Returns
 * 0, or -EINVAL with *why saying what is wrong.
 */
static int hr_path_normalize(char *path, const char **why)
{
	char *w = path;
	const char *r = path;
	size_t depth = 0;

	for (;;) {
		const char *seg = r, *end = strchr(r, '/'), *e;

		if (!end)
			end = r + strlen(r);
		while (seg < end && (*seg == ' '))
			seg++;
		e = end;
		while (e > seg && e[-1] == ' ')
			e--;
		if (e == seg) {
			*why = "has an empty segment";
			return -EINVAL;
		}
		if (++depth > HR_MAX_DEPTH) {
			*why = "has more than 8 levels";
			return -EINVAL;
		}
		if (w != path)
			*w++ = '/';
		memmove(w, seg, (size_t)(e - seg));
		w += e - seg;
		if (!*end)
			break;
		r = end + 1;
	}
	*w = '\0';
	return 0;
}

static size_t hr_path_depth(const char *path)
{
	size_t d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* A new lowercase copy of @s (ASCII letters only are folded), or NULL. */
static char *hr_lower_dup(const char *s)
{
	char *d = strdup(s);

	if (d)
		for (char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

static char **hr_row_field(struct hr_row *r, int col)
{
	switch (col) {
	case HR_EMP: return &r->employee_number;
	case HR_FAMILY: return &r->family_name;
	case HR_GIVEN: return &r->given_name;
	case HR_EMAIL: return &r->email;
	case HR_ORG: return &r->org_unit;
	case HR_TITLE: return &r->title;
	case HR_STATUS: return &r->status;
	case HR_KIND: return &r->kind;
	case HR_MANAGER: return &r->manager;
	default: return &r->org_kind;
	}
}

/* Counts an error on @line; keeps its text while fewer than HR_MAX_ERRORS_REPORTED are kept. */
static void hr_error_v(struct hr_parse_result *res, long line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void hr_error_v(struct hr_parse_result *res, long line, const char *fmt, va_list ap)
{
	struct hr_line_error *e;

	res->nerrors++;
	if (res->nerrors_kept >= HR_MAX_ERRORS_REPORTED || !res->errors)
		return;
	e = &res->errors[res->nerrors_kept++];
	e->line = line;
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	hr_utf8_trim(e->reason);
}

static void hr_error(struct hr_parse_result *res, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void hr_error(struct hr_parse_result *res, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hr_error_v(res, line, fmt, ap);
	va_end(ap);
}

/* Marks @row bad with a reason, unless it already is (one reason per line). */
static bool hr_row_fail(struct hr_parse_result *res, struct hr_row *row, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool hr_row_fail(struct hr_parse_result *res, struct hr_row *row, const char *fmt, ...)
{
	va_list ap;

	if (!row->valid)
		return false;
	row->valid = false;
	va_start(ap, fmt);
	hr_error_v(res, row->line, fmt, ap);
	va_end(ap);
	return true;
}

static void hr_fatal(struct hr_parse_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void hr_fatal(struct hr_parse_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->fatal[0])
		return;
	va_start(ap, fmt);
	vsnprintf(res->fatal, sizeof(res->fatal), fmt, ap);
	va_end(ap);
	hr_utf8_trim(res->fatal);
}

/* ------------------------------------------------------------ parsing */

struct hr_parser {
	struct hr_parse_result *res;
	size_t cap_rows;
	struct hr_map emp_first;          /* employee number -> first row carrying it */
	/* header */
	bool have_header;
	int colmap[HR_MAX_FILE_COLS];     /* file column -> enum hr_col */
	size_t ncols;
	/* the record being read */
	struct buf rec;                   /* its fields, each NUL-terminated */
	size_t off[HR_MAX_FILE_COLS];
	size_t flen[HR_MAX_FILE_COLS];
	size_t nfields;                   /* fields seen (may exceed HR_MAX_FILE_COLS) */
	long line;                        /* physical line the record starts on */
	bool row_ended;
	int err;                          /* -ENOMEM */
};

static void hr_cb_field(void *s, size_t len, void *data)
{
	struct hr_parser *hp = data;
	size_t i = hp->nfields++;

	if (hp->err || i >= HR_MAX_FILE_COLS)
		return;
	hp->off[i] = hp->rec.len;
	hp->flen[i] = len;
	if (len > HR_MAX_FIELD)
		len = 0;   /* refused below by its length; not kept */
	if ((len && buf_append(&hp->rec, s, len) < 0) || buf_append(&hp->rec, "", 1) < 0)
		hp->err = -ENOMEM;
}

static void hr_header(struct hr_parser *hp)
{
	struct hr_parse_result *res = hp->res;
	bool seen[HR_NCOLS] = { false };
	char missing[160] = "";
	size_t o = 0;

	if (hp->nfields > HR_MAX_FILE_COLS) {
		hr_fatal(res, "the header (line %ld) has more than %d columns", hp->line, HR_MAX_FILE_COLS);
		return;
	}
	for (size_t i = 0; i < hp->nfields; i++) {
		const char *name = hp->rec.data + hp->off[i];
		int col = -1;

		for (int j = 0; j < HR_NCOLS && hp->flen[i] <= HR_MAX_FIELD; j++)
			if (str_eq_ci(name, hr_col_names[j]))
				col = j;
		if (col < 0) {
			char shown[48];

			hr_printable(shown, sizeof(shown), name, hp->flen[i] <= HR_MAX_FIELD ? hp->flen[i] : 0);
			hr_fatal(res, "unknown column '%s' in the header (line %ld); the columns are "
				 "employee_number, family_name, given_name, email, org_unit, title, status, "
				 "kind, manager and optionally org_kind", shown, hp->line);
			return;
		}
		if (seen[col]) {
			hr_fatal(res, "column '%s' appears twice in the header (line %ld)", hr_col_names[col],
				 hp->line);
			return;
		}
		seen[col] = true;
		hp->colmap[i] = col;
	}
	for (int j = 0; j < HR_ORG_KIND; j++) {
		if (seen[j])
			continue;
		o += (size_t)snprintf(missing + o, sizeof(missing) - o, "%s%s", o ? ", " : "", hr_col_names[j]);
		if (o >= sizeof(missing))
			break;
	}
	if (o) {
		hr_fatal(res, "the header (line %ld) lacks the column(s) %s", hp->line, missing);
		return;
	}
	hp->ncols = hp->nfields;
	hp->have_header = true;
}

/* Checks a stored record on its own; the first problem found is its reason. */
static void hr_check_row(struct hr_parser *hp, struct hr_row *row)
{
	struct hr_parse_result *res = hp->res;
	static const int required[] = { HR_EMP, HR_FAMILY, HR_GIVEN, HR_ORG, HR_STATUS, HR_KIND };
	const char *why;
	size_t n = hp->nfields < HR_MAX_FILE_COLS ? hp->nfields : HR_MAX_FILE_COLS;

	if (hp->nfields != hp->ncols) {
		hr_row_fail(res, row, "expected %zu fields as in the header, found %zu", hp->ncols, hp->nfields);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = hp->rec.data + hp->off[i];
		const char *name = hr_col_names[hp->colmap[i]];

		if (hp->flen[i] > HR_MAX_FIELD) {
			hr_row_fail(res, row, "field '%s' is longer than %d bytes", name, HR_MAX_FIELD);
			return;
		}
		if (memchr(v, '\0', hp->flen[i]) || memchr(v, '\t', hp->flen[i]) ||
		    !str_is_clean_utf8(v, hp->flen[i])) {
			hr_row_fail(res, row, "field '%s' contains a control character or invalid UTF-8", name);
			return;
		}
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!**hr_row_field(row, required[i])) {
			hr_row_fail(res, row, "'%s' is required", hr_col_names[required[i]]);
			return;
		}
	}
	if (!hr_is_status(row->status)) {
		hr_row_fail(res, row, "status must be active, on_leave or retired, not '%s'", row->status);
		return;
	}
	if (!hr_is_kind(row->kind)) {
		hr_row_fail(res, row, "kind must be employee or partner_staff, not '%s'", row->kind);
		return;
	}
	if (*row->org_kind && !hr_is_org_kind(row->org_kind)) {
		hr_row_fail(res, row, "org_kind must be own, group_company or business_partner, not '%s'",
			    row->org_kind);
		return;
	}
	if (*row->email && !hr_email_ok(row->email)) {
		hr_row_fail(res, row, "email '%s' is not an address like name@example.com", row->email);
		return;
	}
	if (hr_path_normalize(row->org_unit, &why) < 0) {
		hr_row_fail(res, row, "org_unit '%s' %s", row->org_unit, why);
		return;
	}
	if (*row->manager && strcmp(row->manager, row->employee_number) == 0) {
		hr_row_fail(res, row, "a person cannot be their own manager");
		return;
	}
}

static void hr_record(struct hr_parser *hp)
{
	struct hr_parse_result *res = hp->res;
	const char *val[HR_NCOLS];
	size_t n = hp->nfields < HR_MAX_FILE_COLS ? hp->nfields : HR_MAX_FILE_COLS;
	size_t total = 0;
	struct hr_row *row;
	char *block;
	long first;
	int r;

	if (res->nrows >= HR_MAX_ROWS) {
		hr_fatal(res, "the file has more than %d records", HR_MAX_ROWS);
		return;
	}
	if (res->nrows == hp->cap_rows) {
		size_t cap = hp->cap_rows ? hp->cap_rows * 2 : 256;
		struct hr_row *rows = realloc(res->rows, cap * sizeof(*rows));

		if (!rows) {
			hp->err = -ENOMEM;
			return;
		}
		res->rows = rows;
		hp->cap_rows = cap;
	}
	for (int j = 0; j < HR_NCOLS; j++)
		val[j] = "";
	for (size_t i = 0; i < n && i < hp->ncols; i++)
		val[hp->colmap[i]] = hp->rec.data + hp->off[i];
	for (int j = 0; j < HR_NCOLS; j++)
		total += strlen(val[j]) + 1;
	block = malloc(total);
	if (!block) {
		hp->err = -ENOMEM;
		return;
	}
	row = &res->rows[res->nrows++];
	memset(row, 0, sizeof(*row));
	row->line = hp->line;
	row->valid = true;
	/* HR_EMP is first, so ->employee_number owns the block. */
	for (int j = 0; j < HR_NCOLS; j++) {
		size_t len = strlen(val[j]) + 1;

		memcpy(block, val[j], len);
		*hr_row_field(row, j) = block;
		block += len;
	}
	hr_check_row(hp, row);

	/* Duplicates are looked for even on bad lines, when the number itself is readable. */
	if (!*row->employee_number || !str_is_clean_utf8(row->employee_number, strlen(row->employee_number)))
		return;
	r = hr_map_put(&hp->emp_first, row->employee_number, (long)(res->nrows - 1), &first);
	if (r < 0) {
		hp->err = r;
	} else if (r == 1) {
		struct hr_row *f = &res->rows[first];

		hr_row_fail(res, row, "employee number %s already appears on line %ld", row->employee_number,
			    f->line);
		hr_row_fail(res, f, "employee number %s appears again on line %ld", f->employee_number,
			    row->line);
	}
}

static void hr_cb_row(int c, void *data)
{
	struct hr_parser *hp = data;

	hp->row_ended = true;
	if (!hp->err && !hp->res->fatal[0]) {
		if (!hp->have_header)
			hr_header(hp);
		else
			hr_record(hp);
	}
	buf_reset(&hp->rec);
	hp->nfields = 0;
}

#define HR_CSV_OPTS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* Drops the record being read and starts the parser afresh (after a broken record). */
static void hr_parser_restart(struct hr_parser *hp, struct csv_parser *cp)
{
	csv_free(cp);
	csv_init(cp, HR_CSV_OPTS);
	buf_reset(&hp->rec);
	hp->nfields = 0;
}

/* Reports a record that cannot be read; before the header it makes the file unusable. */
static void hr_broken(struct hr_parser *hp, const char *why)
{
	if (!hp->have_header)
		hr_fatal(hp->res, "the header (line %ld) cannot be read: %s", hp->line, why);
	else
		hr_error(hp->res, hp->line, "%s", why);
}

/*
 * Feeds @data to libcsv one physical line (ended by LF, CRLF or CR) at a
 * time.  A record begins on the first line fed while none is open; it stays
 * open across lines until libcsv ends it, which it does only at an unquoted
 * line end, so a line that ends no record and holds more than blanks is
 * inside a quoted field.
 */
static void hr_feed(struct hr_parser *hp, struct csv_parser *cp, const char *data, size_t len)
{
	size_t pos = 0;
	long line = 0;
	bool open = false;

	while (pos < len && !hp->err && !hp->res->fatal[0]) {
		size_t end = pos;
		bool content = false;
		const char *broken = NULL;

		while (end < len && data[end] != '\n' && data[end] != '\r') {
			if (data[end] != ' ' && data[end] != '\t')
				content = true;
			end++;
		}
		if (end < len)
			end += (data[end] == '\r' && end + 1 < len && data[end + 1] == '\n') ? 2 : 1;
		line++;
		if (!open)
			hp->line = line;
		hp->row_ended = false;
		for (size_t s = pos; s < end && !broken && !hp->err; ) {
			size_t n = end - s < HR_SLICE ? end - s : HR_SLICE;

			if (csv_parse(cp, data + s, n, hr_cb_field, hr_cb_row, hp) != n) {
				if (csv_error(cp) == CSV_EPARSE)
					broken = "a quote is misplaced: quote a field that holds quotes and "
						 "double the quotes inside it (RFC 4180)";
				else
					hp->err = -ENOMEM;
			} else if (cp->entry_pos > HR_MAX_FIELD) {
				/* Do not let one field grow without bound (e.g. an open quote). */
				broken = "a field is longer than 256 bytes (is a quote left open?)";
			} else if (hp->nfields > HR_MAX_FILE_COLS) {
				broken = "the record has more than 32 fields";
			}
			s += n;
		}
		if (broken) {
			hr_broken(hp, broken);
			hr_parser_restart(hp, cp);
			open = false;
		} else {
			open = hp->row_ended ? false : (open || content);
		}
		pos = end;
	}
	if (hp->err || hp->res->fatal[0])
		return;
	if (csv_fini(cp, hr_cb_field, hr_cb_row, hp) != 0)
		hr_broken(hp, "a quoted field is not closed before the end of the file");
}

/* Walk states for the cycle search, shared with the plan. */
struct hr_graph {
	const struct hr_row *rows;
	size_t nrows;
	size_t ndb;
	/* Manager node of @node, or -1; rows are nodes ndb.. unless matched to a stored person. */
	long (*manager_of)(void *ud, long node);
	/* Row index of @node when a valid row describes it, or -1. */
	long (*row_of)(void *ud, long node);
	/* Node of valid row @i. */
	long (*node_of)(void *ud, long row);
	/* Name for messages. */
	const char *(*name_of)(void *ud, long node);
	void *ud;
};

/*
 * Finds manager cycles that go through valid rows and marks those rows bad.
 * The manager relation is a function, so one walk per start node, marking
 * nodes with the walk's number, visits each node once.  Returns the number
 * of rows marked, or -ENOMEM.
 */
static long hr_find_cycles(const struct hr_graph *g, struct hr_parse_result *res, long *failed,
			   size_t *nfailed)
{
	size_t nodes = g->ndb + g->nrows;
	uint32_t *walk = calloc(nodes ? nodes : 1, sizeof(*walk));
	uint32_t w = 0;
	long marked = 0;

	if (!walk)
		return -ENOMEM;
	for (size_t i = 0; i < g->nrows; i++) {
		long n, start;

		if (!g->rows[i].valid)
			continue;
		start = g->node_of(g->ud, (long)i);
		if (walk[start])
			continue;
		w++;
		for (n = start; n >= 0 && !walk[n]; n = g->manager_of(g->ud, n))
			walk[n] = w;
		if (n < 0 || walk[n] != w)
			continue;
		{
			char msg[120];
			size_t o = 0;
			long m = n, rows_in = 0;

			/* The cycle is n -> ... -> n; name it, then mark its rows. */
			do {
				if (g->row_of(g->ud, m) >= 0)
					rows_in++;
				if (o < sizeof(msg))
					o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s -> ",
							      g->name_of(g->ud, m));
				m = g->manager_of(g->ud, m);
			} while (m != n && m >= 0);
			if (o < sizeof(msg))
				snprintf(msg + o, sizeof(msg) - o, "%s", g->name_of(g->ud, n));
			hr_utf8_trim(msg);
			if (!rows_in)
				continue;   /* a loop among stored people only is not this file's doing */
			m = n;
			do {
				long ri = g->row_of(g->ud, m);
				long next = g->manager_of(g->ud, m);

				if (ri >= 0 && hr_row_fail(res, (struct hr_row *)&g->rows[ri],
							    "the manager chain forms a cycle: %s", msg)) {
					marked++;
					if (failed)
						failed[(*nfailed)++] = ri;
				}
				m = next;
			} while (m != n && m >= 0);
		}
	}
	free(walk);
	return marked;
}

/* File-only view for hr_parse_csv: managers outside the file end the chain. */
struct hr_file_graph {
	const struct hr_parse_result *res;
	const struct hr_map *by_emp;
};

static long hr_fg_manager_of(void *ud, long node)
{
	struct hr_file_graph *fg = ud;
	const struct hr_row *r = &fg->res->rows[node];
	long m;

	if (!r->valid || !*r->manager)
		return -1;
	m = hr_map_get(fg->by_emp, r->manager);
	return (m >= 0 && fg->res->rows[m].valid) ? m : -1;
}

static long hr_fg_row_of(void *ud, long node)
{
	struct hr_file_graph *fg = ud;

	return fg->res->rows[node].valid ? node : -1;
}

static long hr_fg_node_of(void *ud, long row)
{
	return row;
}

static const char *hr_fg_name_of(void *ud, long node)
{
	struct hr_file_graph *fg = ud;

	return fg->res->rows[node].employee_number;
}

void hr_parse_result_done(struct hr_parse_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->nrows; i++)
		free(res->rows[i].employee_number);
	free(res->rows);
	free(res->errors);
	memset(res, 0, sizeof(*res));
}

int hr_parse_csv(const char *data, size_t len, struct hr_parse_result *ret)
{
	struct hr_parse_result res = { 0 };
	struct hr_parser hp = { .res = &res };
	struct csv_parser cp;
	int r = 0;

	res.errors = calloc(HR_MAX_ERRORS_REPORTED, sizeof(*res.errors));
	if (!res.errors)
		return -ENOMEM;
	buf_init(&hp.rec, 0);
	if (csv_init(&cp, HR_CSV_OPTS) != 0) {
		free(res.errors);
		return -ENOMEM;
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	hr_feed(&hp, &cp, data, len);
	csv_free(&cp);
	buf_done(&hp.rec);
	if (!hp.err && !res.fatal[0] && !hp.have_header)
		hr_fatal(&res, "the file is empty; a header line is expected: employee_number,family_name,"
			 "given_name,email,org_unit,title,status,kind,manager");
	if (!hp.err && !res.fatal[0]) {
		struct hr_file_graph fg = { .res = &res, .by_emp = &hp.emp_first };
		struct hr_graph g = {
			.rows = res.rows, .nrows = res.nrows, .ndb = 0,
			.manager_of = hr_fg_manager_of, .row_of = hr_fg_row_of,
			.node_of = hr_fg_node_of, .name_of = hr_fg_name_of, .ud = &fg,
		};
		long m = hr_find_cycles(&g, &res, NULL, NULL);

		if (m < 0)
			hp.err = (int)m;
	}
	hr_map_done(&hp.emp_first);
	r = hp.err;
	if (r < 0) {
		hr_parse_result_done(&res);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = res;
	return 0;
}

/* ----------------------------------------------------------------- plan */

enum hr_action { HR_A_NONE, HR_A_NEW, HR_A_MOVED, HR_A_CHANGED, HR_A_RETIRED, HR_A_UNCHANGED };

static const char *const hr_action_names[] = { "", "new", "moved", "changed", "retired", "unchanged" };

enum {
	HR_D_FAMILY = 1 << 0, HR_D_GIVEN = 1 << 1, HR_D_EMAIL = 1 << 2, HR_D_ORG = 1 << 3,
	HR_D_TITLE = 1 << 4, HR_D_STATUS = 1 << 5, HR_D_KIND = 1 << 6, HR_D_MANAGER = 1 << 7,
	HR_D_LOGIN = 1 << 8,
};

/* A stored person; the strings share one allocation owned by ->id. */
struct hr_db_person {
	char *id, *emp, *login, *family, *given, *email, *org_path, *title, *status, *kind, *source;
	char *manager_id;
	long mgr;       /* index of the manager among the stored people, or -1 */
	long row;       /* the row naming this person (valid or not), or -1 */
	bool seen;      /* the employee number is on some line of the file */
	bool hr;        /* source csv or seed */
	bool retire;    /* retired by the full snapshot */
};

struct hr_prow {
	enum hr_action action;
	long db;            /* the stored person, or -1 for a new one */
	long mgr_row;       /* manager as a valid row, or -1 */
	long mgr_db;        /* manager as a stored person, or -1 */
	long unit;          /* org unit index */
	long dep_next;      /* next row whose manager field names the same row */
	char *login;        /* to store (owned) */
	unsigned diff;
	bool emitted;
	char id[ULID_SIZE];
};

struct hr_unit {
	char *path;         /* owned */
	char id[ULID_SIZE];
	char kind[20];
	long parent;
	size_t depth;
	bool created;       /* by this import */
	bool rekind;        /* kind changed by org_kind */
	bool partner;       /* partner_staff people work in it (companies) */
	const char *want_kind;
	long want_line;
};

struct hr_plan {
	struct app *app;
	const struct hr_options *opt;
	struct hr_parse_result *res;
	int64_t now;
	struct hr_map row_by_emp;       /* employee number -> first row (valid or not) */
	struct hr_db_person *db;
	size_t ndb, cap_db;
	struct hr_map db_by_emp, db_by_id, db_by_login;
	struct hr_prow *pr;
	long *dep_head;                 /* per row: first row whose manager field names it */
	long *work;                     /* rows marked bad, whose dependents are to be looked at */
	long *new_order;                /* new rows, each manager before the people reporting to them */
	size_t nnew;
	size_t nwork;
	struct hr_map new_logins;       /* logins of rows -> row */
	struct hr_unit *units;
	size_t nunits, cap_units;
	struct hr_map unit_by_path;
	bool own_exists;
	long counts[6];                 /* by enum hr_action */
	long snapshot_retired;          /* missing from a full snapshot */
	long hr_active;                 /* non-retired csv/seed people */
	long units_created, units_rekinded;
};

static const char *hr_source(const struct hr_options *opt)
{
	return opt->source && *opt->source ? opt->source : "csv";
}

static void hr_plan_done(struct hr_plan *pl)
{
	for (size_t i = 0; i < pl->ndb; i++)
		free(pl->db[i].id);
	free(pl->db);
	if (pl->pr)
		for (size_t i = 0; i < pl->res->nrows; i++)
			free(pl->pr[i].login);
	free(pl->pr);
	free(pl->dep_head);
	free(pl->work);
	free(pl->new_order);
	for (size_t i = 0; i < pl->nunits; i++)
		free(pl->units[i].path);
	free(pl->units);
	hr_map_done(&pl->row_by_emp);
	hr_map_done(&pl->db_by_emp);
	hr_map_done(&pl->db_by_id);
	hr_map_done(&pl->db_by_login);
	hr_map_done(&pl->new_logins);
	hr_map_done(&pl->unit_by_path);
}

static int hr_load_people(struct hr_plan *pl, struct store_conn *c)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT p.id, p.employee_number, p.login, p.family_name, p.given_name, p.email, "
			   "o.path, p.title, p.status, p.kind, p.source, p.manager_id FROM people p "
			   "LEFT JOIN org_units o ON o.id = p.org_unit_id", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		struct hr_db_person *d;
		size_t total = 0;
		char *block;
		const char *v[12];

		if (pl->ndb == pl->cap_db) {
			size_t cap = pl->cap_db ? pl->cap_db * 2 : 1024;
			struct hr_db_person *nd = realloc(pl->db, cap * sizeof(*nd));

			if (!nd) {
				r = -ENOMEM;
				break;
			}
			pl->db = nd;
			pl->cap_db = cap;
		}
		for (int k = 0; k < 12; k++) {
			v[k] = store_col_text(q, k);
			total += (v[k] ? strlen(v[k]) : 0) + 1;
		}
		block = malloc(total);
		if (!block) {
			r = -ENOMEM;
			break;
		}
		d = &pl->db[pl->ndb++];
		memset(d, 0, sizeof(*d));
		{
			char **dst[12] = { &d->id, &d->emp, &d->login, &d->family, &d->given, &d->email,
					   &d->org_path, &d->title, &d->status, &d->kind, &d->source,
					   &d->manager_id };

			for (int k = 0; k < 12; k++) {
				size_t len = (v[k] ? strlen(v[k]) : 0) + 1;

				memcpy(block, v[k] ? v[k] : "", len);
				*dst[k] = block;
				block += len;
			}
		}
		d->mgr = -1;
		d->row = -1;
		d->hr = !strcmp(d->source, "csv") || !strcmp(d->source, "seed");
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (hr_map_reserve(&pl->db_by_id, pl->ndb) < 0 || hr_map_reserve(&pl->db_by_emp, pl->ndb) < 0 ||
	    hr_map_reserve(&pl->db_by_login, pl->ndb) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < pl->ndb; i++) {
		struct hr_db_person *d = &pl->db[i];

		if (hr_map_put(&pl->db_by_id, d->id, (long)i, NULL) < 0 ||
		    hr_map_put(&pl->db_by_login, d->login, (long)i, NULL) < 0 ||
		    (*d->emp && hr_map_put(&pl->db_by_emp, d->emp, (long)i, NULL) < 0))
			return -ENOMEM;
		if (d->hr && *d->emp && strcmp(d->status, "retired") != 0)
			pl->hr_active++;
	}
	for (size_t i = 0; i < pl->ndb; i++)
		pl->db[i].mgr = *pl->db[i].manager_id ? hr_map_get(&pl->db_by_id, pl->db[i].manager_id) : -1;
	return 0;
}

static int hr_unit_add(struct hr_plan *pl, const char *path, const char *id, const char *kind,
		       bool created, long *ret)
{
	struct hr_unit *u;
	char *p;
	int r;

	if (pl->nunits == pl->cap_units) {
		size_t cap = pl->cap_units ? pl->cap_units * 2 : 64;
		struct hr_unit *nu = realloc(pl->units, cap * sizeof(*nu));

		if (!nu)
			return -ENOMEM;
		pl->units = nu;
		pl->cap_units = cap;
	}
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	r = hr_map_put(&pl->unit_by_path, p, (long)pl->nunits, NULL);
	if (r != 0) {
		free(p);
		return r < 0 ? r : -EEXIST;
	}
	u = &pl->units[pl->nunits];
	memset(u, 0, sizeof(*u));
	u->path = p;
	u->parent = -1;
	u->depth = hr_path_depth(p);
	u->created = created;
	u->want_line = 0;
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->kind, sizeof(u->kind), "%s", kind);
	*ret = (long)pl->nunits++;
	return 0;
}

static int hr_load_units(struct hr_plan *pl, struct store_conn *c)
{
	struct store_stmt *q;
	long idx;
	int r;

	r = store_query(c, "SELECT id, path, kind, level FROM org_units", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *id = store_col_text(q, 0), *path = store_col_text(q, 1);
		const char *kind = store_col_text(q, 2), *level = store_col_text(q, 3);

		if (!id || !path || !kind)
			continue;
		r = hr_unit_add(pl, path, id, kind, false, &idx);
		if (r == -EEXIST)
			r = 0;
		if (r < 0)
			break;
		if (level && !strcmp(level, "company") && !strcmp(kind, "own"))
			pl->own_exists = true;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

/* Node helpers over stored people (0..ndb-1) and new rows (ndb + row). */
static long hr_node_of_row(const struct hr_plan *pl, long i)
{
	return pl->pr[i].db >= 0 ? pl->pr[i].db : (long)pl->ndb + i;
}

static long hr_pg_node_of(void *ud, long row)
{
	return hr_node_of_row(ud, row);
}

static long hr_pg_row_of(void *ud, long node)
{
	struct hr_plan *pl = ud;
	long i = node < (long)pl->ndb ? pl->db[node].row : node - (long)pl->ndb;

	return (i >= 0 && pl->res->rows[i].valid) ? i : -1;
}

static long hr_pg_manager_of(void *ud, long node)
{
	struct hr_plan *pl = ud;
	long i = hr_pg_row_of(ud, node);

	if (i < 0)
		return node < (long)pl->ndb ? pl->db[node].mgr : -1;
	if (pl->pr[i].mgr_row >= 0)
		return hr_node_of_row(pl, pl->pr[i].mgr_row);
	return pl->pr[i].mgr_db;
}

static const char *hr_pg_name_of(void *ud, long node)
{
	struct hr_plan *pl = ud;

	if (node >= (long)pl->ndb)
		return pl->res->rows[node - (long)pl->ndb].employee_number;
	return *pl->db[node].emp ? pl->db[node].emp : pl->db[node].login;
}

/* Marks row @i bad and queues it so that the rows it manages are looked at again. */
static void hr_plan_fail(struct hr_plan *pl, long i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void hr_plan_fail(struct hr_plan *pl, long i, const char *fmt, ...)
{
	struct hr_row *row = &pl->res->rows[i];
	va_list ap;

	if (!row->valid)
		return;
	row->valid = false;
	va_start(ap, fmt);
	hr_error_v(pl->res, row->line, fmt, ap);
	va_end(ap);
	pl->work[pl->nwork++] = i;
}

static void hr_cascade(struct hr_plan *pl);

/*
 * Resolves every valid row's manager to a valid row or a stored person.
 * A manager on a bad line falls back to the stored person of that number;
 * without one the row is bad too, which in turn is looked at for its own
 * reports: the work list makes this linear.
 */
static void hr_resolve_managers(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	for (size_t i = 0; i < res->nrows; i++) {
		struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		long j;

		if (!row->valid || !*row->manager)
			continue;
		j = hr_map_get(&pl->row_by_emp, row->manager);
		if (j >= 0 && res->rows[j].valid) {
			p->mgr_row = j;
			continue;
		}
		p->mgr_db = hr_map_get(&pl->db_by_emp, row->manager);
		if (p->mgr_db >= 0)
			continue;
		if (j >= 0)
			hr_plan_fail(pl, (long)i, "manager %s is on line %ld, which has errors",
				     row->manager, res->rows[j].line);
		else
			hr_plan_fail(pl, (long)i, "manager %s is not a known employee number", row->manager);
	}
	hr_cascade(pl);
}

/* Looks again at the rows managed by the rows on the work list. */
static void hr_cascade(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	while (pl->nwork) {
		long j = pl->work[--pl->nwork];
		struct hr_row *bad = &res->rows[j];
		long k = hr_map_get(&pl->db_by_emp, bad->employee_number);

		for (long d = pl->dep_head[j]; d >= 0; d = pl->pr[d].dep_next) {
			if (!res->rows[d].valid || pl->pr[d].mgr_row != j)
				continue;
			pl->pr[d].mgr_row = -1;
			if (k >= 0)
				pl->pr[d].mgr_db = k;
			else
				hr_plan_fail(pl, d, "manager %s is on line %ld, which has errors",
					     res->rows[d].manager, bad->line);
		}
	}
}

static int hr_plan_rows(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	size_t n = res->nrows;
	struct hr_map company_kind = { 0 };
	int r = 0;

	pl->pr = calloc(n ? n : 1, sizeof(*pl->pr));
	pl->dep_head = malloc((n ? n : 1) * sizeof(*pl->dep_head));
	pl->work = malloc((n ? n : 1) * sizeof(*pl->work));
	if (!pl->pr || !pl->dep_head || !pl->work || hr_map_reserve(&pl->row_by_emp, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hr_row *row = &res->rows[i];
		long k;

		pl->pr[i].db = pl->pr[i].mgr_row = pl->pr[i].mgr_db = pl->pr[i].unit = -1;
		pl->pr[i].dep_next = -1;
		pl->dep_head[i] = -1;
		if (!*row->employee_number)
			continue;
		if (hr_map_put(&pl->row_by_emp, row->employee_number, (long)i, NULL) < 0)
			return -ENOMEM;
		k = hr_map_get(&pl->db_by_emp, row->employee_number);
		if (k < 0)
			continue;
		pl->db[k].seen = true;
		if (row->valid) {
			pl->pr[i].db = k;
			pl->db[k].row = (long)i;
		}
	}
	/* Bad lines from parsing are the first entries of the work list. */
	for (size_t i = 0; i < n; i++) {
		long j;

		if (!res->rows[i].valid) {
			pl->work[pl->nwork++] = (long)i;
			continue;
		}
		if (!*res->rows[i].manager)
			continue;
		j = hr_map_get(&pl->row_by_emp, res->rows[i].manager);
		if (j >= 0) {
			pl->pr[i].dep_next = pl->dep_head[j];
			pl->dep_head[j] = (long)i;
		}
	}

	/* Logins, and one kind per company. */
	for (size_t i = 0; i < n; i++) {
		struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		long other;
		char *derived;

		if (!row->valid)
			continue;
		derived = *row->email ? hr_lower_dup(row->email) : strdup(row->employee_number);
		if (!derived) {
			r = -ENOMEM;
			goto out;
		}
		if (p->db >= 0) {
			struct hr_db_person *d = &pl->db[p->db];
			char *was = *d->email ? hr_lower_dup(d->email) : strdup(d->emp);

			if (!was) {
				free(derived);
				r = -ENOMEM;
				goto out;
			}
			/* A login set by hand stays; a derived one follows the email. */
			if (strcmp(d->login, was) != 0) {
				free(derived);
				derived = strdup(d->login);
			}
			free(was);
			if (!derived) {
				r = -ENOMEM;
				goto out;
			}
		}
		p->login = derived;
		other = hr_map_get(&pl->db_by_login, derived);
		if (other >= 0 && other != p->db) {
			hr_plan_fail(pl, (long)i, "login %s is already used by another person", derived);
			continue;
		}
		r = hr_map_put(&pl->new_logins, p->login, (long)i, &other);
		if (r < 0)
			goto out;
		if (r == 1) {
			r = 0;
			hr_plan_fail(pl, (long)i, "login %s is also the login of line %ld", derived,
				     res->rows[other].line);
			continue;
		}
		r = 0;
		if (*row->org_kind && hr_path_depth(row->org_unit) >= 2) {
			const char *slash = strchr(row->org_unit, '/');
			const char *end = strchr(slash + 1, '/');
			size_t len = end ? (size_t)(end - row->org_unit) : strlen(row->org_unit);
			char *company = strndup(row->org_unit, len);
			long first = -1;

			if (!company) {
				r = -ENOMEM;
				goto out;
			}
			r = hr_map_put(&company_kind, company, (long)i, &first);
			if (r != 0)
				free(company);
			if (r < 0)
				goto out;
			if (r == 1 && strcmp(res->rows[first].org_kind, row->org_kind) != 0) {
				hr_plan_fail(pl, (long)i, "org_kind %s conflicts with %s given for the same "
					     "company on line %ld", row->org_kind, res->rows[first].org_kind,
					     res->rows[first].line);
			}
			r = 0;
		}
	}
	hr_resolve_managers(pl);
	{
		struct hr_graph g = {
			.rows = res->rows, .nrows = n, .ndb = pl->ndb,
			.manager_of = hr_pg_manager_of, .row_of = hr_pg_row_of,
			.node_of = hr_pg_node_of, .name_of = hr_pg_name_of, .ud = pl,
		};
		long m;

		/* Marking a row bad brings back its stored manager, which may close another loop. */
		while ((m = hr_find_cycles(&g, res, pl->work, &pl->nwork)) > 0)
			hr_cascade(pl);
		if (m < 0) {
			r = (int)m;
			goto out;
		}
	}
out:
	for (size_t i = 0; i < company_kind.cap; i++)
		free((char *)company_kind.keys[i]);
	hr_map_done(&company_kind);
	return r;
}

/* Id the row's person is to have as manager, or NULL. */
static const char *hr_row_manager_id(const struct hr_plan *pl, long i)
{
	const struct hr_prow *p = &pl->pr[i];

	if (p->mgr_row >= 0)
		return pl->pr[p->mgr_row].id;
	if (p->mgr_db >= 0)
		return pl->db[p->mgr_db].id;
	return NULL;
}

static int hr_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Orders the new rows so that managers come before their reports, and gives
 * them ids that grow in that order: ULIDs made in one millisecond differ
 * only by their random part, and inserting them sorted keeps the indexes
 * appending instead of touching pages all over the database.
 */
static int hr_plan_new_ids(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	char (*ids)[ULID_SIZE];
	size_t k = 0;

	pl->new_order = malloc((res->nrows ? res->nrows : 1) * sizeof(*pl->new_order));
	if (!pl->new_order)
		return -ENOMEM;
	for (size_t i = 0; i < res->nrows; i++) {
		size_t start = k;

		/* Walk up to the first manager already placed (or stored), then place the chain top-down. */
		for (long j = (long)i; j >= 0 && res->rows[j].valid && pl->pr[j].db < 0 && !pl->pr[j].emitted;
		     j = pl->pr[j].mgr_row) {
			pl->pr[j].emitted = true;
			pl->new_order[k++] = j;
		}
		for (size_t a = start, b = k; a + 1 < b; a++, b--) {
			long t = pl->new_order[a];

			pl->new_order[a] = pl->new_order[b - 1];
			pl->new_order[b - 1] = t;
		}
	}
	pl->nnew = k;
	ids = malloc((k ? k : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		ids_ulid(ids[i], pl->now);
	qsort(ids, k, sizeof(*ids), hr_id_cmp);
	for (size_t i = 0; i < k; i++)
		memcpy(pl->pr[pl->new_order[i]].id, ids[i], ULID_SIZE);
	free(ids);
	return 0;
}

/* One action per valid row, and the retirements of a full snapshot. */
static void hr_plan_actions(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	for (size_t i = 0; i < res->nrows; i++) {
		struct hr_prow *p = &pl->pr[i];

		if (res->rows[i].valid && p->db >= 0)
			snprintf(p->id, sizeof(p->id), "%s", pl->db[p->db].id);
	}
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		const struct hr_db_person *d;
		const char *mgr;
		unsigned diff = 0;

		if (!row->valid)
			continue;
		if (p->db < 0) {
			p->action = HR_A_NEW;
			pl->counts[HR_A_NEW]++;
			continue;
		}
		d = &pl->db[p->db];
		mgr = hr_row_manager_id(pl, (long)i);
		diff |= strcmp(d->family, row->family_name) ? HR_D_FAMILY : 0;
		diff |= strcmp(d->given, row->given_name) ? HR_D_GIVEN : 0;
		diff |= strcmp(d->email, row->email) ? HR_D_EMAIL : 0;
		diff |= strcmp(d->org_path, row->org_unit) ? HR_D_ORG : 0;
		diff |= strcmp(d->title, row->title) ? HR_D_TITLE : 0;
		diff |= strcmp(d->status, row->status) ? HR_D_STATUS : 0;
		diff |= strcmp(d->kind, row->kind) ? HR_D_KIND : 0;
		diff |= strcmp(d->manager_id, mgr ? mgr : "") ? HR_D_MANAGER : 0;
		diff |= strcmp(d->login, p->login) ? HR_D_LOGIN : 0;
		p->diff = diff;
		if (!strcmp(row->status, "retired") && strcmp(d->status, "retired") != 0)
			p->action = HR_A_RETIRED;
		else if (diff & HR_D_ORG)
			p->action = HR_A_MOVED;
		else if (diff)
			p->action = HR_A_CHANGED;
		else
			p->action = HR_A_UNCHANGED;
		pl->counts[p->action]++;
	}
	if (!pl->opt->full_snapshot)
		return;
	for (size_t k = 0; k < pl->ndb; k++) {
		struct hr_db_person *d = &pl->db[k];

		if (d->hr && *d->emp && strcmp(d->status, "retired") != 0 && !d->seen) {
			d->retire = true;
			pl->snapshot_retired++;
		}
	}
}

/* Index of the unit at the first @depth segments of @path, added to the plan when missing. */
static int hr_unit_at(struct hr_plan *pl, const char *path, size_t depth, long *ret)
{
	char key[HR_MAX_FIELD + 1];
	const char *p = path;
	size_t d = 0;
	long parent = -1, company = -1, idx = -1;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t end = slash ? (size_t)(slash - path) : strlen(path);

		if (end > HR_MAX_FIELD)
			return -EINVAL;
		memcpy(key, path, end);
		key[end] = '\0';
		d++;
		idx = hr_map_get(&pl->unit_by_path, key);
		if (idx < 0) {
			char id[ULID_SIZE], kind[sizeof(pl->units[0].kind)];
			int r;

			/* A company's kind is decided by hr_plan_units; below it, the company's. */
			snprintf(kind, sizeof(kind), "%s", d == 1 ? "own" : d == 2 ? "" : pl->units[company].kind);
			ids_ulid(id, pl->now);
			/* (hr_unit_add may move pl->units, hence the copy of the kind.) */
			r = hr_unit_add(pl, key, id, kind, true, &idx);
			if (r < 0)
				return r;
			pl->units[idx].parent = parent;
			pl->units_created++;
		}
		if (d == 2)
			company = idx;
		parent = idx;
		if (!slash || d == depth)
			break;
		p = slash + 1;
	}
	*ret = idx;
	return 0;
}

/*
 * Units for every valid row, with the kinds of hr.h: explicit org_kind
 * first, then partner_staff companies, then the first new company "own"
 * when none is, the rest "group_company".
 */
static int hr_plan_units(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	int r;

	/* Pass 1: groups and companies, with what the file says about them. */
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		struct hr_unit *u;
		long idx;

		if (!row->valid || hr_path_depth(row->org_unit) < 2)
			continue;
		r = hr_unit_at(pl, row->org_unit, 2, &idx);
		if (r < 0)
			return r;
		u = &pl->units[idx];
		if (*row->org_kind && !u->want_kind) {
			u->want_kind = row->org_kind;
			u->want_line = row->line;
			if (!strcmp(row->org_kind, "own"))
				pl->own_exists = true;
		}
		if (!strcmp(row->kind, "partner_staff"))
			u->partner = true;
	}
	for (size_t k = 0; k < pl->nunits; k++) {
		struct hr_unit *u = &pl->units[k];
		const char *kind;

		if (u->depth != 2)
			continue;
		if (!u->created) {
			if (u->want_kind && strcmp(u->kind, u->want_kind) != 0) {
				snprintf(u->kind, sizeof(u->kind), "%s", u->want_kind);
				u->rekind = true;
				pl->units_rekinded++;
			}
			continue;
		}
		if (u->want_kind)
			kind = u->want_kind;
		else if (u->partner)
			kind = "business_partner";
		else if (!pl->own_exists)
			kind = "own";
		else
			kind = "group_company";
		if (!strcmp(kind, "own"))
			pl->own_exists = true;
		snprintf(u->kind, sizeof(u->kind), "%s", kind);
	}
	/* Pass 2: every level; divisions and departments take their company's kind. */
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		long idx;

		if (!row->valid)
			continue;
		r = hr_unit_at(pl, row->org_unit, hr_path_depth(row->org_unit), &idx);
		if (r < 0)
			return r;
		pl->pr[i].unit = idx;
	}
	return 0;
}

/*
 * Whether the import leaves at least one active administrator, when there
 * is one now: a full snapshot or a status change must not lock everyone out.
 * Sets *ret_ok; returns 0 or a store error.
 */
static int hr_plan_admins(struct hr_plan *pl, struct store_conn *c, bool *ret_ok)
{
	struct store_stmt *q;
	long had = 0, left = 0;
	int r;

	r = store_query(c, "SELECT p.id FROM person_roles r JOIN people p ON p.id = r.person_id "
			   "WHERE r.role = 'admin' AND p.status = 'active'", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		long k = hr_map_get(&pl->db_by_id, store_col_text(q, 0));
		long i = k >= 0 ? pl->db[k].row : -1;

		had++;
		if (k < 0)
			left++;
		else if (pl->db[k].retire)
			continue;
		else if (i >= 0 && pl->res->rows[i].valid && strcmp(pl->res->rows[i].status, "active") != 0)
			continue;
		else
			left++;
	}
	store_stmt_free(q);
	if (r < 0)
		return r;
	*ret_ok = had == 0 || left > 0;
	return 0;
}

/* ---------------------------------------------------------------- report */

static int hr_error_cmp(const void *a, const void *b)
{
	const struct hr_line_error *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static void hr_set_manager(json_t *o, const char *key, const char *emp)
{
	jsonx_set_str(o, key, emp && *emp ? emp : NULL);
}

static const char *hr_db_emp_of(const struct hr_plan *pl, long k)
{
	if (k < 0)
		return NULL;
	return *pl->db[k].emp ? pl->db[k].emp : pl->db[k].login;
}

/* The change a row makes, as listed in the report and kept in person_history. */
static json_t *hr_change_json(const struct hr_plan *pl, long i)
{
	const struct hr_row *row = &pl->res->rows[i];
	const struct hr_prow *p = &pl->pr[i];
	json_t *o = json_object(), *before, *after;

	if (!o)
		return NULL;
	jsonx_set_str(o, "employee_number", row->employee_number);
	jsonx_set_str(o, "action", hr_action_names[p->action]);
	json_object_set_new(o, "line", json_integer(row->line));
	after = json_object();
	before = p->action == HR_A_NEW ? NULL : json_object();
	if (!after || (p->action != HR_A_NEW && !before)) {
		json_decref(before);
		json_decref(after);
		json_decref(o);
		return NULL;
	}
	if (p->action == HR_A_NEW) {
		jsonx_set_str(after, "login", p->login);
		jsonx_set_str(after, "family_name", row->family_name);
		jsonx_set_str(after, "given_name", row->given_name);
		jsonx_set_str(after, "email", *row->email ? row->email : NULL);
		jsonx_set_str(after, "org_unit", row->org_unit);
		jsonx_set_str(after, "title", row->title);
		jsonx_set_str(after, "status", row->status);
		jsonx_set_str(after, "kind", row->kind);
		hr_set_manager(after, "manager", row->manager);
	} else {
		const struct hr_db_person *d = &pl->db[p->db];

#define HR_DIFF(bit, key, old, new) \
		if (p->diff & (bit)) { \
			jsonx_set_str(before, key, *(old) ? (old) : NULL); \
			jsonx_set_str(after, key, *(new) ? (new) : NULL); \
		}
		HR_DIFF(HR_D_LOGIN, "login", d->login, p->login)
		HR_DIFF(HR_D_FAMILY, "family_name", d->family, row->family_name)
		HR_DIFF(HR_D_GIVEN, "given_name", d->given, row->given_name)
		HR_DIFF(HR_D_EMAIL, "email", d->email, row->email)
		HR_DIFF(HR_D_ORG, "org_unit", d->org_path, row->org_unit)
		HR_DIFF(HR_D_TITLE, "title", d->title, row->title)
		HR_DIFF(HR_D_STATUS, "status", d->status, row->status)
		HR_DIFF(HR_D_KIND, "kind", d->kind, row->kind)
#undef HR_DIFF
		if (p->diff & HR_D_MANAGER) {
			hr_set_manager(before, "manager", hr_db_emp_of(pl, d->mgr));
			hr_set_manager(after, "manager", row->manager);
		}
		json_object_set_new(o, "before", before);
	}
	json_object_set_new(o, "after", after);
	return o;
}

static json_t *hr_retire_json(const struct hr_db_person *d)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}}", "employee_number", d->emp,
			 "action", "retired", "reason", "not in the full snapshot",
			 "before", "status", d->status, "after", "status", "retired");
}

static json_t *hr_counts_json(const struct hr_plan *pl, const struct hr_parse_result *res)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "new", (json_int_t)(pl ? pl->counts[HR_A_NEW] : 0),
			 "moved", (json_int_t)(pl ? pl->counts[HR_A_MOVED] : 0),
			 "changed", (json_int_t)(pl ? pl->counts[HR_A_CHANGED] : 0),
			 "retired", (json_int_t)(pl ? pl->counts[HR_A_RETIRED] + pl->snapshot_retired : 0),
			 "unchanged", (json_int_t)(pl ? pl->counts[HR_A_UNCHANGED] : 0),
			 "errors", (json_int_t)res->nerrors);
}

/* The report of hr.h; @pl is NULL when the file could not be planned (fatal). */
static json_t *hr_report(const struct hr_plan *pl, struct hr_parse_result *res,
			 const struct hr_options *opt)
{
	json_t *o = json_object(), *changes = json_array(), *errors = json_array();

	if (!o || !changes || !errors) {
		json_decref(o);
		json_decref(changes);
		json_decref(errors);
		return NULL;
	}
	json_object_set_new(o, "applied", json_false());
	json_object_set_new(o, "dry_run", json_boolean(opt->dry_run));
	json_object_set_new(o, "full_snapshot", json_boolean(opt->full_snapshot));
	json_object_set_new(o, "counts", hr_counts_json(pl, res));
	qsort(res->errors, res->nerrors_kept, sizeof(*res->errors), hr_error_cmp);
	for (size_t i = 0; i < res->nerrors_kept; i++)
		json_array_append_new(errors, json_pack("{s:I, s:s}", "line", (json_int_t)res->errors[i].line,
							"reason", res->errors[i].reason));
	if (res->fatal[0])
		json_object_set_new(o, "fatal", json_string(res->fatal));
	if (pl) {
		for (size_t i = 0; i < res->nrows && json_array_size(changes) < HR_MAX_CHANGES_REPORTED; i++) {
			enum hr_action a = pl->pr[i].action;

			if (res->rows[i].valid && a != HR_A_UNCHANGED && a != HR_A_NONE)
				json_array_append_new(changes, hr_change_json(pl, (long)i));
		}
		for (size_t k = 0; k < pl->ndb && json_array_size(changes) < HR_MAX_CHANGES_REPORTED; k++)
			if (pl->db[k].retire)
				json_array_append_new(changes, hr_retire_json(&pl->db[k]));
		json_object_set_new(o, "org_units", json_pack("{s:I, s:I}",
				    "created", (json_int_t)pl->units_created,
				    "rekinded", (json_int_t)pl->units_rekinded));
	}
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "errors", errors);
	return o;
}

/* ----------------------------------------------------------------- apply */

/* Adds the history row of @person_id with @change (stolen) through the prepared @hist. */
static int hr_history_add(struct store_stmt *hist, const struct hr_plan *pl, const char *person_id,
			  json_t *change)
{
	char *text;
	int r;

	if (!change)
		return -ENOMEM;
	text = json_dumps(change, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(change);
	if (!text)
		return -ENOMEM;
	r = store_stmt_exec(hist, STORE_ARGS(SA_TEXT(person_id), SA_I64(pl->now), SA_TEXT(pl->opt->actor_id),
					     SA_TEXT(hr_source(pl->opt)), SA_TEXT(text)));
	free(text);
	return r < 0 ? r : 0;
}

static int hr_apply_units(struct hr_plan *pl, struct store_conn *c)
{
	int r;

	for (size_t k = 0; k < pl->nunits; k++) {
		const struct hr_unit *u = &pl->units[k];
		const char *name = strrchr(u->path, '/');

		if (u->created) {
			r = store_exec(c, "INSERT INTO org_units (id, parent_id, name, path, level, kind, created_at) "
					  "VALUES ($1, $2, $3, $4, $5, $6, $7)",
				       STORE_ARGS(SA_TEXT(u->id),
						  SA_TEXT(u->parent >= 0 ? pl->units[u->parent].id : NULL),
						  SA_TEXT(name ? name + 1 : u->path), SA_TEXT(u->path),
						  SA_TEXT(directory_org_level(u->depth)), SA_TEXT(u->kind),
						  SA_I64(pl->now)));
			if (r < 0)
				return r;
		}
		if (u->rekind) {
			r = store_exec(c, "UPDATE org_units SET kind = $1 WHERE path = $2 "
					  "OR substr(path, 1, length($2) + 1) = $2 || '/'",
				       STORE_ARGS(SA_TEXT(u->kind), SA_TEXT(u->path)));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* New people, in the order of hr_plan_new_ids, through one prepared statement. */
static int hr_apply_new(struct hr_plan *pl, struct store_conn *c, struct store_stmt *hist)
{
	struct hr_parse_result *res = pl->res;
	const char *src = hr_source(pl->opt);
	struct store_stmt *ins;
	int r;

	r = store_query(c, "INSERT INTO people (id, login, employee_number, family_name, given_name, email, "
			   "org_unit_id, title, status, kind, manager_id, source, created_at, updated_at, "
			   "retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
			STORE_NOARGS, &ins);
	if (r < 0)
		return r;
	for (size_t k = 0; k < pl->nnew && r >= 0; k++) {
		long j = pl->new_order[k];
		const struct hr_row *row = &res->rows[j];
		struct hr_prow *p = &pl->pr[j];

		r = store_stmt_exec(ins, STORE_ARGS(
			SA_TEXT(p->id), SA_TEXT(p->login), SA_TEXT(row->employee_number),
			SA_TEXT(row->family_name), SA_TEXT(row->given_name),
			SA_TEXT(*row->email ? row->email : NULL), SA_TEXT(pl->units[p->unit].id),
			SA_TEXT(row->title), SA_TEXT(row->status), SA_TEXT(row->kind),
			SA_TEXT(hr_row_manager_id(pl, j)), SA_TEXT(src), SA_I64(pl->now),
			!strcmp(row->status, "retired") ? SA_I64(pl->now) : SA_NULL));
		if (r >= 0)
			r = hr_history_add(hist, pl, p->id, hr_change_json(pl, j));
	}
	store_stmt_free(ins);
	return r < 0 ? r : 0;
}

static int hr_apply_updates(struct hr_plan *pl, struct store_conn *c, struct store_stmt *hist,
			    long *ret_revoked)
{
	struct hr_parse_result *res = pl->res;
	const char *src = hr_source(pl->opt);
	struct store_stmt *upd;
	int r;

	r = store_query(c, "UPDATE people SET login = $2, family_name = $3, given_name = $4, email = $5, "
			   "org_unit_id = $6, title = $7, status = $8, kind = $9, manager_id = $10, "
			   "source = $11, updated_at = $12, retired_at = CASE WHEN $8 = 'retired' "
			   "THEN coalesce(retired_at, $12) ELSE NULL END WHERE id = $1", STORE_NOARGS, &upd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res->nrows && r >= 0; i++) {
		const struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];

		if (!row->valid || p->db < 0 || p->action == HR_A_UNCHANGED)
			continue;
		r = store_stmt_exec(upd, STORE_ARGS(
			SA_TEXT(p->id), SA_TEXT(p->login), SA_TEXT(row->family_name),
			SA_TEXT(row->given_name), SA_TEXT(*row->email ? row->email : NULL),
			SA_TEXT(pl->units[p->unit].id), SA_TEXT(row->title), SA_TEXT(row->status),
			SA_TEXT(row->kind), SA_TEXT(hr_row_manager_id(pl, (long)i)), SA_TEXT(src),
			SA_I64(pl->now)));
		if (r >= 0)
			r = hr_history_add(hist, pl, p->id, hr_change_json(pl, (long)i));
		if (r >= 0 && p->action == HR_A_RETIRED) {
			r = auth_revoke_all(c, p->id, pl->now);
			if (r > 0)
				*ret_revoked += r;
		}
	}
	store_stmt_free(upd);
	return r < 0 ? r : 0;
}

static int hr_apply_snapshot(struct hr_plan *pl, struct store_conn *c, struct store_stmt *hist,
			     long *ret_revoked)
{
	struct store_stmt *ret;
	int r;

	r = store_query(c, "UPDATE people SET status = 'retired', retired_at = $2, updated_at = $2 WHERE id = $1",
			STORE_NOARGS, &ret);
	if (r < 0)
		return r;
	for (size_t k = 0; k < pl->ndb && r >= 0; k++) {
		const struct hr_db_person *d = &pl->db[k];

		if (!d->retire)
			continue;
		r = store_stmt_exec(ret, STORE_ARGS(SA_TEXT(d->id), SA_I64(pl->now)));
		if (r >= 0)
			r = hr_history_add(hist, pl, d->id, hr_retire_json(d));
		if (r >= 0) {
			r = auth_revoke_all(c, d->id, pl->now);
			if (r > 0)
				*ret_revoked += r;
		}
	}
	store_stmt_free(ret);
	return r < 0 ? r : 0;
}

static int hr_audit(struct store_conn *c, const struct hr_options *opt, enum audit_outcome outcome,
		    json_t *details)
{
	struct audit_entry e = {
		.actor_id = opt->actor_id,
		.actor_login = opt->actor_login,
		.source = opt->remote ? opt->remote : "system",
		.action = "hr.import",
		.object_type = "hr_import",
		.outcome = outcome,
		.details = details,
		.request_id = opt->request_id,
	};
	int r = details ? audit_append(c, &e) : -ENOMEM;

	json_decref(details);
	return r;
}

static json_t *hr_audit_details(const struct hr_plan *pl, const struct hr_parse_result *res,
				const struct hr_options *opt, const char *refused)
{
	json_t *d = json_pack("{s:o, s:b, s:b, s:b, s:s}", "counts", hr_counts_json(pl, res),
			      "full_snapshot", opt->full_snapshot, "force", opt->force,
			      "skip_bad_lines", opt->skip_bad_lines, "source", hr_source(opt));

	if (d && refused)
		json_object_set_new(d, "refused", json_string(refused));
	if (d && pl)
		json_object_set_new(d, "org_units_created", json_integer(pl->units_created));
	return d;
}

static int hr_apply(struct hr_plan *pl, struct store_conn *c)
{
	struct store_stmt *hist;
	long revoked = 0;
	json_t *details;
	int r;

	r = store_query(c, "INSERT INTO person_history (person_id, at, actor_id, source, change) "
			   "VALUES ($1, $2, $3, $4, $5)", STORE_NOARGS, &hist);
	if (r < 0)
		return r;
	r = hr_apply_units(pl, c);
	if (r == 0)
		r = hr_apply_new(pl, c, hist);
	if (r == 0)
		r = hr_apply_updates(pl, c, hist, &revoked);
	if (r == 0)
		r = hr_apply_snapshot(pl, c, hist, &revoked);
	store_stmt_free(hist);
	if (r < 0)
		return r;
	details = hr_audit_details(pl, pl->res, pl->opt, NULL);
	if (details)
		json_object_set_new(details, "credentials_revoked", json_integer(revoked));
	return hr_audit(c, pl->opt, AUDIT_SUCCESS, details);
}

/* ---------------------------------------------------------------- import */

int hr_import(struct app *app, struct store_conn *c, const char *data, size_t len,
	      const struct hr_options *opt, json_t **ret_report)
{
	struct hr_parse_result res;
	struct hr_plan pl = { .app = app, .opt = opt, .res = &res, .now = rtime_now_ms() };
	const char *refused = NULL;
	char message[300] = "";
	json_t *report = NULL;
	long retiring;
	bool exceeded = false, in_tx = false, admins_ok = true;
	int r;

	r = hr_parse_csv(data, len, &res);
	if (r < 0)
		return r;
	if (res.fatal[0]) {
		report = hr_report(NULL, &res, opt);
		if (!report) {
			r = -ENOMEM;
			goto out;
		}
		json_object_set_new(report, "message", json_string(res.fatal));
		if (!opt->dry_run)
			hr_audit(c, opt, AUDIT_FAILURE, hr_audit_details(NULL, &res, opt, "file"));
		r = ERR_INVALID;
		goto out;
	}
	/* Plan under the write lock, so that what is applied is what was planned. */
	if (!opt->dry_run) {
		r = store_begin(c);
		if (r < 0)
			goto out;
		in_tx = true;
	}
	r = hr_load_people(&pl, c);
	if (r == 0)
		r = hr_load_units(&pl, c);
	if (r == 0)
		r = hr_plan_rows(&pl);
	if (r < 0)
		goto out;
	r = hr_plan_new_ids(&pl);
	if (r < 0)
		goto out;
	hr_plan_actions(&pl);
	r = hr_plan_units(&pl);
	if (r < 0)
		goto out;

	r = hr_plan_admins(&pl, c, &admins_ok);
	if (r < 0)
		goto out;

	retiring = pl.counts[HR_A_RETIRED] + pl.snapshot_retired;
	if (opt->full_snapshot && pl.hr_active > 0 && retiring * 100 > opt->retire_threshold_pct * pl.hr_active)
		exceeded = true;
	if (res.nerrors > 0 && !opt->skip_bad_lines) {
		refused = "errors";
		snprintf(message, sizeof(message), "%zu line%s errors; nothing was changed", res.nerrors,
			 res.nerrors == 1 ? " has" : "s have");
	} else if (!admins_ok) {
		refused = "administrators";
		snprintf(message, sizeof(message), "this import would leave no active administrator; "
			 "nothing was changed. Grant admin to someone who stays active first.");
	} else if (exceeded && !opt->force) {
		refused = "threshold";
		snprintf(message, sizeof(message),
			 "this import would retire %ld of %ld active people (%.1f%%), above the %lld%% "
			 "limit; nothing was changed. Use force=1 if this is intended.", retiring, pl.hr_active,
			 (double)retiring * 100.0 / (double)pl.hr_active, (long long)opt->retire_threshold_pct);
	}
	report = hr_report(&pl, &res, opt);
	if (!report) {
		r = -ENOMEM;
		goto out;
	}
	if (opt->full_snapshot)
		json_object_set_new(report, "threshold",
				    json_pack("{s:I, s:I, s:I, s:b}", "retiring", (json_int_t)retiring,
					      "active", (json_int_t)pl.hr_active,
					      "limit_pct", (json_int_t)opt->retire_threshold_pct,
					      "exceeded", exceeded));
	if (refused)
		json_object_set_new(report, "message", json_string(message));
	if (opt->dry_run) {
		r = 0;
		goto out;
	}
	if (refused) {
		store_rollback(c);
		in_tx = false;
		hr_audit(c, opt, AUDIT_FAILURE, hr_audit_details(&pl, &res, opt, refused));
		r = !strcmp(refused, "errors") ? ERR_INVALID : !strcmp(refused, "threshold") ? ERR_THRESHOLD
										       : ERR_CONFLICT;
		goto out;
	}
	r = hr_apply(&pl, c);
	if (r == 0)
		r = store_commit(c);
	in_tx = false;
	if (r < 0) {
		store_rollback(c);
		json_decref(report);
		report = NULL;
		log_error("hr: import failed", "error=\"%s\"", err_str(r));
		goto out;
	}
	json_object_set_new(report, "applied", json_true());
	log_info("hr: import applied", "new=%ld moved=%ld changed=%ld retired=%ld errors=%zu",
		 pl.counts[HR_A_NEW], pl.counts[HR_A_MOVED], pl.counts[HR_A_CHANGED], retiring, res.nerrors);
out:
	if (in_tx)
		store_rollback(c);
	hr_plan_done(&pl);
	hr_parse_result_done(&res);
	if (report && (r == 0 || r == ERR_INVALID || r == ERR_THRESHOLD || r == ERR_CONFLICT))
		*ret_report = report;
	else
		json_decref(report);
	return r;
}

/* ----------------------------------------------------------------- HTTP */

/* Reads a ?name flag: absent false; "", "1", "true", "yes" true; "0", "false", "no" false. */
static int hr_query_flag(struct http_req *req, const char *name, bool *ret)
{
	const char *v = http_req_query(req, name);

	if (!v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*ret = false;
		return 0;
	}
	if (!*v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*ret = true;
		return 0;
	}
	return ERR_INVALID;
}

static int hr_h_import(struct http_req *req, struct http_resp *resp)
{
	static const char *const flags[] = { "dry_run", "full_snapshot", "force", "skip_bad_lines" };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct hr_options opt = {
		.retire_threshold_pct = app->cfg.retire_threshold_pct,
		.source = "csv",
		.actor_id = p->person_id,
		.actor_login = p->login,
		.remote = http_req_remote(req),
		.request_id = http_req_id(req),
	};
	bool *dst[] = { &opt.dry_run, &opt.full_snapshot, &opt.force, &opt.skip_bad_lines };
	json_t *report = NULL, *body;
	const char *data;
	size_t len;
	int r;

	if (!c)
		return ERR_STORE;
	if (!directory_may(p, DIR_IMPORT_HR, NULL)) {
		audit_req(req, c, "authz.denied", "hr_import", NULL, AUDIT_DENIED,
			  json_pack("{s:s}", "endpoint", "POST /api/v1/hr/import"));
		return http_fail(resp, ERR_FORBIDDEN, NULL,
				 "importing the HR file needs the admin or security_officer role");
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (hr_query_flag(req, flags[i], dst[i]) < 0)
			return http_fail(resp, ERR_INVALID, flags[i], "%s must be 1 or 0", flags[i]);
	data = http_req_body(req, &len);
	if (len == 0)
		return http_fail(resp, ERR_INVALID, NULL, "the body is empty; send the HR file as text/csv");
	r = hr_import(app, c, data, len, &opt, &report);
	if (r == 0)
		return http_resp_json(resp, 200, report);
	if (!report)
		return r;
	{
		json_t *msg = json_object_get(report, "message");
		json_t *err = json_pack("{s:s, s:s}", "code", err_name(r),
					"message", json_is_string(msg) ? json_string_value(msg) : err_str(r));

		body = err ? json_pack("{s:o, s:o}", "error", err, "report", report) : NULL;
		if (!body) {
			json_decref(report);
			return -ENOMEM;
		}
	}
	return http_resp_json(resp, err_http_status(r), body);
}

int hr_routes(struct http_server *s)
{
	return http_route(s, HTTP_POST, "/api/v1/hr/import", hr_h_import, HTTP_BODY_CSV);
}
