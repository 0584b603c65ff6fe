# SPDX-License-Identifier: AGPL-3.0-or-later
"""Authorization matrix: every endpoint against every role, in ONE table.

Actors come from the sample organization (examples/hr/sample-org.csv):
roles are granted with the admin API, passwords set with
POST /api/v1/people/{id}/password and then changed by the person.

Targets of person endpoints:
  in    a direct report of the manager actor, inside the security manager's scope
  out   a person in another division: outside both scopes (must be denied)
  self  the actor

Outcomes: A allowed (2xx), D denied (403; or 404 for a target the actor may
not even see, which hides that it exists), U unauthenticated (401).

The table must cover every route `rampartd --routes` prints: a new route
without a row fails test_every_route_has_a_row.
"""

import base64
import os
import subprocess
import time
import unittest

import exchange_util
import harness
from harness import ServerTestCase, hr_csv

ROLES = ["admin", "security_officer", "security_manager", "manager", "auditor", "employee",
         "partner_staff", "anonymous", "scim_token"]
PW = "Matrix-password-123"

# Expectation strings, one letter per role in ROLES order:
#          admin so  sm  mgr aud emp prt anon scim
PUBLIC = "AAAAAAAAA"
SELF = "AAAAAAAUD"           # any authenticated person, about themselves
READ_OUT = "AADDADDUD"       # reading someone in another division
READ_IN = "AAAAADDUD"        # reading the manager's report inside the SM's scope
MANAGE_OUT = "AADDDDDUD"     # changing someone in another division
MANAGE_IN = "AAADDDDUD"      # changing someone inside the SM's scope
HR_IMPORT = "AADDDDDUD"
AUDIT = "AADDADDUD"
SCIM = "DDDDDDDUA"
FILE_READ_IN = "AAADADDUD"   # a protected file owned by the manager's report
FILE_OPEN = "AAAAAADUD"      # a file granted to role:employee: partner staff are not on it
APPROVE = "ADDADDDUD"        # a transfer by the manager's report waiting for approval
EP_READ = "AAADADDUD"        # enrollment tokens and devices, in scope
DEVICE_SIGNED = "UUUUUUUUU"  # device-signed: a person's credentials are not a signature

# method, path template, target, expectations
TABLE = [
    ("GET", "/healthz", None, PUBLIC),
    ("GET", "/readyz", None, PUBLIC),
    ("GET", "/metrics", None, PUBLIC),
    ("POST", "/api/v1/auth/login", None, PUBLIC),
    ("POST", "/api/v1/auth/activate", None, PUBLIC),
    ("GET", "/api/v1/me", None, SELF),
    ("GET", "/api/v1/me/sessions", None, SELF),
    ("DELETE", "/api/v1/me/sessions/{id}", "own", SELF),
    ("POST", "/api/v1/me/totp", None, SELF),
    ("POST", "/api/v1/me/totp/confirm", None, SELF),
    ("DELETE", "/api/v1/me/totp", None, SELF),
    ("GET", "/api/v1/tokens", None, SELF),
    ("POST", "/api/v1/tokens", None, SELF),
    ("DELETE", "/api/v1/tokens/{id}", "own", SELF),
    ("GET", "/api/v1/org", None, SELF),
    ("GET", "/api/v1/org/{id}", "out", READ_OUT),
    ("GET", "/api/v1/people", None, SELF),
    ("GET", "/api/v1/people/{id}", "self", SELF),
    ("GET", "/api/v1/people/{id}", "in", READ_IN),
    ("GET", "/api/v1/people/{id}", "out", READ_OUT),
    ("GET", "/api/v1/people/{id}/history", "in", READ_IN),
    ("GET", "/api/v1/people/{id}/history", "out", READ_OUT),
    ("PUT", "/api/v1/people/{id}/roles/{role}", "in", MANAGE_IN),
    ("PUT", "/api/v1/people/{id}/roles/{role}", "out", MANAGE_OUT),
    ("DELETE", "/api/v1/people/{id}/roles/{role}", "in", MANAGE_IN),
    ("DELETE", "/api/v1/people/{id}/roles/{role}", "out", MANAGE_OUT),
    ("POST", "/api/v1/people/{id}/invite", "in", MANAGE_IN),
    ("POST", "/api/v1/people/{id}/invite", "out", MANAGE_OUT),
    ("POST", "/api/v1/people/{id}/password", "in", MANAGE_IN),
    ("POST", "/api/v1/people/{id}/password", "out", MANAGE_OUT),
    ("POST", "/api/v1/people/{id}/sessions/revoke", "in", MANAGE_IN),
    ("POST", "/api/v1/people/{id}/sessions/revoke", "out", MANAGE_OUT),
    ("POST", "/api/v1/hr/import", None, HR_IMPORT),
    ("GET", "/api/v1/audit", None, AUDIT),
    ("GET", "/api/v1/audit/verify", None, AUDIT),
    ("GET", "/api/v1/audit/checkpoint", None, AUDIT),
    ("GET", "/api/v1/audit/checkpoints", None, AUDIT),
    ("GET", "/api/v1/transfers", None, SELF),
    ("POST", "/api/v1/transfers", None, SELF),
    ("GET", "/api/v1/transfers/{id}", "own", SELF),
    ("GET", "/api/v1/transfers/{id}", "out", READ_OUT),
    ("POST", "/api/v1/transfers/{id}/revoke", "own", SELF),
    ("POST", "/api/v1/transfers/{id}/revoke", "out", MANAGE_OUT),
    ("POST", "/api/v1/transfers/{id}/approve", "in", APPROVE),
    ("POST", "/api/v1/transfers/{id}/reject", "in", APPROVE),
    ("POST", "/api/v1/requests", None, SELF),
    ("POST", "/api/v1/exchange/sweep", None, "ADDDDDDUD"),
    ("GET", "/api/v1/exchange/approval", None, AUDIT),
    ("PUT", "/api/v1/exchange/approval/{id}", "out", "ADDDDDDUD"),
    ("GET", "/x/{token}", None, PUBLIC),
    ("POST", "/x/{token}", None, "AAAAAAAAD"),   # a SCIM token is refused anywhere else
    ("GET", "/scim/v2/ServiceProviderConfig", None, SCIM),
    ("GET", "/scim/v2/ResourceTypes", None, SCIM),
    ("GET", "/scim/v2/Schemas", None, SCIM),
    ("GET", "/scim/v2/Users", None, SCIM),
    ("POST", "/scim/v2/Users", None, SCIM),
    ("GET", "/scim/v2/Users/{id}", "scim_user", SCIM),
    ("PUT", "/scim/v2/Users/{id}", "scim_user", SCIM),
    ("PATCH", "/scim/v2/Users/{id}", "scim_user", SCIM),
    ("DELETE", "/scim/v2/Users/{id}", "scim_user", SCIM),
    ("GET", "/scim/v2/Groups", None, SCIM),
    ("POST", "/scim/v2/Groups", None, SCIM),
    ("GET", "/scim/v2/Groups/{id}", "scim_group", SCIM),
    ("PUT", "/scim/v2/Groups/{id}", "scim_group", SCIM),
    ("PATCH", "/scim/v2/Groups/{id}", "scim_group", SCIM),
    ("DELETE", "/scim/v2/Groups/{id}", "scim_group", SCIM),
    ("GET", "/api/v1/protect/key", None, SELF),
    ("GET", "/api/v1/files", None, SELF),
    ("POST", "/api/v1/files", None, SELF),
    ("GET", "/api/v1/files/{id}", "in", FILE_READ_IN),
    ("GET", "/api/v1/files/{id}", "out", READ_OUT),
    ("PATCH", "/api/v1/files/{id}", "in", MANAGE_IN),
    ("PATCH", "/api/v1/files/{id}", "out", MANAGE_OUT),
    ("POST", "/api/v1/files/{id}/revoke", "in", MANAGE_IN),
    ("POST", "/api/v1/files/{id}/revoke", "out", MANAGE_OUT),
    ("GET", "/api/v1/files/{id}/access", "in", FILE_READ_IN),
    ("GET", "/api/v1/files/{id}/access", "out", READ_OUT),
    ("POST", "/api/v1/files/{id}/open", "in", FILE_OPEN),
    ("GET", "/api/v1/endpoint/enrollment-tokens", None, EP_READ),
    ("POST", "/api/v1/endpoint/enrollment-tokens", "in", MANAGE_IN),
    ("POST", "/api/v1/endpoint/enrollment-tokens", "out", MANAGE_OUT),
    ("DELETE", "/api/v1/endpoint/enrollment-tokens/{id}", "in", MANAGE_IN),
    ("DELETE", "/api/v1/endpoint/enrollment-tokens/{id}", "out", MANAGE_OUT),
    ("POST", "/api/v1/endpoint/enroll", None, PUBLIC),
    ("POST", "/api/v1/endpoint/checkin", None, DEVICE_SIGNED),
    ("POST", "/api/v1/endpoint/sweep", None, "ADDDDDDUD"),
    ("GET", "/api/v1/endpoint/policies/{id}", "in", EP_READ),
    ("GET", "/api/v1/endpoint/policies/{id}", "out", READ_OUT),
    ("PUT", "/api/v1/endpoint/policies/{id}", "in", MANAGE_IN),
    ("PUT", "/api/v1/endpoint/policies/{id}", "out", MANAGE_OUT),
    ("GET", "/api/v1/devices", None, EP_READ),
    ("GET", "/api/v1/endpoint/summary", None, EP_READ),
    ("GET", "/api/v1/devices/{id}", "in", EP_READ),
    ("GET", "/api/v1/devices/{id}", "out", READ_OUT),
    ("POST", "/api/v1/endpoint/events", None, DEVICE_SIGNED),
    ("GET", "/api/v1/endpoint/events", None, EP_READ),
    ("GET", "/api/v1/devices/{id}/events", "in", EP_READ),
    ("GET", "/api/v1/devices/{id}/events", "out", READ_OUT),
    ("POST", "/api/v1/devices/{id}/quarantine", "in", MANAGE_IN),
    ("POST", "/api/v1/devices/{id}/quarantine", "out", MANAGE_OUT),
    ("POST", "/api/v1/devices/{id}/release", "in", MANAGE_IN),
    ("POST", "/api/v1/devices/{id}/release", "out", MANAGE_OUT),
    ("POST", "/api/v1/endpoint/alerts", None, "AADDDDDUD"),
    ("GET", "/api/v1/endpoint/quarantine", None, EP_READ),
    ("GET", "/api/v1/endpoint/quarantine.nft", None, EP_READ),
    # Last: these end sessions or change the actor's password.
    ("POST", "/api/v1/me/password", None, SELF),
    ("POST", "/api/v1/auth/logout", None, SELF),
    ("POST", "/api/v1/auth/logout-all", None, SELF),
]

GRANTED_ROLE = "manager"   # what the role rows grant and revoke
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def division(path):
    return "/".join((path or "").split("/")[:3])


def under(path, root):
    return path == root or path.startswith(root + "/")


class AuthzMatrix(ServerTestCase):
    SERVER_ARGS = {"env": {"RAMPART_LIMITS_RATE_PER_MINUTE": "0"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seq = 0
        cls.totp_last_step = {}

    # ------------------------------------------------------------ cast

    def pick_cast(self):
        people = [p for p in self.all_people(status="active") if p["login"] != "admin"]
        by_id = {p["id"]: p for p in people}
        reports = {}
        for p in people:
            if p.get("manager"):
                reports.setdefault(p["manager"]["id"], []).append(p)
        path = lambda p: (p.get("org_unit") or {}).get("path", "")
        granted = lambda p: any(not r.get("implicit") and r["role"] not in ("employee", "partner_staff")
                                for r in p.get("roles", []))
        plain = [p for p in people if p["kind"] == "employee" and p["id"] not in reports and not granted(p)]
        used = set()

        def take(cands, what):
            for p in cands:
                if p["id"] not in used:
                    used.add(p["id"])
                    return p
            self.fail("the sample organization has no %s" % what)

        mgr = rep = None
        for mid, rs in sorted(reports.items()):
            m = by_id.get(mid)
            if not m or m["kind"] != "employee" or granted(m) or not division(path(m)):
                continue
            inside = [r for r in rs if under(path(r), division(path(m))) and r["id"] not in reports
                      and not granted(r)]
            if inside:
                mgr, rep = m, inside[0]
                break
        if not mgr:
            self.fail("the sample organization has no manager with a report in the same division")
        used.update({mgr["id"], rep["id"]})
        d1 = division(path(mgr))
        out = take([p for p in plain if division(path(p)) and not under(path(p), d1)],
                   "employee outside the manager's division")
        out_unit = path(out)
        sm = take([p for p in plain if under(path(p), d1)], "second employee in the manager's division")
        emp = take([p for p in plain if not under(path(p), d1) and not under(out_unit, path(p))
                    and not under(path(p), out_unit)], "employee elsewhere")
        partner = take([p for p in people if p["kind"] == "partner_staff" and p["id"] not in reports
                        and not granted(p) and not under(out_unit, path(p))], "partner staff")
        admin = take(plain, "employee for admin")
        so = take(plain, "employee for security_officer")
        aud = take(plain, "employee for auditor")
        login_person = take(plain, "employee for the login row")
        invitee = take(plain, "employee for the activation row")
        return dict(admin=admin, manager=mgr, report=rep, out=out, security_manager=sm, employee=emp,
                    partner_staff=partner, security_officer=so, auditor=aud, login_person=login_person,
                    invitee=invitee, scope=d1)

    def setUp(self):
        if getattr(type(self), "cast", None) is not None:
            return
        cast = self.pick_cast()
        type(self).cast = cast
        # The admin actor is a second administrator, so that its logout-all and
        # password change leave the harness's bootstrap admin (used for set-up) alone.
        roles = {"admin": ["admin"], "security_officer": ["security_officer"], "security_manager": ["security_manager:" + cast["scope"]],
                 "auditor": ["auditor"], "manager": [], "employee": [], "partner_staff": []}
        type(self).passwords = {}
        type(self).person_ids = {}
        type(self).logins = {}
        for role, grants in roles.items():
            u = self.make_user(cast[role]["id"], password=PW, roles=grants)
            self.passwords[role] = PW
            self.person_ids[role] = cast[role]["id"]
            self.logins[role] = u.person["login"]
        self.make_user(cast["login_person"]["id"], password=PW)
        r = self.admin.post("/api/v1/tokens", json={"name": "matrix scim", "scope": "scim"})
        self.assertStatus(r, 201)
        type(self).scim = self.server.client(token=r.json["token"])
        type(self).clients = {}

    # ------------------------------------------------------------ clients

    def client_for(self, role):
        if role == "anonymous":
            return self.server.client()
        if role == "scim_token":
            return self.scim
        if role not in self.clients:
            c = self.server.client()
            c.login(self.logins[role], self.passwords[role])
            self.clients[role] = c
        return self.clients[role]

    def forget(self, role):
        self.clients.pop(role, None)

    def unique(self):
        type(self).seq += 1
        return type(self).seq

    # ------------------------------------------------------------ requests

    def target_person(self, target, role):
        if target == "in":
            return self.cast["report"]["id"]
        if target == "out":
            return self.cast["out"]["id"]
        if target == "self":
            return self.person_ids.get(role, self.cast["out"]["id"])
        raise AssertionError(target)

    def prepare(self, method, template, target, role, c):
        """Path, request keyword arguments and a cleanup for one cell."""
        req = {}
        cleanup = None
        path = template
        admin = self.admin
        if "/people/{id}" in template:
            pid = self.target_person(target, role)
            path = path.replace("{id}", pid).replace("{role}", GRANTED_ROLE)
            if "/roles/" in template:
                if method == "PUT":
                    req["json"] = {}
                    cleanup = lambda: admin.delete("/api/v1/people/%s/roles/%s" % (pid, GRANTED_ROLE))
                else:
                    self.assertStatus(admin.put("/api/v1/people/%s/roles/%s" % (pid, GRANTED_ROLE), json={}), 200)
                    cleanup = lambda: admin.delete("/api/v1/people/%s/roles/%s" % (pid, GRANTED_ROLE))
            elif template.endswith("/password"):
                req["json"] = {"password": "Temporary-matrix-%d" % self.unique()}
        elif template == "/api/v1/org/{id}":
            units = {u["path"]: u["id"] for u in admin.get("/api/v1/org").json["items"]}
            path = path.replace("{id}", units[self.cast["out"]["org_unit"]["path"]])
        elif template == "/api/v1/me/sessions/{id}":
            if role in ("anonymous", "scim_token"):
                sid = admin.get("/api/v1/me").json["session"]["id"]
            else:
                other = self.server.client()
                other.login(self.logins[role], self.passwords[role])
                sid = other.get("/api/v1/me").json["session"]["id"]
            path = path.replace("{id}", sid)
        elif template == "/api/v1/tokens/{id}":
            owner = admin if role in ("anonymous", "scim_token") else c
            r = owner.post("/api/v1/tokens", json={"name": "matrix %d" % self.unique()})
            self.assertStatus(r, 201)
            path = path.replace("{id}", r.json["id"])
        elif template == "/api/v1/tokens":
            req["json"] = {"name": "matrix %d" % self.unique()} if method == "POST" else None
        elif template == "/api/v1/auth/login":
            req["json"] = {"login": self.cast["login_person"]["login"], "password": PW, "client": "cli"}
            req["auth"] = False if role != "scim_token" else True
        elif template == "/api/v1/auth/activate":
            r = admin.post("/api/v1/people/%s/invite" % self.cast["invitee"]["id"])
            self.assertStatus(r, 201)
            req["json"] = {"token": r.json["activation_token"], "password": "Activated-password-%d" % self.unique()}
        elif template == "/api/v1/me/totp/confirm":
            if role in ("anonymous", "scim_token"):
                req["json"] = {"code": "123456"}
            else:
                secret = c.post("/api/v1/me/totp").json["secret"]
                req["json"] = {"code": self.totp_code(role, secret)}
                pw = self.passwords[role]
                cleanup = lambda: c.delete("/api/v1/me/totp", json={"password": pw})
        elif template == "/api/v1/me/totp" and method == "DELETE":
            pw = self.passwords.get(role, PW)
            if role not in ("anonymous", "scim_token"):
                secret = c.post("/api/v1/me/totp").json["secret"]
                r = c.post("/api/v1/me/totp/confirm", json={"code": self.totp_code(role, secret)})
                self.assertStatus(r, 200)
            req["json"] = {"password": pw}
        elif template == "/api/v1/me/password":
            if role in ("anonymous", "scim_token"):
                req["json"] = {"current_password": PW, "new_password": PW + "-new"}
            else:
                old = self.passwords[role]
                new = "Changed-matrix-password-%d" % self.unique()
                req["json"] = {"current_password": old, "new_password": new}
                req["_new_password"] = new
        elif template == "/api/v1/hr/import":
            row = [r for r in harness.read_sample_org()
                   if r["employee_number"] == self.cast["out"]["employee_number"]]
            req["body"] = hr_csv(row)
            req["content_type"] = "text/csv"
            path = "/api/v1/hr/import?dry_run=1"
        elif template.startswith("/scim/v2/"):
            path, req = self.prepare_scim(method, template, target)
        elif template.startswith("/api/v1/files"):
            path, req = self.prepare_files(method, template, target)
        elif template.startswith("/api/v1/endpoint/") or template.startswith("/api/v1/devices"):
            path, req = self.prepare_endpoint(method, template, target)
        elif "/transfers" in template or template in ("/api/v1/requests", "/x/{token}",
                                                      "/api/v1/exchange/approval/{id}"):
            path, req = self.prepare_exchange(method, template, target, role, c)
        return path, req, cleanup

    def prepare_exchange(self, method, template, target, role, c):
        req = {}
        if template == "/api/v1/transfers" and method == "POST":
            req["body"], req["content_type"] = exchange_util.multipart(
                [("to", "matrix@partner.example")], [("file", "m.txt", b"matrix")])
            return template, req
        if template == "/api/v1/requests":
            req["json"] = {"from": "matrix@partner.example"}
            return template, req
        if template == "/api/v1/exchange/approval/{id}":
            units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
            req["json"] = {"required": False}
            return template.replace("{id}", units[self.cast["out"]["org_unit"]["path"]]), req
        if template.endswith("/approve") or template.endswith("/reject"):
            # The report's unit requires approval; each cell decides a new pending transfer of the report.
            if getattr(type(self), "report_client", None) is None:
                units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
                unit = units[self.cast["report"]["org_unit"]["path"]]
                self.assertStatus(self.admin.put("/api/v1/exchange/approval/" + unit, json={"required": True}), 200)
                type(self).report_client = self.make_user(self.cast["report"]["id"], password=PW)
            r = exchange_util.send(self.report_client)
            self.assertStatus(r, 201)
            self.assertEqual(r.json["state"], "pending_approval")
            req["json"] = {}
            return template.replace("{id}", r.json["id"]), req
        if "{id}" in template:
            if target == "out":
                if getattr(type(self), "out_client", None) is None:
                    type(self).out_client = self.make_user(self.cast["out"]["id"], password=PW)
                owner = self.out_client
            else:
                owner = self.admin if role in ("anonymous", "scim_token") else c
            r = exchange_util.send(owner)
            self.assertStatus(r, 201)
            if method == "POST":
                req["json"] = {}
            return template.replace("{id}", r.json["id"]), req
        if template == "/x/{token}":
            r = exchange_util.send(self.admin)
            self.assertStatus(r, 201)
            if method == "POST":
                req["body"] = exchange_util.form(r.json["password"])
                req["content_type"] = "application/x-www-form-urlencoded"
            return exchange_util.link_path(r.json["url"]), req
        return template, req

    def new_header(self):
        """A fresh file id and header sealed to this server's key (tests/vectors/protect/gen.c)."""
        key = self.admin.get("/api/v1/protect/key").json
        out = subprocess.run([os.path.join(harness.BUILD, "tests", "unit", "rpf_gen"), "header",
                              key["server_id"], key["public_key"]],
                             check=True, capture_output=True, text=True, timeout=60).stdout.split()
        return out[0], out[1]

    def prepare_files(self, method, template, target):
        """Protected-file rows: a new file for every cell, owned by the report (in) or out."""
        req = {}
        if template == "/api/v1/files":
            if method == "POST":
                _, header = self.new_header()
                req["json"] = {"header": header, "name": "matrix-%d.txt" % self.unique(), "grants": []}
            return template, req
        fid, header = self.new_header()
        owner = self.cast["report"]["id"] if target == "in" else self.cast["out"]["id"]
        grants = ["role:employee"] if template.endswith("/open") else []
        r = self.admin.post("/api/v1/files", json={"header": header, "name": "matrix-%d.txt" % self.unique(),
                                                   "grants": grants, "owner": owner})
        self.assertStatus(r, 201)
        if method == "PATCH":
            req["json"] = {"grant": ["role:auditor"]}
        elif template.endswith("/open"):
            req["json"] = {"header": header, "client_key": base64.b64encode(bytes(range(32))).decode()}
        return template.replace("{id}", fid), req

    def endpoint_unit(self, target):
        who = self.cast["report"] if target in ("in", None) else self.cast["out"]
        return who["org_unit"]["path"]

    def endpoint_token(self, target, uses=1):
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens",
                            json={"org_unit": self.endpoint_unit(target), "uses": uses})
        self.assertStatus(r, 201)
        return r.json

    def endpoint_enroll_body(self, token):
        n = self.unique()
        return {"token": token, "hostname": "matrix-pc-%d" % n, "machine_id": "%032x" % n,
                "public_key": base64.b64encode(os.urandom(32)).decode()}

    def prepare_endpoint(self, method, template, target):
        """Endpoint rows: a fresh token for every cell; one device per target unit."""
        req = {}
        if template == "/api/v1/endpoint/enrollment-tokens" and method == "POST":
            req["json"] = {"org_unit": self.endpoint_unit(target), "uses": 1, "expires": "1h"}
        elif template == "/api/v1/endpoint/enrollment-tokens/{id}":
            return template.replace("{id}", self.endpoint_token(target)["id"]), req
        elif template == "/api/v1/endpoint/enroll":
            req["json"] = self.endpoint_enroll_body(self.endpoint_token(None)["token"])
        elif template == "/api/v1/endpoint/checkin":
            req["json"] = {"agent_version": "matrix"}
        elif template == "/api/v1/endpoint/events" and method == "POST":
            req["json"] = {"events": []}
        elif template == "/api/v1/endpoint/policies/{id}":
            units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
            if method == "PUT":
                req["json"] = {"checkin_interval": "10m"}
            return template.replace("{id}", units[self.endpoint_unit(target)]), req
        elif template == "/api/v1/endpoint/alerts":
            # A real-looking eve.json line that names no device.
            req["body"] = ('{"timestamp":"2026-11-26T10:15:02.123456+0000","event_type":"alert",'
                           '"src_ip":"198.51.100.200","src_port":4444,"dest_ip":"203.0.113.200","dest_port":443,'
                           '"proto":"TCP","alert":{"signature_id":2024897,"signature":"ET MALWARE matrix",'
                           '"severity":1}}\n')
            req["content_type"] = "application/json"
        elif template.startswith("/api/v1/devices/{id}"):
            devices = type(self).__dict__.get("devices") or {}
            if target not in devices:
                body = self.endpoint_enroll_body(self.endpoint_token(target)["token"])
                r = self.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False)
                self.assertStatus(r, 201)
                devices[target] = r.json["device_id"]
                type(self).devices = devices
            if template.endswith("/quarantine"):
                req["json"] = {"reason": "authorization matrix"}
            elif template.endswith("/release"):
                # Only a quarantined device can be released: the administrator quarantines it first.
                r = self.admin.post("/api/v1/devices/%s/quarantine" % devices[target],
                                    json={"reason": "authorization matrix"})
                self.assertStatus(r, 200)
                req["json"] = {"reason": "authorization matrix"}
            return template.replace("{id}", devices[target]), req
        return template, req

    def totp_code(self, role, secret):
        """A code for a step this person has not used yet (waits at most one step)."""
        last = self.totp_last_step.get(role, -1)
        while int(time.time() // 30) <= last:
            time.sleep(0.25)
        step = int(time.time() // 30)
        self.totp_last_step[role] = step
        return harness.totp(secret, at=step * 30)

    def prepare_scim(self, method, template, target):
        n = self.unique()
        user = {"schemas": [SCIM_USER], "userName": "matrix%d@scim.example" % n,
                "name": {"familyName": "Matrix%d" % n, "givenName": "Cell"},
                "emails": [{"value": "matrix%d@scim.example" % n, "primary": True}], "active": True}
        group = {"schemas": [SCIM_GROUP], "displayName": "Matrix group %d" % n}
        patch = {"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Patched"}]}
        req = {"content_type": "application/scim+json"}
        path = template
        if target == "scim_user":
            r = self.scim.post("/scim/v2/Users", json=user, content_type="application/scim+json")
            self.assertStatus(r, 201)
            path = template.replace("{id}", r.json["id"])
            user = dict(user, title="Replaced")
        elif target == "scim_group":
            r = self.scim.post("/scim/v2/Groups", json=group, content_type="application/scim+json")
            self.assertStatus(r, 201)
            path = template.replace("{id}", r.json["id"])
            group = dict(group, displayName=group["displayName"] + " renamed")
            patch = {"schemas": [SCIM_PATCH],
                     "Operations": [{"op": "replace", "path": "displayName", "value": "Patched %d" % n}]}
        if method in ("POST", "PUT"):
            req["json"] = user if "/Users" in template else group
        elif method == "PATCH":
            req["json"] = patch
        else:
            req.pop("content_type")
        return path, req

    def check(self, method, template, target, role, expect):
        c = self.client_for(role)
        path, req, cleanup = self.prepare(method, template, target, role, c)
        new_pw = req.pop("_new_password", None)
        auth = req.pop("auth", role != "anonymous")
        try:
            r = c.request(method, path, auth=auth, **req)
        finally:
            if cleanup:
                cleanup()
        if new_pw and r.status == 204:
            self.passwords[role] = new_pw
        if method == "POST" and template in ("/api/v1/auth/logout", "/api/v1/auth/logout-all", "/api/v1/me/password"):
            self.forget(role)
        if expect == "A":
            ok = 200 <= r.status < 300
        elif expect == "U":
            ok = r.status == 401
        else:
            ok = r.status == 403 or (r.status == 404 and target in ("in", "out", "self"))
        if not ok:
            return "%-6s %-42s %-5s %-16s expected %s, got %d %s" % (
                method, template, target or "", role, expect, r.status, r.body[:160].decode("utf-8", "replace"))
        return None

    # ------------------------------------------------------------ tests

    def test_table_is_well_formed(self):
        for method, template, target, expect in TABLE:
            self.assertEqual(len(expect), len(ROLES), (method, template))
            self.assertTrue(set(expect) <= set("ADU"), (method, template))
        keys = [(m, t, g) for m, t, g, _ in TABLE]
        self.assertEqual(len(keys), len(set(keys)), "duplicate rows")

    def test_every_route_has_a_row(self):
        covered = {(m, t) for m, t, _, _ in TABLE}
        missing = [r for r in harness.routes() if r not in covered]
        self.assertEqual(missing, [], "routes without a row in the authorization matrix")
        stale = sorted(covered - set(harness.routes()))
        self.assertEqual(stale, [], "rows for routes rampartd does not serve")

    def test_matrix(self):
        served = set(harness.routes())
        failures = []
        cells = 0
        for method, template, target, expect in TABLE:
            if (method, template) not in served:
                failures.append("%s %s: not served (see test_every_route_has_a_row)" % (method, template))
                continue
            for role, want in zip(ROLES, expect):
                with self.subTest(method=method, path=template, target=target, role=role):
                    msg = self.check(method, template, target, role, want)
                    cells += 1
                    if msg:
                        failures.append(msg)
        self.assertEqual(failures, [], "\n%d of %d cells disagree:\n%s" % (len(failures), cells, "\n".join(failures)))

    def test_out_of_scope_denials_are_audited(self):
        sm = self.client_for("security_manager")
        out = self.cast["out"]["id"]
        before = self.admin.get("/api/v1/audit?action=authz.denied&limit=500").json["items"]
        self.assertIn(sm.post("/api/v1/people/%s/invite" % out).status, (403, 404))
        after = self.admin.get("/api/v1/audit?action=authz.denied&limit=500").json["items"]
        new = [e for e in after if e["id"] not in {x["id"] for x in before}]
        self.assertEqual(len(new), 1, new)
        self.assertEqual(new[0]["actor_id"], self.person_ids["security_manager"])
        self.assertEqual(new[0]["object_id"], out)
        self.assertEqual(new[0]["outcome"], "denied")


if __name__ == "__main__":
    unittest.main()
