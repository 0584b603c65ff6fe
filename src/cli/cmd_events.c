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
#include "cli/out.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/rtime.h"
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

/* Turns a time argument into RFC 3339 UTC.  Returns 0 or -EINVAL. */
static int events_time_arg(const char *s, char *out, size_t size)
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

static const char *events_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* What happened, in one line, into @b. */
static int events_detail(const json_t *ev, struct buf *b)
{
	const char *kind = events_str(ev, "kind");
	const json_t *d = json_object_get(ev, "data"), *argv, *v;
	size_t i;
	int r = 0;

	if (strcmp(kind, "exec") == 0) {
		argv = json_object_get(d, "argv");
		r = buf_printf(b, "%s", events_str(d, "path"));
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
		r = buf_printf(b, "%s%s%s", events_str(d, "tty"), *events_str(d, "host") ? " from " : "",
			       events_str(d, "host"));
	} else if (strncmp(kind, "usb_", 4) == 0) {
		r = buf_printf(b, "%s:%s", events_str(d, "vendor"), events_str(d, "product"));
		if (r >= 0 && *events_str(d, "serial"))
			r = buf_printf(b, " serial %s", events_str(d, "serial"));
		if (r >= 0 && *events_str(d, "name"))
			r = buf_printf(b, " \"%s\"", events_str(d, "name"));
		if (r >= 0 && json_is_boolean(json_object_get(d, "storage")))
			r = buf_puts(b, json_is_true(json_object_get(d, "storage")) ? " storage" : " not storage");
		if (r >= 0 && *events_str(d, "action"))
			r = buf_printf(b, " %s", events_str(d, "action"));
	} else if (strcmp(kind, "file_write") == 0) {
		r = buf_printf(b, "%s on %s", events_str(d, "path"), events_str(d, "device"));
		if (r >= 0 && json_is_integer(json_object_get(d, "size")))
			r = buf_printf(b, " (%lld bytes)", (long long)json_integer_value(json_object_get(d, "size")));
	}
	return r < 0 ? r : 0;
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
	const char *device = NULL, *person = NULL, *kind = NULL, *limit = NULL;
	char since[40] = "", until[40] = "";
	struct table *t = NULL;
	json_t *list = NULL, *v;
	bool all = false;
	struct client *c;
	struct cli_args a;
	struct buf path;
	int64_t n;
	size_t i;
	int o, r, rc;

	if (cli_args_init(&a, &cmd, argc, argv) < 0)
		return CLI_EXIT_USAGE;
	while ((o = cli_opt(cli, &a)) > 0) {
		switch (o) {
		case OPT_DEVICE: device = optarg; break;
		case OPT_PERSON: person = optarg; break;
		case OPT_KIND:
			if (!events_kind_ok(optarg))
				return cli_usage(cmd.name, "--kind must be exec, login, logout, usb_insert, usb_remove, "
						 "usb_block or file_write");
			kind = optarg;
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (events_time_arg(optarg, o == OPT_SINCE ? since : until, sizeof(since)) < 0)
				return cli_usage(cmd.name, "--%s must be a time such as 2026-11-26T08:00:00Z, a date "
						 "such as 2026-11-26, or a duration back from now such as 7d",
						 o == OPT_SINCE ? "since" : "until");
			break;
		case OPT_LIMIT:
			if (str_parse_i64(optarg, 1, 1000, &n) < 0)
				return cli_usage(cmd.name, "--limit must be a number from 1 to 1000");
			limit = optarg;
			break;
		case OPT_ALL: all = true; break;
		default: break;
		}
	}
	if (o < 0)
		return a.exit;
	if ((rc = cli_positional(&a, 0, 0, "")) != 0)
		return rc;
	if ((device && !device[0]) || (person && !person[0]))
		return cli_usage(cmd.name, "--device and --person need a value");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	buf_init(&path, 16384);
	r = buf_puts(&path, "/api/v1/endpoint/events");
	r = r < 0 ? r : client_query(c, &path, "device", device);
	r = r < 0 ? r : client_query(c, &path, "person", person);
	r = r < 0 ? r : client_query(c, &path, "kind", kind);
	r = r < 0 ? r : client_query(c, &path, "since", since[0] ? since : NULL);
	r = r < 0 ? r : client_query(c, &path, "until", until[0] ? until : NULL);
	r = r < 0 ? r : client_query(c, &path, "limit", limit);
	r = r < 0 ? r : cli_fetch_list(cli, path.data, all, &list);
	buf_done(&path);
	if (r < 0)
		return client_fail(c, r, "cannot search the operation logs");
	if (cli->json) {
		out_json(list);
		json_decref(list);
		return CLI_EXIT_OK;
	}
	t = table_new(5, hdr);
	json_array_foreach(json_object_get(list, "items"), i, v) {
		char tm[64], clean[200];
		struct buf what;
		const char *row[5];

		buf_init(&what, 16384);
		events_detail(v, &what);
		row[0] = out_time(tm, sizeof(tm), out_str(v, "ts"));
		row[1] = out_str2(v, "device", "hostname");
		row[2] = out_str(v, "kind");
		row[3] = *out_str(v, "user") ? out_str(v, "user") : "-";
		row[4] = out_clean(clean, sizeof(clean), what.data);
		if (t && table_add(t, row) < 0) {
			table_free(t);
			t = NULL;
		}
		buf_done(&what);
	}
	if (t) {
		table_print(t, stdout);
		cli_more_hint(list, cmd.name);
	}
	table_free(t);
	json_decref(list);
	return t ? CLI_EXIT_OK : cli_fail("events: out of memory");
}
