# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd's HTTP layer against hostile clients and behind a reverse proxy:
request framing (RFC 9112 section 6), trusted proxies and the client address
that lockout, rate limits and the audit log use, connection limits per client
address and the deadline for a request's headers, and /metrics read by a real
Prometheus text-format parser."""

import errno
import json
import os
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


if __name__ == "__main__":
    unittest.main()
