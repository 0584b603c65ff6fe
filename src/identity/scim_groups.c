/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim_groups: /scim/v2/Groups (scim.h): groups and their members, read
 * here and written through people.h; a request's operations run in order
 * in one transaction with one audit entry.
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
#include "identity/people.h"
#include "identity/scim_filter.h"
#include "identity/scim_internal.h"
#include "store/store.h"

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
	struct people_writer *w;     /* the writes, at time @now */
	int64_t now;
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

		r = people_group_member_add(t->w, t->g->id, pid);
		if (r == ERR_NOT_FOUND)
			return scim_bad(e, ERR_INVALID, "invalidValue", "member %s is not a known person", pid);
		if (r < 0)
			return r;
		t->added += r;
	}
	return 0;
}

/* Removes person @pid, or every member when @pid is NULL. */
static int scim_members_remove(struct scim_group_tx *t, const char *pid)
{
	int r = people_group_member_remove(t->w, t->g->id, pid);

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
	if (scim_filter_parse_attrs(inner, attrs, &f, why, sizeof(why)) < 0)
		return scim_bad(e, ERR_INVALID, "invalidFilter", "%s", why);
	if (!ids_is_ulid(f.value))
		return scim_bad(e, ERR_INVALID, "invalidValue", "the member value must be a person id");
	memcpy(ret_id, f.value, ULID_SIZE);
	return 0;
}

/* Applies one PATCH operation; member changes go to the database at once, in order. */
static int scim_group_op(struct scim_group_tx *t, const json_t *jop, struct scim_err *e)
{
	struct scim_group *g = t->g;
	const json_t *members;
	struct scim_op op;
	char one[ULID_SIZE];
	int r = scim_op_read(jop, &op, e);

	if (r < 0)
		return r;
	if (!op.path) {
		r = scim_group_attrs(g, op.value, &members, e);
		if (r < 0 || !members)
			return r;
		return op.add ? scim_members_add(t, members, e) : scim_members_replace(t, members, e);
	}
	if (!strcasecmp(op.path, "members")) {
		if (op.remove && !op.value)
			return scim_members_remove(t, NULL);
		if (scim_members_check(op.value, e) < 0)
			return e->err;
		if (op.add)
			return scim_members_add(t, op.value, e);
		if (!op.remove)
			return scim_members_replace(t, op.value, e);
		for (size_t i = 0; i < json_array_size(op.value); i++) {
			r = scim_members_remove(t, json_string_value(json_object_get(json_array_get(op.value, i),
										 "value")));
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!strncasecmp(op.path, "members[", 8)) {
		if (!op.remove)
			return scim_bad(e, ERR_INVALID, "invalidPath", "use remove with members[value eq \"id\"]");
		r = scim_member_path(op.path, one, e);
		return r < 0 ? r : scim_members_remove(t, one);
	}
	if (!strcasecmp(op.path, "displayName"))
		return scim_str(op.remove ? NULL : op.value, g->name, sizeof(g->name), false, "displayName", e);
	if (!strcasecmp(op.path, "externalId"))
		return scim_str(op.remove ? NULL : op.value, g->external_id, sizeof(g->external_id), true,
				"externalId", e);
	return scim_bad(e, ERR_INVALID, "invalidPath", "attribute '%.60s' is not supported", op.path);
}

/* Writes the group's row (inserted when @create), then audits @action. */
static int scim_group_save(struct scim_group_tx *t, bool create, const char *action, struct scim_err *e)
{
	struct scim_group *g = t->g;
	int64_t now = t->now;
	int r;

	r = create ? people_group_create(t->w, g->id, g->name, g->external_id)
		   : people_group_update(t->w, g->id, g->name, g->external_id);
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
	struct scim_group_tx t = { .req = req, .c = c, .g = g, .now = rtime_now_ms() };
	struct scim_err e = { 0 };
	const json_t *members = NULL, *ops = NULL;
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
	} else if (scim_patch_ops(body, &ops, &e) < 0) {
		return scim_fail_err(resp, &e);
	}
	r = scim_writer_begin(req, c, t.now, &t.w);
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
		const json_t *op;
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
	people_writer_free(t.w);
	r = scim_tx_end(resp, c, r, &e);
	if (r < 0)
		return r;
	if (m == HTTP_POST)
		scim_location(app, resp, "Groups", g->id);
	return scim_reply(resp, m == HTTP_POST ? 201 : 200, scim_group_json(app, c, g, true));
}

static bool scim_without_members(struct http_req *req)
{
	const char *x = http_req_query(req, "excludedAttributes");

	return x && strcasestr(x, "members") != NULL;
}

/* What a row of the groups list needs to become a Group. */
struct scim_groups_ctx {
	const struct app *app;
	struct store_conn *c;
	bool members;
};

/* A row (the group's id) of the list as a Group; NULL when it cannot be read. */
static json_t *scim_group_item(struct store_stmt *q, void *ud)
{
	const struct scim_groups_ctx *x = ud;
	struct scim_group g;

	if (scim_group_load(x->c, store_col_text(q, 0), &g) != 0)
		return NULL;
	return scim_group_json(x->app, x->c, &g, x->members);
}

/* The WHERE of a filter on displayName or externalId. */
static const char *scim_groups_where(const char *attr)
{
	return !strcmp(attr, "displayName") ? " WHERE name = $1" : " WHERE external_id = $1";
}

static int scim_groups_list(struct http_req *req, struct http_resp *resp, struct store_conn *c)
{
	static const char *const attrs[] = { "displayName", "externalId", NULL };
	static const struct scim_list_def def = {
		.attrs = attrs, .where = scim_groups_where, .count = "SELECT count(*) FROM groups",
		.select = "SELECT id FROM groups", .order = "id", .row = scim_group_item,
	};
	struct scim_groups_ctx x = { .app = http_req_app(req), .c = c, .members = !scim_without_members(req) };

	return scim_list_answer(req, resp, c, &def, &x);
}

int scim_group_body_check(const json_t *body, struct scim_err *e)
{
	struct scim_group g = { { 0 } };
	const json_t *members;

	return scim_group_attrs(&g, body, &members, e);
}

int scim_h_groups(struct http_req *req, struct http_resp *resp)
{
	struct scim_group g = { { 0 } };
	struct store_conn *c;
	json_t *body;
	int r;

	if ((r = scim_start(req, resp, &c)) < 0)
		return r;
	if (http_req_method(req) == HTTP_GET)
		return scim_groups_list(req, resp, c);
	if ((r = scim_body(req, resp, &body)) < 0)
		return r;
	ids_ulid(g.id, rtime_now_ms());
	return scim_group_run(req, resp, c, &g, HTTP_POST, body);
}

int scim_h_group(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	enum http_method m = http_req_method(req);
	struct store_conn *c;
	struct scim_group g;
	json_t *body;
	int r;

	if ((r = scim_start(req, resp, &c)) < 0)
		return r;
	r = scim_group_load(c, http_req_param(req, "id"), &g);
	if (r < 0)
		return scim_fail_load(resp, r, "Group");
	if (m == HTTP_GET)
		return scim_reply(resp, 200, scim_group_json(app, c, &g, !scim_without_members(req)));
	if (m == HTTP_DELETE) {
		struct people_writer *w;

		r = scim_writer_begin(req, c, rtime_now_ms(), &w);
		if (r == 0) {
			r = people_group_delete(w, g.id);
			people_writer_free(w);
		}
		if (r >= 0)
			r = audit_req(req, c, "scim.group.delete", "group", g.id, AUDIT_SUCCESS,
				      json_pack("{s:s}", "displayName", g.name));
		r = scim_tx_end(resp, c, r, NULL);
		if (r < 0)
			return r;
		http_resp_status(resp, 204);
		return 0;
	}
	if ((r = scim_body(req, resp, &body)) < 0)
		return r;
	return scim_group_run(req, resp, c, &g, m, body);
}
