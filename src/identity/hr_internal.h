/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr_internal: what the parts of the HR import share.  The import runs in
 * three phases so that nothing is written unless the whole file has been
 * understood:
 *
 *   1. parse (hr_csv.c, hr_parse_csv): libcsv in strict RFC 4180 mode, fed
 *      one physical line at a time so that each record knows the line it
 *      starts on.  Each record is checked on its own (fields, values,
 *      shapes), then across the file (duplicate employee numbers, manager
 *      cycles: hr_find_cycles, shared with the plan).
 *   2. plan (hr_plan.c, hr_plan_make): the file against the directory, with
 *      hash maps (hr_map.c) over every stored person and org unit: unknown
 *      managers (cascading to the people whose manager's line is bad),
 *      login collisions, manager cycles through people already stored, then
 *      one action per record: new, moved, changed, retired or unchanged
 *      (a guarded change to a person the actor may not manage makes the
 *      record bad); with a full snapshot, the retirement of HR people the
 *      file no longer lists; the org units to create.  hr_report.c describes a plan.
 *   3. apply (hr_apply.c, hr_import): one transaction through people.h's
 *      writer: org units, new people (managers before their reports, with
 *      ids growing in that order), updates, history rows, the end of the
 *      sessions and tokens of everyone retired, and one hr.import audit
 *      entry.
 *
 * hr_http.c is the route.  Every pass is linear in the size of the file
 * plus the directory.  The rules (logins, org unit kinds, snapshot
 * threshold) are stated in hr.h.
 */
#ifndef RAMPART_HR_INTERNAL_H
#define RAMPART_HR_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"
#include "identity/hr.h"

struct store_conn;

/* ------------------------------------------------------------ hr_map.c */

/* Open addressing from borrowed NUL-terminated keys to indexes. */
struct hr_map {
	const char **keys;
	long *vals;
	size_t cap;   /* a power of two, or 0 */
	size_t n;
};

void hr_map_done(struct hr_map *m);

/* The value of @key, or -1. */
long hr_map_get(const struct hr_map *m, const char *key);

/* Makes room for @want keys.  Returns 0 or -ENOMEM (the map is unchanged). */
int hr_map_reserve(struct hr_map *m, size_t want);

/*
 * Adds @key -> @val unless @key is present.  Returns 0 when added, 1 when
 * present (*ret_old set if not NULL), or -ENOMEM.  @key must outlive the map.
 */
int hr_map_put(struct hr_map *m, const char *key, long val, long *ret_old);

/* ------------------------------------------------------------ hr_csv.c */

/* Counts an error on @line; keeps its text while fewer than HR_MAX_ERRORS_REPORTED are kept. */
void hr_error_v(struct hr_parse_result *res, long line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Number of segments of an org path. */
size_t hr_path_depth(const char *path);

/* Walk states for the cycle search, shared by the parser and the plan. */
struct hr_graph {
	const struct hr_row *rows;
	size_t nrows;
	size_t ndb;
	/* Manager node of @node, or -1; rows are nodes ndb.. unless matched to a stored person. */
	long (*manager_of)(void *ud, long node);
	/* Row index of @node when a valid row describes it, or -1. */
	long (*row_of)(void *ud, long node);
	/* Node of valid row @i. */
	long (*node_of)(void *ud, long row);
	/* Name for messages. */
	const char *(*name_of)(void *ud, long node);
	void *ud;
};

/*
 * Finds manager cycles that go through valid rows and marks those rows bad
 * (their indexes appended to @failed when not NULL).  Returns the number of
 * rows marked, or -ENOMEM.
 */
long hr_find_cycles(const struct hr_graph *g, struct hr_parse_result *res, long *failed, size_t *nfailed);

/* ----------------------------------------------------------- hr_plan.c */

enum hr_action { HR_A_NONE, HR_A_NEW, HR_A_MOVED, HR_A_CHANGED, HR_A_RETIRED, HR_A_UNCHANGED };

enum {
	HR_D_FAMILY = 1 << 0, HR_D_GIVEN = 1 << 1, HR_D_EMAIL = 1 << 2, HR_D_ORG = 1 << 3,
	HR_D_TITLE = 1 << 4, HR_D_STATUS = 1 << 5, HR_D_KIND = 1 << 6, HR_D_MANAGER = 1 << 7,
	HR_D_LOGIN = 1 << 8,
};

/* The changes a feed makes only to people its actor may manage, when they hold admin or security_officer. */
#define HR_D_GUARDED (HR_D_ORG | HR_D_STATUS | HR_D_LOGIN)

/* A stored person; the strings share one allocation owned by ->id. */
struct hr_db_person {
	char *id, *emp, *login, *family, *given, *email, *org_path, *title, *status, *kind, *source;
	char *manager_id;
	long mgr;       /* index of the manager among the stored people, or -1 */
	long row;       /* the row naming this person (valid or not), or -1 */
	unsigned roles; /* of the grants admin and security_officer, those the person holds */
	bool seen;      /* the employee number is on some line of the file */
	bool hr;        /* source csv or seed */
	bool retire;    /* retired by the full snapshot */
	bool denied;    /* missing from the full snapshot, but the actor may not retire them */
};

struct hr_prow {
	enum hr_action action;
	long db;            /* the stored person, or -1 for a new one */
	long mgr_row;       /* manager as a valid row, or -1 */
	long mgr_db;        /* manager as a stored person, or -1 */
	long unit;          /* org unit index */
	long dep_next;      /* next row whose manager field names the same row */
	char *login;        /* to store (owned) */
	unsigned diff;
	unsigned denied;    /* the HR_D_* bits of a change the actor may not make (the row is then bad) */
	bool emitted;
	char id[ULID_SIZE];
};

struct hr_unit {
	char *path;         /* owned */
	char id[ULID_SIZE];
	char kind[20];
	long parent;
	size_t depth;
	bool created;       /* by this import */
	bool rekind;        /* kind changed by org_kind */
	bool partner;       /* partner_staff people work in it (companies) */
	const char *want_kind;
	long want_line;
};

struct hr_plan {
	struct app *app;
	const struct hr_options *opt;
	struct hr_parse_result *res;
	int64_t now;
	struct hr_map row_by_emp;       /* employee number -> first row (valid or not) */
	struct hr_db_person *db;
	size_t ndb, cap_db;
	struct hr_map db_by_emp, db_by_id, db_by_login;
	struct hr_prow *pr;
	long *dep_head;                 /* per row: first row whose manager field names it */
	long *work;                     /* rows marked bad, whose dependents are to be looked at */
	long *new_order;                /* new rows, each manager before the people reporting to them */
	size_t nnew;
	size_t nwork;
	struct hr_map new_logins;       /* logins of rows -> row */
	struct hr_unit *units;
	size_t nunits, cap_units;
	struct hr_map unit_by_path;
	bool own_exists;
	long counts[6];                 /* by enum hr_action */
	long snapshot_retired;          /* missing from a full snapshot */
	long hr_active;                 /* non-retired csv/seed people */
	long units_created, units_rekinded;
};

/* The source the import writes ("csv" unless the options say). */
const char *hr_source(const struct hr_options *opt);

/*
 * Plans the parsed file @pl->res against the directory of @c (inside the
 * caller's transaction when it applies): every step of phase 2.  Rows found
 * bad are marked in @pl->res.  Returns 0 or an error; hr_plan_done frees
 * the plan in both cases.
 */
int hr_plan_make(struct hr_plan *pl, struct store_conn *c);
void hr_plan_done(struct hr_plan *pl);

/*
 * Whether the import leaves at least one active administrator, when there
 * is one now.  Sets *ret_ok; returns 0 or a store error.
 */
int hr_plan_admins(struct hr_plan *pl, struct store_conn *c, bool *ret_ok);

/* Id the row's person is to have as manager, or NULL. */
const char *hr_row_manager_id(const struct hr_plan *pl, long i);

/* --------------------------------------------------------- hr_report.c */

/* The change row @i makes, as listed in the report and kept in person_history; NULL when out of memory. */
json_t *hr_change_json(const struct hr_plan *pl, long i);

/* The retirement of a stored person missing from a full snapshot. */
json_t *hr_retire_json(const struct hr_db_person *d);

/* The counts of a plan (@pl NULL: all zero but the errors). */
json_t *hr_counts_json(const struct hr_plan *pl, const struct hr_parse_result *res);

/* The report of hr.h; @pl is NULL when the file could not be planned (fatal).  Sorts res->errors. */
json_t *hr_report(const struct hr_plan *pl, struct hr_parse_result *res, const struct hr_options *opt);

#endif
