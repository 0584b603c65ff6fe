/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr_apply: phase 3 of the HR import and the import as a whole
 * (hr_internal.h): the refusals (bad lines, no administrator left, the
 * retire threshold), then the plan written through people.h in one
 * transaction with its audit entry and those of the changes refused to
 * the actor (which a refused import records after its rollback).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rtime.h"
#include "identity/hr_internal.h"
#include "identity/people.h"
#include "store/store.h"

/* The fields of row @i as people.h writes them. */
static struct people_rec hr_rec(const struct hr_plan *pl, long i)
{
	const struct hr_row *row = &pl->res->rows[i];
	const struct hr_prow *p = &pl->pr[i];

	return (struct people_rec){
		.login = p->login, .employee_number = row->employee_number, .family_name = row->family_name,
		.given_name = row->given_name, .email = row->email, .org_unit_id = pl->units[p->unit].id,
		.title = row->title, .status = row->status, .kind = row->kind,
		.manager_id = hr_row_manager_id(pl, i),
	};
}

static int hr_apply_units(struct hr_plan *pl, struct people_writer *w)
{
	int r;

	for (size_t k = 0; k < pl->nunits; k++) {
		const struct hr_unit *u = &pl->units[k];

		if (u->created) {
			r = people_org_insert(w, u->id, u->parent >= 0 ? pl->units[u->parent].id : NULL, u->path,
					      u->kind);
			if (r < 0)
				return r;
		}
		if (u->rekind) {
			r = people_org_rekind(w, u->path, u->kind);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* New people, in the order of the plan's ids. */
static int hr_apply_new(struct hr_plan *pl, struct people_writer *w)
{
	int r = 0;

	for (size_t k = 0; k < pl->nnew && r >= 0; k++) {
		long j = pl->new_order[k];
		struct people_rec rec = hr_rec(pl, j);
		json_t *change = hr_change_json(pl, j);

		r = change ? people_create(w, pl->pr[j].id, &rec, change) : -ENOMEM;
	}
	return r < 0 ? r : 0;
}

static int hr_apply_updates(struct hr_plan *pl, struct people_writer *w, long *ret_revoked)
{
	struct hr_parse_result *res = pl->res;
	int r = 0;

	for (size_t i = 0; i < res->nrows && r >= 0; i++) {
		struct hr_prow *p = &pl->pr[i];
		struct people_rec rec;
		json_t *change;
		int revoked = 0;

		if (!res->rows[i].valid || p->db < 0 || p->action == HR_A_UNCHANGED)
			continue;
		rec = hr_rec(pl, (long)i);
		change = hr_change_json(pl, (long)i);
		r = change ? people_update(w, p->id, &rec, pl->db[p->db].status, change, &revoked) : -ENOMEM;
		*ret_revoked += revoked;
	}
	return r < 0 ? r : 0;
}

static int hr_apply_snapshot(struct hr_plan *pl, struct people_writer *w, long *ret_revoked)
{
	int r = 0;

	for (size_t k = 0; k < pl->ndb && r >= 0; k++) {
		const struct hr_db_person *d = &pl->db[k];
		json_t *change;
		int revoked = 0;

		if (!d->retire)
			continue;
		change = hr_retire_json(d);
		r = change ? people_retire(w, d->id, change, &revoked) : -ENOMEM;
		*ret_revoked += revoked;
	}
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

/*
 * Appends an authz.denied entry for each change the plan refused because
 * its actor may not manage the person (hr.h): nothing when there is none.
 * Returns 0 or the first error.
 */
static int hr_audit_denied(const struct hr_plan *pl, struct store_conn *c)
{
	const struct hr_options *opt = pl->opt;
	static const struct { unsigned bit; const char *name; } fields[] = {
		{ HR_D_STATUS, "status" }, { HR_D_ORG, "org_unit" }, { HR_D_LOGIN, "login" },
	};
	int r = 0;

	for (size_t i = 0; pl->pr && i < pl->res->nrows + pl->ndb && r == 0; i++) {
		const struct hr_db_person *d;
		struct audit_entry e;
		json_t *details, *changes;
		long line = 0;

		if (i < pl->res->nrows) {
			if (!pl->pr[i].denied)
				continue;
			d = &pl->db[pl->pr[i].db];
			line = pl->res->rows[i].line;
		} else {
			d = &pl->db[i - pl->res->nrows];
			if (!d->denied)
				continue;
		}
		changes = json_array();
		for (size_t k = 0; changes && k < sizeof(fields) / sizeof(fields[0]); k++)
			if (i >= pl->res->nrows ? fields[k].bit == HR_D_STATUS : (pl->pr[i].denied & fields[k].bit))
				json_array_append_new(changes, json_string(fields[k].name));
		details = json_pack("{s:s, s:s, s:I, s:o*}", "feed", "hr", "action", "feed_change",
				    "line", (json_int_t)line, "changes", changes);
		if (details && i >= pl->res->nrows)
			json_object_set_new(details, "reason", json_string("not in the full snapshot"));
		e = (struct audit_entry){
			.actor_id = opt->actor_id, .actor_login = opt->actor_login,
			.source = opt->remote ? opt->remote : "system", .action = "authz.denied",
			.object_type = "person", .object_id = d->id, .outcome = AUDIT_DENIED,
			.details = details, .request_id = opt->request_id,
		};
		r = details ? audit_append(c, &e) : -ENOMEM;
		json_decref(details);
	}
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
	struct people_writer *w;
	long revoked = 0;
	json_t *details;
	int r;

	r = people_writer_new(c, hr_source(pl->opt), pl->opt->actor_id, pl->now, &w);
	if (r < 0)
		return r;
	r = hr_apply_units(pl, w);
	if (r == 0)
		r = hr_apply_new(pl, w);
	if (r == 0)
		r = hr_apply_updates(pl, w, &revoked);
	if (r == 0)
		r = hr_apply_snapshot(pl, w, &revoked);
	people_writer_free(w);
	if (r < 0)
		return r;
	details = hr_audit_details(pl, pl->res, pl->opt, NULL);
	if (details)
		json_object_set_new(details, "credentials_revoked", json_integer(revoked));
	r = hr_audit(c, pl->opt, AUDIT_SUCCESS, details);
	return r < 0 ? r : hr_audit_denied(pl, c);
}

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
	r = hr_plan_make(&pl, c);
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
		hr_audit_denied(&pl, c);
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
