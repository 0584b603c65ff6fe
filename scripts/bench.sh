#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# make bench: Rampart's figures, each against a peer measured in the same run.
#   1. Authenticated GET /api/v1/people/{id} with wrk: rampartd against nginx
#      serving the same JSON body as a static file (same machine, same wrk
#      settings, loopback only), printed as a ratio.
#   2. HR import of 100,000 generated people through POST /api/v1/hr/import:
#      wall time, people per second and rampartd's peak RSS; then the same
#      file again (nothing to change) as the peer.
#   3. scripts/bench-protect.sh and scripts/bench-exchange.sh (1 GiB through
#      the exchange site against nginx, upload throughput, peak RSS).
#   4. scripts/bench-endpoint.sh: rampart-agent's memory and CPU per check-in
#      against curl, and tools/epsim's 20,000 simulated devices.
# No thresholds: figures only.  Usage: scripts/bench.sh [BUILD]
# Environment: BENCH_SECONDS (5), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_PEOPLE (100000).  Output is also kept in bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
PEOPLE=${BENCH_PEOPLE:-100000}
RAMPARTD="$BUILD/src/server/rampartd"
NGINX=${NGINX:-/usr/sbin/nginx}
OUTDIR=bench/out
mkdir -p "$OUTDIR"

for tool in wrk curl python3 "$NGINX" "$RAMPARTD"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "bench: $tool is missing (scripts/deps.sh installs wrk and nginx-light; make build builds rampartd)" >&2
    exit 1
  fi
done

TMP=$(mktemp -d /tmp/rampart-bench.XXXXXX)
chmod 0755 "$TMP"
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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# json_get FILE EXPR: evaluates a Python expression on the parsed JSON "j".
json_get() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

ADMIN_PW=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')

# start_rampartd NAME [ARGS...]: starts a server, sets PORT and PID.
start_rampartd() {
  local name=$1; shift
  local dir="$TMP/$name"
  mkdir -p "$dir"
  RAMPART_ADMIN_PASSWORD="$ADMIN_PW" RAMPART_LIMITS_RATE_PER_MINUTE=0 \
    "$RAMPARTD" --data "$dir/data" --listen 127.0.0.1:0 --port-file "$dir/port" "$@" \
    >"$dir/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    if [ -s "$dir/port" ]; then
      PORT=$(cat "$dir/port")
      if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
        return 0
      fi
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "bench: rampartd ($name) exited during start-up:" >&2
      tail -n 20 "$dir/log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "bench: rampartd ($name) did not become ready" >&2
  exit 1
}

# login PORT: prints a CLI session token for admin (never logged).
login() {
  curl -fsS "http://127.0.0.1:$1/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$ADMIN_PW\",\"client\":\"cli\"}" -o "$TMP/login.json"
  json_get "$TMP/login.json" 'j["token"]'
}

# rss_kb PID FIELD: VmHWM (peak) or VmRSS of a process, in kB.
rss_kb() {
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# wrk_rps URL: requests per second (and keeps wrk's report).
wrk_run() {
  local label=$1 url=$2
  wrk -t"$THREADS" -c"$CONNS" -d1s -H "Authorization: Bearer $TOKEN" "$url" >/dev/null 2>&1 || true
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$url" \
    >"$TMP/wrk-$label.txt" 2>&1
  cp "$TMP/wrk-$label.txt" "$OUTDIR/wrk-$label.txt"
}

wrk_field() {  # FILE: "rps p50 p99 non2xx"
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s*([0-9.]+)", t)
def lat(p):
    m = re.search(r"^\s*%s%%\s+([0-9.]+)(us|ms|s)\s*$" % p, t, re.M)
    if not m:
        return "?"
    v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    return "%.2fms" % v
bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
print(rps.group(1) if rps else "0", lat("50"), lat("99"), bad.group(1) if bad else "0")
PY
}

echo "Rampart benchmarks ($(date -u +%FT%TZ), $(nproc) cores, wrk -t$THREADS -c$CONNS -d${SECS}s, loopback)"
echo ""

# ---------------------------------------------------------------- 1. GET person: rampartd vs nginx

start_rampartd api --seed-hr "${BENCH_SAMPLE_ORG:-examples/hr/sample-org.csv}"
API_PORT=$PORT
API_PID=$PID
TOKEN=$(login "$API_PORT")
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/api/v1/people?limit=1&status=active" \
  -o "$TMP/people.json"
PERSON=$(json_get "$TMP/people.json" 'j["items"][0]["id"]')
mkdir -p "$TMP/www/api/v1/people"
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/api/v1/people/$PERSON" \
  -o "$TMP/www/api/v1/people/$PERSON"
BODY_BYTES=$(wc -c <"$TMP/www/api/v1/people/$PERSON")

NGINX_PORT=$(free_port)
USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then
  USER_LINE="user $(id -un) $(id -gn);"
fi
cat >"$TMP/nginx.conf" <<EOF
$USER_LINE
worker_processes auto;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx-body;
  proxy_temp_path $TMP/nginx-proxy;
  fastcgi_temp_path $TMP/nginx-fastcgi;
  uwsgi_temp_path $TMP/nginx-uwsgi;
  scgi_temp_path $TMP/nginx-scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $TMP/www;
    location /api/v1/people/ { default_type application/json; add_header Cache-Control no-store; }
  }
}
EOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$NGINX_PORT/api/v1/people/$PERSON" -o /dev/null 2>/dev/null && break
  sleep 0.1
done
if ! cmp -s <(curl -fsS "http://127.0.0.1:$NGINX_PORT/api/v1/people/$PERSON") "$TMP/www/api/v1/people/$PERSON"; then
  echo "bench: nginx does not serve the same body" >&2
  cat "$TMP/nginx-error.log" >&2
  exit 1
fi

wrk_run rampartd "http://127.0.0.1:$API_PORT/api/v1/people/$PERSON"
wrk_run nginx "http://127.0.0.1:$NGINX_PORT/api/v1/people/$PERSON"
read -r R_RPS R_P50 R_P99 R_BAD < <(wrk_field "$TMP/wrk-rampartd.txt")
read -r N_RPS N_P50 N_P99 N_BAD < <(wrk_field "$TMP/wrk-nginx.txt")
RATIO=$(python3 -c "import sys; r,n=float(sys.argv[1]),float(sys.argv[2]); print('%.3f' % (r/n if n else 0))" "$R_RPS" "$N_RPS")

echo "1. GET /api/v1/people/{id} (authenticated, $BODY_BYTES-byte JSON body)"
printf '   %-10s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' rampartd "$R_RPS" "$R_P50" "$R_P99" "$R_BAD"
printf '   %-10s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' nginx "$N_RPS" "$N_P50" "$N_P99" "$N_BAD"
echo "   ratio rampartd/nginx: $RATIO  (rampartd authenticates the bearer token, checks scope and reads SQLite per request)"
echo ""

# ---------------------------------------------------------------- 2. HR import of 100,000 people

python3 - "$PEOPLE" "$TMP/hr.csv" <<'PY'
import csv, sys
n, path = int(sys.argv[1]), sys.argv[2]
companies = ["Bench Group/Bench Holdings", "Bench Group/Bench Systems", "Bench Group/Bench Logistics"]
divisions = ["Sales", "Engineering", "Operations", "Finance", "Information Security"]
departments = ["Team %d" % i for i in range(1, 21)]
with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["employee_number", "family_name", "given_name", "email", "org_unit", "title",
                "status", "kind", "manager"])
    for i in range(1, n + 1):
        comp = companies[i % len(companies)]
        div = divisions[(i // 3) % len(divisions)]
        dep = departments[(i // 15) % len(departments)]
        # Every 50th person manages the next 49 (a manager always precedes a report).
        manager = "" if i % 50 == 1 else "B%07d" % (i - (i - 1) % 50)
        w.writerow(["B%07d" % i, "Family%d" % i, "Given%d" % (i % 997), "person%d@bench.example" % i,
                    "%s/%s/%s" % (comp, div, dep), "Staff %d" % (i % 7), "active", "employee", manager])
PY
CSV_BYTES=$(wc -c <"$TMP/hr.csv")

start_rampartd import
IMP_PORT=$PORT
IMP_PID=$PID
TOKEN=$(login "$IMP_PORT")
RSS_BEFORE=$(rss_kb "$IMP_PID" VmRSS)

# import LABEL: POSTs the CSV, prints "seconds http_status"
import_once() {
  curl -sS --max-time 900 -o "$TMP/import-$1.json" -w '%{time_total} %{http_code}\n' \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
    --data-binary @"$TMP/hr.csv" "http://127.0.0.1:$IMP_PORT/api/v1/hr/import"
}

read -r T1 S1 < <(import_once first)
PEAK_KB=$(rss_kb "$IMP_PID" VmHWM)
read -r T2 S2 < <(import_once again)
PEAK2_KB=$(rss_kb "$IMP_PID" VmHWM)
cp "$TMP/import-first.json" "$OUTDIR/import-first.json"
NEW=$(json_get "$TMP/import-first.json" 'j.get("counts", {}).get("new", "?")' 2>/dev/null || echo "?")
UNCHANGED=$(json_get "$TMP/import-again.json" 'j.get("counts", {}).get("unchanged", "?")' 2>/dev/null || echo "?")
DBSIZE=$(du -sk "$TMP/import/data" | awk '{print $1}')

echo "2. HR import of $PEOPLE people ($((CSV_BYTES / 1024)) KiB CSV) through POST /api/v1/hr/import"
python3 - "$T1" "$S1" "$NEW" "$T2" "$S2" "$UNCHANGED" "$PEOPLE" "$RSS_BEFORE" "$PEAK_KB" "$PEAK2_KB" "$DBSIZE" <<'PY'
import sys
t1, s1, new, t2, s2, unch, n, before, peak, peak2, db = sys.argv[1:]
t1, t2, n = float(t1), float(t2), int(n)
print("   first import (all new):      %8.2f s  HTTP %s  new=%s  %8.0f people/s" % (t1, s1, new, n / t1 if t1 else 0))
print("   same file again (unchanged): %8.2f s  HTTP %s  unchanged=%s  %8.0f people/s" % (t2, s2, unch, n / t2 if t2 else 0))
print("   ratio first/again: %.2f" % (t1 / t2 if t2 else 0))
print("   rampartd RSS: %.1f MiB before, peak %.1f MiB after the first import, %.1f MiB after both"
      % (int(before) / 1024, int(peak) / 1024, int(peak2) / 1024))
print("   peak RSS per imported person: %.2f KiB; data directory: %.1f MiB" % ((int(peak) - int(before)) / n, int(db) / 1024))
PY
echo ""
scripts/bench-protect.sh "$BUILD"
echo ""
scripts/bench-exchange.sh "$BUILD"
echo ""
scripts/bench-endpoint.sh "$BUILD"
echo ""
echo "bench: wrk reports and the first import's answer are in $OUTDIR/"
