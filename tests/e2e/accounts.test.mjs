// Issue #21's second part in headless Chromium: accounts (a password change
// that ends the other sessions, TOTP two-factor login with codes from
// oathtool, recovery codes, a limit on codes, read-only users and tokens),
// the query log's search and details, dark mode, the phone layout, and
// static files under hashed names. Leaves screenshots of every page at 1366
// and 390 px, light and dark, in $SCREENSHOT_DIR.
//
//   HUSH_BINARY=build/hush SCREENSHOT_DIR=build/tests/e2e/screenshots node accounts.test.mjs
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import http from 'node:http';
import {PASSWORD, UPSTREAM_ANSWER, dig, openBrowser, sleep, startHush, stepper, assertCleanPages, finish, logIn} from './harness.mjs';

const PHONE = '127.0.0.6';
const PHONE_NAME = 'Hall tablet';
const NEW_PASSWORD = 'a new e2e password';
const VIEWER = 'viewer';
const VIEWER_PASSWORD = 'viewer password 1';
const step = stepper();
const hush = await startHush({blocklist: '0.0.0.0 listed.e2e.test\n||tracker.e2e.test^\n', logName: 'hush-accounts.log'});
let browser;
let failed = false;

// A TOTP code from oathtool (liboath's command line; a second implementation
// would be no better a witness than the one under test).
const totp = (secret, at) => execFileSync('oathtool', ['--totp', '-b', secret].concat(at ? ['--now', at] : [])).toString().trim();

// A request from another loopback address (limits count per address).
function fromAddress(address, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({host: '127.0.0.1', port: hush.httpPort, path, method, localAddress: address,
      headers: Object.assign({'Content-Type': 'application/json', 'Content-Length': data ? Buffer.byteLength(data) : 0}, headers)}, res => {
      let text = '';
      res.on('data', c => { text += c; });
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null}));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// Every visible piece of text against what is behind it: WCAG AA (4.5:1, or
// 3:1 for large text). Returns the failures.
function contrastFailures(page) {
  return page.evaluate(() => {
    const parse = c => { const m = c.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
    const lum = ({r, g, b}) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
      .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = e => {
      for (let n = e; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c.a > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor);
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const e = t.parentElement;
      if (!t.textContent.trim() || seen.has(e) || e.closest('svg, canvas, [hidden], option, .u-legend') || e.matches(':disabled, :disabled *')) continue;
      seen.add(e);
      const box = e.getBoundingClientRect();
      const st = getComputedStyle(e);
      if (!box.width || !box.height || st.visibility === 'hidden' || st.display === 'none') continue;
      const fg = parse(st.color), bg = background(e);
      const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
      const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      if (ratio < need) out.push(`${e.tagName.toLowerCase()}.${e.className} "${t.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return out;
  });
}

try {
  browser = await openBrowser(hush.url, {guard: false});
  const {page, shot, seen} = browser;
  const json = p => page.evaluate(async u => (await fetch(u)).json(), p);
  const call = (pg, method, p, body) => pg.evaluate(async ([m, u, b]) => {
    const {csrf} = await (await fetch('/api/session')).json();
    const r = await fetch(u, {method: m, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf || ''},
      body: b === undefined ? undefined : JSON.stringify(b)});
    return {status: r.status, body: await r.json()};
  }, [method, p, body]);
  let password = PASSWORD;
  let phone;

  await step('static files under hashed names: cached for good, a reload asks only for index.html', async () => {
    await logIn(page, hush.url);
    const names = await page.evaluate(() => [...document.querySelectorAll('script[src], link[rel=stylesheet]')].map(e => e.getAttribute('src') || e.getAttribute('href')));
    assert.ok(names.length >= 6, JSON.stringify(names));
    for (const n of names) assert.match(n, /\.[0-9a-f]{12}\.(js|css)$/, n);
    const app = names.find(n => /^\/app\.[0-9a-f]{12}\.js$/.test(n));
    const r = await fetch(hush.url.replace(/\/$/, '') + app);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const again = await fetch(hush.url.replace(/\/$/, '') + app, {headers: {'If-None-Match': r.headers.get('etag')}});
    assert.equal(again.status, 304);
    const index = await fetch(hush.url);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(hush.url, {headers: {'If-None-Match': index.headers.get('etag')}})).status, 304);
    // A reload: index.html revalidated (304), every file from the cache
    // without a request, so only the API calls reach the server.
    const asked = [];
    const onRequest = q => { const u = new URL(q.url()); if (!u.pathname.startsWith('/api/')) asked.push(u.pathname); };
    page.on('requestfinished', onRequest);
    await page.reload();
    await page.waitForSelector('#page-overview');
    page.off('requestfinished', onRequest);
    const fetched = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter(e => !new URL(e.name).pathname.startsWith('/api/')).map(e => [new URL(e.name).pathname, e.transferSize]));
    for (const [name, size] of fetched) assert.equal(size, 0, name + ' came over the network');
    assert.ok(fetched.length >= 6, JSON.stringify(fetched));
    await browser.guard();
  });

  await step('a device asks; the log searches by any text and explains each row', async () => {
    for (const n of ['listed.e2e.test', 'ads.tracker.e2e.test', 'plain.e2e.test', 'listed.e2e.test'])
      await dig(hush.dnsPort, n, PHONE);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const d = (await json('/api/devices')).devices.find(x => x.addresses.includes(PHONE));
      if (d && d.queries >= 4) { phone = d.id; break; }
      await sleep(200);
    }
    assert.ok(phone, 'the tablet is in the log');
    assert.equal((await call(page, 'PUT', '/api/devices/' + phone, {name: PHONE_NAME})).status, 200);
    // The API says which list and rule.
    const rows = (await json('/api/log?q=tracker')).rows;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].rule, 'tracker.e2e.test');  // the list's ||tracker.e2e.test^
    assert.ok(rows[0].list.length > 0);
    // Free search: by the device's name, by the answer.
    await page.goto(hush.url + '#/log');
    await page.fill('#filter-q', 'hall tab');
    await page.press('#filter-q', 'Enter');
    await page.waitForFunction(() => location.hash.includes('q=hall'));
    await page.waitForSelector('#log-table tbody tr');
    const devices = await page.locator('#log-table td.c-device').allInnerTexts();
    assert.ok(devices.length >= 4 && devices.every(d => d === PHONE_NAME), JSON.stringify(devices));
    await page.goto(hush.url + '#/log?q=' + UPSTREAM_ANSWER);
    await page.waitForSelector('#log-table td.domain >> text="plain.e2e.test"');
    assert.equal(await page.locator('#log-table td.domain:text-is("listed.e2e.test")').count(), 0);
    // Details: why (list and rule), and the block or allow there.
    await page.goto(hush.url + '#/log?q=e2e.test');
    await page.waitForSelector('#log-table td.domain >> text="ads.tracker.e2e.test"');
    await page.click('#log-table td.domain:text-is("ads.tracker.e2e.test")');
    const why = await page.locator('#log-table tr.detail .why').innerText();
    assert.ok(why.includes('rule tracker.e2e.test') && why.startsWith('Blocked by the list'), why);
    await shot('accounts-log-details-desktop');
    await page.click('#log-table td.domain:text-is("ads.tracker.e2e.test")');
    assert.equal(await page.locator('#log-table tr.detail').count(), 0);
    // Allow from one row's details: every row of the name says so.
    const listed = page.locator('#log-table tbody tr[data-domain="listed.e2e.test"]:not(.detail)');
    assert.equal(await listed.count(), 2);
    await listed.first().locator('td.c-domain').click();
    await page.click('#log-table tr.detail button.allow');
    await page.waitForFunction(() => document.getElementById('toast').textContent.includes('Allowed listed.e2e.test'));
    for (let i = 0; i < 2; i++) assert.equal(await listed.nth(i).locator('.badge.now').innerText(), 'allowed now');
    assert.deepEqual(await dig(hush.dnsPort, 'listed.e2e.test', PHONE), [UPSTREAM_ANSWER]);
  });

  await step('change the password: wrong current refused; other sessions end, this one stays', async () => {
    // A second session, as another browser would have it.
    const login = await fromAddress('127.0.0.1', 'POST', '/api/login', {password});
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const cookie = login.headers['set-cookie'][0].split(';')[0];
    assert.equal((await fromAddress('127.0.0.1', 'GET', '/api/session', undefined, {Cookie: cookie})).body.logged_in, true);
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#password-form');
    await page.fill('#current-password', 'not the password');
    await page.fill('#new-password', NEW_PASSWORD);
    await page.fill('#new-password-again', NEW_PASSWORD);
    await page.click('#password-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('password-error').textContent.includes('wrong'));
    await page.fill('#current-password', password);
    await page.click('#password-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('toast').textContent.includes('Password changed'));
    password = NEW_PASSWORD;
    assert.equal((await fromAddress('127.0.0.1', 'GET', '/api/session', undefined, {Cookie: cookie})).body.logged_in, false);
    await page.reload();
    await page.waitForSelector('#page-settings');  // still logged in here
    const old = await fromAddress('127.0.0.1', 'POST', '/api/login', {password: PASSWORD});
    assert.equal(old.status, 401);
  });

  let secret, recovery;
  await step('two-factor login: enrol with the QR code, confirm with a code, get recovery codes', async () => {
    await page.goto(hush.url + '#/settings');
    await page.click('#totp-start');
    await page.waitForSelector('#totp-qr');
    const img = await page.locator('#totp-qr').evaluate(i => ({w: i.naturalWidth, src: i.src.slice(0, 26)}));
    assert.equal(img.src, 'data:image/svg+xml;base64,');
    assert.ok(img.w > 100, 'the QR code draws: ' + img.w);
    secret = await page.locator('#totp-secret').innerText();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await shot('accounts-totp-enrol-desktop');
    await page.fill('#totp-code', '000000' === totp(secret) ? '111111' : '000000');
    await page.click('#totp-confirm button[type=submit]');
    await page.waitForFunction(() => document.getElementById('totp-error').textContent.includes('wrong code'));
    await page.fill('#totp-code', totp(secret));
    await page.click('#totp-confirm button[type=submit]');
    await page.waitForSelector('#recovery-codes li');
    recovery = await page.locator('#recovery-codes li').allInnerTexts();
    assert.equal(recovery.length, 10);
    assert.equal((await json('/api/account')).totp_enabled, true);
  });

  await step('a login then asks for the code; wrong codes are refused and limited', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.fill('#password', password);
    await page.click('#login-button');
    await page.waitForSelector('#login-code', {state: 'visible'});
    assert.equal(await page.isVisible('#nav'), false);
    await shot('accounts-login-code-desktop');
    const code = totp(secret);
    await page.fill('#login-code', code === '123456' ? '654321' : '123456');
    await page.click('#login-button');
    await page.waitForFunction(() => document.getElementById('login-error').textContent === 'Wrong code.');
    await page.fill('#login-code', code);
    await page.click('#login-button');
    await page.waitForSelector('#page-settings');
    // The same code again (a replay) is refused, from anywhere.
    assert.equal((await fromAddress('127.0.0.7', 'POST', '/api/login', {password, code})).status, 401);
    // Five wrong codes a minute from one address, then 429 even for a right one.
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await fromAddress('127.0.0.8', 'POST', '/api/login', {password, code: '00000' + i})).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.equal(statuses[5], 429);
    const limited = await fromAddress('127.0.0.8', 'POST', '/api/login', {password, code: recovery[9]});
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // A recovery code logs in once.
    assert.equal((await fromAddress('127.0.0.9', 'POST', '/api/login', {password, code: recovery[0]})).status, 200);
    assert.equal((await fromAddress('127.0.0.9', 'POST', '/api/login', {password, code: recovery[0]})).status, 401);
  });

  await step('read-only: a user and a token see everything and change nothing', async () => {
    await page.goto(hush.url + '#/settings');
    await page.fill('#user-name', VIEWER);
    await page.fill('#user-password', VIEWER_PASSWORD);
    await page.click('#user-form button[type=submit]');
    await page.waitForSelector(`tr[data-user="${VIEWER}"]`);
    const token = await call(page, 'POST', '/api/tokens', {name: 'grafana', role: 'read-only'});
    assert.equal(token.status, 201);
    const bearer = {Authorization: 'Bearer ' + token.body.token};
    assert.equal((await fromAddress('127.0.0.1', 'GET', '/api/summary', undefined, bearer)).status, 200);
    const refused = await fromAddress('127.0.0.1', 'POST', '/api/rules', {kind: 'deny', pattern: 'x.e2e.test'}, bearer);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error, /^read-only account: POST \/api\/rules needs an admin$/);
    for (const p of ['/api/backup', '/api/tokens', '/api/users'])
      assert.equal((await fromAddress('127.0.0.1', 'GET', p, undefined, bearer)).status, 403, p);
    // The viewer logs in: every page shows, no button or form that would
    // change anything does, and a write sent anyway is refused.
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.fill('#user', VIEWER);
    await page.fill('#password', VIEWER_PASSWORD);
    await page.click('#login-button');
    await page.waitForSelector('#page-settings');
    for (const [hash, sel] of [['#/', '#page-overview'], ['#/devices', '#page-devices'], ['#/device/' + phone, '#page-device'],
      ['#/log', '#log-table tbody tr'], ['#/phonehome', '#page-phonehome'], ['#/lists', '#page-lists'], ['#/settings', '#page-settings']]) {
      await page.goto(hush.url + hash);
      await page.waitForSelector(sel);
      await sleep(200);
      const writes = await page.evaluate(() => [...document.querySelectorAll('main button, main form:not(.filters)')]
        .filter(e => e.offsetParent !== null && !e.matches('.read, .more, #logout') && !e.closest('.own-account'))
        .map(e => e.tagName + ' ' + (e.id || e.textContent.trim().slice(0, 30))));
      assert.deepEqual(writes, [], hash);
    }
    assert.match(await page.innerText('#account-who'), /viewer \(read-only\)/);
    await page.goto(hush.url + '#/log');
    await page.click('#log-table td.domain >> nth=0');
    assert.equal(await page.locator('#log-table tr.detail button:visible').count(), 0);
    await shot('accounts-read-only-log-desktop');
    const write = await call(page, 'PUT', '/api/blocking', {enabled: false, seconds: 60});
    assert.equal(write.status, 403);
    assert.match(write.body.error, /read-only account/);
    assert.equal((await json('/api/blocking')).enabled, true);
    // Their own password and second factor are theirs to change: the same
    // QR enrolment as the admin's, then their login asks for their code.
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#password-form', {state: 'visible'});
    await page.click('#totp-start');
    await page.waitForSelector('#totp-qr');
    const viewerSecret = await page.locator('#totp-secret').innerText();
    assert.notEqual(viewerSecret, secret);
    await page.fill('#totp-code', totp(viewerSecret));
    await page.click('#totp-confirm button[type=submit]');
    await page.waitForSelector('#recovery-codes li');
    await shot('accounts-read-only-totp-desktop');
    const viewerRecovery = await page.locator('#recovery-codes li').allInnerTexts();
    assert.equal((await json('/api/account')).totp_enabled, true);
    const asViewer = code => fromAddress('127.0.0.11', 'POST', '/api/login', {user: VIEWER, password: VIEWER_PASSWORD, code});
    assert.equal((await asViewer('')).body.code_required, true);
    assert.equal((await asViewer(recovery[3])).status, 401);  // the admin's code is not theirs
    assert.equal((await asViewer(viewerRecovery[0])).status, 200);
    assert.equal((await fromAddress('127.0.0.11', 'POST', '/api/login', {password, code: viewerRecovery[1]})).status, 401);
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.fill('#user', VIEWER);
    await page.fill('#password', VIEWER_PASSWORD);
    await page.click('#login-button');
    await page.waitForSelector('#login-code', {state: 'visible'});
    await page.fill('#login-code', viewerRecovery[2]);
    await page.click('#login-button');
    await page.waitForSelector('#page-settings');
    assert.match(await page.innerText('#totp-state'), /Two-factor login is on/);
    assert.equal((await call(page, 'POST', '/api/rules', {kind: 'deny', pattern: 'y.e2e.test'})).status, 403);  // still read-only
    // Back to the admin, with a recovery code.
    await page.goto(hush.url + '#/settings');
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.fill('#password', password);
    await page.click('#login-button');
    await page.waitForSelector('#login-code', {state: 'visible'});
    await page.fill('#login-code', recovery[1]);
    await page.click('#login-button');
    await page.waitForSelector('#page-settings');
    await page.goto(hush.url + '#/');
    await page.waitForSelector('#page-overview');
  });

  await step('dark mode follows the system until the toggle picks, and the pick is kept', async () => {
    await page.emulateMedia({colorScheme: 'dark'});
    await page.evaluate(() => localStorage.removeItem('hush-theme'));
    await page.reload();
    await page.waitForSelector('#page-overview');
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await bg(), 'rgb(15, 20, 26)');
    await page.click('#theme-toggle');
    assert.equal(await bg(), 'rgb(246, 247, 249)');
    await page.reload();
    await page.waitForSelector('#page-overview');
    assert.equal(await bg(), 'rgb(246, 247, 249)');  // kept over the system's dark
    await page.emulateMedia({colorScheme: 'light'});
    await page.click('#theme-toggle');
    assert.equal(await bg(), 'rgb(15, 20, 26)');
    await page.evaluate(() => localStorage.removeItem('hush-theme'));
  });

  await step('a 390 px phone: the menu is a bottom bar under the thumb, every item on screen', async () => {
    await page.setViewportSize({width: 390, height: 844});
    await page.goto(hush.url + '#/log');
    await page.waitForSelector('#log-table tbody tr');
    const boxes = await page.locator('nav a').evaluateAll(as => as.map(a => { const b = a.getBoundingClientRect(); return [a.textContent, b.x, b.y, b.width, b.height]; }));
    assert.equal(boxes.length, 7);  // overview, log, devices, phone home, lists, schedules, settings
    for (const [name, x, y, w, h] of boxes) {
      assert.ok(x >= 0 && x + w <= 390, name + ' is off the side');
      assert.ok(y >= 844 - 80 && y + h <= 844, name + ' is not in the bottom bar: ' + y);
      assert.ok(h >= 44, name + ' is ' + h + ' px tall, too small for a thumb');
    }
    // It stays there while the page scrolls, and nothing hides under it.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const y = await page.locator('nav a').first().evaluate(a => a.getBoundingClientRect().y);
    assert.ok(y >= 844 - 80);
    const last = await page.evaluate(() => { const m = document.getElementById('main').getBoundingClientRect(); return m.bottom; });
    assert.ok(last <= y + 1, 'the end of the page is under the menu: ' + last + ' > ' + y);
    await page.click('nav a[data-page="settings"]');
    await page.waitForSelector('#page-settings');
    await page.setViewportSize({width: 1366, height: 860});
  });

  await step('the API description names every new endpoint', async () => {
    const spec = await (await fetch(hush.url + 'openapi.yaml')).text();
    for (const p of ['/api/account:', '/api/account/password:', '/api/account/totp:', '/api/account/totp/confirm:', '/api/users:',
      '/api/users/{name}:', 'code_required', 'read-only', 'name: q,', 'rule:'])
      assert.ok(spec.includes(p), p);
  });

  await step('two-factor login off again with the password and a recovery code', async () => {
    await page.goto(hush.url + '#/settings');
    await page.waitForSelector('#totp-off');
    assert.match(await page.innerText('#totp-state'), /8 recovery codes left/);
    await page.fill('#totp-off-password', password);
    await page.fill('#totp-off-code', recovery[2]);
    await page.click('#totp-off button[type=submit]');
    await page.waitForSelector('#totp-start');
    assert.equal((await fromAddress('127.0.0.10', 'POST', '/api/login', {password})).status, 200);
  });

  await step('phone-home and other pages: screenshots at 1366 and 390 px, light and dark; contrast holds', async () => {
    const pages = [['overview', '#/', '#page-overview'], ['devices', '#/devices', '#page-devices a.device-link'],
      ['device', '#/device/' + phone, '#page-device'], ['log', '#/log', '#log-table tbody tr'],
      ['phonehome', '#/phonehome', '#page-phonehome'], ['company', '#/company/xiaomi', '#page-company'],
      ['lists', '#/lists', '#page-lists'], ['schedules', '#/schedules', '#page-schedules'], ['settings', '#/settings', '#page-settings']];
    const problems = [];
    await page.reload();  // the theme as the system says (no choice kept)
    for (const theme of ['light', 'dark']) {
      await page.emulateMedia({colorScheme: theme});
      for (const [width, height, tag] of [[1366, 860, 'desktop'], [390, 844, 'phone']]) {
        await page.setViewportSize({width, height});
        for (const [name, hash, sel] of pages) {
          await page.goto(hush.url + hash);
          await page.waitForSelector(sel);
          await sleep(150);
          assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
          for (const f of await contrastFailures(page)) problems.push(`${theme} ${tag} ${name}: ${f}`);
          if (tag === 'phone') {
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            if (overflow > 1) problems.push(`${theme} ${name}: ${overflow} px wider than the phone`);
          }
          await shot(`page-${name}-${tag}-${theme}`);
        }
      }
    }
    await page.setViewportSize({width: 1366, height: 860});
    await page.emulateMedia({colorScheme: 'light'});
    assert.deepEqual(problems, []);
  });

  await step('no script errors, no dialogs, no CSP violations', async () => {
    assertCleanPages(seen);
  });

} catch (e) {
  failed = true;
}
await finish(step, browser, hush, failed);
