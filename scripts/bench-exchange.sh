#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The secure exchange site against nginx, in the same run, on loopback only:
#   - upload: a file of BENCH_EXCHANGE_MIB MiB (1 GiB by default) of random
#     bytes sent with POST /api/v1/transfers (multipart, encrypted as it
#     streams in): wall time and throughput;
#   - download: the same file through POST /x/{token} (Argon2id, then
#     decrypting as it streams out) against nginx serving the same plaintext
#     file as a static file, best of BENCH_EXCHANGE_RUNS runs each (3), as a
#     ratio of throughputs; every download is compared with the original;
#   - rampartd's resident memory: before, peak after the upload, peak after
#     the downloads (VmHWM), to show that it stays flat.
# Figures only, no thresholds.  Every curl is bounded (--max-time).
# Usage: scripts/bench-exchange.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
MIB=${BENCH_EXCHANGE_MIB:-1024}
RUNS=${BENCH_EXCHANGE_RUNS:-3}
RAMPARTD="$BUILD/src/server/rampartd"
NGINX=${NGINX:-/usr/sbin/nginx}
MAXTIME=900
for tool in curl python3 cmp "$NGINX" "$RAMPARTD"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "bench-exchange: $tool is missing (scripts/deps.sh installs nginx-light; make build builds rampartd)" >&2
    exit 1
  fi
done

TMP=$(mktemp -d /tmp/rampart-bench-exchange.XXXXXX)
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

best() {  # BEST T: the smaller time (BEST 0: none yet)
  python3 -c 'import sys; b, t = float(sys.argv[1]), float(sys.argv[2]); print(t if b == 0 or t < b else b)' "$1" "$2"
}

rss_kb() {  # PID FIELD (VmRSS or VmHWM)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

PW=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
BYTES=$((MIB * 1024 * 1024))
# The limits must let the file through; mail is off (no relay configured).
RAMPART_ADMIN_PASSWORD="$PW" RAMPART_LIMITS_RATE_PER_MINUTE=0 \
  RAMPART_EXCHANGE_MAX_FILE=$((BYTES + 1)) RAMPART_EXCHANGE_QUOTA=$((BYTES * 2)) \
  RAMPART_EXCHANGE_MAX_DOWNLOADS=$((RUNS > 20 ? RUNS : 20)) \
  "$RAMPARTD" --data "$TMP/data" --listen 127.0.0.1:0 --port-file "$TMP/port" >"$TMP/rampartd.log" 2>&1 &
RPID=$!
PIDS+=("$RPID")
for _ in $(seq 1 600); do
  if [ -s "$TMP/port" ] && curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$TMP/port")/readyz" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$RPID" 2>/dev/null; then
    echo "bench-exchange: rampartd exited during start-up:" >&2
    tail -n 20 "$TMP/rampartd.log" >&2
    exit 1
  fi
  sleep 0.1
done
PORT=$(cat "$TMP/port")
BASE="http://127.0.0.1:$PORT"
curl -fsS --max-time 60 "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"admin\",\"password\":\"$PW\",\"client\":\"cli\"}" -o "$TMP/login.json"
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$TMP/login.json")

mkdir -p "$TMP/www"
head -c "$BYTES" /dev/urandom >"$TMP/www/plain.bin"
sync

RSS0=$(rss_kb "$RPID" VmRSS)

# ---------------------------------------------------------------- upload
read -r UP_T UP_CODE < <(curl -sS --max-time "$MAXTIME" -o "$TMP/sent.json" -w '%{time_total} %{http_code}\n' \
  -H "Authorization: Bearer $TOKEN" -H 'Expect:' \
  -F to=bench@partner.example -F downloads="$RUNS" -F "file=@$TMP/www/plain.bin;type=application/octet-stream" \
  "$BASE/api/v1/transfers")
if [ "$UP_CODE" != 201 ]; then
  echo "bench-exchange: the upload was refused (HTTP $UP_CODE):" >&2
  cat "$TMP/sent.json" >&2
  exit 1
fi
PEAK_UP=$(rss_kb "$RPID" VmHWM)
LINK_PATH=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.urlsplit(json.load(open(sys.argv[1]))["url"]).path)' "$TMP/sent.json")
# The password goes to curl in a file, not on its command line.
python3 -c 'import json,sys,urllib.parse; print(urllib.parse.urlencode({"password": json.load(open(sys.argv[1]))["password"]}), end="")' \
  "$TMP/sent.json" >"$TMP/form"

# ---------------------------------------------------------------- nginx with the same plaintext
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
events { worker_connections 1024; }
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
    location / { default_type application/octet-stream; }
  }
}
EOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fsS --max-time 5 -r 0-0 "http://127.0.0.1:$NGINX_PORT/plain.bin" -o /dev/null 2>/dev/null && break
  sleep 0.1
done

# ---------------------------------------------------------------- downloads, alternating
R_BEST=0
N_BEST=0
for i in $(seq 1 "$RUNS"); do
  read -r T CODE < <(curl -sS --max-time "$MAXTIME" -o "$TMP/out.bin" -w '%{time_total} %{http_code}\n' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$TMP/form" "$BASE$LINK_PATH")
  if [ "$CODE" != 200 ] || ! cmp -s "$TMP/out.bin" "$TMP/www/plain.bin"; then
    echo "bench-exchange: rampartd download $i failed or differs (HTTP $CODE)" >&2
    exit 1
  fi
  R_BEST=$(best "$R_BEST" "$T")
  rm -f "$TMP/out.bin"
  read -r T CODE < <(curl -sS --max-time "$MAXTIME" -o "$TMP/out.bin" -w '%{time_total} %{http_code}\n' \
    "http://127.0.0.1:$NGINX_PORT/plain.bin")
  if [ "$CODE" != 200 ] || ! cmp -s "$TMP/out.bin" "$TMP/www/plain.bin"; then
    echo "bench-exchange: nginx download $i failed or differs (HTTP $CODE)" >&2
    exit 1
  fi
  N_BEST=$(best "$N_BEST" "$T")
  rm -f "$TMP/out.bin"
done
PEAK_DL=$(rss_kb "$RPID" VmHWM)

echo "Exchange: $MIB MiB file, loopback, best of $RUNS download(s) each"
python3 - "$BYTES" "$UP_T" "$R_BEST" "$N_BEST" "$RSS0" "$PEAK_UP" "$PEAK_DL" <<'PY'
import sys
n, up, r, g = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rss0, peak_up, peak_dl = (int(x) / 1024 for x in sys.argv[5:8])
mib = n / (1 << 20)
print("   upload   rampartd (multipart, encrypting): %8.2f s  %8.1f MiB/s" % (up, mib / up if up else 0))
print("   download rampartd (Argon2id + decrypting): %7.2f s  %8.1f MiB/s" % (r, mib / r if r else 0))
print("   download nginx (same plaintext, static):   %7.2f s  %8.1f MiB/s" % (g, mib / g if g else 0))
print("   ratio rampartd/nginx download throughput: %.3f" % ((mib / r) / (mib / g) if r and g else 0))
print("   rampartd RSS: %.1f MiB before, peak %.1f MiB after the upload, peak %.1f MiB after the downloads"
      % (rss0, peak_up, peak_dl))
print("   (Argon2id at the interactive limit uses 64 MiB per derivation: the peak does not grow with the file)")
PY
