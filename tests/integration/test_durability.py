# SPDX-License-Identifier: AGPL-3.0-or-later
"""Durability: kill -9 rampartd under a concurrent write load, restart it,
and check that every write it acknowledged is there, that nothing is half
written (each change has its audit entry), that SQLite's integrity check
passes and that the audit chain verifies."""

import http.client
import threading
import time
import unittest

import harness
from harness import Server, hr_csv, query

ORG = "Durable Group/Durable Co/Ops"
PEOPLE = [{"employee_number": "DU%03d" % i, "family_name": "Durable%d" % i, "given_name": "Load",
           "email": "du%d@durable.example" % i, "org_unit": ORG, "title": "Operator", "status": "active",
           "kind": "employee", "manager": ""} for i in range(1, 20)]
TOKEN_THREADS = 3
ROLE_THREADS = 3
ROUNDS = 3
ACKS_BEFORE_KILL = 150


class Load:
    """Writers that record what the server acknowledged before it died."""

    def __init__(self, server, person_ids, round_no):
        self.server = server
        self.person_ids = person_ids
        self.round = round_no
        self.lock = threading.Lock()
        self.tokens = []                      # (id, secret) answered 201 and not revoked since
        self.revoked = []                     # (id, secret) whose DELETE was answered 204
        self.in_flight = set()                # ids whose DELETE was sent
        self.roles = {}                       # person id -> (last acked state, in-flight state or None)
        self.acks = 0
        self.enough = threading.Event()
        self.errors = []

    def ack(self):
        with self.lock:
            self.acks += 1
            if self.acks >= ACKS_BEFORE_KILL:
                self.enough.set()

    def token_writer(self, n, client):
        """Creates tokens and revokes the oldest once 20 are live (a person may hold 50)."""
        live = []
        i = 0
        while True:
            i += 1
            try:
                if len(live) >= 20:
                    tid, secret = live[0]
                    with self.lock:
                        self.in_flight.add(tid)   # may or may not be revoked if we die now
                    r = client.delete("/api/v1/tokens/%s" % tid)
                    ok = r.status == 204
                    if ok:
                        live.pop(0)
                        with self.lock:
                            self.revoked.append((tid, secret))
                            self.tokens.remove((tid, secret))
                else:
                    r = client.post("/api/v1/tokens", json={"name": "durable r%d w%d #%d" % (self.round, n, i)})
                    ok = r.status == 201
                    if ok:
                        live.append((r.json["id"], r.json["token"]))
                        with self.lock:
                            self.tokens.append(live[-1])
            except (OSError, http.client.HTTPException):
                return
            if not ok:
                with self.lock:
                    self.errors.append("token: %r" % (r,))
                return
            self.ack()

    def role_writer(self, pid, client):
        state = False
        self.roles[pid] = (False, None)
        while True:
            want = not state
            with self.lock:
                self.roles[pid] = (state, want)
            try:
                if want:
                    r = client.put("/api/v1/people/%s/roles/auditor" % pid, json={})
                else:
                    r = client.delete("/api/v1/people/%s/roles/auditor" % pid)
            except (OSError, http.client.HTTPException):
                return
            if r.status == 200:
                state = want
                with self.lock:
                    self.roles[pid] = (state, None)
                self.ack()
            else:
                with self.lock:
                    self.errors.append("role: %r" % (r,))
                return


class Durability(unittest.TestCase):
    def test_kill9_under_write_load(self):
        srv = Server("Durability", seed_hr=False, env={"RAMPART_LIMITS_RATE_PER_MINUTE": "0"})
        try:
            srv.start()
            admin = srv.admin()
            r = admin.post("/api/v1/hr/import", body=hr_csv(PEOPLE), content_type="text/csv")
            self.assertEqual(r.status, 200, r)
            listed = admin.get(query("/api/v1/people", q="Durable", limit=50)).json["items"]
            by_number = {p["employee_number"]: p["id"] for p in listed}
            ids = [by_number[p["employee_number"]] for p in PEOPLE[:ROLE_THREADS]]
            # Token writers act as people of their own (a person may hold at most 50 tokens).
            writers = [self.person_client(srv, admin, by_number[p["employee_number"]])
                       for p in PEOPLE[ROLE_THREADS:ROLE_THREADS + TOKEN_THREADS * ROUNDS]]
            acked_tokens, revoked_tokens = [], []
            role_state = {}
            for round_no in range(1, ROUNDS + 1):
                load = Load(srv, ids, round_no)
                threads = []
                for n in range(TOKEN_THREADS):
                    login, pw = writers[(round_no - 1) * TOKEN_THREADS + n]
                    c = srv.client()
                    c.login(login, pw)
                    threads.append(threading.Thread(target=load.token_writer, args=(n, c)))
                for pid in ids:
                    c = srv.admin()
                    threads.append(threading.Thread(target=load.role_writer, args=(pid, c)))
                for t in threads:
                    t.start()
                got = load.enough.wait(timeout=120)
                srv.kill9()
                for t in threads:
                    t.join(timeout=60)
                self.assertTrue(got, "the load never reached %d acknowledged writes" % ACKS_BEFORE_KILL)
                self.assertEqual(load.errors, [])
                # A revocation in flight at the kill may or may not have happened.
                acked_tokens += [t for t in load.tokens if t[0] not in load.in_flight]
                revoked_tokens += load.revoked

                srv.start()
                admin = srv.admin()
                # Every acknowledged token is there, and every acknowledged revocation holds.
                present = {t["id"]: t for t in self.all_tokens(admin)}
                missing = [t for t, _ in acked_tokens if t not in present]
                self.assertEqual(missing, [], "acknowledged tokens lost after kill -9 (round %d)" % round_no)
                self.assertEqual([t for t, _ in acked_tokens if present[t]["revoked_at"]], [])
                self.assertEqual([t for t, _ in revoked_tokens if t in present and not present[t]["revoked_at"]], [])
                for tid, secret in acked_tokens[-10:]:
                    self.assertEqual(srv.client(token=secret).get("/api/v1/me").status, 200, tid)
                for tid, secret in revoked_tokens[-10:]:
                    self.assertEqual(srv.client(token=secret).get("/api/v1/me").status, 401, tid)
                # Every role toggle: the acknowledged state, or the one in flight when killed.
                for pid, (acked, in_flight) in role_state.items():
                    p = admin.get("/api/v1/people/%s" % pid).json
                    has = any(x["role"] == "auditor" and not x.get("implicit") for x in p["roles"])
                    allowed = {acked} if in_flight is None else {acked, in_flight}
                    self.assertIn(has, allowed, "person %s after round %d" % (pid, round_no))
                v = admin.get("/api/v1/audit/verify").json
                self.assertIs(v["intact"], True, v)
                self.assertGreaterEqual(v["entries"], len(acked_tokens))
            srv.stop()
            self.assertGreater(len(revoked_tokens), 0, "the load should have revoked tokens too")
            self.check_database(srv, acked_tokens + revoked_tokens)
        finally:
            srv.cleanup()

    def person_client(self, srv, admin, pid):
        """(login, password) of a person given a password and past the forced change."""
        temp, final = "Durable-temporary-1", "Durable-password-22"
        r = admin.post("/api/v1/people/%s/password" % pid, json={"password": temp})
        self.assertEqual(r.status, 200, r)
        login = admin.get("/api/v1/people/%s" % pid).json["login"]
        c = srv.client()
        c.login(login, temp)
        r = c.post("/api/v1/me/password", json={"current_password": temp, "new_password": final})
        self.assertEqual(r.status, 204, r)
        return login, final

    def all_tokens(self, admin):
        items, cursor = [], None
        while True:
            r = admin.get(query("/api/v1/tokens", all=1, limit=500, cursor=cursor))
            self.assertEqual(r.status, 200, r)
            items += r.json["items"]
            cursor = r.json.get("next")
            if not cursor:
                return items

    def check_database(self, srv, acked_tokens):
        db = srv.db()
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(db.execute("PRAGMA foreign_key_check").fetchall(), [])
            # No half-written change: every token that exists has its audit entry.
            orphans = db.execute(
                "SELECT t.id FROM api_tokens t WHERE NOT EXISTS (SELECT 1 FROM audit_log a "
                "WHERE a.object_id = t.id AND a.action = 'auth.token_create')").fetchall()
            self.assertEqual(orphans, [])
            n = db.execute("SELECT count(*) FROM api_tokens WHERE name LIKE 'durable %'").fetchone()[0]
            self.assertGreaterEqual(n, len(acked_tokens))
            ids = [r[0] for r in db.execute("SELECT id FROM audit_log ORDER BY id")]
            self.assertEqual(ids, list(range(1, len(ids) + 1)))
            head = db.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()[0]
            self.assertEqual(head, len(ids))
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
