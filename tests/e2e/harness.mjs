// What the browser tests share: hush serve on loopback ports with a fake
// upstream in this process, dig and raw UDP packets as the devices, headless
// Chromium (Debian's /usr/bin/chromium via playwright-core), and a step
// runner. Every wait is bounded; nothing leaves 127.0.0.0/8.
import assert from 'node:assert/strict';
import {execFile, spawn, spawnSync} from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {chromium} from 'playwright-core';

export const HUSH = process.env.HUSH_BINARY;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.SCREENSHOT_DIR || path.resolve('screenshots');
export const UPSTREAM_ANSWER = '192.0.2.44';
export const PASSWORD = 'e2e password 123';
assert.ok(HUSH && fs.existsSync(HUSH), 'set HUSH_BINARY to the built hush');
assert.ok(fs.existsSync(CHROMIUM), CHROMIUM + ' is missing (apt-get install chromium)');
fs.mkdirSync(SHOTS, {recursive: true});

export const sleep = ms => new Promise(r => setTimeout(r, ms));
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

// Sends one raw query (any bytes in the name) and waits up to 3 s for the
// answer; `source` (a 127.0.0.0/8 address) is the device asking.
export function rawQuery(port, name, source) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error('no answer for ' + name)); }, 3000);
    s.on('message', msg => { clearTimeout(timer); s.close(); resolve(msg); });
    const send = () => s.send(buildQuery(name), port, '127.0.0.1');
    if (source) s.bind(0, source, send); else send();
  });
}

// The A addresses dig gets; `source` (a 127.0.0.0/8 address) is the device asking.
export async function dig(port, name, source) {
  const args = ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=3'];
  if (source) args.push('-b', source);
  const {stdout} = await run('dig', [...args, name, 'A'], {timeout: 15000});
  return stdout.split(/\s+/).filter(l => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

// dig until the first address is `want` (a change is in force within a
// policy rebuild), for at most `ms`; fails with what it got last.
export async function digBecomes(port, name, source, want, ms = 10000) {
  const deadline = Date.now() + ms;
  let got;
  while (Date.now() < deadline) {
    got = (await dig(port, name, source))[0];
    if (got === want) return;
    await sleep(100);
  }
  assert.equal(got, want, `${name} from ${source}`);
}

// Answers every A question with UPSTREAM_ANSWER, others with NODATA; a
// name starting with "nx." does not exist (NXDOMAIN).
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
    if (msg[12] === 2 && msg.subarray(13, 15).toString('latin1').toLowerCase() === 'nx') {
      s.send(Buffer.concat([Buffer.from([msg[0], msg[1], 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0]), question]), rinfo.port, rinfo.address);
      return;
    }
    const header = Buffer.from([msg[0], msg[1], 0x81, 0x80, 0, 1, 0, qtype === 1 ? 1 : 0, 0, 0, 0, 0]);
    const answer = qtype === 1 ?
      Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(UPSTREAM_ANSWER.split('.').map(Number))]) :
      Buffer.alloc(0);
    s.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  return new Promise(resolve => s.bind(0, '127.0.0.1', () => resolve(s)));
}

// A port free for both TCP and UDP on 127.0.0.1, never one handed out before
// in this process: the kernel may give the port it just freed to the next
// bind(0), and DNS and HTTP on the same port would make hush's HTTP fail.
const handedOut = new Set();
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => {
        if (handedOut.has(port)) { resolve(freePort()); return; }
        const u = dgram.createSocket('udp4');
        u.on('error', () => { u.close(); resolve(freePort()); });
        u.bind(port, '127.0.0.1', () => u.close(() => { handedOut.add(port); resolve(port); }));
      });
    });
    srv.on('error', reject);
  });
}

// ------------------------------------------------------------------ the server

function tcpListening(port) {
  return new Promise(resolve => {
    const c = net.connect({port, host: '127.0.0.1'});
    c.setTimeout(1000, () => { c.destroy(); resolve(false); });
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

// hush serve with a data directory of its own and `blocklist` (file text) as
// its one list; its output goes to $SCREENSHOT_DIR/<logName>. `config`, a
// function of the ports, gives the text of a configuration file (--config).
export async function startHush({blocklist = '0.0.0.0 listed.e2e.test\n', logName = 'hush.log', config} = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-'));
  const dataDir = path.join(tmp, 'data');
  fs.mkdirSync(dataDir);
  const list = path.join(tmp, 'ads.txt');
  fs.writeFileSync(list, blocklist);
  const pw = spawnSync(HUSH, ['passwd', '--data-dir', dataDir], {input: PASSWORD + '\n', timeout: 30000});
  assert.equal(pw.status, 0, String(pw.stderr));
  const upstream = await fakeUpstream();
  const dnsPort = await freePort();
  const httpPort = await freePort();
  const logFile = path.join(SHOTS, logName);
  const out = fs.openSync(logFile, 'w');
  const configFile = path.join(tmp, 'hush.toml');
  const configArgs = [];
  if (config) {
    fs.writeFileSync(configFile, config({dnsPort, upstreamPort: upstream.address().port}));
    configArgs.push('--config', configFile);
  }
  const proc = spawn(HUSH, ['serve', ...configArgs, '--listen', '127.0.0.1:' + dnsPort, '--upstream', '127.0.0.1:' + upstream.address().port,
    '--data-dir', dataDir, '--http', '127.0.0.1:' + httpPort, '--user', '', '--threads', '1', '--blocklist', list],
  {stdio: ['ignore', out, out]});
  // Both listeners the tests use: the dashboard's HTTP and DNS.
  const deadline = Date.now() + 30000;
  let httpUp = false, dnsUp = false;
  while (Date.now() < deadline && !(httpUp && dnsUp)) {
    assert.equal(proc.exitCode, null, 'hush exited early: ' + fs.readFileSync(logFile, 'utf8'));
    try {
      httpUp = httpUp || (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).ok;
    } catch (e) { /* not yet */ }
    // A TCP connect proves the DNS listener without a query in the log.
    if (!dnsUp) dnsUp = await tcpListening(dnsPort);
    if (!(httpUp && dnsUp)) await sleep(100);
  }
  assert.ok(httpUp && dnsUp, 'hush did not start: ' + fs.readFileSync(logFile, 'utf8'));
  return {
    dnsPort, httpPort, logFile, dataDir, configFile, upstreamPort: upstream.address().port, url: `http://127.0.0.1:${httpPort}/`,
    pid: proc.pid,
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

// ------------------------------------------------------------------ the browser and the steps

// Headless Chromium with a fresh profile; requests anywhere but `baseUrl`
// are aborted. Dialogs are dismissed and recorded, as are script errors.
// {guard: false} leaves that to a later guard() call: any route turns
// Chromium's HTTP cache off, and a test of caching needs it on.
export async function openBrowser(baseUrl, {guard = true} = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1280, height: 860},
    timeout: 60000,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const seen = {dialogs: [], pageErrors: [], consoleErrors: []};
  page.on('dialog', d => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', e => seen.pageErrors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
  // Anything outside hush's own address would be a leak (and is off-limits here).
  const guardOutside = () => context.route(url => !url.href.startsWith(baseUrl), route => route.abort());
  if (guard) await guardOutside();
  return {
    context, page, seen, guard: guardOutside,
    shot: name => page.screenshot({path: path.join(SHOTS, name + '.png'), fullPage: true}),
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, {recursive: true, force: true});
    },
  };
}

export function stepper() {
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
  step.summary = () => `${results.filter(r => r[0] === 'ok').length} passed, ${results.filter(r => r[0] === 'FAIL').length} failed`;
  return step;
}

// What every suite checks last: the pages threw nothing, opened no dialog
// and broke no Content Security Policy rule.
export function assertCleanPages(seen) {
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.dialogs, []);
  assert.deepEqual(seen.consoleErrors.filter(e => /Content Security Policy|Refused/.test(e)), []);
}

// Closes the browser, stops hush (a non-zero exit, e.g. a sanitizer report,
// fails the suite) and exits with the suite's result.
export async function finish(step, browser, hush, failed) {
  if (browser) await browser.close();
  const code = await hush.stop();
  if (code !== 0) {
    console.log('FAIL hush exited with ' + code + ' (see ' + hush.logFile + ')');
    failed = true;
  }
  console.log(`${step.summary()}; screenshots in ${SHOTS}`);
  process.exit(failed ? 1 : 0);
}

// Logs in through the login form and waits for the overview.
export async function logIn(page, url) {
  await page.goto(url);
  await page.waitForSelector('#login-form');
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.waitForSelector('#page-overview');
}
