/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_exchange: the secure exchange site from the command line: send files
 * to an outsider, request files from one, and follow, revoke, approve or
 * reject transfers.  Fetching a link is cmd_fetch.
 *
 * Invariants: files are streamed (libcurl mime parts read from disk on
 * upload), never held in memory; the link password is printed only by the
 * commands that create it (send, request), once.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/list.h"
#include "cli/out.h"
#include "cli/progress.h"
#include "common/str.h"

#define X_MAX_FILES 100
#define X_ID_MAX 64

/* ---------------------------------------------------------------- output */

/* What happened to the notification mail, for people. */
static void x_print_mail(const char *mail, const char *who, const char *what)
{
	char clean[300];

	out_clean(clean, sizeof(clean), who);
	if (strcmp(mail, "sent") == 0)
		printf("The %s was mailed to %s.\n", what, clean);
	else if (strcmp(mail, "failed") == 0)
		printf("The mail to %s could not be sent: give them the %s yourself.\n", clean, what);
	else if (strcmp(mail, "pending_approval") == 0)
		printf("The transfer waits for approval; the %s is mailed to %s once it is approved.\n",
		       what, clean);
	else
		printf("No mail relay is configured: give %s the %s yourself.\n", clean, what);
}

/* The link and its password, printed once by send and request, then @after. */
static void x_print_link(const json_t *res, const char *after)
{
	fputs("Link:     ", stdout);
	out_put_clean(stdout, out_str(res, "url"));
	fputs("\nPassword: ", stdout);
	out_put_clean(stdout, out_str(res, "password"));
	fputs("\nThe password is shown only now.  ", stdout);
	fputs(after, stdout);
}

/* ---------------------------------------------------------------- send */

static const char send_help[] =
"Usage: rampart send FILE... --to EMAIL [--expires D] [--downloads N] [--message TEXT] [--json]\n"
"\n"
"Uploads the files (streamed, encrypted on the server) and has Rampart mail\n"
"EMAIL a one-time link.  The link's password is printed once: give it to\n"
"the recipient another way (phone, chat), never in the same mail.\n"
"\n"
"  --to EMAIL       the recipient (required)\n"
"  --expires D      how long the link works, e.g. 12h, 3d (server default 7d)\n"
"  --downloads N    how many downloads the link allows (default 1)\n"
"  --message TEXT   a message for the recipient's mail (at most 2000 bytes)\n"
"  --json           print the server's answer: id, url, password, ...\n"
"\n"
"Follow the transfer with 'rampart transfers show ID'.\n";

/* Checks that @path is a regular file that can be read.  Returns 0 or an exit code. */
static int x_check_file(const char *cmd, const char *path)
{
	struct stat st;
	int rc, fd = cli_open_file(cmd, path, &st, &rc);

	if (fd < 0)
		return rc;
	close(fd);
	return 0;
}

int cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "expires", required_argument, NULL, 'e' },
		{ "downloads", required_argument, NULL, 'd' },
		{ "message", required_argument, NULL, 'm' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "send", send_help, "", opts };
	const char *to = NULL, *expires = NULL, *downloads = NULL, *message = NULL;
	const struct cli_bind binds[] = {
		{ 't', &to }, { 'e', &expires }, { 'd', &downloads }, { 'm', &message }, { 0 }
	};
	struct progress prog = { .label = "upload", .up = true };
	struct client_progress cp = { progress_update, &prog };
	curl_mimepart *part;
	curl_mime *mime = NULL;
	json_t *res = NULL;
	struct client *c;
	struct cli_args a;
	int64_t v;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, X_MAX_FILES, "FILE to send", &rc))
		return rc;
	if (!to || !strchr(to, '@') || strlen(to) > 254)
		return cli_usage(cmd.name, "--to EMAIL is required: the recipient's email address");
	if (expires && (str_parse_duration_ms(expires, &v) < 0 || v <= 0))
		return cli_usage(cmd.name, "--expires must be a duration such as 12h or 3d");
	if (downloads && str_parse_i64(downloads, 1, 1000, &v) < 0)
		return cli_usage(cmd.name, "--downloads must be a whole number from 1 to 1000");
	if (message && strlen(message) > 2000)
		return cli_usage(cmd.name, "--message is longer than 2000 bytes");
	for (int i = a.pos; i < argc; i++)
		if ((rc = x_check_file(cmd.name, argv[i])) != 0)
			return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	mime = client_mime_new(c);
	if (!mime)
		return cli_fail("send: out of memory");
	/* The server wants the fields before the files. */
	r = 0;
	{
		const char *names[] = { "to", "expires", "downloads", "message" };
		const char *vals[] = { to, expires, downloads, message };

		for (size_t i = 0; r == 0 && i < 4; i++) {
			if (!vals[i])
				continue;
			part = curl_mime_addpart(mime);
			if (!part || curl_mime_name(part, names[i]) != CURLE_OK ||
			    curl_mime_data(part, vals[i], CURL_ZERO_TERMINATED) != CURLE_OK)
				r = -ENOMEM;
		}
	}
	for (int i = a.pos; r == 0 && i < argc; i++) {
		part = curl_mime_addpart(mime);
		/* curl_mime_filedata reads the file while sending and names the part after its base name. */
		if (!part || curl_mime_name(part, "file") != CURLE_OK ||
		    curl_mime_filedata(part, argv[i]) != CURLE_OK ||
		    curl_mime_type(part, "application/octet-stream") != CURLE_OK)
			r = -ENOMEM;
	}
	if (r < 0) {
		curl_mime_free(mime);
		return cli_fail("send: out of memory");
	}
	r = client_upload(c, "/api/v1/transfers", mime, isatty(STDERR_FILENO) ? &cp : NULL, &res);
	progress_end(&prog);
	curl_mime_free(mime);
	if (r < 0) {
		json_decref(res);
		return client_fail(c, r, "the files were not sent");
	}
	if (cli->json) {
		out_json(res);
	} else {
		char n[32], id[64];

		progress_fmt_bytes(n, sizeof(n), (long long)json_integer_value(json_object_get(res, "bytes")));
		printf("Sent %lld file(s), %s (transfer %s).\n",
		       (long long)json_integer_value(json_object_get(res, "files")), n,
		       out_clean(id, sizeof(id), out_str(res, "id")));
		x_print_mail(strcmp(out_str(res, "state"), "pending_approval") == 0 ? "pending_approval" :
			     out_str(res, "mail"), out_str(res, "to"), "link");
		x_print_link(res, "Give it to the recipient another way\n"
			     "(phone, chat), never in the same mail as the link.\n");
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- request */

static const char request_help[] =
"Usage: rampart request --from EMAIL [--expires D] [--message TEXT] [--json]\n"
"\n"
"Asks an outsider for files: Rampart mails EMAIL a one-time upload link.\n"
"The link's password is printed once: give it to them another way (phone,\n"
"chat).  Keep the link and the password: once they have uploaded, only you\n"
"can download the files, logged in, with\n"
"    rampart fetch URL\n"
"\n"
"  --from EMAIL     who is asked for files (required)\n"
"  --expires D      how long the link works, e.g. 12h, 3d (server default 7d)\n"
"  --message TEXT   a message for their mail (at most 2000 bytes)\n"
"  --json           print the server's answer: id, url, password, ...\n";

int cmd_request(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "expires", required_argument, NULL, 'e' },
		{ "message", required_argument, NULL, 'm' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "request", request_help, "", opts };
	const char *from = NULL, *expires = NULL, *message = NULL;
	const struct cli_bind binds[] = { { 'f', &from }, { 'e', &expires }, { 'm', &message }, { 0 } };
	json_t *body, *res = NULL;
	struct client *c;
	struct cli_args a;
	char id[64];
	int64_t v;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (!from || !strchr(from, '@') || strlen(from) > 254)
		return cli_usage(cmd.name, "--from EMAIL is required: who is asked for files");
	if (expires && (str_parse_duration_ms(expires, &v) < 0 || v <= 0))
		return cli_usage(cmd.name, "--expires must be a duration such as 12h or 3d");
	if (message && strlen(message) > 2000)
		return cli_usage(cmd.name, "--message is longer than 2000 bytes");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	body = json_pack("{s:s, s:s?, s:s?}", "from", from, "expires", expires, "message", message);
	if (!body)
		return cli_fail("request: out of memory");
	r = client_call(c, "POST", "/api/v1/requests", body, &res);
	json_decref(body);
	if (r < 0) {
		json_decref(res);
		return client_fail(c, r, "the request was not created");
	}
	if (cli->json) {
		out_json(res);
	} else {
		printf("Request %s created.\n", out_clean(id, sizeof(id), out_str(res, "id")));
		x_print_mail(out_str(res, "mail"), out_str(res, "from"), "upload link");
		x_print_link(res, "Give it to them another way (phone, chat).\n"
			     "Keep both: when the files are uploaded, fetch them with 'rampart fetch LINK'.\n");
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- transfers */

static const char transfers_help[] =
"Usage: rampart transfers [list] [--mine | --pending] [--json]\n"
"       rampart transfers show ID [--json]\n"
"       rampart transfers revoke ID\n"
"       rampart transfers approve ID | reject ID\n"
"\n"
"list    the transfers you may see: your own; everyone's for administrators,\n"
"        security officers and auditors; your subtree's for a security\n"
"        manager.  --mine: only your own.  --pending: transfers waiting for\n"
"        your approval (your reports', your units' as named approver; every\n"
"        one for an admin).\n"
"        States: sent, opened, downloaded, requested, expired, burned,\n"
"        revoked, pending_approval, rejected.\n"
"show    one transfer: recipient, state, files, every download (when, from\n"
"        which address)\n"
"revoke  ends a transfer before it is used; its files are deleted at once\n"
"approve a transfer waiting for approval (you are the sender's manager, the\n"
"        unit's named approver or an admin): its link is mailed now\n"
"reject  a transfer waiting for approval: it ends, its files are deleted\n";

static int transfers_row(struct table *t, const json_t *v, void *ud)
{
	char t1[64], t2[64], nf[32], sz[32];
	const char *peer = *out_str(v, "to") ? out_str(v, "to") : out_str(v, "from");
	const char *row[] = {
		out_str(v, "id"), out_str(v, "kind"), out_str(v, "state"), peer, nf, sz,
		out_str2(v, "owner", "login"),
		out_time(t1, sizeof(t1), out_str(v, "created_at")),
		out_time(t2, sizeof(t2), out_str(v, "expires_at")),
	};

	snprintf(nf, sizeof(nf), "%lld", (long long)json_integer_value(json_object_get(v, "file_count")));
	progress_fmt_bytes(sz, sizeof(sz), (long long)json_integer_value(json_object_get(v, "total_bytes")));
	return table_add(t, row);
}

static int transfers_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mine", no_argument, NULL, 'M' },
		{ "pending", no_argument, NULL, 'P' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "transfers list", transfers_help, "", opts };
	static const char *const hdr[] = { "ID", "KIND", "STATE", "PEER", "FILES", "SIZE", "OWNER",
					   "CREATED", "EXPIRES" };
	const struct cli_table spec = { cmd.name, 9, hdr, transfers_row };
	bool mine = false, pending = false;
	const struct cli_bind binds[] = { { 'M', .flag = &mine }, { 'P', .flag = &pending }, { 0 } };
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 0, 0, "", &rc))
		return rc;
	if (mine && pending)
		return cli_usage(cmd.name, "--mine and --pending do not go together");
	if (!cli_client(cli))
		return CLI_EXIT_USAGE;
	return cli_list_show(cli, pending ? "/api/v1/transfers?approval=pending" :
			     mine ? "/api/v1/transfers?mine=1" : "/api/v1/transfers", true,
			     "cannot list transfers", &spec);
}

/* GET or POST /api/v1/transfers/ID[@action]. */
static int transfers_call(struct client *c, const char *method, const char *id, const char *action,
			  json_t **ret)
{
	return client_call_id(c, method, "/api/v1/transfers/", id, action, NULL, ret);
}

static int transfers_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "transfers show", transfers_help, "", NULL };
	json_t *res = NULL, *v;
	struct client *c;
	struct cli_args a;
	char tm[64], n[64];
	size_t i;
	int r, rc;

	if (!cli_args_plain(cli, &a, &cmd, argc, argv, 1, 1, "transfer ID (see 'rampart transfers list')", &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = transfers_call(c, "GET", argv[a.pos], NULL, &res);
	if (r < 0)
		return client_fail(c, r, "cannot show the transfer");
	if (cli_json_done(cli, res))
		return CLI_EXIT_OK;
	out_kv("id", out_str(res, "id"));
	out_kv("kind", out_str(res, "kind"));
	out_kv("state", out_str(res, "state"));
	if (*out_str(res, "to"))
		out_kv("to", out_str(res, "to"));
	if (*out_str(res, "from"))
		out_kv("from", out_str(res, "from"));
	out_kv("owner", out_str2(res, "owner", "login"));
	out_kv("message", out_str(res, "message"));
	out_kv("created", out_time(tm, sizeof(tm), out_str(res, "created_at")));
	out_kv("expires", out_time(tm, sizeof(tm), out_str(res, "expires_at")));
	snprintf(n, sizeof(n), "%lld of %lld left",
		 (long long)json_integer_value(json_object_get(res, "downloads_left")),
		 (long long)json_integer_value(json_object_get(res, "downloads_max")));
	out_kv("downloads", n);
	snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(json_object_get(res, "password_failures")));
	out_kv("wrong passwords", n);
	out_kv("mail", out_str(res, "mail"));
	if (*out_str(res, "approval") && strcmp(out_str(res, "approval"), "none") != 0) {
		out_kv("approval", out_str(res, "approval"));
		if (*out_str(res, "approver"))
			out_kv("approver", out_str(res, "approver"));
		if (*out_str(res, "decided_by")) {
			char line[200], who[100];

			snprintf(line, sizeof(line), "%s at %s", out_clean(who, sizeof(who), out_str(res, "decided_by")),
				 out_time(tm, sizeof(tm), out_str(res, "decided_at")));
			out_kv("decided", line);
		}
	}
	if (*out_str(res, "ended_at"))
		out_kv("ended", out_time(tm, sizeof(tm), out_str(res, "ended_at")));
	json_array_foreach(json_object_get(res, "files"), i, v) {
		char sz[32], line[400], name[300];

		progress_fmt_bytes(sz, sizeof(sz), (long long)json_integer_value(json_object_get(v, "size")));
		snprintf(line, sizeof(line), "%s (%s)", out_clean(name, sizeof(name), out_str(v, "name")), sz);
		out_kv("file", line);
	}
	json_array_foreach(json_object_get(res, "downloads"), i, v) {
		char line[200], from[100];

		snprintf(line, sizeof(line), "%s from %s", out_time(tm, sizeof(tm), out_str(v, "at")),
			 out_clean(from, sizeof(from), out_str(v, "from")));
		out_kv("downloaded", line);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

/*
 * The common part of "transfers revoke|approve|reject ID": the arguments
 * (@what names the ID in a usage error), then POST
 * /api/v1/transfers/ID@action, a failure reported as "@fail: reason".
 * Returns 0 with the answer in *ret and the ID made printable in @id, or
 * the exit code.
 */
static int transfers_post(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
			  const char *what, const char *action, const char *fail, json_t **ret,
			  char id[X_ID_MAX])
{
	struct client *c;
	struct cli_args a;
	int r, rc;

	if (!cli_args_plain(cli, &a, cmd, argc, argv, 1, 1, what, &rc))
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	r = transfers_call(c, "POST", argv[a.pos], action, ret);
	if (r < 0) {
		json_decref(*ret);
		return client_fail(c, r, fail);
	}
	out_clean(id, X_ID_MAX, argv[a.pos]);
	return 0;
}

static int transfers_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmd = { "transfers revoke", transfers_help, "", NULL };
	json_t *res = NULL;
	char id[X_ID_MAX];
	int rc;

	rc = transfers_post(cli, &cmd, argc, argv, "transfer ID (see 'rampart transfers list')", "/revoke",
			    "the transfer was not revoked", &res, id);
	if (rc != 0)
		return rc;
	if (!cli_json_done(cli, res)) {
		printf("Transfer %s revoked; its files are deleted.\n", id);
		json_decref(res);
	}
	return CLI_EXIT_OK;
}

/* transfers approve ID / transfers reject ID. */
static int transfers_decide(struct cli *cli, int argc, char **argv, bool approve)
{
	static const struct cli_cmd approve_cmd = { "transfers approve", transfers_help, "", NULL };
	static const struct cli_cmd reject_cmd = { "transfers reject", transfers_help, "", NULL };
	json_t *res = NULL;
	char id[X_ID_MAX], mail[32];
	int rc;

	rc = transfers_post(cli, approve ? &approve_cmd : &reject_cmd, argc, argv,
			    "transfer ID (see 'rampart transfers list --pending')", approve ? "/approve" : "/reject",
			    approve ? "the transfer was not approved" : "the transfer was not rejected", &res, id);
	if (rc != 0)
		return rc;
	if (cli_json_done(cli, res))
		return CLI_EXIT_OK;
	if (!approve)
		printf("Transfer %s rejected; its files are deleted.\n", id);
	else
		printf("Transfer %s approved; %s.\n", id,
		       strcmp(out_clean(mail, sizeof(mail), out_str(res, "mail")), "sent") == 0 ?
		       "the link was mailed to the recipient" : "the mail could not be sent: the sender can pass the link on");
	json_decref(res);
	return CLI_EXIT_OK;
}

static int transfers_approve(struct cli *cli, int argc, char **argv)
{
	return transfers_decide(cli, argc, argv, true);
}

static int transfers_reject(struct cli *cli, int argc, char **argv)
{
	return transfers_decide(cli, argc, argv, false);
}

int cmd_transfers(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", transfers_list },
		{ "show", transfers_show },
		{ "revoke", transfers_revoke },
		{ "approve", transfers_approve },
		{ "reject", transfers_reject },
		{ NULL, NULL },
	};
	char *list_argv[] = { argv[0], (char *)"list", NULL };

	/* "rampart transfers" alone lists. */
	if (argc == 1)
		return cli_dispatch(cli, "transfers", transfers_help, subs, 2, list_argv);
	if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0)
		return transfers_list(cli, argc, argv);
	return cli_dispatch(cli, "transfers", transfers_help, subs, argc, argv);
}
