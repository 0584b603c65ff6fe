/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* siem_net: syslog (RFC 5424 over TCP or a Unix socket) and HTTP transports (see siem_net.h). */
#include "audit/siem_net.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/rtime.h"
#include "common/str.h"

#define SIEM_CONNECT_MS 3000
#define SIEM_SEND_MS 5000
#define SIEM_HTTP_TIMEOUT_S 10L
/* RFC 5424 facility 13: log audit. */
#define SIEM_FACILITY 13

/* ------------------------------------------------------------ targets */

static int siem_port_parse(const char *s, char out[8])
{
	int64_t port;

	if (str_parse_i64(s, 1, 65535, &port) < 0)
		return ERR_INVALID;
	snprintf(out, 8, "%lld", (long long)port);
	return 0;
}

int siem_target_parse_syslog(const char *s, struct siem_target *ret, struct rerr *e)
{
	struct siem_target t = { 0 };
	const char *hp, *colon;
	size_t hlen;

	if (str_has_prefix(s, "unix:")) {
		if (s[5] != '/' || str_copy(t.path, sizeof(t.path), s + 5) < 0)
			return rerr_set(e, ERR_INVALID, "siem_syslog",
					"[audit] siem_syslog: unix: needs an absolute path of at most %zu bytes",
					sizeof(t.path) - 1);
		t.kind = SIEM_SYSLOG_UNIX;
		*ret = t;
		return 0;
	}
	if (!str_has_prefix(s, "tcp://"))
		return rerr_set(e, ERR_INVALID, "siem_syslog",
				"[audit] siem_syslog must be tcp://HOST:PORT or unix:/path");
	hp = s + 6;
	if (*hp == '[') {
		const char *close = strchr(hp, ']');

		if (!close || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - hp - 1);
		hp++;
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - hp);
		if (memchr(hp, ':', hlen))
			goto bad;   /* an IPv6 address needs its brackets */
	}
	if (hlen == 0 || hlen >= sizeof(t.host))
		goto bad;
	for (size_t i = 0; i < hlen; i++) {
		char ch = hp[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '.' || ch == '-' || ch == ':' || ch == '_'))
			goto bad;
	}
	memcpy(t.host, hp, hlen);
	if (siem_port_parse(colon + 1, t.port) < 0)
		goto bad;
	t.kind = SIEM_SYSLOG_TCP;
	*ret = t;
	return 0;
bad:
	return rerr_set(e, ERR_INVALID, "siem_syslog",
			"[audit] siem_syslog: '%.64s' is not tcp://HOST:PORT (HOST a name, an address or "
			"[IPv6], PORT 1-65535)", s);
}

int siem_target_parse_http(const char *url, const char *header, struct siem_target *ret, struct rerr *e)
{
	struct siem_target t = { .kind = SIEM_HTTP };
	const char *colon;

	if ((!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://")) ||
	    str_copy(t.url, sizeof(t.url), url) < 0 || strlen(url) <= strlen("https://"))
		return rerr_set(e, ERR_INVALID, "siem_http",
				"[audit] siem_http must be an http:// or https:// URL of at most %zu bytes",
				sizeof(t.url) - 1);
	for (const char *p = url; *p; p++) {
		if (*p <= ' ' || *p > '~')
			return rerr_set(e, ERR_INVALID, "siem_http",
					"[audit] siem_http has a space or a character that is not printable ASCII");
	}
	if (header && *header) {
		colon = strchr(header, ':');
		if (!colon || colon == header || str_copy(t.header, sizeof(t.header), header) < 0)
			return rerr_set(e, ERR_INVALID, "siem_http_header",
					"[audit] siem_http_header must be 'Name: value'");
		for (const char *p = header; p < colon; p++) {
			if (*p <= ' ' || *p > '~' || strchr("()<>@,;:\\\"/[]?={}", *p))
				return rerr_set(e, ERR_INVALID, "siem_http_header",
						"[audit] siem_http_header: the name is not an HTTP token");
		}
		for (const char *p = colon + 1; *p; p++) {
			if ((*p < ' ' && *p != '\t') || *p == 0x7f)
				return rerr_set(e, ERR_INVALID, "siem_http_header",
						"[audit] siem_http_header: the value has a control character");
		}
	}
	*ret = t;
	return 0;
}

/* ------------------------------------------------------------ RFC 5424 */

int siem_syslog_format(struct buf *out, const struct siem_msg *m, const char *hostname, long pid, bool framed)
{
	char host[256], ts[40], head[400];
	size_t n = 0;
	int len;

	for (const char *p = hostname ? hostname : ""; *p && n < sizeof(host) - 1; p++) {
		if (*p > ' ' && *p <= '~')
			host[n++] = *p;
	}
	host[n] = '\0';
	len = snprintf(head, sizeof(head), "<%d>1 %s %s rampartd %ld %s - ",
		       SIEM_FACILITY * 8 + (m->severity & 7), m->time_ms > 0 ? rtime_format(ts, sizeof(ts), m->time_ms) : "-",
		       n ? host : "-", pid, m->msgid);
	if (len < 0 || (size_t)len >= sizeof(head))
		return -EINVAL;
	if (framed) {
		int r = buf_printf(out, "%zu ", (size_t)len + strlen(m->json));

		if (r < 0)
			return r;
	}
	len = buf_append(out, head, (size_t)len);
	return len < 0 ? len : buf_puts(out, m->json);
}

/* ------------------------------------------------------------ connections */

struct siem_conn {
	enum siem_kind kind;
	int fd;                 /* syslog */
	bool dgram;
	char hostname[256];
	CURL *curl;             /* http */
	struct curl_slist *headers;
	char url[SIEM_URL_MAX];
};

/* Waits for @events on @fd until @deadline_ns (monotonic).  Returns 0, -ETIMEDOUT or -errno. */
static int siem_wait(int fd, short events, int64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = (deadline_ns - rtime_mono_ns()) / 1000000;
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int siem_connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
	int64_t deadline = rtime_mono_ns() + (int64_t)SIEM_CONNECT_MS * 1000000;
	socklen_t elen = sizeof(int);
	int err = 0, r;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	r = siem_wait(fd, POLLOUT, deadline);
	if (r < 0)
		return r;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	return err ? -err : 0;
}

static int siem_open_tcp(const struct siem_target *t, struct siem_conn *c)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int r = -EHOSTUNREACH, fd;

	if (getaddrinfo(t->host, t->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		r = siem_connect_fd(fd, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			c->fd = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return r;
}

static int siem_open_unix(const struct siem_target *t, struct siem_conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	memcpy(sa.sun_path, t->path, strlen(t->path));
	/* A stream socket when the receiver listens on one, else a datagram socket (/dev/log). */
	for (int type = SOCK_STREAM;; type = SOCK_DGRAM) {
		fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		r = siem_connect_fd(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r == 0) {
			c->fd = fd;
			c->dgram = type == SOCK_DGRAM;
			return 0;
		}
		close(fd);
		if (r != -EPROTOTYPE || type == SOCK_DGRAM)
			return r;
	}
}

static int siem_open_http(const struct siem_target *t, struct siem_conn *c)
{
	c->curl = curl_easy_init();
	if (!c->curl)
		return -ENOMEM;
	c->headers = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
	if (c->headers && t->header[0]) {
		struct curl_slist *h = curl_slist_append(c->headers, t->header);

		if (!h) {
			curl_slist_free_all(c->headers);
			c->headers = NULL;
		} else {
			c->headers = h;
		}
	}
	if (!c->headers)
		return -ENOMEM;
	str_copy(c->url, sizeof(c->url), t->url);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)SIEM_CONNECT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, SIEM_HTTP_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	return 0;
}

int siem_conn_open(const struct siem_target *t, struct siem_conn **ret)
{
	struct siem_conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->kind = t->kind;
	c->fd = -1;
	if (gethostname(c->hostname, sizeof(c->hostname)) < 0)
		c->hostname[0] = '\0';
	c->hostname[sizeof(c->hostname) - 1] = '\0';
	if (t->kind == SIEM_SYSLOG_TCP)
		r = siem_open_tcp(t, c);
	else if (t->kind == SIEM_SYSLOG_UNIX)
		r = siem_open_unix(t, c);
	else
		r = siem_open_http(t, c);
	if (r < 0) {
		siem_conn_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

bool siem_conn_alive(struct siem_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
	char sink[512];
	ssize_t n;

	if (c->kind == SIEM_HTTP || c->dgram)
		return true;
	if (poll(&p, 1, 0) <= 0)
		return true;
	if (p.revents & (POLLERR | POLLHUP | POLLRDHUP))
		return false;
	/* A receiver has nothing to say; read and drop whatever it sent, noticing an end. */
	n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

bool siem_conn_acknowledges(const struct siem_conn *c)
{
	return c->kind == SIEM_HTTP || c->dgram;
}

/* Writes @len bytes to a stream socket before the deadline.  Returns 0 or -errno. */
static int siem_write(int fd, const char *p, size_t len, int64_t deadline_ns)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		r = siem_wait(fd, POLLOUT, deadline_ns);
		if (r < 0)
			return r;
	}
	return 0;
}

static int siem_send_syslog(struct siem_conn *c, const struct siem_msg *msgs, size_t n)
{
	int64_t deadline = rtime_mono_ns() + (int64_t)SIEM_SEND_MS * 1000000;
	struct buf b;
	int r = 0;

	buf_init(&b, 64 << 20);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = siem_syslog_format(&b, &msgs[i], c->hostname, (long)getpid(), !c->dgram);
		if (r == 0 && c->dgram) {
			/* One datagram per message; a local receiver that is gone refuses it. */
			if (send(c->fd, b.data, b.len, MSG_NOSIGNAL) < 0)
				r = -errno;
			buf_reset(&b);
		}
	}
	if (r == 0 && !c->dgram)
		r = siem_write(c->fd, b.data, b.len, deadline);
	buf_done(&b);
	return r;
}

static int siem_send_http(struct siem_conn *c, const struct siem_msg *msgs, size_t n, long *ret_status)
{
	struct buf b;
	long status = 0;
	CURLcode cr;
	int r = 0;

	buf_init(&b, 64 << 20);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = buf_puts(&b, msgs[i].json);
		r = r < 0 ? r : buf_puts(&b, "\n");
	}
	if (r < 0) {
		buf_done(&b);
		return r;
	}
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, b.data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
	cr = curl_easy_perform(c->curl);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	buf_done(&b);
	if (ret_status)
		*ret_status = status;
	if (cr != CURLE_OK)
		return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	return status >= 200 && status < 300 ? 0 : -EIO;
}

int siem_conn_send(struct siem_conn *c, const struct siem_msg *msgs, size_t n, long *ret_status)
{
	if (ret_status)
		*ret_status = 0;
	if (n == 0)
		return 0;
	return c->kind == SIEM_HTTP ? siem_send_http(c, msgs, n, ret_status) : siem_send_syslog(c, msgs, n);
}

void siem_conn_close(struct siem_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c);
}
