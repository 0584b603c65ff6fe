/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_endpoint: enrollment tokens for rampart-agent and the devices they
 * enrolled.  A new enrollment token is shown exactly once, alone on stdout
 * so that it can be captured; the server keeps only its hash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "common/err.h"
#include "common/str.h"

static const char etokens_help[] =
"Usage: rampart enrollment-tokens list [--json]\n"
"       rampart enrollment-tokens create --org UNIT [--uses N] [--expires D] [--json]\n"
"       rampart enrollment-tokens revoke ID\n"
"\n"
"list    enrollment tokens in your scope, with their state (active,\n"
"        expired, used_up, revoked)\n"
"create  creates a token with which PCs of UNIT (an org unit path or id)\n"
"        enroll, and prints it once, alone on stdout, e.g.\n"
"          T=$(rampart enrollment-tokens create --org 'Group/Company/Sales' --uses 50)\n"
"          rampart-agent enroll --server URL --token \"$T\"\n"
"          --uses N      how many PCs may enroll with it (default 1)\n"
"          --expires D   lifetime such as 12h or 7d (default 7d, at most 365d)\n"
"        --json prints the server's answer, token included.\n"
"revoke  ends the token ID at once (devices enrolled with it stay)\n";

static const char devices_help[] =
"Usage: rampart devices [list] [--state compliant|non_compliant|unknown|quarantined] [--json]\n"
"       rampart devices show ID [--json]\n"
"       rampart devices quarantine ID --reason R [--infected] [--json]\n"
"       rampart devices release ID [--reason R] [--json]\n"
"\n"
"list        enrolled PCs in your scope with their compliance state\n"
"show        one PC: its latest posture report, every baseline requirement\n"
"            (pass or fail, with the reason), its quarantine, addresses and\n"
"            intrusion alerts, and the state history\n"
"quarantine  cuts the PC off at its next check-in: its agent lets it reach\n"
"            only rampartd and DNS, and it is on the quarantine list for\n"
"            network equipment; --infected marks it infected.  Only an\n"
"            administrator's release ends it (not a compliant check-in).\n"
"release     ends the PC's quarantine; it goes back to its last evaluated\n"
"            state and a non-compliant PC gets its whole grace period again\n"
"            --reason R   why (printable text, at most 200 bytes; audited)\n";

static int et_row(struct table *t, const json_t *v, void *ud)
{
	char left[24], uses[24], tm[64];
	const char *row[] = {
		out_str(v, "id"), out_str2(v, "org_unit", "path"), left, uses, out_str(v, "status"),
		out_time(tm, sizeof(tm), out_str(v, "expires_at")),
	};

	snprintf(left, sizeof(left), "%lld", (long long)json_integer_value(json_object_get(v, "uses_left")));
	snprintf(uses, sizeof(uses), "%lld", (long long)json_integer_value(json_object_get(v, "uses")));
	return table_add(t, row);
}

static int et_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "enrollment-tokens list", etokens_help, "", NULL };
	static const char *const hdr[] = { "ID", "ORG UNIT", "USES LEFT", "USES", "STATUS", "EXPIRES" };
	const struct cli_table spec = { cmd.name, 6, hdr, et_row };
	struct cli_args a;
	int rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_show(cli, "/api/v1/endpoint/enrollment-tokens", true, "cannot list enrollment tokens",
			     &spec);
}

/* The cli_bind parser of --uses N, how many PCs may enroll: 1..100000 into @dst, an int64_t. */
static int et_parse_uses(const char *cmd, const char *s, void *dst)
{
	if (str_parse_i64(s, 1, 100000, dst) < 0)
		return cli_usage(cmd, "--uses must be a number from 1 to 100000");
	return 0;
}

static int et_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "org", required_argument, NULL, 'o' },
		{ "uses", required_argument, NULL, 'u' },
		{ "expires", required_argument, NULL, 'e' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "enrollment-tokens create", etokens_help, "", opts };
	const char *org = NULL, *expires = NULL;
	int64_t uses = 1, ms;
	const struct cli_bind binds[] = {
		{ 'o', &org }, { 'e', &expires }, { 'u', .parse = et_parse_uses, .dst = &uses }, { 0 }
	};
	json_t *body, *res = NULL;
	struct client *c;
	struct cli_args a;
	char id[64], unit[512], tm[64];
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!org || !org[0])
		return cli_usage(cmd.name, "--org UNIT is required");
	if (expires && (str_parse_duration_ms(expires, &ms) < 0 || ms <= 0))
		return cli_usage(cmd.name, "--expires must be a duration such as 12h or 7d");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	body = json_pack("{s:s, s:I}", "org_unit", org, "uses", (json_int_t)uses);
	if (!body || (expires && json_object_set_new(body, "expires", json_string(expires)) < 0)) {
		json_decref(body);
		return cli_fail("enrollment-tokens create: out of memory");
	}
	r = client_call(c, "POST", "/api/v1/endpoint/enrollment-tokens", body, &res);
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, "the enrollment token was not created");
	rc = cli_show_once(cli, res, "token", cmd.name, "Enrollment token %s for %s created (%lld uses, "
			   "expires %s).\nIt is shown only now:\n",
			   out_clean(id, sizeof(id), out_str(res, "id")),
			   out_clean(unit, sizeof(unit), out_str2(res, "org_unit", "path")),
			   (long long)json_integer_value(json_object_get(res, "uses")),
			   out_time(tm, sizeof(tm), out_str(res, "expires_at")));
	json_decref(res);
	return rc;
}

static int et_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "enrollment-tokens revoke", etokens_help, "", NULL };
	char id[128];
	int rc;

	if (cli_delete_by_id(cli, &cmd, argc, argv, "token ID (see 'rampart enrollment-tokens list')", "/api/v1/endpoint/enrollment-tokens/",
			     "the enrollment token was not revoked", id, sizeof(id), &rc))
		printf("Enrollment token %s revoked.\n", id);
	return rc;
}

int cmd_enrollment_tokens(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", et_list },
		{ "create", et_create },
		{ "revoke", et_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "enrollment-tokens", etokens_help, subs, argc, argv);
}

/* ---------------------------------------------------------------- devices */

static int dev_row(struct table *t, const json_t *v, void *ud)
{
	char tm[64];
	const char *row[] = {
		out_str(v, "id"), out_str(v, "hostname"), out_str2(v, "org_unit", "path"), out_str(v, "state"),
		out_time(tm, sizeof(tm), out_str(v, "last_seen_at")),
	};

	return table_add(t, row);
}

static int dev_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "devices list", devices_help, "", opts };
	static const char *const hdr[] = { "ID", "HOSTNAME", "ORG UNIT", "STATE", "LAST SEEN" };
	const struct cli_table spec = { cmd.name, 5, hdr, dev_row };
	const char *state = NULL;
	const struct cli_bind binds[] = { { 's', &state }, { 0 } };
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (state && strcmp(state, "compliant") != 0 && strcmp(state, "non_compliant") != 0 &&
	    strcmp(state, "unknown") != 0 && strcmp(state, "quarantined") != 0)
		return cli_usage(cmd.name, "--state must be compliant, non_compliant, unknown or quarantined");
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, true, "cannot list devices", "/api/v1/devices",
			      (const struct client_param[]){ { "state", state }, { 0 } });
}

static int dev_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "devices show", devices_help, "", NULL };
	json_t *d = NULL, *v, *rep;
	struct client *c;
	struct cli_args a;
	char tm[64], line[512];
	size_t i;
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 1, 1, "device ID (see 'rampart devices list')", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_call_id(c, "GET", "/api/v1/devices/", argv[a.pos], NULL, NULL, &d);
	if (r < 0)
		return client_fail(c, r, "cannot show the device");
	if (cli_json_done(cli, d))
		return CLI_EXIT_OK;
	rep = json_object_get(d, "report");
	out_kv("id", out_str(d, "id"));
	out_kv("hostname", out_str(d, "hostname"));
	out_kv("machine id", out_str(d, "machine_id"));
	out_kv("org unit", out_str2(d, "org_unit", "path"));
	out_kv("owner", out_str2(d, "owner", "login"));
	out_kv("state", out_str(d, "state"));
	out_kv("last seen", out_time(tm, sizeof(tm), out_str(d, "last_seen_at")));
	if (json_is_object(json_object_get(d, "quarantine"))) {
		out_kv("quarantine", out_str2(d, "quarantine", "kind"));
		out_kv("since", out_time(tm, sizeof(tm), out_str2(d, "quarantine", "since")));
		out_kv("reason", out_str2(d, "quarantine", "reason"));
	}
	json_array_foreach(json_object_get(d, "addresses"), i, v) {
		out_kv(i ? "" : "addresses", json_string_value(v));
	}
	out_kv("os", out_str2(rep, "os", "pretty_name"));
	out_kv("kernel", out_str2(rep, "kernel", "release"));
	out_kv("agent", out_str(rep, "agent_version"));
	printf("\nrequirements:\n");
	json_array_foreach(json_object_get(d, "results"), i, v) {
		char id[64], reason[300];

		snprintf(line, sizeof(line), "  %-4s %-22s %s", json_is_true(json_object_get(v, "pass")) ? "pass" : "FAIL",
			 out_clean(id, sizeof(id), out_str(v, "id")), out_clean(reason, sizeof(reason), out_str(v, "reason")));
		puts(line);
	}
	if (json_array_size(json_object_get(d, "alerts")))
		printf("\nintrusion alerts:\n");
	json_array_foreach(json_object_get(d, "alerts"), i, v) {
		char sig[300], src[64], dst[64];

		printf("  %s  severity %lld  %s -> %s  %s\n", out_time(tm, sizeof(tm), out_str(v, "timestamp")),
		       (long long)json_integer_value(json_object_get(v, "severity")),
		       out_clean(src, sizeof(src), out_str(v, "src_ip")), out_clean(dst, sizeof(dst), out_str(v, "dest_ip")),
		       out_clean(sig, sizeof(sig), out_str(v, "signature")));
	}
	printf("\nhistory:\n");
	json_array_foreach(json_object_get(d, "history"), i, v) {
		char st[32];

		printf("  %s  %s\n", out_time(tm, sizeof(tm), out_str(v, "received_at")),
		       out_clean(st, sizeof(st), out_str(v, "state")));
	}
	json_decref(d);
	return CLI_EXIT_OK;
}

/* POSTs @body to /api/v1/devices/ID@action and prints the device's quarantine after it. */
static int dev_action(struct cli *cli, const char *id, const char *action, json_t *body)
{
	struct client *c;
	json_t *res = NULL;
	char clean[128], reason[300], tm[64];
	int r;

	if (!(c = cli_client(cli))) {
		json_decref(body);
		return CLI_EXIT_USAGE;
	}
	r = client_call_id(c, "POST", "/api/v1/devices/", id, action, body, &res);
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, strcmp(action, "/release") == 0 ? "the device was not released"
									 : "the device was not quarantined");
	if (cli->json) {
		out_json(res);
	} else if (json_is_object(json_object_get(res, "quarantine"))) {
		printf("Device %s quarantined (%s) since %s: %s\n", out_clean(clean, sizeof(clean), id),
		       out_str2(res, "quarantine", "kind"),
		       out_time(tm, sizeof(tm), out_str2(res, "quarantine", "since")),
		       out_clean(reason, sizeof(reason), out_str2(res, "quarantine", "reason")));
	} else {
		printf("Device %s released; it is %s.\n", out_clean(clean, sizeof(clean), id), out_str(res, "state"));
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

static int dev_quarantine(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "infected", no_argument, NULL, 'i' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "devices quarantine", devices_help, "", opts };
	const char *reason = NULL;
	bool infected = false;
	const struct cli_bind binds[] = { { 'r', &reason }, { 'i', .flag = &infected }, { 0 } };
	struct cli_args a;
	json_t *body;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "device ID (see 'rampart devices list')", &rc))
		return rc;
	if (!reason || !reason[0])
		return cli_usage(cmd.name, "--reason R is required");
	body = json_pack("{s:s, s:b}", "reason", reason, "infected", infected);
	if (!body)
		return cli_fail("devices quarantine: out of memory");
	return dev_action(cli, argv[a.pos], "/quarantine", body);
}

static int dev_release(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "devices release", devices_help, "", opts };
	const char *reason = NULL;
	const struct cli_bind binds[] = { { 'r', &reason }, { 0 } };
	struct cli_args a;
	json_t *body;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "device ID (see 'rampart devices list')", &rc))
		return rc;
	body = reason ? json_pack("{s:s}", "reason", reason) : json_object();
	if (!body)
		return cli_fail("devices release: out of memory");
	return dev_action(cli, argv[a.pos], "/release", body);
}

int cmd_devices(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", dev_list },
		{ "show", dev_show },
		{ "quarantine", dev_quarantine },
		{ "release", dev_release },
		{ NULL, NULL },
	};

	/* "rampart devices" alone, or with options only, lists. */
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_dispatch(cli, "devices", devices_help, subs, argc, argv);
		return dev_list(cli, argc, argv);
	}
	return cli_dispatch(cli, "devices", devices_help, subs, argc, argv);
}
