# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd as an HTTP server: probes, metrics, headers, the error model,
limits (body, JSON depth, fields, media type, rate), graceful shutdown,
HTTPS with the self-signed certificate, and configuration errors."""

import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, ServerTestCase

LOGIN = "/api/v1/auth/login"


def raw_exchange(port, head, body_chunks=(), read_timeout=30):
    """Sends @head then each chunk on a raw socket, tolerating the server
    closing early (it may answer before reading a body it refuses), and
    returns (status, headers-dict, body-bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        try:
            s.sendall(head)
            for chunk in body_chunks:
                # Like a careful client, stop sending once the server has answered
                # (an early 413), so that our extra bytes cannot reset its answer.
                if select.select([s], [], [], 0.02)[0]:
                    break
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
                if b"\r\n\r\n" in data:
                    head_end = data.index(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", data[:head_end])
                    if m and len(data) >= head_end + 4 + int(m.group(1)):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    return parse_response(data)


def parse_response(data):
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


class ServerBasics(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False, "env": {"RAMPART_LIMITS_MAX_BODY": "4096"}}
    LOGIN_ADMIN = False

    def test_healthz_and_readyz(self):
        c = self.server.client()
        r = c.get("/healthz", auth=False)
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"status": "ok"})
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        r = c.get("/readyz", auth=False)
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"status": "ready"})

    def test_head_answers_without_body(self):
        r = self.server.client().request("HEAD", "/healthz", auth=False)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")

    def test_metrics_prometheus_text(self):
        c = self.server.client()
        for _ in range(3):
            c.get("/healthz", auth=False)
        c.get("/no/such/path", auth=False)
        r = c.get("/metrics", auth=False)
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"])
        self.assertIn("version=0.0.4", r.headers["Content-Type"])
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
                            r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? -?[0-9.eE+]+(Inf)?$')
        typed, helped, samples = set(), set(), {}
        for line in r.text.splitlines():
            if not line:
                continue
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                self.assertIn(kind, ("counter", "gauge", "histogram", "summary", "untyped"), line)
                typed.add(name)
            elif line.startswith("# HELP "):
                helped.add(line.split()[2])
            elif line.startswith("#"):
                continue
            else:
                self.assertRegex(line, sample)
                key, _, value = line.rpartition(" ")
                samples[key] = float(value)
        for name in ("rampart_http_requests_total", "rampart_http_request_duration_seconds",
                     "rampart_http_requests_in_flight", "rampart_sessions_active",
                     "rampart_store_errors_total"):
            self.assertIn(name, typed)
            self.assertIn(name, helped)
        self.assertGreaterEqual(samples.get('rampart_http_requests_total{route="/healthz",status="200"}', 0), 3)
        self.assertGreaterEqual(samples.get('rampart_http_requests_total{route="unmatched",status="404"}', 0), 1)
        # The histogram is cumulative and ends with +Inf == count.
        buckets = [(k, v) for k, v in samples.items()
                   if k.startswith("rampart_http_request_duration_seconds_bucket")]
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values))
        self.assertEqual(samples['rampart_http_request_duration_seconds_bucket{le="+Inf"}'],
                         samples["rampart_http_request_duration_seconds_count"])

    def test_request_id_header(self):
        c = self.server.client()
        ids = set()
        for path in ("/healthz", "/healthz", "/nope"):
            r = c.get(path, auth=False)
            rid = r.headers.get("X-Request-Id")
            self.assertIsNotNone(rid)
            self.assertRegex(rid, r"^[0-9a-f]{16}$")
            ids.add(rid)
        self.assertEqual(len(ids), 3, "request ids must differ")

    def test_security_headers(self):
        c = self.server.client()
        for path in ("/healthz", "/api/v1/nope", "/api/v1/me"):
            r = c.get(path, auth=False)
            h = r.headers
            self.assertEqual(h.get("X-Content-Type-Options"), "nosniff", path)
            self.assertEqual(h.get("X-Frame-Options"), "DENY", path)
            self.assertEqual(h.get("Referrer-Policy"), "no-referrer", path)
            self.assertIn("default-src 'none'", h.get("Content-Security-Policy", ""), path)
            self.assertIn("frame-ancestors 'none'", h.get("Content-Security-Policy", ""), path)
            self.assertEqual(h.get("Cache-Control"), "no-store", path)
            self.assertIsNone(h.get("Strict-Transport-Security"), "no HSTS over plain HTTP")

    def test_not_found_error_model(self):
        r = self.server.client().get("/api/v1/does-not-exist", auth=False)
        self.assertError(r, 404, "not_found")
        self.assertEqual(set(r.json), {"error"})
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))

    def test_method_not_allowed(self):
        c = self.server.client()
        r = c.delete("/healthz", auth=False)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "GET")
        r = c.request("BREW", "/healthz", auth=False)
        self.assertError(r, 405, "method_not_allowed")
        r = c.get(LOGIN, auth=False)
        self.assertError(r, 405, "method_not_allowed")
        self.assertIn("POST", r.headers.get("Allow", ""))

    def test_path_traversal_refused(self):
        for path in ("/api/v1/../healthz", "/api//v1/me", "/healthz/."):
            status, _, body = raw_exchange(self.server.port,
                                           ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                            % path).encode())
            self.assertIn(status, (400, 404), path)
            self.assertIn(b'"error"', body)

    def test_unauthenticated_api_answers_401(self):
        r = self.server.client().get("/api/v1/me", auth=False)
        self.assertError(r, 401, "unauthenticated")
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
        r = self.server.client(token="rs_not-a-real-token").get("/api/v1/me")
        self.assertError(r, 401, "unauthenticated")

    def test_body_over_limit_by_content_length(self):
        big = 4096 + 1
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (LOGIN, big)).encode()
        status, headers, body = raw_exchange(self.server.port, head, [b"{" + b" " * (big - 2) + b"}"])
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"]["code"], "too_large")
        # Announced but never sent: the answer comes before the body is read.
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000000000\r\nConnection: close\r\n\r\n" % LOGIN).encode()
        status, _, body = raw_exchange(self.server.port, head)
        self.assertEqual(status, 413, body)
        # Just under the limit is not refused for its size.
        r = self.server.client().post(LOGIN, body=b'{"login":"x","password":"' + b"y" * 3000 + b'"}',
                                      content_type="application/json", auth=False)
        self.assertNotEqual(r.status, 413, r)

    def test_body_over_limit_chunked(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % LOGIN).encode()
        chunk = b" " * 1024
        chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16)] + [b"0\r\n\r\n"]
        status, _, body = raw_exchange(self.server.port, head, chunks)
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"]["code"], "too_large")

    def test_json_depth_limit(self):
        deep = "1"
        for _ in range(40):
            deep = '{"a":%s}' % deep
        body = '{"login":%s,"password":"x"}' % deep
        r = self.server.client().post(LOGIN, body=body, content_type="application/json", auth=False)
        self.assertError(r, 400, "invalid")
        self.assertIn("nesting", r.json["error"]["message"])

    def test_malformed_json(self):
        r = self.server.client().post(LOGIN, body='{"login": "a", ', content_type="application/json",
                                      auth=False)
        self.assertError(r, 400, "invalid")
        r = self.server.client().post(LOGIN, body='["login"]', content_type="application/json", auth=False)
        self.assertError(r, 400, "invalid")
        r = self.server.client().post(LOGIN, body='{"login":"a","login":"b","password":"c"}',
                                      content_type="application/json", auth=False)
        self.assertError(r, 400, "invalid")

    def test_unknown_field_refused(self):
        r = self.server.client().post(LOGIN, json={"login": "admin", "password": "x" * 12, "admin": True},
                                      auth=False)
        self.assertError(r, 400, "invalid")
        self.assertEqual(r.json["error"].get("field"), "admin")

    def test_wrong_content_type(self):
        c = self.server.client()
        r = c.post(LOGIN, body='{"login":"admin","password":"x"}', content_type="text/plain", auth=False)
        self.assertError(r, 415, "unsupported_media_type")
        r = c.post(LOGIN, body='login=admin&password=x', content_type="application/x-www-form-urlencoded",
                   auth=False)
        self.assertError(r, 415, "unsupported_media_type")
        r = c.post(LOGIN, body='{"login":"admin","password":"x"}', auth=False)  # no Content-Type at all
        self.assertError(r, 415, "unsupported_media_type")

    def test_data_directory_is_private(self):
        st = os.stat(self.server.data_dir)
        self.assertEqual(st.st_mode & 0o077, 0, "the data directory must be 0700")
        key = os.path.join(self.server.data_dir, "secret.key")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "secret.key must be 0600")
        self.assertEqual(os.path.getsize(key), 32)
        self.assertTrue(os.path.exists(self.server.db_path))

    def test_refuses_a_readable_secret_key(self):
        srv = Server("ServerBadKey", seed_hr=False)
        try:
            os.makedirs(srv.data_dir, mode=0o700)
            key = os.path.join(srv.data_dir, "secret.key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key, 0o644)
            with self.assertRaises(harness.ServerError) as cm:
                srv.start()
            self.assertIn("secret.key", str(cm.exception))
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o644, "rampartd must refuse, not silently fix")
        finally:
            srv.cleanup()

    def test_routes_option(self):
        rs = harness.routes()
        self.assertIn(("GET", "/healthz"), rs)
        self.assertIn(("POST", "/api/v1/auth/login"), rs)
        self.assertIn(("GET", "/api/v1/audit/verify"), rs)
        for method, pattern in rs:
            self.assertIn(method, ("GET", "POST", "PUT", "PATCH", "DELETE"))
            self.assertTrue(pattern.startswith("/"), pattern)


class ServerLogin(ServerTestCase):
    """Request checks that need a logged-in administrator."""

    SERVER_ARGS = {"seed_hr": False}

    def test_unknown_field_on_authenticated_write(self):
        r = self.admin.post("/api/v1/tokens", json={"name": "t", "colour": "blue"})
        self.assertError(r, 400, "invalid")
        self.assertEqual(r.json["error"].get("field"), "colour")

    def test_field_type_checked(self):
        r = self.admin.post("/api/v1/tokens", json={"name": 42})
        self.assertError(r, 400, "invalid")
        self.assertEqual(r.json["error"].get("field"), "name")

    def test_wrong_content_type_when_authenticated(self):
        r = self.admin.post("/api/v1/tokens", body='{"name":"t"}', content_type="text/plain")
        self.assertError(r, 415, "unsupported_media_type")


class RateLimit(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False, "env": {"RAMPART_LIMITS_RATE_PER_MINUTE": "20"}}
    LOGIN_ADMIN = False

    def test_rate_limit_429(self):
        limit = 20
        c = self.server.client()
        # Windows are fixed minutes: 2*limit+1 requests span at most two
        # windows, so at least one must be refused whatever the clock says.
        statuses = []
        refused = None
        for _ in range(2 * limit + 1):
            r = c.get("/healthz", auth=False)
            statuses.append(r.status)
            if r.status == 429:
                refused = r
                break
        self.assertIsNotNone(refused, "no 429 after %d requests: %s" % (len(statuses), statuses))
        self.assertError(refused, 429, "rate_limited")
        self.assertEqual(refused.headers.get("Retry-After"), "60")
        self.assertGreaterEqual(statuses.count(200), limit // 2)
        # The limit is per client address: another loopback address is still served.
        other = self.server.client(source="127.0.0.2").get("/healthz", auth=False)
        self.assertStatus(other, 200)


class GracefulShutdown(unittest.TestCase):
    def assertStatus(self, r, status):
        self.assertEqual(r.status, status, r)

    def test_sigterm_drains_in_flight_request(self):
        srv = Server("GracefulShutdown", seed_hr=False)
        try:
            srv.start()
            body = json.dumps({"login": "nobody", "password": "wrong-password-123"}).encode()
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
                       % (LOGIN, len(body))).encode())
            # "100 Continue" proves the server has taken the request in.
            first = s.recv(4096)
            self.assertIn(b"100", first.split(b"\r\n")[0], first)
            srv.proc.send_signal(signal.SIGTERM)
            # New requests are refused (503, connection closed) while the one in flight finishes.
            deadline = time.monotonic() + 10
            refused = b""
            while time.monotonic() < deadline and not refused:
                c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                c.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b""
                while True:
                    part = c.recv(65536)
                    if not part:
                        break
                    answer += part
                c.close()
                if answer.startswith(b"HTTP/1.1 503"):
                    refused = answer
                else:
                    time.sleep(0.05)
            self.assertTrue(refused, "new requests are still served after SIGTERM")
            self.assertIn(b"connection: close", refused.lower())
            self.assertIn(b"shutting down", refused)
            self.assertIsNone(srv.proc.poll(), "rampartd exited with a request in flight")
            s.sendall(body)
            data = b""
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
            s.close()
            # The interim 100 may be repeated in data; find the final status.
            finals = re.findall(rb"HTTP/1\.1 (\d{3})", first + data)
            self.assertTrue(finals and finals[-1] != b"100", first + data)
            self.assertEqual(finals[-1], b"401", first + data)
            rc = srv.proc.wait(timeout=30)
            srv.proc = None
            self.assertEqual(rc, 0, srv.log_tail())
            self.assertIn("shutting down", srv.log_text())
            self.assertIn("rampartd: stopped", srv.log_text())
        finally:
            srv.cleanup()

    def test_sigterm_idle_exits_zero_and_data_survives(self):
        srv = Server("GracefulShutdownIdle", seed_hr=False)
        try:
            srv.start()
            admin = srv.admin()
            r = admin.post("/api/v1/tokens", json={"name": "survives restart"})
            self.assertEqual(r.status, 201, r)
            secret = r.json["token"]
            old_session = admin
            self.assertEqual(srv.stop(), 0)
            srv.start()
            admin = srv.admin()
            r = admin.get("/api/v1/tokens")
            self.assertIn("survives restart", [t["name"] for t in r.json["items"]])
            # The token made before the restart still authenticates, and so does the session.
            self.assertStatus(srv.client(token=secret).get("/api/v1/me"), 200)
            self.assertStatus(old_session.get("/api/v1/me"), 200)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.cleanup()


class Tls(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False, "tls": True}

    def test_https_with_self_signed_certificate(self):
        self.assertTrue(os.path.exists(self.server.cert_path))
        key = os.path.join(self.server.data_dir, "tls", "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "the TLS key must not be readable by others")
        r = self.server.client().get("/healthz", auth=False)
        self.assertStatus(r, 200)
        self.assertIn("max-age=", r.headers.get("Strict-Transport-Security", ""))

    def test_certificate_verified_and_untrusted_refused(self):
        ctx = ssl.create_default_context()  # system CAs only: must refuse the self-signed cert
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError):
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                    pass

    def test_plain_http_to_tls_port_gets_no_api(self):
        try:
            status, _, _ = raw_exchange(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                        read_timeout=5)
        except OSError:
            status = None
        self.assertNotEqual(status, 200)

    def test_session_cookie_secure_over_tls(self):
        c = self.server.client()
        r = c.login("admin", harness.ADMIN_PASSWORD, client="browser")
        cookies = [x for x in harness.set_cookies(r.headers) if x.startswith("rampart_session=")]
        self.assertEqual(len(cookies), 1, harness.set_cookies(r.headers))
        attrs = [a.strip().lower() for a in cookies[0].split(";")[1:]]
        self.assertIn("secure", attrs)
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        self.assertStatus(c.get("/api/v1/me"), 200)


class TestSwitches(unittest.TestCase):
    """Switches that weaken security for tests exist only in the test build (rampartd-test)."""

    def admin_hash(self, binary):
        tmp = tempfile.mkdtemp(prefix="rampart-switch-")
        data, port = os.path.join(tmp, "data"), os.path.join(tmp, "port")
        e = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        e.update({"RAMPART_TEST_FAST_PWHASH": "1", "RAMPART_ADMIN_PASSWORD": harness.ADMIN_PASSWORD})
        p = subprocess.Popen([binary, "--data", data, "--listen", "127.0.0.1:0", "--port-file", port],
                             env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 60
            while not os.path.exists(port) and p.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(port), "rampartd did not start")
        finally:
            p.terminate()
            _, err = p.communicate(timeout=30)
        db = sqlite3.connect(os.path.join(data, "rampart.db"))
        try:
            (h,) = db.execute("SELECT password_hash FROM people WHERE login = 'admin'").fetchone()
        finally:
            db.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return h, err

    def test_release_build_ignores_fast_pwhash(self):
        h, err = self.admin_hash(harness.release_rampartd_path())
        # libsodium's interactive limits: 64 MiB, 2 passes.
        self.assertTrue(h.startswith("$argon2id$v=19$m=65536,t=2,"), h)
        self.assertNotIn("test build", err)

    def test_test_build_honours_fast_pwhash(self):
        h, err = self.admin_hash(harness.rampartd_path())
        self.assertTrue(h.startswith("$argon2id$v=19$m=8,t=1,"), h)
        self.assertIn("test build", err)


class ConfigErrors(unittest.TestCase):
    """rampartd refuses to start on a bad configuration and says what is wrong."""

    def run_daemon(self, config_text=None, env=None, extra=(), listen=True):
        tmp = tempfile.mkdtemp(prefix="rampart-cfg-")
        cmd = [harness.rampartd_path(), "--data", os.path.join(tmp, "data"),
               "--port-file", os.path.join(tmp, "port")]
        if listen:
            cmd += ["--listen", "127.0.0.1:0"]
        if config_text is not None:
            path = os.path.join(tmp, "rampart.ini")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        cmd += list(extra)
        e = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        e["RAMPART_TEST_FAST_PWHASH"] = "1"
        e["RAMPART_ADMIN_PASSWORD"] = harness.ADMIN_PASSWORD
        e.update(env or {})
        try:
            p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("rampartd did not refuse %r; it kept running" % (config_text,))
        started = os.path.exists(os.path.join(tmp, "port"))
        shutil.rmtree(tmp, ignore_errors=True)
        return p, started

    def assertRefused(self, config_text=None, env=None, extra=(), words=()):
        p, started = self.run_daemon(config_text, env, extra)
        self.assertEqual(p.returncode, 1, "exit status for a bad configuration: %s" % p.stderr)
        self.assertFalse(started, "rampartd listened despite a bad configuration")
        for w in words:
            self.assertIn(w, p.stderr)
        self.assertIn("config", p.stderr)

    def test_unknown_setting(self):
        self.assertRefused("[limits]\nmax_bodyy = 100000\n", words=("max_bodyy", "unknown setting"))

    def test_unknown_section(self):
        self.assertRefused("[serverr]\nlisten = 127.0.0.1:0\n", words=("serverr",))

    def test_out_of_range(self):
        self.assertRefused("[limits]\nmax_body = 10\n", words=("max_body", "1024"))

    def test_not_a_number(self):
        self.assertRefused("[auth]\nlockout_threshold = five\n", words=("lockout_threshold", "five"))

    def test_bad_duration(self):
        self.assertRefused("[auth]\nsession_idle = forever\n", words=("session_idle",))

    def test_not_ini(self):
        self.assertRefused("[server]\nthis is not a setting\n", words=("line 2",))

    def test_missing_file(self):
        p, started = self.run_daemon(extra=("--config", "/nonexistent/rampart.ini"))
        self.assertEqual(p.returncode, 1)
        self.assertFalse(started)
        self.assertIn("/nonexistent/rampart.ini", p.stderr)

    def test_bad_environment_override(self):
        self.assertRefused(env={"RAMPART_LIMITS_MAX_BODY": "lots"}, words=("max_body", "lots"))

    def test_mail_without_full_sender(self):
        # Sending mail from "rampart@localhost" would be refused at every notice: refuse to start.
        self.assertRefused("[exchange]\nsmtp_url = smtp://127.0.0.1:25\n", words=("smtp_from",))
        self.assertRefused("[exchange]\nsmtp_url = smtp://127.0.0.1:25\nsmtp_from = rampart\n",
                           words=("smtp_from", "rampart"))

    def test_bad_log_level(self):
        self.assertRefused("[server]\nlog_level = chatty\n", words=("log_level",))

    def test_bad_listen_address(self):
        p, started = self.run_daemon("[server]\nlisten = not-an-address\n", listen=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(started)
        self.assertIn("address", p.stderr)

    def test_bad_usage_exit_2(self):
        p = subprocess.run([harness.rampartd_path(), "--no-such-option"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("Usage", p.stderr)

    def test_good_config_is_used(self):
        """A valid file is applied: the body limit it sets is enforced."""
        srv = Server("ConfigGood", seed_hr=False, config="[limits]\nmax_body = 2048\n")
        try:
            srv.start()
            r = srv.client().post(LOGIN, body='{"login":"a","password":"' + "x" * 3000 + '"}',
                                  content_type="application/json", auth=False)
            self.assertEqual(r.status, 413, r)
            srv.stop()
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
