/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the identity API: the scope rule (src/identity/scope.c)
 * as a predicate table and as SQL run against a real SQLite store, the
 * two checked against each other on one small tree with names that trip
 * naive prefix tests ("A/B" and "A/BC", '%', '_'); and the people API
 * (src/identity/people*.c): lifecycle, history, lookups, roles, units,
 * groups, and the readers the people files share (people_internal.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "identity/people.h"
#include "identity/people_internal.h"
#include "identity/scope.h"
#include "store/store.h"

static char dir[64];

/* ------------------------------------------------------------ predicate */

static void test_path_within(void **state)
{
	static const struct {
		const char *path, *root;
		bool want;
	} t[] = {
		{ "G", "G", true },
		{ "G/A", "G", true },
		{ "G/A/B", "G/A", true },
		{ "G/A/BC", "G/A/B", false },
		{ "G/A/B", "G/A/BC", false },
		{ "G/AB", "G/A", false },
		{ "G", "G/A", false },
		{ "G/A%/x", "G/A%", true },
		{ "G/AX", "G/A%", false },
		{ "G/AX", "G/A_", false },
		{ "G/A_/x", "G/A_", true },
		{ "G/A\\/x", "G/A\\", true },
		{ "", "G", false },
		{ "G", "", false },
		{ NULL, "G", false },
		{ "G", NULL, false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (scope_path_within(t[i].path, t[i].root) != t[i].want)
			fail_msg("case %zu: within('%s', '%s') should be %d", i, t[i].path ? t[i].path : "(null)",
				 t[i].root ? t[i].root : "(null)", t[i].want);
}

static struct principal pr(unsigned roles, const char *id, const char *org, const char *manages)
{
	struct principal p = { .via = VIA_COOKIE, .roles = roles };

	snprintf(p.person_id, sizeof(p.person_id), "%s", id);
	snprintf(p.org_path, sizeof(p.org_path), "%s", org);
	snprintf(p.manages_path, sizeof(p.manages_path), "%s", manages);
	return p;
}

#define ME "01MEMEMEMEMEMEMEMEMEMEMEME"
#define OTHER "01OTHEROTHEROTHEROTHEROTHE"

static void test_may_see(void **state)
{
	const unsigned all = SCOPE_SELF | SCOPE_REPORTS | SCOPE_SUBTREE | SCOPE_ABOVE;
	struct principal admin = pr(ROLE_ADMIN, ME, "G", "");
	struct principal so = pr(ROLE_SECURITY_OFFICER, ME, "G", "");
	struct principal aud = pr(ROLE_AUDITOR, ME, "G", "");
	struct principal sm = pr(ROLE_SECURITY_MANAGER | ROLE_EMPLOYEE, ME, "G/A", "G/A/B");
	struct principal sm_unscoped = pr(ROLE_SECURITY_MANAGER, ME, "G/A", "");
	struct principal mgr = pr(ROLE_MANAGER | ROLE_EMPLOYEE, ME, "G/A/B", "G/A/B");
	struct principal emp = pr(ROLE_EMPLOYEE, ME, "G/A/B", "");
	struct principal nobody = { .via = VIA_NONE };
	static const struct {
		int who;            /* index into ps */
		unsigned rules;
		const char *person, *path;
		bool reports, want;
	} t[] = {
		{ 0, SCOPE_SELF, OTHER, "X", false, true },         /* admin: everything */
		{ 1, 0, OTHER, "X", false, true },                  /* security_officer */
		{ 2, 0, OTHER, NULL, false, true },                 /* auditor */
		{ 3, SCOPE_SUBTREE, OTHER, "G/A/B", false, true },
		{ 3, SCOPE_SUBTREE, OTHER, "G/A/B/x", false, true },
		{ 3, SCOPE_SUBTREE, OTHER, "G/A/BC", false, false },
		{ 3, SCOPE_SUBTREE, OTHER, "G/A", false, false },
		{ 3, SCOPE_SELF, OTHER, "G/A/B", false, false },    /* the rule not asked for */
		{ 3, SCOPE_SELF, ME, "Z", false, true },
		{ 4, SCOPE_SUBTREE, OTHER, "G/A", false, false },   /* no subtree without a path */
		{ 5, SCOPE_REPORTS, OTHER, "Z", true, true },
		{ 5, SCOPE_REPORTS, OTHER, "Z", false, false },
		{ 5, SCOPE_SUBTREE, OTHER, "G/A/B", false, false }, /* a manager is no security_manager */
		{ 6, SCOPE_REPORTS, OTHER, "Z", true, false },      /* reports count for a manager only */
		{ 6, all, OTHER, "G/A/B/C", false, false },
		{ 6, SCOPE_ABOVE, NULL, "G/A", false, true },       /* own unit and those above */
		{ 6, SCOPE_ABOVE, NULL, "G/A/B", false, true },
		{ 6, SCOPE_ABOVE, NULL, "G/A/BC", false, false },
		{ 6, SCOPE_ABOVE, NULL, "G/A/B/C", false, false },
		{ 6, SCOPE_ABOVE, NULL, "", false, false },
		{ 6, SCOPE_SELF, ME, NULL, false, true },
		{ 7, all, ME, "G", false, false },                  /* unauthenticated */
	};
	const struct principal *ps[] = { &admin, &so, &aud, &sm, &sm_unscoped, &mgr, &emp, &nobody };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct scope_row row = { .person_id = t[i].person, .org_path = t[i].path,
					 .reports_to_principal = t[i].reports };

		if (scope_may_see(ps[t[i].who], t[i].rules, &row) != t[i].want)
			fail_msg("case %zu: expected %d", i, t[i].want);
	}
	assert_false(scope_may_see(&admin, SCOPE_SELF, NULL));
	assert_true(scope_sees_all(&aud));
	assert_false(scope_sees_all(&sm));
}

/* ------------------------------------------------------------ the store */

struct fixture {
	struct store *store;
	struct store_conn *c;
	struct people_writer *w;
};

static struct fixture *fx_new(void)
{
	static int n;
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	snprintf(path, sizeof(path), "%s/people%d.db", dir, n++);
	assert_int_equal(store_open(path, &f->store), 0);
	f->c = store_conn(f->store);
	assert_non_null(f->c);
	assert_int_equal(people_writer_new(f->c, "csv", NULL, rtime_now_ms(), &f->w), 0);
	return f;
}

static void fx_free(struct fixture *f)
{
	people_writer_free(f->w);
	store_close(f->store);
	free(f);
}

/* Paths of the small tree; each name is a trap for a prefix test done without the separator. */
static const char *const tree[] = {
	"G", "G/A", "G/A/B", "G/A/BC", "G/A/B/C", "G/AB", "G/A%", "G/AX", "G/A_", "G/A_/x", "G/A%/y",
};
#define NTREE (sizeof(tree) / sizeof(tree[0]))

static void make_tree(struct fixture *f)
{
	char id[ULID_SIZE];

	for (size_t i = 0; i < NTREE; i++)
		assert_int_equal(people_org_ensure(f->c, tree[i], NULL, rtime_now_ms(), id, NULL), 0);
}

/* The units the SQL fragment keeps for @root, as a bit set over tree[]. */
static unsigned sql_within(struct fixture *f, const char *root)
{
	struct store_arg args[2];
	size_t nargs = 0;
	struct store_stmt *q;
	struct buf sql;
	unsigned got = 0;

	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT path FROM org_units WHERE ");
	assert_int_equal(scope_sql_within(&sql, args, &nargs, 2, "path", root), 0);
	assert_int_equal(nargs, 1);
	assert_null(strstr(sql.data, root));   /* bound, never pasted */
	assert_int_equal(store_query(f->c, sql.data, args, nargs, &q), 0);
	buf_done(&sql);
	while (store_step(q) == 1)
		for (size_t i = 0; i < NTREE; i++)
			if (!strcmp(tree[i], store_col_text(q, 0)))
				got |= 1u << i;
	store_stmt_free(q);
	return got;
}

static void test_sql_within(void **state)
{
	struct fixture *f = fx_new();

	make_tree(f);
	for (size_t r = 0; r < NTREE; r++) {
		unsigned want = 0, got = sql_within(f, tree[r]);

		for (size_t i = 0; i < NTREE; i++)
			if (scope_path_within(tree[i], tree[r]))
				want |= 1u << i;
		if (got != want)
			fail_msg("root '%s': SQL kept %#x, the predicate %#x", tree[r], got, want);
	}
	/* A root that names no unit, and one with LIKE's wildcards, keep nothing extra. */
	assert_int_equal(sql_within(f, "G/A/"), 0);
	assert_int_equal(sql_within(f, "G/A_/"), 0);
	assert_int_equal(sql_within(f, "%"), 0);
	assert_int_equal(sql_within(f, "G/A%"), (1u << 6) | (1u << 10));
	fx_free(f);
}

/* Adds person @login in unit @path, reporting to @manager (may be NULL); returns its id in @id. */
static void add_person(struct fixture *f, const char *login, const char *path, const char *manager,
		       char id[ULID_SIZE])
{
	struct people_rec rec = { .login = login, .family_name = login, .given_name = "X", .status = "active",
				  .kind = "employee", .manager_id = manager };
	char unit[ULID_SIZE];

	assert_int_equal(people_org_ensure(f->c, path, NULL, rtime_now_ms(), unit, NULL), 0);
	rec.org_unit_id = unit;
	ids_ulid(id, rtime_now_ms());
	assert_int_equal(people_create(f->w, id, &rec, NULL), 0);
}

/* Checks scope_sql_where against scope_may_see for @p over every person and every unit. */
static void check_where(struct fixture *f, const struct principal *p, unsigned rules)
{
	struct store_arg args[8];
	size_t nargs = 0;
	struct store_stmt *q, *all;
	struct buf sql;
	int seen = 0, want = 0;

	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT p.id FROM people p LEFT JOIN org_units o ON o.id = p.org_unit_id WHERE 1 = 1");
	assert_int_equal(scope_sql_where(&sql, args, &nargs, 8, p, rules, "o.path", "p.id"), 0);
	assert_int_equal(store_query(f->c, sql.data, args, nargs, &q), 0);
	buf_done(&sql);
	while (store_step(q) == 1)
		seen++;
	store_stmt_free(q);
	assert_int_equal(store_query(f->c, "SELECT p.id, coalesce(o.path, '') FROM people p "
				    "LEFT JOIN org_units o ON o.id = p.org_unit_id", STORE_NOARGS, &all), 0);
	while (store_step(all) == 1) {
		struct scope_row row = { .person_id = store_col_text(all, 0), .org_path = store_col_text(all, 1) };

		assert_int_equal(people_reports_to(f->c, row.person_id, p->person_id, &row.reports_to_principal), 0);
		want += scope_may_see(p, rules, &row);
	}
	store_stmt_free(all);
	if (seen != want)
		fail_msg("principal %s rules %#x: SQL kept %d people, the predicate %d", p->login, rules, seen, want);
}

static void test_sql_where(void **state)
{
	struct fixture *f = fx_new();
	char boss[ULID_SIZE], mid[ULID_SIZE], low[ULID_SIZE], x[ULID_SIZE];
	const unsigned rulesets[] = {
		SCOPE_SELF, SCOPE_SUBTREE, SCOPE_REPORTS, SCOPE_ABOVE, SCOPE_SELF | SCOPE_SUBTREE,
		SCOPE_SELF | SCOPE_REPORTS | SCOPE_SUBTREE, SCOPE_SELF | SCOPE_REPORTS | SCOPE_SUBTREE | SCOPE_ABOVE,
	};
	struct principal ps[6];
	struct store_arg args[2];
	size_t nargs = 0;
	struct buf sql;

	make_tree(f);
	add_person(f, "boss", "G/A", NULL, boss);
	add_person(f, "mid", "G/A/B", boss, mid);
	add_person(f, "low", "G/A/BC", mid, low);
	add_person(f, "pct", "G/A%/y", NULL, x);
	add_person(f, "und", "G/A_", low, x);
	add_person(f, "deep", "G/A/B/C", NULL, x);
	ps[0] = pr(ROLE_MANAGER, boss, "G/A", "");
	ps[1] = pr(ROLE_MANAGER | ROLE_SECURITY_MANAGER, mid, "G/A/B", "G/A/B");
	ps[2] = pr(ROLE_SECURITY_MANAGER, low, "G/A/BC", "G/A%");
	ps[3] = pr(ROLE_EMPLOYEE, low, "G/A/BC", "G/A/BC");
	ps[4] = pr(ROLE_AUDITOR, low, "G/A/BC", "");
	ps[5] = pr(ROLE_SECURITY_MANAGER, x, "G/A/B/C", "");
	for (size_t i = 0; i < 6; i++) {
		snprintf(ps[i].login, sizeof(ps[i].login), "p%zu", i);
		for (size_t k = 0; k < sizeof(rulesets) / sizeof(rulesets[0]); k++)
			check_where(f, &ps[i], rulesets[k]);
	}
	/* No room for the parameters: nothing bound, an error. */
	buf_init(&sql, 0);
	assert_int_equal(scope_sql_where(&sql, args, &nargs, 1, &ps[1], SCOPE_SELF | SCOPE_SUBTREE, "o.path", "p.id"),
			 ERR_TOO_LARGE);
	assert_int_equal(nargs, 0);
	/* Rules that cannot match: no row. */
	buf_reset(&sql);
	assert_int_equal(scope_sql_where(&sql, args, &nargs, 2, &ps[3], SCOPE_SUBTREE, "o.path", "p.id"), 0);
	assert_string_equal(sql.data, " AND (1 = 0)");
	/* Everything: no condition at all. */
	buf_reset(&sql);
	assert_int_equal(scope_sql_where(&sql, args, &nargs, 2, &ps[4], SCOPE_SELF, "o.path", "p.id"), 0);
	assert_int_equal(sql.len, 0);
	buf_done(&sql);
	fx_free(f);
}

/* ------------------------------------------------------------ people */

static int64_t count(struct fixture *f, const char *sql, const char *arg)
{
	int64_t n = -1;

	assert_int_equal(store_query_i64(f->c, sql, STORE_ARGS(SA_TEXT(arg)), &n), 0);
	return n;
}

static void test_lifecycle(void **state)
{
	struct fixture *f = fx_new();
	char unit[ULID_SIZE], unit2[ULID_SIZE], ann[ULID_SIZE], bob[ULID_SIZE];
	struct people_rec rec = { .login = "ann@example.com", .employee_number = "E1", .family_name = "Abe",
				  .given_name = "Ann", .email = "Ann@Example.com", .title = "CEO",
				  .status = "active", .kind = "employee" };
	struct person p;
	int64_t now = rtime_now_ms();
	bool b;
	int n, revoked = -1;

	assert_int_equal(people_org_ensure(f->c, "G/C/Sales", "own", now, unit, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(people_org_ensure(f->c, "G/C/Ops", NULL, now, unit2, &n), 0);
	assert_int_equal(n, 1);
	rec.org_unit_id = unit;
	ids_ulid(ann, now);
	assert_int_equal(people_create(f->w, ann, &rec, json_pack("{s:s}", "action", "new")), 0);
	/* The same login again is refused by the store. */
	ids_ulid(bob, now);
	assert_int_equal(people_create(f->w, bob, &rec, NULL), ERR_CONFLICT);
	rec = (struct people_rec){ .login = "bob", .family_name = "Bo", .given_name = "Bob", .status = "active",
				   .kind = "partner_staff", .manager_id = ann, .org_unit_id = unit2 };
	assert_int_equal(people_create(f->w, bob, &rec, NULL), 0);
	rec.login = NULL;
	assert_int_equal(people_create(f->w, "01XXXXXXXXXXXXXXXXXXXXXXXX", &rec, NULL), ERR_INVALID);

	/* Lookups. */
	assert_int_equal(people_get(f->c, ann, &p), 0);
	assert_string_equal(p.org_path, "G/C/Sales");
	assert_string_equal(p.source, "csv");
	assert_int_equal(p.retired_at, 0);
	assert_int_equal(people_get(f->c, "nope", &p), ERR_NOT_FOUND);
	assert_int_equal(people_find(f->c, "bob", &p), 0);
	assert_string_equal(p.id, bob);
	assert_string_equal(p.employee_number, "");
	assert_int_equal(people_find(f->c, ann, &p), 0);
	assert_string_equal(p.login, "ann@example.com");
	assert_int_equal(people_find_by_employee_number(f->c, "E1", &p), 0);
	assert_string_equal(p.id, ann);
	assert_int_equal(people_find_by_email(f->c, "ANN@example.COM", &p), 0);
	assert_string_equal(p.id, ann);
	assert_int_equal(people_manager_of(f->c, bob, &p), 0);
	assert_string_equal(p.email, "Ann@Example.com");
	assert_int_equal(people_manager_of(f->c, ann, &p), ERR_NOT_FOUND);
	assert_int_equal(people_is_person_email(f->c, "ann@EXAMPLE.com", &b), 0);
	assert_true(b);
	assert_int_equal(people_is_manager(f->c, ann, &b), 0);
	assert_true(b);
	assert_int_equal(people_reports_to(f->c, bob, ann, &b), 0);
	assert_true(b);
	assert_int_equal(people_reports_to(f->c, ann, bob, &b), 0);
	assert_false(b);
	assert_int_equal(people_login_taken(f->c, "BOB", NULL, &b), 0);
	assert_true(b);
	assert_int_equal(people_login_taken(f->c, "bob", bob, &b), 0);
	assert_false(b);
	assert_int_equal(people_employee_number_taken(f->c, "E1", bob, &b), 0);
	assert_true(b);

	/* Move, then retire through an update: sessions and tokens end at once. */
	assert_int_equal(people_move(f->w, bob, unit, json_pack("{s:s}", "action", "moved")), 0);
	assert_int_equal(people_get(f->c, bob, &p), 0);
	assert_string_equal(p.org_path, "G/C/Sales");
	assert_int_equal(store_exec(f->c, "INSERT INTO sessions (id, token_hash, csrf_hash, person_id, created_at, "
				       "last_seen_at, expires_at) VALUES ('S1', 'h1', 'c1', $1, $2, $2, $3)",
				    STORE_ARGS(SA_TEXT(bob), SA_I64(now), SA_I64(now + 3600000))), 1);
	assert_int_equal(store_exec(f->c, "INSERT INTO api_tokens (id, token_hash, person_id, name, scope, "
				       "created_at) VALUES ('T1', 'h2', $1, 'cli', 'api', $2)",
				    STORE_ARGS(SA_TEXT(bob), SA_I64(now))), 1);
	rec.login = "bob";
	rec.org_unit_id = unit;
	rec.status = "retired";
	assert_int_equal(people_update(f->w, bob, &rec, "active", json_pack("{s:s}", "action", "retired"),
				       &revoked), 0);
	assert_int_equal(revoked, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM sessions WHERE person_id = $1 AND revoked_at IS NULL", bob), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM api_tokens WHERE person_id = $1 AND revoked_at IS NULL", bob), 0);
	assert_int_equal(people_get(f->c, bob, &p), 0);
	assert_string_equal(p.status, "retired");
	assert_true(p.retired_at > 0);
	assert_int_equal(people_is_manager(f->c, bob, &b), 0);
	assert_false(b);
	assert_int_equal(people_is_manager(f->c, ann, &b), 0);
	assert_false(b);   /* a retired report makes no manager */
	/* Back again: retired_at cleared, nothing revoked. */
	rec.status = "active";
	assert_int_equal(people_update(f->w, bob, &rec, "retired", NULL, &revoked), 0);
	assert_int_equal(revoked, 0);
	assert_int_equal(people_get(f->c, bob, &p), 0);
	assert_int_equal(p.retired_at, 0);
	/* people_retire ends what was issued since. */
	assert_int_equal(store_exec(f->c, "INSERT INTO sessions (id, token_hash, csrf_hash, person_id, created_at, "
				       "last_seen_at, expires_at) VALUES ('S2', 'h3', 'c2', $1, $2, $2, $3)",
				    STORE_ARGS(SA_TEXT(bob), SA_I64(now), SA_I64(now + 3600000))), 1);
	assert_int_equal(people_retire(f->w, bob, json_pack("{s:s}", "action", "retired"), &revoked), 0);
	assert_int_equal(revoked, 1);
	assert_int_equal(people_is_person_email(f->c, "nobody@example.com", &b), 0);
	assert_false(b);
	assert_int_equal(people_activate(f->w, bob, NULL), 0);
	assert_int_equal(people_get(f->c, bob, &p), 0);
	assert_string_equal(p.status, "active");

	/* History: newest first, with the writer's source. */
	{
		struct store_stmt *q;

		assert_int_equal(people_history_query(f->c, bob, INT64_MAX, 10, &q), 0);
		assert_int_equal(store_step(q), 1);
		assert_string_equal(store_col_text(q, 2), "csv");
		assert_non_null(strstr(store_col_text(q, 4), "retired"));
		store_stmt_free(q);
		assert_int_equal(count(f, "SELECT count(*) FROM person_history WHERE person_id = $1", bob), 3);
		assert_int_equal(count(f, "SELECT count(*) FROM person_history WHERE person_id = $1", ann), 1);
	}
	fx_free(f);
}

static int count_admin(const char *id, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static int keep_name(const char *name, void *ud)
{
	snprintf(ud, 32, "%s", name);
	return 0;
}

/* What people_each_grant handed over for two people. */
struct grants_seen {
	const char *id_a, *id_b;
	unsigned a, b;
};

static int note_grant(const char *id, unsigned role, void *ud)
{
	struct grants_seen *s = ud;

	if (!strcmp(id, s->id_a))
		s->a |= role;
	else if (!strcmp(id, s->id_b))
		s->b |= role;
	return 0;
}

static void test_roles_units_groups(void **state)
{
	struct fixture *f = fx_new();
	char a[ULID_SIZE], b[ULID_SIZE], g[ULID_SIZE], name[32] = "";
	struct org_unit u;
	unsigned roles;
	int64_t n;
	bool last, yes;
	int admins = 0;

	add_person(f, "a", "G/C", NULL, a);
	add_person(f, "b", "G/C/D", a, b);
	/* Roles. */
	assert_int_equal(people_role_grant(f->w, a, ROLE_ADMIN, NULL, "bootstrap"), 1);
	assert_int_equal(people_role_grant(f->w, b, ROLE_SECURITY_MANAGER, NULL, a), 1);
	assert_int_equal(people_role_grant(f->w, b, 0, NULL, a), ERR_INVALID);
	assert_int_equal(people_roles(f->c, b, &roles), 0);
	assert_int_equal(roles, ROLE_SECURITY_MANAGER);
	assert_int_equal(people_effective_roles(f->c, a, "employee", &roles), 0);
	assert_int_equal(roles, ROLE_ADMIN | ROLE_EMPLOYEE | ROLE_MANAGER);
	assert_int_equal(people_role_count(f->c, ROLE_ADMIN, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(people_is_last_admin(f->c, a, &last), 0);
	assert_true(last);
	assert_int_equal(people_is_last_admin(f->c, b, &last), 0);
	assert_false(last);
	assert_int_equal(people_role_grant(f->w, b, ROLE_ADMIN, NULL, a), 1);
	assert_int_equal(people_is_last_admin(f->c, a, &last), 0);
	assert_false(last);
	assert_int_equal(people_each_active_admin(f->c, count_admin, &admins), 0);
	assert_int_equal(admins, 2);
	assert_int_equal(people_role_grant(f->w, a, ROLE_SECURITY_OFFICER, NULL, "bootstrap"), 1);
	{
		struct grants_seen seen = { a, b, 0, 0 };

		assert_int_equal(people_each_grant(f->c, ROLE_ADMIN | ROLE_SECURITY_OFFICER, note_grant, &seen), 0);
		assert_int_equal(seen.a, ROLE_ADMIN | ROLE_SECURITY_OFFICER);
		assert_int_equal(seen.b, ROLE_ADMIN);   /* security_manager is not asked for */
	}
	assert_int_equal(people_role_revoke(f->w, a, ROLE_SECURITY_OFFICER), 1);
	assert_int_equal(people_role_revoke(f->w, b, ROLE_ADMIN), 1);
	assert_int_equal(people_role_revoke(f->w, b, ROLE_ADMIN), 0);

	/* Units. */
	assert_int_equal(people_org_find(f->c, "G/C/D", &u), 0);
	assert_string_equal(u.level, "division");
	assert_string_equal(u.kind, "group_company");
	assert_int_equal(people_org_at(f->c, u.id, &u), ERR_NOT_FOUND);
	assert_int_equal(people_org_find(f->c, u.id, &u), 0);
	assert_int_equal(people_org_company(f->c, "C", &u), 0);
	assert_string_equal(u.path, "G/C");
	assert_int_equal(people_org_company(f->c, "D", &u), ERR_NOT_FOUND);
	assert_int_equal(people_org_rekind(f->w, "G/C", "business_partner"), 0);
	assert_int_equal(people_org_at(f->c, "G/C/D", &u), 0);
	assert_string_equal(u.kind, "business_partner");
	assert_int_equal(people_org_ensure(f->c, "G//D", NULL, 0, g, NULL), ERR_INVALID);
	assert_int_equal(people_org_ensure(f->c, "G/1/2/3/4/5/6/7/8", NULL, 0, g, NULL), ERR_INVALID);
	ids_ulid(g, rtime_now_ms());
	assert_int_equal(people_org_insert(f->w, g, NULL, "H", "own"), 0);
	assert_int_equal(people_org_at(f->c, "H", &u), 0);
	assert_string_equal(u.level, "group");
	assert_string_equal(people_org_level(2), "company");

	/* Groups. */
	ids_ulid(g, rtime_now_ms());
	assert_int_equal(people_group_create(f->w, g, "staff", ""), 0);
	assert_int_equal(people_group_create(f->w, "01GGGGGGGGGGGGGGGGGGGGGGGG", "staff", NULL), ERR_CONFLICT);
	assert_int_equal(people_group_member_add(f->w, g, a), 1);
	assert_int_equal(people_group_member_add(f->w, g, a), 0);
	assert_int_equal(people_group_member_add(f->w, g, "01NOPENOPENOPENOPENOPENOPE"), ERR_NOT_FOUND);
	assert_int_equal(people_group_exists(f->c, "staff", &yes), 0);
	assert_true(yes);
	assert_int_equal(people_group_names(f->c, a, keep_name, name), 0);
	assert_string_equal(name, "staff");
	assert_int_equal(people_group_update(f->w, g, "crew", "X1"), 0);
	assert_int_equal(people_group_member_remove(f->w, g, NULL), 1);
	assert_int_equal(people_group_delete(f->w, g), 0);
	assert_int_equal(people_group_exists(f->c, "crew", &yes), 0);
	assert_false(yes);
	fx_free(f);
}

/* ------------------------------------------------- shared readers */

/* people_read_first's callback: keeps column 0, and fails on "stop". */
static int first_row(struct store_stmt *q, void *ud)
{
	const char *v = store_col_text(q, 0);

	if (!strcmp(v, "stop"))
		return ERR_TOO_LARGE;
	snprintf(ud, 32, "%s", v);
	return 0;
}

/* people_each_text's callback: appends the text to @ud, and stops after "b". */
static int each_text(const char *text, void *ud)
{
	struct buf *b = ud;

	buf_printf(b, "[%s]", text);
	return strcmp(text, "b") == 0 ? ERR_CONFLICT : 0;
}

/* The one org path rule (people_org_path_check): every door's verdict, from one table. */
static void test_org_path_check(void **state)
{
	char longest[PEOPLE_PATH_MAX + 2];
	static const struct {
		const char *path, *why;   /* why NULL: accepted */
	} t[] = {
		{ "G", NULL },
		{ "Kestrel Group/Kestrel Holdings/Finance and Accounting", NULL },
		{ "G/C/D/1/2/3/4/5", NULL },                      /* eight levels */
		{ "G/C/D/1/2/3/4/5/6", "more than 8 levels" },
		{ "\xe3\x82\xb0\xe3\x83\xab\xe3\x83\xbc\xe3\x83\x97/C", NULL },   /* Japanese */
		{ "G/.x/x./...", NULL },                          /* dots inside a name are fine */
		{ "G/A%_\\/b", NULL },
		{ "", "is empty" },
		{ "/G/C", "empty segment" },
		{ "G/C/", "empty segment" },
		{ "/", "empty segment" },
		{ "G//C", "empty segment" },
		{ ".", "'.' or '..'" },
		{ "..", "'.' or '..'" },
		{ "G/./C", "'.' or '..'" },
		{ "G/C/..", "'.' or '..'" },
		{ "../G", "'.' or '..'" },
		{ "G/\x01C", "control character" },              /* C0 */
		{ "G/C\tD", "control character" },               /* tab */
		{ "G/C\nD", "control character" },
		{ "G/C\x7f", "control character" },              /* DEL */
		{ "G/C\xc2\x85", "control character" },          /* NEL, C1 */
		{ "G/C\xc2\x9f", "control character" },          /* APC, C1 */
		{ "G/A\xe2\x80\xa8" "B", "control character" }, /* U+2028 */
		{ "G/A\xe2\x80\xa9" "B", "control character" }, /* U+2029 */
		{ "G/\xff", "not valid UTF-8" },
		{ "G/\xc3", "not valid UTF-8" },                  /* cut short */
		{ "G/\xc0\xaf", "not valid UTF-8" },              /* overlong '/' */
		{ "G/\xed\xa0\x80", "not valid UTF-8" },          /* a surrogate */
		{ "G/\xf4\x90\x80\x80", "not valid UTF-8" },      /* past U+10FFFF */
		{ "G/\xc2\xa0", NULL },                           /* NBSP is a character */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *why = "unset";
		int r = people_org_path_check(t[i].path, &why);

		if (!t[i].why) {
			if (r != 0)
				fail_msg("'%s' refused: %s", t[i].path, why);
			continue;
		}
		if (r != ERR_INVALID || !strstr(why, t[i].why))
			fail_msg("case %zu: got %d '%s', expected '%s'", i, r, why, t[i].why);
	}
	assert_int_equal(people_org_path_check(NULL, NULL), ERR_INVALID);
	memset(longest, 'a', sizeof(longest));
	longest[PEOPLE_PATH_MAX] = '\0';
	assert_int_equal(people_org_path_check(longest, NULL), 0);
	longest[PEOPLE_PATH_MAX] = 'a';
	longest[PEOPLE_PATH_MAX + 1] = '\0';
	assert_int_equal(people_org_path_check(longest, NULL), ERR_INVALID);
}

/* The writers that create units apply the same rule. */
static void test_org_writers_refuse_bad_paths(void **state)
{
	struct fixture *f = fx_new();
	static const char *const bad[] = { "G/..", "G/./C", "G/C/", "G/A\xe2\x80\xa8" "B", "G/\xc2\x85", "G/\xff" };
	char id[ULID_SIZE];
	int64_t n = -1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ids_ulid(id, 0);
		assert_int_equal(people_org_ensure(f->c, bad[i], NULL, 0, id, NULL), ERR_INVALID);
		assert_int_equal(people_org_insert(f->w, id, NULL, bad[i], "own"), ERR_INVALID);
	}
	assert_int_equal(store_query_i64(f->c, "SELECT count(*) FROM org_units", STORE_NOARGS, &n), 0);
	assert_int_equal(n, 0);
	fx_free(f);
}

static void test_shared_readers(void **state)
{
	struct fixture *f = fx_new();
	char got[32] = "";
	struct buf b;
	bool yes;

	assert_null(people_opt(NULL));
	assert_null(people_opt(""));
	assert_string_equal(people_opt("x"), "x");

	/* One row by a key: NULL key and no row are ERR_NOT_FOUND; the callback's error comes back. */
	assert_int_equal(people_read_first(f->c, "SELECT $1", NULL, first_row, got), ERR_NOT_FOUND);
	assert_int_equal(people_read_first(f->c, "SELECT $1 WHERE 1 = 0", "a", first_row, got), ERR_NOT_FOUND);
	assert_string_equal(got, "");
	assert_int_equal(people_read_first(f->c, "SELECT $1 UNION ALL SELECT 'z'", "a", first_row, got), 0);
	assert_string_equal(got, "a");
	assert_int_equal(people_read_first(f->c, "SELECT $1", "stop", first_row, got), ERR_TOO_LARGE);

	assert_int_equal(people_any(f->c, "SELECT count(*) WHERE $1 = 'a'", STORE_ARGS(SA_TEXT("a")), &yes), 0);
	assert_true(yes);
	assert_int_equal(people_any(f->c, "SELECT count(*) WHERE $1 = 'a'", STORE_ARGS(SA_TEXT("b")), &yes), 0);
	assert_false(yes);

	/* A column of texts: NULL reads as "", and the callback's error ends the walk. */
	buf_init(&b, 0);
	assert_int_equal(people_each_text(f->c, "SELECT 'a' UNION ALL SELECT NULL", STORE_NOARGS, each_text, &b), 0);
	assert_string_equal(b.data, "[a][]");
	buf_reset(&b);
	assert_int_equal(people_each_text(f->c, "SELECT $1 UNION ALL SELECT 'b' UNION ALL SELECT 'c'",
					  STORE_ARGS(SA_TEXT("a")), each_text, &b), ERR_CONFLICT);
	assert_string_equal(b.data, "[a][b]");
	buf_done(&b);
	fx_free(f);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/rampart-people-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_within),
		cmocka_unit_test(test_may_see),
		cmocka_unit_test(test_sql_within),
		cmocka_unit_test(test_sql_where),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_roles_units_groups),
		cmocka_unit_test(test_org_path_check),
		cmocka_unit_test(test_org_writers_refuse_bad_paths),
		cmocka_unit_test(test_shared_readers),
	};

	return cmocka_run_group_tests_name("people", tests, setup, teardown);
}
