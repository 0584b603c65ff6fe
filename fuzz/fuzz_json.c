/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_json: libFuzzer target for jsonx_parse_object, the parser every JSON
 * request body goes through, and the typed field readers handlers use on
 * its result.  Invariants checked: no crash, no leak, no read past @size
 * (the input is copied into an exact-size heap buffer so ASan sees overreads),
 * and a success always yields an object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "login", "password", "name", "scope", NULL };
	struct rerr e = { "", "" };
	json_t *obj = NULL;
	char *copy;

	/* No terminating NUL: the parser must respect @len. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	if (jsonx_parse_object(copy, size, JSONX_MAX_DEPTH, &obj, &e) == 0) {
		const char *s;
		int64_t i;
		bool b;

		if (!json_is_object(obj))
			abort();
		(void)jsonx_get_str(obj, "login", false, 128, &s, &e);
		(void)jsonx_get_str(obj, "password", true, 1024, &s, &e);
		(void)jsonx_get_int(obj, "limit", false, 1, 1000, &i, &e);
		(void)jsonx_get_bool(obj, "dry_run", false, &b, &e);
		(void)jsonx_only_keys(obj, keys, &e);
		json_decref(obj);
	} else if (e.message[0] == '\0') {
		/* Every refusal says why. */
		abort();
	}
	free(copy);
	return 0;
}
