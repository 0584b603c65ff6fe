# SPDX-License-Identifier: AGPL-3.0-or-later
"""Operation logs of endpoints: devices enrolled with a real rampartd send
signed batches of events to POST /api/v1/endpoint/events; a retried batch
changes nothing, events out of order, of unknown kinds or with unknown
fields are refused with the event and field named, and every limit holds;
searches filter by device, person, kind and time, page with a cursor and
are scoped (a security manager sees only their subtree); the retention
sweep removes events and posture reports older than the policy's
logging.retention_days but keeps each device's latest report.

Devices are enrolled through the API with an Ed25519 key made here, and
requests are signed with the openssl command, as rampart-agent signs them
(method, path, timestamp, SHA-256 of the body)."""

import base64
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time

import harness
from harness import ServerTestCase

ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
DAY_MS = 86400 * 1000
PATH = "/api/v1/endpoint/events"


def now_ms():
    return int(time.time() * 1000)


class Device:
    """An enrolled device: its id and its key, signing requests with openssl."""

    def __init__(self, test, org, owner=None):
        self.test = test
        self.seed = os.urandom(32)
        self.key = os.path.join(test.tmp, "dev-%s.der" % base64.b16encode(self.seed[:6]).decode())
        with open(self.key, "wb") as f:
            f.write(ED25519_PKCS8_PREFIX + self.seed)
        os.chmod(self.key, 0o600)
        pub = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", self.key, "-pubout", "-outform", "DER"],
                             capture_output=True, check=True, timeout=60).stdout[-32:]
        tok = test.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": org, "uses": 1})
        test.assertStatus(tok, 201)
        body = {"token": tok.json["token"], "hostname": "pc-%s" % self.seed[:3].hex(),
                "machine_id": hashlib.md5(self.seed).hexdigest(), "public_key": base64.b64encode(pub).decode()}
        if owner:
            body["owner"] = owner
        r = test.server.client().post("/api/v1/endpoint/enroll", json=body, auth=False)
        test.assertStatus(r, 201)
        self.id = r.json["device_id"]
        self.hostname = body["hostname"]

    def sign(self, raw, path, ts=None):
        ts = now_ms() if ts is None else ts
        msg = b"POST\n%s\n%d\n%s" % (path.encode(), ts, hashlib.sha256(raw).hexdigest().encode())
        data = self.key + ".msg"
        with open(data, "wb") as f:
            f.write(msg)
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", self.key, "-keyform", "DER", "-rawin",
                              "-in", data], capture_output=True, check=True, timeout=60).stdout
        return {"X-Rampart-Device": self.id, "X-Rampart-Timestamp": str(ts),
                "X-Rampart-Signature": base64.b64encode(sig).decode(), "Content-Type": "application/json"}

    def post_raw(self, raw, path=PATH, headers=None):
        headers = headers or self.sign(raw, path)
        return self.test.server.client().request("POST", path, body=raw, headers=headers, auth=False)

    def send(self, events, **kw):
        return self.post_raw(json.dumps({"events": events}).encode(), **kw)

    def checkin(self):
        r = self.post_raw(json.dumps({"agent_version": "test"}).encode(), path="/api/v1/endpoint/checkin")
        self.test.assertStatus(r, 200)
        return r.json


def exec_event(seq, ts=None, user="alice", path="/usr/bin/ls", argv=None):
    return {"seq": seq, "ts": now_ms() - 1000 if ts is None else ts, "kind": "exec", "pid": 100 + seq, "ppid": 1,
            "uid": 1000, "user": user, "path": path, "argv": argv if argv is not None else [path, "-l"],
            "cwd": "/home/" + user}


class EndpointEvents(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-ev-")
        people = [p for p in cls.admin.get("/api/v1/people?limit=500").json["items"] if p["kind"] == "employee"]
        divisions = sorted({"/".join(p["org_unit"]["path"].split("/")[:3]) for p in people
                            if (p.get("org_unit") or {}).get("path", "").count("/") >= 2})
        cls.div1, cls.div2 = divisions[0], divisions[-1]
        cls.people = people
        cls.used = set()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def pick(self, div):
        for p in self.people:
            path = (p.get("org_unit") or {}).get("path", "")
            if (path == div or path.startswith(div + "/")) and p["id"] not in self.used:
                self.used.add(p["id"])
                return p
        self.fail("nobody left in %s" % div)

    def search(self, client=None, status=200, **params):
        r = (client or self.admin).get(harness.query(PATH, **params))
        self.assertStatus(r, status)
        return r.json

    def db(self):
        return self.server.db()

    # ------------------------------------------------------------ ingest

    def test_ingest_and_idempotent_retry(self):
        dev = Device(self, self.div1)
        t = now_ms() - 60000
        batch = [
            exec_event(1, ts=t),
            {"seq": 2, "ts": t + 1, "kind": "login", "user": "alice", "tty": "pts/0", "host": "192.0.2.9"},
            {"seq": 3, "ts": t + 2, "kind": "usb_insert", "vendor": "0781", "product": "5583",
             "serial": "4C53", "name": "SanDisk Cruzer", "storage": True, "action": "blocked"},
        ]
        r = dev.send(batch)
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"accepted_through": 3})
        items = self.search(device=dev.id)["items"]
        self.assertEqual([(x["seq"], x["kind"]) for x in items], [(3, "usb_insert"), (2, "login"), (1, "exec")])
        ex = items[2]
        self.assertEqual(ex["user"], "alice")
        self.assertEqual(ex["device"]["id"], dev.id)
        self.assertEqual(ex["device"]["hostname"], dev.hostname)
        self.assertEqual(ex["device"]["org_unit"], self.div1)
        self.assertEqual(ex["data"], {"pid": 101, "ppid": 1, "uid": 1000, "path": "/usr/bin/ls",
                                      "argv": ["/usr/bin/ls", "-l"], "cwd": "/home/alice"})
        self.assertEqual(items[0]["data"]["action"], "blocked")
        self.assertIsNone(items[0]["user"])
        self.assertTrue(ex["ts"].endswith("Z") and ex["received_at"].endswith("Z"))

        # The same batch again (a retry after a lost answer): nothing changes.
        r = dev.send(batch)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["accepted_through"], 3)
        self.assertEqual(len(self.search(device=dev.id)["items"]), 3)
        # Overlapping: 2 and 3 are duplicates (their new content ignored), 4 and 5 are new.
        changed = dict(batch[2], action="allowed")
        r = dev.send([batch[1], changed, exec_event(4), exec_event(5, user="bob")])
        self.assertEqual(r.json["accepted_through"], 5)
        items = self.search(device=dev.id)["items"]
        self.assertEqual(sorted(x["seq"] for x in items), [1, 2, 3, 4, 5])
        self.assertEqual([x for x in items if x["seq"] == 3][0]["data"]["action"], "blocked")
        # An empty batch asks where the server is.
        r = dev.send([])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["accepted_through"], 5)
        # No seq was skipped so far: no gap is recorded.
        def gaps():
            q = harness.query("/api/v1/audit", action="endpoint.events.gap", limit=500)
            return [x for x in self.admin.get(q).json["items"] if x.get("object_id") == dev.id]
        self.assertEqual(gaps(), [])
        # Gaps are allowed (events the agent's bounded buffer had to drop), and recorded:
        # 6, 7 and 8 never arrived.
        self.assertEqual(dev.send([exec_event(9)]).json["accepted_through"], 9)
        g = gaps()
        self.assertEqual(len(g), 1)
        self.assertEqual(g[0]["outcome"], "failure")
        self.assertEqual(g[0]["details"], {"missing": 3, "after_seq": 5, "through_seq": 9})
        # A gap inside a batch counts too (11 is missing).
        self.assertEqual(dev.send([exec_event(10), exec_event(12)]).json["accepted_through"], 12)
        self.assertEqual([x["details"]["missing"] for x in gaps()], [1, 3])
        self.assertEqual(dev.send([exec_event(9)]).json["accepted_through"], 12)
        # A batch entirely below the mark is a duplicate, even for seqs never seen.
        self.assertEqual(dev.send([exec_event(7)]).json["accepted_through"], 12)
        self.assertNotIn(7, [x["seq"] for x in self.search(device=dev.id)["items"]])
        self.assertEqual(len(gaps()), 2)

    def test_unsigned_replayed_and_foreign_requests_are_refused(self):
        dev = Device(self, self.div1)
        other = Device(self, self.div1)
        raw = json.dumps({"events": [exec_event(1)]}).encode()
        headers = dev.sign(raw, PATH)
        self.assertStatus(dev.post_raw(raw, headers=headers), 200)
        self.assertError(dev.post_raw(raw, headers=headers), 401, "unauthenticated")
        # Signed by another device's key, claiming this device.
        h = other.sign(json.dumps({"events": [exec_event(2)]}).encode(), PATH)
        h["X-Rampart-Device"] = dev.id
        self.assertError(dev.post_raw(json.dumps({"events": [exec_event(2)]}).encode(), headers=h), 401)
        # Signed for the check-in path, sent to the events path.
        raw2 = json.dumps({"events": [exec_event(3)]}).encode()
        self.assertError(dev.post_raw(raw2, headers=dev.sign(raw2, "/api/v1/endpoint/checkin")), 401)
        # A person's credentials are not a device signature.
        self.assertError(self.admin.post(PATH, json={"events": [exec_event(4)]}), 401)
        # A refused batch spends its signature all the same: sent again it is a replay.
        bad = json.dumps({"events": [exec_event(9), exec_event(8)]}).encode()
        hb = dev.sign(bad, PATH)
        self.assertError(dev.post_raw(bad, headers=hb), 400)
        self.assertError(dev.post_raw(bad, headers=hb), 401, "unauthenticated")
        self.assertEqual([x["seq"] for x in self.search(device=dev.id)["items"]], [1])

    def assertRefused(self, dev, events, field, words, status=400):
        r = dev.send(events)
        self.assertError(r, status, "invalid" if status == 400 else None)
        err = r.json["error"]
        if field is not None:
            self.assertEqual(err.get("field"), field, err)
        for w in words:
            self.assertIn(w, err["message"], err)
        return err

    def test_invalid_events_are_refused_whole_with_a_clear_error(self):
        dev = Device(self, self.div1)
        self.assertEqual(dev.send([exec_event(1)]).json["accepted_through"], 1)
        # Out of order or repeated within a batch.
        self.assertRefused(dev, [exec_event(5), exec_event(4)], "events[1].seq", ["greater"])
        self.assertRefused(dev, [exec_event(6), exec_event(6)], "events[1].seq", ["greater"])
        self.assertRefused(dev, [exec_event(0)], "events[0].seq", ["seq"])
        self.assertRefused(dev, [dict(exec_event(7), seq="7")], "events[0].seq", [])
        # Unknown kind, unknown field, missing field, wrong types, bad values.
        self.assertRefused(dev, [exec_event(10), {"seq": 11, "ts": now_ms(), "kind": "keystroke", "user": "a"}],
                           "events[1].kind", ["unknown kind", "exec"])
        self.assertRefused(dev, [dict(exec_event(10), env={"HOME": "/root"})], "events[0]",
                           ["exec events have no field 'env'"])
        self.assertRefused(dev, [{"seq": 10, "ts": now_ms(), "kind": "login", "user": "a", "pid": 4}], "events[0]",
                           ["login events have no field 'pid'"])
        ev = exec_event(10)
        del ev["argv"]
        self.assertRefused(dev, [ev], "events[0].argv", ["required"])
        self.assertRefused(dev, [dict(exec_event(10), pid=-1)], "events[0].pid", ["whole number"])
        self.assertRefused(dev, [dict(exec_event(10), uid=2 ** 32)], "events[0].uid", [])
        self.assertRefused(dev, [dict(exec_event(10), argv="ls -l")], "events[0].argv", ["array"])
        self.assertRefused(dev, [dict(exec_event(10), user="ali\nce")], "events[0].user", ["control"])
        self.assertRefused(dev, [dict(exec_event(10), user="")], "events[0].user", [])
        self.assertRefused(dev, [{"seq": 10, "ts": now_ms(), "kind": "usb_insert", "vendor": "1", "product": "2",
                                  "storage": "yes", "action": "allowed"}], "events[0].storage", ["true or false"])
        self.assertRefused(dev, [{"seq": 10, "ts": now_ms(), "kind": "usb_insert", "vendor": "1", "product": "2",
                                  "storage": True, "action": "ignored"}], "events[0].action", ["allowed"])
        self.assertRefused(dev, [dict(exec_event(10), ts=now_ms() + 2 * 3600 * 1000)], "events[0].ts", ["ahead"])
        self.assertRefused(dev, [dict(exec_event(10), ts=-5)], "events[0].ts", [])
        self.assertRefused(dev, ["exec"], "events[0]", ["object"])
        r = dev.post_raw(json.dumps({"events": [exec_event(10)], "more": 1}).encode())
        self.assertError(r, 400)
        self.assertEqual(r.json["error"]["field"], "more")
        self.assertError(dev.post_raw(json.dumps({"events": {}}).encode()), 400)
        self.assertError(dev.post_raw(b"[1, 2]"), 400)
        # None of it was stored: a whole batch or nothing.
        self.assertEqual([x["seq"] for x in self.search(device=dev.id)["items"]], [1])
        self.assertEqual(dev.send([]).json["accepted_through"], 1)
        # Every kind with all its fields, and with only the required ones.
        t = now_ms() - 5000
        full = [
            exec_event(20, ts=t),
            {"seq": 21, "ts": t, "kind": "login", "user": "a", "tty": "tty1", "host": "", "session": "3"},
            {"seq": 22, "ts": t, "kind": "logout", "user": "a", "tty": "tty1", "host": "h", "session": "3"},
            {"seq": 23, "ts": t, "kind": "usb_insert", "vendor": "v", "product": "p", "serial": "", "name": "n",
             "storage": False, "action": "reported"},
            {"seq": 24, "ts": t, "kind": "usb_remove", "vendor": "v", "product": "p", "serial": "s"},
            {"seq": 25, "ts": t, "kind": "usb_block", "vendor": "v", "product": "p", "serial": "s", "name": "n"},
            {"seq": 26, "ts": t, "kind": "file_write", "path": "/media/a/x.docx", "device": "0781:5583:4C53",
             "size": 12345, "user": "a"},
            {"seq": 27, "ts": t, "kind": "file_write", "path": "/media/a/y", "device": "/dev/sdb1"},
            {"seq": 28, "ts": t, "kind": "logout", "user": "a"},
            {"seq": 29, "ts": t, "kind": "usb_remove", "vendor": "v", "product": "p"},
        ]
        r = dev.send(full)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["accepted_through"], 29)

    def test_limits(self):
        dev = Device(self, self.div1)
        t = now_ms() - 10000
        # 1000 events in a batch; 1001 refused.
        r = dev.send([exec_event(i, ts=t, argv=[]) for i in range(1, 1001)])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["accepted_through"], 1000)
        err = self.assertRefused(dev, [exec_event(i, ts=t, argv=[]) for i in range(2001, 3002)], "events", ["1000"])
        # Paths at most 4096 bytes, other strings 256, argv 256 items.
        self.assertStatus(dev.send([exec_event(1001, path="/" + "p" * 4095)]), 200)
        # (JSON strings over 4096 bytes are refused by the body parser, before the fields are looked at.)
        self.assertRefused(dev, [exec_event(1002, path="/" + "p" * 4096)], None, ["4096"])
        self.assertStatus(dev.send([exec_event(1003, user="u" * 256)]), 200)
        self.assertRefused(dev, [exec_event(1004, user="u" * 257)], "events[0].user", ["256"])
        self.assertStatus(dev.send([exec_event(1005, argv=["a"] * 256)]), 200)
        self.assertRefused(dev, [exec_event(1006, argv=["a"] * 257)], "events[0].argv", ["256"])
        self.assertRefused(dev, [exec_event(1006, argv=["a" * 4097])], None, ["4096"])
        self.assertRefused(dev, [{"seq": 1006, "ts": t, "kind": "usb_remove", "vendor": "v" * 257, "product": "p"}],
                           "events[0].vendor", ["256"])
        self.assertRefused(dev, [exec_event(2 ** 53)], "events[0].seq", [])
        # A batch of exactly 1 MiB is taken; one byte more is refused before it is read.
        big = [exec_event(2000 + i, ts=t, path="/" + "b" * 4000, argv=[]) for i in range(240)]
        raw = json.dumps({"events": big}).encode()
        raw = raw[:-1] + b" " * ((1 << 20) - len(raw)) + b"}"
        self.assertEqual(len(raw), 1 << 20)
        self.assertEqual(self.raw_post(dev, raw)[0], 200)
        big = [exec_event(3000 + i, ts=t, path="/" + "b" * 4000, argv=[]) for i in range(240)]
        raw = json.dumps({"events": big}).encode()
        raw = raw[:-1] + b" " * ((1 << 20) + 1 - len(raw)) + b"}"
        status, body = self.raw_post(dev, raw)
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"]["code"], "too_large")
        self.assertEqual(dev.send([]).json["accepted_through"], 2239)
        self.assertIn("1000", err["message"])

    def raw_post(self, dev, raw):
        """POSTs a signed body on a raw socket, stopping when the server answers
        early (a refused size).  Returns (status, body)."""
        headers = dev.sign(raw, PATH)
        head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n" % (PATH, len(raw))
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        data = b""
        try:
            try:
                s.sendall(head.encode())
                for i in range(0, len(raw), 65536):
                    if select.select([s], [], [], 0.01)[0]:
                        break
                    s.sendall(raw[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                while True:
                    part = s.recv(65536)
                    if not part:
                        break
                    data += part
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        head_end = data.index(b"\r\n\r\n")
        return int(data.split(b" ", 2)[1]), data[head_end + 4:]

    # ------------------------------------------------------------ search

    def test_search_filters_cursor_and_errors(self):
        owner = self.pick(self.div1)
        a = Device(self, self.div1, owner=owner["login"])
        b = Device(self, self.div1)
        base = now_ms() - 3600 * 1000
        self.assertStatus(a.send([exec_event(i, ts=base + i * 1000, user="root") for i in range(1, 11)]), 200)
        self.assertStatus(b.send([
            {"seq": 1, "ts": base + 500, "kind": "login", "user": owner["login"]},
            {"seq": 2, "ts": base + 5500, "kind": "usb_block", "vendor": "v", "product": "p"},
            {"seq": 3, "ts": base + 9500, "kind": "logout", "user": owner["login"]},
            {"seq": 4, "ts": base + 9600, "kind": "login", "user": "carol"},
        ]), 200)
        mine = {a.id, b.id}

        def keys(items):
            return [(x["device"]["id"], x["seq"]) for x in items if x["device"]["id"] in mine]

        every = self.search(device=a.id, limit=1000)["items"]
        self.assertEqual([x["seq"] for x in every], list(range(10, 0, -1)))
        # /api/v1/devices/{id}/events is the same search for one device.
        r = self.admin.get("/api/v1/devices/%s/events?limit=1000" % a.id)
        self.assertStatus(r, 200)
        self.assertEqual([x["seq"] for x in r.json["items"]], list(range(10, 0, -1)))

        # person: the event's user, or the owner of the device.
        expect = [(a.id, 10), (b.id, 3)] + [(a.id, i) for i in range(9, 0, -1)] + [(b.id, 1)]
        got = keys(self.search(person=owner["login"], limit=1000)["items"])
        self.assertEqual(got, expect)
        self.assertEqual(keys(self.search(person="carol", limit=1000)["items"]), [(b.id, 4)])
        # kind
        self.assertEqual(keys(self.search(kind="login", limit=1000)["items"]), [(b.id, 4), (b.id, 1)])
        self.assertEqual(keys(self.search(kind="usb_block", device=b.id)["items"]), [(b.id, 2)])
        # since (inclusive) / until (exclusive), as ms and as RFC 3339.
        iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
        got = keys(self.search(device=a.id, since=base + 3000, until=base + 6000)["items"])
        self.assertEqual(got, [(a.id, 5), (a.id, 4), (a.id, 3)])
        got = keys(self.search(device=a.id, since=iso(base + 3000), until=iso(base + 6000))["items"])
        self.assertEqual(got, [(a.id, 5), (a.id, 4), (a.id, 3)])
        got = keys(self.search(person=owner["login"], kind="exec", since=base + 9000)["items"])
        self.assertEqual(got, [(a.id, 10), (a.id, 9)])

        # Paging with the cursor: every event once, newest first, in pages of 3.
        seen, cursor, pages = [], None, 0
        while True:
            params = {"person": owner["login"], "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = self.search(**params)
            self.assertLessEqual(len(page["items"]), 3)
            seen += keys(page["items"])
            pages += 1
            cursor = page.get("next")
            if not cursor:
                break
        self.assertEqual(seen, expect)
        self.assertEqual(pages, 4)
        # Events at the same millisecond on two devices are not lost between pages.
        same = base + 20000
        self.assertStatus(a.send([exec_event(i, ts=same) for i in range(20, 24)]), 200)
        self.assertStatus(b.send([exec_event(i, ts=same, user="x") for i in range(20, 24)]), 200)
        seen, cursor = [], None
        while True:
            params = {"since": same, "until": same + 1, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = self.search(**params)
            seen += keys(page["items"])
            cursor = page.get("next")
            if not cursor:
                break
        self.assertEqual(len(seen), 8)
        self.assertEqual(sorted(seen), sorted(set(seen)))

        # Bad requests.
        self.search(status=400, kind="keystroke")
        self.search(status=400, since="yesterday")
        self.search(status=400, until="2026-13-45")
        self.search(status=400, cursor="nonsense")
        self.search(status=400, cursor="1.2.3")
        self.search(status=400, limit=1001)
        self.search(status=400, limit=0)
        self.search(status=400, person="p" * 257)
        self.search(status=404, device="01JXXXXXXXXXXXXXXXXXXXXXXX")
        self.search(status=404, device="not-an-id")
        self.assertError(self.admin.get("/api/v1/devices/01JXXXXXXXXXXXXXXXXXXXXXXX/events"), 404)
        # The default page is 100.
        self.assertStatus(a.send([exec_event(i, ts=base + 30000, argv=[]) for i in range(100, 250)]), 200)
        page = self.search(device=a.id)
        self.assertEqual(len(page["items"]), 100)
        self.assertTrue(page["next"])

        # Reading operation logs is audited, with the filters.
        audit = self.admin.get(harness.query("/api/v1/audit", action="endpoint.events.read", limit=500)).json
        details = [x.get("details") or {} for x in audit["items"]]
        self.assertIn(owner["login"], [d.get("person") for d in details])
        # A search that could not be understood is recorded with what it asked, bounded.
        failed = [x["details"] for x in audit["items"] if x["outcome"] == "failure"]
        self.assertIn("keystroke", [d.get("kind") for d in failed])
        self.assertIn("yesterday", [d.get("since") for d in failed])
        long_person = [d["person"] for d in failed if d.get("person", "").startswith("ppp")]
        self.assertEqual(long_person, ["p" * 256 + "..."])
        self.search(status=400, person="a\x01b", kind="bad\xffkind")
        audit = self.admin.get(harness.query("/api/v1/audit", action="endpoint.events.read", limit=1)).json
        self.assertEqual(audit["items"][0]["outcome"], "failure")
        self.assertEqual(audit["items"][0]["details"]["person"], "a\\x01b")

    def test_scope(self):
        d1 = Device(self, self.div1)
        d2 = Device(self, self.div2)
        self.assertStatus(d1.send([exec_event(1)]), 200)
        self.assertStatus(d2.send([exec_event(1)]), 200)
        sm1 = self.make_user(self.pick(self.div1)["id"], roles=["security_manager:" + self.div1])
        sm2 = self.make_user(self.pick(self.div2)["id"], roles=["security_manager:" + self.div2])
        aud = self.make_user(self.pick(self.div2)["id"], roles=["auditor"])
        emp = self.make_user(self.pick(self.div1)["id"])

        def devices(client):
            return {x["device"]["id"] for x in self.search(client=client, limit=1000)["items"]}

        self.assertIn(d1.id, devices(sm1))
        self.assertNotIn(d2.id, devices(sm1))
        self.assertIn(d2.id, devices(sm2))
        self.assertNotIn(d1.id, devices(sm2))
        self.assertTrue({d1.id, d2.id} <= devices(aud))
        self.assertTrue({d1.id, d2.id} <= devices(self.admin))
        # Naming a device outside the scope: as if it did not exist.
        self.search(client=sm2, status=404, device=d1.id)
        self.assertError(sm2.get("/api/v1/devices/%s/events" % d1.id), 404)
        self.assertStatus(sm1.get("/api/v1/devices/%s/events" % d1.id), 200)
        # Persons without an endpoint role: refused.
        self.assertError(emp.get(PATH), 403)
        self.assertError(emp.get("/api/v1/devices/%s/events" % d1.id), 403)
        self.assertError(self.server.client().get(PATH, auth=False), 401)

    # ------------------------------------------------------------ retention

    def test_retention_removes_old_events_and_reports_but_keeps_the_latest_report(self):
        units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
        short = sorted(u for u in units if u.startswith(self.div2 + "/"))[0]
        r = self.admin.put("/api/v1/endpoint/policies/" + units[short], json={"logging": {"retention_days": 2}})
        self.assertStatus(r, 200)
        dev = Device(self, short)        # retention 2 days
        keep = Device(self, self.div1)   # the default, 90 days
        now = now_ms()
        old = [exec_event(i, ts=now - 3 * DAY_MS + i) for i in range(1, 4)]
        new = [exec_event(i, ts=now - DAY_MS + i) for i in range(4, 6)]
        self.assertStatus(dev.send(old + new), 200)
        self.assertStatus(keep.send(old), 200)
        for _ in range(3):
            dev.checkin()
            keep.checkin()
        # Every report of dev is older than its retention, the latest included.
        db = self.db()
        db.execute("UPDATE device_reports SET received_at = ? WHERE device_id IN (?, ?)",
                   (now - 5 * DAY_MS, dev.id, keep.id))
        db.commit()
        latest = db.execute("SELECT last_report_id FROM devices WHERE id = ?", (dev.id,)).fetchone()[0]
        db.close()
        self.assertEqual(len(self.admin.get("/api/v1/devices/%s" % dev.id).json["history"]), 3)

        r = self.admin.post("/api/v1/endpoint/sweep")
        self.assertStatus(r, 200)
        self.assertGreaterEqual(r.json["events_removed"], 3)
        self.assertGreaterEqual(r.json["reports_removed"], 2)
        self.assertEqual([x["seq"] for x in self.search(device=dev.id)["items"]], [5, 4])
        self.assertEqual(len(self.search(device=keep.id)["items"]), 3)
        shown = self.admin.get("/api/v1/devices/%s" % dev.id).json
        self.assertEqual([h["id"] for h in shown["history"]], [latest])
        self.assertIsNotNone(shown["report"])
        self.assertEqual(len(self.admin.get("/api/v1/devices/%s" % keep.id).json["history"]), 3)
        audit = self.admin.get(harness.query("/api/v1/audit", action="endpoint.retention", limit=50)).json["items"]
        self.assertTrue(audit)
        self.assertGreaterEqual(audit[0]["details"]["events_removed"], 3)
        n_audit = len(audit)

        # The old batch sent again stays a duplicate: the mark outlives the events.
        r = dev.send(old)
        self.assertEqual(r.json["accepted_through"], 5)
        self.assertEqual([x["seq"] for x in self.search(device=dev.id)["items"]], [5, 4])
        # Nothing left to remove: no new audit entry.
        r = self.admin.post("/api/v1/endpoint/sweep")
        self.assertEqual((r.json["events_removed"], r.json["reports_removed"]), (0, 0))
        audit = self.admin.get(harness.query("/api/v1/audit", action="endpoint.retention", limit=50)).json["items"]
        self.assertEqual(len(audit), n_audit)

    def test_retention_purges_in_batches(self):
        """More old events than one DELETE takes: all of them go, in several statements."""
        units = {u["path"]: u["id"] for u in self.admin.get("/api/v1/org").json["items"]}
        unit = sorted(u for u in units if u.startswith(self.div2 + "/"))[-1]
        self.assertStatus(self.admin.put("/api/v1/endpoint/policies/" + units[unit],
                                         json={"logging": {"retention_days": 1}}), 200)
        dev = Device(self, unit)
        old = now_ms() - 2 * DAY_MS
        for k in range(3):
            self.assertStatus(dev.send([exec_event(k * 1000 + i, ts=old, argv=[]) for i in range(1, 1001)]), 200)
        r = self.admin.post("/api/v1/endpoint/sweep")
        self.assertGreaterEqual(r.json["events_removed"], 3000)
        self.assertEqual(self.search(device=dev.id)["items"], [])

    # ------------------------------------------------------------ the real agent

    def test_real_agent_sends_a_usb_insert(self):
        """rampart-agent run (the fixture's sysfs as root) reports a USB stick inserted
        between two runs; the server stores it and the agent's buffer is emptied."""
        agent = os.path.join(harness.BUILD, "src", "agent", "rampart-agent")
        usage = subprocess.run([agent, "--help"], capture_output=True, text=True, timeout=60)
        if "events" not in usage.stdout + usage.stderr:
            self.skipTest("this rampart-agent does not send operation logs")
        root = os.path.join(self.tmp, "agent-root")
        shutil.copytree(os.path.join(harness.REPO, "tests", "fixtures", "endpoint", "root"), root)
        state = os.path.join(self.tmp, "agent-state")
        tok = self.admin.post("/api/v1/endpoint/enrollment-tokens", json={"org_unit": self.div1}).json["token"]

        def run(*args):
            p = subprocess.run([agent] + list(args) + ["--state-dir", state], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            return p.stdout

        run("enroll", "--server", self.server.url, "--token", tok, "--root", root)
        with open(os.path.join(state, "device.json")) as f:
            device_id = json.load(f)["device_id"]
        loop = ["run", "--count", "1", "--interval", "1h", "--events-interval", "1s", "--root", root,
                "--usbguard-rules", "", "--no-enforce"]
        run(*loop)   # the first look at the USB bus is the baseline: no event
        usb = os.path.join(root, "sys", "bus", "usb", "devices")
        shutil.copytree(os.path.join(usb, "1-1"), os.path.join(usb, "1-9"))
        shutil.copytree(os.path.join(usb, "1-1:1.0"), os.path.join(usb, "1-9:1.0"))
        with open(os.path.join(usb, "1-9", "serial"), "w") as f:
            f.write("E2E0000000001\n")
        run(*loop)
        items = self.search(device=device_id, kind="usb_insert")["items"]
        mine = [x for x in items if x["data"].get("serial") == "E2E0000000001"]
        self.assertEqual(len(mine), 1, items)
        self.assertTrue(mine[0]["data"]["storage"])
        self.assertEqual(mine[0]["data"]["action"], "reported")   # no USBGuard: reported only
        # Everything the server accepted left the agent's buffer.
        left = json.loads(run("events", "--json"))
        self.assertNotIn("E2E0000000001", json.dumps(left["events"]))
        self.assertTrue(all(e["seq"] > mine[0]["seq"] for e in left["events"]), left)

    # ------------------------------------------------------------ CLI

    def rampart(self, *args, check=True):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   RAMPART_SERVER=self.server.url, RAMPART_TOKEN=self.admin.token)
        p = subprocess.run([harness.cli_path()] + list(args), capture_output=True, text=True,
                           timeout=120, env=env, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            self.fail("rampart %s: %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def test_cli(self):
        owner = self.pick(self.div1)
        dev = Device(self, self.div1, owner=owner["login"])
        t = now_ms() - 2 * 3600 * 1000
        self.assertStatus(dev.send([
            exec_event(1, ts=t, user="dave", path="/usr/bin/scp", argv=["scp", "secret.pdf", "host:", "\x1b[2J"]),
            {"seq": 2, "ts": t + 1000, "kind": "usb_insert", "vendor": "0781", "product": "5583",
             "serial": "4C53", "name": "Cruzer", "storage": True, "action": "blocked"},
            {"seq": 3, "ts": t + 2000, "kind": "file_write", "path": "/media/dave/x.pdf", "device": "/dev/sdb1",
             "size": 42, "user": "dave"},
            {"seq": 4, "ts": now_ms() - 60000, "kind": "login", "user": "dave", "tty": "pts/1", "host": "192.0.2.4"},
        ]), 200)
        out = self.rampart("events", "--device", dev.id).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:5], ["TIME", "PC", "KIND", "USER", "WHAT"])
        self.assertEqual([l.split()[3] for l in lines[1:]], ["login", "file_write", "usb_insert", "exec"])
        self.assertIn("/usr/bin/scp [secret.pdf host: ?[2J]", out)
        self.assertIn("/media/dave/x.pdf on /dev/sdb1 (42 bytes)", out)
        self.assertIn("pts/1 from 192.0.2.4", out)
        self.assertNotIn("\x1b", out)   # text from the PC is never written raw to the terminal
        self.assertIn(dev.hostname, out)
        got = json.loads(self.rampart("--json", "events", "--person", owner["login"], "--kind", "usb_insert").stdout)
        self.assertEqual([(x["device"]["id"], x["seq"]) for x in got["items"]], [(dev.id, 2)])
        got = json.loads(self.rampart("--json", "events", "--device", dev.id, "--since", "3h", "--until", "1h").stdout)
        self.assertEqual([x["seq"] for x in got["items"]], [3, 2, 1])
        got = json.loads(self.rampart("--json", "events", "--device", dev.id, "--limit", "2").stdout)
        self.assertEqual([x["seq"] for x in got["items"]], [4, 3])
        self.assertTrue(got["next"])
        got = json.loads(self.rampart("--json", "events", "--device", dev.id, "--limit", "1", "--all").stdout)
        self.assertEqual([x["seq"] for x in got["items"]], [4, 3, 2, 1])
        for bad in (["--kind", "keystroke"], ["--since", "soon"], ["--limit", "1001"], ["stray"]):
            p = self.rampart("events", *bad, check=False)
            self.assertEqual(p.returncode, 2, bad)
        p = self.rampart("events", "--device", "01JXXXXXXXXXXXXXXXXXXXXXXX", check=False)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("--person", self.rampart("events", "--help").stdout)
