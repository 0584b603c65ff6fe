#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# make lint: the string calls STYLE.md bans, then cppcheck when installed.
# Comments and string literals are ignored, so a log message that names a
# banned call is fine.  Prints each finding as FILE:LINE: text and exits 1
# if there is any.  The last line reads "lint: N passed, N failed" (checks).
set -uo pipefail
cd "$(dirname "$0")/.."

SRC=${LINT_SRC:-src}
passed=0
failed=0

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

# 2. cppcheck, when installed.
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
  echo "lint: cppcheck is not installed; skipped (apt-get install cppcheck)"
fi

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
