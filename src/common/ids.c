/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ids: ULID generation with libsodium's randombytes. */
#include "common/ids.h"

#include <sodium.h>
#include <string.h>

static const char ids_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void ids_ulid(char out[ULID_SIZE], int64_t ms)
{
	unsigned char rnd[10];
	uint64_t t = (uint64_t)ms;

	for (int i = 9; i >= 0; i--) {
		out[i] = ids_alphabet[t & 31];
		t >>= 5;
	}
	randombytes_buf(rnd, sizeof(rnd));
	/* 80 random bits -> 16 characters of 5 bits. */
	for (int i = 0; i < 16; i++) {
		unsigned bit = (unsigned)i * 5, byte = bit / 8, off = bit % 8;
		unsigned v = (unsigned)rnd[byte] << 8 | (byte + 1 < 10 ? rnd[byte + 1] : 0);

		out[10 + i] = ids_alphabet[(v >> (11 - off)) & 31];
	}
	out[ULID_LEN] = '\0';
	sodium_memzero(rnd, sizeof(rnd));
}

bool ids_is_ulid(const char *s)
{
	if (!s || strlen(s) != ULID_LEN)
		return false;
	if (s[0] > '7')
		return false;
	for (int i = 0; i < ULID_LEN; i++)
		if (!strchr(ids_alphabet, s[i]) || s[i] == '\0')
			return false;
	return true;
}
