/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_events: searching the operation logs of enrolled PCs (process
 * executions, logins and logouts, USB devices, files written to removable
 * media), newest first.  Every search is recorded in the audit log by the
 * server: operation logs are personal data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/str.h"

static const char events_help[] =
"Usage: rampart events [--device ID] [--person LOGIN] [--kind KIND]\n"
"                      [--since T] [--until T] [--limit N] [--all] [--json]\n"
"\n"
"Operation-log events of enrolled PCs in your scope, newest first: time,\n"
"PC, kind, account and what happened.  Needs the admin, security_officer or\n"
"auditor role, or security_manager for the PCs of your subtree.  Every\n"
"search is recorded in the audit log.\n"
"\n"
"  --device ID     one PC (see 'rampart devices')\n"
"  --person LOGIN  events of this account on the PCs, and every event of the\n"
"                  PCs this person owns\n"
"  --kind KIND     exec, login, logout, usb_insert, usb_remove, usb_block or\n"
"                  file_write\n"
"  --since T       events at or after T\n"
"  --until T       events before T\n"
"  --limit N       events per page (1-1000, default 100); --all: every page\n"
"T is an RFC 3339 time (2026-11-26T08:00:00Z), a date (2026-11-26, UTC), or a\n"
"duration back from now (30m, 12h, 7d).\n"
"\n"
"Examples:\n"
"  rampart events --person alice --since 7d\n"
"  rampart events --device 01JD8X3K2M4N5P6Q7R8S9T0V1W --kind usb_insert\n"
"  rampart --json events --kind file_write --since 2026-11-01 --all\n";

enum {
	OPT_DEVICE = 0x200, OPT_PERSON, OPT_KIND, OPT_SINCE, OPT_UNTIL, OPT_LIMIT, OPT_ALL,
};

static bool events_kind_ok(const char *k)
{
	static const char *const kinds[] = {
		"exec", "login", "logout", "usb_insert", "usb_remove", "usb_block", "file_write", NULL,
	};

	for (size_t i = 0; kinds[i]; i++)
		if (strcmp(k, kinds[i]) == 0)
			return true;
	return false;
}

/* The cli_bind parser of --kind into @dst, a const char *. */
static int events_parse_kind(const char *cmd, const char *arg, void *dst)
{
	if (!events_kind_ok(arg))
		return cli_usage(cmd, "--kind must be exec, login, logout, usb_insert, usb_remove, "
				 "usb_block or file_write");
	*(const char **)dst = arg;
	return 0;
}

/* The cli_bind parser of --limit (at most 1000 events a page) into @dst, a const char *. */
static int events_parse_limit(const char *cmd, const char *arg, void *dst)
{
	int64_t n;

	if (str_parse_i64(arg, 1, 1000, &n) < 0)
		return cli_usage(cmd, "--limit must be a number from 1 to 1000");
	*(const char **)dst = arg;
	return 0;
}

/* What happened, in one line, into @b. */
static int events_detail(const json_t *ev, struct buf *b)
{
	const char *kind = out_str(ev, "kind");
	const json_t *d = json_object_get(ev, "data"), *argv, *v;
	size_t i;
	int r = 0;

	if (strcmp(kind, "exec") == 0) {
		argv = json_object_get(d, "argv");
		r = buf_printf(b, "%s", out_str(d, "path"));
		if (json_array_size(argv) > 1)
			r = r < 0 ? r : buf_puts(b, " [");
		json_array_foreach(argv, i, v) {
			if (i == 0 || r < 0)
				continue;   /* argv[0] is the program again */
			r = buf_printf(b, "%s%s", i > 1 ? " " : "", json_string_value(v) ? json_string_value(v) : "");
		}
		if (r >= 0 && json_array_size(argv) > 1)
			r = buf_puts(b, "]");
		if (r >= 0 && json_is_integer(json_object_get(d, "pid")))
			r = buf_printf(b, " pid %lld", (long long)json_integer_value(json_object_get(d, "pid")));
	} else if (strcmp(kind, "login") == 0 || strcmp(kind, "logout") == 0) {
		r = buf_printf(b, "%s%s%s", out_str(d, "tty"), *out_str(d, "host") ? " from " : "",
			       out_str(d, "host"));
	} else if (strncmp(kind, "usb_", 4) == 0) {
		r = buf_printf(b, "%s:%s", out_str(d, "vendor"), out_str(d, "product"));
		if (r >= 0 && *out_str(d, "serial"))
			r = buf_printf(b, " serial %s", out_str(d, "serial"));
		if (r >= 0 && *out_str(d, "name"))
			r = buf_printf(b, " \"%s\"", out_str(d, "name"));
		if (r >= 0 && json_is_boolean(json_object_get(d, "storage")))
			r = buf_puts(b, json_is_true(json_object_get(d, "storage")) ? " storage" : " not storage");
		if (r >= 0 && *out_str(d, "action"))
			r = buf_printf(b, " %s", out_str(d, "action"));
	} else if (strcmp(kind, "file_write") == 0) {
		r = buf_printf(b, "%s on %s", out_str(d, "path"), out_str(d, "device"));
		if (r >= 0 && json_is_integer(json_object_get(d, "size")))
			r = buf_printf(b, " (%lld bytes)", (long long)json_integer_value(json_object_get(d, "size")));
	}
	return r < 0 ? r : 0;
}

static int events_row(struct table *t, const json_t *v, void *ud)
{
	char tm[64], clean[200];
	struct buf what;
	const char *row[5];
	int r;

	buf_init(&what, 16384);
	events_detail(v, &what);
	row[0] = out_time(tm, sizeof(tm), out_str(v, "ts"));
	row[1] = out_str2(v, "device", "hostname");
	row[2] = out_str(v, "kind");
	row[3] = *out_str(v, "user") ? out_str(v, "user") : "-";
	row[4] = out_clean(clean, sizeof(clean), what.data);
	r = table_add(t, row);
	buf_done(&what);
	return r;
}

int cmd_events(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "person", required_argument, NULL, OPT_PERSON },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "events", events_help, "", opts };
	static const char *const hdr[] = { "TIME", "PC", "KIND", "USER", "WHAT" };
	const struct cli_table spec = { cmd.name, 5, hdr, events_row };
	const char *device = NULL, *person = NULL, *kind = NULL, *limit = NULL;
	char since[CLI_TIME_MAX] = "", until[CLI_TIME_MAX] = "";
	bool all = false;
	const struct cli_bind binds[] = {
		{ OPT_DEVICE, &device }, { OPT_PERSON, &person },
		{ OPT_KIND, .parse = events_parse_kind, .dst = &kind },
		{ OPT_SINCE, .parse = cli_parse_since, .dst = since },
		{ OPT_UNTIL, .parse = cli_parse_until, .dst = until },
		{ OPT_LIMIT, .parse = events_parse_limit, .dst = &limit },
		{ OPT_ALL, .flag = &all },
		{ 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if ((device && !device[0]) || (person && !person[0]))
		return cli_usage(cmd.name, "--device and --person need a value");
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot search the operation logs", "/api/v1/endpoint/events",
			      (const struct client_param[]){
				      { "device", device }, { "person", person }, { "kind", kind },
				      { "since", since[0] ? since : NULL }, { "until", until[0] ? until : NULL },
				      { "limit", limit }, { 0 } });
}
