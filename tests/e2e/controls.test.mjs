// End-to-end test of the blocking switch, a device's pause and timed
// exceptions, and blocked services in headless Chromium, judged by dig from
// two loopback devices (127.0.0.2 the tablet, 127.0.0.3 the laptop):
// - "Pause 5 min" turns the overview's card to "Paused" with a countdown that
//   moves; "Turn off" asks first and offers durations;
// - the device page pauses blocking for the tablet alone, with a countdown
//   and "Cancel now"; a timed allow; blocking YouTube for the tablet only;
// - the devices page pauses blocking for a group (the tablet's) for 5
//   minutes, with a countdown and "Cancel now";
// - the devices page blocks a name for everyone for 15 minutes and allows a
//   listed one for the tablet's group, each with a countdown and "Cancel now".
// Screenshots (desktop and a 390 px phone) go to $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node controls.test.mjs
import assert from 'node:assert/strict';
import {UPSTREAM_ANSWER, dig, digBecomes as digBecomesOn, logIn, openBrowser, sleep, startHush, stepper, assertCleanPages, finish} from './harness.mjs';

const TABLET = '127.0.0.2';
const LAPTOP = '127.0.0.3';
const LISTED = 'listed.e2e.test';
const SINK = '0.0.0.0';
const LOG = 'hush-controls.log';

const step = stepper();
const hush = await startHush({logName: LOG});
let browser;
let failed = false;
const digBecomes = (name, source, want, ms) => digBecomesOn(hush.dnsPort, name, source, want, ms);
try {
  browser = await openBrowser(hush.url);
  const {page, shot, seen} = browser;
  const cardValue = () => page.textContent('#blocking-card .value');
  const cardCountdown = () => page.textContent('#blocking-card .countdown');
  let tablet;

  await step('two devices ask; log in', async () => {
    assert.deepEqual(await dig(hush.dnsPort, LISTED, TABLET), [SINK]);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    await logIn(page, hush.url);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !tablet) {
      const r = await page.evaluate(async () => (await fetch('/api/devices')).json());
      tablet = (r.devices.find(d => d.addresses.includes('127.0.0.2')) || {}).id;
      if (!tablet) await sleep(200);
    }
    assert.ok(tablet, 'the tablet is in the log');
  });

  await step('overview: "Pause 5 min" shows Paused with a live countdown', async () => {
    await page.goto(hush.url + '#/');
    await page.waitForSelector('#blocking-card');
    assert.equal(await cardValue(), 'On');
    await page.click('#pause-5');
    await page.waitForFunction(() => document.querySelector('#blocking-card .value').textContent === 'Paused');
    assert.doesNotMatch(await page.textContent('#blocking-card'), /On/);
    const first = await cardCountdown();
    assert.match(first, /^[45]:\d\d$/);
    await page.waitForFunction(f => document.querySelector('#blocking-card .countdown').textContent !== f, first, {timeout: 3000});
    assert.match(await page.textContent('#blocking-state'), /^Paused · [45]:\d\d$/);
    assert.match(await page.textContent('.blocking-text'), /Paused: blocking resumes in [45]:\d\d/);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [UPSTREAM_ANSWER]);
    await shot('controls-overview-paused-desktop');
    await page.click('#blocking-on');
    await page.waitForFunction(() => document.querySelector('#blocking-card .value').textContent === 'On');
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
  });

  await step('"Turn off" asks first, offers durations, and Cancel keeps blocking on', async () => {
    await page.click('#blocking-off');
    await page.waitForSelector('#blocking-off-confirm', {state: 'visible'});
    const offers = await page.locator('#blocking-off-confirm button').allTextContents();
    assert.deepEqual(offers, ['For 1 h', 'For 8 h', 'For 24 h', 'Until I turn it on', 'Cancel']);
    assert.equal(await cardValue(), 'On');
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    await shot('controls-turn-off-confirm-desktop');
    await page.click('#blocking-off-cancel');
    await page.waitForSelector('#blocking-off-confirm', {state: 'hidden'});
    assert.equal(await cardValue(), 'On');
    await page.click('#blocking-off');
    await page.click('#blocking-off-confirm >> text=For 1 h');
    await page.waitForFunction(() => document.querySelector('#blocking-card .value').textContent === 'Paused');
    assert.match(await cardCountdown(), /^(1 h 00 min|59:\d\d)$/);
    await page.click('#blocking-on');
    await page.waitForFunction(() => document.querySelector('#blocking-card .value').textContent === 'On');
  });

  await step('device page: pause the tablet alone for 5 minutes, with a countdown and "Cancel now"', async () => {
    await page.goto(hush.url + '#/device/' + tablet);
    await page.waitForSelector('#device-pause-5');
    assert.deepEqual(await page.locator('#device-controls .buttons button').allTextContents(), ['Pause 5 min', 'Pause 15 min', 'Pause 1 h']);
    await page.click('#device-pause-5');
    await page.waitForSelector('#device-paused .countdown');
    const first = await page.textContent('#device-paused .countdown');
    assert.match(first, /^[45]:\d\d$/);
    await page.waitForFunction(f => document.querySelector('#device-paused .countdown').textContent !== f, first, {timeout: 3000});
    await digBecomes(LISTED, TABLET, UPSTREAM_ANSWER);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    await shot('controls-device-paused-desktop');
    await page.click('#device-resume');
    await page.waitForFunction(() => !document.querySelector('#device-paused'));
    await digBecomes(LISTED, TABLET, SINK);
  });

  await step('device page: allow a listed name for 30 minutes, then cancel it', async () => {
    await page.selectOption('#exception-kind', 'allow');
    await page.fill('#exception-name', LISTED);
    await page.click('#exception-form button[type=submit]');
    const row = page.locator('#device-controls tr[data-kind="allow"]');
    await row.waitFor();
    assert.match(await row.textContent(), /allowed listed\.e2e\.test(29:\d\d|30:00) left/);
    await digBecomes(LISTED, TABLET, UPSTREAM_ANSWER);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    await row.locator('button', {hasText: 'Cancel now'}).click();
    await page.waitForFunction(() => !document.querySelector('#device-controls tr[data-kind="allow"]'));
    await digBecomes(LISTED, TABLET, SINK);
  });

  await step('device page: block YouTube for the tablet only', async () => {
    assert.deepEqual(await dig(hush.dnsPort, 'www.youtube.com', TABLET), [UPSTREAM_ANSWER]);
    const names = await page.locator('#device-services button').allTextContents();
    for (const s of ['YouTube', 'TikTok', 'Instagram', 'Facebook', 'Snapchat', 'Netflix', 'Twitch', 'Roblox',
      'Fortnite', 'Discord', 'WhatsApp', 'Telegram', 'Steam'])
      assert.ok(names.includes('Block ' + s), s + ' offered: ' + names.join(', '));
    await page.click('#device-services button[data-service="youtube"]');
    await page.waitForSelector('#device-services button[data-service="youtube"][aria-pressed="true"]');
    assert.equal(await page.textContent('#device-services button[data-service="youtube"]'), 'Blocked: YouTube');
    await digBecomes('www.youtube.com', TABLET, SINK);
    assert.deepEqual(await dig(hush.dnsPort, 'rr1---sn-4g5e6nsz.googlevideo.com', TABLET), [SINK]);
    assert.deepEqual(await dig(hush.dnsPort, 'www.youtube.com', LAPTOP), [UPSTREAM_ANSWER]);
    await shot('controls-device-desktop');
    await page.setViewportSize({width: 390, height: 844});
    await sleep(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the device page is ${overflow} px wider than the phone`);
    await shot('controls-device-phone');
    await page.setViewportSize({width: 1280, height: 860});
    await page.click('#device-services button[data-service="youtube"]');
    await page.waitForSelector('#device-services button[data-service="youtube"][aria-pressed="false"]');
    await digBecomes('www.youtube.com', TABLET, UPSTREAM_ANSWER);
  });

  await step('devices page: pause a group (the tablet\'s) for 5 minutes, with a countdown and "Cancel now"', async () => {
    // The tablet joins "kids" and stays in its other groups ("default" among
    // them, whose list blocks the listed name).
    await page.evaluate(async t => {
      const {csrf} = await (await fetch('/api/session')).json();
      const d = (await (await fetch('/api/devices')).json()).devices.find(x => x.id === t);
      const r = await fetch('/api/devices/' + t, {method: 'PUT', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({groups: [...d.groups, 'kids']})});
      if (!r.ok) throw new Error(await r.text());
    }, tablet);
    await digBecomes(LISTED, TABLET, SINK);
    await page.goto(hush.url + '#/devices');
    const kids = 'tr[data-group="kids"]';
    await page.waitForSelector(kids + ' .group-pause');
    assert.deepEqual(await page.locator(kids + ' .group-pause-duration option').allTextContents(),
      ['5 min', '15 min', '30 min', '1 h', '2 h', '8 h']);
    await page.selectOption(kids + ' .group-pause-duration', '300');
    await page.click(kids + ' .group-pause');
    await page.waitForSelector(kids + ' .group-paused .countdown');
    const first = await page.textContent(kids + ' .group-paused .countdown');
    assert.match(first, /^[45]:\d\d$/);
    await page.waitForFunction(([sel, f]) => document.querySelector(sel).textContent !== f,
      [kids + ' .group-paused .countdown', first], {timeout: 3000});
    assert.match(await page.textContent(kids + ' .group-paused'), /^Paused, [45]:\d\d left Cancel now$/);
    const c = await page.evaluate(async () => (await fetch('/api/controls')).json());
    const pause = c.controls.find(x => x.kind === 'pause');
    assert.equal(pause.group, 'kids');
    assert.ok(pause.seconds_left > 240 && pause.seconds_left <= 300, 'seconds left: ' + pause.seconds_left);
    await digBecomes(LISTED, TABLET, UPSTREAM_ANSWER);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    await shot('controls-group-paused-desktop');
    await page.click(kids + ' .group-resume');
    await page.waitForSelector(kids + ' .group-pause');
    assert.equal(await page.locator(kids + ' .group-paused').count(), 0);
    await digBecomes(LISTED, TABLET, SINK);
  });

  await step('devices page: block a name for everyone, allow a listed one for a group, each for a while', async () => {
    const FREE = 'free.e2e.test';
    assert.deepEqual(await dig(hush.dnsPort, FREE, LAPTOP), [UPSTREAM_ANSWER]);
    await page.goto(hush.url + '#/devices');
    await page.waitForSelector('#timed-form');
    assert.deepEqual(await page.locator('#timed-whom option').allTextContents(), ['for everyone', 'for group default', 'for group kids']);
    await page.selectOption('#timed-kind', 'deny');
    await page.fill('#timed-name', FREE);
    await page.selectOption('#timed-duration', '900');
    await page.click('#timed-form button[type=submit]');
    const block = page.locator('#timed-exceptions tr[data-kind="deny"]');
    await block.waitFor();
    assert.match(await block.textContent(), /^blocked free\.e2e\.testeveryone(14:\d\d|15:00) leftCancel now$/);
    const first = await block.locator('.countdown').textContent();
    await page.waitForFunction(f => document.querySelector('#timed-exceptions tr[data-kind="deny"] .countdown').textContent !== f,
      first, {timeout: 3000});
    await digBecomes(FREE, LAPTOP, SINK);
    assert.deepEqual(await dig(hush.dnsPort, FREE, TABLET), [SINK]);

    await page.selectOption('#timed-kind', 'allow');
    await page.fill('#timed-name', LISTED);
    await page.selectOption('#timed-whom', 'kids');
    await page.click('#timed-form button[type=submit]');
    const allow = page.locator('#timed-exceptions tr[data-kind="allow"]');
    await allow.waitFor();
    assert.match(await allow.textContent(), /^allowed listed\.e2e\.testgroup kids(29:\d\d|30:00) leftCancel now$/);
    await digBecomes(LISTED, TABLET, UPSTREAM_ANSWER);
    assert.deepEqual(await dig(hush.dnsPort, LISTED, LAPTOP), [SINK]);
    const c = await page.evaluate(async () => (await fetch('/api/controls')).json());
    assert.deepEqual(c.controls.filter(x => x.kind !== 'pause').map(x => [x.kind, x.group]).sort(), [['allow', 'kids'], ['deny', '*']]);
    await shot('controls-timed-desktop');

    await block.locator('button', {hasText: 'Cancel now'}).click();
    await page.waitForFunction(() => !document.querySelector('#timed-exceptions tr[data-kind="deny"]'));
    await digBecomes(FREE, LAPTOP, UPSTREAM_ANSWER);
    await allow.locator('button', {hasText: 'Cancel now'}).click();
    await page.waitForSelector('#no-timed');
    await digBecomes(LISTED, TABLET, SINK);
  });

  await step('no script errors, no dialogs', async () => {
    assertCleanPages(seen);
  });
} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
