# SPDX-License-Identifier: AGPL-3.0-or-later
"""HR import over HTTP: the dry-run plan, applying it, bad lines (with line
numbers, nothing changed), skip_bad_lines, moves, title changes, manager
changes and retirements, the full-snapshot threshold, size and media-type
limits.  Each class runs on its own server with an organization it builds
itself, so that counts are exact."""

import os
import subprocess
import tempfile
import unittest

import harness
from harness import ServerTestCase, hr_csv, query

IMPORT = "/api/v1/hr/import"
ORG = "HR Test Group/HR Test Co"
SAMPLES = os.path.join(harness.REPO, "examples", "hr")
NEXT_MONTH = os.path.join(SAMPLES, "sample-org-next-month.csv")


def row(n, prefix="E", org=ORG + "/Sales", title="Clerk", manager="", status="active", kind="employee",
        **kw):
    r = {
        "employee_number": "%s%05d" % (prefix, n),
        "family_name": "Family%d" % n,
        "given_name": "Given%d" % n,
        "email": "%s%d@hr.example" % (prefix.lower(), n),
        "org_unit": org,
        "title": title,
        "status": status,
        "kind": kind,
        "manager": manager,
    }
    r.update(kw)
    return r


class HrBase(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False}

    def imp(self, rows_or_text, client=None, **params):
        text = rows_or_text if isinstance(rows_or_text, str) else hr_csv(rows_or_text)
        params = {k: "1" for k, v in params.items() if v}
        return (client or self.admin).post(query(IMPORT, **params), body=text, content_type="text/csv")

    def person(self, number):
        return self.person_by_number(number)

    def numbers(self, prefix, **params):
        return sorted(p["employee_number"] for p in self.all_people(**params)
                      if (p.get("employee_number") or "").startswith(prefix))


class HrImport(HrBase):
    def test_dry_run_shows_plan_and_changes_nothing(self):
        rows = [row(i, prefix="D") for i in range(1, 6)]
        r = self.imp(rows, dry_run=True)
        self.assertStatus(r, 200)
        rep = r.json
        self.assertIs(rep["applied"], False)
        self.assertIs(rep["dry_run"], True)
        self.assertIs(rep["full_snapshot"], False)
        self.assertEqual(rep["counts"]["new"], 5)
        for k in ("moved", "changed", "retired", "errors"):
            self.assertEqual(rep["counts"][k], 0, k)
        self.assertEqual(sorted(c["employee_number"] for c in rep["changes"]), [x["employee_number"] for x in rows])
        self.assertTrue(all(c["action"] == "new" for c in rep["changes"]))
        self.assertEqual(rep["errors"], [])
        self.assertEqual(self.numbers("D"), [])

    def test_apply_then_unchanged(self):
        rows = [row(1, prefix="A", title="Head of Sales")] + \
               [row(i, prefix="A", manager="A00001") for i in range(2, 5)]
        r = self.imp(rows)
        self.assertStatus(r, 200)
        self.assertIs(r.json["applied"], True)
        self.assertEqual(r.json["counts"]["new"], 4)
        p = self.person("A00002")
        self.assertEqual(p["login"], "a2@hr.example")
        self.assertEqual(p["org_unit"]["path"], ORG + "/Sales")
        self.assertEqual(p["manager"]["employee_number"], "A00001")
        self.assertEqual(p["status"], "active")
        self.assertEqual(p["kind"], "employee")
        self.assertEqual(p["title"], "Clerk")
        r = self.imp(rows)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["new"], 0)
        self.assertEqual(r.json["counts"]["unchanged"], 4)
        self.assertEqual(r.json["changes"], [])
        # The org units were created with their levels.
        units = {u["path"]: u for u in self.admin.get("/api/v1/org").json["items"]}
        self.assertEqual(units["HR Test Group"]["level"], "group")
        self.assertEqual(units[ORG]["level"], "company")
        self.assertEqual(units[ORG + "/Sales"]["level"], "division")

    def test_bad_lines_change_nothing_and_are_numbered(self):
        base = [row(i, prefix="B") for i in range(1, 4)]
        self.assertStatus(self.imp(base), 200)
        rows = [
            row(1, prefix="B", title="Changed title"),     # line 2: a valid change
            row(9, prefix="B", status="fired"),            # line 3: bad status
            row(10, prefix="B"),                           # line 4: a valid new person
            row(11, prefix="B", family_name=""),           # line 5: missing family name
            row(12, prefix="B", kind="robot"),             # line 6: bad kind
        ]
        r = self.imp(rows)
        self.assertError(r, 400, "invalid")
        self.assertIn("3 lines have errors; nothing was changed", r.json["error"]["message"])
        report = r.json["report"]
        self.assertIs(report["applied"], False)
        self.assertEqual(sorted(e["line"] for e in report["errors"]), [3, 5, 6])
        for e in report["errors"]:
            self.assertTrue(e["reason"], e)
        self.assertEqual(report["counts"]["errors"], 3)
        # Nothing changed: no new person, no title change.
        self.assertEqual(self.numbers("B"), ["B00001", "B00002", "B00003"])
        self.assertEqual(self.person("B00001")["title"], "Clerk")
        # Bad lines in a dry run are reported the same way.
        r = self.imp(rows, dry_run=True)
        self.assertStatus(r, (200, 400))
        rep = r.json.get("report", r.json)
        self.assertEqual(sorted(e["line"] for e in rep["errors"]), [3, 5, 6])

    def test_skip_bad_lines_applies_the_rest(self):
        rows = [row(1, prefix="S"), row(2, prefix="S", status="gone"), row(3, prefix="S")]
        r = self.imp(rows, skip_bad_lines=True)
        self.assertStatus(r, 200)
        self.assertIs(r.json["applied"], True)
        self.assertEqual(r.json["counts"]["new"], 2)
        self.assertEqual(r.json["counts"]["errors"], 1)
        self.assertEqual([e["line"] for e in r.json["errors"]], [3])
        self.assertEqual(self.numbers("S"), ["S00001", "S00003"])

    def test_quoted_fields_and_crlf(self):
        text = ("employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\r\n"
                'Q00001,"O\'Brien, Jr.",Given,q1@hr.example,"%s/Sales","Head of ""Sales"", EMEA",'
                "active,employee,\r\n"
                # A line break inside a field is a control character in a title: refused, with its line.
                'Q00002,Two,Given,q2@hr.example,%s/Sales,"Head\r\nof",active,employee,\r\n' % (ORG, ORG))
        r = self.imp(text, skip_bad_lines=True)
        self.assertStatus(r, 200)
        self.assertEqual([e["line"] for e in r.json["errors"]], [3])
        p = self.person("Q00001")
        self.assertEqual(p["family_name"], "O'Brien, Jr.")
        self.assertEqual(p["title"], 'Head of "Sales", EMEA')
        self.assertEqual(self.numbers("Q"), ["Q00001"])

    def test_moves_title_manager_changes_and_retirement(self):
        rows = [row(1, prefix="M", title="Boss"), row(2, prefix="M", title="Boss 2"),
                row(3, prefix="M", manager="M00001"), row(4, prefix="M", manager="M00001"),
                row(5, prefix="M", manager="M00001")]
        self.assertStatus(self.imp(rows), 200)
        p3 = self.person("M00003")
        changed = [
            rows[0], rows[1],
            dict(rows[2], org_unit=ORG + "/Engineering/Platform"),   # moved
            dict(rows[3], title="Senior Clerk"),                      # changed (title)
            dict(rows[4], status="retired"),                          # retired
        ]
        r = self.imp(changed, dry_run=True)
        self.assertStatus(r, 200)
        self.assertEqual({k: r.json["counts"][k] for k in ("new", "moved", "changed", "retired", "unchanged")},
                         {"new": 0, "moved": 1, "changed": 1, "retired": 1, "unchanged": 2})
        moved = [c for c in r.json["changes"] if c["action"] == "moved"][0]
        self.assertEqual(moved["employee_number"], "M00003")
        self.assertIn(ORG + "/Sales", str(moved.get("before")))
        self.assertIn(ORG + "/Engineering/Platform", str(moved.get("after")))
        self.assertEqual(self.person("M00003")["org_unit"]["path"], ORG + "/Sales")
        r = self.imp(changed)
        self.assertStatus(r, 200)
        self.assertEqual(self.person("M00003")["org_unit"]["path"], ORG + "/Engineering/Platform")
        self.assertEqual(self.person("M00004")["title"], "Senior Clerk")
        retired = self.person("M00005")
        self.assertEqual(retired["status"], "retired")
        self.assertTrue(retired["retired_at"])
        # A manager change is a change too.
        r = self.imp([dict(changed[3], manager="M00002")])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["changed"], 1)
        self.assertEqual(self.person("M00004")["manager"]["employee_number"], "M00002")
        # History keeps each change with its source.
        h = self.admin.get("/api/v1/people/%s/history" % p3["id"])
        self.assertStatus(h, 200)
        self.assertGreaterEqual(len(h.json["items"]), 2)
        self.assertTrue(all(i["source"] for i in h.json["items"]))
        self.assertIn("Engineering/Platform", str(h.json["items"]))

    def test_fatal_header(self):
        r = self.imp("employee_number,family_name\nX1,Only\n")
        self.assertError(r, 400, "invalid")
        r = self.imp("")
        self.assertError(r, 400)

    def test_wrong_content_type(self):
        r = self.admin.post(IMPORT, body=hr_csv([row(1, prefix="C")]), content_type="application/json")
        self.assertError(r, 415, "unsupported_media_type")
        self.assertEqual(self.numbers("C"), [])

    def test_import_is_audited(self):
        self.assertStatus(self.imp([row(1, prefix="U")]), 200)
        r = self.admin.get(query("/api/v1/audit", action="hr.import", limit=10))
        self.assertStatus(r, 200)
        self.assertTrue(r.json["items"], "no hr.import audit entry")
        self.assertEqual(r.json["items"][0]["outcome"], "success")
        self.assertEqual(r.json["items"][0]["actor_login"], "admin")

    def test_only_admin_and_security_officer_import(self):
        people = [row(i, prefix="Z") for i in range(1, 4)]
        self.assertStatus(self.imp(people), 200)
        emp = self.make_user(self.person("Z00001")["id"])
        r = self.imp([row(9, prefix="Z")], client=emp)
        self.assertError(r, 403, "forbidden")
        so = self.make_user(self.person("Z00002")["id"], roles=["security_officer"])
        self.assertStatus(self.imp([row(9, prefix="Z")], client=so), 200)
        self.assertEqual(self.numbers("Z"), ["Z00001", "Z00002", "Z00003", "Z00009"])


class HrSnapshot(HrBase):
    """Full snapshots on a server holding exactly the 20 people imported here."""

    def setUp(self):
        self.rows = [row(i, prefix="F") for i in range(1, 21)]
        r = self.imp(self.rows, full_snapshot=True, force=True)
        self.assertStatus(r, 200)
        self.assertEqual(self.numbers("F", status="active"), [x["employee_number"] for x in self.rows])

    def test_threshold_refuses_with_count(self):
        r = self.imp(self.rows[:15], full_snapshot=True)
        self.assertError(r, 409, "threshold_exceeded")
        msg = r.json["error"]["message"]
        self.assertIn("5 of 20", msg)
        self.assertIn("force=1", msg)
        self.assertEqual(r.json["report"]["counts"]["retired"], 5)
        self.assertIs(r.json["report"]["applied"], False)
        self.assertEqual(len(self.numbers("F", status="active")), 20)

    def test_force_applies(self):
        r = self.imp(self.rows[:15], full_snapshot=True, force=True)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["retired"], 5)
        self.assertEqual(self.numbers("F", status="retired"), ["F%05d" % i for i in range(16, 21)])

    def test_under_threshold_applies(self):
        r = self.imp(self.rows[:19], full_snapshot=True)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["retired"], 1)
        self.assertEqual(self.numbers("F", status="retired"), ["F00020"])

    def test_without_full_snapshot_missing_people_stay(self):
        r = self.imp(self.rows[:2])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["retired"], 0)
        self.assertEqual(len(self.numbers("F", status="active")), 20)

    def test_dry_run_snapshot_reports_without_refusing_or_applying(self):
        r = self.imp(self.rows[:10], full_snapshot=True, dry_run=True)
        self.assertStatus(r, (200, 409))
        rep = r.json.get("report", r.json)
        self.assertEqual(rep["counts"]["retired"], 10)
        self.assertIs(rep["applied"], False)
        self.assertEqual(len(self.numbers("F", status="active")), 20)


class HrGuardsAdmins(HrBase):
    """Admins are managed only by admins, through the HR feed too."""

    def setUp(self):
        if getattr(type(self), "so", None):
            return
        rows = [row(1, prefix="G", title="Chief"), row(2, prefix="G", title="Officer"),
                row(3, prefix="G", title="Officer"), row(4, prefix="G")]
        self.assertStatus(self.imp(rows), 200)
        type(self).rows = rows
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/admin" % self.person("G00001")["id"],
                                         json={}), 200)
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/security_officer" %
                                         self.person("G00003")["id"], json={}), 200)
        type(self).so = self.make_user(self.person("G00002")["id"], roles=["security_officer"])

    def denials(self, number):
        r = self.admin.get(query("/api/v1/audit", object=self.person(number)["id"], action="authz.denied",
                                 limit=50))
        self.assertStatus(r, 200)
        return r.json["items"]

    def test_security_officer_cannot_retire_or_move_an_admin(self):
        before = len(self.denials("G00001"))
        changed = [dict(self.rows[0], status="retired"), self.rows[1], self.rows[2],
                   dict(self.rows[3], title="Senior Clerk")]
        # A bad line refuses the whole file.
        r = self.imp(changed, client=self.so)
        self.assertError(r, 400, "invalid")
        errors = r.json["report"]["errors"]
        self.assertEqual([e["line"] for e in errors], [2])
        self.assertIn("G00001 holds admin: only an admin may retire them", errors[0]["reason"])
        self.assertEqual(self.person("G00004")["title"], "Clerk")
        self.assertEqual(self.person("G00001")["status"], "active")
        # With skip_bad_lines the rest applies and the admin stays.
        r = self.imp(changed, client=self.so, skip_bad_lines=True)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["changed"], 1)
        self.assertEqual(r.json["counts"]["errors"], 1)
        self.assertEqual(self.person("G00004")["title"], "Senior Clerk")
        self.assertEqual(self.person("G00001")["status"], "active")
        # Moving the admin, or putting them on leave, is refused the same way.
        for bad in (dict(self.rows[0], org_unit=ORG + "/Board"), dict(self.rows[0], status="on_leave")):
            r = self.imp([bad], client=self.so)
            self.assertError(r, 400, "invalid")
            self.assertIn("only an admin may", r.json["report"]["errors"][0]["reason"])
        self.assertEqual(self.person("G00001")["org_unit"]["path"], ORG + "/Sales")
        # Every refusal is in the audit log, with the line and what was asked.
        items = self.denials("G00001")
        self.assertEqual(len(items) - before, 4, items)
        self.assertEqual(items[0]["outcome"], "denied")
        self.assertEqual(items[0]["actor_login"], self.so.person["login"])
        self.assertEqual(items[0]["details"]["feed"], "hr")
        self.assertEqual(items[0]["details"]["line"], 2)
        # A dry run shows the refusal and records nothing.
        r = self.imp([dict(self.rows[0], status="retired")], client=self.so, dry_run=True)
        self.assertEqual(r.json.get("report", r.json)["counts"]["errors"], 1)
        self.assertEqual(len(self.denials("G00001")) - before, 4)
        # The title of an admin is not guarded.
        r = self.imp([dict(self.rows[0], title="Chair")], client=self.so)
        self.assertStatus(r, 200)
        self.assertEqual(self.person("G00001")["title"], "Chair")
        self.assertStatus(self.imp([self.rows[0]]), 200)

    def test_security_officers_and_themselves(self):
        # Another security officer may be moved; the importing one may not move themselves.
        r = self.imp([dict(self.rows[2], org_unit=ORG + "/Security")], client=self.so)
        self.assertStatus(r, 200)
        self.assertEqual(self.person("G00003")["org_unit"]["path"], ORG + "/Security")
        r = self.imp([dict(self.rows[1], org_unit=ORG + "/Security")], client=self.so)
        self.assertError(r, 400, "invalid")
        self.assertIn("would move you", r.json["report"]["errors"][0]["reason"])
        self.assertEqual(len(self.denials("G00002")), 1)
        # An admin may.
        self.assertStatus(self.imp([dict(self.rows[1], org_unit=ORG + "/Security")]), 200)
        self.assertEqual(self.person("G00002")["org_unit"]["path"], ORG + "/Security")
        self.assertStatus(self.imp([self.rows[1], self.rows[2]]), 200)

    def test_full_snapshot_does_not_retire_an_admin_for_a_security_officer(self):
        r = self.imp(self.rows[1:], client=self.so, full_snapshot=True, force=True, dry_run=True)
        rep = r.json.get("report", r.json)
        self.assertEqual(rep["counts"]["retired"], 0)
        self.assertEqual([e["line"] for e in rep["errors"]], [0])
        self.assertIn("G00001 is missing from this full snapshot", rep["errors"][0]["reason"])


class HrNames(HrBase):
    def test_org_unit_names_are_names(self):
        bad = [ORG + "/..", ORG + "/./Sales", ORG + "/Sales/", "/" + ORG, ORG + "//Sales",
               ORG + "/Sa\u2028les", ORG + "/Sa\u2029les", ORG + "/Sa\u0085les", ORG + "/Sa\u007fles"]
        rows = [row(i + 1, prefix="N", org=o) for i, o in enumerate(bad)] + [row(99, prefix="N")]
        r = self.imp(rows, skip_bad_lines=True)
        self.assertStatus(r, 200)
        self.assertEqual(sorted(e["line"] for e in r.json["errors"]), list(range(2, 2 + len(bad))))
        self.assertEqual(self.numbers("N"), ["N00099"])
        paths = [u["path"] for u in self.admin.get("/api/v1/org").json["items"]]
        self.assertEqual([p for p in paths if p.startswith(ORG + "/")], [ORG + "/Sales"])


class HrSampleNextMonth(ServerTestCase):
    """The README tour: the sample group loaded at first start, as `make run`
    does, then next month's feed (examples/hr/sample-org-next-month.csv)."""

    SERVER_ARGS = {"seed_hr": False, "args": ["--seed-hr", os.path.join(SAMPLES, "sample-org.csv")]}
    KINDS = ("new", "moved", "changed", "retired")

    def imp(self, **params):
        with open(NEXT_MONTH, encoding="utf-8") as f:
            text = f.read()
        return self.admin.post(query(IMPORT, **{k: "1" for k, v in params.items() if v}), body=text,
                               content_type="text/csv")

    def cli_dry_run(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        with tempfile.TemporaryDirectory() as home:
            env.update(HOME=home, XDG_CONFIG_HOME=home, RAMPART_SERVER=self.server.url,
                       RAMPART_TOKEN=self.admin.token)
            return subprocess.run([harness.cli_path(), "hr", "import", NEXT_MONTH, "--dry-run"], env=env,
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)

    def test_next_month_dry_run_shows_every_kind_then_applies(self):
        r = self.imp(dry_run=True)
        self.assertStatus(r, 200)
        counts = r.json["counts"]
        for kind in self.KINDS:
            self.assertGreater(counts[kind], 0, kind)
        self.assertEqual({k: counts[k] for k in self.KINDS + ("errors",)},
                         {"new": 5, "moved": 4, "changed": 5, "retired": 3, "errors": 0})
        self.assertEqual(r.json["org_units"]["created"], 1)   # Engineering/Data Platform
        # Read as a full snapshot it is the same plan: nobody is missing from it.
        r = self.imp(dry_run=True, full_snapshot=True)
        self.assertStatus(r, 200)
        self.assertEqual({k: r.json["counts"][k] for k in self.KINDS}, {k: counts[k] for k in self.KINDS})
        # The tour's command prints that plan.
        out = self.cli_dry_run()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Dry run: nothing was changed.  The import would make these changes:", out.stdout)
        for kind in self.KINDS:
            self.assertRegex(out.stdout, r"\n  %s +%d\n" % (kind, counts[kind]))
        # Applied, next month is what the directory says.
        r = self.imp()
        self.assertStatus(r, 200)
        self.assertIs(r.json["applied"], True)
        self.assertEqual({k: r.json["counts"][k] for k in self.KINDS}, {k: counts[k] for k in self.KINDS})
        joiner = self.person_by_number("KS0063")
        self.assertEqual(joiner["org_unit"]["path"], "Kestrel Group/Kestrel Software/Engineering/Data Platform")
        self.assertEqual(joiner["manager"]["employee_number"], "KS0062")
        mover = self.person_by_number("KH0029")
        self.assertEqual(mover["org_unit"]["path"], "Kestrel Group/Kestrel Holdings/Finance and Accounting/Treasury")
        self.assertEqual(mover["manager"]["employee_number"], "KH0035")
        self.assertEqual(self.person_by_number("KH0010")["title"], "Assistant Manager")
        self.assertEqual(self.person_by_number("KH0020")["status"], "retired")
        self.assertEqual(self.person_by_number("KH0089")["status"], "active")
        r = self.imp(dry_run=True)
        self.assertEqual({k: r.json["counts"][k] for k in self.KINDS}, {k: 0 for k in self.KINDS})


class HrLimits(HrBase):
    SERVER_ARGS = {"seed_hr": False, "env": {"RAMPART_LIMITS_MAX_BODY": "1024",
                                             "RAMPART_LIMITS_MAX_IMPORT": "8192"}}

    def test_csv_limit_is_max_import_not_max_body(self):
        rows = [row(i, prefix="L") for i in range(1, 30)]
        text = hr_csv(rows)
        self.assertGreater(len(text), 1024)
        self.assertLess(len(text), 8192)
        self.assertStatus(self.imp(text), 200)

    def test_oversized_csv_413(self):
        rows = [row(i, prefix="O") for i in range(1, 200)]
        text = hr_csv(rows)
        self.assertGreater(len(text), 8192)
        r = self.imp(text)
        self.assertError(r, 413, "too_large")
        self.assertEqual(self.numbers("O"), [])


if __name__ == "__main__":
    unittest.main()
