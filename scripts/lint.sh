#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# make lint: the string calls STYLE.md bans, the include rule (which folder
# of src/ may include which), then cppcheck (required).  Comments and
# string literals are ignored, so a log message that names a banned call is
# fine.  Prints each finding as FILE:LINE: text and exits 1 if there is any.
# The last line reads "lint: N passed, N failed" (checks).
#   scripts/lint.sh               every check
#   scripts/lint.sh --self-test   only the include check's self-test
set -uo pipefail
cd "$(dirname "$0")/.."

SRC=${LINT_SRC:-src}
passed=0
failed=0

# The include rule.  Layers, from the bottom:
#   common  <  crypto, formats, store, http  <  audit  <  platforms  <  programs
# One line per folder of src/: the folder, then every other folder whose
# headers its files may include.  A folder always includes its own headers.
# An internal header (internal.h, *_internal.h) never crosses a folder,
# whatever this table says.  tests/, fuzz/ and tools/ are exempt (they are
# not under src/).  A new folder needs a line here before it builds clean.
INCLUDE_RULES='
# base: nothing but itself
common     :
# below audit: common only, and none of them includes another of its level
crypto     : common
formats    : common
store      : common
http       : common
# the audit log: writes through store, signs checkpoints with crypto, takes the
# principal and serves its routes through http
audit      : common crypto formats store http
# platforms: every lower layer, and identity (the API every platform asks
# about people, org units and scope); another platform only when listed
identity   : common crypto formats store http audit
endpoint   : common crypto formats store http audit identity
protect    : common crypto formats store http audit identity
# exchange sends its notices through mail/mail.h: outbound mail is composed
# in one place, src/mail/
exchange   : common crypto formats store http audit identity mail
mail       : common crypto formats store http audit identity
vuln       : common crypto formats store http audit identity
governance : common crypto formats store http audit identity
dashboard  : common crypto formats store http audit identity
console    : common crypto formats store http audit identity
# programs: the server and the milter wire platforms together
server     : common crypto formats store http audit identity endpoint protect exchange mail vuln governance dashboard console
milter     : common crypto formats store http audit identity endpoint protect exchange mail vuln governance dashboard console
# clients that run on the PCs: wire formats only, never a server platform
cli        : common formats
agent      : common formats
'

# Checks the include rule over the tree at $1 (default $SRC).  Prints each
# violation as FILE:LINE: text and returns 1 if there is any.
include_check() {
  INCLUDE_RULES=$INCLUDE_RULES python3 - "${1:-$SRC}" <<'PY'
import os, re, sys

root = sys.argv[1]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')

rules = {}
for raw in os.environ['INCLUDE_RULES'].split('\n'):
    line = raw.split('#', 1)[0].strip()
    if not line:
        continue
    folder, _, deps = line.partition(':')
    rules[folder.strip()] = set(deps.split())

def strip_comments(text):
    # Blanks comments, keeping line numbers and string literals.
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)

def target(path, quote, inc):
    # The folder of src/ that an include names, or None for a system header.
    if quote == '"' and (inc.startswith('.') or '/' not in inc):
        cand = os.path.normpath(os.path.join(os.path.dirname(path), inc))
        rel = os.path.relpath(cand, root)
        if rel.startswith('..') or os.sep not in rel:
            return None
        if '/' not in inc and not os.path.exists(cand):
            return None
        return rel.split(os.sep, 1)[0]
    first = inc.split('/', 1)[0]
    if '/' in inc and (first in rules or os.path.isdir(os.path.join(root, first))):
        return first
    return None

found = 0
def report(path, no, text):
    global found
    print(f'{path}:{no}: include rule: {text}')
    found += 1

for folder_path, dirs, files in os.walk(root):
    dirs.sort()
    for f in sorted(files):
        if not f.endswith(('.c', '.h')):
            continue
        path = os.path.join(folder_path, f)
        rel = os.path.relpath(path, root)
        if os.sep not in rel:
            continue
        own = rel.split(os.sep, 1)[0]
        if own not in rules:
            report(path, 1, f'folder {own}/ has no line in the include table of scripts/lint.sh')
            continue
        with open(path, encoding='utf-8', errors='replace') as fh:
            text = strip_comments(fh.read())
        for no, line in enumerate(text.split('\n'), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(2).strip()
            dest = target(path, m.group(1), inc)
            if dest is None or dest == own:
                continue
            base = os.path.basename(inc)
            if base == 'internal.h' or base.endswith('_internal.h'):
                report(path, no, f'"{inc}": {own}/ includes another folder\'s internal header; '
                                 f'internal headers stay inside {dest}/ (use its public header)')
            elif dest not in rules:
                report(path, no, f'"{inc}": {dest}/ has no line in the include table of scripts/lint.sh')
            elif dest not in rules[own]:
                allowed = ' '.join(sorted(rules[own])) or 'nothing'
                report(path, no, f'"{inc}": {own}/ may not include {dest}/ '
                                 f'(it may include its own folder and: {allowed})')
sys.exit(1 if found else 0)
PY
}

# Feeds include_check a fake tree with known violations: it must report
# exactly those lines, so that a broken check cannot pass silently.
include_self_test() {
  local t out got want rc
  t=$(mktemp -d)
  mkdir -p "$t/common" "$t/store" "$t/protect" "$t/endpoint" "$t/cli" "$t/server" "$t/identity" "$t/newdir"
  printf '#include <stdio.h>\n#include "common/buf.h"\n#include "local.h"\n#include "sqlite3.h"\n' >"$t/common/ok.c"
  : >"$t/common/local.h"
  printf '#include "common/buf.h"\n#include "identity/auth.h"\n' >"$t/store/bad.c"
  printf '#include "identity/auth.h"\n/* #include "endpoint/endpoint.h" */\n// #include "endpoint/endpoint.h"\nstatic const char *s = "#include \\"endpoint/endpoint.h\\"";\n  #  include "endpoint/endpoint_internal.h"\n#include <endpoint/endpoint.h>\n' >"$t/protect/bad.c"
  printf '#include "exchange/internal.h"\n#include "../identity/auth_internal.h"\n#include "identity/auth.h"\n#include "endpoint_internal.h"\n' >"$t/endpoint/bad.c"
  : >"$t/endpoint/endpoint_internal.h"
  printf '#include "formats/rpf.h"\n#include "protect/protect.h"\n' >"$t/cli/bad.c"
  printf '#include "endpoint/endpoint.h"\n#include "identity/identity.h"\n#include "identity/auth_internal.h"\n' >"$t/server/main.c"
  printf 'int x;\n' >"$t/newdir/x.c"
  out=$(include_check "$t")
  rc=$?
  got=$(printf '%s\n' "$out" | sed -n 's|^'"$t"'/\([^:]*:[0-9]*\):.*|\1|p' | sort)
  want=$(printf '%s\n' cli/bad.c:2 endpoint/bad.c:1 endpoint/bad.c:2 newdir/x.c:1 \
           protect/bad.c:5 protect/bad.c:6 server/main.c:3 store/bad.c:2 | sort)
  rm -rf "$t"
  if [ "$rc" -ne 1 ] || [ "$got" != "$want" ]; then
    echo "lint: include check self-test FAILED (exit $rc)"
    echo "lint: expected violations:"; printf '  %s\n' $want
    echo "lint: reported:"; printf '%s\n' "$out" | sed 's/^/  /'
    return 1
  fi
  return 0
}

if [ "${1:-}" = "--self-test" ]; then
  if include_self_test; then
    echo "lint: include check self-test ok"
    exit 0
  fi
  exit 1
fi

# 1. Banned calls.  Python strips comments and literals, keeping line numbers.
banned=$(python3 - "$SRC" <<'PY'
import os, re, sys

BANNED = re.compile(r'\b(strcpy|strcat|sprintf|vsprintf|strncpy|strncat|gets|atoi|atol|strtok)\s*\(')

def strip(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * max(0, j - i - 2) + (c if j - i >= 2 else ''))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)

found = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for f in sorted(files):
        if not f.endswith(('.c', '.h')):
            continue
        path = os.path.join(root, f)
        with open(path, encoding='utf-8', errors='replace') as fh:
            raw = fh.read()
        lines = raw.split('\n')
        for no, line in enumerate(strip(raw).split('\n'), 1):
            m = BANNED.search(line)
            if m:
                print(f'{path}:{no}: banned call {m.group(1)}(): {lines[no - 1].strip()}')
                found += 1
sys.exit(1 if found else 0)
PY
)
rc=$?
if [ $rc -ne 0 ]; then
  echo "$banned"
  echo "lint: banned calls found; use snprintf with a truncation check, str_copy, buf_*, strtoll (STYLE.md)"
  failed=$((failed + 1))
else
  echo "lint: no banned calls in $SRC/"
  passed=$((passed + 1))
fi

# 2. The include rule, after its self-test.
if ! include_self_test; then
  echo "lint: the include check does not catch what it must; fix it before trusting it"
  failed=$((failed + 1))
elif ! includes=$(include_check "$SRC"); then
  echo "$includes"
  echo "lint: include rule broken: $(printf '%s\n' "$includes" | grep -c ': include rule: ') line(s); see the include table at the top of scripts/lint.sh"
  failed=$((failed + 1))
else
  echo "lint: include rule holds in $SRC/ (self-test ok)"
  passed=$((passed + 1))
fi

# 3. cppcheck (scripts/deps.sh installs it; a missing one fails the lint).
if command -v cppcheck >/dev/null 2>&1; then
  jobs=$(nproc 2>/dev/null || echo 2)
  out=$(cppcheck --quiet --error-exitcode=1 -j "$jobs" --std=c11 --language=c \
          --enable=warning,portability,performance --inline-suppr \
          -I src -D_GNU_SOURCE -DRAMPART_VERSION='"lint"' \
          --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
          "$SRC" 2>&1)
  if [ $? -ne 0 ]; then
    echo "$out"
    echo "lint: cppcheck reported findings"
    failed=$((failed + 1))
  else
    echo "lint: cppcheck clean ($(cppcheck --version))"
    passed=$((passed + 1))
  fi
else
  echo "lint: cppcheck is not installed (scripts/deps.sh installs it: apt-get install cppcheck)"
  failed=$((failed + 1))
fi

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
