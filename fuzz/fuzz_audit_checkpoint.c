/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_audit_checkpoint: libFuzzer target for the audit checkpoint parsers
 * (src/formats/auditckpt.c): audit_checkpoint_parse, which reads a
 * checkpoint file that `rampart audit verify --checkpoint` takes from
 * anywhere, and audit_checkpoint_parse_document, the signed text inside
 * it.  Both run over every input.  Invariants checked: no crash; a refusal
 * writes nothing; an accepted checkpoint keeps the invariants of
 * auditckpt.h (seq >= 1, a 64-digit lowercase hash, a valid server id,
 * a document of at most AUDIT_CKPT_DOC_MAX bytes that parses back to the
 * same fields); and its carrying object, written by audit_checkpoint_json,
 * parses back to the same checkpoint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/auditckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(const struct audit_checkpoint *cp)
{
	struct audit_checkpoint again = *cp;

	if (cp->seq < 1 || !audit_hash_is_valid(cp->hash) || cp->server_id[0] == '\0' ||
	    strlen(cp->document) > AUDIT_CKPT_DOC_MAX)
		abort();
	if (audit_checkpoint_parse_document(cp->document, strlen(cp->document), &again, NULL) != 0 ||
	    again.seq != cp->seq || strcmp(again.hash, cp->hash) != 0 || again.time_ms != cp->time_ms ||
	    strcmp(again.server_id, cp->server_id) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_checkpoint cp, back, untouched;
	struct rerr e;
	json_t *o;
	char *text;

	memset(&cp, 0x5a, sizeof(cp));
	untouched = cp;
	if (audit_checkpoint_parse((const char *)data, size, &cp, &e) != 0) {
		if (memcmp(&cp, &untouched, sizeof(cp)) != 0)
			abort();
	} else {
		fuzz_check(&cp);
		o = audit_checkpoint_json(&cp);
		text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!text)
			abort();
		if (audit_checkpoint_parse(text, strlen(text), &back, NULL) != 0 || back.seq != cp.seq ||
		    strcmp(back.document, cp.document) != 0 ||
		    memcmp(back.signature, cp.signature, sizeof(cp.signature)) != 0 ||
		    memcmp(back.public_key, cp.public_key, sizeof(cp.public_key)) != 0 || back.id != cp.id)
			abort();
		free(text);
	}

	memset(&cp, 0, sizeof(cp));
	untouched = cp;
	if (audit_checkpoint_parse_document((const char *)data, size, &cp, &e) != 0) {
		if (memcmp(&cp, &untouched, sizeof(cp)) != 0)
			abort();
	} else {
		fuzz_check(&cp);
	}
	return 0;
}
