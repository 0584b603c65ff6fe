// SPDX-License-Identifier: AGPL-3.0-or-later
// Browser tests of the endpoint pages: real rampart-agent binaries, each
// with its own copy of the fixture root (tests/fixtures/endpoint/root),
// enroll with a real rampartd and check in; the administrator sees them with
// counts per state, filters them, opens one (requirements with reasons,
// posture, history), creates an enrollment token that a new agent then
// uses, revokes it, and edits a unit's policy (a refusal from the server
// shown, then a version that makes a failing device compliant at its next
// check-in).  An auditor sees the pages without their controls, an employee
// not at all.  The navigation fits one row at 1280 px in both languages.
// Screenshots go to test-output/browser/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, Api, BUILD, OUT, ROOT, launchBrowser, navClick, navLinks, startServer } from './lib.mjs';

const SAMPLE = process.env.RAMPART_TEST_SAMPLE_HR || join(ROOT, 'examples', 'hr', 'sample-org.csv');
const AGENT = join(BUILD, 'src', 'agent', 'rampart-agent');
const FIXTURE = join(ROOT, 'tests', 'fixtures', 'endpoint', 'root');
const DESKTOP = { width: 1280, height: 900 };
const DAY = 86400;

let server;
let browser;
let adminApi;
let work;
let division; // the org unit the devices enroll into
let admin; // the administrator's page
const devices = {}; // hostname -> { id, state }

/* A copy of the fixture root named @host whose ClamAV files are @ageDays old. */
function makeRoot(host, ageDays) {
  const root = join(work, `root-${host}`);
  const cp = spawnSync('cp', ['-a', FIXTURE, root]);
  assert.equal(cp.status, 0, String(cp.stderr));
  writeFileSync(join(root, 'etc', 'hostname'), `${host}\n`);
  const id = Buffer.from(host.padEnd(16, '-')).toString('hex').slice(0, 32);
  writeFileSync(join(root, 'etc', 'machine-id'), `${id}\n`);
  setAge(root, ageDays);
  return root;
}

function setAge(root, ageDays) {
  const t = Date.now() / 1000 - ageDays * DAY;
  for (const f of ['main.cvd', 'daily.cld']) utimesSync(join(root, 'var', 'lib', 'clamav', f), t, t);
}

/* Runs rampart-agent with the stand-in nft (a loaded ruleset) first on PATH. */
function agent(...args) {
  const r = spawnSync(AGENT, args, {
    env: { ...process.env, PATH: `${join(work, 'bin')}:${process.env.PATH}` },
    encoding: 'utf8',
    timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function enroll(host, token, root) {
  const state = join(work, `state-${host}`);
  const r = agent('enroll', '--server', server.url, '--token', token, '--state-dir', state, '--root', root);
  return { ...r, state };
}

function checkin(state, root) {
  // --no-enforce: a quarantine order is recorded, never applied to this machine's firewall.
  const r = agent('checkin', '--json', '--no-enforce', '--state-dir', state, '--root', root);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/* POSTs @body to @path signed with the device key the agent saved in @state (as the agent signs). */
async function signedPost(state, path, body) {
  const dev = JSON.parse(readFileSync(join(state, 'device.json'), 'utf8'));
  const seed = readFileSync(join(state, 'device.key')).subarray(0, 32);
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const raw = JSON.stringify(body);
  const ts = Date.now();
  const msg = `POST\n${path}\n${ts}\n${createHash('sha256').update(raw).digest('hex')}`;
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Rampart-Device': dev.device_id,
      'X-Rampart-Timestamp': String(ts),
      'X-Rampart-Signature': sign(null, Buffer.from(msg), key).toString('base64'),
    },
    body: raw,
  });
  const data = await res.json();
  assert.equal(res.status, 200, JSON.stringify(data));
  return data;
}

async function newPage(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
  });
  page.jsErrors = errors;
  return page;
}

async function shot(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

async function login(page, user, password) {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Login', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

/* A person of the sample organization with @roles and a password of their own; returns their login. */
async function person(pick, roles = []) {
  const people = await adminApi.call('GET', '/api/v1/people?limit=500&status=active');
  const p = people.items.find((x) => x.kind === 'employee' && pick(x) && !(x.roles || []).some((r) => !r.implicit));
  assert.ok(p, 'a person to use');
  for (const r of roles) {
    const [role, scope] = r.split(':');
    await adminApi.call('PUT', `/api/v1/people/${p.id}/roles/${role}`, scope ? { scope_org: scope } : {});
  }
  await adminApi.call('POST', `/api/v1/people/${p.id}/password`, { password: 'temporary-password-123' });
  const api = await Api.login(server.url, p.login, 'temporary-password-123');
  await api.call('POST', '/api/v1/me/password', { current_password: 'temporary-password-123', new_password: 'device-test-password-456' });
  return p.login;
}

/* The vertical middle of every top-level piece of the header, and the header's height. */
function headerGeometry(page) {
  return page.evaluate(() => {
    const mid = (el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; };
    const items = [...document.querySelectorAll('#mainnav > ul > li')].map((li) => ({ text: li.textContent, top: li.getBoundingClientRect().top }));
    return {
      items,
      brand: mid(document.querySelector('header.top .brand')),
      nav: mid(document.querySelector('#mainnav')),
      who: mid(document.querySelector('header.top .who')),
      height: document.querySelector('header.top').getBoundingClientRect().height,
      overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
    };
  });
}

describe('endpoint pages in the console', () => {
  before(async () => {
    assert.ok(existsSync(AGENT), `rampart-agent is not built at ${AGENT}`);
    work = mkdtempSync(join(tmpdir(), 'rampart-devices-'));
    // A stand-in for nft on PATH: prints a loaded ruleset, as `nft list ruleset` does.
    mkdirSync(join(work, 'bin'));
    writeFileSync(join(work, 'bin', 'nft'), "#!/bin/sh\nprintf 'table inet filter {\\n\\tchain input {\\n\\t}\\n}\\n'\n");
    chmodSync(join(work, 'bin', 'nft'), 0o755);
    server = await startServer({ seedHr: SAMPLE, logName: 'rampartd-devices.log' });
    browser = await launchBrowser();
    adminApi = await Api.login(server.url, 'admin', ADMIN_PASSWORD);

    // Three PCs in one division: one compliant, one with 10-day-old antivirus
    // signatures (non-compliant under the default 7-day limit), one that never checked in.
    const units = (await adminApi.call('GET', '/api/v1/org')).items.map((u) => u.path).sort();
    division = units.find((p) => p.split('/').length === 3);
    const tok = await adminApi.call('POST', '/api/v1/endpoint/enrollment-tokens', { org_unit: division, uses: 3 });
    for (const [host, age, report] of [['pc-green', 1, true], ['pc-red', 10, true], ['pc-silent', 1, false]]) {
      const root = makeRoot(host, age);
      const e = enroll(host, tok.token, root);
      assert.equal(e.status, 0, e.stderr);
      const out = report ? checkin(e.state, root) : null;
      devices[host] = { root, state: e.state, id: out ? out.device_id : null, out };
    }
    assert.equal(devices['pc-green'].out.state, 'compliant', JSON.stringify(devices['pc-green'].out));
    assert.equal(devices['pc-red'].out.state, 'non_compliant');
    const listed = await adminApi.call('GET', '/api/v1/devices?limit=500');
    devices['pc-silent'].id = listed.items.find((d) => d.hostname === 'pc-silent').id;
  });

  after(async () => {
    if (admin) await admin.context().close();
    if (browser) await browser.close();
    if (server) await server.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('keeps the navigation on one row at 1280 px, in English and Japanese, with every page reachable', async () => {
    admin = await newPage();
    await login(admin, 'admin', ADMIN_PASSWORD);
    await heading(admin, 'Overview');
    for (const lang of ['en', 'ja']) {
      await admin.locator('header.top .lang select').selectOption(lang);
      await admin.getByRole('heading', { level: 1, name: lang === 'en' ? 'Overview' : '概要' }).waitFor();
      const g = await headerGeometry(admin);
      const tops = new Set(g.items.map((i) => Math.round(i.top)));
      assert.equal(tops.size, 1, `${lang}: the navigation wraps: ${JSON.stringify(g.items)}`);
      assert.ok(Math.abs(g.brand - g.nav) < 8 && Math.abs(g.who - g.nav) < 8, `${lang}: the header is not one row: ${JSON.stringify(g)}`);
      assert.ok(g.height < 70, `${lang}: the header is ${g.height}px high`);
      assert.equal(g.overflow, false, `${lang}: the page scrolls sideways`);
    }
    await admin.locator('header.top .lang select').selectOption('en');
    await heading(admin, 'Overview');

    // Every page is in the navigation, directly or in a group.
    const hrefs = await admin.locator('#mainnav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const h of ['#/', '#/directory', '#/import', '#/files', '#/send', '#/transfers', '#/requests', '#/exchange-approval',
      '#/devices', '#/enrollment-tokens', '#/policies', '#/events', '#/audit', '#/account']) {
      assert.ok(hrefs.includes(h), `${h} is not in the navigation: ${hrefs}`);
    }
    // One group open at a time; Escape closes it and gives the focus back to its button.
    const nav = admin.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('button', { name: 'Files' }).click();
    await nav.getByRole('link', { name: 'Send files' }).waitFor();
    const group = nav.getByRole('button', { name: 'Endpoints' });
    await group.click();
    await nav.getByRole('link', { name: 'Enrollment tokens' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Send files' }).count(), 0, 'opening a group closes the other');
    await shot(admin, 'devices-01-navigation-open');
    await admin.keyboard.press('Escape');
    assert.equal(await admin.locator('button.nav-group-toggle[aria-expanded="true"]').count(), 0);
    assert.equal(await nav.getByRole('link', { name: 'Devices', exact: true }).count(), 0);
    assert.equal(await admin.evaluate(() => document.activeElement.textContent), 'Endpoints');
    // From the keyboard: a group opens with Enter and its first link is next in the tab order.
    await admin.keyboard.press('Enter');
    assert.equal(await group.getAttribute('aria-expanded'), 'true');
    await admin.keyboard.press('Tab');
    assert.equal(await admin.evaluate(() => document.activeElement.textContent), 'Devices');
    await admin.keyboard.press('Enter');
    await heading(admin, 'Devices');
    assert.equal(await group.getAttribute('aria-expanded'), 'false', 'the group closes after a page is chosen');
    assert.deepEqual(admin.jsErrors, []);
  });

  it('lists the enrolled devices with counts per state, filters them and opens one', async () => {
    const page = admin;
    await navClick(page, 'Devices');
    await heading(page, 'Devices');
    const counts = page.getByRole('list', { name: 'Devices by state' });
    const count = async (label) => (await counts.getByRole('listitem').filter({ hasText: label }).locator('.n').textContent()).trim();
    await counts.waitFor();
    assert.equal(await count('All devices'), '3');
    assert.equal(await count('non-compliant'), '1');
    assert.equal(await counts.getByRole('listitem').filter({ hasText: /^\d+compliant$/ }).locator('.n').textContent(), '1');
    assert.equal(await count('unknown'), '1');
    assert.equal(await count('quarantined'), '0');
    for (const host of ['pc-green', 'pc-red', 'pc-silent']) await page.getByRole('link', { name: host }).waitFor();
    await page.getByRole('figure', { name: 'Devices by org unit and state' }).waitFor();
    // Counted by the server: pc-red's stale antivirus signatures are the one failing requirement.
    const failing = page.getByRole('list', { name: 'Devices failing each requirement' });
    assert.deepEqual((await failing.getByRole('listitem').allTextContents()).map((x) => x.trim()),
      ['Antivirus signatures current: 1']);
    // The trend, rebuilt by the server from the audit log's state changes: today as now, nothing before the enrollments.
    const trend = page.getByRole('figure', { name: 'Devices by state, last 14 days (UTC, from the audit log)' });
    await trend.locator('summary').click();
    const rows = trend.locator('tbody tr');
    assert.equal(await rows.count(), 14);
    const cells = async (i) => (await rows.nth(i).locator('td').allTextContents()).map((x) => x.trim());
    assert.deepEqual(await cells(13), ['1', '1', '1', '0'], 'today: compliant, non-compliant, unknown, quarantined');
    assert.deepEqual(await cells(0), ['0', '0', '0', '0'], 'two weeks ago: none enrolled yet');
    await shot(page, 'devices-02-list');

    // The state filter (kept in the address), then a count as a filter link.
    await page.getByLabel('State', { exact: true }).selectOption('non_compliant');
    await page.waitForURL(/#\/devices\?state=non_compliant$/);
    // The previous page stays shown while the next one loads: wait for the others to go.
    await page.getByRole('link', { name: 'pc-green' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'pc-silent' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'pc-red' }).waitFor();
    await counts.getByRole('link').filter({ hasText: 'unknown' }).click();
    await page.getByRole('link', { name: 'pc-red' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'pc-silent' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'pc-green' }).count(), 0);
    await shot(page, 'devices-03-filtered');

    // One device: every requirement with its reason, the posture, the history.
    await page.getByLabel('State', { exact: true }).selectOption('');
    await page.getByRole('link', { name: 'pc-red' }).click();
    await heading(page, 'pc-red');
    await page.getByText(devices['pc-red'].id).waitFor();
    const reqs = page.getByRole('region', { name: 'Baseline requirements' }).first();
    const av = reqs.getByRole('row').filter({ hasText: 'Antivirus signatures current' });
    await av.getByText('fail', { exact: true }).waitFor();
    await av.getByText('antivirus signatures are 10 days old (limit 7)').waitFor();
    await reqs.getByRole('row').filter({ hasText: 'Root disk encrypted' }).getByText('pass', { exact: true }).waitFor();
    await page.getByText('1 requirement(s) failing.').waitFor();
    const facts = page.locator('dl.facts').nth(1);
    await facts.getByText('Debian GNU/Linux 12 (bookworm)').waitFor();
    assert.equal((await facts.locator('dt:has-text("Applied policy version") + dd').textContent()).trim(), '0');
    assert.match(await facts.locator('dt:has-text("Installed packages") + dd').textContent(), /^\d+$/);
    const history = page.getByRole('region', { name: 'State history' }).last();
    await history.getByRole('row').filter({ hasText: 'non-compliant' }).getByText('Antivirus signatures current').waitFor();
    await shot(page, 'devices-04-device');
    assert.deepEqual(page.jsErrors, []);
  });

  it('creates an enrollment token that is shown once and works, lists it and revokes it', async () => {
    const page = admin;
    await navClick(page, 'Enrollment tokens');
    await heading(page, 'Enrollment tokens');
    await page.getByLabel('Org unit').selectOption({ label: division });
    await page.getByLabel('Uses').fill('2');
    await page.getByLabel('Valid for').selectOption('1d');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: `Enrollment token for ${division} created.` }).waitFor();
    const token = (await page.getByTestId('enrollment-token').textContent()).trim();
    assert.match(token, /^re_/);
    await page.getByText(`rampart-agent enroll --server ${server.url} --token ${token}`).waitFor();
    await shot(page, 'devices-05-token-created');

    // The token is real: a new PC enrolls with it and one use is gone.
    const root = makeRoot('pc-new', 1);
    const e = enroll('pc-new', token, root);
    assert.equal(e.status, 0, e.stderr);
    const listed = (await adminApi.call('GET', '/api/v1/endpoint/enrollment-tokens')).items;
    const mine = listed.find((x) => x.uses === 2 && x.uses_left === 1);
    assert.ok(mine, JSON.stringify(listed));

    await page.getByRole('button', { name: 'Done, hide the token' }).click();
    assert.equal(await page.getByTestId('enrollment-token').count(), 0, 'the token is not shown again');
    await page.reload();
    await heading(page, 'Enrollment tokens');
    const row = page.getByRole('row').filter({ hasText: mine.id });
    await row.getByText('active', { exact: true }).waitFor();
    assert.equal((await row.locator('td').nth(2).textContent()).trim(), '1');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: `Revoke ${mine.id}` }).click();
    await page.getByRole('status').filter({ hasText: `Token ${mine.id} revoked` }).waitFor();
    await row.getByText('revoked', { exact: true }).waitFor();
    assert.equal((await adminApi.call('GET', '/api/v1/endpoint/enrollment-tokens')).items.find((x) => x.id === mine.id).status, 'revoked');
    const refused = enroll('pc-late', token, makeRoot('pc-late', 1));
    assert.notEqual(refused.status, 0, 'a revoked token no longer enrolls');
    await shot(page, 'devices-06-token-revoked');
    assert.deepEqual(page.jsErrors, []);
  });

  it('edits a unit policy: the server refuses a bad one with its reason, a good one makes a device compliant', async () => {
    const page = admin;
    const unitId = (await adminApi.call('GET', '/api/v1/org')).items.find((u) => u.path === division).id;
    await page.goto(`${server.url}/#/devices/${devices['pc-red'].id}`);
    await heading(page, 'pc-red');
    await page.getByRole('link', { name: 'Policy of its org unit' }).click();
    await heading(page, 'Endpoint policies');
    await page.waitForURL(new RegExp(`#/policies\\?unit=${unitId}$`));
    await page.getByText('This unit sets no policy of its own.').waitFor();
    await page.getByText('No unit on the path sets a policy: the defaults apply.').waitFor();
    assert.match(await page.getByTestId('policy-effective').textContent(), /"antivirus_max_age_days": 7/);

    const editor = page.getByLabel('Policy (JSON)');
    // Not JSON: said here, nothing sent.
    await editor.fill('{"baseline": {');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByRole('alert').filter({ hasText: 'This is not valid JSON' }).waitFor();
    // Out of bounds: the server's own reason.
    await editor.fill('{"baseline": {"antivirus_max_age_days": 99999}}');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByRole('alert').filter({ hasText: "'antivirus_max_age_days' must be between 1 and 3650" }).waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await shot(page, 'devices-07-policy-refused');
    assert.equal((await adminApi.call('GET', `/api/v1/endpoint/policies/${unitId}`)).own, null, 'nothing was stored');

    await editor.fill('{"baseline": {"antivirus_max_age_days": 30}, "checkin_interval": "10m"}');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByRole('status').filter({ hasText: `Version 1 of the policy of ${division} saved.` }).waitFor();
    await page.getByText(/^Version 1, set /).waitFor();
    assert.match(await page.getByTestId('policy-own').textContent(), /"checkin_interval": "10m"/);
    assert.match(await page.getByTestId('policy-effective').textContent(), /"antivirus_max_age_days": 30/);
    await page.getByText(`${division} (version 1)`).waitFor();
    await shot(page, 'devices-08-policy-saved');

    // The failing PC checks in again: under the unit's 30-day limit it is compliant.  It
    // receives the policy in the answer and reports it applied at the next check-in.
    let out = checkin(devices['pc-red'].state, devices['pc-red'].root);
    assert.equal(out.state, 'compliant', JSON.stringify(out));
    out = checkin(devices['pc-red'].state, devices['pc-red'].root);
    await page.goto(`${server.url}/#/devices/${devices['pc-red'].id}`);
    await heading(page, 'pc-red');
    await page.getByText('Every requirement passes.').waitFor();
    const facts = page.locator('dl.facts').nth(1);
    assert.equal((await facts.locator('dt:has-text("Applied policy version") + dd').textContent()).trim(), String(out.policy_version));
    const history = page.getByRole('region', { name: 'State history' }).last();
    assert.equal(await history.getByRole('row').count(), 4, 'a header and three check-ins');
    await page.getByRole('figure', { name: 'Failed requirements per check-in' }).waitFor();
    await shot(page, 'devices-09-device-compliant');
    assert.deepEqual(page.jsErrors, []);
  });

  it('searches the operation logs by device, person, kind and time, a page at a time', async () => {
    const page = admin;
    // pc-green's agent sends a batch: 55 programs run by "hsato", a login by "tanaka",
    // a blocked USB stick, a file written to it, and two programs run two days ago.
    const now = Date.now();
    const events = [];
    let seq = 0;
    for (let i = 0; i < 55; i++) {
      events.push({ seq: ++seq, ts: now - 600000 + i * 1000, kind: 'exec', pid: 1000 + i, ppid: 1, uid: 1000, user: 'hsato', path: '/usr/bin/ls', argv: ['ls', `/srv/data/${i}`] });
    }
    events.push({ seq: ++seq, ts: now - 500000, kind: 'login', user: 'tanaka', tty: 'pts/3', host: '192.0.2.44' });
    events.push({ seq: ++seq, ts: now - 400000, kind: 'usb_insert', vendor: '0781', product: '5583', serial: '4C530001230101117283', name: 'SanDisk Ultra Fit', storage: true, action: 'blocked' });
    events.push({ seq: ++seq, ts: now - 300000, kind: 'file_write', path: '/media/hsato/KEY/plan.xlsx', device: '0781:5583:4C530001230101117283', size: 20480, user: 'hsato' });
    for (let i = 0; i < 2; i++) {
      events.push({ seq: ++seq, ts: now - 2 * DAY * 1000 + i, kind: 'exec', pid: 99 + i, ppid: 1, uid: 0, user: 'root', path: '/usr/sbin/cron', argv: ['cron'] });
    }
    events.sort((a, b) => a.seq - b.seq);
    const res = await signedPost(devices['pc-green'].state, '/api/v1/endpoint/events', { events });
    assert.equal(res.accepted_through, seq);

    await navClick(page, 'Operation logs');
    await heading(page, 'Operation logs');
    await page.getByText('50 event(s) on this page.').waitFor();
    assert.equal(await page.locator('table.events tbody tr').count(), 50);
    // Newest first: the file written to the USB stick leads.
    await page.locator('table.events tbody tr').first().getByText('/media/hsato/KEY/plan.xlsx → 0781:5583:4C530001230101117283 (20,480 bytes)').waitFor();
    await shot(page, 'devices-12-events');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2').waitFor();
    await page.getByText('10 event(s) on this page.').waitFor();
    await page.getByRole('row').filter({ hasText: 'cron' }).first().waitFor();
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByText('50 event(s) on this page.').waitFor();

    // By kind: the blocked stick, with its details.
    await page.getByLabel('Kind').selectOption('usb_insert');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('1 event(s) on this page.').waitFor();
    const usb = page.locator('table.events tbody tr').first();
    await usb.getByText('SanDisk Ultra Fit 0781:5583 #4C530001230101117283 — blocked (storage)').waitFor();
    await usb.getByRole('button', { name: /Details/ }).click();
    await page.locator('tr.details-row').getByText('Sequence number').waitFor();
    await shot(page, 'devices-13-events-usb');

    // By person, and by time range (the two old ones only).
    await page.getByLabel('Kind').selectOption('');
    await page.getByLabel('Person').fill('tanaka');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('1 event(s) on this page.').waitFor();
    await page.locator('table.events tbody tr').first().getByText('pts/3 from 192.0.2.44').waitFor();
    assert.match(page.url(), /person=tanaka/);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByText('50 event(s) on this page.').waitFor();
    const day = (ms) => new Date(ms).toISOString().slice(0, 16);
    await page.getByLabel('Until').fill(day(now - DAY * 1000));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('2 event(s) on this page.').waitFor();
    assert.equal(await page.locator('table.events tbody tr').filter({ hasText: 'cron' }).count(), 2);

    // By host name: looked up among the devices; an unknown one is said so.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByText('50 event(s) on this page.').waitFor();
    await page.getByLabel('Device', { exact: true }).fill('pc-nowhere');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'No device named pc-nowhere in your scope.' }).waitFor();
    await page.getByLabel('Device', { exact: true }).fill('pc-green');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(new RegExp(`device=${devices['pc-green'].id}`));
    await page.getByText('Events of pc-green.').waitFor();

    // From a device's page: that device's events only; another device has none.
    await page.goto(`${server.url}/#/devices/${devices['pc-green'].id}`);
    await heading(page, 'pc-green');
    await page.getByRole('link', { name: 'Its operation logs' }).click();
    await heading(page, 'Operation logs');
    await page.getByText('50 event(s) on this page.').waitFor();
    assert.equal(await page.locator('table.events tbody tr').filter({ hasNotText: 'pc-green' }).count(), 0);
    await page.goto(`${server.url}/#/events?device=${devices['pc-red'].id}`);
    await page.getByText('No event matches.').waitFor();
    assert.deepEqual(page.jsErrors, []);
  });

  it('quarantines a device with a reason or as infected, shows it in the list, and releases it', async () => {
    const page = admin;
    // The agents check in with --no-enforce: an order to quarantine never touches this machine's firewall.
    await page.goto(`${server.url}/#/devices/${devices['pc-silent'].id}`);
    await heading(page, 'pc-silent');
    const panel = page.getByRole('region', { name: 'Quarantine' });
    await panel.getByText('Not quarantined.').waitFor();
    assert.equal(await panel.getByRole('button', { name: 'Quarantine' }).isDisabled(), true, 'a reason is required');
    await panel.getByLabel('Reason').fill('Beaconing to a known C2 address');
    await panel.getByLabel('Mark as infected').check();
    await panel.getByRole('button', { name: 'Quarantine' }).click();
    await panel.getByRole('status').filter({ hasText: 'pc-silent is marked infected and quarantined.' }).waitFor();
    await panel.getByText('infection', { exact: true }).waitFor();
    await panel.getByText('Beaconing to a known C2 address').waitFor();
    await page.locator('dl.facts').first().getByText('quarantined', { exact: true }).waitFor();
    let dev = await adminApi.call('GET', `/api/v1/devices/${devices['pc-silent'].id}`);
    assert.equal(dev.state, 'quarantined');
    assert.deepEqual([dev.quarantine.kind, dev.quarantine.reason], ['infected', 'Beaconing to a known C2 address']);
    await shot(page, 'devices-14-quarantined');

    // The list counts it and filters on it, and offers the quarantine list for network equipment.
    await navClick(page, 'Devices');
    await heading(page, 'Devices');
    const counts = page.getByRole('list', { name: 'Devices by state' });
    assert.equal((await counts.getByRole('listitem').filter({ hasText: 'quarantined' }).locator('.n').textContent()).trim(), '1');
    await counts.getByRole('link').filter({ hasText: 'quarantined' }).click();
    await page.getByRole('link', { name: 'pc-green' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'pc-silent' }).waitFor();
    assert.equal(await page.locator('table.devices tbody tr').count(), 1);
    const nft = await page.getByRole('link', { name: 'nftables script' }).getAttribute('href');
    const script = await page.evaluate(async (u) => (await fetch(u)).text(), nft);
    assert.match(script, /quarantine_v4/);

    // Released with a reason: back to the state of its last report (none: unknown).
    await page.getByRole('link', { name: 'pc-silent' }).click();
    await heading(page, 'pc-silent');
    await panel.getByLabel('Reason (optional)').fill('Reimaged by IT');
    await panel.getByRole('button', { name: 'Release from quarantine' }).click();
    await panel.getByRole('status').filter({ hasText: 'pc-silent is released from quarantine.' }).waitFor();
    await panel.getByText('Not quarantined.').waitFor();
    dev = await adminApi.call('GET', `/api/v1/devices/${devices['pc-silent'].id}`);
    assert.equal(dev.state, 'unknown');
    assert.equal(dev.quarantine, null);

    // An administrator's quarantine of pc-green, left for the auditor to see.
    await page.goto(`${server.url}/#/devices/${devices['pc-green'].id}`);
    await heading(page, 'pc-green');
    await panel.getByLabel('Reason').fill('Under investigation');
    await panel.getByRole('button', { name: 'Quarantine' }).click();
    await panel.getByText("an administrator's decision").waitFor();
    assert.deepEqual(page.jsErrors, []);
  });

  it('shows a security manager only their division: its devices, units and tokens', async () => {
    // A division other than the devices' one, with an employee in it.
    const people = (await adminApi.call('GET', '/api/v1/people?limit=500&status=active')).items;
    const divOf = (p) => (p.org_unit && p.org_unit.path ? p.org_unit.path.split('/').slice(0, 3).join('/') : '');
    const host = people.find((p) => p.kind === 'employee' && divOf(p).split('/').length === 3 && divOf(p) !== division
      && !(p.roles || []).some((r) => !r.implicit));
    assert.ok(host, 'an employee in another division');
    const other = divOf(host);
    const sm = await person((p) => p.id === host.id, [`security_manager:${other}`]);
    const page = await newPage();
    await login(page, sm, 'device-test-password-456');
    await heading(page, 'Overview');
    await navClick(page, 'Devices');
    await heading(page, 'Devices');
    await page.getByText('No devices are enrolled in your scope yet.').waitFor();
    const counts = page.getByRole('list', { name: 'Devices by state' });
    assert.equal((await counts.getByRole('listitem').filter({ hasText: 'All devices' }).locator('.n').textContent()).trim(), '0');
    await page.goto(`${server.url}/#/devices/${devices['pc-red'].id}`);
    await page.getByText('This device does not exist or is outside what you may see.').waitFor();

    // Tokens: only units of the division to choose from, and none of the other division's tokens.
    await navClick(page, 'Enrollment tokens');
    await heading(page, 'Enrollment tokens');
    const options = await page.getByLabel('Org unit').locator('option').evaluateAll((os) => os.map((o) => o.textContent).filter((x) => !x.endsWith('…')));
    assert.ok(options.length > 0 && options.every((o) => o === other || o.startsWith(`${other}/`)), JSON.stringify(options));
    await page.getByText('No enrollment tokens yet.').waitFor();
    await page.getByLabel('Org unit').selectOption({ label: other });
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: `Enrollment token for ${other} created.` }).waitFor();
    // The policy editor is offered for the division.
    await navClick(page, 'Endpoint policies');
    await heading(page, 'Endpoint policies');
    await page.getByLabel('Org unit', { exact: true }).selectOption({ label: other });
    await page.getByLabel('Policy (JSON)').waitFor();
    await shot(page, 'devices-15-security-manager');
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });

  it('shows an auditor the pages without their controls, and an employee nothing', async () => {
    const auditor = await person((p) => true, ['auditor']);
    const page = await newPage();
    await login(page, auditor, 'device-test-password-456');
    await heading(page, 'Overview');
    await navClick(page, 'Devices');
    await heading(page, 'Devices');
    await page.getByRole('link', { name: 'pc-green' }).click();
    await heading(page, 'pc-green');
    const panel = page.getByRole('region', { name: 'Quarantine' });
    await panel.getByText('Under investigation').waitFor();
    assert.equal(await panel.getByRole('button').count(), 0, 'no quarantine controls for an auditor');
    await navClick(page, 'Enrollment tokens');
    await heading(page, 'Enrollment tokens');
    await page.getByRole('row').filter({ hasText: 'revoked' }).first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create token' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 0);
    await navClick(page, 'Endpoint policies');
    await heading(page, 'Endpoint policies');
    await page.getByLabel('Org unit', { exact: true }).selectOption({ label: division });
    await page.getByText(/^Version 1, set /).waitFor();
    assert.equal(await page.getByLabel('Policy (JSON)').count(), 0);
    await shot(page, 'devices-10-auditor');
    await page.context().close();

    const employee = await person((p) => p.login !== auditor);
    const other = await newPage();
    await login(other, employee, 'device-test-password-456');
    await heading(other, 'Overview');
    const links = await navLinks(other);
    assert.ok(links.includes('Protected files'), `${links}`);
    assert.ok(!links.includes('Devices') && !links.includes('Enrollment tokens') && !links.includes('Endpoint policies'), `${links}`);
    assert.equal(await other.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Endpoints' }).count(), 0);
    await other.goto(`${server.url}/#/devices`);
    await heading(other, 'Page not found');
    await other.goto(`${server.url}/#/devices/${devices['pc-green'].id}`);
    await heading(other, 'Page not found');
    // The API refuses all the same.
    const api = await Api.login(server.url, employee, 'device-test-password-456');
    await assert.rejects(api.call('GET', '/api/v1/devices'), /403/);
    await shot(other, 'devices-11-employee');
    assert.deepEqual(other.jsErrors, []);
    await other.context().close();
  });
});
