# SPDX-License-Identifier: AGPL-3.0-or-later
"""Operation logs end to end: a real `rampart-agent run` sends what happens
on this PC to a real rampartd — a process executed here, a login appended
to a wtmp file in a fixture root, a USB stick inserted into the fixture's
sysfs and removed — and the events are found through
GET /api/v1/endpoint/events; an event the server refuses is dropped alone.  While the server is stopped the events wait
in the agent's disk buffer (`rampart-agent events --json` shows them) and
arrive once it is back; after kill -9 of the agent nothing it had buffered
is lost and no sequence number is used twice."""

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import uuid

import harness
from harness import ServerTestCase

FIXTURE = os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root")
USER_PROCESS, DEAD_PROCESS = 7, 8
# struct utmpx on Linux (glibc, 64-bit): 384 bytes.
UTMPX = struct.Struct("<h2xi32s4s32s256s2hi2i4i20s")


def agent_path():
    return os.path.join(harness.BUILD, "src", "agent", "rampart-agent")


def utmpx(kind, user, line, host="", ahead_s=0):
    now = time.time() + ahead_s
    return UTMPX.pack(kind, 4242, line.encode(), b"ts/1", user.encode(), host.encode(), 0, 0, 9,
                      int(now), int((now % 1) * 1e6), 0, 0, 0, 0, b"")


class EndpointOplogAgent(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        assert UTMPX.size == 384
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-oplog-agent-")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(FIXTURE, cls.root, symlinks=True)
        os.makedirs(os.path.join(cls.root, "var", "log"), exist_ok=True)
        open(os.path.join(cls.root, "var", "log", "wtmp"), "wb").close()
        cls.bin = os.path.join(cls.tmp, "bin")
        os.mkdir(cls.bin)
        nft = os.path.join(cls.bin, "nft")
        with open(nft, "w") as f:
            f.write("#!/bin/sh\nprintf 'table inet filter {\\n}\\n'\n")
        os.chmod(nft, 0o755)
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        cls.div = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                          if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})[0]
        cls.procs = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # ------------------------------------------------------------ helpers

    def env(self):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        return env

    def agent(self, *args):
        p = subprocess.run([agent_path()] + list(args), capture_output=True, text=True, timeout=120,
                           env=self.env())
        if p.returncode != 0:
            self.fail("rampart-agent %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def enroll(self):
        r = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": self.div, "uses": 1})
        self.assertStatus(r, 201)
        state = os.path.join(self.tmp, "state-" + uuid.uuid4().hex[:8])
        self.agent("enroll", "--server", self.server.url, "--token", r.json["token"], "--state-dir", state,
                   "--root", self.root)
        with open(os.path.join(state, "device.json")) as f:
            return state, json.load(f)["device_id"]

    def start_agent(self, state):
        log = open(os.path.join(self.tmp, "agent.log"), "ab")
        # --server follows the server to its port; the disk buffer and positions stay in the state dir.
        p = subprocess.Popen([agent_path(), "run", "--interval", "1h", "--events-interval", "1s",
                              "--state-dir", state, "--root", self.root, "--usbguard-rules", "",
                              "--server", self.server.url, "--no-enforce"],
                             stdout=log, stderr=log, env=self.env())
        log.close()
        self.procs.append(p)
        # The first tick records the USB and wtmp baselines.
        self.wait(lambda: os.path.exists(os.path.join(state, "usb.json")) and
                  os.path.exists(os.path.join(state, "wtmp.json")), "the agent's first tick")
        return p

    def agent_log(self):
        with open(os.path.join(self.tmp, "agent.log"), errors="replace") as f:
            return f.read()[-4000:]

    def wait(self, cond, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.3)
        self.fail("timed out waiting for %s\nagent log:\n%s" % (what, self.agent_log()))

    def search(self, **params):
        """Every event matching, across pages."""
        items, cursor = [], None
        while True:
            q = dict(params, limit=1000)
            if cursor:
                q["cursor"] = cursor
            r = self.admin.get(harness.query("/api/v1/endpoint/events", **q))
            self.assertStatus(r, 200)
            items += r.json["items"]
            cursor = r.json.get("next")
            if not cursor:
                return items

    def field(self, ev, key):
        return ev.get(key, (ev.get("data") or {}).get(key))

    def has(self, dev, kind, **fields):
        for ev in self.search(device=dev, kind=kind):
            if all(self.field(ev, k) == v for k, v in fields.items()):
                return ev
        return None

    def buffered(self, state):
        return json.loads(self.agent("events", "--json", "--state-dir", state).stdout)

    def wtmp(self, rec):
        with open(os.path.join(self.root, "var", "log", "wtmp"), "ab") as f:
            f.write(rec)

    def usb(self, name, vendor, product, serial):
        d = os.path.join(self.root, "sys", "bus", "usb", "devices")
        os.makedirs(os.path.join(d, name))
        os.makedirs(os.path.join(d, name + ":1.0"))
        for attr, v in (("idVendor", vendor), ("idProduct", product), ("serial", serial),
                        ("manufacturer", "Kingston"), ("product", "DataTraveler")):
            with open(os.path.join(d, name, attr), "w") as f:
                f.write(v + "\n")
        with open(os.path.join(d, name + ":1.0", "bInterfaceClass"), "w") as f:
            f.write("08\n")

    def usb_remove(self, name):
        d = os.path.join(self.root, "sys", "bus", "usb", "devices")
        shutil.rmtree(os.path.join(d, name))
        shutil.rmtree(os.path.join(d, name + ":1.0"))

    def restart_server_on_same_port(self):
        port = self.server.port
        self.server.args = ["--listen", "127.0.0.1:%d" % port]
        deadline = time.monotonic() + 30
        while True:
            try:
                self.server.start()
                break
            except harness.ServerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.assertEqual(self.server.port, port)

    # ------------------------------------------------------------ test

    def test_events_are_searchable_buffered_while_the_server_is_away_and_survive_kill9(self):
        state, dev = self.enroll()
        agent = self.start_agent(state)

        # A process executed on this PC (a copy of sleep with a name of its own, long enough for a /proc scan).
        exe = os.path.join(self.tmp, "oplog-marker-" + uuid.uuid4().hex[:8])
        shutil.copy("/bin/sleep", exe)
        subprocess.run([exe, "2.5"], check=True)
        # A login in the fixture's wtmp, and a USB stick that is not designated (no USBGuard: reported).
        # A record dated three hours ahead: the server refuses that event (clock skew), and the agent
        # narrows its batch down to it and drops it alone; the events around it still arrive.
        self.wtmp(utmpx(USER_PROCESS, "it-future", "pts/4", ahead_s=3 * 3600))
        self.wtmp(utmpx(USER_PROCESS, "it-alice", "pts/5", "192.0.2.9"))
        self.usb("3-1", "0951", "1666", "IT0001")

        ev = self.wait(lambda: self.has(dev, "exec", path=exe), "the exec event")
        self.assertEqual(self.field(ev, "argv"), [exe, "2.5"])
        self.assertEqual(self.field(ev, "uid"), os.getuid())
        ev = self.wait(lambda: self.has(dev, "login", user="it-alice"), "the login event")
        self.assertEqual(self.field(ev, "tty"), "pts/5")
        self.assertEqual(self.field(ev, "host"), "192.0.2.9")
        ev = self.wait(lambda: self.has(dev, "usb_insert", vendor="0951"), "the USB insert")
        self.assertEqual(self.field(ev, "product"), "1666")
        self.assertEqual(self.field(ev, "serial"), "IT0001")
        self.assertIs(self.field(ev, "storage"), True)
        self.assertEqual(self.field(ev, "action"), "reported")
        self.assertIsNone(self.has(dev, "login", user="it-future"))
        self.wait(lambda: "the server refused event" in self.agent_log(), "the refusal in the agent's log")
        # Searchable by person too.
        self.assertTrue(any(e["kind"] == "login" for e in self.search(person="it-alice", device=dev)))

        # The server goes away: events wait in the buffer, visible with `events --json`.
        self.server.stop()
        self.wtmp(utmpx(USER_PROCESS, "it-bob", "pts/6"))
        self.usb_remove("3-1")
        buf = self.wait(lambda: (lambda b: b if any(e["kind"] == "login" and e.get("user") == "it-bob"
                                                   for e in b["events"]) else None)(self.buffered(state)),
                        "it-bob's login in the buffer")
        self.assertGreater(buf["buffer"]["pending"], 0)
        self.assertTrue(any(e["kind"] == "usb_remove" and e["vendor"] == "0951" for e in buf["events"]))
        time.sleep(3)   # a few failed attempts, with backoff
        self.assertIsNone(agent.poll(), "the agent keeps running without its server")
        self.restart_server_on_same_port()
        self.wait(lambda: self.has(dev, "login", user="it-bob"), "it-bob's login after the server returned")
        self.wait(lambda: self.has(dev, "usb_remove", vendor="0951", serial="IT0001"), "the USB removal")
        self.wait(lambda: self.buffered(state)["buffer"]["pending"] == 0, "an empty buffer")

        # kill -9 of the agent while events are buffered: none of them is lost.
        self.server.stop()
        self.wtmp(utmpx(USER_PROCESS, "it-carol", "pts/7"))
        self.wtmp(utmpx(DEAD_PROCESS, "", "pts/7"))
        self.wait(lambda: any(e["kind"] == "logout" and e.get("user") == "it-carol"
                              for e in self.buffered(state)["events"]), "it-carol's session in the buffer")
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        self.restart_server_on_same_port()
        agent = self.start_agent(state)
        self.wait(lambda: self.has(dev, "login", user="it-carol"), "it-carol's login after kill -9")
        self.wait(lambda: self.has(dev, "logout", user="it-carol"), "it-carol's logout after kill -9")
        # One event per sequence number, never reused; the wtmp position survived (no second it-alice login).
        every = self.search(device=dev)
        seqs = [e["seq"] for e in every]
        self.assertEqual(len(seqs), len(set(seqs)))
        self.assertEqual(len([e for e in every if e["kind"] == "login" and self.field(e, "user") == "it-alice"]), 1)
        # SIGTERM stops the agent cleanly (exit 0; under ASan also without leaks).
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(timeout=60), 0, self.agent_log())
