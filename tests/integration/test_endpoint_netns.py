# SPDX-License-Identifier: AGPL-3.0-or-later
"""Endpoint quarantine for real, inside a network namespace this test creates.

A veth pair joins the test's own network namespace (where a real rampartd and
a second TCP service listen on the host end, a private 10.251.x.1 address
routed nowhere) to a new namespace where a real rampart-agent runs (10.251.x.2).
The agent enrolls, checks in from a copy of the fixture root, receives a
policy, falls out of compliance and is quarantined: inside its namespace
`nft list table inet rampart_quarantine` shows the table, the second service
is unreachable while rampartd is still reached, and a compliant check-in (or
an administrator) releases it, which removes the table and makes the service
reachable again.  An administrator's quarantine survives an agent restart.
Orders forged with another key, naming another device, or replayed from
before are refused by the agent, and a replayed signed check-in by the server.

Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for `ip netns`) and nftables; without
them the test class reports itself skipped with the reason, which run.py
counts as skipped, never as passed."""

import base64
import http.server
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import Client, Server, ServerTestCase

FIXTURE = os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root")
DAY = 86400
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
TABLE = "rampart_quarantine"


def agent_path():
    return os.path.join(harness.BUILD, "src", "agent", "rampart-agent")


def run(*cmd, check=True, timeout=60, **kw):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def netns_unavailable():
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces"
    for prog in ("ip", "nft"):
        if not shutil.which(prog):
            return "the %s program is not installed" % prog
    probe = "rampart-probe-%d" % os.getpid()
    p = run("ip", "netns", "add", probe, check=False)
    if p.returncode != 0:
        return "kernel: ip netns add failed: %s" % p.stderr.strip()
    try:
        p = run("ip", "netns", "exec", probe, "nft", "list", "ruleset", check=False)
        if p.returncode != 0:
            return "kernel: nftables is not usable in a network namespace: %s" % p.stderr.strip()
    finally:
        run("ip", "netns", "delete", probe, check=False)
    return None


def sign_seed(seed, text, tmp):
    """Ed25519 signature (base64) of @text with the 32-byte @seed, through openssl."""
    key, data = os.path.join(tmp, "sign.der"), os.path.join(tmp, "sign.msg")
    with open(key, "wb") as f:
        f.write(ED25519_PKCS8_PREFIX + seed)
    os.chmod(key, 0o600)
    with open(data, "wb") as f:
        f.write(text.encode())
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-keyform", "DER", "-rawin", "-in", data],
                         capture_output=True, check=True, timeout=60).stdout
    os.unlink(key)
    return base64.b64encode(sig).decode()


def order(seed, tmp, device_id, quarantined, reason, issued_at):
    """A quarantine order as rampartd signs it: canonical JSON (sorted, compact, ASCII)."""
    text = json.dumps({"device_id": device_id, "quarantined": quarantined, "reason": reason,
                       "issued_at": issued_at}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {"document": text, "signature": sign_seed(seed, text, tmp)}


class NetnsServer(Server):
    """rampartd listening on the host end of the veth pair instead of 127.0.0.1."""

    def __init__(self, name, host, **kw):
        self.host = host
        super().__init__(name, **kw)

    def command(self):
        cmd = super().command()
        cmd[cmd.index("--listen") + 1] = "%s:0" % self.host
        return cmd

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def client(self, **kw):
        return NetnsClient(self, **kw)


class NetnsClient(Client):
    def _conn(self):
        import http.client
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=self.timeout)


class Proxy:
    """A man in the middle on the host end: forwards the agent's requests to
    rampartd, keeps the last signed request, and passes each answer through
    `tamper` (a function of the parsed JSON, or None)."""

    def __init__(self, host, upstream):
        outer = self
        self.tamper = None
        self.last_request = None

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hdrs = {h: self.headers[h] for h in ("Content-Type", "X-Rampart-Device", "X-Rampart-Timestamp",
                                                     "X-Rampart-Signature") if self.headers.get(h)}
                outer.last_request = (self.path, body, hdrs)
                req = urllib.request.Request(upstream + self.path, data=body, method="POST", headers=hdrs)
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                if status == 200 and outer.tamper:
                    ans = json.loads(data)
                    outer.tamper(ans)
                    data = json.dumps(ans).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = "http://%s:%d" % (host, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Greeter:
    """The second TCP service: answers "hello" to every connection."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                try:
                    c.sendall(b"hello\n")
                except OSError:
                    pass

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Echo:
    """A TCP echo service, for a connection that stays open across the quarantine."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        with c:
            try:
                while True:
                    data = c.recv(4096)
                    if not data:
                        return
                    c.sendall(data)
            except OSError:
                return

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# Runs in the agent's namespace: connects once, then echoes each stdin line through the connection.
ECHO_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(3)
print("connected", flush=True)
for line in sys.stdin:
    try:
        s.sendall(line.encode())
        print(s.recv(100).decode().strip() or "closed", flush=True)
    except OSError as e:
        print("failed", flush=True)
"""


class EndpointNetns(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        why = netns_unavailable()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="rampart-netns-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        # A /30 of 10.251.0.0/16 that no interface of this machine uses yet.
        used = run("ip", "-4", "-o", "addr", "show").stdout
        for _ in range(100):
            n = random.randint(1, 254)
            if " 10.251.%d." % n not in used:
                break
        cls.host_ip, cls.agent_ip = "10.251.%d.1" % n, "10.251.%d.2" % n
        cls.ns = "rampart-q%d" % os.getpid()
        cls.veth = "rq%dh" % (os.getpid() % 100000)
        run("ip", "netns", "add", cls.ns)
        # Deleting the namespace also deletes the veth pair; runs even when setUpClass fails below.
        cls.addClassCleanup(run, "ip", "netns", "delete", cls.ns, check=False)
        cls.addClassCleanup(run, "ip", "link", "delete", cls.veth, check=False)
        run("ip", "link", "add", cls.veth, "type", "veth", "peer", "name", "rqa0", "netns", cls.ns)
        run("ip", "addr", "add", cls.host_ip + "/30", "dev", cls.veth)
        run("ip", "link", "set", cls.veth, "up")
        run("ip", "-n", cls.ns, "addr", "add", cls.agent_ip + "/30", "dev", "rqa0")
        run("ip", "-n", cls.ns, "link", "set", "rqa0", "up")
        run("ip", "-n", cls.ns, "link", "set", "lo", "up")

        cls.server = NetnsServer(cls.__name__, cls.host_ip)
        try:
            cls.server.start()
            cls.admin = cls.server.admin()
        except Exception:
            cls.server.cleanup()
            raise
        cls.addClassCleanup(cls.server.cleanup)
        cls.greeter = Greeter(cls.host_ip)
        cls.addClassCleanup(cls.greeter.close)
        cls.proxy = Proxy(cls.host_ip, cls.server.url)
        cls.addClassCleanup(cls.proxy.close)
        cls.echo = Echo(cls.host_ip)
        cls.addClassCleanup(cls.echo.close)

        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root)
        # The agent's resolver: the quarantine lets DNS through to it (nothing answers there).
        with open(os.path.join(cls.root, "etc", "resolv.conf"), "w") as f:
            f.write("nameserver %s\n" % cls.host_ip)
        cls.set_signature_age(1 * DAY)
        with open(os.path.join(cls.server.data_dir, "policy_sign.key"), "rb") as f:
            cls.server_seed = f.read()[:32]
        cls.units = {u["path"]: u["id"] for u in cls.admin.get("/api/v1/org").json["items"]}
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        cls.division = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                               if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})[0]
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        # Everything is undone by the class cleanups, in reverse order, even after a failed set-up.
        pass

    @classmethod
    def set_signature_age(cls, age_s):
        t = time.time() - age_s
        for name in ("main.cvd", "daily.cld"):
            os.utime(os.path.join(cls.root, "var", "lib", "clamav", name), (t, t))

    # ------------------------------------------------------------ helpers

    def in_ns(self, *cmd, check=True, timeout=60):
        return run("ip", "netns", "exec", self.ns, *cmd, check=check, timeout=timeout)

    def agent(self, *args, check=True):
        p = self.in_ns(agent_path(), *args, check=False, timeout=120)
        if check and p.returncode != 0:
            self.fail("rampart-agent %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def enroll(self):
        type(self).seq += 1
        state = os.path.join(self.tmp, "state-%d" % self.seq)
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": self.division, "uses": 1})
        self.assertStatus(r, 201)
        self.agent("enroll", "--server", self.server.url, "--token", r.json["token"], "--state-dir", state,
                   "--root", self.root)
        with open(os.path.join(state, "device.json")) as f:
            return state, json.load(f)

    def checkin(self, state, *extra, check=True):
        p = self.agent("checkin", "--json", "--state-dir", state, "--root", self.root, *extra, check=check)
        return (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr

    def status(self, state):
        return json.loads(self.agent("status", "--json", "--state-dir", state).stdout)

    def table(self):
        """The quarantine table as nft lists it inside the agent's namespace, or None."""
        p = self.in_ns("nft", "list", "table", "inet", TABLE, check=False)
        return p.stdout if p.returncode == 0 else None

    def reachable(self, port):
        """Whether a TCP connection from the agent's namespace to the host end on @port is established
        (a dropped SYN times out)."""
        code = ("import socket,sys\n"
                "try:\n"
                "    socket.create_connection((%r, %d), timeout=2).close()\n"
                "except OSError:\n"
                "    sys.exit(1)\n") % (self.host_ip, port)
        return self.in_ns("python3", "-c", code, check=False).returncode == 0

    def device(self, dev):
        r = self.admin.get("/api/v1/devices/%s" % dev["device_id"])
        self.assertStatus(r, 200)
        return r.json

    def put_policy(self, body):
        r = self.admin.put("/api/v1/endpoint/policies/%s" % self.units[self.division], json=body)
        self.assertStatus(r, (200, 201))

    def assertQuarantined(self, state):
        text = self.table()
        self.assertIsNotNone(text, "no quarantine table in the agent's namespace")
        self.assertIn("policy drop", text)
        self.assertIn("ip daddr %s tcp dport %d accept" % (self.host_ip, self.server.port), text)
        self.assertFalse(self.reachable(self.greeter.port), "the second service is reachable in quarantine")
        self.assertTrue(self.reachable(self.server.port), "rampartd is not reachable in quarantine")
        st = self.status(state)
        self.assertTrue(st["quarantine"]["quarantined"], st)
        self.assertEqual(st["quarantine_table"], "installed")

    def assertReleased(self, state):
        self.assertIsNone(self.table(), "the quarantine table is still there")
        self.assertTrue(self.reachable(self.greeter.port), "the second service is unreachable after release")
        st = self.status(state)
        self.assertFalse(st["quarantine"]["quarantined"], st)
        self.assertEqual(st["quarantine_table"], "absent")

    def setUp(self):
        # Every test starts with a PC that has a firewall of its own (so that it can be compliant)
        # and no quarantine.
        self.in_ns("nft", "flush", "ruleset")
        self.in_ns("nft", "add", "table", "inet", "filter")
        self.in_ns("nft", "add", "chain", "inet", "filter", "input",
                   "{ type filter hook input priority 0; policy accept; }")
        self.set_signature_age(1 * DAY)
        self.proxy.tamper = None

    # ------------------------------------------------------------ tests

    def test_grace_period_quarantine_and_release(self):
        self.put_policy({"baseline": {"antivirus_max_age_days": 7, "firewall": True},
                         "quarantine": {"grace_period": "0s"}})
        state, dev = self.enroll()
        self.assertTrue(self.reachable(self.greeter.port))
        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "compliant", ans)
        self.assertIn("policy", ans)
        self.assertFalse(json.loads(ans["quarantine"]["document"])["quarantined"])
        self.assertIsNone(self.table())
        # The posture names the agent's address on the veth, and not loopback.
        rep = json.loads(self.agent("posture", "--json", "--root", self.root).stdout)
        self.assertIn(self.agent_ip, rep["addresses"])
        self.assertNotIn("127.0.0.1", rep["addresses"])
        self.assertTrue(rep["firewall"]["nftables_active"])

        # Signatures go stale: non-compliant past a grace period of 0s means quarantined.
        self.set_signature_age(10 * DAY)
        deadline = time.monotonic() + 30
        while True:
            ans, err = self.checkin(state)
            if json.loads(ans["quarantine"]["document"])["quarantined"] or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertTrue(json.loads(ans["quarantine"]["document"])["quarantined"], (ans, err))
        self.assertIn("quarantined", err)
        self.assertEqual(self.device(dev)["state"], "quarantined")
        self.assertQuarantined(state)
        # The quarantine table itself is no firewall: without the PC's own table the posture says so.
        self.in_ns("nft", "delete", "table", "inet", "filter")
        rep = json.loads(self.agent("posture", "--json", "--root", self.root).stdout)
        self.assertFalse(rep["firewall"]["nftables_active"], rep["firewall"])
        self.in_ns("nft", "add", "table", "inet", "filter")

        # Checking in again while quarantined keeps exactly one table.
        self.checkin(state)
        tables = self.in_ns("nft", "list", "tables").stdout
        self.assertEqual(tables.count("table inet " + TABLE), 1, tables)

        # Fresh signatures: the next check-in is compliant and releases the device.
        self.set_signature_age(1 * DAY)
        ans, err = self.checkin(state)
        self.assertFalse(json.loads(ans["quarantine"]["document"])["quarantined"], (ans, err))
        self.assertIn("lifted", err)
        self.assertReleased(state)
        self.assertEqual(self.device(dev)["state"], "compliant")
        audit = self.admin.get(harness.query("/api/v1/audit", object=dev["device_id"], limit=100)).json["items"]
        actions = [a["action"] for a in audit]
        self.assertIn("endpoint.device.quarantine", actions)
        self.assertIn("endpoint.device.release", actions)

    def test_admin_quarantine_survives_restart_and_is_released(self):
        self.put_policy({"baseline": {"antivirus_max_age_days": 7, "firewall": True},
                         "quarantine": {"grace_period": "7d"}})
        state, dev = self.enroll()
        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "compliant")
        # A connection opened before the quarantine (a remote shell, say) works until then.
        client = subprocess.Popen(["ip", "netns", "exec", self.ns, "python3", "-c", ECHO_CLIENT, self.host_ip,
                                   str(self.echo.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(client.wait, 30)
        self.addCleanup(client.stdin.close)
        self.assertEqual(client.stdout.readline().strip(), "connected")
        client.stdin.write("before\n")
        client.stdin.flush()
        self.assertEqual(client.stdout.readline().strip(), "before")
        r = self.admin.post("/api/v1/devices/%s/quarantine" % dev["device_id"],
                            json={"reason": "suspicious beacon to 198.51.100.7"})
        self.assertStatus(r, 200)
        ans, _ = self.checkin(state)
        self.assertTrue(json.loads(ans["quarantine"]["document"])["quarantined"])
        self.assertQuarantined(state)
        # ... and is cut by it.
        client.stdin.write("during\n")
        client.stdin.flush()
        self.assertEqual(client.stdout.readline().strip(), "failed")
        st = self.status(state)
        self.assertEqual(st["quarantine"]["reason"], "suspicious beacon to 198.51.100.7")
        text = self.agent("status", "--state-dir", state).stdout
        self.assertIn("quarantined: yes", text)
        self.assertIn("suspicious beacon", text)
        with open(os.path.join(state, "quarantine.json")) as f:
            self.assertTrue(json.loads(json.load(f)["document"])["quarantined"])
        self.assertEqual(os.stat(os.path.join(state, "quarantine.json")).st_mode & 0o777, 0o600)

        # The table is gone (a reboot, someone flushing the ruleset) and the server is unreachable:
        # `run` puts it back from the stored order before it even checks in.
        self.in_ns("nft", "delete", "table", "inet", TABLE)
        self.assertTrue(self.reachable(self.greeter.port))
        p = self.agent("run", "--count", "1", "--state-dir", state, "--root", self.root,
                       "--server", "http://%s:1" % self.host_ip, check=False)
        self.assertNotEqual(p.returncode, 0, "the check-in against a closed port succeeded")
        self.assertIsNotNone(self.table(), p.stderr)
        self.assertFalse(self.reachable(self.greeter.port))
        # The regular check-in puts the real server back into the table.
        self.checkin(state)
        self.assertQuarantined(state)

        # A compliant check-in does not lift an administrator's quarantine; the administrator does.
        ans, _ = self.checkin(state)
        self.assertTrue(json.loads(ans["quarantine"]["document"])["quarantined"])
        r = self.admin.post("/api/v1/devices/%s/release" % dev["device_id"], json={"reason": "reimaged"})
        self.assertStatus(r, 200)
        self.checkin(state)
        self.assertReleased(state)

    def test_forged_foreign_and_replayed_orders_are_refused(self):
        self.put_policy({"baseline": {"antivirus_max_age_days": 7, "firewall": True},
                         "quarantine": {"grace_period": "7d"}})
        state, dev = self.enroll()
        did = dev["device_id"]
        ans, _ = self.checkin(state)
        old_release = ans["quarantine"]
        self.assertFalse(json.loads(old_release["document"])["quarantined"])
        time.sleep(0.01)
        r = self.admin.post("/api/v1/devices/%s/quarantine" % did, json={"reason": "incident 42"})
        self.assertStatus(r, 200)
        self.checkin(state)
        self.assertQuarantined(state)
        with open(os.path.join(state, "quarantine.json")) as f:
            stored = f.read()
        now = int(time.time() * 1000) + 60000

        def through_proxy(forged):
            def tamper(a):
                a["quarantine"] = forged
            self.proxy.tamper = tamper
            ans, err = self.checkin(state, "--server", self.proxy.url)
            self.proxy.tamper = None
            self.assertEqual(ans["quarantine"], forged)
            return err

        # A release signed with another key.
        other = os.urandom(32)
        err = through_proxy(order(other, self.tmp, did, False, "", now))
        self.assertIn("quarantine order is refused", err)
        self.assertIn("signature", err)
        # A release for another device, signed with the real server key.
        err = through_proxy(order(self.server_seed, self.tmp, "another-device", False, "", now))
        self.assertIn("another device", err)
        # The genuine release of before the quarantine, replayed.
        err = through_proxy(old_release)
        self.assertIn("older", err)
        # An order with a field changed after signing.
        tampered = dict(order(self.server_seed, self.tmp, did, True, "x", now))
        tampered["document"] = tampered["document"].replace("true", "false")
        err = through_proxy(tampered)
        self.assertIn("refused", err)
        # Nothing of it touched the quarantine or its stored order.
        self.assertIsNotNone(self.table())
        self.assertFalse(self.reachable(self.greeter.port))
        with open(os.path.join(state, "quarantine.json")) as f:
            self.assertEqual(f.read(), stored)

        # The agent's signed check-in (through the proxy) replayed as it was: the server refuses it.
        self.checkin(state, "--server", self.proxy.url)
        path, body, hdrs = self.proxy.last_request
        r = self.server.client().request("POST", path, body=body, headers=hdrs, auth=False)
        self.assertError(r, 401, "unauthenticated")

        # A stored order edited on disk is refused when loaded, and run does not lift the quarantine for it.
        signed = json.loads(stored)
        signed["document"] = signed["document"].replace("true", "false")
        with open(os.path.join(state, "quarantine.json"), "w") as f:
            json.dump(signed, f)
        st = self.agent("status", "--json", "--state-dir", state)
        self.assertIn("refused", st.stderr)
        self.assertIsNotNone(self.table())

        r = self.admin.post("/api/v1/devices/%s/release" % did, json={"reason": "closed"})
        self.assertStatus(r, 200)
        self.checkin(state)
        self.assertReleased(state)


if __name__ == "__main__":
    unittest.main()
