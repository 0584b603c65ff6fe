# SPDX-License-Identifier: AGPL-3.0-or-later
"""A private Postfix instance on loopback for the integration tests.

Never the system service: its own config directory, queue, data directory and
log file under a temporary directory, an smtpd only on 127.0.0.1:<free port>,
no relay host and no DNS.  Every recipient in the given domains is delivered
by virtual(8) to one Maildir under the temporary directory, which the tests
read (by the Delivered-To header).
Stdlib only.  Raises unittest.SkipTest when Postfix cannot run here (the binary
is missing, or not root: master(8) must start as root); scripts/deps.sh
installs it."""

import email
import email.policy
import os
import pwd
import grp
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

POSTFIX = "/usr/sbin/postfix"
MASTER_CF_BASES = ("/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf")
# The services a private instance needs, from the stock master.cf.
SERVICES = ("pickup", "cleanup", "qmgr", "tlsmgr", "rewrite", "bounce", "defer", "trace",
            "verify", "flush", "proxymap", "proxywrite", "smtp", "relay", "showq", "error",
            "retry", "discard", "local", "virtual", "lmtp", "anvil", "scache", "postlog")


# Outlives a SIGKILLed test process (run.py kills a timed-out module's process
# group; master(8) has its own session): its stdin is a pipe only the test
# process holds, so end of file means the test process is gone, and it stops
# the instance.  Ended by stop() in the normal case.
WATCHDOG = r"""
import shutil, subprocess, sys
postfix, conf, top = sys.argv[1], sys.argv[2], sys.argv[3]
sys.stdin.buffer.read()
subprocess.run([postfix, "-c", conf, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(top, ignore_errors=True)
"""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _master_cf(port):
    base = next((p for p in MASTER_CF_BASES if os.path.isfile(p)), None)
    if base is None:
        raise unittest.SkipTest("postfix: no stock master.cf (%s)" % " or ".join(MASTER_CF_BASES))
    lines, keep = [], False
    with open(base) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace():          # continuation of the previous service
                if keep:
                    lines.append(line.rstrip("\n"))
                continue
            fields = line.split()
            keep = fields[0] in SERVICES and fields[1] != "inet"
            if keep:
                fields[4] = "n"            # no chroot: the queue directory has no /etc
                lines.append(" ".join(fields))
    lines.insert(0, "127.0.0.1:%d inet n - n - - smtpd" % port)
    return "\n".join(lines) + "\n"


class Postfix:
    """with Postfix(["partner.example"]) as pf: ... pf.url ... pf.wait_for(rcpt)"""

    def __init__(self, domains):
        self.domains = list(domains)
        self.dir = None
        self.started = False
        self.watchdog = None

    # ------------------------------------------------------------------ life cycle

    def start(self):
        if not os.access(POSTFIX, os.X_OK):
            raise unittest.SkipTest("postfix: %s is missing (scripts/deps.sh installs it)" % POSTFIX)
        if os.geteuid() != 0:
            raise unittest.SkipTest("postfix: a private instance must be started as root")
        try:
            owner = pwd.getpwnam("postfix")
            grp.getgrnam("postdrop")
        except KeyError:
            raise unittest.SkipTest("postfix: the postfix user or the postdrop group is missing")
        self.dir = tempfile.mkdtemp(prefix="rampart-postfix-")
        os.chmod(self.dir, 0o755)          # the daemons run as postfix and chdir into it
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, POSTFIX, self.conf, self.dir],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            last = ""
            for _ in range(3):             # the free port may be taken before master binds
                self.port = _free_port()
                self._configure(owner)
                r = self._postfix("check")
                if r.returncode != 0:
                    raise RuntimeError("postfix check failed:\n" + r.stdout + self.log())
                r = self._postfix("start")
                if r.returncode == 0 and self._wait_listening(10):
                    self.started = True
                    return self
                last = r.stdout + self.log()
                self._postfix("stop")
            raise RuntimeError("postfix did not start:\n" + last)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self.dir is None:
            return
        if self.started or os.path.exists(os.path.join(self.conf, "main.cf")):
            self._postfix("stop")
            self._wait_master_gone(15)
        self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
            self.watchdog.stdin.close()
            self.watchdog = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ config

    @property
    def conf(self):
        return os.path.join(self.dir, "etc")

    def _configure(self, owner):
        d = self.dir
        for sub in ("etc", "spool", "data", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chown(os.path.join(d, "data"), owner.pw_uid, owner.pw_gid)
        os.chown(os.path.join(d, "mail"), owner.pw_uid, owner.pw_gid)
        main = {
            "compatibility_level": "3.6",
            "config_directory": self.conf,
            "queue_directory": os.path.join(d, "spool"),
            "data_directory": os.path.join(d, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mail.rampart-test.invalid",
            "mydomain": "rampart-test.invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "",
            "relay_domains": "",
            "smtp_dns_support_level": "disabled",
            "smtpd_peername_lookup": "no",
            "default_transport": "error:no outbound mail from the test instance",
            "relay_transport": "error:no outbound mail from the test instance",
            "virtual_mailbox_domains": " ".join(self.domains),
            # virtual(8) allows no $1 substitution in maps: one catch-all Maildir
            # (trailing slash), each message marked with its Delivered-To.
            "virtual_mailbox_maps": "static:inbox/",
            "virtual_mailbox_base": os.path.join(d, "mail"),
            "virtual_minimum_uid": "1",
            "virtual_uid_maps": "static:%d" % owner.pw_uid,
            "virtual_gid_maps": "static:%d" % owner.pw_gid,
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": os.path.join(d, "maillog"),
            "maillog_file_prefixes": d,
            "smtputf8_enable": "no",
            "biff": "no",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.writelines("%s = %s\n" % kv for kv in main.items())
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(_master_cf(self.port))

    def _postfix(self, cmd):
        return subprocess.run([POSTFIX, "-c", self.conf, cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})

    def _master_pid(self):
        try:
            with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def _wait_listening(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(512).startswith(b"220"):
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _wait_master_gone(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and self._master_pid() is not None:
            time.sleep(0.1)

    # ------------------------------------------------------------------ for tests

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def messages(self, rcpt):
        """The messages delivered to rcpt so far, parsed (email.message.EmailMessage),
        by the Delivered-To header virtual(8) adds."""
        d = os.path.join(self.dir, "mail", "inbox", "new")
        out = []
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            if rcpt.lower() in [str(v).strip().lower() for v in m.get_all("Delivered-To", [])]:
                out.append(m)
        return out

    def wait_for(self, rcpt, count=1, timeout=30):
        """Polls the recipient's Maildir until count messages arrived (bounded)."""
        end = time.monotonic() + timeout
        while True:
            msgs = self.messages(rcpt)
            if len(msgs) >= count or time.monotonic() >= end:
                if len(msgs) < count:
                    raise AssertionError("postfix: %d of %d message(s) for %s after %ds; log:\n%s"
                                         % (len(msgs), count, rcpt, timeout, self.log()[-4000:]))
                return msgs
            time.sleep(0.1)
