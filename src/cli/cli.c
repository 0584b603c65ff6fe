/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli: option parsing, usage errors, secrets, person lookup and paging shared by the commands. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/out.h"
#include "cli/term.h"
#include "common/err.h"
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

bool cli_args_plain(struct cli *cli, struct cli_args *a, const struct cli_cmd *cmd, int argc,
		    char **argv, int min, int max, const char *what, int *ret_exit)
{
	int o;

	if (cli_args_init(a, cmd, argc, argv) < 0) {
		*ret_exit = CLI_EXIT_USAGE;
		return false;
	}
	while ((o = cli_opt(cli, a)) > 0)
		;   /* cli_opt reports any option: this command has none of its own */
	if (o < 0) {
		*ret_exit = a->exit;
		return false;
	}
	*ret_exit = cli_positional(a, min, max, what);
	return *ret_exit == 0;
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

int cli_person_resolve(struct cli *cli, const char *ref, const char *what, json_t **ret)
{
	struct client *c = cli_client(cli);
	json_t *matches = NULL, *page = NULL, *found = NULL;
	struct buf path;
	char clean[256];
	const char *next = NULL, *limit = "200";
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
		found = NULL;
		if (r != ERR_NOT_FOUND)
			return client_fail(c, r, what);
	}
	matches = json_array();
	buf_init(&path, 8192);
	r = buf_puts(&path, "/api/v1/people");
	r = r < 0 ? r : client_query(c, &path, "q", ref);
	if (!matches || r < 0) {
		rc = cli_fail("%s: %s", what, err_str(matches ? r : -ENOMEM));
		goto out;
	}
	/* Not an id: search, then keep exact matches on login, employee number or email. */
	for (int pages = 0; pages < CLI_RESOLVE_PAGES; pages++) {
		size_t i;
		json_t *p;

		json_decref(page);
		page = NULL;
		r = cli_get_page(cli, path.data, &limit, next, &page);
		if (r < 0) {
			rc = client_fail(c, r, what);
			goto out;
		}
		json_array_foreach(json_object_get(page, "items"), i, p)
			if (cli_person_matches(p, ref))
				json_array_append(matches, p);
		next = json_string_value(json_object_get(page, "next"));
		if (!next || !*next)
			break;
	}
	out_clean(clean, sizeof(clean), ref);
	if (json_array_size(matches) == 0) {
		fprintf(stderr, "rampart: %s: no person has the id, login, employee number or email '%s'\n"
				"  Find them with 'rampart people search TEXT'.\n", what, clean);
		rc = CLI_EXIT_NOT_FOUND;
		goto out;
	}
	if (json_array_size(matches) > 1) {
		size_t i;
		json_t *p;

		fprintf(stderr, "rampart: %s: '%s' names more than one person:\n", what, clean);
		json_array_foreach(matches, i, p) {
			char id[64], login[128];

			fprintf(stderr, "  %s  %s\n", out_clean(id, sizeof(id), out_str(p, "id")),
				out_clean(login, sizeof(login), out_str(p, "login")));
		}
		fprintf(stderr, "  Give the id instead.\n");
		goto out;
	}
	*ret = json_incref(json_array_get(matches, 0));
	rc = CLI_EXIT_OK;
out:
	json_decref(page);
	json_decref(matches);
	buf_done(&path);
	return rc;
}

int cli_fetch_list(struct cli *cli, const char *path, bool all, json_t **ret)
{
	struct client *c = cli->client;
	json_t *page = NULL, *items = NULL, *out;
	char *cursor = NULL;
	struct buf p;
	int r;

	r = client_call(c, "GET", path, NULL, &page);
	if (r < 0)
		return r;
	if (!json_is_array(json_object_get(page, "items"))) {
		json_decref(page);
		return -EBADMSG;
	}
	if (!all) {
		*ret = page;
		return 0;
	}
	items = json_incref(json_object_get(page, "items"));
	buf_init(&p, 16384);
	for (;;) {
		const char *next = json_string_value(json_object_get(page, "next"));
		json_t *more;

		if (!next || !*next)
			break;
		/* A server that repeats its cursor would make this loop forever. */
		if (cursor && strcmp(cursor, next) == 0)
			break;
		free(cursor);
		cursor = strdup(next);
		buf_reset(&p);
		if (!cursor || (r = buf_puts(&p, path)) < 0 || (r = client_query(c, &p, "cursor", cursor)) < 0) {
			r = r < 0 ? r : -ENOMEM;
			goto fail;
		}
		json_decref(page);
		page = NULL;
		r = client_call(c, "GET", p.data, NULL, &page);
		if (r < 0)
			goto fail;
		more = json_object_get(page, "items");
		if (!json_is_array(more)) {
			r = -EBADMSG;
			goto fail;
		}
		if (json_array_extend(items, more) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	out = json_pack("{s:o, s:n}", "items", items, "next");
	items = NULL;
	if (!out) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = out;
	r = 0;
fail:
	free(cursor);
	buf_done(&p);
	json_decref(page);
	json_decref(items);
	return r;
}

int cli_get_page(struct cli *cli, const char *base, const char **limit, const char *cursor,
		 json_t **ret)
{
	struct client *c = cli->client;
	struct buf path;
	int r;

	buf_init(&path, 16384);
	for (;;) {
		buf_reset(&path);
		r = buf_puts(&path, base);
		r = r < 0 ? r : client_query(c, &path, "limit", *limit);
		r = r < 0 ? r : client_query(c, &path, "cursor", cursor);
		r = r < 0 ? r : client_call(c, "GET", path.data, NULL, ret);
		if (r == ERR_INVALID && *limit && strcmp(client_error_field(c), "limit") == 0) {
			*limit = NULL;
			continue;
		}
		break;
	}
	buf_done(&path);
	return r;
}

void cli_more_hint(const json_t *list, const char *cmd)
{
	const char *next = json_string_value(json_object_get(list, "next"));

	if (next && *next)
		fprintf(stderr, "(more results: run 'rampart %s' again with --all to fetch every page)\n", cmd);
}

int cli_parse_limit(const char *cmd, const char *s, const char **ret)
{
	int64_t v;

	if (str_parse_i64(s, 1, 10000, &v) < 0)
		return cli_usage(cmd, "--limit must be a number from 1 to 10000");
	*ret = s;
	return 0;
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
