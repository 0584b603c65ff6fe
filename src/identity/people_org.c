/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* people_org: org units, the tree every person and scope hangs on (see people.h). */
#include "identity/people.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "identity/people_internal.h"
#include "identity/scope.h"
#include "store/store.h"

const char *people_org_level(size_t depth)
{
	switch (depth) {
	case 0:
	case 1: return "group";
	case 2: return "company";
	case 3: return "division";
	default: return "department";
	}
}

_Static_assert(PEOPLE_PATH_DEPTH_MAX == 8, "the phrase of people_org_path_check names 8 levels");
_Static_assert(PEOPLE_PATH_MAX == 511, "the phrase of people_org_path_check names 511 bytes");

/*
 * Decodes the UTF-8 sequence at @p (@left bytes remain): the code point in
 * *ret_cp and its length, or 0 for an invalid sequence (overlong, a
 * surrogate, past U+10FFFF, cut short).
 */
static size_t people_utf8_next(const unsigned char *p, size_t left, uint32_t *ret_cp)
{
	size_t extra;
	uint32_t cp;

	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) { extra = 1; cp = p[0] & 0x1f; }
	else if ((p[0] & 0xf0) == 0xe0) { extra = 2; cp = p[0] & 0x0f; }
	else if ((p[0] & 0xf8) == 0xf0) { extra = 3; cp = p[0] & 0x07; }
	else return 0;
	if (extra >= left)
		return 0;
	for (size_t k = 1; k <= extra; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return extra + 1;
}

/* C0 (tab included), DEL, C1, and the line and paragraph separators. */
static bool people_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029;
}

int people_org_path_check(const char *path, const char **ret_why)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t len = path ? strlen(path) : 0, seg = 0, depth = 1;
	const char *why = NULL;

	if (len == 0)
		why = "is empty";
	else if (len > PEOPLE_PATH_MAX)
		why = "is longer than 511 bytes";
	for (size_t i = 0; !why && i <= len;) {
		uint32_t cp;
		size_t n;

		if (i == len || p[i] == '/') {
			if (i == seg)
				why = "has an empty segment";
			else if ((i - seg == 1 && p[seg] == '.') || (i - seg == 2 && p[seg] == '.' && p[seg + 1] == '.'))
				why = "has a segment '.' or '..'";
			else if (i < len && ++depth > PEOPLE_PATH_DEPTH_MAX)
				why = "has more than 8 levels";
			seg = ++i;
			continue;
		}
		n = people_utf8_next(p + i, len - i, &cp);
		if (n == 0)
			why = "is not valid UTF-8";
		else if (people_is_control(cp))
			why = "contains a control character";
		i += n;
	}
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	return ERR_INVALID;
}

static size_t people_org_depth(const char *path)
{
	size_t d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* A unit read by people_org_read, and whether a further row follows (when @more is not NULL). */
struct people_org_one {
	struct org_unit u;
	bool *more;
};

/* Copies a row (id, parent_id, path, kind, level) into the struct people_org_one @ud. */
static int people_org_row(struct store_stmt *q, void *ud)
{
	struct people_org_one *one = ud;
	struct org_unit *u = &one->u;
	const char *v[5];
	int r;

	for (int i = 0; i < 5; i++)
		v[i] = store_col_text(q, i) ? store_col_text(q, i) : "";
	if (str_copy(u->id, sizeof(u->id), v[0]) < 0 || str_copy(u->parent_id, sizeof(u->parent_id), v[1]) < 0 ||
	    str_copy(u->path, sizeof(u->path), v[2]) < 0 || str_copy(u->kind, sizeof(u->kind), v[3]) < 0 ||
	    str_copy(u->level, sizeof(u->level), v[4]) < 0)
		return ERR_TOO_LARGE;
	if (!one->more)
		return 0;
	r = store_step(q);
	*one->more = r == 1;
	return r < 0 ? r : 0;
}

/* Reads the first unit of @sql (id, parent_id, path, kind, level) bound to @key. */
static int people_org_read(struct store_conn *c, const char *sql, const char *key, struct org_unit *ret,
			   bool *ret_more)
{
	struct people_org_one one = { .more = ret_more };
	int r = people_read_first(c, sql, key, people_org_row, &one);

	if (r == 0)
		*ret = one.u;
	return r;
}

int people_org_find(struct store_conn *c, const char *key, struct org_unit *ret)
{
	return people_org_read(c, "SELECT id, parent_id, path, kind, level FROM org_units "
			       "WHERE id = $1 OR path = $1 ORDER BY id = $1 DESC LIMIT 1", key, ret, NULL);
}

int people_org_get(struct store_conn *c, const char *id, struct org_unit *ret)
{
	return people_org_read(c, "SELECT id, parent_id, path, kind, level FROM org_units WHERE id = $1",
			       id, ret, NULL);
}

int people_org_at(struct store_conn *c, const char *path, struct org_unit *ret)
{
	return people_org_read(c, "SELECT id, parent_id, path, kind, level FROM org_units WHERE path = $1",
			       path, ret, NULL);
}

int people_org_company(struct store_conn *c, const char *name, struct org_unit *ret)
{
	struct org_unit u;
	bool more = false;
	int r = people_org_read(c, "SELECT id, parent_id, path, kind, level FROM org_units "
				   "WHERE level = 'company' AND name = $1 LIMIT 2", name, &u, &more);

	if (r < 0)
		return r;
	if (more)
		return ERR_CONFLICT;
	*ret = u;
	return 0;
}

int people_org_scan(struct store_conn *c, int (*fn)(const struct org_unit_row *row, void *ud), void *ud)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT id, path, kind, level FROM org_units", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		struct org_unit_row row = {
			.id = store_col_text(q, 0), .path = store_col_text(q, 1),
			.kind = store_col_text(q, 2), .level = store_col_text(q, 3),
		};

		if (!row.id || !row.path || !row.kind)
			continue;
		r = fn(&row, ud);
		if (r < 0)
			break;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

/* Inserts one unit; the statement is prepared once per writer when @w is given. */
static int people_org_put(struct store_conn *c, struct people_writer *w, const char *id, const char *parent_id,
			  const char *path, const char *kind, int64_t now)
{
	static const char sql[] = "INSERT INTO org_units (id, parent_id, name, path, level, kind, created_at) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7)";
	const char *name = strrchr(path, '/');
	const struct store_arg args[] = {
		SA_TEXT(id), SA_TEXT(people_opt(parent_id)), SA_TEXT(name ? name + 1 : path),
		SA_TEXT(path), SA_TEXT(people_org_level(people_org_depth(path))), SA_TEXT(kind), SA_I64(now),
	};
	int r;

	if (people_org_path_check(path, NULL) < 0)
		return ERR_INVALID;
	r = w ? people_writer_exec(w, PEOPLE_ST_ORG_INSERT, sql, args, sizeof(args) / sizeof(args[0]))
	      : store_exec(c, sql, args, sizeof(args) / sizeof(args[0]));
	return r < 0 ? r : 0;
}

int people_org_insert(struct people_writer *w, const char *id, const char *parent_id, const char *path,
		      const char *kind)
{
	return people_org_put(w->c, w, id, parent_id, path, kind, w->now);
}

int people_org_rekind(struct people_writer *w, const char *path, const char *kind)
{
	int r = store_exec(w->c, "UPDATE org_units SET kind = $1 WHERE " SCOPE_SQL_WITHIN("path", "$2"),
			   STORE_ARGS(SA_TEXT(kind), SA_TEXT(path)));

	return r < 0 ? r : 0;
}

int people_org_ensure(struct store_conn *c, const char *path, const char *company_kind,
		      int64_t now_ms, char ret_id[ULID_SIZE], int *ret_created)
{
	char prefix[PEOPLE_PATH_MAX + 1], parent[ULID_SIZE] = "", id[ULID_SIZE] = "";
	char kind[20] = "own";
	size_t depth = 0;
	int created = 0, r;

	if (people_org_path_check(path, NULL) < 0)
		return ERR_INVALID;
	for (size_t end = 0;; end++) {
		struct store_stmt *q;

		if (path[end] != '/' && path[end] != '\0')
			continue;
		depth++;
		memcpy(prefix, path, end);
		prefix[end] = '\0';
		r = store_query(c, "SELECT id, kind FROM org_units WHERE path = $1", STORE_ARGS(SA_TEXT(prefix)), &q);
		if (r < 0)
			return r;
		r = store_step(q);
		if (r == 1) {
			snprintf(id, sizeof(id), "%s", store_col_text(q, 0));
			snprintf(kind, sizeof(kind), "%s", store_col_text(q, 1) ? store_col_text(q, 1) : "own");
		}
		store_stmt_free(q);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Below a company the kind is inherited, which kind[] already holds. */
			if (depth == 1)
				snprintf(kind, sizeof(kind), "own");
			else if (depth == 2)
				snprintf(kind, sizeof(kind), "%s", company_kind ? company_kind : "group_company");
			ids_ulid(id, now_ms);
			r = people_org_put(c, NULL, id, parent, prefix, kind, now_ms);
			if (r < 0)
				return r;
			created++;
		}
		memcpy(parent, id, sizeof(parent));
		if (path[end] == '\0')
			break;
	}
	memcpy(ret_id, id, ULID_SIZE);
	if (ret_created)
		*ret_created = created;
	return 0;
}
