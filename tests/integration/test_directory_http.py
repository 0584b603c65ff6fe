# SPDX-License-Identifier: AGPL-3.0-or-later
"""The directory over HTTP: people search and filters, paging, the person
record, org units, history, role grants with scopes, and what each role sees.
The organization is imported by the test itself so that every answer is known."""

import unittest

import harness
from harness import ServerTestCase, hr_csv, query

G = "Dir Group"
CORP = G + "/Dir Corp"
SYS = G + "/Dir Systems"
PARTNER = G + "/Partner Ltd"
HR_COLUMNS = harness.HR_COLUMNS + ["org_kind"]


def person(num, org, manager="", kind="employee", title="Staff", org_kind="", family=None):
    return {"employee_number": num, "family_name": family or "Fam" + num, "given_name": "Giv" + num,
            "email": num.lower() + "@dir.example", "org_unit": org, "title": title, "status": "active",
            "kind": kind, "manager": manager, "org_kind": org_kind}


PEOPLE = [
    person("S1", CORP + "/Security", title="CISO", org_kind="own"),
    person("S2", CORP + "/Security", manager="S1", org_kind="own"),
    person("S3", CORP + "/Security", manager="S1", org_kind="own"),
    person("M1", CORP + "/Sales/East", title="Sales Manager", org_kind="own"),
    person("R1", CORP + "/Sales/East", manager="M1", org_kind="own"),
    person("R2", CORP + "/Sales/East", manager="R1", org_kind="own", family="Zyxwvut"),
    person("W1", CORP + "/Sales/West", org_kind="own"),
    person("E1", SYS + "/Engineering", org_kind="group_company"),
    person("E2", SYS + "/Engineering", manager="E1", org_kind="group_company"),
    person("P1", PARTNER + "/Support", kind="partner_staff", org_kind="business_partner"),
    person("P2", PARTNER + "/Support", kind="partner_staff", org_kind="business_partner"),
]
SALES = {"M1", "R1", "R2", "W1"}


class Directory(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.admin.post("/api/v1/hr/import", body=hr_csv(PEOPLE, HR_COLUMNS), content_type="text/csv")
        if r.status != 200:
            raise AssertionError("cannot import the test organization: %r" % (r,))
        cls.ids = {}
        for p in cls.admin.get(query("/api/v1/people", limit=100)).json["items"]:
            if p.get("employee_number"):
                cls.ids[p["employee_number"]] = p["id"]
        cls.users = {}

    def user(self, num, roles=()):
        if num not in self.users:
            self.users[num] = self.make_user(self.ids[num], roles=roles)
        return self.users[num]

    def visible(self, client, **params):
        return {p.get("employee_number") or p["login"] for p in self.all_people(client=client, **params)}

    # ------------------------------------------------------------ reading

    def test_person_record(self):
        r = self.admin.get("/api/v1/people/%s" % self.ids["R1"])
        self.assertStatus(r, 200)
        p = r.json
        for key in ("id", "login", "employee_number", "family_name", "given_name", "email", "org_unit",
                    "title", "status", "kind", "manager", "roles", "created_at", "updated_at", "retired_at"):
            self.assertIn(key, p)
        self.assertEqual(p["login"], "r1@dir.example")
        self.assertEqual(p["org_unit"]["path"], CORP + "/Sales/East")
        self.assertEqual(p["manager"]["id"], self.ids["M1"])
        self.assertEqual(p["manager"]["employee_number"], "M1")
        self.assertIn("FamM1", p["manager"]["name"])
        self.assertIsNone(p["retired_at"])
        self.assertRegex(p["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        for secret in ("password_hash", "totp_secret", "password"):
            self.assertNotIn(secret, p)

    def test_unknown_person(self):
        self.assertError(self.admin.get("/api/v1/people/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, "not_found")
        self.assertStatus(self.admin.get("/api/v1/people/not-an-id"), (400, 404))

    def test_search_and_filters(self):
        self.assertEqual(self.visible(self.admin, q="Zyxwvut"), {"R2"})
        self.assertEqual(self.visible(self.admin, q="w1@dir.example"), {"W1"})
        self.assertIn("E2", self.visible(self.admin, q="E2"))
        self.assertEqual(self.visible(self.admin, org=CORP + "/Sales"), SALES)
        self.assertEqual(self.visible(self.admin, org=CORP + "/Sales/West"), {"W1"})
        units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
        self.assertEqual(self.visible(self.admin, org=units[CORP + "/Sales"]), SALES)
        self.assertEqual(self.visible(self.admin, kind="partner_staff"), {"P1", "P2"})
        self.assertEqual(self.visible(self.admin, status="retired"), set())
        self.assertError(self.admin.get(query("/api/v1/people", status="fired")), 400, "invalid")
        self.assertError(self.admin.get(query("/api/v1/people", limit=0)), 400, "invalid")
        self.assertError(self.admin.get(query("/api/v1/people", limit=100000)), 400, "invalid")

    def test_paging(self):
        everyone, cursor, pages = [], None, 0
        while True:
            r = self.admin.get(query("/api/v1/people", limit=3, cursor=cursor))
            self.assertStatus(r, 200)
            self.assertLessEqual(len(r.json["items"]), 3)
            everyone += [p["id"] for p in r.json["items"]]
            pages += 1
            cursor = r.json["next"]
            if cursor is None:
                break
            self.assertLess(pages, 20)
        self.assertEqual(len(everyone), len(set(everyone)), "a person appeared on two pages")
        self.assertEqual(set(everyone), {p["id"] for p in self.all_people()})
        self.assertTrue(set(self.ids.values()) <= set(everyone))
        self.assertGreaterEqual(pages, 4)
        self.assertError(self.admin.get(query("/api/v1/people", cursor="garbage!")), 400, "invalid")

    def test_org_units(self):
        r = self.admin.get("/api/v1/org")
        self.assertStatus(r, 200)
        units = {u["path"]: u for u in r.json["items"]}
        self.assertEqual(units[G]["level"], "group")
        self.assertIsNone(units[G]["parent_id"])
        self.assertEqual(units[CORP]["level"], "company")
        self.assertEqual(units[CORP]["kind"], "own")
        self.assertEqual(units[SYS]["kind"], "group_company")
        self.assertEqual(units[PARTNER]["kind"], "business_partner")
        self.assertEqual(units[PARTNER + "/Support"]["kind"], "business_partner")
        self.assertEqual(units[CORP + "/Sales"]["level"], "division")
        self.assertEqual(units[CORP + "/Sales/East"]["level"], "department")
        self.assertEqual(units[CORP + "/Sales/East"]["parent_id"], units[CORP + "/Sales"]["id"])
        self.assertEqual(units[CORP + "/Sales/East"]["name"], "East")
        self.assertGreaterEqual(units[CORP + "/Sales/East"]["people"], 3)
        one = self.admin.get("/api/v1/org/%s" % units[CORP + "/Sales"]["id"])
        self.assertStatus(one, 200)
        self.assertEqual(one.json["path"], CORP + "/Sales")
        self.assertError(self.admin.get("/api/v1/org/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, "not_found")

    def test_history(self):
        r = self.admin.get("/api/v1/people/%s/history" % self.ids["E1"])
        self.assertStatus(r, 200)
        self.assertGreaterEqual(len(r.json["items"]), 1)
        item = r.json["items"][0]
        for key in ("id", "at", "source", "actor_id", "change"):
            self.assertIn(key, item)
        self.assertIn("next", r.json)

    # ------------------------------------------------------------ roles

    def test_grant_and_revoke_with_scope(self):
        pid = self.ids["S3"]
        r = self.admin.put("/api/v1/people/%s/roles/security_manager" % pid, json={"scope_org": CORP + "/Sales"})
        self.assertStatus(r, 200)
        self.assertIn({"role": "security_manager", "scope": CORP + "/Sales"},
                      [{"role": x["role"], "scope": x.get("scope")} for x in r.json["roles"]])
        self.assertIn("S3", self.visible(self.admin, role="security_manager"))
        r = self.admin.delete("/api/v1/people/%s/roles/security_manager" % pid)
        self.assertStatus(r, 200)
        self.assertNotIn("security_manager", [x["role"] for x in r.json["roles"]])
        audit = self.admin.get(query("/api/v1/audit", object=pid, limit=20)).json["items"]
        self.assertTrue(any("role" in e["action"] for e in audit), [e["action"] for e in audit])

    def test_bad_grants(self):
        pid = self.ids["S3"]
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/overlord" % pid, json={}), (400, 404))
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/security_manager" % pid,
                                         json={"scope_org": G + "/No Such Unit"}), (400, 404))
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/employee" % pid, json={}), (400, 403))
        self.assertError(self.admin.put("/api/v1/people/01ARZ3NDEKTSV4RRFFQ69G5FAV/roles/auditor", json={}),
                         404, "not_found")
        self.assertError(self.admin.put("/api/v1/people/%s/roles/auditor" % pid, json={"scope": "x"}),
                         400, "invalid")

    def test_org_paths_are_names(self):
        # The directory API takes org paths by the same rule as the feeds: a malformed one is a 400.
        for bad in (G + "//Dir Corp", CORP + "/..", CORP + "/./Sales", CORP + "/", "/" + CORP,
                    CORP + "/Sa\u2028les", CORP + "/Sa\u0085les"):
            r = self.admin.get(query("/api/v1/people", org=bad))
            self.assertError(r, 400, "invalid")
            self.assertEqual(r.json["error"]["field"], "org")
            r = self.admin.put("/api/v1/people/%s/roles/security_manager" % self.ids["S3"], json={"scope_org": bad})
            self.assertError(r, 400, "invalid")
            self.assertEqual(r.json["error"]["field"], "scope_org")
            if "\u0085" not in bad:   # (a C1 control is refused earlier, as any JSON text field's)
                self.assertIn("scope_org must be an org unit id or path", r.json["error"]["message"])
        # An id is still taken where a path is.
        unit = self.admin.get(query("/api/v1/org", limit=100)).json["items"][0]
        self.assertStatus(self.admin.get(query("/api/v1/people", org=unit["id"])), 200)

    def test_security_officer_cannot_grant_admin(self):
        so = self.user("S1", roles=["security_officer"])
        self.assertError(so.put("/api/v1/people/%s/roles/admin" % self.ids["W1"], json={}), 403, "forbidden")
        r = so.put("/api/v1/people/%s/roles/auditor" % self.ids["W1"], json={})
        self.assertStatus(r, 200)
        self.assertStatus(so.delete("/api/v1/people/%s/roles/auditor" % self.ids["W1"]), 200)

    def test_nobody_manages_themselves_through_the_directory(self):
        admin_id = self.person_by_login("admin")["id"]
        self.assertError(self.admin.post("/api/v1/people/%s/password" % admin_id, json={}), 403, "forbidden")
        self.assertError(self.admin.delete("/api/v1/people/%s/roles/admin" % admin_id), 403, "forbidden")

    # ------------------------------------------------------------ scopes

    def test_security_manager_sees_and_manages_its_subtree(self):
        sm = self.user("S2", roles=["security_manager:" + CORP + "/Sales"])
        seen = self.visible(sm)
        self.assertTrue(SALES <= seen, seen)
        self.assertTrue(seen <= SALES | {"S2"}, seen)
        self.assertStatus(sm.get("/api/v1/people/%s" % self.ids["W1"]), 200)
        self.assertStatus(sm.get("/api/v1/people/%s" % self.ids["E1"]), (403, 404))
        # Manage inside the subtree only.
        self.assertStatus(sm.post("/api/v1/people/%s/invite" % self.ids["W1"]), 201)
        # Outside the scope a person is hidden (404) or refused (403); either way denied and audited.
        self.assertStatus(sm.post("/api/v1/people/%s/invite" % self.ids["E1"]), (403, 404))
        self.assertStatus(sm.post("/api/v1/people/%s/sessions/revoke" % self.ids["R2"]), 200)
        self.assertStatus(sm.post("/api/v1/people/%s/sessions/revoke" % self.ids["P1"]), (403, 404))
        # Grants only "manager", only inside.
        self.assertStatus(sm.put("/api/v1/people/%s/roles/manager" % self.ids["W1"], json={}), 200)
        self.assertStatus(sm.delete("/api/v1/people/%s/roles/manager" % self.ids["W1"]), 200)
        self.assertError(sm.put("/api/v1/people/%s/roles/auditor" % self.ids["W1"], json={}), 403, "forbidden")
        self.assertStatus(sm.put("/api/v1/people/%s/roles/manager" % self.ids["E1"], json={}), (403, 404))
        # Org units: the subtree (and the units above its own).
        paths = {u["path"] for u in sm.get("/api/v1/org").json["items"]}
        self.assertIn(CORP + "/Sales/East", paths)
        self.assertNotIn(SYS + "/Engineering", paths)
        self.assertNotIn(PARTNER + "/Support", paths)
        # Denials are audited.
        denied = self.admin.get(query("/api/v1/audit", action="authz.denied", actor=sm.person["id"], limit=50))
        self.assertGreaterEqual(len(denied.json["items"]), 3)
        self.assertTrue(all(e["outcome"] == "denied" for e in denied.json["items"]))

    def test_manager_sees_reports_read_only(self):
        m = self.user("M1")
        self.assertEqual(self.visible(m), {"M1", "R1", "R2"})
        self.assertStatus(m.get("/api/v1/people/%s" % self.ids["R2"]), 200)   # indirect report
        self.assertStatus(m.get("/api/v1/people/%s" % self.ids["W1"]), (403, 404))
        self.assertError(m.post("/api/v1/people/%s/invite" % self.ids["R1"]), 403, "forbidden")
        self.assertError(m.put("/api/v1/people/%s/roles/manager" % self.ids["R1"], json={}), 403, "forbidden")
        me = m.get("/api/v1/me").json
        self.assertIn("manager", [x if isinstance(x, str) else x.get("role") for x in me["roles"]])

    def test_employee_and_partner_see_themselves(self):
        e = self.user("E2")
        self.assertEqual(self.visible(e), {"E2"})
        self.assertStatus(e.get("/api/v1/people/%s" % self.ids["E2"]), 200)
        self.assertStatus(e.get("/api/v1/people/%s" % self.ids["E1"]), (403, 404))
        p = self.user("P1")
        self.assertEqual(self.visible(p), {"P1"})
        self.assertStatus(p.get("/api/v1/people/%s" % self.ids["P2"]), (403, 404))
        paths = {u["path"] for u in p.get("/api/v1/org").json["items"]}
        self.assertIn(PARTNER + "/Support", paths)
        self.assertNotIn(CORP + "/Sales", paths)
        self.assertStatus(p.get("/api/v1/people/%s/history" % self.ids["P2"]), (403, 404))

    def test_auditor_reads_everything_changes_nothing(self):
        a = self.user("S3", roles=["auditor"])
        self.assertTrue(set(self.ids) <= self.visible(a))
        self.assertStatus(a.get("/api/v1/people/%s/history" % self.ids["E1"]), 200)
        self.assertStatus(a.get("/api/v1/audit"), 200)
        self.assertError(a.post("/api/v1/people/%s/invite" % self.ids["E1"]), 403, "forbidden")
        self.assertError(a.put("/api/v1/people/%s/roles/manager" % self.ids["E1"], json={}), 403, "forbidden")
        self.assertError(a.post("/api/v1/hr/import", body=hr_csv(PEOPLE[:1], HR_COLUMNS),
                                content_type="text/csv"), 403, "forbidden")


if __name__ == "__main__":
    unittest.main()
