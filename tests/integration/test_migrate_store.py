# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampartd migrate-store: an installation on SQLite moved to PostgreSQL.

A server on SQLite gets data through the API on every platform (the sample
organization, a browser session, a CLI session, an API token, a person with
TOTP, a protected file, an exchange transfer, an endpoint enrollment token,
and the audit entries all of that writes); it is stopped, its database copied
into a new PostgreSQL database, and a server started on that database with
the same data directory (its keys and blobs).  The new server must show the
same people, accept the same credentials, open the same protected file,
serve the same transfer, insert new rows without id collisions, and hold the
same intact audit chain.  A second copy into the now non-empty target is
refused without changing it; a source whose audit chain was tampered with
does not verify and leaves its target empty; a source whose server keeps
writing is copied from one consistent moment.

Runs in the PostgreSQL stage only (run.py --engine postgresql), on the run's
cluster; the source servers run on SQLite files of their own."""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import exchange_util as xu
import harness
import pgserver
from harness import Server, ServerTestCase

TOTP_PASSWORD = "Correct-horse-battery-9"


def sqlite_backup(src, dest):
    """A consistent copy of the SQLite database @src (its WAL included) at @dest."""
    a = sqlite3.connect(src)
    b = sqlite3.connect(dest)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()


def sqlite_count(path, table):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    finally:
        db.close()


def sqlite_head(path):
    db = sqlite3.connect(path)
    try:
        return tuple(db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone())
    finally:
        db.close()


def pg_value(url, sql):
    return pgserver.psql_url(url, sql).strip()


def pg_head(url):
    seq, _, h = pg_value(url, "SELECT seq, hash FROM audit_head WHERE id = 1").partition("|")
    return int(seq), h


def checked_tables(out):
    """{table: (source rows, target rows, verdict)} from migrate-store's check listing."""
    rows = {}
    for m in re.finditer(r"^  (\w+)\s+(\d+)\s+(\d+)  (ok|CONTENTS DIFFER|COUNTS DIFFER)$", out, re.M):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4))
    return rows


@unittest.skipUnless(harness.engine_is_pg(), "PostgreSQL stage only (run.py --engine postgresql): "
                     "migrate-store copies a SQLite installation into PostgreSQL")
class MigrateStore(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rampart-migrate-")
        cls.data = os.path.join(cls.tmp, "data")
        cls.sqlite_path = os.path.join(cls.data, "rampart.db")
        cls.databases = []
        cls.server = Server("MigrateStoreSqlite", data_dir=cls.data, database="sqlite:" + cls.sqlite_path)
        try:
            cls.server.start()
            cls.admin = cls.server.admin()
        except Exception:
            cls.server.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.cleanup()
        finally:
            for url in cls.databases:
                try:
                    pgserver.drop_database(harness.PG_SOCKET, url)
                except RuntimeError:
                    pass
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def new_database(self):
        url = pgserver.create_database(harness.PG_SOCKET)
        type(self).databases.append(url)
        return url

    def migrate(self, source, target, *extra):
        cmd = [harness.rampartd_path(), "migrate-store", "--from", "sqlite:" + source, "--to", target]
        p = subprocess.run(cmd + list(extra), capture_output=True, text=True, timeout=600,
                           stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(harness.OUTPUT, "MigrateStore-command.log"), "a") as f:
            f.write("==== %s\n%s%s(exit %d)\n" % (" ".join(cmd + list(extra)), p.stdout, p.stderr, p.returncode))
        return p

    def cli(self, client, *args):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=client.token)
        p = subprocess.run([harness.cli_path()] + list(args), capture_output=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL, start_new_session=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def totp_user(self):
        """A person of the sample organization with a password and TOTP; returns (login, secret)."""
        people = [p for p in self.all_people(status="active")
                  if p["login"] != "admin" and p["kind"] == "employee"]
        u = self.make_user(people[0]["id"], password=TOTP_PASSWORD)
        r = u.post("/api/v1/me/totp")
        self.assertStatus(r, (200, 201))
        secret = r.json["secret"]
        r = u.post("/api/v1/me/totp/confirm", json={"code": harness.totp(secret)})
        self.assertStatus(r, 200)
        return u.person["login"], secret

    def populate(self):
        """Data on every platform, through the API; returns what the checks need."""
        d = {}
        browser = self.server.client()
        browser.login("admin", self.server.admin_password, client="browser")
        d["cookie"], d["csrf"] = browser.cookie, browser.csrf
        d["session_token"] = self.admin.token
        r = self.admin.post("/api/v1/tokens", json={"name": "automation"})
        self.assertStatus(r, 201)
        d["api_token"] = r.json["token"]
        d["totp_login"], d["totp_secret"] = self.totp_user()

        d["plain"] = os.urandom(70000) + b"\x00\xff" * 100
        src = os.path.join(self.tmp, "contract.bin")
        with open(src, "wb") as f:
            f.write(d["plain"])
        self.cli(self.admin, "protect", src, "--to", "user:admin")
        d["rpf"] = src + ".rpf"
        with open(d["rpf"], "rb") as f:
            d["file_id"] = f.read()[16:42].decode()

        d["sent"] = os.urandom(50000)
        r = xu.send(self.admin, files=[("plan.bin", d["sent"])], downloads=2)
        self.assertStatus(r, 201)
        d["transfer"] = r.json

        org = [u for u in self.admin.get("/api/v1/org?limit=500").json["items"] if u.get("parent_id")][0]
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": org["path"], "uses": 3})
        self.assertStatus(r, 201)
        d["enrollment"] = r.json

        # A failed login and a refusal: audit entries of every outcome.
        self.assertStatus(self.server.client().login("admin", "wrong-password-1", check=False), 401)
        self.assertStatus(self.server.client(token=d["api_token"]).get("/api/v1/audit/verify"), 200)

        d["people"] = sorted(self.all_people(), key=lambda p: p["id"])
        d["enrollments"] = self.admin.get("/api/v1/endpoint/enrollment-tokens?limit=500").json["items"]
        d["audit"] = self.admin.get("/api/v1/audit/verify").json
        self.assertIs(d["audit"]["intact"], True)
        return d

    def download(self, server, t):
        return server.client().request("POST", xu.link_path(t["url"]), body=xu.form(t["password"]),
                                       content_type="application/x-www-form-urlencoded", auth=False)

    # ------------------------------------------------------------ the move

    def test_move_to_postgresql(self):
        d = self.populate()
        self.server.stop()
        counts = {t: sqlite_count(self.sqlite_path, t) for t in
                  ("people", "sessions", "api_tokens", "audit_log", "protected_files", "exchange_transfers",
                   "enrollment_tokens", "auth_failures", "person_history")}
        head = sqlite_head(self.sqlite_path)

        url = self.new_database()
        p = self.migrate(self.sqlite_path, url)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        listed = checked_tables(p.stdout)
        for table, n in counts.items():
            self.assertEqual(listed[table], (n, n, "ok"), table)
            self.assertEqual(int(pg_value(url, "SELECT count(*) FROM %s" % table)), n, table)
        self.assertTrue(all(v[2] == "ok" for v in listed.values()), listed)
        self.assertIn("audit chain: intact, %d entries, head %s" % (counts["audit_log"], head[1]), p.stdout)
        self.assertEqual(pg_head(url), head)
        self.assertNotIn("password", p.stdout + p.stderr)

        # The same data directory (keys, blobs) and the new database.
        pg = Server("MigrateStorePg", data_dir=self.data, database=url, seed_hr=False)
        try:
            pg.start()
            self.check_moved(pg, d, counts, head)
        finally:
            pg.cleanup()

        # A second copy into the same, now non-empty, target is refused and changes nothing.
        before = [pg_value(url, "SELECT count(*) FROM %s" % t) for t in counts] + [pg_head(url)]
        p = self.migrate(self.sqlite_path, url)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("the target is not empty", p.stderr)
        self.assertIn("nothing was written", p.stderr)
        after = [pg_value(url, "SELECT count(*) FROM %s" % t) for t in counts] + [pg_head(url)]
        self.assertEqual(after, before)

    def check_moved(self, pg, d, counts, head):
        self.server, admin_was = pg, self.admin
        try:
            # Every credential of the old server still works: bearer session, API token, cookie.
            self.admin = pg.client(token=d["session_token"])
            self.assertEqual(self.admin.get("/api/v1/me").json["login"], "admin")
            r = pg.client(token=d["api_token"]).get("/api/v1/me")
            self.assertStatus(r, 200)
            self.assertEqual(r.json["login"], "admin")
            browser = pg.client()
            browser.cookie, browser.csrf = d["cookie"], d["csrf"]
            self.assertStatus(browser.get("/api/v1/me"), 200)

            # The audit chain as it was, before this server writes to it.
            v = self.admin.get("/api/v1/audit/verify").json
            self.assertIs(v["intact"], True, v)
            self.assertEqual(v["entries"], counts["audit_log"])
            self.assertEqual(pg_head(pg.database)[1], head[1])

            self.assertEqual(sorted(self.all_people(), key=lambda p: p["id"]), d["people"])
            got = self.admin.get("/api/v1/endpoint/enrollment-tokens?limit=500").json["items"]
            self.assertEqual(got, d["enrollments"])

            # TOTP seeds are sealed with secret.key: the login works only if both came along.
            c = pg.client()
            # (The next step's code: the current one may be the one the enrolment used.)
            code = harness.totp(d["totp_secret"], at=time.time() + 30)
            self.assertStatus(c.login(d["totp_login"], TOTP_PASSWORD, totp=code, check=False), 200)
            # The wrapped file key and protect_wrap.key: the file opens (a protected_file_access row).
            out = os.path.join(self.tmp, "contract.out")
            self.cli(self.admin, "open", d["rpf"], "-o", out)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), d["plain"])
            # The transfer's salt and check value, and blobs/: the link serves the file (an exchange_downloads row).
            r = self.download(pg, d["transfer"])
            self.assertStatus(r, 200)
            self.assertEqual(r.body, d["sent"])

            # New rows in tables with identity ids do not collide with copied ones.
            self.assertStatus(pg.client().login("admin", "wrong-password-2", check=False), 401)
            self.assertStatus(pg.client().login("admin", "wrong-password-3", check=False), 401)
            person = d["people"][5]["id"]
            self.assertStatus(self.admin.put("/api/v1/people/%s/roles/auditor" % person, json={}), 200)
            for table in ("auth_failures", "person_history", "protected_file_access", "exchange_downloads"):
                copied_max = pg_value(pg.database, "SELECT count(*) FROM %s" % table)
                self.assertGreater(int(copied_max), 0, table)
            self.assertGreaterEqual(int(pg_value(pg.database, "SELECT count(*) FROM auth_failures")),
                                    counts["auth_failures"] + 2)
            self.assertEqual(int(pg_value(pg.database, "SELECT count(*) FROM person_history")),
                             counts["person_history"] + 1)
            r = self.admin.post("/api/v1/tokens", json={"name": "after the move"})
            self.assertStatus(r, 201)

            v = self.admin.get("/api/v1/audit/verify").json
            self.assertIs(v["intact"], True, v)
            self.assertGreater(v["entries"], counts["audit_log"])
        finally:
            self.server, self.admin = type(self).server, admin_was

    # ------------------------------------------------------------ refusals

    def test_tampered_audit_chain_does_not_verify(self):
        src = os.path.join(self.tmp, "tampered.db")
        sqlite_backup(self.sqlite_path, src)
        db = sqlite3.connect(src)
        db.execute("UPDATE audit_log SET details = '{\"rewritten\":true}' WHERE id = 2")
        db.commit()
        db.close()
        url = self.new_database()
        p = self.migrate(src, url)
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertIn("the audit chain does not verify: entry 2 was altered", p.stderr)
        self.assertIn("nothing was kept", p.stderr)
        # Rolled back: the target has its schema and no copied row, and takes a sound copy afterwards.
        self.assertEqual(pg_value(url, "SELECT count(*) FROM people"), "0")
        self.assertEqual(pg_value(url, "SELECT count(*) FROM audit_log"), "0")
        sound = os.path.join(self.tmp, "sound.db")
        sqlite_backup(self.sqlite_path, sound)
        p = self.migrate(sound, url)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_values_copied_exactly(self):
        """Extreme integers, every byte value in a blob, non-ASCII text; and a value PostgreSQL
        could not store as it is, refused rather than converted."""
        src = os.path.join(self.tmp, "extremes.db")
        sqlite_backup(self.sqlite_path, src)
        blob = bytes(range(256)) * 40 + b"\x00"
        db = sqlite3.connect(src)
        pid = db.execute("SELECT id FROM people WHERE login <> 'admin' ORDER BY id LIMIT 1").fetchone()[0]
        db.execute("UPDATE people SET totp_last_step = ?, retired_at = ?, title = ?, totp_pending = ? "
                   "WHERE id = ?", (2 ** 63 - 1, -2 ** 63, "Leiterin Qualit\u00e4t \u2014 \U0001f512 \"Q\"'", blob,
                                    pid))
        db.commit()
        db.close()
        url = self.new_database()
        p = self.migrate(src, url, "--batch", "7")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        row = pg_value(url, "SELECT totp_last_step, retired_at, title, encode(totp_pending, 'hex') "
                            "FROM people WHERE id = '%s'" % pid).split("|")
        self.assertEqual(row, [str(2 ** 63 - 1), str(-2 ** 63), "Leiterin Qualit\u00e4t \u2014 \U0001f512 \"Q\"'",
                               blob.hex()])
        # The same copy into a new SQLite file: the same check, the other driver as target.
        copy = os.path.join(self.tmp, "extremes-copy.db")
        p = self.migrate(src, "sqlite:" + copy)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        db = sqlite3.connect(copy)
        got = db.execute("SELECT totp_last_step, retired_at, totp_pending FROM people WHERE id = ?", (pid,)).fetchone()
        db.close()
        self.assertEqual(got, (2 ** 63 - 1, -2 ** 63, blob))

        for sql, said in (("UPDATE people SET totp_last_step = 'soon' WHERE id = ?",
                           "column totp_last_step holds a text value where integer is declared"),
                          ("UPDATE people SET title = CAST(x'610062' AS TEXT) WHERE id = ?",
                           "column title holds a text with a NUL byte")):
            bad = os.path.join(self.tmp, "bad.db")
            sqlite_backup(src, bad)
            db = sqlite3.connect(bad)
            db.execute(sql, (pid,))
            db.commit()
            db.close()
            url = self.new_database()
            p = self.migrate(bad, url)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(said, p.stderr)
            self.assertEqual(pg_value(url, "SELECT count(*) FROM org_units"), "0")
            os.unlink(bad)

    def test_usage(self):
        exe = harness.rampartd_path()
        p = subprocess.run([exe, "migrate-store", "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--from sqlite:PATH", p.stdout)
        self.assertIn("Exit status: 0 copied and verified", p.stdout)
        for args in ([], ["--from", self.sqlite_path], ["--from", "postgresql:///x", "--to", "sqlite:/tmp/x"],
                     ["--from", self.sqlite_path, "--to", "postgresql:///x", "extra"]):
            p = subprocess.run([exe, "migrate-store"] + args, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
        url = self.new_database()
        p = self.migrate(os.path.join(self.tmp, "missing.db"), url)
        self.assertEqual(p.returncode, 1)
        self.assertIn("there is no database at", p.stderr)
        # Told before the target was touched: it has no schema yet.
        self.assertEqual(pg_value(url, "SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_name = 'schema_migrations'"), "0")

    # ------------------------------------------------------------ a running source

    def test_running_source_is_copied_from_one_moment(self):
        """The copy is consistent while a server keeps writing: its audit chain verifies."""
        data = os.path.join(self.tmp, "live")
        os.makedirs(data, mode=0o700)
        for key in ("secret.key", "protect_wrap.key", "policy_sign.key"):
            shutil.copy2(os.path.join(self.data, key), os.path.join(data, key))
        path = os.path.join(data, "rampart.db")
        sqlite_backup(self.sqlite_path, path)
        live = Server("MigrateStoreLive", data_dir=data, database="sqlite:" + path, seed_hr=False)
        stop = threading.Event()
        written = []

        def writer(token):
            c = live.client(token=token)
            while not stop.is_set():
                r = c.post("/api/v1/tokens", json={"name": "during the copy %d" % len(written)})
                if r.status == 201:
                    written.append(r.json["id"])

        try:
            live.start()
            admin = live.admin()
            t = threading.Thread(target=writer, args=(admin.token,))
            t.start()
            try:
                time.sleep(0.5)
                url = self.new_database()
                p = self.migrate(path, url)
            finally:
                stop.set()
                t.join()
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("snapshot taken at", p.stdout)
            self.assertIn("audit chain: intact", p.stdout)
            copied = int(pg_value(url, "SELECT count(*) FROM api_tokens WHERE name LIKE 'during the copy%'"))
            self.assertGreater(len(written), 0)
            self.assertLessEqual(copied, len(written))
            # Every copied token's creation is in the copied chain, and nothing after the chain's head.
            entries = int(pg_value(url, "SELECT count(*) FROM audit_log WHERE action = 'auth.token_create'"))
            self.assertGreaterEqual(entries, copied)
        finally:
            live.cleanup()
