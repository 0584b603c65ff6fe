/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * conn: what one connection, and one client address, may hold.
 *
 *   - At most max_per_client connections per socket peer address; trusted
 *     proxies are exempt, since every client behind one shares its address.
 *     Refused connections are closed as soon as they are accepted.
 *   - A deadline for a request's head: a connection must deliver the
 *     complete head of its next request within header_timeout seconds of
 *     being accepted or of its previous answer being sent, however slowly
 *     it trickles bytes meanwhile, or it is closed.  That bounds idle
 *     keep-alive connections too.  Bodies and answers are bounded by
 *     libmicrohttpd's inactivity timeout instead (60 s, server.c).
 *   - Room for a new client: when more than 7/8 of max_connections are
 *     open, a new connection closes the connections that have waited
 *     longest for a request head (idle keep-alive ones, or ones that never
 *     sent anything), never one whose request is under way.  So idle
 *     connections from many addresses cannot fill the server either.
 *
 * libmicrohttpd 0.9.75 has neither: its connection timeout is reset by
 * every byte (a client sending one header byte every 59 s is never cut),
 * and its per-IP limit cannot exempt a proxy.  So connections are tracked
 * here through MHD_OPTION_NOTIFY_CONNECTION.  A connection waiting for a
 * head sits in a list ordered by deadline (every deadline is now plus the
 * same timeout, so appending keeps the order); a sweeper thread shuts the
 * socket down (shutdown(2)) once the deadline passes, and libmicrohttpd,
 * reading the end of the stream, closes the connection.
 *
 * Invariant: the lock is held across each shutdown, and the close
 * notification, which libmicrohttpd sends before it closes the socket,
 * takes the lock to unlink the connection; so a descriptor is never shut
 * down after it was closed and reused.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "http/http_internal.h"

/* One accepted connection, in libmicrohttpd's socket context. */
struct http_conn {
	struct http_conn *prev, *next;   /* in the waiting list while @waiting */
	struct http_peer *peer;          /* the address it counts against; NULL when exempt */
	int64_t deadline_ms;             /* monotonic */
	int fd;
	bool waiting;
	bool cut;                        /* shut down already */
};

/* The connections open from one address. */
struct http_peer {
	struct http_peer *next;          /* in its bucket */
	struct http_addr a;
	unsigned n;
};

static int64_t http_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- addresses */

static struct http_peer **http_peer_bucket(struct http_conns *c, const struct http_addr *a)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)a, sizeof(*a), c->key);
	memcpy(&v, h, sizeof(v));
	return &c->buckets[v & (c->nbuckets - 1)];
}

/* The count of @a, or NULL when it has no connection (lock held). */
static struct http_peer *http_peer_find(struct http_conns *c, const struct http_addr *a)
{
	for (struct http_peer *p = *http_peer_bucket(c, a); p; p = p->next)
		if (p->a.len == a->len && memcmp(p->a.b, a->b, a->len) == 0)
			return p;
	return NULL;
}

/* Counts one more connection from @a (lock held).  Returns its count, or NULL when out of memory. */
static struct http_peer *http_peer_add(struct http_conns *c, const struct http_addr *a)
{
	struct http_peer *p = http_peer_find(c, a), **b;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->a = *a;
		b = http_peer_bucket(c, a);
		p->next = *b;
		*b = p;
	}
	p->n++;
	return p;
}

/* Counts one connection fewer against @p, and forgets it at zero (lock held). */
static void http_peer_drop(struct http_conns *c, struct http_peer *p)
{
	struct http_peer **b;

	if (--p->n)
		return;
	for (b = http_peer_bucket(c, &p->a); *b != p; b = &(*b)->next)
		;
	*b = p->next;
	free(p);
}

/* ---------------------------------------------------------------- the waiting list */

static void http_wait_unlink(struct http_conns *c, struct http_conn *hc)
{
	if (!hc->waiting)
		return;
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		c->head = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	else
		c->tail = hc->prev;
	hc->prev = hc->next = NULL;
	hc->waiting = false;
}

/* Starts @hc's deadline for a request head (lock held). */
static void http_wait_append(struct http_conns *c, struct http_conn *hc, unsigned timeout_s)
{
	if (hc->waiting || hc->cut || !timeout_s)
		return;
	hc->deadline_ms = http_mono_ms() + (int64_t)timeout_s * 1000;
	hc->prev = c->tail;
	hc->next = NULL;
	if (c->tail)
		c->tail->next = hc;
	else
		c->head = hc;
	c->tail = hc;
	hc->waiting = true;
	if (c->head == hc)
		pthread_cond_signal(&c->wake);   /* the sweeper was waiting for anything at all */
}

/* Shuts @hc down: libmicrohttpd reads the end of the stream and closes it (lock held). */
static void http_conn_cut(struct http_conns *c, struct http_conn *hc)
{
	if (hc->cut)
		return;
	hc->cut = true;
	c->live--;
	shutdown(hc->fd, SHUT_RDWR);
}

/* Closes the connections that have waited longest until @c has room, sparing @hc (lock held). */
static void http_conns_make_room(struct http_server *s, struct http_conn *hc)
{
	struct http_conns *c = &s->conns;
	unsigned high = s->lim.max_connections - s->lim.max_connections / 8;

	while (c->live > high && c->head && c->head != hc) {
		struct http_conn *old = c->head;

		http_wait_unlink(c, old);
		http_conn_cut(c, old);
		atomic_fetch_add(&c->evicted, 1);
	}
}

static void *http_sweeper(void *arg)
{
	struct http_server *s = arg;
	struct http_conns *c = &s->conns;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		int64_t now = http_mono_ms();

		while (c->head && c->head->deadline_ms <= now) {
			struct http_conn *hc = c->head;

			http_wait_unlink(c, hc);
			if (!hc->cut) {
				http_conn_cut(c, hc);
				atomic_fetch_add(&c->header_timeouts, 1);
			}
		}
		if (c->head) {
			struct timespec ts = {
				.tv_sec = (time_t)(c->head->deadline_ms / 1000),
				.tv_nsec = (long)(c->head->deadline_ms % 1000) * 1000000L,
			};

			pthread_cond_timedwait(&c->wake, &c->lock, &ts);
		} else {
			pthread_cond_wait(&c->wake, &c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

int http_conns_init(struct http_server *s)
{
	struct http_conns *c = &s->conns;
	pthread_condattr_t attr;
	size_t n = 64;

	while (n < s->lim.max_connections && n < ((size_t)1 << 20))
		n <<= 1;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (!c->buckets)
		return -ENOMEM;
	c->nbuckets = n;
	randombytes_buf(c->key, sizeof(c->key));
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

int http_conns_start(struct http_server *s)
{
	struct http_conns *c = &s->conns;

	if (!s->lim.header_timeout_s || c->running)
		return 0;
	c->stop = false;
	if (pthread_create(&c->sweeper, NULL, http_sweeper, s) != 0)
		return -EAGAIN;
	c->running = true;
	return 0;
}

void http_conns_stop(struct http_server *s)
{
	struct http_conns *c = &s->conns;

	if (!c->running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->sweeper, NULL);
	c->running = false;
}

void http_conns_done(struct http_server *s)
{
	struct http_conns *c = &s->conns;

	if (!c->buckets)
		return;
	http_conns_stop(s);
	/* Stopped: libmicrohttpd has closed every connection, so every count is gone. */
	for (size_t i = 0; i < c->nbuckets; i++)
		while (c->buckets[i]) {
			struct http_peer *p = c->buckets[i];

			c->buckets[i] = p->next;
			free(p);
		}
	free(c->buckets);
	c->buckets = NULL;
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

/* ---------------------------------------------------------------- libmicrohttpd's callbacks */

/* True if connections from @a are limited: a limit is set and @a is no trusted proxy. */
static bool http_conn_is_limited(struct http_server *s, const struct http_addr *a)
{
	return s->lim.max_per_client && !http_proxies_contain(&s->proxies, a);
}

enum MHD_Result http_mhd_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *s = cls;
	struct http_addr a;
	struct http_peer *p;
	unsigned n;

	(void)addrlen;
	if (!http_addr_from_sockaddr(addr, &a) || !http_conn_is_limited(s, &a))
		return MHD_YES;
	pthread_mutex_lock(&s->conns.lock);
	p = http_peer_find(&s->conns, &a);
	n = p ? p->n : 0;
	pthread_mutex_unlock(&s->conns.lock);
	if (n < s->lim.max_per_client)
		return MHD_YES;
	atomic_fetch_add(&s->conns.refused, 1);
	return MHD_NO;
}

/* A new connection: counted against its address and given its first deadline. */
static void http_conn_started(struct http_server *s, struct MHD_Connection *conn, void **socket_context)
{
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct http_conns *c = &s->conns;
	struct http_conn *hc;
	struct http_addr a;

	*socket_context = NULL;
	hc = calloc(1, sizeof(*hc));
	if (!hc || !fd) {
		free(hc);
		return;   /* out of memory: served, untracked */
	}
	hc->fd = fd->connect_fd;
	atomic_fetch_add(&c->open, 1);
	pthread_mutex_lock(&c->lock);
	c->live++;
	if (ci && http_addr_from_sockaddr(ci->client_addr, &a) && http_conn_is_limited(s, &a)) {
		hc->peer = http_peer_add(c, &a);
		if (hc->peer && hc->peer->n > s->lim.max_per_client) {
			/* Accepted by another thread at the same time as the last one allowed. */
			http_conn_cut(c, hc);
			atomic_fetch_add(&c->refused, 1);
		}
	}
	http_wait_append(c, hc, s->lim.header_timeout_s);
	if (!hc->cut)
		http_conns_make_room(s, hc);
	pthread_mutex_unlock(&c->lock);
	*socket_context = hc;
}

static void http_conn_closed(struct http_server *s, void **socket_context)
{
	struct http_conns *c = &s->conns;
	struct http_conn *hc = *socket_context;

	if (!hc)
		return;
	pthread_mutex_lock(&c->lock);
	http_wait_unlink(c, hc);
	if (!hc->cut)
		c->live--;
	if (hc->peer)
		http_peer_drop(c, hc->peer);
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_sub(&c->open, 1);
	free(hc);
	*socket_context = NULL;
}

void http_mhd_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			 enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		http_conn_started(cls, conn, socket_context);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		http_conn_closed(cls, socket_context);
}

/* The tracked state of @conn, or NULL. */
static struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_conn_head_received(struct http_server *s, struct MHD_Connection *conn)
{
	struct http_conn *hc = http_conn_of(conn);

	if (!hc)
		return;
	pthread_mutex_lock(&s->conns.lock);
	http_wait_unlink(&s->conns, hc);
	pthread_mutex_unlock(&s->conns.lock);
}

void http_conn_answered(struct http_server *s, struct MHD_Connection *conn)
{
	struct http_conn *hc = http_conn_of(conn);

	if (!hc)
		return;
	pthread_mutex_lock(&s->conns.lock);
	http_wait_append(&s->conns, hc, s->lim.header_timeout_s);
	pthread_mutex_unlock(&s->conns.lock);
}
