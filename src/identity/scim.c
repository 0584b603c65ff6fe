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
 *   when missing.  Without an organization (Microsoft Entra ID sends only a
 *   department) the company is [scim] default_company, and the request is
 *   refused when that is not set.  A department sent without a division
 *   is the one unit of that name below the company (refused when several
 *   have it); when none has it, the unit is created below the person's
 *   division, or below the company.  active may be "True"/"False" strings.  displayName and name.formatted are derived from the names.
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
 * A token acts as its owner (api_tokens.person_id) with the owner's roles
 * of the moment: deactivating, reactivating, moving or renaming (userName)
 * a person holding admin or security_officer whom the owner may not manage
 * (directory.h, DIR_FEED_CHANGE; never the owner themselves) is answered
 * 403 and audited as authz.denied.  Organization, division and department
 * must make a path that people_org_path_check accepts.
 *
 * This file holds the SCIM responses and errors, the discovery documents
 * and the routes; scim_users.c and scim_groups.c the resources, which read
 * the directory and write it only through people.h; scim_filter.c the
 * filter parser.
 */
#include "identity/scim.h"

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
#include "identity/people.h"
#include "identity/scim_internal.h"
#include "store/store.h"

/* ------------------------------------------------------------ responses */

int scim_bad(struct scim_err *e, int err, const char *type, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->type = type;
	e->r.field[0] = '\0';
	e->r.at = 0;
	va_start(ap, fmt);
	vsnprintf(e->r.message, sizeof(e->r.message), fmt, ap);
	va_end(ap);
	return err;
}

int scim_reply(struct http_resp *resp, int status, json_t *body)
{
	return http_resp_json_as(resp, status, SCIM_CTYPE, body);
}

int scim_fail_err(struct http_resp *resp, const struct scim_err *e)
{
	char status[8];
	json_t *b;

	snprintf(status, sizeof(status), "%d", err_http_status(e->err));
	b = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_ERROR_SCHEMA, "status", status,
		      "detail", e->r.message);
	if (b && e->type)
		json_object_set_new(b, "scimType", json_string(e->type));
	scim_reply(resp, err_http_status(e->err), b);
	return e->err;
}

int scim_fail(struct http_resp *resp, int err, const char *type, const char *fmt, ...)
{
	struct scim_err e = { .err = err, .type = type };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.r.message, sizeof(e.r.message), fmt, ap);
	va_end(ap);
	return scim_fail_err(resp, &e);
}

int scim_fail_code(struct http_resp *resp, int err)
{
	return scim_fail(resp, err, NULL, "%s", err_str(err));
}

void scim_base(const struct app *app, char *out, size_t size)
{
	const char *base = app->cfg.public_url[0] ? app->cfg.public_url : app->cfg.listen;
	size_t len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	snprintf(out, size, "%s%.*s/scim/v2", app->cfg.public_url[0] ? "" : "http://", (int)len, base);
}

/* The URL of resource @id of @what ("Users", "Groups"). */
static void scim_url(const struct app *app, const char *what, const char *id, char *out, size_t size)
{
	char base[400];

	scim_base(app, base, sizeof(base));
	snprintf(out, size, "%s/%s/%s", base, what, id);
}

void scim_location(const struct app *app, struct http_resp *resp, const char *what, const char *id)
{
	char loc[480];

	scim_url(app, what, id, loc, sizeof(loc));
	http_resp_header(resp, "Location", loc);
}

json_t *scim_meta(const struct app *app, const char *type, const char *what, const char *id,
			 int64_t created, int64_t modified)
{
	char loc[480];
	json_t *m = json_pack("{s:s}", "resourceType", type);

	if (!m)
		return NULL;
	scim_url(app, what, id, loc, sizeof(loc));
	jsonx_set_time(m, "created", created);
	jsonx_set_time(m, "lastModified", modified);
	jsonx_set_str(m, "location", loc);
	return m;
}

int scim_check(struct http_req *req, struct http_resp *resp)
{
	const struct principal *p = http_req_principal(req);

	if (!principal_is_authenticated(p))
		return scim_fail(resp, ERR_UNAUTHENTICATED, NULL, "a bearer token of scope scim is required");
	if (p->via != VIA_SCIM_TOKEN)
		return scim_fail(resp, ERR_FORBIDDEN, NULL, "only a token of scope scim may use /scim/v2");
	return 0;
}

int scim_start(struct http_req *req, struct http_resp *resp, struct store_conn **ret_c)
{
	struct app *app = http_req_app(req);
	int r = scim_check(req, resp);

	if (r < 0)
		return r;
	*ret_c = store_conn(app->store);
	return *ret_c ? 0 : scim_fail_code(resp, ERR_STORE);
}

int scim_body(struct http_req *req, struct http_resp *resp, json_t **ret)
{
	struct rerr je;

	if (http_req_json(req, ret, &je) < 0)
		return scim_fail(resp, ERR_INVALID, "invalidSyntax", "%s", je.message);
	return 0;
}

int scim_fail_load(struct http_resp *resp, int r, const char *type)
{
	if (r == ERR_NOT_FOUND)
		return scim_fail(resp, ERR_NOT_FOUND, NULL, "no %s has this id", type);
	return scim_fail_code(resp, r);
}

int scim_tx_end(struct http_resp *resp, struct store_conn *c, int r, const struct scim_err *e)
{
	if (r == 0)
		r = store_commit(c);
	if (r == 0)
		return 0;
	store_rollback(c);
	return e && e->r.message[0] ? scim_fail_err(resp, e) : scim_fail_code(resp, r);
}

int scim_writer_begin(struct http_req *req, struct store_conn *c, int64_t now, struct people_writer **ret)
{
	struct people_writer *w;
	int r = people_writer_new(c, "scim", http_req_principal(req)->person_id, now, &w);

	if (r < 0)
		return r;
	r = store_begin(c);
	if (r < 0) {
		people_writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

/* Reads startIndex and count (RFC 7644 3.4.2.4); answers a bad one and returns its error. */
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

/* A ListResponse of @resources (stolen). */
static json_t *scim_list(json_t *resources, int64_t total, int64_t start)
{
	if (!resources)
		return NULL;
	return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_LIST_SCHEMA,
			 "totalResults", (json_int_t)total, "startIndex", (json_int_t)start,
			 "itemsPerPage", (json_int_t)json_array_size(resources), "Resources", resources);
}

int scim_list_answer(struct http_req *req, struct http_resp *resp, struct store_conn *c,
		     const struct scim_list_def *def, void *ud)
{
	struct app *app = http_req_app(req);
	const char *filter = http_req_query(req, "filter"), *where = "";
	struct scim_filter f;
	struct store_arg args[3];
	size_t nargs = 0;
	struct store_stmt *q;
	int64_t start = 1, count = 0, total;
	char why[160];
	json_t *items;
	struct buf sql;
	int r;

	r = scim_page(req, resp, app->cfg.max_list, &start, &count);
	if (r < 0)
		return r;
	if (filter) {
		if ((def->attrs ? scim_filter_parse_attrs(filter, def->attrs, &f, why, sizeof(why))
				: scim_filter_parse(filter, &f, why, sizeof(why))) < 0)
			return scim_fail(resp, ERR_INVALID, "invalidFilter", "%s", why);
		args[nargs++] = SA_TEXT(f.value);
		where = def->where(f.attr);
	}
	buf_init(&sql, 4096);
	buf_printf(&sql, "%s%s", def->count, where);
	r = store_query_i64(c, sql.data, args, nargs, &total);
	if (r < 0) {
		buf_done(&sql);
		return scim_fail_code(resp, r);
	}
	buf_reset(&sql);
	args[nargs++] = SA_I64(count);
	args[nargs++] = SA_I64(start - 1);
	buf_printf(&sql, "%s%s ORDER BY %s LIMIT $%zu OFFSET $%zu", def->select, where, def->order, nargs - 1,
		   nargs);
	r = store_query(c, sql.data, args, nargs, &q);
	buf_done(&sql);
	if (r < 0)
		return scim_fail_code(resp, r);
	items = json_array();
	while (items && (r = store_step(q)) == 1)
		json_array_append_new(items, def->row(q, ud));
	store_stmt_free(q);
	if (r < 0) {
		json_decref(items);
		return scim_fail_code(resp, r);
	}
	return scim_reply(resp, 200, scim_list(items, total, start));
}

int scim_patch_ops(const json_t *body, const json_t **ret_ops, struct scim_err *e)
{
	const json_t *ops = json_object_get(body, "Operations");

	if (!json_is_array(ops) || json_array_size(ops) == 0)
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "Operations must be a non-empty array");
	if (json_array_size(ops) > SCIM_MAX_OPS)
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "at most %d operations per request", SCIM_MAX_OPS);
	*ret_ops = ops;
	return 0;
}

int scim_op_read(const json_t *op, struct scim_op *ret, struct scim_err *e)
{
	const json_t *jop = json_object_get(op, "op"), *jpath = json_object_get(op, "path");
	const char *name = json_is_string(jop) ? json_string_value(jop) : "";
	bool add = !strcasecmp(name, "add"), remove = !strcasecmp(name, "remove");

	if (!add && !remove && strcasecmp(name, "replace"))
		return scim_bad(e, ERR_INVALID, "invalidSyntax", "op must be add, replace or remove");
	if (jpath && !json_is_string(jpath))
		return scim_bad(e, ERR_INVALID, "invalidPath", "path must be a string");
	if (!jpath && remove)
		return scim_bad(e, ERR_INVALID, "noTarget", "remove needs a path");
	*ret = (struct scim_op){
		.name = name, .path = jpath ? json_string_value(jpath) : NULL,
		.value = json_object_get(op, "value"), .add = add, .remove = remove,
	};
	return 0;
}

int scim_str(const json_t *v, char *dst, size_t size, bool clearable, const char *attr,
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

/* A complex attribute of a Schema with the sub-attributes @subs. */
#define SCIM_COMPLEX(name, multi, subs) \
	"{\"name\":\"" name "\",\"type\":\"complex\",\"multiValued\":" multi ",\"required\":false," \
	"\"mutability\":\"readWrite\",\"returned\":\"default\",\"subAttributes\":[" subs "]}"

/* One Schema resource of id @id with the attributes @attrs. */
#define SCIM_SCHEMA(id, name, desc, attrs) \
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" id "\"," \
	"\"name\":\"" name "\",\"description\":\"" desc "\",\"attributes\":[" attrs "]," \
	"\"meta\":{\"resourceType\":\"Schema\"}}"

static const char scim_schemas[] =
	"{\"schemas\":[\"" SCIM_LIST_SCHEMA "\"],\"totalResults\":3,\"startIndex\":1,\"itemsPerPage\":3,"
	"\"Resources\":["
	SCIM_SCHEMA(SCIM_USER_SCHEMA, "User", "A person of the directory",
		SCIM_ATTR("userName", "string", "true", "server") ","
		SCIM_ATTR("externalId", "string", "false", "server") ","
		SCIM_COMPLEX("name", "false",
			SCIM_ATTR("familyName", "string", "false", "none") ","
			SCIM_ATTR("givenName", "string", "false", "none")) ","
		SCIM_COMPLEX("emails", "true",
			SCIM_ATTR("value", "string", "false", "none") ","
			SCIM_ATTR("type", "string", "false", "none") ","
			SCIM_ATTR("primary", "boolean", "false", "none")) ","
		SCIM_ATTR("title", "string", "false", "none") ","
		SCIM_ATTR("userType", "string", "false", "none") ","
		SCIM_ATTR("active", "boolean", "false", "none")) ","
	SCIM_SCHEMA(SCIM_ENT_SCHEMA, "EnterpriseUser", "Employee number, organization, manager",
		SCIM_ATTR("employeeNumber", "string", "false", "server") ","
		SCIM_ATTR("organization", "string", "false", "none") ","
		SCIM_ATTR("division", "string", "false", "none") ","
		SCIM_ATTR("department", "string", "false", "none") ","
		SCIM_COMPLEX("manager", "false", SCIM_ATTR("value", "string", "false", "none"))) ","
	SCIM_SCHEMA(SCIM_GROUP_SCHEMA, "Group", "A group of people",
		SCIM_ATTR("displayName", "string", "true", "server") ","
		SCIM_ATTR("externalId", "string", "false", "none") ","
		SCIM_COMPLEX("members", "true", SCIM_ATTR("value", "string", "false", "none")))
	"]}";

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
