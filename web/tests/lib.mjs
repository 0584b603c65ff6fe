// SPDX-License-Identifier: AGPL-3.0-or-later
// Test helpers: a real rampartd on loopback, Debian's Chromium through
// playwright-core (never a downloaded browser), an API client, TOTP codes.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB, '..');
export const BUILD = resolve(process.env.RAMPART_BUILD || join(ROOT, 'build'));
export const OUT = resolve(process.env.RAMPART_TEST_OUTPUT || join(ROOT, 'test-output', 'browser'));
export const CHROMIUM = process.env.RAMPART_CHROMIUM || '/usr/bin/chromium';
export const ADMIN_PASSWORD = 'console-test-admin-pw-1';

/*
 * Starts rampartd with a fresh data directory on 127.0.0.1:0 and waits for
 * its port file.  Returns { url, dataDir, log, stop() }.  @env adds to the
 * server's environment; @logName names its log in the output directory.
 */
export async function startServer({ seedHr, web, env, logName } = {}) {
  const bin = join(BUILD, 'src', 'server', 'rampartd-test');   // the test build: fast password hashing
  if (!existsSync(bin)) throw new Error(`rampartd not found at ${bin} (build it, or set RAMPART_BUILD)`);
  if (!web && !existsSync(join(WEB, 'dist', 'index.html'))) throw new Error('web/dist is missing: run make -C web build');
  mkdirSync(OUT, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'rampart-browser-'));
  const portFile = join(dataDir, 'port');
  const log = join(OUT, logName || (web ? 'rampartd-no-web.log' : 'rampartd.log'));
  const fd = openSync(log, 'w');
  const args = ['--data', join(dataDir, 'var'), '--listen', '127.0.0.1:0', '--port-file', portFile, '--web', web || join(WEB, 'dist')];
  if (seedHr) args.push('--seed-hr', seedHr);
  const child = spawn(bin, args, {
    env: { ...process.env, RAMPART_ADMIN_PASSWORD: ADMIN_PASSWORD, RAMPART_TEST_FAST_PWHASH: '1', ...env },
    stdio: ['ignore', fd, fd],
  });
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const deadline = Date.now() + Number(process.env.RAMPART_TEST_START_TIMEOUT || 30) * 1000;
  while (!existsSync(portFile)) {
    if (exited) throw new Error(`rampartd exited (${JSON.stringify(exited)}); see ${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rampartd did not start in time; see ${log}`);
    }
    await sleep(50);
  }
  const port = Number(readFileSync(portFile, 'utf8').trim());
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    dataDir,
    log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        for (let i = 0; i < 200 && !exited; i++) await sleep(50);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/* Headless Chromium from Debian with a fresh profile (playwright makes a new --user-data-dir per launch). */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

/*
 * The main navigation keeps some pages in menu groups ("Files", "Endpoints"...),
 * one open at a time.  navClick follows the link named @name, opening its
 * group first when it is closed (at phone width the groups are plain lists);
 * navLinks lists the names of every link, in closed groups too.
 */
function exactText(name) {
  return new RegExp(`^${name.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')}$`);
}

export async function navClick(page, name) {
  const link = page.locator('#mainnav a').filter({ hasText: exactText(name) });
  await link.waitFor({ state: 'attached' });
  if (!(await link.isVisible())) {
    const inGroup = page.locator('a').filter({ hasText: exactText(name) });
    await page.locator('#mainnav li.nav-group').filter({ has: inGroup }).locator('button.nav-group-toggle').click();
  }
  await link.click();
}

export async function navLinks(page) {
  await page.locator('#mainnav a').first().waitFor({ state: 'attached' });
  return page.locator('#mainnav a').evaluateAll((as) => as.map((a) => a.textContent.trim()));
}

/* A small API client with a bearer token (from a "cli" log-in). */
export class Api {
  constructor(url, token) {
    this.url = url;
    this.token = token;
  }

  static async login(url, login, password, extra = {}) {
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ login, password, client: 'cli', ...extra }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`login ${login}: ${res.status} ${JSON.stringify(body)}`);
    return new Api(url, body.token);
  }

  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return data;
  }
}

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').replace(/\s+/g, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`bad base32 character ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/* RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) for @secret at @ms. */
export function totp(secret, ms = Date.now()) {
  const step = Math.floor(ms / 1000 / 30);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = h[h.length - 1] & 0x0f;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

/* Waits until a new 30-second TOTP step starts (the server refuses a code twice). */
export async function nextTotpStep() {
  const ms = 30000 - (Date.now() % 30000) + 250;
  await sleep(ms);
}

/* Parses the sample HR CSV (simple: the sample has no quoted commas in the fields used). */
export function readCsv(path) {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const parseLine = (line) => {
    const out = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (q) {
        if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
        else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ',') { out.push(cur); cur = ''; }
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const head = parseLine(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(parseLine(l).map((v, i) => [head[i], v])));
}

export { sleep };
