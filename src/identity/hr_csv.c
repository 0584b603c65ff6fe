/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr_csv: phase 1 of the HR import (hr_internal.h): the CSV parser, the
 * checks of each record on its own and across the file, and the manager
 * cycle search the plan reuses.
 */
#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/email.h"
#include "common/str.h"
#include "identity/hr_internal.h"
#include "identity/people.h"

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

/*
 * Normalizes an org path in place (spaces around segments removed), then
 * checks it with the directory's one rule (people_org_path_check).
 * Returns 0, or -EINVAL with *why saying what is wrong.
 */
static int hr_path_normalize(char *path, const char **why)
{
	char *w = path;
	const char *r = path;

	for (;;) {
		const char *seg = r, *end = strchr(r, '/'), *e;

		if (!end)
			end = r + strlen(r);
		while (seg < end && *seg == ' ')
			seg++;
		e = end;
		while (e > seg && e[-1] == ' ')
			e--;
		if (r != path)
			*w++ = '/';
		memmove(w, seg, (size_t)(e - seg));
		w += e - seg;
		if (!*end)
			break;
		r = end + 1;
	}
	*w = '\0';
	return people_org_path_check(path, why) < 0 ? -EINVAL : 0;
}

size_t hr_path_depth(const char *path)
{
	size_t d = 1;

	for (; *path; path++)
		d += *path == '/';
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

void hr_error_v(struct hr_parse_result *res, long line, const char *fmt, va_list ap)
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
	if (*row->email && !email_is_valid(row->email)) {
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

/*
 * Finds manager cycles that go through valid rows and marks those rows bad.
 * The manager relation is a function, so one walk per start node, marking
 * nodes with the walk's number, visits each node once.  Returns the number
 * of rows marked, or -ENOMEM.
 */
long hr_find_cycles(const struct hr_graph *g, struct hr_parse_result *res, long *failed,
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
