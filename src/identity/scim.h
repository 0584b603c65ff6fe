/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scim: SCIM 2.0 (RFC 7643/7644) Users and Groups for HR and identity
 * systems that push changes; authenticated only by a token of scope "scim".
 */
#ifndef RAMPART_SCIM_H
#define RAMPART_SCIM_H

#include <stddef.h>

struct http_server;

/* A parsed filter: only 'ATTR eq "VALUE"' (attributes userName, externalId, displayName, emails.value). */
struct scim_filter {
	char attr[32];
	char value[256];
};

/* Parses @s.  Returns 0, or ERR_INVALID with a reason in @err (size @errsz). */
int scim_filter_parse(const char *s, struct scim_filter *ret, char *err, size_t errsz);

/* Registers /scim/v2/Users, /scim/v2/Groups and the discovery endpoints. */
int scim_routes(struct http_server *s);

#endif
