/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eve: parser of Suricata EVE JSON, as posted by sensors to
 * POST /api/v1/endpoint/alerts.
 *
 * Input: one JSON object, or newline-delimited objects exactly as Suricata
 * writes eve.json (one object per line; blank lines and a final newline are
 * allowed; CRLF is accepted).  At most EVE_MAX_BYTES in all, EVE_MAX_LINES
 * objects and EVE_MAX_LINE bytes per line.  Every object must have a string
 * "event_type"; objects of other types than "alert" (flow, dns, stats...)
 * are counted and otherwise ignored.  An alert needs
 *   timestamp          "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hhmm|+hh:mm|-...)", read
 *                      by rtime (eve_parse_time), not before 1970
 *   src_ip, dest_ip    an IPv4 or IPv6 address (inet_pton), kept canonical
 *                      (eve_addr_canon)
 *   alert.signature    a string of 1..EVE_MAX_SIGNATURE bytes, clean UTF-8
 *   alert.signature_id an integer 0..2^32-1
 *   alert.severity     an integer 1..255 (Suricata: 1 is the most severe)
 * Other fields are allowed (Suricata writes many) and not kept.  Anything
 * else refuses the whole input, with the line number in the message, so
 * that a sensor never has half a batch taken.
 */
#ifndef RAMPART_EVE_H
#define RAMPART_EVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define EVE_MAX_BYTES ((size_t)512 << 10)
#define EVE_MAX_LINES 1000
#define EVE_MAX_LINE ((size_t)64 << 10)
#define EVE_MAX_SIGNATURE 512
#define EVE_MAX_DEPTH 8
#define EVE_ADDR_SIZE 46   /* INET6_ADDRSTRLEN */

struct eve_alert {
	int64_t ts_ms;                      /* event time, Unix ms UTC */
	char src_ip[EVE_ADDR_SIZE];         /* canonical text */
	char dest_ip[EVE_ADDR_SIZE];
	int src_family, dest_family;        /* 4 or 6 */
	int64_t signature_id;
	int severity;
	char signature[EVE_MAX_SIGNATURE + 1];
	size_t line;                        /* 1-based line of the input */
};

struct eve_batch {
	size_t events;                      /* objects read */
	size_t ignored;                     /* of them, not alerts */
	size_t n_alerts;
	struct eve_alert *alerts;           /* n_alerts entries, malloc'd */
};

/*
 * Parses @len bytes of untrusted EVE JSON into @ret (zeroed first; free
 * with eve_batch_done).  Returns 0, -ENOMEM, ERR_TOO_LARGE (over a size or
 * count limit) or ERR_INVALID, the last two with @e (may be NULL) filled:
 * its message ("line 3: ..." when it is about one line), its position
 * (e->at: the 1-based line, 0 for the input as a whole) and its field
 * ("line" when at is set, else "").  On failure @ret holds nothing to free.
 */
int eve_parse(const char *data, size_t len, struct eve_batch *ret, struct rerr *e);

/* Frees what eve_parse stored in @b; safe on a zeroed batch. */
void eve_batch_done(struct eve_batch *b);

/*
 * Parses an EVE timestamp (see above; at most 40 bytes) to Unix ms with
 * rtime_parse_flags(RTIME_OFFSET_BASIC | RTIME_EPOCH): RFC 3339 plus the
 * "+hhmm" offsets Suricata writes, years from 1970.  Returns 0 or
 * ERR_INVALID.
 */
int eve_parse_time(const char *s, int64_t *ret_ms);

/*
 * Canonicalizes an IPv4 or IPv6 address @s into @out (EVE_ADDR_SIZE bytes)
 * and sets *ret_family to 4 or 6; an IPv4-mapped IPv6 address becomes the
 * IPv4 address.  Returns 0 or ERR_INVALID.
 */
int eve_addr_canon(const char *s, char out[EVE_ADDR_SIZE], int *ret_family);

#endif
