# SPDX-License-Identifier: AGPL-3.0-or-later
"""Authentication over HTTP: login, cookies and CSRF, lockout, TOTP and
recovery codes, sessions, logout, API tokens, retirement, activation links,
forced password change, and no secret in the server's log."""

import base64
import calendar
import shutil
import subprocess
import time
import unittest
import urllib.parse

import harness
from harness import ServerTestCase, query

LOGIN = "/api/v1/auth/login"
GOOD_PW = "Correct-horse-battery-9"


class AuthBase(ServerTestCase):
    """Shared helpers: picking sample people and remembering secrets for the log check."""

    secrets = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.secrets = [harness.ADMIN_PASSWORD]
        cls._used = set()

    def remember(self, *values):
        for v in values:
            if v:
                self.secrets.append(v)

    def fresh_person(self, kind="employee"):
        """An active person from the sample organization not used by another test."""
        for p in self.all_people(status="active", kind=kind):
            grants = [r for r in p.get("roles", []) if not r.get("implicit")]
            if p["login"] != "admin" and p["id"] not in self._used and not grants:
                self._used.add(p["id"])
                return p
        self.fail("the sample organization has no more unused active %s" % kind)

    def user(self, password=GOOD_PW, roles=()):
        p = self.fresh_person()
        u = self.make_user(p["id"], password=password, roles=roles)
        self.remember(password, u.token)
        return u

    def assertNoSecretsInLog(self):
        log = self.server.log_text()
        leaked = [s for s in self.secrets if s and len(s) >= 6 and s in log]
        self.assertEqual(leaked, [], "secrets appear in the server log")


class Login(AuthBase):
    def test_login_cli_returns_token_and_session(self):
        c = self.server.client()
        r = c.login("admin", harness.ADMIN_PASSWORD)
        self.remember(c.token, r.json.get("csrf_token"))
        body = r.json
        self.assertTrue(body["token"])
        self.assertTrue(body["csrf_token"])
        self.assertTrue({"id", "created_at", "expires_at"} <= set(body["session"]), body)
        self.assertEqual(body["person"]["login"], "admin")
        self.assertIs(body["must_change_password"], False)
        self.assertNotIn("password_hash", body["person"])
        me = c.get("/api/v1/me")
        self.assertStatus(me, 200)
        self.assertEqual(me.json["login"], "admin")
        self.assertIn("admin", [x if isinstance(x, str) else x.get("role") for x in me.json["roles"]])
        self.assertIs(me.json["totp_enabled"], False)

    def test_login_browser_sets_cookie(self):
        c = self.server.client()
        r = c.login("admin", harness.ADMIN_PASSWORD, client="browser")
        self.assertNotIn("token", r.json, "a browser login must not expose the session token to scripts")
        cookies = [x for x in harness.set_cookies(r.headers) if x.startswith("rampart_session=")]
        self.assertEqual(len(cookies), 1)
        self.remember(c.cookie, c.csrf)
        attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookies[0].split(";")[1:]}
        self.assertIn("httponly", attrs)
        self.assertEqual(attrs.get("samesite", "").lower(), "samesite=strict")
        self.assertEqual(attrs.get("path"), "Path=/")
        self.assertNotIn("secure", attrs, "no Secure flag over plain HTTP (it would never be sent back)")
        self.assertStatus(c.get("/api/v1/me"), 200)

    def test_wrong_password_and_unknown_login_look_the_same(self):
        c = self.server.client()
        wrong = c.login("admin", "not-the-password-1", check=False)
        unknown = c.login("no-such-person-xyz", "not-the-password-1", check=False)
        self.assertError(wrong, 401, "unauthenticated")
        self.assertError(unknown, 401, "unauthenticated")
        self.assertEqual(wrong.json, unknown.json)
        self.assertEqual(wrong.json["error"]["message"], "wrong login or password")
        self.assertNotIn("Set-Cookie", wrong.headers)

    def test_login_input_validated(self):
        c = self.server.client()
        self.assertError(c.post(LOGIN, json={"login": "admin"}, auth=False), 400, "invalid")
        self.assertError(c.post(LOGIN, json={"password": "x" * 12}, auth=False), 400, "invalid")
        self.assertError(c.post(LOGIN, json={"login": 5, "password": "x" * 12}, auth=False), 400, "invalid")
        self.assertError(c.post(LOGIN, json={"login": "admin", "password": "x" * 12, "client": "tv"},
                                auth=False), 400, "invalid")

    def test_session_and_me(self):
        r = self.admin.get("/api/v1/me")
        self.assertStatus(r, 200)
        self.assertIn("session", r.json)
        self.assertIn("manages_path", r.json)

    def test_csrf_required_for_cookie_writes(self):
        c = self.server.client()
        c.login("admin", harness.ADMIN_PASSWORD, client="browser")
        self.remember(c.cookie, c.csrf)
        # Reads need no CSRF token.
        self.assertStatus(c.get("/api/v1/tokens"), 200)
        # Writes without it, or with a wrong one, are refused and change nothing.
        r = c.post("/api/v1/tokens", json={"name": "csrf-missing"}, csrf=False)
        self.assertError(r, 403, "csrf")
        r = c.post("/api/v1/tokens", json={"name": "csrf-wrong"}, csrf=False,
                   headers={"X-CSRF-Token": "A" * len(c.csrf)})
        self.assertError(r, 403, "csrf")
        other = self.server.client()
        other.login("admin", harness.ADMIN_PASSWORD, client="browser")
        r = c.post("/api/v1/tokens", json={"name": "csrf-other-session"}, csrf=False,
                   headers={"X-CSRF-Token": other.csrf})
        self.assertError(r, 403, "csrf")
        names = [t["name"] for t in c.get("/api/v1/tokens").json["items"]]
        self.assertFalse([n for n in names if n.startswith("csrf-")], names)
        r = c.post("/api/v1/tokens", json={"name": "csrf-ok"})
        self.assertStatus(r, 201)
        self.remember(r.json["token"])
        # Logout through the cookie also needs the token.
        self.assertError(c.post("/api/v1/auth/logout", csrf=False), 403, "csrf")
        self.assertStatus(c.post("/api/v1/auth/logout"), 204)
        self.assertError(c.get("/api/v1/me"), 401, "unauthenticated")

    def test_bearer_session_token_needs_no_csrf(self):
        c = self.server.admin()
        self.remember(c.token)
        r = c.post("/api/v1/tokens", json={"name": "bearer-no-csrf"})
        self.assertStatus(r, 201)
        self.remember(r.json["token"])

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


class Lockout(AuthBase):
    SERVER_ARGS = {"env": {
        "RAMPART_AUTH_LOCKOUT_THRESHOLD": "3",
        "RAMPART_AUTH_LOCKOUT_WINDOW": "300",
        "RAMPART_AUTH_LOCKOUT": "300",
        "RAMPART_AUTH_SOURCE_LOCKOUT_THRESHOLD": "8",
    }}

    def test_account_lockout(self):
        u = self.user()
        login = u.person["login"]
        attacker = self.server.client(source="127.0.0.3")
        for _ in range(3):
            self.assertError(attacker.login(login, "wrong-password-x1", check=False), 401)
        # Now even the right password is refused, from any address, and says when to retry.
        for src in ("127.0.0.3", "127.0.0.4"):
            r = self.server.client(source=src).login(login, GOOD_PW, check=False)
            self.assertError(r, 429, "locked")
            msg = r.json["error"]["message"].lower()
            self.assertTrue("retry" in msg or "try again" in msg or "until" in msg, msg)
        # Another account is not affected.
        other = self.user()
        self.assertStatus(self.server.client(source="127.0.0.3").login(other.person["login"], GOOD_PW), 200)
        # The session the locked person already had keeps working (lockout stops guessing, not work).
        self.assertStatus(u.get("/api/v1/me"), 200)
        # The failures and the refusal are in the audit log, with the address.
        r = self.admin.get(query("/api/v1/audit", action="auth.login", outcome="failure", limit=50))
        self.assertStatus(r, 200)
        self.assertTrue(any(e.get("source") == "127.0.0.3" for e in r.json["items"]), r.json)

    def test_source_lockout(self):
        victims = [self.user() for _ in range(4)]
        src = "127.0.0.5"
        attacker = self.server.client(source=src)
        # 8 failures spread so that no single account reaches its own threshold of 3.
        attempts = [victims[0], victims[0], victims[1], victims[1], victims[2], victims[2]]
        for v in attempts:
            attacker.login(v.person["login"], "wrong-password-x2", check=False)
        attacker.login("nobody-here-1", "wrong-password-x2", check=False)
        attacker.login("nobody-here-2", "wrong-password-x2", check=False)
        r = attacker.login(victims[3].person["login"], GOOD_PW, check=False)
        self.assertError(r, 429, "locked")
        # The same account from another address is fine: it was the address that was locked.
        r = self.server.client(source="127.0.0.6").login(victims[3].person["login"], GOOD_PW, check=False)
        self.assertStatus(r, 200)

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


class Totp(AuthBase):
    def wait_next_step(self, used_at):
        """Waits (under 31 s) until the TOTP step after @used_at, so a code is fresh."""
        step = int(used_at // 30)
        while int(time.time() // 30) <= step:
            time.sleep(0.2)

    def test_totp_enroll_login_recovery_disable(self):
        u = self.user()
        login = u.person["login"]
        r = u.post("/api/v1/me/totp")
        self.assertStatus(r, (200, 201))
        secret = r.json["secret"]
        self.remember(secret)
        uri = urllib.parse.urlparse(r.json["otpauth_uri"])
        self.assertEqual(uri.scheme, "otpauth")
        self.assertEqual(uri.netloc, "totp")
        params = urllib.parse.parse_qs(uri.query)
        self.assertEqual(params["secret"], [secret])
        self.assertEqual(params["issuer"], ["Rampart"])
        # Not enabled until confirmed: password alone still logs in.
        self.assertStatus(self.server.client().login(login, GOOD_PW), 200)
        # A wrong code does not confirm.
        wrong = "%06d" % ((int(harness.totp(secret)) + 1) % 1000000)
        r = u.post("/api/v1/me/totp/confirm", json={"code": wrong})
        self.assertStatus(r, (400, 401))
        self.assertIs(u.get("/api/v1/me").json["totp_enabled"], False)
        used = time.time()
        code = harness.totp(secret, at=used)
        r = u.post("/api/v1/me/totp/confirm", json={"code": code})
        self.assertStatus(r, 200)
        recovery = r.json["recovery_codes"]
        self.remember(*recovery)
        self.assertEqual(len(recovery), 10)
        self.assertEqual(len(set(recovery)), 10)
        self.assertIs(u.get("/api/v1/me").json["totp_enabled"], True)

        c = self.server.client()
        r = c.login(login, GOOD_PW, check=False)
        self.assertError(r, 401, "totp_required")
        self.assertNotIn("token", r.json or {})
        r = c.login(login, GOOD_PW, totp=wrong, check=False)
        self.assertError(r, 401, "unauthenticated")
        r = c.login(login, "wrong-password-x3", totp=code, check=False)
        self.assertError(r, 401, "unauthenticated")
        self.wait_next_step(used)
        code = harness.totp(secret)
        self.assertStatus(c.login(login, GOOD_PW, totp=code), 200)
        self.remember(c.token)
        self.assertStatus(c.get("/api/v1/me"), 200)
        # The same code cannot be used twice.
        r = self.server.client().login(login, GOOD_PW, totp=code, check=False)
        self.assertError(r, 401)

        # A recovery code replaces the TOTP code once.
        rc = self.server.client()
        self.assertStatus(rc.login(login, GOOD_PW, recovery_code=recovery[0]), 200)
        r = self.server.client().login(login, GOOD_PW, recovery_code=recovery[0], check=False)
        self.assertError(r, 401)
        r = self.server.client().login(login, GOOD_PW, recovery_code="not-a-code", check=False)
        self.assertError(r, 401)

        # Disabling needs the password.
        r = u.delete("/api/v1/me/totp", json={"password": "wrong-password-x4"})
        self.assertStatus(r, (400, 401, 403))
        self.assertIs(u.get("/api/v1/me").json["totp_enabled"], True)
        r = u.delete("/api/v1/me/totp", json={"password": GOOD_PW})
        self.assertStatus(r, 204)
        self.assertIs(u.get("/api/v1/me").json["totp_enabled"], False)
        self.assertStatus(self.server.client().login(login, GOOD_PW), 200)

    def test_totp_secret_not_readable_later(self):
        u = self.user()
        r = u.post("/api/v1/me/totp")
        self.remember(r.json["secret"])
        me = u.get("/api/v1/me")
        self.assertNotIn(r.json["secret"], me.text)
        person = self.admin.get("/api/v1/people/%s" % u.person["id"])
        self.assertNotIn(r.json["secret"], person.text)

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


class TotpReference(unittest.TestCase):
    """The tests' own RFC 6238 code generator, checked before it judges the server."""

    def test_rfc6238_vectors(self):
        secret = base64.b32encode(b"12345678901234567890").decode()
        for at, code in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"),
                         (2000000000, "69279037")):
            self.assertEqual(harness.totp(secret, at=at, digits=8), code, at)

    def test_agrees_with_oathtool(self):
        oathtool = shutil.which("oathtool")
        if not oathtool:
            self.skipTest("oathtool is not installed")
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        out = subprocess.run([oathtool, "--totp", "-b", "--now", "2026-11-26 08:00:00 UTC", secret],
                             capture_output=True, text=True, check=True).stdout.strip()
        at = calendar.timegm((2026, 11, 26, 8, 0, 0, 0, 0, 0))
        self.assertEqual(harness.totp(secret, at=at), out)


class Sessions(AuthBase):
    def test_sessions_list_and_revoke(self):
        u = self.user()
        second = self.server.client()
        second.login(u.person["login"], GOOD_PW)
        self.remember(second.token)
        r = u.get("/api/v1/me/sessions")
        self.assertStatus(r, 200)
        items = r.json["items"]
        self.assertGreaterEqual(len(items), 2)
        current = [s for s in items if s["current"]]
        self.assertEqual(len(current), 1)
        for s in items:
            self.assertTrue({"id", "created_at", "last_seen_at", "expires_at", "source", "user_agent",
                             "current"} <= set(s), s)
            self.assertNotIn("token", s)
        mine = u.get("/api/v1/me").json["session"]["id"]
        self.assertEqual(current[0]["id"], mine)
        theirs = second.get("/api/v1/me").json["session"]["id"]
        self.assertStatus(u.delete("/api/v1/me/sessions/%s" % theirs), 204)
        self.assertError(second.get("/api/v1/me"), 401, "unauthenticated")
        self.assertStatus(u.get("/api/v1/me"), 200)
        # Revoking twice or an unknown id: not found.
        self.assertStatus(u.delete("/api/v1/me/sessions/%s" % theirs), (404, 204))
        self.assertError(u.delete("/api/v1/me/sessions/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404)

    def test_cannot_revoke_someone_elses_session(self):
        a, b = self.user(), self.user()
        b_session = b.get("/api/v1/me").json["session"]["id"]
        r = a.delete("/api/v1/me/sessions/%s" % b_session)
        self.assertError(r, 404)
        self.assertStatus(b.get("/api/v1/me"), 200)

    def test_logout(self):
        u = self.user()
        other = self.server.client()
        other.login(u.person["login"], GOOD_PW)
        self.assertStatus(u.post("/api/v1/auth/logout"), 204)
        self.assertError(u.get("/api/v1/me"), 401)
        self.assertStatus(other.get("/api/v1/me"), 200, "logout ends only the current session")

    def test_logout_all(self):
        u = self.user()
        other = self.server.client()
        other.login(u.person["login"], GOOD_PW)
        r = u.post("/api/v1/tokens", json={"name": "dies with logout-all"})
        self.assertStatus(r, 201)
        tok = self.server.client(token=r.json["token"])
        self.remember(r.json["token"], other.token)
        self.assertStatus(tok.get("/api/v1/me"), 200)
        self.assertStatus(u.post("/api/v1/auth/logout-all"), 204)
        for c in (u, other, tok):
            self.assertError(c.get("/api/v1/me"), 401)
        # The admin's sessions are untouched.
        self.assertStatus(self.admin.get("/api/v1/me"), 200)

    def test_admin_revokes_someones_sessions(self):
        u = self.user()
        r = self.admin.post("/api/v1/people/%s/sessions/revoke" % u.person["id"])
        self.assertStatus(r, 200)
        self.assertGreaterEqual(r.json["revoked"], 1)
        self.assertError(u.get("/api/v1/me"), 401)

    def test_session_idle_expiry_in_store(self):
        """A session whose expiry passed (edited in the database) no longer authenticates."""
        u = self.user()
        sid = u.get("/api/v1/me").json["session"]["id"]
        db = self.server.db()
        db.execute("UPDATE sessions SET expires_at = ? WHERE id = ?", (int(time.time() * 1000) - 1000, sid))
        db.commit()
        db.close()
        self.assertError(u.get("/api/v1/me"), 401)

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


class ApiTokens(AuthBase):
    def test_create_use_list_revoke(self):
        u = self.user()
        r = u.post("/api/v1/tokens", json={"name": "ci pipeline", "expires_in": "90d"})
        self.assertStatus(r, 201)
        t = r.json
        self.remember(t["token"])
        self.assertEqual(t["name"], "ci pipeline")
        self.assertEqual(t["scope"], "api")
        self.assertTrue(t["id"] and t["token"] and t["expires_at"])
        api = self.server.client(token=t["token"])
        me = api.get("/api/v1/me")
        self.assertStatus(me, 200)
        self.assertEqual(me.json["login"], u.person["login"])
        listed = u.get("/api/v1/tokens")
        self.assertStatus(listed, 200)
        item = [x for x in listed.json["items"] if x["id"] == t["id"]]
        self.assertEqual(len(item), 1)
        self.assertNotIn("token", item[0])
        self.assertNotIn(t["token"], listed.text)
        self.assertEqual(item[0]["person_id"], u.person["id"])
        self.assertIsNotNone(item[0]["last_used_at"])
        # Bearer API tokens need no CSRF token for writes.
        r = api.post("/api/v1/tokens", json={"name": "made by a token"})
        self.assertStatus(r, 201)
        self.remember(r.json["token"])
        self.assertStatus(u.delete("/api/v1/tokens/%s" % t["id"]), 204)
        self.assertError(api.get("/api/v1/me"), 401)
        item = [x for x in u.get("/api/v1/tokens").json["items"] if x["id"] == t["id"]]
        self.assertTrue(not item or item[0]["revoked_at"])

    def test_bad_token_requests(self):
        u = self.user()
        self.assertError(u.post("/api/v1/tokens", json={}), 400, "invalid")
        self.assertError(u.post("/api/v1/tokens", json={"name": "x", "expires_in": "forever"}), 400, "invalid")
        self.assertError(u.post("/api/v1/tokens", json={"name": "x", "scope": "root"}), 400, "invalid")

    def test_only_admin_makes_scim_tokens(self):
        u = self.user()
        r = u.post("/api/v1/tokens", json={"name": "sneaky scim", "scope": "scim"})
        self.assertError(r, 403, "forbidden")
        r = self.admin.post("/api/v1/tokens", json={"name": "provisioning", "scope": "scim"})
        self.assertStatus(r, 201)
        self.remember(r.json["token"])
        self.assertEqual(r.json["scope"], "scim")
        # A SCIM token reaches SCIM and nothing else.
        scim = self.server.client(token=r.json["token"])
        self.assertStatus(scim.get("/scim/v2/Users"), 200)
        self.assertIn(scim.get("/api/v1/me").status, (401, 403))

    def test_expired_token_refused(self):
        u = self.user()
        r = u.post("/api/v1/tokens", json={"name": "short lived", "expires_in": "1d"})
        self.assertStatus(r, 201)
        self.remember(r.json["token"])
        api = self.server.client(token=r.json["token"])
        self.assertStatus(api.get("/api/v1/me"), 200)
        db = self.server.db()
        db.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?",
                   (int(time.time() * 1000) - 1000, r.json["id"]))
        db.commit()
        db.close()
        self.assertError(api.get("/api/v1/me"), 401, "unauthenticated")

    def test_cannot_revoke_someone_elses_token(self):
        a, b = self.user(), self.user()
        r = b.post("/api/v1/tokens", json={"name": "b's token"})
        self.remember(r.json["token"])
        self.assertIn(a.delete("/api/v1/tokens/%s" % r.json["id"]).status, (403, 404))
        self.assertStatus(self.server.client(token=r.json["token"]).get("/api/v1/me"), 200)
        # The administrator sees everyone's tokens with ?all=1 and may revoke them.
        ids = [t["id"] for t in self.admin.get("/api/v1/tokens?all=1").json["items"]]
        self.assertIn(r.json["id"], ids)
        r_all = a.get("/api/v1/tokens?all=1")
        if r_all.status == 200:
            self.assertNotIn(r.json["id"], [t["id"] for t in r_all.json["items"]])
        else:
            self.assertError(r_all, 403, "forbidden")
        self.assertStatus(self.admin.delete("/api/v1/tokens/%s" % r.json["id"]), 204)
        self.assertError(self.server.client(token=r.json["token"]).get("/api/v1/me"), 401)

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


class Lifecycle(AuthBase):
    """Retirement, activation links, forced password change."""

    def hr_row(self, person):
        rows = harness.read_sample_org()
        for row in rows:
            if row["employee_number"] == person["employee_number"]:
                return row
        self.fail("person %s is not in the sample file" % person["employee_number"])

    def test_retired_by_hr_import_loses_sessions_at_once(self):
        u = self.user()
        r = u.post("/api/v1/tokens", json={"name": "retiree token"})
        tok = self.server.client(token=r.json["token"])
        self.remember(r.json["token"])
        self.assertStatus(u.get("/api/v1/me"), 200)
        row = dict(self.hr_row(u.person), status="retired")
        r = self.admin.post("/api/v1/hr/import", body=harness.hr_csv([row]), content_type="text/csv")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["counts"]["retired"], 1, r.json)
        self.assertError(u.get("/api/v1/me"), 401)
        self.assertError(tok.get("/api/v1/me"), 401)
        r = self.server.client().login(u.person["login"], GOOD_PW, check=False)
        self.assertError(r, 401)
        self.assertEqual(r.json["error"]["message"], "wrong login or password")
        self.assertEqual(self.admin.get("/api/v1/people/%s" % u.person["id"]).json["status"], "retired")

    def test_retired_by_scim_loses_sessions_at_once(self):
        u = self.user()
        r = self.admin.post("/api/v1/tokens", json={"name": "scim for retirement", "scope": "scim"})
        self.assertStatus(r, 201)
        scim = self.server.client(token=r.json["token"])
        self.remember(r.json["token"])
        self.assertStatus(u.get("/api/v1/me"), 200)
        r = scim.patch("/scim/v2/Users/%s" % u.person["id"], json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]},
            content_type="application/scim+json")
        self.assertStatus(r, 200)
        self.assertIs(r.json["active"], False)
        self.assertError(u.get("/api/v1/me"), 401)
        self.assertError(self.server.client().login(u.person["login"], GOOD_PW, check=False), 401)

    def test_on_leave_cannot_log_in(self):
        u = self.user()
        row = dict(self.hr_row(u.person), status="on_leave")
        r = self.admin.post("/api/v1/hr/import", body=harness.hr_csv([row]), content_type="text/csv")
        self.assertStatus(r, 200)
        self.assertError(u.get("/api/v1/me"), 401)
        self.assertError(self.server.client().login(u.person["login"], GOOD_PW, check=False), 401)

    def test_activation_link_is_one_time(self):
        p = self.fresh_person()
        r = self.admin.post("/api/v1/people/%s/invite" % p["id"])
        self.assertStatus(r, 201)
        token = r.json["activation_token"]
        self.remember(token, r.json["activation_url"])
        self.assertIn(token, r.json["activation_url"])
        self.assertTrue(r.json["expires_at"])
        anon = self.server.client()
        # Too short a password is refused and does not use up the link.
        r = anon.post("/api/v1/auth/activate", json={"token": token, "password": "short"}, auth=False)
        self.assertError(r, 400, "invalid")
        r = anon.post("/api/v1/auth/activate", json={"token": token, "password": GOOD_PW}, auth=False)
        self.assertStatus(r, 204)
        self.assertStatus(self.server.client().login(p["login"], GOOD_PW), 200)
        r = anon.post("/api/v1/auth/activate", json={"token": token, "password": "Another-password-77"},
                      auth=False)
        self.assertStatus(r, (400, 401, 404, 409, 410))
        self.assertError(self.server.client().login(p["login"], "Another-password-77", check=False), 401)
        r = anon.post("/api/v1/auth/activate", json={"token": "rs_bogus" + "x" * 30, "password": GOOD_PW},
                      auth=False)
        self.assertStatus(r, (400, 401, 404, 410))
        # Nothing about the link is readable in the audit log.
        audit = self.admin.get(query("/api/v1/audit", limit=200))
        self.assertNotIn(token, audit.text)

    def test_must_change_password_flow(self):
        p = self.fresh_person()
        r = self.admin.post("/api/v1/people/%s/password" % p["id"], json={})
        self.assertStatus(r, 200)
        temp = r.json["temporary_password"]
        self.remember(temp)
        u = self.server.client()
        r = u.login(p["login"], temp)
        self.assertIs(r.json["must_change_password"], True)
        # Only /me and the password change are open.
        self.assertStatus(u.get("/api/v1/me"), 200)
        self.assertError(u.get("/api/v1/people"), 403, "password_change_required")
        self.assertError(u.post("/api/v1/tokens", json={"name": "x"}), 403, "password_change_required")
        r = u.post("/api/v1/me/password", json={"current_password": "wrong-password-x5", "new_password": GOOD_PW})
        self.assertStatus(r, (400, 401, 403))
        r = u.post("/api/v1/me/password", json={"current_password": temp, "new_password": "short"})
        self.assertError(r, 400, "invalid")
        r = u.post("/api/v1/me/password", json={"current_password": temp, "new_password": temp})
        self.assertStatus(r, 400)
        r = u.post("/api/v1/me/password", json={"current_password": temp, "new_password": GOOD_PW})
        self.assertStatus(r, 204)
        self.remember(GOOD_PW)
        c = self.server.client()
        r = c.login(p["login"], GOOD_PW)
        self.assertIs(r.json["must_change_password"], False)
        self.assertStatus(c.get("/api/v1/people"), 200)
        self.assertError(self.server.client().login(p["login"], temp, check=False), 401)

    def test_admin_sets_given_password(self):
        p = self.fresh_person()
        r = self.admin.post("/api/v1/people/%s/password" % p["id"], json={"password": "Chosen-by-admin-42"})
        self.assertStatus(r, 200)
        self.assertNotIn("temporary_password", r.json or {})
        self.remember("Chosen-by-admin-42")
        r = self.server.client().login(p["login"], "Chosen-by-admin-42")
        self.assertIs(r.json["must_change_password"], True)
        r = self.admin.post("/api/v1/people/%s/password" % p["id"], json={"password": "short"})
        self.assertError(r, 400, "invalid")

    def test_zz_no_secrets_in_log(self):
        self.assertNoSecretsInLog()


if __name__ == "__main__":
    unittest.main()
