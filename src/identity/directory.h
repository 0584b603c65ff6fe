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
 *     granted; a principal authenticated by a SCIM token reaches nothing here.
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
};

/* What authorization needs to know about the person acted on. */
struct dir_target {
	const char *person_id;
	const char *org_path;      /* may be NULL or "" for people outside the tree */
	bool reports_to_actor;     /* the actor is this person's manager, directly or not */
	unsigned roles;            /* roles explicitly granted to the person (enum role bits) */
};

/* The decision.  @t may be NULL for actions without a target. */
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

/* Longest org unit path accepted anywhere (bytes, without the NUL). */
#define DIRECTORY_PATH_MAX (PRINCIPAL_PATH_SIZE - 1)

/* Level of the unit at @depth (1-based) of a path: group, company, division, department. */
const char *directory_org_level(size_t depth);

/*
 * Finds the org unit at @path ("Group/Company/Division"), creating it and
 * any missing unit above it.  A new group root is of kind "own", a new
 * company of kind @company_kind, a new division or department of its
 * company's kind.  Segments must be non-empty; the path at most
 * DIRECTORY_PATH_MAX bytes.  Runs inside the caller's transaction.
 * Returns 0 with the unit's id in @ret_id and the number of units created in
 * *ret_created (may be NULL), ERR_INVALID for a malformed path, or a store error.
 */
int directory_org_ensure(struct store_conn *c, const char *path, const char *company_kind,
			 int64_t now_ms, char ret_id[ULID_SIZE], int *ret_created);

#endif
