// End-to-end test of the dashboard in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): hush serve on loopback ports
// with a fake upstream in this process; dig and raw UDP packets as the
// devices. Every wait is bounded. Screenshots of each page (desktop and a
// 390 px phone) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node dashboard.test.mjs
import assert from 'node:assert/strict';
import {execFile, spawn, spawnSync} from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {chromium} from 'playwright-core';

const HUSH = process.env.HUSH_BINARY;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || path.resolve('screenshots');
const UPSTREAM_ANSWER = '192.0.2.44';
const PASSWORD = 'e2e password 123';
const EVIL = '<img src=x onerror=alert(1)>.test';
assert.ok(HUSH && fs.existsSync(HUSH), 'set HUSH_BINARY to the built hush');
assert.ok(fs.existsSync(CHROMIUM), CHROMIUM + ' is missing (apt-get install chromium)');
fs.mkdirSync(SHOTS, {recursive: true});

const sleep = ms => new Promise(r => setTimeout(r, ms));
const run = promisify(execFile);

// ------------------------------------------------------------------ DNS helpers

function buildQuery(name, qtype = 1) {
  const parts = [Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.replace(/\.$/, '').split('.')) {
    const b = Buffer.from(label, 'latin1');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0, qtype >> 8, qtype & 255, 0, 1]));
  return Buffer.concat(parts);
}

// Sends one raw query (any bytes in the name) and waits up to 3 s for the answer.
function rawQuery(port, name) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error('no answer for ' + name)); }, 3000);
    s.on('message', msg => { clearTimeout(timer); s.close(); resolve(msg); });
    s.send(buildQuery(name), port, '127.0.0.1');
  });
}

async function dig(port, name) {
  const {stdout} = await run('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=3', name, 'A'],
    {timeout: 15000});
  return stdout.split(/\s+/).filter(l => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

// Answers every A question with UPSTREAM_ANSWER, others with NODATA.
function fakeUpstream() {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    while (off < msg.length && msg[off] !== 0) off += 1 + msg[off];
    const end = off + 5;
    if (end > msg.length) return;
    const question = msg.subarray(12, end);
    const qtype = msg.readUInt16BE(off + 1);
    const header = Buffer.from([msg[0], msg[1], 0x81, 0x80, 0, 1, 0, qtype === 1 ? 1 : 0, 0, 0, 0, 0]);
    const answer = qtype === 1 ?
      Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(UPSTREAM_ANSWER.split('.').map(Number))]) :
      Buffer.alloc(0);
    s.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  return new Promise(resolve => s.bind(0, '127.0.0.1', () => resolve(s)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => {
        const u = dgram.createSocket('udp4');
        u.on('error', () => { u.close(); resolve(freePort()); });
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(port)));
      });
    });
    srv.on('error', reject);
  });
}

// ------------------------------------------------------------------ the server

async function startHush() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-'));
  const dataDir = path.join(tmp, 'data');
  fs.mkdirSync(dataDir);
  const list = path.join(tmp, 'ads.txt');
  fs.writeFileSync(list, '0.0.0.0 listed.e2e.test\n');
  const pw = spawnSync(HUSH, ['passwd', '--data-dir', dataDir], {input: PASSWORD + '\n', timeout: 30000});
  assert.equal(pw.status, 0, String(pw.stderr));
  const upstream = await fakeUpstream();
  const dnsPort = await freePort();
  const httpPort = await freePort();
  const logFile = path.join(SHOTS, 'hush.log');
  const out = fs.openSync(logFile, 'w');
  const proc = spawn(HUSH, ['serve', '--listen', '127.0.0.1:' + dnsPort, '--upstream', '127.0.0.1:' + upstream.address().port,
    '--data-dir', dataDir, '--http', '127.0.0.1:' + httpPort, '--user', '', '--threads', '1', '--blocklist', list],
  {stdio: ['ignore', out, out]});
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    assert.equal(proc.exitCode, null, 'hush exited early: ' + fs.readFileSync(logFile, 'utf8'));
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      if (r.ok) break;
    } catch (e) { /* not yet */ }
    await sleep(100);
  }
  assert.ok(Date.now() < deadline, 'hush did not start: ' + fs.readFileSync(logFile, 'utf8'));
  return {
    dnsPort, httpPort, url: `http://127.0.0.1:${httpPort}/`,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t0 = Date.now();
        while (proc.exitCode === null && Date.now() - t0 < 20000) await sleep(50);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      upstream.close();
      fs.rmSync(tmp, {recursive: true, force: true});
      return proc.exitCode;  // 0 after a clean stop; a sanitizer report makes it 1
    },
  };
}

// ------------------------------------------------------------------ the test

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(['ok', name, Date.now() - t0]);
    console.log('ok   ' + name + ' (' + (Date.now() - t0) + ' ms)');
  } catch (e) {
    results.push(['FAIL', name]);
    console.log('FAIL ' + name + '\n' + (e.stack || e));
    throw e;
  }
}

const hush = await startHush();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-chromium-'));
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1280, height: 860},
    timeout: 60000,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const dialogs = [];
  const pageErrors = [];
  const consoleErrors = [];
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', e => pageErrors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  // Anything outside hush's own address would be a leak (and is off-limits here).
  await context.route(url => !url.href.startsWith(hush.url), route => route.abort());
  const shot = name => page.screenshot({path: path.join(SHOTS, name + '.png'), fullPage: true});

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
    await page.waitForFunction(() => document.getElementById('blocking-state').textContent.startsWith('Paused until'));
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), [UPSTREAM_ANSWER]);
    await page.click('#blocking-on');
    await page.waitForFunction(() => document.getElementById('blocking-state').textContent === 'Blocking on');
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test'), ['0.0.0.0']);
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
} finally {
  if (context) await context.close().catch(() => {});
  const code = await hush.stop();
  if (code !== 0) {
    console.log('FAIL hush exited with ' + code + ' (see ' + path.join(SHOTS, 'hush.log') + ')');
    failed = true;
  }
  fs.rmSync(profile, {recursive: true, force: true});
}
console.log(`${results.filter(r => r[0] === 'ok').length} passed, ${results.filter(r => r[0] === 'FAIL').length} failed; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
