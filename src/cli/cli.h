/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli: what the rampart commands share: the program state (server, saved
 * login, client), option parsing with --help and --json everywhere, usage
 * errors, secrets from files or prompts, person lookup and list paging.
 *
 * Every command function returns the program's exit code (enum cli_exit)
 * and has printed, on stderr, what went wrong and what to do about it.
 */
#ifndef RAMPART_CLI_CLI_H
#define RAMPART_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/client.h"
#include "cli/creds.h"

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

struct cli {
	bool json;                 /* print the API's JSON */
	const char *opt_server;    /* --server */
	const char *ca_file;       /* --ca */
	char server[CLIENT_URL_MAX];
	const char *server_from;   /* "--server", "RAMPART_SERVER", "the saved login", "the default" */
	struct creds saved;        /* the saved login; token NULL when none */
	int saved_err;             /* why it could not be loaded (0, -ENOENT...) */
	char saved_why[CREDS_PATH_MAX + 200];
	bool token_is_saved;       /* the token in use is the saved login's */
	struct client *client;
};

/* A command (or subcommand) for option parsing and help. */
struct cli_cmd {
	const char *name;          /* "people list" */
	const char *help;          /* the full --help text */
	const char *shortopts;     /* getopt short options besides h, or "" */
	const struct option *opts; /* long options (without help and json), {0}-terminated; may be NULL */
};

/* Option parsing state for cli_opt. */
struct cli_args {
	int argc;
	char **argv;
	const struct cli_cmd *cmd;
	bool started;
	struct option all[40];
	char shortopts[40];
	int exit;                  /* when cli_opt returned -1 */
	int pos;                   /* first positional argument, after cli_opt returned 0 */
};

/*
 * Initializes @a for the command @cmd with arguments @argv (argv[0] is the
 * command's name).  Returns 0 or -E2BIG when there are too many options.
 */
int cli_args_init(struct cli_args *a, const struct cli_cmd *cmd, int argc, char **argv);

/*
 * Returns the next option (its getopt value, optarg set) or 0 at the end
 * (positional arguments are then argv[a->pos..argc)), or -1 when the
 * command is finished with exit code a->exit: 0 after printing --help,
 * CLI_EXIT_USAGE after reporting a bad option.  --json is handled here.
 */
int cli_opt(struct cli *cli, struct cli_args *a);

/*
 * Checks that there are between @min and @max positional arguments; prints
 * a usage error otherwise.  Returns 0 or CLI_EXIT_USAGE.
 */
int cli_positional(const struct cli_args *a, int min, int max, const char *what);

/*
 * The whole argument handling of a command without options of its own:
 * cli_args_init, cli_opt (--help, --json) and cli_positional.  Returns true
 * when the command goes on; false when it is finished, with its exit code
 * (0 after --help, CLI_EXIT_USAGE after a usage error) in *ret_exit.
 */
bool cli_args_plain(struct cli *cli, struct cli_args *a, const struct cli_cmd *cmd, int argc,
		    char **argv, int min, int max, const char *what, int *ret_exit);

/*
 * A command "NAME ID" that DELETEs @base (ending in '/') followed by the
 * escaped ID: argument handling as cli_args_plain (@what names the ID in a
 * usage error), then the request, reporting a failure as "@fail: reason".
 * Returns true when the object was deleted, with the ID made printable in
 * @id (the caller says so); false with the exit code in *ret_exit.
 */
bool cli_delete_by_id(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, const char *what,
		      const char *base, const char *fail, char *id, size_t id_size, int *ret_exit);

/* Prints "rampart CMD: <message>" and a pointer to --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "rampart: <message>" on stderr and returns CLI_EXIT_FAILED. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The client for the chosen server, created on first use, sending the token
 * (RAMPART_TOKEN, or the saved login when it is for this server).  NULL
 * after printing why (a bad server URL): exit with CLI_EXIT_USAGE.
 */
struct client *cli_client(struct cli *cli);

/* A client for the chosen server that sends no token (for logging in).  Owned by the caller. */
struct client *cli_client_anon(struct cli *cli);

/*
 * Gets a secret: from @file when not NULL (first line; "-" is standard
 * input), else by prompting on the terminal without echo.  @what names it
 * in messages ("password"), @opt the option that reads it from a file
 * ("--password-file").  Returns 0, or an exit code after printing why.
 */
int cli_secret(const char *cmd, const char *file, const char *opt, const char *prompt,
	       const char *what, char *buf, size_t size);

/*
 * Finds a person by id, login, employee number or email (@ref) and returns
 * the API's person object in *ret.  Returns 0, or an exit code after
 * printing why (not found: CLI_EXIT_NOT_FOUND; ambiguous: CLI_EXIT_FAILED).
 */
int cli_person_resolve(struct cli *cli, const char *ref, const char *what, json_t **ret);

/*
 * Appends "/api/v1/people/<escaped id of @person>" and @suffix (may be
 * NULL) to @b.  Returns 0 or a negative error (-EBADMSG: @person has no id).
 */
int cli_person_path(struct cli *cli, struct buf *b, const json_t *person, const char *suffix);

/*
 * client_call on "/api/v1/people/<id of @person>@suffix" with the client
 * of cli_client (which must exist).  Returns as client_call; -EBADMSG when
 * @person has no id.
 */
int cli_person_call(struct cli *cli, const char *method, const json_t *person, const char *suffix,
		    const json_t *body, json_t **ret);

/*
 * GETs @path (a list endpoint, with its query) and, when @all, every
 * following page, returning {"items":[...], "next": cursor|null} in *ret.
 * Returns 0 or a client error (print it with client_fail).
 */
int cli_fetch_list(struct cli *cli, const char *path, bool all, json_t **ret);

/*
 * GETs one page: @base (a list path with its filters) plus limit=*@limit
 * (when not NULL) and cursor=@cursor (when not NULL).  A server configured
 * with a smaller largest page refuses the limit: then the page is fetched
 * again at the server's default size, and *@limit becomes NULL for the
 * following pages.  Returns 0 or a client error; *ret as client_call.
 */
int cli_get_page(struct cli *cli, const char *base, const char **limit, const char *cursor,
		 json_t **ret);

/* Prints a hint on stderr when @list has a next cursor and not everything was fetched. */
void cli_more_hint(const json_t *list, const char *cmd);

/* Parses --limit: 1..10000.  Returns 0 or CLI_EXIT_USAGE after printing why. */
int cli_parse_limit(const char *cmd, const char *s, const char **ret);

/* A person's display name "Given Family" (cleaned) into @buf. */
const char *cli_person_name(const json_t *person, char *buf, size_t size);

/* The commands. */
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_whoami(struct cli *cli, int argc, char **argv);
int cmd_passwd(struct cli *cli, int argc, char **argv);
int cmd_totp(struct cli *cli, int argc, char **argv);
int cmd_sessions(struct cli *cli, int argc, char **argv);
int cmd_org(struct cli *cli, int argc, char **argv);
int cmd_people(struct cli *cli, int argc, char **argv);
int cmd_roles(struct cli *cli, int argc, char **argv);
int cmd_hr(struct cli *cli, int argc, char **argv);
int cmd_tokens(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_protect(struct cli *cli, int argc, char **argv);
int cmd_open(struct cli *cli, int argc, char **argv);
int cmd_files(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_request(struct cli *cli, int argc, char **argv);
int cmd_transfers(struct cli *cli, int argc, char **argv);
int cmd_fetch(struct cli *cli, int argc, char **argv);
int cmd_enrollment_tokens(struct cli *cli, int argc, char **argv);
int cmd_devices(struct cli *cli, int argc, char **argv);
int cmd_events(struct cli *cli, int argc, char **argv);
int cmd_policies(struct cli *cli, int argc, char **argv);

/* A group of subcommands ("people list", "people show"...). */
struct cli_sub {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
};

/*
 * Runs the subcommand named by argv[1] from @subs, or prints @help for
 * "--help"/"-h"/no subcommand.  Returns the exit code.
 */
int cli_dispatch(struct cli *cli, const char *group, const char *help, const struct cli_sub *subs,
		 int argc, char **argv);

#endif
