/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hr: the HR feed as CSV.  Columns (header required, any order):
 *   employee_number,family_name,given_name,email,org_unit,title,status,kind,manager
 * org_unit is a path "Group/Company/Division/Department"; manager is an
 * employee number.  A file is parsed completely (RFC 4180, libcsv) and
 * turned into a plan (new, moved, changed, retired, unchanged) before
 * anything is written; the plan is applied in one transaction.
 */
#ifndef RAMPART_HR_H
#define RAMPART_HR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct http_server;
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
	const char *source;     /* "csv", "seed" */
};

/* One parsed row. */
struct hr_row {
	long line;
	char *employee_number, *family_name, *given_name, *email, *org_unit, *title;
	char *status, *kind, *manager;
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
 * Parses @len bytes of CSV.  Row-level problems (wrong column count, bad
 * status, empty required field, control characters, duplicate employee
 * number, over-long field) become errors with their line; a missing or
 * wrong header is fatal.  Returns 0 (check ->fatal and ->nerrors), -ENOMEM.
 * The result is freed with hr_parse_result_done.
 */
int hr_parse_csv(const char *data, size_t len, struct hr_parse_result *ret);
void hr_parse_result_done(struct hr_parse_result *res);

/*
 * Plans and (unless dry run, or errors without skip_bad_lines, or the retire
 * threshold) applies an import.  Returns 0 with *ret_report (a JSON object:
 * counts, changes, errors, applied) or an error: ERR_INVALID (file unusable
 * or bad lines; the report is still set), ERR_THRESHOLD (refused; report says
 * how many would be retired).
 */
int hr_import(struct app *app, struct store_conn *c, const char *data, size_t len,
	      const struct hr_options *opt, json_t **ret_report);

/* Registers POST /api/v1/hr/import. */
int hr_routes(struct http_server *s);

#endif
