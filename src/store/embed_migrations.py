#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Embeds migrations/NNNN_name.sql files into a C table, ordered by number."""
import os
import re
import sys

out = sys.argv[1]
files = sorted(sys.argv[2:], key=lambda p: int(re.match(r'(\d+)_', os.path.basename(p)).group(1)))
seen = set()
with open(out, 'w', encoding='utf-8') as f:
    f.write('/* Generated from src/store/migrations; do not edit. */\n')
    f.write('#include "store/migrations.h"\n\n')
    f.write('const struct store_migration store_migrations[] = {\n')
    for p in files:
        m = re.match(r'(\d+)_([a-z0-9_]+)\.sql$', os.path.basename(p))
        if not m:
            sys.exit('bad migration file name: ' + p)
        v = int(m.group(1))
        if v in seen:
            sys.exit('duplicate migration number: %d' % v)
        seen.add(v)
        sql = open(p, encoding='utf-8').read()
        lit = sql.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n"\n\t\t"')
        f.write('\t{ %d, "%s",\n\t\t"%s" },\n' % (v, m.group(2), lit))
    f.write('};\n')
    f.write('const size_t store_migrations_count = sizeof(store_migrations) / sizeof(store_migrations[0]);\n')
