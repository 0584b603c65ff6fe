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
import socket
import subprocess
import time
import unittest

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


if __name__ == "__main__":
    unittest.main()
