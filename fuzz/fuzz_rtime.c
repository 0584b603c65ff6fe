/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_rtime: libFuzzer target for rtime_parse_flags, the one parser of
 * RFC 3339 times (API filters, the CLI, Suricata EVE timestamps).  The
 * first byte of an input picks the flags (its low four bits), the rest is
 * the text.  Invariants checked: no crash; a refusal writes nothing; an
 * accepted time lies between 0000-01-01 and 9999-12-31 give or take a day
 * of offset, and is not before the epoch with RTIME_EPOCH; widening flags
 * (RTIME_DATE, RTIME_SPACE, RTIME_OFFSET_BASIC) never refuse or change
 * what already parses; and a time within years 0000 to 9999, formatted by
 * rtime_format, parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rtime.h"

#define FUZZ_MAX_TEXT 128
#define FUZZ_DAY_MS ((int64_t)86400 * 1000)
#define FUZZ_MIN_MS ((int64_t)-62167219200000LL - FUZZ_DAY_MS)   /* 0000-01-01, less a day */
#define FUZZ_MAX_MS ((int64_t)253402300800000LL + FUZZ_DAY_MS)   /* 10000-01-01, plus a day */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned widen = RTIME_DATE | RTIME_SPACE | RTIME_OFFSET_BASIC;
	char text[FUZZ_MAX_TEXT + 1], back[40];
	int64_t ms = 42, again = 42, wide = 42;
	unsigned flags;
	int r;

	if (size == 0)
		return 0;
	flags = data[0] & 0x0f;
	size = size - 1 > FUZZ_MAX_TEXT ? FUZZ_MAX_TEXT : size - 1;
	memcpy(text, data + 1, size);
	text[size] = '\0';

	r = rtime_parse_flags(text, flags, &ms);
	if (r != 0) {
		if (ms != 42)
			abort();
		return 0;
	}
	if (ms < FUZZ_MIN_MS || ms > FUZZ_MAX_MS || ((flags & RTIME_EPOCH) && ms < 0))
		abort();
	if (rtime_parse_flags(text, flags | widen, &wide) != 0 || wide != ms)
		abort();
	if (ms >= FUZZ_MIN_MS + FUZZ_DAY_MS && ms < FUZZ_MAX_MS - FUZZ_DAY_MS) {
		rtime_format(back, sizeof(back), ms);
		if (rtime_parse_flags(back, 0, &again) != 0 || again != ms)
			abort();
	}
	return 0;
}
