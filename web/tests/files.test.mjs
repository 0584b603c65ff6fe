// SPDX-License-Identifier: AGPL-3.0-or-later
// Browser test of the "Protected files" pages: a file protected with the
// built CLI (rampart protect, against the real rampartd) and opened once by
// its owner shows in the list with its access list and history; the access
// list and expiry change from the page; revoking it from the keyboard makes
// the next open fail, and the refusal shows in the history.  Screenshots go
// to test-output/browser/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, Api, BUILD, OUT, launchBrowser, navClick, startServer } from './lib.mjs';

const CLI = join(BUILD, 'src', 'cli', 'rampart');

let server;
let browser;
let adminApi;
let work;

/* Runs the built CLI as the administrator; returns { status, stdout, stderr }. */
function rampart(...args) {
  const r = spawnSync(CLI, args, {
    env: {
      ...process.env,
      RAMPART_SERVER: server.url,
      RAMPART_TOKEN: adminApi.token,
      XDG_CONFIG_HOME: join(work, 'config'),
    },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function shot(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

describe('protected files in the console', () => {
  before(async () => {
    assert.ok(existsSync(CLI), `the CLI is not built at ${CLI}`);
    server = await startServer();
    browser = await launchBrowser();
    adminApi = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    work = mkdtempSync(join(tmpdir(), 'rampart-files-'));
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lists a protected file, shows its access list and history, changes it, and revokes it', async () => {
    const plain = join(work, 'q3-forecast.xlsx');
    writeFileSync(plain, 'forecast figures\n'.repeat(5000));
    const prot = rampart('protect', plain, '--to', 'role:auditor');
    assert.equal(prot.status, 0, prot.stderr);
    const id = prot.stdout.match(/file id ([0-9A-Z]{26})/)[1];
    const opened = rampart('open', `${plain}.rpf`, '-o', join(work, 'first-open.xlsx'));
    assert.equal(opened.status, 0, opened.stderr);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
    });

    await page.goto(`${server.url}/`);
    await page.getByLabel('Login', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    // The list: reached from the navigation.
    await navClick(page, 'Protected files');
    await page.getByRole('heading', { level: 1, name: 'Protected files' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'q3-forecast.xlsx' });
    await row.getByText('active').waitFor();
    await row.getByText('1 on the list').waitFor();
    await shot(page, 'files-01-list');

    // The file's page: facts, access list, history with the owner's open.
    await row.getByRole('link', { name: 'q3-forecast.xlsx' }).click();
    await page.getByRole('heading', { level: 1, name: 'q3-forecast.xlsx' }).waitFor();
    await page.getByText(id).waitFor();
    const access = page.getByRole('region', { name: 'Access list', exact: true });
    await access.getByText('Role: auditor', { exact: true }).waitFor();
    const history = page.getByRole('region', { name: 'Access history', exact: true }).first();
    const openRow = history.getByRole('row').filter({ hasText: 'admin' });
    await openRow.getByText('allowed').waitFor();
    await openRow.getByText('owner').waitFor();
    await openRow.getByText('127.0.0.1').waitFor();

    // Grant and remove a role, with progress and result.
    await page.getByLabel('Grant to').selectOption('role');
    await page.getByLabel('Who', { exact: true }).fill('manager');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Added Role: manager.' }).waitFor();
    await access.getByText('Role: manager', { exact: true }).waitFor();
    let file = await adminApi.call('GET', `/api/v1/files/${id}`);
    assert.deepEqual(file.grants.map((g) => g.grantee).sort(), ['role:auditor', 'role:manager']);
    const managerItem = access.getByRole('listitem').filter({ hasText: 'Role: manager' });
    await managerItem.getByRole('button', { name: 'Remove' }).click();
    await managerItem.getByRole('button', { name: 'Remove Role: manager' }).click();
    await page.getByRole('status').filter({ hasText: 'Removed Role: manager.' }).waitFor();
    file = await adminApi.call('GET', `/api/v1/files/${id}`);
    assert.deepEqual(file.grants.map((g) => g.grantee), ['role:auditor']);

    // A refusal from the API shows as an error, not as success.
    await page.getByLabel('Grant to').selectOption('group');
    await page.getByLabel('Who', { exact: true }).fill('no-such-group');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'no such group' }).waitFor();

    // Expiry.
    await page.getByLabel('Nobody can open it from').fill('2031-03-31');
    await page.getByRole('button', { name: 'Set expiry' }).click();
    await page.getByRole('status').filter({ hasText: 'The file expires on 2031-03-31.' }).waitFor();
    file = await adminApi.call('GET', `/api/v1/files/${id}`);
    assert.match(file.expires_at, /^2031-03-31/);
    await shot(page, 'files-02-file');

    // Revoke from the keyboard: the button, then the confirmation that takes focus.
    await page.getByRole('button', { name: 'Revoke the file' }).focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('button', { name: 'Revoke it for everyone' });
    await confirm.waitFor();
    assert.equal(await confirm.evaluate((el) => el === document.activeElement), true);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'The file is revoked.' }).waitFor();
    await page.locator('.facts').getByText('revoked', { exact: true }).waitFor();
    // Once revoked the access list no longer changes: its controls are gone.
    assert.equal(await page.getByRole('button', { name: 'Add', exact: true }).count(), 0);
    assert.equal(await access.getByRole('button', { name: 'Remove' }).count(), 0);
    file = await adminApi.call('GET', `/api/v1/files/${id}`);
    assert.equal(file.status, 'revoked');

    // Nobody, not even the owner, opens it now; the refusal is in the history.
    const refused = rampart('open', `${plain}.rpf`, '-o', join(work, 'second-open.xlsx'));
    assert.equal(refused.status, 3, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /revoked/);
    assert.equal(existsSync(join(work, 'second-open.xlsx')), false);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'q3-forecast.xlsx' }).waitFor();
    const refusedRow = page.getByRole('region', { name: 'Access history', exact: true }).first().getByRole('row').filter({ hasText: 'refused' });
    await refusedRow.getByText('revoked').waitFor();
    await shot(page, 'files-03-revoked-history');

    // The list's filter shows it among the revoked files.
    await page.goto(`${server.url}/#/files?status=revoked`);
    await page.getByRole('row').filter({ hasText: 'q3-forecast.xlsx' }).getByText('revoked').waitFor();
    await page.goto(`${server.url}/#/files?status=active`);
    await page.getByText('No protected files to show.').waitFor();

    assert.deepEqual(errors, []);
    await context.close();
  });
});
