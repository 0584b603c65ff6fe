/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_policy: libFuzzer target for policy_parse, the parser of endpoint
 * policies set through PUT /api/v1/endpoint/policies/{id}.  Invariants
 * checked: no crash or leak, a refusal always carries a message, and an
 * accepted policy merges into an effective one whose interval is in bounds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "formats/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rerr e = { "" };
	json_t *p = NULL, *eff = NULL;
	const json_t *chain[1];
	int64_t ms;

	if (policy_parse((const char *)data, size, &p, &e) < 0) {
		if (e.message[0] == '\0')
			abort();
		return 0;
	}
	chain[0] = p;
	if (policy_merge(chain, 1, &eff) == 0) {
		if (policy_interval_ms(eff, &ms) < 0 || ms < POLICY_MIN_INTERVAL_MS || ms > POLICY_MAX_INTERVAL_MS)
			abort();
		json_decref(eff);
	}
	json_decref(p);
	return 0;
}
