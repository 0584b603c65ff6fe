/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * directory: org units, people and roles over HTTP, and the identity
 * domain's one authorization decision.  Reads and writes of people go
 * through people.h; the scope of the decision and of the lists is scope.h's.
 *
 * directory_may() is pure (no I/O) so that the whole role matrix can be
 * tested from one table; the handlers load what it needs about the person
 * acted on (dir_subject_load) and ask it once.  Lists are filtered in SQL
 * with the same rules: everything for admin, security_officer and auditor;
 * otherwise the caller, plus the org subtree of a security_manager (path
 * prefix), plus the reports of a manager (recursive query on manager_id).
 * A person the caller may not see is answered 404, exactly as one that does
 * not exist, and the refusal is audited as authz.denied.
 */
#include "identity/directory.h"

#include <errno.h>
#include <sodium.h>
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
#include "crypto/rcrypto.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/id_http.h"
#include "identity/people.h"
#include "identity/scope.h"
#include "store/store.h"

#define DIR_ACTIVATION_TTL_MS (72LL * 3600 * 1000)
#define DIR_QUERY_MAX 128

/* ------------------------------------------------------- authorization */

/* The people a caller may read and the units a caller may see, in decisions and lists alike. */
#define DIR_PEOPLE_SCOPE (SCOPE_SELF | SCOPE_REPORTS | SCOPE_SUBTREE)
#define DIR_UNITS_SCOPE (SCOPE_ABOVE | SCOPE_SUBTREE)

static bool dir_is_user(const struct principal *p)
{
	return principal_is_authenticated(p) && p->via != VIA_SCIM_TOKEN;
}

static bool dir_is_self(const struct principal *p, const struct dir_target *t)
{
	return t->person_id && strcmp(p->person_id, t->person_id) == 0;
}

/* A security_manager acts on people of the subtree who hold no powerful grant. */
static bool dir_secmgr_reaches(const struct principal *p, const struct dir_target *t)
{
	return scope_path_within(t->org_path, p->manages_path) &&
	       !(t->roles & (ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_SECURITY_MANAGER | ROLE_AUDITOR));
}

bool directory_may_grant(const struct principal *p, unsigned role, const struct dir_target *t)
{
	if (!dir_is_user(p) || !t || !t->person_id || dir_is_self(p, t))
		return false;
	if (!role_name(role) || role == ROLE_EMPLOYEE || role == ROLE_PARTNER_STAFF)
		return false;
	if (principal_has(p, ROLE_ADMIN))
		return true;
	if (principal_has(p, ROLE_SECURITY_OFFICER))
		return role != ROLE_ADMIN && !(t->roles & ROLE_ADMIN);
	if (principal_has(p, ROLE_SECURITY_MANAGER))
		return role == ROLE_MANAGER && dir_secmgr_reaches(p, t);
	return false;
}

/* DIR_MANAGE_PERSON: an admin manages everyone but themselves; nobody else manages a person holding admin. */
static bool dir_may_manage(const struct principal *p, const struct dir_target *t)
{
	if (!t || !t->person_id || dir_is_self(p, t))
		return false;
	if (principal_has(p, ROLE_ADMIN))
		return true;
	if (t->roles & ROLE_ADMIN)
		return false;
	if (principal_has(p, ROLE_SECURITY_OFFICER))
		return true;
	return principal_has(p, ROLE_SECURITY_MANAGER) && dir_secmgr_reaches(p, t);
}

bool directory_may(const struct principal *p, enum dir_action a, const struct dir_target *t)
{
	/* A SCIM token is its owner for the one decision the SCIM service asks. */
	if (a == DIR_FEED_CHANGE && principal_is_authenticated(p)) {
		if (!t || !t->person_id)
			return false;
		return !(t->roles & (ROLE_ADMIN | ROLE_SECURITY_OFFICER)) || dir_may_manage(p, t);
	}
	if (!dir_is_user(p))
		return false;
	switch (a) {
	case DIR_IMPORT_HR:
		return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER);
	case DIR_READ_ORG:
		if (!t)
			return true;   /* the list itself; its rows are scoped */
		/* Everyone sees their own unit and the units above it. */
		return scope_may_see(p, DIR_UNITS_SCOPE, &(struct scope_row){ .org_path = t->org_path });
	case DIR_READ_PERSON:
		if (!t || !t->person_id)
			return false;
		return scope_may_see(p, DIR_PEOPLE_SCOPE, &(struct scope_row){
			.person_id = t->person_id, .org_path = t->org_path,
			.reports_to_principal = t->reports_to_actor });
	case DIR_MANAGE_PERSON:
		return dir_may_manage(p, t);
	case DIR_FEED_CHANGE:
		return false;   /* decided above */
	case DIR_GRANT_ROLE:
		for (unsigned i = 0; i < ROLE_COUNT; i++)
			if (directory_may_grant(p, 1u << i, t))
				return true;
		return false;
	}
	return false;
}

/* ------------------------------------------------------------ org units */

#define DIR_UNIT_COLS "u.id, u.parent_id, u.name, u.path, u.level, u.kind, " \
	"(SELECT count(*) FROM people x WHERE x.org_unit_id = u.id AND x.status <> 'retired')"

static json_t *dir_unit_json(struct store_stmt *q)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	jsonx_set_str(o, "id", store_col_text(q, 0));
	jsonx_set_str(o, "parent_id", store_col_text(q, 1));
	jsonx_set_str(o, "name", store_col_text(q, 2));
	jsonx_set_str(o, "path", store_col_text(q, 3));
	jsonx_set_str(o, "level", store_col_text(q, 4));
	jsonx_set_str(o, "kind", store_col_text(q, 5));
	json_object_set_new(o, "people", json_integer(store_col_i64(q, 6)));
	return o;
}

/* ---------------------------------------------------------------- people */

#define DIR_PERSON_COLS "p.id, p.login, p.employee_number, p.family_name, p.given_name, p.email, " \
	"p.org_unit_id, o.path, p.title, p.status, p.kind, p.manager_id, m.employee_number, " \
	"m.given_name, m.family_name, p.created_at, p.updated_at, p.retired_at"
#define DIR_PERSON_FROM " FROM people p LEFT JOIN org_units o ON o.id = p.org_unit_id " \
	"LEFT JOIN people m ON m.id = p.manager_id"

/* Grants, then the roles a person has without a grant. */
static json_t *dir_roles_json(struct store_conn *c, const char *id, const char *kind)
{
	json_t *a = json_array();
	struct store_stmt *q;
	bool manager = false, reports;
	int r;

	if (!a)
		return NULL;
	r = store_query(c, "SELECT r.role, s.path FROM person_roles r LEFT JOIN org_units s "
			   "ON s.id = r.scope_org_id WHERE r.person_id = $1 ORDER BY r.role",
			STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		goto fail;
	while ((r = store_step(q)) == 1) {
		json_t *o = json_object();

		if (!o)
			continue;
		jsonx_set_str(o, "role", store_col_text(q, 0));
		jsonx_set_str(o, "scope", store_col_text(q, 1));
		json_array_append_new(a, o);
		manager = manager || !strcmp(store_col_text(q, 0) ? store_col_text(q, 0) : "", "manager");
	}
	store_stmt_free(q);
	if (r < 0)
		goto fail;
	if (kind && (!strcmp(kind, "employee") || !strcmp(kind, "partner_staff")))
		json_array_append_new(a, json_pack("{s:s, s:n, s:b}", "role", kind, "scope", "implicit", 1));
	if (!manager) {
		r = people_is_manager(c, id, &reports);
		if (r < 0)
			goto fail;
		if (reports)
			json_array_append_new(a, json_pack("{s:s, s:n, s:b}", "role", "manager", "scope",
							   "implicit", 1));
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

/* A row of DIR_PERSON_COLS as the API shows it. */
static json_t *dir_person_row_json(struct store_conn *c, struct store_stmt *q)
{
	json_t *o = json_object(), *roles;
	const char *id = store_col_text(q, 0);

	if (!o || !id) {
		json_decref(o);
		return NULL;
	}
	jsonx_set_str(o, "id", id);
	jsonx_set_str(o, "login", store_col_text(q, 1));
	jsonx_set_str(o, "employee_number", store_col_text(q, 2));
	jsonx_set_str(o, "family_name", store_col_text(q, 3));
	jsonx_set_str(o, "given_name", store_col_text(q, 4));
	jsonx_set_str(o, "email", store_col_text(q, 5));
	if (store_col_text(q, 6))
		json_object_set_new(o, "org_unit", json_pack("{s:s, s:s}", "id", store_col_text(q, 6),
							     "path", store_col_text(q, 7) ? store_col_text(q, 7) : ""));
	else
		json_object_set_new(o, "org_unit", json_null());
	jsonx_set_str(o, "title", store_col_text(q, 8));
	jsonx_set_str(o, "status", store_col_text(q, 9));
	jsonx_set_str(o, "kind", store_col_text(q, 10));
	if (store_col_text(q, 11)) {
		char name[2 * 256 + 2];
		json_t *m = json_object();

		snprintf(name, sizeof(name), "%s %s", store_col_text(q, 13) ? store_col_text(q, 13) : "",
			 store_col_text(q, 14) ? store_col_text(q, 14) : "");
		if (m) {
			jsonx_set_str(m, "id", store_col_text(q, 11));
			jsonx_set_str(m, "employee_number", store_col_text(q, 12));
			jsonx_set_str(m, "name", name);
		}
		json_object_set_new(o, "manager", m ? m : json_null());
	} else {
		json_object_set_new(o, "manager", json_null());
	}
	roles = dir_roles_json(c, id, store_col_text(q, 10));
	if (!roles) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "roles", roles);
	jsonx_set_time(o, "created_at", store_col_i64(q, 15));
	jsonx_set_time(o, "updated_at", store_col_i64(q, 16));
	jsonx_set_time(o, "retired_at", store_col_is_null(q, 17) ? 0 : store_col_i64(q, 17));
	return o;
}

json_t *directory_person_json(struct store_conn *c, const char *person_id)
{
	struct store_stmt *q;
	json_t *o = NULL;

	if (store_query(c, "SELECT " DIR_PERSON_COLS DIR_PERSON_FROM " WHERE p.id = $1",
			STORE_ARGS(SA_TEXT(person_id)), &q) < 0)
		return NULL;
	if (store_step(q) == 1)
		o = dir_person_row_json(c, q);
	store_stmt_free(q);
	return o;
}

/* What the handlers know about the person acted on. */
struct dir_subject {
	char id[ULID_SIZE];
	char org_path[PRINCIPAL_PATH_SIZE];
	char status[16];
	struct dir_target t;
};

/* Loads @id for @p's decisions.  Returns 0, ERR_NOT_FOUND, or a store error. */
static int dir_subject_load(struct store_conn *c, const struct principal *p, const char *id,
			    struct dir_subject *s)
{
	struct person who;
	int r;

	memset(s, 0, sizeof(*s));
	r = people_get(c, id, &who);
	if (r == ERR_TOO_LARGE)
		r = ERR_INTERNAL;
	if (r < 0)
		return r;
	memcpy(s->id, who.id, sizeof(s->id));
	memcpy(s->org_path, who.org_path, sizeof(s->org_path));
	if (str_copy(s->status, sizeof(s->status), who.status) < 0)
		return ERR_INTERNAL;
	r = people_roles(c, id, &s->t.roles);
	if (r < 0)
		return r;
	if (principal_has(p, ROLE_MANAGER) && strcmp(p->person_id, id) != 0) {
		r = people_reports_to(c, id, p->person_id, &s->t.reports_to_actor);
		if (r < 0)
			return r;
	}
	s->t.person_id = s->id;
	s->t.org_path = s->org_path;
	return 0;
}

static const char *dir_action_name(enum dir_action a)
{
	switch (a) {
	case DIR_READ_PERSON: return "read_person";
	case DIR_MANAGE_PERSON: return "manage_person";
	case DIR_GRANT_ROLE: return "grant_role";
	case DIR_IMPORT_HR: return "import_hr";
	case DIR_READ_ORG: return "read_org";
	case DIR_FEED_CHANGE: return "feed_change";
	}
	return "unknown";
}

static void dir_audit_denied(struct http_req *req, struct store_conn *c, const char *object_type,
			     const char *object_id, enum dir_action a, const char *role)
{
	char endpoint[300];
	json_t *d;

	snprintf(endpoint, sizeof(endpoint), "%s %s", http_method_name(http_req_method(req)),
		 http_req_path(req));
	d = json_pack("{s:s, s:s}", "endpoint", endpoint, "action", dir_action_name(a));
	if (d && role)
		json_object_set_new(d, "role", json_string(role));
	audit_req(req, c, "authz.denied", object_type, object_id, AUDIT_DENIED, d);
}

/*
 * Loads the person of the {id} parameter and decides @a (for DIR_GRANT_ROLE:
 * on @role).  Returns 0 when allowed; otherwise the response is written
 * (404 when the caller may not even see the person, 403 when they may) and
 * the error returned.
 */
static int dir_authorize(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			 enum dir_action a, unsigned role, struct dir_subject *s)
{
	const struct principal *p = http_req_principal(req);
	bool ok;
	int r = dir_subject_load(c, p, http_req_param(req, "id"), s);

	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_NOT_FOUND, "id", "no person has this id");
	if (r < 0)
		return r;
	ok = a == DIR_GRANT_ROLE ? directory_may_grant(p, role, &s->t) : directory_may(p, a, &s->t);
	if (ok)
		return 0;
	dir_audit_denied(req, c, "person", s->id, a, a == DIR_GRANT_ROLE ? role_name(role) : NULL);
	if (!directory_may(p, DIR_READ_PERSON, &s->t))
		return http_fail(resp, ERR_NOT_FOUND, "id", "no person has this id");
	switch (a) {
	case DIR_GRANT_ROLE:
		return http_fail(resp, ERR_FORBIDDEN, "role", "you may not grant or revoke the role %s for "
				 "this person", role_name(role) ? role_name(role) : "?");
	case DIR_MANAGE_PERSON:
		return http_fail(resp, ERR_FORBIDDEN, NULL, dir_is_self(p, &s->t)
				 ? "use /api/v1/me for your own account"
				 : "you may not manage this person's account");
	default:
		return http_fail(resp, ERR_FORBIDDEN, NULL, "not allowed");
	}
}

/* Refuses (409) a change to a retired person.  Returns 0 or the answered error. */
static int dir_refuse_retired(struct http_resp *resp, const struct dir_subject *s)
{
	if (!strcmp(s->status, "retired"))
		return http_fail(resp, ERR_CONFLICT, "id", "this person is retired");
	return 0;
}

/* dir_authorize for DIR_MANAGE_PERSON, then dir_refuse_retired: a change to the account of @s. */
static int dir_authorize_change(struct http_req *req, struct http_resp *resp, struct store_conn *c,
				struct dir_subject *s)
{
	int r = dir_authorize(req, resp, c, DIR_MANAGE_PERSON, 0, s);

	return r < 0 ? r : dir_refuse_retired(resp, s);
}

/* Answers 200 with the person @id as the API shows it. */
static int dir_person_reply(struct http_resp *resp, struct store_conn *c, const char *id)
{
	json_t *o = directory_person_json(c, id);

	return o ? http_resp_json(resp, 200, o) : ERR_STORE;
}

/* ---------------------------------------------------------------- lists */

static json_t *dir_unit_item(struct store_stmt *q, void *ud)
{
	(void)ud;
	return dir_unit_json(q);
}

static json_t *dir_person_item(struct store_stmt *q, void *ud)
{
	return dir_person_row_json(ud, q);
}

/*
 * Ends a list query that @sql and @args started: the keyset order @order,
 * LIMIT @limit + 1, then answers the page made by @fn.  @sql is released.
 */
static int dir_list_run(struct http_resp *resp, struct store_conn *c, struct buf *sql, struct store_arg *args,
			size_t nargs, int64_t limit, const char *order, page_row_fn fn, void *ud)
{
	struct store_stmt *q;
	int r;

	args[nargs++] = SA_I64(limit + 1);
	buf_printf(sql, " ORDER BY %s LIMIT $%zu", order, nargs);
	r = store_query(c, sql->data, args, nargs, &q);
	buf_done(sql);
	if (r < 0)
		return r;
	return id_http_page_reply(resp, q, limit, fn, ud);
}

/* ---------------------------------------------------------------- handlers */

static int dir_h_org_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct store_arg args[8];
	size_t nargs = 0;
	const char *cursor;
	int64_t limit;
	struct buf sql;
	int r;

	if (!c)
		return ERR_STORE;
	if (!directory_may(p, DIR_READ_ORG, NULL)) {
		dir_audit_denied(req, c, "org_unit", NULL, DIR_READ_ORG, NULL);
		return http_fail(resp, ERR_FORBIDDEN, NULL, "not allowed");
	}
	r = id_http_page(req, resp, app->cfg.max_list, &limit, &cursor);
	if (r < 0)
		return r;
	buf_init(&sql, 4096);
	buf_puts(&sql, "SELECT " DIR_UNIT_COLS " FROM org_units u WHERE 1 = 1");
	r = scope_sql_where(&sql, args, &nargs, 6, p, DIR_UNITS_SCOPE, "u.path", NULL);
	if (r < 0) {
		buf_done(&sql);
		return r;
	}
	if (cursor) {
		args[nargs++] = SA_TEXT(cursor);
		buf_printf(&sql, " AND u.path > (SELECT path FROM org_units WHERE id = $%zu)", nargs);
	}
	return dir_list_run(resp, c, &sql, args, nargs, limit, "u.path", dir_unit_item, NULL);
}

static int dir_h_org_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *id = http_req_param(req, "id");
	struct store_stmt *q;
	struct dir_target t = { 0 };
	char path[PRINCIPAL_PATH_SIZE];
	json_t *o;
	int r;

	if (!c)
		return ERR_STORE;
	if (!id || !ids_is_ulid(id))
		return http_fail(resp, ERR_NOT_FOUND, "id", "no org unit has this id");
	r = store_query(c, "SELECT " DIR_UNIT_COLS " FROM org_units u WHERE u.id = $1",
			STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r != 1) {
		store_stmt_free(q);
		return r < 0 ? r : http_fail(resp, ERR_NOT_FOUND, "id", "no org unit has this id");
	}
	if (str_copy(path, sizeof(path), store_col_text(q, 3) ? store_col_text(q, 3) : "") < 0) {
		store_stmt_free(q);
		return ERR_INTERNAL;
	}
	t.org_path = path;
	if (!directory_may(p, DIR_READ_ORG, &t)) {
		store_stmt_free(q);
		dir_audit_denied(req, c, "org_unit", id, DIR_READ_ORG, NULL);
		return http_fail(resp, ERR_NOT_FOUND, "id", "no org unit has this id");
	}
	o = dir_unit_json(q);
	store_stmt_free(q);
	return http_resp_json(resp, 200, o);
}

/* LIKE pattern "%q%" with %, _ and \ escaped, in @out.  Returns 0 or ERR_INVALID. */
static int dir_like_pattern(const char *q, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return ERR_INVALID;
	out[o++] = '%';
	for (; *q; q++) {
		char ch = *q;

		if (o + 4 > size)
			return ERR_INVALID;
		if (ch == '%' || ch == '_' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[o++] = '%';
	out[o] = '\0';
	return 0;
}

static int dir_h_people_list(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	struct store_arg args[16];
	size_t nargs = 0;
	const char *cursor, *v;
	char like[2 * DIR_QUERY_MAX + 4];
	int64_t limit;
	struct buf sql;
	int r;

	if (!c)
		return ERR_STORE;
	r = id_http_page(req, resp, 50, &limit, &cursor);
	if (r < 0)
		return r;
	buf_init(&sql, 8192);
	buf_puts(&sql, "SELECT " DIR_PERSON_COLS DIR_PERSON_FROM " WHERE 1 = 1");
	r = scope_sql_where(&sql, args, &nargs, 8, p, DIR_PEOPLE_SCOPE, "o.path", "p.id");
	if (r < 0) {
		buf_done(&sql);
		return r;
	}
	if ((v = http_req_query(req, "q")) && *v) {
		if (strlen(v) > DIR_QUERY_MAX || !str_is_clean_utf8(v, strlen(v)) ||
		    dir_like_pattern(v, like, sizeof(like)) < 0) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "q", "q must be text of at most %d bytes", DIR_QUERY_MAX);
		}
		args[nargs++] = SA_TEXT(like);
		buf_printf(&sql, " AND (lower(p.login) LIKE $%zu ESCAPE '\\' OR lower(p.family_name) LIKE $%zu "
				 "ESCAPE '\\' OR lower(p.given_name) LIKE $%zu ESCAPE '\\' OR "
				 "lower(coalesce(p.email, '')) LIKE $%zu ESCAPE '\\' OR "
				 "lower(coalesce(p.employee_number, '')) LIKE $%zu ESCAPE '\\')",
			   nargs, nargs, nargs, nargs, nargs);
	}
	if ((v = http_req_query(req, "org")) && *v) {
		const char *why;

		if (people_org_path_check(v, &why) < 0) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "org", "org must be an org unit id or path; this one %s",
					 why);
		}
		/* An unknown unit matches nobody rather than telling whether it exists. */
		args[nargs++] = SA_TEXT(v);
		buf_printf(&sql, " AND EXISTS (SELECT 1 FROM org_units f WHERE (f.id = $%zu OR f.path = $%zu) "
				 "AND " SCOPE_SQL_WITHIN("o.path", "f.path") ")", nargs, nargs);
	}
	if ((v = http_req_query(req, "status")) && *v) {
		if (strcmp(v, "active") && strcmp(v, "on_leave") && strcmp(v, "retired")) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "status", "status must be active, on_leave or retired");
		}
		args[nargs++] = SA_TEXT(v);
		buf_printf(&sql, " AND p.status = $%zu", nargs);
	}
	if ((v = http_req_query(req, "kind")) && *v) {
		if (strcmp(v, "employee") && strcmp(v, "partner_staff")) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "kind", "kind must be employee or partner_staff");
		}
		args[nargs++] = SA_TEXT(v);
		buf_printf(&sql, " AND p.kind = $%zu", nargs);
	}
	if ((v = http_req_query(req, "role")) && *v) {
		unsigned role = role_from_name(v);

		if (!role) {
			buf_done(&sql);
			return http_fail(resp, ERR_INVALID, "role", "unknown role '%.40s'", v);
		}
		args[nargs++] = SA_TEXT(role_name(role));
		if (role == ROLE_EMPLOYEE || role == ROLE_PARTNER_STAFF)
			buf_printf(&sql, " AND p.kind = $%zu", nargs);
		else if (role == ROLE_MANAGER)
			buf_printf(&sql, " AND (EXISTS (SELECT 1 FROM person_roles pr WHERE pr.person_id = p.id "
					 "AND pr.role = $%zu) OR EXISTS (SELECT 1 FROM people rp WHERE "
					 "rp.manager_id = p.id AND rp.status <> 'retired'))", nargs);
		else
			buf_printf(&sql, " AND EXISTS (SELECT 1 FROM person_roles pr WHERE pr.person_id = p.id "
					 "AND pr.role = $%zu)", nargs);
	}
	if (cursor) {
		args[nargs++] = SA_TEXT(cursor);
		buf_printf(&sql, " AND (p.family_name, p.given_name, p.id) > (SELECT family_name, given_name, id "
				 "FROM people WHERE id = $%zu)", nargs);
	}
	return dir_list_run(resp, c, &sql, args, nargs, limit, "p.family_name, p.given_name, p.id",
			    dir_person_item, c);
}

static int dir_h_person_get(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct dir_subject s;
	int r;

	if (!c)
		return ERR_STORE;
	r = dir_authorize(req, resp, c, DIR_READ_PERSON, 0, &s);
	if (r < 0)
		return r;
	return dir_person_reply(resp, c, s.id);
}

/* A person_history row (people_history_query's columns) as the API shows it. */
static json_t *dir_history_item(struct store_stmt *q, void *ud)
{
	const char *change = store_col_text(q, 4);
	json_t *ch = change ? json_loads(change, 0, NULL) : NULL;
	json_t *o = json_object();

	(void)ud;
	if (!o) {
		json_decref(ch);
		return NULL;
	}
	json_object_set_new(o, "id", json_integer(store_col_i64(q, 0)));
	jsonx_set_time(o, "at", store_col_i64(q, 1));
	jsonx_set_str(o, "source", store_col_text(q, 2));
	jsonx_set_str(o, "actor_id", store_col_text(q, 3));
	json_object_set_new(o, "change", ch ? ch : json_object());
	return o;
}

static int dir_h_person_history(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct dir_subject s;
	struct store_stmt *q;
	struct rerr je;
	const char *cursor;
	int64_t limit, before = INT64_MAX;
	int r;

	if (!c)
		return ERR_STORE;
	r = dir_authorize(req, resp, c, DIR_READ_PERSON, 0, &s);
	if (r < 0)
		return r;
	if (http_req_page(req, 50, app->cfg.max_list, &limit, &cursor, &je) < 0)
		return http_fail_rerr(resp, &je);
	if (cursor && str_parse_i64(cursor, 1, INT64_MAX, &before) < 0)
		return http_fail(resp, ERR_INVALID, "cursor", "cursor is not valid");
	r = people_history_query(c, s.id, before, limit + 1, &q);
	if (r < 0)
		return r;
	return id_http_page_reply(resp, q, limit, dir_history_item, NULL);
}

/* Resolves "scope_org" (a path or an id) of a PUT body.  Returns 0 (id "" when absent) or a reply. */
static int dir_scope_arg(struct http_req *req, struct http_resp *resp, struct store_conn *c, unsigned role,
			 char id[ULID_SIZE], char path[PRINCIPAL_PATH_SIZE])
{
	static const char *const keys[] = { "scope_org", NULL };
	struct rerr je;
	struct org_unit unit;
	const char *scope = NULL, *why;
	json_t *body;
	int r;

	id[0] = path[0] = '\0';
	r = id_http_body(req, resp, keys, true, &body);
	if (r < 0 || !body)
		return r;
	r = jsonx_get_str(body, "scope_org", false, PEOPLE_PATH_MAX, &scope, &je);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return http_fail_rerr(resp, &je);
	if (people_org_path_check(scope, &why) < 0)
		return http_fail(resp, ERR_INVALID, "scope_org", "scope_org must be an org unit id or path; "
				 "this one %s", why);
	if (role != ROLE_SECURITY_MANAGER)
		return http_fail(resp, ERR_INVALID, "scope_org", "scope_org applies to security_manager only");
	r = people_org_find(c, scope, &unit);
	if (r == ERR_NOT_FOUND)
		return http_fail(resp, ERR_INVALID, "scope_org", "no org unit has this path or id");
	if (r < 0)
		return r == ERR_TOO_LARGE ? ERR_INTERNAL : r;
	memcpy(id, unit.id, ULID_SIZE);
	memcpy(path, unit.path, PRINCIPAL_PATH_SIZE);
	return 0;
}

static int dir_h_person_role(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	const char *name = http_req_param(req, "role");
	bool grant = http_req_method(req) == HTTP_PUT;
	unsigned role = role_from_name(name);
	char scope_id[ULID_SIZE], scope_path[PRINCIPAL_PATH_SIZE];
	struct people_writer *w;
	struct dir_subject s;
	int r;

	if (!c)
		return ERR_STORE;
	if (!role)
		return http_fail(resp, ERR_INVALID, "role", "unknown role; the roles are admin, security_officer, "
				 "security_manager, manager and auditor");
	if (role == ROLE_EMPLOYEE || role == ROLE_PARTNER_STAFF)
		return http_fail(resp, ERR_INVALID, "role", "%s follows from the person's kind and is not "
				 "granted", role_name(role));
	r = dir_authorize(req, resp, c, DIR_GRANT_ROLE, role, &s);
	if (r < 0)
		return r;
	scope_id[0] = scope_path[0] = '\0';
	if (grant) {
		r = dir_refuse_retired(resp, &s);
		if (r == 0)
			r = dir_scope_arg(req, resp, c, role, scope_id, scope_path);
		if (r < 0)
			return r;
	}
	r = people_writer_new(c, "api", p->person_id, rtime_now_ms(), &w);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0) {
		people_writer_free(w);
		return r;
	}
	r = grant ? people_role_grant(w, s.id, role, scope_id, p->person_id) : people_role_revoke(w, s.id, role);
	if (r > 0) {
		json_t *d = json_pack("{s:s, s:s}", "action", grant ? "role.grant" : "role.revoke",
				      "role", role_name(role));

		if (d && grant)
			json_object_set_new(d, "scope", *scope_path ? json_string(scope_path) : json_null());
		r = people_history_add(w, s.id, json_deep_copy(d));
		if (r == 0)
			r = audit_req(req, c, grant ? "role.grant" : "role.revoke", "person", s.id,
				      AUDIT_SUCCESS, d);
		else
			json_decref(d);
	}
	people_writer_free(w);
	if (r >= 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return dir_person_reply(resp, c, s.id);
}

/* Where a person opens an activation link: public_url, else http://listen. */
static int dir_activation_url(const struct config *cfg, const char *token, char *out, size_t size)
{
	const char *base = cfg->public_url[0] ? cfg->public_url : cfg->listen;
	const char *scheme = cfg->public_url[0] ? "" : "http://";
	size_t len = strlen(base);
	int n;

	while (len > 0 && base[len - 1] == '/')
		len--;
	n = snprintf(out, size, "%s%.*s/#/activate/%s", scheme, (int)len, base, token);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int dir_h_person_invite(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const struct principal *p = http_req_principal(req);
	char token[RCRYPTO_TOKEN_SIZE], url[RCRYPTO_TOKEN_SIZE + 512];
	int64_t expires = rtime_now_ms() + DIR_ACTIVATION_TTL_MS;
	struct dir_subject s;
	json_t *out = NULL;
	int r;

	if (!c)
		return ERR_STORE;
	r = dir_authorize_change(req, resp, c, &s);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		return r;
	r = auth_activation_create(c, s.id, p->person_id, DIR_ACTIVATION_TTL_MS, token, sizeof(token));
	if (r == 0)
		r = dir_activation_url(&app->cfg, token, url, sizeof(url));
	if (r == 0) {
		json_t *d = json_object();

		if (d)
			jsonx_set_time(d, "expires_at", expires);
		r = audit_req(req, c, "person.invite", "person", s.id, AUDIT_SUCCESS, d);
	}
	if (r == 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		goto out;
	}
	out = json_pack("{s:s, s:s}", "activation_token", token, "activation_url", url);
	if (out)
		jsonx_set_time(out, "expires_at", expires);
	r = http_resp_json(resp, 201, out);
out:
	sodium_memzero(token, sizeof(token));
	sodium_memzero(url, sizeof(url));
	return r;
}

static int dir_h_person_password(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "password", NULL };
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	const char *given = NULL;
	char pw[160];
	struct dir_subject s;
	struct rerr je;
	json_t *body, *out;
	int r;

	if (!c)
		return ERR_STORE;
	r = dir_authorize_change(req, resp, c, &s);
	if (r < 0)
		return r;
	r = id_http_body(req, resp, keys, true, &body);
	if (r < 0)
		return r;
	if (body) {
		r = jsonx_get_str(body, "password", false, 1024, &given, &je);
		if (r < 0 && r != -ENOENT)
			return http_fail_rerr(resp, &je);
	}
	if (!given) {
		/* 3 random bytes per 4 characters, at least 24 characters and the configured minimum. */
		unsigned char raw[96];
		size_t nraw = 18;

		while (nraw < sizeof(raw) && (int64_t)(nraw / 3 * 4) < app->cfg.min_password_len)
			nraw += 3;
		randombytes_buf(raw, nraw);
		sodium_bin2base64(pw, sizeof(pw), raw, nraw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(raw, sizeof(raw));
	}
	r = store_begin(c);
	if (r < 0)
		goto out;
	r = auth_set_password(app, c, s.id, given ? given : pw, true);
	if (r == 0)
		r = audit_req(req, c, "person.password_set", "person", s.id, AUDIT_SUCCESS,
			      json_pack("{s:b, s:b}", "generated", !given, "must_change", 1));
	if (r == 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		if (r == ERR_INVALID)
			r = http_fail(resp, ERR_INVALID, "password", "the password must have at least %lld "
				      "characters and no control characters",
				      (long long)app->cfg.min_password_len);
		goto out;
	}
	out = given ? json_object() : json_pack("{s:s}", "temporary_password", pw);
	r = http_resp_json(resp, 200, out);
out:
	sodium_memzero(pw, sizeof(pw));
	return r;
}

static int dir_h_person_revoke(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct dir_subject s;
	int r, n;

	if (!c)
		return ERR_STORE;
	r = dir_authorize(req, resp, c, DIR_MANAGE_PERSON, 0, &s);
	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0)
		return r;
	n = auth_revoke_all(c, s.id, rtime_now_ms());
	r = n < 0 ? n : audit_req(req, c, "person.sessions_revoke", "person", s.id, AUDIT_SUCCESS,
				  json_pack("{s:i}", "revoked", n));
	if (r == 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return r;
	}
	return http_resp_json(resp, 200, json_pack("{s:i}", "revoked", n));
}

int directory_routes(struct http_server *s)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		http_handler_fn fn;
	} routes[] = {
		{ HTTP_GET, "/api/v1/org", dir_h_org_list },
		{ HTTP_GET, "/api/v1/org/{id}", dir_h_org_get },
		{ HTTP_GET, "/api/v1/people", dir_h_people_list },
		{ HTTP_GET, "/api/v1/people/{id}", dir_h_person_get },
		{ HTTP_GET, "/api/v1/people/{id}/history", dir_h_person_history },
		{ HTTP_PUT | HTTP_DELETE, "/api/v1/people/{id}/roles/{role}", dir_h_person_role },
		{ HTTP_POST, "/api/v1/people/{id}/invite", dir_h_person_invite },
		{ HTTP_POST, "/api/v1/people/{id}/password", dir_h_person_password },
		{ HTTP_POST, "/api/v1/people/{id}/sessions/revoke", dir_h_person_revoke },
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && r == 0; i++)
		r = http_route(s, routes[i].methods, routes[i].pattern, routes[i].fn, 0);
	return r;
}
