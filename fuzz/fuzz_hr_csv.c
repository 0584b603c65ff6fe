/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_hr_csv: libFuzzer target for hr_parse_csv, the parser of the HR file
 * every import goes through.  Invariants checked: no crash, no leak, no read
 * past @size (the input is copied into an exact-size heap buffer), and the
 * result is consistent: line numbers grow and lie within the input, every
 * row's strings are set, the org path of a valid row has no empty segment,
 * and the error counts agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/hr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct hr_parse_result *res, size_t size)
{
	long last = 0, lines = 1;

	if (res->nerrors_kept > res->nerrors || res->nerrors_kept > HR_MAX_ERRORS_REPORTED)
		abort();
	if (res->fatal[0] && res->nrows > HR_MAX_ROWS)
		abort();
	/* A line count the parser cannot exceed: one more than the line breaks. */
	lines += (long)size;
	for (size_t i = 0; i < res->nrows; i++) {
		const struct hr_row *r = &res->rows[i];

		if (r->line <= last || r->line > lines)
			abort();
		last = r->line;
		if (!r->employee_number || !r->family_name || !r->given_name || !r->email || !r->org_unit ||
		    !r->title || !r->status || !r->kind || !r->manager || !r->org_kind)
			abort();
		if (r->valid) {
			size_t n = strlen(r->org_unit);

			if (!n || r->org_unit[0] == '/' || r->org_unit[n - 1] == '/' || strstr(r->org_unit, "//"))
				abort();
			if (strlen(r->employee_number) > HR_MAX_FIELD || !*r->status || !*r->kind)
				abort();
		}
	}
	for (size_t i = 0; i < res->nerrors_kept; i++)
		if (res->errors[i].line < 1 || res->errors[i].line > lines || !res->errors[i].reason[0])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hr_parse_result res;
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	if (hr_parse_csv(copy, size, &res) == 0) {
		check(&res, size);
		hr_parse_result_done(&res);
	}
	free(copy);
	return 0;
}
