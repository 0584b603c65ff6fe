/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * people: the identity API for people, org units, roles and groups.  Every
 * other part of Rampart (and every feed inside identity: the HR import,
 * SCIM, the directory API, the bootstrap) asks and changes the directory
 * through this header; only this module (people.c, people_org.c,
 * people_group.c) writes the tables people, person_history, person_roles,
 * org_units, groups and group_members.  auth.c keeps the credentials
 * (sessions, API tokens, passwords, TOTP); scope.h holds the org-scope rule.
 *
 * Invariants kept here:
 *   - a person's status is active, on_leave or retired; retired_at is set
 *     exactly while the status is retired;
 *   - a person who becomes retired loses every session and API token in
 *     the same transaction (people_update, people_retire);
 *   - every change to a person made through a writer can leave one
 *     person_history row, with the writer's source, actor and time;
 *   - an org unit exists with every unit above it; its level follows its
 *     depth (group, company, division, department) and its name is the last
 *     segment of its path, which passes people_org_path_check.
 *
 * Reads take a struct store_conn and run inside the caller's transaction
 * when one is open.  Writes go through a struct people_writer, which holds
 * the source, actor and time of one batch of changes and prepares each
 * statement once, so that an import of 100,000 people costs what a loop of
 * bound statements costs.  A writer never begins or commits a transaction:
 * the caller opens one (store_begin), makes its changes and commits, so that
 * several changes and their audit entry land together or not at all.
 *
 * Errors: ERR_NOT_FOUND, ERR_CONFLICT (a unique key: login, employee
 * number, group name), ERR_INVALID (as documented per function), ERR_STORE
 * or another store error, -ENOMEM.
 */
#ifndef RAMPART_PEOPLE_H
#define RAMPART_PEOPLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"
#include "http/principal.h"

struct store_conn;
struct store_stmt;

/* Room for a stored name, login, e-mail, title or employee number (256 bytes and the NUL). */
#define PEOPLE_FIELD_SIZE 257
/* Longest org unit path accepted anywhere (bytes, without the NUL). */
#define PEOPLE_PATH_MAX (PRINCIPAL_PATH_SIZE - 1)
/* Deepest org path (group/company/division/department and four more). */
#define PEOPLE_PATH_DEPTH_MAX 8

/* ------------------------------------------------------------- reading */

/* A person as stored; every string is set ("" for SQL NULL). */
struct person {
	char id[ULID_SIZE];
	char login[PEOPLE_FIELD_SIZE];
	char employee_number[PEOPLE_FIELD_SIZE];
	char family_name[PEOPLE_FIELD_SIZE];
	char given_name[PEOPLE_FIELD_SIZE];
	char email[PEOPLE_FIELD_SIZE];
	char title[PEOPLE_FIELD_SIZE];
	char org_unit_id[ULID_SIZE];
	char org_path[PRINCIPAL_PATH_SIZE];
	char status[16];           /* active, on_leave, retired */
	char kind[16];             /* employee, partner_staff */
	char source[16];           /* csv, seed, scim, bootstrap, local */
	char manager_id[ULID_SIZE];
	int64_t created_at, updated_at;
	int64_t retired_at;        /* 0 unless retired */
};

/*
 * Reads person @id into @ret.  Returns 0, ERR_NOT_FOUND (also for a @id
 * that is not a ULID), ERR_TOO_LARGE for a stored value that does not fit
 * @ret, or a store error; @ret is written only on success.
 */
int people_get(struct store_conn *c, const char *id, struct person *ret);

/* As people_get, for the person whose login or id is @key. */
int people_find(struct store_conn *c, const char *key, struct person *ret);

/* As people_get, for the person with employee number @number. */
int people_find_by_employee_number(struct store_conn *c, const char *number, struct person *ret);

/*
 * As people_get, for a person whose e-mail is @email (compared without
 * regard to ASCII case); when several share it, one who is not retired is
 * preferred, then the oldest id.
 */
int people_find_by_email(struct store_conn *c, const char *email, struct person *ret);

/*
 * Sets *ret to whether a person who is not retired (active or on leave)
 * has the e-mail @email, compared without regard to ASCII case.  Returns 0
 * or a store error.
 */
int people_is_person_email(struct store_conn *c, const char *email, bool *ret);

/*
 * Reads the manager of person @id into @ret (whatever the manager's
 * status: check ret->status).  Returns 0, ERR_NOT_FOUND when @id is
 * unknown or has no manager, or an error as people_get.
 */
int people_manager_of(struct store_conn *c, const char *id, struct person *ret);

/*
 * Sets *ret to whether someone who is not retired has @id as their direct
 * manager: what makes a person hold the manager role without a grant.
 * Returns 0 or a store error.
 */
int people_is_manager(struct store_conn *c, const char *id, bool *ret);

/*
 * Sets *ret to whether @boss_id manages @person_id directly or through
 * managers in between (at most SCOPE_CHAIN_MAX managers up the chain, so
 * that a loop in the data ends).  A person does not report to themselves.
 * Returns 0 or a store error.
 */
int people_reports_to(struct store_conn *c, const char *person_id, const char *boss_id, bool *ret);

/*
 * Sets *ret to whether another person than @except_id (may be NULL) has
 * the login @login, compared without regard to ASCII case.  Returns 0 or a
 * store error.
 */
int people_login_taken(struct store_conn *c, const char *login, const char *except_id, bool *ret);

/* As people_login_taken, for an employee number (compared exactly). */
int people_employee_number_taken(struct store_conn *c, const char *number, const char *except_id,
				 bool *ret);

/* Sets *ret to the roles granted to @id (enum role bits; implicit ones not included). */
int people_roles(struct store_conn *c, const char *id, unsigned *ret);

/*
 * The roles @id holds: the grants, employee or partner_staff from @kind
 * (the person's kind, as read with the person), and manager when someone
 * not retired reports to them.  Returns 0 or a store error.
 */
int people_effective_roles(struct store_conn *c, const char *id, const char *kind, unsigned *ret);

/* Sets *ret to the number of people holding a grant of @role (one enum role bit). */
int people_role_count(struct store_conn *c, unsigned role, int64_t *ret);

/*
 * Sets *ret to whether @id holds the admin grant and no other active
 * person does: retiring @id would leave nobody to administer Rampart.
 */
int people_is_last_admin(struct store_conn *c, const char *id, bool *ret);

/* Calls @fn with the id of every active person holding the admin grant; a negative return stops. */
int people_each_active_admin(struct store_conn *c, int (*fn)(const char *id, void *ud), void *ud);

/*
 * Calls @fn with the person id and the role (one enum role bit) of every
 * grant of one of @roles (enum role bits), whatever the person's status; a
 * negative return stops.  Returns 0, @fn's negative value, or a store error.
 */
int people_each_grant(struct store_conn *c, unsigned roles,
		      int (*fn)(const char *id, unsigned role, void *ud), void *ud);

/* A person as the bulk scan hands it over; strings valid during the call only ("" for NULL). */
struct people_row {
	const char *id, *employee_number, *login, *family_name, *given_name, *email;
	const char *org_path, *title, *status, *kind, *source, *manager_id;
};

/*
 * Calls @fn for every stored person, in no particular order.  Returns 0,
 * the first negative value @fn returned, or a store error.
 */
int people_scan(struct store_conn *c, int (*fn)(const struct people_row *row, void *ud), void *ud);

/*
 * The history of @id, newest first, as a query for store/page.h: rows with
 * id < @before, at most @limit rows, columns (id INTEGER, at INTEGER,
 * source, actor_id, change TEXT JSON).  Returns 0 and *ret (the caller
 * frees it), or a store error.
 */
int people_history_query(struct store_conn *c, const char *id, int64_t before, int64_t limit,
			 struct store_stmt **ret);

/*
 * SQL that joins a person and their unit onto a row of a platform's table:
 * " LEFT JOIN people A ON A.id = COL LEFT JOIN org_units A_unit ON
 * A_unit.id = A.org_unit_id" for string literals @a (an alias) and @col
 * (the row's person id).  The query may then read A.login, A.given_name,
 * A.family_name, A.email, A.status, A.kind, A.manager_id and A_unit.path.
 */
#define PEOPLE_SQL_JOIN(a, col) \
	" LEFT JOIN people " a " ON " a ".id = " col \
	" LEFT JOIN org_units " a "_unit ON " a "_unit.id = " a ".org_unit_id"

/*
 * SQL that joins a row's own org unit: " JOIN org_units A ON A.id = COL"
 * for string literals @a (an alias) and @col (the row's unit id).  The
 * query may then read A.id, A.path, A.kind and A.level, and limit the rows
 * with scope.h's fragments on A.path.  PEOPLE_SQL_UNIT_LEFT_JOIN keeps rows
 * whose unit column is NULL.
 */
#define PEOPLE_SQL_UNIT_JOIN(a, col) " JOIN org_units " a " ON " a ".id = " col
#define PEOPLE_SQL_UNIT_LEFT_JOIN(a, col) " LEFT JOIN org_units " a " ON " a ".id = " col

/* --------------------------------------------------------------- units */

/*
 * The one rule for the name of an org unit path, which every door that
 * names or creates units applies (the HR feed, SCIM, the directory API,
 * people_org_ensure and people_org_insert): "Group/Company/Division/...",
 * 1 to PEOPLE_PATH_DEPTH_MAX segments separated by '/', at most
 * PEOPLE_PATH_MAX bytes, valid UTF-8.  Refused: an empty path, an empty
 * segment (which a leading, trailing or doubled '/' makes), a segment "."
 * or "..", and control characters anywhere (C0 including tab, DEL, C1)
 * as well as U+2028 and U+2029 (line and paragraph separators).  Nothing
 * is trimmed here: a feed that forgives spaces around segments removes
 * them first.  Returns 0, or ERR_INVALID with *ret_why (when @ret_why is
 * not NULL) set to a static phrase that completes "org unit '...' ",
 * such as "has an empty segment".
 */
int people_org_path_check(const char *path, const char **ret_why);

/* Level of the unit at @depth (1-based) of a path: group, company, division, department. */
const char *people_org_level(size_t depth);

/* An org unit as stored. */
struct org_unit {
	char id[ULID_SIZE];
	char parent_id[ULID_SIZE];     /* "" for a group root */
	char path[PRINCIPAL_PATH_SIZE];
	char kind[20];                 /* own, group_company, business_partner */
	char level[16];
};

/*
 * Reads the unit whose id or path is @key.  Returns 0, ERR_NOT_FOUND, or a
 * store error.
 */
int people_org_find(struct store_conn *c, const char *key, struct org_unit *ret);

/* As people_org_find, for the unit whose id is exactly @id (never a path). */
int people_org_get(struct store_conn *c, const char *id, struct org_unit *ret);

/* As people_org_find, for the unit whose path is exactly @path. */
int people_org_at(struct store_conn *c, const char *path, struct org_unit *ret);

/*
 * Reads the company (a unit of level "company") named @name: ERR_NOT_FOUND
 * when there is none, ERR_CONFLICT when several companies bear the name.
 */
int people_org_company(struct store_conn *c, const char *name, struct org_unit *ret);

/* An org unit as the bulk scan hands it over; strings valid during the call only. */
struct org_unit_row {
	const char *id, *path, *kind, *level;
};

/* Calls @fn for every unit, in no particular order; as people_scan. */
int people_org_scan(struct store_conn *c, int (*fn)(const struct org_unit_row *row, void *ud), void *ud);

/* -------------------------------------------------------------- writing */

struct people_writer;

/*
 * A writer for changes made by @actor_id (may be NULL: the system) through
 * @source ("csv", "seed", "scim", "api", "bootstrap": people.source of the
 * people it creates or updates, and the source of its history rows) at
 * @now_ms.  The strings are borrowed and must outlive the writer.
 * Returns 0 and *ret, or -ENOMEM.
 */
int people_writer_new(struct store_conn *c, const char *source, const char *actor_id, int64_t now_ms,
		      struct people_writer **ret);

/* Finalizes the writer's statements; accepts NULL.  Does not end the transaction. */
void people_writer_free(struct people_writer *w);

/*
 * The fields of a person to write.  Strings are borrowed; NULL or "" for
 * employee_number, email, org_unit_id and manager_id stores SQL NULL, a
 * NULL title stores "".  login, family_name, given_name, status (active,
 * on_leave, retired) and kind (employee, partner_staff) are required.
 */
struct people_rec {
	const char *login, *employee_number, *family_name, *given_name, *email;
	const char *org_unit_id, *title, *status, *kind, *manager_id;
};

/*
 * In every write below, @change (a JSON object, stolen, may be NULL) is
 * the change as the person's history keeps it; NULL writes no history row.
 * Each returns 0 or an error; after an error the caller rolls back.
 */

/*
 * Creates person @id (a new ULID) from @rec, created and updated at the
 * writer's time (retired then too when the status is retired).  Returns 0,
 * ERR_INVALID for a record missing a required field, ERR_CONFLICT when the
 * login or employee number is taken, or a store error.
 */
int people_create(struct people_writer *w, const char *id, const struct people_rec *rec, json_t *change);

/*
 * Replaces every field of person @id with @rec and sets its source to the
 * writer's.  When @rec retires a person whose status was @was_status (as
 * the caller read it) and is not retired, their sessions and API tokens
 * end now; *ret_revoked (may be NULL) is set to the number ended.  A
 * retired person who returns has retired_at cleared.  Returns 0,
 * ERR_INVALID, ERR_CONFLICT, or a store error; a missing person is not an
 * error (nothing changes).
 */
int people_update(struct people_writer *w, const char *id, const struct people_rec *rec,
		  const char *was_status, json_t *change, int *ret_revoked);

/* Moves person @id to the unit @org_unit_id (NULL: out of the tree).  Returns 0 or a store error. */
int people_move(struct people_writer *w, const char *id, const char *org_unit_id, json_t *change);

/*
 * Retires person @id (not retired now) and ends their sessions and API
 * tokens; the source is left as it was.  *ret_revoked (may be NULL) is set
 * to the number of credentials ended.  Returns 0 or a store error.
 */
int people_retire(struct people_writer *w, const char *id, json_t *change, int *ret_revoked);

/*
 * Makes person @id active again (status active, retired_at cleared), for
 * the bootstrap's "admin" login.  Returns 0 or a store error.
 */
int people_activate(struct people_writer *w, const char *id, json_t *change);

/* Adds a history row for @id (@change stolen; NULL is -ENOMEM, for a failed json_pack). */
int people_history_add(struct people_writer *w, const char *id, json_t *change);

/*
 * Grants @role (one enum role bit) to @id, scoped to unit @scope_org_id
 * (NULL: unscoped), by @granted_by (a person id or "bootstrap"), replacing
 * an earlier grant of the role.  Returns the number of rows changed (1),
 * ERR_INVALID for an unknown role, or a store error.
 */
int people_role_grant(struct people_writer *w, const char *id, unsigned role, const char *scope_org_id,
		      const char *granted_by);

/* Revokes @role from @id.  Returns 1 when it was granted, 0 when not, or an error. */
int people_role_revoke(struct people_writer *w, const char *id, unsigned role);

/*
 * Finds the org unit at @path ("Group/Company/Division"), creating it and
 * any missing unit above it.  A new group root is of kind "own", a new
 * company of kind @company_kind (NULL: "group_company"), a new division or
 * department of its company's kind.  The path must pass
 * people_org_path_check.  Runs inside the caller's transaction.
 * Returns 0 with the unit's id in @ret_id and the number of units created
 * in *ret_created (may be NULL), ERR_INVALID for a malformed path, or a
 * store error.
 */
int people_org_ensure(struct store_conn *c, const char *path, const char *company_kind,
		      int64_t now_ms, char ret_id[ULID_SIZE], int *ret_created);

/*
 * Inserts unit @id at @path below @parent_id (NULL for a group root) with
 * @kind, created at the writer's time; its name and level follow from the
 * path.  For a feed that planned its units (the HR import): the parent must
 * exist.  Returns 0, ERR_INVALID for a path people_org_path_check refuses,
 * ERR_CONFLICT when the path exists, or a store error.
 */
int people_org_insert(struct people_writer *w, const char *id, const char *parent_id, const char *path,
		      const char *kind);

/* Sets the kind of the unit at @path and of every unit below it.  Returns 0 or a store error. */
int people_org_rekind(struct people_writer *w, const char *path, const char *kind);

/* --------------------------------------------------------------- groups */

/*
 * Creates group @id named @name (unique) with @external_id (NULL or "":
 * none).  Returns 0, ERR_CONFLICT for a name in use, or a store error.
 */
int people_group_create(struct people_writer *w, const char *id, const char *name, const char *external_id);

/* Renames group @id and sets its external id; as people_group_create. */
int people_group_update(struct people_writer *w, const char *id, const char *name, const char *external_id);

/* Deletes group @id and its memberships.  Returns 0 or a store error. */
int people_group_delete(struct people_writer *w, const char *id);

/*
 * Adds person @person_id to group @group_id.  Returns 1 when added, 0 when
 * already a member, ERR_NOT_FOUND when no person has the id, or a store
 * error.
 */
int people_group_member_add(struct people_writer *w, const char *group_id, const char *person_id);

/*
 * Removes @person_id (NULL: every member) from @group_id.  Returns the
 * number of memberships removed, or a store error.
 */
int people_group_member_remove(struct people_writer *w, const char *group_id, const char *person_id);

/* Sets *ret to whether a group is named @name.  Returns 0 or a store error. */
int people_group_exists(struct store_conn *c, const char *name, bool *ret);

/*
 * Calls @fn with the name of every group @person_id belongs to; a negative
 * return stops.  Returns 0, @fn's negative value, or a store error.
 */
int people_group_names(struct store_conn *c, const char *person_id,
		       int (*fn)(const char *name, void *ud), void *ud);

#endif
