/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hr_report: an HR import's plan as JSON: the report, the changes kept in person_history (hr_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "identity/hr_internal.h"

/* Changes listed in a report. */
#define HR_MAX_CHANGES_REPORTED 1000

static const char *const hr_action_names[] = { "", "new", "moved", "changed", "retired", "unchanged" };

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

json_t *hr_change_json(const struct hr_plan *pl, long i)
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

json_t *hr_retire_json(const struct hr_db_person *d)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}}", "employee_number", d->emp,
			 "action", "retired", "reason", "not in the full snapshot",
			 "before", "status", d->status, "after", "status", "retired");
}

json_t *hr_counts_json(const struct hr_plan *pl, const struct hr_parse_result *res)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "new", (json_int_t)(pl ? pl->counts[HR_A_NEW] : 0),
			 "moved", (json_int_t)(pl ? pl->counts[HR_A_MOVED] : 0),
			 "changed", (json_int_t)(pl ? pl->counts[HR_A_CHANGED] : 0),
			 "retired", (json_int_t)(pl ? pl->counts[HR_A_RETIRED] + pl->snapshot_retired : 0),
			 "unchanged", (json_int_t)(pl ? pl->counts[HR_A_UNCHANGED] : 0),
			 "errors", (json_int_t)res->nerrors);
}

json_t *hr_report(const struct hr_plan *pl, struct hr_parse_result *res, const struct hr_options *opt)
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
