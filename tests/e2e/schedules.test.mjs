// End-to-end test of the Schedules page in headless Chromium, judged by dig
// from two loopback devices (127.0.0.2 the tablet, 127.0.0.3 the laptop):
// - a window is drawn on the week grid by dragging over now's cells (the
//   browser and hush share this machine's zone), for the tablet, blocking
//   YouTube; saved, it is listed, drawn as saved and on now;
// - dig gets the sinkhole for YouTube from the tablet only; removing the
//   schedule lets YouTube through again;
// - a company the tablet talked to (Xiaomi, from the phone-home map) is
//   offered; a window blocking it for a group holding the tablet makes its
//   names the sinkhole from the tablet only;
// - a [[schedule]] of the configuration file is listed with its file and
//   line, drawn on the grid as saved, and Remove is refused naming the file.
// Screenshots (desktop and a 390 px phone) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node schedules.test.mjs
import assert from 'node:assert/strict';
import {UPSTREAM_ANSWER, dig, digBecomes as digBecomesOn, logIn, openBrowser, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const TABLET = '127.0.0.2';
const LAPTOP = '127.0.0.3';
const SINK = '0.0.0.0';
const YOUTUBE = 'www.youtube.com';
// A name of Xiaomi's in the phone-home map (companiesdb gives it xiaomi.com).
const XIAOMI = 'api.ad.xiaomi.com';

const step = stepper();
// The configuration file's schedule: Saturday and Sunday 10:00-12:00 for a group nobody is in.
const FILED = 'filed-weekend';
const hush = await startHush({logName: 'hush-schedules.log', config: () =>
  `[[schedule]]\nname = "${FILED}"\ngroup = "filed"\ndays = "sat,sun"\nfrom = "10:00"\nto = "12:00"\nrules = ["||filed.e2e.test^"]\n`});
const FILE_CELLS = [5, 6].flatMap(d => [20, 21, 22, 23].map(s => d * 48 + s));
// The dashboard's own schedules' rows, not the file's.
const OWN = `#page-schedules tr[data-schedule]:not([data-schedule="${FILED}"])`;
let browser;
let failed = false;
const digBecomes = (name, source, want, ms) => digBecomesOn(hush.dnsPort, name, source, want, ms);
try {
  browser = await openBrowser(hush.url);
  const {page, shot, seen} = browser;
  let tablet;
  // Now's row (Monday first) and half-hour column, in this machine's zone.
  const now = new Date();
  const day = (now.getDay() + 6) % 7;
  const slot = now.getHours() * 2 + (now.getMinutes() >= 30 ? 1 : 0);
  const first = Math.max(0, slot - 1), last = Math.min(47, slot + 1);
  const hhmm = s => String(Math.floor(s / 2)).padStart(2, '0') + ':' + (s % 2 ? '30' : '00');

  await step('two devices ask; log in', async () => {
    assert.deepEqual(await dig(hush.dnsPort, YOUTUBE, TABLET), [UPSTREAM_ANSWER]);
    assert.deepEqual(await dig(hush.dnsPort, YOUTUBE, LAPTOP), [UPSTREAM_ANSWER]);
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI, TABLET), [UPSTREAM_ANSWER]);
    await logIn(page, hush.url);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !tablet) {
      const r = await page.evaluate(async () => (await fetch('/api/devices')).json());
      tablet = (r.devices.find(d => d.addresses.includes('127.0.0.2')) || {}).id;
      if (!tablet) await sleep(200);
    }
    assert.ok(tablet, 'the tablet is in the log');
  });

  await step('draw a window over now on the week grid by dragging, for the tablet, blocking YouTube', async () => {
    await page.click('nav a[data-page="schedules"]');
    await page.waitForSelector('#week-grid');
    assert.equal(await page.locator(OWN).count(), 0);
    const cell = s => page.locator(`#week-grid td[data-day="${day}"][data-slot="${s}"]`);
    const a = await cell(first).boundingBox(), b = await cell(last).boundingBox();
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, {steps: 6});
    await page.mouse.up();
    assert.equal(await page.locator('#week-grid td.drawn').count(), last - first + 1);
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    const to = last === 47 ? '24:00' : hhmm(last + 1);
    assert.equal(await page.textContent('#drawn-windows'), `Windows: ${days[day]} ${hhmm(first)}–${to}`);
    await page.selectOption('#schedule-whom', String(tablet));
    await page.check('#schedule-services input[value="youtube"]');
    await shot('schedules-drawn-desktop');
    await page.click('#schedule-save');
    const row = page.locator(OWN);
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(`${days[day]} ${hhmm(first)}–${to}.*block youtube.*on now.*dashboard`));
    // Saved: the API has it, and the grid draws it as saved.
    const r = await page.evaluate(async () => (await fetch('/api/schedules')).json());
    const own = r.schedules.filter(x => !x.read_only);
    assert.equal(own.length, 1);
    const s = own[0];
    assert.deepEqual([s.group, s.services, s.active, s.windows],
      ['device-' + tablet, ['youtube'], true, [{days: days[day], from: hhmm(first), to}]]);
    await page.waitForSelector(`#week-grid td.saved[data-day="${day}"][data-slot="${slot}"]`);
    const drawn = new Set(FILE_CELLS);
    for (let k = first; k <= last; k++) drawn.add(day * 48 + k);
    assert.equal(await page.locator('#week-grid td.saved').count(), drawn.size);
    await shot('schedules-saved-desktop');
  });

  await step('dig: YouTube is the sinkhole from the tablet only', async () => {
    await digBecomes(YOUTUBE, TABLET, SINK);
    assert.deepEqual(await dig(hush.dnsPort, 'i.ytimg.com', TABLET), [SINK]);
    assert.deepEqual(await dig(hush.dnsPort, YOUTUBE, LAPTOP), [UPSTREAM_ANSWER]);
  });

  await step('the page fits a phone; removing the schedule lets YouTube through again', async () => {
    await page.setViewportSize({width: 390, height: 844});
    await sleep(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the schedules page is ${overflow} px wider than the phone`);
    await shot('schedules-phone');
    await page.setViewportSize({width: 1280, height: 860});
    await page.click(OWN + ' button');
    await page.waitForFunction(sel => !document.querySelector(sel), OWN);
    await digBecomes(YOUTUBE, TABLET, UPSTREAM_ANSWER);
  });

  await step('a company the tablet talked to is offered; a window blocks it for a group (the tablet\'s)', async () => {
    await page.evaluate(async t => {
      const {csrf} = await (await fetch('/api/session')).json();
      const r = await fetch('/api/groups/kids', {method: 'PUT', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({devices: [t], lists: []})});
      if (!r.ok) throw new Error(await r.text());
    }, tablet);
    // The report counts what the log writer stored: the page is drawn again until Xiaomi is there.
    const xiaomi = '#schedule-companies input[data-kind="companies"][value="xiaomi"]';
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      await page.goto(hush.url + '#/');
      await page.click('nav a[data-page="schedules"]');
      await page.waitForSelector('#schedule-companies');
      if (await page.locator(xiaomi).count()) break;
      await sleep(300);
    }
    assert.match(await page.locator(xiaomi).locator('xpath=..').textContent(), /Xiaomi/);
    const cell = s => page.locator(`#week-grid td[data-day="${day}"][data-slot="${s}"]`);
    const a = await cell(first).boundingBox(), b = await cell(last).boundingBox();
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, {steps: 4});
    await page.mouse.up();
    await page.selectOption('#schedule-whom', 'group:kids');
    await page.check(xiaomi);
    await shot('schedules-company-desktop');
    await page.click('#schedule-save');
    const row = page.locator(OWN);
    await row.waitFor();
    assert.match(await row.textContent(), /^group kids.*block Xiaomi.*on now/);
    const r = await page.evaluate(async () => (await fetch('/api/schedules')).json());
    const own = r.schedules.filter(x => !x.read_only);
    assert.equal(own.length, 1);
    assert.deepEqual([own[0].group, own[0].companies, own[0].services], ['kids', ['xiaomi'], []]);
  });

  await step('dig: Xiaomi\'s names are the sinkhole from the tablet only; removing the schedule ends it', async () => {
    await digBecomes(XIAOMI, TABLET, SINK);
    assert.deepEqual(await dig(hush.dnsPort, 'tracking.intl.miui.com', TABLET), [SINK]);
    assert.deepEqual(await dig(hush.dnsPort, XIAOMI, LAPTOP), [UPSTREAM_ANSWER]);
    assert.deepEqual(await dig(hush.dnsPort, YOUTUBE, TABLET), [UPSTREAM_ANSWER]);
    await page.click(OWN + ' button');
    await page.waitForFunction(sel => !document.querySelector(sel), OWN);
    await digBecomes(XIAOMI, TABLET, UPSTREAM_ANSWER);
  });

  await step('the configuration file\'s schedule: listed with its file and line, drawn, and never removed here', async () => {
    const row = page.locator(`#page-schedules tr[data-schedule="${FILED}"]`);
    assert.match(await row.textContent(), /^group filedsat,sun 10:00–12:00block \|\|filed\.e2e\.test\^(on|off) nowhush\.toml:1Remove$/);
    for (const c of FILE_CELLS)
      assert.equal(await page.locator(`#week-grid td.saved[data-day="${Math.floor(c / 48)}"][data-slot="${c % 48}"]`).count(), 1);
    const r = await page.evaluate(async () => (await fetch('/api/schedules')).json());
    const filed = r.schedules.find(x => x.id === 'filed-weekend');
    assert.equal(filed.read_only, true);
    assert.match(filed.source, /hush\.toml:1$/);
    await row.locator('button').click();
    await page.waitForFunction(() => /is written in the configuration file/.test(document.querySelector('#toast').textContent));
    assert.match(await page.textContent('#toast'), /schedule 'filed-weekend' is written in the configuration file \(.*hush\.toml:1\)/);
    assert.equal(await row.count(), 1);
    await shot('schedules-from-file-desktop');
  });

  await step('no script errors, no dialogs', async () => {
    assertCleanPages(seen);
  });
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
