# SPDX-License-Identifier: AGPL-3.0-or-later
"""`rampart policies` against a real rampartd: a policy set from a file or
standard input becomes the unit's next version, shows as the unit's own and
as its children's effective policy, and is listed; an invalid policy is
refused with the server's own reason and stores nothing; a file that is not
JSON is refused before anything is sent; a security manager reads and sets
policies only in their subtree, an employee not at all."""

import json
import os
import shutil
import subprocess
import tempfile

import harness
from harness import ServerTestCase

EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND = 1, 2, 3, 4


class PoliciesCli(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-pol-cli-")
        units = cls.admin.get("/api/v1/org").json["items"]
        cls.paths = sorted(u["path"] for u in units)
        # Two divisions, each with a unit below it.
        divs = [p for p in cls.paths if p.count("/") == 2 and any(q.startswith(p + "/") for q in cls.paths)]
        cls.div1, cls.div2 = divs[0], divs[-1]
        cls.child1 = next(p for p in cls.paths if p.startswith(cls.div1 + "/"))
        cls.child2 = next(p for p in cls.paths if p.startswith(cls.div2 + "/"))
        cls.ids = {u["path"]: u["id"] for u in units}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def rampart(self, *args, token=None, stdin=None, check=True):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=token or self.admin.token)
        p = subprocess.run([harness.cli_path()] + list(args), capture_output=True, text=True, timeout=120,
                           env=env, input=stdin if stdin is not None else "")
        if check and p.returncode != 0:
            self.fail("rampart %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def pick_employee(self, div, used):
        for p in self.all_people(status="active"):
            path = (p.get("org_unit") or {}).get("path", "")
            if p["kind"] == "employee" and (path == div or path.startswith(div + "/")) and p["id"] not in used \
                    and not any(not r.get("implicit") for r in p.get("roles", [])):
                used.add(p["id"])
                return p
        self.fail("nobody in %s" % div)

    # ------------------------------------------------------------ tests

    def test_set_show_effective_and_list(self):
        pol = {"baseline": {"antivirus_max_age_days": 14, "firewall": True}, "checkin_interval": "10m"}
        f = self.write("div1.json", json.dumps(pol))
        p = self.rampart("policies", "set", self.div1, f)
        self.assertRegex(p.stdout, r"Policy of %s set: version 1 \(effective version \d+\)\." % self.div1)
        # A second version from standard input, by id this time.
        pol["logging"] = {"retention_days": 30}
        p = self.rampart("policies", "set", self.ids[self.div1], "-", stdin=json.dumps(pol))
        self.assertIn("version 2", p.stdout)

        shown = json.loads(self.rampart("--json", "policies", "show", self.div1).stdout)
        self.assertEqual(shown["org_unit"]["path"], self.div1)
        self.assertEqual(shown["own"]["version"], 2)
        self.assertEqual(shown["own"]["policy"]["logging"], {"retention_days": 30})
        text = self.rampart("policies", "show", self.div1).stdout
        self.assertRegex(text, r"own version +2\n")
        self.assertIn('"antivirus_max_age_days": 14', text)

        # The child sets nothing itself; its effective policy comes from the division.
        text = self.rampart("policies", "show", self.child1).stdout
        self.assertIn("none (the unit sets no policy of its own)", text)
        self.assertNotIn("antivirus_max_age_days", text)
        text = self.rampart("policies", "show", self.child1, "--effective").stdout
        self.assertIn("%s (version 2)" % self.div1, text)
        self.assertIn('"checkin_interval": "10m"', text)
        self.assertIn('"retention_days": 30', text)
        # Fields nobody set take the defaults.
        self.assertIn('"removable_media": []', text)

        listed = self.rampart("policies", "list").stdout
        self.assertIn(self.div1, listed)
        self.assertIn("baseline, checkin_interval, logging", listed)
        self.assertNotIn(self.child1 + " ", listed)
        items = json.loads(self.rampart("--json", "policies", "list", "--org", self.div1).stdout)["items"]
        self.assertEqual([(i["org_unit"]["path"], i["own"]["version"]) for i in items], [(self.div1, 2)])
        p = self.rampart("policies", "list", "--org", self.child1)
        self.assertEqual(p.stdout, "")
        self.assertIn("No unit under %s sets a policy" % self.child1, p.stderr)

    def test_the_help_example_is_a_valid_policy(self):
        text = self.rampart("policies", "--help").stdout
        example = text[text.index("such as") + len("such as"):text.index("as the unit's next version")]
        pol = json.loads(example)
        self.assertEqual(sorted(pol), ["baseline", "checkin_interval", "logging", "quarantine", "removable_media"])
        p = self.rampart("policies", "set", self.child2, "-", stdin=example)
        self.assertIn("version 1", p.stdout)
        own = self.admin.get("/api/v1/endpoint/policies/%s" % self.ids[self.child2]).json["own"]["policy"]
        self.assertEqual(own["quarantine"], {"grace_period": "24h"})
        self.assertEqual(own["removable_media"][0]["serial"], "4C5300012301")

    def test_invalid_policy_is_refused_with_the_servers_reason(self):
        before = self.admin.get("/api/v1/endpoint/policies/%s" % self.ids[self.div2]).json["own"]
        f = self.write("bad.json", json.dumps({"baseline": {"antivirus_max_age_days": 99999}}))
        p = self.rampart("policies", "set", self.div2, f, check=False)
        self.assertEqual(p.returncode, EXIT_FAILED, p.stderr)
        self.assertIn("the policy was not set", p.stderr)
        self.assertIn("antivirus_max_age_days", p.stderr)
        p = self.rampart("policies", "set", self.div2, "-", stdin='{"colour": "blue"}', check=False)
        self.assertEqual(p.returncode, EXIT_FAILED)
        self.assertIn("colour", p.stderr)
        # Not JSON: refused here, with where it broke.
        f = self.write("broken.json", '{"baseline": {"firewall": true,}}')
        p = self.rampart("policies", "set", self.div2, f, check=False)
        self.assertEqual(p.returncode, EXIT_FAILED)
        self.assertIn("is not JSON: line 1", p.stderr)
        # Over the server's 64 KiB: the server's refusal.
        big = {"removable_media": [{"vendor": "%04x" % i, "product": "x" * 100, "serial": "y" * 120}
                                   for i in range(256)]}
        p = self.rampart("policies", "set", self.div2, "-", stdin=json.dumps(big), check=False)
        self.assertEqual(p.returncode, EXIT_FAILED)
        self.assertIn("at most 64 KiB", p.stderr)
        self.assertEqual(self.admin.get("/api/v1/endpoint/policies/%s" % self.ids[self.div2]).json["own"], before)

        p = self.rampart("policies", "show", "No Such Group/Nowhere", check=False)
        self.assertEqual(p.returncode, EXIT_NOT_FOUND)
        self.assertIn("no org unit 'No Such Group/Nowhere'", p.stderr)
        p = self.rampart("policies", "set", self.div2, check=False)
        self.assertEqual(p.returncode, EXIT_USAGE)
        p = self.rampart("policies", "set", self.div2, os.path.join(self.tmp, "missing.json"), check=False)
        self.assertEqual(p.returncode, EXIT_FAILED)
        self.assertIn("cannot open", p.stderr)

    def test_security_manager_in_scope_and_employee_refused(self):
        used = set()
        sm = self.make_user(self.pick_employee(self.div2, used)["id"], roles=["security_manager:" + self.div2])
        emp = self.make_user(self.pick_employee(self.div2, used)["id"])
        f = self.write("sm.json", json.dumps({"checkin_interval": "15m"}))
        before = self.admin.get("/api/v1/endpoint/policies/%s" % self.ids[self.div1]).json["own"]
        p = self.rampart("policies", "set", self.div2, f, token=sm.token)
        self.assertIn("Policy of %s set" % self.div2, p.stdout)
        # Units outside the subtree are not in the manager's org list; by id, the server refuses.
        p = self.rampart("policies", "set", self.div1, f, token=sm.token, check=False)
        self.assertEqual(p.returncode, EXIT_NOT_FOUND, p.stderr)
        p = self.rampart("policies", "set", self.ids[self.div1], f, token=sm.token, check=False)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
        p = self.rampart("policies", "show", self.ids[self.div1], token=sm.token, check=False)
        self.assertEqual(p.returncode, EXIT_NOT_FOUND, p.stderr)
        self.assertEqual(self.admin.get("/api/v1/endpoint/policies/%s" % self.ids[self.div1]).json["own"], before)
        listed = self.rampart("policies", "list", token=sm.token).stdout
        self.assertIn(self.div2, listed)
        self.assertNotIn(self.div1, listed)

        p = self.rampart("policies", "show", self.div2, token=emp.token, check=False)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
        p = self.rampart("policies", "list", token=emp.token, check=False)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
