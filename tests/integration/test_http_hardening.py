# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd's HTTP layer against hostile clients and behind a reverse proxy:
request framing (RFC 9112 section 6), trusted proxies and the client address
that lockout, rate limits and the audit log use, connection limits per client
address and the deadline for a request's headers, and /metrics read by a real
Prometheus text-format parser."""

import errno
import http.client
import json
import os
import resource
import select
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import ServerTestCase, query

LOGIN = "/api/v1/auth/login"
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


# ---------------------------------------------------------------- raw sockets

def read_all(sock, timeout):
    """Everything the server sends until it closes the connection or @timeout
    seconds pass.  Returns (data, closed): closed is False on a timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return data, False
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            return data, True
        if not part:
            return data, True
        data += part


def split_responses(data):
    """The HTTP/1.1 responses in @data (every one of ours has a Content-Length),
    as a list of (status, headers, body); a trailing fragment is ignored."""
    out = []
    while data.startswith(b"HTTP/1."):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        lines = data[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), v.strip())
        length = int(headers.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), headers, data[end + 4:end + 4 + length]))
        data = data[end + 4 + length:]
    return out


def exchange(port, raw, timeout=5, source=None):
    """Sends @raw on a new connection and returns (responses, closed, seconds)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        start = time.monotonic()
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, closed = read_all(s, timeout)
        return split_responses(data), closed, time.monotonic() - start
    finally:
        s.close()


def is_closed(sock, timeout):
    """True if the server closes @sock (EOF or reset) within @timeout seconds;
    whatever it sends before is read and dropped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            try:
                if not sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True


# ---------------------------------------------------------------- 1. framing

class Framing(ServerTestCase):
    """A request whose body length is ambiguous is refused with 400 at once and
    its connection closed: nothing after it on the connection is served, so no
    proxy in front can be made to disagree with rampartd about where a request
    ends (request smuggling)."""

    SERVER_ARGS = {"seed_hr": False}
    LOGIN_ADMIN = False

    def refused(self, head, body=b"0\r\n\r\n"):
        raw = (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n" + head + b"\r\n" + body + HEALTH)
        responses, closed, took = exchange(self.server.port, raw)
        self.assertTrue(responses, "no answer within 5 s to %r" % head)
        status, headers, body = responses[0]
        self.assertEqual(status, 400, (head, body))
        self.assertEqual(json.loads(body)["error"]["code"], "invalid")
        self.assertEqual(headers.get("connection", "").lower(), "close", headers)
        self.assertEqual(len(responses), 1, "a request after %r was served: %r" % (head, responses))
        self.assertTrue(closed, "the connection stayed open after %r" % head)
        self.assertLess(took, 3, "the refusal of %r took %.1f s" % (head, took))

    def test_content_length_and_chunked(self):
        self.refused(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")

    def test_chunked_and_content_length(self):
        self.refused(b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n")

    def test_gzip_then_chunked(self):
        self.refused(b"Transfer-Encoding: gzip, chunked\r\n")

    def test_chunked_twice(self):
        self.refused(b"Transfer-Encoding: chunked, chunked\r\n")

    def test_chunked_on_two_lines(self):
        self.refused(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")

    def test_identity(self):
        self.refused(b"Transfer-Encoding: identity\r\n", body=b"")

    def test_chunked_not_last(self):
        self.refused(b"Transfer-Encoding: chunked, gzip\r\n")

    def test_empty_coding(self):
        self.refused(b"Transfer-Encoding: \r\n", body=b"")

    def test_two_content_lengths(self):
        self.refused(b"Content-Length: 0\r\nContent-Length: 41\r\n", body=b"")

    def test_plain_chunked_stays_served(self):
        """A well-framed chunked body is read and the connection kept alive."""
        body = json.dumps({"login": "nobody-framing", "password": "wrong-password-f1"}).encode()
        raw = (b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: Chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) + HEALTH)
        responses, _, _ = exchange(self.server.port, raw, timeout=3)
        self.assertEqual([r[0] for r in responses], [401, 200], responses)

    def test_get_with_body_length_stays_served(self):
        raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + HEALTH
        responses, _, _ = exchange(self.server.port, raw, timeout=3)
        self.assertEqual([r[0] for r in responses], [200, 200], responses)


# ---------------------------------------------------------------- 2. trusted proxies

def failed_login_sources(admin, login):
    r = admin.get(query("/api/v1/audit", action="auth.login", outcome="failure", limit=200))
    assert r.status == 200, r
    return [e.get("source") for e in r.json["items"] if (e.get("details") or {}).get("login") == login]


class TrustedProxy(ServerTestCase):
    """127.0.0.1 (the test's own address) is a trusted proxy: the client
    address it forwards is the one lockout, rate limits and the audit log see."""

    SERVER_ARGS = {"seed_hr": False, "env": {
        "RAMPART_HTTP_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, ::1",
        "RAMPART_AUTH_LOCKOUT_THRESHOLD": "100",
        "RAMPART_AUTH_SOURCE_LOCKOUT_THRESHOLD": "3",
        "RAMPART_AUTH_LOCKOUT_WINDOW": "300",
        "RAMPART_AUTH_LOCKOUT": "300",
        "RAMPART_SERVER_LOG_LEVEL": "debug",
    }}

    def login_as(self, password, headers, login="admin", source=None):
        c = self.server.client(source=source)
        return c.request("POST", LOGIN, json={"login": login, "password": password, "client": "cli"},
                         auth=False, headers=headers)

    def test_forwarded_address_in_audit_and_lockout(self):
        xff = {"X-Forwarded-For": "203.0.113.9"}
        for i in range(3):
            r = self.login_as("wrong-password-p%d" % i, xff, login="nobody-proxy-%d" % i)
            self.assertStatus(r, 401)
        sources = failed_login_sources(self.admin, "nobody-proxy-0")
        self.assertIn("203.0.113.9", sources, sources)
        self.assertNotIn("127.0.0.1", sources, sources)
        # The forwarded address is locked, not the proxy: another client behind
        # the same proxy, and the proxy itself, still log in.
        self.assertError(self.login_as(self.server.admin_password, xff), 429, "locked")
        self.assertStatus(self.login_as(self.server.admin_password,
                                        {"X-Forwarded-For": "203.0.113.10"}), 200)
        self.assertStatus(self.login_as(self.server.admin_password, {}), 200)
        # The lockout entry names the forwarded address too.
        r = self.admin.get(query("/api/v1/audit", action="auth.lockout", limit=50))
        self.assertTrue(any(e.get("source") == "203.0.113.9" for e in r.json["items"]), r.json)

    def test_rightmost_untrusted_hop_is_the_client(self):
        cases = [
            ({"X-Forwarded-For": "198.51.100.66, 203.0.113.21"}, "203.0.113.21"),
            ({"X-Forwarded-For": "198.51.100.66, 203.0.113.22, 10.1.2.3"}, "203.0.113.22"),
            ({"X-Forwarded-For": "198.51.100.66", "x-forwarded-for": "203.0.113.23"}, "203.0.113.23"),
            ({"Forwarded": 'for=198.51.100.66, for="[2001:db8::24]:4711";proto=https'}, "2001:db8::24"),
            ({"Forwarded": "for=203.0.113.25;by=10.0.0.1, for=10.9.9.9"}, "203.0.113.25"),
            # Every hop trusted: the leftmost is the best we know.
            ({"X-Forwarded-For": "10.0.0.7, 10.0.0.8"}, "10.0.0.7"),
            # Garbage left of the first untrusted hop is never looked at.
            ({"X-Forwarded-For": "not an address, 203.0.113.26"}, "203.0.113.26"),
            # Malformed where it matters: the socket address.
            ({"X-Forwarded-For": "203.0.113.27, garbage"}, "127.0.0.1"),
            ({"Forwarded": "for=unknown"}, "127.0.0.1"),
        ]
        for i, (headers, want) in enumerate(cases):
            login = "nobody-hop-%d" % i
            # One failure per case keeps every address below the source threshold.
            r = self.login_as("wrong-password-h%d" % i, headers, login=login)
            self.assertStatus(r, 401)
            sources = failed_login_sources(self.admin, login)
            self.assertEqual(sources, [want], (headers, sources))
        # Why a header was not used is in the log, at debug level.
        self.assertIn('msg="http: forwarding header not used" peer=127.0.0.1 header=Forwarded',
                      self.server.log_text())

    def test_untrusted_peer_is_not_believed(self):
        """127.0.0.2 is not a trusted proxy: its X-Forwarded-For is ignored."""
        r = self.login_as("wrong-password-u1", {"X-Forwarded-For": "203.0.113.30"},
                          login="nobody-untrusted", source="127.0.0.2")
        self.assertStatus(r, 401)
        self.assertEqual(failed_login_sources(self.admin, "nobody-untrusted"), ["127.0.0.2"])


class TrustedProxyConfig(unittest.TestCase):
    def start(self, config_text=None, env=None):
        tmp = tempfile.mkdtemp(prefix="rampart-proxy-")
        try:
            cmd = [harness.rampartd_path(), "--data", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0",
                   "--port-file", os.path.join(tmp, "port")]
            if config_text is not None:
                with open(os.path.join(tmp, "rampart.ini"), "w") as f:
                    f.write(config_text)
                cmd += ["--config", os.path.join(tmp, "rampart.ini")]
            e = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
            e.update({"RAMPART_TEST_FAST_PWHASH": "1", "RAMPART_ADMIN_PASSWORD": harness.ADMIN_PASSWORD})
            e.update(env or {})
            p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
            return p, os.path.exists(os.path.join(tmp, "port"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_list_refused(self):
        for config, env in (("[http]\ntrusted_proxies = 10.0.0.0/8, proxy.example.com\n", None),
                            (None, {"RAMPART_HTTP_TRUSTED_PROXIES": "10.0.0.0/33"})):
            p, started = self.start(config, env)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertFalse(started)
            self.assertIn("trusted_proxies", p.stderr)
            self.assertIn("proxy.example.com" if config else "10.0.0.0/33", p.stderr)


class TrustedProxyRate(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False, "env": {
        "RAMPART_HTTP_TRUSTED_PROXIES": "127.0.0.0/8",
        "RAMPART_LIMITS_RATE_PER_MINUTE": "10",
    }}
    LOGIN_ADMIN = False

    def test_rate_limit_per_forwarded_address(self):
        c = self.server.client()
        statuses = [c.get("/healthz", auth=False, headers={"X-Forwarded-For": "203.0.113.40"}).status
                    for _ in range(21)]
        self.assertIn(429, statuses)
        # Another client behind the same proxy has its own budget.
        r = c.get("/healthz", auth=False, headers={"X-Forwarded-For": "203.0.113.41"})
        self.assertStatus(r, 200)


class NoTrustedProxy(ServerTestCase):
    """Without [http] trusted_proxies the headers are ignored, as before."""

    SERVER_ARGS = {"seed_hr": False, "env": {
        "RAMPART_AUTH_LOCKOUT_THRESHOLD": "100",
        "RAMPART_AUTH_SOURCE_LOCKOUT_THRESHOLD": "3",
    }}

    def test_headers_ignored(self):
        src = "127.0.0.9"
        for i in range(3):
            c = self.server.client(source=src)
            r = c.request("POST", LOGIN, json={"login": "nobody-direct-%d" % i, "password": "wrong-pw-d"},
                          auth=False, headers={"X-Forwarded-For": "203.0.113.5%d" % i,
                                               "Forwarded": "for=203.0.113.6%d" % i})
            self.assertStatus(r, 401)
        self.assertEqual(failed_login_sources(self.admin, "nobody-direct-0"), [src])
        # The socket address is locked, whatever the headers claim.
        c = self.server.client(source=src)
        r = c.request("POST", LOGIN, json={"login": "admin", "password": self.server.admin_password},
                      auth=False, headers={"X-Forwarded-For": "203.0.113.99"})
        self.assertError(r, 429, "locked")


NGINX = "/usr/sbin/nginx"   # Debian's nginx-light (scripts/deps.sh)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BehindNginx(ServerTestCase):
    """The reverse-proxy set-up of docs/operations.md, section 13, with a real
    nginx: the client's own address reaches the audit log, and what a client
    writes into X-Forwarded-For or Forwarded itself does not."""

    SERVER_ARGS = {"seed_hr": False, "config": "[http]\ntrusted_proxies = 127.0.0.1, ::1\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx_dir = tempfile.mkdtemp(prefix="rampart-nginx-")
        cls.nginx_port = free_port()
        d = cls.nginx_dir
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = """%s
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  upstream rampart { server 127.0.0.1:%d; keepalive 8; }
  server {
    listen 127.0.0.1:%d;
    location / {
      proxy_pass http://rampart;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Forwarded "";
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_cookie_flags rampart_session secure;
      add_header Strict-Transport-Security "max-age=31536000" always;
    }
  }
}
""" % (user, d, d, d, d, d, d, d, cls.server.port, cls.nginx_port)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        cls.nginx = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"),
                                      "-e", os.path.join(d, "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.nginx_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        cls.tearDownClass()
        raise AssertionError("nginx did not start")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "nginx", None):
            cls.nginx.terminate()
            cls.nginx.wait(timeout=10)
        shutil.rmtree(getattr(cls, "nginx_dir", ""), ignore_errors=True)
        super().tearDownClass()

    def via_nginx(self, source, login, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=10,
                                          source_address=(source, 0))
        try:
            body = json.dumps({"login": login, "password": "wrong-password-n1", "client": "cli"})
            conn.request("POST", LOGIN, body=body,
                         headers=dict({"Content-Type": "application/json"}, **headers))
            return conn.getresponse().status
        finally:
            conn.close()

    def test_client_address_through_nginx(self):
        self.assertEqual(self.via_nginx("127.0.0.3", "nobody-nginx-1", {}), 401)
        self.assertEqual(failed_login_sources(self.admin, "nobody-nginx-1"), ["127.0.0.3"])

    def test_session_cookie_secure_through_nginx(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=10)
        try:
            conn.request("POST", LOGIN, body=json.dumps({"login": "admin",
                                                         "password": self.server.admin_password}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie" and "rampart_session=" in v]
            self.assertTrue(cookie and "secure" in cookie[0].lower(), r.getheaders())
            self.assertIn("max-age", r.getheader("Strict-Transport-Security", ""))
        finally:
            conn.close()

    def test_spoofed_headers_do_not_pass(self):
        self.assertEqual(self.via_nginx("127.0.0.4", "nobody-nginx-2",
                                        {"X-Forwarded-For": "203.0.113.66",
                                         "Forwarded": "for=203.0.113.67"}), 401)
        self.assertEqual(failed_login_sources(self.admin, "nobody-nginx-2"), ["127.0.0.4"])


# ---------------------------------------------------------------- 4. connections

def raise_fd_limit(want):
    """Raises this process's descriptor limit towards @want; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        soft = min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def open_many(port, n, sources):
    """Starts @n connections, spread over the addresses @sources, without
    waiting; returns the sockets."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((sources[i % len(sources)], 0))
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(rc, os.strerror(rc))
        socks.append(s)
    return socks


def flood(port, n, sources, request_every=1):
    """Opens @n connections from @sources; every @request_every-th one sends
    one request (and then stays idle, kept alive), the others nothing.
    Returns (sockets, how many got an answer)."""
    socks = open_many(port, n, sources)
    by_fd = {s.fileno(): s for s in socks}
    poller = select.poll()   # select() stops at descriptor 1024
    for fd in by_fd:
        poller.register(fd, select.POLLOUT)
    pending = set(by_fd)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(500):
            poller.unregister(fd)
            pending.discard(fd)
            if fd % request_every == 0:
                try:
                    by_fd[fd].send(HEALTH)
                except OSError:
                    pass
    time.sleep(1)
    served = 0
    for s in socks:
        try:
            if s.recv(65536).startswith(b"HTTP/1.1 200"):
                served += 1
        except OSError:
            pass
    return socks, served


def close_all(socks):
    for s in socks:
        s.close()


def metric(server, name):
    for line in server.client(source="127.0.0.2").get("/metrics", auth=False).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class ConnectionFlood(ServerTestCase):
    """Thousands of idle connections held open do not keep another client
    from logging in (defaults: 1024 connections, 256 per client address,
    15 s for a request head)."""

    SERVER_ARGS = {"seed_hr": False}
    LOGIN_ADMIN = False

    def login_meanwhile(self):
        start = time.monotonic()
        c = self.server.client(source="127.0.0.2", timeout=10)
        c.login("admin", self.server.admin_password)
        self.assertLess(time.monotonic() - start, 10)

    def test_idle_flood_from_one_address(self):
        n = min(10000, raise_fd_limit(10500) - 300)
        socks, served = flood(self.server.port, n, ["127.0.0.1"])
        try:
            self.login_meanwhile()
            self.assertGreater(served, 0, "no connection of the flood was served at all")
            self.assertLessEqual(served, 256, "more connections than the per-client limit were kept")
            self.assertGreater(metric(self.server, "rampart_http_connections_refused_total"), 0)
        finally:
            close_all(socks)

    def test_idle_flood_from_many_addresses(self):
        """2,000 idle connections from 40 addresses, each under its own limit:
        the longest-waiting are closed to make room."""
        sources = ["127.0.1.%d" % i for i in range(1, 41)]
        socks, served = flood(self.server.port, 2000, sources, request_every=2)
        try:
            self.login_meanwhile()
            self.assertGreater(served, 0)
            self.assertLessEqual(metric(self.server, "rampart_http_connections_open"), 1024)
            self.assertGreater(
                metric(self.server, 'rampart_http_connections_closed_total{reason="crowded"}'), 0)
        finally:
            close_all(socks)


class ConnectionLimits(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False, "env": {
        "RAMPART_LIMITS_MAX_CONNECTIONS_PER_CLIENT": "8",
        "RAMPART_LIMITS_HEADER_TIMEOUT": "2",
        "RAMPART_HTTP_TRUSTED_PROXIES": "127.0.0.5",
    }}
    LOGIN_ADMIN = False

    def connect(self, source):
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=5,
                                        source_address=(source, 0))

    def test_per_client_limit(self):
        held = [self.connect("127.0.0.3") for _ in range(8)]
        try:
            extra = self.connect("127.0.0.3")
            try:
                self.assertTrue(is_closed(extra, 1.5), "a 9th connection from one address was kept")
            finally:
                extra.close()
            # Another address is served meanwhile.
            responses, _, _ = exchange(self.server.port, HEALTH, timeout=1, source="127.0.0.4")
            self.assertEqual([r[0] for r in responses], [200])
        finally:
            close_all(held)
        # Once they are gone the address is served again.
        time.sleep(0.3)
        responses, _, _ = exchange(self.server.port, HEALTH, timeout=1, source="127.0.0.3")
        self.assertEqual([r[0] for r in responses], [200])

    def test_trusted_proxy_is_not_limited(self):
        held = [self.connect("127.0.0.5") for _ in range(20)]
        try:
            for s in held:
                s.sendall(HEALTH)
            for s in held:
                data, _ = read_all(s, 0.5)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
        finally:
            close_all(held)

    def test_slow_headers_cut_at_the_deadline(self):
        """A client that trickles its headers (slowloris) is closed 2 s after it
        connected, although it never goes quiet for long."""
        s = self.connect("127.0.0.6")
        try:
            start = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            closed = False
            while time.monotonic() - start < 8:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
                    break
                if is_closed(s, 0.3):
                    closed = True
                    break
            took = time.monotonic() - start
            self.assertTrue(closed, "a trickling request head was still open after 8 s")
            self.assertGreaterEqual(took, 1.5)
            self.assertLess(took, 4.5)
        finally:
            s.close()

    def test_idle_connection_cut_at_the_deadline(self):
        s = self.connect("127.0.0.7")
        try:
            start = time.monotonic()
            self.assertTrue(is_closed(s, 6), "an idle connection was still open after 6 s")
            self.assertLess(time.monotonic() - start, 4.5)
        finally:
            s.close()

    def test_keep_alive_then_idle_is_cut(self):
        s = self.connect("127.0.0.7")
        try:
            time.sleep(1.2)
            s.sendall(HEALTH)
            data, _ = read_all(s, 0.5)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
            # The deadline starts again after each answer: the second request is in time.
            time.sleep(1.2)
            s.sendall(HEALTH)
            data, _ = read_all(s, 0.5)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
            start = time.monotonic()
            self.assertTrue(is_closed(s, 6))
            self.assertLess(time.monotonic() - start, 4.5)
        finally:
            s.close()

    def test_slow_body_is_not_cut_by_the_header_deadline(self):
        body = json.dumps({"login": "nobody-slow", "password": "wrong-password-s1"}).encode()
        s = self.connect("127.0.0.8")
        try:
            s.sendall(b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            for i in range(0, len(body), 8):
                time.sleep(0.15)
                s.sendall(body[i:i + 8])
            data, _ = read_all(s, 3)
            self.assertTrue(data.startswith(b"HTTP/1.1 401"), data[:200])
        finally:
            s.close()


# ---------------------------------------------------------------- 5. metrics

PARSE_METRICS = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
seen, dups, families = set(), [], []
for fam in text_string_to_metric_families(sys.stdin.read()):
    families.append(fam.name)
    for s in fam.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            dups.append([s.name, s.labels])
        seen.add(key)
print(json.dumps({"duplicates": dups, "families": families,
                  "samples": [[k[0], dict(k[1])] for k in sorted(seen)]}))
"""


class Metrics(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False}
    LOGIN_ADMIN = False

    def parse(self, text):
        # Debian's python3-prometheus-client (scripts/deps.sh), under Debian's Python.
        p = subprocess.run(["/usr/bin/python3", "-c", PARSE_METRICS], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_every_series_once(self):
        c = self.server.client()
        # The same status on several methods of one path, and on a path with one method.
        # /api/v1/tokens and /api/v1/transfers have a route for GET and another for POST.
        for path in ("/api/v1/tokens", "/api/v1/transfers"):
            for method in ("GET", "POST", "GET", "DELETE"):
                c.request(method, path, auth=False, json={} if method == "POST" else None)
        c.request("HEAD", "/healthz", auth=False)
        c.get("/healthz", auth=False)
        c.request("PUT", "/healthz", auth=False)
        text = c.get("/metrics", auth=False).text
        got = self.parse(text)
        self.assertEqual(got["duplicates"], [], text)
        for name in ("rampart_http_requests", "rampart_http_request_duration_seconds",
                     "rampart_http_requests_in_flight"):
            self.assertIn(name, got["families"])
        series = {(s[0], tuple(sorted(s[1].items()))) for s in got["samples"]}
        self.assertIn(("rampart_http_requests_total", (("method", "GET"), ("route", "/api/v1/tokens"),
                                                       ("status", "401"))), series)
        self.assertIn(("rampart_http_requests_total", (("method", "POST"), ("route", "/api/v1/tokens"),
                                                       ("status", "401"))), series)
        self.assertIn(("rampart_http_requests_total", (("method", "POST"), ("route", "/api/v1/transfers"),
                                                       ("status", "401"))), series)
        # A path with one method keeps its series without a method label.
        self.assertIn(("rampart_http_requests_total", (("route", "/healthz"), ("status", "200"))), series)


if __name__ == "__main__":
    unittest.main()
