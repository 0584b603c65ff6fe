/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * directory: org units, people and roles, and the identity domain's one
 * authorization decision (directory_may).  Scope rules (docs/security.md):
 *   admin              everything
 *   security_officer   every person and unit; grants any role but admin
 *   security_manager   people and units in the subtree of their grant
 *   manager            themselves and their direct and indirect reports
 *   auditor            reads everything, changes nothing
 *   employee           themselves
 *   partner_staff      themselves
 * Everything not allowed is denied.
 */
#ifndef RAMPART_DIRECTORY_H
#define RAMPART_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/principal.h"

struct http_server;
struct store_conn;

enum dir_action {
	DIR_READ_PERSON,       /* see a person's record */
	DIR_MANAGE_PERSON,     /* invite, set password, end sessions */
	DIR_GRANT_ROLE,        /* grant or revoke a role (see directory_may_grant) */
	DIR_IMPORT_HR,         /* HR CSV import */
	DIR_READ_ORG,          /* see the org tree */
};

/* What authorization needs to know about the person acted on. */
struct dir_target {
	const char *person_id;
	const char *org_path;      /* may be NULL or "" for people outside the tree */
	bool reports_to_actor;     /* the actor is this person's manager, directly or not */
};

/* The decision.  @t may be NULL for actions without a target. */
bool directory_may(const struct principal *p, enum dir_action a, const struct dir_target *t);

/* Whether @p may grant or revoke @role on a person described by @t. */
bool directory_may_grant(const struct principal *p, unsigned role, const struct dir_target *t);

/* Registers /api/v1/org..., /api/v1/people... */
int directory_routes(struct http_server *s);

/* A person as the API shows it (id, login, names, email, org, title, status, kind, manager, roles). */
json_t *directory_person_json(struct store_conn *c, const char *person_id);

#endif
