/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * metrics: what the layer counts, in Prometheus text.  Responses per route
 * pattern and status (never per raw path: paths carry secrets), and per
 * method too where a pattern is registered for several methods, a latency
 * histogram over all requests, the requests in flight, and the connections
 * open, refused and closed by conn.c.  Counters are atomics updated on pool
 * threads without a lock; a scrape reads each counter once, so the figures
 * of one scrape may be a request apart.
 *
 * Invariant: every series (name and labels) appears once in a scrape:
 * routes that share a pattern are summed into the pattern's series.
 */
#include <stdio.h>
#include <string.h>

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

/* The index of @m's bit (0 for GET ... 5 for HEAD), or -1 when it is no single known method. */
static int http_method_index(unsigned m)
{
	for (int i = 0; i < HTTP_NMETHODS; i++)
		if (m == 1u << i)
			return i;
	return -1;
}

_Static_assert(HTTP_HEAD == 1 << (HTTP_NMETHODS - 1), "HTTP_NMETHODS covers every method bit");

void http_metrics_record(struct http_server *s, struct route *rt, enum http_method method,
			 int status, int64_t dur_ns)
{
	double secs = (double)dur_ns / 1e9;
	size_t slot = http_status_slot(status);
	int mi = http_method_index(method);
	size_t b = 0;

	if (rt && mi >= 0)
		atomic_fetch_add(&rt->counts[mi][slot], 1);
	else if (!rt)
		atomic_fetch_add(&s->unmatched[slot], 1);
	while (b < HTTP_NBUCKETS && secs > http_buckets[b])
		b++;
	atomic_fetch_add(&s->lat_buckets[b], 1);
	atomic_fetch_add(&s->lat_count, 1);
	atomic_fetch_add(&s->lat_sum_us, (uint64_t)(dur_ns / 1000));
}

/* Writes one sample of rampart_http_requests_total; @method NULL for none. */
static void http_metrics_sample(struct buf *out, const char *pat, const char *method, size_t k,
				uint64_t v)
{
	char status[16];

	if (http_statuses[k])
		snprintf(status, sizeof(status), "%d", http_statuses[k]);
	else
		snprintf(status, sizeof(status), "other");
	if (method)
		buf_printf(out, "rampart_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
			   pat, method, status, (unsigned long long)v);
	else
		buf_printf(out, "rampart_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n", pat,
			   status, (unsigned long long)v);
}

/*
 * The samples of the pattern of route @first, summed over every route with
 * that pattern; with a method label when they are registered for more than
 * one method between them.
 */
static void http_metrics_pattern(struct http_server *s, size_t first, struct buf *out)
{
	const char *pat = s->routes[first]->pattern;
	uint64_t sum[HTTP_NMETHODS][HTTP_NSTATUS] = { { 0 } };
	unsigned methods = 0;
	bool labelled;

	for (size_t i = first; i < s->nroutes; i++) {
		if (strcmp(s->routes[i]->pattern, pat) != 0)
			continue;
		methods |= s->routes[i]->methods;
		for (size_t m = 0; m < HTTP_NMETHODS; m++)
			for (size_t k = 0; k < HTTP_NSTATUS; k++)
				sum[m][k] += atomic_load(&s->routes[i]->counts[m][k]);
	}
	labelled = (methods & (methods - 1)) != 0;
	for (size_t k = 0; k < HTTP_NSTATUS; k++) {
		uint64_t all = 0;

		for (size_t m = 0; m < HTTP_NMETHODS; m++) {
			all += sum[m][k];
			if (labelled && sum[m][k])
				http_metrics_sample(out, pat, http_method_name(1u << m), k, sum[m][k]);
		}
		if (!labelled && all)
			http_metrics_sample(out, pat, NULL, k, all);
	}
}

static void http_metrics_requests(struct http_server *s, struct buf *out)
{
	buf_puts(out, "# HELP rampart_http_requests_total HTTP requests by route, method (where a "
		      "route has several) and status.\n"
		      "# TYPE rampart_http_requests_total counter\n");
	for (size_t i = 0; i < s->nroutes; i++) {
		size_t j = 0;

		while (j < i && strcmp(s->routes[j]->pattern, s->routes[i]->pattern) != 0)
			j++;
		if (j == i)   /* the pattern's first route: it writes them all */
			http_metrics_pattern(s, i, out);
	}
	for (size_t k = 0; k < HTTP_NSTATUS; k++) {
		uint64_t v = atomic_load(&s->unmatched[k]);

		if (v)
			http_metrics_sample(out, "unmatched", NULL, k, v);
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
