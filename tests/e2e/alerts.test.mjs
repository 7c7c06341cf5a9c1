// End-to-end test of the Alerts table (Settings) in headless Chromium:
// hush serve with two webhook sinks for new devices, one on a receiver the
// test runs on loopback, one on a port where nothing listens. A device's
// first question must show the first as delivered (and the receiver must
// have the POST), the second as retrying with its error and next try; a
// sink added to the file and a SIGHUP shows up without a restart.
// Screenshots go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node alerts.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {UPSTREAM_ANSWER, dig, freePort, logIn, openBrowser, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const TABLET = '127.0.0.2';

// The webhook receiver: every POST it got, as parsed JSON.
const got = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', c => { body += c; });
  req.on('end', () => {
    got.push({path: req.url, body: JSON.parse(body)});
    res.writeHead(200, {'Content-Length': 0});
    res.end();
  });
});
await new Promise(resolve => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
const closed = await freePort();  // nothing listens there
const sink = (name, url) => `[[alerts.sink]]\nname = "${name}"\nkind = "webhook"\nurl = "${url}"\nevents = ["new_device"]\n`;

const step = stepper();
const hush = await startHush({
  logName: 'hush-alerts.log',
  config: ({upstreamPort}) => `[upstream]\nservers = ["127.0.0.1:${upstreamPort}"]\n\n` +
    sink('receiver', hookUrl) + sink('down', `http://127.0.0.1:${closed}/`),
});
let browser;
let failed = false;
try {
  browser = await openBrowser(hush.url);
  const {page, shot, seen} = browser;
  const row = name => page.locator('table.alert-sinks tr.alert-sink', {has: page.locator(`td:text-is("${name}")`)});
  // The settings page is drawn once: reload it until `pred` holds.
  async function settingsUntil(pred, what) {
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (page.url().endsWith('#/settings')) await page.reload();
      else await page.goto(hush.url + '#/settings');
      await page.waitForSelector('table.alert-sinks');
      if (await pred()) return;
      await sleep(300);
    }
    assert.fail(what + ': ' + await page.textContent('table.alert-sinks'));
  }

  await step('log in: both sinks are listed, nothing sent yet', async () => {
    await logIn(page, hush.url);
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('table.alert-sinks');
    assert.equal(await page.locator('table.alert-sinks tr.alert-sink').count(), 2);
    assert.equal(await row('receiver').locator('.alert-state').textContent(), 'nothing sent yet');
    assert.equal(await row('down').locator('.alert-state').textContent(), 'nothing sent yet');
  });

  await step('a new device: the receiver gets the webhook, the table says delivered', async () => {
    assert.deepEqual(await dig(hush.dnsPort, 'www.e2e.test', TABLET), [UPSTREAM_ANSWER]);
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline && !got.length) await sleep(100);
    assert.equal(got.length, 1, 'one webhook for the new device');
    assert.equal(got[0].path, '/hook');
    assert.equal(got[0].body.event, 'new_device');
    assert.match(JSON.stringify(got[0].body), /127\.0\.0\.2/);
    await settingsUntil(async () => /delivered/.test(await row('receiver').locator('.alert-state').textContent()), 'receiver delivered');
    const cells = await row('receiver').locator('td').allTextContents();
    assert.equal(cells[1], 'webhook');
    assert.match(cells[2], /^delivered \S/);
    assert.deepEqual(cells.slice(4), ['1', '0']);
  });

  await step('the sink whose receiver is down shows the failed delivery and its retry', async () => {
    await settingsUntil(async () => /retrying/.test(await row('down').locator('.alert-state').textContent()), 'down retrying');
    const state = await row('down').locator('.alert-state').textContent();
    assert.match(state, /^retrying .*(connect|refused)/i);
    assert.match(state, /\(next try \d[^)]*\)$/);
    const cells = await row('down').locator('td').allTextContents();
    // Nothing sent, and nothing given up on yet (the Failed column counts those).
    assert.deepEqual(cells.slice(4), ['0', '0']);
    assert.notEqual(cells[3], '', 'the last attempt\'s time');
    // Its failures never held up answers.
    const t0 = Date.now();
    assert.deepEqual(await dig(hush.dnsPort, 'www.e2e.test', TABLET), [UPSTREAM_ANSWER]);
    assert.ok(Date.now() - t0 < 2000, 'dig took ' + (Date.now() - t0) + ' ms');
    await shot('alerts-sinks-desktop');
  });

  await step('a sink added to the file is listed after SIGHUP, without a restart', async () => {
    fs.appendFileSync(hush.configFile, sink('later', hookUrl + '/later'));
    process.kill(hush.pid, 'SIGHUP');
    await settingsUntil(async () => await page.locator('table.alert-sinks tr.alert-sink').count() === 3, 'three sinks');
    assert.equal(await row('later').locator('.alert-state').textContent(), 'nothing sent yet');
    // The receiver's own counts were kept across the reload.
    assert.deepEqual((await row('receiver').locator('td').allTextContents()).slice(4), ['1', '0']);
  });

  await step('no script errors, no dialogs', async () => {
    assertCleanPages(seen);
  });
} catch (e) {
  failed = true;
}
receiver.close();
await finish(step, browser, hush, failed);
