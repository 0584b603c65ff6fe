/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr_plan: phase 2 of the HR import (hr_internal.h): the parsed file
 * against the directory as people.h reads it, one action per record, the
 * retirements of a full snapshot and the org units to create.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "identity/directory.h"
#include "identity/hr_internal.h"
#include "identity/people.h"

/* A new lowercase copy of @s (ASCII letters only are folded), or NULL. */
static char *hr_lower_dup(const char *s)
{
	char *d = strdup(s);

	if (d)
		for (char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

const char *hr_source(const struct hr_options *opt)
{
	return opt->source && *opt->source ? opt->source : "csv";
}

void hr_plan_done(struct hr_plan *pl)
{
	for (size_t i = 0; i < pl->ndb; i++)
		free(pl->db[i].id);
	free(pl->db);
	if (pl->pr)
		for (size_t i = 0; i < pl->res->nrows; i++)
			free(pl->pr[i].login);
	free(pl->pr);
	free(pl->dep_head);
	free(pl->work);
	free(pl->new_order);
	for (size_t i = 0; i < pl->nunits; i++)
		free(pl->units[i].path);
	free(pl->units);
	hr_map_done(&pl->row_by_emp);
	hr_map_done(&pl->db_by_emp);
	hr_map_done(&pl->db_by_id);
	hr_map_done(&pl->db_by_login);
	hr_map_done(&pl->new_logins);
	hr_map_done(&pl->unit_by_path);
}

/* Keeps one stored person (people_scan's callback). */
static int hr_load_person(const struct people_row *row, void *ud)
{
	struct hr_plan *pl = ud;
	const char *v[12] = {
		row->id, row->employee_number, row->login, row->family_name, row->given_name, row->email,
		row->org_path, row->title, row->status, row->kind, row->source, row->manager_id,
	};
	struct hr_db_person *d;
	size_t total = 0;
	char *block;

	if (pl->ndb == pl->cap_db) {
		size_t cap = pl->cap_db ? pl->cap_db * 2 : 1024;
		struct hr_db_person *nd = realloc(pl->db, cap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		pl->db = nd;
		pl->cap_db = cap;
	}
	for (int k = 0; k < 12; k++)
		total += strlen(v[k]) + 1;
	block = malloc(total);
	if (!block)
		return -ENOMEM;
	d = &pl->db[pl->ndb++];
	memset(d, 0, sizeof(*d));
	{
		char **dst[12] = { &d->id, &d->emp, &d->login, &d->family, &d->given, &d->email,
				   &d->org_path, &d->title, &d->status, &d->kind, &d->source,
				   &d->manager_id };

		for (int k = 0; k < 12; k++) {
			size_t len = strlen(v[k]) + 1;

			memcpy(block, v[k], len);
			*dst[k] = block;
			block += len;
		}
	}
	d->mgr = -1;
	d->row = -1;
	d->hr = !strcmp(d->source, "csv") || !strcmp(d->source, "seed");
	return 0;
}

/* Notes a grant of admin or security_officer on the stored person (people_each_grant's callback). */
static int hr_load_grant(const char *id, unsigned role, void *ud)
{
	struct hr_plan *pl = ud;
	long k = hr_map_get(&pl->db_by_id, id);

	if (k >= 0)
		pl->db[k].roles |= role;
	return 0;
}

static int hr_load_people(struct hr_plan *pl, struct store_conn *c)
{
	int r = people_scan(c, hr_load_person, pl);

	if (r < 0)
		return r;
	if (hr_map_reserve(&pl->db_by_id, pl->ndb) < 0 || hr_map_reserve(&pl->db_by_emp, pl->ndb) < 0 ||
	    hr_map_reserve(&pl->db_by_login, pl->ndb) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < pl->ndb; i++) {
		struct hr_db_person *d = &pl->db[i];

		if (hr_map_put(&pl->db_by_id, d->id, (long)i, NULL) < 0 ||
		    hr_map_put(&pl->db_by_login, d->login, (long)i, NULL) < 0 ||
		    (*d->emp && hr_map_put(&pl->db_by_emp, d->emp, (long)i, NULL) < 0))
			return -ENOMEM;
		if (d->hr && *d->emp && strcmp(d->status, "retired") != 0)
			pl->hr_active++;
	}
	for (size_t i = 0; i < pl->ndb; i++)
		pl->db[i].mgr = *pl->db[i].manager_id ? hr_map_get(&pl->db_by_id, pl->db[i].manager_id) : -1;
	return people_each_grant(c, ROLE_ADMIN | ROLE_SECURITY_OFFICER, hr_load_grant, pl);
}

static int hr_unit_add(struct hr_plan *pl, const char *path, const char *id, const char *kind,
		       bool created, long *ret)
{
	struct hr_unit *u;
	char *p;
	int r;

	if (pl->nunits == pl->cap_units) {
		size_t cap = pl->cap_units ? pl->cap_units * 2 : 64;
		struct hr_unit *nu = realloc(pl->units, cap * sizeof(*nu));

		if (!nu)
			return -ENOMEM;
		pl->units = nu;
		pl->cap_units = cap;
	}
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	r = hr_map_put(&pl->unit_by_path, p, (long)pl->nunits, NULL);
	if (r != 0) {
		free(p);
		return r < 0 ? r : -EEXIST;
	}
	u = &pl->units[pl->nunits];
	memset(u, 0, sizeof(*u));
	u->path = p;
	u->parent = -1;
	u->depth = hr_path_depth(p);
	u->created = created;
	u->want_line = 0;
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->kind, sizeof(u->kind), "%s", kind);
	*ret = (long)pl->nunits++;
	return 0;
}

/* Keeps one stored unit (people_org_scan's callback). */
static int hr_load_unit(const struct org_unit_row *row, void *ud)
{
	struct hr_plan *pl = ud;
	long idx;
	int r = hr_unit_add(pl, row->path, row->id, row->kind, false, &idx);

	if (r == -EEXIST)
		r = 0;
	if (r < 0)
		return r;
	if (row->level && !strcmp(row->level, "company") && !strcmp(row->kind, "own"))
		pl->own_exists = true;
	return 0;
}

static int hr_load_units(struct hr_plan *pl, struct store_conn *c)
{
	return people_org_scan(c, hr_load_unit, pl);
}

/* Node helpers over stored people (0..ndb-1) and new rows (ndb + row). */
static long hr_node_of_row(const struct hr_plan *pl, long i)
{
	return pl->pr[i].db >= 0 ? pl->pr[i].db : (long)pl->ndb + i;
}

static long hr_pg_node_of(void *ud, long row)
{
	return hr_node_of_row(ud, row);
}

static long hr_pg_row_of(void *ud, long node)
{
	struct hr_plan *pl = ud;
	long i = node < (long)pl->ndb ? pl->db[node].row : node - (long)pl->ndb;

	return (i >= 0 && pl->res->rows[i].valid) ? i : -1;
}

static long hr_pg_manager_of(void *ud, long node)
{
	struct hr_plan *pl = ud;
	long i = hr_pg_row_of(ud, node);

	if (i < 0)
		return node < (long)pl->ndb ? pl->db[node].mgr : -1;
	if (pl->pr[i].mgr_row >= 0)
		return hr_node_of_row(pl, pl->pr[i].mgr_row);
	return pl->pr[i].mgr_db;
}

static const char *hr_pg_name_of(void *ud, long node)
{
	struct hr_plan *pl = ud;

	if (node >= (long)pl->ndb)
		return pl->res->rows[node - (long)pl->ndb].employee_number;
	return *pl->db[node].emp ? pl->db[node].emp : pl->db[node].login;
}

/* Marks row @i bad and queues it so that the rows it manages are looked at again. */
static void hr_plan_fail(struct hr_plan *pl, long i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void hr_plan_fail(struct hr_plan *pl, long i, const char *fmt, ...)
{
	struct hr_row *row = &pl->res->rows[i];
	va_list ap;

	if (!row->valid)
		return;
	row->valid = false;
	va_start(ap, fmt);
	hr_error_v(pl->res, row->line, fmt, ap);
	va_end(ap);
	pl->work[pl->nwork++] = i;
}

static void hr_cascade(struct hr_plan *pl);

/* An error that belongs to no line of the file (reported as line 0). */
static void hr_plan_error(struct hr_plan *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hr_plan_error(struct hr_plan *pl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hr_error_v(pl->res, 0, fmt, ap);
	va_end(ap);
}

/*
 * Resolves every valid row's manager to a valid row or a stored person.
 * A manager on a bad line falls back to the stored person of that number;
 * without one the row is bad too, which in turn is looked at for its own
 * reports: the work list makes this linear.
 */
static void hr_resolve_managers(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	for (size_t i = 0; i < res->nrows; i++) {
		struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		long j;

		if (!row->valid || !*row->manager)
			continue;
		j = hr_map_get(&pl->row_by_emp, row->manager);
		if (j >= 0 && res->rows[j].valid) {
			p->mgr_row = j;
			continue;
		}
		p->mgr_db = hr_map_get(&pl->db_by_emp, row->manager);
		if (p->mgr_db >= 0)
			continue;
		if (j >= 0)
			hr_plan_fail(pl, (long)i, "manager %s is on line %ld, which has errors",
				     row->manager, res->rows[j].line);
		else
			hr_plan_fail(pl, (long)i, "manager %s is not a known employee number", row->manager);
	}
	hr_cascade(pl);
}

/* Looks again at the rows managed by the rows on the work list. */
static void hr_cascade(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	while (pl->nwork) {
		long j = pl->work[--pl->nwork];
		struct hr_row *bad = &res->rows[j];
		long k = hr_map_get(&pl->db_by_emp, bad->employee_number);

		for (long d = pl->dep_head[j]; d >= 0; d = pl->pr[d].dep_next) {
			if (!res->rows[d].valid || pl->pr[d].mgr_row != j)
				continue;
			pl->pr[d].mgr_row = -1;
			if (k >= 0)
				pl->pr[d].mgr_db = k;
			else
				hr_plan_fail(pl, d, "manager %s is on line %ld, which has errors",
					     res->rows[d].manager, bad->line);
		}
	}
}

/* Matches rows to stored people by employee number, and links each row to the rows it manages. */
static int hr_plan_index(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	size_t n = res->nrows;

	pl->pr = calloc(n ? n : 1, sizeof(*pl->pr));
	pl->dep_head = malloc((n ? n : 1) * sizeof(*pl->dep_head));
	pl->work = malloc((n ? n : 1) * sizeof(*pl->work));
	if (!pl->pr || !pl->dep_head || !pl->work || hr_map_reserve(&pl->row_by_emp, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hr_row *row = &res->rows[i];
		long k;

		pl->pr[i].db = pl->pr[i].mgr_row = pl->pr[i].mgr_db = pl->pr[i].unit = -1;
		pl->pr[i].dep_next = -1;
		pl->dep_head[i] = -1;
		if (!*row->employee_number)
			continue;
		if (hr_map_put(&pl->row_by_emp, row->employee_number, (long)i, NULL) < 0)
			return -ENOMEM;
		k = hr_map_get(&pl->db_by_emp, row->employee_number);
		if (k < 0)
			continue;
		pl->db[k].seen = true;
		if (row->valid) {
			pl->pr[i].db = k;
			pl->db[k].row = (long)i;
		}
	}
	/* Bad lines from parsing are the first entries of the work list. */
	for (size_t i = 0; i < n; i++) {
		long j;

		if (!res->rows[i].valid) {
			pl->work[pl->nwork++] = (long)i;
			continue;
		}
		if (!*res->rows[i].manager)
			continue;
		j = hr_map_get(&pl->row_by_emp, res->rows[i].manager);
		if (j >= 0) {
			pl->pr[i].dep_next = pl->dep_head[j];
			pl->dep_head[j] = (long)i;
		}
	}
	return 0;
}

static int hr_plan_rows(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	size_t n = res->nrows;
	struct hr_map company_kind = { 0 };
	int r = hr_plan_index(pl);

	if (r < 0)
		return r;
	/* Logins, and one kind per company. */
	for (size_t i = 0; i < n; i++) {
		struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		long other;
		char *derived;

		if (!row->valid)
			continue;
		derived = *row->email ? hr_lower_dup(row->email) : strdup(row->employee_number);
		if (!derived) {
			r = -ENOMEM;
			goto out;
		}
		if (p->db >= 0) {
			struct hr_db_person *d = &pl->db[p->db];
			char *was = *d->email ? hr_lower_dup(d->email) : strdup(d->emp);

			if (!was) {
				free(derived);
				r = -ENOMEM;
				goto out;
			}
			/* A login set by hand stays; a derived one follows the email. */
			if (strcmp(d->login, was) != 0) {
				free(derived);
				derived = strdup(d->login);
			}
			free(was);
			if (!derived) {
				r = -ENOMEM;
				goto out;
			}
		}
		p->login = derived;
		other = hr_map_get(&pl->db_by_login, derived);
		if (other >= 0 && other != p->db) {
			hr_plan_fail(pl, (long)i, "login %s is already used by another person", derived);
			continue;
		}
		r = hr_map_put(&pl->new_logins, p->login, (long)i, &other);
		if (r < 0)
			goto out;
		if (r == 1) {
			r = 0;
			hr_plan_fail(pl, (long)i, "login %s is also the login of line %ld", derived,
				     res->rows[other].line);
			continue;
		}
		r = 0;
		if (*row->org_kind && hr_path_depth(row->org_unit) >= 2) {
			const char *slash = strchr(row->org_unit, '/');
			const char *end = strchr(slash + 1, '/');
			size_t len = end ? (size_t)(end - row->org_unit) : strlen(row->org_unit);
			char *company = strndup(row->org_unit, len);
			long first = -1;

			if (!company) {
				r = -ENOMEM;
				goto out;
			}
			r = hr_map_put(&company_kind, company, (long)i, &first);
			if (r != 0)
				free(company);
			if (r < 0)
				goto out;
			if (r == 1 && strcmp(res->rows[first].org_kind, row->org_kind) != 0) {
				hr_plan_fail(pl, (long)i, "org_kind %s conflicts with %s given for the same "
					     "company on line %ld", row->org_kind, res->rows[first].org_kind,
					     res->rows[first].line);
			}
			r = 0;
		}
	}
	hr_resolve_managers(pl);
	{
		struct hr_graph g = {
			.rows = res->rows, .nrows = n, .ndb = pl->ndb,
			.manager_of = hr_pg_manager_of, .row_of = hr_pg_row_of,
			.node_of = hr_pg_node_of, .name_of = hr_pg_name_of, .ud = pl,
		};
		long m;

		/* Marking a row bad brings back its stored manager, which may close another loop. */
		while ((m = hr_find_cycles(&g, res, pl->work, &pl->nwork)) > 0)
			hr_cascade(pl);
		if (m < 0) {
			r = (int)m;
			goto out;
		}
	}
out:
	for (size_t i = 0; i < company_kind.cap; i++)
		free((char *)company_kind.keys[i]);
	hr_map_done(&company_kind);
	return r;
}

const char *hr_row_manager_id(const struct hr_plan *pl, long i)
{
	const struct hr_prow *p = &pl->pr[i];

	if (p->mgr_row >= 0)
		return pl->pr[p->mgr_row].id;
	if (p->mgr_db >= 0)
		return pl->db[p->mgr_db].id;
	return NULL;
}

static int hr_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Orders the new rows so that managers come before their reports, and gives
 * them ids that grow in that order: ULIDs made in one millisecond differ
 * only by their random part, and inserting them sorted keeps the indexes
 * appending instead of touching pages all over the database.
 */
static int hr_plan_new_ids(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	char (*ids)[ULID_SIZE];
	size_t k = 0;

	pl->new_order = malloc((res->nrows ? res->nrows : 1) * sizeof(*pl->new_order));
	if (!pl->new_order)
		return -ENOMEM;
	for (size_t i = 0; i < res->nrows; i++) {
		size_t start = k;

		/* Walk up to the first manager already placed (or stored), then place the chain top-down. */
		for (long j = (long)i; j >= 0 && res->rows[j].valid && pl->pr[j].db < 0 && !pl->pr[j].emitted;
		     j = pl->pr[j].mgr_row) {
			pl->pr[j].emitted = true;
			pl->new_order[k++] = j;
		}
		for (size_t a = start, b = k; a + 1 < b; a++, b--) {
			long t = pl->new_order[a];

			pl->new_order[a] = pl->new_order[b - 1];
			pl->new_order[b - 1] = t;
		}
	}
	pl->nnew = k;
	ids = malloc((k ? k : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		ids_ulid(ids[i], pl->now);
	qsort(ids, k, sizeof(*ids), hr_id_cmp);
	for (size_t i = 0; i < k; i++)
		memcpy(pl->pr[pl->new_order[i]].id, ids[i], ULID_SIZE);
	free(ids);
	return 0;
}

/* Whether the import's actor may make a guarded change (HR_D_GUARDED, retiring) to @d (directory.h). */
static bool hr_may_change(const struct hr_plan *pl, const struct hr_db_person *d)
{
	const struct dir_target t = { .person_id = d->id, .org_path = d->org_path, .roles = d->roles };

	return !pl->opt->actor || directory_may(pl->opt->actor, DIR_FEED_CHANGE, &t);
}

/* The guarded role @d holds and who may make guarded changes to them, for messages. */
static void hr_guard_names(const struct hr_db_person *d, const char **ret_role, const char **ret_who)
{
	bool admin = (d->roles & ROLE_ADMIN) != 0;

	*ret_role = admin ? "admin" : "security_officer";
	*ret_who = admin ? "an admin" : "an admin or security_officer";
}

/* Refuses row @i, whose guarded changes @guarded to @d the actor may not make. */
static void hr_deny_row(struct hr_plan *pl, long i, const struct hr_db_person *d, unsigned guarded)
{
	const struct hr_row *row = &pl->res->rows[i];
	const char *verbs[3], *role, *who;
	char what[80] = "";
	size_t n = 0, len = 0;

	if (guarded & HR_D_STATUS)
		verbs[n++] = !strcmp(row->status, "retired") ? "retire" : "change the status of";
	if (guarded & HR_D_ORG)
		verbs[n++] = "move";
	if (guarded & HR_D_LOGIN)
		verbs[n++] = "change the login of";
	for (size_t k = 0; k < n; k++)
		len += (size_t)snprintf(what + len, sizeof(what) - len, "%s%s",
					k == 0 ? "" : k + 1 == n ? " or " : ", ", verbs[k]);
	hr_guard_names(d, &role, &who);
	pl->pr[i].denied = guarded;
	if (!strcmp(pl->opt->actor->person_id, d->id))
		hr_plan_fail(pl, i, "this line would %s you, and you hold %s: another person, %s, must "
			     "import it", what, role, who);
	else
		hr_plan_fail(pl, i, "%s holds %s: only %s may %s them", row->employee_number, role, who, what);
}

/* Refuses the retirement of @d, missing from a full snapshot, which the actor may not make. */
static void hr_deny_snapshot(struct hr_plan *pl, struct hr_db_person *d)
{
	const char *role, *who;

	hr_guard_names(d, &role, &who);
	d->denied = true;
	if (!strcmp(pl->opt->actor->person_id, d->id))
		hr_plan_error(pl, "you (%s) are missing from this full snapshot and hold %s: another person, "
			      "%s, must import it", d->emp, role, who);
	else
		hr_plan_error(pl, "%s is missing from this full snapshot but holds %s: only %s may retire "
			      "them", d->emp, role, who);
}

/* One action per valid row, and the retirements of a full snapshot. */
static void hr_plan_actions(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;

	for (size_t i = 0; i < res->nrows; i++) {
		struct hr_prow *p = &pl->pr[i];

		if (res->rows[i].valid && p->db >= 0)
			snprintf(p->id, sizeof(p->id), "%s", pl->db[p->db].id);
	}
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		struct hr_prow *p = &pl->pr[i];
		const struct hr_db_person *d;
		const char *mgr;
		unsigned diff = 0;

		if (!row->valid)
			continue;
		if (p->db < 0) {
			p->action = HR_A_NEW;
			pl->counts[HR_A_NEW]++;
			continue;
		}
		d = &pl->db[p->db];
		mgr = hr_row_manager_id(pl, (long)i);
		diff |= strcmp(d->family, row->family_name) ? HR_D_FAMILY : 0;
		diff |= strcmp(d->given, row->given_name) ? HR_D_GIVEN : 0;
		diff |= strcmp(d->email, row->email) ? HR_D_EMAIL : 0;
		diff |= strcmp(d->org_path, row->org_unit) ? HR_D_ORG : 0;
		diff |= strcmp(d->title, row->title) ? HR_D_TITLE : 0;
		diff |= strcmp(d->status, row->status) ? HR_D_STATUS : 0;
		diff |= strcmp(d->kind, row->kind) ? HR_D_KIND : 0;
		diff |= strcmp(d->manager_id, mgr ? mgr : "") ? HR_D_MANAGER : 0;
		diff |= strcmp(d->login, p->login) ? HR_D_LOGIN : 0;
		p->diff = diff;
		if ((diff & HR_D_GUARDED) && !hr_may_change(pl, d)) {
			hr_deny_row(pl, (long)i, d, diff & HR_D_GUARDED);
			continue;
		}
		if (!strcmp(row->status, "retired") && strcmp(d->status, "retired") != 0)
			p->action = HR_A_RETIRED;
		else if (diff & HR_D_ORG)
			p->action = HR_A_MOVED;
		else if (diff)
			p->action = HR_A_CHANGED;
		else
			p->action = HR_A_UNCHANGED;
		pl->counts[p->action]++;
	}
	/* The people reporting to a refused row keep its stored person as manager. */
	hr_cascade(pl);
	if (!pl->opt->full_snapshot)
		return;
	for (size_t k = 0; k < pl->ndb; k++) {
		struct hr_db_person *d = &pl->db[k];

		if (d->hr && *d->emp && strcmp(d->status, "retired") != 0 && !d->seen) {
			if (!hr_may_change(pl, d)) {
				hr_deny_snapshot(pl, d);
				continue;
			}
			d->retire = true;
			pl->snapshot_retired++;
		}
	}
}

/* Index of the unit at the first @depth segments of @path, added to the plan when missing. */
static int hr_unit_at(struct hr_plan *pl, const char *path, size_t depth, long *ret)
{
	char key[HR_MAX_FIELD + 1];
	const char *p = path;
	size_t d = 0;
	long parent = -1, company = -1, idx = -1;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t end = slash ? (size_t)(slash - path) : strlen(path);

		if (end > HR_MAX_FIELD)
			return -EINVAL;
		memcpy(key, path, end);
		key[end] = '\0';
		d++;
		idx = hr_map_get(&pl->unit_by_path, key);
		if (idx < 0) {
			char id[ULID_SIZE], kind[sizeof(pl->units[0].kind)];
			int r;

			/* A company's kind is decided by hr_plan_units; below it, the company's. */
			snprintf(kind, sizeof(kind), "%s", d == 1 ? "own" : d == 2 ? "" : pl->units[company].kind);
			ids_ulid(id, pl->now);
			/* (hr_unit_add may move pl->units, hence the copy of the kind.) */
			r = hr_unit_add(pl, key, id, kind, true, &idx);
			if (r < 0)
				return r;
			pl->units[idx].parent = parent;
			pl->units_created++;
		}
		if (d == 2)
			company = idx;
		parent = idx;
		if (!slash || d == depth)
			break;
		p = slash + 1;
	}
	*ret = idx;
	return 0;
}

/*
 * Units for every valid row, with the kinds of hr.h: explicit org_kind
 * first, then partner_staff companies, then the first new company "own"
 * when none is, the rest "group_company".
 */
static int hr_plan_units(struct hr_plan *pl)
{
	struct hr_parse_result *res = pl->res;
	int r;

	/* Pass 1: groups and companies, with what the file says about them. */
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		struct hr_unit *u;
		long idx;

		if (!row->valid || hr_path_depth(row->org_unit) < 2)
			continue;
		r = hr_unit_at(pl, row->org_unit, 2, &idx);
		if (r < 0)
			return r;
		u = &pl->units[idx];
		if (*row->org_kind && !u->want_kind) {
			u->want_kind = row->org_kind;
			u->want_line = row->line;
			if (!strcmp(row->org_kind, "own"))
				pl->own_exists = true;
		}
		if (!strcmp(row->kind, "partner_staff"))
			u->partner = true;
	}
	for (size_t k = 0; k < pl->nunits; k++) {
		struct hr_unit *u = &pl->units[k];
		const char *kind;

		if (u->depth != 2)
			continue;
		if (!u->created) {
			if (u->want_kind && strcmp(u->kind, u->want_kind) != 0) {
				snprintf(u->kind, sizeof(u->kind), "%s", u->want_kind);
				u->rekind = true;
				pl->units_rekinded++;
			}
			continue;
		}
		if (u->want_kind)
			kind = u->want_kind;
		else if (u->partner)
			kind = "business_partner";
		else if (!pl->own_exists)
			kind = "own";
		else
			kind = "group_company";
		if (!strcmp(kind, "own"))
			pl->own_exists = true;
		snprintf(u->kind, sizeof(u->kind), "%s", kind);
	}
	/* Pass 2: every level; divisions and departments take their company's kind. */
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *row = &res->rows[i];
		long idx;

		if (!row->valid)
			continue;
		r = hr_unit_at(pl, row->org_unit, hr_path_depth(row->org_unit), &idx);
		if (r < 0)
			return r;
		pl->pr[i].unit = idx;
	}
	return 0;
}

/* A full snapshot or a status change must not lock everyone out. */
struct hr_admins {
	struct hr_plan *pl;
	long had, left;
};

static int hr_admin_count(const char *id, void *ud)
{
	struct hr_admins *a = ud;
	struct hr_plan *pl = a->pl;
	long k = hr_map_get(&pl->db_by_id, id);
	long i = k >= 0 ? pl->db[k].row : -1;

	a->had++;
	if (k < 0)
		a->left++;
	else if (pl->db[k].retire)
		return 0;
	else if (i >= 0 && pl->res->rows[i].valid && strcmp(pl->res->rows[i].status, "active") != 0)
		return 0;
	else
		a->left++;
	return 0;
}

int hr_plan_admins(struct hr_plan *pl, struct store_conn *c, bool *ret_ok)
{
	struct hr_admins a = { .pl = pl };
	int r = people_each_active_admin(c, hr_admin_count, &a);

	if (r < 0)
		return r;
	*ret_ok = a.had == 0 || a.left > 0;
	return 0;
}

int hr_plan_make(struct hr_plan *pl, struct store_conn *c)
{
	int r = hr_load_people(pl, c);

	if (r == 0)
		r = hr_load_units(pl, c);
	if (r == 0)
		r = hr_plan_rows(pl);
	if (r == 0)
		r = hr_plan_new_ids(pl);
	if (r < 0)
		return r;
	hr_plan_actions(pl);
	return hr_plan_units(pl);
}
