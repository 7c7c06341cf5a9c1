// hush dashboard: the Schedules page (over /api/schedules). A window is drawn
// on a week grid by dragging across half-hour cells: the rows it spans are
// its days, the columns its hours. app.js calls window.hushSchedules with
// its helpers; page(view) renders the page. As in app.js, everything from
// the network goes into the page as text.
'use strict';

window.hushSchedules = function (h) {
  const {el, clear, api, toast, failed, section, table, route} = h;
  const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const SLOTS = 48;  // half hours

  const pad2 = n => String(n).padStart(2, '0');
  const clock = slot => pad2(Math.floor(slot / 2)) + ':' + (slot % 2 ? '30' : '00');
  const minutes = t => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

  // "mon-fri", "sat,sun", "daily" as day indexes, as the server writes them.
  function dayIndexes(text) {
    if (text === 'daily') return [0, 1, 2, 3, 4, 5, 6];
    const out = [];
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(d => DAYS.indexOf(d));
      for (let i = a; ; i = (i + 1) % 7) { out.push(i); if (i === (b === undefined ? a : b)) break; }
    }
    return out;
  }
  // The half-hour cells (day*SLOTS+slot) a saved window covers, over midnight too.
  function cellsOf(w) {
    const cells = [];
    const from = Math.floor(minutes(w.from) / 30), to = Math.ceil(minutes(w.to) / 30);
    for (const d of dayIndexes(w.days)) {
      const end = to > from ? to : to + SLOTS;
      for (let s = from; s < end; s++) cells.push(((d + Math.floor(s / SLOTS)) % 7) * SLOTS + s % SLOTS);
    }
    return cells;
  }
  function whatText(s, companyNames) {
    if (s.off) return 'blocking off';
    return 'block ' + [...s.services, ...s.lists.map(l => 'list ' + l), ...s.companies.map(c => companyNames[c] || c), ...s.rules].join(', ');
  }
  function windowsText(s) {
    return s.windows.map(w => w.days + ' ' + w.from + '–' + w.to).join('; ') + (s.zone ? ' (' + s.zone + ')' : '');
  }

  // The grid: drawn windows (this form's) and saved ones (every schedule's).
  function weekGrid(saved) {
    const drawn = [];  // {day0, day1, from, to} in rows and slots
    const cells = [];
    const savedCells = new Set(saved.flatMap(s => s.windows.flatMap(cellsOf)));
    const grid = el('table', {class: 'week-grid', id: 'week-grid', 'aria-label': 'Week: drag across the hours to draw a window'},
      el('thead', {}, el('tr', {}, el('th', {}), Array.from({length: 24}, (_, hr) =>
        el('th', {colspan: 2, class: 'hour'}, hr % 3 === 0 ? pad2(hr) : '')))),
      el('tbody', {}, DAY_NAMES.map((name, d) => el('tr', {},
        el('th', {scope: 'row'}, name),
        Array.from({length: SLOTS}, (_, s) => {
          const td = el('td', {'data-day': d, 'data-slot': s, title: name + ' ' + clock(s) + '–' + clock(s + 1),
            class: savedCells.has(d * SLOTS + s) ? 'saved' : ''});
          cells[d * SLOTS + s] = td;
          return td;
        })))));
    let start = null, current = null;
    const cellAt = ev => {
      const t = document.elementFromPoint(ev.clientX, ev.clientY);
      return t && t.dataset && t.dataset.slot !== undefined && grid.contains(t) ? t : null;
    };
    const rect = (a, b) => ({
      day0: Math.min(+a.dataset.day, +b.dataset.day), day1: Math.max(+a.dataset.day, +b.dataset.day),
      from: Math.min(+a.dataset.slot, +b.dataset.slot), to: Math.max(+a.dataset.slot, +b.dataset.slot) + 1});
    function paint() {
      const on = new Set();
      const all = current ? [...drawn, current] : drawn;
      for (const w of all)
        for (let d = w.day0; d <= w.day1; d++) for (let s = w.from; s < w.to; s++) on.add(d * SLOTS + s);
      cells.forEach((td, i) => td.classList.toggle('drawn', on.has(i)));
      summary.textContent = drawn.length ? 'Windows: ' + drawn.map(w =>
        (w.day0 === w.day1 ? DAYS[w.day0] : DAYS[w.day0] + '-' + DAYS[w.day1]) + ' ' + clock(w.from) + '–' + clock(w.to)).join('; ') :
        'Drag across the grid to draw a window.';
    }
    grid.addEventListener('pointerdown', ev => {
      const c = cellAt(ev);
      if (!c) return;
      ev.preventDefault();
      // The drag keeps reporting to the grid even when it leaves a cell.
      grid.setPointerCapture(ev.pointerId);
      start = c;
      current = rect(c, c);
      paint();
    });
    grid.addEventListener('pointermove', ev => {
      if (!start) return;
      const c = cellAt(ev);
      if (c) { current = rect(start, c); paint(); }
    });
    const finish = () => {
      if (!start) return;
      drawn.push(current);
      start = current = null;
      paint();
    };
    grid.addEventListener('pointerup', finish);
    grid.addEventListener('pointercancel', finish);
    const summary = el('p', {class: 'muted', id: 'drawn-windows'});
    paint();
    return {
      node: el('div', {class: 'week-wrap'}, grid),
      summary,
      windows: () => drawn.map(w => ({days: w.day0 === w.day1 ? DAYS[w.day0] : DAYS[w.day0] + '-' + DAYS[w.day1],
        from: clock(w.from), to: w.to === SLOTS ? '24:00' : clock(w.to)})),
      reset: () => { drawn.length = 0; paint(); },
    };
  }

  async function page(view) {
    // The companies (of the phone-home map) the devices talked to lately:
    // none without a query log, or with an anonymous one.
    const [r, devs, svcs, lists, groups, seen] = await Promise.all([api('GET', '/api/schedules'), api('GET', '/api/devices?range=7d&limit=100'),
      api('GET', '/api/services'), api('GET', '/api/lists'), api('GET', '/api/groups'),
      api('GET', '/api/report?since=30d&known=1&names=0&limit=60').catch(() => ({companies: []}))]);
    const root = el('div', {class: 'page', id: 'page-schedules'}, el('h1', {}, 'Schedules'));
    const grid = weekGrid(r.schedules);
    const whom = el('select', {id: 'schedule-whom', 'aria-label': 'For whom'},
      el('option', {value: ''}, 'Everyone'),
      devs.devices.map(d => el('option', {value: d.id}, d.name)),
      groups.groups.filter(g => !/^device-\d+$/.test(g.name)).map(g => el('option', {value: 'group:' + g.name}, 'group ' + g.name)));
    const mode = el('select', {id: 'schedule-mode', 'aria-label': 'What it does'},
      el('option', {value: 'block'}, 'Block what is ticked'), el('option', {value: 'off'}, 'Turn blocking off'));
    const ticks = el('div', {class: 'services', id: 'schedule-services'},
      svcs.services.map(s => el('label', {class: 'check'}, el('input', {type: 'checkbox', value: s.id, 'data-kind': 'services'}), s.name)),
      lists.subscriptions.map(l => el('label', {class: 'check'}, el('input', {type: 'checkbox', value: l.name, 'data-kind': 'lists'}), 'list ' + (l.title || l.name))));
    const companies = el('fieldset', {class: 'services', id: 'schedule-companies'},
      el('legend', {}, 'Companies your devices talked to in the last 30 days'),
      seen.companies.length ? seen.companies.map(c => el('label', {class: 'check'},
        el('input', {type: 'checkbox', value: c.key, 'data-kind': 'companies'}), c.company)) :
        el('span', {class: 'muted'}, 'None yet: they appear once the devices have asked for their names.'));
    const names = el('input', {type: 'text', id: 'schedule-rules', placeholder: 'more names: games.example, chat.example'});
    const zone = el('input', {type: 'text', id: 'schedule-zone', placeholder: 'time zone: the server\'s', 'aria-label': 'Time zone'});
    const form = el('form', {id: 'schedule-form'},
      el('div', {class: 'inline-form'}, whom, mode, zone),
      ticks, companies, el('div', {class: 'inline-form'}, names,
        el('button', {type: 'button', id: 'schedule-clear', onclick: () => grid.reset()}, 'Clear'),
        el('button', {type: 'submit', id: 'schedule-save'}, 'Save schedule')));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const body = {windows: grid.windows(), off: mode.value === 'off', zone: zone.value.trim(),
        services: [], lists: [], companies: [], rules: names.value.split(',').map(s => s.trim()).filter(Boolean).map(n => n.startsWith('/') || n.startsWith('||') ? n : '||' + n + '^')};
      if (whom.value.startsWith('group:')) body.group = whom.value.slice(6);
      else if (whom.value) body.device = Number(whom.value);
      for (const c of form.querySelectorAll('input[data-kind]:checked')) body[c.dataset.kind].push(c.value);
      if (body.off) { body.services = []; body.lists = []; body.companies = []; body.rules = []; }
      if (!body.windows.length) { toast('Draw a window on the grid first', true); return; }
      try {
        const s = await api('POST', '/api/schedules', body);
        toast('Schedule saved' + (s.active ? ': on now' : '') + (s.applied ? '' : ' (applies shortly)'));
        route();
      } catch (e) { failed(e); }
    });
    root.appendChild(section('New schedule',
      el('p', {class: 'muted'}, 'Drag across the week to draw when it applies (each drag adds a window), then choose for whom and what: ' +
        'services, lists, companies of the phone-home map, more names, or blocking off. ' +
        'Light blue cells are the saved schedules\' windows.'),
      grid.node, grid.summary, form));
    const companyNames = Object.fromEntries(seen.companies.map(c => [c.key, c.company]));
    const rows = r.schedules.map(s => el('tr', {'data-schedule': s.id},
      el('td', {}, s.label),
      el('td', {}, windowsText(s)),
      el('td', {class: 'domain'}, whatText(s, companyNames)),
      el('td', {}, el('span', {class: 'badge ' + (s.active ? 'blocked' : '')}, s.active ? 'on now' : 'off now')),
      // The configuration file's are the user's to edit there: the server refuses to remove them and says where.
      el('td', {class: 'muted', title: s.read_only ? s.source : ''}, s.read_only ? s.source.split('/').pop() : 'dashboard'),
      el('td', {}, el('button', {class: 'small danger', title: s.read_only ? 'written in ' + s.source : '', onclick: async () => {
        try { await api('DELETE', '/api/schedules/' + encodeURIComponent(s.id)); toast('Schedule removed'); route(); } catch (e) { failed(e); }
      }}, 'Remove'))));
    root.appendChild(section('Schedules', rows.length ?
      table([['For'], ['When'], ['What'], ['Now'], ['From'], ['']], rows) :
      el('p', {class: 'muted', id: 'no-schedules'}, 'No schedules yet.')));
    view.show(root);
  }

  return {page};
};
