# SPDX-License-Identifier: AGPL-3.0-or-later
"""Three rampartd on one PostgreSQL database, driven in parallel: what must be
global is global (docs/operations.md section 12).

- twenty parallel downloads of a one-time link spread over the three servers:
  exactly one gets the file;
- wrong passwords sent to different servers add up to one lockout;
- a retirement on one server ends the person's sessions on the others at once;
- the audit chain is intact after concurrent writes through all three;
- a sweeper's work is done once: each periodic job is claimed by one server
  (store/job.h), and sweeps run at the same moment on the three servers
  expire each transfer once, audited once.

The servers share the database, the key files of the first one (copied, as
section 12 says) and one blob directory (DATA/blobs a symlink to it, as an NFS
mount would be).  PostgreSQL stage only: on SQLite every server has its own
embedded database file, and there is no "several servers" to test."""

import os
import time
import unittest

import exchange_util as xu
import harness
import pgserver
from harness import ServerTestCase, query
from multi_util import Group, parallel

GOOD_PW = "Correct-horse-battery-9"
THRESHOLD = 3
# Every periodic job a server's tickers offer (src/exchange/sweep.c, src/endpoint/ep_sweep.c).
JOBS = ("endpoint.quarantine", "endpoint.retention", "endpoint.sweep", "exchange.sweep")
ENV = {
    "RAMPART_LIMITS_RATE_PER_MINUTE": "0",
    "RAMPART_AUTH_LOCKOUT_THRESHOLD": str(THRESHOLD),
    "RAMPART_AUTH_LOCKOUT_WINDOW": "300",
    "RAMPART_AUTH_LOCKOUT": "300",
    "RAMPART_AUTH_SOURCE_LOCKOUT_THRESHOLD": "1000",
}


@unittest.skipUnless(harness.engine_is_pg(),
                     "several servers share one database only on PostgreSQL (run.py --engine postgresql); "
                     "on SQLite each server has its own database file")
class ThreeServers(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.url = pgserver.create_database(harness.PG_SOCKET)
        try:
            cls.group = Group(("ThreeServersA", "ThreeServersB", "ThreeServersC"), cls.url, env=ENV)
        except BaseException:
            pgserver.drop_database(harness.PG_SOCKET, cls.url)
            raise
        cls.servers = cls.group.servers
        cls.blobs = cls.group.blobs
        try:
            # Each server's tickers offered every job at start: one server took each.
            time.sleep(1.0)
            cls.jobs_at_start = cls.jobs()
            cls.server = cls.servers[0]
            cls.admins = [s.admin() for s in cls.servers]
            cls.admin = cls.admins[0]
        except BaseException:
            cls.cleanup_all()
            raise
        cls.used = set()

    @classmethod
    def cleanup_all(cls):
        cls.group.cleanup()
        try:
            pgserver.drop_database(harness.PG_SOCKET, cls.url)
        except RuntimeError:
            pass

    @classmethod
    def tearDownClass(cls):
        dead = cls.group.dead()
        try:
            cls.group.stop()
        finally:
            cls.cleanup_all()
        if dead:
            raise AssertionError("servers died during the tests: %s" % dead)

    @classmethod
    def jobs(cls):
        rows = harness.PgDb(cls.url).execute("SELECT name, runs, owner, claimed_at, next_run FROM jobs "
                                             "ORDER BY name").fetchall()
        return {r["name"]: dict(zip(r.keys(), r)) for r in rows}

    def fresh_person(self):
        for p in self.all_people(status="active", kind="employee"):
            grants = [r for r in p.get("roles", []) if not r.get("implicit")]
            if p["login"] != "admin" and p["id"] not in self.used and not grants:
                self.used.add(p["id"])
                return p
        self.fail("the sample organization has no more unused active employees")

    def user(self):
        return self.make_user(self.fresh_person()["id"], password=GOOD_PW)

    def audit(self, **params):
        items, cursor = [], None
        while True:
            r = self.admin.get(query("/api/v1/audit", limit=500, cursor=cursor, **params))
            self.assertStatus(r, 200)
            items += r.json["items"]
            cursor = r.json.get("next")
            if not cursor:
                return items

    def assertChainIntact(self):
        for i, adm in enumerate(self.admins):
            r = adm.get("/api/v1/audit/verify")
            self.assertStatus(r, 200)
            self.assertIs(r.json["intact"], True, "server %d: %r" % (i, r.json))

    # ------------------------------------------------------------ one-time link

    def test_one_time_link_has_one_winner(self):
        data = os.urandom(40000)
        r = xu.send(self.admin, files=[("once.bin", data)], downloads=1)
        self.assertStatus(r, 201)
        t = r.json
        path = xu.link_path(t["url"])

        def download(i):
            c = self.servers[i % 3].client(timeout=60)
            return c.request("POST", path, body=xu.form(t["password"]),
                             content_type="application/x-www-form-urlencoded", auth=False)

        results = parallel([lambda i=i: download(i) for i in range(20)])
        won = [(i % 3, r) for i, r in enumerate(results) if r.status == 200]
        self.assertEqual(len(won), 1, [r.status for r in results])
        self.assertEqual(won[0][1].body, data)
        self.assertEqual(sorted(set(r.status for r in results if r.status != 200)), [410],
                         [r for r in results if r.status != 200][:3])
        for adm in self.admins:
            info = adm.get("/api/v1/transfers/" + t["id"]).json
            self.assertEqual(info["state"], "downloaded")
            self.assertEqual(len(info["downloads"]), 1, info["downloads"])
        ok = self.audit(action="exchange.download", object=t["id"], outcome="success")
        self.assertEqual(len(ok), 1, ok)

    # ------------------------------------------------------------ lockout

    def test_wrong_passwords_on_three_servers_add_up_to_one_lockout(self):
        u = self.user()
        login = u.person["login"]

        def wrong(i):
            c = self.servers[i].client(source="127.0.0.%d" % (20 + i))
            return c.login(login, "wrong-password-%d" % i, check=False).status

        # One failure on each server: none of them alone reaches the threshold.
        self.assertEqual(parallel([lambda i=i: wrong(i) for i in range(THRESHOLD)]), [401] * THRESHOLD)
        for s in self.servers:
            r = s.client(source="127.0.0.30").login(login, GOOD_PW, check=False)
            self.assertError(r, 429, "locked")
        locks = self.audit(action="auth.lockout", object=login)
        self.assertEqual(len(locks), 1, locks)
        # More guesses at once, everywhere, start no second lock.
        statuses = parallel([lambda i=i: wrong(i % 3) for i in range(9)])
        self.assertEqual(set(statuses), {429}, statuses)
        self.assertEqual(len(self.audit(action="auth.lockout", object=login)), 1)
        # The session the person had keeps working on every server.
        for s in self.servers:
            self.assertStatus(s.client(token=u.token).get("/api/v1/me"), 200)

    def test_parallel_wrong_passwords_lock_once(self):
        u = self.user()
        login = u.person["login"]

        def wrong(i):
            c = self.servers[i % 3].client(source="127.0.0.%d" % (40 + i))
            return c.login(login, "wrong-password-%d" % i, check=False).status

        statuses = parallel([lambda i=i: wrong(i) for i in range(12)])
        # Guesses that passed the lock check before the lock began are wrong (401), later ones locked.
        self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
        self.assertGreaterEqual(statuses.count(401), THRESHOLD, statuses)
        for s in self.servers:
            self.assertError(s.client(source="127.0.0.60").login(login, GOOD_PW, check=False), 429, "locked")
        self.assertEqual(len(self.audit(action="auth.lockout", object=login)), 1)

    # ------------------------------------------------------------ retirement

    def test_retirement_on_one_server_ends_sessions_on_all(self):
        u = self.user()
        b, c = self.servers[1], self.servers[2]
        # A session made on B, an API token made on C, and the session made on A.
        on_b = b.client()
        on_b.login(u.person["login"], GOOD_PW)
        r = c.client(token=u.token).post("/api/v1/tokens", json={"name": "retiree token"})
        self.assertStatus(r, 201)
        api_c = c.client(token=r.json["token"])
        clients = [on_b, api_c, b.client(token=u.token), c.client(token=u.token)]
        for cl in clients:
            self.assertStatus(cl.get("/api/v1/me"), 200)
        row = next(x for x in harness.read_sample_org() if x["employee_number"] == u.person["employee_number"])
        r = self.admin.post("/api/v1/hr/import", body=harness.hr_csv([dict(row, status="retired")]),
                            content_type="text/csv")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["retired"], 1, r.json)
        for cl in clients:
            self.assertError(cl.get("/api/v1/me"), 401)
        for s in self.servers:
            self.assertError(s.client().login(u.person["login"], GOOD_PW, check=False), 401)

    def test_scim_deactivation_and_revocation_on_one_server_end_sessions_on_all(self):
        u = self.user()
        on_c = self.servers[2].client()
        on_c.login(u.person["login"], GOOD_PW)
        on_a = self.servers[0].client(token=u.token)
        # The administrator revokes the person's sessions on B: gone on A and C.
        r = self.admins[1].post("/api/v1/people/%s/sessions/revoke" % u.person["id"])
        self.assertStatus(r, 200)
        self.assertError(on_c.get("/api/v1/me"), 401)
        self.assertError(on_a.get("/api/v1/me"), 401)
        # Logged in again on A and C, then deactivated through SCIM on B.
        on_a = self.servers[0].client()
        on_a.login(u.person["login"], GOOD_PW)
        on_c.login(u.person["login"], GOOD_PW)
        r = self.admins[1].post("/api/v1/tokens", json={"name": "scim", "scope": "scim"})
        self.assertStatus(r, 201)
        scim = self.servers[1].client(token=r.json["token"])
        r = scim.patch("/scim/v2/Users/%s" % u.person["id"], json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]},
            content_type="application/scim+json")
        self.assertStatus(r, 200)
        self.assertError(on_a.get("/api/v1/me"), 401)
        self.assertError(on_c.get("/api/v1/me"), 401)

    # ------------------------------------------------------------ audit chain

    def test_audit_chain_intact_after_concurrent_writes(self):
        before = {a: len(self.audit(action=a)) for a in ("auth.token_create", "auth.token_revoke")}

        def writer(i):
            adm = self.admins[i % 3]
            for k in range(6):
                r = adm.post("/api/v1/tokens", json={"name": "concurrent %d.%d" % (i, k)})
                if r.status != 201:
                    return "token %d.%d: %r" % (i, k, r)
                # Revoked through another server (API tokens are limited per person).
                r = self.admins[(i + 1) % 3].delete("/api/v1/tokens/%s" % r.json["id"])
                if r.status != 204:
                    return "revoke %d.%d: %r" % (i, k, r)
                if k % 2 == 0:
                    self.servers[(i + k) % 3].client().login("admin", "wrong-password-audit", check=False)
            return 6

        results = parallel([lambda i=i: writer(i) for i in range(9)])
        self.assertEqual(results, [6] * 9)
        for action, n in before.items():
            self.assertEqual(len(self.audit(action=action)) - n, 54, action)
        self.assertChainIntact()
        entries = self.audit()
        ids = [e["id"] for e in entries]
        self.assertEqual(len(ids), len(set(ids)))
        by_id = {e["id"]: e for e in entries}
        # Each entry links to the one before it, whichever server wrote either.
        ordered = sorted(ids)
        for prev, cur in zip(ordered, ordered[1:]):
            self.assertEqual(by_id[cur]["prev_hash"], by_id[prev]["hash"], "entry %d" % cur)

    def test_token_limit_holds_across_servers(self):
        u = self.user()
        live = len([t for t in u.get("/api/v1/tokens?limit=500").json["items"] if not t.get("revoked_at")])
        statuses = parallel([lambda i=i: self.servers[i % 3].client(token=u.token).post(
            "/api/v1/tokens", json={"name": "limit %d" % i}).status for i in range(60)], workers=15)
        self.assertEqual(set(statuses) - {201, 409}, set(), statuses)
        self.assertEqual(statuses.count(201), 50 - live, statuses)

    # ------------------------------------------------------------ sweepers

    def test_each_job_was_claimed_once_at_start(self):
        jobs = self.jobs_at_start
        self.assertEqual(sorted(jobs), sorted(JOBS), jobs)
        pids = {s.proc.pid for s in self.servers}
        for name, j in jobs.items():
            self.assertEqual(j["runs"], 1, "%s ran %d times with three servers started" % (name, j["runs"]))
            self.assertIn(int(j["owner"].rsplit(":", 1)[1]), pids, j)
        # Later: at most once per interval (60 s; retention 10 min) since the first claim.
        now = int(time.time() * 1000)
        for name, j in self.jobs().items():
            interval = 600000 if name == "endpoint.retention" else 60000
            self.assertLessEqual(j["runs"], 1 + (now - jobs[name]["claimed_at"]) // interval, j)

    def test_concurrent_sweeps_expire_each_transfer_once(self):
        made = []
        for i in range(4):
            r = xu.send(self.admins[i % 3], files=[("soon%d.txt" % i, b"short-lived\n")], expires="2s")
            self.assertStatus(r, 201)
            made.append(r.json["id"])
        time.sleep(2.5)
        results = parallel([lambda i=i: self.admins[i % 3].post("/api/v1/exchange/sweep", json={})
                            for i in range(9)])
        for r in results:
            self.assertStatus(r, 200)
        # A ticker's sweep may have taken some first; never more than there were.
        self.assertLessEqual(sum(r.json["changed"] for r in results), len(made))
        for tid in made:
            expired = self.audit(action="exchange.expire", object=tid)
            self.assertEqual(len(expired), 1, "transfer %s: %r" % (tid, expired))
            for adm in self.admins:
                self.assertEqual(adm.get("/api/v1/transfers/" + tid).json["state"], "expired")
            self.assertFalse(os.path.exists(os.path.join(self.blobs, tid)), "blobs of %s left" % tid)
        self.assertChainIntact()


if __name__ == "__main__":
    unittest.main()
