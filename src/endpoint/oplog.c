/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog: the parser of operation-log batches (see oplog.h).  Pure: no
 * store, no HTTP, so that it is fuzzed (fuzz/fuzz_oplog.c) and tested on
 * its own; oplog_store.c stores and searches what it accepted,
 * oplog_http.c answers the routes.
 *
 * Invariants: every event of an accepted batch has a known kind, only that
 * kind's fields, each within its bounds, and a seq above the event's
 * before it; on refusal nothing is kept and @e names the event and field.
 */
#include "endpoint/oplog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jsonx.h"

/* ---------------------------------------------------------------- batch parser */

enum oplog_ftype {
	F_STR,      /* printable text, 1..OPLOG_MAX_STR bytes */
	F_OPTSTR,   /* printable text, 0..OPLOG_MAX_STR bytes */
	F_PATH,     /* any text without NUL, 1..OPLOG_MAX_PATH bytes */
	F_UINT32,   /* 0..4294967295 */
	F_SIZE,     /* 0..2^62 */
	F_BOOL,
	F_ARGV,     /* array of at most OPLOG_MAX_ARGV texts of 0..OPLOG_MAX_PATH bytes */
	F_ACTION,   /* "allowed", "blocked" or "reported" */
};

struct oplog_field {
	const char *name;
	enum oplog_ftype type;
	bool required;
};

struct oplog_kind {
	const char *name;
	const struct oplog_field *fields;   /* { NULL }-terminated */
};

static const struct oplog_field f_exec[] = {
	{ "pid", F_UINT32, true }, { "ppid", F_UINT32, true }, { "uid", F_UINT32, true },
	{ "user", F_STR, true }, { "path", F_PATH, true }, { "argv", F_ARGV, true },
	{ "cwd", F_PATH, false }, { NULL, 0, false },
};
static const struct oplog_field f_session[] = {
	{ "user", F_STR, true }, { "tty", F_OPTSTR, false }, { "host", F_OPTSTR, false },
	{ "session", F_OPTSTR, false }, { NULL, 0, false },
};
static const struct oplog_field f_usb_insert[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ "name", F_OPTSTR, false }, { "storage", F_BOOL, true }, { "action", F_ACTION, true },
	{ NULL, 0, false },
};
static const struct oplog_field f_usb_remove[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ NULL, 0, false },
};
static const struct oplog_field f_usb_block[] = {
	{ "vendor", F_STR, true }, { "product", F_STR, true }, { "serial", F_OPTSTR, false },
	{ "name", F_OPTSTR, false }, { NULL, 0, false },
};
static const struct oplog_field f_file_write[] = {
	{ "path", F_PATH, true }, { "device", F_STR, true }, { "size", F_SIZE, false },
	{ "user", F_STR, false }, { NULL, 0, false },
};

static const struct oplog_kind oplog_kinds[] = {
	{ "exec", f_exec },
	{ "login", f_session },
	{ "logout", f_session },
	{ "usb_insert", f_usb_insert },
	{ "usb_remove", f_usb_remove },
	{ "usb_block", f_usb_block },
	{ "file_write", f_file_write },
};


static const struct oplog_kind *oplog_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(oplog_kinds) / sizeof(oplog_kinds[0]); i++)
		if (strcmp(oplog_kinds[i].name, name) == 0)
			return &oplog_kinds[i];
	return NULL;
}

bool oplog_kind_is_known(const char *kind)
{
	return kind && oplog_kind_find(kind);
}

/* Valid UTF-8 (jsonx checked it) without control characters. */
static bool oplog_is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int oplog_fail(struct rerr *e, size_t i, const char *field, const char *what)
{
	char name[64];

	if (field)
		snprintf(name, sizeof(name), "events[%zu].%s", i, field);
	else
		snprintf(name, sizeof(name), "events[%zu]", i);
	return jsonx_fail(e, name, "%s: %s", name, what);
}

static int oplog_check_field(const json_t *v, const struct oplog_field *f, size_t i, struct rerr *e)
{
	const json_t *it;
	size_t n, k;

	switch (f->type) {
	case F_STR:
	case F_OPTSTR:
		if (!json_is_string(v))
			return oplog_fail(e, i, f->name, "must be a string");
		n = json_string_length(v);
		if (n > OPLOG_MAX_STR || (f->type == F_STR && n == 0))
			return oplog_fail(e, i, f->name, f->type == F_STR ? "must be 1 to 256 bytes"
									 : "must be at most 256 bytes");
		if (!oplog_is_printable(json_string_value(v), n))
			return oplog_fail(e, i, f->name, "must not contain control characters");
		return 0;
	case F_PATH:
		if (!json_is_string(v))
			return oplog_fail(e, i, f->name, "must be a string");
		n = json_string_length(v);
		if (n == 0 || n > OPLOG_MAX_PATH || memchr(json_string_value(v), '\0', n))
			return oplog_fail(e, i, f->name, "must be 1 to 4096 bytes");
		return 0;
	case F_UINT32:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
			return oplog_fail(e, i, f->name, "must be a whole number from 0 to 4294967295");
		return 0;
	case F_SIZE:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((json_int_t)1 << 62))
			return oplog_fail(e, i, f->name, "must be a whole number of bytes");
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return oplog_fail(e, i, f->name, "must be true or false");
		return 0;
	case F_ACTION:
		if (!json_is_string(v) || (strcmp(json_string_value(v), "allowed") != 0 &&
					   strcmp(json_string_value(v), "blocked") != 0 &&
					   strcmp(json_string_value(v), "reported") != 0))
			return oplog_fail(e, i, f->name, "must be allowed, blocked or reported");
		return 0;
	case F_ARGV:
		if (!json_is_array(v) || json_array_size(v) > OPLOG_MAX_ARGV)
			return oplog_fail(e, i, f->name, "must be an array of at most 256 strings");
		json_array_foreach(v, k, it) {
			n = json_string_length(it);
			if (!json_is_string(it) || n > OPLOG_MAX_PATH || memchr(json_string_value(it), '\0', n))
				return oplog_fail(e, i, f->name, "items must be strings of at most 4096 bytes");
		}
		return 0;
	}
	return oplog_fail(e, i, f->name, "is not understood");
}

/* Checks event @i and fills @ev (data is a new object).  Returns 0, -ENOMEM or ERR_INVALID. */
static int oplog_event_check(const json_t *v, size_t i, int64_t prev_seq, struct oplog_event *ev,
			     struct rerr *e)
{
	const struct oplog_kind *k;
	const struct oplog_field *f;
	const json_t *seq, *ts, *kind, *fv;
	const char *key;
	json_t *data;

	if (!json_is_object(v))
		return oplog_fail(e, i, NULL, "must be an object");
	seq = json_object_get(v, "seq");
	ts = json_object_get(v, "ts");
	kind = json_object_get(v, "kind");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || json_integer_value(seq) > OPLOG_MAX_SEQ)
		return oplog_fail(e, i, "seq", "must be a whole number from 1 to 2^53-1");
	if (json_integer_value(seq) <= prev_seq)
		return oplog_fail(e, i, "seq", "must be greater than the seq of the event before it");
	if (!json_is_integer(ts) || json_integer_value(ts) < 0 || json_integer_value(ts) > OPLOG_MAX_TS)
		return oplog_fail(e, i, "ts", "must be a time in Unix milliseconds");
	if (!json_is_string(kind))
		return oplog_fail(e, i, "kind", "must be one of " OPLOG_KIND_LIST);
	k = oplog_kind_find(json_string_value(kind));
	if (!k)
		return oplog_fail(e, i, "kind", "unknown kind; must be " OPLOG_KIND_LIST);
	/* Every key must be a field of the kind (or seq, ts, kind). */
	json_object_foreach((json_t *)v, key, fv) {
		bool known = strcmp(key, "seq") == 0 || strcmp(key, "ts") == 0 || strcmp(key, "kind") == 0;

		for (f = k->fields; !known && f->name; f++)
			known = strcmp(f->name, key) == 0;
		if (!known) {
			char what[64];

			snprintf(what, sizeof(what), "%s events have no field '%.24s'", k->name, key);
			return oplog_fail(e, i, NULL, what);
		}
	}
	for (f = k->fields; f->name; f++) {
		fv = json_object_get(v, f->name);
		if (!fv || json_is_null(fv)) {
			if (f->required)
				return oplog_fail(e, i, f->name, "is required");
			continue;
		}
		if (oplog_check_field(fv, f, i, e) < 0)
			return ERR_INVALID;
	}
	data = json_object();
	if (!data)
		return -ENOMEM;
	for (f = k->fields; f->name; f++) {
		fv = json_object_get(v, f->name);
		if (!fv || json_is_null(fv) || strcmp(f->name, "user") == 0)
			continue;
		if (json_object_set(data, f->name, (json_t *)fv) < 0) {
			json_decref(data);
			return -ENOMEM;
		}
	}
	ev->seq = json_integer_value(seq);
	ev->ts = json_integer_value(ts);
	ev->kind = k->name;
	ev->user = json_string_value(json_object_get(v, "user"));
	ev->data = data;
	return 0;
}

int oplog_batch_check(const json_t *body, struct oplog_batch *b, struct rerr *e)
{
	const json_t *events, *v;
	struct oplog_batch out = { 0, NULL };
	int64_t prev = 0;
	const char *key;
	size_t i;
	int r;

	*b = out;
	if (!json_is_object(body))
		return jsonx_fail(e, NULL, "the batch must be a JSON object {\"events\": [...]}");
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "events") != 0)
			return jsonx_fail(e, key, "unknown field '%.64s'; a batch has only \"events\"", key);
	events = json_object_get(body, "events");
	if (!json_is_array(events))
		return jsonx_fail(e, "events", "events must be an array");
	if (json_array_size(events) > OPLOG_MAX_EVENTS)
		return jsonx_fail(e, "events", "a batch has at most %d events", OPLOG_MAX_EVENTS);
	if (json_array_size(events) > 0) {
		out.events = calloc(json_array_size(events), sizeof(*out.events));
		if (!out.events)
			return -ENOMEM;
	}
	json_array_foreach(events, i, v) {
		r = oplog_event_check(v, i, prev, &out.events[out.n], e);
		if (r < 0) {
			oplog_batch_done(&out);
			return r;
		}
		prev = out.events[out.n].seq;
		out.n++;
	}
	*b = out;
	return 0;
}

int oplog_batch_parse(const char *data, size_t len, json_t **ret_root, struct oplog_batch *b,
		      struct rerr *e)
{
	json_t *root = NULL;
	int r;

	b->n = 0;
	b->events = NULL;
	if (len > OPLOG_MAX_BODY) {
		jsonx_fail(e, NULL, "a batch is at most 1 MiB");
		return ERR_TOO_LARGE;
	}
	r = jsonx_parse_object(data, len, JSONX_MAX_DEPTH, &root, e);
	if (r < 0)
		return r;
	r = oplog_batch_check(root, b, e);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*ret_root = root;
	return 0;
}

void oplog_batch_done(struct oplog_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->events[i].data);
	free(b->events);
	b->n = 0;
	b->events = NULL;
}

int oplog_batch_check_time(const struct oplog_batch *b, int64_t now_ms, struct rerr *e)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->events[i].ts > now_ms + OPLOG_MAX_SKEW_MS)
			return oplog_fail(e, i, "ts", "is more than an hour ahead of the server's clock");
	return 0;
}
