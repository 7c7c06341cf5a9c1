// End-to-end test of the dashboard in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): hush serve on loopback ports
// with a fake upstream in this process; dig and raw UDP packets as the
// devices. Every wait is bounded. Screenshots of each page (desktop and a
// 390 px phone) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node dashboard.test.mjs
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {HUSH, PASSWORD, UPSTREAM_ANSWER, dig, openBrowser, rawQuery, sleep, startHush, stepper, finish} from './harness.mjs';

const EVIL = '<img src=x onerror=alert(1)>.test';
const step = stepper();
const hush = await startHush();
let browser;
let failed = false;
try {
  browser = await openBrowser(hush.url);
  const {page, shot} = browser;
  const {dialogs, pageErrors, consoleErrors} = browser.seen;

  await step('login page; a wrong password is refused', async () => {
    await page.goto(hush.url);
    await page.waitForSelector('#login-form');
    await shot('login-desktop');
    await page.fill('#password', 'wrong password');
    await page.click('#login-button');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('Wrong password'));
    assert.equal(await page.isVisible('#nav'), false);
  });

  await step('log in; the overview shows', async () => {
    await page.fill('#password', PASSWORD);
    await page.click('#login-button');
    await page.waitForSelector('#page-overview');
    assert.equal(await page.isVisible('#nav'), true);
    // The session cookie is HttpOnly: scripts cannot read it.
    assert.equal(await page.evaluate(() => document.cookie), '');
  });

  await step('a device asks; its page shows the name', async () => {
    assert.deepEqual(await dig(hush.dnsPort, 'visible.e2e.test'), [UPSTREAM_ANSWER]);
    await rawQuery(hush.dnsPort, EVIL);
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), ['0.0.0.0']);
    await page.click('nav a[data-page="devices"]');
    await page.waitForSelector('#page-devices a.device-link');
    // One page holds them all: the count, and no "More".
    assert.match(await page.textContent('#devices-count'), /^[\d,]+ of [\d,]+ devices$/);
    assert.equal(await page.isHidden('#more-devices'), true);
    await shot('devices-desktop');
    await page.click('#page-devices a.device-link >> text=127.0.0.1');
    await page.waitForSelector('#page-device');
    // Written to the log within a second or two; the live tail adds it.
    await page.waitForSelector('#device-log td.domain >> text="visible.e2e.test"', {timeout: 15000});
  });

  await step('a name carrying HTML stays text', async () => {
    const cell = page.locator('#device-log td.domain', {hasText: 'onerror'});
    await cell.first().waitFor({timeout: 15000});
    assert.equal(await cell.first().textContent(), EVIL);
    assert.equal(await page.locator('img').count(), 0, 'an <img> element was created');
    assert.deepEqual(dialogs, [], 'a dialog fired');
    await sleep(300);
    assert.deepEqual(dialogs, []);
  });

  await step('block the name with one click; dig gets the sinkhole answer', async () => {
    await shot('device-desktop');
    const button = page.locator('#device-log button[data-domain="visible.e2e.test"]').first();
    assert.equal(await button.textContent(), 'Block');
    await button.click();
    await page.waitForFunction(() => document.getElementById('toast').textContent.includes('Blocked visible.e2e.test'));
    assert.equal(await button.textContent(), 'Blocked');
    assert.deepEqual(await dig(hush.dnsPort, 'visible.e2e.test'), ['0.0.0.0']);
  });

  await step('rename the device; odd characters stay text', async () => {
    const name = '<b>Kid\'s "tablet"</b>';
    await page.fill('#device-name', name);
    await page.click('#device-form button[type=submit]');
    await page.waitForFunction(n => document.getElementById('device-title') &&
      document.getElementById('device-title').textContent === n, name);
    assert.equal(await page.locator('#page-device b').count(), 0);
  });

  await step('query log: filter, live tail, allow with one click', async () => {
    await page.goto(hush.url + '#/log');
    await page.waitForSelector('#log-table');
    await page.waitForSelector('#log-table td.domain >> text="listed.e2e.test"');
    await shot('log-desktop');
    // Live: a new query appears without reloading.
    await sleep(700);
    assert.deepEqual(await dig(hush.dnsPort, 'live.e2e.test'), [UPSTREAM_ANSWER]);
    await page.waitForSelector('#log-table td.domain >> text="live.e2e.test"', {timeout: 15000});
    // Filter by name.
    await page.fill('#filter-domain', 'listed.e2e');
    await page.click('#log-filters button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('domain=listed.e2e') &&
      document.querySelectorAll('#log-table tbody tr').length > 0 &&
      [...document.querySelectorAll('#log-table td.domain')].every(td => td.textContent.includes('listed.e2e')));
    // Allow the listed name from its row.
    await page.locator('#log-table button.allow[data-domain="listed.e2e.test"]').first().click();
    await page.waitForFunction(() => document.getElementById('toast').textContent.includes('Allowed listed.e2e.test'));
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), [UPSTREAM_ANSWER]);
  });

  await step('lists page: entries, catalog, remove an entry', async () => {
    await page.goto(hush.url + '#/lists');
    await page.waitForSelector('#page-lists');
    assert.ok(await page.locator('#page-lists tr[data-rule="visible.e2e.test"]').count() === 1);
    assert.ok(await page.locator('#page-lists button', {hasText: 'Subscribe'}).count() > 3);
    await shot('lists-desktop');
    await page.locator('#page-lists tr[data-rule="listed.e2e.test"] button').click();
    await page.waitForFunction(() => !document.querySelector('#page-lists tr[data-rule="listed.e2e.test"]') &&
      document.getElementById('page-lists'));
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), ['0.0.0.0']);
  });

  await step('settings: pause blocking for 5 minutes, then on again', async () => {
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#page-settings');
    assert.ok(!/\[object |undefined|NaN/.test(await page.evaluate(() => document.body.innerText)));
    assert.ok((await page.locator('#page-settings dd').allTextContents()).some(t => t.startsWith('127.0.0.1:')));
    await shot('settings-desktop');
    await page.click('#pause-5');
    await page.waitForFunction(() => /^Paused · [45]:\d\d$/.test(document.getElementById('blocking-state').textContent));
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), [UPSTREAM_ANSWER]);
    await page.click('#blocking-on');
    await page.waitForFunction(() => document.getElementById('blocking-state').textContent === 'Blocking on');
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), ['0.0.0.0']);
  });

  await step('settings: download a backup, upload it with a preview, restore it', async () => {
    await page.goto(hush.url + '#/settings');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#backup-download')]);
    const text = fs.readFileSync(await download.path(), 'utf8');
    const b = JSON.parse(text);
    assert.equal(b.format, 'hush-backup');
    assert.equal(b.version, 2);
    assert.equal(b.contents.log, undefined, 'the dashboard\'s backup has no query log');
    assert.ok(b.contents.files['web-auth.json'].includes('scrypt'), 'the password hash is in the backup');
    // A change made after the backup, which restoring it takes back.
    execFileSync(HUSH, ['local', 'add', 'extra.lan', 'A', '192.0.2.200', '--data-dir', hush.dataDir]);
    for (let i = 0; i < 50 && (await dig(hush.dnsPort, 'extra.lan')).length === 0; i++) await sleep(200);
    assert.deepEqual(await dig(hush.dnsPort, 'extra.lan'), ['192.0.2.200']);
    const damaged = text.replace('"format"', '"formaT"');
    await page.setInputFiles('#restore-file', {name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(damaged)});
    await page.waitForSelector('#restore-error');
    assert.match(await page.textContent('#restore-error'), /not a hush backup/);
    // A file of format version 1 (written before the log was streamed) previews the same.
    const v1 = text.replace('"version": 2', '"version": 1');
    assert.notEqual(v1, text);
    await page.setInputFiles('#restore-file', {name: 'v1.json', mimeType: 'application/json', buffer: Buffer.from(v1)});
    await page.waitForSelector('#restore-apply');
    const v1rows = await page.locator('#restore-preview tr').allTextContents();
    assert.ok(v1rows.some(r => r.startsWith('local records') && r.includes('1 record -> 0 records')), v1rows.join('\n'));
    await page.setInputFiles('#restore-file', {name: 'backup.json', mimeType: 'application/json', buffer: Buffer.from(text)});
    await page.waitForSelector('#restore-apply');
    const rows = await page.locator('#restore-preview tr').allTextContents();
    assert.ok(rows.some(r => r.startsWith('local records') && r.includes('1 record -> 0 records')), rows.join('\n'));
    // The preview changed nothing.
    assert.deepEqual(await dig(hush.dnsPort, 'extra.lan'), ['192.0.2.200']);
    await shot('restore-preview');
    await page.click('#restore-apply');
    await page.waitForSelector('#restore-done');
    for (let i = 0; i < 50 && (await dig(hush.dnsPort, 'extra.lan')).length !== 0; i++) await sleep(200);
    assert.deepEqual(await dig(hush.dnsPort, 'extra.lan'), []);
  });

  await step('overview with a chart', async () => {
    await page.goto(hush.url + '#/');
    await page.waitForSelector('#overview-chart canvas');
    await sleep(300);
    await shot('overview-desktop');
  });

  await step('every page fits a 390 px phone screen', async () => {
    await page.setViewportSize({width: 390, height: 844});
    for (const [hash, id, name] of [['#/', '#page-overview', 'overview'], ['#/devices', '#page-devices', 'devices'],
      ['#/device/1', '#page-device', 'device'], ['#/log', '#page-log', 'log'], ['#/lists', '#page-lists', 'lists'],
      ['#/settings', '#page-settings', 'settings']]) {
      await page.goto(hush.url + hash);
      await page.waitForSelector(id);
      await sleep(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name} is ${overflow} px wider than the phone`);
      const text = await page.evaluate(() => document.body.innerText);
      assert.ok(!/\[object |undefined|NaN/.test(text), `${name} shows a broken value`);
      await shot(name + '-phone');
    }
  });

  await step('no script errors, no dialogs, no CSP violations', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(consoleErrors.filter(e => /Content Security Policy|Refused/.test(e)), []);
  });

  await step('logout ends the session', async () => {
    await page.setViewportSize({width: 1280, height: 860});
    await page.goto(hush.url + '#/settings');
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    const r = await page.evaluate(async () => (await fetch('/api/summary')).status);
    assert.equal(r, 401);
  });
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
