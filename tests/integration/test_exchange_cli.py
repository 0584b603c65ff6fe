# SPDX-License-Identifier: AGPL-3.0-or-later
"""rampart send / request / transfers / fetch against a real rampartd and a
real SMTP server on loopback (the sink from test_exchange)."""

import http.server
import json
import pty
import select
import signal
import time
import os
import re
import shutil
import subprocess
import tempfile
import threading

import exchange_util as xu
import harness
from harness import ServerTestCase
from test_exchange import SmtpSink

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
ATTEMPTS = 3


class ExchangeCli(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpSink()
        threading.Thread(target=cls.smtp.serve_forever, daemon=True).start()
        cls.SERVER_ARGS = {"env": {
            "RAMPART_LIMITS_RATE_PER_MINUTE": "0",
            "RAMPART_EXCHANGE_SMTP_URL": "smtp://127.0.0.1:%d" % cls.smtp.server_address[1],
            "RAMPART_EXCHANGE_SMTP_FROM": "rampart@corp.example",
            "RAMPART_EXCHANGE_PASSWORD_ATTEMPTS": str(ATTEMPTS),
        }}
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="rampart-xcli-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()
        cls.smtp.shutdown()
        cls.smtp.server_close()

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)

    def cli(self, *args, token=None, cwd=None, stdin=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                   RAMPART_SERVER=self.server.url)
        if token:
            env["RAMPART_TOKEN"] = token
        return subprocess.run([harness.cli_path()] + list(args), env=env, capture_output=True,
                              text=True, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                              timeout=120, start_new_session=True, cwd=cwd or self.dir)

    def write(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def pwfile(self, password):
        return self.write("pw-%d.txt" % len(os.listdir(self.dir)), (password + "\n").encode())

    def send_json(self, *files, extra=()):
        r = self.cli("send", *files, "--to", "bob@partner.example", "--json", *extra, token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        t = json.loads(r.stdout)
        for k in ("id", "url", "password"):
            self.assertIn(k, t)
        return t

    def cli_pty(self, args, password, cwd, token=None, timeout=60):
        """Runs rampart on a pseudo-terminal (stdin, stdout, stderr and /dev/tty), typing
        @password after the prompt.  Returns (exit code, everything the terminal showed)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                   RAMPART_SERVER=self.server.url)
        if token:
            env["RAMPART_TOKEN"] = token
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.chdir(cwd)
                os.execve(harness.cli_path(), [harness.cli_path()] + list(args), env)
            finally:
                os._exit(127)
        shown, typed = b"", False
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not typed and b"Password for the link:" in shown:
                    os.write(fd, password.encode() + b"\n")
                    typed = True
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
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
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.fail("rampart did not finish in time")
            time.sleep(0.05)

    def test_password_prompt_without_echo_and_progress_on_a_terminal(self):
        data = os.urandom(3 << 20)
        t = self.send_json(self.write("big.bin", data))
        out = tempfile.mkdtemp(dir=self.tmp)
        code, shown = self.cli_pty(["fetch", t["url"]], t["password"], out)
        self.assertEqual(code, EXIT_OK, shown)
        self.assertIn("Password for the link:", shown)
        self.assertNotIn(t["password"], shown)       # typed without echo
        self.assertIn("download [", shown)
        self.assertIn("100%", shown)
        with open(os.path.join(out, "big.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        # Not on a terminal: no progress bar on stderr.
        t = self.send_json(self.write("big2.bin", data))
        r = self.cli("fetch", t["url"], "--password-file", self.pwfile(t["password"]), cwd=out)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertNotIn("download [", r.stderr)
        # send on a terminal draws its own bar.
        code, shown = self.cli_pty(["send", os.path.join(self.dir, "big.bin"), "--to", "x@partner.example"],
                                   "", out, token=self.admin.token)
        self.assertEqual(code, EXIT_OK, shown)
        self.assertIn("upload [", shown)

    def test_send_then_fetch_identical_then_used(self):
        data = os.urandom(300000) + b"\x00end"
        src = self.write("quarterly report.bin", data)
        t = self.send_json(src, extra=("--message", "Q3 numbers", "--expires", "2d"))
        self.assertEqual(t["mail"], "sent")
        with self.smtp.lock:
            mails = [m for m in self.smtp.messages if t["url"] in m["data"]]
        self.assertEqual(len(mails), 1)
        self.assertNotIn(t["password"], mails[0]["data"])
        out = tempfile.mkdtemp(dir=self.tmp)
        pw = self.pwfile(t["password"])
        r = self.cli("fetch", t["url"], "--password-file", pw, cwd=out)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        path = r.stdout.strip()
        self.assertEqual(os.path.basename(path), "quarterly report.bin")
        with open(os.path.join(out, "quarterly report.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(sorted(os.listdir(out)), ["quarterly report.bin"])  # no temporary file left
        # The second fetch finds the link used up, says so and leaves nothing behind.
        r = self.cli("fetch", t["url"], "--password-file", pw, cwd=out)
        self.assertEqual(r.returncode, EXIT_FAILED, r.stderr)
        self.assertIn("already been used", r.stderr)
        self.assertEqual(sorted(os.listdir(out)), ["quarterly report.bin"])
        # The sender sees it downloaded.
        r = self.cli("transfers", "show", t["id"], token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertRegex(r.stdout, r"state\s+downloaded")
        self.assertIn("quarterly report.bin", r.stdout)
        self.assertIn("127.0.0.1", r.stdout)
        self.assertNotIn(t["password"], r.stdout)

    def test_wrong_password_exit_code_then_right_one_works(self):
        src = self.write("a.txt", b"alpha\n")
        t = self.send_json(src)
        r = self.cli("fetch", t["url"], "--password-file", self.pwfile("not-the-password"))
        self.assertEqual(r.returncode, EXIT_AUTH, r.stderr)
        self.assertIn("password", r.stderr.lower())
        self.assertNotIn("not-the-password", r.stderr + r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "a.txt.part")))
        out = tempfile.mkdtemp(dir=self.tmp)
        r = self.cli("fetch", t["url"], "-o", os.path.join(out, "saved.txt"),
                     "--password-file", self.pwfile(t["password"]))
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        with open(os.path.join(out, "saved.txt"), "rb") as f:
            self.assertEqual(f.read(), b"alpha\n")

    def test_burned_after_wrong_passwords(self):
        t = self.send_json(self.write("b.txt", b"beta"))
        bad = self.pwfile("wrong-wrong")
        codes = [self.cli("fetch", t["url"], "--password-file", bad).returncode for _ in range(ATTEMPTS)]
        self.assertEqual(codes[:-1], [EXIT_AUTH] * (ATTEMPTS - 1))
        self.assertEqual(codes[-1], EXIT_FAILED)
        r = self.cli("fetch", t["url"], "--password-file", self.pwfile(t["password"]))
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("blocked", r.stderr)

    def test_never_overwrites_without_force(self):
        t = self.send_json(self.write("c.txt", b"new content"), extra=("--downloads", "3"))
        out = tempfile.mkdtemp(dir=self.tmp)
        target = os.path.join(out, "c.txt")
        with open(target, "wb") as f:
            f.write(b"precious")
        pw = self.pwfile(t["password"])
        # -o to an existing file: refused before the link is used.
        r = self.cli("fetch", t["url"], "-o", target, "--password-file", pw)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("--force", r.stderr)
        self.assertEqual(open(target, "rb").read(), b"precious")
        info = self.admin.get("/api/v1/transfers/" + t["id"]).json
        self.assertEqual(info["downloads_left"], 3)
        # The server's name taken in the directory: another name is chosen.
        r = self.cli("fetch", t["url"], "--password-file", pw, cwd=out)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(open(target, "rb").read(), b"precious")
        self.assertEqual(open(os.path.join(out, "c (1).txt"), "rb").read(), b"new content")
        # --force replaces.
        r = self.cli("fetch", t["url"], "-o", target, "--force", "--password-file", pw)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(open(target, "rb").read(), b"new content")

    def test_server_file_name_is_made_safe(self):
        # rampartd cleans names itself, so a hostile server is played by a small HTTP server.
        names = [
            "..%2F..%2Fetc%2Fpasswd",
            "evil%0D%1B%5B31m.sh",
            "..",
            "%2E%2Fhidden",
            "C%3A%5CWindows%5Cx.dll",
        ]
        for enc in names:
            disp = "attachment; filename=\"x\"; filename*=UTF-8''" + enc

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Disposition", disp)
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"data")

                def log_message(self, *a):
                    pass

            srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=srv.handle_request, daemon=True).start()
            out = tempfile.mkdtemp(dir=self.tmp)
            url = "http://127.0.0.1:%d/x/x_token" % srv.server_address[1]
            r = self.cli("fetch", url, "--password-file", self.pwfile("pw"), cwd=out)
            srv.server_close()
            self.assertEqual(r.returncode, EXIT_OK, r.stderr)
            got = os.listdir(out)
            self.assertEqual(len(got), 1, got)
            name = got[0]
            self.assertNotIn("/", name)
            self.assertNotIn("\\", name)
            self.assertFalse(any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in name), name)
            self.assertFalse(name.startswith("."), name)
            self.assertEqual(open(os.path.join(out, name), "rb").read(), b"data")

    def test_several_files_and_human_output(self):
        a, b = self.write("one.txt", b"1"), self.write("two.txt", b"22")
        r = self.cli("send", a, b, "--to", "carol@partner.example", token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        url = re.search(r"^Link:\s+(\S+)$", r.stdout, re.M).group(1)
        password = re.search(r"^Password:\s+(\S+)$", r.stdout, re.M).group(1)
        self.assertIn("another way", r.stdout)
        self.assertIn("mailed to carol@partner.example", r.stdout)
        out = tempfile.mkdtemp(dir=self.tmp)
        r = self.cli("fetch", url, "--password-file", "-", stdin=password + "\n", cwd=out)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertTrue(r.stdout.strip().endswith(".tar"))
        import tarfile
        with tarfile.open(os.path.join(out, r.stdout.strip())) as tf:
            self.assertEqual(sorted(tf.getnames()), ["one.txt", "two.txt"])

    def test_usage_and_lookup_errors(self):
        f = self.write("d.txt", b"d")
        self.assertEqual(self.cli("send", f, token=self.admin.token).returncode, EXIT_USAGE)
        self.assertEqual(self.cli("send", f, "--to", "x@y.example", "--downloads", "0",
                                  token=self.admin.token).returncode, EXIT_USAGE)
        r = self.cli("send", os.path.join(self.dir, "missing"), "--to", "x@y.example", token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertEqual(self.cli("send", f, "--to", "x@y.example").returncode, EXIT_AUTH)
        self.assertEqual(self.cli("fetch", "https://example.com/nope").returncode, EXIT_USAGE)
        self.assertEqual(self.cli("fetch", self.server.url + "/x/..").returncode, EXIT_USAGE)
        self.assertEqual(self.cli("fetch", "ftp://127.0.0.1/x/x_abc").returncode, EXIT_USAGE)
        r = self.cli("fetch", self.server.url + "/x/x_" + "B" * 43, "--password-file", self.pwfile("p"))
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, r.stderr)
        r = self.cli("transfers", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV", token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, r.stderr)
        # No terminal and no file: the password is not guessed.
        t = self.send_json(f)
        r = self.cli("fetch", t["url"])
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("--password-file", r.stderr)

    def test_list_and_revoke(self):
        t = self.send_json(self.write("e.txt", b"e"))
        r = self.cli("transfers", token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertIn(t["id"], r.stdout)
        r = self.cli("transfers", "list", "--mine", "--json", token=self.admin.token)
        self.assertIn(t["id"], [i["id"] for i in json.loads(r.stdout)["items"]])
        r = self.cli("transfers", "revoke", t["id"], token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        r = self.cli("fetch", t["url"], "--password-file", self.pwfile(t["password"]))
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("withdrew", r.stderr)

    def test_request_flow(self):
        r = self.cli("request", "--from", "supplier@partner.example", "--message", "the invoice",
                     "--json", token=self.admin.token)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        req = json.loads(r.stdout)
        self.assertEqual(req["mail"], "sent")
        # The outsider uploads through the link's form.
        body, ctype = xu.multipart([("password", req["password"])], [("file", "invoice.pdf", b"%PDF-1.7 x")])
        r = self.server.client().request("POST", xu.link_path(req["url"]), body=body, content_type=ctype,
                                         auth=False)
        self.assertStatus(r, 201)
        pw = self.pwfile(req["password"])
        # Nobody else can fetch it, not even with the password...
        r = self.cli("fetch", req["url"], "--password-file", pw)
        self.assertEqual(r.returncode, EXIT_AUTH, r.stderr)
        self.assertIn("rampart login", r.stderr)
        # ...the requester, logged in, can.
        out = tempfile.mkdtemp(dir=self.tmp)
        r = self.cli("fetch", req["url"], "--password-file", pw, token=self.admin.token, cwd=out)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(open(os.path.join(out, "invoice.pdf"), "rb").read(), b"%PDF-1.7 x")
        r = self.cli("transfers", "show", req["id"], "--json", token=self.admin.token)
        self.assertEqual(json.loads(r.stdout)["state"], "downloaded")


if __name__ == "__main__":
    import unittest
    unittest.main()
