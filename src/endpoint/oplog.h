/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog: the operation logs of enrolled PCs, server side.
 *
 * rampart-agent sends what happened on a PC (process executions, logins and
 * logouts, USB inserts, blocks and removals, files written to removable
 * media) in signed batches to POST /api/v1/endpoint/events:
 *   {"events": [{"seq": N, "ts": ms, "kind": K, ...fields of K}]}
 * seq is the device's own counter: at least 1, strictly increasing within
 * a batch and never reused.  The answer {"accepted_through": N} is the
 * highest seq the server holds for the device; the agent drops everything
 * up to it from its disk buffer.  An event whose seq is not above the
 * highest already accepted is a duplicate (a retried batch) and is ignored,
 * so sending a batch twice changes nothing.
 *
 * Kinds and their fields (every other key is refused):
 *   exec        pid, ppid, uid (integers), user, path, argv [str], cwd?
 *   login       user, tty?, host?, session?
 *   logout      user, tty?, host?, session?
 *   usb_insert  vendor, product, serial?, name?, storage (bool),
 *               action ("allowed", "blocked" or "reported")
 *   usb_remove  vendor, product, serial?
 *   usb_block   vendor, product, serial?, name?
 *   file_write  path, device, size?, user?
 * Paths (path, cwd, argv items) are at most OPLOG_MAX_PATH bytes, other
 * strings OPLOG_MAX_STR bytes of printable text; argv at most
 * OPLOG_MAX_ARGV items.  A batch is at most OPLOG_MAX_EVENTS events and
 * OPLOG_MAX_BODY bytes, and is stored in one transaction or not at all.
 *
 * Searching (GET /api/v1/endpoint/events, GET /api/v1/devices/{id}/events)
 * by device, person (the event's user or the device owner's login), kind
 * and time, newest first with a keyset cursor, is scoped as the devices
 * are (endpoint_may, ENDPOINT_READ) and audited, since operation logs are
 * personal data.
 *
 * Retention (oplog_sweep): events older than the effective policy's
 * logging.retention_days of the device's org unit are deleted, and so are
 * posture reports older than that, except each device's latest one.
 *
 * Files: oplog.c the batch parser (pure; fuzzed), oplog_store.c storage,
 * search and retention (no HTTP), oplog_http.c the routes.
 */
#ifndef RAMPART_OPLOG_H
#define RAMPART_OPLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"
#include "common/jsonx.h"
#include "store/page.h"

#define OPLOG_MAX_EVENTS 1000
#define OPLOG_MAX_BODY ((size_t)1 << 20)
#define OPLOG_MAX_PATH 4096
#define OPLOG_MAX_STR 256
#define OPLOG_MAX_ARGV 256
#define OPLOG_MAX_SEQ ((int64_t)9007199254740991)   /* 2^53 - 1: exact in every JSON reader */
#define OPLOG_MAX_TS ((int64_t)253402300799999)     /* 9999-12-31T23:59:59.999Z */
#define OPLOG_SEARCH_DEFAULT 100
#define OPLOG_SEARCH_MAX 1000
/* Events more than this ahead of the server's clock are refused. */
#define OPLOG_MAX_SKEW_MS ((int64_t)3600 * 1000)
/* Rows one DELETE of the retention sweep removes at most (short write locks). */
#define OPLOG_SWEEP_BATCH 1000
/* How often rampartd's endpoint sweeper runs the retention sweep. */
#define OPLOG_SWEEP_INTERVAL_MS ((int64_t)600 * 1000)

/* The kinds, as error messages list them. */
#define OPLOG_KIND_LIST "exec, login, logout, usb_insert, usb_remove, usb_block or file_write"

struct oplog_event {
	int64_t seq;
	int64_t ts;
	const char *kind;   /* a static string */
	const char *user;   /* borrowed from the parsed batch, or NULL */
	json_t *data;       /* the other fields (not seq, ts, kind, user); owned */
};

struct oplog_batch {
	size_t n;
	struct oplog_event *events;
};

/*
 * Checks the parsed batch @body against the rules above and fills @b
 * (whose strings are borrowed from @body: keep it alive while @b is used).
 * Returns 0, -ENOMEM, or ERR_INVALID with @e naming the event and field
 * ("events[3].argv") and what is wrong.  On error @b is left empty.
 */
int oplog_batch_check(const json_t *body, struct oplog_batch *b, struct rerr *e);

/*
 * Parses @len bytes of untrusted JSON and checks them as a batch.  On
 * success *ret_root is the parsed document, to be released with
 * json_decref after oplog_batch_done.  Returns as oplog_batch_check, or
 * ERR_TOO_LARGE beyond OPLOG_MAX_BODY.
 */
int oplog_batch_parse(const char *data, size_t len, json_t **ret_root, struct oplog_batch *b,
		      struct rerr *e);

/*
 * Refuses a batch with an event more than OPLOG_MAX_SKEW_MS ahead of
 * @now_ms.  Returns 0 or ERR_INVALID with @e naming the event.
 */
int oplog_batch_check_time(const struct oplog_batch *b, int64_t now_ms, struct rerr *e);

/* Frees what @b owns and empties it; safe on an empty batch. */
void oplog_batch_done(struct oplog_batch *b);

/* True if @kind is one of the kinds above. */
bool oplog_kind_is_known(const char *kind);

struct audit_ctx;
struct principal;
struct store_conn;
struct http_server;

/*
 * Stores the events of @b above the device's high-water mark, inside the
 * caller's transaction, and records a gap (endpoint.events.gap, audited
 * as @ctx, the device's request) when seqs between the mark and the batch
 * never arrived.  *ret_through is the new mark.  Returns 0 or an error.
 */
int oplog_store_batch(struct store_conn *c, const struct audit_ctx *ctx, const char *device_id,
		      const struct oplog_batch *b, int64_t now, int64_t *ret_through);

/* A search cursor: the (ts, device, seq) of the last event of a page. */
struct oplog_cursor {
	int64_t ts;
	char device[ULID_SIZE];
	int64_t seq;
};

/* Parses "TS.DEVICE.SEQ", as oplog_search hands it out.  Returns 0 or -EINVAL. */
int oplog_cursor_parse(const char *s, struct oplog_cursor *cur);

/* What to search for; NULL and false leave a filter out. */
struct oplog_filter {
	const char *device;                /* a device id */
	const char *person;                /* the event's user or the device owner's login */
	const char *kind;
	bool has_since, has_until;
	int64_t since, until;              /* [since, until) in Unix ms */
	const struct oplog_cursor *cursor; /* events before it */
};

/*
 * One page of the events of the devices @p may read (ep_scope_where)
 * matching @f, newest first: at most @limit items in *ret_items, and in
 * @ret_next the cursor of the next page ("" on the last).  Returns 0 or an
 * error.
 */
int oplog_search(struct store_conn *c, const struct principal *p, const struct oplog_filter *f, int64_t limit,
		 json_t **ret_items, char ret_next[PAGE_CURSOR_SIZE]);

struct oplog_sweep_result {
	int64_t events;    /* events removed */
	int64_t reports;   /* posture reports removed */
};

/*
 * Removes, for every org unit with devices, the events of its devices older
 * than its effective policy's logging.retention_days before @now_ms, and
 * their posture reports older than that except the latest of each device,
 * in DELETEs of at most OPLOG_SWEEP_BATCH rows.  Appends one audit entry
 * (endpoint.retention, as @ctx: AUDIT_CTX_SYSTEM) when it removed
 * something.  Safe with several servers.  Returns 0 with @ret filled, or
 * an error (what was removed before it stays removed).
 */
int oplog_sweep(struct store_conn *c, const struct audit_ctx *ctx, int64_t now_ms, struct oplog_sweep_result *ret);

/*
 * Registers POST and GET /api/v1/endpoint/events and
 * GET /api/v1/devices/{id}/events.  Returns 0 or -ENOMEM.
 */
int oplog_routes(struct http_server *s);

#endif
