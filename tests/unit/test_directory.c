/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for directory_may and directory_may_grant: every role against
 * every action and every kind of target, expected outcomes in one table;
 * the feeds' guarded changes (DIR_FEED_CHANGE) with a SCIM token's owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "identity/directory.h"
#include "identity/people.h"

/* The actor works in G/C/D; a security_manager manages G/C/D. */
#define ACTOR_ID "01ACTOR0000000000000000000"
#define OTHER_ID "01OTHER0000000000000000000"

enum target {
	T_NONE,       /* no target (lists, HR import) */
	T_SELF,       /* the actor */
	T_IN,         /* a plain report of the actor, in G/C/D/Dept */
	T_IN_ADMIN,   /* in scope, reporting to the actor, holding admin */
	T_IN_SO,      /* in scope, holding security_officer */
	T_IN_SM,      /* in scope, holding security_manager */
	T_OUT,        /* in G/Other, not a report */
	T_NOPATH,     /* outside the org tree, not a report */
	U_OWN,        /* org unit G/C/D (own unit) */
	U_ABOVE,      /* org unit G/C */
	U_BELOW,      /* org unit G/C/D/Dept */
	U_OTHER,      /* org unit G/Other */
	T_SELF_ADMIN, /* the actor, holding admin */
	T_COUNT
};

static const char *const target_names[T_COUNT] = {
	"none", "self", "in", "in-admin", "in-so", "in-sm", "out", "no-path", "unit-own", "unit-above",
	"unit-below", "unit-other", "self-admin",
};

static struct dir_target target_of(enum target t)
{
	switch (t) {
	case T_SELF: return (struct dir_target){ ACTOR_ID, "G/C/D", false, 0 };
	case T_IN: return (struct dir_target){ OTHER_ID, "G/C/D/Dept", true, 0 };
	case T_IN_ADMIN: return (struct dir_target){ OTHER_ID, "G/C/D/Dept", true, ROLE_ADMIN };
	case T_IN_SO: return (struct dir_target){ OTHER_ID, "G/C/D/Dept", true, ROLE_SECURITY_OFFICER };
	case T_IN_SM: return (struct dir_target){ OTHER_ID, "G/C/D/Dept", true, ROLE_SECURITY_MANAGER };
	case T_OUT: return (struct dir_target){ OTHER_ID, "G/Other", false, 0 };
	case T_NOPATH: return (struct dir_target){ OTHER_ID, "", false, 0 };
	case U_OWN: return (struct dir_target){ NULL, "G/C/D", false, 0 };
	case U_ABOVE: return (struct dir_target){ NULL, "G/C", false, 0 };
	case U_BELOW: return (struct dir_target){ NULL, "G/C/D/Dept", false, 0 };
	case U_OTHER: return (struct dir_target){ NULL, "G/Other", false, 0 };
	case T_SELF_ADMIN: return (struct dir_target){ ACTOR_ID, "G/C/D", false, ROLE_ADMIN };
	default: return (struct dir_target){ NULL, NULL, false, 0 };
	}
}

/* Actors: one role each (as principal->roles would hold it, with the implicit kind role). */
enum actor { A_ADMIN, A_SO, A_SM, A_MGR, A_AUD, A_EMP, A_PARTNER, A_SCIM, A_ANON, A_COUNT };

static const char *const actor_names[A_COUNT] = {
	"admin", "security_officer", "security_manager", "manager", "auditor", "employee",
	"partner_staff", "scim token", "anonymous",
};

static struct principal actor(enum actor a)
{
	static const unsigned roles[A_COUNT] = {
		ROLE_ADMIN | ROLE_EMPLOYEE, ROLE_SECURITY_OFFICER | ROLE_EMPLOYEE,
		ROLE_SECURITY_MANAGER | ROLE_EMPLOYEE, ROLE_MANAGER | ROLE_EMPLOYEE,
		ROLE_AUDITOR | ROLE_EMPLOYEE, ROLE_EMPLOYEE, ROLE_PARTNER_STAFF, ROLE_ADMIN, 0,
	};
	struct principal p = { .via = VIA_COOKIE, .roles = roles[a] };

	snprintf(p.person_id, sizeof(p.person_id), "%s", ACTOR_ID);
	snprintf(p.org_path, sizeof(p.org_path), "G/C/D");
	snprintf(p.kind, sizeof(p.kind), a == A_PARTNER ? "partner_staff" : "employee");
	if (a == A_SM)
		snprintf(p.manages_path, sizeof(p.manages_path), "G/C/D");
	if (a == A_SCIM)
		p.via = VIA_SCIM_TOKEN;   /* even with admin behind it */
	if (a == A_ANON)
		p.via = VIA_NONE;
	return p;
}

/*
 * One row per action and target; one letter per actor in enum actor order:
 * Y allowed, '.' denied.
 *                     admin so  sm  mgr aud emp prt scim anon
 */
static const struct {
	enum dir_action action;
	enum target target;
	const char *expect;
} table[] = {
	{ DIR_READ_PERSON, T_NONE,     "........." },
	{ DIR_READ_PERSON, T_SELF,     "YYYYYYY.." },
	{ DIR_READ_PERSON, T_IN,       "YYYYY...." },
	{ DIR_READ_PERSON, T_IN_ADMIN, "YYYYY...." },
	{ DIR_READ_PERSON, T_OUT,      "YY..Y...." },
	{ DIR_READ_PERSON, T_NOPATH,   "YY..Y...." },
	{ DIR_MANAGE_PERSON, T_NONE,     "........." },
	{ DIR_MANAGE_PERSON, T_SELF,     "........." },
	{ DIR_MANAGE_PERSON, T_IN,       "YYY......" },
	{ DIR_MANAGE_PERSON, T_IN_ADMIN, "Y........" },
	{ DIR_MANAGE_PERSON, T_IN_SO,    "YY......." },
	{ DIR_MANAGE_PERSON, T_IN_SM,    "YY......." },
	{ DIR_MANAGE_PERSON, T_OUT,      "YY......." },
	{ DIR_MANAGE_PERSON, T_NOPATH,   "YY......." },
	{ DIR_GRANT_ROLE, T_NONE,     "........." },
	{ DIR_GRANT_ROLE, T_SELF,     "........." },
	{ DIR_GRANT_ROLE, T_IN,       "YYY......" },
	{ DIR_GRANT_ROLE, T_IN_ADMIN, "Y........" },
	{ DIR_GRANT_ROLE, T_IN_SO,    "YY......." },
	{ DIR_GRANT_ROLE, T_IN_SM,    "YY......." },
	{ DIR_GRANT_ROLE, T_OUT,      "YY......." },
	{ DIR_IMPORT_HR, T_NONE,      "YY......." },
	{ DIR_IMPORT_HR, T_IN,        "YY......." },
	{ DIR_IMPORT_HR, T_OUT,       "YY......." },
	{ DIR_READ_ORG, T_NONE,       "YYYYYYY.." },
	{ DIR_READ_ORG, U_OWN,        "YYYYYYY.." },
	{ DIR_READ_ORG, U_ABOVE,      "YYYYYYY.." },
	{ DIR_READ_ORG, U_BELOW,      "YYY.Y...." },
	{ DIR_READ_ORG, U_OTHER,      "YY..Y...." },
	{ DIR_READ_ORG, T_NOPATH,     "YY..Y...." },
	/* A feed's guarded changes: anyone for people without admin or security_officer; a SCIM token as its owner (admin here). */
	{ DIR_FEED_CHANGE, T_NONE,       "........." },
	{ DIR_FEED_CHANGE, T_SELF,       "YYYYYYYY." },
	{ DIR_FEED_CHANGE, T_IN,         "YYYYYYYY." },
	{ DIR_FEED_CHANGE, T_IN_ADMIN,   "Y......Y." },
	{ DIR_FEED_CHANGE, T_IN_SO,      "YY.....Y." },
	{ DIR_FEED_CHANGE, T_IN_SM,      "YYYYYYYY." },
	{ DIR_FEED_CHANGE, T_OUT,        "YYYYYYYY." },
	{ DIR_FEED_CHANGE, T_SELF_ADMIN, "........." },
	{ DIR_MANAGE_PERSON, T_SELF_ADMIN, "........." },
};

static const char *action_name(enum dir_action a)
{
	switch (a) {
	case DIR_READ_PERSON: return "read_person";
	case DIR_MANAGE_PERSON: return "manage_person";
	case DIR_GRANT_ROLE: return "grant_role";
	case DIR_IMPORT_HR: return "import_hr";
	case DIR_READ_ORG: return "read_org";
	case DIR_FEED_CHANGE: return "feed_change";
	}
	return "?";
}

static void test_matrix(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct dir_target t = target_of(table[i].target);

		assert_int_equal(strlen(table[i].expect), A_COUNT);
		for (int a = 0; a < A_COUNT; a++) {
			struct principal p = actor((enum actor)a);
			bool want = table[i].expect[a] == 'Y';
			bool got = directory_may(&p, table[i].action, table[i].target == T_NONE ? NULL : &t);

			if (got != want) {
				print_error("%s on %s by %s: expected %s, got %s\n", action_name(table[i].action),
					    target_names[table[i].target], actor_names[a], want ? "allow" : "deny",
					    got ? "allow" : "deny");
				failures++;
			}
		}
	}
	assert_int_equal(failures, 0);
}

/*
 * Which roles each actor may grant or revoke on an in-scope plain target
 * (T_IN) and on one outside (T_OUT).  Letters in ROLE bit order:
 * admin, security_officer, security_manager, manager, auditor, employee, partner_staff.
 */
static const struct {
	enum actor actor;
	const char *in, *out;
} grants[] = {
	{ A_ADMIN,   "YYYYY..", "YYYYY.." },
	{ A_SO,      ".YYYY..", ".YYYY.." },
	{ A_SM,      "...Y...", "......." },
	{ A_MGR,     ".......", "......." },
	{ A_AUD,     ".......", "......." },
	{ A_EMP,     ".......", "......." },
	{ A_PARTNER, ".......", "......." },
	{ A_SCIM,    ".......", "......." },
	{ A_ANON,    ".......", "......." },
};

static void test_grants(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
		struct principal p = actor(grants[i].actor);

		for (int side = 0; side < 2; side++) {
			struct dir_target t = target_of(side ? T_OUT : T_IN);
			const char *expect = side ? grants[i].out : grants[i].in;

			for (unsigned r = 0; r < ROLE_COUNT; r++) {
				bool want = expect[r] == 'Y';
				bool got = directory_may_grant(&p, 1u << r, &t);

				if (got != want) {
					print_error("%s granting %s %s scope: expected %s\n", actor_names[grants[i].actor],
						    role_name(1u << r), side ? "out of" : "in", want ? "allow" : "deny");
					failures++;
				}
			}
		}
	}
	assert_int_equal(failures, 0);
}

static void test_grant_edges(void **state)
{
	struct principal admin = actor(A_ADMIN), so = actor(A_SO), sm = actor(A_SM);
	struct dir_target self = target_of(T_SELF), in_admin = target_of(T_IN_ADMIN), in = target_of(T_IN);
	struct dir_target in_aud = { OTHER_ID, "G/C/D/Dept", false, ROLE_AUDITOR };

	/* Nobody changes their own roles, not even an admin. */
	assert_false(directory_may_grant(&admin, ROLE_AUDITOR, &self));
	/* A security officer does not touch an admin's roles. */
	assert_false(directory_may_grant(&so, ROLE_AUDITOR, &in_admin));
	assert_true(directory_may_grant(&admin, ROLE_SECURITY_OFFICER, &in_admin));
	/* A security manager does not act on an auditor in its subtree. */
	assert_false(directory_may_grant(&sm, ROLE_MANAGER, &in_aud));
	assert_false(directory_may(&sm, DIR_MANAGE_PERSON, &in_aud));
	/* Unknown and combined role bits are refused. */
	assert_false(directory_may_grant(&admin, 0, &in));
	assert_false(directory_may_grant(&admin, ROLE_ADMIN | ROLE_AUDITOR, &in));
	assert_false(directory_may_grant(&admin, 1u << ROLE_COUNT, &in));
	/* A missing target or person id is a refusal. */
	assert_false(directory_may_grant(&admin, ROLE_AUDITOR, NULL));
	assert_false(directory_may(&admin, DIR_READ_PERSON, NULL));
	/* A security manager without a scope manages nobody. */
	sm.manages_path[0] = '\0';
	assert_false(directory_may(&sm, DIR_MANAGE_PERSON, &in));
	assert_false(directory_may(&sm, DIR_READ_PERSON, &in));
	/* Scope is by path segment: G/C/DX is not under G/C/D. */
	sm = actor(A_SM);
	in.org_path = "G/C/DX";
	assert_false(directory_may(&sm, DIR_MANAGE_PERSON, &in));
}

/* A SCIM token acts, for a feed's guarded changes, as its owner with the owner's roles of the moment. */
static void test_feed_change_scim_owner(void **state)
{
	struct principal scim = actor(A_SCIM);
	struct dir_target in_admin = target_of(T_IN_ADMIN), in_so = target_of(T_IN_SO), in = target_of(T_IN);

	/* The owner lost admin and is a security officer now. */
	scim.roles = ROLE_SECURITY_OFFICER | ROLE_EMPLOYEE;
	assert_false(directory_may(&scim, DIR_FEED_CHANGE, &in_admin));
	assert_true(directory_may(&scim, DIR_FEED_CHANGE, &in_so));
	assert_true(directory_may(&scim, DIR_FEED_CHANGE, &in));
	/* The owner holds no power: only people without admin or security_officer. */
	scim.roles = ROLE_EMPLOYEE;
	assert_false(directory_may(&scim, DIR_FEED_CHANGE, &in_admin));
	assert_false(directory_may(&scim, DIR_FEED_CHANGE, &in_so));
	assert_true(directory_may(&scim, DIR_FEED_CHANGE, &in));
	/* A token reaches nothing else of the directory, whatever its owner holds. */
	scim.roles = ROLE_ADMIN | ROLE_EMPLOYEE;
	assert_false(directory_may(&scim, DIR_MANAGE_PERSON, &in));
	assert_false(directory_may(&scim, DIR_READ_PERSON, &in));
	/* Holding both: the admin grant decides. */
	in_admin.roles = ROLE_ADMIN | ROLE_SECURITY_OFFICER;
	scim.roles = ROLE_SECURITY_OFFICER;
	assert_false(directory_may(&scim, DIR_FEED_CHANGE, &in_admin));
}

static void test_org_levels(void **state)
{
	assert_string_equal(people_org_level(1), "group");
	assert_string_equal(people_org_level(2), "company");
	assert_string_equal(people_org_level(3), "division");
	assert_string_equal(people_org_level(4), "department");
	assert_string_equal(people_org_level(7), "department");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_grant_edges),
		cmocka_unit_test(test_feed_change_scim_owner),
		cmocka_unit_test(test_org_levels),
	};
	return cmocka_run_group_tests_name("directory", tests, NULL, NULL);
}
