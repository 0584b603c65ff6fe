# SPDX-License-Identifier: AGPL-3.0-or-later
"""SCIM 2.0 over HTTP: discovery, Users (create, get, list with filter and
paging, replace, patch active=false, delete), Groups, and the SCIM token:
required on /scim/v2 and good for nothing else."""

import unittest

import harness
from harness import ServerTestCase, query

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def user_body(n, active=True, title="Engineer", **extra):
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "scim%d@scim.example" % n,
        "externalId": "X%05d" % n,
        "name": {"familyName": "Scimfamily%d" % n, "givenName": "Scimgiven%d" % n},
        "emails": [{"value": "scim%d@scim.example" % n, "primary": True}],
        "title": title,
        "active": active,
        ENTERPRISE: {"employeeNumber": "X%05d" % n},
    }
    body.update(extra)
    return body


class Scim(ServerTestCase):
    SERVER_ARGS = {"seed_hr": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.admin.post("/api/v1/tokens", json={"name": "scim tests", "scope": "scim"})
        if r.status != 201:
            raise AssertionError("cannot create a SCIM token: %r" % (r,))
        cls.scim = cls.server.client(token=r.json["token"])

    def s(self, method, path, body=None, content_type=SCIM):
        return self.scim.request(method, path, json=body, content_type=content_type if body is not None else None)

    def create(self, n, **kw):
        r = self.s("POST", "/scim/v2/Users", user_body(n, **kw))
        self.assertStatus(r, 201)
        return r.json

    def assertScimError(self, r, status):
        self.assertStatus(r, status)
        self.assertIn(ERROR, r.json.get("schemas", []), r)
        self.assertEqual(str(r.json.get("status")), str(status))

    # ------------------------------------------------------------ discovery

    def test_discovery(self):
        r = self.s("GET", "/scim/v2/ServiceProviderConfig")
        self.assertStatus(r, 200)
        self.assertIn("patch", r.json)
        self.assertIn("filter", r.json)
        r = self.s("GET", "/scim/v2/ResourceTypes")
        self.assertStatus(r, 200)
        names = {x.get("name") for x in r.json.get("Resources", [])}
        self.assertTrue({"User", "Group"} <= names, names)
        r = self.s("GET", "/scim/v2/Schemas")
        self.assertStatus(r, 200)
        ids = {x.get("id") for x in r.json.get("Resources", [])}
        self.assertTrue({USER_SCHEMA, GROUP_SCHEMA} <= ids, ids)

    # ------------------------------------------------------------ users

    def test_create_and_get_user(self):
        u = self.create(1)
        self.assertTrue(u["id"])
        self.assertEqual(u["userName"], "scim1@scim.example")
        self.assertIs(u["active"], True)
        self.assertEqual(u["meta"]["resourceType"], "User")
        self.assertEqual(u[ENTERPRISE]["employeeNumber"], "X00001")
        r = self.s("GET", "/scim/v2/Users/%s" % u["id"])
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["Content-Type"].startswith(SCIM), r.headers["Content-Type"])
        self.assertEqual(r.json["name"]["familyName"], "Scimfamily1")
        # The same person in the directory.
        p = self.admin.get("/api/v1/people/%s" % u["id"])
        self.assertStatus(p, 200)
        self.assertEqual(p.json["login"], "scim1@scim.example")
        self.assertEqual(p.json["employee_number"], "X00001")
        self.assertEqual(p.json["title"], "Engineer")
        self.assertEqual(p.json["status"], "active")

    def test_duplicate_user_name(self):
        self.create(2)
        r = self.s("POST", "/scim/v2/Users", user_body(2))
        self.assertScimError(r, 409)

    def test_invalid_user(self):
        r = self.s("POST", "/scim/v2/Users", {"schemas": [USER_SCHEMA], "name": {"familyName": "x"}})
        self.assertScimError(r, 400)
        r = self.s("POST", "/scim/v2/Users", user_body(3, active="yes"))
        self.assertScimError(r, 400)

    def test_unknown_user(self):
        self.assertScimError(self.s("GET", "/scim/v2/Users/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404)

    def test_list_filter_and_paging(self):
        made = [self.create(n) for n in range(10, 15)]
        r = self.s("GET", query("/scim/v2/Users", filter='userName eq "scim12@scim.example"'))
        self.assertStatus(r, 200)
        self.assertIn(LIST, r.json["schemas"])
        self.assertEqual(r.json["totalResults"], 1)
        self.assertEqual(r.json["Resources"][0]["id"], made[2]["id"])
        r = self.s("GET", query("/scim/v2/Users", filter='externalId eq "X00013"'))
        self.assertEqual([x["id"] for x in r.json["Resources"]], [made[3]["id"]])
        r = self.s("GET", query("/scim/v2/Users", filter='userName eq "nobody@scim.example"'))
        self.assertStatus(r, 200)
        self.assertEqual(r.json["totalResults"], 0)
        self.assertEqual(r.json.get("Resources", []), [])
        r = self.s("GET", query("/scim/v2/Users", filter='userName sw "scim"'))
        self.assertScimError(r, 400)
        self.assertEqual(r.json.get("scimType"), "invalidFilter")
        # Paging: startIndex is 1-based.
        total = self.s("GET", "/scim/v2/Users").json["totalResults"]
        self.assertGreaterEqual(total, 5)
        seen = []
        for start in range(1, total + 1, 2):
            r = self.s("GET", query("/scim/v2/Users", startIndex=start, count=2))
            self.assertStatus(r, 200)
            self.assertEqual(r.json["startIndex"], start)
            self.assertLessEqual(r.json["itemsPerPage"], 2)
            seen += [x["id"] for x in r.json["Resources"]]
        self.assertEqual(len(seen), total)
        self.assertEqual(len(set(seen)), total)

    def test_replace_user(self):
        u = self.create(20)
        body = user_body(20, title="Principal Engineer")
        body["name"] = {"familyName": "Renamed", "givenName": "Scimgiven20"}
        r = self.s("PUT", "/scim/v2/Users/%s" % u["id"], body)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["title"], "Principal Engineer")
        p = self.admin.get("/api/v1/people/%s" % u["id"]).json
        self.assertEqual(p["family_name"], "Renamed")
        self.assertEqual(p["title"], "Principal Engineer")
        h = self.admin.get("/api/v1/people/%s/history" % u["id"]).json["items"]
        self.assertTrue(any(i["source"] == "scim" for i in h), h)

    def test_patch_active_false_retires(self):
        u = self.create(30)
        r = self.s("PATCH", "/scim/v2/Users/%s" % u["id"],
                   {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
        self.assertStatus(r, 200)
        self.assertIs(r.json["active"], False)
        p = self.admin.get("/api/v1/people/%s" % u["id"]).json
        self.assertEqual(p["status"], "retired")
        self.assertTrue(p["retired_at"])
        # The attribute form without a path works too (RFC 7644 3.5.2.3).
        u2 = self.create(31)
        r = self.s("PATCH", "/scim/v2/Users/%s" % u2["id"],
                   {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
        self.assertStatus(r, 200)
        self.assertEqual(self.admin.get("/api/v1/people/%s" % u2["id"]).json["status"], "retired")
        r = self.s("PATCH", "/scim/v2/Users/%s" % u2["id"], {"schemas": [PATCH], "Operations": [{"op": "explode"}]})
        self.assertScimError(r, 400)

    def test_delete_user(self):
        u = self.create(40)
        r = self.s("DELETE", "/scim/v2/Users/%s" % u["id"])
        self.assertStatus(r, 204)
        p = self.admin.get("/api/v1/people/%s" % u["id"])
        self.assertStatus(p, 200, "the person and their history stay")
        self.assertEqual(p.json["status"], "retired")
        r = self.s("GET", "/scim/v2/Users/%s" % u["id"])
        if r.status == 200:
            self.assertIs(r.json["active"], False)
        else:
            self.assertScimError(r, 404)

    # ------------------------------------------------------------ groups

    def test_groups(self):
        a, b, c = self.create(50), self.create(51), self.create(52)
        r = self.s("POST", "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Red Team",
                                               "members": [{"value": a["id"]}, {"value": b["id"]}]})
        self.assertStatus(r, 201)
        g = r.json
        self.assertEqual(g["displayName"], "Red Team")
        self.assertEqual({m["value"] for m in g["members"]}, {a["id"], b["id"]})
        self.assertScimError(self.s("POST", "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Red Team"}), 409)
        r = self.s("GET", query("/scim/v2/Groups", filter='displayName eq "Red Team"'))
        self.assertEqual([x["id"] for x in r.json["Resources"]], [g["id"]])
        # Several operations in one PatchOp apply in order (RFC 7644 3.5.2).
        r = self.s("PATCH", "/scim/v2/Groups/%s" % g["id"], {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": c["id"]}]},
            {"op": "remove", "path": 'members[value eq "%s"]' % a["id"]}]})
        self.assertStatus(r, (200, 204))
        got = self.s("GET", "/scim/v2/Groups/%s" % g["id"]).json
        self.assertEqual({m["value"] for m in got["members"]}, {b["id"], c["id"]})
        r = self.s("PUT", "/scim/v2/Groups/%s" % g["id"], {"schemas": [GROUP_SCHEMA], "displayName": "Blue Team",
                                                           "members": [{"value": a["id"]}]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["displayName"], "Blue Team")
        self.assertEqual([m["value"] for m in r.json["members"]], [a["id"]])
        r = self.s("POST", "/scim/v2/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Ghosts",
                                               "members": [{"value": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}]})
        self.assertScimError(r, 400)
        self.assertStatus(self.s("DELETE", "/scim/v2/Groups/%s" % g["id"]), 204)
        self.assertScimError(self.s("GET", "/scim/v2/Groups/%s" % g["id"]), 404)

    # ------------------------------------------------------------ the token

    def test_scim_token_required(self):
        anon = self.server.client()
        self.assertStatus(anon.get("/scim/v2/Users", auth=False), 401)
        self.assertStatus(self.admin.get("/scim/v2/Users"), 403, "a session is not a SCIM credential")
        api = self.admin.post("/api/v1/tokens", json={"name": "api, not scim"})
        self.assertStatus(self.server.client(token=api.json["token"]).get("/scim/v2/Users"), 403)
        self.assertStatus(self.server.client(token="rt_" + "A" * 43).get("/scim/v2/Users"), 401)

    def test_scim_token_limited_to_scim(self):
        for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/people"), ("GET", "/api/v1/audit"),
                             ("POST", "/api/v1/tokens")):
            r = self.scim.request(method, path, json={"name": "x"} if method == "POST" else None)
            self.assertStatus(r, 403, "%s %s with a SCIM token" % (method, path))

    def test_media_types(self):
        self.assertStatus(self.s("POST", "/scim/v2/Users", user_body(60), content_type="application/json"), 201)
        r = self.s("POST", "/scim/v2/Users", user_body(61), content_type="text/plain")
        self.assertStatus(r, 415)

    def test_scim_changes_are_audited(self):
        u = self.create(70)
        r = self.admin.get(query("/api/v1/audit", object=u["id"], limit=10))
        self.assertStatus(r, 200)
        actions = [e["action"] for e in r.json["items"]]
        self.assertTrue(any(a.startswith("scim.") for a in actions), actions)


class ScimGuardsAdmins(ServerTestCase):
    """Admins are managed only by admins: a SCIM token acts as its owner,
    with the owner's roles of the moment (directory.h, DIR_FEED_CHANGE)."""

    SERVER_ARGS = {"seed_hr": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.admin.post("/api/v1/tokens", json={"name": "scim guard tests", "scope": "scim"})
        if r.status != 201:
            raise AssertionError("cannot create a SCIM token: %r" % (r,))
        cls.scim = cls.server.client(token=r.json["token"])
        csv = ("employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\n"
               "SG001,Guard,Gina,gina@guard.example,Guard Group/Guard Co,Boss,active,employee,\n")
        r = cls.admin.post("/api/v1/hr/import", body=csv, content_type="text/csv")
        if r.status != 200:
            raise AssertionError("cannot import the guard org: %r" % (r,))

    def s(self, method, path, body=None, client=None):
        return (client or self.scim).request(method, path, json=body,
                                             content_type=SCIM if body is not None else None)

    def create(self, n, client=None, **kw):
        r = self.s("POST", "/scim/v2/Users", user_body(n, **kw), client=client)
        self.assertStatus(r, 201)
        return r.json

    def grant(self, person_id, role):
        self.assertStatus(self.admin.put("/api/v1/people/%s/roles/%s" % (person_id, role), json={}), 200)

    def denials(self, person_id):
        r = self.admin.get(query("/api/v1/audit", object=person_id, action="authz.denied", limit=50))
        self.assertStatus(r, 200)
        return r.json["items"]

    def assertRefused(self, r):
        self.assertStatus(r, 403)
        self.assertIn(ERROR, r.json.get("schemas", []), r)
        self.assertEqual(str(r.json.get("status")), "403")
        self.assertIn("admin", r.json.get("detail", ""))

    def rename(self, person_id, login, client=None):
        return self.s("PATCH", "/scim/v2/Users/%s" % person_id, {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": login}]},
            client=client)

    def test_token_cannot_rename_or_deactivate_the_bootstrap_admin(self):
        me = self.admin.get("/api/v1/me").json
        admin_id = me["id"]
        before = len(self.denials(admin_id))
        # The token is the bootstrap admin's own: it does not change its owner's account.
        self.assertRefused(self.rename(admin_id, "mallory"))
        self.assertRefused(self.s("PATCH", "/scim/v2/Users/%s" % admin_id, {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}))
        self.assertRefused(self.s("DELETE", "/scim/v2/Users/%s" % admin_id))
        self.assertEqual(self.admin.get("/api/v1/people/%s" % admin_id).json["login"], "admin")
        self.assertEqual(self.admin.get("/api/v1/people/%s" % admin_id).json["status"], "active")
        items = self.denials(admin_id)
        self.assertEqual(len(items) - before, 3, items)
        self.assertEqual(items[0]["outcome"], "denied")
        self.assertEqual(items[0]["details"]["action"], "feed_change")
        self.assertIn("userName", str([i["details"].get("changes") for i in items]))
        # A change that is not guarded still goes through.
        r = self.s("PATCH", "/scim/v2/Users/%s" % admin_id, {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Root"}]})
        self.assertStatus(r, 200)

    def test_token_of_a_former_admin_acts_with_the_owners_roles(self):
        owner = self.create(901)
        other_admin = self.create(902)
        officer = self.create(903)
        plain = self.create(904)
        self.grant(owner["id"], "admin")
        self.grant(other_admin["id"], "admin")
        self.grant(officer["id"], "security_officer")
        owner_client = self.make_user(owner["id"])
        r = owner_client.post("/api/v1/tokens", json={"name": "owner's scim", "scope": "scim"})
        self.assertStatus(r, 201)
        token = self.server.client(token=r.json["token"])
        # While the owner is an admin, the token renames another admin.
        self.assertStatus(self.rename(other_admin["id"], "admin-two@scim.example", client=token), 200)
        # The owner becomes a security officer: the same token may no longer.
        self.assertStatus(self.admin.delete("/api/v1/people/%s/roles/admin" % owner["id"]), 200)
        self.grant(owner["id"], "security_officer")
        self.assertRefused(self.rename(other_admin["id"], "admin-three@scim.example", client=token))
        r = self.s("PATCH", "/scim/v2/Users/%s" % other_admin["id"], {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}, client=token)
        self.assertRefused(r)
        self.assertEqual(self.admin.get("/api/v1/people/%s" % other_admin["id"]).json["login"],
                         "admin-two@scim.example")
        self.assertEqual(len(self.denials(other_admin["id"])), 2)
        # A security officer manages another security officer and anyone without a grant.
        self.assertStatus(self.rename(officer["id"], "officer@scim.example", client=token), 200)
        self.assertStatus(self.s("DELETE", "/scim/v2/Users/%s" % plain["id"], client=token), 204)
        # Moving an admin to another unit is refused too.
        body = user_body(902, **{ENTERPRISE: {"employeeNumber": "X00902", "organization": "Guard Co",
                                              "division": "Elsewhere"}})
        body["userName"] = "admin-two@scim.example"
        self.assertRefused(self.s("PUT", "/scim/v2/Users/%s" % other_admin["id"], body, client=token))
        self.assertIsNone(self.admin.get("/api/v1/people/%s" % other_admin["id"]).json["org_unit"])
        self.assertNotIn("Guard Group/Guard Co/Elsewhere",
                         [u["path"] for u in self.admin.get("/api/v1/org").json["items"]])

    def test_org_unit_names_are_names(self):
        bad = ["..", ".", "Sales/", "/Sales", "Sa\u2028les", "Sa\u2029les", "Sa\u0085les", "Sa\u007fles"]
        for i, division in enumerate(bad):
            r = self.s("POST", "/scim/v2/Users", user_body(950 + i, **{
                ENTERPRISE: {"employeeNumber": "X%05d" % (950 + i), "organization": "Guard Co",
                             "division": division}}))
            self.assertStatus(r, 400, repr(division))
            self.assertEqual(r.json.get("scimType"), "invalidValue", r)
        r = self.s("POST", "/scim/v2/Users", user_body(960, **{
            ENTERPRISE: {"employeeNumber": "X00960", "organization": "Guard Co", "division": "Sales",
                         "department": "../.."}}))
        self.assertStatus(r, 400)
        self.assertIn("'.' or '..'", r.json["detail"])
        paths = [u["path"] for u in self.admin.get("/api/v1/org").json["items"]]
        self.assertFalse([p for p in paths if p.startswith("Guard Group/Guard Co/")], paths)
        r = self.s("POST", "/scim/v2/Users", user_body(961, **{
            ENTERPRISE: {"employeeNumber": "X00961", "organization": "Guard Co", "division": "Sales..."}}))
        self.assertStatus(r, 201)


class ScimProviders(ServerTestCase):
    """Users as Microsoft Entra ID and Okta send them (shapes from their
    provisioning documentation): the enterprise department without an
    organization, placed under [scim] default_company and matched by name
    there; "True"/"False" as strings; op "Replace"; Entra's matching filter
    emails[type eq "work"].value; Okta's full PUT."""

    SERVER_ARGS = {"seed_hr": False, "config": "[scim]\ndefault_company = Contoso\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.admin.post("/api/v1/tokens", json={"name": "scim providers", "scope": "scim"})
        if r.status != 201:
            raise AssertionError("cannot create a SCIM token: %r" % (r,))
        cls.scim = cls.server.client(token=r.json["token"])
        csv = ("employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\n"
               "CT001,Boss,Carla,carla@contoso.example,Contoso Group/Contoso/Operations/Sales,Boss,active,employee,\n"
               "CT002,Boss,Dora,dora@contoso.example,Contoso Group/Contoso/Field/Support,Boss,active,employee,\n"
               "CT003,Boss,Edda,edda@contoso.example,Contoso Group/Contoso/Lab/Support,Boss,active,employee,\n")
        r = cls.admin.post("/api/v1/hr/import", body=csv, content_type="text/csv")
        if r.status != 200:
            raise AssertionError("cannot import the Contoso org: %r" % (r,))

    def s(self, method, path, body=None):
        return self.scim.request(method, path, json=body, content_type=SCIM if body is not None else None)

    def person(self, pid):
        r = self.admin.get("/api/v1/people/%s" % pid)
        self.assertStatus(r, 200)
        return r.json

    def unit(self, pid):
        p = self.person(pid)
        u = p.get("org_unit")
        return u.get("path") if isinstance(u, dict) else u

    def entra_user(self, n, department="Sales"):
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": "entra%d" % n,
            "userName": "entra%d@contoso.example" % n,
            "active": True,
            "addresses": [{"primary": True, "type": "work", "country": "DE", "postalCode": "10115"}],
            "displayName": "Entra User%d" % n,
            "emails": [{"primary": True, "type": "work", "value": "entra%d@contoso.example" % n}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Entra User%d" % n, "familyName": "User%d" % n, "givenName": "Entra"},
            "phoneNumbers": [{"primary": True, "type": "work", "value": "+49 30 1234 %d" % n}],
            "roles": [],
            "title": "Agent",
            ENTERPRISE: {"department": department, "employeeNumber": "entra%d" % n},
        }

    def test_entra_create_match_and_patch(self):
        # Entra looks the person up first, by its matching filter.
        r = self.s("GET", query("/scim/v2/Users", filter='emails[type eq "work"].value eq "entra1@contoso.example"'))
        self.assertStatus(r, 200)
        self.assertEqual(r.json["totalResults"], 0)
        r = self.s("POST", "/scim/v2/Users", self.entra_user(1))
        self.assertStatus(r, 201)
        uid = r.json["id"]
        # The department alone is found by name below the default company.
        self.assertEqual(self.unit(uid), "Contoso Group/Contoso/Operations/Sales")
        self.assertEqual(r.json[ENTERPRISE].get("organization"), "Contoso")
        self.assertEqual(r.json[ENTERPRISE].get("department"), "Sales")
        r = self.s("GET", query("/scim/v2/Users", filter='emails[type eq "work"].value eq "ENTRA1@contoso.example"'))
        self.assertStatus(r, 200)
        self.assertEqual([x["id"] for x in r.json["Resources"]], [uid])
        # Entra's PATCH: "Replace" capitalised, booleans as strings.
        r = self.s("PATCH", "/scim/v2/Users/%s" % uid, {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "entra1.new@contoso.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Renamed"},
            {"op": "Add", "path": ENTERPRISE + ":department", "value": "Marketing"}]})
        self.assertStatus(r, 200)
        p = self.person(uid)
        self.assertEqual(p["email"], "entra1.new@contoso.example")
        self.assertEqual(p["family_name"], "Renamed")
        # No unit of that name yet: kept under the person's division.
        self.assertEqual(self.unit(uid), "Contoso Group/Contoso/Operations/Marketing")
        r = self.s("PATCH", "/scim/v2/Users/%s" % uid, {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"}]})
        self.assertStatus(r, 200)
        self.assertIs(r.json["active"], False)
        self.assertEqual(self.person(uid)["status"], "retired")
        r = self.s("PATCH", "/scim/v2/Users/%s" % uid, {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "active", "value": "True"}]})
        self.assertStatus(r, 200)
        self.assertIs(r.json["active"], True)
        self.assertEqual(self.person(uid)["status"], "active")
        for bad in ("yes", "1", ""):
            r = self.s("PATCH", "/scim/v2/Users/%s" % uid, {"schemas": [PATCH], "Operations": [
                {"op": "Replace", "path": "active", "value": bad}]})
            self.assertStatus(r, 400, bad)

    def test_entra_new_department_and_ambiguous_one(self):
        r = self.s("POST", "/scim/v2/Users", self.entra_user(2, department="Research"))
        self.assertStatus(r, 201)
        self.assertEqual(self.unit(r.json["id"]), "Contoso Group/Contoso/Research")
        # Two units named Support below Contoso: the division must be sent.
        r = self.s("POST", "/scim/v2/Users", self.entra_user(3, department="Support"))
        self.assertStatus(r, 400)
        self.assertEqual(r.json.get("scimType"), "invalidValue")
        self.assertIn("more than one unit", r.json["detail"])
        body = self.entra_user(3, department="Support")
        body[ENTERPRISE]["division"] = "Lab"
        r = self.s("POST", "/scim/v2/Users", body)
        self.assertStatus(r, 201)
        self.assertEqual(self.unit(r.json["id"]), "Contoso Group/Contoso/Lab/Support")

    def test_okta_create_and_full_put(self):
        body = {
            "schemas": [USER_SCHEMA],
            "userName": "okta1@contoso.example",
            "name": {"givenName": "Okta", "familyName": "User"},
            "emails": [{"primary": True, "value": "okta1@contoso.example", "type": "work"}],
            "displayName": "Okta User",
            "locale": "en-US",
            "externalId": "00u1okta",
            "groups": [],
            "password": "not-kept-1",
            "active": True,
        }
        r = self.s("POST", "/scim/v2/Users", body)
        self.assertStatus(r, 201)
        uid = r.json["id"]
        # Okta's PUT sends the whole user back, with id and meta.
        put = dict(body, id=uid, meta={"resourceType": "User"}, active="False")
        put["name"] = {"givenName": "Okta", "familyName": "Changed"}
        put[ENTERPRISE] = {"department": "Sales", "employeeNumber": "00u1okta"}
        put["schemas"] = [USER_SCHEMA, ENTERPRISE]
        del put["password"]
        r = self.s("PUT", "/scim/v2/Users/%s" % uid, put)
        self.assertStatus(r, 200)
        p = self.person(uid)
        self.assertEqual(p["family_name"], "Changed")
        self.assertEqual(p["status"], "retired")
        self.assertEqual(self.unit(uid), "Contoso Group/Contoso/Operations/Sales")
        put["active"] = True
        r = self.s("PUT", "/scim/v2/Users/%s" % uid, put)
        self.assertStatus(r, 200)
        self.assertEqual(self.person(uid)["status"], "active")


class ScimNoDefaultCompany(ServerTestCase):
    """Without [scim] default_company, a department without an organization is refused."""

    SERVER_ARGS = {"seed_hr": False}

    def test_department_without_organization_refused(self):
        r = self.admin.post("/api/v1/tokens", json={"name": "scim plain", "scope": "scim"})
        self.assertStatus(r, 201)
        scim = self.server.client(token=r.json["token"])
        body = {"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "nodefault@contoso.example",
                "active": "True", ENTERPRISE: {"department": "Sales"}}
        r = scim.request("POST", "/scim/v2/Users", json=body, content_type=SCIM)
        self.assertStatus(r, 400)
        self.assertEqual(r.json.get("scimType"), "invalidValue")
        self.assertIn("default_company", r.json["detail"])
        del body[ENTERPRISE]
        r = scim.request("POST", "/scim/v2/Users", json=body, content_type=SCIM)
        self.assertStatus(r, 201)
        self.assertIs(r.json["active"], True)


if __name__ == "__main__":
    unittest.main()
