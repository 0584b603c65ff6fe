/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim_users: /scim/v2/Users (scim.h): a SCIM User is a person of source
 * "scim", read from the directory and written through people.h, so that
 * the lifecycle (history, retirement with the end of every session and
 * token) is the directory's own.  The attribute mapping is in scim.c's
 * file comment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/jsonx.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http.h"
#include "identity/directory.h"
#include "identity/people.h"
#include "identity/scim_filter.h"
#include "identity/scim_internal.h"
#include "store/store.h"

struct scim_user {
	char id[ULID_SIZE];
	char login[SCIM_LOGIN_MAX + 1];
	char emp[SCIM_STR_MAX + 1];
	char family[SCIM_STR_MAX + 1];
	char given[SCIM_STR_MAX + 1];
	char email[SCIM_STR_MAX + 1];
	char title[SCIM_STR_MAX + 1];
	char kind[16];
	char status[16];
	bool active;
	char manager_id[ULID_SIZE];
	char manager_name[2 * SCIM_STR_MAX + 2];
	char org_unit_id[ULID_SIZE];
	char org_path[PEOPLE_PATH_MAX + 1];
	char org[3][SCIM_STR_MAX + 1];   /* organization, division, department */
	bool org_dirty;                  /* org[] changed: the unit is to be found again */
	unsigned org_sent;               /* which of org[] the request named (bit i for org[i]) */
	char ext_id[SCIM_STR_MAX + 1];   /* externalId as sent, to compare with employeeNumber */
	char ent_emp[SCIM_STR_MAX + 1];
	bool has_ext_id, has_ent_emp;
	int64_t created_at, updated_at;
};

/* Splits the stored path into organization, division and department (the rest). */
static void scim_user_org_split(struct scim_user *u)
{
	const char *p = u->org_path;
	const char *s1 = strchr(p, '/'), *s2, *s3;

	memset(u->org, 0, sizeof(u->org));
	if (!s1)
		return;
	s2 = strchr(s1 + 1, '/');
	snprintf(u->org[0], sizeof(u->org[0]), "%.*s", (int)(s2 ? s2 - s1 - 1 : (long)strlen(s1 + 1)), s1 + 1);
	if (!s2)
		return;
	s3 = strchr(s2 + 1, '/');
	snprintf(u->org[1], sizeof(u->org[1]), "%.*s", (int)(s3 ? s3 - s2 - 1 : (long)strlen(s2 + 1)), s2 + 1);
	if (s3)
		snprintf(u->org[2], sizeof(u->org[2]), "%s", s3 + 1);
}

#define SCIM_USER_SQL "SELECT p.id, p.login, p.employee_number, p.family_name, p.given_name, p.email, " \
	"p.title, p.kind, p.status, p.manager_id, p.org_unit_id, o.path, p.created_at, p.updated_at, " \
	"m.given_name, m.family_name FROM people p LEFT JOIN org_units o ON o.id = p.org_unit_id " \
	"LEFT JOIN people m ON m.id = p.manager_id"

static void scim_user_from_row(struct store_stmt *q, struct scim_user *u)
{
#define COL(i) (store_col_text(q, (i)) ? store_col_text(q, (i)) : "")
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", COL(0));
	snprintf(u->login, sizeof(u->login), "%s", COL(1));
	snprintf(u->emp, sizeof(u->emp), "%s", COL(2));
	snprintf(u->family, sizeof(u->family), "%s", COL(3));
	snprintf(u->given, sizeof(u->given), "%s", COL(4));
	snprintf(u->email, sizeof(u->email), "%s", COL(5));
	snprintf(u->title, sizeof(u->title), "%s", COL(6));
	snprintf(u->kind, sizeof(u->kind), "%s", COL(7));
	snprintf(u->status, sizeof(u->status), "%s", COL(8));
	u->active = strcmp(u->status, "retired") != 0;
	snprintf(u->manager_id, sizeof(u->manager_id), "%s", COL(9));
	snprintf(u->org_unit_id, sizeof(u->org_unit_id), "%s", COL(10));
	snprintf(u->org_path, sizeof(u->org_path), "%s", COL(11));
	u->created_at = store_col_i64(q, 12);
	u->updated_at = store_col_i64(q, 13);
	if (u->manager_id[0])
		snprintf(u->manager_name, sizeof(u->manager_name), "%s %s", COL(14), COL(15));
#undef COL
	scim_user_org_split(u);
}

/* Returns 0, ERR_NOT_FOUND or a store error. */
static int scim_user_load(struct store_conn *c, const char *id, struct scim_user *u)
{
	struct store_stmt *q;
	int r;

	if (!id || !ids_is_ulid(id))
		return ERR_NOT_FOUND;
	r = store_query(c, SCIM_USER_SQL " WHERE p.id = $1", STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		scim_user_from_row(q, u);
	store_stmt_free(q);
	return r < 0 ? r : r == 0 ? ERR_NOT_FOUND : 0;
}

static json_t *scim_user_json(const struct app *app, const struct scim_user *u)
{
	char display[2 * SCIM_STR_MAX + 2];
	json_t *o, *ent;

	snprintf(display, sizeof(display), "%s%s%s", u->given, u->given[0] && u->family[0] ? " " : "", u->family);
	o = json_pack("{s:[s,s], s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:b, s:s}",
		      "schemas", SCIM_USER_SCHEMA, SCIM_ENT_SCHEMA, "id", u->id, "userName", u->login,
		      "name", "familyName", u->family, "givenName", u->given, "formatted", display,
		      "displayName", display, "active", u->active, "userType", u->kind);
	if (!o)
		return NULL;
	if (u->emp[0])
		json_object_set_new(o, "externalId", json_string(u->emp));
	if (u->email[0])
		json_object_set_new(o, "emails", json_pack("[{s:s, s:s, s:b}]", "value", u->email,
							   "type", "work", "primary", 1));
	if (u->title[0])
		json_object_set_new(o, "title", json_string(u->title));
	ent = json_object();
	if (ent) {
		if (u->emp[0])
			json_object_set_new(ent, "employeeNumber", json_string(u->emp));
		if (u->org[0][0])
			json_object_set_new(ent, "organization", json_string(u->org[0]));
		if (u->org[1][0])
			json_object_set_new(ent, "division", json_string(u->org[1]));
		if (u->org[2][0])
			json_object_set_new(ent, "department", json_string(u->org[2]));
		if (u->manager_id[0])
			json_object_set_new(ent, "manager", json_pack("{s:s, s:s}", "value", u->manager_id,
								      "displayName", u->manager_name));
		json_object_set_new(o, SCIM_ENT_SCHEMA, ent);
	}
	json_object_set_new(o, "meta", scim_meta(app, "User", "Users", u->id, u->created_at, u->updated_at));
	return o;
}

/* The email of an "emails" array: the primary one, else the first with a value. */
static int scim_emails(const json_t *v, struct scim_user *u, struct scim_err *e)
{
	const json_t *pick = NULL, *it;
	size_t i;

	if (!v || json_is_null(v)) {
		u->email[0] = '\0';
		return 0;
	}
	if (!json_is_array(v))
		return scim_bad(e, ERR_INVALID, "invalidValue", "emails must be an array");
	json_array_foreach(v, i, it) {
		if (!json_is_object(it) || !json_is_string(json_object_get(it, "value")))
			return scim_bad(e, ERR_INVALID, "invalidValue", "each email must have a string value");
		if (!pick || json_is_true(json_object_get(it, "primary")))
			pick = it;
	}
	if (!pick) {
		u->email[0] = '\0';
		return 0;
	}
	return scim_str(json_object_get(pick, "value"), u->email, sizeof(u->email), true, "emails.value", e);
}

/* Attributes of the SCIM schemas that Rampart does not keep. */
static bool scim_ignored(const char *attr)
{
	static const char *const ignored[] = {
		"displayName", "nickName", "profileUrl", "locale", "timezone", "preferredLanguage",
		"name.formatted", "name.middleName", "name.honorificPrefix", "name.honorificSuffix",
		"phoneNumbers", "addresses", "photos", "ims", "x509Certificates", "entitlements", "roles",
		"groups", "password", "costCenter", "meta", "id", "schemas",
	};

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		size_t n = strlen(ignored[i]);

		if (strncasecmp(attr, ignored[i], n) == 0 && (attr[n] == '\0' || attr[n] == '[' || attr[n] == '.'))
			return true;
	}
	return false;
}

#define SCIM_UNKNOWN 1

static int scim_user_set(struct scim_user *u, const char *path, const json_t *v, struct scim_err *e);

/* Applies every key of object @v as an attribute under @prefix ("" or "name." or the extension). */
static int scim_user_set_object(struct scim_user *u, const char *prefix, const json_t *v, bool strict,
				struct scim_err *e)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return scim_bad(e, ERR_INVALID, "invalidValue", "%s must be an object", *prefix ? prefix : "the value");
	json_object_foreach((json_t *)v, key, val) {
		char path[160];
		int r;

		if (snprintf(path, sizeof(path), "%s%s", prefix, key) >= (int)sizeof(path))
			return scim_bad(e, ERR_INVALID, "invalidPath", "attribute name too long");
		r = scim_user_set(u, path, val, e);
		if (r == SCIM_UNKNOWN && strict)
			return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported", path);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Sets one attribute (@v NULL: remove it).  Paths are case-insensitive and
 * may carry the schema URN.  Returns 0, SCIM_UNKNOWN for an attribute not
 * known at all, or ERR_INVALID with @e.
 */
static int scim_user_set(struct scim_user *u, const char *path, const json_t *v, struct scim_err *e)
{
	static const char ent[] = SCIM_ENT_SCHEMA, core[] = SCIM_USER_SCHEMA;
	bool in_ent = false;

	if (strncasecmp(path, ent, sizeof(ent) - 1) == 0) {
		path += sizeof(ent) - 1;
		in_ent = true;
		if (*path == '\0')
			return v ? scim_user_set_object(u, SCIM_ENT_SCHEMA ":", v, false, e) : 0;
		if (*path++ != ':')
			return SCIM_UNKNOWN;
	} else if (strncasecmp(path, core, sizeof(core) - 1) == 0 && path[sizeof(core) - 1] == ':') {
		path += sizeof(core);
	}
	if (in_ent) {
		if (!strcasecmp(path, "employeeNumber")) {
			u->has_ent_emp = true;
			return scim_str(v, u->ent_emp, sizeof(u->ent_emp), true, "employeeNumber", e);
		}
		for (int i = 0; i < 3; i++) {
			static const char *const names[] = { "organization", "division", "department" };

			if (!strcasecmp(path, names[i])) {
				u->org_dirty = true;
				u->org_sent |= 1u << i;
				return scim_str(v, u->org[i], sizeof(u->org[i]), true, names[i], e);
			}
		}
		if (!strcasecmp(path, "manager") || !strcasecmp(path, "manager.value")) {
			const json_t *id = v && json_is_object(v) ? json_object_get(v, "value") : v;

			if (v && json_is_object(v) && !id)
				return scim_bad(e, ERR_INVALID, "invalidValue", "manager needs a value (a person id)");
			if (scim_str(id, u->manager_id, sizeof(u->manager_id), true, "manager.value", e) < 0)
				return e->err;
			if (u->manager_id[0] && !ids_is_ulid(u->manager_id))
				return scim_bad(e, ERR_INVALID, "invalidValue", "manager.value must be a person id");
			return 0;
		}
		if (!strcasecmp(path, "manager.displayName"))
			return 0;
		return scim_ignored(path) ? 0 : SCIM_UNKNOWN;
	}
	if (!strcasecmp(path, "active")) {
		if (!v)
			return scim_bad(e, ERR_INVALID, "mutability", "active cannot be removed");
		/* Some clients send "True"/"False" as strings. */
		if (json_is_string(v) && (!strcasecmp(json_string_value(v), "true") ||
					  !strcasecmp(json_string_value(v), "false"))) {
			u->active = !strcasecmp(json_string_value(v), "true");
			return 0;
		}
		if (!json_is_boolean(v))
			return scim_bad(e, ERR_INVALID, "invalidValue", "active must be true or false");
		u->active = json_is_true(v);
		return 0;
	}
	if (!strcasecmp(path, "userName"))
		return scim_str(v, u->login, sizeof(u->login), false, "userName", e);
	if (!strcasecmp(path, "externalId")) {
		u->has_ext_id = true;
		return scim_str(v, u->ext_id, sizeof(u->ext_id), true, "externalId", e);
	}
	if (!strcasecmp(path, "title"))
		return scim_str(v, u->title, sizeof(u->title), true, "title", e);
	if (!strcasecmp(path, "userType")) {
		char kind[32];

		if (!v || json_is_null(v)) {
			snprintf(u->kind, sizeof(u->kind), "employee");
			return 0;
		}
		if (scim_str(v, kind, sizeof(kind), false, "userType", e) < 0)
			return e->err;
		if (!strcasecmp(kind, "employee"))
			snprintf(u->kind, sizeof(u->kind), "employee");
		else if (!strcasecmp(kind, "partner_staff"))
			snprintf(u->kind, sizeof(u->kind), "partner_staff");
		else
			return scim_bad(e, ERR_INVALID, "invalidValue", "userType must be employee or partner_staff");
		return 0;
	}
	if (!strcasecmp(path, "name")) {
		if (!v || json_is_null(v)) {
			u->family[0] = u->given[0] = '\0';
			return 0;
		}
		return scim_user_set_object(u, "name.", v, false, e);
	}
	if (!strcasecmp(path, "name.familyName"))
		return scim_str(v, u->family, sizeof(u->family), true, "name.familyName", e);
	if (!strcasecmp(path, "name.givenName"))
		return scim_str(v, u->given, sizeof(u->given), true, "name.givenName", e);
	if (!strcasecmp(path, "emails"))
		return scim_emails(v, u, e);
	if (!strcasecmp(path, "emails.value") ||
	    (strncasecmp(path, "emails[", 7) == 0 && strlen(path) > 14 &&
	     strcasecmp(path + strlen(path) - 7, "].value") == 0))
		return scim_str(v, u->email, sizeof(u->email), true, "emails.value", e);
	return scim_ignored(path) ? 0 : SCIM_UNKNOWN;
}

/* Reads a full User body (POST, PUT) over @u. */
static int scim_user_from_body(struct scim_user *u, const json_t *body, bool replace, struct scim_err *e)
{
	const json_t *schemas = json_object_get(body, "schemas");
	bool has_ent = json_object_get(body, SCIM_ENT_SCHEMA) != NULL;

	if (schemas) {
		bool ok = false;
		size_t i;
		json_t *s;

		if (!json_is_array(schemas))
			return scim_bad(e, ERR_INVALID, "invalidSyntax", "schemas must be an array");
		json_array_foreach(schemas, i, s)
			ok = ok || (json_is_string(s) && !strcmp(json_string_value(s), SCIM_USER_SCHEMA));
		if (!ok)
			return scim_bad(e, ERR_INVALID, "invalidSyntax", "schemas must list " SCIM_USER_SCHEMA);
	}
	if (replace) {
		/* Core attributes absent from a PUT are cleared; see the file comment for the rest. */
		u->family[0] = u->given[0] = u->email[0] = u->title[0] = '\0';
		u->active = true;
		snprintf(u->kind, sizeof(u->kind), "employee");
		if (has_ent) {
			u->manager_id[0] = '\0';
			memset(u->org, 0, sizeof(u->org));
			u->org_dirty = true;
			u->has_ent_emp = true;
			u->ent_emp[0] = '\0';
		}
	}
	if (!json_object_get(body, "userName"))
		return scim_bad(e, ERR_INVALID, "invalidValue", "userName is required");
	{
		int r = scim_user_set_object(u, "", body, false, e);

		return r < 0 ? r : 0;
	}
}

/*
 * Settles employee_number from externalId and employeeNumber, which name the
 * same thing: a value sent wins over a removal; two values must agree.
 */
static int scim_user_settle_emp(struct scim_user *u, struct scim_err *e)
{
	if (u->has_ext_id && u->has_ent_emp && u->ext_id[0] && u->ent_emp[0] && strcmp(u->ext_id, u->ent_emp))
		return scim_bad(e, ERR_INVALID, "invalidValue", "externalId and employeeNumber differ");
	if (u->has_ent_emp && u->ent_emp[0])
		memcpy(u->emp, u->ent_emp, sizeof(u->emp));
	else if (u->has_ext_id && u->ext_id[0])
		memcpy(u->emp, u->ext_id, sizeof(u->emp));
	else if (u->has_ent_emp || u->has_ext_id)
		u->emp[0] = '\0';
	return 0;
}

static json_t *scim_user_diff(const struct scim_user *a, const struct scim_user *b, const char *action)
{
	json_t *o = json_pack("{s:s}", "action", action), *before = json_object(), *after = json_object();

	if (!o || !before || !after) {
		json_decref(o);
		json_decref(before);
		json_decref(after);
		return NULL;
	}
#define D(key, x, y) \
	if (!a || strcmp(x, y) != 0) { \
		if (a) \
			jsonx_set_str(before, key, *(x) ? (x) : NULL); \
		jsonx_set_str(after, key, *(y) ? (y) : NULL); \
	}
	D("login", a ? a->login : "", b->login)
	D("employee_number", a ? a->emp : "", b->emp)
	D("family_name", a ? a->family : "", b->family)
	D("given_name", a ? a->given : "", b->given)
	D("email", a ? a->email : "", b->email)
	D("title", a ? a->title : "", b->title)
	D("kind", a ? a->kind : "", b->kind)
	D("status", a ? a->status : "", b->status)
	D("manager_id", a ? a->manager_id : "", b->manager_id)
	D("org_unit", a ? a->org_path : "", b->org_path)
#undef D
	if (a)
		json_object_set_new(o, "before", before);
	else
		json_decref(before);
	json_object_set_new(o, "after", after);
	return o;
}

/*
 * Finds the unit of the department @name sent without a division: the one
 * unit of that name (case aside) below @company_path.  Returns 0 with
 * @path, ERR_NOT_FOUND, ERR_CONFLICT when several units have that name, or
 * a store error.
 */
static int scim_user_dept_find(struct store_conn *c, const char *company_path, const char *name,
			       char path[PEOPLE_PATH_MAX + 1])
{
	struct store_stmt *q;
	int r = store_query(c, "SELECT path FROM org_units WHERE lower(name) = lower($1) AND "
			       "substr(path, 1, length($2) + 1) = $2 || '/' ORDER BY path LIMIT 2",
			    STORE_ARGS(SA_TEXT(name), SA_TEXT(company_path)), &q);

	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1)
		snprintf(path, PEOPLE_PATH_MAX + 1, "%s", store_col_text(q, 0) ? store_col_text(q, 0) : "");
	if (r == 1 && store_step(q) == 1)
		r = ERR_CONFLICT;
	store_stmt_free(q);
	return r < 0 ? r : r == 0 ? ERR_NOT_FOUND : 0;
}

/*
 * Finds the unit for organization/division/department (see scim.c's file
 * comment): without an organization, the company is @default_company (""
 * refuses); a department sent without a division is looked up by name
 * below the company.  Returns 0 or ERR_INVALID with @e.
 */
static int scim_user_org(struct store_conn *c, struct scim_user *u, const char *default_company, int64_t now,
			 struct scim_err *e)
{
	struct org_unit company;
	char path[PEOPLE_PATH_MAX + 1];
	const char *why, *org = u->org[0];
	bool dept_alone = (u->org_sent & 4u) && !(u->org_sent & 2u) && u->org[2][0];
	int n, r;

	if (!org[0]) {
		if (!u->org[1][0] && !u->org[2][0]) {
			u->org_unit_id[0] = u->org_path[0] = '\0';
			return 0;
		}
		if (!default_company || !default_company[0])
			return scim_bad(e, ERR_INVALID, "invalidValue", "division and department need an organization "
					"(or [scim] default_company in the server's configuration)");
		org = default_company;
	}
	if (u->org[2][0] && !u->org[1][0] && !dept_alone)
		return scim_bad(e, ERR_INVALID, "invalidValue", "a department needs a division");
	r = people_org_company(c, org, &company);
	if (r == ERR_NOT_FOUND)
		return scim_bad(e, ERR_INVALID, "invalidValue", "organization '%s' is not a known company", org);
	if (r == ERR_CONFLICT)
		return scim_bad(e, ERR_INVALID, "invalidValue", "organization '%s' names more than one company", org);
	if (r < 0)
		return r;
	r = dept_alone ? scim_user_dept_find(c, company.path, u->org[2], path) : ERR_NOT_FOUND;
	if (r == ERR_CONFLICT && !u->org[1][0])
		return scim_bad(e, ERR_INVALID, "invalidValue", "department '%s' names more than one unit of '%s'; "
				"send the division too", u->org[2], company.path);
	if (r < 0 && r != ERR_NOT_FOUND && r != ERR_CONFLICT)
		return r;
	if (r != 0) {
		n = snprintf(path, sizeof(path), "%s%s%s%s%s", company.path, u->org[1][0] ? "/" : "", u->org[1],
			     u->org[2][0] ? "/" : "", u->org[2]);
		if (n < 0 || (size_t)n >= sizeof(path))
			return scim_bad(e, ERR_INVALID, "invalidValue", "the org unit path is too long");
	}
	if (people_org_path_check(path, &why) < 0)
		return scim_bad(e, ERR_INVALID, "invalidValue", "the org unit '%s' that organization, division "
				"and department name %s", path, why);
	r = people_org_ensure(c, path, NULL, now, u->org_unit_id, NULL);
	if (r < 0)
		return r;
	snprintf(u->org_path, sizeof(u->org_path), "%s", path);
	return 0;
}

/* Checks uniqueness, the manager and the org unit of @u before it is written. */
static int scim_user_check(struct store_conn *c, struct scim_user *u, const char *default_company, int64_t now,
			   struct scim_err *e)
{
	struct person manager;
	bool taken;
	int r;

	/* userName is not case-exact (RFC 7643 4.1.1): "Ann" and "ann" are one name. */
	r = people_login_taken(c, u->login, u->id, &taken);
	if (r < 0)
		return r;
	if (taken)
		return scim_bad(e, ERR_CONFLICT, "uniqueness", "userName '%s' is taken", u->login);
	if (u->emp[0]) {
		r = people_employee_number_taken(c, u->emp, u->id, &taken);
		if (r < 0)
			return r;
		if (taken)
			return scim_bad(e, ERR_CONFLICT, "uniqueness", "employee number '%s' is taken", u->emp);
	}
	if (u->email[0] && (!strchr(u->email, '@') || strchr(u->email, ' ')))
		return scim_bad(e, ERR_INVALID, "invalidValue", "emails.value '%s' is not an address", u->email);
	if (u->manager_id[0]) {
		if (!strcmp(u->manager_id, u->id))
			return scim_bad(e, ERR_INVALID, "invalidValue", "a person cannot be their own manager");
		r = people_get(c, u->manager_id, &manager);
		if (r == ERR_NOT_FOUND)
			return scim_bad(e, ERR_INVALID, "invalidValue", "manager %s is not a known person",
					u->manager_id);
		if (r < 0 && r != ERR_TOO_LARGE)
			return r;
		/* The new manager must not report to this person, directly or not. */
		r = people_reports_to(c, u->manager_id, u->id, &taken);
		if (r < 0)
			return r;
		if (taken)
			return scim_bad(e, ERR_INVALID, "invalidValue", "manager %s reports to this person; "
					"that would make a cycle", u->manager_id);
	}
	if (u->org_dirty) {
		r = scim_user_org(c, u, default_company, now, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Refuses to retire the last active admin. */
static int scim_keep_an_admin(struct store_conn *c, const char *id, struct scim_err *e)
{
	bool last;
	int r = people_is_last_admin(c, id, &last);

	if (r < 0)
		return r;
	return last ? scim_bad(e, ERR_CONFLICT, "mutability", "this is the last active administrator") : 0;
}

/*
 * Refuses (ERR_FORBIDDEN with @e, and the audit details in *ret_denied) a
 * change of @old into @u that retires, reactivates, moves or renames (a
 * new userName) a person holding admin or security_officer whom the
 * token's owner may not manage (directory.h, DIR_FEED_CHANGE: the token
 * acts as its owner).  Returns 0 when allowed, or an error.
 */
static int scim_user_guard(struct http_req *req, struct store_conn *c, const struct scim_user *u,
			   const struct scim_user *old, struct scim_err *e, json_t **ret_denied)
{
	const struct principal *p = http_req_principal(req);
	struct dir_target t = { .person_id = old->id, .org_path = old->org_path };
	const char *role, *who;
	json_t *changes;
	int r;

	if (!strcmp(old->login, u->login) && !strcmp(old->status, u->status) && !strcmp(old->org_path, u->org_path))
		return 0;
	r = people_roles(c, old->id, &t.roles);
	if (r < 0)
		return r;
	if (directory_may(p, DIR_FEED_CHANGE, &t))
		return 0;
	changes = json_array();
	if (changes && strcmp(old->status, u->status) != 0)
		json_array_append_new(changes, json_string("active"));
	if (changes && strcmp(old->org_path, u->org_path) != 0)
		json_array_append_new(changes, json_string("org_unit"));
	if (changes && strcmp(old->login, u->login) != 0)
		json_array_append_new(changes, json_string("userName"));
	*ret_denied = json_pack("{s:s, s:s, s:s, s:o*}", "endpoint", "SCIM Users", "action", "feed_change",
				"owner", p->login, "changes", changes);
	role = (t.roles & ROLE_ADMIN) ? "admin" : "security_officer";
	who = (t.roles & ROLE_ADMIN) ? "an admin" : "an admin or security_officer";
	if (!strcmp(p->person_id, old->id))
		return scim_bad(e, ERR_FORBIDDEN, NULL, "this token's owner holds %s and may not deactivate, "
				"move or rename themselves through SCIM", role);
	return scim_bad(e, ERR_FORBIDDEN, NULL, "this person holds %s: only a token owned by %s may "
			"deactivate, move or rename them", role, who);
}

/*
 * Writes @u (created when @old is NULL) inside the caller's transaction:
 * checks, then the person through people.h (row, history, end of the
 * credentials on retirement), then the audit entry.  Returns 0 or an error
 * (ERR_INVALID/ERR_CONFLICT/ERR_FORBIDDEN with @e filled; for
 * ERR_FORBIDDEN, *ret_denied holds the details of the denial to audit).
 */
static int scim_user_write(struct http_req *req, struct store_conn *c, struct scim_user *u,
			   const struct scim_user *old, const char *action, struct scim_err *e,
			   json_t **ret_denied)
{
	const struct principal *p = http_req_principal(req);
	const struct app *app = http_req_app(req);
	int64_t now = rtime_now_ms();
	struct people_writer *w;
	struct people_rec rec;
	bool retire;
	json_t *change;
	int r;

	r = scim_user_settle_emp(u, e);
	if (r < 0)
		return r;
	if (!u->active)
		snprintf(u->status, sizeof(u->status), "retired");
	else if (!old || !strcmp(old->status, "retired"))
		snprintf(u->status, sizeof(u->status), "active");
	retire = !u->active && (!old || strcmp(old->status, "retired") != 0);
	r = scim_user_check(c, u, app->cfg.scim_default_company, now, e);
	if (r == 0 && old)
		r = scim_user_guard(req, c, u, old, e, ret_denied);
	if (r < 0)
		return r;
	if (retire && old) {
		r = scim_keep_an_admin(c, u->id, e);
		if (r < 0)
			return r;
	}
	change = scim_user_diff(old, u, action);
	if (!change)
		return -ENOMEM;
	r = people_writer_new(c, "scim", p->person_id, now, &w);
	if (r < 0) {
		json_decref(change);
		return r;
	}
	rec = (struct people_rec){
		.login = u->login, .employee_number = u->emp, .family_name = u->family, .given_name = u->given,
		.email = u->email, .org_unit_id = u->org_unit_id, .title = u->title, .status = u->status,
		.kind = u->kind, .manager_id = u->manager_id,
	};
	/* The history keeps the change and so does the audit entry: one reference each. */
	json_incref(change);
	r = old ? people_update(w, u->id, &rec, old->status, change, NULL) : people_create(w, u->id, &rec, change);
	people_writer_free(w);
	if (r < 0) {
		json_decref(change);
		if (r == ERR_CONFLICT)
			return scim_bad(e, ERR_CONFLICT, "uniqueness", "userName or employee number is taken");
		return r;
	}
	if (!old)
		u->created_at = now;
	u->updated_at = now;
	return audit_req(req, c, action, "person", u->id, AUDIT_SUCCESS, change);
}

/*
 * Runs @u's write in a transaction.  A refusal to the token's owner is
 * audited after the rollback.  Returns 0, or the answered error.
 */
static int scim_user_run(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			 struct scim_user *u, const struct scim_user *old, const char *action)
{
	struct scim_err e = { 0 };
	json_t *denied = NULL;
	int r = store_begin(c);

	if (r < 0)
		return scim_fail_code(resp, r);
	r = scim_user_write(req, c, u, old, action, &e, &denied);
	r = scim_tx_end(resp, c, r, &e);
	if (denied)
		audit_req(req, c, "authz.denied", "person", u->id, AUDIT_DENIED, denied);
	return r;
}

/* Runs @u's write in a transaction and answers with the User. */
static int scim_user_commit(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			    struct scim_user *u, const struct scim_user *old, const char *action, int status)
{
	struct app *app = http_req_app(req);
	struct scim_user fresh;
	int r = scim_user_run(req, resp, c, u, old, action);

	if (r < 0)
		return r;
	/* Read back so the answer shows what is stored (manager name, org path). */
	r = scim_user_load(c, u->id, &fresh);
	if (r < 0)
		return scim_fail_code(resp, r);
	if (status == 201)
		scim_location(app, resp, "Users", u->id);
	return scim_reply(resp, status, scim_user_json(app, &fresh));
}

/* A row of SCIM_USER_SQL as a User (@ud: the app). */
static json_t *scim_user_item(struct store_stmt *q, void *ud)
{
	struct scim_user u;

	scim_user_from_row(q, &u);
	return scim_user_json(ud, &u);
}

/* The WHERE of a filter on userName, externalId, displayName or emails.value. */
static const char *scim_users_where(const char *attr)
{
	if (!strcmp(attr, "userName"))
		return " WHERE lower(p.login) = lower($1)";
	if (!strcmp(attr, "externalId"))
		return " WHERE p.employee_number = $1";
	if (!strcmp(attr, "displayName"))
		return " WHERE trim(p.given_name || ' ' || p.family_name) = $1";
	return " WHERE lower(p.email) = lower($1)";
}

static int scim_users_list(struct http_req *req, struct http_resp *resp, struct store_conn *c)
{
	static const struct scim_list_def def = {
		.where = scim_users_where, .count = "SELECT count(*) FROM people p", .select = SCIM_USER_SQL,
		.order = "p.id", .row = scim_user_item,
	};

	return scim_list_answer(req, resp, c, &def, http_req_app(req));
}

int scim_h_users(struct http_req *req, struct http_resp *resp)
{
	struct store_conn *c;
	struct scim_user u;
	struct scim_err e = { 0 };
	json_t *body;
	int r;

	if ((r = scim_start(req, resp, &c)) < 0)
		return r;
	if (http_req_method(req) == HTTP_GET)
		return scim_users_list(req, resp, c);
	if ((r = scim_body(req, resp, &body)) < 0)
		return r;
	memset(&u, 0, sizeof(u));
	u.active = true;
	snprintf(u.kind, sizeof(u.kind), "employee");
	if (scim_user_from_body(&u, body, false, &e) < 0)
		return scim_fail_err(resp, &e);
	ids_ulid(u.id, rtime_now_ms());
	return scim_user_commit(req, resp, c, &u, NULL, "scim.user.create", 201);
}

/* Applies a PatchOp body to @u. */
static int scim_user_patch(struct scim_user *u, const json_t *body, struct scim_err *e)
{
	const json_t *ops, *jop;
	size_t i;
	int r = scim_patch_ops(body, &ops, e);

	if (r < 0)
		return r;
	json_array_foreach(ops, i, jop) {
		struct scim_op op;

		r = scim_op_read(jop, &op, e);
		if (r < 0)
			return r;
		if (!op.path) {
			r = scim_user_set_object(u, "", op.value, true, e);
		} else {
			if (strlen(op.path) > 200)
				return scim_bad(e, ERR_INVALID, "invalidPath", "path is too long");
			if (!op.remove && !op.value)
				return scim_bad(e, ERR_INVALID, "invalidValue", "%s needs a value", op.name);
			r = scim_user_set(u, op.path, op.remove ? NULL : op.value, e);
			if (r == SCIM_UNKNOWN)
				return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported",
						op.path);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int scim_user_body_check(const json_t *body, enum scim_body_kind kind, struct scim_err *e)
{
	struct scim_user u;
	int r;

	memset(&u, 0, sizeof(u));
	u.active = true;
	snprintf(u.kind, sizeof(u.kind), "employee");
	if (!json_is_object(body))
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "the body must be a JSON object");
	if (kind == SCIM_BODY_PATCH)
		r = scim_user_patch(&u, body, e);
	else
		r = scim_user_from_body(&u, body, kind == SCIM_BODY_PUT, e);
	return r < 0 ? r : scim_user_settle_emp(&u, e);
}

int scim_h_user(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	enum http_method m = http_req_method(req);
	struct store_conn *c;
	struct scim_user old, u;
	struct scim_err e = { 0 };
	json_t *body;
	int r;

	if ((r = scim_start(req, resp, &c)) < 0)
		return r;
	r = scim_user_load(c, http_req_param(req, "id"), &old);
	if (r < 0)
		return scim_fail_load(resp, r, "User");
	if (m == HTTP_GET)
		return scim_reply(resp, 200, scim_user_json(app, &old));
	u = old;
	if (m == HTTP_DELETE) {
		if (strcmp(old.status, "retired") != 0) {
			u.active = false;
			r = scim_user_run(req, resp, c, &u, &old, "scim.user.delete");
			if (r < 0)
				return r;
		}
		http_resp_status(resp, 204);
		return 0;
	}
	if ((r = scim_body(req, resp, &body)) < 0)
		return r;
	if (m == HTTP_PUT) {
		if (scim_user_from_body(&u, body, true, &e) < 0)
			return scim_fail_err(resp, &e);
		return scim_user_commit(req, resp, c, &u, &old, "scim.user.replace", 200);
	}
	if (scim_user_patch(&u, body, &e) < 0)
		return scim_fail_err(resp, &e);
	return scim_user_commit(req, resp, c, &u, &old, "scim.user.patch", 200);
}
