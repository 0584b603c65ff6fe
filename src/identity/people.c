/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * people: the person lifecycle (create, update, move, retire, history),
 * roles, and the lookups every platform makes about people (see people.h).
 * Units are in people_org.c, groups in people_group.c.
 */
#include "identity/people.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "identity/auth.h"
#include "identity/people_internal.h"
#include "identity/scope.h"
#include "store/store.h"

/* ------------------------------------------------------------- reading */

#define PEOPLE_COLS "p.id, p.login, p.employee_number, p.family_name, p.given_name, p.email, " \
	"p.title, p.org_unit_id, o.path, p.status, p.kind, p.source, p.manager_id, p.created_at, " \
	"p.updated_at, p.retired_at"
#define PEOPLE_FROM " FROM people p LEFT JOIN org_units o ON o.id = p.org_unit_id"

static int people_col(struct store_stmt *q, int col, char *dst, size_t size)
{
	const char *v = store_col_text(q, col);

	return str_copy(dst, size, v ? v : "") < 0 ? ERR_TOO_LARGE : 0;
}

int people_read_first(struct store_conn *c, const char *sql, const char *key,
		      int (*fn)(struct store_stmt *q, void *ud), void *ud)
{
	struct store_stmt *q;
	int r;

	if (!key)
		return ERR_NOT_FOUND;
	r = store_query(c, sql, STORE_ARGS(SA_TEXT(key)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		r = fn(q, ud);
	else if (r == 0)
		r = ERR_NOT_FOUND;
	store_stmt_free(q);
	return r;
}

/* Copies a row of PEOPLE_COLS into the struct person @ud. */
static int people_person_row(struct store_stmt *q, void *ud)
{
	struct person *p = ud;
	char *dst[] = { p->id, p->login, p->employee_number, p->family_name, p->given_name, p->email,
			p->title, p->org_unit_id, p->org_path, p->status, p->kind, p->source, p->manager_id };
	size_t size[] = { sizeof(p->id), sizeof(p->login), sizeof(p->employee_number),
			  sizeof(p->family_name), sizeof(p->given_name), sizeof(p->email), sizeof(p->title),
			  sizeof(p->org_unit_id), sizeof(p->org_path), sizeof(p->status), sizeof(p->kind),
			  sizeof(p->source), sizeof(p->manager_id) };
	int r = 0;

	for (int i = 0; i < 13 && r == 0; i++)
		r = people_col(q, i, dst[i], size[i]);
	p->created_at = store_col_i64(q, 13);
	p->updated_at = store_col_i64(q, 14);
	p->retired_at = store_col_is_null(q, 15) ? 0 : store_col_i64(q, 15);
	return r;
}

/* Reads the first row of @sql (PEOPLE_COLS) bound to @key.  Returns 0, ERR_NOT_FOUND, or an error. */
static int people_read_one(struct store_conn *c, const char *sql, const char *key, struct person *ret)
{
	struct person p;
	int r = people_read_first(c, sql, key, people_person_row, &p);

	if (r == 0)
		*ret = p;
	return r;
}

int people_get(struct store_conn *c, const char *id, struct person *ret)
{
	if (!id || !ids_is_ulid(id))
		return ERR_NOT_FOUND;
	return people_read_one(c, "SELECT " PEOPLE_COLS PEOPLE_FROM " WHERE p.id = $1", id, ret);
}

int people_find(struct store_conn *c, const char *key, struct person *ret)
{
	return people_read_one(c, "SELECT " PEOPLE_COLS PEOPLE_FROM " WHERE p.login = $1 OR p.id = $1 "
			       "ORDER BY p.id = $1 DESC LIMIT 1", key, ret);
}

int people_find_by_employee_number(struct store_conn *c, const char *number, struct person *ret)
{
	return people_read_one(c, "SELECT " PEOPLE_COLS PEOPLE_FROM " WHERE p.employee_number = $1", number, ret);
}

int people_find_by_email(struct store_conn *c, const char *email, struct person *ret)
{
	return people_read_one(c, "SELECT " PEOPLE_COLS PEOPLE_FROM " WHERE lower(p.email) = lower($1) "
			       "ORDER BY p.status = 'retired', p.id LIMIT 1", email, ret);
}

int people_manager_of(struct store_conn *c, const char *id, struct person *ret)
{
	return people_read_one(c, "SELECT " PEOPLE_COLS PEOPLE_FROM " WHERE p.id = "
			       "(SELECT manager_id FROM people WHERE id = $1)", id, ret);
}

int people_any(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
	       bool *ret)
{
	int64_t n = 0;
	int r = store_query_i64(c, sql, args, nargs, &n);

	if (r < 0)
		return r;
	*ret = n > 0;
	return 0;
}

int people_is_person_email(struct store_conn *c, const char *email, bool *ret)
{
	return people_any(c, "SELECT count(*) FROM people WHERE lower(email) = lower($1) AND status <> 'retired'",
			  STORE_ARGS(SA_TEXT(email)), ret);
}

int people_is_manager(struct store_conn *c, const char *id, bool *ret)
{
	return people_any(c, "SELECT count(*) FROM people WHERE manager_id = $1 AND status <> 'retired'",
			  STORE_ARGS(SA_TEXT(id)), ret);
}

int people_reports_to(struct store_conn *c, const char *person_id, const char *boss_id, bool *ret)
{
	return people_any(c, "WITH RECURSIVE chain(id, depth) AS ("
			     " SELECT manager_id, 1 FROM people WHERE id = $1"
			     " UNION ALL SELECT x.manager_id, chain.depth + 1 FROM people x"
			     " JOIN chain ON x.id = chain.id WHERE chain.depth < $3)"
			     " SELECT count(*) FROM chain WHERE id = $2",
			  STORE_ARGS(SA_TEXT(person_id), SA_TEXT(boss_id), SA_I64(SCOPE_CHAIN_MAX)), ret);
}

int people_login_taken(struct store_conn *c, const char *login, const char *except_id, bool *ret)
{
	return people_any(c, "SELECT count(*) FROM people WHERE lower(login) = lower($1) AND id <> $2",
			  STORE_ARGS(SA_TEXT(login), SA_TEXT(except_id ? except_id : "")), ret);
}

int people_employee_number_taken(struct store_conn *c, const char *number, const char *except_id,
				 bool *ret)
{
	return people_any(c, "SELECT count(*) FROM people WHERE employee_number = $1 AND id <> $2",
			  STORE_ARGS(SA_TEXT(number), SA_TEXT(except_id ? except_id : "")), ret);
}

int people_roles(struct store_conn *c, const char *id, unsigned *ret)
{
	struct store_stmt *q;
	unsigned roles = 0;
	int r;

	r = store_query(c, "SELECT role FROM person_roles WHERE person_id = $1", STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1)
		roles |= role_from_name(store_col_text(q, 0) ? store_col_text(q, 0) : "");
	store_stmt_free(q);
	if (r < 0)
		return r;
	*ret = roles;
	return 0;
}

int people_effective_roles(struct store_conn *c, const char *id, const char *kind, unsigned *ret)
{
	unsigned roles;
	bool manager;
	int r = people_roles(c, id, &roles);

	if (r < 0)
		return r;
	if (kind && !strcmp(kind, "employee"))
		roles |= ROLE_EMPLOYEE;
	else if (kind && !strcmp(kind, "partner_staff"))
		roles |= ROLE_PARTNER_STAFF;
	r = people_is_manager(c, id, &manager);
	if (r < 0)
		return r;
	*ret = roles | (manager ? ROLE_MANAGER : 0);
	return 0;
}

int people_role_count(struct store_conn *c, unsigned role, int64_t *ret)
{
	const char *name = role_name(role);

	if (!name)
		return ERR_INVALID;
	return store_query_i64(c, "SELECT count(*) FROM person_roles WHERE role = $1", STORE_ARGS(SA_TEXT(name)), ret);
}

int people_is_last_admin(struct store_conn *c, const char *id, bool *ret)
{
	bool others;
	int r = people_any(c, "SELECT count(*) FROM person_roles r JOIN people p ON p.id = r.person_id "
			      "WHERE r.role = 'admin' AND p.status = 'active' AND p.id <> $1",
			   STORE_ARGS(SA_TEXT(id)), &others);

	if (r < 0)
		return r;
	if (others) {
		*ret = false;
		return 0;
	}
	return people_any(c, "SELECT count(*) FROM person_roles WHERE role = 'admin' AND person_id = $1",
			  STORE_ARGS(SA_TEXT(id)), ret);
}

int people_each_text(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs,
		     int (*fn)(const char *text, void *ud), void *ud)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, sql, args, nargs, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		r = fn(store_col_text(q, 0) ? store_col_text(q, 0) : "", ud);
		if (r < 0)
			break;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

int people_each_active_admin(struct store_conn *c, int (*fn)(const char *id, void *ud), void *ud)
{
	return people_each_text(c, "SELECT p.id FROM person_roles r JOIN people p ON p.id = r.person_id "
				   "WHERE r.role = 'admin' AND p.status = 'active'", STORE_NOARGS, fn, ud);
}

int people_each_grant(struct store_conn *c, unsigned roles,
		      int (*fn)(const char *id, unsigned role, void *ud), void *ud)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT person_id, role FROM person_roles", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *id = store_col_text(q, 0);
		unsigned role = role_from_name(store_col_text(q, 1) ? store_col_text(q, 1) : "");

		if (!id || !(role & roles))
			continue;
		r = fn(id, role, ud);
		if (r < 0)
			break;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

int people_scan(struct store_conn *c, int (*fn)(const struct people_row *row, void *ud), void *ud)
{
	struct store_stmt *q;
	int r;

	r = store_query(c, "SELECT p.id, p.employee_number, p.login, p.family_name, p.given_name, p.email, "
			   "o.path, p.title, p.status, p.kind, p.source, p.manager_id FROM people p "
			   "LEFT JOIN org_units o ON o.id = p.org_unit_id", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1) {
		const char *v[12];
		struct people_row row;

		for (int k = 0; k < 12; k++)
			v[k] = store_col_text(q, k) ? store_col_text(q, k) : "";
		row = (struct people_row){
			.id = v[0], .employee_number = v[1], .login = v[2], .family_name = v[3],
			.given_name = v[4], .email = v[5], .org_path = v[6], .title = v[7], .status = v[8],
			.kind = v[9], .source = v[10], .manager_id = v[11],
		};
		r = fn(&row, ud);
		if (r < 0)
			break;
	}
	store_stmt_free(q);
	return r < 0 ? r : 0;
}

int people_history_query(struct store_conn *c, const char *id, int64_t before, int64_t limit,
			 struct store_stmt **ret)
{
	return store_query(c, "SELECT id, at, source, actor_id, change FROM person_history "
			      "WHERE person_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
			   STORE_ARGS(SA_TEXT(id), SA_I64(before), SA_I64(limit)), ret);
}

/* -------------------------------------------------------------- writing */

int people_writer_new(struct store_conn *c, const char *source, const char *actor_id, int64_t now_ms,
		      struct people_writer **ret)
{
	struct people_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->c = c;
	w->source = source;
	w->actor_id = actor_id;
	w->now = now_ms;
	*ret = w;
	return 0;
}

void people_writer_free(struct people_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < PEOPLE_ST_COUNT; i++)
		store_stmt_free(w->st[i]);
	free(w);
}

int people_writer_exec(struct people_writer *w, enum people_stmt which, const char *sql,
		       const struct store_arg *args, size_t nargs)
{
	if (!w->st[which]) {
		int r = store_query(w->c, sql, STORE_NOARGS, &w->st[which]);

		if (r < 0)
			return r;
	}
	return store_stmt_exec(w->st[which], args, nargs);
}

int people_history_add(struct people_writer *w, const char *id, json_t *change)
{
	char *text;
	int r;

	if (!change)
		return -ENOMEM;
	text = json_dumps(change, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(change);
	if (!text)
		return -ENOMEM;
	r = people_writer_exec(w, PEOPLE_ST_HISTORY, "INSERT INTO person_history (person_id, at, actor_id, "
			       "source, change) VALUES ($1, $2, $3, $4, $5)",
			       STORE_ARGS(SA_TEXT(id), SA_I64(w->now), SA_TEXT(w->actor_id), SA_TEXT(w->source),
					  SA_TEXT(text)));
	free(text);
	return r < 0 ? r : 0;
}

/* Runs a write, then the history row of @change (stolen) when there is one. */
static int people_then_history(struct people_writer *w, int r, const char *id, json_t *change)
{
	if (r < 0 || !change) {
		json_decref(change);
		return r < 0 ? r : 0;
	}
	return people_history_add(w, id, change);
}

static bool people_rec_ok(const struct people_rec *rec)
{
	return rec && rec->login && *rec->login && rec->family_name && rec->given_name && rec->status &&
	       rec->kind;
}

const char *people_opt(const char *s)
{
	return s && *s ? s : NULL;
}

/* The arguments people_create and people_update share: $1 the id, $2..$11 @rec, $12 the source, $13 the time. */
#define PEOPLE_REC_NARGS 13

static void people_rec_args(const struct people_writer *w, const char *id, const struct people_rec *rec,
			    struct store_arg args[PEOPLE_REC_NARGS])
{
	const struct store_arg a[PEOPLE_REC_NARGS] = {
		SA_TEXT(id), SA_TEXT(rec->login), SA_TEXT(people_opt(rec->employee_number)),
		SA_TEXT(rec->family_name), SA_TEXT(rec->given_name), SA_TEXT(people_opt(rec->email)),
		SA_TEXT(people_opt(rec->org_unit_id)), SA_TEXT(rec->title ? rec->title : ""), SA_TEXT(rec->status),
		SA_TEXT(rec->kind), SA_TEXT(people_opt(rec->manager_id)), SA_TEXT(w->source), SA_I64(w->now),
	};

	memcpy(args, a, sizeof(a));
}

int people_create(struct people_writer *w, const char *id, const struct people_rec *rec, json_t *change)
{
	struct store_arg args[PEOPLE_REC_NARGS + 1];
	int r;

	if (!id || !people_rec_ok(rec)) {
		json_decref(change);
		return ERR_INVALID;
	}
	people_rec_args(w, id, rec, args);
	args[PEOPLE_REC_NARGS] = !strcmp(rec->status, "retired") ? SA_I64(w->now) : SA_NULL;
	r = people_writer_exec(w, PEOPLE_ST_INSERT, "INSERT INTO people (id, login, employee_number, family_name, "
			       "given_name, email, org_unit_id, title, status, kind, manager_id, source, created_at, "
			       "updated_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
			       "$13, $13, $14)",
			       args, PEOPLE_REC_NARGS + 1);
	return people_then_history(w, r, id, change);
}

/* Ends @id's sessions and tokens; adds the number to *ret_revoked. */
static int people_revoke(struct people_writer *w, const char *id, int *ret_revoked)
{
	int r = auth_revoke_all(w->c, id, w->now);

	if (r < 0)
		return r;
	if (ret_revoked)
		*ret_revoked = r;
	return 0;
}

int people_update(struct people_writer *w, const char *id, const struct people_rec *rec,
		  const char *was_status, json_t *change, int *ret_revoked)
{
	struct store_arg args[PEOPLE_REC_NARGS];
	bool retiring;
	int r;

	if (ret_revoked)
		*ret_revoked = 0;
	if (!id || !people_rec_ok(rec)) {
		json_decref(change);
		return ERR_INVALID;
	}
	retiring = !strcmp(rec->status, "retired") && (!was_status || strcmp(was_status, "retired") != 0);
	people_rec_args(w, id, rec, args);
	r = people_writer_exec(w, PEOPLE_ST_UPDATE, "UPDATE people SET login = $2, employee_number = $3, "
			       "family_name = $4, given_name = $5, email = $6, org_unit_id = $7, title = $8, "
			       "status = $9, kind = $10, manager_id = $11, source = $12, updated_at = $13, "
			       "retired_at = CASE WHEN $9 = 'retired' THEN coalesce(retired_at, $13) ELSE NULL END "
			       "WHERE id = $1",
			       args, PEOPLE_REC_NARGS);
	r = people_then_history(w, r, id, change);
	if (r == 0 && retiring)
		r = people_revoke(w, id, ret_revoked);
	return r;
}

int people_move(struct people_writer *w, const char *id, const char *org_unit_id, json_t *change)
{
	int r = store_exec(w->c, "UPDATE people SET org_unit_id = $2, updated_at = $3 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(id), SA_TEXT(people_opt(org_unit_id)), SA_I64(w->now)));

	return people_then_history(w, r, id, change);
}

int people_retire(struct people_writer *w, const char *id, json_t *change, int *ret_revoked)
{
	int r;

	if (ret_revoked)
		*ret_revoked = 0;
	r = people_writer_exec(w, PEOPLE_ST_RETIRE, "UPDATE people SET status = 'retired', "
			       "retired_at = coalesce(retired_at, $2), updated_at = $2 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(id), SA_I64(w->now)));
	r = people_then_history(w, r, id, change);
	return r < 0 ? r : people_revoke(w, id, ret_revoked);
}

int people_activate(struct people_writer *w, const char *id, json_t *change)
{
	int r = store_exec(w->c, "UPDATE people SET status = 'active', retired_at = NULL, updated_at = $2 "
			      "WHERE id = $1", STORE_ARGS(SA_TEXT(id), SA_I64(w->now)));

	return people_then_history(w, r, id, change);
}

int people_role_grant(struct people_writer *w, const char *id, unsigned role, const char *scope_org_id,
		      const char *granted_by)
{
	const char *name = role_name(role);

	if (!name)
		return ERR_INVALID;
	return store_exec(w->c, "INSERT INTO person_roles (person_id, role, scope_org_id, granted_by, granted_at) "
				"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id, role) DO UPDATE SET "
				"scope_org_id = excluded.scope_org_id, granted_by = excluded.granted_by, "
				"granted_at = excluded.granted_at",
			  STORE_ARGS(SA_TEXT(id), SA_TEXT(name), SA_TEXT(people_opt(scope_org_id)),
				     SA_TEXT(granted_by), SA_I64(w->now)));
}

int people_role_revoke(struct people_writer *w, const char *id, unsigned role)
{
	const char *name = role_name(role);

	if (!name)
		return ERR_INVALID;
	return store_exec(w->c, "DELETE FROM person_roles WHERE person_id = $1 AND role = $2",
			  STORE_ARGS(SA_TEXT(id), SA_TEXT(name)));
}
