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
#include "cli/out.h"
#include "common/err.h"
#include "common/rtime.h"
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
	char since[40], until[40];
};

/* Turns a time argument into RFC 3339 UTC.  Returns 0 or -EINVAL. */
static int audit_time_arg(const char *s, char *out, size_t size)
{
	int64_t ms, back;

	if (rtime_parse(s, &ms) == 0) {
		rtime_format(out, size, ms);
		return 0;
	}
	if (str_parse_duration_ms(s, &back) == 0 && back <= rtime_now_ms()) {
		rtime_format(out, size, rtime_now_ms() - back);
		return 0;
	}
	return -EINVAL;
}

/* Handles one filter option; returns 1 if @o was one, 0 if not, or an exit code (> 1). */
static int audit_filter_opt(const char *cmd, int o, const char *arg, struct audit_filters *f)
{
	switch (o) {
	case OPT_ACTOR: f->actor = arg; return 1;
	case OPT_ACTION: f->action = arg; return 1;
	case OPT_OBJECT: f->object = arg; return 1;
	case OPT_OUTCOME:
		if (strcmp(arg, "success") && strcmp(arg, "failure") && strcmp(arg, "denied"))
			return cli_usage(cmd, "--outcome must be success, failure or denied");
		f->outcome = arg;
		return 1;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (audit_time_arg(arg, o == OPT_SINCE ? f->since : f->until, sizeof(f->since)) < 0)
			return cli_usage(cmd, "--%s must be a time such as 2026-11-26T08:00:00Z, a date "
					 "such as 2026-11-26, or a duration back from now such as 7d",
					 o == OPT_SINCE ? "since" : "until");
		return 1;
	default:
		return 0;
	}
}

#define AUDIT_FILTER_OPTIONS \
	{ "actor", required_argument, NULL, OPT_ACTOR }, \
	{ "action", required_argument, NULL, OPT_ACTION }, \
	{ "object", required_argument, NULL, OPT_OBJECT }, \
	{ "outcome", required_argument, NULL, OPT_OUTCOME }, \
	{ "since", required_argument, NULL, OPT_SINCE }, \
	{ "until", required_argument, NULL, OPT_UNTIL }

/* "/api/v1/audit?filters..." into @b. */
static int audit_path(struct client *c, struct buf *b, const struct audit_filters *f, const char *limit)
{
	int r = buf_puts(b, "/api/v1/audit");

	r = r < 0 ? r : client_query(c, b, "actor", f->actor);
	r = r < 0 ? r : client_query(c, b, "action", f->action);
	r = r < 0 ? r : client_query(c, b, "object", f->object);
	r = r < 0 ? r : client_query(c, b, "outcome", f->outcome);
	r = r < 0 ? r : client_query(c, b, "since", f->since[0] ? f->since : NULL);
	r = r < 0 ? r : client_query(c, b, "until", f->until[0] ? f->until : NULL);
	r = r < 0 ? r : client_query(c, b, "limit", limit);
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
	struct audit_filters f = { 0 };
	const char *limit = NULL;
	struct table *t = NULL;
	json_t *list = NULL, *v;
	bool all = false;
	struct client *c;
	struct cli_args a;
	struct buf path;
	size_t i;
	int o, r, rc;

	if (cli_args_init(&a, &cmd, argc, argv) < 0)
		return CLI_EXIT_USAGE;
	while ((o = cli_opt(cli, &a)) > 0) {
		rc = audit_filter_opt(cmd.name, o, optarg, &f);
		if (rc > 1)
			return rc;
		if (o == OPT_LIMIT && (rc = cli_parse_limit(cmd.name, optarg, &limit)) != 0)
			return rc;
		if (o == OPT_ALL)
			all = true;
	}
	if (o < 0)
		return a.exit;
	if ((rc = cli_positional(&a, 0, 0, "")) != 0)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	buf_init(&path, 16384);
	r = audit_path(c, &path, &f, limit);
	r = r < 0 ? r : cli_fetch_list(cli, path.data, all, &list);
	buf_done(&path);
	if (r < 0)
		return client_fail(c, r, "cannot read the audit log");
	if (cli->json) {
		out_json(list);
		json_decref(list);
		return CLI_EXIT_OK;
	}
	t = table_new(7, hdr);
	json_array_foreach(json_object_get(list, "items"), i, v) {
		char id[24], tm[64];
		struct buf obj;
		const char *actor = out_str(v, "actor_login");
		const char *row[7];

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
		if (t && table_add(t, row) < 0) {
			table_free(t);
			t = NULL;
		}
		buf_done(&obj);
	}
	if (t) {
		table_print(t, stdout);
		cli_more_hint(list, cmd.name);
	}
	table_free(t);
	json_decref(list);
	return t ? CLI_EXIT_OK : cli_fail("audit list: out of memory");
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

static int audit_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		AUDIT_FILTER_OPTIONS,
		{ "output", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "audit export", audit_help, "o:", opts };
	struct audit_filters f = { 0 };
	const char *output = NULL, *limit = AUDIT_EXPORT_PAGE;
	char tmp[CREDS_PATH_MAX], clean[512];
	char *cursor = NULL;
	json_t *page = NULL;
	struct client *c;
	struct cli_args a;
	struct buf base;
	long long count = 0;
	FILE *out = stdout;
	int o, r, rc, fd;

	if (cli_args_init(&a, &cmd, argc, argv) < 0)
		return CLI_EXIT_USAGE;
	while ((o = cli_opt(cli, &a)) > 0) {
		rc = audit_filter_opt(cmd.name, o, optarg, &f);
		if (rc > 1)
			return rc;
		if (o == 'o')
			output = optarg;
	}
	if (o < 0)
		return a.exit;
	if ((rc = cli_positional(&a, 0, 0, "")) != 0)
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
		if (fchmod(fd, 0600) < 0 || !(out = fdopen(fd, "w"))) {
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
	} else {
		output = NULL;
	}

	buf_init(&base, 16384);
	rc = CLI_EXIT_OK;
	r = audit_path(c, &base, &f, NULL);
	for (;;) {
		const char *next;
		size_t i;
		json_t *v;

		json_decref(page);
		page = NULL;
		r = r < 0 ? r : cli_get_page(cli, base.data, &limit, cursor, &page);
		if (r < 0) {
			rc = client_fail(c, r, "the audit export failed");
			break;
		}
		if (!json_is_array(json_object_get(page, "items"))) {
			rc = client_fail(c, -EBADMSG, "the audit export failed");
			break;
		}
		json_array_foreach(json_object_get(page, "items"), i, v) {
			if (out_json_line(out, v) < 0) {
				rc = cli_fail("audit export: cannot write the output: %s", strerror(errno));
				goto done;
			}
			count++;
		}
		next = json_string_value(json_object_get(page, "next"));
		if (!next || !*next || (cursor && strcmp(cursor, next) == 0))
			break;
		free(cursor);
		cursor = strdup(next);
		if (!cursor) {
			rc = cli_fail("audit export: out of memory");
			break;
		}
	}
done:
	json_decref(page);
	free(cursor);
	buf_done(&base);
	if (output) {
		if (rc == CLI_EXIT_OK && (fflush(out) != 0 || fsync(fileno(out)) < 0))
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (fclose(out) != 0 && rc == CLI_EXIT_OK)
			rc = cli_fail("audit export: cannot write %s: %s", clean, strerror(errno));
		if (rc == CLI_EXIT_OK && rename(tmp, output) < 0)
			rc = cli_fail("audit export: cannot create %s: %s", clean, strerror(errno));
		if (rc != CLI_EXIT_OK)
			unlink(tmp);
		else
			fprintf(stderr, "Exported %lld audit entries to %s.\n", count, clean);
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
