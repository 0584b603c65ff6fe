/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for scim_filter_parse: what is accepted, and a clear reason
 * for everything else; and for the PatchOp readers the Users and Groups
 * handlers share (scim_patch_ops, scim_op_read in scim_internal.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "identity/scim_filter.h"
#include "identity/scim_internal.h"

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
		/* Microsoft Entra ID's matching filter. */
		{ "emails[type eq \"work\"].value eq \"ann@contoso.example\"", "emails.value", "ann@contoso.example" },
		{ "Emails[Type EQ \"Work\"].Value eq \"a@b.example\"", "emails.value", "a@b.example" },
		{ "emails[ type  eq  \"work\" ].value  eq \"x@y.example\"", "emails.value", "x@y.example" },
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
		{ "emails[type eq \"home\"].value eq \"x\"", "type \"work\"" },
		{ "emails[type eq \"work\"] eq \"x\"", "'.value'" },
		{ "emails[type eq \"work\"].display eq \"x\"", "'.value'" },
		{ "emails[type eq \"work\".value eq \"x\"", "']'" },
		{ "emails[type eq work].value eq \"x\"", "double quotes" },
		{ "emails[type eq \"wo\\\"rk\"].value eq \"x\"", "plain quoted" },
		{ "emails[type eq \"work", "plain quoted" },
		{ "emails[primary eq true].value eq \"x\"", "[type eq \"work\"]" },
		{ "emails[typeeq \"work\"].value eq \"x\"", "[type eq \"work\"]" },
		{ "emails[type eq \"work\"].value co \"x\"", "operator 'co'" },
		{ "emails[type eq \"work\"].value", "operator" },
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

/* scim_patch_ops on the body @json: its return, and the scimType and detail of a refusal. */
static int patch_ops(const char *json, const char *type, const char *detail)
{
	json_t *body = json_loads(json, 0, NULL);
	const json_t *ops = NULL;
	struct scim_err e = { 0 };
	int r;

	assert_non_null(body);
	r = scim_patch_ops(body, &ops, &e);
	if (r == 0) {
		assert_ptr_equal(ops, json_object_get(body, "Operations"));
	} else {
		assert_string_equal(e.type, type);
		assert_string_equal(e.r.message, detail);
		assert_int_equal(e.err, r);
	}
	json_decref(body);
	return r;
}

static void test_patch_ops(void **state)
{
	char many[16 + 16 * (SCIM_MAX_OPS + 1)];
	size_t n = 0;

	assert_int_equal(patch_ops("{\"Operations\": [{\"op\": \"add\"}]}", NULL, NULL), 0);
	assert_int_equal(patch_ops("{}", "invalidSyntax", "Operations must be a non-empty array"), ERR_INVALID);
	assert_int_equal(patch_ops("{\"Operations\": []}", "invalidSyntax", "Operations must be a non-empty array"),
			 ERR_INVALID);
	assert_int_equal(patch_ops("{\"Operations\": {}}", "invalidSyntax", "Operations must be a non-empty array"),
			 ERR_INVALID);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "{\"Operations\":[");
	for (int i = 0; i <= SCIM_MAX_OPS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{}", i ? "," : "");
	snprintf(many + n, sizeof(many) - n, "]}");
	assert_int_equal(patch_ops(many, "invalidSyntax", "at most 100 operations per request"), ERR_INVALID);
}

static void test_op_read(void **state)
{
	static const struct {
		const char *op;
		int want;
		const char *type, *path;   /* the refusal's scimType, else the path read */
		bool add, remove, value;
	} cases[] = {
		{ "{\"op\": \"add\", \"value\": {}}", 0, NULL, NULL, true, false, true },
		{ "{\"op\": \"Replace\", \"path\": \"title\", \"value\": \"x\"}", 0, NULL, "title", false, false, true },
		{ "{\"op\": \"REMOVE\", \"path\": \"members\"}", 0, NULL, "members", false, true, false },
		{ "{\"op\": \"move\"}", ERR_INVALID, "invalidSyntax", NULL, false, false, false },
		{ "{\"path\": \"title\"}", ERR_INVALID, "invalidSyntax", NULL, false, false, false },
		{ "{\"op\": \"add\", \"path\": 1}", ERR_INVALID, "invalidPath", NULL, false, false, false },
		{ "{\"op\": \"add\", \"path\": null}", ERR_INVALID, "invalidPath", NULL, false, false, false },
		{ "{\"op\": \"remove\"}", ERR_INVALID, "noTarget", NULL, false, false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].op, 0, NULL);
		struct scim_err e = { 0 };
		struct scim_op op;
		int r;

		assert_non_null(j);
		r = scim_op_read(j, &op, &e);
		if (r != cases[i].want)
			fail_msg("case %zu (%s): %d, not %d", i, cases[i].op, r, cases[i].want);
		if (r < 0) {
			assert_string_equal(e.type, cases[i].type);
		} else {
			if (cases[i].path)
				assert_string_equal(op.path, cases[i].path);
			else
				assert_null(op.path);
			assert_int_equal(op.add, cases[i].add);
			assert_int_equal(op.remove, cases[i].remove);
			assert_int_equal(op.value != NULL, cases[i].value);
		}
		json_decref(j);
	}
}

/* The body readers the fuzz target drives: provider shapes pass, nonsense is refused with a reason. */
static void test_body_check(void **state)
{
	static const struct {
		int kind;
		const char *body;
		int want;
	} cases[] = {
		{ SCIM_BODY_POST, "{\"userName\":\"a@b.example\",\"active\":\"True\",\"urn:ietf:params:scim:schemas:"
		  "extension:enterprise:2.0:User\":{\"department\":\"Sales\"}}", 0 },
		{ SCIM_BODY_POST, "{\"userName\":\"a@b.example\",\"active\":\"yes\"}", ERR_INVALID },
		{ SCIM_BODY_POST, "{\"active\":true}", ERR_INVALID },
		{ SCIM_BODY_PUT, "{\"userName\":\"a\",\"id\":\"x\",\"meta\":{},\"groups\":[],\"active\":\"false\"}", 0 },
		{ SCIM_BODY_PATCH, "{\"Operations\":[{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"},"
		  "{\"op\":\"Add\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"n@b.example\"}]}", 0 },
		{ SCIM_BODY_PATCH, "{\"Operations\":[{\"op\":\"Replace\",\"path\":\"nickname2\",\"value\":\"x\"}]}",
		  ERR_INVALID },
		{ SCIM_BODY_PUT, "[]", ERR_INVALID },
		{ SCIM_BODY_POST, "{\"userName\":\"a\",\"externalId\":\"1\",\"urn:ietf:params:scim:schemas:"
		  "extension:enterprise:2.0:User\":{\"employeeNumber\":\"2\"}}", ERR_INVALID },
		{ -1, "{\"displayName\":\"Sales\",\"members\":[]}", 0 },
		{ -1, "{\"displayName\":\"Sales\",\"members\":[{\"value\":\"nope\"}]}", ERR_INVALID },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].body, 0, NULL);
		struct scim_err e = { 0 };
		int r;

		assert_non_null(j);
		r = cases[i].kind < 0 ? scim_group_body_check(j, &e) : scim_user_body_check(j, cases[i].kind, &e);
		if (r != cases[i].want)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].want, e.r.message);
		if (r < 0)
			assert_true(e.r.message[0] != '\0');
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_null_and_small_buffers),
		cmocka_unit_test(test_patch_ops),
		cmocka_unit_test(test_op_read),
		cmocka_unit_test(test_body_check),
	};
	return cmocka_run_group_tests_name("scim", tests, NULL, NULL);
}
