/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rtime: wall-clock and monotonic time in milliseconds; RFC 3339 formatting
 * and parsing.
 *
 * The one reading of dates and times in Rampart: API filters, the CLI, the
 * Suricata EVE parser and everything else that takes a time as text go
 * through rtime_parse_flags, so that the calendar arithmetic and its range
 * checks exist once.
 */
#ifndef RAMPART_RTIME_H
#define RAMPART_RTIME_H

#include <stddef.h>
#include <stdint.h>

/* Unix time in milliseconds (UTC). */
int64_t rtime_now_ms(void);

/* Monotonic clock in nanoseconds, for durations only. */
int64_t rtime_mono_ns(void);

/*
 * Formats @ms as "2026-11-26T08:21:40.123Z" into @buf (>= 32 bytes), for
 * any time rtime_parse_flags can return.  Returns @buf.
 */
const char *rtime_format(char *buf, size_t size, int64_t ms);

/*
 * What rtime_parse_flags accepts besides an RFC 3339 date-time.  The
 * grammar always accepted (RFC 3339 section 5.6, date-time):
 *
 *   YYYY-MM-DD T hh:mm:ss [.frac] (Z | +hh:mm | -hh:mm)
 *
 *   - "T" and "Z" may be lower case "t" and "z": section 5.6 says so (ABNF
 *     strings are case-insensitive);
 *   - every field has exactly its number of digits; years 0000 to 9999,
 *     months 01-12, days up to the month's length (February 29 in
 *     Gregorian leap years only), hours 00-23, minutes 00-59, seconds
 *     00-60: 60 is a leap second (section 5.7), accepted on any day since
 *     no table of leap seconds is kept, and counted as the first second of
 *     the next minute, as Unix time has no leap seconds;
 *   - the fraction has 1 to 9 digits (nanoseconds; RFC 3339 sets no bound,
 *     no clock writes more) and is truncated to milliseconds;
 *   - offsets from -23:59 to +23:59; "-00:00" (section 4.3: local offset
 *     unknown) is UTC.
 */
enum rtime_flag {
	RTIME_DATE = 1u << 0,          /* also a bare full-date "2026-12-07": its midnight UTC */
	RTIME_SPACE = 1u << 1,         /* also a space instead of "T" (section 5.6, NOTE) */
	RTIME_OFFSET_BASIC = 1u << 2,  /* also "+hhmm"/"-hhmm" (ISO 8601 basic; Suricata EVE writes it) */
	RTIME_EPOCH = 1u << 3,         /* refuse years before 1970 and times before the epoch */
};

/*
 * Parses @s, as described above with the rtime_flag bits in @flags, into
 * Unix milliseconds (UTC; negative before 1970 unless RTIME_EPOCH).
 * Returns 0 with *ret_ms set, or -EINVAL (nothing written).
 */
int rtime_parse_flags(const char *s, unsigned flags, int64_t *ret_ms);

/*
 * rtime_parse_flags with RTIME_DATE | RTIME_SPACE: what the API and the CLI
 * accept from people ("2026-12-07", "2026-12-07 10:00:00Z",
 * "2026-12-07T10:00:00+09:00").  Returns 0 or -EINVAL.
 */
int rtime_parse(const char *s, int64_t *ret_ms);

#endif
