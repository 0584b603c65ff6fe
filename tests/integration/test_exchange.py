# SPDX-License-Identifier: AGPL-3.0-or-later
"""Secure exchange site: one-time links with a password, against a real
rampartd and a real Postfix on loopback (a private instance the test starts
and stops, see postfix.py) receiving the notification mail."""

import os
import socket
import socketserver
import threading
import time
import unittest

import exchange_util as xu
from harness import ServerTestCase
from postfix import Postfix

ATTEMPTS = 3
MAX_FILE = 200000


# The minimal SMTP sink test_exchange_cli.py and test_exchange_approval.py still
# use (Python's standard library has no SMTP server since 3.12); this module's
# own mail goes through a real Postfix (postfix.py).
class SmtpSink(socketserver.ThreadingTCPServer):
    """Accepts every message (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), SmtpHandler)


class SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink ESMTP")
        rcpt, sender = [], None
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                sender, rcpt = cmd[10:], []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpt.append(cmd[8:].strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                data = []
                while True:
                    l = self.rfile.readline(1 << 20)
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    data.append(l[1:] if l.startswith(b"..") else l)
                with self.server.lock:
                    self.server.messages.append({"from": sender, "to": list(rcpt),
                                                 "data": b"".join(data).decode("utf-8", "replace")})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Exchange(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = Postfix(["partner.example", "corp.example"]).start()
        cls.SERVER_ARGS = {"env": {
            "RAMPART_LIMITS_RATE_PER_MINUTE": "0",
            "RAMPART_EXCHANGE_SMTP_URL": cls.smtp.url,
            "RAMPART_EXCHANGE_SMTP_FROM": "rampart@corp.example",
            "RAMPART_EXCHANGE_PASSWORD_ATTEMPTS": str(ATTEMPTS),
            "RAMPART_EXCHANGE_MAX_FILE": str(MAX_FILE),
        }}
        try:
            super().setUpClass()
        except BaseException:
            cls.smtp.stop()
            raise
        cls.secrets = []

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.smtp.stop()

    def sent(self, **kw):
        r = xu.send(self.admin, **kw)
        self.assertStatus(r, 201)
        self.secrets += [r.json["url"].rsplit("/", 1)[1], r.json["password"]]
        return r.json

    def download(self, t, password=None, client=None):
        c = client or self.server.client()
        return c.request("POST", xu.link_path(t["url"]), body=xu.form(password or t["password"]),
                         content_type="application/x-www-form-urlencoded", auth=client is not None)

    def blob_dirs(self):
        d = os.path.join(self.server.data_dir, "blobs")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    # ------------------------------------------------------------ the happy path and reuse

    def test_send_download_once_then_gone(self):
        data = os.urandom(150000)
        t = self.sent(files=[("plan.bin", data)])
        self.assertIn(t["id"], self.blob_dirs())
        # What is on disk is not the plaintext.
        blob_dir = os.path.join(self.server.data_dir, "blobs", t["id"])
        stored = open(os.path.join(blob_dir, os.listdir(blob_dir)[0]), "rb").read()
        self.assertNotIn(data[:64], stored)
        r = self.download(t)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, data)
        self.assertIn("plan.bin", r.headers.get("Content-Disposition"))
        r = self.download(t)
        self.assertEqual(r.status, 410)
        self.assertNotIn(data[:64], r.body)
        r = self.server.client().get(xu.link_path(t["url"]), auth=False)
        self.assertEqual(r.status, 410)
        self.assertNotIn(t["id"], self.blob_dirs())
        info = self.admin.get("/api/v1/transfers/" + t["id"]).json
        self.assertEqual(info["state"], "downloaded")
        self.assertEqual(info["downloads"][0]["from"], "127.0.0.1")

    def test_get_and_head_do_not_consume(self):
        t = self.sent()
        anon = self.server.client()
        for _ in range(3):
            r = anon.get(xu.link_path(t["url"]), auth=False)
            self.assertStatus(r, 200)
            self.assertIn(b"<form", r.body)
            self.assertNotIn(b"<script", r.body)
            r = anon.request("HEAD", xu.link_path(t["url"]), auth=False)
            self.assertStatus(r, 200)
        self.assertEqual(self.admin.get("/api/v1/transfers/" + t["id"]).json["state"], "opened")
        self.assertStatus(self.download(t), 200)

    def test_several_files_come_as_one_tar(self):
        import io
        import tarfile
        t = self.sent(files=[("a.txt", b"A" * 1000), ("b.txt", b"B" * 513)])
        r = self.download(t)
        self.assertStatus(r, 200)
        tf = tarfile.open(fileobj=io.BytesIO(r.body))
        self.assertEqual({m.name: tf.extractfile(m).read() for m in tf.getmembers()},
                         {"a.txt": b"A" * 1000, "b.txt": b"B" * 513})

    # ------------------------------------------------------------ attacks

    def test_wrong_password_burns_the_link(self):
        t = self.sent()
        for i in range(ATTEMPTS - 1):
            self.assertEqual(self.download(t, password="wrong-%d" % i).status, 403)
        self.assertEqual(self.download(t, password="wrong-last").status, 410)
        self.assertEqual(self.download(t).status, 410)   # the right one is too late
        info = self.admin.get("/api/v1/transfers/" + t["id"]).json
        self.assertEqual(info["state"], "burned")
        self.assertNotIn(t["id"], self.blob_dirs())
        actions = [e["action"] for e in self.admin.get("/api/v1/audit?limit=200").json["items"]
                   if e.get("object_id") == t["id"]]
        self.assertIn("exchange.burn", actions)
        self.assertEqual(actions.count("exchange.password_failure"), ATTEMPTS)

    def test_guessed_token(self):
        r = self.server.client().get("/x/x_" + "A" * 43, auth=False)
        self.assertEqual(r.status, 404)
        r = self.server.client().request("POST", "/x/x_" + "B" * 43, body=xu.form("pw"),
                                         content_type="application/x-www-form-urlencoded", auth=False)
        self.assertEqual(r.status, 404)

    def test_expired_link(self):
        t = self.sent(expires="1s")
        time.sleep(1.2)
        self.assertEqual(self.server.client().get(xu.link_path(t["url"]), auth=False).status, 410)
        self.assertEqual(self.download(t).status, 410)
        r = self.admin.post("/api/v1/exchange/sweep", json={})
        self.assertStatus(r, 200)
        self.assertNotIn(t["id"], self.blob_dirs())
        self.assertEqual(self.admin.get("/api/v1/transfers/" + t["id"]).json["state"], "expired")

    def test_revoked_transfer(self):
        t = self.sent()
        r = self.admin.post("/api/v1/transfers/%s/revoke" % t["id"], json={})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "revoked")
        self.assertEqual(self.download(t).status, 410)
        self.assertEqual(self.admin.post("/api/v1/transfers/%s/revoke" % t["id"], json={}).status, 409)

    def test_file_names_path_traversal_and_control_characters(self):
        t = self.sent(files=[("../../etc/passwd", b"x"), ("..\\..\\boot.ini", b"y")])
        names = [f["name"] for f in self.admin.get("/api/v1/transfers/" + t["id"]).json["files"]]
        self.assertEqual(names, ["passwd", "boot.ini"])
        before = self.blob_dirs()
        for bad in ["a\x01b.txt", "new\nline.txt", "..", "tab\there"]:
            r = xu.send(self.admin, files=[(bad, b"z")])
            self.assertEqual(r.status, 400, bad)
        self.assertEqual(self.blob_dirs(), before)

    def test_message_is_utf8_text(self):
        # A message keeps its line breaks and its non-ASCII text, and the API shows it as sent.
        text = "Figures for Q3\r\n\u56db\u534a\u671f\tattached"
        t = self.sent(message=text)
        self.assertEqual(self.admin.get("/api/v1/transfers/" + t["id"]).json["message"], text)
        # Bytes that are not UTF-8, or other control characters, are refused at input, naming the field.
        before = self.blob_dirs()
        n = len(self.admin.get("/api/v1/transfers?limit=500").json["items"])
        for bad in (b"caf\xe9", b"\xff\xfe", b"\xed\xa0\x80", b"half \xe3\x81", b"bell \x07", b"nul \x00 byte",
                    "del \x7f".encode(), "nel \u0085".encode()):
            r = xu.send(self.admin, message=bad)
            self.assertError(r, 400, "invalid")
            self.assertEqual(r.json["error"].get("field"), "message", bad)
        self.assertEqual(self.blob_dirs(), before)
        self.assertEqual(len(self.admin.get("/api/v1/transfers?limit=500").json["items"]), n)
        # A form field whose name is not text is an unknown field, not echoed back.
        body, ctype = xu.multipart([("to", "recipient@partner.example"), (b"\xff".decode("latin-1"), "x")],
                                   [("file", "a.txt", b"a")])
        body = body.replace("\u00ff".encode(), b"\xff")
        r = self.admin.request("POST", "/api/v1/transfers", body=body, content_type=ctype)
        self.assertError(r, 400, "invalid")
        self.assertNotIn("field", r.json["error"])

    def test_oversized_upload_leaves_nothing(self):
        before = self.blob_dirs()
        n = len(self.admin.get("/api/v1/transfers?limit=500").json["items"])
        r = xu.send(self.admin, files=[("big.bin", os.urandom(MAX_FILE + 1))])
        self.assertEqual(r.status, 413)
        self.assertEqual(self.blob_dirs(), before)
        self.assertEqual(len(self.admin.get("/api/v1/transfers?limit=500").json["items"]), n)

    def test_interrupted_upload_leaves_nothing(self):
        """A client that drops the connection mid-file leaves no transfer and, after a sweep, no blob."""
        before = self.blob_dirs()
        n = len(self.admin.get("/api/v1/transfers?limit=500").json["items"])
        body, ctype = xu.multipart([("to", "recipient@partner.example")],
                                   [("file", "cut.bin", os.urandom(400000))])
        head = ("POST /api/v1/transfers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (self.admin.token, ctype, len(body))).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sock.sendall(head + body[:len(body) // 2])
            # The server streams the file to disk as it arrives: wait until it has begun.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.blob_dirs() == before:
                time.sleep(0.05)
            self.assertNotEqual(self.blob_dirs(), before, "the upload never reached the disk")
        # The server notices the disconnect and cleans up; poll instead of guessing a time.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.blob_dirs() != before:
            self.admin.post("/api/v1/exchange/sweep", json={})
            time.sleep(0.2)
        self.assertEqual(self.blob_dirs(), before)
        self.assertEqual(len(self.admin.get("/api/v1/transfers?limit=500").json["items"]), n)
        self.assertStatus(self.admin.post("/api/v1/exchange/sweep", json={}), 200)
        self.assertEqual(self.blob_dirs(), before)

    def test_parallel_downloads_of_a_one_download_link(self):
        t = self.sent(files=[("one.bin", os.urandom(100000))])
        results = []
        barrier = threading.Barrier(4)

        def go():
            barrier.wait()
            results.append(self.download(t).status)

        threads = [threading.Thread(target=go) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(sorted(results), [200, 410, 410, 410])

    def test_notification_mail_reaches_the_smtp_server(self):
        t = self.sent(to="mail.check@partner.example", message="Quarterly figures")
        self.assertEqual(t["mail"], "sent")
        msgs = self.smtp.wait_for("mail.check@partner.example")
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["From"].addresses[0].addr_spec, "rampart@corp.example")
        raw = msgs[0].as_string()
        text = msgs[0].get_body(("plain", "html")).get_content()
        for data in (raw, text):
            self.assertNotIn(t["password"], data)
        self.assertIn(t["url"], text)
        self.assertIn("Quarterly figures", text)

    def test_request_upload_and_only_the_requester_fetches(self):
        r = self.admin.post("/api/v1/requests", json={"from": "supplier@partner.example"})
        self.assertStatus(r, 201)
        req = r.json
        self.secrets += [req["url"].rsplit("/", 1)[1], req["password"]]
        path = xu.link_path(req["url"])
        anon = self.server.client()
        self.assertIn(b"multipart/form-data", anon.get(path, auth=False).body)
        body, ctype = xu.multipart([("password", req["password"])], [("file", "invoice.pdf", b"%PDF-1.7 x")])
        r = anon.request("POST", path, body=body, content_type=ctype, auth=False)
        self.assertStatus(r, 201)
        r = anon.request("POST", path, body=body, content_type=ctype, auth=False)
        self.assertEqual(r.status, 410)   # one upload only
        self.assertEqual(self.download(req).status, 403)   # anonymous
        r = self.download(req, client=self.admin)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"%PDF-1.7 x")

    def test_zz_no_link_or_password_in_the_log(self):
        log = self.server.log_text()
        self.assertTrue(self.secrets)
        for s in self.secrets:
            self.assertNotIn(s, log)


if __name__ == "__main__":
    unittest.main()
