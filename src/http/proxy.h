/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * proxy: which socket peers are trusted reverse proxies, and which client
 * address a trusted proxy forwards in X-Forwarded-For or Forwarded
 * (RFC 7239).  Pure address and string work, apart from sockets and
 * libmicrohttpd, so that it can be tested and fuzzed alone.
 *
 * Invariants: a forwarding header is walked from the right, the hops that
 * are trusted proxies skipped, and the first untrusted address is the
 * client; parsing stops there, so whatever a client wrote further left is
 * never looked at and cannot make the answer fail.  Nothing is allocated.
 */
#ifndef RAMPART_HTTP_PROXY_H
#define RAMPART_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Most entries in a trusted-proxy list. */
#define HTTP_MAX_PROXIES 64
/* Most hops walked in a forwarding header before giving up. */
#define HTTP_MAX_HOPS 32
/* Most header lines of one forwarding header looked at (the last ones). */
#define HTTP_MAX_FWD_LINES 32
/* Room for an address as text, NUL included (INET6_ADDRSTRLEN). */
#define HTTP_ADDR_TEXT 46

/* An IPv4 (4 bytes) or IPv6 (16 bytes) address; IPv4-mapped IPv6 is kept as IPv4. */
struct http_addr {
	uint8_t len;        /* 4 or 16 */
	uint8_t b[16];
};

/* An address range: @bits leading bits of @a. */
struct http_cidr {
	struct http_addr a;
	uint8_t bits;
};

struct http_proxies {
	struct http_cidr v[HTTP_MAX_PROXIES];
	size_t n;
};

enum http_fwd_kind {
	HTTP_FWD_XFF,           /* X-Forwarded-For: 192.0.2.1, 2001:db8::1 */
	HTTP_FWD_FORWARDED,     /* Forwarded: for=192.0.2.1;proto=https, for="[2001:db8::1]:443" */
};

/*
 * Parses the @len bytes at @s as an IPv4 or IPv6 address (no port, no
 * brackets, no zone).  Returns 0 with *ret set, or ERR_INVALID.
 */
int http_addr_parse(const char *s, size_t len, struct http_addr *ret);

/*
 * The address of @sa (AF_INET or AF_INET6; IPv4-mapped IPv6 becomes IPv4).
 * Returns false for NULL or another family.
 */
struct sockaddr;
bool http_addr_from_sockaddr(const struct sockaddr *sa, struct http_addr *ret);

/* Writes @a as text into @out (at least HTTP_ADDR_TEXT bytes). */
void http_addr_format(const struct http_addr *a, char *out, size_t size);

/*
 * Parses @list, addresses and CIDR ranges separated by commas and/or white
 * space ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32"); bits below the prefix
 * are ignored.  An empty list trusts nobody.  Returns 0 with *ret filled,
 * or ERR_INVALID with @e naming the entry at fault (*ret untouched).
 */
int http_proxies_parse(const char *list, struct http_proxies *ret, struct rerr *e);

/* True if @a is in one of the ranges of @p. */
bool http_proxies_contain(const struct http_proxies *p, const struct http_addr *a);

/*
 * The client address a trusted proxy forwards: @lines are the values of
 * every @kind header line of the request, in order (at most
 * HTTP_MAX_FWD_LINES, the last ones).  Walks the hops from the right,
 * skipping those in @p; the first other one is the client, and when every
 * hop is trusted the leftmost is.  X-Forwarded-For hops are addresses,
 * optionally "[v6]" or with a ":port"; a Forwarded hop is its "for="
 * parameter, a token or quoted string holding an address (IPv6 in
 * brackets), optionally with a port.  Returns 0 with *ret set, or
 * ERR_INVALID with @e saying why when a hop that decides is malformed,
 * names no address ("unknown", "_hidden"), no hop is found, or more than
 * HTTP_MAX_HOPS are trusted: the caller then keeps the socket address.
 */
int http_forwarded_client(const struct http_proxies *p, enum http_fwd_kind kind,
			  const char *const *lines, size_t nlines, struct http_addr *ret,
			  struct rerr *e);

#endif
