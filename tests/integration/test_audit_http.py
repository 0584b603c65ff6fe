# SPDX-License-Identifier: AGPL-3.0-or-later
"""The audit log over HTTP: filters, paging, who may read it, and the hash
chain: intact after normal use, and broken (with the first bad entry named)
after the SQLite file is edited, rows deleted, reordered or the tail cut.
`rampart audit verify` must then exit non-zero too."""

import hashlib
import json
import os
import sqlite3
import subprocess
import time
import unittest

import harness
from harness import Server, ServerTestCase, query

GENESIS = "0" * 64


def entry_hash(prev, row):
    """The chain's hash of one audit_log row, as documented in docs/security.md."""
    canon = [prev, row["id"], row["ts"], row["actor_id"], row["actor_login"], row["source"], row["action"],
             row["object_type"], row["object_id"], row["outcome"], row["details"], row["request_id"]]
    text = json.dumps(canon, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_activity(server, admin):
    """A few kinds of entries: logins that failed and succeeded, token changes."""
    c = server.client()
    for _ in range(2):
        c.login("admin", "wrong-password-audit", check=False)
    c.login("no-such-login", "wrong-password-audit", check=False)
    server.client().login("admin", harness.ADMIN_PASSWORD)
    t = admin.post("/api/v1/tokens", json={"name": "audited token"})
    admin.delete("/api/v1/tokens/%s" % t.json["id"])
    return t.json["id"]


class AuditLog(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token_id = make_activity(cls.server, cls.admin)

    def entries(self, **params):
        items, cursor = [], None
        while True:
            r = self.admin.get(query("/api/v1/audit", limit=100, cursor=cursor, **params))
            self.assertStatus(r, 200)
            items += r.json["items"]
            cursor = r.json["next"]
            if not cursor:
                return items

    def test_entry_shape_and_order(self):
        items = self.entries()
        self.assertGreaterEqual(len(items), 6)
        ids = [e["id"] for e in items]
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
        self.assertEqual(sorted(ids), list(range(1, max(ids) + 1)), "no gaps")
        for e in items:
            for k in ("id", "time", "actor_id", "actor_login", "source", "action", "object_type", "object_id",
                      "outcome", "details", "request_id", "prev_hash", "hash"):
                self.assertIn(k, e)
            self.assertIn(e["outcome"], ("success", "failure", "denied"))
            self.assertRegex(e["hash"], r"^[0-9a-f]{64}$")
        self.assertEqual(items[-1]["action"], "identity.bootstrap_admin")
        self.assertEqual(items[-1]["prev_hash"], GENESIS)

    def test_filters(self):
        fails = self.entries(action="auth.login", outcome="failure")
        self.assertGreaterEqual(len(fails), 3)
        self.assertTrue(all(e["action"] == "auth.login" and e["outcome"] == "failure" for e in fails))
        self.assertTrue(all(e["source"] == "127.0.0.1" for e in fails))
        ok = self.entries(action="auth.login", outcome="success")
        self.assertTrue(ok and all(e["outcome"] == "success" for e in ok))
        by_login = self.entries(actor="admin")
        admin_id = self.person_by_login("admin")["id"]
        by_id = self.entries(actor=admin_id)
        self.assertTrue(by_id)
        self.assertEqual([e["id"] for e in by_login], [e["id"] for e in by_id])
        self.assertTrue(all(e["actor_id"] == admin_id for e in by_id))
        tok = self.entries(object=self.token_id)
        self.assertEqual(sorted(e["action"] for e in tok), ["auth.token_create", "auth.token_revoke"])
        self.assertEqual(self.entries(since="2100-01-01T00:00:00Z"), [])
        self.assertEqual(self.entries(until="2000-01-01T00:00:00Z"), [])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        self.assertEqual(len(self.entries(until=now)), len(self.entries()))
        self.assertEqual(self.entries(action="no.such.action"), [])

    def test_bad_filters(self):
        self.assertError(self.admin.get(query("/api/v1/audit", outcome="maybe")), 400, "invalid")
        self.assertError(self.admin.get(query("/api/v1/audit", since="yesterday")), 400, "invalid")
        self.assertError(self.admin.get(query("/api/v1/audit", cursor="x")), 400, "invalid")
        self.assertError(self.admin.get(query("/api/v1/audit", limit="0")), 400, "invalid")

    def test_paging(self):
        everything = [e["id"] for e in self.entries()]
        got, cursor = [], None
        while True:
            r = self.admin.get(query("/api/v1/audit", limit=2, cursor=cursor))
            self.assertLessEqual(len(r.json["items"]), 2)
            got += [e["id"] for e in r.json["items"]]
            cursor = r.json["next"]
            if not cursor:
                break
        # Listing writes nothing to the log, so both walks see the same entries.
        self.assertEqual(got, everything)

    def test_no_secrets_in_details(self):
        text = json.dumps(self.entries())
        self.assertNotIn(harness.ADMIN_PASSWORD, text)
        self.assertNotIn("wrong-password-audit", text)
        self.assertNotIn(self.admin.token, text)

    def test_verify_intact(self):
        r = self.admin.get("/api/v1/audit/verify")
        self.assertStatus(r, 200)
        self.assertIs(r.json["intact"], True)
        self.assertIsNone(r.json["first_broken"])
        self.assertGreaterEqual(r.json["entries"], 6)

    def test_chain_recomputes_from_outside(self):
        """The documented hash recipe reproduces every stored hash."""
        db = self.server.db()
        db.row_factory = sqlite3.Row
        prev = GENESIS
        rows = db.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
        db.close()
        self.assertTrue(rows)
        for row in rows:
            self.assertEqual(row["prev_hash"], prev, "entry %d" % row["id"])
            self.assertEqual(entry_hash(prev, row), row["hash"], "entry %d" % row["id"])
            prev = row["hash"]

    def test_readers(self):
        self.assertError(self.server.client().get("/api/v1/audit", auth=False), 401, "unauthenticated")
        self.assertError(self.server.client().get("/api/v1/audit/verify", auth=False), 401, "unauthenticated")


class AuditTamper(unittest.TestCase):
    """One fresh server per case: tamper with rampart.db, then verify."""

    def setUp(self):
        self.server = Server("AuditTamper-" + self._testMethodName, seed_hr=False)
        self.server.start()
        self.admin = self.server.admin()
        make_activity(self.server, self.admin)
        make_activity(self.server, self.admin)
        r = self.admin.get("/api/v1/audit/verify")
        self.assertIs(r.json["intact"], True, r)
        self.count = r.json["entries"]
        self.assertGreaterEqual(self.count, 10)

    def tearDown(self):
        self.server.cleanup()

    def db(self):
        c = self.server.db()
        c.row_factory = sqlite3.Row
        return c

    def verify(self):
        r = self.admin.get("/api/v1/audit/verify")
        self.assertEqual(r.status, 200, r)
        return r.json

    def assertBrokenAt(self, first_broken):
        v = self.verify()
        self.assertIs(v["intact"], False, v)
        self.assertEqual(v["first_broken"], first_broken, v)
        self.assertTrue(v.get("reason"), v)
        self.assertCliVerify(ok=False)

    def assertCliVerify(self, ok):
        cli = harness.cli_path()
        if not os.access(cli, os.X_OK):
            return   # the CLI is not built in this tree; the API answer was checked
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update({"RAMPART_SERVER": self.server.url, "RAMPART_TOKEN": self.admin.token,
                    "XDG_CONFIG_HOME": self.server.work_dir, "HOME": self.server.work_dir})
        p = subprocess.run([cli, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
        if ok:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        else:
            self.assertNotEqual(p.returncode, 0, "rampart audit verify exited 0 on a broken chain: " + p.stdout)
            self.assertNotIn(self.admin.token, p.stdout + p.stderr)

    def test_cli_verify_intact(self):
        self.assertCliVerify(ok=True)

    def test_edited_field(self):
        db = self.db()
        k = db.execute("SELECT id FROM audit_log WHERE outcome = 'failure' ORDER BY id LIMIT 1").fetchone()[0]
        db.execute("UPDATE audit_log SET outcome = 'success' WHERE id = ?", (k,))
        db.commit()
        db.close()
        self.assertBrokenAt(k)

    def test_edited_details(self):
        db = self.db()
        k = self.count // 2
        db.execute("UPDATE audit_log SET details = '{\"note\":\"nothing happened\"}' WHERE id = ?", (k,))
        db.commit()
        db.close()
        self.assertBrokenAt(k)

    def test_edited_and_rehashed(self):
        """Recomputing the edited entry's own hash moves the break to the next entry."""
        db = self.db()
        k = self.count // 2
        prev = db.execute("SELECT hash FROM audit_log WHERE id = ?", (k - 1,)).fetchone()[0]
        db.execute("UPDATE audit_log SET actor_login = 'someone-else' WHERE id = ?", (k,))
        row = db.execute("SELECT * FROM audit_log WHERE id = ?", (k,)).fetchone()
        db.execute("UPDATE audit_log SET hash = ? WHERE id = ?", (entry_hash(prev, row), k))
        db.commit()
        db.close()
        self.assertBrokenAt(k + 1)

    def test_deleted_row(self):
        db = self.db()
        k = self.count // 2
        db.execute("DELETE FROM audit_log WHERE id = ?", (k,))
        db.commit()
        db.close()
        self.assertBrokenAt(k + 1)

    def test_reordered_rows(self):
        db = self.db()
        k = self.count // 2
        db.execute("UPDATE audit_log SET id = -1 WHERE id = ?", (k,))
        db.execute("UPDATE audit_log SET id = ? WHERE id = ?", (k, k + 1))
        db.execute("UPDATE audit_log SET id = ? WHERE id = -1", (k + 1,))
        db.commit()
        db.close()
        self.assertBrokenAt(k)

    def test_tail_cut(self):
        db = self.db()
        last = db.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        db.execute("DELETE FROM audit_log WHERE id = ?", (last,))
        db.commit()
        db.close()
        v = self.verify()
        self.assertIs(v["intact"], False, v)
        self.assertEqual(v["first_broken"], last, v)
        self.assertCliVerify(ok=False)

    def test_new_entries_after_tampering_do_not_hide_it(self):
        db = self.db()
        db.execute("UPDATE audit_log SET source = '10.6.6.6' WHERE id = 2")
        db.commit()
        db.close()
        make_activity(self.server, self.admin)
        self.assertBrokenAt(2)


if __name__ == "__main__":
    unittest.main()
