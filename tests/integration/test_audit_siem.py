# SPDX-License-Identifier: AGPL-3.0-or-later
"""Streaming the audit log to a SIEM (docs/security.md section 9), against
real receivers: Debian's rsyslog, started by the test on loopback with its
own configuration in a temporary directory (imtcp on a free port, or imuxsock
on a socket of its own; omfile to a file) and never the system's, and an HTTP
receiver (http.server) in the test.  Entries and checkpoints arrive as they
are written; a receiver that stops, refuses or hangs loses nothing once it is
back; appends never wait for it."""

import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
LINE = re.compile(r"^<(\d+)>1 (\S+) (\S+) rampartd (\d+) (audit|checkpoint|alert) - (\{.*\})$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_entries(server, admin, n=1):
    for _ in range(n):
        server.client().login("admin", "wrong-password-siem", check=False)
        t = admin.post("/api/v1/tokens", json={"name": "siem test"})
        admin.delete("/api/v1/tokens/%s" % t.json["id"])


def head(admin):
    return admin.get("/api/v1/audit?limit=1").json["items"][0]["id"]


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class Rsyslog:
    """A private rsyslogd: its own configuration, work directory, pid file and output."""

    def __init__(self, tcp_port=None, unix_path=None):
        if not os.access(RSYSLOGD, os.X_OK):
            raise unittest.SkipTest("rsyslogd is not installed (scripts/deps.sh installs rsyslog)")
        self.dir = tempfile.mkdtemp(prefix="rampart-rsyslog-")
        self.out = os.path.join(self.dir, "received.log")
        self.port = tcp_port
        self.unix_path = unix_path
        self.proc = None
        inputs = []
        if tcp_port:
            inputs.append('module(load="imtcp")\n'
                          'input(type="imtcp" address="127.0.0.1" port="%d")\n' % tcp_port)
        if unix_path:
            inputs.append('module(load="imuxsock" SysSock.Use="off")\n'
                          'input(type="imuxsock" Socket="%s" UseSpecialParser="off" ParseHostname="on")\n'
                          % unix_path)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write('global(workDirectory="%s" maxMessageSize="64k")\n' % self.dir)
            f.write("".join(inputs))
            f.write('template(name="raw" type="string" string="%rawmsg%\\n")\n')
            f.write('action(type="omfile" file="%s" template="raw")\n' % self.out)

    def start(self):
        log = open(os.path.join(self.dir, "rsyslogd.stderr"), "ab")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.dir, "pid")],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        if self.port:
            wait_for(self._listening, 20, "rsyslogd to listen")
        else:
            wait_for(lambda: os.path.exists(self.unix_path), 20, "rsyslogd's socket")
        return self

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError("rsyslogd exited: " + self.stderr())
            return False

    def stderr(self):
        with open(os.path.join(self.dir, "rsyslogd.stderr"), errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self):
        """(severity, msgid, object) for every line received, in order."""
        if not os.path.exists(self.out):
            return []
        out = []
        with open(self.out, errors="replace") as f:
            for line in f:
                m = LINE.match(line.rstrip("\n"))
                if not m:
                    raise AssertionError("not an RFC 5424 line as documented: %r" % line[:300])
                pri = int(m.group(1))
                assert pri // 8 == 13, "facility 13 (log audit): %r" % line[:80]
                out.append((pri % 8, m.group(5), json.loads(m.group(6)), m.group(2)))
        return out


def entry_ids(messages):
    return {o["id"] for _, kind, o, _ in messages if kind == "audit"}


class SyslogTcp(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.rs = Rsyslog(tcp_port=self.port).start()
        self.server = Server("SyslogTcp-" + self._testMethodName, seed_hr=False,
                             config="[audit]\nsiem_syslog = tcp://127.0.0.1:%d\ncheckpoint_every_entries = 5\n"
                             "siem_backlog_warn = 5\n" % self.port)
        self.server.start()
        self.admin = self.server.admin()

    def tearDown(self):
        self.server.cleanup()
        self.rs.cleanup()

    def wait_all(self, upto):
        return wait_for(lambda: (lambda m: m if set(range(1, upto + 1)) <= entry_ids(m) else None)(
            self.rs.messages()), 40, "entries 1 to %d at rsyslog" % upto)

    def test_entries_and_checkpoints_arrive(self):
        make_entries(self.server, self.admin, 3)
        n = head(self.admin)
        msgs = self.wait_all(n)
        by_id = {o["id"]: (sev, o, ts) for sev, kind, o, ts in msgs if kind == "audit"}
        api = {e["id"]: e for e in self.admin.get("/api/v1/audit?limit=500").json["items"]}
        server_id = self.admin.get("/api/v1/audit/checkpoint").json["checkpoint"]["server_id"]
        for i in range(1, n + 1):
            sev, o, ts = by_id[i]
            self.assertEqual(o["type"], "audit_entry")
            self.assertEqual(o["server_id"], server_id)
            self.assertEqual({k: v for k, v in o.items() if k not in ("type", "server_id")}, api[i])
            self.assertEqual(ts, api[i]["time"])
            self.assertEqual(sev, 5 if api[i]["outcome"] == "success" else 4)
        ckpts = [o for _, kind, o, _ in msgs if kind == "checkpoint"]
        self.assertTrue(ckpts, "checkpoints are streamed too")
        for c in ckpts:
            self.assertEqual(c["type"], "audit_checkpoint")
            self.assertEqual(c["hash"], api[c["seq"]]["hash"])
            self.assertTrue({"document", "signature", "public_key"} <= set(c))
        metrics = self.server.client().get("/metrics", auth=False).text
        self.assertRegex(metrics, r'rampart_audit_siem_up\{destination="syslog"\} 1')

    def test_receiver_down_loses_nothing(self):
        make_entries(self.server, self.admin, 2)
        self.wait_all(head(self.admin))
        self.rs.stop()
        # Written while rsyslog is down: the appends go through, the entries wait in the log.
        t0 = time.monotonic()
        make_entries(self.server, self.admin, 3)
        self.assertLess(time.monotonic() - t0, 20)
        time.sleep(2)
        make_entries(self.server, self.admin, 1)
        n = head(self.admin)
        metrics = self.server.client().get("/metrics", auth=False).text
        self.assertRegex(metrics, r'rampart_audit_siem_failures_total\{destination="syslog"\} [1-9]')
        backlog = int(re.search(r'rampart_audit_siem_backlog\{destination="syslog"\} (\d+)', metrics).group(1))
        self.assertGreater(backlog, 0)
        self.rs.start()
        msgs = self.wait_all(n)
        self.assertLessEqual(set(range(1, n + 1)), entry_ids(msgs))
        self.assertIn("cannot reach the SIEM destination", self.server.log_text())
        self.assertIn("entries wait to be sent to the SIEM", self.server.log_text())   # siem_backlog_warn
        wait_for(lambda: re.search(r'rampart_audit_siem_backlog\{destination="syslog"\} 0\b',
                                   self.server.client().get("/metrics", auth=False).text), 20, "backlog 0")

    def test_receiver_restarts_under_load(self):
        """Entries written all along while rsyslog stops and starts again: none missing at the end."""
        stop = threading.Event()
        errors = []

        def writer():
            c = self.server.client()
            while not stop.is_set():
                try:
                    c.login("admin", "wrong-password-siem", check=False)
                except Exception as e:   # noqa: BLE001 - reported below
                    errors.append(e)
                time.sleep(0.02)

        t = threading.Thread(target=writer)
        t.start()
        try:
            time.sleep(2)
            self.rs.stop()
            time.sleep(2)
            self.rs.start()
            time.sleep(2)
            self.rs.stop()
            self.rs.start()
            time.sleep(1)
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        n = head(self.admin)
        self.assertGreater(n, 50)
        self.wait_all(n)

    def test_restart_resumes_from_the_cursor(self):
        make_entries(self.server, self.admin, 2)
        first = head(self.admin)
        self.wait_all(first)
        time.sleep(3)   # the stream's quiet window: what was sent counts as delivered
        self.server.stop()
        with open(os.path.join(self.server.data_dir, "siem", "syslog.cursor")) as f:
            cursor = f.read()
        self.assertRegex(cursor, r"^rampart-siem-cursor 1\nentry \d+ [0-9a-f]{64}\ncheckpoint \d+\n$")
        self.assertEqual(os.stat(os.path.join(self.server.data_dir, "siem", "syslog.cursor")).st_mode & 0o777, 0o600)
        count_before = len(self.rs.messages())
        self.server.start()
        self.admin = self.server.admin()
        make_entries(self.server, self.admin, 1)
        n = head(self.admin)
        msgs = self.wait_all(n)
        resent = [o["id"] for _, kind, o, _ in msgs[count_before:] if kind == "audit" and o["id"] <= first]
        self.assertEqual(resent, [], "entries acknowledged before the restart are not sent again")

    def test_rewritten_log_raises_an_alert(self):
        make_entries(self.server, self.admin, 1)
        self.wait_all(head(self.admin))
        time.sleep(3)
        # Restored from an older copy: the last entries replaced by others of the same ids.
        self.server.stop()
        db = self.server.db()
        cut = db.execute("SELECT max(id) FROM audit_log").fetchone()[0] - 2
        db.execute("DELETE FROM audit_log WHERE id > ?", (cut,))
        db.execute("UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit_log WHERE id = ?)", (cut, cut))
        db.execute("DELETE FROM audit_checkpoints WHERE seq > ?", (cut,))
        db.commit()
        db.close()
        self.server.start()
        self.admin = self.server.admin()
        make_entries(self.server, self.admin, 1)
        alerts = wait_for(lambda: [o for _, kind, o, _ in self.rs.messages() if kind == "alert"], 30, "an alert")
        self.assertEqual(alerts[0]["alert"], "log_shorter")
        self.assertEqual(alerts[0]["head"], cut)
        self.assertIn("shorter than what was sent", self.server.log_text())
        n = head(self.admin)
        self.wait_all(n)


class SyslogUnix(unittest.TestCase):
    def test_datagram_socket(self):
        d = tempfile.mkdtemp(prefix="rampart-uxs-")
        path = os.path.join(d, "audit.sock")
        rs = Rsyslog(unix_path=path).start()
        try:
            with Server("SyslogUnix", seed_hr=False, config="[audit]\nsiem_syslog = unix:%s\n" % path) as srv:
                admin = srv.admin()
                make_entries(srv, admin, 2)
                n = head(admin)
                wait_for(lambda: set(range(1, n + 1)) <= entry_ids(rs.messages()), 30, "entries over imuxsock")
        finally:
            rs.cleanup()
            shutil.rmtree(d, ignore_errors=True)


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port=0):
        self.lines, self.headers_seen, self.batch_sizes, self.status = [], [], [], 200
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), ReceiverHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()

    def entry_ids(self):
        with self.lock:
            return {o["id"] for o in self.lines if o.get("type") == "audit_entry"}


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv = self.server
        with srv.lock:
            srv.headers_seen.append(dict(self.headers))
            status = srv.status
            if status == 200:
                objs = [json.loads(line) for line in body.decode().splitlines()]
                srv.lines += objs
                srv.batch_sizes.append(sum(1 for o in objs if o.get("type") == "audit_entry"))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class HttpReceiver(unittest.TestCase):
    def setUp(self):
        self.rx = Receiver()
        self.port = self.rx.server_address[1]
        self.server = Server("HttpReceiver-" + self._testMethodName, seed_hr=False,
                             config="[audit]\nsiem_http = http://127.0.0.1:%d/ingest\n"
                             "siem_http_header = Authorization: Bearer siem-test-token-123\n" % self.port)
        self.server.start()
        self.admin = self.server.admin()

    def tearDown(self):
        self.server.cleanup()
        try:
            self.rx.close()
        except Exception:
            pass

    def wait_all(self, n):
        wait_for(lambda: set(range(1, n + 1)) <= self.rx.entry_ids(), 40, "entries 1 to %d over HTTP" % n)

    def test_entries_arrive_as_json_lines(self):
        make_entries(self.server, self.admin, 2)
        self.wait_all(head(self.admin))
        h = self.rx.headers_seen[0]
        self.assertEqual(h.get("Content-Type"), "application/x-ndjson")
        self.assertEqual(h.get("Authorization"), "Bearer siem-test-token-123")
        self.assertNotIn("siem-test-token-123", self.server.log_text())

    def test_batches_are_bounded(self):
        self.rx.status = 503   # let a backlog of more than one batch build up
        for _ in range(110):
            t = self.admin.post("/api/v1/tokens", json={"name": "batch"})
            self.admin.delete("/api/v1/tokens/%s" % t.json["id"])
        n = head(self.admin)
        self.assertGreater(n, 200)
        self.rx.status = 200
        self.wait_all(n)
        with self.rx.lock:
            sizes = list(self.rx.batch_sizes)
        self.assertGreater(len(sizes), 1)
        self.assertEqual(max(sizes), 200, "at most 200 entries per POST")

    def test_refusals_and_outage_lose_nothing(self):
        make_entries(self.server, self.admin, 1)
        self.wait_all(head(self.admin))
        self.rx.status = 503
        make_entries(self.server, self.admin, 2)
        time.sleep(2)
        self.rx.close()   # then gone altogether
        make_entries(self.server, self.admin, 2)
        time.sleep(1)
        n = head(self.admin)
        self.assertLess(len(self.rx.entry_ids()), n)
        lines_before = self.rx.lines
        self.rx = Receiver(self.port)
        self.rx.lines = lines_before   # the receiver's store survives its restart
        self.wait_all(n)
        ids = [o["id"] for o in self.rx.lines if o.get("type") == "audit_entry"]
        self.assertEqual(sorted(set(ids)), list(range(1, n + 1)))

    def test_append_never_waits(self):
        """A receiver that accepts and never answers costs the shipper, not the requests."""
        self.rx.close()
        hang = socket.socket()
        hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hang.bind(("127.0.0.1", self.port))
        hang.listen(16)
        try:
            t0 = time.monotonic()
            make_entries(self.server, self.admin, 10)
            self.assertLess(time.monotonic() - t0, 15, "appends waited for the SIEM")
        finally:
            hang.close()


class BadSettings(unittest.TestCase):
    def test_refused_at_start(self):
        for cfg, why in (("siem_syslog = udp://127.0.0.1:514", "siem_syslog"),
                         ("siem_http = ftp://x/", "siem_http"),
                         ("siem_http_header = X: y", "siem_http_header"),
                         ("checkpoint_every_entries = 0", "checkpoint_every_entries")):
            srv = Server("BadSettings", seed_hr=False, config="[audit]\n%s\n" % cfg)
            try:
                with self.assertRaises(harness.ServerError):
                    srv.start()
                self.assertIn(why, srv.log_tail())
            finally:
                srv.cleanup()


if __name__ == "__main__":
    unittest.main()
