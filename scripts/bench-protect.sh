#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# File protection against age and gpg --symmetric, in the same run, on the
# same file (1 GiB of random bytes by default, BENCH_PROTECT_MIB): wall
# time and throughput of `rampart protect` and `rampart open` (key service
# on loopback: a rampartd started here) and of age and gpg encrypting and
# decrypting the same file, then the ratios.  Figures only, no thresholds.
# Usage: scripts/bench-protect.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
MIB=${BENCH_PROTECT_MIB:-1024}
RAMPARTD="$BUILD/src/server/rampartd"
RAMPART="$BUILD/src/cli/rampart"
for tool in curl python3 age age-keygen gpg "$RAMPARTD" "$RAMPART"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "bench-protect: $tool is missing (scripts/deps.sh installs age and gnupg; make build builds rampart)" >&2
    exit 1
  fi
done

TMP=$(mktemp -d /tmp/rampart-bench-protect.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
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

head -c "$((MIB * 1024 * 1024))" /dev/urandom >"$TMP/plain.bin"
sync
BYTES=$(stat -c %s "$TMP/plain.bin")

# Seconds of wall time for one command.
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1"
}

R_ENC=$(timed "$RAMPART" protect "$TMP/plain.bin" --to role:employee)
R_DEC=$(timed "$RAMPART" open "$TMP/plain.bin.rpf" -o "$TMP/rampart.out")
cmp -s "$TMP/plain.bin" "$TMP/rampart.out" || { echo "bench-protect: rampart round trip differs" >&2; exit 1; }
rm -f "$TMP/rampart.out"

age-keygen -o "$TMP/age.key" 2>/dev/null
AGE_PUB=$(age-keygen -y "$TMP/age.key")
A_ENC=$(timed age -r "$AGE_PUB" -o "$TMP/plain.age" "$TMP/plain.bin")
A_DEC=$(timed age -d -i "$TMP/age.key" -o "$TMP/age.out" "$TMP/plain.age")
cmp -s "$TMP/plain.bin" "$TMP/age.out" || { echo "bench-protect: age round trip differs" >&2; exit 1; }
rm -f "$TMP/age.out" "$TMP/plain.age"

export GNUPGHOME="$TMP/gnupg"
mkdir -m 0700 "$GNUPGHOME"
printf '%s\n' 'bench passphrase' >"$TMP/gpg.pw"
GPG=(gpg --batch --quiet --yes --pinentry-mode loopback --passphrase-file "$TMP/gpg.pw")
G_ENC=$(timed "${GPG[@]}" --symmetric --cipher-algo AES256 --compress-algo none -o "$TMP/plain.gpg" "$TMP/plain.bin")
G_DEC=$(timed "${GPG[@]}" --decrypt -o "$TMP/gpg.out" "$TMP/plain.gpg")
cmp -s "$TMP/plain.bin" "$TMP/gpg.out" || { echo "bench-protect: gpg round trip differs" >&2; exit 1; }

echo "3. File protection of $MIB MiB ($(nproc) cores): rampart (key service on loopback) vs age and gpg --symmetric"
python3 - "$BYTES" "$R_ENC" "$R_DEC" "$A_ENC" "$A_DEC" "$G_ENC" "$G_DEC" <<'PY'
import sys
n = int(sys.argv[1])
r_enc, r_dec, a_enc, a_dec, g_enc, g_dec = map(float, sys.argv[2:])
mbs = lambda t: n / t / 1e6 if t > 0 else 0.0
for name, e, d in (("rampart", r_enc, r_dec), ("age", a_enc, a_dec), ("gpg --symmetric", g_enc, g_dec)):
    print("   %-16s encrypt %7.3f s %8.0f MB/s   decrypt %7.3f s %8.0f MB/s" % (name, e, mbs(e), d, mbs(d)))
ratio = lambda a, b: mbs(a) / mbs(b) if mbs(b) else 0.0
print("   rampart/age: encrypt %.2fx, decrypt %.2fx" % (ratio(r_enc, a_enc), ratio(r_dec, a_dec)))
print("   rampart/gpg: encrypt %.2fx, decrypt %.2fx" % (ratio(r_enc, g_enc), ratio(r_dec, g_dec)))
PY
