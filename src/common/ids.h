/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ids: identifiers.  ULIDs (26 Crockford base32 characters, time-ordered,
 * 80 random bits) name people, org units and other objects; they are never
 * reused because the random part comes from the kernel's CSPRNG.
 */
#ifndef RAMPART_IDS_H
#define RAMPART_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define ULID_LEN 26
#define ULID_SIZE (ULID_LEN + 1)

/* Writes a new ULID for time @ms into @out (ULID_SIZE bytes). */
void ids_ulid(char out[ULID_SIZE], int64_t ms);

/* True if @s is a syntactically valid ULID. */
bool ids_is_ulid(const char *s);

#endif
