/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* rtime: wall-clock and monotonic time in milliseconds, RFC 3339 formatting. */
#ifndef RAMPART_RTIME_H
#define RAMPART_RTIME_H

#include <stddef.h>
#include <stdint.h>

/* Unix time in milliseconds (UTC). */
int64_t rtime_now_ms(void);

/* Monotonic clock in nanoseconds, for durations only. */
int64_t rtime_mono_ns(void);

/* Formats @ms as "2026-11-26T08:21:40.123Z" into @buf (>= 32 bytes). Returns @buf. */
const char *rtime_format(char *buf, size_t size, int64_t ms);

/* Parses RFC 3339 UTC ("...Z" or "+00:00", optional fraction) or a bare date. Returns 0 or -EINVAL. */
int rtime_parse(const char *s, int64_t *ret_ms);

#endif
