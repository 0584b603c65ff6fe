/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_hr: "rampart hr import", the HR feed as CSV.  The file is sent as is
 * (text/csv); the server parses it, plans every join, move, change and
 * retirement, and applies the plan in one transaction unless it is a dry
 * run or refused.  This command prints the plan and each bad line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/fileio.h"
#include "cli/out.h"
#include "common/err.h"

/* The server's default import limit; a larger file would be refused anyway. */
#define HR_FILE_MAX ((size_t)64 << 20)
#define HR_TIMEOUT_S 600L

static const char hr_help[] =
"Usage: rampart hr import FILE [--dry-run] [--full-snapshot] [--force]\n"
"                              [--skip-bad-lines] [--changes] [--json]\n"
"\n"
"Imports the HR feed: a CSV file (header required, any column order) with the\n"
"columns employee_number, family_name, given_name, email, org_unit (a path\n"
"such as Group/Company/Division/Department), title, status (active,\n"
"on_leave, retired), kind (employee, partner_staff) and manager (an employee\n"
"number).  FILE '-' reads standard input.  Needs the admin or\n"
"security_officer role.\n"
"\n"
"The whole file is checked and planned before anything changes, and the plan\n"
"is applied in one step: joins, moves, changes and retirements (a retirement\n"
"ends the person's sessions and tokens at once).\n"
"\n"
"Options:\n"
"  --dry-run          show the plan, change nothing\n"
"  --full-snapshot    the file lists everyone: retire active people missing\n"
"                     from it\n"
"  --force            allow a full snapshot that retires more people than the\n"
"                     server's threshold (10% by default)\n"
"  --skip-bad-lines   apply the good lines of a file that has bad ones\n"
"                     (otherwise any bad line refuses the whole file)\n"
"  --changes          also list each planned change\n"
"  --json             print the server's report as JSON\n"
"\n"
"Output: the plan counts (new, moved, changed, retired, unchanged, errors),\n"
"then 'line N: reason' for each bad line.\n"
"\n"
"Exit status: 0 imported (or planned, with --dry-run); 1 refused: bad lines\n"
"without --skip-bad-lines, or the retirement threshold without --force;\n"
"nothing was changed and the server's message says why.\n";

/* Reads all of @path ("-": stdin) into @b.  Returns 0 or -errno (-EMSGSIZE: too large). */
static int hr_read_file(const char *path, struct buf *b)
{
	struct stat st;
	int fd, r;

	fd = fileio_open_input(path);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		r = -EISDIR;
	/* A file known to be too large is refused before it is read. */
	else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > HR_FILE_MAX)
		r = -EMSGSIZE;
	else
		r = fileio_read_all(fd, b);
	fileio_close_input(fd);
	return r;
}

/* "org_unit: A -> B, title: x -> y" for the fields that differ between @before and @after. */
static void hr_change_detail(const json_t *before, const json_t *after, struct buf *b)
{
	const char *key;
	json_t *v;

	if (!json_is_object(after))
		return;
	json_object_foreach((json_t *)after, key, v) {
		json_t *old = json_object_get(before, key);
		char *a, *o;

		if (old && json_equal(old, v))
			continue;
		a = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		o = old ? json_dumps(old, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		if (old)
			buf_printf(b, "%s%s: %s -> %s", b->len ? ", " : "", key, o ? o : "?", a ? a : "?");
		else if (json_is_object(before))
			buf_printf(b, "%s%s: %s", b->len ? ", " : "", key, a ? a : "?");
		else if (!strcmp(key, "org_unit") || !strcmp(key, "status"))
			buf_printf(b, "%s%s: %s", b->len ? ", " : "", key, a ? a : "?");
		free(a);
		free(o);
	}
}

enum hr_outcome { HR_DONE, HR_WOULD_REFUSE, HR_REFUSED };

/*
 * Whether a dry run's report says the real import would be refused: the
 * server's message, or bad lines without --skip-bad-lines, or the retirement
 * threshold exceeded without --force.
 */
static bool hr_would_refuse(const json_t *rep, bool skip, bool force)
{
	const json_t *thr = json_object_get(rep, "threshold");

	if (json_is_string(json_object_get(rep, "message")))
		return true;
	if (!skip && json_integer_value(json_object_get(json_object_get(rep, "counts"), "errors")) > 0)
		return true;
	return !force && json_is_true(json_object_get(thr, "exceeded"));
}

static void hr_print_report(const json_t *rep, enum hr_outcome outcome, bool changes)
{
	static const char *const counts[] = { "new", "moved", "changed", "retired", "unchanged", "errors" };
	const json_t *cnt = json_object_get(rep, "counts");
	const json_t *errs = json_object_get(rep, "errors");
	json_int_t nerr = json_integer_value(json_object_get(cnt, "errors"));
	size_t i;
	json_t *v;

	if (outcome == HR_REFUSED)
		printf("Import refused: nothing was changed.\n");
	else if (outcome == HR_WOULD_REFUSE)
		printf("Dry run: nothing was changed.  The import would be refused:\n");
	else if (json_is_true(json_object_get(rep, "dry_run")))
		printf("Dry run: nothing was changed.  The import would make these changes:\n");
	else if (json_is_true(json_object_get(rep, "applied")))
		printf("Import applied%s:\n", json_is_true(json_object_get(rep, "full_snapshot"))
					      ? " (full snapshot)" : "");
	else
		printf("Import not applied:\n");
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		printf("  %-10s %8lld\n", counts[i],
		       (long long)json_integer_value(json_object_get(cnt, counts[i])));
	if (changes && json_array_size(json_object_get(rep, "changes")) > 0) {
		static const char *const hdr[] = { "ACTION", "EMPLOYEE NO.", "DETAILS" };
		struct table *t = table_new(3, hdr);

		printf("\n");
		json_array_foreach(json_object_get(rep, "changes"), i, v) {
			struct buf d;
			const char *row[3];

			buf_init(&d, 65536);
			hr_change_detail(json_object_get(v, "before"), json_object_get(v, "after"), &d);
			row[0] = out_str(v, "action");
			row[1] = out_str(v, "employee_number");
			row[2] = d.data;
			if (t && table_add(t, row) < 0) {
				table_free(t);
				t = NULL;
			}
			buf_done(&d);
		}
		if (t)
			table_print(t, stdout);
		table_free(t);
	}
	if (json_array_size(errs) > 0)
		printf("\n");
	json_array_foreach(errs, i, v) {
		printf("line %lld: ", (long long)json_integer_value(json_object_get(v, "line")));
		out_put_clean(stdout, out_str(v, "reason"));
		putchar('\n');
	}
	if (nerr > (json_int_t)json_array_size(errs))
		printf("(and %lld more lines with errors)\n", (long long)(nerr - (json_int_t)json_array_size(errs)));
}

/* What to do about a refusal described by @rep. */
static void hr_refusal_hint(const json_t *rep, bool skip, bool force)
{
	const json_t *cnt = json_object_get(rep, "counts");

	if (!skip && json_integer_value(json_object_get(cnt, "errors")) > 0)
		fprintf(stderr, "  Fix the lines listed above, or apply the good lines with --skip-bad-lines.\n");
	else if (!force && json_is_true(json_object_get(json_object_get(rep, "threshold"), "exceeded")))
		fprintf(stderr, "  If the retirements are intended, run again with --full-snapshot --force.\n");
}

static int hr_import(struct cli *cli, int argc, char **argv)
{
	enum { OPT_DRY = 0x200, OPT_FULL, OPT_FORCE, OPT_SKIP, OPT_CHANGES };
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "full-snapshot", no_argument, NULL, OPT_FULL },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "skip-bad-lines", no_argument, NULL, OPT_SKIP },
		{ "changes", no_argument, NULL, OPT_CHANGES },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "hr import", hr_help, "", opts };
	bool dry = false, full = false, force = false, skip = false, changes = false;
	const struct cli_bind binds[] = {
		{ OPT_DRY, .flag = &dry }, { OPT_FULL, .flag = &full }, { OPT_FORCE, .flag = &force },
		{ OPT_SKIP, .flag = &skip }, { OPT_CHANGES, .flag = &changes }, { 0 }
	};
	json_t *rep = NULL;
	struct client *c;
	struct cli_args a;
	struct buf path, data;
	char clean[512];
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "FILE (the HR CSV)", &rc))
		return rc;
	if (force && !full)
		return cli_usage(cmd.name, "--force only makes sense with --full-snapshot");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	buf_init(&data, HR_FILE_MAX);
	r = hr_read_file(argv[a.pos], &data);
	out_clean(clean, sizeof(clean), argv[a.pos]);
	if (r == -EMSGSIZE) {
		buf_done(&data);
		return cli_fail("hr import: %s is larger than %zu MiB", clean, HR_FILE_MAX >> 20);
	}
	if (r < 0) {
		buf_done(&data);
		return cli_fail("hr import: cannot read %s: %s", clean, strerror(-r));
	}
	if (data.len == 0) {
		buf_done(&data);
		return cli_fail("hr import: %s is empty", clean);
	}
	buf_init(&path, 4096);
	r = buf_puts(&path, "/api/v1/hr/import");
	r = r < 0 ? r : client_query(c, &path, "dry_run", dry ? "1" : NULL);
	r = r < 0 ? r : client_query(c, &path, "full_snapshot", full ? "1" : NULL);
	r = r < 0 ? r : client_query(c, &path, "force", force ? "1" : NULL);
	r = r < 0 ? r : client_query(c, &path, "skip_bad_lines", skip ? "1" : NULL);
	r = r < 0 ? r : client_request(c, "POST", path.data, "text/csv", data.data, data.len, HR_TIMEOUT_S,
				       &rep);
	buf_done(&path);
	buf_done(&data);
	if (r == 0) {
		bool refuse = dry && hr_would_refuse(rep, skip, force);
		const char *msg = out_str(rep, "message");

		if (cli->json)
			out_json(rep);
		else
			hr_print_report(rep, refuse ? HR_WOULD_REFUSE : HR_DONE, changes);
		if (refuse) {
			fflush(stdout);
			fputs("rampart: hr import: the import would be refused", stderr);
			if (*msg) {
				fputs(": ", stderr);
				out_put_clean(stderr, msg);
			}
			fputc('\n', stderr);
			hr_refusal_hint(rep, skip, force);
		}
		json_decref(rep);
		return refuse ? CLI_EXIT_FAILED : CLI_EXIT_OK;
	}
	/* A refusal carries the report: the counts and the bad lines. */
	if (rep && cli->json)
		out_json(rep);
	else if (json_is_object(json_object_get(rep, "report")))
		hr_print_report(json_object_get(rep, "report"), HR_REFUSED, changes);
	fflush(stdout);
	rc = client_fail(c, r, "hr import refused");
	if (r == ERR_THRESHOLD || (r == ERR_INVALID && json_is_object(json_object_get(rep, "report"))))
		hr_refusal_hint(json_object_get(rep, "report"), skip, force);
	json_decref(rep);
	return rc;
}

int cmd_hr(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "import", hr_import },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "hr", hr_help, subs, argc, argv);
}
