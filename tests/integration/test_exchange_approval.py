# SPDX-License-Identifier: AGPL-3.0-or-later
"""Approval of external transfers: an org unit that requires it holds a
transfer to a recipient outside the directory (state pending_approval, link
not mailed and not usable) until the sender's manager or an admin approves;
rejecting ends it.  Against a real rampartd and the SMTP sink."""

import json
import os
import subprocess
import tempfile
import shutil
import threading

import exchange_util as xu
import harness
from harness import ServerTestCase
from test_exchange import SmtpSink

PW = "Approval-password-123"


class ExchangeApproval(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpSink()
        threading.Thread(target=cls.smtp.serve_forever, daemon=True).start()
        cls.SERVER_ARGS = {"env": {
            "RAMPART_LIMITS_RATE_PER_MINUTE": "0",
            "RAMPART_EXCHANGE_SMTP_URL": "smtp://127.0.0.1:%d" % cls.smtp.server_address[1],
            "RAMPART_EXCHANGE_SMTP_FROM": "rampart@corp.example",
        }}
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-approval-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()
        cls.smtp.shutdown()
        cls.smtp.server_close()

    def setUp(self):
        if getattr(type(self), "sender", None) is not None:
            return
        people = [p for p in self.all_people(status="active") if p["login"] != "admin"]
        by_id = {p["id"]: p for p in people}
        path = lambda p: (p.get("org_unit") or {}).get("path", "")
        cand = None
        for p in people:
            m = by_id.get((p.get("manager") or {}).get("id"))
            siblings = [q for q in people if path(q) == path(p) and q["id"] not in (p["id"], m and m["id"])
                        and (q.get("manager") or {}).get("id") != p["id"]]
            if p["kind"] == "employee" and m and m.get("email") and path(p) and siblings:
                cand = (p, m, siblings[0])
                break
        self.assertIsNotNone(cand, "the sample organization has no employee with a manager and a colleague")
        sender, manager, colleague = cand
        units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
        type(self).unit_id = units[path(sender)]
        type(self).outside = next(p for p in people if p["kind"] == "employee" and path(p)
                                  and not path(p).startswith(path(sender)) and p["id"] != manager["id"])
        type(self).sender = self.make_user(sender["id"], password=PW)
        type(self).manager = self.make_user(manager["id"], password=PW)
        type(self).colleague = self.make_user(colleague["id"], password=PW)
        type(self).other = self.make_user(self.outside["id"], password=PW)
        r = self.admin.put("/api/v1/exchange/approval/" + self.unit_id, json={"required": True})
        self.assertStatus(r, 200)
        self.assertTrue(r.json["required"])

    def mails_to(self, addr):
        with self.smtp.lock:
            return [m for m in self.smtp.messages if addr in m["to"]]

    def download(self, t, password=None):
        return self.server.client().request("POST", xu.link_path(t["url"]), body=xu.form(password or t["password"]),
                                            content_type="application/x-www-form-urlencoded", auth=False)

    def audit_actions(self, tid):
        r = self.admin.get(harness.query("/api/v1/audit", object=tid, limit=100))
        self.assertStatus(r, 200)
        return [(e["action"], e["outcome"]) for e in r.json["items"]]

    def test_external_transfer_waits_then_manager_approves(self):
        to = "approve-me@partner.example"
        r = xu.send(self.sender, to=to, files=[("deal.pdf", b"%PDF deal")], message="the deal")
        self.assertStatus(r, 201)
        t = r.json
        self.assertEqual(t["state"], "pending_approval")
        self.assertEqual(t["mail"], "held")
        self.assertEqual(self.mails_to(to), [])
        # The manager is told, without the link.
        notes = [m for m in self.mails_to(self.manager.person["email"]) if t["id"] in m["data"]]
        self.assertEqual(len(notes), 1)
        self.assertNotIn(t["url"], notes[0]["data"])
        self.assertNotIn(xu.link_path(t["url"]).rsplit("/", 1)[1], notes[0]["data"])
        # The link does not work yet, and trying counts nothing.
        anon = self.server.client()
        self.assertEqual(anon.get(xu.link_path(t["url"]), auth=False).status, 403)
        r = self.download(t)
        self.assertEqual(r.status, 403)
        self.assertIn(b"approval", r.body)
        info = self.sender.get("/api/v1/transfers/" + t["id"]).json
        self.assertEqual(info["state"], "pending_approval")
        self.assertEqual(info["password_failures"], 0)
        self.assertIsNone(info.get("opened_at"))
        # The sender cannot approve their own; a colleague cannot even see it.
        self.assertError(self.sender.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 403)
        self.assertError(self.colleague.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 404)
        # The manager finds it among what waits for them, sees it, approves.
        r = self.manager.get("/api/v1/transfers?approval=pending")
        self.assertStatus(r, 200)
        self.assertIn(t["id"], [i["id"] for i in r.json["items"]])
        self.assertNotIn(t["id"], [i["id"] for i in self.other.get("/api/v1/transfers?approval=pending").json["items"]])
        self.assertStatus(self.manager.get("/api/v1/transfers/" + t["id"]), 200)
        r = self.manager.post("/api/v1/transfers/%s/approve" % t["id"], json={})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "sent")
        self.assertEqual(r.json["approval"], "approved")
        self.assertEqual(r.json["decided_by"], self.manager.person["login"])
        self.assertEqual(r.json["mail"], "sent")
        mails = self.mails_to(to)
        self.assertEqual(len(mails), 1)
        self.assertIn(t["url"], mails[0]["data"])
        self.assertIn("the deal", mails[0]["data"])
        # The mail names the transfer's actual expiry, in UTC.
        exp = info["expires_at"]
        self.assertIn("expires at %s %s UTC" % (exp[:10], exp[11:16]), mails[0]["data"])
        self.assertNotIn(t["password"], mails[0]["data"])
        self.assertError(self.manager.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 409)
        # Now the link works, once.
        r = self.download(t)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"%PDF deal")
        # Nothing is held any more.
        db = self.server.db()
        try:
            held = db.execute("SELECT held_link FROM exchange_transfers WHERE id = ?", (t["id"],)).fetchone()[0]
        finally:
            db.close()
        self.assertIsNone(held)
        actions = self.audit_actions(t["id"])
        for a in ("exchange.approval_request", "exchange.approve", "exchange.download"):
            self.assertIn((a, "success"), actions)
        self.assertIn(("authz.denied", "denied"), actions)

    def test_named_approver_decides_too(self):
        url = "/api/v1/exchange/approval/" + self.unit_id
        self.assertError(self.admin.put(url, json={"required": True, "approver": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}), 400)
        r = self.admin.put(url, json={"required": True, "approver": self.other.person["id"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["approver"], self.other.person["id"])
        try:
            listed = {i["org_unit"]: i for i in self.admin.get("/api/v1/exchange/approval").json["items"]}
            self.assertEqual(listed[self.unit_id]["approver"]["login"], self.other.person["login"])
            to = "named-approver@partner.example"
            r = xu.send(self.sender, to=to)
            self.assertStatus(r, 201)
            t = r.json
            self.assertEqual(t["state"], "pending_approval")
            # Both the manager and the named approver are told.
            for who in (self.manager, self.other):
                self.assertEqual(len([m for m in self.mails_to(who.person["email"]) if t["id"] in m["data"]]), 1)
            r = self.other.get("/api/v1/transfers?approval=pending")
            self.assertIn(t["id"], [i["id"] for i in r.json["items"]])
            r = self.other.get("/api/v1/transfers/" + t["id"])
            self.assertStatus(r, 200)
            self.assertEqual(r.json["approver"], self.other.person["login"])
            self.assertError(self.colleague.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 404)
            r = self.other.post("/api/v1/transfers/%s/approve" % t["id"], json={})
            self.assertStatus(r, 200)
            self.assertEqual(r.json["decided_by"], self.other.person["login"])
            self.assertEqual(len(self.mails_to(to)), 1)
            # Once decided the approver no longer sees it.
            self.assertError(self.other.get("/api/v1/transfers/" + t["id"]), 404)
        finally:
            self.assertStatus(self.admin.put(url, json={"required": True, "approver": None}), 200)
        self.assertNotIn("approver", {i["org_unit"]: i for i in
                                      self.admin.get("/api/v1/exchange/approval").json["items"]}[self.unit_id])

    def test_reject_ends_the_transfer(self):
        r = xu.send(self.sender, to="reject-me@partner.example")
        self.assertStatus(r, 201)
        t = r.json
        self.assertEqual(t["state"], "pending_approval")
        self.assertIn(t["id"], os.listdir(os.path.join(self.server.data_dir, "blobs")))
        r = self.admin.post("/api/v1/transfers/%s/reject" % t["id"], json={})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "rejected")
        self.assertNotIn(t["id"], os.listdir(os.path.join(self.server.data_dir, "blobs")))
        self.assertEqual(self.sender.get("/api/v1/transfers/" + t["id"]).json["state"], "rejected")
        self.assertEqual(self.download(t).status, 410)
        self.assertEqual(self.mails_to("reject-me@partner.example"), [])
        self.assertError(self.manager.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 409)
        self.assertIn(("exchange.reject", "success"), self.audit_actions(t["id"]))

    def test_internal_recipient_and_other_units_need_no_approval(self):
        # A person of the directory is not external.
        r = xu.send(self.sender, to=self.outside["email"].upper())
        self.assertStatus(r, 201)
        self.assertEqual(r.json["state"], "sent")
        self.assertEqual(r.json["mail"], "sent")
        # A sender outside the unit is not held.
        r = xu.send(self.other, to="someone@partner.example")
        self.assertStatus(r, 201)
        self.assertEqual(r.json["state"], "sent")

    def test_setting_listed_and_turned_off(self):
        r = self.admin.get("/api/v1/exchange/approval")
        self.assertStatus(r, 200)
        self.assertIn(self.unit_id, [i["org_unit"] for i in r.json["items"]])
        self.assertError(self.manager.put("/api/v1/exchange/approval/" + self.unit_id, json={"required": False}), 403)
        self.assertError(self.admin.put("/api/v1/exchange/approval/" + self.unit_id, json={"required": "no"}), 400)
        self.assertError(self.admin.put("/api/v1/exchange/approval/01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                        json={"required": True}), 404)
        try:
            self.assertStatus(self.admin.put("/api/v1/exchange/approval/" + self.unit_id, json={"required": False}), 200)
            r = xu.send(self.sender, to="free@partner.example")
            self.assertEqual(r.json["state"], "sent")
            self.assertNotIn(self.unit_id, [i["org_unit"] for i in self.admin.get("/api/v1/exchange/approval").json["items"]])
        finally:
            self.assertStatus(self.admin.put("/api/v1/exchange/approval/" + self.unit_id, json={"required": True}), 200)

    def test_revoking_a_pending_transfer_drops_the_held_link(self):
        r = xu.send(self.sender, to="revoke-me@partner.example")
        t = r.json
        self.assertEqual(t["state"], "pending_approval")
        self.assertStatus(self.sender.post("/api/v1/transfers/%s/revoke" % t["id"], json={}), 200)
        db = self.server.db()
        try:
            held = db.execute("SELECT held_link FROM exchange_transfers WHERE id = ?", (t["id"],)).fetchone()[0]
        finally:
            db.close()
        self.assertIsNone(held)
        self.assertError(self.manager.post("/api/v1/transfers/%s/approve" % t["id"], json={}), 409)

    def test_cli_shows_state_and_approves(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "config"), RAMPART_SERVER=self.server.url)

        def cli(token, *args):
            return subprocess.run([harness.cli_path()] + list(args), env=dict(env, RAMPART_TOKEN=token),
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                                  start_new_session=True)

        src = os.path.join(self.tmp, "cli.txt")
        with open(src, "w") as f:
            f.write("cli")
        r = cli(self.sender.token, "send", src, "--to", "cli-approve@partner.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("waits for approval", r.stdout)
        r = cli(self.sender.token, "send", src, "--to", "cli-approve@partner.example", "--json")
        t = json.loads(r.stdout)
        self.assertEqual(t["state"], "pending_approval")
        r = cli(self.manager.token, "transfers", "list", "--pending")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(t["id"], r.stdout)
        self.assertIn("pending_approval", r.stdout)
        self.assertEqual(cli(self.sender.token, "transfers", "approve", t["id"]).returncode, 3)
        r = cli(self.manager.token, "transfers", "approve", t["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("approved", r.stdout)
        r = cli(self.sender.token, "transfers", "show", t["id"])
        self.assertRegex(r.stdout, r"state\s+sent")
        self.assertRegex(r.stdout, r"approval\s+approved")


if __name__ == "__main__":
    import unittest
    unittest.main()
