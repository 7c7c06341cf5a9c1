// hush dashboard: a small single-page app over the JSON API (/api, see
// /openapi.yaml). Everything that came from the network (query names, device
// names, list names, errors) is put into the page as text: elements are made
// with document.createElement and filled with textContent, never innerHTML.
'use strict';

(function () {
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const blockingPill = document.getElementById('blocking-state');
  const toastBox = document.getElementById('toast');
  let csrf = '';
  let cleanup = [];  // stops timers and live views of the page being left

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
  // `action` ({label, run}) adds a button, e.g. an undo, and keeps the toast longer.
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
    constructor(status, message) { super(message); this.status = status; }
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
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText);
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
    nav.hidden = true;
    blockingPill.hidden = true;
    clear(main);
    const input = el('input', {type: 'password', id: 'password', name: 'password', autocomplete: 'current-password',
      required: true, 'aria-label': 'Password'});
    const msg = el('p', {class: 'error', id: 'login-error'});
    const form = el('form', {class: 'login panel', id: 'login-form'},
      el('h1', {}, 'hush'),
      el('label', {for: 'password'}, 'Admin password'), input,
      el('button', {type: 'submit', id: 'login-button'}, 'Log in'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      msg.textContent = '';
      try {
        const r = await api('POST', '/api/login', {password: input.value});
        csrf = r.csrf;
        input.value = '';
        nav.hidden = false;
        route();
      } catch (e) {
        msg.textContent = e.status === 429 ? 'Too many attempts; wait a minute.' :
          e.status === 401 ? 'Wrong password.' : e.message;
      }
    });
    main.appendChild(form);
    input.focus();
  }

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
    blockingPill.textContent = b.enabled ? 'Blocking on' :
      b.until ? 'Paused until ' + time(b.until * 1000) : 'Blocking off';
  }
  function blockingControls(b, after) {
    async function set(enabled, seconds) {
      try {
        const r = await api('PUT', '/api/blocking', {enabled, seconds});
        renderBlockingPill(r);
        toast(enabled ? 'Blocking is on' : seconds ? 'Blocking paused for ' + Math.round(seconds / 60) + ' min' : 'Blocking is off');
        if (after) after(r);
      } catch (e) { failed(e); }
    }
    if (!b.enabled) return el('div', {class: 'buttons'}, el('button', {id: 'blocking-on', onclick: () => set(true, 0)}, 'Turn blocking on'));
    return el('div', {class: 'buttons'},
      el('button', {id: 'pause-5', onclick: () => set(false, 300)}, 'Pause 5 min'),
      el('button', {onclick: () => set(false, 1800)}, 'Pause 30 min'),
      el('button', {onclick: () => set(false, 3600)}, 'Pause 1 h'),
      el('button', {class: 'danger', onclick: () => set(false, 0)}, 'Turn off'));
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
    const opts = {
      width: width(), height: 220,
      cursor: {drag: {x: false, y: false}},
      scales: {x: {time: true}, y: {range: (u, min, max) => [0, Math.max(1, max)]}},
      series: [
        {},
        {label: 'Allowed', stroke: '#2f855a', fill: 'rgba(47,133,90,0.15)', width: 2},
        {label: 'Blocked', stroke: '#c53030', fill: 'rgba(197,48,48,0.18)', width: 2},
      ],
      axes: [{}, {size: 50}],
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
  function ruleButtons(row) {
    const blocked = row.status === 'blocked';
    return el('button', {
      class: blocked ? 'small allow' : 'small deny',
      'data-domain': row.domain,
      title: (blocked ? 'Allow ' : 'Block ') + row.domain,
      onclick: async ev => {
        ev.target.disabled = true;
        if (await addRule(blocked ? 'allow' : 'deny', row.domain)) ev.target.textContent = blocked ? 'Allowed' : 'Blocked';
        else ev.target.disabled = false;
      },
    }, blocked ? 'Allow' : 'Block');
  }
  function logRow(r, showDevice) {
    return el('tr', {'data-id': r.id, class: 'row-' + r.status},
      el('td', {class: 'nowrap'}, time(r.time_ms)),
      showDevice ? el('td', {class: 'hide-narrow'}, el('a', {href: '#/device/' + r.device_id}, r.device)) : null,
      el('td', {class: 'domain'}, r.domain),
      el('td', {class: 'hide-narrow'}, r.type),
      el('td', {}, badge(r.status), r.reason ? el('div', {class: 'reason'}, r.reason) : null),
      el('td', {}, ruleButtons(r)));
  }
  function logHeaders(showDevice) {
    return [['Time'], showDevice ? ['Device', 'hide-narrow'] : null, ['Name'], ['Type', 'hide-narrow'], ['Status'], ['']]
      .filter(Boolean);
  }

  // A live view of new rows (server-sent events), prepended to `tbody`.
  function liveTail(params, tbody, showDevice, onRow) {
    const src = new EventSource('/api/log/stream' + qs(params));
    src.addEventListener('query', ev => {
      let row;
      try { row = JSON.parse(ev.data); } catch (e) { return; }
      if (tbody.querySelector('tr[data-id="' + row.id + '"]')) return;
      tbody.insertBefore(logRow(row, showDevice), tbody.firstChild);
      while (tbody.children.length > 500) tbody.removeChild(tbody.lastChild);
      if (onRow) onRow(row);
    });
    cleanup.push(() => src.close());
    return src;
  }

  // ------------------------------------------------------------ pages

  async function overview() {
    const [sum, hist, blocked, clients, domains] = await Promise.all([
      api('GET', '/api/summary?range=24h'),
      api('GET', '/api/history?range=24h'),
      api('GET', '/api/top/blocked?range=24h&n=10'),
      api('GET', '/api/top/clients?range=24h&n=10'),
      api('GET', '/api/top/domains?range=24h&n=10'),
    ]);
    renderBlockingPill(sum.blocking);
    const chartBox = el('div', {class: 'chart', id: 'overview-chart'});
    const blockingBox = el('div', {});
    const drawBlocking = b => { clear(blockingBox); blockingBox.appendChild(blockingControls(b, drawBlocking)); };
    drawBlocking(sum.blocking);
    const page = el('div', {class: 'page', id: 'page-overview'},
      el('h1', {}, 'Overview'),
      el('div', {class: 'cards'},
        card('Queries (24 h)', num(sum.total)),
        card('Blocked', num(sum.blocked), pct(sum.blocked_percent)),
        card('Devices', num(sum.devices)),
        card('Names on the lists', num(sum.blocked_names), num(sum.lists) + ' lists'),
        card('Blocking', sum.blocking.enabled ? 'On' : 'Off',
          sum.blocking.until ? 'until ' + time(sum.blocking.until * 1000) : '')),
      section('Queries over 24 hours', chartBox),
      section('Blocking', blockingBox),
      el('div', {class: 'columns'},
        section('Top blocked', rankTable(blocked.items, 'domain')),
        section('Top devices', rankTable(clients.items, 'device')),
        section('Top names', rankTable(domains.items, 'domain'))));
    main.appendChild(page);
    chart(chartBox, hist);
  }

  function rankTable(items, kind) {
    if (!items.length) return el('p', {class: 'muted'}, 'Nothing yet.');
    return table([[kind === 'device' ? 'Device' : 'Name'], ['Queries', 'num'], ['Blocked', 'num']],
      items.map(i => el('tr', {},
        el('td', {class: 'domain'}, kind === 'device' ? el('a', {href: '#/device/' + i.id}, i.name) : i.name),
        el('td', {class: 'num'}, num(i.total)),
        el('td', {class: 'num'}, num(i.blocked)))));
  }

  async function devices() {
    const row = d => el('tr', {},
      el('td', {}, el('a', {href: '#/device/' + d.id, class: 'device-link'}, d.name)),
      el('td', {class: 'hide-narrow'}, d.addresses.join(', ')),
      el('td', {class: 'hide-narrow'}, d.groups.join(', ')),
      el('td', {class: 'num'}, num(d.queries)),
      el('td', {class: 'num'}, d.queries ? pct(100 * d.blocked / d.queries) : '—'),
      el('td', {class: 'nowrap'}, ago(d.last_seen_ms)));
    // The server sends a page at a time; "More" asks for the next one.
    const r = await api('GET', '/api/devices?range=24h&limit=100');
    const shown = el('p', {class: 'muted', id: 'devices-count'});
    const more = el('button', {id: 'more-devices'}, 'More');
    let next = r.next;
    const t = table([['Device'], ['Addresses', 'hide-narrow'], ['Groups', 'hide-narrow'], ['Queries (24 h)', 'num'],
      ['Blocked', 'num'], ['Last seen']], r.devices.map(row));
    const tbody = t.querySelector('tbody');
    const update = () => {
      more.hidden = !next;
      shown.textContent = num(tbody.children.length) + ' of ' + num(r.total) + ' devices';
    };
    more.addEventListener('click', async () => {
      try {
        const p = await api('GET', '/api/devices' + qs({range: '24h', limit: 100, after: next}));
        for (const d of p.devices) tbody.appendChild(row(d));
        next = p.next;
        update();
      } catch (e) { failed(e); }
    });
    update();
    main.appendChild(el('div', {class: 'page', id: 'page-devices'},
      el('h1', {}, 'Devices'),
      r.devices.length ? [t, shown, more] : el('p', {class: 'muted'}, 'No device has asked anything yet.')));
  }

  async function device(id) {
    const [d, hist, log] = await Promise.all([
      api('GET', '/api/devices/' + encodeURIComponent(id) + '?range=24h'),
      api('GET', '/api/history?range=24h&device=' + encodeURIComponent(id)),
      api('GET', '/api/log?limit=100&device=' + encodeURIComponent(id)),
    ]);
    const nameInput = el('input', {type: 'text', id: 'device-name', value: d.custom_name, placeholder: d.discovered_name || d.name, maxlength: 64});
    const groupsInput = el('input', {type: 'text', id: 'device-groups', value: d.groups.join(', '), placeholder: 'default'});
    const form = el('form', {class: 'inline-form', id: 'device-form'},
      el('label', {}, 'Name ', nameInput), el('label', {}, 'Groups ', groupsInput),
      el('button', {type: 'submit'}, 'Save'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const groups = groupsInput.value.split(',').map(s => s.trim()).filter(Boolean);
      try {
        await api('PUT', '/api/devices/' + encodeURIComponent(id), {name: nameInput.value.trim(), groups: groups.length ? groups : ['default']});
        toast('Saved');
        route();
      } catch (e) { failed(e); }
    });
    const tbody = el('tbody', {}, log.rows.map(r => logRow(r, false)));
    const chartBox = el('div', {class: 'chart'});
    main.appendChild(el('div', {class: 'page', id: 'page-device'},
      el('h1', {id: 'device-title'}, d.name),
      el('p', {class: 'muted'}, d.addresses.join(', '), d.mac ? ' · ' + d.mac : ''),
      el('div', {class: 'cards'},
        card('Queries (24 h)', num(d.summary.total)),
        card('Blocked share', pct(d.summary.blocked_percent), num(d.summary.blocked) + ' blocked'),
        card('New names today', num(d.new_domains_today.length)),
        card('First seen', new Date(d.first_seen_ms).toLocaleDateString(), time(d.first_seen_ms)),
        card('Last seen', ago(d.last_seen_ms))),
      section('Name and groups', form),
      section('Queries over 24 hours', chartBox),
      el('div', {class: 'columns'},
        section('Top names', rankTable(d.top_domains, 'domain')),
        section('Top blocked', rankTable(d.top_blocked, 'domain')),
        section('New names today', d.new_domains_today.length ?
          el('ul', {class: 'plain'}, d.new_domains_today.map(n => el('li', {class: 'domain'}, n.domain, ' ', el('span', {class: 'muted'}, time(n.first_seen_ms))))) :
          el('p', {class: 'muted'}, 'None.'))),
      phoneHome.deviceSection(id),
      section('Query log (live)', el('div', {class: 'table-wrap'},
        el('table', {id: 'device-log'},
          el('thead', {}, el('tr', {}, logHeaders(false).map(h => el('th', {class: h[1] || ''}, h[0])))), tbody)))));
    chart(chartBox, hist);
    liveTail({device: id, after: log.rows.length ? log.rows[0].id : undefined}, tbody, false);
  }

  async function queryLog() {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const f = {
      client: params.get('client') || '', domain: params.get('domain') || '', status: params.get('status') || '',
      type: params.get('type') || '', since: params.get('since') || '',
    };
    const inputs = {
      client: el('input', {type: 'text', name: 'client', placeholder: 'device, address or MAC', value: f.client}),
      domain: el('input', {type: 'text', name: 'domain', id: 'filter-domain', placeholder: 'name contains', value: f.domain}),
      status: el('select', {name: 'status'}, ['', 'forwarded', 'cached', 'blocked', 'local', 'refused', 'error']
        .map(s => el('option', {value: s, selected: s === f.status}, s || 'any status'))),
      type: el('input', {type: 'text', name: 'type', placeholder: 'type (A, AAAA…)', value: f.type, size: 8}),
      since: el('select', {name: 'since'}, [['', 'any time'], ['15m', 'last 15 min'], ['1h', 'last hour'], ['24h', 'last 24 h'], ['7d', 'last 7 days']]
        .map(([v, t]) => el('option', {value: v, selected: v === f.since}, t))),
    };
    const live = el('input', {type: 'checkbox', id: 'live', checked: true});
    const form = el('form', {class: 'filters', id: 'log-filters'},
      Object.values(inputs), el('label', {class: 'check'}, live, ' live'), el('button', {type: 'submit'}, 'Filter'));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const [k, i] of Object.entries(inputs)) if (i.value) p.set(k, i.value);
      location.hash = '#/log' + (p.toString() ? '?' + p.toString() : '');
    });
    const tbody = el('tbody', {});
    const more = el('button', {id: 'load-more', hidden: true}, 'Older');
    let before = 0;
    async function load() {
      const r = await api('GET', '/api/log' + qs(Object.assign({limit: 100, before: before || ''}, f)));
      for (const row of r.rows) tbody.appendChild(logRow(row, true));
      before = r.next_before;
      more.hidden = !before;
      return r;
    }
    more.addEventListener('click', () => load().catch(failed));
    main.appendChild(el('div', {class: 'page', id: 'page-log'},
      el('h1', {}, 'Query log'), form,
      el('div', {class: 'table-wrap'}, el('table', {id: 'log-table'},
        el('thead', {}, el('tr', {}, logHeaders(true).map(h => el('th', {class: h[1] || ''}, h[0])))), tbody)),
      more));
    const first = await load();
    let src = null;
    const startLive = () => {
      if (src) src.close();
      src = live.checked ? liveTail(Object.assign({after: first.rows.length ? first.rows[0].id : undefined}, f), tbody, true) : null;
    };
    live.addEventListener('change', startLive);
    startLive();
  }

  async function lists() {
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
        el('td', {}, el('strong', {}, s.name), el('div', {class: 'muted url'}, s.url)),
        el('td', {class: 'num'}, num(s.entries)),
        el('td', {class: 'hide-narrow'}, s.groups.join(', ')),
        el('td', {}, status),
        el('td', {class: 'nowrap'},
          el('button', {class: 'small', disabled: !!(u && u.running), onclick: async () => {
            try { await api('POST', '/api/lists/' + encodeURIComponent(s.name) + '/update'); toast('Updating ' + s.name); watch(); } catch (e) { failed(e); }
          }}, 'Update now'), ' ',
          el('button', {class: 'small danger', onclick: async () => {
            if (!confirm('Remove ' + s.name + '?')) return;
            try { await api('DELETE', '/api/lists/' + encodeURIComponent(s.name)); toast('Removed ' + s.name); route(); } catch (e) { failed(e); }
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
    page.appendChild(section('Allowed and blocked names',
      rules.rules.length ? table([['Name'], ['Kind'], ['Groups', 'hide-narrow'], ['Added', 'hide-narrow'], ['']],
        rules.rules.map(x => el('tr', {'data-rule': x.pattern},
          el('td', {class: 'domain'}, x.pattern), el('td', {}, el('span', {class: 'badge ' + (x.kind === 'deny' ? 'blocked' : 'forwarded')}, x.kind === 'deny' ? 'block' : 'allow')),
          el('td', {class: 'hide-narrow'}, x.groups.join(', ')), el('td', {class: 'hide-narrow'}, when(x.added * 1000)),
          el('td', {}, el('button', {class: 'small', onclick: async () => {
            try { await api('DELETE', '/api/rules/' + x.id); toast('Removed ' + x.pattern); route(); } catch (e) { failed(e); }
          }}, 'Remove'))))) : el('p', {class: 'muted'}, 'None yet. The query log has one-click Block and Allow buttons.'),
      ruleForm));
    // The catalog.
    page.appendChild(section('Catalog', table([['List'], ['Category', 'hide-narrow'], ['']],
      cat.entries.map(c => el('tr', {},
        el('td', {}, el('strong', {}, c.name), el('div', {class: 'muted'}, c.vendor ? c.vendor + ' · ' : '', c.format, c.license ? ' · ' + c.license : '')),
        el('td', {class: 'hide-narrow'}, c.category),
        el('td', {}, c.subscribed ? el('span', {class: 'muted'}, 'subscribed') :
          el('button', {class: 'small', onclick: () => subscribe({url: 'catalog:' + c.id})}, 'Subscribe')))))));
    main.appendChild(page);
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

  async function settings() {
    const [s, b, tokens] = await Promise.all([api('GET', '/api/settings'), api('GET', '/api/blocking'), api('GET', '/api/tokens')]);
    const blockingBox = el('div', {});
    const draw = x => { clear(blockingBox); blockingBox.appendChild(el('p', {}, x.enabled ? 'Blocking is on.' :
      x.until ? 'Blocking is paused until ' + time(x.until * 1000) + '.' : 'Blocking is off.')); blockingBox.appendChild(blockingControls(x, draw)); };
    draw(b);
    const kv = pairs => el('dl', {class: 'kv'}, pairs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const tokenName = el('input', {type: 'text', name: 'token-name', placeholder: 'what the token is for', required: true});
    const tokenOut = el('p', {class: 'token-out'});
    const tokenForm = el('form', {class: 'inline-form', id: 'token-form'}, tokenName, el('button', {type: 'submit'}, 'Create token'));
    tokenForm.addEventListener('submit', async ev => {
      ev.preventDefault();
      try {
        const t = await api('POST', '/api/tokens', {name: tokenName.value.trim()});
        tokenOut.textContent = 'New token (shown once): ' + t.token;
        tokenName.value = '';
      } catch (e) { failed(e); }
    });
    main.appendChild(el('div', {class: 'page', id: 'page-settings'},
      el('h1', {}, 'Settings'),
      section('Blocking', blockingBox, kv([
        ['Mode', s.blocking.mode + (s.blocking.mode === 'ip' ? ' (' + s.blocking.ipv4 + ', ' + s.blocking.ipv6 + ')' : '')],
        ['Answer TTL', s.blocking.ttl + ' s'],
        ['CNAME inspection', s.blocking.cname_inspection ? 'on' : 'off'],
        ['Special names', s.blocking.special_names ? 'on' : 'off']])),
      section('Upstreams and addresses', kv([
        ['Upstream servers', s.upstreams.join(', ')], ['DNS on', s.listen.join(', ')], ['Dashboard on', s.http_listen],
        ['Data directory', s.data_dir], ['Cache', num(s.cache.max_entries) + ' entries, TTL at most ' + s.cache.max_ttl + ' s']]),
        el('p', {class: 'muted'}, 'These come from the configuration file; change them there and restart hush (or send SIGHUP for blocking.*).')),
      section('Query log', kv([
        ['Raw rows kept', s.querylog ? Math.round(s.querylog.raw_retention_s / 86400) + ' days' : '—'],
        ['Counts kept', s.querylog ? Math.round(s.querylog.aggregate_retention_s / 86400) + ' days' : '—']])),
      section('API tokens', tokens.tokens.length ? table([['Id'], ['Name'], ['Created'], ['']],
        tokens.tokens.map(t => el('tr', {}, el('td', {}, t.id), el('td', {}, t.name), el('td', {}, when(t.created * 1000)),
          el('td', {}, el('button', {class: 'small danger', onclick: async () => {
            try { await api('DELETE', '/api/tokens/' + t.id); route(); } catch (e) { failed(e); }
          }}, 'Revoke'))))) : el('p', {class: 'muted'}, 'No tokens.'), tokenForm, tokenOut,
        el('p', {class: 'muted'}, 'Scripts send the token as "Authorization: Bearer <token>". The API is described in /openapi.yaml.')),
      backupSection(),
      section('Session', el('button', {id: 'logout', onclick: async () => {
        try { await api('POST', '/api/logout'); } catch (e) { /* gone anyway */ }
        csrf = '';
        showLogin();
      }}, 'Log out'))));
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
  async function route() {
    leave();
    const hash = location.hash || '#/';
    const path = hash.slice(1).split('?')[0];
    let page = 'overview', render = overview;
    let m;
    if (path === '/devices') { page = 'devices'; render = devices; }
    else if ((m = path.match(/^\/device\/(\d+)$/))) { page = 'devices'; render = () => device(m[1]); }
    else if (path === '/log') { page = 'log'; render = queryLog; }
    else if (path === '/lists') { page = 'lists'; render = lists; }
    else if (path === '/settings') { page = 'settings'; render = settings; }
    else if (path === '/phonehome') { page = 'phonehome'; render = phoneHome.overview; }
    else if ((m = path.match(/^\/company\/([^/]+)$/))) { page = 'phonehome'; render = () => phoneHome.company(decodeURIComponent(m[1])); }
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page);
    clear(main);
    main.appendChild(el('p', {class: 'muted loading'}, 'Loading…'));
    try {
      const loading = main.firstChild;
      await render();
      if (loading.parentNode === main) main.removeChild(loading);
      document.body.dataset.page = page;
      if (page !== 'overview') refreshBlocking();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      clear(main);
      main.appendChild(el('p', {class: 'error'}, 'Could not load this page: ' + e.message));
    }
  }

  const phoneHome = window.hushPhoneHome({el, clear, api, qs, toast, failed, section, table, card, num, pct, when, chart, route, main});

  window.addEventListener('hashchange', route);
  (async function start() {
    try {
      const s = await api('GET', '/api/session');
      csrf = s.csrf;
      nav.hidden = false;
      route();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showLogin();
    }
  })();
})();
