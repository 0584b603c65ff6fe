/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_config: libFuzzer target for config_parse_string, the INI reader
 * behind rampartd --config.  Invariants checked: no crash or leak, a
 * refusal always carries a message, and the settings that were applied
 * stay inside their documented ranges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct rerr e = { "" };
	char *copy;

	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	config_defaults(&c);
	if (config_parse_string(&c, copy, size, &e) < 0) {
		if (e.message[0] == '\0')
			abort();
	}
	/* Whatever was accepted respects the table's ranges and buffer sizes. */
	if (c.max_body < 1024 || c.max_body > (64 << 20))
		abort();
	if (c.threads < 0 || c.threads > 256)
		abort();
	if (c.lockout_threshold < 1 || c.min_password_len < 8)
		abort();
	if (c.retire_threshold_pct < 0 || c.retire_threshold_pct > 100)
		abort();
	if (memchr(c.listen, '\0', sizeof(c.listen)) == NULL ||
	    memchr(c.data_dir, '\0', sizeof(c.data_dir)) == NULL)
		abort();
	free(copy);
	return 0;
}
