/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * limits: what a client may send.  Requests per client address per minute
 * (fixed one-minute windows in a hashed table that forgets old windows),
 * the body size of each route (JSON, CSV import, or none for streaming
 * routes, whose upload callback enforces its own), how much of a refused
 * body is read and thrown away before the connection is closed, and the
 * Content-Type a buffered body must have.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/rtime.h"
#include "common/str.h"
#include "http/http_internal.h"

bool http_rate_allow_at(struct http_server *s, const char *addr, int64_t now_ms)
{
	int64_t window = now_ms / 60000;
	uint64_t h = hash_str(addr);
	struct rate_slot *slot;
	bool ok;

	if (s->lim.rate_per_minute == 0)
		return true;
	pthread_mutex_lock(&s->rate_lock);
	slot = &s->rate[h % HTTP_RATE_SLOTS];
	if (slot->window != window || strcmp(slot->addr, addr) != 0) {
		/* A colliding address takes the slot over only for a new window. */
		if (slot->window == window && slot->addr[0] && strcmp(slot->addr, addr) != 0) {
			pthread_mutex_unlock(&s->rate_lock);
			return true;
		}
		snprintf(slot->addr, sizeof(slot->addr), "%s", addr);
		slot->window = window;
		slot->count = 0;
	}
	ok = ++slot->count <= s->lim.rate_per_minute;
	pthread_mutex_unlock(&s->rate_lock);
	return ok;
}

bool http_rate_allow(struct http_server *s, const char *addr)
{
	return http_rate_allow_at(s, addr, rtime_now_ms());
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
