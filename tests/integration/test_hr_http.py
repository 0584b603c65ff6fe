# SPDX-License-Identifier: AGPL-3.0-or-later
"""HR import over HTTP: the dry-run plan, applying it, bad lines (with line
numbers, nothing changed), skip_bad_lines, moves, title changes, manager
changes and retirements, the full-snapshot threshold, size and media-type
limits.  Each class runs on its own server with an organization it builds
itself, so that counts are exact."""

import unittest

import harness
from harness import ServerTestCase, hr_csv, query

IMPORT = "/api/v1/hr/import"
ORG = "HR Test Group/HR Test Co"


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
