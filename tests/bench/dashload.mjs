// Time to content of every dashboard page on a large query log, in headless
// Chromium as a user opens them, with each API call's time. Run by
// dashload.sh, which fills the log first:
//
//   node tests/bench/dashload.mjs HUSH_BINARY DATA_DIR [RUNS=5] [PERIODS=24h,7d,30d]
//
// For each period (picked as a user does: it is kept for every page) each
// page is opened once right after hush started or the period changed
// ("first": nothing cached for that range) and then RUNS more times; a load
// is timed from the navigation until the page's content is drawn (its API
// calls answered, no "Loading…" left). Every API call's time is Chromium's
// (request sent to response end). hush's own CPU time per load (its utime +
// stime from /proc) is printed too: on a shared machine the wall times are
// mostly waiting for a core, the CPU time is what the page costs. Loopback
// only.
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const {chromium} = require('playwright-core');

const [hushBin, dataDir, runsArg, periodsArg] = process.argv.slice(2);
if (!hushBin || !dataDir) {
  console.error('usage: node dashload.mjs HUSH_BINARY DATA_DIR [RUNS] [PERIODS]');
  process.exit(2);
}
const runs = Number(runsArg || 5);
const periods = (periodsArg || '24h,7d,30d').split(',');
const PASSWORD = 'bench password 123';
const sleep = ms => new Promise(r => setTimeout(r, ms));
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ticks = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
// utime + stime of a process, in milliseconds.
const cpuMs = pid => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 1000 / ticks;
};
const freePort = () => new Promise(resolve => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const {port} = s.address(); s.close(() => resolve(port)); });
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-dashload-'));
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
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-dashload-chromium-'));
const context = await chromium.launchPersistentContext(profile, {executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: {width: 1366, height: 900}});
const results = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(180000);
  let calls = [];
  page.on('requestfinished', req => {
    const u = new URL(req.url());
    if (!u.pathname.startsWith('/api/') || u.pathname === '/api/log/stream') return;
    const t = req.timing();
    calls.push({path: u.pathname.replace(/\/\d+$/, '/ID') + u.search.replace(/device=\d+/, 'device=ID'), ms: t.responseEnd - t.requestStart});
  });
  await page.goto(url);
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.waitForSelector('#page-overview');
  // The busiest device, as a user would open it from the devices table.
  const device = await page.evaluate(async () => (await (await fetch('/api/devices?range=30d&limit=1')).json()).devices[0].id);
  const pages = [
    ['overview', '#/', '#page-overview'],
    ['devices', '#/devices', '#page-devices'],
    ['device', '#/device/' + device, '#phonehome-device .attribution, #phonehome-device .error'],
    ['query log', '#/log', '#log-table tbody tr'],
    ['phone home', '#/phonehome', '#company-strips, #page-phonehome'],
    ['company (Xiaomi)', '#/company/xiaomi', '#company-chart canvas, #company-chart p'],
    ['lists', '#/lists', '#page-lists'],
    ['schedules', '#/schedules', '#page-schedules'],
    ['settings', '#/settings', '#page-settings'],
  ];
  // DASHLOAD_PAGES=overview,phone home measures only those pages.
  const only = process.env.DASHLOAD_PAGES ? process.env.DASHLOAD_PAGES.split(',') : null;
  for (const period of periods) {
    await page.evaluate(p => localStorage.setItem('hush.period', p), period);
    for (const [name, hash, ready] of pages) {
      if (only && !only.includes(name)) continue;
      const times = [], cpus = [], perCall = new Map();
      for (let i = 0; i <= runs; i++) {
        await page.goto('about:blank');
        calls = [];
        const t0 = performance.now(), c0 = cpuMs(proc.pid);
        await page.goto(url + hash);
        await page.waitForSelector(ready);
        await page.waitForFunction(() => !document.querySelector('#main .loading'));
        times.push(performance.now() - t0);
        cpus.push(cpuMs(proc.pid) - c0);
        for (const c of calls) {
          if (!perCall.has(c.path)) perCall.set(c.path, []);
          perCall.get(c.path).push(c.ms);
        }
      }
      const [first, ...rest] = times;
      const r = {period, page: name, first, median: median(rest), slowest: Math.max(...rest),
        cpu_first: cpus[0], cpu_median: median(cpus.slice(1)),
        calls: [...perCall].map(([p, ms]) => ({path: p, first: ms[0], median: median(ms.slice(1).length ? ms.slice(1) : ms)}))};
      results.push(r);
      console.log(`${period.padEnd(4)} ${name.padEnd(17)} first ${first.toFixed(0).padStart(6)} ms, median ${r.median.toFixed(0).padStart(5)} ms, slowest ${r.slowest.toFixed(0).padStart(5)} ms; hush CPU first ${r.cpu_first.toFixed(0)} ms, median ${r.cpu_median.toFixed(0)} ms`);
      for (const c of r.calls.sort((a, b) => b.median - a.median))
        console.log(`       ${c.path.padEnd(70)} first ${c.first.toFixed(0).padStart(6)} ms, median ${c.median.toFixed(0).padStart(5)} ms`);
    }
  }
  if (process.env.DASHLOAD_JSON) fs.writeFileSync(process.env.DASHLOAD_JSON, JSON.stringify(results, null, 1));
} finally {
  await context.close();
  proc.kill('SIGTERM');
  fs.rmSync(profile, {recursive: true, force: true});
  fs.rmSync(tmp, {recursive: true, force: true});
}
