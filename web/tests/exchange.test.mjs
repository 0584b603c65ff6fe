// SPDX-License-Identifier: AGPL-3.0-or-later
// Browser tests of the exchange pages against a real rampartd (with the
// sample organization): a file sent from the console to an outside address
// shows its link and password once; the recipient fetches it through the
// one-time link page's password form, and the transfer shows as downloaded
// from 127.0.0.1; a revoked transfer's link is refused; an upload request
// is created, an outsider uploads through its page and the requester
// downloads from the console; an org unit's approval setting holds a
// transfer until an administrator approves it from the queue.  Screenshots
// go to test-output/browser/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, Api, OUT, ROOT, launchBrowser, navClick, startServer } from './lib.mjs';

const SAMPLE = process.env.RAMPART_TEST_SAMPLE_HR || join(ROOT, 'examples', 'hr', 'sample-org.csv');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let server;
let browser;
let adminApi;
let admin; // the administrator's page, reused across steps
let smtp; // the SMTP sink: { port, messages: [{ to, data }], close() }

/* A minimal SMTP server on loopback that keeps every message it receives. */
function smtpSink() {
  const messages = [];
  const server = createServer((sock) => {
    let buf = '';
    let data = null;
    let rcpt = [];
    sock.write('220 sink ESMTP\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            messages.push({ to: rcpt, data: data.join('\n') });
            data = null;
            rcpt = [];
            sock.write('250 queued\r\n');
          } else data.push(line.startsWith('..') ? line.slice(1) : line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'RCPT') rcpt.push(line);
        if (verb === 'DATA') {
          data = [];
          sock.write('354 go on\r\n');
        } else if (verb === 'QUIT') {
          sock.end('221 bye\r\n');
        } else sock.write('250 ok\r\n');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, messages, close: () => server.close() }));
  });
}

async function newPage(viewport = DESKTOP, opts = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC', acceptDownloads: true, ...opts });
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
  // After a blob download Chromium may never report the page idle: wait briefly only.
  await page.waitForLoadState('networkidle', { timeout: 2000 }).catch(() => {});
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

async function heading(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function login(page, user, password) {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Login', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const linkPath = (url) => new URL(url).pathname;

async function readDownload(dl) {
  const p = await dl.path();
  return readFileSync(p);
}

/* Sends from the console's "Send files" page; returns { url, password } as the page shows them. */
async function sendFromConsole(page, { name, data, to, downloads = '1', message = '' }) {
  await navClick(page, 'Send files');
  await heading(page, 'Send files');
  await page.getByLabel('Files', { exact: true }).setInputFiles([{ name, mimeType: 'application/octet-stream', buffer: data }]);
  await page.getByLabel("Recipient's e-mail").fill(to);
  await page.getByLabel('Download limit').fill(downloads);
  if (message) await page.getByLabel('Message (optional)').fill(message);
  // Records whether the upload showed its progress bar while it ran.
  await page.evaluate(() => {
    window.sawProgress = false;
    const mo = new MutationObserver(() => { if (document.querySelector('progress#send-progress')) window.sawProgress = true; });
    mo.observe(document.body, { childList: true, subtree: true });
  });
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByRole('heading', { name: 'The link and its password' }).waitFor();
  const url = (await page.getByTestId('once-url').textContent()).trim();
  const password = (await page.getByTestId('once-password').textContent()).trim();
  assert.equal(await page.evaluate(() => window.sawProgress), true, 'the upload showed its progress');
  return { url, password };
}

describe('exchange pages in the console', () => {
  before(async () => {
    smtp = await smtpSink();
    server = await startServer({
      seedHr: SAMPLE,
      logName: 'rampartd-exchange.log',
      env: { RAMPART_EXCHANGE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, RAMPART_EXCHANGE_SMTP_FROM: 'rampart@corp.example' },
    });
    browser = await launchBrowser();
    adminApi = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    admin = await newPage();
    await login(admin, 'admin', ADMIN_PASSWORD);
    await heading(admin, 'Overview');
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (smtp) smtp.close();
  });

  it('sends a file, shows the password once, and the recipient downloads it through the link page', async () => {
    const data = Buffer.from('quarterly figures for the partner\n'.repeat(3000));
    const page = admin;
    const { url, password } = await sendFromConsole(page, {
      name: 'figures-q3.csv', data, to: 'buyer@partner.example', message: 'The figures we discussed.',
    });
    assert.match(url, /\/x\/[^/]+$/);
    assert.ok(password.length >= 12, password);
    await page.getByRole('status').filter({ hasText: '1 file(s) sent to buyer@partner.example.' }).waitFor();
    await page.getByText('Shown only now.').waitFor();
    await page.getByRole('button', { name: 'Copy password' }).waitFor();
    await page.getByText('sent', { exact: true }).waitFor();
    await page.getByText('The link was mailed to buyer@partner.example.').waitFor();
    // The mail carries the link, never the password.
    const mail = smtp.messages.find((m) => m.to.some((r) => r.includes('buyer@partner.example')));
    assert.ok(mail, 'the notification reached the SMTP server');
    assert.ok(mail.data.replace(/=\n/g, '').includes(linkPath(url)), 'the mail has the link');
    assert.ok(!mail.data.includes(password), 'the mail has no password');
    await shot(page, 'exchange-01-sent-password-once');

    // The password is in no later answer nor page.
    const list = await adminApi.call('GET', '/api/v1/transfers?mine=1');
    const id = list.items.find((x) => x.to === 'buyer@partner.example').id;
    const detail = await adminApi.call('GET', `/api/v1/transfers/${id}`);
    assert.doesNotMatch(JSON.stringify(detail), new RegExp(password));
    await page.getByRole('button', { name: 'Send more files' }).click();
    await page.getByLabel("Recipient's e-mail").waitFor();
    assert.equal(await page.getByText(password).count(), 0);

    // The recipient: no account; the page (GET) does not use the link up.
    const outsider = await newPage(PHONE);
    await outsider.goto(`${server.url}${linkPath(url)}`);
    await outsider.getByRole('heading', { name: 'Files for you' }).waitFor();
    await shot(outsider, 'exchange-02-link-page-phone');
    await outsider.reload();
    await outsider.getByLabel('Password').fill('not-the-password-1');
    await outsider.getByRole('button', { name: 'Download' }).click();
    await outsider.getByRole('heading', { name: 'Wrong password' }).waitFor();
    await outsider.getByLabel('Password').fill(password);
    const [dl] = await Promise.all([
      outsider.waitForEvent('download'),
      outsider.getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.equal(dl.suggestedFilename(), 'figures-q3.csv');
    assert.deepEqual(await readDownload(dl), data);
    // Used up: the page and the form now refuse it.
    const again = await fetch(`${server.url}${linkPath(url)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `password=${encodeURIComponent(password)}`,
    });
    assert.equal(again.status, 410);
    await outsider.context().close();

    // The sender sees it downloaded, when and from which address.
    await navClick(page, 'Transfers');
    await heading(page, 'Transfers');
    const row = page.getByRole('row').filter({ hasText: 'buyer@partner.example' });
    await row.getByText('downloaded', { exact: true }).waitFor();
    await row.getByText('(127.0.0.1)').waitFor();
    await shot(page, 'exchange-03-transfers');
    await row.getByRole('link', { name: 'buyer@partner.example' }).click();
    await heading(page, 'Files to buyer@partner.example');
    await page.getByTestId('xfer-state').getByText('downloaded').waitFor();
    await page.getByRole('listitem').filter({ hasText: 'figures-q3.csv' }).waitFor();
    const dls = page.getByRole('region', { name: 'Downloads' });
    await dls.getByRole('cell', { name: '127.0.0.1' }).waitFor();
    await page.getByText('0 of 1').waitFor();
    // Nothing left to revoke.
    assert.equal(await page.getByRole('button', { name: 'Revoke the transfer' }).count(), 0);
    await shot(page, 'exchange-04-transfer-downloaded');
    assert.deepEqual(page.jsErrors, []);
  });

  it('revokes a transfer from the keyboard and its link is refused', async () => {
    const page = admin;
    const { url, password } = await sendFromConsole(page, {
      name: 'draft-contract.pdf', data: Buffer.from('%PDF draft\n'.repeat(100)), to: 'legal@supplier.example', downloads: '3',
    });
    await page.getByRole('link', { name: 'See the transfer' }).click();
    await heading(page, 'Files to legal@supplier.example');
    await page.getByText('3 of 3').waitFor();
    await page.getByRole('button', { name: 'Revoke the transfer' }).focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('button', { name: 'Revoke it and delete the files' });
    await confirm.waitFor();
    assert.equal(await confirm.evaluate((el) => el === document.activeElement), true);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'The transfer is revoked; its link no longer works.' }).waitFor();
    await page.getByTestId('xfer-state').getByText('revoked').waitFor();
    await shot(page, 'exchange-05-revoked');

    const get = await fetch(`${server.url}${linkPath(url)}`);
    assert.equal(get.status, 410);
    const post = await fetch(`${server.url}${linkPath(url)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `password=${encodeURIComponent(password)}`,
    });
    assert.equal(post.status, 410);
    const body = await post.text();
    assert.doesNotMatch(body, /%PDF draft/);
    const outsider = await newPage();
    await outsider.goto(`${server.url}${linkPath(url)}`);
    assert.equal(await outsider.getByLabel('Password').count(), 0);
    await shot(outsider, 'exchange-06-revoked-link-page');
    await outsider.context().close();
    assert.deepEqual(page.jsErrors, []);
  });

  it('creates an upload request; the outsider uploads and only the requester downloads', async () => {
    const page = admin;
    await navClick(page, 'Request files');
    await heading(page, 'Request files');
    await page.getByLabel("Uploader's e-mail").fill('accounts@supplier.example');
    await page.getByLabel('Message (optional)').fill('Please upload the signed invoice.');
    await page.getByRole('button', { name: 'Create the request' }).click();
    await page.getByRole('status').filter({ hasText: 'The upload request for accounts@supplier.example is ready.' }).waitFor();
    await page.getByRole('heading', { name: 'Upload link for accounts@supplier.example' }).waitFor();
    const url = (await page.getByTestId('once-url').textContent()).trim();
    const password = (await page.getByTestId('once-password').textContent()).trim();
    const row = page.getByRole('row').filter({ hasText: 'accounts@supplier.example' });
    await row.getByText('waiting for upload').waitFor();
    await page.getByText('The link was mailed to accounts@supplier.example.').waitFor();
    await shot(page, 'exchange-07-request-created');

    // The outsider uploads through the link's page.
    const invoice = Buffer.from('signed invoice 4711\n'.repeat(200));
    const outsider = await newPage(PHONE);
    await outsider.goto(`${server.url}${linkPath(url)}`);
    await outsider.getByRole('heading', { name: 'Upload files' }).waitFor();
    await outsider.getByLabel('Password').fill(password);
    await outsider.getByLabel('Files').setInputFiles([{ name: 'invoice-4711.txt', mimeType: 'text/plain', buffer: invoice }]);
    await outsider.getByRole('button', { name: 'Upload' }).click();
    await outsider.getByRole('heading', { name: 'Files uploaded' }).waitFor();
    // Without signing in, nobody downloads them with the link and password.
    const anon = await fetch(`${server.url}${linkPath(url)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `password=${encodeURIComponent(password)}`,
    });
    assert.equal(anon.status, 403);
    await outsider.context().close();

    // The requester downloads from the console.
    await page.reload();
    await heading(page, 'Request files');
    await page.getByRole('row').filter({ hasText: 'accounts@supplier.example' }).getByText('received').waitFor();
    await page.getByLabel('Link', { exact: true }).fill(url);
    await page.getByLabel('Password', { exact: true }).fill('wrong-password-xyz');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill(password);
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download', exact: true }).click(),
    ]);
    assert.equal(dl.suggestedFilename(), 'invoice-4711.txt');
    assert.deepEqual(await readDownload(dl), invoice);
    await page.getByRole('status').filter({ hasText: 'Downloaded invoice-4711.txt' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'accounts@supplier.example' }).getByText('downloaded', { exact: true }).waitFor();
    await shot(page, 'exchange-08-request-downloaded');
    assert.deepEqual(page.jsErrors, []);
  });

  it('holds an external transfer for approval until an administrator approves it from the queue', async () => {
    const page = admin;
    // A person of the sample organization, with a password of their own.
    const people = await adminApi.call('GET', '/api/v1/people?limit=200');
    const sender = people.items.find((p) => p.login && p.login !== 'admin' && p.org_unit && p.org_unit.path && p.status === 'active');
    assert.ok(sender, 'a person to send from');
    await adminApi.call('POST', `/api/v1/people/${sender.id}/password`, { password: 'temporary-password-123' });
    let senderApi = await Api.login(server.url, sender.login, 'temporary-password-123');
    await senderApi.call('POST', '/api/v1/me/password', { current_password: 'temporary-password-123', new_password: 'sender-password-456' });
    senderApi = await Api.login(server.url, sender.login, 'sender-password-456');

    // The administrator requires approval for the sender's unit from the settings page.
    await navClick(page, 'Exchange approval');
    await heading(page, 'Exchange approval');
    await page.getByText('No org unit requires approval.').waitFor();
    await page.getByLabel('Org unit').selectOption({ label: sender.org_unit.path });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: `External transfers from ${sender.org_unit.path} now need approval.` }).waitFor();
    await page.getByRole('row').filter({ hasText: sender.org_unit.path }).getByText("The sender's manager").waitFor();
    await shot(page, 'exchange-09-approval-settings');

    // The sender's upload (multipart, fields before the file) waits for approval.
    const form = new FormData();
    form.append('to', 'auditor@outside.example');
    form.append('expires', '3d');
    form.append('downloads', '1');
    form.append('file', new Blob([Buffer.from('held report\n')]), 'held-report.txt');
    const res = await fetch(`${server.url}/api/v1/transfers`, { method: 'POST', headers: { Authorization: `Bearer ${senderApi.token}` }, body: form });
    const sent = await res.json();
    assert.equal(res.status, 201, JSON.stringify(sent));
    assert.equal(sent.state, 'pending_approval');
    assert.equal(sent.mail, 'held');
    const mailedTo = (email) => smtp.messages.some((m) => m.to.some((r) => r.includes(email)));
    assert.equal(mailedTo('auditor@outside.example'), false, 'no link mailed before approval');
    // Held: the link's page says so and takes no password.
    assert.equal((await fetch(`${server.url}${linkPath(sent.url)}`)).status, 403);

    // The queue on the Transfers page: approve.
    await navClick(page, 'Transfers');
    await heading(page, 'Transfers');
    const queue = page.getByRole('region', { name: 'Waiting for my approval' });
    const item = queue.getByRole('listitem').filter({ hasText: 'auditor@outside.example' });
    await item.waitFor();
    await shot(page, 'exchange-10-approval-queue');
    await item.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: 'Approved: the link to auditor@outside.example is on its way.' }).waitFor();
    await queue.getByText('Nothing waits for your approval.').waitFor();
    const after = await adminApi.call('GET', `/api/v1/transfers/${sent.id}`);
    assert.equal(after.state, 'sent');
    assert.equal(after.decided_by, 'admin');
    assert.equal(mailedTo('auditor@outside.example'), true, 'the link is mailed once approved');

    // A second held transfer is rejected (with a confirmation): it ends and its link never works.
    const form2 = new FormData();
    form2.append('to', 'unknown@elsewhere.example');
    form2.append('file', new Blob([Buffer.from('not to go out\n')]), 'internal.txt');
    const res2 = await fetch(`${server.url}/api/v1/transfers`, { method: 'POST', headers: { Authorization: `Bearer ${senderApi.token}` }, body: form2 });
    const held = await res2.json();
    assert.equal(held.state, 'pending_approval');
    await page.reload();
    await heading(page, 'Transfers');
    const item2 = queue.getByRole('listitem').filter({ hasText: 'unknown@elsewhere.example' });
    await item2.getByRole('button', { name: 'Reject' }).click();
    await item2.getByRole('button', { name: 'Reject and delete the files' }).click();
    await page.getByRole('status').filter({ hasText: 'Rejected: the transfer to unknown@elsewhere.example ended' }).waitFor();
    assert.equal((await adminApi.call('GET', `/api/v1/transfers/${held.id}`)).state, 'rejected');
    assert.equal((await fetch(`${server.url}${linkPath(held.url)}`)).status, 410);
    assert.equal(mailedTo('unknown@elsewhere.example'), false);

    // All transfers in scope show the sender's, with its owner.
    await page.getByLabel('Show').selectOption('all');
    await page.getByRole('row').filter({ hasText: 'auditor@outside.example' }).getByText(sender.login).waitFor();

    // The link now works for the recipient.
    const dl = await fetch(`${server.url}${linkPath(sent.url)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `password=${encodeURIComponent(sent.password)}`,
    });
    assert.equal(dl.status, 200);
    assert.equal(await dl.text(), 'held report\n');
    assert.deepEqual(page.jsErrors, []);
  });

  it('shows the pages at phone width with the menu, and Japanese labels', async () => {
    const page = await newPage(PHONE);
    await login(page, 'admin', ADMIN_PASSWORD);
    await heading(page, 'Overview');
    await page.getByRole('button', { name: 'Menu' }).click();
    await navClick(page, 'Send files');
    await heading(page, 'Send files');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(overflow, false, 'the send page fits a phone');
    await shot(page, 'exchange-11-send-phone');
    await page.getByLabel('Language').selectOption('ja');
    await heading(page, 'ファイル送信');
    await page.getByLabel('受信者のメールアドレス').waitFor();
    await page.goto(`${server.url}/#/transfers`);
    await heading(page, '送受信履歴');
    await shot(page, 'exchange-12-transfers-ja-phone');
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });
});
