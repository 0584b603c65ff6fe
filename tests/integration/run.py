#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Runs Rampart's integration tests against a real rampartd.

Usage: tests/integration/run.py [--build DIR] [--engine sqlite|postgresql] [-j N]
                                [-k PATTERN] [-v] [MODULE...]

Discovers tests/integration/test_*.py (or the named modules), runs them, and
prints a summary; each module runs in its own process (no terminal, bounded
by --module-timeout).  The last line is machine-readable:
    integration: N passed, N failed
Server logs are kept in test-output/integration/<TestClass>.log (--output).  The exit
status is 0 only when nothing failed.  With -j N, N modules run at a time
(each test class has its own server on its own port).

--engine postgresql starts one private PostgreSQL cluster for the run
(tests/integration/pgserver.py: initdb in a temporary directory, a Unix
socket, never the system service) and gives every test server a database of
its own; the default is SQLite in each server's data directory.
"""

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test)


def load(modules, pattern):
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = ["*%s*" % pattern]
    suite = unittest.TestSuite()
    for m in modules:
        try:
            suite.addTests(loader.loadTestsFromName(m))
        except Exception as e:  # a module that does not even import is a failure, not a crash
            suite.addTest(unittest.FunctionTestCase(_raiser(m, e), description="import " + m))
    return suite


def _raiser(module, exc):
    def fail():
        raise AssertionError("cannot load %s: %r" % (module, exc))
    return fail


def run_inline(modules, pattern, verbosity):
    suite = load(modules, pattern)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity, resultclass=CountingResult,
                                     buffer=False)
    result = runner.run(suite)
    failed = [str(t) for t, _ in result.failures + result.errors + result.unexpectedSuccesses]
    return {
        "passed": len(result.passed) + len(result.expectedFailures),
        "failed": len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses),
        "skipped": len(result.skipped),
        "skip_reasons": [reason for _, reason in result.skipped],
        "failed_names": failed,
    }


def run_worker(module, args):
    """One module in a child process, in a new session without a terminal (so
    nothing can wait for a password typed at it) and with a time bound.
    Returns (module, output, counts)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--build", args.build, "--output", args.output,
           "--engine", args.engine, "--json-result", "-", module]
    if args.k:
        cmd += ["-k", args.k]
    if args.verbose:
        cmd.append("-v")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=args.module_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)   # the worker and every server or CLI it started
        out, _ = p.communicate()
        return module, out, {"passed": 0, "failed": 1, "skipped": 0,
                             "failed_names": ["%s (timed out after %ds)" % (module, args.module_timeout)]}
    counts = None
    marker = "\nJSON-RESULT "
    if marker in out:
        out, _, tail = out.rpartition(marker)
        counts = json.loads(tail.strip())
    if counts is None:
        counts = {"passed": 0, "failed": 1, "skipped": 0,
                  "failed_names": ["%s (worker crashed with %d)" % (module, p.returncode)]}
    return module, out, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strict-skips", action="store_true",
                    help="count a skip that is neither the other engine's nor a missing kernel feature as a failure")
    ap.add_argument("--build", default="build", help="build directory holding src/server/rampartd")
    ap.add_argument("--output", default="test-output/integration",
                    help="directory for server logs (emptied first)")
    ap.add_argument("-j", type=int, default=1, help="modules run in parallel")
    ap.add_argument("-k", help="only tests whose name contains this")
    ap.add_argument("--module-timeout", type=int, default=900,
                    help="seconds a module may take before it is killed and counted as failed")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite",
                    help="the database the test servers use (default sqlite)")
    ap.add_argument("--json-result", help=argparse.SUPPRESS)
    ap.add_argument("modules", nargs="*", help="test modules (test_server, ...); default all")
    args = ap.parse_args()

    repo = os.path.dirname(os.path.dirname(HERE))
    args.build = os.path.abspath(os.path.join(repo, args.build) if not os.path.isabs(args.build) else args.build)
    os.environ["RAMPART_BUILD"] = args.build
    args.output = os.path.abspath(os.path.join(repo, args.output))
    os.environ["RAMPART_TEST_OUTPUT"] = args.output
    os.environ["RAMPART_TEST_ENGINE"] = args.engine
    sys.path.insert(0, HERE)
    os.chdir(repo)

    daemon = os.path.join(args.build, "src", "server", "rampartd-test")
    if not os.access(daemon, os.X_OK):
        print("integration: %s is missing; build first (make build)" % daemon)
        print("integration: 0 passed, 1 failed")
        return 1

    modules = [m[:-3] if m.endswith(".py") else m for m in args.modules]
    modules = [os.path.basename(m) for m in modules]
    if not modules:
        modules = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))

    verbosity = 2 if args.verbose else 1
    if args.json_result:
        counts = run_inline(modules, args.k, verbosity)
        sys.stdout.flush()
        print("\nJSON-RESULT " + json.dumps(counts))
        return 0

    # Fresh logs for this run (workers share the directory the parent emptied).
    if os.path.isdir(args.output):
        for f in os.listdir(args.output):
            if f.endswith(".log"):
                os.unlink(os.path.join(args.output, f))
    os.makedirs(args.output, exist_ok=True)

    cluster = None
    if args.engine == "postgresql" and not os.environ.get("RAMPART_TEST_PG_SOCKET"):
        import pgserver
        try:
            cluster = pgserver.Cluster().start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("integration: cannot start PostgreSQL: %s" % e)
            print("integration: 0 passed, 1 failed")
            return 1
        os.environ["RAMPART_TEST_PG_SOCKET"] = cluster.socket_dir
        print("integration: PostgreSQL %s (%s)" % (cluster.url(), cluster.bin))
    try:
        return run_all(modules, args, repo)
    finally:
        if cluster:
            cluster.stop_keeping_log(os.path.join(args.output, "postgresql.log"))


# Skips that are by design, not a machine missing something: the other
# engine's stage runs the test, or the kernel lacks a feature.  Any other
# skip means this machine was not set up (scripts/deps.sh installs
# everything the suite needs) and counts as a failure with --strict-skips.
EXPECTED_SKIPS = ("PostgreSQL stage only", "only on PostgreSQL (run.py --engine postgresql)", "SQLite only",
                  "opens the SQLite database file directly", "kernel:")


def skip_is_expected(reason):
    return any(reason.startswith(p) or p in reason for p in EXPECTED_SKIPS)


def run_all(modules, args, repo):
    start = time.monotonic()
    totals = {"passed": 0, "failed": 0, "skipped": 0, "failed_names": [], "skip_reasons": []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
        futures = [ex.submit(run_worker, m, args) for m in modules]
        for f in concurrent.futures.as_completed(futures):
            module, output, counts = f.result()
            print("---- %s: %d passed, %d failed, %d skipped"
                  % (module, counts["passed"], counts["failed"], counts["skipped"]))
            if counts["failed"] or args.verbose:
                print(output)
            sys.stdout.flush()
            for k in ("passed", "failed", "skipped"):
                totals[k] += counts[k]
            totals["failed_names"] += counts["failed_names"]
            totals["skip_reasons"] += ["%s: %s" % (module, r) for r in counts.get("skip_reasons", [])]

    print("")
    print("integration summary: %d modules in %.0fs; %d passed, %d failed, %d skipped"
          % (len(modules), time.monotonic() - start, totals["passed"], totals["failed"], totals["skipped"]))
    for name in totals["failed_names"]:
        print("  FAILED " + name)
    reasons = {}
    for r in totals["skip_reasons"]:
        reasons[r] = reasons.get(r, 0) + 1
    unexpected = 0
    for r, n in sorted(reasons.items()):
        expected = skip_is_expected(r.split(": ", 1)[-1])
        if not expected:
            unexpected += n
        print("  SKIPPED %d x %s%s" % (n, r, "" if expected else "  <- this machine is not set up"))
    if unexpected and args.strict_skips:
        print("integration: %d skips that a machine set up by scripts/deps.sh must not have" % unexpected)
        totals["failed"] += unexpected
    print("server logs: %s/" % os.path.relpath(args.output, repo))
    print("integration: %d passed, %d failed, %d skipped" % (totals["passed"], totals["failed"], totals["skipped"]))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
