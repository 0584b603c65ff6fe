/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hash: FNV-1a, 64 bits (see hash.h). */
#include "common/hash.h"

#define HASH_OFFSET 14695981039346656037ULL
#define HASH_PRIME 1099511628211ULL

uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = HASH_OFFSET;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * HASH_PRIME;
	return h;
}

uint64_t hash_str(const char *s)
{
	uint64_t h = HASH_OFFSET;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * HASH_PRIME;
	return h;
}
