// SPDX-License-Identifier: AGPL-3.0-or-later
// Browser tests: the console in Debian's headless Chromium against a real
// rampartd on loopback (no --seed-hr: the import test loads the sample).
// The steps depend on each other and run in order; screenshots of each page
// go to test-output/browser/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { ADMIN_PASSWORD, Api, OUT, ROOT, launchBrowser, navClick, navLinks, nextTotpStep, readCsv, startServer, totp } from './lib.mjs';

const SAMPLE = process.env.RAMPART_TEST_SAMPLE_HR || join(ROOT, 'examples', 'hr', 'sample-org.csv');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let server;
let browser;
let adminApi;
let admin; // the administrator's page, logged in with TOTP once and reused
const seen = []; // every console and API response: { url, status, headers }

async function newPage(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('response', (r) => {
    if (r.url().startsWith(server.url)) seen.push({ url: r.url(), status: r.status(), headers: r.headers() });
  });
  const errors = [];
  if (process.env.RAMPART_TEST_DEBUG) {
    page.on('request', (r) => r.url().includes('/api/') && console.log(Date.now() % 100000, 'req', r.url()));
    page.on('requestfinished', (r) => r.url().includes('/api/') && console.log(Date.now() % 100000, 'done', r.url()));
    page.on('requestfailed', (r) => console.log(Date.now() % 100000, 'FAILED', r.url(), r.failure()));
    page.on('console', (m) => console.log('console', m.text()));
  }
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    // A CSP violation shows up as a console error; the console must cause none.
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
  });
  page.jsErrors = errors;
  return page;
}

async function shot(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

async function login(page, user, password, { code } = {}) {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Login', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  if (code) {
    await page.getByLabel('One-time code').fill(typeof code === 'function' ? code() : code);
    await page.getByRole('button', { name: 'Verify' }).click();
  }
}

function navLink(page, name) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

/* GET @path exactly as written, without URL normalization. */
function rawGet(base, path) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const samplePeople = existsSync(SAMPLE) ? readCsv(SAMPLE) : [];

describe('web console', () => {
  let totpSecret;
  let grantee;
  const used = new Set(); // employee numbers whose accounts a test changed

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    adminApi = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
  });

  after(async () => {
    if (admin) await admin.context().close();
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('serves the console with a strict CSP, caching and content types; the API keeps its routes', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    const csp = index.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    assert.equal(index.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    assert.doesNotMatch(html, /<script>(?!<)|<script(?![^>]*\bsrc=)[^>]*>|<style|style=/, 'no inline script or style');
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/)[1];
    const asset = await fetch(`${server.url}${js}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type'), /^text\/javascript/);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    const css = html.match(/href="(\/assets\/[^"]+\.css)"/)[1];
    assert.match((await fetch(`${server.url}${css}`)).headers.get('content-type'), /^text\/css/);

    // Sent as is (fetch would normalize dot segments away).
    for (const bad of ['/nope.js', '/assets/nope.js', '/assets/..%2findex.html', '/.gitignore', '/assets/%2e%2e/index.html',
      '/assets/../index.html', '/assets/..\\index.html', '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/assets/%5c..%5cindex.html']) {
      const r = await rawGet(server.url, bad);
      assert.ok(r.status === 404 || r.status === 400, `${bad}: ${r.status}`);
      assert.match(r.headers['content-security-policy'], /frame-ancestors 'none'/);
    }
    const api404 = await fetch(`${server.url}/api/v1/nothing-here`);
    assert.equal(api404.status, 404);
    assert.equal((await api404.json()).error.code, 'not_found');
    const post404 = await fetch(`${server.url}/api/v1/nothing/here`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(post404.status, 404, 'an unknown API path stays 404 for POST');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('starts without built assets and says the console was not built', async () => {
    const bare = await startServer({ web: join(server.dataDir, 'no-such-dir') });
    try {
      const r = await fetch(`${bare.url}/`);
      assert.equal(r.status, 503);
      assert.match((await r.json()).error.message, /console was not built/);
      assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
      assert.equal((await fetch(`${bare.url}/healthz`)).status, 200);
    } finally {
      await bare.stop();
    }
  });

  it('logs in as admin, with a clear message for a wrong password', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    await heading(page, 'Log in');
    await shot(page, '01-login');
    await page.getByLabel('Login', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong login or password.' }).waitFor();
    await shot(page, '02-login-wrong-password');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await heading(page, 'Overview');
    const links = await navLinks(page);
    for (const item of ['Home', 'Directory', 'HR import', 'Audit log', 'My account']) assert.ok(links.includes(item), `${item} is not in ${links}`);
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });

  it('enrolls TOTP from the QR page and logs in again with a code', async () => {
    const page = await newPage();
    await login(page, 'admin', ADMIN_PASSWORD);
    await heading(page, 'Overview');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My account' }).click();
    await heading(page, 'My account');
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    totpSecret = (await page.getByTestId('totp-secret').textContent()).trim();
    assert.match(totpSecret, /^[A-Z2-7]+=*$/);
    await shot(page, '03-account-totp-qr');
    await page.getByLabel('Code shown by the app').fill(totp(totpSecret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    const codes = await page.locator('.codes li').count();
    assert.equal(codes, 10);
    await shot(page, '04-account-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Status: on').waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You are logged out.').waitFor();

    // The code used to enroll may not be used again: wait for the next step.
    await nextTotpStep();
    await page.getByLabel('Login', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('One-time code').waitFor();
    await page.getByLabel('One-time code').fill('000000' === totp(totpSecret) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code is not right' }).waitFor();
    await shot(page, '05-login-totp');
    await page.getByLabel('One-time code').fill(totp(totpSecret));
    await page.getByRole('button', { name: 'Verify' }).click();
    // Back where the person was before logging out.
    await heading(page, 'My account');
    await page.getByText('Status: on').waitFor();
    assert.deepEqual(page.jsErrors, []);
    admin = page;
  });

  async function adminPage(viewport = DESKTOP) {
    assert.ok(admin, 'the administrator is logged in');
    await admin.setViewportSize(viewport);
    await admin.goto(`${server.url}/#/`);
    await heading(admin, 'Overview');
    return admin;
  }

  it('imports the sample HR file after reviewing its plan', async () => {
    assert.ok(samplePeople.length > 0, `${SAMPLE} is missing or empty`);
    const page = await adminPage();
    await navClick(page, 'HR import');
    await heading(page, 'HR import');
    await shot(page, '06-import-empty');
    await page.getByLabel('CSV file').setInputFiles(SAMPLE);
    await page.getByRole('button', { name: 'Review the plan' }).click();
    await page.getByRole('heading', { name: 'Plan (dry run)' }).waitFor();
    const newCount = Number((await page.locator('.count-new .n').textContent()).replace(/\D/g, ''));
    assert.equal(newCount, samplePeople.length, 'every sample line is a new person');
    await shot(page, '07-import-plan');
    // Nothing was written by the dry run.
    assert.equal((await adminApi.call('GET', '/api/v1/people?limit=10')).items.filter((p) => p.login !== 'admin').length, 0);
    await page.getByRole('button', { name: 'Apply the plan' }).click();
    await page.getByText('The import was applied.').waitFor();
    await page.getByRole('heading', { name: 'Result' }).waitFor();
    await shot(page, '08-import-applied');
    assert.deepEqual(page.jsErrors, []);
  });

  it('shows the home charts from real numbers', async () => {
    const page = await adminPage();
    await page.getByRole('img', { name: /^People by status\./ }).waitFor();
    await page.getByRole('img', { name: /^People by organization unit\./ }).waitFor();
    await page.getByRole('img', { name: /^Logins, failures and lockouts/ }).waitFor();
    const label = await page.getByRole('img', { name: /^People by status\./ }).getAttribute('aria-label');
    // The sample's active people and the administrator.
    const active = samplePeople.filter((p) => p.status === 'active').length + 1;
    assert.match(label, new RegExp(`Active ${active.toLocaleString('en-GB')}\\b`));
    await shot(page, '09-home');
  });

  it('finds a person in the directory and grants a role', async () => {
    grantee = samplePeople.find((p) => p.status === 'active' && p.kind === 'employee' && p.manager);
    const page = await adminPage();
    await navClick(page, 'Directory');
    await heading(page, 'Directory');
    await page.getByRole('button', { name: /^Collapse / }).first().waitFor();
    await shot(page, '10-directory');
    await page.getByLabel('Search', { exact: true }).fill(grantee.employee_number);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const link = page.getByRole('link', { name: `${grantee.family_name} ${grantee.given_name}` });
    await link.waitFor();
    await link.click();
    await heading(page, `${grantee.family_name} ${grantee.given_name}`);
    grantee.id = decodeURIComponent(page.url().split('#/people/')[1]);
    await page.getByLabel('Role', { exact: true }).selectOption('auditor');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByText('Role Auditor granted.').waitFor();
    await page.locator('.role-list .badge').filter({ hasText: 'Auditor' }).first().waitFor();
    await shot(page, '11-person');
    const p = await adminApi.call('GET', `/api/v1/people/${grantee.id}`);
    assert.ok(p.roles.some((r) => r.role === 'auditor'));
    assert.deepEqual(page.jsErrors, []);
  });

  it('shows the import and the grant in the audit log, with the chain verified', async () => {
    const page = await adminPage();
    await navClick(page, 'Audit log');
    await heading(page, 'Audit log');
    await page.getByText('The chain is intact.').waitFor();
    await page.getByLabel('Action', { exact: true }).fill('hr.import');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    const row = page.locator('table.audit tbody tr').filter({ hasText: 'hr.import' }).first();
    await row.waitFor();
    await row.getByRole('button', { name: /Details/ }).click();
    await page.locator('tr.details-row').first().waitFor();
    await shot(page, '12-audit-import');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Object id').fill(grantee.id);
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.locator('table.audit tbody tr').filter({ hasText: /role/ }).first().waitFor();
    await shot(page, '13-audit-grant');
    assert.deepEqual(page.jsErrors, []);
  });

  it('shows a security manager only their division', async () => {
    // A division: the third level of an org path (Group/Company/Division/...).
    const division = (p) => p.org_unit.split('/').slice(0, 3).join('/');
    const divisions = [...new Set(samplePeople.filter((p) => p.org_unit.split('/').length >= 3).map(division))];
    assert.ok(divisions.length >= 2, 'the sample has at least two divisions');
    const mine = divisions[0];
    const sm = samplePeople.find((p) => p.status === 'active' && p.org_unit.startsWith(mine) && p !== grantee);
    used.add(sm.employee_number);
    const outsider = samplePeople.find((p) => p.status === 'active' && !p.org_unit.startsWith(`${mine}/`) && p.org_unit !== mine);
    const smPerson = (await adminApi.call('GET', `/api/v1/people?q=${encodeURIComponent(sm.employee_number)}`)).items[0];
    await adminApi.call('PUT', `/api/v1/people/${smPerson.id}/roles/security_manager`, { scope_org: mine });
    await adminApi.call('POST', `/api/v1/people/${smPerson.id}/password`, { password: 'temporary-password-123' });

    const page = await newPage();
    await login(page, smPerson.login, 'temporary-password-123');
    // An administrator set the password: the console asks for a new one first.
    await heading(page, 'Choose a new password');
    await shot(page, '14a-forced-password-change');
    await page.getByLabel('Current password').fill('temporary-password-123');
    await page.getByLabel('New password', { exact: true }).fill('security-manager-pw-456');
    await page.getByLabel('New password again').fill('security-manager-pw-456');
    await page.getByRole('button', { name: 'Change password' }).click();
    await heading(page, 'Overview');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Directory' }).waitFor();
    const links = await navLinks(page);
    assert.ok(!links.includes('HR import') && !links.includes('Audit log'), `${links}`);

    await nav.getByRole('link', { name: 'Directory' }).click();
    await heading(page, 'Directory');
    await page.locator('table.people tbody tr').first().waitFor();
    const paths = (await page.locator('table.people tbody tr td:nth-child(3)').allTextContents()).map((x) => x.split(' / ').join('/'));
    assert.ok(paths.length > 0);
    for (const path of paths) assert.ok(path === mine || path.startsWith(`${mine}/`), `${path} is outside ${mine}`);
    await shot(page, '14-directory-security-manager');
    await page.getByLabel('Search', { exact: true }).fill(outsider.employee_number);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('Nobody matches.').waitFor();
    const outsiderId = (await adminApi.call('GET', `/api/v1/people?q=${encodeURIComponent(outsider.employee_number)}`)).items[0].id;
    await page.goto(`${server.url}/#/people/${outsiderId}`);
    await page.getByText('This person does not exist or is outside what you may see.').waitFor();

    // Ended elsewhere: the next call says the session expired.
    await adminApi.call('POST', `/api/v1/people/${smPerson.id}/sessions/revoke`);
    await page.goto(`${server.url}/#/directory`);
    await page.reload();
    await heading(page, 'Log in');
    await login(page, smPerson.login, 'security-manager-pw-456');
    await heading(page, 'Overview');
    await page.getByRole('img', { name: /^People by status\./ }).waitFor();
    await adminApi.call('POST', `/api/v1/people/${smPerson.id}/sessions/revoke`);
    await page.evaluate(() => { location.hash = '#/account'; });
    await page.getByText('Your session has expired. Please log in again.').waitFor();
    await shot(page, '15-login-session-expired');
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });

  it('says when an account is locked', async () => {
    const free = (p) => p.status === 'active' && p !== grantee && !used.has(p.employee_number);
    const victim = samplePeople.find((p) => free(p) && p.kind === 'partner_staff') || samplePeople.find(free);
    used.add(victim.employee_number);
    const person = (await adminApi.call('GET', `/api/v1/people?q=${encodeURIComponent(victim.employee_number)}`)).items[0];
    await adminApi.call('POST', `/api/v1/people/${person.id}/password`, { password: 'partner-password-789' });
    const page = await newPage();
    await page.goto(`${server.url}/`);
    let locked = false;
    for (let i = 0; i < 8 && !locked; i++) {
      await page.getByLabel('Password', { exact: true }).waitFor();
      await page.getByLabel('Login', { exact: true }).fill(person.login);
      await page.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login')),
        page.getByRole('button', { name: 'Log in' }).click(),
      ]);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      locked = /locked/.test(await alert.textContent());
    }
    assert.ok(locked, 'the console says the account is locked');
    await shot(page, '16-login-locked');
    await page.context().close();
  });

  it('switches to Japanese and keeps the choice; works at phone width', async () => {
    const page = await adminPage(PHONE);
    await page.getByRole('button', { name: 'Menu' }).click();
    await navClick(page, 'Directory');
    await heading(page, 'Directory');
    await shot(page, '17-phone-directory');
    await page.getByLabel('Language').selectOption('ja');
    await heading(page, 'ディレクトリ');
    await page.reload();
    await heading(page, 'ディレクトリ');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'ja');
    await shot(page, '18-phone-directory-ja');
    await page.setViewportSize(DESKTOP);
    await page.goto(`${server.url}/#/`);
    await heading(page, '概要');
    await shot(page, '19-home-ja');
    await page.goto(`${server.url}/#/account`);
    await heading(page, 'アカウント');
    await shot(page, '20-account-ja');
    await page.getByLabel('言語').selectOption('en');
    await heading(page, 'My account');
    assert.deepEqual(page.jsErrors, []);
  });

  it('creates an API token shown once, and revokes it', async () => {
    const page = await adminPage();
    await navClick(page, 'My account');
    await heading(page, 'My account');
    await page.getByLabel('Name', { exact: true }).fill('console test token');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').textContent()).trim();
    assert.match(secret, /^r/);
    // The token works for the API.
    const me = await new Api(server.url, secret).call('GET', '/api/v1/me');
    assert.equal(me.login, 'admin');
    await shot(page, '21-account-token-once');
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    assert.equal(await page.getByTestId('new-token').count(), 0);
    const row = page.locator('tr').filter({ hasText: 'console test token' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Revoke this token' }).click();
    await page.getByText('The token was revoked.').waitFor();
    await assert.rejects(new Api(server.url, secret).call('GET', '/api/v1/me'), /401/);
  });

  it('activates an invited account from its link and logs in', async () => {
    // Someone who manages nobody: an employee then sees only their own record.
    const managers = new Set(samplePeople.map((p) => p.manager).filter(Boolean));
    const person = samplePeople.filter((p) => p.status === 'active' && p.kind === 'employee' && p !== grantee && !used.has(p.employee_number) && !managers.has(p.employee_number)).pop();
    used.add(person.employee_number);
    const page = await adminPage();
    const id = (await adminApi.call('GET', `/api/v1/people?q=${encodeURIComponent(person.employee_number)}`)).items[0].id;
    await page.goto(`${server.url}/#/people/${id}`);
    await heading(page, `${person.family_name} ${person.given_name}`);
    await page.getByRole('button', { name: 'Create an activation link' }).click();
    await page.getByText('Activation link created.').waitFor();
    const link = (await page.locator('.callout .secret').textContent()).trim();
    assert.ok(link.startsWith(`${server.url}/#/activate/`), link);

    const other = await newPage();
    await other.goto(link);
    await heading(other, 'Activate your account');
    assert.doesNotMatch(await other.textContent('body'), /rs_|#\/activate\/./, 'the token is not shown on the page');
    await other.getByLabel('New password', { exact: true }).fill('activated-password-42');
    await other.getByLabel('New password again').fill('activated-password-42');
    await shot(other, '22-activate');
    await other.getByRole('button', { name: 'Set password' }).click();
    await other.getByText('Your account is active. You can log in now.').waitFor();
    assert.ok(!other.url().includes(link.split('#/activate/')[1]), 'the token leaves the address bar');
    await other.getByRole('link', { name: 'Go to log in' }).click();
    const login = (await adminApi.call('GET', `/api/v1/people/${id}`)).login;
    await other.getByLabel('Login', { exact: true }).fill(login);
    await other.getByLabel('Password', { exact: true }).fill('activated-password-42');
    await other.getByRole('button', { name: 'Log in' }).click();
    await heading(other, 'Overview');
    // An employee sees their own record, not the directory.
    await navLink(other, 'My record').waitFor();
    assert.ok(!(await navLinks(other)).includes('Directory'));
    assert.deepEqual(other.jsErrors, []);
    await other.context().close();
  });

  it('keyboard: skip link, visible focus, and forms work without a mouse', async () => {
    const page = await adminPage();
    await page.reload();
    await heading(page, 'Overview');
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    assert.equal(await skip.evaluate((el) => el === document.activeElement), true);
    const outline = await skip.evaluate((el) => getComputedStyle(el).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await page.goto(`${server.url}/#/directory`);
    await heading(page, 'Directory');
    await page.getByLabel('Search', { exact: true }).focus();
    await page.keyboard.type(grantee.employee_number);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: `${grantee.family_name} ${grantee.given_name}` }).waitFor();
  });

  it('never lets a console or API response be framed', () => {
    assert.ok(seen.length > 20, `saw ${seen.length} responses`);
    for (const r of seen) {
      const csp = r.headers['content-security-policy'] || '';
      assert.match(csp, /frame-ancestors 'none'/, `${r.url} may be framed`);
      assert.equal(r.headers['x-frame-options'], 'DENY', r.url);
      assert.doesNotMatch(csp, /unsafe-inline/, r.url);
    }
  });
});
