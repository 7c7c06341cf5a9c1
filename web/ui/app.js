// hush dashboard: a small single-page app over the JSON API (/api, see
// /openapi.yaml). Everything that came from the network (query names, device
// names, list names, errors) is put into the page as text: elements are made
// with document.createElement and filled with textContent, never innerHTML.
'use strict';

(function () {
  const main = document.getElementById('main');
  const period = window.hushPeriod;
  const nav = document.getElementById('nav');
  const blockingPill = document.getElementById('blocking-state');
  const toastBox = document.getElementById('toast');
  let csrf = '';
  let cleanup = [];  // stops timers and live views of the page being left
  // "admin" or "read-only": a read-only account sees no button that would
  // change anything (app.css hides them by body[data-role]); the server
  // refuses such requests anyway.
  function setRole(role) { document.body.dataset.role = role || 'admin'; }

  // Light or dark: the system's choice until the toggle picks one, which
  // this browser then keeps.
  const themeButton = document.getElementById('theme-toggle');
  function applyTheme() {
    const saved = localStorage.getItem('hush-theme');
    const dark = saved ? saved === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    themeButton.textContent = dark ? '☀' : '☾';
    themeButton.title = dark ? 'Light mode' : 'Dark mode';
    themeButton.setAttribute('aria-label', themeButton.title);
  }
  themeButton.addEventListener('click', () => {
    localStorage.setItem('hush-theme', document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
    applyTheme();
    if (main.querySelector('.chart')) route();  // charts are drawn in the theme's colours
  });
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  applyTheme();

  // ------------------------------------------------------------ DOM helpers

  // el('div', {class: 'x', onclick: f}, 'text', child, ...): text stays text.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // `action` ({label, run}) adds a button, e.g. an undo, and keeps the toast
  // longer; a pointer resting on the toast keeps it until it leaves.
  toastBox.addEventListener('mouseenter', () => clearTimeout(toast.timer));
  toastBox.addEventListener('mouseleave', () => {
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { toastBox.hidden = true; }, 4000);
  });
  function toast(message, bad, action) {
    toastBox.textContent = message;
    toastBox.className = bad ? 'bad' : '';
    if (action) {
      toastBox.appendChild(el('button', {class: 'small', id: 'toast-action', onclick: () => {
        toastBox.hidden = true;
        action.run();
      }}, action.label));
    }
    toastBox.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { toastBox.hidden = true; }, action ? 10000 : 4000);
  }
  const fmt = new Intl.NumberFormat();
  function num(n) { return fmt.format(n || 0); }
  function pct(p) { return (p || 0).toFixed(1) + ' %'; }
  function when(ms) { return ms ? new Date(ms).toLocaleString() : '—'; }
  function time(ms) { return new Date(ms).toLocaleTimeString(); }
  // A log row's time: with its date when asked (a range over several days)
  // or when it is not from today.
  function stamp(ms, withDate) {
    const d = new Date(ms);
    if (!withDate && d.toDateString() === new Date().toDateString()) return d.toLocaleTimeString();
    return d.toLocaleDateString(undefined, {month: 'short', day: 'numeric'}) + ' ' + d.toLocaleTimeString();
  }
  // A count that the server stopped at (`capped`) reads "at least".
  function atLeast(n, capped) { return num(n) + (capped ? '+' : ''); }
  // Groups as a user knows them: "Kid's tablet" for a device's own group
  // (the server's label), "group kids" for a shared one.
  function targetsText(targets) {
    return targets.map(t => t.device_id !== undefined ? t.label : t.group === 'default' ? 'every device (default)' : 'group ' + t.label).join(', ');
  }
  // A device's own group ("device-7") holds what was set for it alone: it is
  // shown as the device, never as a group.
  function ownGroup(g) { return /^device-\d+$/.test(g); }
  const RCODES = {1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED'};
  function ago(ms) {
    if (!ms) return '—';
    const s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  function card(label, value, extra) {
    return el('div', {class: 'card'}, el('div', {class: 'label'}, label), el('div', {class: 'value'}, value),
      extra ? el('div', {class: 'extra'}, extra) : null);
  }
  function section(title, ...body) {
    return el('section', {class: 'panel'}, el('h2', {}, title), ...body);
  }
  function table(headers, rows, cls) {
    return el('div', {class: 'table-wrap'},
      el('table', {class: cls || ''},
        el('thead', {}, el('tr', {}, headers.map(h => el('th', {class: h[1] || ''}, h[0])))),
        el('tbody', {}, rows)));
  }
  function badge(status) { return el('span', {class: 'badge ' + status}, status); }

  // ------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, message, data) { super(message); this.status = status; this.data = data; }
  }
  async function api(method, path, body) {
    const opts = {method, credentials: 'same-origin', headers: {}};
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401 && path !== '/api/login') {
      showLogin();
      throw new ApiError(401, 'log in first');
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText, data);
    return data;
  }
  // A body sent as it is: a backup's numbers must reach the server unrounded
  // (its checksum covers them), which JSON.parse would not promise.
  async function apiText(path, text) {
    const res = await fetch(path, {method: 'POST', credentials: 'same-origin',
      headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/json'}, body: text});
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) { showLogin(); throw new ApiError(401, 'log in first'); }
    if (!res.ok && !(data && data.changes)) throw new ApiError(res.status, (data && data.error) || res.statusText);
    return data;
  }
  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.append(k, v);
    const s = u.toString();
    return s ? '?' + s : '';
  }
  function failed(e) { if (!(e instanceof ApiError && e.status === 401)) toast(e.message, true); }

  // ------------------------------------------------------------ login

  function showLogin() {
    leave();
    newView();  // a page still loading is dropped
    nav.hidden = true;
    blockingPill.hidden = true;
    delete document.body.dataset.role;
    clear(main);
    const user = el('input', {type: 'text', id: 'user', name: 'user', autocomplete: 'username', placeholder: 'admin',
      autocapitalize: 'none', 'aria-label': 'User'});
    const input = el('input', {type: 'password', id: 'password', name: 'password', autocomplete: 'current-password',
      required: true, 'aria-label': 'Password'});
    // Asked for only when the server says the account has a second factor.
    const code = el('input', {type: 'text', id: 'login-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code',
      'aria-label': 'Code from the authenticator app'});
    const codeBox = el('div', {class: 'login-code', hidden: true},
      el('label', {for: 'login-code'}, 'Code from your authenticator app (or a recovery code)'), code);
    const msg = el('p', {class: 'error', id: 'login-error'});
    const form = el('form', {class: 'login panel', id: 'login-form'},
      el('h1', {}, 'hush'),
      el('label', {for: 'user'}, 'User ', el('span', {class: 'muted'}, '(empty for admin)')), user,
      el('label', {for: 'password'}, 'Password'), input, codeBox,
      el('button', {type: 'submit', id: 'login-button'}, 'Log in'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      msg.textContent = '';
      try {
        const r = await api('POST', '/api/login', {user: user.value.trim(), password: input.value, code: code.value.trim()});
        csrf = r.csrf;
        setRole(r.role);
        input.value = '';
        nav.hidden = false;
        route();
      } catch (e) {
        if (e.status === 401 && e.data && e.data.code_required) {
          const first = codeBox.hidden;
          codeBox.hidden = false;
          code.required = true;
          msg.textContent = first ? '' : 'Wrong code.';
          code.value = '';
          code.focus();
          return;
        }
        msg.textContent = e.status === 429 ? 'Too many attempts; wait a minute.' :
          e.status === 401 ? 'Wrong password.' : e.message;
      }
    });
    main.appendChild(form);
    input.focus();
  }

  // ------------------------------------------------------------ countdowns

  // Time left until `until` (seconds, this browser's clock): "4:59", or
  // "2 h 05 min" when an hour or more.
  function timeLeft(until) {
    const s = Math.max(0, Math.round(until - Date.now() / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? h + ' h ' + String(m).padStart(2, '0') + ' min' : m + ':' + String(sec).padStart(2, '0');
  }
  // The end of something the server counts down: its seconds_left on this
  // browser's clock, so a clock difference between the two does not show.
  function localEnd(secondsLeft) { return Date.now() / 1000 + (secondsLeft || 0); }
  // A span that shows the time left once a second; `onEnd` runs once at zero.
  function countdown(until, onEnd) {
    const e = el('span', {class: 'countdown', 'data-until': String(until)}, timeLeft(until));
    e.hushOnEnd = onEnd;
    return e;
  }
  setInterval(() => {
    for (const e of document.querySelectorAll('[data-until]')) {
      const until = Number(e.dataset.until);
      e.textContent = timeLeft(until);
      if (until * 1000 <= Date.now() && e.hushOnEnd) {
        const f = e.hushOnEnd;
        e.hushOnEnd = null;
        f();
      }
    }
  }, 1000);

  // ------------------------------------------------------------ blocking switch

  async function refreshBlocking() {
    try {
      const b = await api('GET', '/api/blocking');
      renderBlockingPill(b);
      return b;
    } catch (e) { return null; }
  }
  function renderBlockingPill(b) {
    blockingPill.hidden = false;
    blockingPill.className = 'pill ' + (b.enabled ? 'on' : 'off');
    clear(blockingPill);
    if (b.enabled) blockingPill.textContent = 'Blocking on';
    else if (b.until) blockingPill.append('Paused · ', countdown(localEnd(b.seconds_left), refreshBlocking));
    else blockingPill.textContent = 'Blocking off';
  }
  // The state in words, with a live countdown while paused.
  function blockingState(b, onEnd) {
    if (b.enabled) return el('span', {class: 'blocking-text'}, 'Blocking is on.');
    if (b.until) return el('span', {class: 'blocking-text'}, 'Paused: blocking resumes in ', countdown(localEnd(b.seconds_left), onEnd), '.');
    return el('span', {class: 'blocking-text'}, 'Blocking is off until you turn it on.');
  }
  // Pause for a while, or turn off after a confirmation that offers a
  // duration first; `after` gets the new state (also when a pause ends).
  function blockingControls(b, after) {
    async function set(enabled, seconds) {
      try {
        const r = await api('PUT', '/api/blocking', {enabled, seconds});
        renderBlockingPill(r);
        toast(enabled ? 'Blocking is on' : seconds ? 'Blocking paused for ' + duration(seconds) : 'Blocking is off');
        if (after) after(r);
      } catch (e) { failed(e); }
    }
    const ended = async () => { const fresh = await refreshBlocking(); if (fresh && after) after(fresh); };
    const box = el('div', {class: 'blocking-controls'}, el('p', {}, blockingState(b, ended)));
    if (!b.enabled) {
      box.appendChild(el('div', {class: 'buttons'},
        el('button', {id: 'blocking-on', onclick: () => set(true, 0)}, b.until ? 'Resume blocking now' : 'Turn blocking on')));
      return box;
    }
    const confirmBox = el('div', {class: 'confirm', id: 'blocking-off-confirm', role: 'alertdialog', hidden: true},
      el('span', {}, 'Turn blocking off for every device?'),
      el('button', {class: 'small', onclick: () => set(false, 3600)}, 'For 1 h'),
      el('button', {class: 'small', onclick: () => set(false, 8 * 3600)}, 'For 8 h'),
      el('button', {class: 'small', onclick: () => set(false, 86400)}, 'For 24 h'),
      el('button', {class: 'small danger', id: 'blocking-off-forever', onclick: () => set(false, 0)}, 'Until I turn it on'),
      el('button', {class: 'small', id: 'blocking-off-cancel', onclick: () => { confirmBox.hidden = true; }}, 'Cancel'));
    box.appendChild(el('div', {class: 'buttons'},
      el('button', {id: 'pause-5', onclick: () => set(false, 300)}, 'Pause 5 min'),
      el('button', {onclick: () => set(false, 1800)}, 'Pause 30 min'),
      el('button', {onclick: () => set(false, 3600)}, 'Pause 1 h'),
      el('button', {class: 'danger', id: 'blocking-off', onclick: () => { confirmBox.hidden = false; }}, 'Turn off…')));
    box.appendChild(confirmBox);
    return box;
  }
  function duration(seconds) {
    return seconds >= 86400 && seconds % 86400 === 0 ? seconds / 86400 + (seconds === 86400 ? ' day' : ' days') :
      seconds >= 3600 && seconds % 3600 === 0 ? seconds / 3600 + ' h' : Math.round(seconds / 60) + ' min';
  }
  // The overview's card: On, Off, or Paused with the time left.
  function blockingCard(b, onEnd) {
    const value = b.enabled ? 'On' : b.until ? 'Paused' : 'Off';
    return el('div', {class: 'card', id: 'blocking-card'}, el('div', {class: 'label'}, 'Blocking'),
      el('div', {class: 'value'}, value),
      b.until && !b.enabled ? el('div', {class: 'extra'}, countdown(localEnd(b.seconds_left), onEnd), ' left') :
        !b.enabled ? el('div', {class: 'extra'}, 'until turned on') : null);
  }

  // ------------------------------------------------------------ charts

  // Allowed and blocked queries per bucket over [since, until), with empty
  // buckets as zeros so the lines do not jump over quiet hours.
  function chart(container, hist) {
    const points = hist.points, bucketS = hist.bucket_s;
    if (points.length === 0) {
      container.appendChild(el('p', {class: 'muted'}, 'No queries in this period yet.'));
      return;
    }
    const byT = new Map(points.map(p => [p.t, p]));
    const first = Math.floor(hist.since_ms / 1000 / bucketS) * bucketS;
    const last = Math.floor(hist.until_ms / 1000 / bucketS) * bucketS;
    const xs = [], allowed = [], blocked = [];
    for (let t = first; t <= last; t += bucketS) {
      const p = byT.get(t);
      xs.push(t);
      allowed.push(p ? p.allowed : 0);
      blocked.push(p ? p.blocked : 0);
    }
    const width = () => Math.max(260, container.clientWidth - 4);
    // Axis text and grid in the theme's colours (a canvas does not follow CSS).
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue('--fg').trim(), grid = css.getPropertyValue('--line').trim();
    const opts = {
      width: width(), height: 220,
      cursor: {drag: {x: false, y: false}},
      scales: {x: {time: true}, y: {range: (u, min, max) => [0, Math.max(1, max)]}},
      series: [
        {},
        {label: 'Allowed', stroke: '#2f855a', fill: 'rgba(47,133,90,0.15)', width: 2},
        {label: 'Blocked', stroke: '#c53030', fill: 'rgba(197,48,48,0.18)', width: 2},
      ],
      axes: [{stroke: ink, grid: {stroke: grid}, ticks: {stroke: grid}}, {size: 50, stroke: ink, grid: {stroke: grid}, ticks: {stroke: grid}}],
    };
    const plot = new uPlot(opts, [xs, allowed, blocked], container);
    const onResize = () => plot.setSize({width: width(), height: 220});
    window.addEventListener('resize', onResize);
    cleanup.push(() => { window.removeEventListener('resize', onResize); plot.destroy(); });
    container.dataset.bucket = bucketS;
  }

  // ------------------------------------------------------------ rules (one click)

  async function addRule(kind, pattern) {
    try {
      const r = await api('POST', '/api/rules', {kind, pattern});
      toast((kind === 'deny' ? 'Blocked ' : 'Allowed ') + r.pattern + (r.applied ? '' : ' (applies shortly)'));
      return true;
    } catch (e) { failed(e); return false; }
  }
  // One click allows or blocks a name; every row of that name on the page
  // follows, so no row still offers what was just done.
  function ruleButtons(row) {
    const blocked = row.status === 'blocked';
    const kind = blocked ? 'allow' : 'deny';
    return el('button', {
      class: 'small ' + kind,
      'data-domain': row.domain,
      title: (blocked ? 'Allow ' : 'Block ') + row.domain,
      onclick: async ev => {
        ev.stopPropagation();
        ev.target.disabled = true;
        if (!(await addRule(kind, row.domain))) { ev.target.disabled = false; return; }
        for (const b of main.querySelectorAll('button.' + kind + '[data-domain]')) {
          if (b.dataset.domain !== row.domain) continue;
          b.textContent = blocked ? 'Allowed' : 'Blocked';
          b.disabled = true;
        }
        // Every row of the name says what it gets from now on.
        for (const tr of main.querySelectorAll('tr[data-domain]')) {
          if (tr.dataset.domain !== row.domain || tr.dataset.ruled) continue;
          tr.dataset.ruled = kind;
          const cell = tr.querySelector('td.c-status');
          if (cell) cell.appendChild(el('span', {class: 'badge now ' + (blocked ? 'forwarded' : 'blocked')}, blocked ? 'allowed now' : 'blocked now'));
        }
      },
    }, blocked ? 'Allow' : 'Block');
  }
  // Why a row got its answer, when that says more than its status: the list
  // (and the rule, unless it is the name itself) of a block, a local record,
  // a refusal. Nothing for a plain "forwarded" or "cache".
  function why(r) {
    if (!r.reason || r.reason === r.status || r.reason === 'forwarded' || r.reason === 'cache') return '';
    if (r.status !== 'blocked') return r.reason;
    const at = r.reason.indexOf(': ');
    if (at < 0) return 'on ' + r.reason;
    const list = r.reason.slice(0, at), rule = r.reason.slice(at + 2);
    return rule === r.domain || rule === '||' + r.domain + '^' ? 'on ' + list : 'on ' + list + ', rule ' + rule;
  }
  // A failing answer code is what the device got: it shows instead of a
  // green "forwarded" that would hide it.
  function statusCell(r) {
    const failing = r.rcode && r.status !== 'blocked';
    const w = why(r);
    return el('td', {class: 'c-status'},
      failing ? el('span', {class: 'badge rcode', title: r.status}, RCODES[r.rcode] || 'RCODE ' + r.rcode) : badge(r.status),
      w ? el('div', {class: 'reason'}, w) : null);
  }
  function latency(r) {
    if (r.status !== 'forwarded' || !r.latency_ms) return '';
    return (r.latency_ms >= 10 ? Math.round(r.latency_ms) : r.latency_ms.toFixed(1)) + ' ms';
  }
  // What a row's details panel says about why it got its answer.
  function whyText(r) {
    const code = r.rcode ? ' (' + (RCODES[r.rcode] || 'RCODE ' + r.rcode) + ')' : '';
    switch (r.status) {
      case 'blocked':
        return r.rule ? 'Blocked by the list ' + r.list + ', rule ' + r.rule : 'Blocked by the list ' + (r.list || r.reason);
      case 'cached': return 'Answered from the cache' + code;
      case 'forwarded': return 'Forwarded to ' + (r.upstream || 'an upstream') + code + (r.reason && r.reason !== 'forwarded' ? ': ' + r.reason : '');
      case 'local': return 'A local record' + (r.reason && r.reason !== 'local' ? ': ' + r.reason : '');
      default: return r.status + code + (r.reason && r.reason !== r.status ? ': ' + r.reason : '');
    }
  }
  function details(r, opts) {
    const kv = pairs => el('dl', {class: 'kv'}, pairs.filter(p => p[1] !== '' && p[1] !== null && p[1] !== undefined)
      .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    return el('div', {class: 'details-panel'},
      kv([['Why', el('span', {class: 'why'}, whyText(r))],
        ['When', new Date(r.time_ms).toLocaleString()],
        ['Device', [el('a', {href: '#/device/' + r.device_id}, r.device), ' (' + r.client + ')']],
        ['Question', r.domain + ' ' + r.type + ' over ' + r.transport],
        ['Answer', r.answer || '—'],
        ['Latency', latency(r)]]),
      el('div', {class: 'buttons'}, ruleButtons(r),
        el('a', {href: '#/log' + qs({q: r.domain, since: opts.since || 'all'}), class: 'small'}, 'Every query of this name')));
  }
  // A click on a row opens its details below it (another click closes them).
  function toggleDetails(tr, r, opts) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('detail')) {
      next.remove();
      tr.setAttribute('aria-expanded', 'false');
      return;
    }
    tr.setAttribute('aria-expanded', 'true');
    tr.after(el('tr', {class: 'detail', 'data-for': r.id}, el('td', {colspan: 8}, details(r, opts))));
  }
  // opts: {device: show the device column, withDate: dates on every time}
  function logRow(r, opts) {
    const tr = logRowCells(r, opts);
    tr.setAttribute('aria-expanded', 'false');
    tr.addEventListener('click', ev => {
      if (ev.target.closest('a, button')) return;
      toggleDetails(tr, r, opts);
    });
    const name = tr.querySelector('td.c-domain');
    name.tabIndex = 0;
    name.addEventListener('keydown', ev => { if (ev.key === 'Enter') toggleDetails(tr, r, opts); });
    return tr;
  }
  function logRowCells(r, opts) {
    return el('tr', {'data-id': r.id, 'data-domain': r.domain, class: 'row-' + r.status},
      el('td', {class: 'c-time nowrap'}, stamp(r.time_ms, opts.withDate)),
      opts.device ? el('td', {class: 'c-device'}, el('a', {href: '#/device/' + r.device_id}, r.device)) : null,
      el('td', {class: 'domain c-domain'}, r.domain),
      el('td', {class: 'c-type hide-narrow'}, r.type),
      statusCell(r),
      el('td', {class: 'c-answer'}, r.answer || '', r.upstream ? el('div', {class: 'muted small'}, 'from ' + r.upstream) : null),
      el('td', {class: 'c-latency num'}, latency(r)),
      el('td', {class: 'c-action'}, ruleButtons(r)));
  }
  function logTable(id, opts, tbody) {
    const headers = [['Time'], opts.device ? ['Device'] : null, ['Name'], ['Type', 'hide-narrow'], ['Status'], ['Answer'],
      ['Latency', 'num'], ['']].filter(Boolean);
    return el('div', {class: 'table-wrap'}, el('table', {id, class: 'log'},
      el('thead', {}, el('tr', {}, headers.map(h => el('th', {class: h[1] || ''}, h[0])))), tbody));
  }

  // A live view of new rows (server-sent events), prepended to `tbody`.
  // `opts.status` says whether it runs. When the server refuses it (503: too
  // many live views) or it breaks for good, the page says so and tries again
  // after 2, 4, 8… (at most 30) seconds, from the newest row it has.
  function liveTail(view, params, tbody, opts) {
    if (view.stale) return;
    const status = opts.status;
    let src = null, timer = null, wait = 2, newest = params.after;
    const say = (text, state) => {
      if (!status) return;
      status.textContent = text;
      status.dataset.state = state;
    };
    function connect() {
      timer = null;
      say('connecting…', 'connecting');
      src = new EventSource('/api/log/stream' + qs(Object.assign({}, params, {after: newest})));
      src.addEventListener('open', () => { wait = 2; say('live', 'live'); });
      src.addEventListener('query', ev => {
        let row;
        try { row = JSON.parse(ev.data); } catch (e) { return; }
        newest = row.id;
        if (tbody.querySelector('tr[data-id="' + row.id + '"]')) return;
        tbody.insertBefore(logRow(row, opts), tbody.firstChild);
        while (tbody.children.length > 500) tbody.removeChild(tbody.lastChild);
      });
      src.addEventListener('error', () => {
        if (src.readyState !== EventSource.CLOSED) { say('reconnecting…', 'connecting'); return; }
        src.close();
        say('live view failed; retrying in ' + wait + ' s', 'failed');
        timer = setTimeout(connect, wait * 1000);
        wait = Math.min(wait * 2, 30);
      });
    }
    connect();
    const stop = () => { if (src) src.close(); clearTimeout(timer); say('', 'off'); };
    cleanup.push(stop);
    return stop;
  }

  // ------------------------------------------------------------ pages

  // A page's title with the period picker beside it.
  function titled(text, since) {
    return el('div', {class: 'title-row'}, el('h1', {}, text), period.picker(since));
  }

  async function overview(view) {
    const range = period.current();
    const [sum, hist, blocked, clients, domains] = await Promise.all([
      api('GET', '/api/summary' + qs({range})),
      api('GET', '/api/history' + qs({range})),
      api('GET', '/api/top/blocked' + qs({range, n: 10})),
      api('GET', '/api/top/clients' + qs({range, n: 10})),
      api('GET', '/api/top/domains' + qs({range, n: 10})),
    ]);
    const span = period.label(range);
    renderBlockingPill(sum.blocking);
    const chartBox = el('div', {class: 'chart', id: 'overview-chart'});
    const blockingBox = el('div', {});
    const cardSlot = el('div', {class: 'card-slot'});
    const drawBlocking = b => {
      clear(blockingBox);
      blockingBox.appendChild(blockingControls(b, drawBlocking));
      clear(cardSlot);
      cardSlot.appendChild(blockingCard(b, async () => { const f = await refreshBlocking(); if (f) drawBlocking(f); }));
    };
    drawBlocking(sum.blocking);
    const page = el('div', {class: 'page', id: 'page-overview'},
      titled('Overview', range),
      el('div', {class: 'cards'},
        card('Queries (' + span + ')', num(sum.total)),
        card('Blocked', num(sum.blocked), pct(sum.blocked_percent)),
        card('Devices', num(sum.devices)),
        card('Names on the lists', num(sum.blocked_names), num(sum.lists) + ' lists'),
        cardSlot),
      section('Queries over the ' + period.PERIODS.find(p => p[0] === range)[1], chartBox),
      section('Blocking', blockingBox),
      el('div', {class: 'columns'},
        section('Top blocked', rankTable(blocked.items, 'domain')),
        section('Top devices', rankTable(clients.items, 'device')),
        section('Top names', rankTable(domains.items, 'domain'))));
    view.show(page);
    chart(chartBox, hist);
  }

  // Fills `target` with the first `size` of `items` (made by `row`) and
  // returns a button that adds the next `size`, hidden when all are shown:
  // a long list stays a few lines until asked for.
  function pager(target, items, row, size, what) {
    let shown = 0;
    const more = el('button', {class: 'small more', type: 'button'});
    function next() {
      for (const i of items.slice(shown, shown + size)) target.appendChild(row(i));
      shown = Math.min(items.length, shown + size);
      more.hidden = shown >= items.length;
      more.textContent = 'Show ' + num(Math.min(size, items.length - shown)) + ' more ' + what;
    }
    more.addEventListener('click', next);
    next();
    return more;
  }

  function rankTable(items, kind, size) {
    if (!items.length) return el('p', {class: 'muted'}, 'Nothing yet.');
    const t = table([[kind === 'device' ? 'Device' : 'Name'], ['Queries', 'num'], ['Blocked', 'num']], []);
    const more = pager(t.querySelector('tbody'), items, i => el('tr', {},
      el('td', {class: 'domain'}, kind === 'device' ? el('a', {href: '#/device/' + i.id}, i.name) : i.name),
      el('td', {class: 'num'}, num(i.total)),
      el('td', {class: 'num'}, num(i.blocked))), size || items.length, kind === 'device' ? 'devices' : 'names');
    return el('div', {}, t, more);
  }

  async function devices(view) {
    const row = d => el('tr', {},
      el('td', {}, el('a', {href: '#/device/' + d.id, class: 'device-link'}, d.name)),
      el('td', {class: 'hide-narrow'}, d.addresses.join(', ')),
      el('td', {class: 'hide-narrow'}, d.groups.filter(g => !ownGroup(g)).join(', ')),
      el('td', {class: 'num'}, num(d.queries)),
      el('td', {class: 'num', title: d.queries ? pct(100 * d.blocked / d.queries) : ''}, num(d.blocked)),
      el('td', {class: 'nowrap'}, ago(d.last_seen_ms)));
    // The server sends a page at a time; "More" asks for the next one.
    const range = period.current();
    const r = await api('GET', '/api/devices' + qs({range, limit: 100}));
    const shown = el('p', {class: 'muted', id: 'devices-count'});
    const more = el('button', {id: 'more-devices', class: 'read'}, 'More');
    let next = r.next;
    const t = table([['Device'], ['Addresses', 'hide-narrow'], ['Groups', 'hide-narrow'], ['Queries (' + period.label(range) + ')', 'num'],
      ['Blocked', 'num'], ['Last seen']], r.devices.map(row));
    const tbody = t.querySelector('tbody');
    const update = () => {
      more.hidden = !next;
      shown.textContent = num(tbody.children.length) + ' of ' + num(r.total) + ' devices';
    };
    more.addEventListener('click', async () => {
      try {
        const p = await api('GET', '/api/devices' + qs({range, limit: 100, after: next}));
        for (const d of p.devices) tbody.appendChild(row(d));
        next = p.next;
        update();
      } catch (e) { failed(e); }
    });
    update();
    const groups = await manage.groupsSection();
    view.show(el('div', {class: 'page', id: 'page-devices'},
      titled('Devices', range),
      r.devices.length ? [t, shown, more] : el('p', {class: 'muted'}, 'No device has asked anything yet.'), groups,
      controls.timedSection()));
  }

  // One device, compact: the numbers, what it phones home to, the chart,
  // short lists that open on demand, the newest log rows, then its settings.
  // Everything is over the same period, the page's picker (new names:
  // since midnight).
  async function device(id, view) {
    const range = period.current(), span = period.label(range);
    // Asked with the others; its section shows its failure.
    const report = phoneHome.deviceReport(id, range);
    report.catch(() => {});
    const [d, hist, log] = await Promise.all([
      api('GET', '/api/devices/' + encodeURIComponent(id) + qs({range})),
      api('GET', '/api/history' + qs({range, device: id})),
      api('GET', '/api/log' + qs({limit: 25, device: id, since: range})),
    ]);
    // The device's own group stays out of sight and is kept on save.
    const own = d.groups.filter(ownGroup);
    const nameInput = el('input', {type: 'text', id: 'device-name', value: d.custom_name, placeholder: d.discovered_name || d.name, maxlength: 64});
    const groupsInput = el('input', {type: 'text', id: 'device-groups', value: d.groups.filter(g => !ownGroup(g)).join(', '), placeholder: 'default'});
    const form = el('form', {class: 'inline-form', id: 'device-form'},
      el('label', {}, 'Name ', nameInput), el('label', {}, 'Groups ', groupsInput),
      el('button', {type: 'submit'}, 'Save'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const groups = groupsInput.value.split(',').map(s => s.trim()).filter(g => g && !ownGroup(g));
      try {
        await api('PUT', '/api/devices/' + encodeURIComponent(id), {name: nameInput.value.trim(), groups: (groups.length ? groups : ['default']).concat(own)});
        toast('Saved');
        route();
      } catch (e) { failed(e); }
    });
    const opts = {device: false, withDate: range !== '24h', since: range, status: el('span', {id: 'device-live-status', class: 'live-status', role: 'status'})};
    const tbody = el('tbody', {}, log.rows.map(r => logRow(r, opts)));
    const older = el('button', {class: 'small more', id: 'device-log-more', hidden: !log.next_before}, 'Older');
    let before = log.next_before;
    older.addEventListener('click', async () => {
      try {
        const r = await api('GET', '/api/log' + qs({limit: 25, device: id, before, since: range}));
        for (const row of r.rows) tbody.appendChild(logRow(row, opts));
        before = r.next_before;
        older.hidden = !before;
      } catch (e) { failed(e); }
    });
    const fresh = d.new_domains_today;
    const freshTotal = d.new_domains_today_total === undefined ? fresh.length : d.new_domains_today_total;
    const freshList = el('ul', {class: 'plain', id: 'new-names'});
    const freshMore = pager(freshList, fresh, n => el('li', {class: 'domain'}, n.domain, ' ', el('span', {class: 'muted'}, time(n.first_seen_ms))), 5, 'names');
    const chartBox = el('div', {class: 'chart'});
    view.show(el('div', {class: 'page', id: 'page-device'},
      el('div', {class: 'title-row'}, el('h1', {id: 'device-title'}, d.name), period.picker(range)),
      el('p', {class: 'muted'}, d.addresses.join(', '), d.mac ? ' · ' + d.mac : ''),
      el('div', {class: 'cards'},
        card('Queries (' + span + ')', num(d.summary.total)),
        card('Blocked (' + span + ')', num(d.summary.blocked), pct(d.summary.blocked_percent) + ' of queries'),
        el('div', {class: 'card', id: 'new-names-card'}, el('div', {class: 'label'}, 'New names today'),
          el('div', {class: 'value'}, atLeast(freshTotal, d.new_domains_today_capped))),
        card('Last seen', ago(d.last_seen_ms), 'first seen ' + new Date(d.first_seen_ms).toLocaleDateString())),
      phoneHome.deviceSection(id, range, report),
      controls.deviceSection(id),
      section('Queries over the ' + period.PERIODS.find(p => p[0] === range)[1], chartBox),
      el('div', {class: 'columns'},
        section('Top names', rankTable(d.top_domains, 'domain', 5)),
        section('Top blocked', rankTable(d.top_blocked, 'domain', 5)),
        section('New names today', fresh.length ? [freshList, freshMore,
          freshTotal > fresh.length ? el('p', {class: 'muted'}, 'The newest ' + num(fresh.length) + ' of ' + atLeast(freshTotal, d.new_domains_today_capped) + '.') : null] :
          el('p', {class: 'muted'}, 'None.'))),
      el('section', {class: 'panel'}, el('h2', {}, 'Query log ', opts.status), logTable('device-log', opts, tbody), older),
      section('Name and groups', form)));
    chart(chartBox, hist);
    liveTail(view, {device: id, after: log.rows.length ? log.rows[0].id : undefined}, tbody, opts);
  }

  async function queryLog(view) {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const f = {
      device: params.get('device') || '', client: params.get('client') || '', domain: params.get('domain') || '', q: params.get('q') || '',
      // The shared period unless the address asks for a narrower one or
      // for "all" (any time).
      status: params.get('status') || '', type: params.get('type') || '', since: params.get('since') || period.current(),
    };
    const sinceParam = f.since === 'all' ? '' : f.since;
    // Devices to pick from (the 100 seen last in the range), so nobody has
    // to type a name exactly.
    const known = await api('GET', '/api/devices' + qs({range: sinceParam || '30d', limit: 100}));
    const deviceOptions = [el('option', {value: ''}, 'any device')].concat(known.devices.map(d =>
      el('option', {value: d.id, selected: String(d.id) === f.device}, d.name)));
    if (f.device && !known.devices.some(d => String(d.id) === f.device))
      deviceOptions.push(el('option', {value: f.device, selected: true}, 'device ' + f.device));
    const inputs = {
      q: el('input', {type: 'search', name: 'q', id: 'filter-q', placeholder: 'search names, devices, addresses, answers', value: f.q, 'aria-label': 'Search'}),
      device: el('select', {name: 'device', id: 'filter-device', 'aria-label': 'Device'}, deviceOptions),
      domain: el('input', {type: 'search', name: 'domain', id: 'filter-domain', placeholder: 'name contains', value: f.domain}),
      status: el('select', {name: 'status', 'aria-label': 'Status'}, ['', 'forwarded', 'cached', 'blocked', 'local', 'refused', 'error']
        .map(s => el('option', {value: s, selected: s === f.status}, s || 'any status'))),
      type: el('input', {type: 'text', name: 'type', placeholder: 'type (A, AAAA…)', value: f.type, size: 8}),
      since: el('select', {name: 'since', id: 'filter-since', class: 'period', 'aria-label': 'Period'},
        [['15m', 'last 15 min'], ['1h', 'last hour']].concat(period.PERIODS.map(p => [p[0], p[1]]), [['all', 'any time']])
          .map(([v, t]) => el('option', {value: v, selected: v === f.since}, t))),
    };
    const live = el('input', {type: 'checkbox', id: 'live', checked: true});
    const liveStatus = el('span', {id: 'live-status', class: 'live-status', role: 'status'});
    const form = el('form', {class: 'filters', id: 'log-filters'},
      Object.values(inputs), el('label', {class: 'check'}, live, ' live'), liveStatus, el('button', {type: 'submit', class: 'read'}, 'Filter'));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if (f.client) p.set('client', f.client);
      for (const [k, i] of Object.entries(inputs)) if (i.value) p.set(k, i.value);
      // 24 h, 7 days or 30 days here is the period of every page.
      if (period.known(inputs.since.value)) period.keep(inputs.since.value);
      location.hash = '#/log' + (p.toString() ? '?' + p.toString() : '');
    });
    for (const i of [inputs.device, inputs.status, inputs.since]) i.addEventListener('change', () => form.requestSubmit());
    // Dates on every row when the period spans days.
    const opts = {device: true, withDate: sinceParam === '' || /d$/.test(sinceParam), status: liveStatus, since: sinceParam};
    const query = Object.assign({}, f, {since: sinceParam});
    const tbody = el('tbody', {});
    const more = el('button', {id: 'load-more', class: 'read', hidden: true}, 'Older');
    let before = 0;
    async function load() {
      const r = await api('GET', '/api/log' + qs(Object.assign({limit: 100, before: before || ''}, query)));
      for (const row of r.rows) tbody.appendChild(logRow(row, opts));
      before = r.next_before;
      more.hidden = !before;
      return r;
    }
    more.addEventListener('click', () => load().catch(failed));
    view.show(el('div', {class: 'page', id: 'page-log'},
      el('h1', {}, 'Query log'), form, logTable('log-table', opts, tbody), more));
    const first = await load();
    if (view.stale) return;
    let stop = null;
    const startLive = () => {
      if (stop) stop();
      stop = live.checked ? liveTail(view, Object.assign({after: first.rows.length ? first.rows[0].id : undefined}, query), tbody, opts) : null;
    };
    live.addEventListener('change', startLive);
    startLive();
  }

  async function lists(view) {
    const [r, cat, rules] = await Promise.all([api('GET', '/api/lists'), api('GET', '/api/lists/catalog'), api('GET', '/api/rules')]);
    const page = el('div', {class: 'page', id: 'page-lists'}, el('h1', {}, 'Lists'));
    // Subscriptions.
    const subsRows = r.subscriptions.map(s => {
      const u = s.update;
      const status = u && u.running ?
        el('progress', {max: u.total_bytes || 1, value: u.done_bytes, 'aria-label': 'downloading'}) :
        s.last_error ? el('span', {class: 'error'}, s.last_error) :
        s.has_copy ? el('span', {}, 'updated ' + ago(s.last_success * 1000)) : el('span', {class: 'muted'}, 'not downloaded yet');
      return el('tr', {'data-name': s.name},
        el('td', {}, el('strong', {class: 'sub-title'}, s.title || s.name), el('div', {class: 'muted url'}, s.url)),
        el('td', {class: 'num'}, num(s.entries)),
        el('td', {class: 'hide-narrow'}, targetsText(s.targets || s.groups.map(g => ({group: g, label: g})))),
        el('td', {}, status),
        el('td', {class: 'nowrap'},
          el('button', {class: 'small', disabled: !!(u && u.running), onclick: async () => {
            try { await api('POST', '/api/lists/' + encodeURIComponent(s.name) + '/update'); toast('Updating ' + (s.title || s.name)); watch(); } catch (e) { failed(e); }
          }}, 'Update now'), ' ',
          el('button', {class: 'small danger', onclick: async () => {
            if (!confirm('Remove ' + (s.title || s.name) + '?')) return;
            try { await api('DELETE', '/api/lists/' + encodeURIComponent(s.name)); toast('Removed ' + (s.title || s.name)); route(); } catch (e) { failed(e); }
          }}, 'Remove')));
    });
    const url = el('input', {type: 'url', name: 'url', placeholder: 'https://example.org/hosts.txt', required: true});
    const name = el('input', {type: 'text', name: 'name', placeholder: 'name (optional)'});
    const groups = el('input', {type: 'text', name: 'groups', placeholder: 'groups (default)'});
    const addForm = el('form', {class: 'inline-form', id: 'add-list'}, url, name, groups, el('button', {type: 'submit'}, 'Subscribe'));
    addForm.addEventListener('submit', async ev => {
      ev.preventDefault();
      await subscribe({url: url.value.trim(), name: name.value.trim(), groups: groups.value.split(',').map(s => s.trim()).filter(Boolean)});
    });
    async function subscribe(body) {
      try { await api('POST', '/api/lists', body); toast('Subscribed; downloading'); route(); } catch (e) { failed(e); }
    }
    page.appendChild(section('Subscriptions',
      r.subscriptions.length ? table([['List'], ['Rules', 'num'], ['Groups', 'hide-narrow'], ['Status'], ['']], subsRows) :
        el('p', {class: 'muted'}, 'No subscriptions yet: add a URL or pick one from the catalog.'),
      addForm));
    const switches = await manage.switchesSection();
    if (switches) page.appendChild(switches);
    // Lists from the configuration file.
    if (r.configured.length)
      page.appendChild(section('Lists from the configuration', table([['List'], ['Rules', 'num'], ['File changed'], ['']],
        r.configured.map(l => el('tr', {}, el('td', {}, l.name), el('td', {class: 'num'}, num(l.entries)),
          el('td', {}, when(l.modified * 1000)), el('td', {}, l.ok ? '' : el('span', {class: 'error'}, 'unreadable')))))));
    // Allow and deny entries.
    const pattern = el('input', {type: 'text', name: 'pattern', id: 'rule-pattern', placeholder: 'ads.example, *.example, ||example^ or /regex/', required: true});
    const kind = el('select', {name: 'kind', id: 'rule-kind'}, el('option', {value: 'deny'}, 'Block'), el('option', {value: 'allow'}, 'Allow'));
    const ruleForm = el('form', {class: 'inline-form', id: 'add-rule'}, kind, pattern, el('button', {type: 'submit'}, 'Add'));
    ruleForm.addEventListener('submit', async ev => {
      ev.preventDefault();
      if (await addRule(kind.value, pattern.value.trim())) route();
    });
    // Entries "block this company" added are one line per company and
    // device (or group), saying what they block; the others one line each.
    const removeRule = x => el('button', {class: 'small', onclick: async () => {
      try { await api('DELETE', '/api/rules/' + x.id); toast('Removed ' + x.pattern); route(); } catch (e) { failed(e); }
    }}, 'Remove');
    const byCompany = new Map();
    const single = [];
    for (const x of rules.rules) {
      if (!x.company) { single.push(x); continue; }
      const key = x.company.id + '|' + x.groups.join(',');
      if (!byCompany.has(key)) byCompany.set(key, {company: x.company, targets: x.targets, rules: []});
      byCompany.get(key).rules.push(x);
    }
    const companyRows = [...byCompany.values()].map(c => el('tr', {class: 'company-rule', 'data-company': c.company.id},
      el('td', {},
        el('strong', {}, c.company.name), ' ', el('span', {class: 'badge blocked'}, 'blocked'),
        el('div', {}, 'for ', targetsText(c.targets), ' · ', el('a', {href: '#/company/' + encodeURIComponent(c.company.id)}, 'what ' + c.company.name + ' does')),
        el('details', {class: 'names'}, el('summary', {}, num(c.rules.length) + ' domains of ' + c.company.name + ', each with every name under it'),
          el('ul', {class: 'plain'}, c.rules.map(x => el('li', {'data-rule': x.pattern},
            el('span', {class: 'domain'}, x.pattern.replace(/^\|\|/, '').replace(/\^$/, '')),
            el('span', {class: 'muted'}, ' blocks ', x.pattern.replace(/^\|\|/, '').replace(/\^$/, ''), ' and every name under it'), ' ',
            removeRule(x)))))),
      el('td', {}, el('button', {class: 'small', onclick: async () => {
        try {
          for (const x of c.rules) await api('DELETE', '/api/rules/' + x.id);
          toast('Unblocked ' + c.company.name);
          route();
        } catch (e) { failed(e); }
      }}, 'Unblock'))));
    page.appendChild(section('Allowed and blocked names',
      companyRows.length ? table([['Blocked companies'], ['']], companyRows, 'company-rules') : null,
      single.length ? table([['Name'], ['Kind'], ['For', 'hide-narrow'], ['Added', 'hide-narrow'], ['']],
        single.map(x => el('tr', {'data-rule': x.pattern},
          el('td', {class: 'domain'}, x.pattern), el('td', {}, el('span', {class: 'badge ' + (x.kind === 'deny' ? 'blocked' : 'forwarded')}, x.kind === 'deny' ? 'block' : 'allow')),
          el('td', {class: 'hide-narrow'}, targetsText(x.targets || x.groups.map(g => ({group: g, label: g})))),
          el('td', {class: 'hide-narrow'}, when(x.added * 1000)),
          el('td', {}, removeRule(x))))) :
        companyRows.length ? null : el('p', {class: 'muted'}, 'None yet. The query log has one-click Block and Allow buttons.'),
      ruleForm));
    // The catalog.
    page.appendChild(section('Catalog', table([['List'], ['Category', 'hide-narrow'], ['']],
      cat.entries.map(c => el('tr', {},
        el('td', {}, el('strong', {}, c.name), el('div', {class: 'muted'}, c.vendor ? c.vendor + ' · ' : '', c.format, c.license ? ' · ' + c.license : '')),
        el('td', {class: 'hide-narrow'}, c.category),
        el('td', {}, c.subscribed ? el('span', {class: 'muted'}, 'subscribed') :
          el('button', {class: 'small', onclick: () => subscribe({url: 'catalog:' + c.id})}, 'Subscribe')))))));
    view.show(page);
    // While a download runs, refresh the page every second.
    function watch() {
      const t = setTimeout(async () => {
        try {
          const now = await api('GET', '/api/lists');
          if (now.subscriptions.some(s => s.update && s.update.running)) watch();
          if (location.hash.startsWith('#/lists')) route();
        } catch (e) { /* next page load shows it */ }
      }, 1000);
      cleanup.push(() => clearTimeout(t));
    }
    if (r.subscriptions.some(s => s.update && s.update.running)) watch();
  }

  // blocking.mode as a sentence: what a blocked device gets back.
  function modeText(b) {
    switch (b.mode) {
      case 'null': return 'Null address: blocked names answer 0.0.0.0 (IPv4) and :: (IPv6)';
      case 'ip': return 'Fixed address: blocked names answer ' + b.ipv4 + ' (IPv4) and ' + b.ipv6 + ' (IPv6)';
      case 'nxdomain': return 'NXDOMAIN: blocked names do not exist';
      case 'nodata': return 'No data: blocked names exist but have no addresses';
      default: return String(b.mode);
    }
  }
  async function settings(view) {
    const [s, b, me, alerts] = await Promise.all([api('GET', '/api/settings'), api('GET', '/api/blocking'), api('GET', '/api/account'),
      api('GET', '/api/alerts')]);
    const admin = me.role === 'admin';
    const tokens = admin ? await api('GET', '/api/tokens') : {tokens: []};
    const accountBox = await account.accountSection(me);
    const blockingBox = el('div', {});
    const draw = x => { clear(blockingBox); blockingBox.appendChild(blockingControls(x, draw)); };
    draw(b);
    const kv = pairs => el('dl', {class: 'kv'}, pairs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const tokenName = el('input', {type: 'text', name: 'token-name', placeholder: 'what the token is for', required: true});
    const tokenOut = el('p', {class: 'token-out'});
    const tokenRole = el('select', {name: 'token-role', id: 'token-role', 'aria-label': 'What the token may do'},
      el('option', {value: 'admin'}, 'read and change'), el('option', {value: 'read-only'}, 'read only'));
    const tokenForm = el('form', {class: 'inline-form', id: 'token-form'}, tokenName, tokenRole, el('button', {type: 'submit'}, 'Create token'));
    tokenForm.addEventListener('submit', async ev => {
      ev.preventDefault();
      try {
        const t = await api('POST', '/api/tokens', {name: tokenName.value.trim(), role: tokenRole.value});
        tokenOut.textContent = 'New token (shown once): ' + t.token;
        tokenName.value = '';
      } catch (e) { failed(e); }
    });
    const editable = await manage.settingsSection();
    view.show(el('div', {class: 'page', id: 'page-settings'},
      el('h1', {}, 'Settings'), editable, manage.localSection(),
      section('Blocking', blockingBox, kv([
        ['Mode', modeText(s.blocking)],
        ['Answer TTL', s.blocking.ttl + ' s'],
        ['CNAME inspection', s.blocking.cname_inspection ? 'on' : 'off'],
        ['Special names', s.blocking.special_names ? 'on' : 'off']])),
      section('Upstreams and addresses', kv([
        ['Upstream servers', s.upstreams.join(', ')], ['DNS on', s.listen.join(', ')], ['Dashboard on', s.http_listen],
        ['Data directory', s.data_dir], ['Cache', num(s.cache.max_entries) + ' entries, TTL at most ' + s.cache.max_ttl + ' s']]),
        el('p', {class: 'muted'}, 'What hush runs with now; change them under DNS settings above.')),
      section('Query log', kv([
        ['Raw rows kept', s.querylog ? Math.round(s.querylog.raw_retention_s / 86400) + ' days' : '—'],
        ['Counts kept', s.querylog ? Math.round(s.querylog.aggregate_retention_s / 86400) + ' days' : '—']])),
      accountBox,
      admin ? section('API tokens', tokens.tokens.length ? table([['Id'], ['Name'], ['May'], ['Created'], ['']],
        tokens.tokens.map(t => el('tr', {}, el('td', {}, t.id), el('td', {}, t.name), el('td', {}, t.role === 'read-only' ? 'read only' : 'read and change'),
          el('td', {}, when(t.created * 1000)),
          el('td', {}, el('button', {class: 'small danger', onclick: async () => {
            try { await api('DELETE', '/api/tokens/' + t.id); route(); } catch (e) { failed(e); }
          }}, 'Revoke'))))) : el('p', {class: 'muted'}, 'No tokens.'), tokenForm, tokenOut,
        el('p', {class: 'muted'}, 'Scripts send the token as "Authorization: Bearer <token>". The API is described in /openapi.yaml.')) : null,
      alertsSection(alerts.sinks),
      admin ? backupSection() : null,
      syncSection(kv),
      section('Session', el('button', {id: 'logout', onclick: async () => {
        try { await api('POST', '/api/logout'); } catch (e) { /* gone anyway */ }
        csrf = '';
        showLogin();
      }}, 'Log out'))));
  }

  // A replica: which version of its primary's settings it holds and when it
  // last heard from it. A primary: the replicas that asked lately, with the
  // answers each says it gave (each keeps its own query log).
  function syncSection(kv) {
    const box = el('div', {id: 'sync-status'});
    const ago = t => t ? when(t * 1000) : 'never';
    api('GET', '/api/sync/status').then(st => {
      if (st.role === 'replica') {
        box.appendChild(kv([['Primary', st.primary], ['Version held', String(st.version)], ['Applied', ago(st.applied)],
          ['Last heard from the primary', ago(st.last_heard)]]));
        if (st.error) box.appendChild(el('p', {class: 'bad'}, st.error));
        if (st.needs_restart) box.appendChild(el('p', {class: 'bad'}, 'From the primary, waiting for a restart of this hush: ' + st.needs_restart));
        box.appendChild(el('p', {class: 'muted'}, 'This hush follows its primary: make changes there.'));
      } else if (st.replicas.length) {
        box.appendChild(table([['Replica'], ['Version held'], ['Last asked'], ['Answered since its start', 'num'], ['Blocked', 'num']],
          st.replicas.map(r => el('tr', {class: 'sync-replica'}, el('td', {}, r.address), el('td', {}, String(r.version)),
            el('td', {}, ago(r.last_seen)), el('td', {class: 'num'}, num(r.queries)), el('td', {class: 'num'}, num(r.blocked))))));
        box.appendChild(el('p', {class: 'muted'}, 'Settings version here: ' + (st.feed ? st.feed.version : '?')));
      } else {
        box.appendChild(el('p', {class: 'muted'}, 'No replica follows this hush ([sync] in a replica\'s configuration).'));
      }
    }).catch(() => {});
    return section('Sync', box);
  }

  // Each [[alerts.sink]] and how its last delivery went.
  function alertsSection(sinks) {
    if (!sinks.length)
      return section('Alerts', el('p', {class: 'muted'}, 'No alert sinks. Add [[alerts.sink]] tables to the configuration file (see the README) and send hush SIGHUP (or restart it).'));
    const state = x => x.state === 'ok' ? [el('span', {class: 'badge ok'}, 'delivered'), ' ', time(x.last_ok_ms)] : x.state === 'idle' ? 'nothing sent yet'
      : el('span', {}, el('span', {class: 'badge ' + x.state}, x.state === 'failed' ? 'failed, gave up' : x.state), ' ', x.last_error,
        x.next_retry_ms ? ' (next try ' + time(x.next_retry_ms) + ')' : '');
    const row = x => el('tr', {class: 'alert-sink'}, el('td', {}, x.name), el('td', {}, x.kind), el('td', {class: 'alert-state'}, state(x)),
      el('td', {}, when(x.last_attempt_ms)), el('td', {class: 'num'}, num(x.sent)), el('td', {class: 'num'}, num(x.failed)));
    return section('Alerts', table([['Sink'], ['Kind'], ['Last delivery'], ['Last attempt'], ['Sent', 'num'], ['Failed', 'num']],
      sinks.map(row), 'alert-sinks'));
  }

  // Download a backup; upload one, see what it would change, then apply it.
  function backupSection() {
    const file = el('input', {type: 'file', id: 'restore-file', accept: '.json,application/json'});
    const preview = el('div', {id: 'restore-preview'});
    const show = (r, text) => {
      clear(preview);
      preview.appendChild(table([['Part'], ['Change'], ['Takes effect']], r.changes.map(c =>
        el('tr', {}, el('td', {}, c.part), el('td', {}, c.what), el('td', {}, c.what === 'unchanged' ? '' : c.when)))));
      for (const e of r.errors) preview.appendChild(el('p', {class: 'bad'}, e));
      if (r.applied) preview.appendChild(el('p', {id: 'restore-done'}, 'Restored.'));
      else if (!r.errors.length) preview.appendChild(el('button', {id: 'restore-apply', onclick: async () => {
        try { show(await apiText('/api/restore', text), text); } catch (e) { failed(e); }
      }}, 'Restore this backup'));
    };
    file.addEventListener('change', async () => {
      clear(preview);
      if (!file.files.length) return;
      const text = await file.files[0].text();
      try { show(await apiText('/api/restore?dry_run=1', text), text); } catch (e) {
        preview.appendChild(el('p', {class: 'bad', id: 'restore-error'}, e.message));
      }
    });
    return section('Backup and restore',
      el('p', {}, el('a', {href: '/api/backup', id: 'backup-download', download: ''}, 'Download a backup'),
        ' of the configuration, rules, devices, local records, list subscriptions, password and tokens (hashed).'),
      el('p', {}, 'Restore from a file: ', file),
      preview,
      el('p', {class: 'muted'}, 'Nothing changes until you press Restore. The configuration file is restored with ' +
        '"hush restore --config FILE"; lists download again, and the query log stays as it is.'));
  }

  // ------------------------------------------------------------ routing

  function leave() {
    for (const f of cleanup) { try { f(); } catch (e) { /* ignore */ } }
    cleanup = [];
  }
  // Each route() call counts; a page still loading when another is asked
  // for is dropped (its view turns stale and show() refuses it), so two
  // quick clicks never put two pages on the screen.
  let routes = 0;
  class Stale extends Error {}
  function newView() {
    const mine = ++routes;
    return {
      get stale() { return mine !== routes; },
      show(node) {
        if (mine !== routes) throw new Stale('left');
        main.appendChild(node);
      },
    };
  }
  async function route() {
    leave();
    const view = newView();
    const hash = location.hash || '#/';
    const path = hash.slice(1).split('?')[0];
    let page = 'overview', render = overview;
    let m;
    if (path === '/devices') { page = 'devices'; render = devices; }
    else if ((m = path.match(/^\/device\/(\d+)$/))) { page = 'devices'; render = v => device(m[1], v); }
    else if (path === '/log') { page = 'log'; render = queryLog; }
    else if (path === '/lists') { page = 'lists'; render = lists; }
    else if (path === '/schedules') { page = 'schedules'; render = schedules.page; }
    else if (path === '/settings') { page = 'settings'; render = settings; }
    else if (path === '/phonehome') { page = 'phonehome'; render = phoneHome.overview; }
    else if ((m = path.match(/^\/company\/([^/]+)$/))) { page = 'phonehome'; render = v => phoneHome.company(decodeURIComponent(m[1]), v); }
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page);
    clear(main);
    main.appendChild(el('p', {class: 'muted loading'}, 'Loading…'));
    try {
      const loading = main.firstChild;
      await render(view);
      if (view.stale) return;
      if (loading.parentNode === main) main.removeChild(loading);
      document.body.dataset.page = page;
      if (page !== 'overview') refreshBlocking();
    } catch (e) {
      if (e instanceof Stale || view.stale) return;
      if (e instanceof ApiError && e.status === 401) return;
      clear(main);
      main.appendChild(el('p', {class: 'error'}, 'Could not load this page: ' + e.message));
    }
  }

  const phoneHome = window.hushPhoneHome({el, clear, api, qs, toast, failed, section, table, card, num, pct, when, chart, route, main, pager});
  const manage = window.hushManage({el, clear, api, toast, failed, section, table, route, countdown, localEnd, duration});
  const account = window.hushAccount({el, clear, api, toast, failed, section, table, when});
  const controls = window.hushControls({el, clear, api, toast, failed, section, table, countdown, localEnd, duration});
  const schedules = window.hushSchedules({el, clear, api, toast, failed, section, table, route});

  window.addEventListener('hashchange', route);
  (async function start() {
    try {
      const s = await api('GET', '/api/session');
      if (!s.logged_in) { showLogin(); return; }
      csrf = s.csrf;
      setRole(s.role);
      nav.hidden = false;
      route();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showLogin();
    }
  })();
})();
