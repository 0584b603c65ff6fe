/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * list: the API's paged lists on the command line.  A list endpoint answers
 * {"items": [...], "next": cursor|null}; the following page is the same
 * path with cursor=NEXT.  This module walks the pages, fetches one or all
 * of them, parses --limit, and prints a list as the API's JSON or as an
 * aligned table followed by a hint when pages were left unfetched.
 *
 * Invariants: every page walked has an "items" array (else -EBADMSG); a
 * server that answers a cursor with the same cursor ends the walk instead
 * of making it loop forever; a page size the server refuses is dropped
 * once and the walk goes on at the server's default size.
 */
#ifndef RAMPART_CLI_LIST_H
#define RAMPART_CLI_LIST_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "cli/out.h"

/* Sees one page (borrowed).  Returns 0 to go on; anything else ends the walk with that value. */
typedef int (*cli_page_fn)(json_t *page, void *ud);

/*
 * GETs the pages of @base (a list path with its filters) with limit=@limit
 * (may be NULL; see cli_get_page) and, after the first, cursor=NEXT, until
 * the last page or @max_pages pages (0: no bound), and hands each to @fn.
 * Returns 0; a negative client error (print it with client_fail; -EBADMSG
 * for a page without an items array, -ENOMEM); or the nonzero value @fn
 * returned.  Needs cli_client to have succeeded.
 */
int cli_pages(struct cli *cli, const char *base, const char *limit, unsigned max_pages, cli_page_fn fn,
	      void *ud);

/*
 * GETs @path (a list endpoint, with its query) and, when @all, every
 * following page, returning {"items":[...], "next": null} in *ret; without
 * @all the first page as the server sent it.  Returns 0 or a client error
 * (print it with client_fail).
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

/*
 * The cli_bind parser of --limit: @s must be 1..10000; it is stored in @dst,
 * a const char *.  Returns 0 or CLI_EXIT_USAGE after printing why.
 */
int cli_parse_limit(const char *cmd, const char *s, void *dst);

/* How cli_table_print shows the items of a list, one row each. */
struct cli_table {
	const char *name;            /* the command: in "NAME: out of memory" and the --all hint */
	unsigned ncols;
	const char *const *headers;  /* @ncols column headers */
	/* Adds the row of @item to @t with table_add and returns what that returned. */
	int (*row)(struct table *t, const json_t *item, void *ud);
	void *ud;
	const char *empty;           /* printed instead of a table without rows; NULL: the headers alone */
};

/*
 * Prints the items of @list as the table @spec describes.  Returns 0, or
 * CLI_EXIT_FAILED after "rampart: NAME: out of memory" (nothing printed).
 */
int cli_table_print(const json_t *list, const struct cli_table *spec);

/*
 * The whole output of a list command: cli_fetch_list(@path, @all), then the
 * list's JSON with --json, else the table (cli_table_print) and
 * cli_more_hint.  A failure to fetch is reported by client_fail as
 * "@fail: reason".  Returns the exit code.  Needs cli_client to have
 * succeeded.
 */
int cli_list_show(struct cli *cli, const char *path, bool all, const char *fail,
		  const struct cli_table *spec);

/*
 * cli_list_show on @base with the query @params (see client_queries).  A
 * path that cannot be built is reported by client_fail as "@fail: reason"
 * too.
 */
int cli_list_query(struct cli *cli, const struct cli_table *spec, bool all, const char *fail,
		   const char *base, const struct client_param *params);

#endif
