/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli: option parsing, usage errors, output tails, secrets and person lookup shared by the commands. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/list.h"
#include "cli/out.h"
#include "cli/term.h"
#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"

#define CLI_OPT_JSON 0x100
/* Pages fetched when looking a person up by login or number. */
#define CLI_RESOLVE_PAGES 20

int cli_args_init(struct cli_args *a, const struct cli_cmd *cmd, int argc, char **argv)
{
	size_t n = 0;
	int len;

	memset(a, 0, sizeof(*a));
	a->argc = argc;
	a->argv = argv;
	a->cmd = cmd;
	for (const struct option *o = cmd->opts; o && o->name; o++) {
		if (n + 3 >= sizeof(a->all) / sizeof(a->all[0]))
			return -E2BIG;
		a->all[n++] = *o;
	}
	a->all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	a->all[n++] = (struct option){ "json", no_argument, NULL, CLI_OPT_JSON };
	a->all[n] = (struct option){ 0 };
	/* ':' first: a missing argument is reported as ':' rather than '?'. */
	len = snprintf(a->shortopts, sizeof(a->shortopts), ":h%s", cmd->shortopts ? cmd->shortopts : "");
	if (len < 0 || (size_t)len >= sizeof(a->shortopts))
		return -E2BIG;
	return 0;
}

int cli_opt(struct cli *cli, struct cli_args *a)
{
	for (;;) {
		int c;

		if (!a->started) {
			optind = 0;   /* GNU getopt: full re-initialization */
			opterr = 0;
			a->started = true;
		}
		c = getopt_long(a->argc, a->argv, a->shortopts, a->all, NULL);
		switch (c) {
		case -1:
			a->pos = optind;
			return 0;
		case 'h':
			fputs(a->cmd->help, stdout);
			a->exit = CLI_EXIT_OK;
			return -1;
		case CLI_OPT_JSON:
			cli->json = true;
			continue;
		case '?':
			if (optopt)
				a->exit = cli_usage(a->cmd->name, "unknown option '-%c'", optopt);
			else
				a->exit = cli_usage(a->cmd->name, "unknown option '%s'", a->argv[optind - 1]);
			return -1;
		case ':':
			a->exit = cli_usage(a->cmd->name, "option '%s' needs a value", a->argv[optind - 1]);
			return -1;
		default:
			return c;
		}
	}
}

int cli_positional(const struct cli_args *a, int min, int max, const char *what)
{
	int n = a->argc - a->pos;

	if (n < min)
		return cli_usage(a->cmd->name, "missing %s", what);
	if (n > max)
		return cli_usage(a->cmd->name, "unexpected argument '%s'", a->argv[a->pos + max]);
	return 0;
}

/* The binding of option @o in @binds, or NULL. */
static const struct cli_bind *cli_bind_find(const struct cli_bind *binds, int o)
{
	for (const struct cli_bind *b = binds; b && b->val; b++)
		if (b->val == o)
			return b;
	return NULL;
}

bool cli_args_parse(struct cli *cli, struct cli_args *a, const struct cli_cmd *cmd, int argc,
		    char **argv, const struct cli_bind *binds, int min, int max, const char *what,
		    int *ret_exit)
{
	int o;

	if (cli_args_init(a, cmd, argc, argv) < 0) {
		*ret_exit = CLI_EXIT_USAGE;
		return false;
	}
	while ((o = cli_opt(cli, a)) > 0) {
		const struct cli_bind *b = cli_bind_find(binds, o);

		if (!b)
			continue;
		if (b->parse) {
			if ((*ret_exit = b->parse(cmd->name, optarg, b->dst)) != 0)
				return false;
		} else if (b->str) {
			*b->str = optarg;
		} else if (b->flag) {
			*b->flag = true;
		}
	}
	if (o < 0) {
		*ret_exit = a->exit;
		return false;
	}
	*ret_exit = cli_positional(a, min, max, what);
	return *ret_exit == 0;
}

bool cli_args_plain(struct cli *cli, struct cli_args *a, const struct cli_cmd *cmd, int argc,
		    char **argv, int min, int max, const char *what, int *ret_exit)
{
	return cli_args_parse(cli, a, cmd, argc, argv, NULL, min, max, what, ret_exit);
}

bool cli_json_done(struct cli *cli, json_t *j)
{
	if (!cli->json)
		return false;
	out_json(j);
	json_decref(j);
	return true;
}

int cli_show_once(struct cli *cli, const json_t *res, const char *key, const char *name,
		  const char *fmt, ...)
{
	const char *secret = json_string_value(json_object_get(res, key));
	va_list ap;

	if (cli->json) {
		out_json(res);
		return CLI_EXIT_OK;
	}
	if (!secret)
		return cli_fail("%s: the server's answer has no token", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	out_put_clean(stdout, secret);
	putchar('\n');
	return CLI_EXIT_OK;
}

int cli_parse_time(const char *cmd, const char *opt, const char *arg, char *out, size_t size)
{
	int64_t ms, back;

	if (rtime_parse(arg, &ms) == 0) {
		rtime_format(out, size, ms);
		return 0;
	}
	if (str_parse_duration_ms(arg, &back) == 0 && back <= rtime_now_ms()) {
		rtime_format(out, size, rtime_now_ms() - back);
		return 0;
	}
	return cli_usage(cmd, "--%s must be a time such as 2026-11-26T08:00:00Z, a date such as "
			 "2026-11-26, or a duration back from now such as 7d", opt);
}

int cli_parse_since(const char *cmd, const char *arg, void *dst)
{
	return cli_parse_time(cmd, "since", arg, dst, CLI_TIME_MAX);
}

int cli_parse_until(const char *cmd, const char *arg, void *dst)
{
	return cli_parse_time(cmd, "until", arg, dst, CLI_TIME_MAX);
}

bool cli_same_server(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

bool cli_delete_by_id(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, const char *what,
		      const char *base, const char *fail, char *id, size_t id_size, int *ret_exit)
{
	struct client *c;
	struct cli_args a;
	int r;

	if (!cli_args_plain(cli, &a, cmd, argc, argv, 1, 1, what, ret_exit))
		return false;
	if (!(c = cli_client(cli))) {
		*ret_exit = CLI_EXIT_USAGE;
		return false;
	}
	r = client_call_id(c, "DELETE", base, argv[a.pos], NULL, NULL, NULL);
	if (r < 0) {
		*ret_exit = client_fail(c, r, fail);
		return false;
	}
	out_clean(id, id_size, argv[a.pos]);
	*ret_exit = CLI_EXIT_OK;
	return true;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rampart %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'rampart %s --help' for usage.\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("rampart: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAILED;
}

static struct client *cli_client_make(struct cli *cli, bool with_token)
{
	struct client_opts o = { .server = cli->server, .ca_file = cli->ca_file };
	const char *env = secure_getenv("RAMPART_TOKEN");
	struct client *c = NULL;
	int r;

	if (with_token) {
		if (env && *env) {
			o.token = env;
			o.token_from = "RAMPART_TOKEN";
		} else if (cli->token_is_saved) {
			o.token = cli->saved.token;
			o.token_from = "the saved login";
		}
	}
	r = client_new(&o, &c);
	if (r == -EINVAL) {
		char clean[CLIENT_URL_MAX];

		fprintf(stderr, "rampart: '%s' (from %s) is not a server URL: use http://HOST:PORT or "
				"https://HOST\n", out_clean(clean, sizeof(clean), cli->server), cli->server_from);
		return NULL;
	}
	if (r < 0) {
		fprintf(stderr, "rampart: cannot set up the HTTP client: %s\n", err_str(r));
		return NULL;
	}
	return c;
}

struct client *cli_client(struct cli *cli)
{
	if (!cli->client)
		cli->client = cli_client_make(cli, true);
	return cli->client;
}

struct client *cli_client_anon(struct cli *cli)
{
	return cli_client_make(cli, false);
}

int cli_secret(const char *cmd, const char *file, const char *opt, const char *prompt,
	       const char *what, char *buf, size_t size)
{
	char clean[512];
	int r;

	if (file) {
		r = term_read_secret_file(file, buf, size);
		if (r == 0)
			return 0;
		out_clean(clean, sizeof(clean), strcmp(file, "-") == 0 ? "standard input" : file);
		if (r == -ENODATA)
			return cli_fail("%s: the first line of %s is empty; it must hold the %s", cmd, clean,
					what);
		if (r == -EMSGSIZE)
			return cli_fail("%s: the %s in %s is longer than %zu bytes", cmd, what, clean,
					size - 1);
		return cli_fail("%s: cannot read the %s from %s: %s", cmd, what, clean, strerror(-r));
	}
	r = term_prompt(prompt, false, buf, size);
	if (r == 0 && !buf[0])
		return cli_fail("%s: an empty %s was given; nothing was done", cmd, what);
	if (r == 0)
		return 0;
	if (r == -ENOTTY)
		return cli_fail("%s: there is no terminal to ask for the %s; give it with %s FILE "
				"(or %s - for standard input)", cmd, what, opt, opt);
	if (r == -EINTR)
		return cli_fail("%s: cancelled", cmd);
	if (r == -EMSGSIZE)
		return cli_fail("%s: the %s is longer than %zu bytes", cmd, what, size - 1);
	return cli_fail("%s: cannot read the %s from the terminal", cmd, what);
}

int cli_open_file(const char *cmd, const char *path, struct stat *st, int *ret_exit)
{
	char clean[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	out_clean(clean, sizeof(clean), path);
	if (fd < 0 || fstat(fd, st) < 0) {
		*ret_exit = cli_fail("%s: cannot read %s: %s", cmd, clean, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		*ret_exit = cli_fail("%s: %s is not a regular file", cmd, clean);
		return -1;
	}
	return fd;
}

/* True if @s has the shape of a ULID (26 Crockford base32 characters). */
static bool cli_is_ulid(const char *s)
{
	size_t n = strlen(s);

	if (n != 26)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')) || ch == 'I' || ch == 'L' ||
		    ch == 'O' || ch == 'U')
			return false;
	}
	return true;
}

int cli_person_path(struct cli *cli, struct buf *b, const json_t *person, const char *suffix)
{
	const char *id = json_string_value(json_object_get(person, "id"));

	if (!id || !*id)
		return -EBADMSG;
	return client_path_id(cli->client, b, "/api/v1/people/", id, suffix);
}

int cli_person_call(struct cli *cli, const char *method, const json_t *person, const char *suffix,
		    const json_t *body, json_t **ret)
{
	const char *id = json_string_value(json_object_get(person, "id"));

	if (!id || !*id)
		return -EBADMSG;
	return client_call_id(cli->client, method, "/api/v1/people/", id, suffix, body, ret);
}

static bool cli_person_matches(const json_t *p, const char *ref)
{
	const char *id = out_str(p, "id"), *login = out_str(p, "login");
	const char *num = out_str(p, "employee_number"), *email = out_str(p, "email");

	return strcmp(id, ref) == 0 || (*login && strcasecmp(login, ref) == 0) ||
	       (*num && strcmp(num, ref) == 0) || (*email && strcasecmp(email, ref) == 0);
}

/* What cli_person_resolve gathers from the pages of a search. */
struct resolve {
	const char *ref;
	json_t *matches;
};

static int resolve_page(json_t *page, void *ud)
{
	struct resolve *rs = ud;
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(page, "items"), i, p)
		if (cli_person_matches(p, rs->ref))
			json_array_append(rs->matches, p);
	return 0;
}

int cli_person_resolve(struct cli *cli, const char *ref, const char *what, json_t **ret)
{
	struct client *c = cli_client(cli);
	struct resolve rs = { .ref = ref };
	json_t *found = NULL;
	struct buf path;
	char clean[256];
	int r, rc = CLI_EXIT_FAILED;

	if (!c)
		return CLI_EXIT_USAGE;
	if (!*ref)
		return cli_fail("%s: an empty person was given", what);
	if (cli_is_ulid(ref)) {
		r = client_call_id(c, "GET", "/api/v1/people/", ref, NULL, NULL, &found);
		if (r == 0 && json_is_object(found)) {
			*ret = found;
			return CLI_EXIT_OK;
		}
		json_decref(found);
		if (r != ERR_NOT_FOUND)
			return client_fail(c, r, what);
	}
	rs.matches = json_array();
	buf_init(&path, 8192);
	r = buf_puts(&path, "/api/v1/people");
	r = r < 0 ? r : client_query(c, &path, "q", ref);
	if (!rs.matches || r < 0) {
		rc = cli_fail("%s: %s", what, err_str(rs.matches ? r : -ENOMEM));
		goto out;
	}
	/* Not an id: search, then keep exact matches on login, employee number or email. */
	r = cli_pages(cli, path.data, "200", CLI_RESOLVE_PAGES, resolve_page, &rs);
	if (r < 0) {
		rc = client_fail(c, r, what);
		goto out;
	}
	out_clean(clean, sizeof(clean), ref);
	if (json_array_size(rs.matches) == 0) {
		fprintf(stderr, "rampart: %s: no person has the id, login, employee number or email '%s'\n"
				"  Find them with 'rampart people search TEXT'.\n", what, clean);
		rc = CLI_EXIT_NOT_FOUND;
		goto out;
	}
	if (json_array_size(rs.matches) > 1) {
		size_t i;
		json_t *p;

		fprintf(stderr, "rampart: %s: '%s' names more than one person:\n", what, clean);
		json_array_foreach(rs.matches, i, p) {
			char id[64], login[128];

			fprintf(stderr, "  %s  %s\n", out_clean(id, sizeof(id), out_str(p, "id")),
				out_clean(login, sizeof(login), out_str(p, "login")));
		}
		fprintf(stderr, "  Give the id instead.\n");
		goto out;
	}
	*ret = json_incref(json_array_get(rs.matches, 0));
	rc = CLI_EXIT_OK;
out:
	json_decref(rs.matches);
	buf_done(&path);
	return rc;
}

const char *cli_person_name(const json_t *person, char *buf, size_t size)
{
	char tmp[512];
	const char *g = out_str(person, "given_name"), *f = out_str(person, "family_name");
	int n = snprintf(tmp, sizeof(tmp), "%s%s%s", g, *g && *f ? " " : "", f);

	if (n < 0)
		tmp[0] = '\0';
	/* Truncation is fine here: out_clean marks it with "...". */
	return out_clean(buf, size, tmp);
}

void cli_roles_text(const json_t *roles, struct buf *b)
{
	size_t i;
	json_t *v;

	json_array_foreach(roles, i, v) {
		const char *role = json_is_string(v) ? json_string_value(v) : out_str(v, "role");
		const char *scope = json_is_object(v) ? out_str(v, "scope") : "";

		buf_printf(b, "%s%s", i ? ", " : "", role);
		if (*scope)
			buf_printf(b, " (%s)", scope);
	}
	if (!b->len)
		buf_puts(b, "-");
}

int cli_dispatch(struct cli *cli, const char *group, const char *help, const struct cli_sub *subs,
		 int argc, char **argv)
{
	char clean[128];

	if (argc < 2) {
		fputs(help, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(help, stdout);
		return CLI_EXIT_OK;
	}
	for (const struct cli_sub *s = subs; s->name; s++)
		if (strcmp(argv[1], s->name) == 0)
			return s->fn(cli, argc - 1, argv + 1);
	return cli_usage(group, "unknown command '%s'", out_clean(clean, sizeof(clean), argv[1]));
}
