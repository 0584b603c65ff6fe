/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rampart: the command line for people and administrators.  Parses the
 * global options, finds the server and the credentials (--server,
 * RAMPART_SERVER, RAMPART_TOKEN, the saved login), and dispatches to the
 * command groups in cmd_*.c.  Only this file exits.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "cli/out.h"
#include "common/str.h"

static const char main_help[] =
"NAME\n"
"    rampart - command line for the Rampart information security platform\n"
"\n"
"SYNOPSIS\n"
"    rampart [--server URL] [--ca FILE] [--json] COMMAND [ARGUMENTS...]\n"
"    rampart COMMAND --help\n"
"    rampart help [COMMAND]\n"
"\n"
"DESCRIPTION\n"
"    rampart talks to a Rampart server (rampartd) over HTTPS: log in, look\n"
"    people and the organization up, grant roles, import the HR feed, manage\n"
"    API tokens, and read and verify the audit log.  Tables are printed for\n"
"    people; --json prints the server's JSON for scripts.  Every command and\n"
"    subcommand explains itself with --help.\n"
"\n"
"GLOBAL OPTIONS (before the command)\n"
"    --server URL   the server, e.g. https://rampart.example.com.  Default:\n"
"                   RAMPART_SERVER, else the server of the saved login, else\n"
"                   " CLI_DEFAULT_SERVER ".\n"
"    --ca FILE      also trust the CA certificate(s) in FILE (PEM), e.g. a\n"
"                   server's self-signed certificate; 'rampart --ca FILE login'\n"
"                   remembers it for that server.  Certificates are always\n"
"                   verified; there is no option to turn that off.\n"
"    --json         print the API's JSON instead of tables (also accepted after\n"
"                   the command).\n"
"    -h, --help     show this help.\n"
"    --version      print the version.\n"
"\n"
"COMMANDS\n"
"    login [LOGIN]                 log in and save the session\n"
"    logout [--everywhere]         end this session (or all of yours)\n"
"    whoami                        who you are logged in as, your roles\n"
"    passwd                        change your password\n"
"    totp enroll | disable         set up or remove a one-time-code app\n"
"    sessions list | revoke ID     your sessions\n"
"    org                           the organization tree\n"
"    people list | show | search | history | invite | set-password |\n"
"           revoke-sessions        the directory of people\n"
"    roles grant | revoke ROLE PERSON\n"
"                                  grant or revoke a role\n"
"    hr import FILE                import the HR feed (CSV)\n"
"    tokens list | create | revoke API tokens\n"
"    audit list | verify | export  the audit log\n"
"    protect FILE... --to GRANTEE  encrypt files only the right people can open\n"
"    open FILE.rpf [-o OUT]        open a protected file\n"
"    files list | show | grant | ungrant | expire | revoke\n"
"                                  protected files: access lists, history\n"
"    send FILE... --to EMAIL       send files through a one-time link\n"
"    request --from EMAIL          ask an outsider to upload files\n"
"    transfers list | show | revoke\n"
"                                  your transfers and requests\n"
"    fetch URL [-o OUT]            download a one-time link (no account needed)\n"
"    enrollment-tokens list | create | revoke\n"
"                                  tokens with which PCs enroll (rampart-agent)\n"
"    devices [list] | show | quarantine | release\n"
"                                  enrolled PCs, their compliance and quarantine\n"
"    events [--device ID] [--person LOGIN] [--kind K] [--since T]\n"
"                                  operation logs of PCs, newest first\n"
"    policies list | show | set    endpoint policies of org units\n"
"\n"
"    A PERSON argument may be an id, a login, an employee number or an email.\n"
"\n"
"ENVIRONMENT\n"
"    RAMPART_SERVER     the server URL when --server is not given\n"
"    RAMPART_TOKEN      a session or API token to use instead of the saved login\n"
"    XDG_CONFIG_HOME    where the saved login is kept (default ~/.config)\n"
"\n"
"FILES\n"
"    $XDG_CONFIG_HOME/rampart/login.json (else ~/.config/rampart/login.json)\n"
"        the saved login {\"server\",\"token\",\"login\"[,\"ca\"]}, mode 0600 in a 0700\n"
"        directory; written by 'rampart login', deleted by 'rampart logout'.\n"
"        Its token is only sent to the server it was saved for.  A file that\n"
"        others can read is refused.\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  the operation failed or the server refused it (invalid input, conflict,\n"
"       an HR import with bad lines or over the retirement threshold, a broken\n"
"       audit chain)\n"
"    2  bad command line (unknown command or option, missing argument)\n"
"    3  not authenticated (not logged in, session expired, wrong password or\n"
"       code, account locked) or not allowed (missing role)\n"
"    4  not found (no such person, token, session...)\n"
"    5  the server could not be reached (connection, DNS, TLS, timeout)\n"
"\n"
"SECRETS\n"
"    Passwords, codes and tokens are never taken from the command line (where\n"
"    other users can see them) except a one-time --totp code.  rampart asks for\n"
"    them on the terminal without echo, or reads the first line of the file\n"
"    given with --password-file and similar options ('-' reads standard input).\n"
"    They are wiped from memory after use and never written to logs or errors.\n"
"\n"
"EXAMPLES\n"
"    rampart --server https://rampart.example.com login alice\n"
"    rampart people list --org 'Acme/Sales' --all\n"
"    rampart people show E1042\n"
"    rampart roles grant security_manager alice --scope 'Acme/Sales'\n"
"    rampart hr import staff.csv --dry-run\n"
"    TOKEN=$(rampart tokens create ci --expires 30d)\n"
"    rampart audit export --since 7d -o audit.jsonl\n"
"\n"
"    See docs/cli.md for the full reference.\n";

static const char main_usage[] =
"Usage: rampart [--server URL] [--ca FILE] [--json] COMMAND [ARGUMENTS...]\n"
"Commands: login logout whoami passwd totp sessions org people roles hr tokens audit\n"
"          protect open files send request transfers fetch enrollment-tokens devices\n"
"          policies events\n"
"Run 'rampart --help' for the manual, 'rampart COMMAND --help' for a command.\n";

struct command {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
	{ "login", cmd_login },
	{ "logout", cmd_logout },
	{ "whoami", cmd_whoami },
	{ "passwd", cmd_passwd },
	{ "totp", cmd_totp },
	{ "sessions", cmd_sessions },
	{ "org", cmd_org },
	{ "people", cmd_people },
	{ "roles", cmd_roles },
	{ "hr", cmd_hr },
	{ "tokens", cmd_tokens },
	{ "audit", cmd_audit },
	{ "protect", cmd_protect },
	{ "open", cmd_open },
	{ "files", cmd_files },
	{ "send", cmd_send },
	{ "request", cmd_request },
	{ "transfers", cmd_transfers },
	{ "fetch", cmd_fetch },
	{ "enrollment-tokens", cmd_enrollment_tokens },
	{ "devices", cmd_devices },
	{ "events", cmd_events },
	{ "policies", cmd_policies },
	{ NULL, NULL },
};

/* Memory that jansson frees may have held a password or token: wipe it first. */
static void *cli_json_malloc(size_t n)
{
	return malloc(n);
}

static void cli_json_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static const struct command *command_find(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Chooses the server and whether the saved login's token goes with it. */
static int cli_setup(struct cli *cli, const char *cmd)
{
	const char *env = secure_getenv("RAMPART_SERVER");
	const char *server;

	cli->saved_err = creds_load(&cli->saved, cli->saved_why, sizeof(cli->saved_why));
	if (cli->opt_server) {
		server = cli->opt_server;
		cli->server_from = "--server";
	} else if (env && *env) {
		server = env;
		cli->server_from = "RAMPART_SERVER";
	} else if (cli->saved_err == 0) {
		server = cli->saved.server;
		cli->server_from = "the saved login";
	} else {
		server = CLI_DEFAULT_SERVER;
		cli->server_from = "the default";
	}
	if (str_copy(cli->server, sizeof(cli->server), server) < 0) {
		fprintf(stderr, "rampart: the server URL (from %s) is longer than %zu bytes\n",
			cli->server_from, sizeof(cli->server) - 1);
		return CLI_EXIT_USAGE;
	}
	cli->token_is_saved = cli->saved_err == 0 && cli_same_server(cli->saved.server, cli->server);
	/* The CA trusted at login goes on being trusted for that server. */
	if (!cli->ca_file && cli->token_is_saved && cli->saved.ca_file[0])
		cli->ca_file = cli->saved.ca_file;
	/* A broken saved login matters to every command but login, which replaces it. */
	if (cli->saved_err < 0 && cli->saved_err != -ENOENT && strcmp(cmd, "login") != 0 &&
	    strcmp(cmd, "help") != 0) {
		fputs("rampart: warning: ", stderr);
		out_put_clean(stderr, cli->saved_why);
		fputc('\n', stderr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_SERVER = 0x100, OPT_CA, OPT_JSON, OPT_VERSION };
	static const struct option opts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct cli cli = { 0 };
	const struct command *cmd;
	const struct rlimit no_core = { 0, 0 };
	int c, rc;

	/* A core dump would hold whatever password was being typed. */
	setrlimit(RLIMIT_CORE, &no_core);
	json_set_alloc_funcs(cli_json_malloc, cli_json_free);

	opterr = 0;
	/* '+': stop at the command; its own options are parsed by the command. */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER: cli.opt_server = optarg; break;
		case OPT_CA: cli.ca_file = optarg; break;
		case OPT_JSON: cli.json = true; break;
		case OPT_VERSION: printf("rampart %s\n", RAMPART_VERSION); return CLI_EXIT_OK;
		case 'h': fputs(main_help, stdout); return CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "rampart: option '%s' needs a value\n%s", argv[optind - 1], main_usage);
			return CLI_EXIT_USAGE;
		default:
			fprintf(stderr, "rampart: unknown option '%s'\n%s", argv[optind - 1], main_usage);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(main_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			fputs(main_help, stdout);
			return CLI_EXIT_OK;
		}
		cmd = command_find(argv[optind + 1]);
		if (!cmd) {
			fprintf(stderr, "rampart: unknown command '%s'\n%s", argv[optind + 1], main_usage);
			return CLI_EXIT_USAGE;
		}
		{
			char *sub[] = { argv[optind + 1], (char *)"--help", NULL };

			return cmd->fn(&cli, 2, sub);
		}
	}
	cmd = command_find(argv[optind]);
	if (!cmd) {
		char clean[128];

		fprintf(stderr, "rampart: unknown command '%s'\n%s",
			out_clean(clean, sizeof(clean), argv[optind]), main_usage);
		return CLI_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "rampart: cannot initialize libcurl\n");
		return CLI_EXIT_FAILED;
	}
	rc = cli_setup(&cli, cmd->name);
	if (rc == 0)
		rc = cmd->fn(&cli, argc - optind, argv + optind);
	client_free(cli.client);
	creds_done(&cli.saved);
	curl_global_cleanup();
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "rampart: cannot write the output: %s\n", strerror(errno));
		rc = CLI_EXIT_FAILED;
	}
	return rc;
}
