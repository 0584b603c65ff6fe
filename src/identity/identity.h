/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * identity: people, org units, roles, authentication, the HR feed and SCIM.
 *
 * This header is what programs (rampartd) need; the domain's parts have
 * their own headers: auth.h (sessions, tokens, TOTP, lockout), directory.h
 * (org units, people, roles, the authorization decision), hr.h (CSV feed),
 * scim.h (SCIM 2.0).
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
