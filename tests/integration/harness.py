# SPDX-License-Identifier: AGPL-3.0-or-later
"""Integration-test harness: a real rampartd on a random loopback port.

Server starts rampartd from the build directory (RAMPART_BUILD, set by run.py)
with a temporary data directory, --listen 127.0.0.1:0 and --port-file, waits
for /readyz, and keeps the server's log (stderr) under test-output/integration/.
Client speaks the JSON API with a session cookie + CSRF token (browser style)
or a bearer token (CLI style).  Python 3 standard library only.

Engines: with RAMPART_TEST_ENGINE=postgresql (run.py --engine postgresql,
which starts one private cluster and sets RAMPART_TEST_PG_SOCKET), every
Server gets a fresh database of its own, passed with --database; a Server
given the data directory of an earlier one gets that one's database again.
Server.db() opens the server's database for tests that read or tamper with
it directly, on either engine; a test that still opens the SQLite file itself
(Server.db_path) is skipped on PostgreSQL.
"""

import base64
import hashlib
import hmac
import http.client
import json as jsonlib
import os
import shutil
import signal
import ssl
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("RAMPART_BUILD", os.path.join(REPO, "build")))
OUTPUT = os.path.abspath(os.environ.get("RAMPART_TEST_OUTPUT", os.path.join(REPO, "test-output", "integration")))
SAMPLE_ORG = os.path.abspath(os.environ.get("RAMPART_TEST_SAMPLE_ORG",
                                            os.path.join(REPO, "examples", "hr", "sample-org.csv")))
ADMIN_PASSWORD = "Rampart-admin-test-pw-1"
# Under ASan and on a busy CI machine start-up is slow; this bounds waiting, it is no threshold.
START_TIMEOUT = float(os.environ.get("RAMPART_TEST_START_TIMEOUT", "60"))
ENGINE = os.environ.get("RAMPART_TEST_ENGINE", "sqlite")
PG_SOCKET = os.environ.get("RAMPART_TEST_PG_SOCKET")
# Data directory -> database URL, so that a restart on the same data finds its data.
_databases = {}


def engine_is_pg():
    return ENGINE == "postgresql"


def database_for(data_dir):
    """The database URL for a server on @data_dir (PostgreSQL only): new on first use."""
    import pgserver
    key = os.path.abspath(data_dir)
    if key not in _databases:
        if not PG_SOCKET:
            raise ServerError("RAMPART_TEST_ENGINE=postgresql needs RAMPART_TEST_PG_SOCKET (use run.py --engine)")
        _databases[key] = pgserver.create_database(PG_SOCKET)
    return _databases[key]


def rampartd_path():
    return os.path.join(BUILD, "src", "server", "rampartd")


def cli_path():
    return os.path.join(BUILD, "src", "cli", "rampart")


def routes():
    """Every documented route as a sorted list of (METHOD, pattern), from rampartd --routes."""
    out = subprocess.run([rampartd_path(), "--routes"], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    result = set()
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        method, pattern = line.split(None, 1)
        result.add((method, pattern))
    return sorted(result)


class ServerError(Exception):
    pass


class Response(tuple):
    """(status, headers, json) that also carries .body (bytes) and .text."""

    def __new__(cls, status, headers, data, body):
        self = tuple.__new__(cls, (status, headers, data))
        self.status, self.headers, self.json, self.body = status, headers, data, body
        return self

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def error_code(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def __repr__(self):
        return "Response(%d, %s)" % (self.status, self.body[:400])


class Server:
    """One rampartd process.  Use as a context manager or call start()/stop().

    name       label for the log file (test-output/integration/<name>.log)
    seed_hr    load examples/hr/sample-org.csv on first start
    env        extra environment (e.g. RAMPART_AUTH_LOCKOUT_THRESHOLD)
    config     INI text written to a file and passed with --config
    tls        --tls-self-signed
    data_dir   reuse a data directory (otherwise a new temporary one)
    database   a database URL for --database (PostgreSQL: otherwise the run's
               engine decides, see above)
    """

    def __init__(self, name, seed_hr=True, env=None, config=None, tls=False, args=(),
                 data_dir=None, admin_password=ADMIN_PASSWORD, database=None):
        self.name = name
        self.seed_hr = seed_hr
        self.extra_env = dict(env or {})
        self.config = config
        self.tls = tls
        self.args = list(args)
        self.admin_password = admin_password
        self.proc = None
        self.port = None
        self._own_tmp = None
        if data_dir is None:
            self._own_tmp = tempfile.mkdtemp(prefix="rampart-it-")
            data_dir = os.path.join(self._own_tmp, "data")
        self.data_dir = data_dir
        self.work_dir = self._own_tmp or tempfile.mkdtemp(prefix="rampart-it-")
        os.makedirs(OUTPUT, exist_ok=True)
        self.log_path = os.path.join(OUTPUT, name + ".log")
        self._log_offset = 0
        self._own_database = database is None and engine_is_pg()
        self.database = database or (database_for(data_dir) if engine_is_pg() else None)

    # ------------------------------------------------------------ lifecycle

    def command(self):
        cmd = [rampartd_path(), "--data", self.data_dir, "--listen", "127.0.0.1:0",
               "--port-file", self.port_file]
        if self.database:
            cmd += ["--database", self.database]
        if self.seed_hr:
            cmd += ["--seed-hr", SAMPLE_ORG]
        if self.tls:
            cmd.append("--tls-self-signed")
        if self.config is not None:
            path = os.path.join(self.work_dir, "rampart.ini")
            with open(path, "w") as f:
                f.write(self.config)
            cmd += ["--config", path]
        return cmd + self.args

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env["RAMPART_TEST_FAST_PWHASH"] = "1"
        if self.admin_password is not None:
            env["RAMPART_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        return env

    @property
    def port_file(self):
        return os.path.join(self.work_dir, "port")

    def start(self, wait=True):
        if self.proc is not None:
            raise ServerError("already started")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        log = open(self.log_path, "ab")
        log.write(("==== %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.command()))).encode())
        log.flush()
        self._log_offset = log.tell()
        self.proc = subprocess.Popen(self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, cwd=self.work_dir)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None
                raise ServerError("rampartd exited with %d during start-up:\n%s" % (rc, self.log_tail()))
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    try:
                        r = self.client().request("GET", "/readyz", auth=False)
                        if r.status == 200:
                            return
                    except OSError:
                        pass
            time.sleep(0.05)
        self.kill9()
        raise ServerError("rampartd was not ready within %ss:\n%s" % (START_TIMEOUT, self.log_tail()))

    def stop(self, timeout=30):
        """SIGTERM; the server must exit 0.  Returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise ServerError("rampartd did not stop within %ss after SIGTERM:\n%s"
                              % (timeout, self.log_tail()))
        self.proc = None
        if rc != 0:
            raise ServerError("rampartd exited with %d after SIGTERM:\n%s" % (rc, self.log_tail()))
        return rc

    def kill9(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.proc is not None:
            try:
                self.stop()
            finally:
                if self.proc is not None:
                    self.kill9()
        shutil.rmtree(self.work_dir, ignore_errors=True)
        if self._own_database and self._own_tmp:
            # The data directory is gone with work_dir: so is its database.
            import pgserver
            try:
                pgserver.drop_database(PG_SOCKET, self.database)
            except RuntimeError:
                pass
            _databases.pop(os.path.abspath(self.data_dir), None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # ------------------------------------------------------------ access

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def db(self, timeout=30):
        """A connection to this server's database for a test to read or tamper with:
        sqlite3's on SQLite, PgDb (the same calls, through psql) on PostgreSQL."""
        if engine_is_pg():
            return PgDb(self.database)
        import sqlite3
        return sqlite3.connect(self.db_path, timeout=timeout)

    @property
    def db_path(self):
        """The SQLite file; a test that opens it is skipped on PostgreSQL."""
        if engine_is_pg():
            raise unittest.SkipTest("opens the SQLite database file directly (SQLite only)")
        return os.path.join(self.data_dir, "rampart.db")

    @property
    def cert_path(self):
        return os.path.join(self.data_dir, "tls", "cert.pem")

    def client(self, **kw):
        return Client(self, **kw)

    def admin(self, client="cli"):
        c = self.client()
        c.login("admin", self.admin_password, client=client)
        return c

    def log_text(self):
        """Everything the server wrote to stdout/stderr in this test run's log file."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        try:
            return "\n".join(self.log_text().splitlines()[-n:])
        except OSError:
            return "(no log)"


class PgDb:
    """The part of sqlite3's connection the tests use, on a PostgreSQL database through
    psql: execute(sql, params) with "?" placeholders (bound as literals), fetchone,
    fetchall and iteration; rows are tuples that also take column names (as with
    row_factory = sqlite3.Row, which is accepted and changes nothing); every
    statement commits by itself, so commit() has nothing left to do.  SQLite's
    "PRAGMA integrity_check" and "PRAGMA foreign_key_check" answer as a sound
    database does: PostgreSQL checks both at every write."""

    row_factory = None

    def __init__(self, url):
        self.url = url

    @staticmethod
    def literal(v):
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (bytes, bytearray)):
            return "'\\x%s'::bytea" % bytes(v).hex()
        return "'%s'" % str(v).replace("'", "''")

    def bind(self, sql, params):
        out, it, quote = [], iter(params), None
        for ch in sql:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "?":
                out.append(self.literal(next(it)))
                continue
            out.append(ch)
        return "".join(out)

    def execute(self, sql, params=()):
        import pgserver
        word = sql.split(None, 1)[0].upper()
        if word == "PRAGMA":
            check = sql.split()[1].lower()
            return PgCursor([("ok",)] if check == "integrity_check" else [])
        text = self.bind(sql, params)
        if word in ("SELECT", "WITH") or " RETURNING " in text.upper():
            out = pgserver.psql_url(self.url, "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % text)
            return PgCursor([PgRow(r) for r in jsonlib.loads(out)])
        pgserver.psql_url(self.url, text)
        return PgCursor([])

    def commit(self):
        pass

    def close(self):
        pass


class PgRow(tuple):
    """A row that is a tuple and also answers row["column"]."""

    def __new__(cls, obj):
        self = tuple.__new__(cls, obj.values())
        self.names = list(obj.keys())
        return self

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self):
        return list(self.names)


class PgCursor:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return list(self.rows)

    def __iter__(self):
        return iter(self.rows)


class Client:
    """A JSON API client for one identity (cookie+CSRF or bearer token)."""

    def __init__(self, server, token=None, timeout=60, source=None):
        self.server = server
        self.source = (source, 0) if source else None  # e.g. "127.0.0.2": another client address
        self.token = token
        self.cookie = None
        self.csrf = None
        self.timeout = timeout
        self.last_login = None

    def _conn(self):
        if self.server.tls:
            # The self-signed certificate names IP:127.0.0.1, so the hostname check stays on.
            ctx = ssl.create_default_context(cafile=self.server.cert_path)
            return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=self.timeout,
                                               context=ctx, source_address=self.source)
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=self.timeout,
                                          source_address=self.source)

    def request(self, method, path, json=None, body=None, headers=None, auth=True,
                content_type=None, csrf=True):
        """Sends one request.  Returns Response (status, headers, json)."""
        hdrs = {}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if auth:
            if self.token:
                hdrs["Authorization"] = "Bearer " + self.token
            elif self.cookie:
                hdrs["Cookie"] = "rampart_session=" + self.cookie
                if csrf and self.csrf and method not in ("GET", "HEAD"):
                    hdrs["X-CSRF-Token"] = self.csrf
        hdrs.update(headers or {})
        conn = self._conn()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            status, rheaders = r.status, r.headers
        finally:
            conn.close()
        parsed = None
        ctype = rheaders.get("Content-Type", "")
        if data and ("json" in ctype):
            try:
                parsed = jsonlib.loads(data)
            except ValueError:
                parsed = None
        return Response(status, rheaders, parsed, data)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.request("DELETE", path, json=json, **kw)

    def login(self, login, password, totp=None, recovery_code=None, client="cli", check=True):
        """POST /api/v1/auth/login.  client="cli" keeps the bearer token, "browser" the cookie."""
        body = {"login": login, "password": password}
        if totp is not None:
            body["totp"] = totp
        if recovery_code is not None:
            body["recovery_code"] = recovery_code
        if client != "browser":
            body["client"] = client
        r = self.request("POST", "/api/v1/auth/login", json=body, auth=False)
        self.last_login = r
        if r.status == 200:
            self.token = None
            self.cookie = None
            if client == "browser":
                self.cookie = session_cookie(r.headers)
            else:
                self.token = r.json.get("token")
            self.csrf = r.json.get("csrf_token")
        elif check:
            raise AssertionError("login %s failed: %r" % (login, r))
        return r


def set_cookies(headers):
    return headers.get_all("Set-Cookie") or []


def session_cookie(headers):
    for c in set_cookies(headers):
        name, _, rest = c.partition("=")
        if name.strip() == "rampart_session":
            return rest.split(";", 1)[0].strip()
    return None


def query(path, **params):
    params = {k: v for k, v in params.items() if v is not None}
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


# ---------------------------------------------------------------- TOTP (RFC 6238)

def totp(secret_b32, at=None, step=30, digits=6):
    """The RFC 6238 code for a base32 secret at time @at (default now)."""
    s = secret_b32.strip().replace(" ", "").upper()
    key = base64.b32decode(s + "=" * (-len(s) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return "%0*d" % (digits, code)


# ---------------------------------------------------------------- sample organization

def read_sample_org(path=SAMPLE_ORG):
    """The sample HR file as a list of dicts (csv module)."""
    import csv
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


HR_COLUMNS = ["employee_number", "family_name", "given_name", "email", "org_unit", "title",
              "status", "kind", "manager"]


def hr_csv(rows, columns=HR_COLUMNS):
    """Rows (dicts) to CSV text with the HR header."""
    import csv
    import io
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in columns})
    return out.getvalue()


class ServerTestCase(unittest.TestCase):
    """A test class with one server for all its tests (setUpClass), admin logged in.

    Subclasses set SERVER_ARGS (dict of Server keyword arguments) and
    LOGIN_ADMIN = False when the class must not depend on a working login.
    """

    SERVER_ARGS = {}
    LOGIN_ADMIN = True

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.__name__, **cls.SERVER_ARGS)
        try:
            cls.server.start()
            cls.admin = cls.server.admin() if cls.LOGIN_ADMIN else None
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            srv.stop()
        finally:
            srv.cleanup()

    # helpers shared by the test files

    def assertStatus(self, r, status, msg=None):
        want = status if isinstance(status, (tuple, list, set)) else (status,)
        if r.status not in want:
            self.fail("%sexpected HTTP %s, got %d: %s"
                      % (msg + ": " if msg else "", status, r.status, r.body[:600]))

    def assertError(self, r, status, code=None):
        self.assertStatus(r, status)
        self.assertIsInstance(r.json, dict, "error body must be JSON: %r" % (r,))
        self.assertIn("error", r.json)
        self.assertIsInstance(r.json["error"].get("message"), str)
        if code is not None:
            self.assertEqual(r.json["error"].get("code"), code, r)

    def person_by_login(self, login, client=None):
        c = client or self.admin
        r = c.get(query("/api/v1/people", q=login, limit=100))
        self.assertStatus(r, 200)
        for p in r.json["items"]:
            if p["login"] == login:
                return p
        self.fail("no person with login %r" % login)

    def person_by_number(self, number, client=None):
        c = client or self.admin
        r = c.get(query("/api/v1/people", q=number, limit=100))
        self.assertStatus(r, 200)
        for p in r.json["items"]:
            if p.get("employee_number") == number:
                return p
        self.fail("no person with employee number %r" % number)

    def all_people(self, client=None, **params):
        c = client or self.admin
        items, cursor = [], None
        while True:
            r = c.get(query("/api/v1/people", limit=500, cursor=cursor, **params))
            self.assertStatus(r, 200)
            items += r.json["items"]
            cursor = r.json.get("next")
            if not cursor:
                return items

    def make_user(self, login_or_id, password="Correct-horse-battery-9", roles=(), client=None):
        """Gives a person from the sample org a usable password (set, then changed)
        and optional roles; returns a logged-in Client for them."""
        c = client or self.admin
        p = self.person_by_login(login_or_id) if not _looks_like_id(login_or_id) else {"id": login_or_id}
        pid = p["id"]
        for role in roles:
            name, _, scope = role.partition(":")
            body = {"scope_org": scope} if scope else {}
            r = c.put("/api/v1/people/%s/roles/%s" % (pid, name), json=body)
            self.assertStatus(r, 200, "grant %s" % role)
        temp = "Temporary-password-" + pid[-6:]
        r = c.post("/api/v1/people/%s/password" % pid, json={"password": temp})
        self.assertStatus(r, 200, "set password")
        person = c.get("/api/v1/people/%s" % pid).json
        u = self.server.client()
        r = u.login(person["login"], temp)
        self.assertTrue(r.json.get("must_change_password"), r)
        r = u.post("/api/v1/me/password", json={"current_password": temp, "new_password": password})
        self.assertStatus(r, 204, "change password")
        u.login(person["login"], password)
        u.person = person
        u.password = password
        return u


def _looks_like_id(s):
    return len(s) == 26 and s.isalnum() and s.upper() == s
