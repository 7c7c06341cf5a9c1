// hush dashboard: the settings a user changes here (over /api/config), the
// home's own names (/api/local) and lists switched on and off
// (/api/lists/switches). app.js calls window.hushManage with its helpers.
// As in app.js, everything from the network goes into the page as text.
'use strict';

window.hushManage = function (h) {
  const {el, clear, api, toast, failed, section, table} = h;

  // What each key is to a user, and how it is edited.
  const FIELDS = [
    ['Upstreams', [
      ['upstream.servers', 'Upstream servers', 'lines', 'one a line: 9.9.9.9, tls://1.1.1.1#cloudflare-dns.com, https://dns.quad9.net/dns-query'],
      ['upstream.timeout_ms', 'Timeout per attempt (ms)', 'number']]],
    ['Blocking', [
      ['blocking.mode', 'What a blocked name answers', 'select', ['null', 'nxdomain', 'nodata', 'ip']],
      ['blocking.ipv4', 'Address for A in "ip" mode', 'text'],
      ['blocking.ipv6', 'Address for AAAA in "ip" mode', 'text'],
      ['blocking.ttl', 'TTL of blocked answers (s)', 'number'],
      ['blocking.special_names', 'Answer special names (use-application-dns.net, iCloud Private Relay)', 'bool'],
      ['blocking.cname_inspection', 'Block names whose CNAME chain is blocked', 'bool']]],
    ['Cache', [['cache.max_entries', 'Answers kept', 'number']]],
    ['Query log', [
      ['querylog.retention_days', 'Days each query is kept', 'number'],
      ['querylog.anonymous', 'Anonymous: keep only counts, no device or name', 'bool'],
      ['querylog.ignore_clients', 'Never log these clients', 'lines', 'addresses or globs, one a line'],
      ['querylog.ignore_domains', 'Never log these names', 'lines', 'names or globs, one a line']]],
    ['Access', [
      ['access.allow', 'Networks that may ask', 'lines', 'CIDR, one a line'],
      ['access.rate_limit', 'Queries per client per window (0: no limit)', 'number'],
      ['access.rate_window_s', 'Window (s)', 'number']]],
    ['Home names', [['local.domain', 'Local domain', 'text']]],
  ];
  const MODES = {null: 'null address (0.0.0.0 and ::)', nxdomain: 'does not exist (NXDOMAIN)', nodata: 'no addresses (NODATA)', ip: 'a fixed address'};
  const fieldId = key => 'cfg-' + key.replace(/[._]/g, '-');

  function input(key, kind, extra, value) {
    const id = fieldId(key);
    if (kind === 'bool') return el('input', {type: 'checkbox', id, name: key, checked: !!value});
    if (kind === 'select') return el('select', {id, name: key}, extra.map(m => el('option', {value: m, selected: m === value}, MODES[m] || m)));
    if (kind === 'lines') return el('textarea', {id, name: key, rows: Math.max(2, (value || []).length + 1), placeholder: extra || ''}, (value || []).join('\n'));
    return el('input', {type: kind === 'number' ? 'number' : 'text', id, name: key, value: value === undefined ? '' : value});
  }
  function read(node, kind) {
    if (kind === 'bool') return node.checked;
    if (kind === 'lines') return node.value.split('\n').map(s => s.trim()).filter(Boolean);
    if (kind === 'number') return node.value === '' ? null : Number(node.value);
    return node.value.trim();
  }
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  // The restart offer: what waits for a restart, and the button.
  function restartBox(c) {
    const box = el('div', {id: 'restart-banner', class: 'panel notice', hidden: !c.pending_restart.length});
    if (!c.pending_restart.length) return box;
    box.appendChild(el('p', {}, 'Saved, and applies after a restart: ', c.pending_restart.join(', ')));
    if (c.restart.possible) {
      box.appendChild(el('button', {id: 'restart-now', onclick: async ev => {
        ev.target.disabled = true;
        try {
          await api('POST', '/api/restart');
          toast('Restarting…');
          // Sessions live in the server's memory: once the new process
          // answers, the page loads again and asks for the password.
          const t0 = Date.now();
          while (Date.now() - t0 < 30000) {
            await new Promise(r => setTimeout(r, 300));
            try {
              const res = await fetch('/api/session', {credentials: 'same-origin'});
              if (res.ok && !(await res.json()).logged_in) { location.reload(); return; }
            } catch (e) { /* not back yet */ }
          }
          toast('hush did not come back within 30 s', true);
        } catch (e) { failed(e); ev.target.disabled = false; }
      }}, 'Restart hush now'));
    } else {
      box.appendChild(el('p', {class: 'muted', id: 'restart-why'}, c.restart.why));
    }
    return box;
  }

  function upstreamTest(first) {
    const server = el('input', {type: 'text', id: 'upstream-test-server', value: first || '', 'aria-label': 'Upstream to test'});
    const name = el('input', {type: 'text', id: 'upstream-test-name', value: 'example.com', 'aria-label': 'Name to ask'});
    const out = el('p', {id: 'upstream-test-result', class: 'muted'});
    const button = el('button', {type: 'button', class: 'small', id: 'upstream-test', onclick: async () => {
      out.textContent = 'Asking…';
      try {
        const r = await api('POST', '/api/config/test-upstream', {server: server.value.trim(), name: name.value.trim()});
        out.className = r.ok ? '' : 'error';
        out.textContent = r.ok ?
          `${r.rcode} in ${r.latency_ms.toFixed(1)} ms` + (r.answers.length ? ': ' + r.answers.join('; ') : ' (no records)') :
          'No answer: ' + r.error;
      } catch (e) { out.className = 'error'; out.textContent = e.message; }
    }}, 'Test this upstream');
    return el('div', {class: 'upstream-test'}, el('div', {class: 'inline-form'}, server, name, button), out);
  }

  async function settingsSection() {
    const c = await api('GET', '/api/config');
    const inputs = {};
    const groups = FIELDS.map(([title, keys]) => el('fieldset', {},
      el('legend', {}, title),
      keys.map(([key, label, kind, extra]) => {
        const s = c.settings[key];
        const node = input(key, kind, extra, s.value);
        inputs[key] = {node, kind, initial: s.value};
        return el('div', {class: 'field', 'data-key': key},
          el('label', {for: fieldId(key)}, label), node,
          s.live ? el('span', {class: 'muted when'}, 'applies at once') : el('span', {class: 'badge when restart'}, 'applies after restart'),
          s.from_flags ? el('span', {class: 'muted'}, ' (a command-line flag overrides the file)') : null,
          key === 'upstream.servers' ? upstreamTest((s.value || [])[0]) : null);
      })));
    const error = el('pre', {id: 'config-error', class: 'error', hidden: true});
    const result = el('p', {id: 'config-result'});
    const banner = el('div', {}, restartBox(c));
    const form = el('form', {id: 'config-form', class: 'settings-form'}, groups, error,
      el('button', {type: 'submit', id: 'config-save', disabled: !c.file}, 'Save'), result);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      error.hidden = true;
      const changes = {};
      for (const [key, f] of Object.entries(inputs)) {
        const v = read(f.node, f.kind);
        if (!same(v, f.initial)) changes[key] = v;
      }
      if (!Object.keys(changes).length) { result.textContent = 'Nothing changed.'; return; }
      try {
        const r = await api('PUT', '/api/config', {changes});
        for (const key of Object.keys(changes)) inputs[key].initial = changes[key];
        result.textContent = 'Saved.' + (r.applied_live.length ? ' In force now: ' + r.applied_live.join(', ') + '.' : '') +
          (r.needs_restart.length ? ' After a restart: ' + r.needs_restart.join(', ') + '.' : '');
        clear(banner);
        banner.appendChild(restartBox(r));
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      }
    });
    return section('DNS settings',
      c.file ? el('p', {class: 'muted'}, 'Saved in ', el('code', {}, c.file), ' (its comments stay); the same checks as "hush check".') :
        el('p', {class: 'error'}, 'hush was started without --config FILE: these settings are shown, not saved.'),
      banner, form);
  }

  // ------------------------------------------------------------ local names

  const TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'PTR'];
  function recordForm(rec, done) {
    const name = el('input', {type: 'text', name: 'name', class: 'rec-name', value: rec ? rec.name : '', placeholder: 'nas.lan', required: true, 'aria-label': 'Name'});
    const type = el('select', {name: 'type', class: 'rec-type', 'aria-label': 'Type'}, TYPES.map(t => el('option', {value: t, selected: rec && rec.type === t}, t)));
    const data = el('input', {type: 'text', name: 'data', class: 'rec-data', value: rec ? rec.data : '', placeholder: '192.168.1.10 or nas.lan.', required: true, 'aria-label': 'Data'});
    const form = el('form', {class: 'inline-form record-form'}, name, type, data,
      el('button', {type: 'submit'}, rec ? 'Save' : 'Add'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const body = {name: name.value.trim(), type: type.value, data: data.value.trim()};
      try {
        if (rec) await api('PUT', '/api/local', Object.assign({line: rec.line}, body));
        else await api('POST', '/api/local', body);
        toast(rec ? 'Saved ' + body.name : 'Added ' + body.name);
        done();
      } catch (e) { failed(e); }
    });
    return form;
  }

  function localSection() {
    const box = el('div', {id: 'local-records'}, el('p', {class: 'muted'}, 'Loading…'));
    async function draw() {
      const r = await api('GET', '/api/local');
      clear(box);
      const rows = r.records.map(rec => {
        const row = el('tr', {'data-line': rec.line},
          el('td', {class: 'domain'}, rec.name), el('td', {}, rec.type), el('td', {class: 'domain'}, rec.data),
          el('td', {class: 'nowrap'},
            el('button', {class: 'small', onclick: () => {
              clear(row);
              row.appendChild(el('td', {colspan: 4}, recordForm(rec, draw)));
            }}, 'Edit'), ' ',
            el('button', {class: 'small danger', onclick: async () => {
              try { await api('POST', '/api/local/delete', {line: rec.line}); toast('Removed ' + rec.name); draw(); } catch (e) { failed(e); }
            }}, 'Remove')));
        return row;
      });
      box.appendChild(rows.length ? table([['Name'], ['Type'], ['Answer'], ['']], rows, 'records') :
        el('p', {class: 'muted'}, 'No names added here yet.'));
      box.appendChild(recordForm(null, draw));
      if (r.fixed.length)
        box.appendChild(el('details', {}, el('summary', {}, r.fixed.length + ' more from the configuration, hosts and zone files (edit them there)'),
          table([['Name'], ['Type'], ['Answer']], r.fixed.map(x => el('tr', {}, el('td', {class: 'domain'}, x.name), el('td', {}, x.type), el('td', {class: 'domain'}, x.data))))));
      for (const p of r.problems) box.appendChild(el('p', {class: 'error'}, p));
    }
    draw().catch(failed);
    return section('Local names', el('p', {class: 'muted'}, 'Names hush answers itself, as "hush local add" sets them: A, AAAA, CNAME and more. A name without a dot gets the local domain.'), box);
  }

  // ------------------------------------------------------------ lists on and off

  async function switchesSection() {
    const r = await api('GET', '/api/lists/switches');
    if (!r.lists.length) return null;
    const rows = r.lists.map(l => {
      const box = el('input', {type: 'checkbox', class: 'list-switch', 'data-list': l.name, checked: l.enabled, disabled: !r.file,
        'aria-label': 'Use ' + l.name});
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          const x = await api('PUT', '/api/lists/switches/' + encodeURIComponent(l.name), {enabled: box.checked});
          toast((box.checked ? 'Using ' : 'Not using ') + l.name + (x.applied ? '' : ' (applies shortly)'));
        } catch (e) { box.checked = !box.checked; failed(e); }
        box.disabled = false;
      });
      return el('tr', {'data-list': l.name}, el('td', {}, el('label', {}, box, ' ', l.name)),
        el('td', {class: 'muted'}, l.source === 'config' ? 'configuration' : 'subscription'));
    });
    return section('Lists in use', table([['List'], ['From']], rows, 'list-switches'),
      el('p', {class: 'muted'}, r.file ? 'A list switched off stays configured and downloaded; it blocks nothing until switched on. The lists are rebuilt aside while queries go on.' :
        'hush was started without --config FILE: switches are kept in that file.'));
  }

  // ------------------------------------------------------------ groups

  const PAUSES = [[300, '5 min'], [900, '15 min'], [1800, '30 min'], [3600, '1 h'], [7200, '2 h'], [28800, '8 h']];

  // A group's blocking: paused with a countdown and "Cancel now", or a
  // duration and "Pause" (a timed control for the group, /api/controls).
  function pauseCell(group, pause) {
    const {countdown, localEnd, duration} = h;
    if (pause)
      return el('span', {class: 'group-paused nowrap'}, 'Paused, ', countdown(localEnd(pause.seconds_left), h.route), ' left ',
        el('button', {class: 'small group-resume', onclick: async () => {
          try { await api('DELETE', '/api/controls/' + encodeURIComponent(pause.id)); toast('Blocking is on again for ' + group); h.route(); } catch (e) { failed(e); }
        }}, 'Cancel now'));
    const len = el('select', {class: 'group-pause-duration', 'aria-label': 'Pause ' + group + ' for'},
      PAUSES.map(([s, t]) => el('option', {value: s}, t)));
    return el('span', {class: 'nowrap'}, len, ' ', el('button', {class: 'small group-pause', onclick: async () => {
      const seconds = Number(len.value);
      try {
        const r = await api('POST', '/api/controls', {kind: 'pause', group, seconds});
        toast('Blocking paused for ' + group + ' for ' + duration(seconds) + (r.applied ? '' : ' (applies shortly)'));
        h.route();
      } catch (e) { failed(e); }
    }}, 'Pause'));
  }

  // A group's devices and the subscribed lists it uses, set from check
  // boxes; the same form makes a new group. Devices' own groups
  // ("device-7") are not shown: they belong to the device page.
  async function groupsSection() {
    const [g, d, l, c] = await Promise.all([api('GET', '/api/groups'), api('GET', '/api/devices?range=30d&limit=500'), api('GET', '/api/lists'),
      api('GET', '/api/controls')]);
    const groups = g.groups.filter(x => !/^device-\d+$/.test(x.name));
    const pauses = new Map(c.controls.filter(x => x.kind === 'pause').map(x => [x.group, x]));
    const box = el('div', {id: 'groups'});
    function editor(group) {
      const members = new Set((group ? group.devices : []).map(x => x.id));
      const lists = new Set(group ? group.lists : []);
      const name = el('input', {type: 'text', class: 'group-name', value: group ? group.name : '', required: true,
        pattern: '[a-z0-9_\\-]{1,32}', placeholder: 'kids', 'aria-label': 'Group name'});
      const devBoxes = d.devices.map(x => el('label', {class: 'check'},
        el('input', {type: 'checkbox', class: 'group-device', value: x.id, checked: members.has(x.id)}), ' ', x.name));
      const listBoxes = l.subscriptions.map(x => el('label', {class: 'check'},
        el('input', {type: 'checkbox', class: 'group-list', value: x.name, checked: lists.has(x.name)}), ' ', x.title || x.name));
      const form = el('form', {class: 'group-form'},
        el('div', {class: 'inline-form'}, el('label', {}, 'Name '), name),
        el('fieldset', {}, el('legend', {}, 'Devices'), devBoxes.length ? devBoxes : el('span', {class: 'muted'}, 'No device yet.')),
        el('fieldset', {}, el('legend', {}, 'Subscribed lists it uses'), listBoxes.length ? listBoxes : el('span', {class: 'muted'}, 'No subscription yet.')),
        el('button', {type: 'submit'}, group ? 'Save' : 'Create group'));
      form.addEventListener('submit', async ev => {
        ev.preventDefault();
        const to = name.value.trim();
        const body = {
          devices: [...form.querySelectorAll('.group-device')].filter(c => c.checked).map(c => Number(c.value)),
          lists: [...form.querySelectorAll('.group-list')].filter(c => c.checked).map(c => c.value),
        };
        try {
          let target = group ? group.name : to;
          if (group && to !== group.name) {
            await api('POST', '/api/groups/' + encodeURIComponent(group.name) + '/rename', {to});
            target = to;
          }
          const r = await api('PUT', '/api/groups/' + encodeURIComponent(target), body);
          toast((group ? 'Saved group ' : 'Made group ') + target + (r.applied ? '' : ' (applies shortly)'));
          h.route();
        } catch (e) { failed(e); }
      });
      return form;
    }
    const rows = groups.map(x => {
      const row = el('tr', {'data-group': x.name},
        el('td', {}, el('strong', {}, x.name)),
        el('td', {}, x.devices.map(m => m.name).join(', ') || el('span', {class: 'muted'}, x.name === 'default' ? 'every device in no other group' : 'none'),
          x.devices_total > x.devices.length ? ' and ' + (x.devices_total - x.devices.length) + ' more' : ''),
        el('td', {class: 'hide-narrow'}, x.lists.join(', ')),
        el('td', {class: 'group-blocking'}, pauseCell(x.name, pauses.get(x.name))),
        el('td', {}, x.name === 'default' ? '' : el('button', {class: 'small group-edit', onclick: () => {
          clear(row);
          row.appendChild(el('td', {colspan: 5}, editor(x)));
        }}, 'Edit')));
      return row;
    });
    box.appendChild(table([['Group'], ['Devices'], ['Lists', 'hide-narrow'], ['Blocking'], ['']], rows, 'groups'));
    box.appendChild(el('details', {id: 'new-group'}, el('summary', {}, 'New group'), editor(null)));
    return section('Groups', el('p', {class: 'muted'}, 'A list applies to the devices of its groups. Allow and block entries can be for a group too. ' +
      'Pausing a group turns blocking off for its devices alone until the time is up.'), box);
  }

  return {settingsSection, localSection, switchesSection, groupsSection};
};
