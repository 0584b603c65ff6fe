// SPDX-License-Identifier: AGPL-3.0-or-later
// The message catalog: every key the console uses exists in English and
// Japanese, and the two languages have the same keys and placeholders.
// Also: no source sets an inline style (the CSP would refuse it).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WEB } from './lib.mjs';

globalThis.localStorage = { getItem: () => null, setItem: () => {} };
globalThis.navigator = globalThis.navigator || { language: 'en' };
const { catalog } = await import('../src/i18n.js');

function sources(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.(jsx?|mjs)$/.test(n) ? [p] : [];
  });
}

const files = sources(join(WEB, 'src'));
const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');

describe('message catalog', () => {
  it('has every key used by the console, in both languages', () => {
    const used = new Set([...text.matchAll(/\bt\('([a-z_]+\.[a-z0-9_]+)'/g)].map((m) => m[1]));
    assert.ok(used.size > 100, `found ${used.size} keys`);
    for (const k of used) {
      assert.ok(k in catalog.en, `English lacks ${k}`);
      assert.ok(k in catalog.ja, `Japanese lacks ${k}`);
    }
  });

  it('has the same keys and placeholders in English and Japanese', () => {
    assert.deepEqual(Object.keys(catalog.ja).sort(), Object.keys(catalog.en).sort());
    const ph = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const k of Object.keys(catalog.en)) assert.deepEqual(ph(catalog.ja[k]), ph(catalog.en[k]), k);
  });

  it('names every role, status, kind and outcome the API uses', () => {
    for (const r of ['admin', 'security_officer', 'security_manager', 'manager', 'auditor', 'employee', 'partner_staff']) assert.ok(catalog.ja[`role.${r}`]);
    for (const s of ['active', 'on_leave', 'retired']) assert.ok(catalog.ja[`status.${s}`]);
    for (const o of ['success', 'failure', 'denied']) assert.ok(catalog.ja[`outcome.${o}`]);
    for (const a of ['new', 'moved', 'changed', 'retired']) assert.ok(catalog.ja[`import.action_${a}`]);
  });
});

describe('sources', () => {
  it('set no inline style and load nothing from another origin', () => {
    for (const f of files) {
      const s = readFileSync(f, 'utf8');
      assert.doesNotMatch(s, /\sstyle=\{/, `${f} sets an inline style`);
      assert.doesNotMatch(s, /https?:\/\/(?!127\.0\.0\.1)/, `${f} names another origin`);
      assert.doesNotMatch(s, /dangerouslySetInnerHTML|innerHTML\s*=/, `${f} writes raw HTML`);
    }
  });
});
