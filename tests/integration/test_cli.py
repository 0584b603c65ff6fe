# SPDX-License-Identifier: AGPL-3.0-or-later
"""Integration tests of the rampart command line against a real rampartd.

Self-contained (Python 3 standard library only): CliServer starts rampartd on
a random loopback port with a temporary data directory, and every CLI run
gets a temporary HOME and XDG_CONFIG_HOME so that no real configuration is
read or written.  The binaries come from RAMPART_BUILD (default ./build).
A small fake HTTP server checks what the client sends and how it maps
answers to exit codes.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import pty
import select
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("RAMPART_BUILD", os.path.join(REPO, "build")))
RAMPARTD = os.path.join(BUILD, "src", "server", "rampartd-test")
RAMPART = os.path.join(BUILD, "src", "cli", "rampart")
SAMPLE_ORG = os.path.join(REPO, "examples", "hr", "sample-org.csv")
OUTPUT = os.path.abspath(os.environ.get("RAMPART_TEST_OUTPUT",
                                        os.path.join(REPO, "test-output", "integration")))
ADMIN_PASSWORD = "Cli-admin-test-password-1"
START_TIMEOUT = float(os.environ.get("RAMPART_TEST_START_TIMEOUT", "60"))

# Used only when examples/hr/sample-org.csv is not there.
FALLBACK_ORG = """employee_number,family_name,given_name,email,org_unit,title,status,kind,manager
E0001,Sato,Hanako,hanako.sato@example.com,Acme Group/Acme Japan,President,active,employee,
E0002,Suzuki,Taro,taro.suzuki@example.com,Acme Group/Acme Japan/Sales,Sales manager,active,employee,E0001
E0003,Tanaka,Jiro,jiro.tanaka@example.com,Acme Group/Acme Japan/Sales,Account executive,active,employee,E0002
E0004,Ito,Yuki,yuki.ito@example.com,Acme Group/Acme Japan/IT,Engineer,active,employee,E0001
E0005,Kato,Ken,ken.kato@partner.example,Acme Group/Partner Co,Contractor,active,partner_staff,E0004
"""

HR_HEADER = "employee_number,family_name,given_name,email,org_unit,title,status,kind,manager\n"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_UNREACHABLE = 0, 1, 2, 3, 4, 5


def totp_code(secret, at=None):
    """RFC 6238 code (SHA-1, 30 s, 6 digits) for a base32 secret."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CliServer:
    """One rampartd on 127.0.0.1:<random> with its own temporary data directory."""

    def __init__(self, name, tls=False):
        self.name = name
        self.tls = tls
        self.tmp = tempfile.mkdtemp(prefix="rampart-cli-it-")
        self.data = os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        self.proc = None
        self.port = None
        os.makedirs(OUTPUT, exist_ok=True)
        self.log_path = os.path.join(OUTPUT, name + ".log")
        seed = SAMPLE_ORG
        if not os.path.exists(seed):
            seed = os.path.join(self.tmp, "seed.csv")
            with open(seed, "w") as f:
                f.write(FALLBACK_ORG)
        self.seed = seed

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def cert(self):
        """The self-signed certificate rampartd made (with tls=True)."""
        return os.path.join(self.data, "tls", "cert.pem")

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env["RAMPART_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        env["RAMPART_TEST_FAST_PWHASH"] = "1"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [RAMPARTD, "--data", self.data, "--listen", "127.0.0.1:0", "--port-file",
             self.port_file, "--seed-hr", self.seed] + (["--tls-self-signed"] if self.tls else []),
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rampartd exited with %d; see %s" % (self.proc.returncode,
                                                                        self.log_path))
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    try:
                        ctx = ssl.create_default_context(cafile=self.cert) if self.tls else None
                        with urllib.request.urlopen(self.url + "/readyz", timeout=5, context=ctx) as r:
                            if r.status == 200:
                                return
                    except OSError:
                        pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("rampartd did not become ready; see %s" % self.log_path)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        shutil.rmtree(self.tmp, ignore_errors=True)


class Home:
    """A temporary HOME and XDG_CONFIG_HOME for CLI runs."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rampart-cli-home-")
        self.config = os.path.join(self.dir, "config")

    @property
    def login_file(self):
        return os.path.join(self.config, "rampart", "login.json")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (self.code, self.out, self.err)


def run_cli(home, *args, env=None, stdin=None, timeout=60):
    """Runs rampart with @home as its HOME; no controlling terminal, no proxies."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("RAMPART_") and k.lower() not in
         ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    e["HOME"] = home.dir
    e["XDG_CONFIG_HOME"] = home.config
    e.update(env or {})
    proc = subprocess.run([RAMPART] + list(args), env=e, capture_output=True, text=True,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          timeout=timeout, start_new_session=True)
    return Result(proc)


def run_cli_pty(home, args, answers, env=None, timeout=30):
    """Runs rampart on a pseudo-terminal, typing each answer after its prompt appears.

    Returns (exit code, everything the terminal showed)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
    e["HOME"] = home.dir
    e["XDG_CONFIG_HOME"] = home.config
    e.update(env or {})
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(RAMPART, [RAMPART] + list(args), e)
        finally:
            os._exit(127)
    shown = b""
    upto = 0          # prompts are looked for after the last answer only
    deadline = time.monotonic() + timeout
    pending = list(answers)
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in shown[upto:]:
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
                upto = len(shown)
                continue
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        os.close(fd)
    return wait_child(pid, deadline), shown.decode("utf-8", "replace")


def wait_child(pid, deadline):
    """The exit code of @pid (negative: killed by that signal); killed at @deadline so no test hangs."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("rampart did not finish in time")
        time.sleep(0.05)


def write_secret(home, name, text):
    path = os.path.join(home.dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


class CliTest(unittest.TestCase):
    """The rampart CLI against one rampartd, logged in as the first administrator."""

    @classmethod
    def setUpClass(cls):
        cls.server = CliServer(cls.__name__)
        cls.server.start()
        cls.home = Home()
        cls.pwfile = write_secret(cls.home, "admin.pw", ADMIN_PASSWORD)
        r = run_cli(cls.home, "--server", cls.server.url, "login", "admin", "--password-file",
                    cls.pwfile)
        if r.code != 0:
            cls.server.stop()
            raise AssertionError("login failed: %r" % r)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.home.cleanup()

    def cli(self, *args, **kw):
        return run_cli(self.home, *args, **kw)

    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def assertNotInServerLog(self, secret):
        self.server.log.flush()
        with open(self.server.log_path, "rb") as f:
            self.assertNotIn(secret.encode(), f.read())

    def people(self):
        r = self.cli("people", "list", "--all", "--json")
        self.assertExit(r, EXIT_OK)
        return r.json()["items"]

    def some_person(self):
        for p in self.people():
            if p.get("login") != "admin" and p.get("status") == "active" and p.get("employee_number"):
                return p
        self.fail("no active person besides admin in the sample organization")

    # ------------------------------------------------------------ login

    def test_login_file_is_private(self):
        st = os.stat(self.home.login_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.home.login_file)).st_mode), 0o700)
        with open(self.home.login_file) as f:
            saved = json.load(f)
        self.assertEqual(saved["server"], self.server.url)
        self.assertEqual(saved["login"], "admin")
        self.assertTrue(saved["token"])
        # No temporary files left next to it.
        self.assertEqual(os.listdir(os.path.dirname(self.home.login_file)), ["login.json"])

    def test_login_output_has_no_secret(self):
        home = Home()
        try:
            pw = write_secret(home, "pw", ADMIN_PASSWORD)
            r = run_cli(home, "--server", self.server.url, "--json", "login", "admin",
                        "--password-file", pw)
            self.assertExit(r, EXIT_OK)
            with open(home.login_file) as f:
                token = json.load(f)["token"]
            self.assertNotIn(token, r.out + r.err)
            self.assertNotIn(ADMIN_PASSWORD, r.out + r.err)
            self.assertEqual(r.json()["person"]["login"], "admin")
        finally:
            home.cleanup()

    def test_login_wrong_password(self):
        home = Home()
        try:
            pw = write_secret(home, "pw", "not-the-password-123")
            r = run_cli(home, "--server", self.server.url, "login", "admin", "--password-file", pw)
            self.assertExit(r, EXIT_AUTH)
            self.assertIn("login failed", r.err)
            self.assertNotIn("not-the-password-123", r.out + r.err)
            self.assertFalse(os.path.exists(home.login_file))
        finally:
            home.cleanup()

    def test_login_password_from_stdin(self):
        home = Home()
        try:
            r = run_cli(home, "--server", self.server.url, "login", "admin", "--password-file", "-",
                        stdin=ADMIN_PASSWORD + "\n")
            self.assertExit(r, EXIT_OK)
            self.assertIn("Logged in", r.out)
        finally:
            home.cleanup()

    def test_login_without_terminal_or_file(self):
        home = Home()
        try:
            r = run_cli(home, "--server", self.server.url, "login", "admin")
            self.assertExit(r, EXIT_FAILED)
            self.assertIn("--password-file", r.err)
        finally:
            home.cleanup()

    def test_login_prompts_without_echo(self):
        home = Home()
        try:
            code, shown = run_cli_pty(home, ["--server", self.server.url, "login"],
                                      [("Login:", "admin"), ("Password for admin", ADMIN_PASSWORD)])
            self.assertEqual(code, EXIT_OK, shown)
            self.assertIn("Logged in", shown)
            self.assertNotIn(ADMIN_PASSWORD, shown)   # the terminal did not echo it
            self.assertIn("admin", shown)             # the login was echoed
            # Two different new passwords: nothing changes, exit 1.
            code, shown = run_cli_pty(home, ["passwd"],
                                      [("Current password:", ADMIN_PASSWORD),
                                       ("New password:", "First-new-password-1"),
                                       ("New password again:", "Second-new-password-2")])
            self.assertEqual(code, EXIT_FAILED, shown)
            self.assertIn("differ", shown)
            self.assertNotIn("new-password", shown)
        finally:
            home.cleanup()

    def test_totp_enroll_login_disable(self):
        p = self.some_person()
        self.assertExit(self.cli("people", "set-password", p["login"], "--password-file",
                                 write_secret(self.home, "t.pw", "Totp-person-password-1")), EXIT_OK)
        home = Home()
        try:
            pw = write_secret(home, "pw", "Totp-person-password-1")
            self.assertExit(run_cli(home, "--server", self.server.url, "login", p["login"],
                                    "--password-file", pw), EXIT_OK)
            new = write_secret(home, "new", "Totp-person-password-2")
            self.assertExit(run_cli(home, "passwd", "--password-file", pw, "--new-password-file", new),
                            EXIT_OK)
            # Enroll on a terminal: read the secret it shows, answer with the current code.
            pid, fd = pty.fork()
            if pid == 0:
                try:
                    os.execve(RAMPART, [RAMPART, "totp", "enroll"],
                              dict(os.environ, HOME=home.dir, XDG_CONFIG_HOME=home.config))
                finally:
                    os._exit(127)
            shown, deadline = b"", time.monotonic() + 30
            try:
                while b"Code shown by the app" not in shown and time.monotonic() < deadline:
                    if select.select([fd], [], [], 0.2)[0]:
                        shown += os.read(fd, 4096)
                secret = shown.decode().split("secret: ")[1].split()[0]
                os.write(fd, totp_code(secret).encode() + b"\n")
                while time.monotonic() < deadline:
                    if not select.select([fd], [], [], 0.2)[0]:
                        continue
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        break
                    if not data:
                        break
                    shown += data
            finally:
                os.close(fd)
            text = shown.decode()
            self.assertEqual(wait_child(pid, time.monotonic() + 30), EXIT_OK, text)
            self.assertIn("otpauth://", text)
            codes = [line.strip() for line in text.split("keep them safe):")[1].splitlines() if line.strip()]
            self.assertEqual(len(codes), 10, text)
            self.assertEqual(run_cli(home, "whoami", "--json").json()["totp_enabled"], True)
            # Without a code and without a terminal the login says how to give one.
            r = run_cli(home, "--server", self.server.url, "login", p["login"], "--password-file", new)
            self.assertExit(r, EXIT_AUTH)
            self.assertIn("--totp", r.err)
            r = run_cli(home, "--server", self.server.url, "login", p["login"], "--password-file", new,
                        "--recovery-code-file", write_secret(home, "rc", codes[0]))
            self.assertExit(r, EXIT_OK)
            r = run_cli(home, "totp", "disable", "--password-file", new)
            self.assertExit(r, EXIT_OK)
            self.assertEqual(run_cli(home, "whoami", "--json").json()["totp_enabled"], False)
        finally:
            home.cleanup()

    def test_not_logged_in(self):
        home = Home()
        try:
            r = run_cli(home, "--server", self.server.url, "whoami")
            self.assertExit(r, EXIT_AUTH)
            self.assertIn("rampart login", r.err)
        finally:
            home.cleanup()

    def test_unsafe_login_file_is_refused(self):
        home = Home()
        try:
            os.makedirs(os.path.dirname(home.login_file), mode=0o700)
            with open(self.home.login_file) as f:
                text = f.read()
            with open(home.login_file, "w") as f:
                f.write(text)
            os.chmod(home.login_file, 0o644)
            r = run_cli(home, "--server", self.server.url, "whoami")
            self.assertExit(r, EXIT_AUTH)
            self.assertIn("0600", r.err)
        finally:
            home.cleanup()

    def test_whoami(self):
        r = self.cli("whoami")
        self.assertExit(r, EXIT_OK)
        self.assertIn("admin", r.out)
        r = self.cli("whoami", "--json")
        self.assertExit(r, EXIT_OK)
        me = r.json()
        self.assertEqual(me["login"], "admin")
        roles = [x if isinstance(x, str) else x.get("role") for x in me.get("roles", [])]
        self.assertIn("admin", roles)

    def test_logout(self):
        home = Home()
        try:
            pw = write_secret(home, "pw", ADMIN_PASSWORD)
            self.assertExit(run_cli(home, "--server", self.server.url, "login", "admin",
                                    "--password-file", pw), EXIT_OK)
            with open(home.login_file) as f:
                token = json.load(f)["token"]
            self.assertExit(run_cli(home, "whoami"), EXIT_OK)
            r = run_cli(home, "logout")
            self.assertExit(r, EXIT_OK)
            self.assertFalse(os.path.exists(home.login_file))
            # The session is over on the server too, not just forgotten here.
            r = run_cli(home, "--server", self.server.url, "whoami", env={"RAMPART_TOKEN": token})
            self.assertExit(r, EXIT_AUTH)
            r = run_cli(home, "--server", self.server.url, "logout")
            self.assertExit(r, EXIT_AUTH)
        finally:
            home.cleanup()

    def test_logout_everywhere(self):
        home, other = Home(), Home()
        try:
            pw = write_secret(home, "pw", ADMIN_PASSWORD)
            for h in (home, other):
                self.assertExit(run_cli(h, "--server", self.server.url, "login", "admin",
                                        "--password-file", pw), EXIT_OK)
            r = run_cli(home, "logout", "--everywhere")
            self.assertExit(r, EXIT_OK)
            self.assertFalse(os.path.exists(home.login_file))
            self.assertExit(run_cli(other, "whoami"), EXIT_AUTH)
        finally:
            home.cleanup()
            other.cleanup()
            # The class's own session ended too: log in again for the other tests.
            r = self.cli("--server", self.server.url, "login", "admin", "--password-file", self.pwfile)
            self.assertExit(r, EXIT_OK)

    # ------------------------------------------------------------ people, org, roles

    def test_org(self):
        r = self.cli("org")
        self.assertExit(r, EXIT_OK)
        self.assertIn("UNIT", r.out)
        r = self.cli("org", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.json()["items"])

    def test_people_list(self):
        r = self.cli("people", "list")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.out.startswith("LOGIN"), r.out)
        everyone = self.people()
        self.assertGreater(len(everyone), 1)
        # Following cursors with a small page gives the same people.
        r = self.cli("people", "list", "--all", "--limit", "2", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(sorted(p["id"] for p in r.json()["items"]), sorted(p["id"] for p in everyone))
        self.assertIsNone(r.json()["next"])
        r = self.cli("people", "list", "--limit", "1", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(len(r.json()["items"]), 1)
        self.assertExit(self.cli("people", "list", "--limit", "0"), EXIT_USAGE)
        r = self.cli("people", "list", "--status", "active", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(all(p["status"] == "active" for p in r.json()["items"]))

    def test_people_show(self):
        p = self.some_person()
        for ref in (p["id"], p["login"], p["employee_number"]):
            r = self.cli("people", "show", ref, "--json")
            self.assertExit(r, EXIT_OK)
            self.assertEqual(r.json()["id"], p["id"])
        r = self.cli("people", "show", p["login"])
        self.assertExit(r, EXIT_OK)
        self.assertIn(p["employee_number"], r.out)
        r = self.cli("people", "show", "no-such-person-xyz")
        self.assertExit(r, EXIT_NOT_FOUND)
        self.assertIn("no-such-person-xyz", r.err)
        self.assertExit(self.cli("people", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"), EXIT_NOT_FOUND)
        self.assertExit(self.cli("people", "show"), EXIT_USAGE)
        # A search that fills more than one page of 200 is followed to its end.
        r = self.cli("people", "search", "kestrel", "--limit", "200", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertIsNotNone(r.json()["next"])
        r = self.cli("people", "show", "kestrel")
        self.assertExit(r, EXIT_NOT_FOUND)
        self.assertIn("no person has", r.err)

    def test_people_search(self):
        p = self.some_person()
        r = self.cli("people", "search", p["family_name"], "--json")
        self.assertExit(r, EXIT_OK)
        self.assertIn(p["id"], [x["id"] for x in r.json()["items"]])
        r = self.cli("people", "search", p["family_name"])
        self.assertExit(r, EXIT_OK)
        self.assertIn(p["login"], r.out)

    def test_people_history(self):
        p = self.some_person()
        r = self.cli("people", "history", p["login"], "--json")
        self.assertExit(r, EXIT_OK)
        self.assertIn("items", r.json())

    def test_roles_grant_revoke(self):
        p = self.some_person()
        r = self.cli("roles", "grant", "auditor", p["login"])
        self.assertExit(r, EXIT_OK)
        self.assertIn("Granted auditor", r.out)
        roles = [x["role"] for x in self.cli("people", "show", p["id"], "--json").json()["roles"]]
        self.assertIn("auditor", roles)
        r = self.cli("roles", "revoke", "auditor", p["login"], "--json")
        self.assertExit(r, EXIT_OK)
        self.assertNotIn("auditor", [x["role"] for x in r.json()["roles"]])
        self.assertExit(self.cli("roles", "grant", "auditor", "no-such-person-xyz"), EXIT_NOT_FOUND)
        self.assertExit(self.cli("roles", "grant", "auditor"), EXIT_USAGE)
        r = self.cli("roles", "grant", "no_such_role", p["login"])
        self.assertExit(r, EXIT_FAILED)

    def test_people_set_password_and_invite(self):
        p = self.some_person()
        r = self.cli("people", "set-password", p["login"])
        self.assertExit(r, EXIT_OK)
        temp = r.out.strip()
        self.assertTrue(temp)
        self.assertIn("Temporary password", r.err)
        # The person can log in with it and is told to change it.
        home = Home()
        try:
            pw = write_secret(home, "pw", temp)
            r = run_cli(home, "--server", self.server.url, "login", p["login"], "--password-file", pw)
            self.assertExit(r, EXIT_OK)
            self.assertIn("rampart passwd", r.err)
            new = write_secret(home, "new", "A-brand-new-password-42")
            r = run_cli(home, "passwd", "--password-file", pw, "--new-password-file", new)
            self.assertExit(r, EXIT_OK)
        finally:
            home.cleanup()
        r = self.cli("people", "invite", p["login"])
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.out.strip())
        self.assertNotInServerLog(temp)
        self.assertNotInServerLog(r.out.strip())

    # ------------------------------------------------------------ HR import

    def write_csv(self, text):
        path = os.path.join(self.home.dir, "import.csv")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_hr_import_bad_lines(self):
        p = self.some_person()
        csv = (HR_HEADER +
               "E9001,Okada,Mari,mari.okada@example.com,%s,Analyst,active,employee,\n"
               % (p["org_unit"]["path"] if p.get("org_unit") else "Acme") +
               "E9002,Mori,Aki,aki.mori@example.com,Acme,Analyst,sleeping,employee,\n"
               "E9003,too,few,columns\n")
        r = self.cli("hr", "import", self.write_csv(csv), "--dry-run")
        self.assertExit(r, EXIT_FAILED)
        self.assertIn("line 3:", r.out)
        self.assertIn("line 4:", r.out)
        self.assertNotIn("line 2:", r.out)
        self.assertIn("refused", r.err)
        # Nothing was imported.
        self.assertExit(self.cli("people", "show", "E9001"), EXIT_NOT_FOUND)
        r = self.cli("hr", "import", self.write_csv(csv), "--dry-run", "--json")
        self.assertExit(r, EXIT_FAILED)
        report = r.json().get("report", r.json())   # a refusal wraps the report in an error
        self.assertEqual(report["counts"]["errors"], 2)
        self.assertEqual(sorted(e["line"] for e in report["errors"]), [3, 4])
        # The real import is refused the same way, and changes nothing.
        r = self.cli("hr", "import", self.write_csv(csv))
        self.assertExit(r, EXIT_FAILED)
        self.assertIn("line 3:", r.out)
        self.assertIn("--skip-bad-lines", r.err)
        self.assertExit(self.cli("people", "show", "E9001"), EXIT_NOT_FOUND)

    def test_hr_import_dry_run(self):
        p = self.some_person()
        csv = (HR_HEADER + "E9101,Okada,Mari,mari.okada9101@example.com,%s,Analyst,active,employee,\n"
               % (p["org_unit"]["path"] if p.get("org_unit") else "Acme"))
        r = self.cli("hr", "import", self.write_csv(csv), "--dry-run")
        self.assertExit(r, EXIT_OK)
        self.assertIn("Dry run", r.out)
        self.assertIn("new", r.out)
        self.assertExit(self.cli("people", "show", "E9101"), EXIT_NOT_FOUND)
        self.assertExit(self.cli("hr", "import", "/nonexistent/file.csv"), EXIT_FAILED)
        self.assertExit(self.cli("hr", "import"), EXIT_USAGE)

    # ------------------------------------------------------------ tokens

    def test_tokens(self):
        r = self.cli("tokens", "create", "ci-test", "--expires", "1d")
        self.assertExit(r, EXIT_OK)
        token = r.out.strip()
        self.assertEqual(len(r.out.splitlines()), 1)
        self.assertTrue(token)
        r = self.cli("tokens", "list", "--json")
        self.assertExit(r, EXIT_OK)
        mine = [t for t in r.json()["items"] if t["name"] == "ci-test"]
        self.assertEqual(len(mine), 1)
        self.assertNotIn(token, r.out)
        r = self.cli("tokens", "list")
        self.assertExit(r, EXIT_OK)
        self.assertIn("ci-test", r.out)
        # The token works on its own, without the saved login.
        home = Home()
        try:
            env = {"RAMPART_TOKEN": token}
            r = run_cli(home, "--server", self.server.url, "whoami", "--json", env=env)
            self.assertExit(r, EXIT_OK)
            self.assertEqual(r.json()["login"], "admin")
            r = self.cli("tokens", "revoke", mine[0]["id"])
            self.assertExit(r, EXIT_OK)
            r = run_cli(home, "--server", self.server.url, "whoami", env=env)
            self.assertExit(r, EXIT_AUTH)
        finally:
            home.cleanup()
        self.assertNotInServerLog(token)
        self.assertNotInServerLog(ADMIN_PASSWORD)
        r = self.cli("tokens", "create", "ci-json", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.json()["token"])
        self.assertExit(self.cli("tokens", "create", "x", "--scope", "bogus"), EXIT_USAGE)
        self.assertExit(self.cli("tokens", "create", "x", "--expires", "soon"), EXIT_USAGE)

    def test_sessions_revoke_ends_another_login(self):
        home = Home()
        try:
            r = run_cli(home, "--server", self.server.url, "login", "admin", "--password-file", self.pwfile)
            self.assertExit(r, EXIT_OK)
            self.assertExit(run_cli(home, "--server", self.server.url, "whoami"), EXIT_OK)
            r = self.cli("sessions", "list", "--json")
            self.assertExit(r, EXIT_OK)
            other = [x for x in r.json()["items"] if not x["current"]]
            self.assertTrue(other)
            newest = max(other, key=lambda x: x["created_at"])
            r = self.cli("sessions", "revoke", newest["id"])
            self.assertExit(r, EXIT_OK)
            self.assertEqual(r.out.strip(), "Session %s ended." % newest["id"])
            self.assertExit(run_cli(home, "--server", self.server.url, "whoami"), EXIT_AUTH)
            # This login is untouched; an unknown session is an error, not a success.
            self.assertExit(self.cli("whoami"), EXIT_OK)
            r = self.cli("sessions", "revoke", newest["id"])
            self.assertNotEqual(r.code, EXIT_OK)
            self.assertExit(self.cli("sessions", "revoke"), EXIT_USAGE)
        finally:
            home.cleanup()

    # ------------------------------------------------------------ audit

    def test_audit_list(self):
        r = self.cli("audit", "list")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.out.startswith("ID"), r.out)
        r = self.cli("audit", "list", "--json", "--limit", "5")
        self.assertExit(r, EXIT_OK)
        items = r.json()["items"]
        self.assertTrue(0 < len(items) <= 5)
        r = self.cli("audit", "list", "--json", "--action", items[0]["action"], "--since", "1d")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(all(e["action"] == items[0]["action"] for e in r.json()["items"]))
        self.assertExit(self.cli("audit", "list", "--outcome", "maybe"), EXIT_USAGE)
        self.assertExit(self.cli("audit", "list", "--since", "yesterday"), EXIT_USAGE)

    def test_audit_verify(self):
        r = self.cli("audit", "verify")
        self.assertExit(r, EXIT_OK)
        self.assertIn("intact", r.out)
        r = self.cli("audit", "verify", "--json")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.json()["intact"])

    def test_audit_export(self):
        out = os.path.join(self.home.dir, "audit.jsonl")
        r = self.cli("audit", "export", "-o", out)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            entries = [json.loads(line) for line in f]
        self.assertGreater(len(entries), 0)
        ids = [e["id"] for e in entries]
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(ids, sorted(ids, reverse=True))   # newest first, as documented
        verify = self.cli("audit", "verify", "--json").json()
        self.assertGreaterEqual(verify["entries"], len(entries))
        r = self.cli("audit", "export")
        self.assertExit(r, EXIT_OK)
        self.assertGreaterEqual(len(r.out.splitlines()), len(entries))

    def test_audit_needs_role(self):
        p = self.some_person()
        r = self.cli("people", "set-password", p["login"], "--password-file",
                     write_secret(self.home, "p.pw", "Person-password-12345"))
        self.assertExit(r, EXIT_OK)
        home = Home()
        try:
            pw = write_secret(home, "pw", "Person-password-12345")
            self.assertExit(run_cli(home, "--server", self.server.url, "login", p["login"],
                                    "--password-file", pw), EXIT_OK)
            new = write_secret(home, "new", "Person-password-67890")
            self.assertExit(run_cli(home, "passwd", "--password-file", pw, "--new-password-file", new),
                            EXIT_OK)
            r = run_cli(home, "audit", "list")
            self.assertExit(r, EXIT_AUTH)
        finally:
            home.cleanup()

    # ------------------------------------------------------------ usage

    def test_help_and_usage(self):
        r = self.cli("--help")
        self.assertExit(r, EXIT_OK)
        for word in ("EXIT STATUS", "login", "audit", "RAMPART_TOKEN"):
            self.assertIn(word, r.out)
        for cmd in (["login"], ["people", "list"], ["hr", "import"], ["tokens", "create"],
                    ["audit", "export"], ["roles", "grant"]):
            r = self.cli(*cmd, "--help")
            self.assertExit(r, EXIT_OK)
            self.assertIn("Usage:", r.out)
        self.assertExit(self.cli(), EXIT_USAGE)
        self.assertExit(self.cli("frobnicate"), EXIT_USAGE)
        self.assertExit(self.cli("people", "frobnicate"), EXIT_USAGE)
        self.assertExit(self.cli("people", "list", "--bogus"), EXIT_USAGE)
        self.assertExit(self.cli("--server", "not a url", "whoami"), EXIT_USAGE)

    def test_unreachable(self):
        r = self.cli("--server", "http://127.0.0.1:%d" % free_port(), "whoami")
        self.assertExit(r, EXIT_UNREACHABLE)
        self.assertIn("cannot reach", r.err)


class CliTlsTest(unittest.TestCase):
    """HTTPS with a self-signed certificate: verified always, trusted only through --ca."""

    @classmethod
    def setUpClass(cls):
        cls.server = CliServer(cls.__name__, tls=True)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.home = Home()
        self.pw = write_secret(self.home, "pw", ADMIN_PASSWORD)

    def tearDown(self):
        self.home.cleanup()

    def test_untrusted_certificate_is_refused(self):
        r = run_cli(self.home, "--server", self.server.url, "login", "admin", "--password-file", self.pw)
        self.assertEqual(r.code, EXIT_UNREACHABLE, repr(r))
        self.assertIn("--ca", r.err)
        self.assertFalse(os.path.exists(self.home.login_file))

    def test_ca_is_trusted_and_remembered(self):
        r = run_cli(self.home, "--server", self.server.url, "--ca", self.server.cert, "login", "admin",
                    "--password-file", self.pw)
        self.assertEqual(r.code, EXIT_OK, repr(r))
        with open(self.home.login_file) as f:
            self.assertEqual(json.load(f)["ca"], os.path.realpath(self.server.cert))
        # Later commands trust the same certificate without --ca.
        r = run_cli(self.home, "whoami", "--json")
        self.assertEqual(r.code, EXIT_OK, repr(r))
        self.assertEqual(r.json()["login"], "admin")
        # Other CAs (the system's public ones) do not vouch for it: refused.
        bundle = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
        if os.path.exists(bundle):
            r = run_cli(self.home, "--ca", bundle, "whoami")
            self.assertEqual(r.code, EXIT_UNREACHABLE, repr(r))


class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Answers from FakeHandler.answers[path] and records what was received."""

    answers = {}
    seen = []

    def log_message(self, *a):
        pass

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        FakeHandler.seen.append({"method": self.command, "path": self.path,
                                 "headers": dict(self.headers), "body": body})
        status, headers, payload = FakeHandler.answers.get(self.path.split("?")[0],
                                                           (404, {}, b'{"error":{"code":"not_found",'
                                                                     b'"message":"no route"}}'))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = handle_one


class CliClientTest(unittest.TestCase):
    """What the client sends and how it maps answers, against a fake server."""

    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()

    def setUp(self):
        FakeHandler.answers = {}
        FakeHandler.seen = []
        self.home = Home()

    def tearDown(self):
        self.home.cleanup()

    def answer(self, path, status, obj=None, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        FakeHandler.answers[path] = (status, h, body)

    def save_login(self, server, token):
        os.makedirs(os.path.dirname(self.home.login_file), mode=0o700)
        fd = os.open(self.home.login_file, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"server": server, "token": token, "login": "someone"}, f)

    def error(self, code, message):
        return {"error": {"code": code, "message": message}}

    def test_saved_token_only_goes_to_its_server(self):
        self.save_login("http://127.0.0.1:1", "rs_secret_for_another_server")
        self.answer("/api/v1/me", 401, self.error("unauthenticated", "authentication required"))
        r = run_cli(self.home, "--server", self.url, "whoami")
        self.assertEqual(r.code, EXIT_AUTH, repr(r))
        self.assertEqual(len(FakeHandler.seen), 1)
        self.assertNotIn("Authorization", FakeHandler.seen[0]["headers"])

    def test_bearer_token_and_json_body(self):
        self.save_login(self.url, "rs_saved_token")
        self.answer("/api/v1/tokens", 201, {"id": "T1", "name": "n", "scope": "api", "token": "rt_x",
                                            "expires_at": None})
        r = run_cli(self.home, "tokens", "create", "n", "--expires", "90d")
        self.assertEqual(r.code, EXIT_OK, repr(r))
        seen = FakeHandler.seen[0]
        self.assertEqual(seen["headers"]["Authorization"], "Bearer rs_saved_token")
        self.assertEqual(seen["headers"]["Content-Type"], "application/json")
        self.assertEqual(json.loads(seen["body"]), {"name": "n", "expires_in": "90d"})
        self.assertEqual(r.out, "rt_x\n")

    def test_env_token_wins(self):
        self.save_login(self.url, "rs_saved_token")
        self.answer("/api/v1/me", 200, {"login": "bot", "roles": []})
        r = run_cli(self.home, "whoami", env={"RAMPART_TOKEN": "rt_env_token"})
        self.assertEqual(r.code, EXIT_OK, repr(r))
        self.assertEqual(FakeHandler.seen[0]["headers"]["Authorization"], "Bearer rt_env_token")

    def test_error_exit_codes(self):
        self.save_login(self.url, "rs_t")
        cases = [(401, "unauthenticated", EXIT_AUTH), (403, "forbidden", EXIT_AUTH),
                 (403, "password_change_required", EXIT_AUTH), (404, "not_found", EXIT_NOT_FOUND),
                 (409, "conflict", EXIT_FAILED), (400, "invalid", EXIT_FAILED),
                 (500, "internal", EXIT_FAILED)]
        for status, code, want in cases:
            self.answer("/api/v1/org", status, self.error(code, "msg-" + code + "\x1b[31m"))
            r = run_cli(self.home, "org")
            self.assertEqual(r.code, want, "%s: %r" % (code, r))
            self.assertIn("msg-" + code, r.err)
            self.assertNotIn("\x1b", r.err)   # terminal escapes from the server are neutralized

    def test_redirect_not_followed(self):
        self.save_login(self.url, "rs_t")
        self.answer("/api/v1/org", 302, raw=b"", headers={"Location": self.url + "/elsewhere"})
        self.answer("/elsewhere", 200, {"items": []})
        r = run_cli(self.home, "org")
        self.assertEqual(r.code, EXIT_FAILED, repr(r))
        self.assertEqual([s["path"] for s in FakeHandler.seen], ["/api/v1/org"])

    def test_not_json(self):
        self.save_login(self.url, "rs_t")
        self.answer("/api/v1/org", 200, raw=b"<html>hello</html>")
        r = run_cli(self.home, "org")
        self.assertEqual(r.code, EXIT_FAILED, repr(r))
        self.assertIn("not JSON", r.err)

    def test_totp_prompt_needs_terminal(self):
        self.answer("/api/v1/auth/login", 401, self.error("totp_required", "a one-time code is required"))
        pw = write_secret(self.home, "pw", "whatever-password")
        r = run_cli(self.home, "--server", self.url, "login", "u", "--password-file", pw)
        self.assertEqual(r.code, EXIT_AUTH, repr(r))
        self.assertIn("--totp", r.err)
        body = json.loads(FakeHandler.seen[0]["body"])
        self.assertEqual(body, {"login": "u", "password": "whatever-password", "client": "cli"})
        r = run_cli(self.home, "--server", self.url, "login", "u", "--password-file", pw,
                    "--totp", "123456")
        self.assertEqual(json.loads(FakeHandler.seen[-1]["body"])["totp"], "123456")

    def test_locked(self):
        self.answer("/api/v1/auth/login", 429, self.error("locked", "locked until 08:30 UTC"))
        pw = write_secret(self.home, "pw", "whatever-password")
        r = run_cli(self.home, "--server", self.url, "login", "u", "--password-file", pw)
        self.assertEqual(r.code, EXIT_AUTH, repr(r))
        self.assertIn("locked until 08:30 UTC", r.err)

    def test_ctrl_c_restores_echo(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        e.update(HOME=self.home.dir, XDG_CONFIG_HOME=self.home.config)
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(RAMPART, [RAMPART, "--server", self.url, "login", "bob"], e)
            finally:
                os._exit(127)
        try:
            shown, deadline = b"", time.monotonic() + 30
            while b"Password" not in shown and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    shown += os.read(fd, 4096)
            self.assertIn(b"Password", shown)
            self.assertFalse(termios.tcgetattr(fd)[3] & termios.ECHO)
            os.write(fd, b"\x03")   # Ctrl-C
            self.assertEqual(wait_child(pid, time.monotonic() + 30), -signal.SIGINT)
            self.assertTrue(termios.tcgetattr(fd)[3] & termios.ECHO)
            self.assertEqual(FakeHandler.seen, [])
        finally:
            os.close(fd)

    def test_paging_follows_cursor(self):
        self.save_login(self.url, "rs_t")
        pages = {None: ({"items": [{"id": 3, "action": "a"}, {"id": 2, "action": "a"}], "next": "2"}),
                 "2": ({"items": [{"id": 1, "action": "a"}], "next": None})}

        class Pager(FakeHandler):
            def handle_one(self):
                FakeHandler.seen.append({"path": self.path})
                cursor = None
                if "cursor=" in self.path:
                    cursor = self.path.split("cursor=")[1].split("&")[0]
                status, answer = 200, pages[cursor]
                if "limit=" in self.path:   # a server whose largest page is smaller
                    status, answer = 400, {"error": {"code": "invalid", "field": "limit",
                                                     "message": "limit must be from 1 to 100"}}
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = handle_one

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pager)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            url = "http://127.0.0.1:%d" % httpd.server_address[1]
            out = os.path.join(self.home.dir, "a.jsonl")
            r = run_cli(self.home, "--server", url, "audit", "export", "-o", out,
                        env={"RAMPART_TOKEN": "rt_x"})
            self.assertEqual(r.code, EXIT_OK, repr(r))
            with open(out) as f:
                self.assertEqual([json.loads(x)["id"] for x in f], [3, 2, 1])
            # The refused page size was retried once at the server's default, then left out.
            self.assertEqual(len(FakeHandler.seen), 3, FakeHandler.seen)
            self.assertIn("limit=", FakeHandler.seen[0]["path"])
            self.assertNotIn("limit=", FakeHandler.seen[2]["path"])
        finally:
            httpd.shutdown()
            httpd.server_close()


if __name__ == "__main__":
    unittest.main()
