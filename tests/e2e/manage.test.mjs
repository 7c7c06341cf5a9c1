// End-to-end test of what a user changes from the dashboard, in headless
// Chromium, judged by dig and by the configuration file itself:
// - Settings: a wrong value gets `hush check`'s words (file, line, key); the
//   blocking mode is in force at once and the file keeps its comments; "test
//   this upstream" shows the answer and its latency; the cache size waits for
//   a restart, which the page offers and does;
// - Local names: add, edit and remove a record and a CNAME;
// - Lists: one switched off and on again without a restart;
// - Sync: a replica's version and counts in the primary's table.
// Screenshots (1366 and 390 px) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node manage.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {UPSTREAM_ANSWER, PASSWORD, dig, logIn, openBrowser, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const LISTED = 'listed.e2e.test';
const KID = '127.0.0.2';
const SINK = '0.0.0.0';

const step = stepper();
const hush = await startHush({
  logName: 'hush-manage.log',
  config: ({upstreamPort}) => '# my home resolver\n[upstream]\nservers = ["127.0.0.1:' + upstreamPort + '"]  # the fake one\n\n' +
    '[blocking]\nmode = "null"  # what Pi-hole did\n',
});
let browser;
let failed = false;
async function digBecomes(name, want, ms = 10000) {
  const deadline = Date.now() + ms;
  let got;
  while (Date.now() < deadline) {
    got = await dig(hush.dnsPort, name);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await sleep(100);
  }
  assert.deepEqual(got, want, name);
}
const configText = () => fs.readFileSync(hush.configFile, 'utf8');
try {
  browser = await openBrowser(hush.url);
  const {page, shot, seen} = browser;
  const openSettings = async () => {
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#config-form');
  };

  await step('settings: a wrong value gets the words of hush check and nothing is written', async () => {
    await logIn(page, hush.url);
    await openSettings();
    const before = configText();
    await page.fill('#cfg-blocking-ttl', '999999');
    await page.click('#config-save');
    await page.waitForSelector('#config-error:not([hidden])');
    const error = await page.textContent('#config-error');
    assert.match(error, /hush\.toml:\d+: blocking\.ttl: expected an integer from 0 to 86400/);
    assert.equal(configText(), before);
    await page.fill('#cfg-blocking-ttl', '60');
  });

  await step('settings: the blocking mode is in force at once; the comments stay', async () => {
    assert.deepEqual(await dig(hush.dnsPort, LISTED), [SINK]);
    assert.equal(await page.textContent('[data-key="blocking.mode"] .when'), 'applies at once');
    await page.selectOption('#cfg-blocking-mode', 'nxdomain');
    await page.click('#config-save');
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#config-result').textContent));
    assert.match(await page.textContent('#config-result'), /In force now: blocking\.mode/);
    assert.deepEqual(await dig(hush.dnsPort, LISTED), []);
    const text = configText();
    assert.match(text, /mode = "nxdomain"  # what Pi-hole did/);
    assert.match(text, /^# my home resolver/);
  });

  await step('settings: "test this upstream" shows the answer and its latency', async () => {
    await page.fill('#upstream-test-name', 'probe.e2e.test');
    await page.click('#upstream-test');
    await page.waitForFunction(() => /NOERROR|No answer/.test(document.querySelector('#upstream-test-result').textContent));
    const out = await page.textContent('#upstream-test-result');
    assert.match(out, /^NOERROR in \d+\.\d ms: .*192\.0\.2\.44/);
    await page.fill('#upstream-test-server', '127.0.0.1:9');
    await page.click('#upstream-test');
    await page.waitForFunction(() => /No answer/.test(document.querySelector('#upstream-test-result').textContent), null, {timeout: 10000});
    await page.setViewportSize({width: 1366, height: 900});
    await shot('manage-settings-1366');
    await page.setViewportSize({width: 390, height: 844});
    await shot('manage-settings-390');
    await page.setViewportSize({width: 1280, height: 860});
  });

  await step('settings: the cache size applies after a restart, which the page does', async () => {
    assert.equal(await page.textContent('[data-key="cache.max_entries"] .when'), 'applies after restart');
    await page.fill('#cfg-cache-max-entries', '4321');
    await page.click('#config-save');
    await page.waitForSelector('#restart-now');
    assert.match(await page.textContent('#restart-banner'), /cache\.max_entries/);
    assert.match(configText(), /max_entries = 4321/);
    await page.evaluate(() => { window.beforeRestart = true; });
    await page.click('#restart-now');
    // The new process has no sessions: the page loads again and asks for the password.
    await page.waitForFunction(() => !window.beforeRestart && document.querySelector('#login-form'), null, {timeout: 30000});
    await page.fill('#password', PASSWORD);
    await page.click('#login-button');
    // Back on the page it was on.
    await page.waitForSelector('#config-form');
    assert.equal(await page.inputValue('#cfg-cache-max-entries'), '4321');
    assert.equal(await page.isHidden('#restart-banner'), true);
    assert.deepEqual(await dig(hush.dnsPort, LISTED), []);  // nxdomain mode survived the restart
  });

  await step('local names: add, edit and remove a record and a CNAME', async () => {
    const form = '#local-records .record-form';
    await page.waitForSelector(form);
    await page.fill(form + ' .rec-name', 'nas.lan');
    await page.selectOption(form + ' .rec-type', 'A');
    await page.fill(form + ' .rec-data', '192.0.2.10');
    await page.click(form + ' button[type=submit]');
    await page.waitForSelector('#local-records tr[data-line="nas.lan A 192.0.2.10"]');
    await page.fill(form + ' .rec-name', 'files.lan');
    await page.selectOption(form + ' .rec-type', 'CNAME');
    await page.fill(form + ' .rec-data', 'nas.lan.');
    await page.click(form + ' button[type=submit]');
    await page.waitForSelector('#local-records tr[data-line="files.lan CNAME nas.lan."]');
    await digBecomes('files.lan', ['192.0.2.10']);
    // A wrong address: the record's checks say why, nothing is added.
    await page.fill(form + ' .rec-name', 'bad.lan');
    await page.selectOption(form + ' .rec-type', 'A');
    await page.fill(form + ' .rec-data', '300.1.2.3');
    await page.click(form + ' button[type=submit]');
    await page.waitForFunction(() => /300\.1\.2\.3/.test(document.querySelector('#toast').textContent));
    assert.equal(await page.locator('#local-records tr[data-line^="bad.lan"]').count(), 0);
    await page.click('#local-records tr[data-line="nas.lan A 192.0.2.10"] button:has-text("Edit")');
    await page.fill('#local-records tr .record-form .rec-data >> nth=0', '192.0.2.11');
    await page.click('#local-records tr .record-form button[type=submit] >> nth=0');
    await page.waitForSelector('#local-records tr[data-line="nas.lan A 192.0.2.11"]');
    await digBecomes('nas.lan', ['192.0.2.11']);
    await page.click('#local-records tr[data-line="files.lan CNAME nas.lan."] button:has-text("Remove")');
    await page.waitForFunction(() => !document.querySelector('#local-records tr[data-line="files.lan CNAME nas.lan."]'));
    await digBecomes('files.lan', []);
  });

  await step('lists: switched off and on again without a restart', async () => {
    await page.goto(hush.url + '#/lists');
    const box = '.list-switch[data-list="ads.txt"]';
    await page.waitForSelector(box);
    assert.equal(await page.isChecked(box), true);
    await page.setViewportSize({width: 1366, height: 900});
    await shot('manage-lists-1366');
    await page.setViewportSize({width: 390, height: 844});
    await shot('manage-lists-390');
    await page.setViewportSize({width: 1280, height: 860});
    await page.uncheck(box);
    await page.waitForFunction(() => /Not using ads\.txt/.test(document.querySelector('#toast').textContent));
    assert.deepEqual(await dig(hush.dnsPort, LISTED), [UPSTREAM_ANSWER]);
    assert.match(configText(), /disabled_lists = \["ads\.txt"\]/);
    await page.reload();
    await page.waitForSelector(box);
    assert.equal(await page.isChecked(box), false);
    await page.check(box);
    await page.waitForFunction(() => /Using ads\.txt/.test(document.querySelector('#toast').textContent));
    assert.deepEqual(await dig(hush.dnsPort, LISTED), []);
  });

  await step('groups: made with a device, then renamed, from the devices page', async () => {
    assert.deepEqual(await dig(hush.dnsPort, 'kid.e2e.test', KID), [UPSTREAM_ANSWER]);
    let kid;
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !kid) {
      const r = await page.evaluate(async () => (await fetch('/api/devices')).json());
      kid = r.devices.find(d => d.addresses.includes(KID));
      if (!kid) await sleep(200);
    }
    assert.ok(kid, 'the device is in the log');
    // A subscribed list (a local copy: the test stays off the network) the group will use.
    const listDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-list-'));
    fs.writeFileSync(path.join(listDir, 'kids.txt'), '||games.e2e.test^\n');
    const sub = await page.evaluate(async url => {
      const {csrf} = await (await fetch('/api/session')).json();
      const r = await fetch('/api/lists', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({url, name: 'kids-games', groups: []})});
      return {status: r.status, body: await r.json()};
    }, 'file://' + path.join(listDir, 'kids.txt'));
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    await page.goto(hush.url + '#/devices');
    await page.waitForSelector('#groups');
    await page.click('#new-group > summary');
    await page.fill('#new-group .group-name', 'kids');
    await page.check(`#new-group .group-device[value="${kid.id}"]`);
    await page.check('#new-group .group-list[value="kids-games"]');
    await page.click('#new-group button[type=submit]');
    await page.waitForSelector('#groups tr[data-group="kids"]');
    assert.ok((await page.textContent('#groups tr[data-group="kids"]')).includes(kid.name), 'the device is shown in its group');
    await page.click('#groups tr[data-group="kids"] .group-edit');
    await page.fill('#groups tr[data-group="kids"] .group-name', 'children');
    await page.click('#groups tr[data-group="kids"] button[type=submit]');
    await page.waitForSelector('#groups tr[data-group="children"]');
    assert.equal(await page.locator('#groups tr[data-group="kids"]').count(), 0);
    const groups = await page.evaluate(async () => (await fetch('/api/groups')).json());
    assert.deepEqual(groups.groups.find(g => g.name === 'children').devices.map(d => d.id), [kid.id]);
    assert.deepEqual(groups.groups.find(g => g.name === 'children').lists, ['kids-games'], 'the list follows the rename');
    assert.ok((await page.textContent('#groups tr[data-group="children"]')).includes('kids-games'));
    fs.rmSync(listDir, {recursive: true, force: true});
    await page.setViewportSize({width: 1366, height: 900});
    await shot('manage-devices-1366');
    await page.setViewportSize({width: 390, height: 844});
    await shot('manage-devices-390');
    await page.setViewportSize({width: 1280, height: 860});
  });

  await step('sync: a replica that asked shows with the answers and blocked counts it sent', async () => {
    // What a replica's follower sends with each long poll (sync/follower.cpp).
    const code = await page.evaluate(async () =>
      (await fetch('/api/sync/state?since=0&wait=0&queries=1234567&blocked=89012')).status);
    assert.equal(code, 200);
    await openSettings();
    const row = await page.waitForSelector('#sync-status tr.sync-replica');
    const cells = await row.$$eval('td', tds => tds.map(td => td.textContent));
    const want = await page.evaluate(() => [1234567, 89012].map(n => new Intl.NumberFormat().format(n)));
    assert.equal(cells[0], '127.0.0.1');
    assert.equal(cells[1], '0');
    assert.deepEqual(cells.slice(3), want);
  });

  await step('no script errors, dialogs or CSP violations', async () => assertCleanPages(seen));
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
