/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * directory: the directory API over HTTP (/api/v1/org, /api/v1/people)
 * and the identity domain's one authorization decision (directory_may).
 * People, units, roles and their history are read and written through
 * people.h; the lists are limited with scope.h's rule.  Scope rules
 * (docs/security.md):
 *   admin              everything
 *   security_officer   every person and unit; grants any role but admin
 *   security_manager   people and units in the subtree of their grant
 *   manager            themselves and their direct and indirect reports
 *   auditor            reads everything, changes nothing
 *   employee           themselves
 *   partner_staff      themselves
 * Everything not allowed is denied.  Further:
 *   - nobody manages (invite, password, sessions) or changes the roles of
 *     themselves through the directory: /api/v1/me is for that;
 *   - a person holding admin is managed only by an admin; a
 *     security_manager manages and grants only to people who hold no
 *     admin, security_officer, security_manager or auditor grant, and
 *     grants only "manager";
 *   - org units: admin, security_officer and auditor see all; a
 *     security_manager sees the subtree; everyone sees their own unit and
 *     the units above it;
 *   - employee and partner_staff come from a person's kind and are never
 *     granted; a principal authenticated by a SCIM token reaches nothing here;
 *   - the feeds (the HR import, SCIM) obey the same rule for the changes that
 *     take an account away or change who it is (DIR_FEED_CHANGE): retiring,
 *     a change of status (on leave, back), a move to another unit or a
 *     new login of a person who holds admin or security_officer needs an
 *     actor who may manage that person (DIR_MANAGE_PERSON: an admin for a
 *     person holding admin, an admin or security_officer for one holding
 *     security_officer, never the actor themselves).  A SCIM token acts as
 *     its owner (api_tokens.person_id) with the roles the owner holds when
 *     the request comes.  Any other change a feed makes is not limited here.
 */
#ifndef RAMPART_DIRECTORY_H
#define RAMPART_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
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
	DIR_FEED_CHANGE,       /* retire, change the status of, move or re-login a person through a feed */
};

/* What authorization needs to know about the person acted on. */
struct dir_target {
	const char *person_id;
	const char *org_path;      /* may be NULL or "" for people outside the tree */
	bool reports_to_actor;     /* the actor is this person's manager, directly or not */
	unsigned roles;            /* roles explicitly granted to the person (enum role bits) */
};

/*
 * The decision.  @t may be NULL for actions without a target.  A principal
 * authenticated by a SCIM token is refused everything but DIR_FEED_CHANGE,
 * which it is decided as its owner.
 */
bool directory_may(const struct principal *p, enum dir_action a, const struct dir_target *t);

/* Whether @p may grant or revoke @role on a person described by @t. */
bool directory_may_grant(const struct principal *p, unsigned role, const struct dir_target *t);

/* Registers /api/v1/org..., /api/v1/people... */
int directory_routes(struct http_server *s);

/*
 * A person as the API shows it (id, login, names, email, org, title, status,
 * kind, manager, roles).  Roles list the grants ({"role","scope"}) and the
 * implicit ones (kind role, manager of someone) with "implicit": true.
 * Returns a new reference, or NULL when the person does not exist or on error.
 */
json_t *directory_person_json(struct store_conn *c, const char *person_id);

#endif
