/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_exchange: the secure exchange site from the command line: send files
 * to an outsider, request files from one, follow and revoke transfers, and
 * fetch a one-time link as a recipient (no account needed).
 *
 * Invariants: files are streamed (libcurl mime parts read from disk on
 * upload, a temporary file in the target directory on download), never held
 * in memory; a download becomes visible under its final name only when
 * complete, and never replaces an existing file without --force; a file
 * name from the server is reduced to one safe path component; the link
 * password is wiped after use and printed only by the commands that create
 * it (send, request), once.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/fileio.h"
#include "cli/list.h"
#include "cli/out.h"
#include "cli/term.h"
#include "common/err.h"
#include "common/str.h"

#define X_MAX_FILES 100
#define X_NAME_MAX 200
#define X_ERRBODY_MAX ((size_t)64 << 10)
#define X_DISP_MAX 2048
#define X_ID_MAX 64

/* ---------------------------------------------------------------- progress */

static void x_fmt_bytes(char *out, size_t size, long long n)
{
	if (n < 1024)
		snprintf(out, size, "%lld B", n);
	else if (n < 1024LL * 1024)
		snprintf(out, size, "%.1f KiB", (double)n / 1024);
	else if (n < 1024LL * 1024 * 1024)
		snprintf(out, size, "%.1f MiB", (double)n / (1024.0 * 1024));
	else
		snprintf(out, size, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
}

struct xprog {
	const char *label;
	bool up;                   /* counts what is sent, not the answer */
	struct timespec last;
	bool shown;
	long long now_b, total;    /* the last figures seen */
};

static void x_progress_draw(const struct xprog *p)
{
	char a[32], b[32], bar[31];
	int pct = (int)(p->now_b * 100 / p->total), fill;

	if (pct > 100)
		pct = 100;
	fill = pct * 30 / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(30 - fill));
	bar[30] = '\0';
	x_fmt_bytes(a, sizeof(a), p->now_b);
	x_fmt_bytes(b, sizeof(b), p->total);
	fprintf(stderr, "\r%s [%s] %3d%%  %s / %s   ", p->label, bar, pct, a, b);
}

/* Draws "label [#####     ]  42%  1.2 MiB / 2.9 MiB" on stderr, at most five times a second. */
static int x_progress(void *ud, long long dltotal, long long dlnow, long long ultotal, long long ulnow)
{
	struct xprog *p = ud;
	long long total = p->up ? ultotal : dltotal;
	long long now_b = p->up ? ulnow : dlnow;
	struct timespec ts;

	if (total <= 0)
		return 0;
	p->now_b = now_b;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (p->shown && (ts.tv_sec - p->last.tv_sec) * 1000 + (ts.tv_nsec - p->last.tv_nsec) / 1000000 < 200)
		return 0;
	p->last = ts;
	p->shown = true;
	x_progress_draw(p);
	return 0;
}

/* Draws the last figures (the end of the transfer, however far it got) and ends the line. */
static void x_progress_end(struct xprog *p)
{
	if (p->shown) {
		x_progress_draw(p);
		fputc('\n', stderr);
	}
	p->shown = false;
}

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

static int x_check_file(const char *cmd, const char *path)
{
	char clean[512];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	out_clean(clean, sizeof(clean), path);
	if (fd < 0)
		return cli_fail("%s: cannot read %s: %s", cmd, clean, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cli_fail("%s: %s is not a regular file", cmd, clean);
	}
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
	struct xprog prog = { .label = "upload", .up = true };
	struct client_progress cp = { x_progress, &prog };
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
	x_progress_end(&prog);
	curl_mime_free(mime);
	if (r < 0) {
		json_decref(res);
		return client_fail(c, r, "the files were not sent");
	}
	if (cli->json) {
		out_json(res);
	} else {
		char n[32], id[64];

		x_fmt_bytes(n, sizeof(n), (long long)json_integer_value(json_object_get(res, "bytes")));
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
	x_fmt_bytes(sz, sizeof(sz), (long long)json_integer_value(json_object_get(v, "total_bytes")));
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

		x_fmt_bytes(sz, sizeof(sz), (long long)json_integer_value(json_object_get(v, "size")));
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

/* ---------------------------------------------------------------- fetch */

static const char fetch_help[] =
"Usage: rampart fetch URL [-o OUT] [--password-file F] [--force] [--json]\n"
"\n"
"Downloads what a one-time link holds; no account is needed.  The password\n"
"is asked for on the terminal (no echo), or read from the first line of F\n"
"('-': standard input).  A download uses the link up: keep the file.\n"
"\n"
"The file is written under a temporary name in the target directory and\n"
"renamed when complete, with mode 0600.  Without -o it is named after the\n"
"server's file name (reduced to a plain name; several files come as one\n"
"tar) in the current directory; when that name is taken, ' (1)', ' (2)'...\n"
"is added.  The final path is printed on stdout.\n"
"\n"
"  -o OUT              write to OUT (a file, or an existing directory)\n"
"  --password-file F   read the link's password from F\n"
"  --force             replace OUT when it exists\n"
"  --json              print {\"path\",\"bytes\"}\n"
"\n"
"Files uploaded to one of your requests are fetched the same way, logged in\n"
"as the person who made the request (to the link's server).\n";

struct xdl {
	const char *dir;
	int fd;
	char tmp[4096];
	long status;
	long long bytes;
	int err;
	struct buf errbody;
	char disposition[X_DISP_MAX];
	CURL *h;
};

static size_t x_dl_header(char *p, size_t size, size_t n, void *ud)
{
	struct xdl *d = ud;

	client_header_value(p, size * n, "content-disposition:", d->disposition, sizeof(d->disposition));
	return size * n;
}

static size_t x_dl_data(char *p, size_t size, size_t n, void *ud)
{
	struct xdl *d = ud;
	size_t len = size * n;

	if (!d->status)
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status != 200) {
		/* An error page: its first 64 KiB are enough to say what went wrong. */
		if (d->errbody.len + len <= X_ERRBODY_MAX)
			buf_append(&d->errbody, p, len);
		return len;
	}
	if (d->fd < 0) {
		if (snprintf(d->tmp, sizeof(d->tmp), "%s/.rampart-fetch-XXXXXX", d->dir) >= (int)sizeof(d->tmp)) {
			d->err = -ENAMETOOLONG;
			return 0;
		}
		d->fd = mkostemp(d->tmp, O_CLOEXEC);
		if (d->fd < 0) {
			d->err = -errno;
			d->tmp[0] = '\0';
			return 0;
		}
	}
	if ((d->err = fileio_write_all(d->fd, p, len)) < 0)
		return 0;
	d->bytes += (long long)len;
	return len;
}

static int x_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * The file name from a Content-Disposition header, made safe: the RFC 5987
 * filename* when present, else filename; only what follows the last '/' or
 * '\'; control characters, invalid UTF-8 and a leading dot become '_';
 * nothing usable gives "download".
 */
static void x_safe_name(const char *disp, char *out, size_t size)
{
	char raw[X_DISP_MAX];
	const char *p, *base;
	size_t o = 0, n;

	raw[0] = '\0';
	if ((p = strcasestr(disp, "filename*=UTF-8''"))) {
		p += strlen("filename*=UTF-8''");
		while (*p && *p != ';' && *p != ' ' && o + 1 < sizeof(raw)) {
			int h1, h2;

			if (*p == '%' && (h1 = x_hex(p[1])) >= 0 && (h2 = x_hex(p[2])) >= 0) {
				raw[o++] = (char)(h1 * 16 + h2);
				p += 3;
			} else {
				raw[o++] = *p++;
			}
		}
		raw[o] = '\0';
	} else if ((p = strcasestr(disp, "filename=\""))) {
		p += strlen("filename=\"");
		while (*p && *p != '"' && o + 1 < sizeof(raw)) {
			if (*p == '\\' && p[1])
				p++;
			raw[o++] = *p++;
		}
		raw[o] = '\0';
	}
	/* An embedded NUL from %00 ends the name there, which is only shorter. */
	base = raw;
	for (const char *s = raw; *s; s++)
		if (*s == '/' || *s == '\\')
			base = s + 1;
	n = strlen(base);
	if (n > X_NAME_MAX)
		n = X_NAME_MAX;
	/* Cut back to a character boundary. */
	while (n > 0 && n < strlen(base) && ((unsigned char)base[n] & 0xc0) == 0x80)
		n--;
	o = 0;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)base[i];

		out[o++] = (ch < 0x20 || ch == 0x7f) ? '_' : (char)ch;
	}
	out[o] = '\0';
	if (!str_is_clean_utf8(out, o))
		for (size_t i = 0; i < o; i++)
			if ((unsigned char)out[i] >= 0x80)
				out[i] = '_';
	if (out[0] == '.')
		out[0] = '_';
	if (!out[0] || strcmp(out, "_") == 0 || strcmp(out, "_.") == 0)
		snprintf(out, size, "download");
}

/* The text of the first <@tag> of a page ("p", "h1"), entities for < > & " ' decoded, into @out. */
static void x_page_text(const struct buf *b, const char *tag, char *out, size_t size)
{
	static const struct {
		const char *ent;
		char ch;
	} ents[] = { { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&#39;", '\'' } };
	char open_tag[8], close_tag[8];
	const char *p, *end;
	size_t o = 0;

	out[0] = '\0';
	snprintf(open_tag, sizeof(open_tag), "<%s>", tag);
	snprintf(close_tag, sizeof(close_tag), "</%s>", tag);
	p = b->data ? memmem(b->data, b->len, open_tag, strlen(open_tag)) : NULL;
	if (!p)
		return;
	p += strlen(open_tag);
	end = memmem(p, b->len - (size_t)(p - b->data), close_tag, strlen(close_tag));
	if (!end)
		return;
	while (p < end && o + 1 < size) {
		size_t k;

		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
			size_t l = strlen(ents[k].ent);

			if ((size_t)(end - p) >= l && memcmp(p, ents[k].ent, l) == 0) {
				out[o++] = ents[k].ch;
				p += l;
				break;
			}
		}
		if (k == sizeof(ents) / sizeof(ents[0]))
			out[o++] = *p++;
	}
	out[o] = '\0';
}

/* Moves @tmp to @path; without @force never replaces a file (RENAME_NOREPLACE). */
static int x_place(const char *tmp, const char *path, bool force)
{
	if (force)
		return rename(tmp, path) < 0 ? -errno : 0;
	return renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 ? -errno : 0;
}

/* Splits "URL" into the server part (before "/x/") and checks the token part. */
static int x_split_link(const char *url, char *server, size_t size)
{
	const char *x = strstr(url, "/x/");
	const char *tok;
	size_t n;

	if (!x || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
		return -EINVAL;
	tok = x + 3;
	/* A token starts with a letter or digit: "." and ".." would be squashed into another path. */
	if (!*tok || strlen(tok) > 200 || !((*tok >= 'a' && *tok <= 'z') || (*tok >= 'A' && *tok <= 'Z') ||
					    (*tok >= '0' && *tok <= '9')))
		return -EINVAL;
	for (const char *s = tok; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.' || *s == '~'))
			return -EINVAL;
	n = (size_t)(x - url);
	if (n + 1 > size)
		return -EINVAL;
	memcpy(server, url, n);
	server[n] = '\0';
	return 0;
}

/* Chooses where the download goes; @name is the safe server name. */
static int x_final_path(const char *dir, const char *name, unsigned attempt, char *out, size_t size)
{
	const char *dot = strrchr(name, '.');
	int n;

	const char *sep = "/";

	/* "name", not "./name", in the current directory. */
	if (strcmp(dir, ".") == 0)
		dir = sep = "";
	if (attempt == 0)
		n = snprintf(out, size, "%s%s%s", dir, sep, name);
	else if (dot && dot != name)
		n = snprintf(out, size, "%s%s%.*s (%u)%s", dir, sep, (int)(dot - name), name, attempt, dot);
	else
		n = snprintf(out, size, "%s%s%s (%u)", dir, sep, name, attempt);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cmd_fetch(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'F' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "fetch", fetch_help, "o:", opts };
	const char *outp = NULL, *pwfile = NULL;
	bool force = false, out_is_dir = false;
	const struct cli_bind binds[] = { { 'o', &outp }, { 'p', &pwfile }, { 'F', .flag = &force }, { 0 } };
	char server[CLIENT_URL_MAX], password[TERM_SECRET_MAX + 1], dir[4096], final[4096 + 300];
	char name[X_NAME_MAX + 8], clean[600], dir_name[4096 + 300];
	struct xprog prog = { .label = "download" };
	struct client_progress cp = { x_progress, &prog };
	struct curl_slist *hdrs = NULL, *t;
	struct client *c = NULL, *own = NULL;
	struct xdl d = { .fd = -1 };
	struct stat st;
	char *esc = NULL;
	struct buf body;
	CURLcode e;
	CURL *h = NULL;
	struct cli_args a;
	int r, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "URL of the link", &rc))
		return rc;
	if (x_split_link(argv[a.pos], server, sizeof(server)) < 0)
		return cli_usage(cmd.name, "the URL must be a Rampart link, https://SERVER/x/TOKEN");
	/* Where the file goes is settled before the link is used up. */
	if (outp) {
		if (!*outp)
			return cli_usage(cmd.name, "-o needs a file or directory name");
		out_clean(clean, sizeof(clean), outp);
		if (stat(outp, &st) == 0 && S_ISDIR(st.st_mode)) {
			out_is_dir = true;
			if (str_copy(dir, sizeof(dir), outp) < 0)
				return cli_fail("fetch: the path %s is too long", clean);
		} else {
			const char *slash = strrchr(outp, '/');

			if (stat(outp, &st) == 0 && !force)
				return cli_fail("fetch: %s exists; choose another -o or add --force to replace it",
						clean);
			if (!slash)
				snprintf(dir, sizeof(dir), ".");
			else if (slash == outp)
				snprintf(dir, sizeof(dir), "/");
			else if ((size_t)(slash - outp) >= sizeof(dir))
				return cli_fail("fetch: the path %s is too long", clean);
			else
				snprintf(dir, sizeof(dir), "%.*s", (int)(slash - outp), outp);
			if (str_copy(final, sizeof(final), outp) < 0)
				return cli_fail("fetch: the path %s is too long", clean);
		}
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	if (access(dir, W_OK) < 0)
		return cli_fail("fetch: cannot write in %s: %s", out_clean(clean, sizeof(clean), dir),
				strerror(errno));
	/* The saved login goes only to its own server: the requester fetching a request's files. */
	if (cli_same_server(server, cli->server)) {
		if (!(c = cli_client(cli)))
			return CLI_EXIT_USAGE;
	} else {
		struct client_opts co = { .server = server, .ca_file = cli->ca_file };

		if (client_new(&co, &own) < 0)
			return cli_usage(cmd.name, "the URL must be a Rampart link, https://SERVER/x/TOKEN");
		c = own;
	}
	rc = cli_secret(cmd.name, pwfile, "--password-file", "Password for the link: ", "password",
			password, sizeof(password));
	if (rc != 0) {
		client_free(own);
		return rc;
	}
	buf_init(&body, 8192);
	buf_init(&d.errbody, X_ERRBODY_MAX);
	d.dir = dir;
	rc = CLI_EXIT_FAILED;
	h = curl_easy_init();
	esc = h ? curl_easy_escape(h, password, 0) : NULL;
	explicit_bzero(password, sizeof(password));
	if (!esc || buf_printf(&body, "password=%s", esc) < 0) {
		rc = cli_fail("fetch: out of memory");
		goto out;
	}
	d.h = h;
	hdrs = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	t = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
	if (!t || client_easy_prepare(c, h, &hdrs) < 0 ||
	    curl_easy_setopt(h, CURLOPT_URL, argv[a.pos]) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, x_dl_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, x_dl_header) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, &d) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L) != CURLE_OK ||
	    (isatty(STDERR_FILENO) && client_easy_progress(h, &cp) < 0)) {
		rc = cli_fail("fetch: out of memory");
		goto out;
	}
	e = curl_easy_perform(h);
	x_progress_end(&prog);
	if (!d.status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &d.status);
	if (d.err < 0) {
		rc = cli_fail("fetch: cannot write the file in %s: %s", out_clean(clean, sizeof(clean), dir),
			      strerror(-d.err));
		goto out;
	}
	if (e != CURLE_OK) {
		rc = CLI_EXIT_UNREACHABLE;
		fprintf(stderr, "rampart: fetch: the download from %s failed: %s\n",
			out_clean(clean, sizeof(clean), server), curl_easy_strerror(e));
		if (d.status == 200)
			fprintf(stderr, "  The link may be used up now; ask the sender for a new one.\n");
		goto out;
	}
	if (d.status != 200) {
		char text[600], title[200];

		x_page_text(&d.errbody, "p", text, sizeof(text));
		x_page_text(&d.errbody, "h1", title, sizeof(title));
		fprintf(stderr, "rampart: fetch: %s\n",
			text[0] ? out_clean(clean, sizeof(clean), text) : "the server refused the download");
		switch (d.status) {
		case 403:
			rc = CLI_EXIT_AUTH;
			if (strcmp(title, "Sign in first") == 0)
				fprintf(stderr, "  Log in to %s as the person who asked for the files "
						"('rampart login').\n", out_clean(clean, sizeof(clean), server));
			break;
		case 404:
			rc = CLI_EXIT_NOT_FOUND;
			break;
		case 429:
			fprintf(stderr, "  Too many requests: wait a minute, then try again.\n");
			rc = CLI_EXIT_FAILED;
			break;
		default:
			rc = CLI_EXIT_FAILED;
			break;
		}
		goto out;
	}
	if (d.fd < 0) {
		/* An empty file: nothing was written yet. */
		if (snprintf(d.tmp, sizeof(d.tmp), "%s/.rampart-fetch-XXXXXX", dir) >= (int)sizeof(d.tmp) ||
		    (d.fd = mkostemp(d.tmp, O_CLOEXEC)) < 0) {
			d.tmp[0] = '\0';
			rc = cli_fail("fetch: cannot write the file in %s", out_clean(clean, sizeof(clean), dir));
			goto out;
		}
	}
	if (fsync(d.fd) < 0 || close(d.fd) < 0) {
		d.fd = -1;
		rc = cli_fail("fetch: cannot write the file in %s: %s", out_clean(clean, sizeof(clean), dir),
			      strerror(errno));
		goto out;
	}
	d.fd = -1;
	x_safe_name(d.disposition, name, sizeof(name));
	if (outp && !out_is_dir) {
		r = x_place(d.tmp, final, force);
		if (r < 0) {
			fprintf(stderr, "rampart: fetch: cannot save %s: %s\n  The download is kept as %s.\n",
				out_clean(clean, sizeof(clean), final), strerror(-r), d.tmp);
			d.tmp[0] = '\0';
			goto out;
		}
	} else {
		r = -EEXIST;
		for (unsigned i = 0; r == -EEXIST && i < 100; i++) {
			if (x_final_path(dir, name, i, final, sizeof(final)) < 0) {
				r = -ENAMETOOLONG;
				break;
			}
			r = x_place(d.tmp, final, false);
		}
		if (r < 0) {
			fprintf(stderr, "rampart: fetch: cannot save %s: %s\n  The download is kept as %s.\n",
				out_clean(clean, sizeof(clean), name), strerror(-r), d.tmp);
			d.tmp[0] = '\0';
			goto out;
		}
		if (x_final_path(dir, name, 0, dir_name, sizeof(dir_name)) == 0 && strcmp(final, dir_name) != 0) {
			char saved[600];

			fprintf(stderr, "rampart: fetch: %s exists; saved as %s instead\n",
				out_clean(clean, sizeof(clean), dir_name), out_clean(saved, sizeof(saved), final));
		}
	}
	d.tmp[0] = '\0';
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:I}", "path", final, "bytes", (json_int_t)d.bytes);

		out_json(j);
		json_decref(j);
	} else {
		out_put_clean(stdout, final);
		putchar('\n');
	}
	rc = CLI_EXIT_OK;
out:
	if (d.fd >= 0)
		close(d.fd);
	if (d.tmp[0])
		unlink(d.tmp);
	if (esc) {
		explicit_bzero(esc, strlen(esc));
		curl_free(esc);
	}
	client_headers_wipe_free(hdrs);
	client_buf_wipe(&body);
	buf_done(&d.errbody);
	if (h)
		curl_easy_cleanup(h);
	client_free(own);
	return rc;
}
