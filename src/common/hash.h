/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * hash: the one non-cryptographic hash Rampart uses for in-memory tables
 * (FNV-1a, 64 bits).  Not for anything an attacker can steer into a
 * denial of service without a bound on the table it feeds, and never for
 * integrity: use crypto/ for that.
 */
#ifndef RAMPART_HASH_H
#define RAMPART_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over @len bytes at @data. */
uint64_t hash_bytes(const void *data, size_t len);

/* FNV-1a over the NUL-terminated string @s (the NUL is not hashed). */
uint64_t hash_str(const char *s);

#endif
