#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs every libFuzzer target of a fuzz build over its seed corpus, then
# fuzzes it for SECONDS.  Usage: scripts/fuzz.sh [BUILD] [SECONDS]
#   BUILD    a build directory configured with -Dfuzz=true (default build-fuzz)
#   SECONDS  fuzzing time per target (default 10; 0 only replays the corpus)
# Seed corpora live in fuzz/corpus/<name without "fuzz_">/ (or fuzz/corpus/<name>/).
# New inputs go to a scratch directory; crashes are saved under
# test-output/fuzz/ and the last line reads "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-10}
OUT=test-output/fuzz
mkdir -p "$OUT"

if [ ! -d "$BUILD/fuzz" ]; then
  echo "fuzz: $BUILD/fuzz does not exist; configure with: CC=clang meson setup $BUILD -Dfuzz=true -Dtests=false -Db_lundef=false" >&2
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
targets=()
for src in fuzz/fuzz_*.c; do
  targets+=("$(basename "$src" .c)")
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for name in "${targets[@]}"; do
  bin="$BUILD/fuzz/$name"
  short=${name#fuzz_}
  corpus=""
  for d in "fuzz/corpus/$short" "fuzz/corpus/$name"; do
    if [ -d "$d" ]; then corpus=$d; break; fi
  done
  if [ ! -x "$bin" ]; then
    echo "fuzz: $name FAILED: $bin was not built"
    failed=$((failed + 1))
    continue
  fi
  if [ -z "$corpus" ] || [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    echo "fuzz: $name FAILED: no seed corpus in fuzz/corpus/$short/"
    failed=$((failed + 1))
    continue
  fi
  log="$OUT/$name.log"
  work="$scratch/$name"
  mkdir -p "$work"
  common=(-rss_limit_mb=2048 -timeout=10 -malloc_limit_mb=1024 "-artifact_prefix=$OUT/$name-")
  # 1. Every seed once: crashes found earlier and kept in the corpus are regression tests.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$bin" "${common[@]}" -runs=0 "$corpus" >"$log" 2>&1; then
    echo "fuzz: $name FAILED replaying $corpus (see $log)"
    failed=$((failed + 1))
    continue
  fi
  # 2. Fuzz from the seeds for a bounded time.
  if [ "$SECONDS_EACH" -gt 0 ]; then
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$bin" "${common[@]}" \
         -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$work" "$corpus" >>"$log" 2>&1; then
      echo "fuzz: $name FAILED after fuzzing (see $log; reproducer saved as $OUT/$name-*)"
      failed=$((failed + 1))
      continue
    fi
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+$')
  echo "fuzz: $name ok (seeds: $(ls -A "$corpus" | wc -l), executions: ${runs:-0})"
  passed=$((passed + 1))
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
