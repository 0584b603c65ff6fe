/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_audit: reading, verifying and exporting the hash-chained audit log.
 * The export streams page by page (newest entry first, the server's order)
 * so that a log of any length is exported in bounded memory; with -o the
 * file appears complete or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "common/err.h"
#include "common/str.h"

#define AUDIT_EXPORT_PAGE "500"

static const char audit_help[] =
"Usage: rampart audit list [FILTERS] [--limit N] [--all] [--json]\n"
"       rampart audit verify [--json]\n"
"       rampart audit export [FILTERS] [-o FILE]\n"
"\n"
"Reading the audit log needs the admin, security_officer or auditor role.\n"
"\n"
"list    entries, newest first: time, actor, action, object, outcome\n"
"          --limit N   entries per page (1-10000); --all: every page\n"
"verify  recomputes the hash chain over the whole log.  Exit 0 when it is\n"
"        intact; exit 1 when it is broken, naming the first broken entry.\n"
"export  every entry matching the filters as JSON lines (one JSON object per\n"
"        line), newest first, following the pages to the end.  Pipe through\n"
"        'tac' for oldest first.  -o FILE writes FILE (mode 0600) in one go:\n"
"        a failed export leaves no partial file.\n"
"\n"
"FILTERS:\n"
"  --actor A     person id or login of the actor\n"
"  --action A    action name, e.g. auth.login, authz.denied, hr.import\n"
"  --object O    id of the object acted on\n"
"  --outcome O   success, failure or denied\n"
"  --since T     entries at or after T\n"
"  --until T     entries before T\n"
"T is an RFC 3339 time (2026-11-26T08:00:00Z), a date (2026-11-26, UTC), or a\n"
"duration back from now (30m, 12h, 7d).\n";

enum {
	OPT_ACTOR = 0x200, OPT_ACTION, OPT_OBJECT, OPT_OUTCOME, OPT_SINCE, OPT_UNTIL, OPT_LIMIT, OPT_ALL,
};

struct audit_filters {
	const char *actor, *action, *object, *outcome;
	char since[CLI_TIME_MAX], until[CLI_TIME_MAX];
};

/* The cli_bind parser of --outcome into @dst, a const char *. */
static int audit_parse_outcome(const char *cmd, const char *arg, void *dst)
{
	if (strcmp(arg, "success") && strcmp(arg, "failure") && strcmp(arg, "denied"))
		return cli_usage(cmd, "--outcome must be success, failure or denied");
	*(const char **)dst = arg;
	return 0;
}

#define AUDIT_FILTER_OPTIONS \
	{ "actor", required_argument, NULL, OPT_ACTOR }, \
	{ "action", required_argument, NULL, OPT_ACTION }, \
	{ "object", required_argument, NULL, OPT_OBJECT }, \
	{ "outcome", required_argument, NULL, OPT_OUTCOME }, \
	{ "since", required_argument, NULL, OPT_SINCE }, \
	{ "until", required_argument, NULL, OPT_UNTIL }

/* Where the values of AUDIT_FILTER_OPTIONS go: into the struct audit_filters @f. */
#define AUDIT_FILTER_BINDS(f) \
	{ OPT_ACTOR, &(f).actor }, \
	{ OPT_ACTION, &(f).action }, \
	{ OPT_OBJECT, &(f).object }, \
	{ OPT_OUTCOME, .parse = audit_parse_outcome, .dst = &(f).outcome }, \
	{ OPT_SINCE, .parse = cli_parse_since, .dst = (f).since }, \
	{ OPT_UNTIL, .parse = cli_parse_until, .dst = (f).until }

/* The query of the struct audit_filters @f: struct client_param initializers. */
#define AUDIT_FILTER_QUERY(f) \
	{ "actor", (f).actor }, { "action", (f).action }, { "object", (f).object }, \
	{ "outcome", (f).outcome }, { "since", (f).since[0] ? (f).since : NULL }, \
	{ "until", (f).until[0] ? (f).until : NULL }

static int audit_row(struct table *t, const json_t *v, void *ud)
{
	char id[24], tm[64];
	struct buf obj;
	const char *actor = out_str(v, "actor_login");
	const char *row[7];
	int r;

	buf_init(&obj, 4096);
	buf_printf(&obj, "%s%s%s", out_str(v, "object_type"), *out_str(v, "object_id") ? ":" : "",
		   out_str(v, "object_id"));
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(v, "id")));
	row[0] = id;
	row[1] = out_time(tm, sizeof(tm), out_str(v, "time"));
	row[2] = *actor ? actor : out_str(v, "actor_id");
	row[3] = out_str(v, "action");
	row[4] = obj.data;
	row[5] = out_str(v, "outcome");
	row[6] = out_str(v, "source");
	r = table_add(t, row);
	buf_done(&obj);
	return r;
}

static int audit_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		AUDIT_FILTER_OPTIONS,
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit list", audit_help, "", opts };
	static const char *const hdr[] = { "ID", "TIME", "ACTOR", "ACTION", "OBJECT", "OUTCOME", "SOURCE" };
	const struct cli_table spec = { cmd.name, 7, hdr, audit_row };
	struct audit_filters f = { 0 };
	const char *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		AUDIT_FILTER_BINDS(f),
		{ OPT_LIMIT, .parse = cli_parse_limit, .dst = &limit },
		{ OPT_ALL, .flag = &all },
		{ 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot read the audit log", "/api/v1/audit",
			      (const struct client_param[]){ AUDIT_FILTER_QUERY(f), { "limit", limit }, { 0 } });
}

static int audit_verify(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "audit verify", audit_help, "", NULL };
	json_t *res = NULL;
	struct client *c;
	struct cli_args a;
	bool intact;
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_request(c, "GET", "/api/v1/audit/verify", NULL, NULL, 0, 600, &res);
	if (r < 0)
		return client_fail(c, r, "cannot verify the audit log");
	if (!json_is_boolean(json_object_get(res, "intact"))) {
		json_decref(res);
		return cli_fail("audit verify: the server's answer has no verdict");
	}
	intact = json_is_true(json_object_get(res, "intact"));
	if (cli->json) {
		out_json(res);
	} else if (intact) {
		printf("The audit log is intact: %lld entries verified.\n",
		       (long long)json_integer_value(json_object_get(res, "entries")));
	} else {
		fprintf(stderr, "rampart: the audit log is BROKEN: the first broken entry is %lld",
			(long long)json_integer_value(json_object_get(res, "first_broken")));
		if (*out_str(res, "reason")) {
			fputs(" (", stderr);
			out_put_clean(stderr, out_str(res, "reason"));
			fputc(')', stderr);
		}
		fprintf(stderr, ".\n  Entries from there on cannot be trusted; see 'rampart audit list' "
				"and docs/security.md.\n");
	}
	if (!intact && cli->json)
		fprintf(stderr, "rampart: the audit log is BROKEN at entry %lld\n",
			(long long)json_integer_value(json_object_get(res, "first_broken")));
	json_decref(res);
	return intact ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

/* Where audit_export writes the entries, page by page. */
struct audit_out {
	FILE *f;
	long long count;
	int rc;            /* the exit code after a write failure */
};

static int audit_export_page(json_t *page, void *ud)
{
	struct audit_out *o = ud;
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(page, "items"), i, v) {
		if (out_json_line(o->f, v) < 0) {
			o->rc = cli_fail("audit export: cannot write the output: %s", strerror(errno));
			return 1;
		}
		o->count++;
	}
	return 0;
}

static int audit_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		AUDIT_FILTER_OPTIONS,
		{ "output", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit export", audit_help, "o:", opts };
	struct audit_filters f = { 0 };
	const char *output = NULL;
	const struct cli_bind binds[] = { AUDIT_FILTER_BINDS(f), { 'o', &output }, { 0 } };
	char tmp[CREDS_PATH_MAX], clean[512];
	struct audit_out out = { .f = stdout, .rc = CLI_EXIT_OK };
	struct client *c;
	struct cli_args a;
	struct buf base;
	int r, rc, fd;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	if (output && strcmp(output, "-") != 0) {
		out_clean(clean, sizeof(clean), output);
		if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", output) >= (int)sizeof(tmp))
			return cli_usage(cmd.name, "the output path is too long");
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0)
			return cli_fail("audit export: cannot create a file next to %s: %s", clean,
					strerror(errno));
		/* The log names people and what they did: not for other users' eyes. */
		if (fchmod(fd, 0600) < 0 || !(out.f = fdopen(fd, "w"))) {
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
	} else {
		output = NULL;
	}

	buf_init(&base, 16384);
	r = buf_puts(&base, "/api/v1/audit");
	r = r < 0 ? r : client_queries(c, &base, (const struct client_param[]){ AUDIT_FILTER_QUERY(f), { 0 } });
	r = r < 0 ? r : cli_pages(cli, base.data, AUDIT_EXPORT_PAGE, 0, audit_export_page, &out);
	rc = r < 0 ? client_fail(c, r, "the audit export failed") : out.rc;
	buf_done(&base);
	if (output) {
		if (rc == CLI_EXIT_OK && (fflush(out.f) != 0 || fsync(fileno(out.f)) < 0))
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (fclose(out.f) != 0 && rc == CLI_EXIT_OK)
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (rc == CLI_EXIT_OK && rename(tmp, output) < 0)
			rc = cli_fail("audit export: cannot create %s: %s", clean, strerror(errno));
		if (rc != CLI_EXIT_OK)
			unlink(tmp);
		else
			fprintf(stderr, "Exported %lld audit entries to %s.\n", out.count, clean);
	} else if (rc == CLI_EXIT_OK && fflush(stdout) != 0) {
		rc = cli_fail("audit export: cannot write the output: %s", strerror(errno));
	}
	return rc;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", audit_list },
		{ "verify", audit_verify },
		{ "export", audit_export },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "audit", audit_help, subs, argc, argv);
}
