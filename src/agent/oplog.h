/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog: rampart-agent's bounded on-disk buffer of operation-log events
 * (docs/formats/agent-events.md), in STATE_DIR/events/.
 *
 * Events are JSON objects ({"ts", "kind", ...fields}); the buffer gives each
 * one a sequence number that is never reused, also across restarts, and
 * keeps it until the server has acknowledged it (oplog_drop_through).
 *
 * Invariants:
 *  - oplog_append returns 0 only once every record of the batch is on disk
 *    (written and fsync'd, the segment's directory entry too): after kill -9
 *    or power loss an acknowledged event is still there.
 *  - A record is a length, a CRC-32 over its sequence number and payload,
 *    the sequence number and the payload.  Opening the buffer scans every
 *    segment and cuts a torn or corrupted tail at the last good record, so a
 *    half-written record is never read as an event.
 *  - The segment files together stay under max_bytes: appending to a full
 *    buffer removes the oldest segment, and the events in it that the
 *    server had not acknowledged are counted as dropped (the gap also shows
 *    in the sequence numbers the server receives).
 *  - One writer: oplog_open takes an exclusive lock on events/lock and
 *    fails with -EBUSY while another process holds it; a read-only open
 *    (rampart-agent events) takes no lock and changes nothing.
 */
#ifndef RAMPART_AGENT_OPLOG_H
#define RAMPART_AGENT_OPLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPLOG_DEFAULT_MAX_BYTES ((uint64_t)16 << 20)
#define OPLOG_MIN_MAX_BYTES ((uint64_t)256 << 10)
#define OPLOG_MAX_MAX_BYTES ((uint64_t)4 << 30)
#define OPLOG_MAX_RECORD ((size_t)64 << 10)   /* one event's JSON text */
#define OPLOG_SEGMENTS 8                      /* a segment is max_bytes / OPLOG_SEGMENTS */

struct oplog;

struct oplog_opts {
	uint64_t max_bytes;   /* 0: OPLOG_DEFAULT_MAX_BYTES */
	bool read_only;
};

struct oplog_stats {
	int64_t next_seq;        /* the sequence number the next event gets */
	int64_t acked_through;   /* the highest one the server acknowledged */
	int64_t pending;         /* events buffered and not yet acknowledged */
	int64_t dropped;         /* events removed unacknowledged because the buffer was full (ever) */
	uint64_t bytes;          /* size of the segment files */
	uint64_t max_bytes;
	uint64_t torn_bytes;     /* bytes cut from torn or corrupted tails when opened */
	size_t segments;
};

/*
 * Opens (creating it, mode 0700, unless read-only) the buffer in @dir.
 * @opts may be NULL.  Returns 0 and a new handle in *ret, -EBUSY when
 * another process has it open for writing, ERR_INVALID for a bad
 * max_bytes or a state file that is not ours, -ENOENT (read-only, no
 * buffer yet), -ENOMEM or another -errno.
 */
int oplog_open(const char *dir, const struct oplog_opts *opts, struct oplog **ret);

/* Closes the handle and releases the lock.  Accepts NULL. */
void oplog_close(struct oplog *ol);

/*
 * Appends @n events (objects without "seq"; not stolen) in one write and
 * one fsync, giving them consecutive sequence numbers; the first one is
 * stored in *ret_first_seq (may be NULL).  Returns 0, ERR_INVALID (not an
 * object, has "seq", or the JSON text is longer than OPLOG_MAX_RECORD:
 * nothing appended), ERR_TOO_LARGE (the batch alone does not fit in
 * max_bytes), -EROFS (read-only), or -errno of a failed write; on any
 * error nothing of the batch is kept and its numbers are given again.
 */
int oplog_append(struct oplog *ol, json_t *const *events, size_t n, int64_t *ret_first_seq);

/*
 * Reads the oldest events not yet acknowledged, at most @max_events and
 * about @max_bytes of JSON text in all (each event with its "seq"), into a
 * new array in *ret (empty when nothing is pending) and the last sequence
 * number read in *ret_last_seq (0 when none).  The events stay buffered.
 * Returns 0, -ENOMEM or -errno.
 */
int oplog_read(struct oplog *ol, size_t max_events, size_t max_bytes, json_t **ret, int64_t *ret_last_seq);

/*
 * Records that the server holds every event up to @seq, removing the
 * segments that hold nothing newer.  A @seq at or beyond the next sequence
 * number (the server knows more than this buffer, e.g. after the state
 * directory was restored from a backup) moves the next number past it, so
 * that numbers are never reused.  Returns 0, -EROFS or -errno.
 */
int oplog_drop_through(struct oplog *ol, int64_t seq);

/* Fills *ret with the buffer's counters. */
void oplog_stats(const struct oplog *ol, struct oplog_stats *ret);

#endif
