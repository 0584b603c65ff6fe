/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * limits: what a client may send.  Requests per client address per minute,
 * the framing of a request's body (RFC 9112 section 6: one unambiguous
 * length or none), the body size of each route (JSON, CSV import, or none
 * for streaming routes, whose upload callback enforces its own), how much
 * of a refused body is read and thrown away before the connection is
 * closed, and the Content-Type a buffered body must have.
 *
 * The rate table is bounded and never lets an address through unlimited:
 * addresses hash (SipHash with a key drawn at start, so that nobody can
 * aim at a set) into HTTP_RATE_SETS sets of HTTP_RATE_WAYS counters for
 * the current one-minute window.  An address that finds every counter of
 * its set taken by other addresses of this window shares the set's
 * overflow counter with every other such address: together they get one
 * address's budget, so a crowded set is limited harder, never less.
 */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http_internal.h"

_Static_assert(HTTP_RATE_KEY_BYTES == crypto_shorthash_KEYBYTES, "the rate key is a SipHash key");

size_t http_rate_set_of(const struct http_server *s, const char *addr)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)addr, strlen(addr), s->rate_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % HTTP_RATE_SETS);
}

bool http_rate_allow_at(struct http_server *s, const char *addr, int64_t now_ms)
{
	int64_t window = now_ms / 60000;
	struct rate_set *set;
	struct rate_slot *free_slot = NULL;
	unsigned *count = NULL;
	bool ok;

	if (s->lim.rate_per_minute == 0)
		return true;
	set = &s->rate[http_rate_set_of(s, addr)];
	pthread_mutex_lock(&s->rate_lock);
	for (size_t i = 0; i < HTTP_RATE_WAYS && !count; i++) {
		struct rate_slot *slot = &set->ways[i];

		if (!slot->addr[0] || slot->window != window)
			free_slot = free_slot ? free_slot : slot;   /* empty or stale: reusable */
		else if (strcmp(slot->addr, addr) == 0)
			count = &slot->count;
	}
	if (!count && free_slot) {
		str_copy(free_slot->addr, sizeof(free_slot->addr), addr);
		free_slot->window = window;
		free_slot->count = 0;
		count = &free_slot->count;
	}
	if (!count) {
		/* Every counter is another address's for this window: share the overflow. */
		if (set->overflow_window != window) {
			set->overflow_window = window;
			set->overflow = 0;
		}
		count = &set->overflow;
	}
	if (*count < UINT_MAX)
		++*count;
	ok = *count <= s->lim.rate_per_minute;
	pthread_mutex_unlock(&s->rate_lock);
	return ok;
}

bool http_rate_allow(struct http_server *s, const char *addr)
{
	return http_rate_allow_at(s, addr, rtime_now_ms());
}

/* True if @te is the single coding "chunked", in any case, with optional white space around. */
static bool http_te_is_chunked(const char *te)
{
	size_t n;

	te += strspn(te, " \t");
	n = strlen(te);
	while (n && (te[n - 1] == ' ' || te[n - 1] == '\t'))
		n--;
	return n == 7 && strncasecmp(te, "chunked", 7) == 0;
}

int http_framing_check(const char *te, unsigned n_te, unsigned n_cl, struct rerr *e)
{
	if (n_cl > 1)
		return rerr_set(e, ERR_INVALID, NULL, "a request may carry one Content-Length header");
	if (n_te > 1)
		return rerr_set(e, ERR_INVALID, NULL, "a request may carry one Transfer-Encoding header");
	if (n_te && n_cl)
		return rerr_set(e, ERR_INVALID, NULL,
				"Content-Length and Transfer-Encoding cannot be used together");
	if (n_te && !http_te_is_chunked(te ? te : ""))
		return rerr_set(e, ERR_INVALID, NULL,
				"the only Transfer-Encoding accepted is \"chunked\" alone");
	return 0;
}

struct http_framing {
	const char *te;
	unsigned n_te, n_cl;
};

static enum MHD_Result http_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
					   const char *value)
{
	struct http_framing *f = cls;

	(void)kind;
	if (strcasecmp(key, "Transfer-Encoding") == 0) {
		if (f->n_te++ == 0)
			f->te = value;
	} else if (strcasecmp(key, "Content-Length") == 0) {
		f->n_cl++;
	}
	return MHD_YES;
}

int http_conn_check_framing(struct MHD_Connection *conn, struct rerr *e)
{
	struct http_framing f = { 0 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_framing_header, &f);
	return http_framing_check(f.te, f.n_te, f.n_cl, e);
}

int http_req_limit_body(struct http_req *r, const char *content_length)
{
	int64_t n;

	if (r->route && (r->route->flags & HTTP_BODY_STREAM))
		r->body_limit = SIZE_MAX;   /* the upload callback enforces its own */
	else if (r->route)
		r->body_limit = (r->route->flags & HTTP_BODY_CSV) ? r->s->lim.max_import : r->s->lim.max_body;
	r->body.limit = r->body_limit ? r->body_limit : 1;
	if (!content_length)
		return 0;
	if (str_parse_i64(content_length, 0, INT64_MAX, &n) < 0)
		return ERR_INVALID;
	if ((uint64_t)n > r->body_limit)
		return ERR_TOO_LARGE;
	return 0;
}

bool http_req_discard(struct http_req *r, size_t n)
{
	r->discarded += n;
	return r->discarded <= HTTP_MAX_DISCARD;
}

static bool http_ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int http_req_check_body_type(struct http_req *r, struct http_resp *resp)
{
	const char *ct;
	unsigned f = r->route->flags;

	if (r->body.len == 0 || !(r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH)))
		return 0;
	ct = http_req_header(r, "Content-Type");
	if ((f & HTTP_BODY_CSV) ? !http_ctype_is(ct, "text/csv")
	    : (f & HTTP_BODY_SCIM) ? !(http_ctype_is(ct, "application/scim+json") ||
				       http_ctype_is(ct, "application/json"))
	    : !http_ctype_is(ct, "application/json"))
		return http_fail(resp, ERR_UNSUPPORTED, NULL, "Content-Type must be %s",
				 (f & HTTP_BODY_CSV) ? "text/csv" : "application/json");
	return 0;
}
