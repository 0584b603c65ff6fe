/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_agent_events: libFuzzer target for what rampart-agent's collectors
 * turn into events: collect_wtmp_parse (utmpx records from /var/log/wtmp)
 * and collect_str (strings from /proc, wtmp and USB device descriptors,
 * which a device's firmware chooses).  Invariants checked: no crash, no
 * leak, no read past @size (the input is copied into an exact-size heap
 * buffer); every event has a kind and a user; every string is valid UTF-8
 * without control characters and within its limit; the partial record
 * left over is shorter than one record.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utmpx.h>

#include "agent/collect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (!s || len > max)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	json_t *ttys = json_object(), *out = json_array(), *ev, *v;
	size_t rest = 0, i;
	const char *key;

	if (!copy || !ttys || !out)
		abort();
	memcpy(copy, data, size);
	if (collect_wtmp_parse(copy, size, ttys, out, &rest) == 0) {
		if (rest >= sizeof(struct utmpx))
			abort();
		json_array_foreach(out, i, ev) {
			if (!json_string_value(json_object_get(ev, "kind")))
				abort();
			check_str(json_object_get(ev, "user"), COLLECT_MAX_STR);
			json_object_foreach(ev, key, v)
				if (json_is_string(v))
					check_str(v, COLLECT_MAX_STR);
		}
	}
	v = collect_str(copy, size, 64, "?");
	check_str(v, 64);
	json_decref(v);
	json_decref(ttys);
	json_decref(out);
	free(copy);
	return 0;
}
