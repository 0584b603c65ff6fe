# SPDX-License-Identifier: AGPL-3.0-or-later
"""Signed checkpoints of the audit chain (docs/security.md section 9): the key
outside the database, checkpoints every N entries and on a timer, the API
that serves them, the signature checked by an independent implementation
(openssl), and `rampart audit verify --checkpoint FILE`, which catches a
chain rewritten consistently by someone holding the database, even after
the stored checkpoints were deleted, and names the first entry not proved."""

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, ServerTestCase, query

GENESIS = "0" * 64
# The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), for openssl.
ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")


def entry_hash(prev, row):
    """The chain's hash of one audit_log row, as documented in docs/security.md."""
    canon = [prev, row["id"], row["ts"], row["actor_id"], row["actor_login"], row["source"], row["action"],
             row["object_type"], row["object_id"], row["outcome"], row["details"], row["request_id"]]
    text = json.dumps(canon, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_activity(server, admin, n=1):
    """Entries of a few kinds: failed and good logins, a token made and revoked."""
    for _ in range(n):
        server.client().login("admin", "wrong-password-ckpt", check=False)
        server.client().login("admin", harness.ADMIN_PASSWORD)
        t = admin.post("/api/v1/tokens", json={"name": "checkpoint test"})
        admin.delete("/api/v1/tokens/%s" % t.json["id"])


def openssl_verify(checkpoint, public_key):
    """True when openssl, knowing nothing of Rampart, accepts the signature."""
    with tempfile.TemporaryDirectory() as d:
        pem = os.path.join(d, "k.pem")
        der = ED25519_SPKI + base64.b64decode(public_key)
        with open(pem, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % base64.b64encode(der).decode())
        doc = os.path.join(d, "doc")
        with open(doc, "wb") as f:
            f.write(checkpoint["document"].encode())
        sig = os.path.join(d, "sig")
        with open(sig, "wb") as f:
            f.write(base64.b64decode(checkpoint["signature"]))
        p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", doc,
                            "-sigfile", sig], capture_output=True, text=True, timeout=30)
        return p.returncode == 0


class CliMixin:
    def cli(self, *args, token=None):
        cli = harness.cli_path()
        if not os.access(cli, os.X_OK):
            self.skipTest("the CLI is not built in this tree")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update({"RAMPART_SERVER": self.server.url, "RAMPART_TOKEN": token or self.admin.token,
                    "XDG_CONFIG_HOME": self.server.work_dir, "HOME": self.server.work_dir})
        return subprocess.run([cli] + list(args), env=env, capture_output=True, text=True, timeout=120)

    def save_checkpoint(self, name):
        path = os.path.join(self.server.work_dir, name)
        p = self.cli("audit", "checkpoint", "-o", path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(path) as f:
            return path, json.load(f)

    def cli_verify(self, *files, key=None):
        args = ["audit", "verify", "--json"]
        for f in files:
            args += ["--checkpoint", f]
        if key:
            args += ["--key", key]
        p = self.cli(*args)
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            out = None
        return p, out


class AuditCheckpoints(CliMixin, ServerTestCase):
    SERVER_ARGS = {"config": "[audit]\ncheckpoint_every_entries = 5\ncheckpoint_every = 1h\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_activity(cls.server, cls.admin, 3)

    def checkpoints(self, **params):
        items, cursor = [], None
        while True:
            r = self.admin.get(query("/api/v1/audit/checkpoints", cursor=cursor, **params))
            self.assertStatus(r, 200)
            items += r.json["items"]
            cursor = r.json["next"]
            if not cursor:
                return items

    def test_key_outside_the_database(self):
        path = os.path.join(self.server.data_dir, "audit_checkpoint.key")
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_size, 32)
        with open(path, "rb") as f:
            seed = f.read()
        db = self.server.db()
        stored = "".join(str(tuple(r)) for r in db.execute("SELECT * FROM audit_checkpoints"))
        db.close()
        self.assertTrue(stored)
        for form in (base64.b64encode(seed).decode(), seed.hex()):
            self.assertNotIn(form, stored)

    def test_latest_is_signed_and_served_with_the_key(self):
        r = self.admin.get("/api/v1/audit/checkpoint")
        self.assertStatus(r, 200)
        cp, key = r.json["checkpoint"], r.json["public_key"]
        self.assertEqual(len(base64.b64decode(key)), 32)
        self.assertEqual(cp["public_key"], key)
        self.assertEqual(cp["seq"] % 5, 0)
        doc = json.loads(cp["document"])
        self.assertEqual(list(doc), ["format", "version", "server_id", "seq", "hash", "time"])
        self.assertEqual(doc["format"], "rampart-audit-checkpoint")
        self.assertEqual(doc["version"], 1)
        self.assertEqual((doc["seq"], doc["hash"], doc["time"], doc["server_id"]),
                         (cp["seq"], cp["hash"], cp["time"], cp["server_id"]))
        entry = self.admin.get(query("/api/v1/audit", cursor=cp["seq"] + 1, limit=1)).json["items"][0]
        self.assertEqual((entry["id"], entry["hash"]), (cp["seq"], cp["hash"]))
        self.assertTrue(openssl_verify(cp, key), "openssl rejects the signature")
        forged = dict(cp, document=cp["document"].replace('"seq":%d' % cp["seq"], '"seq":%d' % (cp["seq"] + 1)))
        self.assertFalse(openssl_verify(forged, key))

    def test_every_n_entries(self):
        items = self.checkpoints(limit=3)
        seqs = [c["seq"] for c in items]
        self.assertEqual(seqs, sorted(seqs, reverse=True), "newest first")
        head = self.admin.get(query("/api/v1/audit", limit=1)).json["items"][0]["id"]
        # The timer signed the head at start; every multiple of 5 after it has one.
        self.assertTrue(set(range(5, head + 1, 5)) <= set(seqs), (seqs, head))
        self.assertEqual(len({c["id"] for c in items}), len(items))
        self.assertError(self.admin.get("/api/v1/audit/checkpoints?cursor=x"), 400, "invalid")
        self.assertError(self.admin.get("/api/v1/audit/checkpoints?limit=0"), 400, "invalid")

    def test_verify_uses_the_checkpoints(self):
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], True, v)
        self.assertGreaterEqual(v["checkpoints_checked"], 3)
        self.assertEqual(v["checkpoints_ignored"], 0)
        latest = self.admin.get("/api/v1/audit/checkpoint").json["checkpoint"]["seq"]
        self.assertGreaterEqual(v["proved_through"], latest)

    def test_list_oldest_first(self):
        r = self.admin.get(query("/api/v1/audit", order="asc", limit=4))
        self.assertStatus(r, 200)
        ids = [e["id"] for e in r.json["items"]]
        self.assertEqual(ids, [1, 2, 3, 4])
        r = self.admin.get(query("/api/v1/audit", order="asc", limit=4, cursor=r.json["next"]))
        self.assertEqual([e["id"] for e in r.json["items"]], [5, 6, 7, 8])
        self.assertError(self.admin.get(query("/api/v1/audit", order="sideways")), 400, "invalid")

    def test_refusals_are_audited(self):
        u = self.make_user(self.person_by_number("KH0004")["id"])   # staff: the employee role only
        for path in ("/api/v1/audit/checkpoint", "/api/v1/audit/checkpoints"):
            self.assertError(u.get(path), 403, "forbidden")
            denied = self.admin.get(query("/api/v1/audit", action="authz.denied", actor=u.person["id"])).json
            self.assertIn("GET " + path, [e["details"].get("endpoint") for e in denied["items"]])
        self.assertError(self.server.client().get("/api/v1/audit/checkpoint", auth=False), 401)

    def test_cli_checkpoints_and_verify(self):
        p = self.cli("audit", "checkpoints")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("SEQ", p.stdout)
        p = self.cli("audit", "checkpoints", "--json", "--all")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["items"])
        path, cp = self.save_checkpoint("latest.json")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o644)
        key = self.admin.get("/api/v1/audit/checkpoint").json["public_key"]
        p, out = self.cli_verify(path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIs(out["intact"], True)
        self.assertEqual(out["key"], key)
        self.assertEqual(out["key_from"], "the server")
        self.assertGreaterEqual(out["proved_through"], cp["seq"])
        self.assertGreaterEqual(out["checkpoints_checked"], 3)
        p, out = self.cli_verify(path, key=key)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(out["key_from"], "--key")
        p = self.cli("audit", "verify", "--checkpoint", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("matches the checkpoint", p.stdout)

    def test_cli_refuses_what_it_cannot_trust(self):
        path, cp = self.save_checkpoint("mine.json")
        other = base64.b64encode(os.urandom(32)).decode()
        p, _ = self.cli_verify(path, key=other)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("another key", p.stderr)
        # An edited document no longer matches its signature.
        bad = os.path.join(self.server.work_dir, "edited.json")
        with open(bad, "w") as f:
            json.dump({k: v for k, v in dict(
                cp, document=cp["document"].replace('"seq":%d' % cp["seq"], '"seq":%d' % (cp["seq"] - 1)),
                seq=cp["seq"] - 1).items()}, f)
        p, _ = self.cli_verify(bad)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("not good", p.stderr)
        # A forged checkpoint carrying its own key is refused: the key is pinned, not read from the file.
        forged = os.path.join(self.server.work_dir, "forged.json")
        with open(forged, "w") as f:
            json.dump(dict(cp, public_key=other), f)
        p, _ = self.cli_verify(forged)
        self.assertEqual(p.returncode, 1, p.stderr)
        for content, why in ((b"", "not a Rampart audit checkpoint"), (b"[]", "not a Rampart audit checkpoint"),
                             (b"{" + b" " * 20000 + b"}", "larger than")):
            junk = os.path.join(self.server.work_dir, "junk.json")
            with open(junk, "wb") as f:
                f.write(content)
            p, _ = self.cli_verify(junk)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(why, p.stderr)
        p, _ = self.cli_verify(os.path.join(self.server.work_dir, "missing.json"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(self.cli("audit", "verify", "--key", other).returncode, 2)
        self.assertEqual(self.cli("audit", "verify", "--checkpoint", path, "--key", "short").returncode, 2)
        self.assertEqual(self.cli("audit", "verify", *(["--checkpoint", path] * 65)).returncode, 2)


class AuditTimedCheckpoint(unittest.TestCase):
    """checkpoint_every: the head is signed when it moved and the last checkpoint is old enough."""

    def test_timer_signs_the_head(self):
        with Server("AuditTimedCheckpoint", seed_hr=False,
                    config="[audit]\ncheckpoint_every_entries = 100000\ncheckpoint_every = 1s\n") as srv:
            admin = srv.admin()
            make_activity(srv, admin)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                head = admin.get(query("/api/v1/audit", limit=1)).json["items"][0]["id"]
                cp = admin.get("/api/v1/audit/checkpoint").json["checkpoint"]
                if cp and cp["seq"] >= head:
                    break
                time.sleep(0.5)
            self.assertEqual(cp["seq"], head)
            # No new entries: no new checkpoint (reading writes nothing to the log).
            n = len(admin.get("/api/v1/audit/checkpoints").json["items"])
            time.sleep(2.5)
            self.assertEqual(len(admin.get("/api/v1/audit/checkpoints").json["items"]), n)


class AuditRewrite(CliMixin, unittest.TestCase):
    """One fresh server per case: the database is rewritten as a writer without the key could."""

    EVERY = 4

    def setUp(self):
        self.server = Server("AuditRewrite-" + self._testMethodName, seed_hr=False,
                             config="[audit]\ncheckpoint_every_entries = %d\ncheckpoint_every = 1h\n" % self.EVERY)
        self.server.start()
        self.admin = self.server.admin()
        make_activity(self.server, self.admin, 2)
        self.early_path, self.early = self.save_checkpoint("early.json")
        make_activity(self.server, self.admin, 2)
        self.late_path, self.late = self.save_checkpoint("late.json")
        make_activity(self.server, self.admin, 1)
        self.assertGreater(self.late["seq"], self.early["seq"] + self.EVERY)

    def tearDown(self):
        self.server.cleanup()

    def db(self):
        c = self.server.db()
        c.row_factory = sqlite3.Row
        return c

    def rewrite_from(self, k, delete_checkpoints=False):
        """Edits entry k and recomputes every hash from there and the head: the chain stays consistent."""
        db = self.db()
        db.execute("UPDATE audit_log SET source = '10.66.6.6' WHERE id = ?", (k,))
        prev = db.execute("SELECT hash FROM audit_log WHERE id = ?", (k - 1,)).fetchone()[0] if k > 1 else GENESIS
        for row in db.execute("SELECT * FROM audit_log WHERE id >= ? ORDER BY id", (k,)).fetchall():
            h = entry_hash(prev, row)
            db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, row["id"]))
            prev = h
        db.execute("UPDATE audit_head SET hash = ?", (prev,))
        if delete_checkpoints:
            db.execute("DELETE FROM audit_checkpoints")
        db.commit()
        db.close()

    def test_untouched_chain_verifies(self):
        p, out = self.cli_verify(self.early_path, self.late_path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(len(out["checkpoints"]), 2)

    def test_rewrite_caught_by_stored_checkpoints(self):
        k = self.early["seq"] + 2
        self.rewrite_from(k)
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], False, v)
        # The first stored checkpoint after k no longer matches: proved only up to the one before.
        last_good = (k - 1) // self.EVERY * self.EVERY
        self.assertEqual(v["first_broken"], last_good + 1, v)
        self.assertLessEqual(v["first_broken"], k)
        p, out = self.cli_verify(self.late_path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(out["first_broken"], last_good + 1, out)
        self.assertIn("does NOT match", p.stderr)

    def test_rewrite_with_checkpoints_deleted(self):
        """The writer also deletes the stored checkpoints: rampartd's own verify cannot tell, the files can."""
        k = self.early["seq"] + 1
        self.rewrite_from(k, delete_checkpoints=True)
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], True, "a consistent rewrite without anchors is the documented limit")
        p, out = self.cli_verify(self.early_path, self.late_path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(out["first_broken"], self.early["seq"] + 1, out)
        self.assertEqual(out["proved_through"], self.early["seq"], out)
        # With the later file alone nothing before it is proved.
        p, out = self.cli_verify(self.late_path)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(out["first_broken"], 1, out)
        # With the earlier file alone, the rewritten entries are after it: they verify by links only.
        p, out = self.cli_verify(self.early_path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(out["proved_through"], self.early["seq"])

    def test_chain_cut_before_a_checkpoint(self):
        db = self.db()
        cut = self.late["seq"] - 1
        db.execute("DELETE FROM audit_log WHERE id > ?", (cut,))
        db.execute("UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit_log WHERE id = ?)", (cut, cut))
        db.execute("DELETE FROM audit_checkpoints WHERE seq > ?", (cut,))
        db.commit()
        db.close()
        self.assertIs(self.admin.get("/api/v1/audit/verify").json["intact"], True)
        p, out = self.cli_verify(self.early_path, self.late_path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(out["first_broken"], cut + 1, out)

    def test_forged_entry_after_the_head(self):
        db = self.db()
        last = db.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        row = dict(last)
        row.update(id=last["id"] + 1, action="auth.logout", details="{}")
        h = entry_hash(last["hash"], row)
        db.execute("INSERT INTO audit_log (id, ts, actor_id, actor_login, source, action, object_type, object_id, "
                   "outcome, details, request_id, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (row["id"], row["ts"], row["actor_id"], row["actor_login"], row["source"], row["action"],
                    row["object_type"], row["object_id"], row["outcome"], row["details"], row["request_id"],
                    last["hash"], h))
        db.commit()
        db.close()
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], False, v)
        self.assertEqual(v["first_broken"], last["id"] + 1, v)

    def test_a_new_key_does_not_vouch_for_old_files(self):
        """Replacing the key file (a writer who cannot read it can still delete it) starts a new key."""
        self.server.stop()
        os.unlink(os.path.join(self.server.data_dir, "audit_checkpoint.key"))
        self.server.start()
        self.admin = self.server.admin()
        make_activity(self.server, self.admin, 2)
        new_key = self.admin.get("/api/v1/audit/checkpoint").json["public_key"]
        self.assertNotEqual(new_key, self.late["public_key"])
        p, _ = self.cli_verify(self.late_path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("another key", p.stderr)
        # Pinned to the old key, the old files and the old stored checkpoints still prove the chain.
        p, out = self.cli_verify(self.early_path, self.late_path, key=self.late["public_key"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertGreater(out["checkpoints_ignored"], 0)
        self.assertIn("another key", p.stderr)
        v = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(v["intact"], True, v)
        self.assertGreater(v["checkpoints_ignored"], 0)

    def test_key_path_from_the_configuration(self):
        """[audit] checkpoint_key puts the key on another volume; the data directory holds none."""
        self.server.stop()
        keydir = tempfile.mkdtemp(prefix="rampart-key-", dir=self.server.work_dir)
        keyfile = os.path.join(keydir, "ckpt.key")
        self.server.config += "checkpoint_key = %s\n" % keyfile
        os.unlink(os.path.join(self.server.data_dir, "audit_checkpoint.key"))
        self.server.start()
        self.assertTrue(os.path.exists(keyfile))
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "audit_checkpoint.key")))
        self.server.stop()
        os.chmod(keyfile, 0o644)
        with self.assertRaises(harness.ServerError):
            self.server.start()
        self.assertIn("audit checkpoint key", self.server.log_tail())


if __name__ == "__main__":
    unittest.main()
