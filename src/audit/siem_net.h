/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * siem_net: how audit messages reach a SIEM (internal to src/audit; the
 * shipper that decides what to send and when it is delivered is siem.c).
 *
 *   syslog  RFC 5424 messages, facility 13 (log audit), over TCP with
 *           octet-counting framing (RFC 6587 section 3.4.1), or over a
 *           Unix socket: a stream socket gets the same framing, a datagram
 *           socket (what /dev/log is) one message per datagram;
 *   http    one POST per batch, a JSON object per line
 *           (application/x-ndjson); any 2xx answer acknowledges the batch.
 *
 * Every wait is bounded (connect 3 s, a batch 5 s over syslog, 10 s over
 * HTTP) so that a dead receiver costs the shipper's thread, never an
 * append.  Nothing here logs a header value.
 */
#ifndef RAMPART_AUDIT_SIEM_NET_H
#define RAMPART_AUDIT_SIEM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct buf;

enum siem_kind { SIEM_SYSLOG_TCP, SIEM_SYSLOG_UNIX, SIEM_HTTP };

#define SIEM_HOST_MAX 256
#define SIEM_URL_MAX 512

struct siem_target {
	enum siem_kind kind;
	char host[SIEM_HOST_MAX];  /* tcp: a name or an address (IPv6 without brackets) */
	char port[8];
	char path[108];            /* unix: the socket (sizeof sun_path) */
	char url[SIEM_URL_MAX];    /* http */
	char header[SIEM_URL_MAX]; /* http: "Name: value" or "" */
};

/*
 * Parses [audit] siem_syslog: "tcp://HOST:PORT" (HOST a name, an IPv4
 * address or [IPv6]; PORT 1-65535) or "unix:/absolute/path" (at most 107
 * bytes).  Returns 0 or ERR_INVALID with @e.
 */
int siem_target_parse_syslog(const char *s, struct siem_target *ret, struct rerr *e);

/*
 * Parses [audit] siem_http (an http:// or https:// URL of at most 511
 * bytes, printable ASCII without spaces) and siem_http_header ("" or
 * "Name: value": a token, a colon, printable text; no CR or LF).
 * Returns 0 or ERR_INVALID with @e.
 */
int siem_target_parse_http(const char *url, const char *header, struct siem_target *ret, struct rerr *e);

/* One message: what the shipper hands to siem_conn_send. */
struct siem_msg {
	const char *msgid;     /* "audit", "checkpoint", "alert" */
	int severity;          /* RFC 5424: 4 warning, 5 notice, 6 informational */
	int64_t time_ms;       /* when it happened; 0 unknown */
	const char *json;      /* one JSON object, ASCII, no newline */
};

/*
 * Appends the RFC 5424 form of @m to @out: "<PRI>1 TIMESTAMP HOSTNAME
 * rampartd PROCID MSGID - JSON" with @hostname ("-" when NULL or empty,
 * otherwise its printable ASCII, at most 255 bytes) and @pid; preceded by
 * "LENGTH " when @framed.  Returns 0 or a buf error.
 */
int siem_syslog_format(struct buf *out, const struct siem_msg *m, const char *hostname, long pid, bool framed);

struct siem_conn;

/* Connects to @t.  Returns 0 and *ret, or -errno (the reason for the log), -ENOMEM. */
int siem_conn_open(const struct siem_target *t, struct siem_conn **ret);

/*
 * False when the receiver is known to have gone (a stream peer closed or
 * reset the connection): then what was sent since the last confirmed
 * position may be lost and must be sent again on a new connection.
 */
bool siem_conn_alive(struct siem_conn *c);

/*
 * True when a send that returned 0 was delivered (an HTTP 2xx, a datagram
 * the local receiver took); false for a stream, where delivery is only
 * assumed once the connection stayed up a while afterwards (siem.c).
 */
bool siem_conn_acknowledges(const struct siem_conn *c);

/*
 * Sends @n messages.  Returns 0; -errno or -EIO when the receiver failed
 * or refused (HTTP: a non-2xx status, in *ret_status when not NULL): the
 * connection is then unusable.
 */
int siem_conn_send(struct siem_conn *c, const struct siem_msg *msgs, size_t n, long *ret_status);

/* Closes and frees.  Accepts NULL. */
void siem_conn_close(struct siem_conn *c);

#endif
