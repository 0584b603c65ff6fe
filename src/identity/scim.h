/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim: SCIM 2.0 (RFC 7643/7644) Users and Groups for HR and identity
 * systems that push changes; authenticated only by a token of scope "scim".
 * The service is in pieces: scim.c (responses, discovery, routes),
 * scim_users.c, scim_groups.c and the filter parser scim_filter.h; every
 * change to people and groups goes through people.h.
 */
#ifndef RAMPART_SCIM_H
#define RAMPART_SCIM_H

struct http_server;

/* Registers /scim/v2/Users, /scim/v2/Groups and the discovery endpoints. */
int scim_routes(struct http_server *s);

#endif
