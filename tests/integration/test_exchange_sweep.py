"""The exchange sweeper removes blob directories that no transfer owns, and nothing else."""
import os
import time
import unittest

import exchange_util as xu
from harness import ServerTestCase

HOUR = 3600


class ExchangeSweep(ServerTestCase):
    SERVER_ARGS = {"env": {"RAMPART_LIMITS_RATE_PER_MINUTE": "0"}}

    def blobs(self):
        return os.path.join(self.server.data_dir, "blobs")

    def make_dir(self, name, age_s):
        d = os.path.join(self.blobs(), name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), "wb") as f:
            f.write(b"RXB1 leftover")
        t = time.time() - age_s
        os.utime(d, (t, t))
        return d

    def sweep(self):
        self.assertStatus(self.admin.post("/api/v1/exchange/sweep", json={}), 200)

    def test_orphans_go_live_transfers_and_other_names_stay(self):
        r = xu.send(self.admin, files=[("keep.txt", b"still wanted")])
        self.assertStatus(r, 201)
        live = r.json
        os.makedirs(self.blobs(), exist_ok=True)
        old_orphan = self.make_dir("01ARZ3NDEKTSV4RRFFQ69G5FAW", 2 * HOUR)
        new_orphan = self.make_dir("01ARZ3NDEKTSV4RRFFQ69G5FAX", 0)
        not_ours = self.make_dir("lost+found", 2 * HOUR)
        # The live transfer's directory is just as old: its row keeps it.
        live_dir = os.path.join(self.blobs(), live["id"])
        t = time.time() - 2 * HOUR
        os.utime(live_dir, (t, t))

        self.sweep()
        self.assertFalse(os.path.exists(old_orphan))
        self.assertTrue(os.path.isdir(new_orphan), "a directory younger than an upload's window stays")
        self.assertTrue(os.path.isdir(not_ours), "only transfer-id directories are touched")
        self.assertTrue(os.path.isdir(live_dir))
        r = self.server.client().request("POST", xu.link_path(live["url"]), body=xu.form(live["password"]),
                                         content_type="application/x-www-form-urlencoded", auth=False)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"still wanted")
        log = open(self.server.log_path, encoding="utf-8", errors="replace").read()
        self.assertIn("transfer=01ARZ3NDEKTSV4RRFFQ69G5FAW", log)


if __name__ == "__main__":
    unittest.main()
