# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd on PostgreSQL, beyond what every other module checks on it: the
database going away and coming back under a running server (/readyz, clean
503s, nothing acknowledged lost), and two servers sharing one database.

Runs in the PostgreSQL stage (run.py --engine postgresql) on a cluster of its
own, so that stopping it disturbs no other module's servers."""

import os
import time
import unittest

import harness
import pgserver
from harness import Server


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
        self.assertIn("store: database connection lost", self.server.log_text())


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
