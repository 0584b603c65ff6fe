/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eve: Suricata EVE JSON parser (see eve.h).  Invariants: nothing beyond
 * the documented limits is read or allocated; an accepted alert's addresses
 * are canonical inet_ntop text, its signature clean UTF-8 without control
 * characters, its severity and signature id in range.
 */
#include "endpoint/eve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"

/* Fills @e with @err and the message, prefixed with the line when there is one. */
static int eve_fail(struct rerr *e, int err, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int eve_fail(struct rerr *e, int err, size_t line, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (!e)
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		return rerr_set_at(e, err, (long long)line, "line", "line %zu: %s", line, msg);
	return rerr_set(e, err, NULL, "%s", msg);
}

int eve_addr_canon(const char *s, char out[EVE_ADDR_SIZE], int *ret_family)
{
	unsigned char bin[16];

	if (!s || strlen(s) >= EVE_ADDR_SIZE)
		return ERR_INVALID;
	if (inet_pton(AF_INET, s, bin) == 1) {
		if (!inet_ntop(AF_INET, bin, out, EVE_ADDR_SIZE))
			return ERR_INVALID;
		*ret_family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, bin) == 1) {
		/* An IPv4-mapped address (a dual-stack socket's view of an IPv4 peer) is that IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)bin)) {
			if (!inet_ntop(AF_INET, bin + 12, out, EVE_ADDR_SIZE))
				return ERR_INVALID;
			*ret_family = 4;
			return 0;
		}
		if (!inet_ntop(AF_INET6, bin, out, EVE_ADDR_SIZE))
			return ERR_INVALID;
		*ret_family = 6;
		return 0;
	}
	return ERR_INVALID;
}

int eve_parse_time(const char *s, int64_t *ret_ms)
{
	if (!s || strlen(s) > 40)
		return ERR_INVALID;
	return rtime_parse_flags(s, RTIME_OFFSET_BASIC | RTIME_EPOCH, ret_ms) == 0 ? 0 : ERR_INVALID;
}

/* Nesting depth of JSON text, brackets inside strings not counted; 0 when unbalanced or too deep. */
static bool eve_depth_ok(const char *s, size_t n, unsigned max)
{
	unsigned depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				return false;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return false;
			depth--;
		}
	}
	return true;
}

static bool eve_is_signature(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n > EVE_MAX_SIGNATURE || strlen(s) != n || !str_is_clean_utf8(s, n))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int eve_alert_read(const json_t *o, size_t line, struct eve_alert *a, struct rerr *e)
{
	const json_t *al = json_object_get(o, "alert"), *sid, *sev, *sig;
	const char *ts = json_string_value(json_object_get(o, "timestamp"));

	memset(a, 0, sizeof(*a));
	a->line = line;
	if (!ts || eve_parse_time(ts, &a->ts_ms) < 0)
		return eve_fail(e, ERR_INVALID, line, "timestamp must be an EVE time such as 2026-01-02T03:04:05.678901+0000");
	if (eve_addr_canon(json_string_value(json_object_get(o, "src_ip")), a->src_ip, &a->src_family) < 0)
		return eve_fail(e, ERR_INVALID, line, "src_ip must be an IPv4 or IPv6 address");
	if (eve_addr_canon(json_string_value(json_object_get(o, "dest_ip")), a->dest_ip, &a->dest_family) < 0)
		return eve_fail(e, ERR_INVALID, line, "dest_ip must be an IPv4 or IPv6 address");
	if (!json_is_object(al))
		return eve_fail(e, ERR_INVALID, line, "an alert event needs an \"alert\" object");
	sig = json_object_get(al, "signature");
	sid = json_object_get(al, "signature_id");
	sev = json_object_get(al, "severity");
	if (!eve_is_signature(sig))
		return eve_fail(e, ERR_INVALID, line, "alert.signature must be printable text of 1 to %d bytes",
				EVE_MAX_SIGNATURE);
	if (!json_is_integer(sid) || json_integer_value(sid) < 0 || json_integer_value(sid) > 0xffffffffLL)
		return eve_fail(e, ERR_INVALID, line, "alert.signature_id must be an integer from 0 to 4294967295");
	if (!json_is_integer(sev) || json_integer_value(sev) < 1 || json_integer_value(sev) > 255)
		return eve_fail(e, ERR_INVALID, line, "alert.severity must be an integer from 1 to 255");
	a->signature_id = json_integer_value(sid);
	a->severity = (int)json_integer_value(sev);
	memcpy(a->signature, json_string_value(sig), json_string_length(sig) + 1);
	return 0;
}

/* Parses one object (@n bytes at @s, line @line) into @b.  Returns 0 or an error. */
static int eve_object(const char *s, size_t n, size_t line, struct eve_batch *b, size_t cap, struct rerr *e)
{
	const char *type;
	json_error_t jerr;
	json_t *o;
	int r = 0;

	if (!eve_depth_ok(s, n, EVE_MAX_DEPTH))
		return eve_fail(e, ERR_INVALID, line, "nested deeper than %d levels or unbalanced", EVE_MAX_DEPTH);
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return eve_fail(e, ERR_INVALID, line, "malformed JSON at column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return eve_fail(e, ERR_INVALID, line, "an EVE event must be a JSON object");
	}
	type = json_string_value(json_object_get(o, "event_type"));
	b->events++;
	if (!type || json_string_length(json_object_get(o, "event_type")) == 0)
		r = eve_fail(e, ERR_INVALID, line, "event_type must be a string");
	else if (strcmp(type, "alert") != 0)
		b->ignored++;
	else if (b->n_alerts < cap)
		r = eve_alert_read(o, line, &b->alerts[b->n_alerts], e);
	else
		r = eve_fail(e, ERR_TOO_LARGE, line, "more than %d events", EVE_MAX_LINES);
	if (r == 0 && type && strcmp(type, "alert") == 0)
		b->n_alerts++;
	json_decref(o);
	return r;
}

static bool eve_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int eve_parse(const char *data, size_t len, struct eve_batch *ret, struct rerr *e)
{
	struct eve_batch b = { 0, 0, 0, NULL };
	size_t line = 0, pos = 0, cap = 0, objs = 0;
	bool first = true;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (len > EVE_MAX_BYTES)
		return eve_fail(e, ERR_TOO_LARGE, 0, "at most %zu bytes of EVE JSON in one request", EVE_MAX_BYTES);
	if (memchr(data, '\0', len))
		return eve_fail(e, ERR_INVALID, 0, "NUL bytes are not EVE JSON");
	/* Count the lines first so that the alert array is allocated once, bounded. */
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;

		if (!eve_blank(data + i, end - i))
			objs++;
		i = end + 1;
	}
	if (objs == 0)
		return eve_fail(e, ERR_INVALID, 0, "no EVE events; one JSON object per line is expected");
	if (objs > EVE_MAX_LINES)
		return eve_fail(e, ERR_TOO_LARGE, 0, "%zu events; at most %d in one request", objs, EVE_MAX_LINES);
	cap = objs < EVE_MAX_LINES ? objs : EVE_MAX_LINES;
	b.alerts = calloc(cap, sizeof(*b.alerts));
	if (!b.alerts)
		return -ENOMEM;
	while (pos < len && r == 0) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;

		line++;
		if (!eve_blank(data + pos, n)) {
			if (n > EVE_MAX_LINE) {
				r = eve_fail(e, ERR_TOO_LARGE, line, "longer than %zu bytes", EVE_MAX_LINE);
			} else if (b.events >= EVE_MAX_LINES) {
				r = eve_fail(e, ERR_TOO_LARGE, line, "more than %d events in one request", EVE_MAX_LINES);
			} else {
				r = eve_object(data + pos, n, line, &b, cap, e);
				/*
				 * A pretty-printed single object: its first line is not JSON
				 * by itself, but the whole input is one object.
				 */
				if (r == ERR_INVALID && first && objs > 1 && len <= EVE_MAX_LINE) {
					struct eve_batch one = { 0, 0, 0, b.alerts };
					struct rerr e1;

					if (eve_object(data, len, 1, &one, 1, &e1) == 0) {
						b = one;
						r = 0;
						break;
					}
				}
			}
			first = false;
		}
		pos = end + 1;
	}
	if (r < 0) {
		free(b.alerts);
		return r;
	}
	*ret = b;
	return 0;
}

void eve_batch_done(struct eve_batch *b)
{
	if (!b)
		return;
	free(b->alerts);
	memset(b, 0, sizeof(*b));
}
