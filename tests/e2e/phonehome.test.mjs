// End-to-end test of the dashboard's "Phone home" pages in headless Chromium:
// two devices (dig from 127.0.0.2 and 127.0.0.3) ask real vendor names, the
// device page shows the companies behind them, and its one-click block makes
// the first device get the sinkhole answer while the second still gets the
// upstream's. Screenshots (desktop and a 390 px phone) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node phonehome.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {UPSTREAM_ANSWER, dig, logIn, openBrowser, rawQuery, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const PHONE = '127.0.0.2';
const TV = '127.0.0.3';
// Names from HaGeZi's native.xiaomi and native.samsung lists
// (github.com/hagezi/dns-blocklists, 2026-07 copies).
const XIAOMI = ['api.ad.xiaomi.com', 'log.ad.xiaomi.com', 'tracking.intl.miui.com'];
const SAMSUNG = ['metric.account-samsung.com'];
// In native.xiaomi but under no domain companiesdb gives Xiaomi: only the list blocks it.
const LIST_ONLY = 'mistat.intl.xiaomi.com.edgesuite.net';
const EVIL = '<img src=x onerror=alert(1)>.phone.test';
const LOG = 'hush-phonehome.log';
const NO_COMPANY = 'quiet-site.e2e.test';

const step = stepper();
const hush = await startHush({logName: LOG});
let browser;
let failed = false;
try {
  browser = await openBrowser(hush.url);
  const {page, shot, seen} = browser;
  const json = path => page.evaluate(async p => (await fetch(p)).json(), path);
  const ids = {};

  await step('two devices ask vendor names; both get the upstream answer', async () => {
    for (const name of XIAOMI) {
      assert.deepEqual(await dig(hush.dnsPort, name, PHONE), [UPSTREAM_ANSWER]);
      assert.deepEqual(await dig(hush.dnsPort, name, PHONE), [UPSTREAM_ANSWER]);
    }
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI[0], TV), [UPSTREAM_ANSWER]);
    for (const name of SAMSUNG) assert.deepEqual(await dig(hush.dnsPort, name, TV), [UPSTREAM_ANSWER]);
    // A site with no company on record, asked more than any company: its
    // category says nothing, so it must not lead the categories.
    for (let i = 0; i < 30; i++) assert.deepEqual(await dig(hush.dnsPort, `cdn${i % 3}.${NO_COMPANY}`, TV), [UPSTREAM_ANSWER]);
    // The TV's browser looks up its own DNS-over-HTTPS resolver.
    assert.deepEqual(await dig(hush.dnsPort, 'dns.google', TV), [UPSTREAM_ANSWER]);
    await rawQuery(hush.dnsPort, EVIL);
    await logIn(page, hush.url);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !(ids.phone && ids.tv)) {
      for (const d of (await json('/api/devices')).devices) {
        if (d.addresses.includes(PHONE)) ids.phone = d.id;
        if (d.addresses.includes(TV)) ids.tv = d.id;
      }
      await sleep(200);
    }
    assert.ok(ids.phone && ids.tv, 'both devices in the log: ' + JSON.stringify(ids));
  });

  const company = key => `#phonehome-device details.company[data-key="${key}"]`;

  await step("the TV's page says it may be going around hush, with the evidence", async () => {
    await page.goto(hush.url + '#/device/' + ids.tv);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      await page.waitForSelector('#phonehome-device .attribution');
      if (await page.locator('#bypass-warning').count()) break;
      await sleep(500);
      await page.reload();
    }
    const text = await page.locator('#bypass-warning').textContent();
    assert.match(text, /May be going around hush/);
    assert.match(text, /dns\.google \(Google Public DNS\): 1 query/);
  });

  await step("the phone's page shows Xiaomi, its names and a chart", async () => {
    await page.goto(hush.url + '#/device/' + ids.phone);
    // Written to the log within a second or two; reload until it is there.
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      await page.waitForSelector('#phonehome-device .attribution');
      if (await page.locator(company('xiaomi')).count()) break;
      await sleep(500);
      await page.reload();
    }
    assert.equal(await page.locator('#bypass-warning').count(), 0, 'the phone asked no encrypted-DNS resolver');
    const summary = page.locator(company('xiaomi') + ' > summary');
    assert.match(await summary.textContent(), /Xiaomi/);
    assert.match(await summary.textContent(), /6 queries/);
    assert.equal(await page.locator(company('samsung')).count(), 0, 'the phone never asked Samsung');
    await summary.click();
    const names = await page.locator(company('xiaomi') + ' table.names td.domain').allTextContents();
    assert.deepEqual(names.sort(), [...XIAOMI].sort());
    await page.waitForSelector(company('xiaomi') + ' .chart canvas');
    const links = await page.locator('#phonehome-device .attribution a').evaluateAll(as => as.map(a => a.href));
    assert.deepEqual(links, ['https://github.com/AdguardTeam/companiesdb', 'https://creativecommons.org/licenses/by-sa/4.0/']);
    assert.match(await page.locator('#phonehome-device .attribution').textContent(),
      /Company data: AdGuard companiesdb, CC BY-SA 4\.0/);
    const subscribe = page.locator(company('xiaomi') + ' button[data-action="subscribe"]');
    assert.match(await subscribe.first().textContent(), /Subscribe HaGeZi native tracker: Xiaomi/);
    await sleep(300);
    await shot('phonehome-device-desktop');
  });

  await step('one click blocks Xiaomi for the phone only', async () => {
    await page.click(company('xiaomi') + ' button[data-action="block-device"]');
    await page.waitForSelector(company('xiaomi') + ' .confirm');
    assert.match(await page.locator(company('xiaomi') + ' .confirm').textContent(), /Block the names of Xiaomi.* for this device\?/);
    await page.click(company('xiaomi') + ' .confirm button.yes');
    await page.waitForFunction(() => /^Blocked Xiaomi.* for this device/.test(document.getElementById('toast').textContent));
    // The pointer rests on the toast, which keeps its undo for the next step
    // however long the checks below take on a slow machine.
    await page.hover('#toast');
    for (const name of XIAOMI) {
      assert.deepEqual(await dig(hush.dnsPort, name, PHONE), ['0.0.0.0'], name + ' from the phone');
      assert.deepEqual(await dig(hush.dnsPort, name, TV), [UPSTREAM_ANSWER], name + ' from the TV');
    }
    assert.deepEqual(await dig(hush.dnsPort, 'example.com', PHONE), [UPSTREAM_ANSWER]);
    // The section shows the new state, still open on the company.
    await page.waitForSelector(company('xiaomi') + '[open] button[data-action="unblock-device"]');
    assert.equal(await page.locator(company('xiaomi') + ' > summary .badge.blocked').count(), 1);
    await shot('phonehome-device-blocked-desktop');
  });

  await step("the toast's undo lets the phone through again; block again", async () => {
    await page.click('#toast-action');
    await page.waitForSelector(company('xiaomi') + ' button[data-action="block-device"]');
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI[0], PHONE), [UPSTREAM_ANSWER]);
    await page.click(company('xiaomi') + ' button[data-action="block-device"]');
    await page.click(company('xiaomi') + ' .confirm button.yes');
    await page.waitForSelector(company('xiaomi') + ' button[data-action="unblock-device"]');
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI[1], PHONE), ['0.0.0.0']);
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI[1], TV), [UPSTREAM_ANSWER]);
  });

  await step('cancel leaves things as they are', async () => {
    await page.goto(hush.url + '#/device/' + ids.tv);
    await page.waitForSelector(company('samsung'));
    await page.click(company('samsung') + ' > summary');
    await page.click(company('samsung') + ' button[data-action="block-device"]');
    await page.click(company('samsung') + ' .confirm button.no');
    await page.waitForSelector(company('samsung') + ' button[data-action="block-device"]');
    assert.deepEqual(await dig(hush.dnsPort, SAMSUNG[0], TV), [UPSTREAM_ANSWER]);
  });

  await step('overview: the picture first, devices against companies, blocked marked, strips per hour and per day', async () => {
    await page.goto(hush.url + '#/phonehome?since=24h');
    await page.waitForSelector('#phonehome-matrix');
    assert.ok(await page.evaluate(() => Boolean(document.querySelector('#phonehome-matrix').compareDocumentPosition(
      document.querySelector('#page-phonehome details.company')) & Node.DOCUMENT_POSITION_FOLLOWING)), 'the picture comes before the list');
    const cell = (device, key) => page.locator(`#phonehome-matrix tr[data-device="${device}"] td[data-company="${key}"]`);
    const phoneX = await cell(ids.phone, 'xiaomi').getAttribute('class');
    const tvX = await cell(ids.tv, 'xiaomi').getAttribute('class');
    assert.match(phoneX, /lvl[1-4]/);
    assert.match(phoneX, /(some|mostly)-blocked/, 'the phone was blocked from Xiaomi: ' + phoneX);
    assert.match(tvX, /lvl[1-4]/);
    assert.doesNotMatch(tvX, /blocked/);
    assert.match(await cell(ids.phone, 'xiaomi').getAttribute('title'), /\d+ queries, \d+ blocked/);
    // The TV asked Samsung, the phone did not.
    const tvCells = await page.locator(`#phonehome-matrix tr[data-device="${ids.tv}"] td.cell:not(.lvl0)`).count();
    const phoneCells = await page.locator(`#phonehome-matrix tr[data-device="${ids.phone}"] td.cell:not(.lvl0)`).count();
    assert.ok(tvCells > phoneCells, `TV ${tvCells} companies, phone ${phoneCells}`);
    // Over 24 hours each company's strip has a cell an hour, from the log:
    // the queries of a minute ago are in the newest hours, none before.
    const strip = page.locator('#company-strips li[data-company="xiaomi"] .day');
    assert.equal(await page.locator('#company-strips li[data-company="xiaomi"] .strip').getAttribute('data-step'), '3600');
    const hours = await strip.evaluateAll(cells => cells.map(c => [c.className, c.title]));
    assert.ok(hours.length === 24 || hours.length === 25, hours.length + ' hourly cells');
    const busy = hours.map(([c]) => /lvl[1-4]/.test(c));
    assert.ok(busy[busy.length - 1] || busy[busy.length - 2], 'the last hour has queries: ' + JSON.stringify(hours.slice(-2)));
    assert.deepEqual(busy.slice(0, -2).filter(Boolean), []);
    assert.match(hours.findLast(([c]) => /lvl[1-4]/.test(c))[1], /^\w+ \d\d:\d\d: \d+ queries, \d+ blocked/);
    assert.match(await page.innerText('#page-phonehome h3:has(+ #company-strips)'), /per hour over the last 24 hours/);
    // Over 7 days a cell a day, today last.
    await page.selectOption('#page-phonehome select.period', '7d');
    await page.waitForSelector('#company-strips .strip[data-step="86400"]');
    const days = await strip.evaluateAll(cells => cells.map(c => [c.className, c.title]));
    assert.ok(days.length === 7 || days.length === 8, days.length + ' daily cells');
    assert.match(days[days.length - 1][0], /lvl[1-4]/);
    assert.match(days[days.length - 1][1], /^today: \d+ queries, \d+ blocked/);
    await page.setViewportSize({width: 390, height: 844});
    await page.selectOption('#page-phonehome select.period', '24h');
    await page.waitForSelector('#company-strips .strip[data-step="3600"]');
    const stripBox = await page.locator('#company-strips li[data-company="xiaomi"] .strip').boundingBox();
    assert.ok(stripBox.x + stripBox.width <= 390, 'the hourly strip fits the phone: ' + JSON.stringify(stripBox));
    await page.locator('#company-strips').scrollIntoViewIfNeeded();
    await shot('phonehome-strips-hourly-390');
    await page.setViewportSize({width: 1280, height: 860});
    // The period picked is kept for the next visit without it in the address.
    await page.selectOption('#page-phonehome select.period', '30d');
    await page.waitForFunction(() => location.hash.includes('since=30d'));
    await page.goto(hush.url + '#/');
    await page.waitForSelector('#page-overview');
    await page.goto(hush.url + '#/phonehome');
    await page.waitForSelector('#phonehome-matrix');
    assert.equal(await page.inputValue('#page-phonehome select.period'), '30d');
    await page.setViewportSize({width: 1366, height: 900});
    await shot('phonehome-matrix-1366');
    await page.setViewportSize({width: 390, height: 844});
    await shot('phonehome-matrix-390');
    await page.setViewportSize({width: 1280, height: 860});
  });

  await step('one period for every page: picked on one, kept on the others, in every call that counts', async () => {
    const calls = [];
    const record = req => { if (req.url().includes('/api/')) calls.push(new URL(req.url())); };
    page.on('request', record);
    try {
      await page.goto(hush.url + '#/');
      await page.waitForSelector('#page-overview');
      await page.selectOption('#page-overview select.period', '7d');
      await page.waitForFunction(() => location.hash.includes('since=7d'));
      await page.waitForSelector('#page-overview .card .label >> text=Queries (7 days)');
      const pages = [['#/', '#page-overview'], ['#/devices', '#page-devices'], ['#/device/' + ids.phone, '#phonehome-device .attribution'],
        ['#/log', '#log-table tbody tr'], ['#/phonehome', '#phonehome-matrix'], ['#/company/xiaomi', '#company-chart']];
      for (const [hash, ready] of pages) {
        calls.length = 0;
        await page.goto(hush.url + hash);  // no period in the address: the one kept
        await page.waitForSelector(ready);
        await sleep(150);
        assert.equal(await page.inputValue('#main select.period >> nth=0'), '7d', hash);
        // Every call over a time range asks for the picked one.
        const timed = calls.filter(u => /^\/api\/(summary|history|top\/|devices|log$|report)/.test(u.pathname) &&
          !(u.pathname === '/api/devices' && u.searchParams.get('limit') === '500'));  // the groups' member names
        assert.ok(timed.length > 0, hash + ' made no timed call');
        for (const u of timed)
          assert.equal(u.searchParams.get('range') || u.searchParams.get('since'), '7d', hash + ': ' + u.pathname + u.search);
      }
      assert.match(await page.innerText('#page-company'), /Queries over time/);
      await page.goto(hush.url + '#/device/' + ids.phone);
      await page.waitForSelector('#page-device .card .label >> text=Queries (7 days)');
      await shot('period-device-7d-1366');
      // The log offers narrower ranges too; 30 days there is every page's period.
      await page.goto(hush.url + '#/log');
      await page.waitForSelector('#log-table tbody tr');
      await page.selectOption('#filter-since', '30d');
      await page.waitForFunction(() => location.hash.includes('since=30d'));
      await page.goto(hush.url + '#/devices');
      await page.waitForSelector('#page-devices th >> text=Queries (30 days)');
      assert.equal(await page.inputValue('#page-devices select.period'), '30d');
      // "any time" in the log is the log's alone.
      await page.goto(hush.url + '#/log?since=all');
      await page.waitForSelector('#log-table tbody tr');
      assert.equal(calls.filter(u => u.pathname === '/api/log').pop().searchParams.get('since'), null);
      await page.goto(hush.url + '#/');
      await page.waitForSelector('#page-overview');
      assert.equal(await page.inputValue('#page-overview select.period'), '30d');
      await page.setViewportSize({width: 390, height: 844});
      await shot('period-overview-30d-390');
      await page.setViewportSize({width: 1280, height: 860});
      await page.selectOption('#page-overview select.period', '24h');
      await page.waitForSelector('#page-overview .card .label >> text=Queries (24 h)');
    } finally {
      page.off('request', record);
    }
  });

  await step('overview: companies across devices, the new feed, categories', async () => {
    await page.goto(hush.url + '#/phonehome?since=24h');
    await page.waitForSelector('#page-phonehome');
    const x = page.locator('#page-phonehome details.company[data-key="xiaomi"]');
    assert.match(await x.locator('summary').textContent(), /2 devices/);
    const feed = await page.locator('#new-feed li[data-kind="company"]').allTextContents();
    assert.ok(feed.some(t => t.includes(PHONE) && t.includes('Xiaomi')), feed.join('\n'));
    assert.ok(feed.some(t => t.includes(TV) && t.includes('Samsung')), feed.join('\n'));
    // Categories that say something first: "unknown" (the most queries here)
    // and "misc" go last.
    const cats = await page.locator('#page-phonehome table.categories tbody tr td:first-child').allTextContents();
    const vague = c => ['unknown', 'misc', 'other'].includes(c);
    assert.ok(cats.length > 1 && !vague(cats[0]), cats.join(', '));
    assert.deepEqual(cats.slice(cats.length - cats.filter(vague).length), cats.filter(vague), cats.join(', '));
    const counted = (await json('/api/report?since=24h')).categories;
    const unknown = counted.find(c => c.category === 'unknown');
    assert.ok(unknown && unknown.queries > counted[0].queries, JSON.stringify(counted));
    // A name carrying HTML stays text.
    assert.ok((await page.locator('#page-phonehome').textContent()).includes('onerror'));
    assert.equal(await page.locator('img').count(), 0, 'an <img> element was created');
    await x.locator('summary').click();
    await page.waitForSelector('#page-phonehome details.company[data-key="xiaomi"] .chart canvas');
    await sleep(300);
    await shot('phonehome-overview-desktop');
  });

  await step('company page: the devices that talk to Xiaomi', async () => {
    await page.click('#page-phonehome details.company[data-key="xiaomi"] a.company-link');
    await page.waitForSelector('#page-company #company-chart canvas');
    const rows = await page.locator('#page-company table.devices tbody tr').evaluateAll(trs => trs.map(t => t.dataset.device));
    assert.deepEqual(rows.map(Number).sort(), [ids.phone, ids.tv].sort());
    assert.equal(await page.locator(`#page-company tr[data-device="${ids.phone}"] button[data-action="unblock-device"]`).count(), 1);
    assert.equal(await page.locator(`#page-company tr[data-device="${ids.tv}"] button[data-action="block-device"]`).count(), 1);
    assert.match(await page.locator('#page-company .attribution').textContent(), /AdGuard companiesdb/);
    await sleep(300);
    await shot('phonehome-company-desktop');
  });

  await step("a vendor list the device's group already uses is shown as such", async () => {
    // A local copy stands in for the catalog's URL (the test stays off the network).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-list-'));
    const file = path.join(dir, 'native.xiaomi.txt');
    fs.writeFileSync(file, '||' + LIST_ONLY + '^\n');
    try {
      const status = await page.evaluate(async f => {
        const {csrf} = await (await fetch('/api/session')).json();
        const r = await fetch('/api/report/subscribe', {method: 'POST',
          headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
          body: JSON.stringify({company: 'xiaomi', group: 'default', url: 'file://' + f})});
        return r.status;
      }, file);
      assert.equal(status, 201);
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline && (await dig(hush.dnsPort, LIST_ONLY, TV))[0] !== '0.0.0.0') await sleep(300);
      assert.deepEqual(await dig(hush.dnsPort, LIST_ONLY, TV), ['0.0.0.0']);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
    await page.goto(hush.url + '#/device/' + ids.tv);
    await page.click(company('xiaomi') + ' > summary');
    assert.match(await page.locator(company('xiaomi') + ' .actions').textContent(),
      /HaGeZi native tracker: Xiaomi already applies \(group default\)/);
    assert.equal(await page.locator(company('xiaomi') + ' button[data-action="subscribe"]').count(), 0);
  });

  await step('the phone-home pages fit a 390 px phone screen', async () => {
    await page.setViewportSize({width: 390, height: 844});
    for (const [hash, id, name] of [['#/phonehome', '#page-phonehome', 'overview'], ['#/device/' + ids.phone, '#phonehome-device details', 'device'],
      ['#/company/xiaomi', '#page-company', 'company']]) {
      await page.goto(hush.url + hash);
      await page.waitForSelector(id);
      await page.evaluate(() => document.querySelectorAll('details.company').forEach(d => { d.open = true; }));
      await sleep(500);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name} is ${overflow} px wider than the phone`);
      const text = await page.evaluate(() => document.body.innerText);
      assert.ok(!/\[object |undefined|NaN/.test(text), `${name} shows a broken value`);
      assert.equal(await page.locator('#toast.bad:not([hidden])').count(), 0, `${name} shows an error`);
      await shot('phonehome-' + name + '-phone');
    }
  });

  await step('no script errors, no dialogs, no CSP violations', async () => {
    assertCleanPages(seen);
  });
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
