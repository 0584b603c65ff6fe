/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_scim_filter: libFuzzer target for scim_filter_parse, which reads the
 * ?filter= of SCIM list requests.  Invariants checked: no crash, no read past
 * the string, a success names one of the four attributes and yields a
 * NUL-terminated value, a refusal always says why, and outputs are written
 * only on success.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/scim_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const attrs[] = { "userName", "externalId", "displayName", "emails.value" };
	struct scim_filter f;
	char err[160];
	char *s = malloc(size + 1);
	bool known = false;

	if (!s)
		return 0;
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	memset(&f, 0x5a, sizeof(f));
	if (scim_filter_parse(s, &f, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			known = known || strcmp(f.attr, attrs[i]) == 0;
		if (!known || !memchr(f.value, '\0', sizeof(f.value)))
			abort();
	} else {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		for (size_t i = 0; i < sizeof(f); i++)
			if (((unsigned char *)&f)[i] != 0x5a)
				abort();
	}
	free(s);
	return 0;
}
