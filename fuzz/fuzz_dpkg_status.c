/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_dpkg_status: libFuzzer target for posture_dpkg_parse (the agent's
 * dpkg status parser) and posture_os_release_parse.  Invariants checked: no
 * crash, no leak, no read past @size (the input is copied into an
 * exact-size heap buffer), and on success every package has non-empty name
 * and version strings within POSTURE_MAX_FIELD and the count stays within
 * POSTURE_MAX_PACKAGES; on failure a message is given.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/posture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) > POSTURE_MAX_FIELD)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rerr e = { "" };
	char *copy = malloc(size ? size : 1);
	json_t *items = NULL, *os = NULL, *it;
	size_t i;
	int r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = posture_dpkg_parse(copy, size, &items, &e);
	if (r == 0) {
		if (json_array_size(items) > POSTURE_MAX_PACKAGES)
			abort();
		json_array_foreach(items, i, it) {
			check_field(it, "name");
			check_field(it, "version");
			check_field(it, "source");
			if (!json_string_length(json_object_get(it, "name")) ||
			    !json_string_length(json_object_get(it, "version")))
				abort();
		}
		json_decref(items);
	} else if (!e.message[0] && r != -ENOMEM) {
		abort();
	}
	e.message[0] = '\0';
	r = posture_os_release_parse(copy, size, &os, &e);
	if (r == 0)
		json_decref(os);
	else if (!e.message[0] && r != -ENOMEM)
		abort();
	free(copy);
	return 0;
}
