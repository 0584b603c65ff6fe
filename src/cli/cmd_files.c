/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_files: "rampart files" manages protected files after they left:
 * list them, see who opened each (when and from where), add or remove
 * people, change the expiry, revoke.  A FILE argument is a file id or the
 * path of the protected file itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "cli/protect_util.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "common/str.h"

static const char files_help[] =
"Usage: rampart files list [--all] [--status active|revoked] [--json]\n"
"       rampart files show FILE [--json]\n"
"       rampart files grant FILE GRANTEE...\n"
"       rampart files ungrant FILE GRANTEE...\n"
"       rampart files expire FILE DATE|never\n"
"       rampart files revoke FILE\n"
"\n"
"Protected files you own (or, for admins, security officers, auditors and\n"
"security managers, those in your scope).  FILE is a file id or the .rpf file.\n"
"GRANTEE is user:PERSON, group:NAME, org:PATH or role:ROLE (see 'rampart\n"
"protect --help').\n"
"\n"
"list     the files, newest first; --all fetches every page\n"
"show     one file: owner, status, expiry, access list, and its access history\n"
"         (every open, allowed or refused, with the reason, time and address)\n"
"grant    adds people to the access list\n"
"ungrant  removes them; they cannot open the file any more\n"
"expire   nobody can open it from DATE on (2027-03-31 or an RFC 3339 time);\n"
"         'never' removes the expiry\n"
"revoke   nobody can open the file any more, wherever copies of it are\n";

#define FILES_PATH "/api/v1/files/"

/*
 * The start of a subcommand on FILE, its first positional argument: the
 * arguments (@min..@max of them; @what names them in a usage error), the
 * file id into @id, and the client.  Returns true when the command goes on;
 * false with its exit code in *ret_exit.
 */
static bool files_start(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, int min, int max,
			const char *what, struct cli_args *a, char id[ULID_SIZE], int *ret_exit)
{
	if (!cli_args_plain(cli, a, cmd, argc, argv, min, max, what, ret_exit))
		return false;
	if ((*ret_exit = protect_file_id(cmd->name, argv[a->pos], id)) != 0)
		return false;
	*ret_exit = cli_client(cli) ? 0 : CLI_EXIT_USAGE;
	return *ret_exit == 0;
}

static void print_file(const json_t *f)
{
	char t1[64], line[1024];
	size_t i;
	json_t *grants, *g;

	out_kv("id", out_str(f, "id"));
	out_kv("name", out_str(f, "name"));
	snprintf(line, sizeof(line), "%s (%s)", out_str2(f, "owner", "login"), out_str2(f, "owner", "id"));
	out_kv("owner", line);
	out_kv("status", out_str(f, "status"));
	out_kv("created", out_time(t1, sizeof(t1), out_str(f, "created_at")));
	out_kv("expires", *out_str(f, "expires_at") ? out_time(t1, sizeof(t1), out_str(f, "expires_at")) : "never");
	if (*out_str(f, "revoked_at"))
		out_kv("revoked", out_time(t1, sizeof(t1), out_str(f, "revoked_at")));
	if (json_is_integer(json_object_get(f, "size"))) {
		snprintf(line, sizeof(line), "%lld bytes", (long long)json_integer_value(json_object_get(f, "size")));
		out_kv("size", line);
	}
	if (json_array_size(json_object_get(f, "grants")) == 0)
		out_kv("access", "the owner only");
	grants = json_object_get(f, "grants");
	for (i = 0; i < json_array_size(grants); i++) {
		g = json_array_get(grants, i);
		out_kv(i == 0 ? "access" : "", out_str(g, "grantee"));
	}
}

static int files_row(struct table *t, const json_t *v, void *ud)
{
	char t1[64], access[1024] = "", *p = access;
	size_t j;
	json_t *g;

	json_array_foreach(json_object_get(v, "grants"), j, g) {
		int n = snprintf(p, sizeof(access) - (size_t)(p - access), "%s%s", j ? ", " : "",
				 out_str(g, "grantee"));

		if (n < 0 || (size_t)n >= sizeof(access) - (size_t)(p - access))
			break;
		p += n;
	}
	{
		const char *row[] = {
			out_str(v, "id"), out_str(v, "name"), out_str2(v, "owner", "login"),
			out_str(v, "status"),
			*out_str(v, "expires_at") ? out_time(t1, sizeof(t1), out_str(v, "expires_at")) : "never",
			access[0] ? access : "(owner only)",
		};

		return table_add(t, row);
	}
}

static int files_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "status", required_argument, NULL, 's' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "files list", files_help, "", opts };
	static const char *const hdr[] = { "ID", "NAME", "OWNER", "STATUS", "EXPIRES", "ACCESS" };
	const struct cli_table spec = { cmd.name, 6, hdr, files_row };
	const char *status = NULL;
	bool all = false;
	const struct cli_bind binds[] = { { 'a', .flag = &all }, { 's', &status }, { 0 } };
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (status && strcmp(status, "active") && strcmp(status, "revoked"))
		return cli_usage(cmd.name, "--status must be active or revoked");
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot list protected files", "/api/v1/files",
			      (const struct client_param[]){ { "status", status }, { 0 } });
}

static int access_row(struct table *t, const json_t *v, void *ud)
{
	char t1[64];
	const char *row[] = { out_time(t1, sizeof(t1), out_str(v, "at")), out_str(v, "login"),
			      out_str(v, "source"), out_str(v, "outcome"), out_str(v, "reason") };

	return table_add(t, row);
}

static int files_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "files show", files_help, "", NULL };
	static const char *const hdr[] = { "WHEN", "WHO", "FROM", "OUTCOME", "REASON" };
	const struct cli_table spec = { cmd.name, 5, hdr, access_row, NULL,
					"  (nobody has tried to open it)\n" };
	char id[ULID_SIZE];
	json_t *f = NULL, *hist = NULL;
	struct client *c;
	struct cli_args a;
	struct buf path;
	int r, rc;

	if (!files_start(cli, &cmd, argc, argv, 1, 1, "FILE (an id or the .rpf file)", &a, id, &rc))
		return rc;
	c = cli->client;
	buf_init(&path, 1024);
	r = client_call_id(c, "GET", FILES_PATH, id, NULL, NULL, &f);
	r = r < 0 ? r : client_path_id(c, &path, FILES_PATH, id, "/access");
	r = r < 0 ? r : cli_fetch_list(cli, path.data, true, &hist);
	buf_done(&path);
	if (r < 0) {
		json_decref(f);
		return client_fail(c, r, "cannot show the protected file");
	}
	if (cli->json) {
		json_object_set(f, "access_history", json_object_get(hist, "items"));
		out_json(f);
		rc = CLI_EXIT_OK;
	} else {
		print_file(f);
		printf("\nAccess history:\n");
		rc = cli_table_print(hist, &spec);
	}
	json_decref(f);
	json_decref(hist);
	return rc;
}

/* PATCHes @body to FILE and prints the file. */
static int files_patch(struct cli *cli, const char *name, const char *id, json_t *body,
		       const char *what)
{
	struct client *c = cli_client(cli);
	json_t *res = NULL;
	int r;

	if (!c) {
		json_decref(body);
		return CLI_EXIT_USAGE;
	}
	r = body ? client_call_id(c, "PATCH", FILES_PATH, id, NULL, body, &res) : -ENOMEM;
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, what);
	if (!cli_json_done(cli, res)) {
		print_file(res);
		json_decref(res);
	}
	return CLI_EXIT_OK;
}

static int files_grant_common(struct cli *cli, int argc, char **argv, bool grant)
{
	static const struct cli_cmd cmd_grant = { "files grant", files_help, "", NULL };
	static const struct cli_cmd cmd_ungrant = { "files ungrant", files_help, "", NULL };
	const struct cli_cmd *cmd = grant ? &cmd_grant : &cmd_ungrant;
	char id[ULID_SIZE], g[PROTECT_GRANTEE_MAX];
	struct cli_args a;
	json_t *list;
	int rc;

	if (!files_start(cli, cmd, argc, argv, 2, 257, "FILE and at least one GRANTEE", &a, id, &rc))
		return rc;
	list = json_array();
	for (int i = a.pos + 1; list && i < argc; i++) {
		rc = protect_grantee_resolve(cli, cmd->name, argv[i], g, sizeof(g));
		if (rc != 0) {
			json_decref(list);
			return rc;
		}
		json_array_append_new(list, json_string(g));
	}
	return files_patch(cli, cmd->name, id, json_pack("{s:o}", grant ? "grant" : "ungrant", list),
			   grant ? "the access list was not changed" : "the access list was not changed");
}

static int files_grant(struct cli *cli, int argc, char **argv)
{
	return files_grant_common(cli, argc, argv, true);
}

static int files_ungrant(struct cli *cli, int argc, char **argv)
{
	return files_grant_common(cli, argc, argv, false);
}

static int files_expire(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "files expire", files_help, "", NULL };
	char id[ULID_SIZE];
	struct cli_args a;
	int64_t ms;
	int rc;
	const char *when;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 2, 2, "FILE and DATE (or never)", &rc))
		return rc;
	when = argv[a.pos + 1];
	if (strcmp(when, "never") != 0 && rtime_parse(when, &ms) < 0)
		return cli_usage(cmd.name, "DATE must be a date (2027-03-31), an RFC 3339 time, or never");
	if ((rc = protect_file_id(cmd.name, argv[a.pos], id)) != 0)
		return rc;
	return files_patch(cli, cmd.name, id, json_pack("{s:o}", "expires_at",
			   strcmp(when, "never") == 0 ? json_null() : json_string(when)),
			   "the expiry was not changed");
}

static int files_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "files revoke", files_help, "", NULL };
	char id[ULID_SIZE], clean[128];
	struct cli_args a;
	struct client *c;
	json_t *res = NULL;
	int r, rc;

	if (!files_start(cli, &cmd, argc, argv, 1, 1, "FILE (an id or the .rpf file)", &a, id, &rc))
		return rc;
	c = cli->client;
	r = client_call_id(c, "POST", FILES_PATH, id, "/revoke", NULL, &res);
	if (r < 0)
		return client_fail(c, r, "the file was not revoked");
	if (cli->json)
		out_json(res);
	else
		printf("File %s (%s) revoked: nobody can open it any more.\n", id,
		       out_clean(clean, sizeof(clean), out_str(res, "name")));
	json_decref(res);
	return CLI_EXIT_OK;
}

int cmd_files(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", files_list },
		{ "show", files_show },
		{ "grant", files_grant },
		{ "ungrant", files_ungrant },
		{ "expire", files_expire },
		{ "revoke", files_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "files", files_help, subs, argc, argv);
}
