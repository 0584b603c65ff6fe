/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_fetch: "rampart fetch", a one-time link of the secure exchange site
 * downloaded as its recipient (no account needed), or by the requester
 * logged in for the files of a request.
 *
 * Invariants: the download is streamed into a temporary file in the target
 * directory, never held in memory; it becomes visible under its final name
 * only when complete, and never replaces an existing file without --force;
 * a file name from the server is reduced to one safe path component; the
 * link's password is wiped as soon as it is encoded for the request; the
 * saved login is sent only to its own server.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/fileio.h"
#include "cli/out.h"
#include "cli/progress.h"
#include "cli/term.h"
#include "common/str.h"

#define FETCH_NAME_MAX 200
#define FETCH_ERRBODY_MAX ((size_t)64 << 10)
#define FETCH_DISP_MAX 2048

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

/* A download in progress: where it goes and what came back. */
struct fetch_dl {
	const char *dir;                      /* the directory of the temporary file */
	int fd;                               /* the temporary file, -1 before the first byte */
	char tmp[4096];                       /* its name; "" when there is none to remove */
	long status;
	long long bytes;
	int err;                              /* why writing the file failed */
	struct buf errbody;                   /* an error page, to say why */
	char disposition[FETCH_DISP_MAX];
	CURL *h;
};

/* Where a download goes, settled before the link is used up. */
struct fetch_target {
	char dir[4096];                       /* the directory of the temporary file and the result */
	char final[4096 + 300];               /* the path -o named; then the path of the result */
	bool named;                           /* -o named the file itself, not a directory */
};

/* Creates the temporary file in d->dir.  Returns 0 or -errno (d->tmp is then ""). */
static int fetch_open_tmp(struct fetch_dl *d)
{
	if (snprintf(d->tmp, sizeof(d->tmp), "%s/.rampart-fetch-XXXXXX", d->dir) >= (int)sizeof(d->tmp)) {
		d->tmp[0] = '\0';
		return -ENAMETOOLONG;
	}
	d->fd = mkostemp(d->tmp, O_CLOEXEC);
	if (d->fd < 0) {
		d->tmp[0] = '\0';
		return -errno;
	}
	return 0;
}

static size_t fetch_on_header(char *p, size_t size, size_t n, void *ud)
{
	struct fetch_dl *d = ud;

	client_header_value(p, size * n, "content-disposition:", d->disposition, sizeof(d->disposition));
	return size * n;
}

static size_t fetch_on_data(char *p, size_t size, size_t n, void *ud)
{
	struct fetch_dl *d = ud;
	size_t len = size * n;

	if (!d->status)
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status != 200) {
		/* An error page: its first 64 KiB are enough to say what went wrong. */
		if (d->errbody.len + len <= FETCH_ERRBODY_MAX)
			buf_append(&d->errbody, p, len);
		return len;
	}
	if (d->fd < 0 && (d->err = fetch_open_tmp(d)) < 0)
		return 0;
	if ((d->err = fsio_write_all(d->fd, p, len)) < 0)
		return 0;
	d->bytes += (long long)len;
	return len;
}

static int fetch_hex(int ch)
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
static void fetch_safe_name(const char *disp, char *out, size_t size)
{
	char raw[FETCH_DISP_MAX];
	const char *p, *base;
	size_t o = 0, n;

	raw[0] = '\0';
	if ((p = strcasestr(disp, "filename*=UTF-8''"))) {
		p += strlen("filename*=UTF-8''");
		while (*p && *p != ';' && *p != ' ' && o + 1 < sizeof(raw)) {
			int h1, h2;

			if (*p == '%' && (h1 = fetch_hex(p[1])) >= 0 && (h2 = fetch_hex(p[2])) >= 0) {
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
	if (n > FETCH_NAME_MAX)
		n = FETCH_NAME_MAX;
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
static void fetch_page_text(const struct buf *b, const char *tag, char *out, size_t size)
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
static int fetch_place(const char *tmp, const char *path, bool force)
{
	if (force)
		return rename(tmp, path) < 0 ? -errno : 0;
	return renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 ? -errno : 0;
}

/* Splits "URL" into the server part (before "/x/") and checks the token part. */
static int fetch_split_link(const char *url, char *server, size_t size)
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
static int fetch_final_path(const char *dir, const char *name, unsigned attempt, char *out, size_t size)
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

/* Settles where the download goes from -o @outp (NULL: the current directory).  Returns 0 or an exit code. */
static int fetch_target(const char *cmd, const char *outp, bool force, struct fetch_target *t)
{
	char clean[600];
	struct stat st;
	const char *slash;

	if (!outp) {
		snprintf(t->dir, sizeof(t->dir), ".");
		goto check;
	}
	if (!*outp)
		return cli_usage(cmd, "-o needs a file or directory name");
	out_clean(clean, sizeof(clean), outp);
	if (stat(outp, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (str_copy(t->dir, sizeof(t->dir), outp) < 0)
			return cli_fail("fetch: the path %s is too long", clean);
		goto check;
	}
	if (stat(outp, &st) == 0 && !force)
		return cli_fail("fetch: %s exists; choose another -o or add --force to replace it", clean);
	slash = strrchr(outp, '/');
	if (!slash)
		snprintf(t->dir, sizeof(t->dir), ".");
	else if (slash == outp)
		snprintf(t->dir, sizeof(t->dir), "/");
	else if ((size_t)(slash - outp) >= sizeof(t->dir))
		return cli_fail("fetch: the path %s is too long", clean);
	else
		snprintf(t->dir, sizeof(t->dir), "%.*s", (int)(slash - outp), outp);
	if (str_copy(t->final, sizeof(t->final), outp) < 0)
		return cli_fail("fetch: the path %s is too long", clean);
	t->named = true;
check:
	if (access(t->dir, W_OK) < 0)
		return cli_fail("fetch: cannot write in %s: %s", out_clean(clean, sizeof(clean), t->dir),
				strerror(errno));
	return 0;
}

/*
 * POSTs the link's @password (wiped here once encoded) to @url and streams
 * the answer into @d, showing progress on a terminal.  Returns 0 with
 * libcurl's verdict in *ret_e, or -ENOMEM.
 */
static int fetch_download(struct client *c, const char *url, char *password, size_t pw_size,
			  struct fetch_dl *d, CURLcode *ret_e)
{
	struct progress prog = { .label = "download" };
	struct client_progress cp = { progress_update, &prog };
	struct curl_slist *hdrs = NULL, *t;
	CURL *h = curl_easy_init();
	char *esc = h ? curl_easy_escape(h, password, 0) : NULL;
	struct buf body;
	int r = -ENOMEM;

	explicit_bzero(password, pw_size);
	buf_init(&body, 8192);
	if (!esc || buf_printf(&body, "password=%s", esc) < 0)
		goto out;
	d->h = h;
	hdrs = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	t = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
	if (!t || client_easy_prepare(c, h, &hdrs) < 0 ||
	    curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, d) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fetch_on_header) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, d) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L) != CURLE_OK ||
	    (isatty(STDERR_FILENO) && client_easy_progress(h, &cp) < 0))
		goto out;
	*ret_e = curl_easy_perform(h);
	progress_end(&prog);
	if (!d->status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &d->status);
	r = 0;
out:
	if (esc) {
		explicit_bzero(esc, strlen(esc));
		curl_free(esc);
	}
	client_headers_wipe_free(hdrs);
	client_buf_wipe(&body);
	if (h)
		curl_easy_cleanup(h);
	d->h = NULL;
	return r;
}

/*
 * Says what went wrong with the download @d from @server (libcurl's verdict
 * @e): a file that could not be written, a transfer that failed, or the
 * server's refusal.  Returns 0 when nothing did, else the exit code.
 */
static int fetch_outcome(const struct fetch_dl *d, CURLcode e, const char *server)
{
	char clean[600], text[600], title[200];

	if (d->err < 0)
		return cli_fail("fetch: cannot write the file in %s: %s", out_clean(clean, sizeof(clean), d->dir),
				strerror(-d->err));
	if (e != CURLE_OK) {
		fprintf(stderr, "rampart: fetch: the download from %s failed: %s\n",
			out_clean(clean, sizeof(clean), server), curl_easy_strerror(e));
		if (d->status == 200)
			fprintf(stderr, "  The link may be used up now; ask the sender for a new one.\n");
		return CLI_EXIT_UNREACHABLE;
	}
	if (d->status == 200)
		return 0;
	fetch_page_text(&d->errbody, "p", text, sizeof(text));
	fetch_page_text(&d->errbody, "h1", title, sizeof(title));
	fprintf(stderr, "rampart: fetch: %s\n",
		text[0] ? out_clean(clean, sizeof(clean), text) : "the server refused the download");
	switch (d->status) {
	case 403:
		if (strcmp(title, "Sign in first") == 0)
			fprintf(stderr, "  Log in to %s as the person who asked for the files "
					"('rampart login').\n", out_clean(clean, sizeof(clean), server));
		return CLI_EXIT_AUTH;
	case 404:
		return CLI_EXIT_NOT_FOUND;
	case 429:
		fprintf(stderr, "  Too many requests: wait a minute, then try again.\n");
		return CLI_EXIT_FAILED;
	default:
		return CLI_EXIT_FAILED;
	}
}

/* Makes the downloaded file durable (creating it when it is empty).  Returns 0 or an exit code. */
static int fetch_finish(struct fetch_dl *d)
{
	char clean[600];
	int fd;

	/* An empty file: nothing was written yet. */
	if (d->fd < 0 && fetch_open_tmp(d) < 0)
		return cli_fail("fetch: cannot write the file in %s", out_clean(clean, sizeof(clean), d->dir));
	fd = d->fd;
	d->fd = -1;
	if (fsync(fd) < 0 || close(fd) < 0)
		return cli_fail("fetch: cannot write the file in %s: %s", out_clean(clean, sizeof(clean), d->dir),
				strerror(errno));
	return 0;
}

/*
 * Gives the finished download its name: the one -o named, else the
 * server's (made safe) in t->dir, with " (1)"... when it is taken; the
 * result's path in t->final.  Returns 0, or CLI_EXIT_FAILED after saying
 * where the download was kept.
 */
static int fetch_save(struct fetch_dl *d, struct fetch_target *t, bool force)
{
	char name[FETCH_NAME_MAX + 8], clean[600], dir_name[4096 + 300];
	int r = -EEXIST;

	fetch_safe_name(d->disposition, name, sizeof(name));
	if (t->named) {
		r = fetch_place(d->tmp, t->final, force);
	} else {
		for (unsigned i = 0; r == -EEXIST && i < 100; i++) {
			if (fetch_final_path(t->dir, name, i, t->final, sizeof(t->final)) < 0) {
				r = -ENAMETOOLONG;
				break;
			}
			r = fetch_place(d->tmp, t->final, false);
		}
	}
	if (r < 0) {
		fprintf(stderr, "rampart: fetch: cannot save %s: %s\n  The download is kept as %s.\n",
			out_clean(clean, sizeof(clean), t->named ? t->final : name), strerror(-r), d->tmp);
		d->tmp[0] = '\0';
		return CLI_EXIT_FAILED;
	}
	d->tmp[0] = '\0';
	if (!t->named && fetch_final_path(t->dir, name, 0, dir_name, sizeof(dir_name)) == 0 &&
	    strcmp(t->final, dir_name) != 0) {
		char saved[600];

		fprintf(stderr, "rampart: fetch: %s exists; saved as %s instead\n",
			out_clean(clean, sizeof(clean), dir_name), out_clean(saved, sizeof(saved), t->final));
	}
	return 0;
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
	bool force = false;
	const struct cli_bind binds[] = { { 'o', &outp }, { 'p', &pwfile }, { 'F', .flag = &force }, { 0 } };
	char server[CLIENT_URL_MAX], password[TERM_SECRET_MAX + 1];
	struct fetch_target t = { .named = false };
	struct client *c = NULL, *own = NULL;
	struct fetch_dl d = { .fd = -1 };
	CURLcode e = CURLE_OK;
	struct cli_args a;
	int rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "URL of the link", &rc))
		return rc;
	if (fetch_split_link(argv[a.pos], server, sizeof(server)) < 0)
		return cli_usage(cmd.name, "the URL must be a Rampart link, https://SERVER/x/TOKEN");
	if ((rc = fetch_target(cmd.name, outp, force, &t)) != 0)
		return rc;
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
	buf_init(&d.errbody, FETCH_ERRBODY_MAX);
	d.dir = t.dir;
	if (fetch_download(c, argv[a.pos], password, sizeof(password), &d, &e) < 0)
		rc = cli_fail("fetch: out of memory");
	else if ((rc = fetch_outcome(&d, e, server)) == 0 && (rc = fetch_finish(&d)) == 0 &&
		 (rc = fetch_save(&d, &t, force)) == 0 && cli->json) {
		json_t *j = json_pack("{s:s, s:I}", "path", t.final, "bytes", (json_int_t)d.bytes);

		out_json(j);
		json_decref(j);
	} else if (rc == 0) {
		out_put_clean(stdout, t.final);
		putchar('\n');
	}
	if (d.fd >= 0)
		close(d.fd);
	if (d.tmp[0])
		unlink(d.tmp);
	buf_done(&d.errbody);
	client_free(own);
	return rc;
}
