/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim: SCIM 2.0 (RFC 7643, RFC 7644) for identity systems that push people
 * and groups.  Every route needs a token of scope "scim" (HTTP_AUTH_SCIM),
 * and such a token reaches nothing else.
 *
 * Users are people (source "scim"):
 *   id -> people.id (never reused: DELETE retires, like active=false)
 *   userName -> login; externalId and the enterprise employeeNumber ->
 *   employee_number (they must agree when both are sent); name.familyName,
 *   name.givenName; emails (the primary, else the first) -> email; title;
 *   userType "employee" or "partner_staff" -> kind; active: false retires
 *   the person and ends every session and token in the same transaction,
 *   true brings a retired person back (on_leave stays on_leave and reads
 *   as active: the account exists);
 *   enterprise manager.value -> manager (a person id); organization (an
 *   existing company's name), division, department -> the org unit
 *   "<group>/<company>/<division>/<department>", created below the company
 *   when missing.  displayName and name.formatted are derived from the names.
 * PUT replaces the core attributes; the employee number, org unit and
 * manager are replaced only when the body has the enterprise extension (or,
 * for the number, externalId), so a client that does not know them does
 * not erase them.
 * PATCH supports add, replace and remove on the attributes above, with or
 * without a path.  Attributes of the SCIM schemas that Rampart does not keep
 * (phoneNumbers, addresses, locale...) are ignored; unknown ones are refused.
 *
 * Groups map to groups and group_members; members are [{"value": person id}].
 * A PATCH applies its operations in order (add, remove, replace members,
 * members[value eq "id"], displayName, externalId) in one transaction.
 *
 * Errors use the SCIM error body and application/scim+json.  Every change
 * is audited (scim.user.*, scim.group.*) and, for people, kept in
 * person_history.  A change that would retire the last active admin is refused.
 */
#include "identity/scim.h"

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

#define SCIM_USER_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_ENT_SCHEMA "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_GROUP_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_LIST_SCHEMA "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_ERROR_SCHEMA "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_PATCH_SCHEMA "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_CTYPE "application/scim+json"

#define SCIM_STR_MAX 256
#define SCIM_LOGIN_MAX 127
#define SCIM_FILTER_MAX 1024
#define SCIM_MAX_OPS 100
#define SCIM_MAX_MEMBERS 10000
#define SCIM_DEFAULT_COUNT 100
#define SCIM_CHAIN_MAX 64

/* ---------------------------------------------------------------- filter */

static const char *const scim_filter_attrs[] = { "userName", "externalId", "displayName", "emails.value", NULL };

static int scim_ferr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int scim_ferr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return ERR_INVALID;
}

static bool scim_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Shows up to 32 bytes of @s for a message, non-printable bytes as '?'. */
static const char *scim_shown(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size && i < 32; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[o] = '\0';
	return buf;
}

/* Parses 'ATTR eq "VALUE"' with ATTR one of @attrs (case-insensitive); see scim_filter_parse. */
static int scim_filter_parse_in(const char *s, const char *const *attrs, struct scim_filter *ret,
				char *err, size_t errsz)
{
	struct scim_filter f = { { 0 } };
	const char *p = s, *tok;
	char shown[40];
	size_t len, o = 0;
	int found = -1;

	if (err && errsz)
		err[0] = '\0';
	if (!s || !*s)
		return scim_ferr(err, errsz, "the filter is empty");
	if (strlen(s) > SCIM_FILTER_MAX)
		return scim_ferr(err, errsz, "the filter is longer than %d bytes", SCIM_FILTER_MAX);
	while (scim_is_space(*p))
		p++;
	if (*p == '(' || (strncasecmp(p, "not", 3) == 0 && (scim_is_space(p[3]) || p[3] == '(')))
		return scim_ferr(err, errsz, "grouping and 'not' are not supported; use one 'attribute eq "
				 "\"value\"' comparison");
	tok = p;
	while (*p && !scim_is_space(*p) && *p != '"')
		p++;
	len = (size_t)(p - tok);
	if (len == 0)
		return scim_ferr(err, errsz, "the filter must start with an attribute name");
	for (int i = 0; attrs[i]; i++)
		if (strlen(attrs[i]) == len && strncasecmp(tok, attrs[i], len) == 0)
			found = i;
	if (found < 0)
		return scim_ferr(err, errsz, "filtering on '%s' is not supported; the attributes are %s%s%s%s%s%s%s",
				 scim_shown(shown, sizeof(shown), tok, len), attrs[0],
				 attrs[1] ? ", " : "", attrs[1] ? attrs[1] : "",
				 attrs[1] && attrs[2] ? ", " : "", attrs[1] && attrs[2] ? attrs[2] : "",
				 attrs[1] && attrs[2] && attrs[3] ? ", " : "",
				 attrs[1] && attrs[2] && attrs[3] ? attrs[3] : "");
	if (!scim_is_space(*p))
		return scim_ferr(err, errsz, "expected an operator after '%s'", attrs[found]);
	while (scim_is_space(*p))
		p++;
	tok = p;
	while (*p && !scim_is_space(*p) && *p != '"')
		p++;
	len = (size_t)(p - tok);
	if (len == 0)
		return scim_ferr(err, errsz, "expected an operator after '%s'", attrs[found]);
	if (!(len == 2 && strncasecmp(tok, "eq", 2) == 0)) {
		static const char *const ops[] = { "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le" };

		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (len == 2 && strncasecmp(tok, ops[i], 2) == 0)
				return scim_ferr(err, errsz, "operator '%s' is not supported; only eq is",
						 ops[i]);
		return scim_ferr(err, errsz, "'%s' is not an operator; use eq",
				 scim_shown(shown, sizeof(shown), tok, len));
	}
	while (scim_is_space(*p))
		p++;
	if (*p != '"')
		return scim_ferr(err, errsz, "the value after eq must be a string in double quotes");
	for (p++;; p++) {
		char c = *p;

		if (c == '\0')
			return scim_ferr(err, errsz, "the quoted value is not closed");
		if (c == '"')
			break;
		if (c == '\\') {
			p++;
			if (*p != '"' && *p != '\\')
				return scim_ferr(err, errsz, "only \\\" and \\\\ may be escaped in the value");
			c = *p;
		} else if ((unsigned char)c < 0x20 || c == 0x7f) {
			return scim_ferr(err, errsz, "the value contains a control character");
		}
		if (o + 1 >= sizeof(f.value))
			return scim_ferr(err, errsz, "the value is longer than %zu bytes", sizeof(f.value) - 1);
		f.value[o++] = c;
	}
	f.value[o] = '\0';
	if (!str_is_clean_utf8(f.value, o))
		return scim_ferr(err, errsz, "the value is not valid UTF-8");
	for (p++; scim_is_space(*p); p++)
		;
	if (*p) {
		if ((strncasecmp(p, "and", 3) == 0 || strncasecmp(p, "or", 2) == 0))
			return scim_ferr(err, errsz, "only one comparison is supported (no 'and' or 'or')");
		return scim_ferr(err, errsz, "unexpected text after the value");
	}
	snprintf(f.attr, sizeof(f.attr), "%s", attrs[found]);
	*ret = f;
	return 0;
}

int scim_filter_parse(const char *s, struct scim_filter *ret, char *err, size_t errsz)
{
	return scim_filter_parse_in(s, scim_filter_attrs, ret, err, errsz);
}

/* ------------------------------------------------------------ responses */

struct scim_err {
	int err;               /* ERR_* for the status */
	const char *type;      /* scimType, may be NULL */
	char detail[256];
};

static int scim_bad(struct scim_err *e, int err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int scim_bad(struct scim_err *e, int err, const char *type, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	return err;
}

static int scim_reply(struct http_resp *resp, int status, json_t *body)
{
	char *text;
	int r;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	r = http_resp_data(resp, status, SCIM_CTYPE, text, strlen(text));
	free(text);
	return r;
}

/* Writes the SCIM error body for @e and returns its error. */
static int scim_fail_err(struct http_resp *resp, const struct scim_err *e)
{
	char status[8];
	json_t *b;

	snprintf(status, sizeof(status), "%d", err_http_status(e->err));
	b = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_ERROR_SCHEMA, "status", status,
		      "detail", e->detail);
	if (b && e->type)
		json_object_set_new(b, "scimType", json_string(e->type));
	scim_reply(resp, err_http_status(e->err), b);
	return e->err;
}

static int scim_fail(struct http_resp *resp, int err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int scim_fail(struct http_resp *resp, int err, const char *type, const char *fmt, ...)
{
	struct scim_err e = { .err = err, .type = type };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
	va_end(ap);
	return scim_fail_err(resp, &e);
}

/* Any other error (store, memory) as a SCIM error. */
static int scim_fail_code(struct http_resp *resp, int err)
{
	return scim_fail(resp, err, NULL, "%s", err_str(err));
}

/* The URL prefix of this server for meta.location. */
static void scim_base(const struct app *app, char *out, size_t size)
{
	const char *base = app->cfg.public_url[0] ? app->cfg.public_url : app->cfg.listen;
	size_t len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	snprintf(out, size, "%s%.*s/scim/v2", app->cfg.public_url[0] ? "" : "http://", (int)len, base);
}

static json_t *scim_meta(const struct app *app, const char *type, const char *what, const char *id,
			 int64_t created, int64_t modified)
{
	char base[400], loc[480];
	json_t *m = json_pack("{s:s}", "resourceType", type);

	if (!m)
		return NULL;
	scim_base(app, base, sizeof(base));
	snprintf(loc, sizeof(loc), "%s/%s/%s", base, what, id);
	jsonx_set_time(m, "created", created);
	jsonx_set_time(m, "lastModified", modified);
	jsonx_set_str(m, "location", loc);
	return m;
}

/* Answers unless the request was authenticated by a SCIM token. */
static int scim_check(struct http_req *req, struct http_resp *resp)
{
	const struct principal *p = http_req_principal(req);

	if (!principal_is_authenticated(p))
		return scim_fail(resp, ERR_UNAUTHENTICATED, NULL, "a bearer token of scope scim is required");
	if (p->via != VIA_SCIM_TOKEN)
		return scim_fail(resp, ERR_FORBIDDEN, NULL, "only a token of scope scim may use /scim/v2");
	return 0;
}

/* Reads startIndex and count (RFC 7644 3.4.2.4). */
static int scim_page(struct http_req *req, struct http_resp *resp, int64_t max, int64_t *ret_start,
		     int64_t *ret_count)
{
	const char *s = http_req_query(req, "startIndex"), *n = http_req_query(req, "count");
	int64_t start = 1, count = SCIM_DEFAULT_COUNT < max ? SCIM_DEFAULT_COUNT : max;

	if (s && str_parse_i64(s, INT64_MIN / 2, INT64_MAX / 2, &start) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidValue", "startIndex must be a whole number");
	if (n && str_parse_i64(n, INT64_MIN / 2, INT64_MAX / 2, &count) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidValue", "count must be a whole number");
	*ret_start = start < 1 ? 1 : start;
	*ret_count = count < 0 ? 0 : count > max ? max : count;
	return 0;
}

static json_t *scim_list(json_t *resources, int64_t total, int64_t start)
{
	if (!resources)
		return NULL;
	return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_LIST_SCHEMA,
			 "totalResults", (json_int_t)total, "startIndex", (json_int_t)start,
			 "itemsPerPage", (json_int_t)json_array_size(resources), "Resources", resources);
}

/* --------------------------------------------------------------- users */

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
	char org_path[DIRECTORY_PATH_MAX + 1];
	char org[3][SCIM_STR_MAX + 1];   /* organization, division, department */
	bool org_dirty;                  /* org[] changed: the unit is to be found again */
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

/* Sets @dst from a JSON string (null or a removal clears it when @clearable). */
static int scim_str(const json_t *v, char *dst, size_t size, bool clearable, const char *attr,
		    struct scim_err *e)
{
	const char *s;
	size_t len;

	if (!v || json_is_null(v)) {
		if (!clearable)
			return scim_bad(e, ERR_INVALID, "mutability", "%s cannot be removed", attr);
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return scim_bad(e, ERR_INVALID, "invalidValue", "%s must be a string", attr);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len >= size)
		return scim_bad(e, ERR_INVALID, "invalidValue", "%s is longer than %zu bytes", attr, size - 1);
	if (strlen(s) != len || !str_is_clean_utf8(s, len) || strchr(s, '\t'))
		return scim_bad(e, ERR_INVALID, "invalidValue", "%s contains a control character", attr);
	if (!len && !clearable)
		return scim_bad(e, ERR_INVALID, "invalidValue", "%s cannot be empty", attr);
	memcpy(dst, s, len + 1);
	return 0;
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

/* Finds the unit for organization/division/department.  Returns 0 or ERR_INVALID with @e. */
static int scim_user_org(struct store_conn *c, struct scim_user *u, int64_t now, struct scim_err *e)
{
	struct store_stmt *q;
	char company[DIRECTORY_PATH_MAX + 1] = "", path[DIRECTORY_PATH_MAX + 1];
	int n = 0, r;

	if (!u->org[0][0]) {
		if (u->org[1][0] || u->org[2][0])
			return scim_bad(e, ERR_INVALID, "invalidValue", "division and department need an organization");
		u->org_unit_id[0] = u->org_path[0] = '\0';
		return 0;
	}
	if (u->org[2][0] && !u->org[1][0])
		return scim_bad(e, ERR_INVALID, "invalidValue", "a department needs a division");
	r = store_query(c, "SELECT path FROM org_units WHERE level = 'company' AND name = $1 LIMIT 2",
			STORE_ARGS(SA_TEXT(u->org[0])), &q);
	if (r < 0)
		return r;
	while ((r = store_step(q)) == 1)
		if (n++ == 0)
			snprintf(company, sizeof(company), "%s", store_col_text(q, 0) ? store_col_text(q, 0) : "");
	store_stmt_free(q);
	if (r < 0)
		return r;
	if (n == 0)
		return scim_bad(e, ERR_INVALID, "invalidValue", "organization '%s' is not a known company",
				u->org[0]);
	if (n > 1)
		return scim_bad(e, ERR_INVALID, "invalidValue", "organization '%s' names more than one company",
				u->org[0]);
	n = snprintf(path, sizeof(path), "%s%s%s%s%s", company, u->org[1][0] ? "/" : "", u->org[1],
		     u->org[2][0] ? "/" : "", u->org[2]);
	if (n < 0 || (size_t)n >= sizeof(path))
		return scim_bad(e, ERR_INVALID, "invalidValue", "the org unit path is too long");
	r = directory_org_ensure(c, path, NULL, now, u->org_unit_id, NULL);
	if (r == ERR_INVALID)
		return scim_bad(e, ERR_INVALID, "invalidValue", "organization, division and department must "
				"not be empty or contain '/' at their ends");
	if (r < 0)
		return r;
	snprintf(u->org_path, sizeof(u->org_path), "%s", path);
	return 0;
}

/* Checks uniqueness, the manager and the org unit of @u before it is written. */
static int scim_user_check(struct store_conn *c, struct scim_user *u, int64_t now, struct scim_err *e)
{
	int64_t n;
	int r;

	/* userName is not case-exact (RFC 7643 4.1.1): "Ann" and "ann" are one name. */
	r = store_query_i64(c, "SELECT count(*) FROM people WHERE lower(login) = lower($1) AND id <> $2",
			    STORE_ARGS(SA_TEXT(u->login), SA_TEXT(u->id)), &n);
	if (r < 0)
		return r;
	if (n > 0)
		return scim_bad(e, ERR_CONFLICT, "uniqueness", "userName '%s' is taken", u->login);
	if (u->emp[0]) {
		r = store_query_i64(c, "SELECT count(*) FROM people WHERE employee_number = $1 AND id <> $2",
				    STORE_ARGS(SA_TEXT(u->emp), SA_TEXT(u->id)), &n);
		if (r < 0)
			return r;
		if (n > 0)
			return scim_bad(e, ERR_CONFLICT, "uniqueness", "employee number '%s' is taken", u->emp);
	}
	if (u->email[0] && (!strchr(u->email, '@') || strchr(u->email, ' ')))
		return scim_bad(e, ERR_INVALID, "invalidValue", "emails.value '%s' is not an address", u->email);
	if (u->manager_id[0]) {
		if (!strcmp(u->manager_id, u->id))
			return scim_bad(e, ERR_INVALID, "invalidValue", "a person cannot be their own manager");
		r = store_query_i64(c, "SELECT count(*) FROM people WHERE id = $1", STORE_ARGS(SA_TEXT(u->manager_id)), &n);
		if (r < 0)
			return r;
		if (n == 0)
			return scim_bad(e, ERR_INVALID, "invalidValue", "manager %s is not a known person",
					u->manager_id);
		/* The new manager must not report to this person, directly or not. */
		r = store_query_i64(c, "WITH RECURSIVE chain(id, depth) AS (SELECT $1, 1"
				       " UNION ALL SELECT x.manager_id, chain.depth + 1 FROM people x"
				       " JOIN chain ON x.id = chain.id WHERE chain.depth < $3)"
				       " SELECT count(*) FROM chain WHERE id = $2",
				    STORE_ARGS(SA_TEXT(u->manager_id), SA_TEXT(u->id), SA_I64(SCIM_CHAIN_MAX)), &n);
		if (r < 0)
			return r;
		if (n > 0)
			return scim_bad(e, ERR_INVALID, "invalidValue", "manager %s reports to this person; "
					"that would make a cycle", u->manager_id);
	}
	if (u->org_dirty) {
		r = scim_user_org(c, u, now, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Refuses to retire the last active admin. */
static int scim_keep_an_admin(struct store_conn *c, const char *id, struct scim_err *e)
{
	int64_t n;
	int r = store_query_i64(c, "SELECT count(*) FROM person_roles r JOIN people p ON p.id = r.person_id "
				   "WHERE r.role = 'admin' AND p.status = 'active' AND p.id <> $1",
				STORE_ARGS(SA_TEXT(id)), &n);

	if (r < 0)
		return r;
	if (n > 0)
		return 0;
	r = store_query_i64(c, "SELECT count(*) FROM person_roles WHERE role = 'admin' AND person_id = $1",
			    STORE_ARGS(SA_TEXT(id)), &n);
	if (r < 0)
		return r;
	return n > 0 ? scim_bad(e, ERR_CONFLICT, "mutability", "this is the last active administrator") : 0;
}

/*
 * Writes @u (created when @old is NULL) inside the caller's transaction:
 * checks, row, history, revocation on retirement, audit.  Returns 0 or an
 * error (ERR_INVALID/ERR_CONFLICT with @e filled).
 */
static int scim_user_write(struct http_req *req, struct store_conn *c, struct scim_user *u,
			   const struct scim_user *old, const char *action, struct scim_err *e)
{
	const struct principal *p = http_req_principal(req);
	int64_t now = rtime_now_ms();
	bool retire;
	char *text;
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
	r = scim_user_check(c, u, now, e);
	if (r < 0)
		return r;
	if (retire && old) {
		r = scim_keep_an_admin(c, u->id, e);
		if (r < 0)
			return r;
	}
	if (!old)
		r = store_exec(c, "INSERT INTO people (id, login, employee_number, family_name, given_name, email, "
				  "org_unit_id, title, status, kind, manager_id, source, created_at, updated_at, "
				  "retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scim', $12, "
				  "$12, $13)",
			       STORE_ARGS(SA_TEXT(u->id), SA_TEXT(u->login), SA_TEXT(u->emp[0] ? u->emp : NULL),
					  SA_TEXT(u->family), SA_TEXT(u->given),
					  SA_TEXT(u->email[0] ? u->email : NULL),
					  SA_TEXT(u->org_unit_id[0] ? u->org_unit_id : NULL), SA_TEXT(u->title),
					  SA_TEXT(u->status), SA_TEXT(u->kind),
					  SA_TEXT(u->manager_id[0] ? u->manager_id : NULL), SA_I64(now),
					  retire ? SA_I64(now) : SA_NULL));
	else
		r = store_exec(c, "UPDATE people SET login = $2, employee_number = $3, family_name = $4, "
				  "given_name = $5, email = $6, org_unit_id = $7, title = $8, status = $9, "
				  "kind = $10, manager_id = $11, source = 'scim', updated_at = $12, "
				  "retired_at = CASE WHEN $9 = 'retired' THEN coalesce(retired_at, $12) ELSE NULL END "
				  "WHERE id = $1",
			       STORE_ARGS(SA_TEXT(u->id), SA_TEXT(u->login), SA_TEXT(u->emp[0] ? u->emp : NULL),
					  SA_TEXT(u->family), SA_TEXT(u->given),
					  SA_TEXT(u->email[0] ? u->email : NULL),
					  SA_TEXT(u->org_unit_id[0] ? u->org_unit_id : NULL), SA_TEXT(u->title),
					  SA_TEXT(u->status), SA_TEXT(u->kind),
					  SA_TEXT(u->manager_id[0] ? u->manager_id : NULL), SA_I64(now)));
	if (r == ERR_CONFLICT)
		return scim_bad(e, ERR_CONFLICT, "uniqueness", "userName or employee number is taken");
	if (r < 0)
		return r;
	if (retire && old) {
		r = auth_revoke_all(c, u->id, now);
		if (r < 0)
			return r;
	}
	change = scim_user_diff(old, u, action);
	text = change ? json_dumps(change, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (!text) {
		json_decref(change);
		return -ENOMEM;
	}
	r = store_exec(c, "INSERT INTO person_history (person_id, at, actor_id, source, change) "
			  "VALUES ($1, $2, $3, 'scim', $4)",
		       STORE_ARGS(SA_TEXT(u->id), SA_I64(now), SA_TEXT(p->person_id), SA_TEXT(text)));
	free(text);
	if (r < 0) {
		json_decref(change);
		return r;
	}
	if (!old)
		u->created_at = now;
	u->updated_at = now;
	return audit_req(req, c, action, "person", u->id, AUDIT_SUCCESS, change);
}

/* Runs @u's write in a transaction and answers with the User. */
static int scim_user_commit(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			    struct scim_user *u, const struct scim_user *old, const char *action, int status)
{
	struct app *app = http_req_app(req);
	struct scim_err e = { 0 };
	struct scim_user fresh;
	int r = store_begin(c);

	if (r < 0)
		return scim_fail_code(resp, r);
	r = scim_user_write(req, c, u, old, action, &e);
	if (r == 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return e.detail[0] ? scim_fail_err(resp, &e) : scim_fail_code(resp, r);
	}
	/* Read back so the answer shows what is stored (manager name, org path). */
	r = scim_user_load(c, u->id, &fresh);
	if (r < 0)
		return scim_fail_code(resp, r);
	if (status == 201) {
		char base[400], loc[480];

		scim_base(app, base, sizeof(base));
		snprintf(loc, sizeof(loc), "%s/Users/%s", base, u->id);
		http_resp_header(resp, "Location", loc);
	}
	return scim_reply(resp, status, scim_user_json(app, &fresh));
}

static int scim_users_list(struct http_req *req, struct http_resp *resp, struct store_conn *c)
{
	struct app *app = http_req_app(req);
	const char *filter = http_req_query(req, "filter");
	struct scim_filter f;
	char why[160], where[160] = "";
	struct store_arg args[4];
	size_t nargs = 0;
	struct store_stmt *q;
	int64_t start, count, total;
	json_t *items;
	struct buf sql;
	int r;

	r = scim_page(req, resp, app->cfg.max_list, &start, &count);
	if (r < 0)
		return r;
	if (filter) {
		if (scim_filter_parse(filter, &f, why, sizeof(why)) < 0)
			return scim_fail(resp, ERR_INVALID, "invalidFilter", "%s", why);
		args[nargs++] = SA_TEXT(f.value);
		if (!strcmp(f.attr, "userName"))
			snprintf(where, sizeof(where), " WHERE lower(p.login) = lower($1)");
		else if (!strcmp(f.attr, "externalId"))
			snprintf(where, sizeof(where), " WHERE p.employee_number = $1");
		else if (!strcmp(f.attr, "displayName"))
			snprintf(where, sizeof(where), " WHERE trim(p.given_name || ' ' || p.family_name) = $1");
		else
			snprintf(where, sizeof(where), " WHERE lower(p.email) = lower($1)");
	}
	buf_init(&sql, 4096);
	buf_printf(&sql, "SELECT count(*) FROM people p%s", where);
	r = store_query_i64(c, sql.data, args, nargs, &total);
	if (r < 0) {
		buf_done(&sql);
		return scim_fail_code(resp, r);
	}
	buf_reset(&sql);
	args[nargs++] = SA_I64(count);
	args[nargs++] = SA_I64(start - 1);
	buf_printf(&sql, SCIM_USER_SQL "%s ORDER BY p.id LIMIT $%zu OFFSET $%zu", where, nargs - 1, nargs);
	r = store_query(c, sql.data, args, nargs, &q);
	buf_done(&sql);
	if (r < 0)
		return scim_fail_code(resp, r);
	items = json_array();
	while (items && (r = store_step(q)) == 1) {
		struct scim_user u;

		scim_user_from_row(q, &u);
		json_array_append_new(items, scim_user_json(app, &u));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return scim_fail_code(resp, r);
	}
	return scim_reply(resp, 200, scim_list(items, total, start));
}

static int scim_h_users(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct scim_user u;
	struct scim_err e = { 0 };
	struct rerr je;
	json_t *body;
	int r;

	if ((r = scim_check(req, resp)) < 0)
		return r;
	if (!c)
		return scim_fail_code(resp, ERR_STORE);
	if (http_req_method(req) == HTTP_GET)
		return scim_users_list(req, resp, c);
	if (http_req_json(req, &body, &je) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidSyntax", "%s", je.message);
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
	const json_t *ops = json_object_get(body, "Operations"), *op;
	size_t i;

	if (!json_is_array(ops) || json_array_size(ops) == 0)
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "Operations must be a non-empty array");
	if (json_array_size(ops) > SCIM_MAX_OPS)
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "at most %d operations per request", SCIM_MAX_OPS);
	json_array_foreach(ops, i, op) {
		const json_t *jop = json_object_get(op, "op"), *jpath = json_object_get(op, "path");
		const json_t *value = json_object_get(op, "value");
		const char *name = json_is_string(jop) ? json_string_value(jop) : "";
		bool remove = !strcasecmp(name, "remove");
		int r;

		if (!remove && strcasecmp(name, "add") && strcasecmp(name, "replace"))
			return scim_bad(e, ERR_INVALID, "invalidSyntax", "op must be add, replace or remove");
		if (jpath && !json_is_string(jpath))
			return scim_bad(e, ERR_INVALID, "invalidPath", "path must be a string");
		if (!jpath) {
			if (remove)
				return scim_bad(e, ERR_INVALID, "noTarget", "remove needs a path");
			r = scim_user_set_object(u, "", value, true, e);
		} else {
			const char *path = json_string_value(jpath);

			if (strlen(path) > 200)
				return scim_bad(e, ERR_INVALID, "invalidPath", "path is too long");
			if (!remove && !value)
				return scim_bad(e, ERR_INVALID, "invalidValue", "%s needs a value", name);
			r = scim_user_set(u, path, remove ? NULL : value, e);
			if (r == SCIM_UNKNOWN)
				return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported", path);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int scim_h_user(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	enum http_method m = http_req_method(req);
	struct scim_user old, u;
	struct scim_err e = { 0 };
	struct rerr je;
	json_t *body;
	int r;

	if ((r = scim_check(req, resp)) < 0)
		return r;
	if (!c)
		return scim_fail_code(resp, ERR_STORE);
	r = scim_user_load(c, http_req_param(req, "id"), &old);
	if (r == ERR_NOT_FOUND)
		return scim_fail(resp, ERR_NOT_FOUND, NULL, "no User has this id");
	if (r < 0)
		return scim_fail_code(resp, r);
	if (m == HTTP_GET)
		return scim_reply(resp, 200, scim_user_json(app, &old));
	u = old;
	if (m == HTTP_DELETE) {
		if (strcmp(old.status, "retired") != 0) {
			u.active = false;
			r = store_begin(c);
			if (r == 0)
				r = scim_user_write(req, c, &u, &old, "scim.user.delete", &e);
			if (r == 0)
				r = store_commit(c);
			if (r < 0) {
				store_rollback(c);
				return e.detail[0] ? scim_fail_err(resp, &e) : scim_fail_code(resp, r);
			}
		}
		http_resp_status(resp, 204);
		return 0;
	}
	if (http_req_json(req, &body, &je) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidSyntax", "%s", je.message);
	if (m == HTTP_PUT) {
		if (scim_user_from_body(&u, body, true, &e) < 0)
			return scim_fail_err(resp, &e);
		return scim_user_commit(req, resp, c, &u, &old, "scim.user.replace", 200);
	}
	if (scim_user_patch(&u, body, &e) < 0)
		return scim_fail_err(resp, &e);
	return scim_user_commit(req, resp, c, &u, &old, "scim.user.patch", 200);
}

/* -------------------------------------------------------------- groups */

struct scim_group {
	char id[ULID_SIZE];
	char name[SCIM_STR_MAX + 1];
	char external_id[SCIM_STR_MAX + 1];
	int64_t created_at, updated_at;
};

static int scim_group_load(struct store_conn *c, const char *id, struct scim_group *g)
{
	struct store_stmt *q;
	int r;

	if (!id || !ids_is_ulid(id))
		return ERR_NOT_FOUND;
	r = store_query(c, "SELECT id, name, external_id, created_at, updated_at FROM groups WHERE id = $1",
			STORE_ARGS(SA_TEXT(id)), &q);
	if (r < 0)
		return r;
	r = store_step(q);
	if (r == 1) {
		memset(g, 0, sizeof(*g));
		snprintf(g->id, sizeof(g->id), "%s", store_col_text(q, 0));
		snprintf(g->name, sizeof(g->name), "%s", store_col_text(q, 1) ? store_col_text(q, 1) : "");
		snprintf(g->external_id, sizeof(g->external_id), "%s",
			 store_col_text(q, 2) ? store_col_text(q, 2) : "");
		g->created_at = store_col_i64(q, 3);
		g->updated_at = store_col_i64(q, 4);
	}
	store_stmt_free(q);
	return r < 0 ? r : r == 0 ? ERR_NOT_FOUND : 0;
}

static json_t *scim_group_json(const struct app *app, struct store_conn *c, const struct scim_group *g,
			       bool with_members)
{
	json_t *o = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_GROUP_SCHEMA, "id", g->id,
			      "displayName", g->name), *members;
	struct store_stmt *q;
	char base[400];
	int r;

	if (!o)
		return NULL;
	if (g->external_id[0])
		json_object_set_new(o, "externalId", json_string(g->external_id));
	json_object_set_new(o, "meta", scim_meta(app, "Group", "Groups", g->id, g->created_at, g->updated_at));
	if (!with_members)
		return o;
	members = json_array();
	scim_base(app, base, sizeof(base));
	r = store_query(c, "SELECT m.person_id, p.given_name, p.family_name FROM group_members m "
			   "JOIN people p ON p.id = m.person_id WHERE m.group_id = $1 ORDER BY m.person_id",
			STORE_ARGS(SA_TEXT(g->id)), &q);
	if (r < 0 || !members) {
		json_decref(members);
		json_decref(o);
		return NULL;
	}
	while ((r = store_step(q)) == 1) {
		char display[2 * SCIM_STR_MAX + 2], ref[480];

		snprintf(display, sizeof(display), "%s %s", store_col_text(q, 1) ? store_col_text(q, 1) : "",
			 store_col_text(q, 2) ? store_col_text(q, 2) : "");
		snprintf(ref, sizeof(ref), "%s/Users/%s", base, store_col_text(q, 0));
		json_array_append_new(members, json_pack("{s:s, s:s, s:s}", "value", store_col_text(q, 0),
							 "display", display, "$ref", ref));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(members);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "members", members);
	return o;
}

/* One write to a group, inside a transaction; member changes are counted for the audit entry. */
struct scim_group_tx {
	struct http_req *req;
	struct store_conn *c;
	struct scim_group *g;
	long added, removed;
};

static int scim_members_check(const json_t *v, struct scim_err *e)
{
	const json_t *it;
	size_t i;

	if (!json_is_array(v))
		return scim_bad(e, ERR_INVALID, "invalidValue", "members must be an array");
	if (json_array_size(v) > SCIM_MAX_MEMBERS)
		return scim_bad(e, ERR_INVALID, "invalidValue", "at most %d members per request", SCIM_MAX_MEMBERS);
	json_array_foreach(v, i, it) {
		const json_t *id = json_is_object(it) ? json_object_get(it, "value") : NULL;

		if (!json_is_string(id) || !ids_is_ulid(json_string_value(id)))
			return scim_bad(e, ERR_INVALID, "invalidValue", "each member needs a value that is a person id");
	}
	return 0;
}

/* Adds the people of @members (checked) that are not members yet. */
static int scim_members_add(struct scim_group_tx *t, const json_t *members, struct scim_err *e)
{
	const json_t *it;
	size_t i;
	int r;

	json_array_foreach(members, i, it) {
		const char *pid = json_string_value(json_object_get(it, "value"));
		int64_t n;

		r = store_exec(t->c, "INSERT INTO group_members (group_id, person_id) SELECT $1, id FROM people "
				     "WHERE id = $2 ON CONFLICT (group_id, person_id) DO NOTHING",
			       STORE_ARGS(SA_TEXT(t->g->id), SA_TEXT(pid)));
		if (r < 0)
			return r;
		t->added += r;
		if (r > 0)
			continue;
		/* Nothing inserted: already a member, or no such person. */
		r = store_query_i64(t->c, "SELECT count(*) FROM people WHERE id = $1", STORE_ARGS(SA_TEXT(pid)), &n);
		if (r < 0)
			return r;
		if (n == 0)
			return scim_bad(e, ERR_INVALID, "invalidValue", "member %s is not a known person", pid);
	}
	return 0;
}

/* Removes person @pid, or every member when @pid is NULL. */
static int scim_members_remove(struct scim_group_tx *t, const char *pid)
{
	int r = pid ? store_exec(t->c, "DELETE FROM group_members WHERE group_id = $1 AND person_id = $2",
				 STORE_ARGS(SA_TEXT(t->g->id), SA_TEXT(pid)))
		    : store_exec(t->c, "DELETE FROM group_members WHERE group_id = $1", STORE_ARGS(SA_TEXT(t->g->id)));

	if (r < 0)
		return r;
	t->removed += r;
	return 0;
}

static int scim_members_replace(struct scim_group_tx *t, const json_t *members, struct scim_err *e)
{
	int r = scim_members_remove(t, NULL);

	return r < 0 ? r : scim_members_add(t, members, e);
}

/*
 * Reads displayName and externalId of object @v into the group, and returns
 * its members (checked, borrowed) in *ret_members (NULL when absent).
 */
static int scim_group_attrs(struct scim_group *g, const json_t *v, const json_t **ret_members,
			    struct scim_err *e)
{
	const char *key;
	json_t *val;

	*ret_members = NULL;
	if (!json_is_object(v))
		return scim_bad(e, ERR_INVALID, "invalidValue", "the value must be an object");
	json_object_foreach((json_t *)v, key, val) {
		int r = 0;

		if (!strcasecmp(key, "displayName"))
			r = scim_str(val, g->name, sizeof(g->name), false, "displayName", e);
		else if (!strcasecmp(key, "externalId"))
			r = scim_str(val, g->external_id, sizeof(g->external_id), true, "externalId", e);
		else if (!strcasecmp(key, "members"))
			r = scim_members_check(val, e) < 0 ? e->err : (*ret_members = val, 0);
		else if (strcasecmp(key, "schemas") && strcasecmp(key, "id") && strcasecmp(key, "meta"))
			return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported", key);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Parses 'members[value eq "ID"]' into @ret_id. */
static int scim_member_path(const char *path, char ret_id[ULID_SIZE], struct scim_err *e)
{
	static const char *const attrs[] = { "value", NULL };
	char inner[SCIM_FILTER_MAX + 1], why[160];
	struct scim_filter f;
	size_t len = strlen(path);

	if (len < 10 || len - 9 > SCIM_FILTER_MAX || path[len - 1] != ']')
		return scim_bad(e, ERR_INVALID, "invalidPath", "expected members[value eq \"id\"]");
	memcpy(inner, path + 8, len - 9);
	inner[len - 9] = '\0';
	if (scim_filter_parse_in(inner, attrs, &f, why, sizeof(why)) < 0)
		return scim_bad(e, ERR_INVALID, "invalidFilter", "%s", why);
	if (!ids_is_ulid(f.value))
		return scim_bad(e, ERR_INVALID, "invalidValue", "the member value must be a person id");
	memcpy(ret_id, f.value, ULID_SIZE);
	return 0;
}

/* Applies one PATCH operation; member changes go to the database at once, in order. */
static int scim_group_op(struct scim_group_tx *t, const json_t *op, struct scim_err *e)
{
	const json_t *jop = json_object_get(op, "op"), *jpath = json_object_get(op, "path");
	const json_t *value = json_object_get(op, "value"), *members;
	const char *name = json_is_string(jop) ? json_string_value(jop) : "";
	const char *path = json_is_string(jpath) ? json_string_value(jpath) : NULL;
	bool add = !strcasecmp(name, "add"), remove = !strcasecmp(name, "remove");
	struct scim_group *g = t->g;
	char one[ULID_SIZE];
	int r;

	if (!add && !remove && strcasecmp(name, "replace"))
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "op must be add, replace or remove");
	if (jpath && !path)
		return scim_bad(e, ERR_INVALID, "invalidPath", "path must be a string");
	if (!path) {
		if (remove)
			return scim_bad(e, ERR_INVALID, "noTarget", "remove needs a path");
		r = scim_group_attrs(g, value, &members, e);
		if (r < 0 || !members)
			return r;
		return add ? scim_members_add(t, members, e) : scim_members_replace(t, members, e);
	}
	if (!strcasecmp(path, "members")) {
		if (remove && !value)
			return scim_members_remove(t, NULL);
		if (scim_members_check(value, e) < 0)
			return e->err;
		if (add)
			return scim_members_add(t, value, e);
		if (!remove)
			return scim_members_replace(t, value, e);
		for (size_t i = 0; i < json_array_size(value); i++) {
			r = scim_members_remove(t, json_string_value(json_object_get(json_array_get(value, i), "value")));
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!strncasecmp(path, "members[", 8)) {
		if (!remove)
			return scim_bad(e, ERR_INVALID, "invalidPath", "use remove with members[value eq \"id\"]");
		r = scim_member_path(path, one, e);
		return r < 0 ? r : scim_members_remove(t, one);
	}
	if (!strcasecmp(path, "displayName"))
		return scim_str(remove ? NULL : value, g->name, sizeof(g->name), false, "displayName", e);
	if (!strcasecmp(path, "externalId"))
		return scim_str(remove ? NULL : value, g->external_id, sizeof(g->external_id), true, "externalId", e);
	return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported", path);
}

/* Writes the group's row (inserted when @create), then audits @action. */
static int scim_group_save(struct scim_group_tx *t, bool create, const char *action, struct scim_err *e)
{
	struct scim_group *g = t->g;
	int64_t now = rtime_now_ms();
	int r;

	if (create)
		r = store_exec(t->c, "INSERT INTO groups (id, name, external_id, created_at, updated_at) "
				     "VALUES ($1, $2, $3, $4, $4)",
			       STORE_ARGS(SA_TEXT(g->id), SA_TEXT(g->name),
					  SA_TEXT(g->external_id[0] ? g->external_id : NULL), SA_I64(now)));
	else
		r = store_exec(t->c, "UPDATE groups SET name = $2, external_id = $3, updated_at = $4 WHERE id = $1",
			       STORE_ARGS(SA_TEXT(g->id), SA_TEXT(g->name),
					  SA_TEXT(g->external_id[0] ? g->external_id : NULL), SA_I64(now)));
	if (r == ERR_CONFLICT)
		return scim_bad(e, ERR_CONFLICT, "uniqueness", "displayName '%s' is taken", g->name);
	if (r < 0)
		return r;
	if (create)
		g->created_at = now;
	g->updated_at = now;
	if (!action)
		return 0;
	return audit_req(t->req, t->c, action, "group", g->id, AUDIT_SUCCESS,
			 json_pack("{s:s, s:I, s:I}", "displayName", g->name, "members_added", (json_int_t)t->added,
				   "members_removed", (json_int_t)t->removed));
}

/*
 * Runs one group request in a transaction: POST (@m HTTP_POST) and PUT take
 * the attributes of @body, PATCH its operations in order.  Answers with the
 * group or a SCIM error.
 */
static int scim_group_run(struct http_req *req, struct http_resp *resp, struct store_conn *c,
			  struct scim_group *g, enum http_method m, const json_t *body)
{
	struct app *app = http_req_app(req);
	struct scim_group_tx t = { .req = req, .c = c, .g = g };
	struct scim_err e = { 0 };
	const json_t *members = NULL;
	const char *action = m == HTTP_POST ? "scim.group.create" : m == HTTP_PUT ? "scim.group.replace"
										  : "scim.group.patch";
	int r;

	if (m != HTTP_PATCH) {
		if (m == HTTP_PUT)
			g->external_id[0] = '\0';
		if (scim_group_attrs(g, body, &members, &e) < 0)
			return scim_fail_err(resp, &e);
		if (!json_is_string(json_object_get(body, "displayName")))
			return scim_fail(resp, ERR_INVALID, "invalidValue", "displayName is required");
	} else {
		const json_t *ops = json_object_get(body, "Operations");

		if (!json_is_array(ops) || json_array_size(ops) == 0)
			return scim_fail(resp, ERR_INVALID, "invalidSyntax", "Operations must be a non-empty array");
		if (json_array_size(ops) > SCIM_MAX_OPS)
			return scim_fail(resp, ERR_INVALID, "invalidSyntax", "at most %d operations per request",
					 SCIM_MAX_OPS);
	}
	r = store_begin(c);
	if (r < 0)
		return scim_fail_code(resp, r);
	if (m == HTTP_POST) {
		/* The row first: members refer to it. */
		r = scim_group_save(&t, true, NULL, &e);
		if (r == 0 && members)
			r = scim_members_add(&t, members, &e);
	} else if (m == HTTP_PUT) {
		r = members ? scim_members_replace(&t, members, &e) : scim_members_remove(&t, NULL);
	} else {
		const json_t *ops = json_object_get(body, "Operations"), *op;
		size_t i;

		json_array_foreach(ops, i, op) {
			r = scim_group_op(&t, op, &e);
			if (r < 0)
				break;
		}
	}
	if (r == 0)
		r = m == HTTP_POST ? audit_req(req, c, action, "group", g->id, AUDIT_SUCCESS,
					       json_pack("{s:s, s:I, s:I}", "displayName", g->name, "members_added",
							 (json_int_t)t.added, "members_removed", (json_int_t)0))
				   : scim_group_save(&t, false, action, &e);
	if (r == 0)
		r = store_commit(c);
	if (r < 0) {
		store_rollback(c);
		return e.detail[0] ? scim_fail_err(resp, &e) : scim_fail_code(resp, r);
	}
	if (m == HTTP_POST) {
		char base[400], loc[480];

		scim_base(app, base, sizeof(base));
		snprintf(loc, sizeof(loc), "%s/Groups/%s", base, g->id);
		http_resp_header(resp, "Location", loc);
	}
	return scim_reply(resp, m == HTTP_POST ? 201 : 200, scim_group_json(app, c, g, true));
}

static bool scim_without_members(struct http_req *req)
{
	const char *x = http_req_query(req, "excludedAttributes");

	return x && strcasestr(x, "members") != NULL;
}

static int scim_groups_list(struct http_req *req, struct http_resp *resp, struct store_conn *c)
{
	static const char *const attrs[] = { "displayName", "externalId", NULL };
	struct app *app = http_req_app(req);
	const char *filter = http_req_query(req, "filter");
	bool members = !scim_without_members(req);
	struct scim_filter f;
	struct store_stmt *q;
	char why[160];
	const char *where = "";
	struct store_arg args[3];
	size_t nargs = 0;
	int64_t start, count, total;
	json_t *items;
	struct buf sql;
	int r;

	r = scim_page(req, resp, app->cfg.max_list, &start, &count);
	if (r < 0)
		return r;
	if (filter) {
		if (scim_filter_parse_in(filter, attrs, &f, why, sizeof(why)) < 0)
			return scim_fail(resp, ERR_INVALID, "invalidFilter", "%s", why);
		args[nargs++] = SA_TEXT(f.value);
		where = !strcmp(f.attr, "displayName") ? " WHERE name = $1" : " WHERE external_id = $1";
	}
	buf_init(&sql, 1024);
	buf_printf(&sql, "SELECT count(*) FROM groups%s", where);
	r = store_query_i64(c, sql.data, args, nargs, &total);
	if (r < 0) {
		buf_done(&sql);
		return scim_fail_code(resp, r);
	}
	buf_reset(&sql);
	args[nargs++] = SA_I64(count);
	args[nargs++] = SA_I64(start - 1);
	buf_printf(&sql, "SELECT id FROM groups%s ORDER BY id LIMIT $%zu OFFSET $%zu", where, nargs - 1, nargs);
	r = store_query(c, sql.data, args, nargs, &q);
	buf_done(&sql);
	if (r < 0)
		return scim_fail_code(resp, r);
	items = json_array();
	while (items && (r = store_step(q)) == 1) {
		struct scim_group g;

		if (scim_group_load(c, store_col_text(q, 0), &g) == 0)
			json_array_append_new(items, scim_group_json(app, c, &g, members));
	}
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return scim_fail_code(resp, r);
	}
	return scim_reply(resp, 200, scim_list(items, total, start));
}

static int scim_h_groups(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	struct scim_group g = { { 0 } };
	struct rerr je;
	json_t *body;
	int r;

	if ((r = scim_check(req, resp)) < 0)
		return r;
	if (!c)
		return scim_fail_code(resp, ERR_STORE);
	if (http_req_method(req) == HTTP_GET)
		return scim_groups_list(req, resp, c);
	if (http_req_json(req, &body, &je) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidSyntax", "%s", je.message);
	ids_ulid(g.id, rtime_now_ms());
	return scim_group_run(req, resp, c, &g, HTTP_POST, body);
}

static int scim_h_group(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	enum http_method m = http_req_method(req);
	struct scim_group g;
	struct rerr je;
	json_t *body;
	int r;

	if ((r = scim_check(req, resp)) < 0)
		return r;
	if (!c)
		return scim_fail_code(resp, ERR_STORE);
	r = scim_group_load(c, http_req_param(req, "id"), &g);
	if (r == ERR_NOT_FOUND)
		return scim_fail(resp, ERR_NOT_FOUND, NULL, "no Group has this id");
	if (r < 0)
		return scim_fail_code(resp, r);
	if (m == HTTP_GET)
		return scim_reply(resp, 200, scim_group_json(app, c, &g, !scim_without_members(req)));
	if (m == HTTP_DELETE) {
		r = store_begin(c);
		if (r == 0)
			r = store_exec(c, "DELETE FROM group_members WHERE group_id = $1", STORE_ARGS(SA_TEXT(g.id)));
		if (r >= 0)
			r = store_exec(c, "DELETE FROM groups WHERE id = $1", STORE_ARGS(SA_TEXT(g.id)));
		if (r >= 0)
			r = audit_req(req, c, "scim.group.delete", "group", g.id, AUDIT_SUCCESS,
				      json_pack("{s:s}", "displayName", g.name));
		if (r == 0)
			r = store_commit(c);
		if (r < 0) {
			store_rollback(c);
			return scim_fail_code(resp, r);
		}
		http_resp_status(resp, 204);
		return 0;
	}
	if (http_req_json(req, &body, &je) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidSyntax", "%s", je.message);
	return scim_group_run(req, resp, c, &g, m, body);
}

/* ------------------------------------------------------------ discovery */

static const char scim_spc[] =
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig\"],"
	"\"patch\":{\"supported\":true},"
	"\"bulk\":{\"supported\":false,\"maxOperations\":0,\"maxPayloadSize\":0},"
	"\"filter\":{\"supported\":true,\"maxResults\":0},"
	"\"changePassword\":{\"supported\":false},"
	"\"sort\":{\"supported\":false},"
	"\"etag\":{\"supported\":false},"
	"\"authenticationSchemes\":[{\"type\":\"oauthbearertoken\",\"name\":\"Bearer token\","
	"\"description\":\"A Rampart API token of scope scim, sent as Authorization: Bearer\","
	"\"primary\":true}],"
	"\"meta\":{\"resourceType\":\"ServiceProviderConfig\"}}";

static const char scim_rtypes[] =
	"{\"schemas\":[\"" SCIM_LIST_SCHEMA "\"],\"totalResults\":2,\"startIndex\":1,\"itemsPerPage\":2,"
	"\"Resources\":["
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"User\","
	"\"name\":\"User\",\"endpoint\":\"/Users\",\"schema\":\"" SCIM_USER_SCHEMA "\","
	"\"schemaExtensions\":[{\"schema\":\"" SCIM_ENT_SCHEMA "\",\"required\":false}],"
	"\"meta\":{\"resourceType\":\"ResourceType\"}},"
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"Group\","
	"\"name\":\"Group\",\"endpoint\":\"/Groups\",\"schema\":\"" SCIM_GROUP_SCHEMA "\","
	"\"meta\":{\"resourceType\":\"ResourceType\"}}]}";

#define SCIM_ATTR(name, type, req, uniq) \
	"{\"name\":\"" name "\",\"type\":\"" type "\",\"multiValued\":false,\"required\":" req "," \
	"\"caseExact\":false,\"mutability\":\"readWrite\",\"returned\":\"default\",\"uniqueness\":\"" uniq "\"}"

static const char scim_schemas[] =
	"{\"schemas\":[\"" SCIM_LIST_SCHEMA "\"],\"totalResults\":3,\"startIndex\":1,\"itemsPerPage\":3,"
	"\"Resources\":["
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" SCIM_USER_SCHEMA "\","
	"\"name\":\"User\",\"description\":\"A person of the directory\",\"attributes\":["
	SCIM_ATTR("userName", "string", "true", "server") ","
	SCIM_ATTR("externalId", "string", "false", "server") ","
	"{\"name\":\"name\",\"type\":\"complex\",\"multiValued\":false,\"required\":false,"
	"\"mutability\":\"readWrite\",\"returned\":\"default\",\"subAttributes\":["
	SCIM_ATTR("familyName", "string", "false", "none") ","
	SCIM_ATTR("givenName", "string", "false", "none") "]},"
	"{\"name\":\"emails\",\"type\":\"complex\",\"multiValued\":true,\"required\":false,"
	"\"mutability\":\"readWrite\",\"returned\":\"default\",\"subAttributes\":["
	SCIM_ATTR("value", "string", "false", "none") ","
	SCIM_ATTR("type", "string", "false", "none") ","
	SCIM_ATTR("primary", "boolean", "false", "none") "]},"
	SCIM_ATTR("title", "string", "false", "none") ","
	SCIM_ATTR("userType", "string", "false", "none") ","
	SCIM_ATTR("active", "boolean", "false", "none") "],"
	"\"meta\":{\"resourceType\":\"Schema\"}},"
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" SCIM_ENT_SCHEMA "\","
	"\"name\":\"EnterpriseUser\",\"description\":\"Employee number, organization, manager\","
	"\"attributes\":["
	SCIM_ATTR("employeeNumber", "string", "false", "server") ","
	SCIM_ATTR("organization", "string", "false", "none") ","
	SCIM_ATTR("division", "string", "false", "none") ","
	SCIM_ATTR("department", "string", "false", "none") ","
	"{\"name\":\"manager\",\"type\":\"complex\",\"multiValued\":false,\"required\":false,"
	"\"mutability\":\"readWrite\",\"returned\":\"default\",\"subAttributes\":["
	SCIM_ATTR("value", "string", "false", "none") "]}],"
	"\"meta\":{\"resourceType\":\"Schema\"}},"
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" SCIM_GROUP_SCHEMA "\","
	"\"name\":\"Group\",\"description\":\"A group of people\",\"attributes\":["
	SCIM_ATTR("displayName", "string", "true", "server") ","
	SCIM_ATTR("externalId", "string", "false", "none") ","
	"{\"name\":\"members\",\"type\":\"complex\",\"multiValued\":true,\"required\":false,"
	"\"mutability\":\"readWrite\",\"returned\":\"default\",\"subAttributes\":["
	SCIM_ATTR("value", "string", "false", "none") "]}],"
	"\"meta\":{\"resourceType\":\"Schema\"}}]}";

static int scim_h_static(struct http_req *req, struct http_resp *resp, const char *doc, size_t len)
{
	int r = scim_check(req, resp);

	if (r < 0)
		return r;
	return http_resp_static(resp, 200, SCIM_CTYPE, doc, len);
}

static int scim_h_spc(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	json_t *doc;
	int r = scim_check(req, resp);

	if (r < 0)
		return r;
	/* maxResults is the configured largest page (count is capped to it). */
	doc = json_loads(scim_spc, 0, NULL);
	if (doc)
		json_object_set_new(json_object_get(doc, "filter"), "maxResults", json_integer(app->cfg.max_list));
	return scim_reply(resp, 200, doc);
}

static int scim_h_rtypes(struct http_req *req, struct http_resp *resp)
{
	return scim_h_static(req, resp, scim_rtypes, sizeof(scim_rtypes) - 1);
}

static int scim_h_schemas(struct http_req *req, struct http_resp *resp)
{
	return scim_h_static(req, resp, scim_schemas, sizeof(scim_schemas) - 1);
}

int scim_routes(struct http_server *s)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		http_handler_fn fn;
	} routes[] = {
		{ HTTP_GET | HTTP_POST, "/scim/v2/Users", scim_h_users },
		{ HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, "/scim/v2/Users/{id}", scim_h_user },
		{ HTTP_GET | HTTP_POST, "/scim/v2/Groups", scim_h_groups },
		{ HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, "/scim/v2/Groups/{id}", scim_h_group },
		{ HTTP_GET, "/scim/v2/ServiceProviderConfig", scim_h_spc },
		{ HTTP_GET, "/scim/v2/ResourceTypes", scim_h_rtypes },
		{ HTTP_GET, "/scim/v2/Schemas", scim_h_schemas },
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && r == 0; i++)
		r = http_route(s, routes[i].methods, routes[i].pattern, routes[i].fn,
			       HTTP_AUTH_SCIM | HTTP_BODY_SCIM);
	return r;
}
