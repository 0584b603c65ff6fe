/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * metrics: what the layer counts, in Prometheus text.  Responses per route
 * pattern and status (never per raw path: paths carry secrets), a latency
 * histogram over all requests, the requests in flight, and the connections
 * open, refused and closed by conn.c.  Counters are
 * atomics updated on pool threads without a lock; a scrape reads each
 * counter once, so the figures of one scrape may be a request apart.
 */
#include "common/buf.h"
#include "http/http_internal.h"

/* Statuses counted per route for /metrics; the last slot counts the rest. */
static const int http_statuses[] = { 200, 201, 204, 302, 304, 400, 401, 403, 404, 405,
				     409, 413, 415, 429, 500, 503, 0 };
_Static_assert(sizeof(http_statuses) / sizeof(http_statuses[0]) == HTTP_NSTATUS,
	       "HTTP_NSTATUS is the size of http_statuses");

static const double http_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				       0.5, 1, 2.5, 5, 10 };
_Static_assert(sizeof(http_buckets) / sizeof(http_buckets[0]) == HTTP_NBUCKETS,
	       "HTTP_NBUCKETS is the size of http_buckets");

static size_t http_status_slot(int status)
{
	for (size_t i = 0; i + 1 < HTTP_NSTATUS; i++)
		if (http_statuses[i] == status)
			return i;
	return HTTP_NSTATUS - 1;
}

void http_metrics_record(struct http_server *s, struct route *rt, int status, int64_t dur_ns)
{
	double secs = (double)dur_ns / 1e9;
	size_t slot = http_status_slot(status);
	size_t b = 0;

	if (rt)
		atomic_fetch_add(&rt->counts[slot], 1);
	else
		atomic_fetch_add(&s->unmatched[slot], 1);
	while (b < HTTP_NBUCKETS && secs > http_buckets[b])
		b++;
	atomic_fetch_add(&s->lat_buckets[b], 1);
	atomic_fetch_add(&s->lat_count, 1);
	atomic_fetch_add(&s->lat_sum_us, (uint64_t)(dur_ns / 1000));
}

static void http_metrics_requests(struct http_server *s, struct buf *out)
{
	buf_puts(out, "# HELP rampart_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE rampart_http_requests_total counter\n");
	for (size_t i = 0; i <= s->nroutes; i++) {
		atomic_uint_fast64_t *counts = i < s->nroutes ? s->routes[i]->counts : s->unmatched;
		const char *pat = i < s->nroutes ? s->routes[i]->pattern : "unmatched";

		for (size_t k = 0; k < HTTP_NSTATUS; k++) {
			uint64_t v = atomic_load(&counts[k]);

			if (!v)
				continue;
			if (http_statuses[k])
				buf_printf(out, "rampart_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					   pat, http_statuses[k], (unsigned long long)v);
			else
				buf_printf(out, "rampart_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					   pat, (unsigned long long)v);
		}
	}
}

static void http_metrics_latency(struct http_server *s, struct buf *out)
{
	uint64_t cum = 0;

	buf_puts(out, "# HELP rampart_http_request_duration_seconds Time to answer a request.\n"
		      "# TYPE rampart_http_request_duration_seconds histogram\n");
	for (size_t b = 0; b < HTTP_NBUCKETS; b++) {
		cum += atomic_load(&s->lat_buckets[b]);
		buf_printf(out, "rampart_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			   http_buckets[b], (unsigned long long)cum);
	}
	cum += atomic_load(&s->lat_buckets[HTTP_NBUCKETS]);
	buf_printf(out, "rampart_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		   (unsigned long long)cum);
	buf_printf(out, "rampart_http_request_duration_seconds_sum %.6f\n",
		   (double)atomic_load(&s->lat_sum_us) / 1e6);
	buf_printf(out, "rampart_http_request_duration_seconds_count %llu\n",
		   (unsigned long long)atomic_load(&s->lat_count));
}

static void http_metrics_connections(struct http_server *s, struct buf *out)
{
	buf_printf(out, "# HELP rampart_http_connections_open Connections open.\n"
			"# TYPE rampart_http_connections_open gauge\nrampart_http_connections_open %d\n",
		   atomic_load(&s->conns.open));
	buf_printf(out, "# HELP rampart_http_connections_refused_total Connections refused because "
			"their address held max_connections_per_client.\n"
			"# TYPE rampart_http_connections_refused_total counter\n"
			"rampart_http_connections_refused_total %llu\n",
		   (unsigned long long)atomic_load(&s->conns.refused));
	buf_printf(out, "# HELP rampart_http_connections_closed_total Connections closed while waiting "
			"for a request head: past header_timeout, or to make room.\n"
			"# TYPE rampart_http_connections_closed_total counter\n"
			"rampart_http_connections_closed_total{reason=\"header_timeout\"} %llu\n"
			"rampart_http_connections_closed_total{reason=\"crowded\"} %llu\n",
		   (unsigned long long)atomic_load(&s->conns.header_timeouts),
		   (unsigned long long)atomic_load(&s->conns.evicted));
}

void http_server_metrics(struct http_server *s, struct buf *out)
{
	http_metrics_requests(s, out);
	http_metrics_latency(s, out);
	buf_printf(out, "# HELP rampart_http_requests_in_flight Requests being answered.\n"
			"# TYPE rampart_http_requests_in_flight gauge\nrampart_http_requests_in_flight %d\n",
		   atomic_load(&s->inflight));
	http_metrics_connections(s, out);
}
