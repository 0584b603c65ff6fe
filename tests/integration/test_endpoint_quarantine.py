# SPDX-License-Identifier: AGPL-3.0-or-later
"""Endpoint quarantine, server side: a device that stays non-compliant past
its policy's grace period is quarantined and released by its next compliant
check-in; an administrator's quarantine (or an infected mark) holds until an
administrator releases it, and the release restarts the grace clock; a
Suricata EVE alert naming a device's address marks it infected at once; the
quarantine list is served as JSON and as an nftables script that the real
`nft -c -f` accepts (inside a private network namespace); every check-in
answer carries a quarantine order signed with the key the agent pinned,
which the test verifies with openssl and the real agent applies (recording
only: --no-enforce); limits of the alert endpoint; audit entries.  And end
to end in a network namespace (as test_endpoint_netns.py builds it): an EVE
alert naming the address a real agent reports quarantines it, the agent
installs its quarantine table, a compliant check-in does not lift it, and an
administrator's release does.

Devices are enrolled with the real rampart-agent; check-ins with chosen
reports are signed in the test with the agent's key through openssl, as in
test_endpoint.py."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
import test_endpoint_netns as netns
from harness import ServerTestCase

FIXTURE = os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root")
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
HOUR_MS = 3600 * 1000


def agent_path():
    return os.path.join(harness.BUILD, "src", "agent", "rampart-agent")


def report(compliant=True, addresses=None):
    """A posture report that passes (or fails: no disk encryption) the default baseline."""
    r = {"agent_version": "test", "disk_encryption": [{"mount": "/", "encrypted": compliant}],
         "firewall": {"nftables_active": True}, "antivirus": {"present": True, "signature_age_s": 3600}}
    if addresses is not None:
        r["addresses"] = addresses
    return r


def eve_alert(src, dest, severity=1, sid=2024897, signature="ET MALWARE Observed Cobalt Strike CnC"):
    return json.dumps({
        "timestamp": "2026-11-26T10:15:02.123456+0000", "flow_id": 1234567890123456, "in_iface": "eth0",
        "event_type": "alert", "src_ip": src, "src_port": 49152, "dest_ip": dest, "dest_port": 443,
        "proto": "TCP", "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3,
                                  "signature": signature, "category": "A Network Trojan was detected",
                                  "severity": severity},
        "flow": {"pkts_toserver": 3, "pkts_toclient": 1, "start": "2026-11-26T10:15:01.998877+0000"}})


def nft_unavailable():
    """Why nft cannot be run in a private network namespace here, or None."""
    if not shutil.which("nft") or not shutil.which("unshare"):
        return "nft or unshare is not installed"
    p = subprocess.run(["unshare", "-n", "nft", "list", "ruleset"], capture_output=True, text=True, timeout=60)
    return None if p.returncode == 0 else "kernel: no private network namespace with nftables here: %s" % p.stderr.strip()


def eve_flow(src, dest):
    return json.dumps({"timestamp": "2026-11-26T10:15:03.000001+0000", "flow_id": 99, "event_type": "flow",
                       "src_ip": src, "dest_ip": dest, "proto": "UDP"})


class EndpointQuarantine(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-q-")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root)
        cls.units = {u["path"]: u["id"] for u in cls.admin.get("/api/v1/org").json["items"]}
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        divisions = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                            if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})
        cls.people = people
        cls.div1, cls.div2 = divisions[0], divisions[-1]
        # Units below the divisions, one per test that sets a policy, so that policies do not meet.
        cls.free_units = sorted(u for u in cls.units if u.count("/") >= 3 and not u.startswith(cls.div1 + "/")
                                and not u.startswith(cls.div2 + "/"))
        cls.seq = 0
        cls.addr = 10

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # ------------------------------------------------------------ helpers

    def agent(self, *args, check=True):
        p = subprocess.run([agent_path()] + list(args), capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            self.fail("rampart-agent %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def enroll(self, org=None):
        type(self).seq += 1
        state = os.path.join(self.tmp, "state-%d" % self.seq)
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": org or self.div1})
        self.assertStatus(r, 201)
        self.agent("enroll", "--server", self.server.url, "--token", r.json["token"], "--state-dir", state,
                   "--root", self.root)
        with open(os.path.join(state, "device.json")) as f:
            return state, json.load(f)

    def new_addresses(self):
        type(self).addr += 1
        return ["192.0.2.%d" % self.addr, "2001:db8::%x" % self.addr]

    def unit(self):
        return self.free_units.pop(0)

    def checkin(self, state, dev, body, expect=200):
        """A check-in signed with the agent's key (openssl), with the report @body."""
        with open(os.path.join(state, "device.key"), "rb") as f:
            seed = f.read()[:32]
        ts = int(time.time() * 1000)
        raw = json.dumps(body).encode()
        msg = "POST\n/api/v1/endpoint/checkin\n%d\n%s" % (ts, hashlib.sha256(raw).hexdigest())
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
                   "X-Rampart-Signature": base64.b64encode(sig).decode(), "Content-Type": "application/json"}
        r = self.server.client().request("POST", "/api/v1/endpoint/checkin", body=raw, headers=headers, auth=False)
        self.assertStatus(r, expect)
        return r.json

    def order(self, dev, answer):
        """Verifies the answer's quarantine order with openssl against the key the agent pinned; returns it."""
        signed = answer["quarantine"]
        self.assertEqual(set(signed), {"document", "signature"})
        pub, doc, sig = (os.path.join(self.tmp, n) for n in ("pub.der", "doc", "sig"))
        with open(pub, "wb") as f:
            f.write(ED25519_SPKI_PREFIX + base64.b64decode(dev["server_public_key"]))
        with open(doc, "wb") as f:
            f.write(signed["document"].encode())
        with open(sig, "wb") as f:
            f.write(base64.b64decode(signed["signature"]))
        p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-keyform", "DER", "-rawin",
                            "-in", doc, "-sigfile", sig], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "the quarantine order does not verify: %s%s" % (p.stdout, p.stderr))
        # A changed document no longer verifies.
        with open(doc, "wb") as f:
            f.write(signed["document"].replace('"quarantined":', '"quarantined" :').encode())
        p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-keyform", "DER", "-rawin",
                            "-in", doc, "-sigfile", sig], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        o = json.loads(signed["document"])
        self.assertEqual(set(o), {"device_id", "quarantined", "reason", "issued_at"})
        self.assertEqual(o["device_id"], dev["device_id"])
        # Canonical: sorted keys, compact.
        self.assertEqual(signed["document"], json.dumps(o, sort_keys=True, separators=(",", ":")))
        return o

    def device(self, dev):
        r = self.admin.get("/api/v1/devices/%s" % dev["device_id"])
        self.assertStatus(r, 200)
        return r.json

    def audit(self, dev):
        return self.admin.get(harness.query("/api/v1/audit", object=dev["device_id"], limit=100)).json["items"]

    def db(self, sql, *args):
        db = self.server.db()
        try:
            db.execute(sql, args)
            db.commit()
        finally:
            db.close()

    def post_eve(self, text, client=None, content_type="application/json"):
        return (client or self.admin).request("POST", "/api/v1/endpoint/alerts", body=text.encode(),
                                              content_type=content_type)

    def quarantine(self, dev, client=None, **body):
        return (client or self.admin).post("/api/v1/devices/%s/quarantine" % dev["device_id"], json=body)

    def release(self, dev, client=None, **body):
        return (client or self.admin).post("/api/v1/devices/%s/release" % dev["device_id"], json=body)

    def pick(self, div, used=set()):
        for p in self.all_people(status="active"):
            path = (p.get("org_unit") or {}).get("path", "")
            if p["kind"] == "employee" and (path == div or path.startswith(div + "/")) and p["id"] not in used \
                    and not any(r.get("implicit") is not True for r in p.get("roles", [])):
                used.add(p["id"])
                return p
        self.fail("nobody in %s" % div)

    # ------------------------------------------------------------ grace period

    def test_grace_expiry_quarantines_and_a_compliant_checkin_releases(self):
        unit = self.unit()
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                         json={"quarantine": {"grace_period": "1h"}}), 200)
        state, dev = self.enroll(unit)
        addrs = self.new_addresses()
        out = self.checkin(state, dev, report(True, addrs))
        self.assertEqual(out["state"], "compliant")
        self.assertFalse(self.order(dev, out)["quarantined"])

        # Non-compliant, within the grace period: not quarantined yet, the clock runs.
        out = self.checkin(state, dev, report(False, addrs))
        self.assertEqual(out["state"], "non_compliant")
        o = self.order(dev, out)
        self.assertFalse(o["quarantined"])
        self.assertEqual(o["reason"], "")
        d = self.device(dev)
        self.assertIsNotNone(d["non_compliant_since"])
        self.assertIsNone(d["quarantine"])
        self.assertEqual(d["addresses"], addrs)

        # Two hours later, still non-compliant: quarantined (kind grace), with the failing requirement.
        self.db("UPDATE devices SET non_compliant_since = ? WHERE id = ?",
                int(time.time() * 1000) - 2 * HOUR_MS, dev["device_id"])
        out = self.checkin(state, dev, report(False, addrs))
        self.assertEqual(out["state"], "quarantined")
        o = self.order(dev, out)
        self.assertTrue(o["quarantined"])
        self.assertIn("grace period of 1h", o["reason"])
        self.assertIn("disk_encryption_root", o["reason"])
        first_issued = o["issued_at"]
        d = self.device(dev)
        self.assertEqual(d["state"], "quarantined")
        self.assertEqual(d["quarantine"]["kind"], "grace")
        listed = self.admin.get("/api/v1/endpoint/quarantine").json["items"]
        self.assertIn(dev["device_id"], [x["device_id"] for x in listed])
        # The missed check-in sweep leaves a quarantined device alone.
        self.db("UPDATE devices SET last_seen_at = ? WHERE id = ?", int(time.time() * 1000) - 60 * 60 * 1000,
                dev["device_id"])
        self.assertStatus(self.admin.post("/api/v1/endpoint/sweep"), 200)
        self.assertEqual(self.device(dev)["state"], "quarantined")

        # Still non-compliant: stays; orders are issued afresh, never older.
        out = self.checkin(state, dev, report(False, addrs))
        o = self.order(dev, out)
        self.assertTrue(o["quarantined"])
        self.assertGreaterEqual(o["issued_at"], first_issued)

        # Compliant again: released by the check-in itself.
        out = self.checkin(state, dev, report(True, addrs))
        self.assertEqual(out["state"], "compliant")
        self.assertFalse(self.order(dev, out)["quarantined"])
        d = self.device(dev)
        self.assertEqual(d["state"], "compliant")
        self.assertIsNone(d["non_compliant_since"])
        self.assertNotIn(dev["device_id"],
                         [x["device_id"] for x in self.admin.get("/api/v1/endpoint/quarantine").json["items"]])
        audit = self.audit(dev)
        q = [a for a in audit if a["action"] == "endpoint.device.quarantine"]
        rel = [a for a in audit if a["action"] == "endpoint.device.release"]
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["details"]["kind"], "grace")
        self.assertEqual(q[0]["details"]["from"], "non_compliant")
        self.assertEqual(len(rel), 1)
        self.assertEqual(rel[0]["details"]["reason"], "compliant check-in")

    def test_grace_period_zero_quarantines_at_once(self):
        unit = self.unit()
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                         json={"quarantine": {"grace_period": "0s"}}), 200)
        self.assertError(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                        json={"quarantine": {"grace_period": "31d"}}), 400)
        state, dev = self.enroll(unit)
        out = self.checkin(state, dev, report(False, self.new_addresses()))
        self.assertEqual(out["state"], "quarantined")
        self.assertTrue(self.order(dev, out)["quarantined"])
        # The effective policy the agent receives says so too.
        pol = json.loads(out["policy"]["document"])["policy"]
        self.assertEqual(pol["quarantine"], {"grace_period": "0s"})

    def test_a_device_offline_past_its_grace_period_is_quarantined_by_the_sweep(self):
        unit = self.unit()
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                         json={"quarantine": {"grace_period": "1h"}}), 200)
        state, dev = self.enroll(unit)
        _, fine = self.enroll(unit)
        addrs = self.new_addresses()
        self.checkin(state, dev, report(False, addrs))
        self.assertEqual(self.admin.post("/api/v1/endpoint/sweep").json["quarantined"], 0)
        self.assertEqual(self.device(dev)["state"], "non_compliant")
        # Two hours without a check-in: unknown to the missed check-in sweep, and past its grace period.
        old = int(time.time() * 1000) - 2 * HOUR_MS
        self.db("UPDATE devices SET non_compliant_since = ?, last_seen_at = ? WHERE id = ?", old, old,
                dev["device_id"])
        self.db("UPDATE devices SET last_seen_at = ? WHERE id = ?", old, fine["device_id"])
        r = self.admin.post("/api/v1/endpoint/sweep")
        self.assertStatus(r, 200)
        self.assertGreaterEqual(r.json["quarantined"], 1)
        d = self.device(dev)
        self.assertEqual(d["state"], "quarantined")
        self.assertEqual(d["quarantine"]["kind"], "grace")
        self.assertIn("without a compliant check-in", d["quarantine"]["reason"])
        self.assertEqual(self.device(fine)["state"], "unknown")      # never non-compliant: only unknown
        q = [a for a in self.audit(dev) if a["action"] == "endpoint.device.quarantine"]
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["source"], "system")
        self.assertEqual(q[0]["details"]["by"], "sweep")
        self.assertEqual(self.admin.post("/api/v1/endpoint/sweep").json["quarantined"], 0)
        self.assertIn(addrs[0], self.admin.get("/api/v1/endpoint/quarantine.nft").body.decode())
        # Back online and compliant: released by the check-in, as any grace quarantine.
        out = self.checkin(state, dev, report(True, addrs))
        self.assertEqual(out["state"], "compliant")
        self.assertFalse(self.order(dev, out)["quarantined"])

    def test_default_grace_period_is_a_day(self):
        state, dev = self.enroll(self.div2)
        self.checkin(state, dev, report(False, self.new_addresses()))
        self.db("UPDATE devices SET non_compliant_since = ? WHERE id = ?",
                int(time.time() * 1000) - 23 * HOUR_MS, dev["device_id"])
        self.assertEqual(self.checkin(state, dev, report(False))["state"], "non_compliant")
        self.db("UPDATE devices SET non_compliant_since = ? WHERE id = ?",
                int(time.time() * 1000) - 25 * HOUR_MS, dev["device_id"])
        out = self.checkin(state, dev, report(False))
        self.assertEqual(out["state"], "quarantined")
        self.assertIn("grace period of 1d", self.order(dev, out)["reason"])

    # ------------------------------------------------------------ administrators

    def test_admin_quarantine_and_infected_need_an_administrators_release(self):
        unit = self.unit()
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                         json={"quarantine": {"grace_period": "1h"}}), 200)
        state, dev = self.enroll(unit)
        addrs = self.new_addresses()
        self.checkin(state, dev, report(True, addrs))

        self.assertError(self.quarantine(dev), 400)                       # a reason is required
        self.assertError(self.quarantine(dev, reason="x" * 201), 400)
        self.assertError(self.quarantine(dev, reason="bad\nline"), 400)
        self.assertError(self.quarantine(dev, reason="ok", shell="rm"), 400)
        self.assertError(self.release(dev), 409, "conflict")             # not quarantined
        r = self.quarantine(dev, reason="lost laptop reported by its owner")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "quarantined")
        self.assertEqual(r.json["quarantine"]["kind"], "admin")
        self.assertEqual(r.json["quarantine"]["reason"], "lost laptop reported by its owner")
        # A compliant check-in does not end an administrator's quarantine.
        out = self.checkin(state, dev, report(True, addrs))
        self.assertEqual(out["state"], "quarantined")
        o = self.order(dev, out)
        self.assertTrue(o["quarantined"])
        self.assertEqual(o["reason"], "lost laptop reported by its owner")
        # Marked infected as well: the stronger kind; quarantining again without it keeps infected.
        r = self.quarantine(dev, reason="malware found by the SOC", infected=True)
        self.assertEqual(r.json["quarantine"]["kind"], "infected")
        r = self.quarantine(dev, reason="again")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["quarantine"]["kind"], "infected")
        self.assertEqual(r.json["quarantine"]["reason"], "malware found by the SOC")
        self.assertEqual(self.checkin(state, dev, report(True, addrs))["state"], "quarantined")

        r = self.release(dev, reason="reimaged")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "compliant")
        self.assertIsNone(r.json["quarantine"])
        out = self.checkin(state, dev, report(True, addrs))
        self.assertFalse(self.order(dev, out)["quarantined"])

        audit = self.audit(dev)
        q = [a for a in audit if a["action"] == "endpoint.device.quarantine" and a["outcome"] == "success"]
        self.assertEqual(sorted(a["details"]["kind"] for a in q), ["admin", "infected"])
        self.assertTrue(all(a["actor_login"] for a in q))
        rel = [a for a in audit if a["action"] == "endpoint.device.release"]
        self.assertEqual(len(rel), 1)
        self.assertEqual(rel[0]["details"]["reason"], "reimaged")
        self.assertEqual(rel[0]["details"]["kind"], "infected")
        self.assertEqual(rel[0]["actor_login"], self.admin.get("/api/v1/me").json["login"])

    def test_release_restarts_the_grace_clock(self):
        unit = self.unit()
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/%s" % self.units[unit],
                                         json={"quarantine": {"grace_period": "1h"}}), 200)
        state, dev = self.enroll(unit)
        self.checkin(state, dev, report(False, self.new_addresses()))
        self.db("UPDATE devices SET non_compliant_since = ? WHERE id = ?",
                int(time.time() * 1000) - 5 * HOUR_MS, dev["device_id"])
        self.assertStatus(self.quarantine(dev, reason="investigation"), 200)
        r = self.release(dev)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "non_compliant")
        since = harness_time(r.json["non_compliant_since"])
        self.assertGreater(since, time.time() - 120)
        # Non-compliant again, but within the new grace period: not quarantined.
        out = self.checkin(state, dev, report(False))
        self.assertEqual(out["state"], "non_compliant")
        self.assertFalse(self.order(dev, out)["quarantined"])

    def test_security_managers_act_in_their_subtree_only(self):
        _, dev = self.enroll(self.div1)
        sm1 = self.make_user(self.pick(self.div1)["id"], roles=["security_manager:" + self.div1])
        sm2 = self.make_user(self.pick(self.div2)["id"], roles=["security_manager:" + self.div2])
        aud = self.make_user(self.pick(self.div2)["id"], roles=["auditor"])
        self.assertError(self.quarantine(dev, client=sm2, reason="not mine"), 404)
        self.assertError(self.quarantine(dev, client=aud, reason="read only"), 403)
        self.assertStatus(self.quarantine(dev, client=sm1, reason="suspicious logins"), 200)
        self.assertIn(dev["device_id"], [x["device_id"] for x in sm1.get("/api/v1/endpoint/quarantine").json["items"]])
        self.assertNotIn(dev["device_id"],
                         [x["device_id"] for x in sm2.get("/api/v1/endpoint/quarantine").json["items"]])
        self.assertIn(dev["device_id"], [x["device_id"] for x in aud.get("/api/v1/endpoint/quarantine").json["items"]])
        self.assertError(self.release(dev, client=sm2), 404)
        self.assertError(self.release(dev, client=aud), 403)
        self.assertError(self.post_eve(eve_alert("192.0.2.1", "192.0.2.2"), client=sm1), 403)
        self.assertStatus(self.release(dev, client=sm1, reason="cleared"), 200)
        denied = [a for a in self.audit(dev) if a["outcome"] == "denied"]
        self.assertIn("endpoint.device.quarantine", [a["action"] for a in denied])

    # ------------------------------------------------------------ intrusion alerts and the lists

    def test_eve_alert_quarantines_the_device_and_lists_it(self):
        state, dev = self.enroll(self.div2)
        addrs = self.new_addresses()
        self.checkin(state, dev, report(True, addrs))
        _, other = self.enroll(self.div2)
        text = "\n".join([
            eve_flow(addrs[0], "198.51.100.9"),
            eve_alert("198.51.100.9", addrs[0], severity=3, sid=2013028, signature="ET POLICY curl User-Agent"),
            eve_alert("203.0.113.50", "203.0.113.51", severity=1),                 # nobody's address
            json.dumps({"timestamp": "2026-11-26T10:15:08.000000+0000", "event_type": "stats",
                        "stats": {"uptime": 8}}),
            eve_alert(addrs[1].upper(), "2001:db8:ffff::1", severity=1),          # the device, as IPv6
        ]) + "\n"
        r = self.post_eve(text)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["events"], 5)
        self.assertEqual(r.json["alerts"], 3)
        self.assertEqual(r.json["ignored"], 2)
        self.assertEqual(r.json["actionable"], 2)       # severity 3 is above the default threshold of 2
        self.assertEqual(r.json["matched"], 1)
        self.assertEqual(r.json["max_severity"], 2)
        self.assertEqual(r.json["quarantined"], [dev["device_id"]])
        d = self.device(dev)
        self.assertEqual(d["state"], "quarantined")
        self.assertEqual(d["quarantine"]["kind"], "infected")
        self.assertIn("Cobalt Strike", d["quarantine"]["reason"])
        # The evidence is kept with the device: the matching alert, not the one above the threshold.
        self.assertEqual([(a["signature_id"], a["severity"], a["src_ip"]) for a in d["alerts"]],
                         [(2024897, 1, addrs[1])])
        self.assertEqual(d["alerts"][0]["timestamp"][:19], "2026-11-26T10:15:02")
        shown = subprocess.run([harness.cli_path(), "devices", "show", dev["device_id"]], capture_output=True,
                               text=True, timeout=60, env=dict(os.environ, RAMPART_SERVER=self.server.url,
                                                               RAMPART_TOKEN=self.admin.token))
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("intrusion alerts:", shown.stdout)
        self.assertIn("ET MALWARE Observed Cobalt Strike CnC", shown.stdout)
        self.assertNotEqual(self.device(other)["state"], "quarantined")
        # The same alert again: already infected, nothing new.
        r = self.post_eve(eve_alert(addrs[1], "2001:db8:ffff::1", severity=1))
        self.assertStatus(r, 200)
        self.assertEqual(r.json["quarantined"], [])
        self.assertEqual(r.json["matched"], 1)
        # The agent learns it at its next check-in, compliant or not.
        out = self.checkin(state, dev, report(True, addrs))
        self.assertEqual(out["state"], "quarantined")
        o = self.order(dev, out)
        self.assertTrue(o["quarantined"])
        self.assertIn("intrusion alert", o["reason"])

        listed = {x["device_id"]: x for x in self.admin.get("/api/v1/endpoint/quarantine").json["items"]}
        item = listed[dev["device_id"]]
        self.assertEqual(item["addresses"], addrs)
        self.assertEqual(item["kind"], "infected")
        self.assertEqual(item["org_unit"]["path"], self.div2)
        self.assertEqual(item["hostname"], "fixture-pc")
        self.assertTrue(item["since"])

        r = self.admin.get("/api/v1/endpoint/quarantine.nft")
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        nft = r.body.decode()
        self.assertIn("add table inet rampart", nft)
        self.assertIn(addrs[0], nft)
        self.assertIn(addrs[1], nft)
        r = self.admin.get("/api/v1/endpoint/quarantine.nft?table=edge_fw&family=ip")
        self.assertStatus(r, 200)
        self.assertIn("add set ip edge_fw quarantine_v4", r.body.decode())
        self.assertNotIn("quarantine_v6", r.body.decode())
        self.assertError(self.admin.get("/api/v1/endpoint/quarantine.nft?table=x;flush%20ruleset"), 400)
        self.assertError(self.admin.get("/api/v1/endpoint/quarantine.nft?family=arp"), 400)

        audit = self.audit(dev)
        q = [a for a in audit if a["action"] == "endpoint.device.quarantine"]
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["details"]["kind"], "infected")
        self.assertEqual(q[0]["details"]["alert"]["signature_id"], 2024897)
        posts = self.admin.get(harness.query("/api/v1/audit", action="endpoint.alerts.post", limit=10)).json["items"]
        self.assertTrue(posts)
        # Released by an administrator: off the lists.
        self.assertStatus(self.release(dev, reason="reimaged after the alert"), 200)
        self.assertNotIn(addrs[0], self.admin.get("/api/v1/endpoint/quarantine.nft").body.decode())

    def test_nft_files_load_into_nftables(self):
        """The scripts as a router gets them, loaded by the real nft in a private network namespace."""
        why = nft_unavailable()
        if why:
            self.skipTest(why)
        state, dev = self.enroll(self.div2)
        addrs = self.new_addresses()
        self.checkin(state, dev, report(True, addrs + ["2001:db8:1::%x" % self.addr]))
        self.assertStatus(self.quarantine(dev, reason="nft test"), 200)
        nft = self.admin.get("/api/v1/endpoint/quarantine.nft").body.decode()
        self.assert_nft_accepts(nft)
        self.assert_router_applies(nft, addrs)
        for family in ("ip", "ip6", "bridge", "netdev"):
            r = self.admin.get("/api/v1/endpoint/quarantine.nft?table=edge_fw&family=" + family)
            self.assertStatus(r, 200)
            self.assert_nft_accepts(r.body.decode())
        self.assertStatus(self.release(dev), 200)

    def test_empty_lists_are_valid(self):
        """A security manager of a unit without devices: an empty list, and a script nft accepts."""
        unit = self.unit()
        sm = self.make_user(self.pick(self.div1)["id"], roles=["security_manager:" + unit])
        self.assertEqual(sm.get("/api/v1/endpoint/quarantine").json["items"], [])
        r = sm.get("/api/v1/endpoint/quarantine.nft?table=empty_check")
        self.assertStatus(r, 200)
        self.assertIn("0 quarantined device(s)", r.body.decode())
        self.assertNotIn("add element", r.body.decode())
        why = nft_unavailable()
        if why:
            self.skipTest(why)
        self.assert_nft_accepts(r.body.decode())

    def assert_nft_accepts(self, text):
        """`nft -c -f` in a private network namespace: checks the script without touching this host."""
        path = os.path.join(self.tmp, "q.nft")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run(["unshare", "-n", "nft", "-c", "-f", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "nft refused the quarantine file:\n%s\n%s" % (p.stderr, text))
        # And applied for real inside the namespace, twice (idempotent), the sets hold the addresses.
        p = subprocess.run(["unshare", "-n", "sh", "-c", "nft -f %s && nft -f %s && nft list ruleset" % (path, path)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in text.splitlines():
            if line.startswith("add element"):
                for a in line.split("{", 1)[1].rstrip(" }").split(","):
                    self.assertIn(a.strip(), p.stdout)

    ROUTER = """table inet rampart {
  set quarantine_v4 { type ipv4_addr; }
  set quarantine_v6 { type ipv6_addr; }
  chain forward {
    type filter hook forward priority -10; policy accept;
    ip saddr @quarantine_v4 ip daddr != 192.0.2.10 drop
    ip6 saddr @quarantine_v6 drop
  }
}
"""

    def assert_router_applies(self, text, addrs):
        """As docs/operations.md tells a router: its own table with rules on the sets, then the pulled file."""
        base, pulled = os.path.join(self.tmp, "router.nft"), os.path.join(self.tmp, "pulled.nft")
        with open(base, "w") as f:
            f.write(self.ROUTER)
        with open(pulled, "w") as f:
            f.write(text)
        p = subprocess.run(["unshare", "-n", "sh", "-c",
                            "nft -f %s && nft -f %s && nft -f %s && nft list set inet rampart quarantine_v4 && "
                            "nft list set inet rampart quarantine_v6 && nft list chain inet rampart forward"
                            % (base, pulled, pulled)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(addrs[0], p.stdout)
        self.assertIn(addrs[1], p.stdout)
        self.assertIn("@quarantine_v4", p.stdout)

    def test_alert_limits_and_malformed_input(self):
        r = self.post_eve(eve_flow("10.0.0.1", "10.0.0.2") + "\n" + "{not json\n")
        self.assertError(r, 400, "invalid")
        self.assertIn("line 2", r.json["error"]["message"])
        self.assertEqual(r.json["error"].get("field"), "line")
        r = self.post_eve(eve_alert("10.0.0.1", "10.0.0.999"))
        self.assertError(r, 400)
        self.assertIn("dest_ip", r.json["error"]["message"])
        self.assertError(self.post_eve(""), 400)
        # 1001 events: too many for one request.
        r = self.post_eve("\n".join([eve_flow("10.0.0.1", "10.0.0.2")] * 1001) + "\n")
        self.assertError(r, 413, "too_large")
        self.assertIn("at most 1000", r.json["error"]["message"])
        # 1000 are fine.
        r = self.post_eve("\n".join([eve_flow("10.0.0.1", "10.0.0.2")] * 1000) + "\n")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["ignored"], 1000)
        # Over 512 KiB (but under the server's general body limit): refused with the alert limit.
        line = json.dumps({"event_type": "flow", "pad": "x" * 60000})
        r = self.post_eve("\n".join([line] * 9) + "\n")
        self.assertError(r, 413, "too_large")
        self.assertIn("bytes of EVE JSON", r.json["error"]["message"])
        # One line over 64 KiB.
        r = self.post_eve(json.dumps({"event_type": "flow", "pad": "x" * 70000}))
        self.assertError(r, 413)
        self.assertIn("line 1", r.json["error"]["message"])
        # eve.json is JSON: another media type is refused.
        self.assertError(self.post_eve(eve_flow("10.0.0.1", "10.0.0.2"), content_type="text/plain"), 415)

    def test_report_addresses_are_checked(self):
        state, dev = self.enroll(self.div2)
        self.checkin(state, dev, report(True, ["192.0.2.1; flush ruleset"]), expect=400)
        self.checkin(state, dev, report(True, ["192.0.2.%d" % i for i in range(65)]), expect=400)
        self.checkin(state, dev, report(True, "192.0.2.1"), expect=400)
        out = self.checkin(state, dev, report(True, ["2001:DB8:0::1", "192.0.2.200", "::ffff:192.0.2.201"]))
        self.assertEqual(out["state"], "compliant")
        # Canonical, IPv4-mapped as IPv4; the check-in's own address (loopback here) is not kept.
        self.assertEqual(self.device(dev)["addresses"], ["192.0.2.200", "192.0.2.201", "2001:db8::1"])
        # The same again changes nothing; another set replaces it; a report without addresses empties it.
        self.checkin(state, dev, report(True, ["192.0.2.201", "2001:db8::1", "192.0.2.200", "192.0.2.200"]))
        self.assertEqual(self.device(dev)["addresses"], ["192.0.2.200", "192.0.2.201", "2001:db8::1"])
        self.checkin(state, dev, report(True, ["192.0.2.202"]))
        self.assertEqual(self.device(dev)["addresses"], ["192.0.2.202"])
        self.checkin(state, dev, report(True))
        self.assertEqual(self.device(dev)["addresses"], [])

    # ------------------------------------------------------------ the real agent and the CLI

    def test_agent_applies_the_signed_order(self):
        state, dev = self.enroll(self.div1)
        env_args = ["--state-dir", state, "--root", self.root, "--no-enforce"]
        self.agent("checkin", "--json", *env_args, check=False)
        self.assertStatus(self.quarantine(dev, reason="agent test"), 200)
        p = self.agent("checkin", "--json", *env_args, check=False)
        self.assertIn('"quarantined"', p.stdout + p.stderr)
        st = json.loads(self.agent("status", "--json", "--state-dir", state).stdout)
        self.assertTrue(json.dumps(st).find("agent test") >= 0, st)
        with open(os.path.join(state, "quarantine.json")) as f:
            stored = json.load(f)
        self.assertTrue(json.loads(stored["document"])["quarantined"])
        self.assertStatus(self.release(dev), 200)
        self.agent("checkin", "--json", *env_args, check=False)
        with open(os.path.join(state, "quarantine.json")) as f:
            self.assertFalse(json.loads(json.load(f)["document"])["quarantined"])

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

    def test_cli_quarantine_and_release(self):
        state, dev = self.enroll(self.div2)
        self.checkin(state, dev, report(True, self.new_addresses()))
        p = self.rampart("devices", "quarantine", dev["device_id"], check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--reason", p.stderr)
        p = self.rampart("devices", "quarantine", dev["device_id"], "--reason", "stolen", "--infected")
        self.assertIn("quarantined (infected)", p.stdout)
        items = json.loads(self.rampart("--json", "devices", "list", "--state", "quarantined").stdout)["items"]
        self.assertIn(dev["device_id"], [d["id"] for d in items])
        self.assertIn("stolen", self.rampart("devices", "show", dev["device_id"]).stdout)
        out = json.loads(self.rampart("--json", "devices", "release", dev["device_id"], "--reason", "found").stdout)
        self.assertEqual(out["state"], "compliant")
        p = self.rampart("devices", "release", dev["device_id"], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not quarantined", p.stderr)
        p = self.rampart("devices", "quarantine", dev["device_id"], "--reason", "again")
        self.assertIn("quarantined (admin)", p.stdout)
        p = self.rampart("devices", "release", dev["device_id"])
        self.assertIn("released", p.stdout)


def harness_time(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time as the API writes it."""
    import datetime
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class QuarantineAlertNetns(ServerTestCase):
    """A real agent in its own network namespace, named by a Suricata alert.

    Reuses test_endpoint_netns.py's namespace, server and agent helpers (not
    its tests); skipped with the reason where namespaces cannot be made."""

    setUpClass = classmethod(netns.EndpointNetns.setUpClass.__func__)
    tearDownClass = classmethod(netns.EndpointNetns.tearDownClass.__func__)
    set_signature_age = classmethod(netns.EndpointNetns.set_signature_age.__func__)
    setUp = netns.EndpointNetns.setUp
    in_ns = netns.EndpointNetns.in_ns
    agent = netns.EndpointNetns.agent
    enroll = netns.EndpointNetns.enroll
    checkin = netns.EndpointNetns.checkin
    status = netns.EndpointNetns.status
    table = netns.EndpointNetns.table
    reachable = netns.EndpointNetns.reachable
    device = netns.EndpointNetns.device
    assertQuarantined = netns.EndpointNetns.assertQuarantined
    assertReleased = netns.EndpointNetns.assertReleased

    def test_an_eve_alert_quarantines_the_real_agent(self):
        state, dev = self.enroll()
        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "compliant", ans)
        self.assertIsNone(self.table())
        # Known by the address its agent reports (and that its check-in came from).
        self.assertIn(self.agent_ip, self.device(dev)["addresses"])

        text = eve_flow(self.agent_ip, "198.51.100.9") + "\n" + eve_alert(self.agent_ip, "198.51.100.9") + "\n"
        r = self.admin.request("POST", "/api/v1/endpoint/alerts", body=text.encode(),
                               content_type="application/json")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["quarantined"], [dev["device_id"]])
        self.assertIn(self.agent_ip, self.admin.get("/api/v1/endpoint/quarantine.nft").body.decode())

        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "quarantined")
        self.assertQuarantined(state)
        self.assertIn("intrusion alert", self.status(state)["quarantine"]["reason"])
        # Infected: a compliant check-in does not lift it.
        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "quarantined")
        self.assertQuarantined(state)

        r = self.admin.post("/api/v1/devices/%s/release" % dev["device_id"], json={"reason": "reimaged"})
        self.assertStatus(r, 200)
        ans, _ = self.checkin(state)
        self.assertEqual(ans["state"], "compliant")
        self.assertReleased(state)
        self.assertNotIn(self.agent_ip, self.admin.get("/api/v1/endpoint/quarantine.nft").body.decode())


class AlertThreshold(ServerTestCase):
    """[endpoint] alert_max_severity, set through the environment: severity 3 alerts act too."""

    SERVER_ARGS = {"env": {"RAMPART_ENDPOINT_ALERT_MAX_SEVERITY": "3"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-qt-")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root)
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        cls.div1 = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                           if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})[0]
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    agent = EndpointQuarantine.agent
    enroll = EndpointQuarantine.enroll
    checkin = EndpointQuarantine.checkin
    post_eve = EndpointQuarantine.post_eve

    def test_threshold_from_the_configuration(self):
        state, dev = self.enroll()
        self.checkin(state, dev, report(True, ["192.0.2.99"]))
        r = self.post_eve(eve_alert("192.0.2.99", "198.51.100.1", severity=4))
        self.assertStatus(r, 200)
        self.assertEqual((r.json["max_severity"], r.json["actionable"], r.json["quarantined"]), (3, 0, []))
        r = self.post_eve(eve_alert("192.0.2.99", "198.51.100.1", severity=3))
        self.assertEqual((r.json["actionable"], r.json["quarantined"]), (1, [dev["device_id"]]))
        d = self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json
        self.assertEqual(d["quarantine"]["kind"], "infected")

    def test_out_of_range_setting_is_refused_at_start(self):
        srv = harness.Server("AlertThresholdBad", env={"RAMPART_ENDPOINT_ALERT_MAX_SEVERITY": "0"})
        try:
            with self.assertRaises(harness.ServerError):
                srv.start()
            self.assertIn("alert_max_severity", srv.log_text())
        finally:
            srv.stop()
            srv.cleanup()
