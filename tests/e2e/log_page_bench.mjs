// How long the query log page takes to show its rows on a large log, in
// headless Chromium, as a user meets it: from the navigation to the first
// rows on screen (every file, /api/session, the device list and the first
// page of the log). Not a test (it needs a big log): a figure for
// docs/BENCHMARKS.md.
//
//   hush_report_bench DIR 2000000        # 50 devices, 30 days, 2M queries
//   HUSH_BINARY=build/hush node log_page_bench.mjs DIR [RUNS=10]
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const HUSH = process.env.HUSH_BINARY;
const dir = process.argv[2];
const runs = Number(process.argv[3] || 10);
const password = 'bench password 1';
const port = () => new Promise(r => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const sleep = ms => new Promise(r => setTimeout(r, ms));

spawnSync(HUSH, ['passwd', '--data-dir', dir], {input: password + '\n'});
const cfg = path.join(os.tmpdir(), 'hush-log-bench.toml');
fs.writeFileSync(cfg, '[querylog]\nretention_days = 3650\naggregate_retention_days = 3650\n');
const [dns, web] = [await port(), await port()];
const proc = spawn(HUSH, ['serve', '--config', cfg, '--listen', '127.0.0.1:' + dns, '--upstream', '127.0.0.1:9',
  '--data-dir', dir, '--http', '127.0.0.1:' + web, '--user', '', '--threads', '1'], {stdio: 'ignore'});
const url = `http://127.0.0.1:${web}/`;
for (let i = 0; i < 300; i++) {
  try { if ((await fetch(url + 'metrics')).ok) break; } catch (e) { /* not yet */ }
  await sleep(100);
}
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: {width: 1366, height: 860}});
const page = context.pages()[0];
await page.goto(url);
await page.fill('#password', password);
await page.click('#login-button');
await page.waitForSelector('#page-overview', {timeout: 120000});
const times = [];
const calls = {};
for (let i = 0; i <= runs; i++) {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(url + '#/log');
  await page.waitForSelector('#log-table tbody tr', {timeout: 120000});
  const api = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter(e => e.name.includes('/api/') && !e.name.includes('/stream')).map(e => [new URL(e.name).pathname, e.duration]));
  for (const [p, d] of api) (calls[p] = calls[p] || []).push(d);
  if (i > 0) times.push(Date.now() - t0);  // the first fills the browser's cache
  else console.log('first load (files not cached yet): ' + (Date.now() - t0) + ' ms');
}
times.sort((a, b) => a - b);
console.log(`query log page, ${runs} loads: median ${times[Math.floor(times.length / 2)]} ms, fastest ${times[0]} ms, slowest ${times[times.length - 1]} ms`);
for (const [p, ds] of Object.entries(calls)) {
  ds.sort((a, b) => a - b);
  console.log(`  ${p}: median ${Math.round(ds[Math.floor(ds.length / 2)])} ms`);
}
await context.close();
fs.rmSync(profile, {recursive: true, force: true});
proc.kill('SIGTERM');
