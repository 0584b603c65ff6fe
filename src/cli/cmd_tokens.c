/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_tokens: named API tokens for scripts and SCIM clients.  A new token is
 * shown exactly once, alone on stdout so that it can be captured; the
 * server keeps only its hash.
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

static const char tokens_help[] =
"Usage: rampart tokens list [--all] [--json]\n"
"       rampart tokens create NAME [--scope api|scim] [--expires D] [--json]\n"
"       rampart tokens revoke ID\n"
"\n"
"list    your API tokens; --all: everyone's (admin only)\n"
"create  creates a token and prints it once, alone on stdout, e.g.\n"
"          TOKEN=$(rampart tokens create ci --expires 30d)\n"
"        Use it as RAMPART_TOKEN or as 'Authorization: Bearer TOKEN'.\n"
"          --scope api    the API, with your roles (default)\n"
"          --scope scim   only /scim/v2, for an HR system (admin only)\n"
"          --expires D    lifetime such as 12h, 30d, 90d (server default\n"
"                         otherwise)\n"
"        --json prints the server's answer, token included.\n"
"revoke  revokes the token ID (from the list) at once\n";

static int tokens_row(struct table *t, const json_t *v, void *ud)
{
	char t1[64], t2[64], t3[64], t4[64];
	const char *row[] = {
		out_str(v, "id"), out_str(v, "name"), out_str(v, "scope"),
		out_time(t1, sizeof(t1), out_str(v, "created_at")),
		out_time(t2, sizeof(t2), out_str(v, "expires_at")),
		out_time(t3, sizeof(t3), out_str(v, "last_used_at")),
		*out_str(v, "revoked_at") ? out_time(t4, sizeof(t4), out_str(v, "revoked_at")) : "",
		out_str(v, "person_id"),
	};

	return table_add(t, row);
}

static int tokens_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "tokens list", tokens_help, "", opts };
	static const char *const hdr[] = { "ID", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED",
					   "REVOKED", "PERSON" };
	bool all = false;
	const struct cli_bind binds[] = { { 'a', .flag = &all }, { 0 } };
	struct cli_table spec = { .name = cmd.name, .headers = hdr, .row = tokens_row };
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	/* The PERSON column only when everyone's tokens are listed. */
	spec.ncols = all ? 8 : 7;
	return cli_list_show(cli, all ? "/api/v1/tokens?all=1" : "/api/v1/tokens", true, "cannot list tokens",
			     &spec);
}

static int tokens_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scope", required_argument, NULL, 's' },
		{ "expires", required_argument, NULL, 'e' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "tokens create", tokens_help, "", opts };
	const char *scope = NULL, *expires = NULL;
	const struct cli_bind binds[] = { { 's', &scope }, { 'e', &expires }, { 0 } };
	json_t *body = NULL, *res = NULL;
	struct client *c;
	struct cli_args a;
	char clean[256], tm[64], id[64], sc[32];
	int64_t ms;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "NAME of the token", &rc))
		return rc;
	if (!argv[a.pos][0] || strlen(argv[a.pos]) > 128)
		return cli_usage(cmd.name, "the NAME must be 1 to 128 bytes");
	if (scope && strcmp(scope, "api") != 0 && strcmp(scope, "scim") != 0)
		return cli_usage(cmd.name, "--scope must be api or scim");
	if (expires && (str_parse_duration_ms(expires, &ms) < 0 || ms <= 0))
		return cli_usage(cmd.name, "--expires must be a duration such as 12h, 30d or 90d");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	body = json_pack("{s:s}", "name", argv[a.pos]);
	if (!body || (scope && json_object_set_new(body, "scope", json_string(scope)) < 0) ||
	    (expires && json_object_set_new(body, "expires_in", json_string(expires)) < 0)) {
		json_decref(body);
		return cli_fail("tokens create: out of memory");
	}
	r = client_call(c, "POST", "/api/v1/tokens", body, &res);
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, "the token was not created");
	rc = cli_show_once(cli, res, "token", cmd.name, "Token '%s' created (id %s, scope %s, expires %s).\n"
			   "It is shown only now; store it safely:\n",
			   out_clean(clean, sizeof(clean), out_str(res, "name")),
			   out_clean(id, sizeof(id), out_str(res, "id")),
			   out_clean(sc, sizeof(sc), *out_str(res, "scope") ? out_str(res, "scope") : "api"),
			   out_time(tm, sizeof(tm), out_str(res, "expires_at")));
	json_decref(res);
	return rc;
}

static int tokens_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "tokens revoke", tokens_help, "", NULL };
	char id[128];
	int rc;

	if (cli_delete_by_id(cli, &cmd, argc, argv, "token ID (see 'rampart tokens list')", "/api/v1/tokens/",
			     "the token was not revoked", id, sizeof(id), &rc))
		printf("Token %s revoked.\n", id);
	return rc;
}

int cmd_tokens(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", tokens_list },
		{ "create", tokens_create },
		{ "revoke", tokens_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "tokens", tokens_help, subs, argc, argv);
}
