/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_http_forwarded: libFuzzer target for the trusted-proxy parsers
 * (src/http/proxy.h): the [http] trusted_proxies list, and the client
 * address found in X-Forwarded-For and Forwarded header lines.
 *
 * Input: the first byte picks the header kind (even: X-Forwarded-For, odd:
 * Forwarded); the rest is split at '\n': the first line is a trusted-proxy
 * list, every further line one header line.  When the list does not parse,
 * a fixed one is used, so that the header walk is always reached.
 *
 * Invariants checked: no crash, no leak, no read past the input; a list
 * that parses has at most HTTP_MAX_PROXIES entries, each of which contains
 * its own address; a client address found is an IPv4 or IPv6 address that
 * formats and parses back to itself; a failure leaves the output
 * untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum http_fwd_kind kind;
	struct http_proxies p;
	struct http_addr a, back, untouched;
	const char *lines[HTTP_MAX_FWD_LINES];
	size_t nlines = 0;
	char *text, *nl, *cur;
	char out[HTTP_ADDR_TEXT];
	struct rerr e;

	if (size < 1 || size > 16384)
		return 0;
	kind = (data[0] & 1) ? HTTP_FWD_FORWARDED : HTTP_FWD_XFF;
	/* Exact-size copy with its NUL, so that ASan sees any overread. */
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	if (http_proxies_parse(text, &p, &e) == 0) {
		if (p.n > HTTP_MAX_PROXIES)
			abort();
		for (size_t i = 0; i < p.n; i++)
			if ((p.v[i].a.len != 4 && p.v[i].a.len != 16) || p.v[i].bits > p.v[i].a.len * 8 ||
			    !http_proxies_contain(&p, &p.v[i].a))
				abort();
	} else if (http_proxies_parse("10.0.0.0/8, 192.0.2.7, ::1, 2001:db8::/32", &p, NULL) < 0) {
		abort();
	}

	for (cur = nl ? nl + 1 : NULL; cur && nlines < HTTP_MAX_FWD_LINES; cur = nl ? nl + 1 : NULL) {
		nl = strchr(cur, '\n');
		if (nl)
			*nl = '\0';
		lines[nlines++] = cur;
	}
	memset(&a, 0x5a, sizeof(a));
	untouched = a;
	if (http_forwarded_client(&p, kind, lines, nlines, &a, &e) == 0) {
		if (a.len != 4 && a.len != 16)
			abort();
		http_addr_format(&a, out, sizeof(out));
		if (http_addr_parse(out, strlen(out), &back) < 0 || back.len != a.len ||
		    memcmp(back.b, a.b, a.len) != 0)
			abort();
	} else if (memcmp(&a, &untouched, sizeof(a)) != 0) {
		abort();
	}
	free(text);
	return 0;
}
