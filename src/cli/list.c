/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* list: walking the pages of the API's lists, and printing a list as JSON or a table. */
#include "cli/list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"

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

int cli_pages(struct cli *cli, const char *base, const char *limit, unsigned max_pages, cli_page_fn fn,
	      void *ud)
{
	json_t *page = NULL;
	char *cursor = NULL;
	unsigned n = 0;
	int r;

	for (;;) {
		const char *next;

		json_decref(page);
		page = NULL;
		r = cli_get_page(cli, base, &limit, cursor, &page);
		if (r < 0)
			break;
		if (!json_is_array(json_object_get(page, "items"))) {
			r = -EBADMSG;
			break;
		}
		if ((r = fn(page, ud)) != 0)
			break;
		next = json_string_value(json_object_get(page, "next"));
		/* A server that repeats its cursor would make this loop forever. */
		if (++n == max_pages || !next || !*next || (cursor && strcmp(cursor, next) == 0))
			break;
		free(cursor);
		if (!(cursor = strdup(next))) {
			r = -ENOMEM;
			break;
		}
	}
	json_decref(page);
	free(cursor);
	return r;
}

/* What cli_fetch_list gathers: the first page, or every page's items. */
struct fetch {
	json_t *first;
	json_t *items;   /* NULL: only the first page is wanted */
};

static int fetch_page(json_t *page, void *ud)
{
	struct fetch *f = ud;

	if (!f->items) {
		f->first = json_incref(page);
		return 0;
	}
	return json_array_extend(f->items, json_object_get(page, "items")) < 0 ? -ENOMEM : 0;
}

int cli_fetch_list(struct cli *cli, const char *path, bool all, json_t **ret)
{
	struct fetch f = { .items = all ? json_array() : NULL };
	json_t *out;
	int r;

	if (all && !f.items)
		return -ENOMEM;
	r = cli_pages(cli, path, NULL, all ? 0 : 1, fetch_page, &f);
	if (r == 0 && !all) {
		*ret = f.first;
		return 0;
	}
	if (r == 0) {
		out = json_pack("{s:o, s:n}", "items", f.items, "next");
		f.items = NULL;
		if (out)
			*ret = out;
		else
			r = -ENOMEM;
	}
	json_decref(f.first);
	json_decref(f.items);
	return r;
}

void cli_more_hint(const json_t *list, const char *cmd)
{
	const char *next = json_string_value(json_object_get(list, "next"));

	if (next && *next)
		fprintf(stderr, "(more results: run 'rampart %s' again with --all to fetch every page)\n", cmd);
}

int cli_parse_limit(const char *cmd, const char *s, void *dst)
{
	int64_t v;

	if (str_parse_i64(s, 1, 10000, &v) < 0)
		return cli_usage(cmd, "--limit must be a number from 1 to 10000");
	*(const char **)dst = s;
	return 0;
}

int cli_table_print(const json_t *list, const struct cli_table *spec)
{
	struct table *t = table_new(spec->ncols, spec->headers);
	size_t i;
	json_t *v;

	if (!t)
		return cli_fail("%s: out of memory", spec->name);
	json_array_foreach(json_object_get(list, "items"), i, v) {
		if (spec->row(t, v, spec->ud) < 0) {
			table_free(t);
			return cli_fail("%s: out of memory", spec->name);
		}
	}
	if (spec->empty && table_rows(t) == 0)
		fputs(spec->empty, stdout);
	else
		table_print(t, stdout);
	table_free(t);
	return CLI_EXIT_OK;
}

int cli_list_show(struct cli *cli, const char *path, bool all, const char *fail,
		  const struct cli_table *spec)
{
	json_t *list = NULL;
	int r, rc;

	r = cli_fetch_list(cli, path, all, &list);
	if (r < 0)
		return client_fail(cli->client, r, fail);
	if (cli_json_done(cli, list))
		return CLI_EXIT_OK;
	rc = cli_table_print(list, spec);
	if (rc == CLI_EXIT_OK)
		cli_more_hint(list, spec->name);
	json_decref(list);
	return rc;
}

int cli_list_query(struct cli *cli, const struct cli_table *spec, bool all, const char *fail,
		   const char *base, const struct client_param *params)
{
	struct buf path;
	int r, rc;

	buf_init(&path, 16384);
	r = buf_puts(&path, base);
	r = r < 0 ? r : client_queries(cli->client, &path, params);
	rc = r < 0 ? client_fail(cli->client, r, fail) : cli_list_show(cli, path.data, all, fail, spec);
	buf_done(&path);
	return rc;
}
