# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers for tests that run several rampartd on one PostgreSQL database, set
up as docs/operations.md section 12 says: the first server's key files copied
to the others, and one blob directory every server sees (DATA/blobs a symlink
to it, as an NFS mount or a shared volume would be)."""

import concurrent.futures
import os
import shutil
import tempfile

from harness import Server

KEY_FILES = ("secret.key", "protect_wrap.key", "policy_sign.key")


def prepare_data_dir(data_dir, blobs, keys_from=None):
    """A data directory whose blobs/ is the shared @blobs, with the key files of @keys_from."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    os.symlink(blobs, os.path.join(data_dir, "blobs"))
    for name in KEY_FILES if keys_from else ():
        shutil.copy2(os.path.join(keys_from, name), os.path.join(data_dir, name))
        os.chmod(os.path.join(data_dir, name), 0o600)


class Group:
    """Servers named @names on the database @url, started one after the other;
    the first loads the sample organization and makes the keys the others copy."""

    def __init__(self, names, url, env=None):
        self.url = url
        self.blobs = tempfile.mkdtemp(prefix="rampart-it-blobs-")
        os.chmod(self.blobs, 0o700)
        self.servers = []
        try:
            first = None
            for name in names:
                s = Server(name, database=url, env=env, seed_hr=first is None)
                prepare_data_dir(s.data_dir, self.blobs, keys_from=first.data_dir if first else None)
                self.servers.append(s)
                s.start()
                first = first or s
        except BaseException:
            self.cleanup()
            raise

    def dead(self):
        """Names of the servers whose process is no longer running."""
        return [s.name for s in self.servers if not s.running()]

    def stop(self):
        for s in self.servers:
            s.stop()

    def cleanup(self):
        for s in reversed(self.servers):
            try:
                s.cleanup()
            except Exception:
                pass
        shutil.rmtree(self.blobs, ignore_errors=True)


def parallel(calls, workers=None):
    """Runs every zero-argument callable of @calls at once; returns their results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or len(calls)) as ex:
        return [f.result() for f in [ex.submit(c) for c in calls]]
