#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Endpoint footprint and scale, on loopback only:
#   1. The agent: a real `rampart-agent run` (enrolled with a rampartd started
#      here, a policy set on its unit) on a copy of the test fixture root
#      whose dpkg status holds BENCH_EP_PACKAGES packages, checking in every
#      second.  After BENCH_AGENT_WARMUP check-ins: its resident memory
#      (VmRSS) and CPU time (utime+stime from /proc/PID/stat, and that of
#      the children it waits for: `nft list ruleset`) per check-in over the
#      next BENCH_AGENT_CHECKINS, then its peak (VmHWM).  Then the same agent
#      at a 24 h interval: CPU used over BENCH_AGENT_IDLE idle seconds.  The
#      peer, in the same run: curl POSTing the same report (unsigned, so
#      refused), and one `rampart-agent checkin` on its own, their peak RSS
#      and CPU time as /usr/bin/time reports them.
#   2. tools/epsim (built here): BENCH_EP_DEVICES simulated devices (20,000)
#      enroll with one token, check in with a full report of
#      BENCH_EP_PACKAGES packages (1,500), then with a delta, then send
#      BENCH_EP_EVENTS operation-log events each when this rampartd serves
#      POST /api/v1/endpoint/events; rampartd's peak memory, CPU time per
#      request and database size.
# Figures only, no thresholds; the footprint targets are printed beside them.
# Usage: scripts/bench-endpoint.sh [BUILD]
# Environment: BENCH_EP_DEVICES (20000), BENCH_EP_PACKAGES (1500),
# BENCH_EP_CHANGES (5), BENCH_EP_EVENTS (100 per device),
# BENCH_EP_CONCURRENCY (16), BENCH_AGENT_WARMUP (3),
# BENCH_AGENT_CHECKINS (20), BENCH_AGENT_IDLE (10 s), BENCH_EP_SKIP_SIM (1:
# the agent only), BENCH_EP_SKIP_AGENT (1: the simulator only),
# BENCH_EP_THREADS (rampartd's worker threads for the fleet; default: its own).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
DEVICES=${BENCH_EP_DEVICES:-20000}
PACKAGES=${BENCH_EP_PACKAGES:-1500}
CHANGES=${BENCH_EP_CHANGES:-5}
EVENTS=${BENCH_EP_EVENTS:-100}
CONC=${BENCH_EP_CONCURRENCY:-16}
WARMUP=${BENCH_AGENT_WARMUP:-3}
CHECKINS=${BENCH_AGENT_CHECKINS:-20}
IDLE=${BENCH_AGENT_IDLE:-10}
RAMPARTD="$BUILD/src/server/rampartd"
AGENT="$BUILD/src/agent/rampart-agent"
ORG="Kestrel Group"
OUTDIR=bench/out
mkdir -p "$OUTDIR"
for tool in curl python3 ninja "$RAMPARTD" "$AGENT"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "bench-endpoint: $tool is missing (make build builds rampartd and rampart-agent)" >&2
    exit 1
  fi
done
# EPSIM=PATH runs a simulator built elsewhere.
if [ -z "${EPSIM:-}" ]; then
  EPSIM="$BUILD/tools/epsim"
  ninja -C "$BUILD" tools/epsim >/dev/null
fi

TMP=$(mktemp -d /tmp/rampart-bench-endpoint.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

json_get() {  # FILE EXPR: a Python expression on the parsed JSON "j"
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

rss_kb() {  # PID FIELD (VmRSS or VmHWM)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# cpu_ticks PID: "own children" CPU time (utime+stime, cutime+cstime) in clock ticks.
cpu_ticks() {
  python3 -c 'import sys; f=open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split(); print(int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))' "$1"
}

# cpu_ns PID: CPU time of every live thread in nanoseconds (/proc/PID/task/*/schedstat), finer than the clock ticks.
cpu_ns() {
  cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d\n", s }'
}

PW=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')

# start_rampartd NAME [THREADS]: a server with the sample organization; sets PORT, PID, DIR, TOKEN (admin session).
start_rampartd() {
  DIR="$TMP/$1"
  mkdir -p "$DIR"
  RAMPART_SERVER_THREADS=${2:-0} RAMPART_ADMIN_PASSWORD="$PW" RAMPART_LIMITS_RATE_PER_MINUTE=0 \
    "$RAMPARTD" --data "$DIR/data" --listen 127.0.0.1:0 --port-file "$DIR/port" \
    --seed-hr examples/hr/sample-org.csv >"$DIR/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    if [ -s "$DIR/port" ] && curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$DIR/port")/readyz" >/dev/null 2>&1; then
      break
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "bench-endpoint: rampartd ($1) exited during start-up:" >&2
      tail -n 20 "$DIR/log" >&2
      exit 1
    fi
    sleep 0.1
  done
  PORT=$(cat "$DIR/port")
  curl -fsS --max-time 60 "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$PW\",\"client\":\"cli\"}" -o "$DIR/login.json"
  TOKEN=$(json_get "$DIR/login.json" 'j["token"]')
}

# enrollment_token USES: prints a token for $ORG and sets a policy on the unit (every check-in then carries it signed).
enrollment_token() {
  local unit
  curl -fsS --max-time 60 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"org_unit\":\"$ORG\",\"uses\":$1,\"expires\":\"1d\"}" \
    "http://127.0.0.1:$PORT/api/v1/endpoint/enrollment-tokens" -o "$DIR/etoken.json"
  unit=$(json_get "$DIR/etoken.json" 'j["org_unit"]["id"]')
  curl -fsS --max-time 60 -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"baseline":{"disk_encryption_root":true,"firewall":true,"antivirus_max_age_days":7},"checkin_interval":"5m","logging":{"retention_days":90}}' \
    "http://127.0.0.1:$PORT/api/v1/endpoint/policies/$unit" -o /dev/null
  json_get "$DIR/etoken.json" 'j["token"]'
}

echo "Endpoints: agent footprint and a simulated fleet (loopback, $(nproc) cores)"

# ---------------------------------------------------------------- 1. the agent
if [ "${BENCH_EP_SKIP_AGENT:-0}" != 1 ]; then
  start_rampartd agent
  A_BASE="http://127.0.0.1:$PORT"
  ETOKEN=$(enrollment_token 1)
  ROOT="$TMP/root"
  cp -r tests/fixtures/endpoint/root "$ROOT"
  # The fixture's packages plus generated ones, PACKAGES in all (dpkg status format).
  python3 - "$ROOT/var/lib/dpkg/status" "$PACKAGES" <<'PY'
import sys
path, want = sys.argv[1], int(sys.argv[2])
text = open(path).read()
installed = text.count("Status: install ok installed")
out = [text.rstrip("\n"), ""]
for i in range(max(0, want - installed)):
    out.append("Package: bench-lib%05d\nStatus: install ok installed\nPriority: optional\nSection: libs\n"
               "Installed-Size: %d\nMaintainer: Bench <bench@example.org>\nArchitecture: amd64\n"
               "Source: bench-src%05d (%d.%d.%d-1)\nVersion: %d.%d.%d-1\nDescription: generated package %d\n"
               " A package of the bench's simulated desktop.\n"
               % (i, 100 + i, i // 3, 1 + i % 9, i % 31, i % 4, 1 + i % 9, i % 31, i % 4, i))
open(path, "w").write("\n".join(out))
PY
  AST="$TMP/agent-state"
  "$AGENT" enroll --server "$A_BASE" --token "$ETOKEN" --state-dir "$AST" --root "$ROOT" >/dev/null
  DEVICE=$(json_get "$AST/device.json" 'j["device_id"]')
  "$AGENT" posture --json --root "$ROOT" >"$TMP/report.json"
  NPKG=$(json_get "$TMP/report.json" 'len(j["packages"]["items"])')
  REPORT_BYTES=$(python3 -c 'import json,sys; print(len(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":"))))' "$TMP/report.json")

  # checkins: how many reports the server holds for the device (its history shows the last 50).
  checkins() {
    curl -fsS --max-time 10 -H "Authorization: Bearer $TOKEN" "$A_BASE/api/v1/devices/$DEVICE" -o "$TMP/dev.json" &&
      json_get "$TMP/dev.json" 'len(j["history"])'
  }
  wait_checkins() {  # N AGENT_PID: waits at most 30 s plus 3 s per check-in
    local deadline=$((SECONDS + 30 + 3 * $1))
    while [ "$SECONDS" -lt "$deadline" ]; do
      [ "$(checkins)" -ge "$1" ] && return 0
      kill -0 "$2" 2>/dev/null || break
      sleep 0.1
    done
    echo "bench-endpoint: the agent did not reach $1 check-ins; its last messages:" >&2
    tail -n 5 "$TMP/agent.err" >&2
    exit 1
  }
  if [ $((WARMUP + CHECKINS + 1)) -gt 50 ]; then
    echo "bench-endpoint: BENCH_AGENT_WARMUP + BENCH_AGENT_CHECKINS must stay below 50" >&2
    exit 1
  fi
  "$AGENT" run --interval 1s --server "$A_BASE" --state-dir "$AST" --root "$ROOT" >"$TMP/agent.out" 2>"$TMP/agent.err" &
  APID=$!
  PIDS+=("$APID")
  wait_checkins "$WARMUP" "$APID"
  read -r C0 K0 < <(cpu_ticks "$APID")
  W0=$(date +%s.%N)
  RSS_WARM=$(rss_kb "$APID" VmRSS)
  wait_checkins $((WARMUP + CHECKINS)) "$APID"
  read -r C1 K1 < <(cpu_ticks "$APID")
  W1=$(date +%s.%N)
  RSS_END=$(rss_kb "$APID" VmRSS)
  HWM=$(rss_kb "$APID" VmHWM)
  ANON=$(rss_kb "$APID" RssAnon)
  FILE=$(rss_kb "$APID" RssFile)
  PSS=$(awk '$1 == "Pss:" { print $2 }' "/proc/$APID/smaps_rollup")
  kill -TERM "$APID"
  wait "$APID" 2>/dev/null || true

  # Idle: one check-in at start, then nothing for 24 h.
  "$AGENT" run --interval 24h --server "$A_BASE" --state-dir "$AST" --root "$ROOT" >"$TMP/agent.out" 2>"$TMP/agent.err" &
  APID=$!
  PIDS+=("$APID")
  wait_checkins $((WARMUP + CHECKINS + 1)) "$APID"
  sleep 1
  I0=$(cpu_ns "$APID")
  read -r _ IK0 < <(cpu_ticks "$APID")
  F0=$(awk '$1 == "processes" { print $2 }' /proc/stat)
  sleep "$IDLE"
  I1=$(cpu_ns "$APID")
  read -r _ IK1 < <(cpu_ticks "$APID")
  F1=$(awk '$1 == "processes" { print $2 }' /proc/stat)
  RSS_IDLE=$(rss_kb "$APID" VmRSS)
  kill -TERM "$APID"
  wait "$APID" 2>/dev/null || true

  AGENT_SAID=$(sort -u "$TMP/agent.err" | grep -v '^rampart-agent: applied policy' | head -n 3 || true)

  # One check-in on its own (what run's check-in child does), measured by
  # /usr/bin/time: its peak is the process's own (time's, smaller, is the floor).
  /usr/bin/time -f '%M %U %S' -o "$TMP/one.time" "$AGENT" checkin --state-dir "$AST" --root "$ROOT" \
    >/dev/null 2>"$TMP/one.err" || { echo "bench-endpoint: a single check-in failed:" >&2; cat "$TMP/one.err" >&2; exit 1; }
  read -r ONE_KB ONE_U ONE_S < <(tail -n 1 "$TMP/one.time")
  # The peer: curl POSTing the same report, compacted (rampartd refuses it unsigned).
  python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
    "$TMP/report.json" >"$TMP/report.min.json"
  CURL_CODE=$(/usr/bin/time -f '%M %U %S' -o "$TMP/curl.time" curl -sS --max-time 60 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'Expect:' --data-binary @"$TMP/report.min.json" \
    "$A_BASE/api/v1/endpoint/checkin")
  read -r CURL_KB CURL_U CURL_S < <(tail -n 1 "$TMP/curl.time")
  CURL_MS=$(python3 -c 'import sys; print("%.1f" % ((float(sys.argv[1]) + float(sys.argv[2])) * 1000))' "$CURL_U" "$CURL_S")
  TICK=$(getconf CLK_TCK)
  echo "1. rampart-agent run (fixture root, $NPKG packages, $REPORT_BYTES-byte full report, check-in every 1 s)"
  python3 - "$RSS_WARM" "$RSS_END" "$HWM" "$C0" "$C1" "$K0" "$K1" "$CHECKINS" "$I0" "$I1" "$IDLE" "$TICK" \
    "$CURL_KB" "$CURL_MS" "$CURL_CODE" "$RSS_IDLE" "$WARMUP" "$ANON" "$FILE" "$PSS" "$W0" "$W1" $((F1 - F0)) \
    $((IK1 - IK0)) "$ONE_KB" "$ONE_U" "$ONE_S" <<'PY'
import sys
a = sys.argv[1:]
warm, end, hwm = (int(x) for x in a[0:3])
c0, c1, k0, k1, n = (int(x) for x in a[3:8])
i0, i1, idle, tick = int(a[8]), int(a[9]), float(a[10]), int(a[11])
ckb, cms, ccode, rss_idle, warmup = int(a[12]), float(a[13]), a[14], int(a[15]), int(a[16])
anon, filemap, pss = int(a[17]), int(a[18]), int(a[19])
wall = float(a[21]) - float(a[20])
bg = (i1 - i0) / 1e6 / idle   # ms of CPU per second while idle: the operation-log collectors
forks = int(a[22])
idle_children = int(a[23])
one_kb, one_ms = int(a[24]), (float(a[25]) + float(a[26])) * 1000
ms = lambda t: t * 1000.0 / tick
print("   resident memory: %.2f MiB after %d check-ins, %.2f MiB after %d more, peak (VmHWM) %.2f MiB, %.2f MiB idle"
      % (warm / 1024, warmup, end / 1024, n, hwm / 1024, rss_idle / 1024))
print("   of which heap and stacks (RssAnon) %.2f MiB, the binary and shared libraries (RssFile) %.2f MiB;"
      " proportional share (Pss) %.2f MiB" % (anon / 1024, filemap / 1024, pss / 1024))
print("   CPU per check-in: %.1f ms in the long-running agent, %.1f ms in its children (each check-in and event batch"
      " runs in a child that loads libcurl; nft list ruleset), over %d check-ins in %.1f s;"
      % (ms(c1 - c0) / n, ms(k1 - k0) / n, n, wall))
print("   of the agent's, about %.1f ms per check-in is the idle rate below (operation-log collectors), the rest the check-in"
      % (bg * wall / n))
print("   idle CPU: %.1f ms over %.0f s between check-ins (%.3f%% of one core): the operation-log collectors, which"
      " record every process execution; this machine started %d processes meanwhile; plus %.1f ms in children"
      " (event batches sent)"
      % ((i1 - i0) / 1e6, idle, (i1 - i0) / 1e7 / idle, forks, ms(idle_children)))
print("   one check-in on its own (rampart-agent checkin, the work of run's child): peak RSS %.2f MiB, CPU %.1f ms"
      % (one_kb / 1024, one_ms))
print("   peer: curl POSTing the same report (HTTP %s): peak RSS %.2f MiB, CPU %.1f ms" % (ccode, ckb / 1024, cms))
print("   ratios: agent peak RSS / curl peak RSS %.2f, one check-in / curl %.2f;  targets: under 8 MB"
      " resident -> %s, near-zero idle CPU"
      % (hwm / ckb if ckb else 0, one_kb / ckb if ckb else 0, "met" if hwm * 1024 < 8e6 else "NOT met"))
PY
  if [ -n "$AGENT_SAID" ]; then
    echo "   the agent said (idle run):"
    printf '%s\n' "$AGENT_SAID" | sed 's/^/     /'
  fi
  echo ""
fi

# ---------------------------------------------------------------- 2. the simulated fleet
if [ "${BENCH_EP_SKIP_SIM:-0}" != 1 ]; then
  start_rampartd fleet "${BENCH_EP_THREADS:-0}"
  ETOKEN=$(enrollment_token "$DEVICES")
  if "$RAMPARTD" --routes | grep -qx 'POST /api/v1/endpoint/events'; then
    SIM_EVENTS=$EVENTS
  else
    SIM_EVENTS=0
  fi
  echo "2. epsim: $DEVICES devices, one enrollment token, $PACKAGES packages each, deltas of $CHANGES changed + 1 removed, $CONC requests in flight"
  RSS0=$(rss_kb "$PID" VmRSS)
  # Start-up (the sample organization's import) set the peak: reset it, so that VmHWM is the fleet's.
  echo 5 >"/proc/$PID/clear_refs"
  set +e
  "$EPSIM" --server "http://127.0.0.1:$PORT" --token "$ETOKEN" --devices "$DEVICES" --packages "$PACKAGES" \
    --changes "$CHANGES" --events "$SIM_EVENTS" --concurrency "$CONC" --server-pid "$PID" \
    --db "$DIR/data/rampart.db" --json "$OUTDIR/epsim.json" 2>"$TMP/epsim.err"
  RC=$?
  set -e
  if [ "$RC" != 0 ]; then
    echo "   epsim reported failures:"
    sed 's/^/   /' "$TMP/epsim.err"
  fi
  if [ "$SIM_EVENTS" = 0 ]; then
    echo "   operation-log events: not measured (this rampartd does not serve POST /api/v1/endpoint/events)"
  fi
  HWM=$(rss_kb "$PID" VmHWM)
  DB_KB=$(du -sk "$DIR/data" | awk '{print $1}')
  python3 - "$RSS0" "$HWM" "$DB_KB" "$DEVICES" "$PACKAGES" <<'PY'
import sys
rss0, hwm, db, n, p = (int(x) for x in sys.argv[1:6])
print("   rampartd RSS: %.1f MiB before, peak (VmHWM) %.1f MiB during the fleet; data directory %.1f MiB (%.0f bytes per package row, all tables included)"
      % (rss0 / 1024, hwm / 1024, db / 1024, db * 1024.0 / (n * p)))
PY
fi
