/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_eve: libFuzzer target for eve_parse, the parser of Suricata EVE
 * JSON posted to POST /api/v1/endpoint/alerts.  Invariants checked: no
 * crash or leak; a refusal always carries a message; an accepted batch
 * stays within the limits, and each alert's addresses are canonical (they
 * parse again to themselves), its severity and signature id in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint/eve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rerr e = { "", "", 0 };
	struct eve_batch b;
	char again[EVE_ADDR_SIZE];
	int fam;
	size_t i;

	if (eve_parse((const char *)data, size, &b, &e) < 0) {
		if (e.message[0] == '\0')
			abort();
		return 0;
	}
	if (b.events > EVE_MAX_LINES || b.n_alerts + b.ignored != b.events)
		abort();
	for (i = 0; i < b.n_alerts; i++) {
		const struct eve_alert *a = &b.alerts[i];

		if (eve_addr_canon(a->src_ip, again, &fam) < 0 || strcmp(again, a->src_ip) != 0 ||
		    fam != a->src_family)
			abort();
		if (eve_addr_canon(a->dest_ip, again, &fam) < 0 || strcmp(again, a->dest_ip) != 0)
			abort();
		if (a->severity < 1 || a->severity > 255 || a->signature_id < 0 || a->signature[0] == '\0' ||
		    strlen(a->signature) > EVE_MAX_SIGNATURE || a->ts_ms < 0)
			abort();
	}
	eve_batch_done(&b);
	return 0;
}
