/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_policies: endpoint policies per org unit (rampart policies list |
 * show | set).  The server parses and validates every policy; the command
 * only checks that the file is JSON at all and prints the server's refusal
 * as it is.  A UNIT is an org unit path or id; paths are resolved to ids
 * through the org list, since a path cannot travel in one URL segment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/fileio.h"
#include "cli/out.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/str.h"

/* Larger than the server's 64 KiB so that its own, clearer refusal is what the user sees. */
#define POL_FILE_MAX ((size_t)1 << 20)

static const char policies_help[] =
"Usage: rampart policies list [--org UNIT] [--json]\n"
"       rampart policies show UNIT [--effective] [--json]\n"
"       rampart policies set UNIT FILE|-\n"
"\n"
"Endpoint policies of org units: baseline requirements, check-in interval,\n"
"designated removable media, logging, the grace period before a device that\n"
"stays non-compliant is quarantined.  A unit's effective policy takes each\n"
"field from the nearest unit on its path that sets it, else the default.\n"
"UNIT is an org unit path ('Group/Company/Sales') or id.\n"
"\n"
"list    the units (under UNIT with --org) that set a policy of their own,\n"
"        with its version and fields (one request per unit in your scope)\n"
"show    the unit's own policy (version, time, JSON); with --effective the\n"
"        policy its devices receive, its version and the units it comes from.\n"
"        --json prints the server's answer: {org_unit, own, effective}\n"
"set     stores FILE ('-': standard input), a JSON policy such as\n"
"          {\"baseline\": {\"disk_encryption_root\": true, \"firewall\": true,\n"
"                        \"antivirus_max_age_days\": 7},\n"
"           \"checkin_interval\": \"5m\",\n"
"           \"removable_media\": [{\"vendor\": \"0781\", \"product\": \"5583\",\n"
"                                \"serial\": \"4C5300012301\"}],\n"
"           \"logging\": {\"retention_days\": 90},\n"
"           \"quarantine\": {\"grace_period\": \"24h\"}}\n"
"        as the unit's next version.  The server refuses unknown keys and\n"
"        values out of bounds, and says which; nothing is stored then.\n"
"\n"
"Reading needs admin, security officer, auditor, or a security manager for\n"
"the unit; setting needs admin, security officer or the security manager.\n";

/* ---------------------------------------------------------------- helpers */

/* True when org unit @path is @scope or below it; everything is within "". */
static bool pol_within(const char *path, const char *scope)
{
	size_t n = strlen(scope);

	return n == 0 || strcmp(path, scope) == 0 || (strncmp(path, scope, n) == 0 && path[n] == '/');
}

/*
 * Finds the unit @ref (a path or an id) in the org list @org.  Returns the
 * unit object (borrowed from @org), or NULL.
 */
static json_t *pol_unit_in(const json_t *org, const char *ref)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(org, "items"), i, v)
		if (strcmp(out_str(v, "id"), ref) == 0 || strcmp(out_str(v, "path"), ref) == 0)
			return v;
	return NULL;
}

/* Says that there is no org unit @ref.  Returns CLI_EXIT_NOT_FOUND. */
static int pol_no_unit(const char *ref)
{
	char clean[300];

	fprintf(stderr, "rampart: no org unit '%s' (see 'rampart org')\n", out_clean(clean, sizeof(clean), ref));
	return CLI_EXIT_NOT_FOUND;
}

/* GETs the org list into *ret.  Returns 0 or an exit code after printing why. */
static int pol_org(struct client *c, json_t **ret)
{
	int r = client_call(c, "GET", "/api/v1/org", NULL, ret);

	return r < 0 ? client_fail(c, r, "cannot read the org units") : 0;
}

/* Copies the id of unit @ref into @id.  Returns 0 or an exit code after printing why. */
static int pol_unit_id(struct client *c, const char *ref, char *id, size_t size)
{
	json_t *org = NULL, *u;
	int rc;

	if ((rc = pol_org(c, &org)) != 0)
		return rc;
	u = pol_unit_in(org, ref);
	/* A unit the org list does not show may still be an id: the server decides. */
	if (!u && !strchr(ref, '/') && str_copy(id, size, ref) == 0 && id[0]) {
		json_decref(org);
		return 0;
	}
	if (!u || str_copy(id, size, out_str(u, "id")) < 0 || !id[0]) {
		json_decref(org);
		return pol_no_unit(ref);
	}
	json_decref(org);
	return 0;
}

#define POL_PATH "/api/v1/endpoint/policies/"

/* GETs the policies of unit @id.  Returns 0 or the client error (not printed). */
static int pol_get(struct client *c, const char *id, json_t **ret)
{
	return client_call_id(c, "GET", POL_PATH, id, NULL, NULL, ret);
}

/* The top-level keys of @policy joined by ", " into @buf. */
static const char *pol_fields(const json_t *policy, char *buf, size_t size)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)policy, k, v) {
		int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", k);

		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

/* Prints @policy (a JSON object) indented under a heading. */
static void pol_print(const char *heading, const json_t *policy)
{
	char *text = json_dumps(policy, JSON_INDENT(2) | JSON_SORT_KEYS);

	printf("\n%s:\n", heading);
	if (!text) {
		puts("  (null)");
		return;
	}
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		fputs("  ", stdout);
		out_put_clean(stdout, line);
		putchar('\n');
	}
	free(text);
}

/* ---------------------------------------------------------------- list */

static int pol_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "org", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "policies list", policies_help, "", opts };
	static const char *const hdr[] = { "UNIT", "VERSION", "UPDATED", "FIELDS" };
	const char *under = NULL, *scope = "";
	const struct cli_bind binds[] = { { 'o', &under }, { 0 } };
	json_t *org = NULL, *out = NULL, *items, *u;
	struct table *t = NULL;
	struct client *c;
	struct cli_args a;
	char clean[300];
	size_t i;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	if ((rc = pol_org(c, &org)) != 0)
		return rc;
	if (under) {
		u = pol_unit_in(org, under);
		if (!u) {
			json_decref(org);
			return pol_no_unit(under);
		}
		scope = out_str(u, "path");
	}
	items = json_array();
	out = json_pack("{s:o}", "items", items);
	t = table_new(4, hdr);
	if (!out || !t) {
		rc = cli_fail("policies list: out of memory");
		goto out;
	}
	/* The org list comes in tree order, so the output does too. */
	json_array_foreach(json_object_get(org, "items"), i, u) {
		json_t *ans = NULL, *own;
		char ver[24], tm[64], fields[200];

		if (!pol_within(out_str(u, "path"), scope))
			continue;
		r = pol_get(c, out_str(u, "id"), &ans);
		if (r == ERR_NOT_FOUND)
			continue;   /* outside a security manager's subtree */
		if (r < 0) {
			rc = client_fail(c, r, "cannot read the policies");
			goto out;
		}
		own = json_object_get(ans, "own");
		if (json_is_object(own)) {
			const char *row[] = {
				out_str(u, "path"), ver, out_time(tm, sizeof(tm), out_str(own, "updated_at")),
				pol_fields(json_object_get(own, "policy"), fields, sizeof(fields)),
			};

			snprintf(ver, sizeof(ver), "%lld", (long long)json_integer_value(json_object_get(own, "version")));
			if (json_array_append_new(items, json_pack("{s:O, s:O}", "org_unit",
								   json_object_get(ans, "org_unit"), "own", own)) < 0 ||
			    table_add(t, row) < 0) {
				json_decref(ans);
				rc = cli_fail("policies list: out of memory");
				goto out;
			}
		}
		json_decref(ans);
	}
	if (cli->json)
		out_json(out);
	else if (table_rows(t) == 0)
		fprintf(stderr, "No unit%s%s sets a policy of its own; the defaults apply.\n", scope[0] ? " under " : "",
			out_clean(clean, sizeof(clean), scope));
	else
		table_print(t, stdout);
	rc = CLI_EXIT_OK;
out:
	table_free(t);
	json_decref(out);
	json_decref(org);
	return rc;
}

/* ---------------------------------------------------------------- show */

static int pol_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "effective", no_argument, NULL, 'e' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "policies show", policies_help, "", opts };
	json_t *ans = NULL, *own, *eff, *v;
	bool effective = false;
	const struct cli_bind binds[] = { { 'e', .flag = &effective }, { 0 } };
	struct client *c;
	struct cli_args a;
	char id[64], tm[64], num[32];
	size_t i;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "org unit (a path or an id; see 'rampart org')",
			    &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	if ((rc = pol_unit_id(c, argv[a.pos], id, sizeof(id))) != 0)
		return rc;
	r = pol_get(c, id, &ans);
	if (r < 0)
		return client_fail(c, r, "cannot show the policy");
	if (cli_json_done(cli, ans))
		return CLI_EXIT_OK;
	own = json_object_get(ans, "own");
	eff = json_object_get(ans, "effective");
	out_kv("org unit", out_str2(ans, "org_unit", "path"));
	if (json_is_object(own)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(own, "version")));
		out_kv("own version", num);
		out_kv("updated", out_time(tm, sizeof(tm), out_str(own, "updated_at")));
	} else {
		out_kv("own version", "none (the unit sets no policy of its own)");
	}
	snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(eff, "version")));
	out_kv("effective", num);
	if (effective) {
		printf("\nfrom:\n");
		if (json_array_size(json_object_get(eff, "sources")) == 0)
			printf("  the defaults (no unit on the path sets a policy)\n");
		json_array_foreach(json_object_get(eff, "sources"), i, v) {
			char unit[300];

			printf("  %s (version %lld)\n", out_clean(unit, sizeof(unit), out_str(v, "org_unit")),
			       (long long)json_integer_value(json_object_get(v, "version")));
		}
		pol_print("effective policy", json_object_get(eff, "policy"));
	} else if (json_is_object(own)) {
		pol_print("policy", json_object_get(own, "policy"));
	}
	json_decref(ans);
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- set */

/*
 * Reads @file ('-': standard input) into @b, whose limit is POL_FILE_MAX
 * bytes.  Returns 0 or an exit code.
 */
static int pol_read(const char *file, struct buf *b)
{
	char clean[300];
	int fd = fileio_open_input(file), r;

	out_clean(clean, sizeof(clean), file);
	if (fd < 0) {
		fprintf(stderr, "rampart: policies set: cannot open '%s': %s\n", clean, strerror(-fd));
		return CLI_EXIT_FAILED;
	}
	r = fileio_read_all(fd, b);
	fileio_close_input(fd);
	if (r == -EMSGSIZE)
		return cli_fail("policies set: '%s' is larger than %zu KiB; a policy is at most 64 KiB", clean,
				POL_FILE_MAX >> 10);
	if (r == -ENOMEM)
		return cli_fail("policies set: out of memory");
	if (r < 0)
		return cli_fail("policies set: cannot read '%s'", clean);
	return 0;
}

static int pol_set(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "policies set", policies_help, "", NULL };
	const char *file;
	json_t *body = NULL, *ans = NULL;
	json_error_t je;
	struct client *c;
	struct cli_args a;
	struct buf text;
	char id[64], clean[300], msg[300];
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 2, 2, "org unit and policy file ('-' for standard input)", &rc))
		return rc;
	file = argv[a.pos + 1];
	buf_init(&text, POL_FILE_MAX);
	if ((rc = pol_read(file, &text)) != 0) {
		buf_done(&text);
		return rc;
	}
	body = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, &je);
	buf_done(&text);
	if (!body) {
		fprintf(stderr, "rampart: policies set: '%s' is not JSON: line %d, column %d: %s\n",
			out_clean(clean, sizeof(clean), file), je.line, je.column, out_clean(msg, sizeof(msg), je.text));
		return CLI_EXIT_FAILED;
	}
	if (!(c = cli_client(cli))) {
		json_decref(body);
		return CLI_EXIT_USAGE;
	}
	if ((rc = pol_unit_id(c, argv[a.pos], id, sizeof(id))) != 0) {
		json_decref(body);
		return rc;
	}
	r = client_call_id(c, "PUT", POL_PATH, id, NULL, body, &ans);
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, "the policy was not set");
	if (cli->json) {
		out_json(ans);
	} else {
		printf("Policy of %s set: version %lld (effective version %lld).\n",
		       out_clean(clean, sizeof(clean), out_str2(ans, "org_unit", "path")),
		       (long long)json_integer_value(json_object_get(json_object_get(ans, "own"), "version")),
		       (long long)json_integer_value(json_object_get(json_object_get(ans, "effective"), "version")));
	}
	json_decref(ans);
	return CLI_EXIT_OK;
}

int cmd_policies(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", pol_list },
		{ "show", pol_show },
		{ "set", pol_set },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "policies", policies_help, subs, argc, argv);
}
