/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_multipart: libFuzzer target for the streaming multipart/form-data
 * parser behind every exchange upload.  The first input byte chooses how the
 * rest is split into feeds, so chunk boundaries inside delimiters are
 * exercised.  Invariants checked: no crash, no read past @size, and the
 * bytes reported as part data never exceed the input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exchange/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_seen;

static int on_begin(void *ud, const char *name, const char *filename)
{
	assert(strlen(name) < MP_MAX_NAME);
	assert(!filename || strlen(filename) < MP_MAX_FILENAME);
	return 0;
}

static int on_data(void *ud, const char *d, size_t n)
{
	fuzz_seen += n;
	return 0;
}

static int on_end(void *ud)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mp_callbacks cb = { on_begin, on_data, on_end };
	static struct mp_parser p;
	size_t step, off = 0;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	fuzz_seen = 0;
	if (mp_init(&p, "multipart/form-data; boundary=XyZ", &cb, NULL) < 0)
		return 0;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		char *chunk = malloc(n);

		if (!chunk)
			return 0;
		memcpy(chunk, data + off, n);
		if (mp_feed(&p, chunk, n) < 0) {
			free(chunk);
			break;
		}
		free(chunk);
		off += n;
	}
	mp_finish(&p);
	assert(fuzz_seen <= size);
	return 0;
}
