# SPDX-License-Identifier: AGPL-3.0-or-later
"""Endpoints: a real rampart-agent enrolls with a real rampartd, checks in
with the fixture root (tests/fixtures/endpoint/root), and the device shows
up with the right compliance results; replayed, tampered and stale signed
requests, and expired, revoked or used-up enrollment tokens are refused; a
security manager sees only the devices of their subtree.

Signed requests are made in the test with the device key the agent saved,
through the openssl command (Ed25519), so that the replay checks do not
depend on the agent."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
from harness import ServerTestCase

FIXTURE = os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root")
DAY = 86400
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def agent_path():
    return os.path.join(harness.BUILD, "src", "agent", "rampart-agent")


class Endpoint(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-ep-")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root)
        cls.set_signature_age(1 * DAY)
        # A stand-in for nft on PATH: prints a loaded ruleset, as `nft list ruleset` does.
        cls.bin = os.path.join(cls.tmp, "bin")
        os.mkdir(cls.bin)
        nft = os.path.join(cls.bin, "nft")
        with open(nft, "w") as f:
            f.write("#!/bin/sh\nprintf 'table inet filter {\\n\\tchain input {\\n\\t}\\n}\\n'\n")
        os.chmod(nft, 0o755)
        # Two divisions with plain employees in them.
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        divisions = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                            if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})
        cls.div1, cls.div2 = divisions[0], divisions[-1]
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def set_signature_age(cls, age_s):
        t = time.time() - age_s
        for name in ("main.cvd", "daily.cld"):
            os.utime(os.path.join(cls.root, "var", "lib", "clamav", name), (t, t))

    # ------------------------------------------------------------ helpers

    def agent(self, *args, check=True):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        p = subprocess.run([agent_path()] + list(args), capture_output=True, text=True, timeout=120, env=env)
        if check and p.returncode != 0:
            self.fail("rampart-agent %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def token(self, org, uses=1, expires=None, client=None):
        body = {"org_unit": org, "uses": uses}
        if expires:
            body["expires"] = expires
        r = (client or self.admin).post("/api/v1/endpoint/enrollment-tokens", json=body)
        self.assertStatus(r, 201)
        self.assertTrue(r.json["token"].startswith("re_"))
        return r.json

    def enroll(self, org=None, token=None):
        type(self).seq += 1
        state = os.path.join(self.tmp, "state-%d" % self.seq)
        tok = token or self.token(org or self.div1)["token"]
        self.agent("enroll", "--server", self.server.url, "--token", tok, "--state-dir", state,
                   "--root", self.root)
        with open(os.path.join(state, "device.json")) as f:
            dev = json.load(f)
        return state, dev

    def signed(self, state, dev, body, ts=None, path="/api/v1/endpoint/checkin", sig_body=None):
        """A signed POST made with the agent's key through openssl, as raw pieces."""
        with open(os.path.join(state, "device.key"), "rb") as f:
            seed = f.read()[:32]
        ts = int(time.time() * 1000) if ts is None else ts
        raw = json.dumps(body).encode()
        msg = "POST\n%s\n%d\n%s" % (path, ts, hashlib.sha256(sig_body if sig_body is not None else raw).hexdigest())
        key, data = os.path.join(self.tmp, "k.der"), os.path.join(self.tmp, "msg")
        with open(key, "wb") as f:
            f.write(ED25519_PKCS8_PREFIX + seed)
        os.chmod(key, 0o600)
        with open(data, "wb") as f:
            f.write(msg.encode())
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-keyform", "DER", "-rawin",
                              "-in", data], capture_output=True, check=True, timeout=60).stdout
        os.unlink(key)
        headers = {"X-Rampart-Device": dev["device_id"], "X-Rampart-Timestamp": str(ts),
                   "X-Rampart-Signature": base64.b64encode(sig).decode(),
                   "Content-Type": "application/json"}
        return raw, headers

    def post_raw(self, raw, headers, path="/api/v1/endpoint/checkin"):
        return self.server.client().request("POST", path, body=raw, headers=headers, auth=False)

    def results(self, device):
        return {x["id"]: x for x in device["results"]}

    # ------------------------------------------------------------ tests

    def test_posture_prints_the_fixture_report(self):
        p = self.agent("posture", "--json", "--root", self.root)
        rep = json.loads(p.stdout)
        self.assertEqual(rep["os"]["id"], "debian")
        self.assertEqual(rep["kernel"]["release"], "6.1.0-28-amd64")
        self.assertEqual(rep["uptime_s"], 12345)
        self.assertEqual([(x["name"], x["source"]) for x in rep["packages"]["items"]],
                         [("bash", "bash"), ("libssl3", "openssl"), ("clamav", "clamav")])
        enc = {d["mount"]: d["encrypted"] for d in rep["disk_encryption"]}
        self.assertEqual(enc, {"/": True, "/home": False})
        self.assertTrue(rep["firewall"]["nftables_active"])
        self.assertTrue(rep["antivirus"]["present"])
        self.assertGreaterEqual(rep["antivirus"]["signature_age_s"], DAY)
        self.assertEqual([(u["vendor_id"], u["product_id"], u["serial"]) for u in rep["usb_storage"]],
                         [("0781", "5583", "4C530001230101117283")])
        self.assertEqual(rep["errors"], [])

    def test_enroll_checkin_compliance_and_history(self):
        state, dev = self.enroll()
        self.assertEqual(os.stat(os.path.join(state, "device.key")).st_mode & 0o077, 0)
        self.assertEqual(len(base64.b64decode(dev["server_public_key"])), 32)
        with open(os.path.join(self.server.data_dir, "policy_sign.key"), "rb") as f:
            self.assertEqual(len(f.read()), 32)

        r = self.admin.get("/api/v1/devices/%s" % dev["device_id"])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "unknown")

        self.set_signature_age(1 * DAY)
        out = json.loads(self.agent("checkin", "--json", "--state-dir", state, "--root", self.root).stdout)
        self.assertEqual(out["state"], "compliant", out)
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(d["state"], "compliant")
        self.assertEqual(d["hostname"], "fixture-pc")
        self.assertEqual(d["machine_id"], "0123456789abcdef0123456789abcdef")
        self.assertEqual(d["org_unit"]["path"], self.div1)
        self.assertTrue(all(x["pass"] for x in d["results"]), d["results"])
        self.assertEqual(set(self.results(d)), {"disk_encryption_root", "firewall_active",
                                                "antivirus_signatures", "agent_version"})
        self.assertEqual(d["package_count"], 3)
        self.assertEqual(d["report"]["usb_storage"][0]["vendor"], "SanDisk")
        self.assertEqual(len(d["history"]), 1)

        # Signatures go stale: the device falls out of compliance, with the reason.
        self.set_signature_age(10 * DAY)
        out = json.loads(self.agent("checkin", "--json", "--state-dir", state, "--root", self.root).stdout)
        self.assertEqual(out["state"], "non_compliant")
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        av = self.results(d)["antivirus_signatures"]
        self.assertFalse(av["pass"])
        self.assertIn("10 days", av["reason"])
        self.assertTrue(self.results(d)["disk_encryption_root"]["pass"])
        self.assertEqual([h["state"] for h in d["history"]], ["non_compliant", "compliant"])
        # The second report was a delta against the acknowledged list: nothing changed, nothing lost.
        self.assertEqual(d["report"]["packages"]["mode"], "delta")
        self.assertEqual(d["package_count"], 3)
        self.set_signature_age(1 * DAY)

        listed = self.admin.get(harness.query("/api/v1/devices", state="non_compliant", limit=500)).json
        self.assertIn(dev["device_id"], [x["id"] for x in listed["items"]])

        audit = self.admin.get(harness.query("/api/v1/audit", object=dev["device_id"], limit=50)).json["items"]
        actions = [a["action"] for a in audit]
        self.assertIn("endpoint.enroll", actions)
        self.assertEqual(actions.count("endpoint.device.state"), 2)

    def test_replayed_tampered_and_stale_requests_are_refused(self):
        state, dev = self.enroll()
        body = {"agent_version": "test", "firewall": {"nftables_active": True}}
        raw, headers = self.signed(state, dev, body)
        r = self.post_raw(raw, headers)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "non_compliant")
        # The very same request again: refused.
        self.assertError(self.post_raw(raw, headers), 401, "unauthenticated")
        # A body the signature does not cover.
        raw2, headers2 = self.signed(state, dev, body)
        self.assertError(self.post_raw(raw2.replace(b"test", b"evil"), headers2), 401)
        # A signature by another key.
        other_state, other = self.enroll()
        raw3, headers3 = self.signed(other_state, other, body)
        headers3["X-Rampart-Device"] = dev["device_id"]
        self.assertError(self.post_raw(raw3, headers3), 401)
        # Outside the time window, correctly signed.
        raw4, headers4 = self.signed(state, dev, body, ts=int(time.time() * 1000) - 10 * 60 * 1000)
        self.assertError(self.post_raw(raw4, headers4), 401)
        # No signature at all, even with an administrator's credentials.
        r = self.admin.post("/api/v1/endpoint/checkin", json=body)
        self.assertError(r, 401)
        # Only the first request was stored.
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(len(d["history"]), 1)

    def test_refused_reports_cannot_be_replayed(self):
        """A check-in refused for its body still spends its signature: sent again it
        is a replay (401), whether the body failed early (an unknown field) or late
        (a bad package list, found while the report was being stored); nothing of a
        refused report is stored, and a good one after them is."""
        state, dev = self.enroll()
        early = {"agent_version": "test", "surprise": 1}
        raw, headers = self.signed(state, dev, early)
        self.assertError(self.post_raw(raw, headers), 400)
        self.assertError(self.post_raw(raw, headers), 401, "unauthenticated")
        late = {"agent_version": "test", "packages": {"mode": "full", "items": [{"name": "x"}]}}
        raw, headers = self.signed(state, dev, late)
        self.assertError(self.post_raw(raw, headers), 400)
        self.assertError(self.post_raw(raw, headers), 401, "unauthenticated")
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(d["history"], [])
        good = {"agent_version": "test", "packages": {"mode": "full", "items": [{"name": "x", "version": "1"}]}}
        raw, headers = self.signed(state, dev, good)
        self.assertStatus(self.post_raw(raw, headers), 200)
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(len(d["history"]), 1)

    def test_enroll_into_a_unit_below_with_an_owner(self):
        units = [u["path"] for u in self.admin.get("/api/v1/org").json["items"]]
        below = sorted(u for u in units if u.startswith(self.div1 + "/"))[0]
        owner = [p for p in self.admin.get("/api/v1/people?limit=500").json["items"]
                 if (p.get("org_unit") or {}).get("path") == below][0]
        tok = self.token(self.div1, uses=3)
        type(self).seq += 1
        state = os.path.join(self.tmp, "state-%d" % self.seq)
        self.agent("enroll", "--server", self.server.url, "--token", tok["token"], "--state-dir", state,
                   "--root", self.root, "--org", below, "--owner", owner["login"])
        with open(os.path.join(state, "device.json")) as f:
            dev = json.load(f)
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(d["org_unit"]["path"], below)
        self.assertEqual(d["owner"]["login"], owner["login"])
        # A unit outside the token's subtree, and an unknown owner: refused, and no use is spent.
        body = {"token": tok["token"], "hostname": "pc", "machine_id": "2" * 32,
                "public_key": base64.b64encode(os.urandom(32)).decode(), "org_unit": self.div2}
        self.assertError(self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False), 400)
        body["org_unit"] = below
        body["owner"] = "nobody-such-login"
        self.assertError(self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False), 400)
        listed = {t["id"]: t for t in self.admin.get("/api/v1/endpoint/enrollment-tokens?limit=500").json["items"]}
        self.assertEqual(listed[tok["id"]]["uses_left"], 2)

    def test_missed_checkins_make_a_device_unknown(self):
        state, dev = self.enroll()
        self.set_signature_age(1 * DAY)
        self.agent("checkin", "--state-dir", state, "--root", self.root)
        self.assertEqual(self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json["state"], "compliant")
        # The last check-in was 16 minutes ago: three 5-minute intervals missed.
        db = self.server.db()
        db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?",
                   (int(time.time() * 1000) - 16 * 60 * 1000, dev["device_id"]))
        db.commit()
        db.close()
        r = self.admin.post("/api/v1/endpoint/sweep")
        self.assertStatus(r, 200)
        self.assertGreaterEqual(r.json["changed"], 1)
        self.assertEqual(self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json["state"], "unknown")
        self.assertEqual(self.admin.post("/api/v1/endpoint/sweep").json["changed"], 0)
        audit = self.admin.get(harness.query("/api/v1/audit", object=dev["device_id"], limit=50)).json["items"]
        self.assertIn("missed check-ins", [(a.get("details") or {}).get("reason") for a in audit])
        # The next check-in brings it back.
        self.agent("checkin", "--state-dir", state, "--root", self.root)
        self.assertEqual(self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json["state"], "compliant")

    def test_run_checks_in_repeatedly_with_deltas(self):
        state, dev = self.enroll()
        self.agent("run", "--interval", "1s", "--count", "3", "--state-dir", state, "--root", self.root)
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(len(d["history"]), 3)
        self.assertEqual(d["report"]["packages"]["mode"], "delta")
        self.assertEqual(d["package_count"], 3)
        p = self.agent("run", "--interval", "0s", "--state-dir", state, check=False)
        self.assertEqual(p.returncode, 2)
        # Until a signal: one check-in, then SIGTERM ends the wait for the next.
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        proc = subprocess.Popen([agent_path(), "run", "--interval", "1h", "--state-dir", state, "--root", self.root],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + harness.START_TIMEOUT
            while len(self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json["history"]) < 4:
                self.assertLess(time.monotonic(), deadline, "the agent did not check in")
                time.sleep(0.05)
            proc.terminate()
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_report_with_unknown_keys_is_refused(self):
        state, dev = self.enroll()
        raw, headers = self.signed(state, dev, {"agent_version": "x", "shell": "rm -rf /"})
        self.assertError(self.post_raw(raw, headers), 400)

    def test_used_up_expired_and_revoked_tokens_are_refused(self):
        tok = self.token(self.div1, uses=1)
        self.enroll(token=tok["token"])
        p = self.agent("enroll", "--server", self.server.url, "--token", tok["token"],
                       "--state-dir", os.path.join(self.tmp, "used-up"), "--root", self.root, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "used-up", "device.json")))
        listed = {t["id"]: t for t in self.admin.get("/api/v1/endpoint/enrollment-tokens?limit=500").json["items"]}
        self.assertEqual(listed[tok["id"]]["status"], "used_up")

        expired = self.token(self.div1, uses=5)
        db = self.server.db()
        db.execute("UPDATE enrollment_tokens SET expires_at = ? WHERE id = ?",
                   (int(time.time() * 1000) - 1000, expired["id"]))
        db.commit()
        db.close()
        body = {"token": expired["token"], "hostname": "late-pc", "machine_id": "1" * 32,
                "public_key": base64.b64encode(os.urandom(32)).decode()}
        self.assertError(self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False), 401)

        revoked = self.token(self.div1, uses=5)
        self.assertStatus(self.admin.delete("/api/v1/endpoint/enrollment-tokens/%s" % revoked["id"]), 204)
        body["token"] = revoked["token"]
        self.assertError(self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False), 401)
        body["token"] = "re_" + "A" * 43
        self.assertError(self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False), 401)

    def rampart(self, *args, check=True):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=self.admin.token)
        p = subprocess.run([harness.cli_path()] + list(args), capture_output=True, text=True,
                           timeout=120, env=env, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            self.fail("rampart %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def test_cli_enrollment_tokens_and_devices(self):
        p = self.rampart("enrollment-tokens", "create", "--org", self.div1, "--uses", "2", "--expires", "1d")
        token = p.stdout.strip()
        self.assertTrue(token.startswith("re_"), p.stdout)
        self.assertIn("2 uses", p.stderr)
        created = json.loads(self.rampart("--json", "enrollment-tokens", "create", "--org", self.div1).stdout)
        self.assertEqual(created["uses"], 1)
        self.assertEqual(created["org_unit"]["path"], self.div1)
        _, dev = self.enroll(token=token)
        listed = json.loads(self.rampart("--json", "enrollment-tokens", "list").stdout)["items"]
        self.assertIn(created["id"], [t["id"] for t in listed])
        self.rampart("enrollment-tokens", "revoke", created["id"])
        self.assertIn("revoked", self.rampart("enrollment-tokens", "list").stdout)

        self.assertIn(dev["device_id"], self.rampart("devices").stdout)
        items = json.loads(self.rampart("--json", "devices", "list", "--state", "unknown").stdout)["items"]
        self.assertIn(dev["device_id"], [d["id"] for d in items])
        shown = json.loads(self.rampart("--json", "devices", "show", dev["device_id"]).stdout)
        self.assertEqual(shown["id"], dev["device_id"])
        text = self.rampart("devices", "show", dev["device_id"]).stdout
        self.assertIn("fixture-pc", text)
        p = self.rampart("enrollment-tokens", "create", "--uses", "2", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--org", p.stderr)

    def test_summary_counts_what_the_lists_show(self):
        state, dev = self.enroll(self.div1)
        self.set_signature_age(10 * DAY)
        self.agent("checkin", "--json", "--state-dir", state, "--root", self.root)
        self.set_signature_age(1 * DAY)
        state2, dev2 = self.enroll(self.div2)
        self.agent("checkin", "--json", "--state-dir", state2, "--root", self.root)

        def listed(client):
            items, cursor = [], None
            while True:
                page = client.get(harness.query("/api/v1/devices", limit=500, cursor=cursor)).json
                items += page["items"]
                cursor = page.get("next")
                if not cursor:
                    return items

        def check(client):
            devices = listed(client)
            summ = client.get("/api/v1/endpoint/summary")
            self.assertStatus(summ, 200)
            summ = summ.json
            self.assertEqual(summ["total"], len(devices))
            for st in ("compliant", "non_compliant", "unknown", "quarantined"):
                self.assertEqual(summ["by_state"][st], sum(1 for d in devices if d["state"] == st), st)
            units = {}
            for d in devices:
                units[d["org_unit"]["path"]] = units.get(d["org_unit"]["path"], 0) + 1
            self.assertEqual(summ["units"], len(units))
            self.assertEqual({u["org_unit"]: u["total"] for u in summ["by_unit"]},
                             {k: v for k, v in units.items() if k in {u["org_unit"] for u in summ["by_unit"]}})
            self.assertEqual([u["total"] for u in summ["by_unit"]],
                             sorted((u["total"] for u in summ["by_unit"]), reverse=True))
            # Failures: from each device's latest results.
            fails = {}
            for d in devices:
                for x in client.get("/api/v1/devices/%s" % d["id"]).json["results"] or []:
                    if not x["pass"]:
                        fails[x["id"]] = fails.get(x["id"], 0) + 1
            self.assertEqual({f["id"]: f["devices"] for f in summ["failing"]}, fails)
            # The trend: 14 days, oldest first, today as now; every device here was enrolled today.
            self.assertEqual(len(summ["trend"]), 14)
            self.assertEqual(summ["trend"][-1]["day"], time.strftime("%Y-%m-%d", time.gmtime()))
            self.assertEqual({k: v for k, v in summ["trend"][-1].items() if k != "day"}, summ["by_state"])
            self.assertEqual([sum(v for k, v in row.items() if k != "day") for row in summ["trend"][:-1]],
                             [0] * 13)
            return summ, devices

        summ, _ = check(self.admin)
        self.assertGreaterEqual({f["id"]: f["devices"] for f in summ["failing"]}.get("antivirus_signatures", 0), 1)
        sm = self.make_user(self.pick_employee(self.div2)["id"], roles=["security_manager:" + self.div2])
        summ, devices = check(sm)
        self.assertIn(dev2["device_id"], [d["id"] for d in devices])
        self.assertNotIn(dev["device_id"], [d["id"] for d in devices])
        self.assertTrue(all(u["org_unit"] == self.div2 or u["org_unit"].startswith(self.div2 + "/")
                            for u in summ["by_unit"]))
        emp = self.make_user(self.pick_employee(self.div1)["id"])
        self.assertError(emp.get("/api/v1/endpoint/summary"), 403)
        self.assertEqual(len(self.admin.get("/api/v1/endpoint/summary?days=3").json["trend"]), 3)
        for bad in ("0", "91", "x", "-1"):
            self.assertError(self.admin.get("/api/v1/endpoint/summary?days=" + bad), 400)

    def pick_employee(self, div):
        used = getattr(type(self), "picked", set())
        type(self).picked = used
        for p in self.all_people(status="active"):
            path = (p.get("org_unit") or {}).get("path", "")
            if p["kind"] == "employee" and (path == div or path.startswith(div + "/")) and p["id"] not in used \
                    and not any(r.get("implicit") is not True for r in p.get("roles", [])):
                used.add(p["id"])
                return p
        self.fail("nobody in %s" % div)

    def test_security_manager_sees_only_their_division(self):
        _, dev = self.enroll(self.div1)
        people = self.all_people(status="active")
        used = set()

        def pick(div):
            for p in people:
                path = (p.get("org_unit") or {}).get("path", "")
                if p["kind"] == "employee" and (path == div or path.startswith(div + "/")) \
                        and p["id"] not in used and not any(r.get("implicit") is not True
                                                            for r in p.get("roles", [])):
                    used.add(p["id"])
                    return p
            self.fail("nobody in %s" % div)
        sm2 = self.make_user(pick(self.div2)["id"], roles=["security_manager:" + self.div2])
        sm1 = self.make_user(pick(self.div1)["id"], roles=["security_manager:" + self.div1])

        self.assertNotIn(dev["device_id"], [d["id"] for d in sm2.get("/api/v1/devices?limit=500").json["items"]])
        self.assertError(sm2.get("/api/v1/devices/%s" % dev["device_id"]), 404)
        self.assertError(sm2.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": self.div1}), 403)

        self.assertIn(dev["device_id"], [d["id"] for d in sm1.get("/api/v1/devices?limit=500").json["items"]])
        self.assertStatus(sm1.get("/api/v1/devices/%s" % dev["device_id"]), 200)
        self.token(self.div1, client=sm1)
        # An employee without a role sees no devices at all.
        emp = self.make_user(pick(self.div1)["id"])
        self.assertError(emp.get("/api/v1/devices"), 403)
