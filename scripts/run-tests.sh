#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Everything `make test` runs, stage by stage, after ./build is built:
#   lint         banned calls, the include rule, cppcheck (scripts/lint.sh)
#   unit         cmocka suites (meson test -C build); test_store also on a
#                private PostgreSQL cluster (tests/integration/pgserver.py)
#   integration  a real rampartd on loopback (tests/integration/run.py), SQLite
#   integration-pg  the same suite with every server on PostgreSQL (run.py
#                --engine postgresql starts its own cluster; never the system
#                service).  It takes about half the SQLite stage's time (the
#                test cluster runs without fsync); with PARALLEL_ENGINES=1 both
#                integration stages run at once.
#   asan         unit + integration again, built with AddressSanitizer + UBSan
#   fuzz         every libFuzzer target over its corpus for a few seconds
#   browser      the console in headless Chromium (when web/ and chromium exist)
# Each stage prints its own summary; the last line is
#   tests: N passed, N failed
# counting test cases over all stages.  Exit status 1 if anything failed.
#
# Environment: BUILD (build), ASAN_BUILD (build-asan), FUZZ_BUILD (build-fuzz),
# FUZZ_SECONDS (10 per target), JOBS (2: integration modules in parallel),
# PARALLEL_ENGINES (0; 1 runs integration and integration-pg at the same time),
# STAGES (default "lint unit integration integration-pg asan fuzz browser").
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
JOBS=${JOBS:-2}
STAGES=${STAGES:-lint unit integration integration-pg asan fuzz browser}
MESON_SETUP=(meson setup --wrap-mode=nofallback)
OUT=test-output
mkdir -p "$OUT"
rm -f "$OUT/skips.txt"

total_passed=0
total_failed=0
summaries=()
started=$(date +%s)

# record STAGE PASSED FAILED [NOTE]
record() {
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
  summaries+=("$(printf '%-17s %4d passed, %4d failed  %s' "$1" "$2" "$3" "${4:-}")")
  printf '\n== %s: %d passed, %d failed %s\n' "$1" "$2" "$3" "${4:-}"
}

banner() {
  printf '\n==================== %s ====================\n' "$1"
}

want() {
  case " $STAGES " in *" $1 "*) return 0 ;; esac
  return 1
}

# Pulls "N passed, N failed" from the last matching line of a log; prints "P F" or nothing.
counts_from() {
  grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1 |
    sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
}

# Counts cmocka test cases from meson's JSON test log; prints "P F".
unit_counts() {
  python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, re, sys
passed = failed = 0
try:
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    print("0 1"); sys.exit()
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    p = sum(int(x) for x in re.findall(r"\[  PASSED  \] (\d+) test", out))
    f = sum(int(x) for x in re.findall(r"\[  FAILED  \] (\d+) test", out))
    ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
    if p == 0 and f == 0:
        p, f = (1, 0) if ok else (0, 1)
    elif not ok and f == 0:
        f = 1          # crashed or timed out after its last passing case
    passed += p; failed += f
print(passed, failed)
PY
}

# A private PostgreSQL cluster for the unit tests (test_store's second group):
# RAMPART_TEST_PG_URL names its database, which the tests empty.
PG_UNIT_DIR=""
pg_unit_start() {
  local url
  PG_UNIT_DIR=$(mktemp -d /tmp/rampart-pg-unit-XXXXXX)
  if url=$(python3 tests/integration/pgserver.py start "$PG_UNIT_DIR" 2>"$OUT/pg-unit.log"); then
    export RAMPART_TEST_PG_URL=$url
    echo "unit: PostgreSQL for test_store at $url"
  else
    cat "$OUT/pg-unit.log"
    record pg-unit-cluster 0 1 "(PostgreSQL would not start; log $OUT/pg-unit.log)"
    rm -rf "$PG_UNIT_DIR"
    PG_UNIT_DIR=""
  fi
}
pg_unit_stop() {
  if [ -n "$PG_UNIT_DIR" ]; then
    python3 tests/integration/pgserver.py stop "$PG_UNIT_DIR" >/dev/null 2>&1
    rm -rf "$PG_UNIT_DIR"
    PG_UNIT_DIR=""
    unset RAMPART_TEST_PG_URL
  fi
}
trap pg_unit_stop EXIT

run_unit() {  # BUILD LABEL
  local log="$OUT/$2.log" c rc
  banner "$2: meson test -C $1"
  rm -f "$1/meson-logs/testlog.json"   # never count a previous run's results
  meson test -C "$1" --print-errorlogs --num-processes "$JOBS" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  c=$(unit_counts "$1")
  if [ "$rc" -ne 0 ] && [ "${c#* }" = "0" ]; then
    c="${c% *} 1"                      # meson failed outside any test case (e.g. a rebuild)
  fi
  record "$2" ${c% *} ${c#* } "(cmocka cases; log $log)"
}

run_integration() {  # BUILD LABEL [ENGINE]
  local log="$OUT/$2.log" rc
  banner "$2: tests/integration/run.py --build $1 --engine ${3:-sqlite}"
  python3 tests/integration/run.py --build "$1" --engine "${3:-sqlite}" -j "$JOBS" --strict-skips \
    --output "$OUT/$2" 2>&1 |
    tee "$log"
  rc=${PIPESTATUS[0]}
  record_integration "$2" "$rc"
}

record_integration() {  # LABEL RC: the counts from the stage's log, and its skips with their reasons
  local log="$OUT/$1.log" c skipped
  c=$(counts_from "$log" integration)
  if [ -z "$c" ]; then c="0 1"; fi
  if [ "$2" -ne 0 ] && [ "${c#* }" = "0" ]; then c="${c% *} 1"; fi
  skipped=$(grep -E "^integration: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped" "$log" | tail -n 1 |
            sed -E 's/.* ([0-9]+) skipped.*/\1/')
  record "$1" ${c% *} ${c#* } "${skipped:-0} skipped (server logs in $OUT/$1/)"
  grep -E "^  SKIPPED " "$log" | sed "s/^  SKIPPED /    $1 skipped /" >> "$OUT/skips.txt"
}

# ---------------------------------------------------------------- build

banner "build: $BUILD"
if [ ! -f "$BUILD/build.ninja" ]; then
  "${MESON_SETUP[@]}" "$BUILD" || { record build 0 1 "meson setup failed"; }
fi
build_ok=1
if ! ninja -C "$BUILD"; then
  build_ok=0
  record build 0 1 "ninja -C $BUILD failed"
fi

# ---------------------------------------------------------------- stages

if want lint; then
  banner "lint"
  scripts/lint.sh 2>&1 | tee "$OUT/lint.log"
  rc=${PIPESTATUS[0]}
  c=$(counts_from "$OUT/lint.log" lint)
  [ -n "$c" ] || c="0 1"
  if [ "$rc" -ne 0 ] && [ "${c#* }" = "0" ]; then c="${c% *} 1"; fi
  record lint ${c% *} ${c#* }
fi

if [ $build_ok -eq 1 ]; then
  if want unit; then
    pg_unit_start
    run_unit "$BUILD" unit
  fi
  pg_pid=""
  if want integration-pg && want integration && [ "${PARALLEL_ENGINES:-0}" = 1 ]; then
    # Both engines at once: PostgreSQL's run in the background, its output
    # shown when the SQLite run is done.
    banner "integration-pg: started in the background (log $OUT/integration-pg.log)"
    python3 tests/integration/run.py --build "$BUILD" --engine postgresql -j "$JOBS" --strict-skips \
      --output "$OUT/integration-pg" >"$OUT/integration-pg.log" 2>&1 &
    pg_pid=$!
  fi
  want integration && run_integration "$BUILD" integration
  if [ -n "$pg_pid" ]; then
    wait "$pg_pid"
    rc=$?
    banner "integration-pg: tests/integration/run.py --build $BUILD --engine postgresql"
    cat "$OUT/integration-pg.log"
    record_integration integration-pg "$rc"
  elif want integration-pg; then
    run_integration "$BUILD" integration-pg postgresql
  fi
fi

if want asan; then
  banner "asan: build $ASAN_BUILD (clang, -fsanitize=address,undefined)"
  asan_ok=1
  if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
    CC=clang "${MESON_SETUP[@]}" "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug || asan_ok=0
  fi
  if [ $asan_ok -eq 1 ] && ninja -C "$ASAN_BUILD"; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export RAMPART_TEST_START_TIMEOUT=120
    run_unit "$ASAN_BUILD" asan-unit
    run_integration "$ASAN_BUILD" asan-integration
    unset ASAN_OPTIONS UBSAN_OPTIONS RAMPART_TEST_START_TIMEOUT
    # A sanitizer report in any server log is a failure even if the test passed.
    reports=$(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" \
                "$OUT"/asan-integration/*.log 2>/dev/null)
    if [ -n "$reports" ]; then
      echo "asan: sanitizer reports in:" $reports
      record asan-reports 0 1 "(sanitizer report in a server log)"
    fi
  else
    record asan-build 0 1 "the ASan build failed"
  fi
fi

if want fuzz; then
  banner "fuzz: build $FUZZ_BUILD (clang, -fsanitize=fuzzer,address), ${FUZZ_SECONDS}s per target"
  fuzz_ok=1
  if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
    CC=clang "${MESON_SETUP[@]}" "$FUZZ_BUILD" -Dfuzz=true -Dtests=false -Db_lundef=false \
      -Dbuildtype=debugoptimized || fuzz_ok=0
  fi
  if [ $fuzz_ok -eq 1 ] && ninja -C "$FUZZ_BUILD"; then
    scripts/fuzz.sh "$FUZZ_BUILD" "$FUZZ_SECONDS" 2>&1 | tee "$OUT/fuzz.log"
    rc=${PIPESTATUS[0]}
    c=$(counts_from "$OUT/fuzz.log" fuzz)
    [ -n "$c" ] || c="0 1"
    if [ "$rc" -ne 0 ] && [ "${c#* }" = "0" ]; then c="${c% *} 1"; fi
    record fuzz ${c% *} ${c#* } "(targets; logs in $OUT/fuzz/)"
  else
    record fuzz-build 0 1 "the fuzz build failed"
  fi
fi

if want browser; then
  if [ -x /usr/bin/chromium ] && [ -d web ] && [ -f web/Makefile ]; then
    banner "browser: make -C web test"
    make -C web test 2>&1 | tee "$OUT/browser.log"
    rc=${PIPESTATUS[0]}
    c=$(grep -E "^[a-z-]+: [0-9]+ passed, [0-9]+ failed" "$OUT/browser.log" | tail -n 1 |
        sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
    if [ -z "$c" ]; then
      if [ "$rc" -eq 0 ]; then c="1 0"; else c="0 1"; fi
    elif [ "$rc" -ne 0 ] && [ "${c#* }" = "0" ]; then
      c="${c% *} 1"
    fi
    record browser ${c% *} ${c#* }
  else
    echo ""
    echo "browser: skipped (needs /usr/bin/chromium, web/ and web/Makefile)"
  fi
fi

pg_unit_stop

# ---------------------------------------------------------------- summary

elapsed=$(( $(date +%s) - started ))
printf '\n==================== summary (%dm%02ds) ====================\n' $((elapsed / 60)) $((elapsed % 60))
for s in "${summaries[@]}"; do
  echo "  $s"
done
if [ -s "$OUT/skips.txt" ]; then
  echo "  skipped, with the reason (by design: the other engine's stage, or a kernel feature):"
  cat "$OUT/skips.txt"
fi
echo "tests: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
