# SPDX-License-Identifier: AGPL-3.0-or-later
"""Endpoint policies: an administrator sets versioned policies on org units,
a real rampart-agent receives its effective policy signed in the check-in
answer, verifies it against the key it pinned at enrollment, stores it and
reports its version; compliance follows the policy's baseline.  A tampered
policy, from a fake server answer or edited on disk, is refused and the last
good one kept; a security manager cannot set the policy of another
division."""

import base64
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import harness
from harness import ServerTestCase

FIXTURE = os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root")
DAY = 86400


def agent_path():
    return os.path.join(harness.BUILD, "src", "agent", "rampart-agent")


class TamperingProxy:
    """A fake server on loopback: forwards each request to rampartd and
    passes the answer through `tamper` (a function of the parsed JSON)."""

    def __init__(self, upstream, tamper):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                req = urllib.request.Request(upstream + self.path, data=body, method="POST")
                for h in ("Content-Type", "X-Rampart-Device", "X-Rampart-Timestamp", "X-Rampart-Signature"):
                    if self.headers.get(h):
                        req.add_header(h, self.headers[h])
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                if status == 200:
                    ans = json.loads(data)
                    outer.tamper(ans)
                    data = json.dumps(ans).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.tamper = tamper
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class EndpointPolicy(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-pol-")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root)
        cls.set_signature_age(10 * DAY)
        cls.bin = os.path.join(cls.tmp, "bin")
        os.mkdir(cls.bin)
        nft = os.path.join(cls.bin, "nft")
        with open(nft, "w") as f:
            f.write("#!/bin/sh\nprintf 'table inet filter {\\n\\tchain input {\\n\\t}\\n}\\n'\n")
        os.chmod(nft, 0o755)
        cls.units = {u["path"]: u["id"] for u in cls.admin.get("/api/v1/org").json["items"]}
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        divisions = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                            if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})
        cls.people = people
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

    def agent(self, *args):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        p = subprocess.run([agent_path()] + list(args), capture_output=True, text=True, timeout=120, env=env)
        if p.returncode != 0:
            self.fail("rampart-agent %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def enroll(self, org):
        type(self).seq += 1
        state = os.path.join(self.tmp, "state-%d" % self.seq)
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": org, "uses": 1})
        self.assertStatus(r, 201)
        self.agent("enroll", "--server", self.server.url, "--token", r.json["token"], "--state-dir", state,
                   "--root", self.root)
        with open(os.path.join(state, "device.json")) as f:
            return state, json.load(f)

    def checkin(self, state, server=None):
        args = ["checkin", "--json", "--state-dir", state, "--root", self.root]
        if server:
            args += ["--server", server]
        p = self.agent(*args)
        return json.loads(p.stdout), p.stderr

    def stored(self, state):
        path = os.path.join(state, "policy.json")
        with open(path) as f:
            signed = json.load(f)
        return signed, json.loads(signed["document"]), os.stat(path).st_mode & 0o777

    def put_policy(self, path, body, client=None):
        return (client or self.admin).put("/api/v1/endpoint/policies/%s" % self.units[path], json=body)

    def device(self, dev):
        return self.admin.get("/api/v1/devices/%s" % dev["device_id"]).json

    # ------------------------------------------------------------ tests

    def test_policy_is_applied_and_compliance_follows_its_baseline(self):
        state, dev = self.enroll(self.div1)
        # No policy on the path: the default baseline (7 days) fails 10-day-old signatures.
        out, _ = self.checkin(state)
        self.assertEqual(out["state"], "non_compliant")
        self.assertEqual(out["policy_version"], 0)
        self.assertNotIn("policy", out)

        r = self.put_policy(self.div1, {"baseline": {"antivirus_max_age_days": 30}, "checkin_interval": "10m",
                                        "removable_media": [{"vendor": "0781", "product": "5583",
                                                             "serial": "4C530001230101117283"}],
                                        "logging": {"retention_days": 180}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["own"]["version"], 1)
        version = r.json["effective"]["version"]
        self.assertGreaterEqual(version, 1)

        out, err = self.checkin(state)
        self.assertEqual(out["state"], "compliant", out)
        self.assertEqual(out["policy_version"], version)
        self.assertIn("applied policy version %d" % version, err)
        signed, doc, mode = self.stored(state)
        self.assertEqual(mode, 0o600)
        self.assertEqual(doc["version"], version)
        self.assertEqual(doc["org_unit"], self.div1)
        self.assertEqual(doc["policy"]["baseline"]["antivirus_max_age_days"], 30)
        self.assertEqual(doc["policy"]["checkin_interval"], "10m")
        self.assertEqual(sorted(doc), ["issued_at", "org_unit", "policy", "version"])
        # The document is canonical JSON: sorted keys, compact.
        self.assertEqual(signed["document"], json.dumps(doc, sort_keys=True, separators=(",", ":")))

        # The next report carries the applied version.
        out, _ = self.checkin(state)
        self.assertEqual(self.device(dev)["report"]["policy_version"], version)

        # A stricter baseline: a new version, and the verdict changes with it.
        r = self.put_policy(self.div1, {"baseline": {"antivirus_max_age_days": 5}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["own"]["version"], 2)
        self.assertEqual(r.json["effective"]["version"], version + 1)
        self.assertEqual(r.json["effective"]["policy"]["checkin_interval"], "5m")
        out, _ = self.checkin(state)
        self.assertEqual(out["state"], "non_compliant")
        av = {x["id"]: x for x in out["results"]}["antivirus_signatures"]
        self.assertFalse(av["pass"])
        self.assertIn("limit 5", av["reason"])
        self.assertEqual(self.stored(state)[1]["version"], version + 1)

        audit = self.admin.get(harness.query("/api/v1/audit", object=self.units[self.div1], limit=50)).json["items"]
        sets = [a for a in audit if a["action"] == "endpoint.policy.set"]
        self.assertGreaterEqual(len(sets), 2)

    def test_inheritance_and_validation(self):
        child = sorted(p for p in self.units if p.startswith(self.div2 + "/"))
        self.assertTrue(child, "no unit below %s" % self.div2)
        child = child[0]
        r = self.put_policy(self.div2, {"baseline": {"firewall": False, "antivirus_max_age_days": 60},
                                        "logging": {"retention_days": 30}})
        self.assertStatus(r, 200)
        r = self.put_policy(child, {"checkin_interval": "1h"})
        self.assertStatus(r, 200)
        eff = r.json["effective"]
        self.assertEqual(eff["policy"]["baseline"], {"disk_encryption_root": True, "firewall": False,
                                                      "antivirus_max_age_days": 60})
        self.assertEqual(eff["policy"]["checkin_interval"], "1h")
        self.assertEqual(eff["policy"]["logging"], {"retention_days": 30})
        self.assertEqual([s["org_unit"] for s in eff["sources"]], [self.div2, child])
        # The child's own baseline replaces the inherited one as a whole.
        r = self.put_policy(child, {"checkin_interval": "1h", "baseline": {"antivirus_max_age_days": 2}})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["effective"]["policy"]["baseline"],
                         {"disk_encryption_root": True, "firewall": True, "antivirus_max_age_days": 2})
        g = self.admin.get("/api/v1/endpoint/policies/%s" % self.units[child])
        self.assertStatus(g, 200)
        self.assertEqual(g.json["own"]["version"], 2)

        for bad in ({"baseline": {"usb": True}}, {"checkin_interval": "30s"}, {"checkin_interval": "25h"},
                    {"baseline": {"antivirus_max_age_days": 0}}, {"logging": {"retention_days": "x"}},
                    {"removable_media": [{"vendor": "a"}]}, {"other": 1}, []):
            self.assertError(self.put_policy(child, bad), 400)
        self.assertEqual(self.admin.get("/api/v1/endpoint/policies/%s" % self.units[child]).json["own"]["version"], 2)
        self.assertError(self.admin.put("/api/v1/endpoint/policies/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={}), 404)

    def test_tampered_policy_is_refused_and_the_last_good_one_kept(self):
        unit = sorted(p for p in self.units if p.startswith(self.div1 + "/"))[0]
        state, dev = self.enroll(unit)
        r = self.put_policy(unit, {"baseline": {"antivirus_max_age_days": 20}})
        self.assertStatus(r, 200)
        good = r.json["effective"]["version"]
        out, _ = self.checkin(state)
        self.assertEqual(out["policy_version"], good)
        good_signed = self.stored(state)[0]

        # The server moves on, but a fake server changes what it signed.
        self.assertStatus(self.put_policy(unit, {"baseline": {"antivirus_max_age_days": 3}}), 200)

        def edit_document(ans):
            doc = json.loads(ans["policy"]["document"])
            doc["policy"]["baseline"]["antivirus_max_age_days"] = 3650
            ans["policy"]["document"] = json.dumps(doc, sort_keys=True, separators=(",", ":"))

        def other_signature(ans):
            ans["policy"]["signature"] = base64.b64encode(os.urandom(64)).decode()

        for tamper in (edit_document, other_signature):
            proxy = TamperingProxy(self.server.url, tamper)
            try:
                _, err = self.checkin(state, server=proxy.url)
            finally:
                proxy.close()
            self.assertIn("policy is refused, keeping version %d" % good, err)
            self.assertEqual(self.stored(state)[0], good_signed)

        # A copy edited on disk is refused when loaded: version 0 is reported, and the
        # server's good answer replaces it.
        signed, doc, _ = self.stored(state)
        doc["policy"]["baseline"]["antivirus_max_age_days"] = 3650
        signed["document"] = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        with open(os.path.join(state, "policy.json"), "w") as f:
            json.dump(signed, f)
        out, err = self.checkin(state)
        self.assertIn("stored policy", err)
        self.assertIn("refused", err)
        self.assertEqual(self.device(dev)["report"]["policy_version"], 0)
        self.assertEqual(self.stored(state)[1]["version"], good + 1)
        self.assertEqual(self.stored(state)[1]["policy"]["baseline"]["antivirus_max_age_days"], 3)

        # Across restarts the good policy is reloaded and reported.
        self.checkin(state)
        self.assertEqual(self.device(dev)["report"]["policy_version"], good + 1)

    def test_security_manager_of_another_division_cannot_set_the_policy(self):
        used = set()

        def pick(div):
            for p in self.people:
                path = (p.get("org_unit") or {}).get("path", "")
                if p["kind"] == "employee" and (path == div or path.startswith(div + "/")) \
                        and p["id"] not in used and not any(r.get("implicit") is not True
                                                            for r in p.get("roles", [])):
                    used.add(p["id"])
                    return p
            self.fail("nobody in %s" % div)
        sm2 = self.make_user(pick(self.div2)["id"], roles=["security_manager:" + self.div2])
        sm1 = self.make_user(pick(self.div1)["id"], roles=["security_manager:" + self.div1])
        self.assertError(self.put_policy(self.div1, {"checkin_interval": "15m"}, client=sm2), 403)
        self.assertError(sm2.get("/api/v1/endpoint/policies/%s" % self.units[self.div1]), 404)
        self.assertStatus(self.put_policy(self.div1, {"checkin_interval": "15m"}, client=sm1), 200)
        self.assertStatus(sm1.get("/api/v1/endpoint/policies/%s" % self.units[self.div1]), 200)
        audit = self.admin.get(harness.query("/api/v1/audit", object=self.units[self.div1], limit=100)).json["items"]
        self.assertIn("denied", [a["outcome"] for a in audit if a["action"] == "endpoint.policy.set"])
