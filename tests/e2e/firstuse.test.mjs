// The dashboard's first minutes as a new user meets them, in headless
// Chromium (issue #21's defects): one hush, one browser for every step. A
// phone (127.0.0.5) asks 120 names of its own, vendor names, a name that does
// not exist and a listed one; the steps check what each page shows of that.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node firstuse.test.mjs
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {HUSH, PASSWORD, UPSTREAM_ANSWER, dig, openBrowser, rawQuery, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const PHONE = '127.0.0.5';
const PHONE_NAME = 'Kid phone';
const FRESH = 120;  // more than the 50 the lists hold
const XIAOMI = ['api.ad.xiaomi.com', 'log.ad.xiaomi.com', 'tracking.intl.miui.com'];
const LONG = 'a-rather-long-label-for-a-phone-screen.cdn.fresh.e2e.test';
const LOG = 'hush-firstuse.log';

const step = stepper();
const hush = await startHush({blocklist: '0.0.0.0 listed.e2e.test\n0.0.0.0 ads.e2e.test\n', logName: LOG});
let browser;
let failed = false;
try {
  browser = await openBrowser(hush.url, {guard: false});
  const {page, shot, seen} = browser;
  const json = p => page.evaluate(async u => (await fetch(u)).json(), p);
  const call = (method, p, body) => page.evaluate(async ([m, u, b]) => {
    const {csrf} = await (await fetch('/api/session')).json();
    const r = await fetch(u, {method: m, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
      body: b === undefined ? undefined : JSON.stringify(b)});
    return {status: r.status, body: await r.json()};
  }, [method, p, body]);
  const text = sel => page.locator(sel).first().innerText();
  const logIn = async () => {
    await page.waitForSelector('#login-form');
    await page.fill('#password', PASSWORD);
    await page.click('#login-button');
    await page.waitForSelector('#page-overview');
  };
  let phone;

  await step('a first visit shows the login page with nothing in the console (no 401)', async () => {
    await page.goto(hush.url);
    await page.waitForSelector('#login-form');
    await sleep(300);
    assert.deepEqual(seen.consoleErrors, []);
    await logIn();
  });

  await step('static files under hashed names: a reload takes them from the cache', async () => {
    const statuses = {};
    const onResponse = r => { statuses[new URL(r.url()).pathname] = r.status(); };
    page.on('response', onResponse);
    await page.reload();
    await page.waitForSelector('#page-overview');
    page.off('response', onResponse);
    // The files, under hashed names, come from the browser's cache without
    // a request (accounts.test.mjs measures that).
    const files = Object.keys(statuses).filter(f => !f.startsWith('/api/') && f !== '/');
    assert.ok(files.length >= 6, JSON.stringify(statuses));
    for (const f of files) assert.match(f, /\.[0-9a-f]{12}\.(js|css)$/, f);
    assert.deepEqual(seen.consoleErrors, []);
    await browser.guard();  // from here on, nothing outside hush (routes turn the cache off)
  });

  await step('the phone asks 120 new names, vendor names, a missing name and a listed one', async () => {
    const names = [];
    for (let i = 0; i < FRESH - 1; i++) names.push('n' + i + '.fresh.e2e.test');
    names.push(LONG);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map(n => rawQuery(hush.dnsPort, n, PHONE)));
    for (const n of XIAOMI) assert.deepEqual(await dig(hush.dnsPort, n, PHONE), [UPSTREAM_ANSWER]);
    assert.deepEqual(await dig(hush.dnsPort, 'nx.e2e.test', PHONE), []);
    for (let i = 0; i < 2; i++) assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test', PHONE), ['0.0.0.0']);
    assert.deepEqual(await dig(hush.dnsPort, 'ads.e2e.test', PHONE), ['0.0.0.0']);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const d = (await json('/api/devices')).devices.find(x => x.addresses.includes(PHONE));
      if (d && d.queries >= FRESH + XIAOMI.length + 4) { phone = d.id; break; }
      await sleep(200);
    }
    assert.ok(phone, 'the phone is in the log with all its queries');
    assert.equal((await call('PUT', '/api/devices/' + phone, {name: PHONE_NAME})).status, 200);
  });

  await step('new names are counted, not capped at the 50 listed (device page, phone home)', async () => {
    const d = await json('/api/devices/' + phone);
    assert.equal(d.new_domains_today.length, 50);
    assert.ok(d.new_domains_today_total >= FRESH + XIAOMI.length, JSON.stringify(d.new_domains_today_total));
    await page.goto(hush.url + '#/device/' + phone);
    await page.waitForSelector('#new-names-card');
    assert.equal(await text('#new-names-card .value'), new Intl.NumberFormat().format(d.new_domains_today_total));
    const fresh = await json('/api/report/new?since=7d&limit=50');
    assert.ok(fresh.names_total > 50, JSON.stringify(fresh.names_total));
    await page.goto(hush.url + '#/phonehome');
    await page.waitForSelector('#page-phonehome');
    const cards = await page.locator('#page-phonehome .card').allInnerTexts();
    const card = cards.find(c => c.startsWith('New names'));
    assert.ok(card && card.includes(new Intl.NumberFormat().format(fresh.names_total)), JSON.stringify(cards));
  });

  await step('the device page is compact: phone home near the top, over 24 h, long lists folded', async () => {
    await page.setViewportSize({width: 1366, height: 860});
    await page.goto(hush.url + '#/device/' + phone);
    await page.waitForSelector('#phonehome-device details.company');
    await page.waitForSelector('#device-log tbody tr');
    await sleep(300);
    const m = await page.evaluate(() => ({
      height: document.documentElement.scrollHeight,
      phoneHome: document.getElementById('phonehome-device').getBoundingClientRect().top + window.scrollY,
      period: document.querySelector('#page-device select.period').value,
    }));
    await shot('firstuse-device-desktop');
    assert.equal(m.period, '24h');
    assert.ok(m.phoneHome < 700, 'phone home starts ' + m.phoneHome + ' px down');
    assert.ok(m.height < 3000, 'the page is ' + m.height + ' px tall');
    // New names: five shown, five more a click.
    assert.equal(await page.locator('#new-names li').count(), 5);
    await page.click('#page-device button.more:has-text("more names") >> nth=-1');
    assert.equal(await page.locator('#new-names li').count(), 10);
    assert.ok(await page.locator('#device-log tbody tr').count() <= 25);
    await page.setViewportSize({width: 390, height: 844});
    await page.reload();
    await page.waitForSelector('#phonehome-device details.company');
    await sleep(300);
    const phoneHeight = await page.evaluate(() => document.documentElement.scrollHeight);
    await shot('firstuse-device-phone');
    assert.ok(phoneHeight < 6500, 'the page is ' + phoneHeight + ' px tall on a phone');
    await page.setViewportSize({width: 1366, height: 860});
  });

  await step('switching between the log and a device page keeps the live view alive', async () => {
    // Six switches in a few seconds; each page opens a live view and closes
    // it on leaving (4 slots in all).
    for (let i = 0; i < 3; i++) {
      await page.goto(hush.url + '#/log');
      await page.waitForSelector('#live-status[data-state="live"]');
      await page.goto(hush.url + '#/device/' + phone);
      await page.waitForSelector('#device-live-status[data-state="live"]');
    }
    await page.goto(hush.url + '#/log');
    await page.waitForSelector('#live-status[data-state="live"]');
    await sleep(700);
    assert.deepEqual(await dig(hush.dnsPort, 'after-switching.e2e.test', PHONE), [UPSTREAM_ANSWER]);
    await page.waitForSelector('#log-table td.domain >> text="after-switching.e2e.test"', {timeout: 10000});
  });

  await step('a live view the server refuses says so and comes back by itself', async () => {
    let refuse = true;
    await page.route('**/api/log/stream**', r => refuse ?
      r.fulfill({status: 503, contentType: 'application/json', body: '{"error":"too many live views open; close one"}'}) :
      r.continue());
    await page.goto(hush.url + '#/devices');
    await page.waitForSelector('#page-devices');
    await page.goto(hush.url + '#/log');
    await page.waitForSelector('#live-status[data-state="failed"]');
    assert.match(await text('#live-status'), /live view failed; retrying in \d+ s/);
    await shot('firstuse-live-failed');
    refuse = false;
    await page.waitForSelector('#live-status[data-state="live"]', {timeout: 10000});
    await page.unroute('**/api/log/stream**');
    await sleep(700);
    assert.deepEqual(await dig(hush.dnsPort, 'after-retry.e2e.test', PHONE), [UPSTREAM_ANSWER]);
    await page.waitForSelector('#log-table td.domain >> text="after-retry.e2e.test"', {timeout: 10000});
  });

  await step('two quick clicks in the menu show one page, the last one', async () => {
    await page.goto(hush.url + '#/');
    await page.waitForSelector('#page-overview');
    // The first page loads slowly; the second is asked for meanwhile.
    await page.route('**/api/lists', async r => { await sleep(800); await r.continue(); });
    await page.click('nav a[data-page="lists"]');
    await page.click('nav a[data-page="settings"]');
    await page.waitForSelector('#page-settings');
    await sleep(1200);
    assert.equal(await page.locator('#main .page').count(), 1);
    assert.equal(await page.locator('#page-lists').count(), 0);
    await page.unroute('**/api/lists');
  });

  await step('query log: answer, rcode, latency, upstream; one status; dates over 7 days', async () => {
    await page.goto(hush.url + '#/log?since=7d');
    await page.waitForSelector('#log-table td.domain >> text="nx.e2e.test"');
    const row = name => page.locator('#log-table tbody tr', {has: page.locator(`td.domain:text-is("${name}")`)}).first();
    // NXDOMAIN is what the device got: no green "forwarded".
    const nx = row('nx.e2e.test');
    assert.equal(await nx.locator('.c-status').innerText(), 'NXDOMAIN');
    assert.equal(await nx.locator('.badge.forwarded').count(), 0);
    // A forwarded row: its answer, the upstream, the latency, and its status once.
    const ok = row(XIAOMI[0]);
    assert.equal((await ok.locator('.c-status').innerText()).trim(), 'forwarded');
    assert.match(await ok.locator('.c-answer').innerText(), new RegExp(UPSTREAM_ANSWER.replace(/\./g, '\\.')));
    assert.match(await ok.locator('.c-answer').innerText(), new RegExp('from 127\\.0\\.0\\.1:' + hush.upstreamPort));
    assert.match(await ok.locator('.c-latency').innerText(), /^[\d.]+ ms$/);
    // A blocked row says which list, not the name again.
    const why = await row('ads.e2e.test').locator('.reason').innerText();
    assert.ok(why.startsWith('on ') && !why.includes('ads.e2e.test'), why);
    // Seven days: every time has its date.
    const today = await page.evaluate(() => new Date().toLocaleDateString(undefined, {month: 'short', day: 'numeric'}));
    assert.ok((await ok.locator('.c-time').innerText()).startsWith(today));
    await shot('firstuse-log-desktop');
    // Over the last hour: times only.
    await page.goto(hush.url + '#/log?since=1h');
    await page.waitForSelector('#log-table tbody tr');
    assert.ok(!(await text('#log-table td.c-time')).startsWith(today));
  });

  await step('query log: pick a device from a list; allowing a name updates all its rows', async () => {
    await page.goto(hush.url + '#/log');
    await page.waitForSelector('#filter-device');
    await page.selectOption('#filter-device', {label: PHONE_NAME});
    await page.waitForFunction(id => location.hash.includes('device=' + id), phone);
    await page.waitForSelector('#log-table tbody tr');
    const devices = await page.locator('#log-table td.c-device').allInnerTexts();
    assert.ok(devices.length > 0 && devices.every(d => d === PHONE_NAME), JSON.stringify(devices.slice(0, 5)));
    const allows = page.locator('#log-table button.allow[data-domain="listed.e2e.test"]');
    assert.ok(await allows.count() >= 2);
    await allows.first().click();
    await page.waitForFunction(() => document.getElementById('toast').textContent.includes('Allowed listed.e2e.test'));
    for (const t of await allows.allInnerTexts()) assert.equal(t, 'Allowed');
    for (let i = 0; i < await allows.count(); i++) assert.equal(await allows.nth(i).isDisabled(), true);
  });

  await step('a 390 px phone: the log shows device and whole names; every menu item on screen', async () => {
    await page.setViewportSize({width: 390, height: 844});
    await page.goto(hush.url + '#/log');
    await page.waitForSelector(`#log-table td.domain >> text="${LONG}"`);
    const long = page.locator('#log-table tbody tr', {has: page.locator(`td.domain:text-is("${LONG}")`)}).first();
    const box = await long.locator('td.domain').boundingBox();
    assert.ok(box.width >= 280, 'the name has ' + box.width + ' px');
    assert.ok(await long.locator('td.c-device').isVisible());
    assert.equal(await long.locator('td.c-device').innerText(), PHONE_NAME);
    for (const a of await page.locator('nav a').all()) {
      const b = await a.boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= 390 && b.y + b.height <= 844, (await a.innerText()) + ' ' + JSON.stringify(b));
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, 'the log is ' + overflow + ' px wider than the phone');
    await shot('firstuse-log-phone');
    await page.setViewportSize({width: 1366, height: 860});
  });

  await step('"block Xiaomi for this device": listed by company and device name, saying what each blocks', async () => {
    const r = await call('POST', '/api/report/block', {company: 'xiaomi', device: phone});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Its vendor list from a local copy (the test stays off the network).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-list-'));
    fs.writeFileSync(path.join(dir, 'list.txt'), '||xiaomi-only.e2e.test^\n');
    const sub = await call('POST', '/api/report/subscribe', {company: 'xiaomi', device: phone, url: 'file://' + path.join(dir, 'list.txt')});
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    await page.goto(hush.url + '#/lists');
    await page.waitForSelector('#page-lists tr.company-rule');
    const line = await text('#page-lists tr.company-rule');
    assert.ok(line.includes('Xiaomi') && line.includes(PHONE_NAME) && !line.includes('device-'), line);
    await page.click('#page-lists tr.company-rule details.names summary');
    const first = await text('#page-lists tr.company-rule li[data-rule]');
    assert.match(first, /blocks \S+ and every name under it/);
    assert.equal(await page.locator('#page-lists tr.company-rule li[data-rule]').count(), r.body.patterns.length);
    // The subscription by the catalog's name, for the device by its name.
    const lists = await json('/api/lists');
    const s = lists.subscriptions.find(x => x.name === sub.body.list);
    const entry = (await json('/api/lists/catalog')).entries.find(e => e.id === s.name);
    assert.ok(entry && entry.name !== s.name, 'a catalog list with a name of its own');
    const subRow = page.locator(`#page-lists tr[data-name="${s.name}"]`);
    assert.equal(await subRow.locator('.sub-title').innerText(), entry.name);
    assert.equal((await json('/api/lists/catalog')).entries.find(e => e.id === s.name).subscribed, true);
    assert.ok((await subRow.innerText()).includes(PHONE_NAME));
    await shot('firstuse-lists-desktop');
    await page.setViewportSize({width: 390, height: 844});
    await sleep(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, 'the lists page is ' + overflow + ' px wider than the phone');
    await shot('firstuse-lists-phone');
    await page.setViewportSize({width: 1366, height: 860});
    // No "device-N" on the devices page or in the device's form.
    await page.goto(hush.url + '#/devices');
    await page.waitForSelector('#page-devices a.device-link');
    assert.ok(!(await text('#page-devices')).includes('device-'));
    await page.goto(hush.url + '#/device/' + phone);
    await page.waitForSelector('#device-groups');
    assert.equal(await page.inputValue('#device-groups'), 'default');
    fs.rmSync(dir, {recursive: true, force: true});
  });

  await step('settings say what the blocking mode does; "Blocked" is a count wherever it is a column', async () => {
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#page-settings');
    const mode = await page.evaluate(() => [...document.querySelectorAll('#page-settings dt')]
      .find(dt => dt.textContent === 'Mode').nextElementSibling.textContent);
    assert.ok(mode !== 'null' && mode.includes('0.0.0.0'), mode);
    for (const [hash, sel] of [['#/', '#page-overview table'], ['#/devices', '#page-devices table'], ['#/device/' + phone, '#page-device table'],
      ['#/phonehome', '#page-phonehome table']]) {
      await page.goto(hush.url + hash);
      // Some of a page's tables sit folded: wait for one that shows.
      await page.waitForSelector(sel + ':visible');
      await sleep(200);
      const columns = await page.evaluate(s => [...document.querySelectorAll(s)].flatMap(t => {
        const heads = [...t.querySelectorAll('thead th')].map(th => th.textContent);
        return heads.map((h, i) => [h, [...t.querySelectorAll('tbody tr')].map(tr => tr.children[i] ? tr.children[i].textContent : '')]);
      }), sel);
      for (const [head, cells] of columns) {
        if (head === 'Blocked') assert.ok(cells.every(c => /^[\d,]+$/.test(c)), hash + ' Blocked: ' + JSON.stringify(cells));
        if (head === 'Blocked share') assert.ok(cells.every(c => /%$|^—$/.test(c)), hash + ' Blocked share: ' + JSON.stringify(cells));
      }
    }
  });

  await step('`hush passwd` ends the sessions made under the old password', async () => {
    await page.goto(hush.url + '#/devices');
    await page.waitForSelector('#page-devices');
    const pw = spawnSync(HUSH, ['passwd', '--data-dir', hush.dataDir], {input: PASSWORD + ' changed\n', timeout: 30000});
    assert.equal(pw.status, 0, String(pw.stderr));
    await page.goto(hush.url + '#/settings');
    await page.reload();
    await page.waitForSelector('#login-form');
    await page.fill('#password', PASSWORD + ' changed');
    await page.click('#login-button');
    await page.waitForSelector('#page-settings');
  });

  await step('no script errors, no dialogs, no CSP violations', async () => {
    assertCleanPages(seen);
  });
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
