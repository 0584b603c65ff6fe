/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_auth: login, logout, whoami, passwd, totp and sessions: the commands
 * about one's own identity.  Passwords and codes live in fixed buffers that
 * are wiped before return; tokens are never printed except by the commands
 * whose purpose is to show one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "cli/term.h"
#include "common/err.h"
#include "common/str.h"

/* ------------------------------------------------------------------- login */

static const char login_help[] =
"Usage: rampart login [LOGIN] [--password-file FILE]\n"
"           [--totp CODE | --totp-file FILE | --recovery-code-file FILE]\n"
"\n"
"Logs in to the server and saves the session in\n"
"$XDG_CONFIG_HOME/rampart/login.json (else ~/.config/rampart/login.json),\n"
"mode 0600, replacing any earlier saved login (with the --ca file, if one\n"
"was given, so that later commands trust the same certificate).  LOGIN and\n"
"the password are asked for on the terminal (the password without echo)\n"
"when not given.  When the account has a one-time-code app and no code was\n"
"given, the code is asked for too.\n"
"\n"
"Options:\n"
"  --password-file FILE       read the password from the first line of FILE\n"
"                             ('-' for standard input)\n"
"  --totp CODE                the current one-time code\n"
"  --totp-file FILE           read the one-time code from FILE\n"
"  --recovery-code-file FILE  use a recovery code (from FILE) instead of a code\n"
"  --json                     print the server's answer (without the token)\n"
"\n"
"Exit status: 0 logged in; 3 wrong login, password or code, or account\n"
"locked (the message says until when); 5 server not reachable.\n";

/* Ends a session that could not be saved, so that no usable token is left behind. */
static void login_undo(struct cli *cli, const char *token)
{
	struct client_opts o = { .server = cli->server, .token = token, .ca_file = cli->ca_file };
	struct client *c = NULL;

	if (client_new(&o, &c) == 0)
		client_call(c, "POST", "/api/v1/auth/logout", NULL, NULL);
	client_free(c);
}

/* The LOGIN argument @arg, or when NULL the login asked for on the terminal, into @login. */
static int login_name(const char *cmd, const char *arg, char *login, size_t size)
{
	int r;

	if (arg) {
		if (str_copy(login, size, arg) < 0 || !login[0])
			return cli_usage(cmd, "the login must be 1 to %zu bytes", size - 1);
		return 0;
	}
	r = term_prompt("Login: ", true, login, size);
	if (r == -ENOTTY)
		return cli_usage(cmd, "give the LOGIN (there is no terminal to ask for it)");
	if (r < 0 || !login[0])
		return cli_fail("login: cancelled");
	return 0;
}

/* Where login's secrets come from: the options. */
struct login_from {
	const char *pwfile, *totp, *totpfile, *recfile;
};

/*
 * Reads the password (asking with @prompt when there is no file) and the
 * one-time or recovery code, when one was given, into @code (*is_recovery
 * says which).  Returns 0 or an exit code after printing why.
 */
static int login_secrets(const char *cmd, const struct login_from *f, const char *prompt, char *password,
			 size_t pw_size, char *code, size_t code_size, bool *is_recovery)
{
	int rc = cli_secret("login", f->pwfile, "--password-file", prompt, "password", password, pw_size);

	if (rc != 0)
		return rc;
	if (f->totp) {
		if (str_copy(code, code_size, f->totp) < 0)
			return cli_usage(cmd, "--totp: the code is too long");
	} else if (f->totpfile || f->recfile) {
		rc = cli_secret("login", f->totpfile ? f->totpfile : f->recfile,
				f->totpfile ? "--totp-file" : "--recovery-code-file", "",
				f->totpfile ? "one-time code" : "recovery code", code, code_size);
		*is_recovery = f->recfile != NULL;
	}
	return rc;
}

/*
 * POSTs the login; when the account wants a one-time code and none was
 * given, asks for it on the terminal and tries once more.  Returns 0 with
 * the answer in *ret, or an exit code after printing why.
 */
static int login_post(struct client *c, const char *login, const char *password, char *code,
		      size_t code_size, bool is_recovery, json_t **ret)
{
	json_t *body;
	int r = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		body = json_pack("{s:s, s:s, s:s}", "login", login, "password", password, "client", "cli");
		if (!body || (code[0] && json_object_set_new(body, is_recovery ? "recovery_code" : "totp",
							     json_string(code)) < 0)) {
			json_decref(body);
			return cli_fail("login: out of memory");
		}
		r = client_call(c, "POST", "/api/v1/auth/login", body, ret);
		json_decref(body);
		if (r != ERR_TOTP_REQUIRED || code[0])
			break;
		/* The password was right; the account also wants a one-time code. */
		r = term_prompt("One-time code: ", false, code, code_size);
		if (r == -ENOTTY) {
			fprintf(stderr, "rampart: login: this account needs a one-time code: give it with "
					"--totp CODE, --totp-file FILE or --recovery-code-file FILE\n");
			return CLI_EXIT_AUTH;
		}
		if (r < 0 || !code[0])
			return cli_fail("login: cancelled");
		r = ERR_TOTP_REQUIRED;
	}
	if (r == ERR_UNAUTHENTICATED || r == ERR_LOCKED || r == ERR_TOTP_REQUIRED) {
		char msg[1100];

		fprintf(stderr, "rampart: login failed: %s\n",
			client_error_message(c)[0] ? out_clean(msg, sizeof(msg), client_error_message(c))
						    : err_str(r));
		return CLI_EXIT_AUTH;
	}
	return r < 0 ? client_fail(c, r, "login failed") : 0;
}

/*
 * Saves the session @token for the server of @c as @login in @saved (with
 * the --ca file as an absolute path); a session that cannot be saved is
 * ended again.  Returns 0 or an exit code after printing why.
 */
static int login_save(struct cli *cli, struct client *c, const char *token, const char *login,
		      struct creds *saved)
{
	char why[CREDS_PATH_MAX + 200];
	int r;

	if (cli->ca_file) {
		/* Saved as an absolute path: later commands may run from another directory. */
		char *abs = realpath(cli->ca_file, NULL);

		r = abs ? str_copy(saved->ca_file, sizeof(saved->ca_file), abs) : -errno;
		free(abs);
		if (r < 0) {
			login_undo(cli, token);
			return cli_fail("login: cannot resolve the path of --ca: %s", strerror(-r));
		}
	}
	if (str_copy(saved->server, sizeof(saved->server), client_server(c)) < 0 ||
	    str_copy(saved->login, sizeof(saved->login), login) < 0 || !(saved->token = strdup(token))) {
		login_undo(cli, token);
		return cli_fail("login: out of memory");
	}
	r = creds_save(saved, why, sizeof(why));
	if (r < 0) {
		login_undo(cli, token);
		fputs("rampart: login: the session could not be saved (it was ended again): ", stderr);
		out_put_clean(stderr, why);
		fputc('\n', stderr);
		return CLI_EXIT_FAILED;
	}
	return 0;
}

int cmd_login(struct cli *cli, int argc, char **argv)
{
	enum { OPT_PWFILE = 0x200, OPT_TOTP, OPT_TOTPFILE, OPT_RECFILE };
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ "totp", required_argument, NULL, OPT_TOTP },
		{ "totp-file", required_argument, NULL, OPT_TOTPFILE },
		{ "recovery-code-file", required_argument, NULL, OPT_RECFILE },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "login", login_help, "", opts };
	struct login_from f = { 0 };
	const struct cli_bind binds[] = {
		{ OPT_PWFILE, &f.pwfile }, { OPT_TOTP, &f.totp }, { OPT_TOTPFILE, &f.totpfile },
		{ OPT_RECFILE, &f.recfile }, { 0 }
	};
	char login[256] = "", password[TERM_SECRET_MAX + 1], code[128] = "", prompt[700];
	char clean[CLIENT_URL_MAX];
	struct client *c = NULL;
	struct creds saved = { 0 };
	json_t *resp = NULL;
	const char *token, *name;
	bool is_recovery = false;
	struct cli_args a;
	int rc;

	password[0] = '\0';
	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 1, "LOGIN", &rc))
		return rc;
	if (!!f.totp + !!f.totpfile + !!f.recfile > 1)
		return cli_usage(cmd.name, "give only one of --totp, --totp-file and --recovery-code-file");
	if ((rc = login_name(cmd.name, a.pos < argc ? argv[a.pos] : NULL, login, sizeof(login))) != 0)
		return rc;
	c = cli_client_anon(cli);
	if (!c)
		return CLI_EXIT_USAGE;
	out_clean(clean, sizeof(clean), client_server(c));
	if (snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", login, clean) >= (int)sizeof(prompt))
		str_copy(prompt, sizeof(prompt), "Password: ");
	rc = login_secrets(cmd.name, &f, prompt, password, sizeof(password), code, sizeof(code), &is_recovery);
	if (rc == 0)
		rc = login_post(c, login, password, code, sizeof(code), is_recovery, &resp);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(code, sizeof(code));
	if (rc != 0)
		goto out;
	token = json_string_value(json_object_get(resp, "token"));
	if (!token || !*token) {
		rc = cli_fail("login: the server did not return a token for the command line; is it a "
			      "Rampart server of this version?");
		goto out;
	}
	name = out_str2(resp, "person", "login");
	if ((rc = login_save(cli, c, token, *name ? name : login, &saved)) != 0)
		goto out;
	if (cli->json) {
		json_object_del(resp, "token");
		json_object_del(resp, "csrf_token");
		out_json(resp);
	} else {
		char who[300], nm[300];

		printf("Logged in to %s as %s (%s).\n", clean, out_clean(who, sizeof(who), saved.login),
		       cli_person_name(json_object_get(resp, "person"), nm, sizeof(nm)));
	}
	if (json_is_true(json_object_get(resp, "must_change_password")))
		fprintf(stderr, "Your password must be changed before anything else: run 'rampart passwd'.\n");
out:
	creds_done(&saved);
	json_decref(resp);
	client_free(c);
	return rc;
}

/* ------------------------------------------------------------------ logout */

static const char logout_help[] =
"Usage: rampart logout [--everywhere]\n"
"\n"
"Ends the current session on the server and deletes the saved login.  With\n"
"--everywhere, ends every session and revokes every API token of yours, on\n"
"every device.  When RAMPART_TOKEN is set, that token's session is ended and\n"
"the saved login is kept.\n"
"\n"
"If the server cannot be reached the saved login is kept (exit 5), so that\n"
"the session can still be ended later.\n";

int cmd_logout(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "everywhere", no_argument, NULL, 'e' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "logout", logout_help, "", opts };
	bool everywhere = false, env_token;
	const struct cli_bind binds[] = { { 'e', .flag = &everywhere }, { 0 } };
	struct client *c;
	struct cli_args a;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	c = cli_client(cli);
	if (!c)
		return CLI_EXIT_USAGE;
	if (!client_has_token(c)) {
		fprintf(stderr, "rampart: logout: you are not logged in to %s\n", client_server(c));
		return CLI_EXIT_AUTH;
	}
	env_token = secure_getenv("RAMPART_TOKEN") && *secure_getenv("RAMPART_TOKEN");
	r = client_call(c, "POST", everywhere ? "/api/v1/auth/logout-all" : "/api/v1/auth/logout", NULL,
			NULL);
	if (r == CLIENT_ERR_UNREACHABLE) {
		rc = client_fail(c, r, "logout");
		fprintf(stderr, "  The saved login was kept: run 'rampart logout' again when the server "
				"can be reached.\n");
		return rc;
	}
	/* An expired or revoked session is as logged out as it gets, except for --everywhere. */
	if (r < 0 && !(r == ERR_UNAUTHENTICATED && !everywhere)) {
		rc = client_fail(c, r, "logout");
		if (r != ERR_UNAUTHENTICATED)
			return rc;
	} else {
		rc = CLI_EXIT_OK;
	}
	if (!env_token && cli->token_is_saved) {
		r = creds_remove();
		if (r < 0)
			return cli_fail("logout: cannot delete the saved login: %s", strerror(-r));
	}
	if (rc == CLI_EXIT_OK) {
		if (everywhere)
			printf("Logged out of %s everywhere: every session and API token of yours was "
			       "ended.\n", client_server(c));
		else
			printf("Logged out of %s.\n", client_server(c));
		if (env_token)
			fprintf(stderr, "(The token in RAMPART_TOKEN was used; the saved login, if any, "
					"was kept.)\n");
	}
	return rc;
}

/* ------------------------------------------------------------------ whoami */

static const char whoami_help[] =
"Usage: rampart whoami [--json]\n"
"\n"
"Shows who the saved login (or RAMPART_TOKEN) is: login, name, organization\n"
"unit, roles, the subtree managed as a security manager, whether one-time\n"
"codes are on, and when the session expires.\n";

int cmd_whoami(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "whoami", whoami_help, "", NULL };
	struct client *c;
	struct cli_args a;
	json_t *me = NULL;
	struct buf roles;
	char t[64], nm[300];
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_call(c, "GET", "/api/v1/me", NULL, &me);
	if (r < 0)
		return client_fail(c, r, "whoami");
	if (cli_json_done(cli, me))
		return CLI_EXIT_OK;
	buf_init(&roles, 65536);
	cli_roles_text(json_object_get(me, "roles"), &roles);
	out_kv("login", out_str(me, "login"));
	out_kv("name", cli_person_name(me, nm, sizeof(nm)));
	out_kv("id", out_str(me, "id"));
	out_kv("employee no.", out_str(me, "employee_number"));
	out_kv("email", out_str(me, "email"));
	out_kv("org unit", out_str2(me, "org_unit", "path"));
	out_kv("title", out_str(me, "title"));
	out_kv("kind", out_str(me, "kind"));
	out_kv("status", out_str(me, "status"));
	out_kv("roles", roles.data);
	if (json_is_string(json_object_get(me, "manages_path")))
		out_kv("manages", out_str(me, "manages_path"));
	out_kv("one-time codes", json_is_true(json_object_get(me, "totp_enabled")) ? "on" : "off");
	out_kv("session ends", out_time(t, sizeof(t), out_str2(me, "session", "expires_at")));
	out_kv("server", client_server(c));
	buf_done(&roles);
	json_decref(me);
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ passwd */

static const char passwd_help[] =
"Usage: rampart passwd [--password-file FILE] [--new-password-file FILE]\n"
"\n"
"Changes your own password.  The current and the new password are asked for\n"
"on the terminal without echo (the new one twice) unless read from files.\n"
"Also works while the server requires the password to be changed.\n"
"\n"
"Options:\n"
"  --password-file FILE       the current password (first line; '-': stdin)\n"
"  --new-password-file FILE   the new password (first line; '-': stdin)\n";

int cmd_passwd(struct cli *cli, int argc, char **argv)
{
	enum { OPT_CUR = 0x200, OPT_NEW };
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, OPT_CUR },
		{ "new-password-file", required_argument, NULL, OPT_NEW },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "passwd", passwd_help, "", opts };
	char cur[TERM_SECRET_MAX + 1] = "", new1[TERM_SECRET_MAX + 1] = "", new2[TERM_SECRET_MAX + 1] = "";
	const char *curfile = NULL, *newfile = NULL;
	const struct cli_bind binds[] = { { OPT_CUR, &curfile }, { OPT_NEW, &newfile }, { 0 } };
	json_t *body = NULL;
	struct client *c;
	struct cli_args a;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (curfile && newfile && strcmp(curfile, "-") == 0 && strcmp(newfile, "-") == 0)
		return cli_usage(cmd.name, "only one of the passwords can come from standard input");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	rc = cli_secret("passwd", curfile, "--password-file", "Current password: ", "current password",
			cur, sizeof(cur));
	if (rc == 0)
		rc = cli_secret("passwd", newfile, "--new-password-file", "New password: ", "new password",
				new1, sizeof(new1));
	if (rc == 0 && !newfile) {
		rc = cli_secret("passwd", NULL, "--new-password-file", "New password again: ",
				"new password", new2, sizeof(new2));
		if (rc == 0 && strcmp(new1, new2) != 0)
			rc = cli_fail("passwd: the two new passwords differ; nothing was changed");
	}
	if (rc != 0)
		goto out;
	body = json_pack("{s:s, s:s}", "current_password", cur, "new_password", new1);
	explicit_bzero(cur, sizeof(cur));
	explicit_bzero(new1, sizeof(new1));
	explicit_bzero(new2, sizeof(new2));
	if (!body) {
		rc = cli_fail("passwd: out of memory");
		goto out;
	}
	r = client_call(c, "POST", "/api/v1/me/password", body, NULL);
	if (r < 0) {
		rc = client_fail(c, r, "the password was not changed");
		goto out;
	}
	printf("Password changed.\n");
	rc = CLI_EXIT_OK;
out:
	explicit_bzero(cur, sizeof(cur));
	explicit_bzero(new1, sizeof(new1));
	explicit_bzero(new2, sizeof(new2));
	json_decref(body);
	return rc;
}

/* -------------------------------------------------------------------- totp */

static const char totp_help[] =
"Usage: rampart totp enroll [--code-file FILE]\n"
"       rampart totp disable [--password-file FILE]\n"
"\n"
"enroll   starts one-time codes (TOTP) for your account: shows the otpauth://\n"
"         URI and the secret to put in an authenticator app, asks for the\n"
"         first code from the app to confirm, and prints ten recovery codes.\n"
"         Keep the recovery codes somewhere safe; each can replace a code\n"
"         once (rampart login --recovery-code-file).\n"
"disable  turns one-time codes off; needs your password.\n";

static int totp_enroll(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "code-file", required_argument, NULL, 'f' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "totp enroll", totp_help, "", opts };
	const char *codefile = NULL;
	const struct cli_bind binds[] = { { 'f', &codefile }, { 0 } };
	char code[128] = "";
	json_t *start = NULL, *done = NULL, *body = NULL;
	struct client *c;
	struct cli_args a;
	size_t i;
	json_t *v;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = client_call(c, "POST", "/api/v1/me/totp", NULL, &start);
	if (r < 0)
		return client_fail(c, r, "totp enroll");
	if (!cli->json) {
		char clean[1024];

		printf("Add this account to your authenticator app, from the URI (as a QR code)\n"
		       "or by typing the secret:\n\n");
		printf("  URI:    %s\n", out_clean(clean, sizeof(clean), out_str(start, "otpauth_uri")));
		printf("  secret: %s\n\n", out_clean(clean, sizeof(clean), out_str(start, "secret")));
		fflush(stdout);
	}
	rc = cli_secret("totp enroll", codefile, "--code-file", "Code shown by the app: ",
			"one-time code", code, sizeof(code));
	if (rc != 0)
		goto out;
	body = json_pack("{s:s}", "code", code);
	explicit_bzero(code, sizeof(code));
	if (!body) {
		rc = cli_fail("totp enroll: out of memory");
		goto out;
	}
	r = client_call(c, "POST", "/api/v1/me/totp/confirm", body, &done);
	if (r < 0) {
		rc = client_fail(c, r, "one-time codes were not turned on");
		goto out;
	}
	if (cli->json) {
		json_object_update(start, done);
		out_json(start);
	} else {
		printf("One-time codes are on.  Recovery codes (each works once; keep them safe):\n\n");
		json_array_foreach(json_object_get(done, "recovery_codes"), i, v) {
			char clean[128];

			printf("  %s\n", out_clean(clean, sizeof(clean), json_string_value(v)));
		}
	}
	rc = CLI_EXIT_OK;
out:
	explicit_bzero(code, sizeof(code));
	json_decref(body);
	json_decref(start);
	json_decref(done);
	return rc;
}

static int totp_disable(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "totp disable", totp_help, "", opts };
	const char *pwfile = NULL;
	const struct cli_bind binds[] = { { 'p', &pwfile }, { 0 } };
	char pw[TERM_SECRET_MAX + 1] = "";
	json_t *body = NULL;
	struct client *c;
	struct cli_args a;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	rc = cli_secret("totp disable", pwfile, "--password-file", "Password: ", "password", pw,
			sizeof(pw));
	if (rc != 0)
		return rc;
	body = json_pack("{s:s}", "password", pw);
	explicit_bzero(pw, sizeof(pw));
	if (!body)
		return cli_fail("totp disable: out of memory");
	r = client_call(c, "DELETE", "/api/v1/me/totp", body, NULL);
	json_decref(body);
	if (r < 0)
		return client_fail(c, r, "one-time codes were not turned off");
	printf("One-time codes are off.\n");
	return CLI_EXIT_OK;
}

int cmd_totp(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "enroll", totp_enroll },
		{ "disable", totp_disable },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "totp", totp_help, subs, argc, argv);
}

/* ---------------------------------------------------------------- sessions */

static const char sessions_help[] =
"Usage: rampart sessions list [--json]\n"
"       rampart sessions revoke ID\n"
"\n"
"list    your sessions (browser and command line): when they started, were\n"
"        last used and end, and which one is this one\n"
"revoke  ends the session ID (from the list)\n";

static int sessions_row(struct table *t, const json_t *v, void *ud)
{
	char t1[64], t2[64], t3[64];
	const char *row[] = {
		out_str(v, "id"), out_time(t1, sizeof(t1), out_str(v, "created_at")),
		out_time(t2, sizeof(t2), out_str(v, "last_seen_at")),
		out_time(t3, sizeof(t3), out_str(v, "expires_at")), out_str(v, "source"),
		json_is_true(json_object_get(v, "current")) ? "yes" : "", out_str(v, "user_agent"),
	};

	return table_add(t, row);
}

static int sessions_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "sessions list", sessions_help, "", NULL };
	static const char *const hdr[] = { "ID", "CREATED", "LAST SEEN", "EXPIRES", "SOURCE", "CURRENT",
					   "CLIENT" };
	const struct cli_table spec = { cmd.name, 7, hdr, sessions_row };
	struct client *c;
	struct cli_args a;
	json_t *list = NULL;
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 0, 0, "", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	/* One answer, not pages: every session of one person. */
	r = client_call(c, "GET", "/api/v1/me/sessions", NULL, &list);
	if (r < 0)
		return client_fail(c, r, "cannot list sessions");
	if (cli_json_done(cli, list))
		return CLI_EXIT_OK;
	rc = cli_table_print(list, &spec);
	json_decref(list);
	return rc;
}

static int sessions_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "sessions revoke", sessions_help, "", NULL };
	char id[128];
	int rc;

	if (cli_delete_by_id(cli, &cmd, argc, argv, "session ID", "/api/v1/me/sessions/",
			     "the session was not ended", id, sizeof(id), &rc))
		printf("Session %s ended.\n", id);
	return rc;
}

int cmd_sessions(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", sessions_list },
		{ "revoke", sessions_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, "sessions", sessions_help, subs, argc, argv);
}
