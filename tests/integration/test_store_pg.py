# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd on PostgreSQL, beyond what every other module checks on it: the
database going away and coming back under a running server (/readyz, clean
503s, nothing acknowledged lost), PostgreSQL restarted under a write load
on two servers, and two servers sharing one database.

Runs in the PostgreSQL stage (run.py --engine postgresql) on clusters of its
own, so that stopping them disturbs no other module's servers."""

import os
import threading
import time
import unittest

import exchange_util as xu
import harness
import pgserver
from harness import Server
from multi_util import Group


@unittest.skipUnless(harness.engine_is_pg(), "PostgreSQL stage only (run.py --engine postgresql)")
class PostgresOutage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pgserver.Cluster().start()
        cls.server = Server("PostgresOutage", database=pgserver.create_database(cls.cluster.socket_dir))
        try:
            cls.server.start()
            cls.admin = cls.server.admin()
        except Exception:
            cls.server.cleanup()
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.cleanup()
        finally:
            cls.cluster.stop()

    def wait_ready(self, want, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = self.server.client().get("/readyz", auth=False)
            if r.status == want:
                return r
            time.sleep(0.2)
        self.fail("/readyz did not answer %d within %ds" % (want, seconds))

    def test_outage_fails_cleanly_and_recovers(self):
        acked = []
        for i in range(5):
            r = self.admin.post("/api/v1/tokens", json={"name": "before outage %d" % i})
            self.assertEqual(r.status, 201, r)
            acked.append(r.json["id"])

        self.cluster.stop(remove=False)
        try:
            r = self.wait_ready(503)
            self.assertEqual(r.json["error"]["code"], "unavailable", r)
            # Requests fail with a clean 503 (no crash, no hang), whatever the thread.
            for _ in range(6):
                r = self.admin.post("/api/v1/tokens", json={"name": "during outage"})
                self.assertEqual(r.status, 503, r)
                self.assertIn(r.error_code(), ("unavailable", "store_error"), r)
            self.assertTrue(self.server.running(), "rampartd must survive the outage")
        finally:
            self.cluster.start()

        self.wait_ready(200)
        # Each worker thread reconnects on its own next use: every request succeeds again.
        for i in range(8):
            r = self.admin.get("/api/v1/tokens?limit=500")
            self.assertEqual(r.status, 200, r)
        names = {t["id"] for t in r.json["items"]}
        self.assertEqual([t for t in acked if t not in names], [], "acknowledged tokens lost")
        self.assertFalse(any(t["name"] == "during outage" for t in r.json["items"]))
        r = self.admin.post("/api/v1/tokens", json={"name": "after outage"})
        self.assertEqual(r.status, 201, r)
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], True, v)
        self.assertIn("store: reconnected to the database", self.server.log_text())


class Load:
    """Threads sending a mixed write load to some servers until stopped; every
    answer is kept as (started, ended, server, op, status or the exception)."""

    TIMEOUT = 20      # seconds: a request answered later than this is a hang

    def __init__(self, servers, tokens, per_server=3):
        self.servers = servers
        self.tokens = tokens            # an administrator's bearer token per server
        self.per_server = per_server
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.log = []
        self.acked = {"token": [], "revoked": [], "session": [], "transfer": []}
        self.threads = []

    def record(self, t0, server, op, result):
        with self.lock:
            self.log.append((t0, time.monotonic(), server, op, result))

    def call(self, server, op, fn):
        t0 = time.monotonic()
        try:
            r = fn()
        except Exception as e:   # a refused connection or a timeout: never acceptable
            self.record(t0, server, op, repr(e))
            return None
        self.record(t0, server, op, r.status)
        return r

    def worker(self, i, k):
        srv = self.servers[i]
        admin = srv.client(token=self.tokens[i], timeout=self.TIMEOUT)
        n = 0
        while not self.stopping.is_set():
            n += 1
            op = n % 3
            if op == 0:
                r = self.call(i, "token", lambda: admin.post("/api/v1/tokens", json={"name": "load %d.%d.%d" % (i, k, n)}))
                if r is not None and r.status == 201:
                    with self.lock:
                        self.acked["token"].append(r.json["id"])
                    r2 = self.call(i, "revoke", lambda: admin.delete("/api/v1/tokens/%s" % r.json["id"]))
                    if r2 is not None and r2.status == 204:
                        with self.lock:
                            self.acked["revoked"].append(r.json["id"])
            elif op == 1:
                c = srv.client(timeout=self.TIMEOUT)
                r = self.call(i, "login", lambda: c.login("admin", srv.admin_password, check=False))
                if r is not None and r.status == 200:
                    with self.lock:
                        self.acked["session"].append((i, c.token))
            else:
                r = self.call(i, "transfer", lambda: xu.send(admin, files=[("load.txt", b"load %d\n" % n)]))
                if r is not None and r.status == 201:
                    with self.lock:
                        self.acked["transfer"].append(r.json["id"])
            time.sleep(0.02)

    def start(self):
        for i in range(len(self.servers)):
            for k in range(self.per_server):
                t = threading.Thread(target=self.worker, args=(i, k), daemon=True)
                t.start()
                self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(self.TIMEOUT + 10)
        return [t for t in self.threads if t.is_alive()]

    def between(self, t0, t1):
        with self.lock:
            return [e for e in self.log if t0 <= e[0] < t1]


@unittest.skipUnless(harness.engine_is_pg(), "PostgreSQL stage only (run.py --engine postgresql)")
class RestartUnderLoad(unittest.TestCase):
    """PostgreSQL stopped (pg_ctl stop -m fast) and started again while two
    servers take a mixed write load: requests fail with 503 while it is down,
    never hang nor crash a server; the servers recover by themselves; every
    write acknowledged before, during and after is there; the chain verifies."""

    DOWN_S = 4
    RECOVER_S = 15     # after PostgreSQL is back, every server answers writes within this

    @classmethod
    def setUpClass(cls):
        cls.cluster = pgserver.Cluster().start()
        try:
            cls.group = Group(("RestartLoadA", "RestartLoadB"), pgserver.create_database(cls.cluster.socket_dir),
                              env={"RAMPART_LIMITS_RATE_PER_MINUTE": "0"})
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.group.cleanup()
        finally:
            cls.cluster.stop_keeping_log(os.path.join(harness.OUTPUT, "RestartUnderLoad-postgresql.log"))

    def first_write_ok(self, i, deadline):
        c = self.group.servers[i].client(token=self.tokens[i], timeout=Load.TIMEOUT)
        while time.monotonic() < deadline:
            r = c.post("/api/v1/tokens", json={"name": "recovered"})
            if r.status == 201:
                c.delete("/api/v1/tokens/%s" % r.json["id"])
                return time.monotonic()
            time.sleep(0.2)
        return None

    def test_restart_under_load(self):
        servers = self.group.servers
        self.tokens = [s.admin().token for s in servers]
        load = Load(servers, self.tokens)
        load.start()
        try:
            time.sleep(3)
            t_stopping = time.monotonic()
            self.cluster.stop(remove=False)
            t_down = time.monotonic()
            time.sleep(self.DOWN_S)
            for s in servers:
                self.assertTrue(s.running(), "%s died while PostgreSQL was down" % s.name)
            t_up = time.monotonic()
            self.cluster.start()
            t_started = time.monotonic()
            deadline = t_started + self.RECOVER_S
            recovered = [self.first_write_ok(i, deadline) for i in range(len(servers))]
            self.assertNotIn(None, recovered, "a server did not recover within %ds" % self.RECOVER_S)
            for s in servers:
                self.assertEqual(s.client().get("/readyz", auth=False).status, 200)
            t_recovered = max(recovered)
            time.sleep(3)
        finally:
            stuck = load.stop()
        t_end = time.monotonic()
        self.assertEqual(stuck, [], "load threads still waiting for an answer")
        self.assertEqual(self.group.dead(), [], "a server died")

        # Nothing but answers: no refused connection, no timeout; every failure a 503.
        errors = [e for e in load.log if not isinstance(e[4], int)]
        self.assertEqual(errors, [], errors[:5])
        slow = [e for e in load.log if e[1] - e[0] > Load.TIMEOUT - 5]
        self.assertEqual(slow, [], slow[:5])
        failures = [e for e in load.log if not 200 <= e[4] < 300]
        self.assertEqual(sorted(set(e[4] for e in failures)), [503], failures[:5])
        before = load.between(0, t_stopping)
        during = load.between(t_down, t_up)
        after = load.between(t_recovered + 1, t_end)
        self.assertTrue(before and all(200 <= e[4] < 300 for e in before), [e for e in before if e[4] >= 300][:5])
        self.assertTrue(during, "no request was sent while PostgreSQL was down")
        self.assertEqual([e for e in during if e[4] != 503], [], "answered without a database")
        self.assertTrue(after and all(200 <= e[4] < 300 for e in after),
                        [e for e in after if not 200 <= e[4] < 300][:5])
        late = [e for e in load.between(t_started, t_end) if e[4] == 503]
        print("\nrestart under load: %d requests, %d before, %d while down (503), %d after; recovered %.1fs "
              "after PostgreSQL was up, %d 503s since" % (len(load.log), len(before), len(during), len(after),
                                                          t_recovered - t_started, len(late)))

        # Every acknowledged write is there, on both servers.
        admin = servers[0].client(token=self.tokens[0])
        listed, cursor = {}, None
        while True:
            r = admin.get(harness.query("/api/v1/tokens", all=1, limit=500, cursor=cursor))
            self.assertEqual(r.status, 200, r)
            listed.update((t["id"], t) for t in r.json["items"])
            cursor = r.json.get("next")
            if not cursor:
                break
        self.assertEqual([t for t in load.acked["token"] if t not in listed], [], "acknowledged tokens lost")
        self.assertEqual([t for t in load.acked["revoked"] if not listed[t].get("revoked_at")], [],
                         "acknowledged revocations lost")
        self.assertTrue(load.acked["session"] and load.acked["transfer"])
        for i, token in load.acked["session"]:
            for s in servers:
                r = s.client(token=token).get("/api/v1/me")
                self.assertEqual(r.status, 200, "session made on server %d: %r" % (i, r))
        for tid in load.acked["transfer"]:
            r = servers[1].client(token=self.tokens[1]).get("/api/v1/transfers/" + tid)
            self.assertEqual(r.status, 200, "transfer %s: %r" % (tid, r))
        for i, s in enumerate(servers):
            v = s.client(token=self.tokens[i]).get("/api/v1/audit/verify").json
            self.assertIs(v["intact"], True, v)


@unittest.skipUnless(harness.engine_is_pg(), "PostgreSQL stage only (run.py --engine postgresql)")
class TwoServersOneDatabase(unittest.TestCase):
    """Two rampartd on one database see each other's writes at once."""

    def test_sessions_and_audit_are_shared(self):
        url = pgserver.create_database(harness.PG_SOCKET)
        a = Server("TwoServersA", database=url)
        b = Server("TwoServersB", database=url, seed_hr=False)
        try:
            a.start()
            b.start()   # finds the schema migrated and the administrator created
            admin_a = a.admin()
            # The session made on A works on B, and its revocation on B ends it on A.
            on_b = b.client(token=admin_a.token)
            self.assertEqual(on_b.get("/api/v1/me").status, 200)
            r = admin_a.post("/api/v1/tokens", json={"name": "shared"})
            self.assertEqual(r.status, 201, r)
            tok = r.json
            self.assertEqual(b.client(token=tok["token"]).get("/api/v1/me").status, 200)
            self.assertEqual(on_b.delete("/api/v1/tokens/%s" % tok["id"]).status, 204)
            self.assertEqual(a.client(token=tok["token"]).get("/api/v1/me").status, 401)
            # Both servers write one audit chain, intact.
            admin_b = b.admin()
            for i in range(5):
                self.assertEqual(admin_a.post("/api/v1/tokens", json={"name": "a%d" % i}).status, 201)
                self.assertEqual(admin_b.post("/api/v1/tokens", json={"name": "b%d" % i}).status, 201)
            for srv in (a, b):
                v = srv.admin().get("/api/v1/audit/verify").json
                self.assertIs(v["intact"], True, v)
        finally:
            b.cleanup()
            a.cleanup()
            pgserver.drop_database(harness.PG_SOCKET, url)


if __name__ == "__main__":
    unittest.main()
