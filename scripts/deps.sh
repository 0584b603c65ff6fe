#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Installs the Debian packages Rampart needs to build, test and run.
# Idempotent: installs only what is missing.  Usage: scripts/deps.sh [--check]
set -euo pipefail

PACKAGES=(
  # build
  build-essential meson ninja-build pkg-config python3 clang
  # libraries
  libmicrohttpd-dev libgnutls28-dev libjansson-dev libsqlite3-dev libsodium-dev libssl-dev
  liboath-dev libcjose-dev libinih-dev libcsv-dev libpcre2-dev libcurl4-openssl-dev libpq-dev
  libgmime-3.0-dev  # src/mail composes mail with GMime 3 (RFC 2047/2231 encoding)
  libnftables-dev   # rampart-agent installs its quarantine table through libnftables
  # tests
  libcmocka-dev libclang-rt-14-dev sqlite3 curl oathtool
  cppcheck        # make lint's static analysis
  poppler-utils   # pdftotext, for the README tour's protected PDF
  postgresql   # tests/integration/pgserver.py runs its own initdb/pg_ctl cluster; the system one stays unused
  postfix   # tests/integration/postfix.py starts a private instance; the system one stays unconfigured
  nftables iproute2   # the quarantine test reads the ruleset inside a network namespace it creates
  zlib1g-dev   # rampart-agent's event buffer: a CRC-32 on each record
  usbguard     # usbguard-rule-parser checks the agent's USB rules; its daemon is masked, see below
  python3-prometheus-client   # tests/integration/test_http_hardening.py parses /metrics with it
  rsyslog      # tests/integration/test_audit_siem.py starts a private rsyslogd; the system one is left alone
  # benchmarks
  wrk nginx-light age gnupg time
)
# The web console (web/) builds with Node.js and npm; Debian's are enough, and a
# newer Node installed otherwise is kept.  Its browser tests drive Debian's
# Chromium (never a downloaded browser), with CJK fonts for the Japanese pages.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
[ -x /usr/bin/chromium ] || PACKAGES+=(chromium fonts-noto-cjk)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "deps: these Debian packages are missing and installing them needs root:" >&2
    echo "        ${missing[*]}" >&2
    echo "      run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix: preseed "No configuration" so installing it sets up no system mail
# service (the integration tests run their own instance on loopback).
if [[ " ${missing[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
fi
# USBGuard: installing the package enables usbguard-daemon, whose policy can block
# a USB keyboard or mouse plugged in later, which nobody wants on a developer's
# laptop.  When this script installs it, the daemon's units are masked first, so
# the package installs and its rule parser works but the daemon never starts
# (a PC that should enforce USB policy: systemctl unmask usbguard usbguard-dbus).
if [[ " ${missing[*]} " == *" usbguard "* ]] && command -v systemctl >/dev/null 2>&1; then
  "${SUDO[@]}" systemctl --root=/ mask usbguard.service usbguard-dbus.service >/dev/null 2>&1 || true
fi
if ! "${SUDO[@]}" apt-get update -qq; then
  echo "deps: 'apt-get update' failed; is the network or the package mirror reachable?" >&2
  exit 1
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "deps: 'apt-get install' failed for: ${missing[*]}" >&2
  exit 1
fi
echo "deps: done" >&2
