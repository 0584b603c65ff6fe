/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * proxy: trusted reverse proxies and the client address they forward.
 * Lists are split on commas only: a quoted string holding a comma (legal
 * in a Forwarded extension parameter, never in an address) splits an
 * element in two, which at worst makes that element malformed.  The
 * element that decides is the one the nearest trusted proxy wrote, so a
 * client's own text, further left, never comes into it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/proxy.h"

static const uint8_t http_v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs around the @*len bytes at @*s. */
static void http_trim(const char **s, size_t *len)
{
	while (*len && http_is_ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && http_is_ows((*s)[*len - 1]))
		(*len)--;
}

int http_addr_parse(const char *s, size_t len, struct http_addr *ret)
{
	char text[HTTP_ADDR_TEXT];
	struct http_addr a = { 0 };

	if (len == 0 || len >= sizeof(text) || strspn(s, "0123456789abcdefABCDEF:.") < len)
		return ERR_INVALID;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, a.b) == 1) {
		a.len = 4;
	} else if (inet_pton(AF_INET6, text, a.b) == 1) {
		a.len = 16;
		if (memcmp(a.b, http_v4_mapped, sizeof(http_v4_mapped)) == 0) {
			memmove(a.b, a.b + 12, 4);
			memset(a.b + 4, 0, 12);
			a.len = 4;
		}
	} else {
		return ERR_INVALID;
	}
	*ret = a;
	return 0;
}

bool http_addr_from_sockaddr(const struct sockaddr *sa, struct http_addr *ret)
{
	struct http_addr a = { 0 };

	if (sa && sa->sa_family == AF_INET) {
		a.len = 4;
		memcpy(a.b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		a.len = 16;
		memcpy(a.b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		if (memcmp(a.b, http_v4_mapped, sizeof(http_v4_mapped)) == 0) {
			memmove(a.b, a.b + 12, 4);
			memset(a.b + 4, 0, 12);
			a.len = 4;
		}
	} else {
		return false;
	}
	*ret = a;
	return true;
}

void http_addr_format(const struct http_addr *a, char *out, size_t size)
{
	if (!inet_ntop(a->len == 4 ? AF_INET : AF_INET6, a->b, out, (socklen_t)size))
		snprintf(out, size, "unknown");
}

/* ---------------------------------------------------------------- trusted proxies */

static void http_cidr_mask(struct http_cidr *c)
{
	for (unsigned i = 0; i < c->a.len; i++) {
		unsigned keep = c->bits > i * 8 ? c->bits - i * 8 : 0;

		if (keep < 8)
			c->a.b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* Parses one entry of a trusted-proxy list ("192.0.2.0/24", "2001:db8::1"). */
static int http_cidr_parse(const char *s, size_t len, struct http_cidr *ret)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	struct http_cidr c = { 0 };
	bool v6_text = memchr(s, ':', alen) != NULL;
	unsigned long bits;

	if (http_addr_parse(s, alen, &c.a) < 0)
		return ERR_INVALID;
	c.bits = (uint8_t)(c.a.len * 8);
	if (slash) {
		const char *d = slash + 1;
		size_t dlen = len - alen - 1;

		if (dlen == 0 || dlen > 3 || strspn(d, "0123456789") < dlen)
			return ERR_INVALID;
		bits = 0;
		for (size_t i = 0; i < dlen; i++)
			bits = bits * 10 + (unsigned long)(d[i] - '0');
		if (v6_text && c.a.len == 4) {
			/* An IPv4-mapped range, kept as the IPv4 range it covers. */
			if (bits < 96 || bits > 128)
				return ERR_INVALID;
			bits -= 96;
		}
		if (bits > c.a.len * 8u)
			return ERR_INVALID;
		c.bits = (uint8_t)bits;
	}
	http_cidr_mask(&c);
	*ret = c;
	return 0;
}

int http_proxies_parse(const char *list, struct http_proxies *ret, struct rerr *e)
{
	static const char sep[] = ", \t\r\n";
	struct http_proxies p = { .n = 0 };
	const char *s = list;

	for (;;) {
		size_t len;

		s += strspn(s, sep);
		if (!*s)
			break;
		len = strcspn(s, sep);
		if (p.n == HTTP_MAX_PROXIES)
			return rerr_set(e, ERR_INVALID, "trusted_proxies",
					"trusted_proxies: more than %d entries", HTTP_MAX_PROXIES);
		if (http_cidr_parse(s, len, &p.v[p.n]) < 0)
			return rerr_set(e, ERR_INVALID, "trusted_proxies",
					"trusted_proxies: '%.*s' is not an IPv4 or IPv6 address or "
					"CIDR range", len > 64 ? 64 : (int)len, s);
		p.n++;
		s += len;
	}
	*ret = p;
	return 0;
}

bool http_proxies_contain(const struct http_proxies *p, const struct http_addr *a)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct http_cidr *c = &p->v[i];
		unsigned full = c->bits / 8, rest = c->bits % 8;

		if (c->a.len != a->len || memcmp(c->a.b, a->b, full) != 0)
			continue;
		if (rest && ((c->a.b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rest)))
			continue;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- forwarding headers */

/* True if the @len bytes at @s are a port: digits, or an obfuscated "_name" (RFC 7239). */
static bool http_is_port(const char *s, size_t len)
{
	if (len == 0 || len > 16)
		return false;
	if (s[0] == '_') {
		for (size_t i = 1; i < len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
				return false;
		return len > 1;
	}
	return len <= 5 && strspn(s, "0123456789") >= len;
}

/* A hop's address: "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". */
static int http_hop_addr(const char *s, size_t len, struct http_addr *ret)
{
	const char *colon;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		size_t after;

		if (!close)
			return ERR_INVALID;
		after = len - (size_t)(close - s) - 1;
		if (after && (close[1] != ':' || !http_is_port(close + 2, after - 1)))
			return ERR_INVALID;
		return http_addr_parse(s + 1, (size_t)(close - s) - 1, ret);
	}
	colon = memchr(s, ':', len);
	if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
		/* One colon: IPv4 with a port. */
		size_t alen = (size_t)(colon - s);

		if (!http_is_port(colon + 1, len - alen - 1) || http_addr_parse(s, alen, ret) < 0 ||
		    ret->len != 4)
			return ERR_INVALID;
		return 0;
	}
	return http_addr_parse(s, len, ret);
}

/*
 * The "for" node of one Forwarded element ("for=192.0.2.1;proto=https"):
 * sets @*node and @*nlen.  Returns 0, or ERR_INVALID with @e when the
 * element is malformed or has no (or two) "for" parameters.
 */
static int http_forwarded_for(const char *s, size_t len, const char **node, size_t *nlen,
			      struct rerr *e)
{
	size_t i = 0;
	bool found = false;

	while (i < len) {
		size_t name = i, nend, vstart, vend;

		while (i < len && s[i] != '=' && s[i] != ';')
			i++;
		if (i == len || s[i] != '=')
			return rerr_set(e, ERR_INVALID, NULL, "a Forwarded parameter without '='");
		nend = i++;
		if (i < len && s[i] == '"') {
			vstart = ++i;
			while (i < len && s[i] != '"' && s[i] != '\\')
				i++;
			if (i == len || s[i] != '"')
				return rerr_set(e, ERR_INVALID, NULL, "an unterminated or escaped quoted string");
			vend = i++;
		} else {
			vstart = i;
			while (i < len && s[i] != ';' && !http_is_ows(s[i]) && s[i] != '"')
				i++;
			vend = i;
		}
		while (i < len && http_is_ows(s[i]))
			i++;
		if (i < len && s[i] != ';')
			return rerr_set(e, ERR_INVALID, NULL, "text after a Forwarded parameter's value");
		if (i < len)
			i++;
		{
			const char *n = s + name;
			size_t nl = nend - name;

			http_trim(&n, &nl);
			if (nl == 3 && strncasecmp(n, "for", 3) == 0) {
				if (found)
					return rerr_set(e, ERR_INVALID, NULL, "two 'for' parameters in one element");
				found = true;
				*node = s + vstart;
				*nlen = vend - vstart;
			}
		}
		while (i < len && http_is_ows(s[i]))
			i++;
	}
	if (!found)
		return rerr_set(e, ERR_INVALID, NULL, "a Forwarded element without 'for'");
	return 0;
}

/* The address of one list element of @kind (already trimmed, not empty). */
static int http_element_addr(enum http_fwd_kind kind, const char *s, size_t len,
			     struct http_addr *ret, struct rerr *e)
{
	if (kind == HTTP_FWD_FORWARDED) {
		int r = http_forwarded_for(s, len, &s, &len, e);

		if (r < 0)
			return r;
		if (len == 7 && strncasecmp(s, "unknown", 7) == 0)
			return rerr_set(e, ERR_INVALID, NULL, "the proxy does not know the client (for=unknown)");
		if (len && s[0] == '_')
			return rerr_set(e, ERR_INVALID, NULL, "the proxy hides the client (obfuscated for=)");
	}
	if (http_hop_addr(s, len, ret) < 0)
		return rerr_set(e, ERR_INVALID, NULL, "a hop that is not an address");
	return 0;
}

int http_forwarded_client(const struct http_proxies *p, enum http_fwd_kind kind,
			  const char *const *lines, size_t nlines, struct http_addr *ret,
			  struct rerr *e)
{
	struct http_addr a, leftmost = { 0 };
	size_t hops = 0;

	for (size_t li = nlines; li-- > 0;) {
		const char *line = lines[li];
		size_t end = strlen(line);

		for (;;) {
			const char *el;
			size_t start = end, len;

			while (start && line[start - 1] != ',')
				start--;
			el = line + start;
			len = end - start;
			http_trim(&el, &len);
			if (len) {
				if (++hops > HTTP_MAX_HOPS)
					return rerr_set(e, ERR_INVALID, NULL, "more than %d trusted hops",
							HTTP_MAX_HOPS);
				if (http_element_addr(kind, el, len, &a, e) < 0)
					return ERR_INVALID;
				if (!http_proxies_contain(p, &a)) {
					*ret = a;
					return 0;
				}
				leftmost = a;
			}
			if (start == 0)
				break;
			end = start - 1;
		}
	}
	if (!hops)
		return rerr_set(e, ERR_INVALID, NULL, "no address in the header");
	*ret = leftmost;
	return 0;
}
