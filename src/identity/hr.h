/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr: the HR feed as CSV.  Columns (header required, any order):
 *   employee_number,family_name,given_name,email,org_unit,title,status,kind,manager
 * plus an optional org_kind column.  org_unit is a path
 * "Group/Company/Division/Department"; manager is an employee number.  A file
 * is parsed completely (RFC 4180, libcsv) and turned into a plan (new,
 * moved, changed, retired, unchanged) before anything is written; the plan
 * is applied in one transaction through people.h.  The parts (parser,
 * planner, report, applier, route) are described in hr_internal.h.
 *
 * Rules:
 *   - login: the lowercased email, or the employee number when there is no
 *     email.  A stored login follows a changed email only while it is still
 *     the one derived this way (a login set by hand is kept).
 *   - org units are created from the path: 1st segment level "group",
 *     2nd "company", 3rd "division", 4th and below "department".  The group
 *     root is of kind "own"; divisions and departments take their company's
 *     kind.  A company's kind is the row's org_kind (own, group_company,
 *     business_partner) when given, which also re-kinds an existing company
 *     and its subtree; otherwise a new company where partner_staff people
 *     work is "business_partner", the first other new company is "own" when
 *     no company is "own" yet, and the rest are "group_company".
 *   - full snapshot: non-retired people of source csv/seed with an employee
 *     number that appears on no line of the file (good or bad) are retired.
 *     The threshold counts every retirement of the import against the
 *     non-retired csv/seed people.
 *   - retired people lose every session and token in the same transaction.
 *   - an import that would leave no active administrator is refused.
 *   - admins are managed only by admins (directory.h, DIR_FEED_CHANGE): a
 *     line that would retire, change the status of, move or change the
 *     login of a person holding admin or security_officer whom the actor
 *     may not manage is a bad line ("holds admin; only an admin may ..."),
 *     and so is (on line 0) the retirement by a full snapshot of such a
 *     person missing from the file.  Like any bad line it refuses the whole
 *     file unless skip_bad_lines; each is audited as authz.denied on the
 *     person when the import is not a dry run.
 */
#ifndef RAMPART_HR_H
#define RAMPART_HR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct http_server;
struct principal;
struct store_conn;

#define HR_MAX_ROWS 500000
#define HR_MAX_FIELD 256
#define HR_MAX_ERRORS_REPORTED 1000

struct hr_options {
	bool dry_run;
	bool full_snapshot;     /* retire active people missing from the file */
	bool force;             /* allow a full snapshot past the retire threshold */
	bool skip_bad_lines;    /* apply the good lines of a file with errors */
	int64_t retire_threshold_pct;
	const char *actor_id;   /* for history and audit; may be NULL */
	const char *source;     /* "csv", "seed" (people.source and history); NULL: "csv" */
	const char *actor_login;/* for the audit entry; may be NULL */
	const char *remote;     /* client address for the audit entry; NULL: "system" */
	const char *request_id; /* may be NULL */
	/* Whose rights limit the changes to admins and security officers; NULL: Rampart itself (the seed). */
	const struct principal *actor;
};

/*
 * One record of the file.  Every string is set ("" when absent) and all of
 * them live in one allocation owned by ->employee_number.  org_unit is
 * normalized (spaces around segments removed).  ->valid is false when the
 * record has an error (see the errors of the result); its fields are then
 * what could be read.
 */
struct hr_row {
	long line;
	char *employee_number, *family_name, *given_name, *email, *org_unit, *title;
	char *status, *kind, *manager;
	char *org_kind;         /* optional column; "" when absent */
	bool valid;
};

struct hr_line_error {
	long line;
	char reason[160];
};

struct hr_parse_result {
	struct hr_row *rows;
	size_t nrows;
	struct hr_line_error *errors;
	size_t nerrors;        /* all errors found (only the first HR_MAX_ERRORS_REPORTED kept) */
	size_t nerrors_kept;
	char fatal[200];       /* set when the file as a whole is unusable (bad header...) */
};

/*
 * Parses @len bytes of CSV (a UTF-8 BOM, CRLF or LF line ends, quoted
 * commas and line breaks).  Row-level problems (wrong column count, bad
 * status or kind, empty required field, control characters, bad email or
 * org path, duplicate employee number, a person managing themselves, a
 * manager cycle within the file, over-long field, broken quoting) become
 * errors with the line the record starts on; a missing, unknown or repeated
 * header column, an empty file or more than HR_MAX_ROWS records is fatal.
 * Returns 0 (check ->fatal and ->nerrors) or -ENOMEM; @ret is filled in
 * both cases and freed with hr_parse_result_done.
 */
int hr_parse_csv(const char *data, size_t len, struct hr_parse_result *ret);
void hr_parse_result_done(struct hr_parse_result *res);

/*
 * Plans and (unless dry run, or errors without skip_bad_lines, or the retire
 * threshold) applies an import.  Returns 0 with *ret_report (a JSON object:
 * counts, changes, errors, applied) or an error: ERR_INVALID (file unusable
 * or bad lines; the report is still set), ERR_THRESHOLD (refused; report says
 * how many would be retired), ERR_CONFLICT (it would leave no active
 * administrator; report set).  The report's "message" says why it was refused.
 */
int hr_import(struct app *app, struct store_conn *c, const char *data, size_t len,
	      const struct hr_options *opt, json_t **ret_report);

/* Registers POST /api/v1/hr/import. */
int hr_routes(struct http_server *s);

#endif
