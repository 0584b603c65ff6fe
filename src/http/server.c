/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * server: the lifecycle of an HTTP server.  Created with its limits, given
 * routes and an authenticator, bound (the socket is ours until started),
 * started (libmicrohttpd's daemon owns the socket from then on), stopped
 * with a grace period for requests in flight, and freed once stopped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/str.h"
#include "http/http_internal.h"

struct http_server *http_server_new(void *app, const struct http_limits *limits)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->rate = calloc(HTTP_RATE_SETS, sizeof(*s->rate));
	if (!s->rate) {
		free(s);
		return NULL;
	}
	randombytes_buf(s->rate_key, sizeof(s->rate_key));
	s->app = app;
	s->lim = *limits;
	s->listen_fd = -1;
	if (http_conns_init(s) < 0) {
		free(s->rate);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->rate_lock, NULL);
	return s;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_router_free(s);
	http_conns_done(s);
	free(s->rate);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_mutex_destroy(&s->rate_lock);
	free(s);
}

void http_server_set_authenticator(struct http_server *s, http_authn_fn fn)
{
	s->authn = fn;
}

int http_server_set_trusted_proxies(struct http_server *s, const char *list, struct rerr *e)
{
	return http_proxies_parse(list ? list : "", &s->proxies, e);
}

/* Parses "host:port" or "[v6]:port" (numeric port) into @ss.  Returns 0 or ERR_INVALID. */
static int http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128], *port;
	struct addrinfo hints = { 0 }, *ai = NULL;
	const char *colon;

	if (str_copy(host, sizeof(host), listen) < 0)
		return ERR_INVALID;
	if (host[0] == '[') {
		char *end = strchr(host, ']');

		if (!end || end[1] != ':')
			return ERR_INVALID;
		*end = '\0';
		port = end + 2;
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else {
		colon = strrchr(host, ':');
		if (!colon)
			return ERR_INVALID;
		port = host + (colon - host);
		*port++ = '\0';
	}
	{
		int64_t p;

		if (str_parse_i64(port, 0, 65535, &p) < 0)
			return ERR_INVALID;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return ERR_INVALID;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int http_server_bind(struct http_server *s, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, r;

	if (s->listen_fd >= 0)
		return -EALREADY;
	r = http_parse_listen(addr, &ss, &sl);
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 512) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	s->listen_fd = fd;
	s->ipv6 = ss.ss_family == AF_INET6;
	return 0;
}

int http_server_start(struct http_server *s, const struct http_tls *tls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	unsigned threads = s->lim.threads;

	if (s->listen_fd < 0)
		return -EBADF;
	if (s->ipv6)
		flags |= MHD_USE_IPv6;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 2;
	}
	if (tls && tls->cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return -ENOTSUP;
		flags |= MHD_USE_TLS;
		s->tls = true;
	}
	if (http_conns_start(s) < 0)
		return -EIO;
	/*
	 * The connection timeout is libmicrohttpd's inactivity timeout, reset
	 * by every byte: it bounds bodies and answers.  The deadline for a
	 * request's head and the per-address limit are conn.c's.
	 */
	s->d = MHD_start_daemon(flags, 0, http_mhd_accept, s, http_mhd_access, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, s->lim.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_NOTIFY_CONNECTION, http_mhd_connection, s,
		MHD_OPTION_NOTIFY_COMPLETED, http_mhd_completed, s,
		MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, http_mhd_unescape, NULL,
		s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, s->tls ? tls->key_pem : NULL,
		MHD_OPTION_HTTPS_MEM_CERT, s->tls ? tls->cert_pem : NULL,
		MHD_OPTION_END);
	if (!s->d) {
		http_conns_stop(s);
		return -EIO;
	}
	/* The daemon owns the socket now and closes it when stopped. */
	s->listen_fd = -1;
	return 0;
}

unsigned http_server_port(struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s, unsigned grace_ms)
{
	unsigned waited = 0;

	if (!s->d)
		return;
	/*
	 * Drain rather than MHD_quiesce_daemon: quiescing a thread pool on
	 * epoll races with a worker that takes the listening socket out of its
	 * epoll set at the connection limit, and libmicrohttpd aborts the
	 * process when it loses that race.  Until MHD_stop_daemon, new
	 * requests are answered 503 with "Connection: close".
	 */
	atomic_store(&s->draining, true);
	while (atomic_load(&s->inflight) > 0 && waited < grace_ms) {
		usleep(10000);
		waited += 10;
	}
	MHD_stop_daemon(s->d);
	s->d = NULL;
	http_conns_stop(s);
}
