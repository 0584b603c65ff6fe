/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * identity: people, org units, roles, authentication, the HR feed and SCIM.
 *
 * This header is what programs (rampartd) need; the domain's parts have
 * their own headers:
 *   people.h     the identity API every platform uses: people (create,
 *                update, move, retire, history, lookups, managers), org
 *                units, roles and groups; the only writer of identity's
 *                tables besides auth;
 *   scope.h      the org-scope rule: a C predicate and the SQL fragment
 *                every list query uses to limit rows to what a principal
 *                may see;
 *   auth.h       sessions, tokens, passwords, TOTP, lockout, the
 *                authenticator;
 *   directory.h  the directory API (/api/v1/org, /api/v1/people) and the
 *                identity domain's authorization decision;
 *   hr.h         the HR CSV feed (hr_csv.c, hr_plan.c, hr_report.c,
 *                hr_apply.c, hr_http.c; hr_internal.h between them);
 *   scim.h       SCIM 2.0 (scim.c, scim_users.c, scim_groups.c; the filter
 *                parser in scim_filter.h).
 *   id_http.h    what the JSON handlers of auth and the directory share:
 *                the request body with known keys, a keyset page with a
 *                ULID cursor, and its answer.
 * The feeds (HR, SCIM, the directory, the bootstrap below) change people
 * only through people.h, so that the lifecycle's rules (history, ending
 * the credentials of whoever retires) hold whichever way a change comes.
 */
#ifndef RAMPART_IDENTITY_H
#define RAMPART_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct http_server;

/* Registers every identity route and the authenticator on @s.  Returns 0 or -ENOMEM. */
int identity_routes(struct http_server *s);

/*
 * Creates the first administrator (login "admin", role admin) when no
 * person holds the admin role.  @password is used when not NULL; otherwise a
 * random one is generated and written to @ret_generated (>= 32 bytes).
 * *ret_created tells whether an account was made.  Returns 0 or an error.
 */
int identity_bootstrap_admin(struct app *app, const char *password, char *ret_generated,
			     size_t size, bool *ret_created);

/*
 * Imports the HR CSV at @path once: only when no person was ever imported.
 * Used to load the sample organization on first start.  Returns 0, or an
 * error with the reason logged.
 */
int identity_seed_hr(struct app *app, const char *path);

#endif
