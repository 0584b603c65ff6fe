/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for the HR import (src/identity/hr_*.c): the CSV parser
 * (quoting, BOM, CRLF, line numbers, every validation) and the plan and
 * apply phases against a real SQLite database (joins, moves, changes,
 * retirements, full-snapshot threshold and force, dry run, bad files,
 * skip_bad_lines, org unit kinds, manager checks through stored people,
 * 100,000 rows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/app.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "http/principal.h"
#include "identity/hr.h"
#include "store/store.h"

#define HDR "employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\n"

static char dir[64];

/* ------------------------------------------------------------- parser */

static void parse_ok(const char *csv, struct hr_parse_result *res)
{
	assert_int_equal(hr_parse_csv(csv, strlen(csv), res), 0);
	if (res->fatal[0])
		fail_msg("unexpected fatal: %s", res->fatal);
}

/* The reason reported for @line, or NULL. */
static const char *reason_for(const struct hr_parse_result *res, long line)
{
	for (size_t i = 0; i < res->nerrors_kept; i++)
		if (res->errors[i].line == line)
			return res->errors[i].reason;
	return NULL;
}

static void assert_reason(const struct hr_parse_result *res, long line, const char *part)
{
	const char *r = reason_for(res, line);

	if (!r)
		fail_msg("no error on line %ld (expected '%s')", line, part);
	if (!strstr(r, part))
		fail_msg("line %ld: '%s' does not contain '%s'", line, r, part);
}

static void test_parse_basic(void **state)
{
	struct hr_parse_result res;

	parse_ok(HDR "E1,Sato,Hanako,hanako.sato@example.com,G/C/D/Dep,Engineer,active,employee,\n"
		     "E2,Smith,John,,G/C,,on_leave,partner_staff,E1\n", &res);
	assert_int_equal(res.nrows, 2);
	assert_int_equal(res.nerrors, 0);
	assert_true(res.rows[0].valid);
	assert_int_equal(res.rows[0].line, 2);
	assert_string_equal(res.rows[0].family_name, "Sato");
	assert_string_equal(res.rows[0].org_unit, "G/C/D/Dep");
	assert_string_equal(res.rows[0].org_kind, "");
	assert_string_equal(res.rows[1].manager, "E1");
	assert_string_equal(res.rows[1].email, "");
	assert_int_equal(res.rows[1].line, 3);
	hr_parse_result_done(&res);
}

static void test_parse_bom_crlf_order(void **state)
{
	struct hr_parse_result res;
	/* BOM, CRLF, columns in another order and upper case, optional org_kind. */
	const char *csv = "\xef\xbb\xbf" "KIND,status,Manager,title,org_unit,email,given_name,family_name,"
			  "employee_number,org_kind\r\n"
			  "employee,active,,CEO,G/C,a@example.com,Ann,Abe,E1,own\r\n"
			  "\r\n"
			  "employee,active,E1,CTO,G/C/Tech,b@example.com,Ben,Bo,E2,\r\n";

	parse_ok(csv, &res);
	assert_int_equal(res.nrows, 2);
	assert_int_equal(res.nerrors, 0);
	assert_string_equal(res.rows[0].employee_number, "E1");
	assert_string_equal(res.rows[0].org_kind, "own");
	assert_string_equal(res.rows[0].kind, "employee");
	assert_int_equal(res.rows[0].line, 2);
	/* The blank line 3 is skipped but still counted. */
	assert_int_equal(res.rows[1].line, 4);
	assert_string_equal(res.rows[1].manager, "E1");
	hr_parse_result_done(&res);
}

static void test_parse_quoting(void **state)
{
	struct hr_parse_result res;
	const char *csv = HDR
		"E1,\"Smith, Jr.\",\"John \"\"JJ\"\"\",,G/C,\"Head, Ops\",active,employee,\n"   /* 2 */
		"E2,Lee,Amy,,G/C,\"two\nlines\",active,employee,\n"                             /* 3-4 */
		"E3,Kim,Bo,,\"G / C / Sales \",,active,employee,\n";                             /* 5 */

	parse_ok(csv, &res);
	assert_int_equal(res.nrows, 3);
	assert_string_equal(res.rows[0].family_name, "Smith, Jr.");
	assert_string_equal(res.rows[0].given_name, "John \"JJ\"");
	assert_string_equal(res.rows[0].title, "Head, Ops");
	assert_true(res.rows[0].valid);
	/* A quoted line break is read, then refused as a control character. */
	assert_int_equal(res.rows[1].line, 3);
	assert_false(res.rows[1].valid);
	assert_reason(&res, 3, "control character");
	/* The record after a two-line record starts on line 5; segments are trimmed. */
	assert_int_equal(res.rows[2].line, 5);
	assert_true(res.rows[2].valid);
	assert_string_equal(res.rows[2].org_unit, "G/C/Sales");
	hr_parse_result_done(&res);
}

static void test_parse_bad_lines(void **state)
{
	struct hr_parse_result res;
	char longname[400];
	char csv[4096];

	memset(longname, 'x', 300);
	longname[300] = '\0';
	snprintf(csv, sizeof(csv), HDR
		 "E1,Abe,Ann,,G/C,,active,employee\n"                       /* 2 too few fields */
		 "E2,Abe,Ann,,G/C,,sleeping,employee,\n"                   /* 3 status */
		 "E3,Abe,Ann,,G/C,,active,contractor,\n"                   /* 4 kind */
		 "E4,,Ann,,G/C,,active,employee,\n"                        /* 5 required */
		 "E5,Abe,Ann,not-an-address,G/C,,active,employee,\n"       /* 6 email */
		 "E6,Abe,Ann,,G//C,,active,employee,\n"                    /* 7 empty segment */
		 "E7,%s,Ann,,G/C,,active,employee,\n"                      /* 8 too long */
		 "E8,Abe,Ann,,G/C,,active,employee,E8\n"                   /* 9 own manager */
		 "E9,Abe,Ann,,G/C,,active,employee,\n"                     /* 10 dup (first) */
		 "E9,Abe,Ann,,G/C,,active,employee,\n"                     /* 11 dup */
		 "E10,Ab\"e,Ann,,G/C,,active,employee,\n"                  /* 12 misplaced quote */
		 "E11,Abe,Ann,,G/C,,active,employee,E12\n"                 /* 13 cycle */
		 "E12,Abe,Ann,,G/C,,active,employee,E11\n"                 /* 14 cycle */
		 "E13,Abe,Ann,a@b,G/C,,active,employee,\n"                 /* 15 email without dot */
		 "E14,Abe,Ann,,G/C,,active,employee,,boss\n"               /* 16 too many fields */
		 "E15,Abe,Ann,,,,active,employee,\n"                       /* 17 org required */
		 "E16,Abe,Ann,,G/C,,active,employee,\n",                   /* 18 fine */
		 longname);
	parse_ok(csv, &res);
	assert_reason(&res, 2, "expected 9 fields");
	assert_reason(&res, 3, "status must be");
	assert_reason(&res, 4, "kind must be");
	assert_reason(&res, 5, "'family_name' is required");
	assert_reason(&res, 6, "not an address");
	assert_reason(&res, 7, "empty segment");
	assert_reason(&res, 8, "longer than 256 bytes");
	assert_reason(&res, 9, "their own manager");
	assert_reason(&res, 10, "appears again on line 11");
	assert_reason(&res, 11, "already appears on line 10");
	assert_reason(&res, 12, "quote");
	assert_reason(&res, 13, "cycle");
	assert_reason(&res, 14, "cycle");
	assert_reason(&res, 15, "not an address");
	assert_reason(&res, 16, "expected 9 fields");
	assert_reason(&res, 17, "'org_unit' is required");
	assert_null(reason_for(&res, 18));
	assert_int_equal(res.nerrors, 16);
	/* The record after a broken one is read normally. */
	assert_string_equal(res.rows[res.nrows - 1].employee_number, "E16");
	assert_true(res.rows[res.nrows - 1].valid);
	hr_parse_result_done(&res);
}

static void test_parse_more_validations(void **state)
{
	struct hr_parse_result res;
	char f256[257], f257[258], csv[2048];

	memset(f256, 'a', 256);
	f256[256] = '\0';
	memset(f257, 'b', 257);
	f257[257] = '\0';
	snprintf(csv, sizeof(csv), "%s,org_kind\n"
		 "E1,%s,Ann,,G/C,,active,employee,,\n"                       /* 2 exactly 256 bytes: fine */
		 "E2,%s,Ann,,G/C,,active,employee,,\n"                       /* 3 257 bytes */
		 "E3,Abe,Ann,,G/C,,active,employee,,supplier\n"              /* 4 org_kind */
		 "E4,Abe,Ann,,A/B/C/D/E/F/G/H/I,,active,employee,,\n"        /* 5 nine levels */
		 "E5,Abe,Ann,,A/B/C/D/E/F/G/H,,active,employee,,\n"          /* 6 eight: fine */
		 "E6,Abe,\"An\tn\",,G/C,,active,employee,,\n"               /* 7 tab inside */
		 "E7,Abe,Ann,a..b@example.com,G/C,,active,employee,,\n"      /* 8 email */
		 "E8,Abe,Ann,a@-example.com,G/C,,active,employee,,\n"        /* 9 email */
		 "E9,Abe,Ann,,/G/C,,active,employee,,\n"                     /* 10 leading slash */
		 "E10,Abe,Ann,,G/C,,active,,,\n"                             /* 11 kind required */
		 "E11,Abe,Ann,A.B+tag@Sub.Example.co.jp,G/C,,active,employee,,own\n", /* 12 fine */
		 "employee_number,family_name,given_name,email,org_unit,title,status,kind,manager", f256, f257);
	parse_ok(csv, &res);
	assert_null(reason_for(&res, 2));
	assert_reason(&res, 3, "longer than 256 bytes");
	assert_reason(&res, 4, "org_kind must be");
	assert_reason(&res, 5, "more than 8 levels");
	assert_null(reason_for(&res, 6));
	assert_reason(&res, 7, "control character");
	assert_reason(&res, 8, "not an address");
	assert_reason(&res, 9, "not an address");
	assert_reason(&res, 10, "empty segment");
	assert_reason(&res, 11, "'kind' is required");
	assert_null(reason_for(&res, 12));
	assert_int_equal(res.nerrors, 8);
	assert_string_equal(res.rows[res.nrows - 1].org_kind, "own");
	hr_parse_result_done(&res);
}

static void test_parse_control_and_utf8(void **state)
{
	struct hr_parse_result res;
	const char csv[] = HDR "E1,Ab\x01" "e,Ann,,G/C,,active,employee,\n"
			       "E2,\xff\xfe,Ann,,G/C,,active,employee,\n"
			       "E3,\xe4\xbd\x90\xe8\x97\xa4,\xe8\x8a\xb1\xe5\xad\x90,,\xe3\x82\xb0/C,,active,employee,\n";

	parse_ok(csv, &res);
	assert_reason(&res, 2, "control character");
	assert_reason(&res, 3, "invalid UTF-8");
	assert_true(res.rows[2].valid);   /* Japanese names are fine */
	hr_parse_result_done(&res);
}

/* Org paths go through the directory's one rule (people_org_path_check), after trimming. */
static void test_parse_org_paths(void **state)
{
	struct hr_parse_result res;
	const char csv[] = HDR "E1,Abe,Ann,,G/C/..,,active,employee,\n"                    /* 2 */
			       "E2,Abe,Ann,,G/./C,,active,employee,\n"                     /* 3 */
			       "E3,Abe,Ann,,G/ .. /C,,active,employee,\n"                  /* 4 trimmed to .. */
			       "E4,Abe,Ann,,G/C/,,active,employee,\n"                      /* 5 */
			       "E5,Abe,Ann,,G//C,,active,employee,\n"                      /* 6 */
			       "E6,Abe,Ann,,G/A\xe2\x80\xa8" "B,,active,employee,\n"       /* 7 U+2028 */
			       "E7,Abe,Ann,,G/A\xe2\x80\xa9" "B,,active,employee,\n"       /* 8 U+2029 */
			       "E8,Abe,Ann,,G/C\xc2\x85,,active,employee,\n"              /* 9 C1 */
			       "E9,Abe,Ann,,G/C.../..D,,active,employee,\n"                /* 10 fine */
			       "E10,Abe,Ann,,\" G / C \",,active,employee,\n";           /* 11 fine */

	parse_ok(csv, &res);
	assert_reason(&res, 2, "'.' or '..'");
	assert_reason(&res, 3, "'.' or '..'");
	assert_reason(&res, 4, "'.' or '..'");
	assert_reason(&res, 5, "empty segment");
	assert_reason(&res, 6, "empty segment");
	assert_reason(&res, 7, "control character");
	assert_reason(&res, 8, "control character");
	assert_reason(&res, 9, "control character");
	assert_null(reason_for(&res, 10));
	assert_null(reason_for(&res, 11));
	assert_string_equal(res.rows[9].org_unit, "G/C");
	assert_int_equal(res.nerrors, 8);
	hr_parse_result_done(&res);
}

static void test_parse_fatal(void **state)
{
	static const char *const files[] = {
		"",
		"\n\n",
		"employee_number,family_name\nE1,Abe\n",
		"employee_number,family_name,given_name,email,org_unit,title,status,kind,manager,shoe_size\n",
		"employee_number,employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\n",
		"\"employee_number,family_name\n",
	};
	static const char *const expect[] = {
		"empty", "empty", "lacks the column(s) given_name", "unknown column 'shoe_size'", "twice",
		"header",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct hr_parse_result res;

		assert_int_equal(hr_parse_csv(files[i], strlen(files[i]), &res), 0);
		if (!strstr(res.fatal, expect[i]))
			fail_msg("file %zu: fatal '%s' lacks '%s'", i, res.fatal, expect[i]);
		hr_parse_result_done(&res);
	}
}

static void test_parse_unclosed_quote(void **state)
{
	struct hr_parse_result res;
	const char *csv = HDR "E1,Abe,Ann,,G/C,,active,employee,\n"
			      "E2,\"Abe,Ann,,G/C,,active,employee,\n";

	parse_ok(csv, &res);
	assert_int_equal(res.nerrors, 1);
	assert_reason(&res, 3, "not closed");
	assert_true(res.rows[0].valid);
	hr_parse_result_done(&res);
}

static void test_parse_no_trailing_newline(void **state)
{
	struct hr_parse_result res;

	parse_ok(HDR "E1,Abe,Ann,,G/C,,active,employee,", &res);
	assert_int_equal(res.nrows, 1);
	assert_true(res.rows[0].valid);
	assert_int_equal(res.rows[0].line, 2);
	hr_parse_result_done(&res);
}

/* --------------------------------------------------------------- import */

struct fixture {
	struct app app;
	struct store_conn *c;
};

static struct fixture *fx_new(void)
{
	static int n;
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	snprintf(path, sizeof(path), "%s/hr%d.db", dir, n++);
	config_defaults(&f->app.cfg);
	assert_int_equal(store_open(path, &f->app.store), 0);
	f->c = store_conn(f->app.store);
	assert_non_null(f->c);
	return f;
}

static void fx_free(struct fixture *f)
{
	store_close(f->app.store);
	free(f);
}

static int64_t q64(struct fixture *f, const char *sql, const char *arg)
{
	int64_t v = -1;

	assert_int_equal(store_query_i64(f->c, sql, STORE_ARGS(SA_TEXT(arg)), &v), 0);
	return v;
}

/* Text of the first column of the first row. */
static char *qtext(struct fixture *f, const char *sql, const char *arg)
{
	struct store_stmt *q;
	char *s = NULL;

	assert_int_equal(store_query(f->c, sql, STORE_ARGS(SA_TEXT(arg)), &q), 0);
	if (store_step(q) == 1 && store_col_text(q, 0))
		s = strdup(store_col_text(q, 0));
	store_stmt_free(q);
	return s;
}

static int import(struct fixture *f, const char *csv, const struct hr_options *o, json_t **report)
{
	struct hr_options d = { .retire_threshold_pct = 10, .source = "csv", .actor_id = "01ACTOR0000000000000000000" };

	*report = NULL;
	return hr_import(&f->app, f->c, csv, strlen(csv), o ? o : &d, report);
}

static int64_t count_of(json_t *report, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(report, "counts"), key));
}

static const char base_csv[] = HDR
	"K001,Kestrel,Kate,Kate.Kestrel@Example.com,Kestrel Group/Kestrel Holdings,CEO,active,employee,\n"
	"K002,Ishida,Ren,ren.ishida@example.com,Kestrel Group/Kestrel Holdings/Information Security,CISO,active,employee,K001\n"
	"K003,Mori,Aoi,aoi.mori@example.com,Kestrel Group/Kestrel Holdings/Information Security/Security Operations,Analyst,active,employee,K002\n"
	"K004,Baker,Tom,,Kestrel Group/Kestrel Logistics/Operations,Driver,active,employee,K001\n"
	"P001,Ng,Lia,lia.ng@partner.example,Kestrel Group/Acme Partners/Support,Contractor,active,partner_staff,K003\n";

static void test_import_join(void **state)
{
	struct fixture *f = fx_new();
	json_t *report;
	char *s;

	assert_int_equal(import(f, base_csv, NULL, &report), 0);
	assert_true(json_is_true(json_object_get(report, "applied")));
	assert_int_equal(count_of(report, "new"), 5);
	assert_int_equal(count_of(report, "errors"), 0);
	assert_int_equal(json_array_size(json_object_get(report, "changes")), 5);
	json_decref(report);

	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE source = $1", "csv"), 5);
	/* Logins: lowercased email, else the employee number. */
	s = qtext(f, "SELECT login FROM people WHERE employee_number = $1", "K001");
	assert_string_equal(s, "kate.kestrel@example.com");
	free(s);
	s = qtext(f, "SELECT login FROM people WHERE employee_number = $1", "K004");
	assert_string_equal(s, "K004");
	free(s);
	/* Managers are linked. */
	s = qtext(f, "SELECT m.employee_number FROM people p JOIN people m ON m.id = p.manager_id "
		     "WHERE p.employee_number = $1", "P001");
	assert_string_equal(s, "K003");
	free(s);
	/* Org units: levels and kinds. */
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1", "Kestrel Group");
	assert_string_equal(s, "group own");
	free(s);
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1", "Kestrel Group/Kestrel Holdings");
	assert_string_equal(s, "company own");
	free(s);
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1", "Kestrel Group/Kestrel Logistics");
	assert_string_equal(s, "company group_company");
	free(s);
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1", "Kestrel Group/Acme Partners");
	assert_string_equal(s, "company business_partner");
	free(s);
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1",
		  "Kestrel Group/Acme Partners/Support");
	assert_string_equal(s, "division business_partner");
	free(s);
	s = qtext(f, "SELECT level || ' ' || kind FROM org_units WHERE path = $1",
		  "Kestrel Group/Kestrel Holdings/Information Security/Security Operations");
	assert_string_equal(s, "department own");
	free(s);
	s = qtext(f, "SELECT p.path FROM org_units u JOIN org_units p ON p.id = u.parent_id WHERE u.path = $1",
		  "Kestrel Group/Kestrel Holdings/Information Security");
	assert_string_equal(s, "Kestrel Group/Kestrel Holdings");
	free(s);
	/* History for each person and one audit entry with the counts. */
	assert_int_equal(q64(f, "SELECT count(*) FROM person_history WHERE source = $1", "csv"), 5);
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action = $1", "hr.import"), 1);
	s = qtext(f, "SELECT details FROM audit_log WHERE action = $1", "hr.import");
	assert_non_null(strstr(s, "\"new\":5"));
	free(s);
	s = qtext(f, "SELECT actor_id FROM audit_log WHERE action = $1", "hr.import");
	assert_string_equal(s, "01ACTOR0000000000000000000");
	free(s);

	/* The same file again changes nothing. */
	assert_int_equal(import(f, base_csv, NULL, &report), 0);
	assert_int_equal(count_of(report, "unchanged"), 5);
	assert_int_equal(count_of(report, "new"), 0);
	assert_int_equal(json_array_size(json_object_get(report, "changes")), 0);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM person_history WHERE source = $1", "csv"), 5);
	fx_free(f);
}

/* Replaces the first occurrence of @from in @src with @to, into a new string. */
static char *edit(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	struct buf b;

	assert_non_null(at);
	buf_init(&b, 0);
	buf_append(&b, src, (size_t)(at - src));
	buf_puts(&b, to);
	buf_puts(&b, at + strlen(from));
	return buf_steal(&b);
}

static void test_import_move_change_retire(void **state)
{
	struct fixture *f = fx_new();
	int64_t now = rtime_now_ms();
	char *csv, *tmp, *s, *pid;
	json_t *report, *ch;

	assert_int_equal(import(f, base_csv, NULL, &report), 0);
	json_decref(report);
	pid = qtext(f, "SELECT id FROM people WHERE employee_number = $1", "K004");
	/* A live session and API token for K004, who will retire. */
	assert_int_equal(store_exec(f->c, "INSERT INTO sessions (id, token_hash, csrf_hash, person_id, created_at, "
					  "last_seen_at, expires_at) VALUES ('S1', 'h1', 'c1', $1, $2, $2, $3)",
				    STORE_ARGS(SA_TEXT(pid), SA_I64(now), SA_I64(now + 3600000))), 1);
	assert_int_equal(store_exec(f->c, "INSERT INTO api_tokens (id, token_hash, person_id, name, scope, "
					  "created_at) VALUES ('T1', 'h2', $1, 'cli', 'api', $2)",
				    STORE_ARGS(SA_TEXT(pid), SA_I64(now))), 1);

	/* K003 moves, K002 gets a new title, K004 retires. */
	tmp = edit(base_csv, "Information Security/Security Operations,Analyst",
		   "Information Security/Threat Intelligence,Analyst");
	csv = edit(tmp, "CISO", "Chief Information Security Officer");
	free(tmp);
	tmp = csv;
	csv = edit(tmp, "Driver,active", "Driver,retired");
	free(tmp);
	assert_int_equal(import(f, csv, NULL, &report), 0);
	assert_int_equal(count_of(report, "moved"), 1);
	assert_int_equal(count_of(report, "changed"), 1);
	assert_int_equal(count_of(report, "retired"), 1);
	assert_int_equal(count_of(report, "unchanged"), 2);
	ch = json_array_get(json_object_get(report, "changes"), 0);
	assert_string_equal(json_string_value(json_object_get(ch, "action")), "changed");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ch, "after"), "title")),
			    "Chief Information Security Officer");
	json_decref(report);
	free(csv);

	s = qtext(f, "SELECT o.path FROM people p JOIN org_units o ON o.id = p.org_unit_id "
		     "WHERE p.employee_number = $1", "K003");
	assert_string_equal(s, "Kestrel Group/Kestrel Holdings/Information Security/Threat Intelligence");
	free(s);
	s = qtext(f, "SELECT status FROM people WHERE id = $1", pid);
	assert_string_equal(s, "retired");
	free(s);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE id = $1 AND retired_at IS NOT NULL", pid), 1);
	assert_int_equal(q64(f, "SELECT count(*) FROM sessions WHERE person_id = $1 AND revoked_at IS NULL", pid), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM api_tokens WHERE person_id = $1 AND revoked_at IS NULL", pid), 0);
	s = qtext(f, "SELECT change FROM person_history WHERE person_id = $1 ORDER BY id DESC LIMIT 1", pid);
	assert_non_null(strstr(s, "\"retired\""));
	free(s);
	free(pid);
	fx_free(f);
}

/* @n people K0001..; those from @missing_from on are left out. */
static char *people_csv(int n, int missing_from)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, HDR);
	for (int i = 1; i <= n && i < missing_from; i++)
		buf_printf(&b, "K%04d,Family%d,Given%d,p%d@example.com,G/Co/Div%d,Staff,active,employee,%s\n",
			   i, i, i, i, i % 3, i == 1 ? "" : "K0001");
	return buf_steal(&b);
}

static void test_import_snapshot_threshold(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 10, .source = "csv", .full_snapshot = true };
	char *all = people_csv(20, 100), *most = people_csv(20, 19), *half = people_csv(20, 11);
	int64_t audits;
	json_t *report;

	assert_int_equal(import(f, all, &o, &report), 0);
	json_decref(report);
	audits = q64(f, "SELECT count(*) FROM audit_log WHERE action <> $1", "");

	/* 2 of 20 missing: 10%, at the limit, applied. */
	assert_int_equal(import(f, most, &o, &report), 0);
	assert_int_equal(count_of(report, "retired"), 2);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = $1", "retired"), 2);

	/* 8 more of the 18 active: 44%, refused, nothing changed. */
	assert_int_equal(import(f, half, &o, &report), ERR_THRESHOLD);
	assert_non_null(report);
	assert_false(json_is_true(json_object_get(report, "applied")));
	assert_int_equal(count_of(report, "retired"), 8);
	assert_non_null(strstr(json_string_value(json_object_get(report, "message")),
			       "would retire 8 of 18 active people"));
	assert_non_null(strstr(json_string_value(json_object_get(report, "message")), "force=1"));
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = $1", "retired"), 2);
	/* The refusal is audited. */
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action = $1 AND outcome = 'failure'",
			     "hr.import"), 1);

	/* Without full_snapshot nobody is retired for being absent. */
	o.full_snapshot = false;
	assert_int_equal(import(f, half, &o, &report), 0);
	assert_int_equal(count_of(report, "retired"), 0);
	json_decref(report);

	/* force applies it. */
	o.full_snapshot = true;
	o.force = true;
	assert_int_equal(import(f, half, &o, &report), 0);
	assert_true(json_is_true(json_object_get(report, "applied")));
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = $1", "retired"), 10);
	assert_true(q64(f, "SELECT count(*) FROM audit_log WHERE action <> $1", "") > audits);
	free(all);
	free(most);
	free(half);
	fx_free(f);
}

static void test_import_dry_run(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 10, .source = "csv", .dry_run = true };
	json_t *report;

	assert_int_equal(import(f, base_csv, &o, &report), 0);
	assert_false(json_is_true(json_object_get(report, "applied")));
	assert_true(json_is_true(json_object_get(report, "dry_run")));
	assert_int_equal(count_of(report, "new"), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(report, "org_units"), "created")), 8);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE login <> $1", ""), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM org_units WHERE path <> $1", ""), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM audit_log WHERE action <> $1", ""), 0);
	fx_free(f);
}

static void test_import_bad_file_changes_nothing(void **state)
{
	struct fixture *f = fx_new();
	char *csv = edit(base_csv, "Driver,active", "Driver,asleep");
	json_t *report, *err;

	assert_int_equal(import(f, csv, NULL, &report), ERR_INVALID);
	assert_non_null(report);
	assert_false(json_is_true(json_object_get(report, "applied")));
	assert_int_equal(count_of(report, "errors"), 1);
	err = json_array_get(json_object_get(report, "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(err, "line")), 5);
	assert_non_null(strstr(json_string_value(json_object_get(report, "message")),
			       "1 line has errors; nothing was changed"));
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE login <> $1", ""), 0);
	assert_int_equal(q64(f, "SELECT count(*) FROM org_units WHERE path <> $1", ""), 0);
	free(csv);

	/* A fatal file: a report, ERR_INVALID, nothing written. */
	assert_int_equal(import(f, "name,age\nx,1\n", NULL, &report), ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_object_get(report, "fatal")), "unknown column"));
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE login <> $1", ""), 0);
	fx_free(f);
}

static void test_import_skip_bad_lines(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 10, .source = "csv", .skip_bad_lines = true };
	/* K002 is bad, so K003 (managed by K002, not stored) is bad too; P001 then as well. */
	char *csv = edit(base_csv, "CISO,active", "CISO,zzz");
	json_t *report;

	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_true(json_is_true(json_object_get(report, "applied")));
	assert_int_equal(count_of(report, "new"), 2);
	assert_int_equal(count_of(report, "errors"), 3);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(
		json_object_get(report, "errors"), 1), "reason")), "line 3, which has errors"));
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE source = $1", "csv"), 2);
	free(csv);

	/* Once K002 is stored, a bad K002 line no longer drags K003 along. */
	assert_int_equal(import(f, base_csv, &o, &report), 0);
	json_decref(report);
	csv = edit(base_csv, "CISO,active", "CISO,zzz");
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "errors"), 1);
	assert_int_equal(count_of(report, "unchanged"), 4);
	json_decref(report);
	free(csv);
	fx_free(f);
}

static void test_import_managers(void **state)
{
	struct fixture *f = fx_new();
	json_t *report;
	const char *reason;

	/* Unknown manager. */
	assert_int_equal(import(f, HDR "E1,Abe,Ann,,G/C,,active,employee,E9\n", NULL, &report), ERR_INVALID);
	reason = json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0), "reason"));
	assert_non_null(strstr(reason, "manager E9 is not a known employee number"));
	json_decref(report);

	/* A manager already stored need not be in the file. */
	assert_int_equal(import(f, HDR "E1,Abe,Ann,,G/C,,active,employee,\n"
				       "E2,Bo,Ben,,G/C,,active,employee,E1\n", NULL, &report), 0);
	json_decref(report);
	assert_int_equal(import(f, HDR "E3,Cho,Cy,,G/C,,active,employee,E2\n", NULL, &report), 0);
	assert_int_equal(count_of(report, "new"), 1);
	json_decref(report);

	/* A cycle through stored people: E1 -> E3 while E3 -> E2 -> E1 is stored. */
	assert_int_equal(import(f, HDR "E1,Abe,Ann,,G/C,,active,employee,E3\n", NULL, &report), ERR_INVALID);
	reason = json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0), "reason"));
	assert_non_null(strstr(reason, "cycle"));
	json_decref(report);

	/* Managers may be listed after their reports, and the change of manager is a change. */
	assert_int_equal(import(f, HDR "E4,Dee,Di,,G/C,,active,employee,E5\n"
				       "E5,Eto,Ed,,G/C,,active,employee,\n"
				       "E3,Cho,Cy,,G/C,,active,employee,E5\n", NULL, &report), 0);
	assert_int_equal(count_of(report, "new"), 2);
	assert_int_equal(count_of(report, "changed"), 1);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people p JOIN people m ON m.id = p.manager_id "
			       "WHERE m.employee_number = $1", "E5"), 2);
	fx_free(f);
}

static void test_import_org_kind_and_logins(void **state)
{
	struct fixture *f = fx_new();
	json_t *report;
	char *s;

	assert_int_equal(import(f, "employee_number,family_name,given_name,email,org_unit,title,status,kind,"
				   "manager,org_kind\n"
				   "E1,Abe,Ann,,G/Alpha,,active,employee,,group_company\n"
				   "E2,Bo,Ben,,G/Beta,,active,employee,,\n"
				   "E3,Cho,Cy,,G/Alpha/X,,active,employee,,own\n", NULL, &report), ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(
		json_object_get(report, "errors"), 0), "reason")), "conflicts"));
	json_decref(report);

	assert_int_equal(import(f, "employee_number,family_name,given_name,email,org_unit,title,status,kind,"
				   "manager,org_kind\n"
				   "E1,Abe,Ann,ann@example.com,G/Alpha,,active,employee,,group_company\n"
				   "E2,Bo,Ben,ANN@example.com,G/Beta,,active,employee,,\n"
				   "E3,Cho,Cy,,G/Gamma/X,,active,employee,,\n", NULL, &report), ERR_INVALID);
	/* Two rows may not end up with one login. */
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(
		json_object_get(report, "errors"), 0), "reason")), "login ann@example.com"));
	json_decref(report);

	assert_int_equal(import(f, "employee_number,family_name,given_name,email,org_unit,title,status,kind,"
				   "manager,org_kind\n"
				   "E1,Abe,Ann,ann@example.com,G/Alpha,,active,employee,,group_company\n"
				   "E2,Bo,Ben,,G/Beta,,active,employee,,\n"
				   "E3,Cho,Cy,,G/Gamma/X,,active,employee,,\n", NULL, &report), 0);
	json_decref(report);
	/* Alpha as asked; Beta is the first other new company, so "own"; Gamma then a group company. */
	s = qtext(f, "SELECT kind FROM org_units WHERE path = $1", "G/Alpha");
	assert_string_equal(s, "group_company");
	free(s);
	s = qtext(f, "SELECT kind FROM org_units WHERE path = $1", "G/Beta");
	assert_string_equal(s, "own");
	free(s);
	s = qtext(f, "SELECT kind FROM org_units WHERE path = $1", "G/Gamma/X");
	assert_string_equal(s, "group_company");
	free(s);

	/* org_kind re-kinds an existing company and its subtree. */
	assert_int_equal(import(f, "employee_number,family_name,given_name,email,org_unit,title,status,kind,"
				   "manager,org_kind\n"
				   "E3,Cho,Cy,,G/Gamma/X,,active,employee,,business_partner\n", NULL, &report), 0);
	json_decref(report);
	s = qtext(f, "SELECT kind FROM org_units WHERE path = $1", "G/Gamma/X");
	assert_string_equal(s, "business_partner");
	free(s);

	/* A derived login follows the email; one set by hand stays. */
	assert_int_equal(import(f, HDR "E1,Abe,Ann,Ann.Abe@example.com,G/Alpha,,active,employee,\n", NULL, &report), 0);
	json_decref(report);
	s = qtext(f, "SELECT login FROM people WHERE employee_number = $1", "E1");
	assert_string_equal(s, "ann.abe@example.com");
	free(s);
	assert_int_equal(store_exec(f->c, "UPDATE people SET login = 'ann' WHERE employee_number = 'E1'", STORE_NOARGS), 1);
	assert_int_equal(import(f, HDR "E1,Abe,Ann,ann@example.org,G/Alpha,,active,employee,\n", NULL, &report), 0);
	json_decref(report);
	s = qtext(f, "SELECT login FROM people WHERE employee_number = $1", "E1");
	assert_string_equal(s, "ann");
	free(s);
	fx_free(f);
}

static void test_import_keeps_an_admin(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 100, .source = "csv", .full_snapshot = true, .force = true };
	char *csv, *id;
	json_t *report;

	assert_int_equal(import(f, base_csv, NULL, &report), 0);
	json_decref(report);
	id = qtext(f, "SELECT id FROM people WHERE employee_number = $1", "K004");
	assert_int_equal(store_exec(f->c, "INSERT INTO person_roles (person_id, role, granted_at) VALUES ($1, 'admin', 0)",
				    STORE_ARGS(SA_TEXT(id))), 1);
	/* The only administrator missing from a forced full snapshot: refused. */
	csv = edit(base_csv, "K004,Baker,Tom,,Kestrel Group/Kestrel Logistics/Operations,Driver,active,employee,K001\n", "");
	assert_int_equal(import(f, csv, &o, &report), ERR_CONFLICT);
	assert_non_null(strstr(json_string_value(json_object_get(report, "message")), "no active administrator"));
	json_decref(report);
	free(csv);
	/* Nor may a line put them on leave. */
	csv = edit(base_csv, "Driver,active", "Driver,on_leave");
	assert_int_equal(import(f, csv, NULL, &report), ERR_CONFLICT);
	json_decref(report);
	free(csv);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE id = $1 AND status = 'active'", id), 1);
	/* With another active administrator it goes through. */
	assert_int_equal(store_exec(f->c, "INSERT INTO person_roles (person_id, role, granted_at) SELECT id, 'admin', 0 "
					  "FROM people WHERE employee_number = 'K001'", STORE_NOARGS), 1);
	csv = edit(base_csv, "Driver,active", "Driver,on_leave");
	assert_int_equal(import(f, csv, NULL, &report), 0);
	json_decref(report);
	free(csv);
	free(id);
	fx_free(f);
}

/* A principal for hr_options.actor: person @id with @roles, signed in by cookie. */
static struct principal actor_of(const char *id, unsigned roles)
{
	struct principal p = { .via = VIA_COOKIE, .roles = roles | ROLE_EMPLOYEE };

	snprintf(p.person_id, sizeof(p.person_id), "%s", id);
	snprintf(p.login, sizeof(p.login), "actor");
	return p;
}

static void grant(struct fixture *f, const char *number, const char *role)
{
	assert_int_equal(store_exec(f->c, "INSERT INTO person_roles (person_id, role, granted_at) "
					  "SELECT id, $2, 0 FROM people WHERE employee_number = $1",
				    STORE_ARGS(SA_TEXT(number), SA_TEXT(role))), 1);
}

static int64_t denials_for(struct fixture *f, const char *number)
{
	return q64(f, "SELECT count(*) FROM audit_log WHERE action = 'authz.denied' AND outcome = 'denied' AND "
		      "object_id = (SELECT id FROM people WHERE employee_number = $1)", number);
}

/*
 * Admins are managed only by admins: a security officer's import may not
 * retire, move, put on leave or re-login a person holding admin, nor do
 * so to themselves; it may to another security officer.  The line is bad:
 * the whole file is refused unless skip_bad_lines, and each refusal is
 * audited.
 */
static void test_import_guards_admins(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 100, .source = "csv" };
	struct principal so, admin;
	char *csv, *tmp, *so_id, *s;
	const char *why;
	json_t *report;

	assert_int_equal(import(f, base_csv, NULL, &report), 0);
	json_decref(report);
	grant(f, "K001", "admin");
	grant(f, "K002", "security_officer");
	grant(f, "K003", "security_officer");
	so_id = qtext(f, "SELECT id FROM people WHERE employee_number = $1", "K002");
	so = actor_of(so_id, ROLE_SECURITY_OFFICER);
	admin = actor_of("01ADMIN0000000000000000000", ROLE_ADMIN);
	o.actor = &so;

	/* K001 (admin) retires; K004 gets a new title: the file is refused whole. */
	tmp = edit(base_csv, "CEO,active", "CEO,retired");
	csv = edit(tmp, "Driver,active", "Driver,retired");
	free(tmp);
	assert_int_equal(import(f, csv, &o, &report), ERR_INVALID);
	why = json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0), "reason"));
	assert_non_null(strstr(why, "K001 holds admin: only an admin may retire them"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
							    "line")), 2);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = 'active' AND employee_number = $1",
			     "K004"), 1);
	assert_int_equal(denials_for(f, "K001"), 1);
	/* A dry run shows the same refusal and records nothing. */
	o.dry_run = true;
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "errors"), 1);
	assert_int_equal(count_of(report, "retired"), 1);
	json_decref(report);
	assert_int_equal(denials_for(f, "K001"), 1);
	o.dry_run = false;
	/* With skip_bad_lines the rest applies; K001 stays. */
	o.skip_bad_lines = true;
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "retired"), 1);
	json_decref(report);
	free(csv);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = 'retired' AND employee_number = $1",
			     "K004"), 1);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = 'active' AND employee_number = $1",
			     "K001"), 1);
	assert_int_equal(denials_for(f, "K001"), 2);
	s = qtext(f, "SELECT details FROM audit_log WHERE action = 'authz.denied' ORDER BY id DESC LIMIT 1", "");
	assert_non_null(strstr(s, "\"line\":2"));
	assert_non_null(strstr(s, "\"status\""));
	free(s);

	/* Moving K001, or a new email that changes the login, is refused; a new title is not. */
	csv = edit(base_csv, "Kestrel Group/Kestrel Holdings,CEO", "Kestrel Group/Kestrel Holdings/Board,CEO");
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
								 "reason")), "may move them"));
	json_decref(report);
	free(csv);
	csv = edit(base_csv, "Kate.Kestrel@Example.com", "kate@kestrel.example");
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "errors"), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
								 "reason")), "change the login of"));
	json_decref(report);
	free(csv);
	csv = edit(base_csv, ",CEO,", ",Chair,");
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "errors"), 0);
	assert_int_equal(count_of(report, "changed"), 1);
	json_decref(report);
	free(csv);
	s = qtext(f, "SELECT o.path || ' ' || p.login FROM people p JOIN org_units o ON o.id = p.org_unit_id "
		     "WHERE p.employee_number = $1", "K001");
	assert_string_equal(s, "Kestrel Group/Kestrel Holdings kate.kestrel@example.com");
	free(s);

	/* Another security officer (K003) may be moved; the actor (K002) may not move themselves. */
	tmp = edit(base_csv, "Security Operations,Analyst", "Threat Intelligence,Analyst");
	csv = edit(tmp, "Information Security,CISO", "Information Security/Office,CISO");
	free(tmp);
	tmp = edit(csv, ",CEO,", ",Chair,");
	free(csv);
	csv = tmp;
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "moved"), 1);
	assert_int_equal(count_of(report, "errors"), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
								 "reason")), "would move you"));
	json_decref(report);
	assert_int_equal(denials_for(f, "K002"), 1);
	/* An admin may make every one of these changes. */
	o.actor = &admin;
	o.skip_bad_lines = false;
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "moved"), 1);
	json_decref(report);
	free(csv);

	/* A full snapshot without K001: the retirement is refused on line 0, the others go. */
	assert_int_equal(import(f, base_csv, &o, &report), 0);   /* by the admin: back as before */
	json_decref(report);
	o.actor = &so;
	o.full_snapshot = o.force = o.skip_bad_lines = true;
	csv = edit(base_csv, "K001,Kestrel,Kate,Kate.Kestrel@Example.com,Kestrel Group/Kestrel Holdings,CEO,active,"
			     "employee,\n", "");
	tmp = edit(csv, "Driver,active,employee,K001", "Driver,active,employee,");
	free(csv);
	csv = edit(tmp, "CISO,active,employee,K001", "CISO,active,employee,");
	free(tmp);
	/* P001 is missing too: retired. */
	tmp = edit(csv, "P001,Ng,Lia,lia.ng@partner.example,Kestrel Group/Acme Partners/Support,Contractor,active,"
			"partner_staff,K003\n", "");
	free(csv);
	csv = tmp;
	assert_int_equal(import(f, csv, &o, &report), 0);
	assert_int_equal(count_of(report, "retired"), 1);
	assert_int_equal(count_of(report, "errors"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
							    "line")), 0);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(report, "errors"), 0),
								 "reason")), "K001 is missing from this full snapshot"));
	json_decref(report);
	free(csv);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = 'active' AND employee_number = $1",
			     "K001"), 1);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE status = 'retired' AND employee_number = $1",
			     "P001"), 1);
	assert_int_equal(denials_for(f, "K001"), 5);   /* retire twice, move, login, snapshot */
	free(so_id);
	fx_free(f);
}

static void test_import_100k(void **state)
{
	struct fixture *f = fx_new();
	struct hr_options o = { .retire_threshold_pct = 10, .source = "csv", .full_snapshot = true };
	struct buf b;
	json_t *report;
	int64_t t0, t1, t2;
	char *csv;

	buf_init(&b, 0);
	buf_puts(&b, HDR);
	for (int i = 0; i < 100000; i++) {
		/* A tree: everyone reports to someone listed earlier, except the root. */
		char mgr[16] = "";

		if (i)
			snprintf(mgr, sizeof(mgr), "N%06d", (i - 1) / 8);
		buf_printf(&b, "N%06d,Family%d,Given%d,n%d@example.com,Big/Co%d/Div%d/Dep%d,Staff,active,%s,%s\n",
			   i, i, i, i, i % 4, i % 40, i % 400, i % 97 ? "employee" : "partner_staff", mgr);
	}
	csv = buf_steal(&b);
	t0 = rtime_mono_ns();
	assert_int_equal(import(f, csv, &o, &report), 0);
	t1 = rtime_mono_ns();
	assert_int_equal(count_of(report, "new"), 100000);
	json_decref(report);
	assert_int_equal(q64(f, "SELECT count(*) FROM people WHERE manager_id IS NOT NULL AND source = $1", "csv"),
			 99999);
	/* Again: all unchanged. */
	assert_int_equal(import(f, csv, &o, &report), 0);
	t2 = rtime_mono_ns();
	assert_int_equal(count_of(report, "unchanged"), 100000);
	json_decref(report);
	print_message("100000 rows: first import %.2f s, unchanged re-import %.2f s\n",
		      (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9);
	free(csv);
	fx_free(f);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/rampart-hr-XXXXXX");
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
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_bom_crlf_order),
		cmocka_unit_test(test_parse_quoting),
		cmocka_unit_test(test_parse_bad_lines),
		cmocka_unit_test(test_parse_more_validations),
		cmocka_unit_test(test_parse_control_and_utf8),
		cmocka_unit_test(test_parse_org_paths),
		cmocka_unit_test(test_parse_fatal),
		cmocka_unit_test(test_parse_unclosed_quote),
		cmocka_unit_test(test_parse_no_trailing_newline),
		cmocka_unit_test(test_import_join),
		cmocka_unit_test(test_import_move_change_retire),
		cmocka_unit_test(test_import_snapshot_threshold),
		cmocka_unit_test(test_import_dry_run),
		cmocka_unit_test(test_import_bad_file_changes_nothing),
		cmocka_unit_test(test_import_skip_bad_lines),
		cmocka_unit_test(test_import_managers),
		cmocka_unit_test(test_import_org_kind_and_logins),
		cmocka_unit_test(test_import_keeps_an_admin),
		cmocka_unit_test(test_import_guards_admins),
		cmocka_unit_test(test_import_100k),
	};
	return cmocka_run_group_tests_name("hr", tests, setup, teardown);
}
