/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * siem: the shipper's cursor, internal to src/audit (the shipper itself is
 * in siem.c, its API in audit.h).
 *
 * The queue of what a destination still has to receive is the audit log
 * itself: entries are read back once committed, in id order, after the
 * destination's cursor.  The cursor, a small file per destination in
 * DATA/siem/ ("syslog.cursor", "http.cursor"), is the durable part:
 *
 *   rampart-siem-cursor 1
 *   entry <id> <hash of that entry, or 64 zeros>
 *   checkpoint <id>
 *
 * It moves only past what the destination acknowledged, and is replaced
 * atomically (written, fsynced, renamed), so a crash or a receiver that is
 * down loses nothing: at worst entries are sent twice (at-least-once; the
 * receiver deduplicates on the entry id and the server id).
 */
#ifndef RAMPART_AUDIT_SIEM_H
#define RAMPART_AUDIT_SIEM_H

#include <stddef.h>
#include <stdint.h>

#include "formats/auditchain.h"

/* The position of a destination: the last entry and checkpoint it has. */
struct siem_pos {
	int64_t entry;                  /* 0: none yet */
	char hash[AUDIT_HASH_HEX];      /* that entry's hash (AUDIT_GENESIS for none) */
	int64_t checkpoint;
};

#define SIEM_CURSOR_MAX 256

/*
 * Parses a cursor file's @len bytes.  Returns 0 and *ret, or ERR_INVALID
 * (the caller then starts again from the first entry).
 */
int siem_cursor_parse(const char *data, size_t len, struct siem_pos *ret);

/* Writes the cursor text of @p into @out.  Returns its length. */
size_t siem_cursor_text(const struct siem_pos *p, char out[SIEM_CURSOR_MAX]);

#endif
