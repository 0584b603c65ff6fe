/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli: what the rampart commands share: the program state (server, saved
 * login, client), option parsing with --help and --json everywhere, usage
 * errors, the common output tails (--json, a secret shown once), secrets
 * from files or prompts, time options and person lookup.  Lists and their
 * pages are in cli/list.h.
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
#include <sys/stat.h>

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
 * Where the value of one of a command's options goes (cli_args_parse): the
 * value of an option with an argument to *@str (the last one given wins);
 * an option without one sets *@flag; or, with @parse, the value is checked
 * and stored in @dst (of the type @parse names) as it comes: @parse
 * returns 0, or an exit code after printing why, which ends the parsing.
 */
struct cli_bind {
	int val;                   /* the option's getopt value */
	const char **str;
	bool *flag;
	int (*parse)(const char *cmd, const char *arg, void *dst);
	void *dst;
};

/*
 * The whole argument handling of a command: cli_args_init, cli_opt (--help,
 * --json, and the options that @binds, {0}-terminated or NULL, says where to
 * store) and cli_positional(@min, @max, @what).  Returns true when the
 * command goes on, its positional arguments at argv[a->pos..]; false when
 * it is finished, with its exit code in *ret_exit (0 after --help,
 * CLI_EXIT_USAGE after a usage error).
 */
bool cli_args_parse(struct cli *cli, struct cli_args *a, const struct cli_cmd *cmd, int argc,
		    char **argv, const struct cli_bind *binds, int min, int max, const char *what,
		    int *ret_exit);

/* cli_args_parse for a command without options of its own (besides --help and --json). */
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

/*
 * With --json, prints @j (the API's answer) and releases it, and returns
 * true: the command is done.  Otherwise returns false and leaves @j alone.
 */
bool cli_json_done(struct cli *cli, json_t *j);

/*
 * The output of a command that creates a secret the server shows only once
 * (a token): with --json the answer @res; otherwise the message @fmt on
 * stderr, then the string member @key of @res alone on stdout, so that it
 * can be captured.  Returns 0, or CLI_EXIT_FAILED after "NAME: the
 * server's answer has no token" when @res lacks it.  @res stays the caller's.
 */
int cli_show_once(struct cli *cli, const json_t *res, const char *key, const char *name,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Parses the value @arg of the time option --@opt ("since"): an RFC 3339
 * time, a date (UTC), or a duration back from now ("7d"), into RFC 3339
 * UTC in @out.  Returns 0 or CLI_EXIT_USAGE after printing why.
 */
int cli_parse_time(const char *cmd, const char *opt, const char *arg, char *out, size_t size);

/* The size of the buffer for a time that cli_parse_since and cli_parse_until store. */
#define CLI_TIME_MAX 40

/* cli_bind parsers of --since and --until: cli_parse_time into @dst, a char[CLI_TIME_MAX]. */
int cli_parse_since(const char *cmd, const char *arg, void *dst);
int cli_parse_until(const char *cmd, const char *arg, void *dst);

/* True when the server URLs @a and @b are the same (case aside; trailing slashes do not count). */
bool cli_same_server(const char *a, const char *b);

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
 * Opens @path, which must be a regular file, for reading, with its status
 * in *st.  Returns the descriptor, or -1 after "rampart: CMD: cannot read
 * PATH: reason" or "rampart: CMD: PATH is not a regular file" (PATH
 * cleaned) with the exit code in *ret_exit.
 */
int cli_open_file(const char *cmd, const char *path, struct stat *st, int *ret_exit);

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

/* A person's display name "Given Family" (cleaned) into @buf. */
const char *cli_person_name(const json_t *person, char *buf, size_t size);

/*
 * Appends a person's roles, each a string or {"role","scope"}, as "role
 * (scope), role" to @b; "-" when there are none.
 */
void cli_roles_text(const json_t *roles, struct buf *b);

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
