/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* str: bounded string helpers and number parsing with full error checks. */
#ifndef RAMPART_STR_H
#define RAMPART_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frees *p; for __attribute__((cleanup)). */
void str_freep(void *p);
#define _cleanup_free_ __attribute__((cleanup(str_freep)))

/* Returns *p and sets it to NULL: hands ownership over. */
#define steal_ptr(pp) ({ __typeof__(*(pp)) _t = *(pp); *(pp) = NULL; _t; })

/* Copies @src into @dst of @size bytes.  Returns 0, or -ENAMETOOLONG on truncation (dst then holds ""). */
int str_copy(char *dst, size_t size, const char *src);

/* Parses a whole decimal integer within [min,max].  Returns 0, -EINVAL or -ERANGE; *ret only on success. */
int str_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Parses a duration such as "30s", "15m", "12h", "7d" into milliseconds. Returns 0 or -EINVAL/-ERANGE. */
int str_parse_duration_ms(const char *s, int64_t *ret_ms);

/* True if @s is valid UTF-8 without NUL or C0 control characters other than tab. */
bool str_is_clean_utf8(const char *s, size_t len);

/* Case-insensitive ASCII equality. */
bool str_eq_ci(const char *a, const char *b);

/* True if @s starts with @prefix. */
bool str_has_prefix(const char *s, const char *prefix);

#endif
