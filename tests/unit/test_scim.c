/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for scim_filter_parse: what is accepted, and a clear reason for everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "identity/scim_filter.h"

static void test_valid(void **state)
{
	static const struct {
		const char *in, *attr, *value;
	} cases[] = {
		{ "userName eq \"bjensen\"", "userName", "bjensen" },
		{ "USERNAME EQ \"bjensen\"", "userName", "bjensen" },
		{ "  userName   eq   \"b j\"  ", "userName", "b j" },
		{ "username Eq \"\"", "userName", "" },
		{ "externalId eq \"KH0001\"", "externalId", "KH0001" },
		{ "displayName eq \"Hanako Sato\"", "displayName", "Hanako Sato" },
		{ "emails.value eq \"a@example.com\"", "emails.value", "a@example.com" },
		{ "EMAILS.VALUE eq \"a@example.com\"", "emails.value", "a@example.com" },
		{ "userName eq \"say \\\"hi\\\"\"", "userName", "say \"hi\"" },
		{ "userName eq \"back\\\\slash\"", "userName", "back\\slash" },
		{ "userName eq \"\xe4\xbd\x90\xe8\x97\xa4\"", "userName", "\xe4\xbd\x90\xe8\x97\xa4" },
		{ "userName\teq\t\"tab\"", "userName", "tab" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scim_filter f;
		char err[160] = "x";

		if (scim_filter_parse(cases[i].in, &f, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", cases[i].in, err);
		assert_string_equal(f.attr, cases[i].attr);
		assert_string_equal(f.value, cases[i].value);
	}
}

static void test_invalid(void **state)
{
	static char too_long[400];
	static const struct {
		const char *in, *reason;
	} cases[] = {
		{ "", "empty" },
		{ "   ", "attribute name" },
		{ "title eq \"CEO\"", "'title' is not supported" },
		{ "emails[type eq \"work\"].value eq \"x\"", "not supported" },
		{ "userName co \"jen\"", "operator 'co' is not supported" },
		{ "userName sw \"j\"", "operator 'sw' is not supported" },
		{ "userName pr", "operator 'pr' is not supported" },
		{ "userName gt \"a\"", "operator 'gt' is not supported" },
		{ "userName equals \"a\"", "not an operator" },
		{ "userName", "operator" },
		{ "userName eq", "double quotes" },
		{ "userName eq bjensen", "double quotes" },
		{ "userName eq true", "double quotes" },
		{ "userName eq \"open", "not closed" },
		{ "userName eq \"a\\nb\"", "may be escaped" },
		{ "userName eq \"a\" and externalId eq \"b\"", "no 'and' or 'or'" },
		{ "userName eq \"a\" or userName eq \"b\"", "no 'and' or 'or'" },
		{ "userName eq \"a\" extra", "unexpected text" },
		{ "(userName eq \"a\")", "grouping" },
		{ "not (userName eq \"a\")", "grouping" },
		{ "userName eq \"a\x01\"", "control character" },
		{ "userName eq \"\xff\xfe\"", "UTF-8" },
		{ "userName\"eq\"x\"", "operator" },
		{ too_long, "longer than" },
	};

	memset(too_long, 'a', sizeof(too_long) - 1);
	memcpy(too_long, "userName eq \"", 13);
	too_long[sizeof(too_long) - 2] = '"';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scim_filter f = { "untouched", "untouched" };
		char err[160] = "";

		if (scim_filter_parse(cases[i].in, &f, err, sizeof(err)) != ERR_INVALID)
			fail_msg("'%s' accepted", cases[i].in);
		if (!strstr(err, cases[i].reason))
			fail_msg("'%s': reason '%s' lacks '%s'", cases[i].in, err, cases[i].reason);
		/* Outputs only on success. */
		assert_string_equal(f.attr, "untouched");
	}
}

static void test_null_and_small_buffers(void **state)
{
	struct scim_filter f;
	char err[8];

	assert_int_equal(scim_filter_parse(NULL, &f, err, sizeof(err)), ERR_INVALID);
	assert_true(strlen(err) < sizeof(err));
	/* The reason is optional. */
	assert_int_equal(scim_filter_parse("nope", &f, NULL, 0), ERR_INVALID);
	assert_int_equal(scim_filter_parse("userName eq \"ok\"", &f, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_null_and_small_buffers),
	};
	return cmocka_run_group_tests_name("scim", tests, NULL, NULL);
}
