// hush dashboard: the "Phone home" pages (which companies the devices talk
// to, over /api/report). app.js calls window.hushPhoneHome with its helpers
// and routes #/phonehome, #/company/KEY and the device page's section here.
// As in app.js, everything from the network goes into the page as text.
'use strict';

window.hushPhoneHome = function (h) {
  const {el, clear, api, qs, toast, failed, section, table, card, num, pct, when, chart} = h;
  const period = window.hushPeriod;

  function count(n, one, many) { return num(n) + ' ' + (n === 1 ? one : many); }
  function share(x) { return x.queries ? pct(100 * x.blocked / x.queries) : '—'; }
  function day(ms) { return ms ? new Date(ms).toLocaleDateString() : '—'; }
  function categoryText(c) { return (c || 'unknown').replace(/_/g, ' '); }
  function categoryBadges(list) {
    return (list.length ? list : ['unknown']).map(c => el('span', {class: 'badge cat'}, categoryText(c)));
  }
  // Only http(s) links leave the page: a website from the data never becomes a javascript: URL.
  function outLink(url, text) {
    return /^https?:\/\//i.test(url || '') ? el('a', {href: url, target: '_blank', rel: 'noopener noreferrer'}, text) : text;
  }
  function attribution(a) {
    return el('p', {class: 'attribution muted'}, 'Company data: ',
      outLink(a.source_url, a.source), ', ', outLink(a.license_url, a.license), '.');
  }
  function companyHref(key) { return '#/company/' + encodeURIComponent(key); }
  function history(key, device, since) {
    return api('GET', '/api/report/history' + qs({company: key, device, since}));
  }
  // The per-company series in the shape of the dashboard's allowed/blocked chart.
  function drawSeries(box, s) {
    chart(box, {bucket_s: s.step_s, since_ms: s.since_ms, until_ms: s.until_ms,
      points: s.points.map(p => ({t: p.t, allowed: p.queries - p.blocked, blocked: p.blocked}))});
  }

  // ---------------------------------------------------------------- actions

  // An action button that asks first (in the page, not a dialog), runs the
  // call, and offers an undo in the toast.
  function actionButton(spec) {
    const box = el('span', {class: 'action'});
    const button = el('button', {class: 'small ' + (spec.danger ? 'deny' : ''), 'data-action': spec.action,
      'data-company': spec.company, onclick: ask}, spec.label);
    box.appendChild(button);
    function ask() {
      clear(box);
      const yes = el('button', {class: 'small yes ' + (spec.danger ? 'deny' : '')}, spec.yes);
      const no = el('button', {class: 'small no'}, 'Cancel');
      box.appendChild(el('span', {class: 'confirm'}, el('span', {}, spec.question), ' ', yes, ' ', no));
      no.addEventListener('click', () => { clear(box); box.appendChild(button); });
      yes.addEventListener('click', async () => {
        yes.disabled = no.disabled = true;
        try {
          const r = await spec.run();
          toast(spec.done(r) + (r.applied === false ? ' (applies shortly)' : ''), false,
            spec.undo ? {label: 'Undo', run: async () => {
              try { await spec.undo(r); toast('Undone'); spec.after(); } catch (e) { failed(e); }
            }} : null);
          spec.after();
        } catch (e) {
          failed(e);
          clear(box);
          box.appendChild(button);
        }
      });
    }
    return box;
  }

  function blockAction(c, target, who, after) {
    const blocked = c.blocked_for.includes(target.groupName);
    const body = Object.assign({company: c.key}, target.body);
    const block = () => api('POST', '/api/report/block', body);
    const unblock = () => api('POST', '/api/report/unblock', body);
    return actionButton({
      action: (blocked ? 'unblock-' : 'block-') + target.kind, company: c.key, danger: !blocked,
      label: (blocked ? 'Unblock for ' : 'Block for ') + who,
      question: blocked ? 'Let ' + who + ' reach ' + c.company + ' again?' :
        'Block the names of ' + c.company + ' for ' + who + '?',
      yes: blocked ? 'Unblock' : 'Block',
      run: blocked ? unblock : block,
      done: r => (blocked ? 'Unblocked ' : 'Blocked ') + c.company + ' for ' + who +
        ' (' + r.patterns.length + (r.patterns.length === 1 ? ' entry)' : ' entries)'),
      undo: blocked ? block : unblock,
      after,
    });
  }

  function subscribeAction(c, list, target, after) {
    const on = list.groups.includes(target.groupName);
    const body = Object.assign({}, target.body);
    if (on) {
      return actionButton({
        action: 'unsubscribe', company: c.key, label: 'Unsubscribe ' + list.name,
        question: 'Stop using ' + list.name + ' for ' + target.who + '?', yes: 'Unsubscribe',
        run: () => api('POST', '/api/report/unsubscribe', Object.assign({list: list.id}, body)),
        done: () => 'Unsubscribed ' + list.name,
        undo: () => api('POST', '/api/report/subscribe', Object.assign({company: c.key, list: list.id}, body)),
        after,
      });
    }
    return actionButton({
      action: 'subscribe', company: c.key, label: 'Subscribe ' + list.name,
      question: 'Use ' + list.name + ' for ' + target.who + '? hush downloads it and keeps it current.', yes: 'Subscribe',
      run: () => api('POST', '/api/report/subscribe', Object.assign({company: c.key, list: list.id}, body)),
      done: r => 'Subscribed ' + target.who + ' to ' + r.list,
      undo: r => api('POST', '/api/report/unsubscribe', Object.assign({list: r.list}, body)),
      after,
    });
  }

  // ---------------------------------------------------------------- the list of companies

  function namesTable(names, total) {
    if (!names.length) return el('p', {class: 'muted'}, 'No names.');
    return el('div', {},
      table([['Name'], ['Category', 'hide-narrow'], ['Queries', 'num'], ['Blocked share', 'num'], ['First seen', 'hide-narrow']],
        names.map(n => el('tr', {},
          el('td', {class: 'domain'}, n.name),
          el('td', {class: 'hide-narrow'}, categoryText(n.category)),
          el('td', {class: 'num'}, num(n.queries)),
          el('td', {class: 'num'}, share(n)),
          el('td', {class: 'hide-narrow nowrap'}, when(n.first_seen_ms)))), 'names'),
      total > names.length ? el('p', {class: 'muted'}, 'and ' + num(total - names.length) + ' more') : null);
  }

  // One expandable entry per company: the summary line, and when opened its
  // chart, its names and what can be done about it.
  // ctx: {device (id or undefined), since, open (Set of keys), actions(c) -> nodes}
  // ctx.page: show that many, with a button for the next ones.
  function companyList(companies, ctx) {
    if (!companies.length) return el('p', {class: 'muted'}, 'No queries in this period.');
    const entry = c => {
      const chartBox = el('div', {class: 'chart'});
      const details = el('details', {class: 'company', 'data-key': c.key, open: ctx.open.has(c.key)},
        el('summary', {},
          el('span', {class: 'company-name'}, c.company, c.known ? null : el('span', {class: 'muted'}, ' (no company on record)'),
            c.blocked_for.length ? el('span', {class: 'badge blocked', title: 'blocked for ' + c.blocked_for.join(', ')}, 'blocked') : null),
          el('span', {class: 'company-cats'}, categoryBadges(c.categories)),
          el('span', {class: 'company-stats'},
            el('span', {}, count(c.queries, 'query', 'queries')),
            el('span', {}, share(c), ' blocked'),
            ctx.device ? null : el('span', {}, count(c.devices, 'device', 'devices')),
            el('span', {class: 'muted'}, 'first seen ', day(c.first_seen_ms)))),
        el('div', {class: 'company-body'},
          ctx.actions ? el('div', {class: 'buttons actions'}, ctx.actions(c)) : null,
          chartBox,
          namesTable(c.names, c.names_total),
          ctx.device ? null : el('p', {}, el('a', {href: companyHref(c.key), class: 'company-link'}, 'Devices that talk to ' + c.company + ' →'))));
      let drawn = false;
      const draw = async () => {
        if (drawn || !details.open) return;
        drawn = true;
        try {
          drawSeries(chartBox, await history(c.key, ctx.device, ctx.since));
        } catch (e) {
          chartBox.appendChild(el('p', {class: 'muted'}, 'No chart: ' + e.message));
        }
      };
      details.addEventListener('toggle', () => {
        if (details.open) ctx.open.add(c.key); else ctx.open.delete(c.key);
        draw();
      });
      if (details.open) setTimeout(draw, 0);
      return details;
    };
    const box = el('div', {class: 'companies'});
    const more = h.pager(box, companies, entry, ctx.page || companies.length, 'companies');
    return el('div', {}, box, more);
  }

  // ---------------------------------------------------------------- the device page's section

  // The "Phone home" section of a device page; `d` is /api/devices/ID.
  // `since`: the device page's period (its picker is at the page's top).
  // `first`: the report already asked for (deviceReport), so the page's
  // calls go out together rather than one after the other.
  function deviceReport(id, since) {
    return api('GET', '/api/report' + qs({device: id, since}));
  }
  function deviceSection(id, since, first) {
    const body = el('div', {id: 'phonehome-device'});
    const state = {since, open: new Set()};
    async function load() {
      const r = await (first || deviceReport(id, state.since));
      first = null;
      const own = r.device.own_group;
      const self = {kind: 'device', groupName: own, body: {device: Number(id)}, who: 'this device'};
      const groups = r.device.groups.filter(g => g !== own);
      clear(body);
      body.appendChild(el('p', {class: 'muted'}, count(r.companies_total, 'company or site', 'companies and sites'), ', ',
        count(r.queries, 'query', 'queries'), ' in the ' + period.PERIODS.find(p => p[0] === state.since)[1]));
      if (r.bypass && r.bypass.length)
        body.appendChild(el('div', {class: 'warning', id: 'bypass-warning'},
          el('strong', {}, 'May be going around hush. '),
          'This device asked for encrypted-DNS resolvers; what it asks them, hush neither sees nor blocks. ',
          'The "HaGeZi encrypted DNS servers" list (Lists) blocks them.',
          el('ul', {class: 'plain'}, r.bypass.map(b => el('li', {},
            el('span', {class: 'domain'}, b.name), ' (' + b.resolver + '): ' + count(b.queries, 'query', 'queries') +
            (b.blocked ? ', ' + b.blocked + ' blocked' : '') + ', last ' + when(b.last_seen_ms))))));
      if (r.quiet)
        body.appendChild(el('div', {class: 'warning', id: 'quiet-warning'},
          el('strong', {}, 'Quiet but still on the network. '),
          'hush has not heard from this device since ' + when(r.quiet.last_query_ms) +
          ', yet the network still sees it (' + r.quiet.address + (r.quiet.mac ? ', ' + r.quiet.mac : '') +
          ' in the neighbour table). A device that is on asks something every few minutes: ' +
          'its questions may be going to another resolver or through a VPN.'));
      body.appendChild(companyList(r.companies, {
        page: 8,
        device: id, since: state.since, open: state.open,
        actions: c => c.known ? [
          blockAction(c, self, 'this device', () => load().catch(failed)),
          groups.map(g => blockAction(c, {kind: 'group', groupName: g, body: {group: g}, who: 'group ' + g}, 'group ' + g,
            () => load().catch(failed))),
          c.vendor_lists.map(l => {
            const via = l.groups.filter(g => g !== own && r.device.groups.includes(g));
            return via.length ? el('span', {class: 'muted'}, l.name + ' already applies (group ' + via.join(', ') + ')') :
              subscribeAction(c, l, self, () => load().catch(failed));
          }),
        ] : [el('span', {class: 'muted'}, 'No company on record: block single names from the query log.')],
      }));
      body.appendChild(attribution(r.attribution));
    }
    load().catch(e => { clear(body); body.appendChild(el('p', {class: 'error'}, 'Could not load the report: ' + e.message)); });
    return section('Phone home', body);
  }

  // ---------------------------------------------------------------- the overview page

  function hashParams() { return new URLSearchParams(location.hash.split('?')[1] || ''); }

  // ---------------------------------------------------------------- the picture

  // 0 (none) to 4 (the most in the table), on a log scale so a quiet
  // device's few queries still show.
  function level(n, max) {
    if (!n) return 0;
    return 1 + Math.min(3, Math.floor(3 * Math.log(n) / Math.log(Math.max(2, max))));
  }
  function blockedMark(q, b) {
    if (!b) return '';
    return b * 2 >= q ? ' mostly-blocked' : ' some-blocked';
  }
  function matrixSection(m, since) {
    if (!m.companies.length) return section('Who talks to whom', el('p', {class: 'muted'}, 'No queries in this period.'));
    let max = 0;
    for (const d of m.devices) for (const c of d.cells) max = Math.max(max, c[0]);
    const head = el('tr', {}, el('th', {class: 'corner'}, 'Device'), m.companies.map(c => el('th', {class: 'company-col', title: c.company},
      el('a', {href: companyHref(c.key) + qs({since})}, c.company))));
    const rows = m.devices.map(d => el('tr', {'data-device': d.id},
      el('th', {class: 'device-row'}, el('a', {href: '#/device/' + d.id}, d.name)),
      d.cells.map((c, i) => el('td', {class: 'cell lvl' + level(c[0], max) + blockedMark(c[0], c[1]),
        'data-company': m.companies[i].key,
        title: c[0] ? `${d.name} → ${m.companies[i].company}: ${num(c[0])} queries` + (c[1] ? `, ${num(c[1])} blocked` : '') : `${d.name}: no queries to ${m.companies[i].company}`},
      c[0] ? (c[1] ? '■' : '') : ''))));
    return section('Who talks to whom',
      el('div', {class: 'table-wrap matrix-wrap'}, el('table', {class: 'matrix', id: 'phonehome-matrix'}, el('thead', {}, head), el('tbody', {}, rows))),
      el('p', {class: 'muted legend'}, 'Darker: more queries. ', el('span', {class: 'cell-key some-blocked'}, '■'), ' some blocked, ',
        el('span', {class: 'cell-key mostly-blocked'}, '■'), ' mostly blocked.',
        m.devices.length < m.devices_total ? ` The ${m.devices.length} of ${num(m.devices_total)} devices with the most queries.` : '',
        m.companies.length < m.companies_total ? ` The ${m.companies.length} of ${num(m.companies_total)} companies and sites with the most devices.` : ''),
      stripsPart(m, since));
  }

  // Each company's activity over the period, one cell an hour (24 h) or a
  // day (7 and 30 days), from the matrix's answer; "More companies" asks for
  // the next page of them.
  function stripLine(m, c, since) {
    const smax = Math.max(1, ...c.strip.map(x => x[0]));
    const hourly = m.strip_step_s === 3600;
    const cellName = i => {
      const start = new Date(m.strip_since_ms + i * m.strip_step_s * 1000);
      if (hourly) return start.toLocaleString([], {weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});
      return i === c.strip.length - 1 ? 'today' : start.toLocaleDateString([], {timeZone: 'UTC'});
    };
    return el('li', {'data-company': c.key},
      el('span', {class: 'strip-name'}, el('a', {href: companyHref(c.key) + qs({since})}, c.company)),
      el('span', {class: 'strip', 'data-step': m.strip_step_s, 'aria-label': c.company + ', queries per ' + (hourly ? 'hour' : 'day')},
        c.strip.map((x, i) => el('span', {class: 'day lvl' + level(x[0], smax) + blockedMark(x[0], x[1]),
          title: `${cellName(i)}: ${num(x[0])} queries` + (x[1] ? `, ${num(x[1])} blocked` : '')}))),
      el('span', {class: 'muted'}, count(c.devices, 'device', 'devices')));
  }
  function stripsPart(m, since) {
    const list = el('ul', {class: 'plain strips', id: 'company-strips'}, m.companies.map(c => stripLine(m, c, since)));
    let shown = m.companies.length;
    const more = el('button', {class: 'small more', id: 'more-strips', type: 'button', hidden: shown >= m.companies_total}, 'More companies');
    more.addEventListener('click', async () => {
      try {
        const next = await api('GET', '/api/report/matrix' + qs({since, devices: 1, companies: 12, offset: shown}));
        for (const c of next.companies) list.appendChild(stripLine(next, c, since));
        shown += next.companies.length;
        more.hidden = !next.companies.length || shown >= next.companies_total;
      } catch (e) { failed(e); }
    });
    const unit = m.strip_step_s === 3600 ? 'per hour' : 'per day';
    return [el('h3', {}, 'Each company, ' + unit + ' over the ' + period.PERIODS.find(p => p[0] === since)[1]), list, more];
  }

  function newFeed(contacts) {
    if (!contacts.length) return el('p', {class: 'muted'}, 'No first contacts in this period.');
    return el('ul', {class: 'plain feed', id: 'new-feed'}, contacts.map(n => el('li', {'data-kind': n.kind},
      el('span', {class: 'muted nowrap'}, when(n.time_ms)), ' ',
      el('a', {href: '#/device/' + n.device.id}, n.device.name), ' ',
      n.kind === 'company' ? ['first contacted ', el('a', {href: companyHref(n.key)}, n.company), n.name && n.name !== n.company ? el('span', {class: 'domain'}, ' (' + n.name + ')') : null] :
        ['asked ', el('span', {class: 'domain'}, n.name), ' for the first time', n.known ? [' · ', el('a', {href: companyHref(n.key)}, n.company)] : null])));
  }

  async function overview(view) {
    const since = period.current();
    const onlyKnown = hashParams().get('known') === '1';
    const [r, fresh, m] = await Promise.all([
      api('GET', '/api/report' + qs({since, known: onlyKnown ? 1 : '', names: 20})),
      api('GET', '/api/report/new' + qs({since, limit: 50})),
      api('GET', '/api/report/matrix' + qs({since, devices: 50, companies: 12})),
    ]);
    const go = (s, k) => { location.hash = '#/phonehome' + qs({since: s, known: k ? 1 : ''}); };
    const known = el('input', {type: 'checkbox', id: 'known-only', checked: onlyKnown});
    known.addEventListener('change', () => go(since, known.checked));
    const newCompanies = fresh.contacts.filter(n => n.kind === 'company');
    view.show(el('div', {class: 'page', id: 'page-phonehome'},
      el('h1', {}, 'Phone home'),
      el('div', {class: 'filters'}, period.picker(since, v => go(v, onlyKnown)),
        el('label', {class: 'check'}, known, ' companies on record only')),
      el('div', {class: 'cards'},
        card('Companies and sites', num(r.companies_total)),
        card('Known companies', num(r.companies.filter(c => c.known).length) + (r.companies.length < r.companies_total ? '+' : '')),
        card('First contacts', num(fresh.companies_total), 'with a company'),
        card('New names', num(fresh.names_total))),
      matrixSection(m, since),
      el('div', {class: 'columns two'},
        section('New contacts', newFeed(fresh.contacts)),
        section('Categories', r.categories.length ? table([['Category'], ['Queries', 'num'], ['Blocked share', 'num'], ['Companies', 'num']],
          r.categories.map(c => el('tr', {},
            el('td', {}, categoryText(c.category)), el('td', {class: 'num'}, num(c.queries)),
            el('td', {class: 'num'}, share(c)), el('td', {class: 'num'}, num(c.companies)))), 'categories') :
          el('p', {class: 'muted'}, 'Nothing yet.'))),
      section('Companies across all devices', companyList(r.companies, {since, open: new Set()}),
        r.companies.length < r.companies_total ? el('p', {class: 'muted'}, 'The ' + num(r.companies.length) + ' with the most devices and queries.') : null),
      attribution(r.attribution)));
  }

  // ---------------------------------------------------------------- one company

  async function company(key, view) {
    const since = period.current();
    const [c, series] = await Promise.all([
      api('GET', '/api/report/companies/' + encodeURIComponent(key) + qs({since, names: 30})),
      history(key, undefined, since),
    ]);
    const chartBox = el('div', {class: 'chart', id: 'company-chart'});
    const after = () => h.route();
    const rows = c.devices.map(d => {
      const target = {kind: 'device', groupName: 'device-' + d.id, body: {device: d.id}, who: d.name};
      return el('tr', {'data-device': d.id},
        el('td', {}, el('a', {href: '#/device/' + d.id}, d.name),
          el('details', {class: 'names'}, el('summary', {}, count(d.names_total === undefined ? d.names.length : d.names_total, 'name', 'names')),
            el('ul', {class: 'plain'}, d.names.map(n => el('li', {class: 'domain'}, n.name, ' ', el('span', {class: 'muted'}, num(n.queries))))))),
        el('td', {class: 'num'}, num(d.queries)),
        el('td', {class: 'num'}, share(d)),
        el('td', {class: 'hide-narrow nowrap'}, when(d.first_seen_ms)),
        el('td', {}, c.known ? blockAction({key: c.key, company: c.company, blocked_for: c.blocked_for}, target, d.name, after) : null));
    });
    view.show(el('div', {class: 'page', id: 'page-company'},
      el('p', {}, el('a', {href: '#/phonehome' + qs({since})}, '← Phone home')),
      el('h1', {}, c.company),
      el('p', {class: 'muted'}, c.known ? outLink(c.website, c.website || '') : 'No company on record for this site.'),
      el('div', {class: 'filters'}, period.picker(since)),
      section('Queries over time, all devices', chartBox),
      section('Devices that talk to ' + c.company, rows.length ?
        table([['Device'], ['Queries', 'num'], ['Blocked share', 'num'], ['First seen', 'hide-narrow'], ['']], rows, 'devices') :
        el('p', {class: 'muted'}, 'No device in this period.'),
        rows.length < c.devices_total ? el('p', {class: 'muted'}, 'The ' + num(rows.length) + ' of ' + num(c.devices_total) + ' devices with the most queries.') : null),
      c.vendor_lists.length ? section('Vendor lists', el('ul', {class: 'plain'}, c.vendor_lists.map(l => el('li', {},
        l.name, ' ', el('span', {class: 'muted'}, l.groups.length ? 'used by ' + l.groups.join(', ') : 'not subscribed'))))) : null,
      c.domains ? section('What "block" blocks', el('details', {}, el('summary', {}, num(c.domains.length), ' domains and everything below them'),
        el('ul', {class: 'plain'}, c.domains.map(d => el('li', {class: 'domain'}, d))))) : null,
      attribution(c.attribution)));
    drawSeries(chartBox, series);
  }

  return {overview, company, deviceReport, deviceSection};
};
