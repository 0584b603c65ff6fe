/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * events: the way out of the operation-log buffer (oplog.h, in
 * STATE_DIR/events): `rampart-agent events [--json]` shows what is
 * buffered as it would be sent, and agent_events_send (called by `run`)
 * POSTs it in batches to /api/v1/endpoint/events, signed like the check-in.
 *
 * Invariants: a batch holds at most AGENT_EVENTS_BATCH events and
 * A_EVENTS_BYTES of JSON (the server's limits, with room for the
 * envelope); the buffer drops only what the answer's accepted_through
 * covers, so an unreachable server or a crash loses nothing acknowledged;
 * an event the server refuses on its own (400 or 413 for a batch of one)
 * is reported and dropped, so that it cannot hold back those after it.
 * `events` opens the buffer read-only and changes nothing.
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "agent/oplog.h"
#include "common/err.h"
#include "common/rtime.h"

#define A_EVENTS_BYTES ((size_t)1000 << 10)   /* the server takes 1 MiB per batch, with room for the envelope */

int agent_events_dir(const struct agent_opts *o, char *out, size_t size)
{
	return agent_path(out, size, o->state_dir, "events");
}

static json_t *a_stats_json(const struct oplog_stats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "next_seq", (json_int_t)st->next_seq,
			 "acked_through", (json_int_t)st->acked_through, "pending", (json_int_t)st->pending,
			 "dropped", (json_int_t)st->dropped, "bytes", (json_int_t)st->bytes, "max_bytes",
			 (json_int_t)st->max_bytes, "segments", (json_int_t)st->segments, "torn_bytes",
			 (json_int_t)st->torn_bytes);
}

/* The text form: a summary line, then "SEQ TIME KIND {other fields}" per event. */
static void a_events_print(const struct oplog_stats *st, const json_t *events)
{
	json_t *ev;
	size_t i;

	printf("%lld events buffered (%llu of %llu bytes), %lld dropped when the buffer was full, next seq %lld\n",
	       (long long)st->pending, (unsigned long long)st->bytes, (unsigned long long)st->max_bytes,
	       (long long)st->dropped, (long long)st->next_seq);
	json_array_foreach(events, i, ev) {
		char when[64], *rest;
		json_t *copy = json_copy(ev);

		json_object_del(copy, "seq");
		json_object_del(copy, "ts");
		json_object_del(copy, "kind");
		rest = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%lld %s %s %s\n", (long long)json_integer_value(json_object_get(ev, "seq")),
		       rtime_format(when, sizeof(when), json_integer_value(json_object_get(ev, "ts"))),
		       json_string_value(json_object_get(ev, "kind")), rest ? rest : "");
		free(rest);
		json_decref(copy);
	}
}

int agent_cmd_events(const struct agent_opts *o)
{
	struct oplog_opts oo = { .max_bytes = o->buffer_max, .read_only = true };
	struct oplog_stats st;
	struct oplog *ol = NULL;
	json_t *events = NULL;
	char dir[AGENT_PATH];
	int64_t last;
	int r;

	r = agent_events_dir(o, dir, sizeof(dir));
	if (r == 0)
		r = oplog_open(dir, &oo, &ol);
	if (r == -ENOENT) {
		if (o->json)
			puts("{\"buffer\": null, \"events\": []}");
		else
			puts("no events buffered");
		return 0;
	}
	if (r == 0)
		r = oplog_read(ol, SIZE_MAX, SIZE_MAX, &events, &last);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot read the event buffer in %s: %s\n", dir, err_str(r));
		oplog_close(ol);
		return 1;
	}
	oplog_stats(ol, &st);
	if (o->json) {
		json_t *out = json_pack("{s:o, s:O}", "buffer", a_stats_json(&st), "events", events);

		r = out ? agent_print_json(out) : -ENOMEM;
		json_decref(out);
	} else {
		a_events_print(&st, events);
	}
	json_decref(events);
	oplog_close(ol);
	return r < 0 ? 1 : 0;
}

/*
 * Sends one batch (the JSON array @batch, stolen) and adapts to the answer.
 * Returns 0 to go on, or an error to stop (the events not accepted stay).
 */
static int a_events_send_batch(const struct agent_opts *o, struct oplog *ol, size_t *batch_max, json_t *batch,
			       int64_t last, const char *server, const char *did, const unsigned char *sk)
{
	json_t *body, *ans = NULL;
	int64_t through;
	long status = 0;
	char *text;
	int r;

	body = json_pack("{s:o}", "events", batch);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return -ENOMEM;
	r = server ? agent_post_child(o, server, "/api/v1/endpoint/events", text, did, sk, &status, &ans)
		   : ERR_INVALID;
	free(text);
	if (r == 0 && status == 200 && json_is_integer(json_object_get(ans, "accepted_through"))) {
		through = (int64_t)json_integer_value(json_object_get(ans, "accepted_through"));
		r = oplog_drop_through(ol, through);
		if (r == 0 && through < last)
			r = -EAGAIN;   /* the server holds less than it was sent: try again later */
		if (*batch_max < AGENT_EVENTS_BATCH)
			*batch_max *= 2;
	} else if (r == 0 && (status == 400 || status == 413) && *batch_max > 1) {
		/* One bad event (or a server with a smaller body limit) must not stop the others. */
		*batch_max /= 2;
	} else if (r == 0 && (status == 400 || status == 413)) {
		agent_print_error(status, ans);
		fprintf(stderr, "rampart-agent: the server refused event %lld; it is dropped\n", (long long)last);
		r = oplog_drop_through(ol, last);
	} else if (r == 0) {
		agent_print_error(status, ans);
		r = -EACCES;
	}
	json_decref(ans);
	return r;
}

int agent_events_send(const struct agent_opts *o, struct oplog *ol, size_t *batch_max)
{
	unsigned char *sk = sodium_malloc(DEVSIG_SK_BYTES);
	json_t *state = NULL;
	const char *did, *server;
	int r;

	if (!sk)
		return -ENOMEM;
	r = agent_device_load(o, &state, sk);
	if (r < 0) {
		sodium_free(sk);
		return 0;   /* not enrolled yet: the events wait */
	}
	did = json_string_value(json_object_get(state, "device_id"));
	server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	for (int rounds = 0; r == 0 && rounds < 100 && !agent_stopping(); rounds++) {
		json_t *batch = NULL;
		int64_t last = 0;

		r = oplog_read(ol, *batch_max, A_EVENTS_BYTES, &batch, &last);
		if (r < 0 || json_array_size(batch) == 0) {
			json_decref(batch);
			break;
		}
		r = a_events_send_batch(o, ol, batch_max, batch, last, server, did, sk);
	}
	sodium_free(sk);
	json_decref(state);
	return r;
}
