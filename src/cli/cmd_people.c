/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_people: org, people and roles: reading the directory and the few
 * changes an administrator makes to a person (invitation, password, sessions,
 * roles).  A PERSON argument is an id, login, employee number or email.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "cli/term.h"
#include "common/str.h"

/* --------------------------------------------------------------------- org */

static const char org_help[] =
"Usage: rampart org [--json]\n"
"\n"
"Prints the organization tree you may see (all of it, or the subtree you\n"
"manage), one unit per line, indented by its place in the tree, with its\n"
"level (group, company, division, department, unit), its kind (own,\n"
"group_company, business_partner) and how many people it has.\n";

/* Orders paths so that a unit comes right before its children ('/' sorts first). */
static int org_path_cmp(const void *pa, const void *pb)
{
	const char *a = out_str(*(json_t *const *)pa, "path");
	const char *b = out_str(*(json_t *const *)pb, "path");

	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		if (!ca || !cb)
			return ca ? 1 : -1;
		if (ca == '/' || cb == '/')
			return ca == '/' ? -1 : 1;
		return ca < cb ? -1 : 1;
	}
}

static size_t path_depth(const char *p)
{
	size_t d = 0;

	for (; *p; p++)
		if (*p == '/')
			d++;
	return d;
}

int cmd_org(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "org", org_help, "", NULL };
	static const char *const hdr[] = { "UNIT", "LEVEL", "KIND", "PEOPLE" };
	json_t *list = NULL, *items, **sorted = NULL;
	struct table *t = NULL;
	struct client *c;
	struct cli_args a;
	size_t n, min_depth = SIZE_MAX;
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_call(c, "GET", "/api/v1/org", NULL, &list);
	if (r < 0)
		return client_fail(c, r, "cannot read the organization");
	if (cli_json_done(cli, list))
		return CLI_EXIT_OK;
	items = json_object_get(list, "items");
	n = json_array_size(items);
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	t = table_new(4, hdr);
	if (!sorted || !t) {
		rc = cli_fail("org: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t d;

		sorted[i] = json_array_get(items, i);
		d = path_depth(out_str(sorted[i], "path"));
		if (d < min_depth)
			min_depth = d;
	}
	qsort(sorted, n, sizeof(*sorted), org_path_cmp);
	for (size_t i = 0; i < n; i++) {
		struct buf name;
		char people[32];
		json_t *np = json_object_get(sorted[i], "people");
		size_t d = path_depth(out_str(sorted[i], "path")) - min_depth;
		const char *row[4];

		buf_init(&name, 4096);
		for (size_t k = 0; k < d && k < 32; k++)
			buf_puts(&name, "  ");
		buf_puts(&name, out_str(sorted[i], "name"));
		snprintf(people, sizeof(people), "%lld", (long long)json_integer_value(np));
		row[0] = name.data;
		row[1] = out_str(sorted[i], "level");
		row[2] = out_str(sorted[i], "kind");
		row[3] = json_is_integer(np) ? people : "";
		r = table_add(t, row);
		buf_done(&name);
		if (r < 0) {
			rc = cli_fail("org: out of memory");
			goto out;
		}
	}
	table_print(t, stdout);
	rc = CLI_EXIT_OK;
out:
	table_free(t);
	free(sorted);
	json_decref(list);
	return rc;
}

/* ------------------------------------------------------------------ people */

static const char people_help[] =
"Usage: rampart people list [--org PATH] [--status S] [--kind K] [--role R]\n"
"                           [--limit N] [--all] [--json]\n"
"       rampart people search TEXT [--limit N] [--all] [--json]\n"
"       rampart people show PERSON [--json]\n"
"       rampart people history PERSON [--limit N] [--all] [--json]\n"
"       rampart people invite PERSON [--json]\n"
"       rampart people set-password PERSON [--password-file FILE] [--json]\n"
"       rampart people revoke-sessions PERSON [--json]\n"
"\n"
"PERSON is an id, a login, an employee number or an email address.\n"
"\n"
"list             people you may see, filtered:\n"
"                   --org PATH    in this org unit and below (path or id)\n"
"                   --status S    active, on_leave or retired\n"
"                   --kind K      employee or partner_staff\n"
"                   --role R      holding role R (admin, security_officer,\n"
"                                 security_manager, manager, auditor...)\n"
"                   --limit N     people per page (1-10000)\n"
"                   --all         follow the pages to the end\n"
"search           people whose name, login, email or employee number contain TEXT\n"
"show             one person's record, manager and roles\n"
"history          the changes HR, SCIM or administrators made to a person\n"
"invite           creates a one-time activation link and prints it; send it to\n"
"                 the person so that they set their own password\n"
"set-password     sets a temporary password the person must change at the next\n"
"                 login: from --password-file, or generated by the server and\n"
"                 printed once\n"
"revoke-sessions  ends every session of the person\n";

static const char *const people_hdr[] = { "LOGIN", "EMPLOYEE NO.", "NAME", "ORG UNIT", "TITLE",
					  "STATUS", "KIND" };

/* A row of people_hdr. */
static int people_row(struct table *t, const json_t *p, void *ud)
{
	char nm[300];
	const char *row[] = {
		out_str(p, "login"), out_str(p, "employee_number"),
		cli_person_name(p, nm, sizeof(nm)), out_str2(p, "org_unit", "path"),
		out_str(p, "title"), out_str(p, "status"), out_str(p, "kind"),
	};

	return table_add(t, row);
}

static int people_list(struct cli *cli, int argc, char **argv)
{
	enum { OPT_ORG = 0x200, OPT_STATUS, OPT_KIND, OPT_ROLE, OPT_LIMIT, OPT_ALL };
	static const struct option opts[] = {
		{ "org", required_argument, NULL, OPT_ORG },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "people list", people_help, "", opts };
	const struct cli_table spec = { cmd.name, 7, people_hdr, people_row };
	const char *org = NULL, *status = NULL, *kind = NULL, *role = NULL, *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		{ OPT_ORG, &org }, { OPT_STATUS, &status }, { OPT_KIND, &kind }, { OPT_ROLE, &role },
		{ OPT_LIMIT, .parse = cli_parse_limit, .dst = &limit }, { OPT_ALL, .flag = &all }, { 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot list people", "/api/v1/people",
			      (const struct client_param[]){
				      { "org", org }, { "status", status }, { "kind", kind }, { "role", role },
				      { "limit", limit }, { 0 } });
}

static int people_search(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "people search", people_help, "", opts };
	const struct cli_table spec = { cmd.name, 7, people_hdr, people_row };
	const char *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		{ 'l', .parse = cli_parse_limit, .dst = &limit }, { 'a', .flag = &all }, { 0 }
	};
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "TEXT to search for", &rc))
		return rc;
	if (!argv[a.pos][0])
		return cli_usage(cmd.name, "the TEXT to search for is empty");
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_query(cli, &spec, all, "cannot list people", "/api/v1/people",
			      (const struct client_param[]){ { "q", argv[a.pos] }, { "limit", limit }, { 0 } });
}

static void person_print(const json_t *p)
{
	const json_t *mgr = json_object_get(p, "manager");
	struct buf b;
	char t[64], nm[300];

	buf_init(&b, 65536);
	out_kv("id", out_str(p, "id"));
	out_kv("login", out_str(p, "login"));
	out_kv("employee no.", out_str(p, "employee_number"));
	out_kv("name", cli_person_name(p, nm, sizeof(nm)));
	out_kv("email", out_str(p, "email"));
	out_kv("org unit", out_str2(p, "org_unit", "path"));
	out_kv("title", out_str(p, "title"));
	out_kv("status", out_str(p, "status"));
	out_kv("kind", out_str(p, "kind"));
	if (json_is_object(mgr)) {
		buf_printf(&b, "%s", out_str(mgr, "name"));
		if (*out_str(mgr, "employee_number"))
			buf_printf(&b, " (%s)", out_str(mgr, "employee_number"));
	}
	out_kv("manager", b.data);
	buf_reset(&b);
	cli_roles_text(json_object_get(p, "roles"), &b);
	out_kv("roles", b.data);
	out_kv("created", out_time(t, sizeof(t), out_str(p, "created_at")));
	out_kv("updated", out_time(t, sizeof(t), out_str(p, "updated_at")));
	if (*out_str(p, "retired_at"))
		out_kv("retired", out_time(t, sizeof(t), out_str(p, "retired_at")));
	buf_done(&b);
}

/*
 * Parses the options (@binds; see cli_args_parse) and the one PERSON
 * argument of a subcommand, and resolves it into *ret_person.  Returns 0 or
 * the exit code.
 */
static int person_cmd_start(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
			    const struct cli_bind *binds, json_t **ret_person)
{
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, cmd, argc, argv, binds, 1, 1,
			    "PERSON (id, login, employee number or email)", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_person_resolve(cli, argv[a.pos], cmd->name, ret_person);
}

static int people_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "people show", people_help, "", NULL };
	json_t *p = NULL;
	int rc = person_cmd_start(cli, &cmd, argc, argv, NULL, &p);

	if (rc != 0)
		return rc;
	if (cli_json_done(cli, p))
		return CLI_EXIT_OK;
	person_print(p);
	json_decref(p);
	return CLI_EXIT_OK;
}

static int history_row(struct table *t, const json_t *v, void *ud)
{
	char tm[64];
	char *change = json_dumps(json_object_get(v, "change"), JSON_COMPACT | JSON_ENCODE_ANY);
	const char *row[] = { out_time(tm, sizeof(tm), out_str(v, "at")), out_str(v, "source"),
			      out_str(v, "actor_id"), change };
	int r = table_add(t, row);

	free(change);
	return r;
}

static int people_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "people history", people_help, "", opts };
	static const char *const hdr[] = { "TIME", "SOURCE", "ACTOR", "CHANGE" };
	const struct cli_table spec = { cmd.name, 4, hdr, history_row };
	const char *limit = NULL;
	bool all = false;
	const struct cli_bind binds[] = {
		{ 'l', .parse = cli_parse_limit, .dst = &limit }, { 'a', .flag = &all }, { 0 }
	};
	json_t *p = NULL;
	struct buf path;
	int r, rc;

	if ((rc = person_cmd_start(cli, &cmd, argc, argv, binds, &p)) != 0)
		return rc;
	buf_init(&path, 4096);
	r = cli_person_path(cli, &path, p, "/history");
	json_decref(p);
	rc = r < 0 ? client_fail(cli->client, r, "cannot read the history")
		   : cli_list_query(cli, &spec, all, "cannot read the history", path.data,
				    (const struct client_param[]){ { "limit", limit }, { 0 } });
	buf_done(&path);
	return rc;
}

static int people_invite(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "people invite", people_help, "", NULL };
	json_t *p = NULL, *res = NULL;
	char clean[2048], tm[64], login[256];
	const char *url;
	int r, rc = person_cmd_start(cli, &cmd, argc, argv, NULL, &p);

	if (rc != 0)
		return rc;
	r = cli_person_call(cli, "POST", p, "/invite", NULL, &res);
	if (r < 0) {
		json_decref(p);
		return client_fail(cli->client, r, "no invitation was created");
	}
	if (cli->json) {
		out_json(res);
	} else {
		url = out_str(res, "activation_url");
		fprintf(stderr, "Activation link for %s, valid until %s; send it only to them:\n",
			out_clean(login, sizeof(login), out_str(p, "login")),
			out_time(tm, sizeof(tm), out_str(res, "expires_at")));
		/* The link alone on stdout, so that it can be piped into a mail. */
		printf("%s\n", out_clean(clean, sizeof(clean), *url ? url : out_str(res, "activation_token")));
	}
	json_decref(res);
	json_decref(p);
	return CLI_EXIT_OK;
}

static int people_set_password(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "people set-password", people_help, "", opts };
	char pw[TERM_SECRET_MAX + 1] = "", login[256], clean[512];
	const char *pwfile = NULL, *tmp;
	const struct cli_bind binds[] = { { 'p', &pwfile }, { 0 } };
	json_t *p = NULL, *body = NULL, *res = NULL;
	struct cli_args a;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1,
			    "PERSON (id, login, employee number or email)", &rc))
		return rc;
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	if (pwfile) {
		rc = cli_secret(cmd.name, pwfile, "--password-file", "", "password", pw, sizeof(pw));
		if (rc != 0)
			return rc;
	}
	rc = cli_person_resolve(cli, argv[a.pos], cmd.name, &p);
	if (rc != 0)
		goto out;
	body = pwfile ? json_pack("{s:s}", "password", pw) : json_object();
	explicit_bzero(pw, sizeof(pw));
	r = body ? cli_person_call(cli, "POST", p, "/password", body, &res) : -ENOMEM;
	if (r < 0) {
		rc = client_fail(cli->client, r, "the password was not set");
		goto out;
	}
	out_clean(login, sizeof(login), out_str(p, "login"));
	tmp = json_string_value(json_object_get(res, "temporary_password"));
	if (cli->json) {
		if (!res)
			res = json_object();
		if (res)
			out_json(res);
	} else if (tmp) {
		fprintf(stderr, "Temporary password for %s (shown once; they must change it at the next "
				"login):\n", login);
		printf("%s\n", out_clean(clean, sizeof(clean), tmp));
		explicit_bzero(clean, sizeof(clean));
	} else {
		printf("Password set for %s; they must change it at the next login.\n", login);
	}
	rc = CLI_EXIT_OK;
out:
	explicit_bzero(pw, sizeof(pw));
	json_decref(body);
	json_decref(res);
	json_decref(p);
	return rc;
}

static int people_revoke_sessions(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "people revoke-sessions", people_help, "", NULL };
	json_t *p = NULL, *res = NULL;
	char login[256];
	int r, rc = person_cmd_start(cli, &cmd, argc, argv, NULL, &p);

	if (rc != 0)
		return rc;
	r = cli_person_call(cli, "POST", p, "/sessions/revoke", NULL, &res);
	if (r < 0) {
		json_decref(p);
		return client_fail(cli->client, r, "the sessions were not ended");
	}
	if (cli->json)
		out_json(res);
	else
		printf("Ended %lld session(s) of %s.\n",
		       (long long)json_integer_value(json_object_get(res, "revoked")),
		       out_clean(login, sizeof(login), out_str(p, "login")));
	json_decref(res);
	json_decref(p);
	return CLI_EXIT_OK;
}

int cmd_people(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", people_list },
		{ "search", people_search },
		{ "show", people_show },
		{ "history", people_history },
		{ "invite", people_invite },
		{ "set-password", people_set_password },
		{ "revoke-sessions", people_revoke_sessions },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "people", people_help, subs, argc, argv);
}

/* ------------------------------------------------------------------- roles */

static const char roles_help[] =
"Usage: rampart roles grant ROLE PERSON [--scope PATH] [--json]\n"
"       rampart roles revoke ROLE PERSON [--json]\n"
"\n"
"Grants or revokes a role.  ROLE is one of admin, security_officer,\n"
"security_manager, manager, auditor (employee and partner_staff follow from\n"
"a person's kind).  PERSON is an id, login, employee number or email.\n"
"\n"
"  --scope PATH   for security_manager: the org subtree managed (default: the\n"
"                 person's own unit)\n"
"\n"
"Who may grant what: admins any role; security officers any role but admin;\n"
"security managers only manager, within their subtree.  A refusal exits 3.\n";

static int roles_change(struct cli *cli, int argc, char **argv, bool grant)
{
	static const struct option opts[] = {
		{ "scope", required_argument, NULL, 's' },
		{ 0 }
	};
	static const struct cli_cmd grant_cmd = { "roles grant", roles_help, "", opts };
	static const struct cli_cmd revoke_cmd = { "roles revoke", roles_help, "", NULL };
	const struct cli_cmd *cmd = grant ? &grant_cmd : &revoke_cmd;
	const char *scope = NULL, *role;
	const struct cli_bind binds[] = { { 's', &scope }, { 0 } };
	json_t *p = NULL, *body = NULL, *res = NULL;
	struct cli_args a;
	struct buf path;
	char login[256], cr[64], cs[512];
	int r, rc;

	if (!cli_args_parse(cli, &a, cmd, argc, argv, binds, 2, 2, "ROLE and PERSON", &rc))
		return rc;
	role = argv[a.pos];
	if (!*role || strlen(role) > 32)
		return cli_usage(cmd->name, "'%s' is not a role", out_clean(cr, sizeof(cr), role));
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	rc = cli_person_resolve(cli, argv[a.pos + 1], cmd->name, &p);
	if (rc != 0)
		return rc;
	buf_init(&path, 4096);
	r = cli_person_path(cli, &path, p, "/roles/");
	r = r < 0 ? r : client_escape(cli->client, &path, role);
	if (r == 0 && grant) {
		body = scope ? json_pack("{s:s}", "scope_org", scope) : json_object();
		r = body ? 0 : -ENOMEM;
	}
	r = r < 0 ? r : client_call(cli->client, grant ? "PUT" : "DELETE", path.data, body, &res);
	buf_done(&path);
	json_decref(body);
	out_clean(login, sizeof(login), out_str(p, "login"));
	json_decref(p);
	if (r < 0)
		return client_fail(cli->client, r, grant ? "the role was not granted"
							 : "the role was not revoked");
	if (cli->json) {
		out_json(res);
	} else if (grant) {
		printf("Granted %s to %s%s%s.\n", out_clean(cr, sizeof(cr), role), login,
		       scope ? " within " : "", scope ? out_clean(cs, sizeof(cs), scope) : "");
	} else {
		printf("Revoked %s from %s.\n", out_clean(cr, sizeof(cr), role), login);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

static int roles_grant(struct cli *cli, int argc, char **argv)
{
	return roles_change(cli, argc, argv, true);
}

static int roles_revoke(struct cli *cli, int argc, char **argv)
{
	return roles_change(cli, argc, argv, false);
}

int cmd_roles(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "grant", roles_grant },
		{ "revoke", roles_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "roles", roles_help, subs, argc, argv);
}
