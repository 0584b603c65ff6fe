/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * net: the agent's use of libcurl, loaded with dlopen() when it is first
 * needed rather than linked.
 *
 * Debian's libcurl brings some 35 shared libraries (OpenSSL, GnuTLS,
 * Kerberos, LDAP, libssh2, nghttp2...) whose constructors and relocations
 * cost about 7 MiB of resident memory in every process that loads them.
 * One-shot commands load it in-process; `rampart-agent run` loads it only
 * in the short-lived children that do a check-in or send events, so that
 * the long-running process never maps it (run.c, request.c).
 *
 * Not thread-safe: the first call initializes libcurl globally.
 */
#ifndef RAMPART_NET_H
#define RAMPART_NET_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define NET_LIBCURL "libcurl.so.4"

struct net_post {
	const char *url;
	const char *const *headers;   /* "Name: value" lines */
	size_t n_headers;
	const char *body;
	size_t body_len;
	const char *ca;               /* CA file for TLS, NULL for the system's */
	const char *user_agent;
	long connect_timeout_s, timeout_s;
};

/*
 * Loads and initializes libcurl (once).  Returns 0, or -ENOENT with a
 * message naming the library and what to install in @e (may be NULL) when
 * it cannot be loaded, or -EIO when it cannot be initialized.
 */
int net_load(struct rerr *e);

/*
 * POSTs @p (http or https only).  Returns 0 with the answer's status in
 * *status and its body appended to @resp (whose limit bounds it), or a
 * negative error with a message in @e (may be NULL) when libcurl is missing
 * or the server was not reached or answered over the limit (-ENOMEM alone
 * has none).
 */
int net_post(const struct net_post *p, long *status, struct buf *resp, struct rerr *e);

/*
 * The host (IPv6 literals without brackets) and port (the scheme's default
 * when the URL names none) of @url, as parsed by libcurl; *host and *port
 * are freed with free().  Returns 0, ERR_INVALID for a URL without them (no
 * message), or the error of net_load() with its message in @e.
 */
int net_url_host_port(const char *url, char **host, char **port, struct rerr *e);

/* Releases libcurl's global state when it was loaded (at the end of a one-shot command). */
void net_done(void);

#endif
