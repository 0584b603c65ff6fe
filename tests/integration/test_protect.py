# SPDX-License-Identifier: AGPL-3.0-or-later
"""File protection end to end: rampart protect for a group, a member opens,
an outsider and a retired member (retired through SCIM) are refused, a
tampered file is refused, the owner revokes and nobody can open it any
more; every open is in the file's access history and the audit log, and no
output file is left behind by a refusal."""

import os
import pty
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import ServerTestCase

SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ProtectedFiles(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-protect-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def cli_env(self, user):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=user.token)
        return env

    def cli(self, user, *args):
        return subprocess.run([harness.cli_path()] + list(args), env=self.cli_env(user), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=120, start_new_session=True)

    def cli_bytes(self, user, *args):
        return subprocess.run([harness.cli_path()] + list(args), env=self.cli_env(user), capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=120, start_new_session=True)

    def plain_people(self, n):
        people = [p for p in self.all_people(status="active") if p["login"] != "admin"
                  and p["kind"] == "employee" and not any(not r.get("implicit") for r in p.get("roles", []))
                  and not any(r["role"] == "manager" for r in p.get("roles", []))]
        self.assertGreaterEqual(len(people), n)
        return people[:n]

    def listing(self, d):
        return sorted(os.listdir(d))

    def test_group_member_opens_retired_refused_owner_revokes(self):
        owner_p, member_p, leaver_p, outsider_p = self.plain_people(4)
        owner = self.make_user(owner_p["id"])
        member = self.make_user(member_p["id"])
        leaver = self.make_user(leaver_p["id"])
        outsider = self.make_user(outsider_p["id"])
        r = self.admin.post("/api/v1/tokens", json={"name": "protect scim", "scope": "scim"})
        self.assertStatus(r, 201)
        scim = self.server.client(token=r.json["token"])
        r = scim.post("/scim/v2/Groups", json={"schemas": [SCIM_GROUP], "displayName": "Deal Team",
                                               "members": [{"value": member_p["id"]}, {"value": leaver_p["id"]}]},
                      content_type="application/scim+json")
        self.assertStatus(r, 201)

        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "deal.bin")
        data = os.urandom(3 * 65536 + 1234)
        with open(src, "wb") as f:
            f.write(data)
        res = self.cli(owner, "protect", src, "--to", "group:Deal Team")
        self.assertEqual(res.returncode, 0, res.stderr)
        rpf = src + ".rpf"
        self.assertTrue(os.path.exists(rpf))
        with open(rpf, "rb") as f:
            blob = f.read()
        self.assertEqual(blob[:8], b"\x89RPF\r\n\x1a\n")
        self.assertNotIn(data[:64], blob)
        fid = blob[16:42].decode()

        # A member opens it; so does the future leaver, while still employed.
        for who, name in ((member, "member.out"), (leaver, "leaver.out")):
            out = os.path.join(work, name)
            res = self.cli(who, "open", rpf, "-o", out)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), data)

        # Someone not on the list is refused and told why; nothing is written.
        before = self.listing(work)
        res = self.cli(outsider, "open", rpf, "-o", os.path.join(work, "outsider.out"))
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertIn("not_listed", res.stderr)
        self.assertIn("not on the file's access list", res.stderr)
        self.assertEqual(self.listing(work), before)

        # Retired through SCIM: refused at once.
        r = scim.patch("/scim/v2/Users/%s" % leaver_p["id"],
                       json={"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]},
                       content_type="application/scim+json")
        self.assertStatus(r, 200)
        self.assertEqual(self.admin.get("/api/v1/people/%s" % leaver_p["id"]).json["status"], "retired")
        # Retiring revoked the leaver's session, yet the attempt is theirs: refused as
        # retired, and recorded (below) like any other refusal.
        res = self.cli(leaver, "open", rpf, "-o", os.path.join(work, "leaver2.out"))
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertIn("retired", res.stderr)
        self.assertEqual(self.listing(work), before)
        # The dead session still opens nothing else and reaches no other route.
        self.assertStatus(leaver.get("/api/v1/files"), 401)
        self.assertStatus(leaver.post("/api/v1/files/%s/open" % fid, json={"header": "", "client_key": ""}), 403)
        self.assertStatus(leaver.post("/api/v1/files/%s/open" % ("0" * 26), json={}), 401)

        # A tampered copy is refused by the client and leaves nothing behind.
        bad = os.path.join(work, "tampered.bin.rpf")
        with open(bad, "wb") as f:
            f.write(blob[:300] + bytes([blob[300] ^ 1]) + blob[301:])
        before = self.listing(work)
        res = self.cli(member, "open", bad)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("authentication", res.stderr)
        self.assertEqual(self.listing(work), before)

        # The owner sees the history and revokes; nobody can open it any more.
        res = self.cli(owner, "files", "show", rpf)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("not_listed", res.stdout)
        self.assertIn("group:Deal Team", res.stdout)
        res = self.cli(owner, "files", "revoke", rpf)
        self.assertEqual(res.returncode, 0, res.stderr)
        for who in (member, owner):
            res = self.cli(who, "open", rpf, "-o", os.path.join(work, "after-revoke.out"))
            self.assertEqual(res.returncode, 3, res.stderr)
            self.assertIn("revoked", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(work, "after-revoke.out")))

        # The access history and the audit log hold every open.
        hist = owner.get("/api/v1/files/%s/access" % fid).json["items"]
        got = [(h["login"], h["outcome"], h["reason"]) for h in reversed(hist)]
        self.assertIn((outsider_p["login"], "refused", "not_listed"), got)
        self.assertEqual(got.count((leaver_p["login"], "refused", "retired")), 2)
        self.assertIn((member_p["login"], "refused", "revoked"), got)
        self.assertIn((owner_p["login"], "refused", "revoked"), got)
        # The tampered copy's header is intact: the key was handed out, the client refused the body.
        self.assertEqual([g for g in got if g[1] == "allowed"],
                         [(member_p["login"], "allowed", "listed"), (leaver_p["login"], "allowed", "listed"),
                          (member_p["login"], "allowed", "listed")])
        self.assertEqual(len(got), 8, got)
        audit = self.admin.get("/api/v1/audit?object=%s&limit=100" % fid).json["items"]
        actions = [(e["action"], e["outcome"], e["actor_login"]) for e in reversed(audit)]
        self.assertEqual(actions[0], ("file.protect", "success", owner_p["login"]))
        self.assertIn(("file.open", "success", member_p["login"]), actions)
        self.assertIn(("file.open", "success", leaver_p["login"]), actions)
        self.assertIn(("file.open", "denied", outsider_p["login"]), actions)
        self.assertIn(("file.open", "denied", leaver_p["login"]), actions)
        self.assertIn(("file.revoke", "success", owner_p["login"]), actions)
        self.assertIn(("file.open", "denied", member_p["login"]), actions)
        self.assertEqual(self.admin.get("/api/v1/audit/verify").json["intact"], True)

    def test_dead_credentials(self):
        """A credential that no longer authenticates opens nothing.  Only when it
        belonged to someone who has since left is the attempt recorded as theirs
        (refused: retired); a logged-out active person is just not authenticated."""
        owner_p, active_p, gone_p = self.plain_people(10)[7:10]
        owner = self.make_user(owner_p["id"])
        active = self.make_user(active_p["id"])
        gone = self.make_user(gone_p["id"])
        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "plan.txt")
        with open(src, "w") as f:
            f.write("the plan\n")
        res = self.cli(owner, "protect", src, "--to", "role:employee")
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(src + ".rpf", "rb") as f:
            fid = f.read()[16:42].decode()
        t = gone.post("/api/v1/tokens", json={"name": "scripts"})
        self.assertStatus(t, 201)
        gone_api = self.server.client(token=t.json["token"])
        body = {"header": "", "client_key": ""}

        # Logged out while still employed: 401, nothing recorded.
        self.assertStatus(active.post("/api/v1/auth/logout"), 204)
        self.assertStatus(active.post("/api/v1/files/%s/open" % fid, json=body), 401)
        # Never a credential at all, or a made-up one: 401.
        self.assertStatus(self.server.client().post("/api/v1/files/%s/open" % fid, json=body, auth=False), 401)
        self.assertStatus(self.server.client(token="rt_" + "A" * 40).post("/api/v1/files/%s/open" % fid, json=body), 401)

        # Retired through SCIM: the session and the API token both died with it,
        # and both attempts are the leaver's, refused as retired.
        r = self.admin.post("/api/v1/tokens", json={"name": "dead credentials scim", "scope": "scim"})
        self.assertStatus(r, 201)
        scim = self.server.client(token=r.json["token"])
        r = scim.patch("/scim/v2/Users/%s" % gone_p["id"],
                       json={"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]},
                       content_type="application/scim+json")
        self.assertStatus(r, 200)
        for c in (gone, gone_api):
            r = c.post("/api/v1/files/%s/open" % fid, json=body)
            self.assertStatus(r, 403)
            self.assertEqual(r.json["reason"], "retired")
            self.assertStatus(c.get("/api/v1/files/%s" % fid), 401)
        # A file that does not exist is not confirmed to a dead credential.
        self.assertStatus(gone.post("/api/v1/files/%s/open" % ("0" * 26), json=body), 401)

        hist = owner.get("/api/v1/files/%s/access" % fid).json["items"]
        got = [(h["login"], h["outcome"], h["reason"]) for h in hist]
        self.assertEqual(got, [(gone_p["login"], "refused", "retired")] * 2)
        audit = self.admin.get("/api/v1/audit?object=%s&limit=100" % fid).json["items"]
        opens = [(e["actor_login"], e["outcome"], e["details"]["reason"]) for e in audit if e["action"] == "file.open"]
        self.assertEqual(opens, [(gone_p["login"], "denied", "retired")] * 2)

    def test_standard_output(self):
        """-o - streams: protect into a pipe (registered once written), open into a
        pipe; a damaged file stops the stream with exit 1; a terminal, --json, or
        -o with several files are refused before anything happens."""
        owner_p, = self.plain_people(11)[10:11]
        owner = self.make_user(owner_p["id"])
        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "big.bin")
        data = os.urandom(9 * 1024 * 1024 + 321)
        with open(src, "wb") as f:
            f.write(data)
        res = self.cli_bytes(owner, "protect", src, "--to", "role:employee", "-o", "-")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"protected as standard output", res.stderr)
        blob = res.stdout
        self.assertEqual(blob[:8], b"\x89RPF\r\n\x1a\n")
        self.assertEqual(len(blob), 226 + len(data) + 145 * 16)
        self.assertEqual(self.listing(work), ["big.bin"])
        rpf = os.path.join(work, "piped.rpf")
        with open(rpf, "wb") as f:
            f.write(blob)
        res = self.cli_bytes(owner, "open", rpf, "-o", "-")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, data)
        # The registered file is the piped one: its history has the open.
        fid = blob[16:42].decode()
        hist = owner.get("/api/v1/files/%s/access" % fid).json["items"]
        self.assertEqual([(h["outcome"], h["reason"]) for h in hist], [("allowed", "owner")])

        # Chunk 100 (in the second 4 MiB span) damaged: the stream stops before it.
        bad = os.path.join(work, "bad.rpf")
        with open(bad, "wb") as f:
            f.write(blob[:226 + 100 * 65552 + 9] + bytes([blob[226 + 100 * 65552 + 9] ^ 1]) +
                    blob[226 + 100 * 65552 + 10:])
        res = self.cli_bytes(owner, "open", bad, "-o", "-")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn(b"chunk 100", res.stderr)
        self.assertIn(b"discard it", res.stderr)
        self.assertLessEqual(len(res.stdout), 64 * 65536)
        self.assertEqual(res.stdout, data[:len(res.stdout)])

        res = self.cli_bytes(owner, "--json", "open", rpf, "-o", "-")
        self.assertEqual(res.returncode, 2, res.stderr)
        res = self.cli_bytes(owner, "protect", src, rpf, "--to", "role:employee", "-o", "-")
        self.assertEqual(res.returncode, 2, res.stderr)
        # Ciphertext is not written to a terminal.
        master, slave = pty.openpty()
        try:
            env = self.cli_env(owner)
            p = subprocess.run([harness.cli_path(), "protect", src, "--to", "role:employee", "-o", "-"],
                               env=env, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               timeout=60, start_new_session=True)
        finally:
            os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"terminal", p.stderr)

    def test_grant_ungrant_expire_and_scope(self):
        owner_p, friend_p, other_p = self.plain_people(7)[4:7]
        owner = self.make_user(owner_p["id"])
        friend = self.make_user(friend_p["id"])
        other = self.make_user(other_p["id"])
        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "memo.txt")
        with open(src, "w") as f:
            f.write("quarterly figures\n")
        res = self.cli(owner, "protect", src, "--to", "user:" + other_p["id"], "--expires", "2099-01-01")
        self.assertEqual(res.returncode, 0, res.stderr)
        rpf = src + ".rpf"
        # Not listed: refused, then granted, then ungranted.
        res = self.cli(friend, "open", rpf, "-o", os.path.join(work, "a"))
        self.assertEqual(res.returncode, 3)
        res = self.cli(owner, "files", "grant", rpf, "user:" + friend_p["id"])
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli(friend, "open", rpf, "-o", os.path.join(work, "b"))
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli(owner, "files", "ungrant", rpf, "user:" + friend_p["id"])
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli(friend, "open", rpf, "-o", os.path.join(work, "c"))
        self.assertEqual(res.returncode, 3)
        # Expired: refused with the reason.
        res = self.cli(owner, "files", "expire", rpf, "2001-01-01")
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli(other, "open", rpf, "-o", os.path.join(work, "d"))
        self.assertEqual(res.returncode, 3)
        self.assertIn("expired", res.stderr)
        res = self.cli(owner, "files", "expire", rpf, "never")
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli(other, "open", rpf, "-o", os.path.join(work, "e"))
        self.assertEqual(res.returncode, 0, res.stderr)
        # Others can neither see nor manage the file; the owner lists it.
        res = self.cli(friend, "files", "revoke", rpf)
        self.assertEqual(res.returncode, 4, res.stderr)
        res = self.cli(owner, "files", "list", "--json")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("memo.txt", res.stdout)
        self.assertEqual(sorted(os.listdir(work)), ["b", "e", "memo.txt", "memo.txt.rpf"])
        # The existing output is never overwritten.
        res = self.cli(other, "open", rpf, "-o", os.path.join(work, "e"))
        self.assertEqual(res.returncode, 1)
        self.assertIn("already exists", res.stderr)

    def popen_cli(self, user, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=user.token)
        return subprocess.Popen([harness.cli_path()] + list(args), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                start_new_session=True)

    def cut_while_running(self, user, work, victim, args):
        """Runs the CLI with args and truncates victim once its temporary output
        (a dot file in work) has grown past 4 MiB; returns the finished process, or
        None when it finished before the cut."""
        proc = self.popen_cli(user, *args)
        deadline = time.monotonic() + 60
        cut = False
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [n for n in os.listdir(work) if n.startswith(".")]
            try:
                grown = temps and os.path.getsize(os.path.join(work, temps[0])) > (4 << 20)
            except FileNotFoundError:
                grown = False
            if grown:
                os.truncate(victim, 1 << 20)
                cut = True
                break
            time.sleep(0.0005)
        out, err = proc.communicate(timeout=120)
        if not cut:
            return None
        return proc.returncode, out, err

    def test_input_cut_while_read(self):
        """A file truncated while rampart protect or rampart open reads it is refused
        with a clear error, and no output (not even the temporary one) is left."""
        owner = self.make_user(self.plain_people(8)[7]["id"])
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) and \
            shutil.disk_usage("/dev/shm").free > (2 << 30) else self.tmp
        block = os.urandom(1 << 20)
        for which in ("protect", "open"):
            for attempt in range(3):
                work = tempfile.mkdtemp(dir=base, prefix="rampart-cut-")
                try:
                    src = os.path.join(work, "big.bin")
                    with open(src, "wb") as f:
                        for _ in range(384):
                            f.write(block)
                    if which == "protect":
                        victim, args, left = src, ["protect", src, "--to", "role:employee"], ["big.bin"]
                    else:
                        res = self.cli(owner, "protect", src, "--to", "role:employee")
                        self.assertEqual(res.returncode, 0, res.stderr)
                        os.unlink(src)
                        victim, args, left = src + ".rpf", ["open", src + ".rpf"], ["big.bin.rpf"]
                    got = self.cut_while_running(owner, work, victim, args)
                    if got is None:
                        continue  # finished before the cut: nothing shown, try again
                    code, _, err = got
                    self.assertEqual(code, 1, err)
                    self.assertIn("changed while it was being read", err)
                    self.assertEqual(sorted(os.listdir(work)), left)
                    break
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            else:
                self.fail("%s always finished before its input was cut" % which)


if __name__ == "__main__":
    unittest.main()
