// Page load time of the dashboard's busiest pages on a large query log, in
// headless Chromium as a user opens them: from the navigation until the
// page's content is drawn (its API calls answered).
//
//   hush_report_bench /tmp/hush-pages 2000000 100000 now   # 50 devices, 2M queries ending now
//   node tests/bench/page_load_bench.mjs build/hush /tmp/hush-pages [RUNS=5]
//
// Each page is opened once cold (hush just started: nothing cached, the
// SQLite pages not yet read) and then RUNS times; the cold time and the
// median and slowest of the others are printed. The phone-home answers are
// kept a minute by hush, so the repeats measure that cache. Loopback only.
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const {chromium} = require('playwright-core');

const [hushBin, dataDir, runsArg] = process.argv.slice(2);
if (!hushBin || !dataDir) {
  console.error('usage: node page_load_bench.mjs HUSH_BINARY DATA_DIR [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg || 5);
const PASSWORD = 'bench password 123';
const sleep = ms => new Promise(r => setTimeout(r, ms));
const freePort = () => new Promise(resolve => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const {port} = s.address(); s.close(() => resolve(port)); });
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-pages-'));
const config = path.join(tmp, 'hush.toml');
fs.writeFileSync(config, '[querylog]\nretention_days = 3650\naggregate_retention_days = 3650\n');
const pw = spawnSync(hushBin, ['passwd', '--data-dir', dataDir], {input: PASSWORD + '\n'});
if (pw.status !== 0) throw new Error(String(pw.stderr));
const dnsPort = await freePort(), httpPort = await freePort();
const proc = spawn(hushBin, ['serve', '--config', config, '--listen', '127.0.0.1:' + dnsPort, '--upstream', '127.0.0.1:9',
  '--data-dir', dataDir, '--http', '127.0.0.1:' + httpPort, '--user', '', '--threads', '1'], {stdio: 'ignore'});
const url = `http://127.0.0.1:${httpPort}/`;
for (let t0 = Date.now(); ; await sleep(100)) {
  try { if ((await fetch(url + 'metrics')).ok) break; } catch (e) { /* not yet */ }
  if (Date.now() - t0 > 30000) throw new Error('hush did not start');
}
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-pages-chromium-'));
const context = await chromium.launchPersistentContext(profile, {executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: {width: 1366, height: 900}});
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(120000);
  await page.goto(url);
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.waitForSelector('#page-overview');
  const pages = [['phone home (7 days)', '#/phonehome?since=7d', '#phonehome-matrix'], ['devices', '#/devices', '#page-devices'],
    ['overview', '#/', '#page-overview']];
  for (const [name, hash, ready] of pages) {
    const times = [];
    for (let i = 0; i <= runs; i++) {
      await page.goto('about:blank');
      const t0 = performance.now();
      await page.goto(url + hash);
      await page.waitForSelector(ready);
      await page.waitForFunction(() => !document.querySelector('#main .loading'));
      times.push(performance.now() - t0);
    }
    const [cold, ...warm] = times;
    warm.sort((a, b) => a - b);
    console.log(`${name}: cold ${cold.toFixed(0)} ms, then median ${warm[Math.floor(warm.length / 2)].toFixed(0)} ms, slowest ${warm[warm.length - 1].toFixed(0)} ms (${runs} loads)`);
  }
} finally {
  await context.close();
  proc.kill('SIGTERM');
  fs.rmSync(profile, {recursive: true, force: true});
  fs.rmSync(tmp, {recursive: true, force: true});
}
