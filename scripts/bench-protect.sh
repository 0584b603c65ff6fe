#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# File protection against age and gpg --symmetric, in the same run, on the
# same file (1 GiB of random bytes by default, BENCH_PROTECT_MIB): wall
# time and throughput of `rampart protect` and `rampart open` (key service
# on loopback: a rampartd started here) and of age and gpg encrypting and
# decrypting the same file, then the ratios.  Every tool reads and writes on
# the same file system in each pass: once in memory (/dev/shm, with a
# smaller file when it lacks room for the four copies) to show the tools
# themselves, once on disk (beside the build) to show what a person sees.
# rampart makes its output durable (one fdatasync before the rename); age
# and gpg do not, which the plain on-disk figures favour, so on disk age is
# also timed with the same durability (age, then `sync -d` of its output:
# one fdatasync, as rampart does) and both ratios are printed, labelled.
# Each command runs
# BENCH_PROTECT_RUNS times (default 3) and the fastest is kept.  The issue's
# target (2x age both ways) is printed as information, never enforced.
# Usage: scripts/bench-protect.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
MIB=${BENCH_PROTECT_MIB:-1024}
RUNS=${BENCH_PROTECT_RUNS:-3}
RAMPARTD="$BUILD/src/server/rampartd"
RAMPART="$BUILD/src/cli/rampart"
for tool in curl python3 age age-keygen gpg "$RAMPARTD" "$RAMPART"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "bench-protect: $tool is missing (scripts/deps.sh installs age and gnupg; make build builds rampart)" >&2
    exit 1
  fi
done

TMP=$(mktemp -d /tmp/rampart-bench-protect.XXXXXX)
SHM=
DISK=
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  [ -z "$SHM" ] || rm -rf "$SHM"
  [ -z "$DISK" ] || rm -rf "$DISK"
}
trap cleanup EXIT

PW='Bench-protect-admin-1'
RAMPART_ADMIN_PASSWORD="$PW" "$RAMPARTD" --data "$TMP/data" --listen 127.0.0.1:0 \
  --port-file "$TMP/port" >"$TMP/rampartd.log" 2>&1 &
PID=$!
for _ in $(seq 1 200); do
  [ -s "$TMP/port" ] && break
  sleep 0.05
done
PORT=$(cat "$TMP/port")
export RAMPART_SERVER="http://127.0.0.1:$PORT"
RAMPART_TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d "{\"login\":\"admin\",\"password\":\"$PW\",\"client\":\"cli\"}" "$RAMPART_SERVER/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export RAMPART_TOKEN
export XDG_CONFIG_HOME="$TMP/config"

age-keygen -o "$TMP/age.key" 2>/dev/null
AGE_PUB=$(age-keygen -y "$TMP/age.key")
export GNUPGHOME="$TMP/gnupg"
mkdir -m 0700 "$GNUPGHOME"
printf '%s\n' 'bench passphrase' >"$TMP/gpg.pw"
GPG=(gpg --batch --quiet --yes --pinentry-mode loopback --passphrase-file "$TMP/gpg.pw")

# Seconds of wall time for one command (the fastest of RUNS); $CLEAN is
# removed before each run, since rampart refuses to overwrite its output,
# and everything written before is synced first (untimed), so that no run
# pays for writing back what an earlier one left in the page cache.
timed() {
  local best= t0 t1 t
  for _ in $(seq 1 "$RUNS"); do
    rm -f "$CLEAN"
    sync
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    t=$(python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$t" "$best"; then
      best=$t
    fi
  done
  echo "$best"
}

# Runs a command, then makes its output $1 durable as rampart does (one
# fdatasync): the peer measured with the same durability.
synced() {
  local out=$1
  shift
  "$@" && sync -d "$out"
}

# One pass in directory $1 with a file of $2 MiB, labelled $3; $4 = 1 also
# times age with the same durability as rampart.
pass() {
  local dir=$1 mib=$2 label=$3 durable=${4:-0} bytes r_enc r_dec a_enc a_dec g_enc g_dec
  local s_enc=0 s_dec=0
  head -c "$((mib * 1024 * 1024))" /dev/urandom >"$dir/plain.bin"
  sync
  bytes=$(stat -c %s "$dir/plain.bin")

  # Each protect registers a new file id; the last one written is opened.
  CLEAN="$dir/plain.bin.rpf" r_enc=$(timed "$RAMPART" protect "$dir/plain.bin" --to role:employee)
  CLEAN="$dir/rampart.out" r_dec=$(timed "$RAMPART" open "$dir/plain.bin.rpf" -o "$dir/rampart.out")
  cmp -s "$dir/plain.bin" "$dir/rampart.out" || { echo "bench-protect: rampart round trip differs" >&2; exit 1; }
  rm -f "$dir/rampart.out" "$dir/plain.bin.rpf"

  CLEAN="$dir/plain.age" a_enc=$(timed age -r "$AGE_PUB" -o "$dir/plain.age" "$dir/plain.bin")
  CLEAN="$dir/age.out" a_dec=$(timed age -d -i "$TMP/age.key" -o "$dir/age.out" "$dir/plain.age")
  cmp -s "$dir/plain.bin" "$dir/age.out" || { echo "bench-protect: age round trip differs" >&2; exit 1; }
  rm -f "$dir/age.out"
  if [ "$durable" = 1 ]; then
    CLEAN="$dir/age.out" s_dec=$(timed synced "$dir/age.out" age -d -i "$TMP/age.key" -o "$dir/age.out" "$dir/plain.age")
    CLEAN="$dir/plain.age" s_enc=$(timed synced "$dir/plain.age" age -r "$AGE_PUB" -o "$dir/plain.age" "$dir/plain.bin")
  fi
  rm -f "$dir/age.out" "$dir/plain.age"

  CLEAN="$dir/plain.gpg" g_enc=$(timed "${GPG[@]}" --symmetric --cipher-algo AES256 --compress-algo none -o "$dir/plain.gpg" "$dir/plain.bin")
  CLEAN="$dir/gpg.out" g_dec=$(timed "${GPG[@]}" --decrypt -o "$dir/gpg.out" "$dir/plain.gpg")
  cmp -s "$dir/plain.bin" "$dir/gpg.out" || { echo "bench-protect: gpg round trip differs" >&2; exit 1; }
  rm -f "$dir/gpg.out" "$dir/plain.gpg" "$dir/plain.bin"

  echo "   $label: $mib MiB in $dir, fastest of $RUNS"
  python3 - "$bytes" "$r_enc" "$r_dec" "$a_enc" "$a_dec" "$g_enc" "$g_dec" "$s_enc" "$s_dec" <<'PY'
import sys
n = int(sys.argv[1])
r_enc, r_dec, a_enc, a_dec, g_enc, g_dec, s_enc, s_dec = map(float, sys.argv[2:])
mbs = lambda t: n / t / 1e6 if t > 0 else 0.0
for name, e, d in (("rampart", r_enc, r_dec), ("age", a_enc, a_dec), ("gpg --symmetric", g_enc, g_dec)):
    print("     %-16s encrypt %7.3f s %8.0f MB/s   decrypt %7.3f s %8.0f MB/s" % (name, e, mbs(e), d, mbs(d)))
ratio = lambda a, b: mbs(a) / mbs(b) if mbs(b) else 0.0
target = lambda x: "meets the 2x target" if x >= 2.0 else "below the 2x target"
re_, rd = ratio(r_enc, a_enc), ratio(r_dec, a_dec)
if s_enc > 0:
    print("     %-16s encrypt %7.3f s %8.0f MB/s   decrypt %7.3f s %8.0f MB/s" % ("age + sync -d", s_enc, mbs(s_enc), s_dec, mbs(s_dec)))
label = " (plain: age's output left in the page cache)" if s_enc > 0 else ""
print("     rampart/age: encrypt %.2fx (%s), decrypt %.2fx (%s)%s" % (re_, target(re_), rd, target(rd), label))
if s_enc > 0:
    se, sd = ratio(r_enc, s_enc), ratio(r_dec, s_dec)
    print("     rampart/(age + sync -d): encrypt %.2fx (%s), decrypt %.2fx (%s) (same durability: both outputs fdatasynced)"
          % (se, target(se), sd, target(sd)))
print("     rampart/gpg: encrypt %.2fx, decrypt %.2fx" % (ratio(r_enc, g_enc), ratio(r_dec, g_dec)))
PY
}

echo "3. File protection ($(nproc) cores): rampart (key service on loopback) vs age and gpg --symmetric"
# In memory: the plaintext, its protected copy and one output at a time need
# about three times the file; keep a quarter of /dev/shm free besides.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  AVAIL_MIB=$(( $(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') / 1024 ))
  SHM_MIB=$MIB
  while [ "$SHM_MIB" -gt 16 ] && [ $((SHM_MIB * 4)) -gt "$AVAIL_MIB" ]; do
    SHM_MIB=$((SHM_MIB / 2))
  done
  if [ $((SHM_MIB * 4)) -le "$AVAIL_MIB" ]; then
    SHM=$(mktemp -d /dev/shm/rampart-bench-protect.XXXXXX)
    pass "$SHM" "$SHM_MIB" "in memory (tmpfs)"
  else
    echo "   in memory: skipped, /dev/shm has only $AVAIL_MIB MiB free"
  fi
fi
mkdir -p "$BUILD/bench-protect"
DISK=$(mktemp -d "$BUILD/bench-protect/run.XXXXXX")
pass "$DISK" "$MIB" "on disk ($(df -PT "$DISK" | awk 'NR == 2 { print $2 }'))" 1
echo "   (rampart's outputs are durable: one fdatasync before the rename; age and gpg leave theirs in the page cache,"
echo "    except in the age + sync -d line; tmpfs has nothing to sync, so there the plain ratios are the fair ones)"
