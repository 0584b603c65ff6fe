/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_oplog: libFuzzer target for oplog_batch_parse, the parser of the
 * operation-log batches rampart-agent posts to POST /api/v1/endpoint/events.
 * Invariants checked: no crash or leak; a refusal always carries a message;
 * an accepted batch has at most OPLOG_MAX_EVENTS events, seqs strictly
 * increasing from 1 up, known kinds, times in range, and data objects that
 * hold none of seq, ts, kind or user.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "endpoint/oplog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rerr e = { "", "" };
	struct oplog_batch b;
	json_t *root = NULL;
	int64_t prev = 0;
	int r;

	r = oplog_batch_parse((const char *)data, size, &root, &b, &e);
	if (r < 0) {
		if (r != -ENOMEM && e.message[0] == '\0')
			abort();
		if (b.n != 0 || b.events)
			abort();
		return 0;
	}
	if (b.n > OPLOG_MAX_EVENTS)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		const struct oplog_event *ev = &b.events[i];

		if (ev->seq <= prev || ev->seq > OPLOG_MAX_SEQ || ev->ts < 0 || ev->ts > OPLOG_MAX_TS ||
		    !oplog_kind_is_known(ev->kind) || !json_is_object(ev->data) ||
		    json_object_get(ev->data, "seq") || json_object_get(ev->data, "ts") ||
		    json_object_get(ev->data, "kind") || json_object_get(ev->data, "user"))
			abort();
		prev = ev->seq;
	}
	oplog_batch_done(&b);
	json_decref(root);
	return 0;
}
