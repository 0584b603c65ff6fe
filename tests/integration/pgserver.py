# SPDX-License-Identifier: AGPL-3.0-or-later
"""A private PostgreSQL cluster for the tests: never the system service.

Cluster() runs Debian's initdb in a temporary directory (C collation, UTF-8,
superuser "rampart", trust authentication on a Unix socket only), starts it
with pg_ctl listening on no TCP address, and stops and removes it at the
end.  initdb refuses to run as root, so as root the cluster's files belong
to the "postgres" user (or "nobody") and its programs run through runuser.

    with Cluster() as pg:
        url = pg.create_database()      # postgresql:///t_...?host=...&user=rampart

Command line (for a person or the unit tests):
    python3 tests/integration/pgserver.py start DIR   prints the cluster's URL
    python3 tests/integration/pgserver.py stop DIR
Python 3 standard library only.
"""

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

SUPERUSER = "rampart"


def bindir():
    """The directory of initdb and pg_ctl: pg_config's, else the newest under /usr/lib/postgresql."""
    cands = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0:
            cands.append(out.stdout.strip())
    except OSError:
        pass

    def version(path):
        try:
            return int(path.split("/")[-3])
        except (ValueError, IndexError):
            return 0
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for d in cands:
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found (apt-get install postgresql)")


def _run_as():
    """The user to run the server as: the current one, or as root "postgres" (else "nobody")."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


class Cluster:
    """One initdb'd cluster in a temporary directory (or @base), on a Unix socket."""

    def __init__(self, base=None):
        self.base = base
        self.own_base = base is None
        self.proc_user = _run_as()
        self.bin = None
        self.started = False

    @property
    def data(self):
        return os.path.join(self.base, "data")

    @property
    def socket_dir(self):
        return os.path.join(self.base, "sock")

    @property
    def log_path(self):
        return os.path.join(self.base, "postgres.log")

    def _cmd(self, argv):
        if self.proc_user is None:
            return argv
        return ["runuser", "-u", self.proc_user.pw_name, "--"] + argv

    def _own(self, path):
        if self.proc_user is not None:
            os.chown(path, self.proc_user.pw_uid, self.proc_user.pw_gid)

    def start(self):
        self.bin = bindir()
        if self.base is None:
            self.base = tempfile.mkdtemp(prefix="rampart-pg-")
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self._own(self.base)
        os.makedirs(self.socket_dir, exist_ok=True)
        os.chmod(self.socket_dir, 0o755)   # clients of any user reach the socket (0777 itself)
        self._own(self.socket_dir)
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):   # else: started again after stop()
            subprocess.run(self._cmd([os.path.join(self.bin, "initdb"), "-D", self.data, "--locale=C",
                                      "-E", "UTF8", "-U", SUPERUSER, "--auth=trust", "--no-sync"]),
                           check=True, capture_output=True, text=True, timeout=300, cwd=self.base)
        opts = ("-c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off "
                "-c synchronous_commit=off -c max_connections=400 -c shared_buffers=64MB"
                % self.socket_dir)
        r = subprocess.run(self._cmd([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log_path,
                                      "-o", opts, "-w", "-t", "120", "start"]),
                           capture_output=True, text=True, timeout=180, cwd=self.base)
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start failed: %s%s\n%s" % (r.stdout, r.stderr, self.log_tail()))
        self.started = True
        return self

    def stop(self, remove=True):
        if self.started:
            subprocess.run(self._cmd([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                                      "-w", "stop"]), capture_output=True, timeout=120, cwd=self.base)
            self.started = False
        if remove and self.own_base and self.base:
            shutil.rmtree(self.base, ignore_errors=True)

    def stop_keeping_log(self, dest):
        """stop(), first copying the server's log (every refused statement is in it) to @dest."""
        try:
            self.stop(remove=False)
            shutil.copyfile(self.log_path, dest)
        except OSError:
            pass
        finally:
            self.stop()

    def restart(self):
        """Stops and starts the server (fast shutdown: every connection is cut)."""
        subprocess.run(self._cmd([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w",
                                  "restart"]), check=True, capture_output=True, timeout=180, cwd=self.base)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def url(self, dbname="postgres"):
        return url_for(self.socket_dir, dbname)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def url_for(socket_dir, dbname):
    return "postgresql:///%s?host=%s&user=%s" % (dbname, socket_dir, SUPERUSER)


def psql(socket_dir, sql, dbname="postgres"):
    """Runs @sql with psql as the superuser; returns its output (unaligned, tuples only)."""
    exe = os.path.join(bindir(), "psql")
    r = subprocess.run([exe, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socket_dir, "-U", SUPERUSER,
                        "-d", dbname, "-c", sql], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stderr.strip())
    return r.stdout


def psql_url(url, sql):
    """Runs @sql on the database @url names; returns psql's output (unaligned, tuples only)."""
    exe = os.path.join(bindir(), "psql")
    r = subprocess.run([exe, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stderr.strip())
    return r.stdout


def create_database(socket_dir):
    """A new empty database (C collation, as the cluster); returns its URL."""
    name = "t_" + secrets.token_hex(6)
    for attempt in range(5):
        try:
            psql(socket_dir, "CREATE DATABASE %s TEMPLATE template0" % name)
            return url_for(socket_dir, name)
        except RuntimeError as e:
            # Two CREATE DATABASE at once may collide on the template: try again.
            if "being accessed by other users" not in str(e) or attempt == 4:
                raise
            time.sleep(0.2)
    return url_for(socket_dir, name)


def drop_database(socket_dir, url):
    name = url.split("///", 1)[1].split("?", 1)[0]
    psql(socket_dir, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


Cluster.create_database = lambda self: create_database(self.socket_dir)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: pgserver.py start|stop DIR", file=sys.stderr)
        return 2
    c = Cluster(argv[2])
    c.own_base = False
    if argv[1] == "start":
        c.start()
        print(c.url())
    else:
        c.bin = bindir()
        c.started = True
        c.stop(remove=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
