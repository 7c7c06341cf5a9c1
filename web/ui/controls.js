// hush dashboard: a device's pause, timed exceptions and blocked services
// (over /api/controls and /api/services). app.js calls window.hushControls
// with its helpers; deviceSection(id) is the device page's part,
// timedSection() the devices page's (a name allowed or blocked for a while
// for a group or everyone). As in app.js, everything from the network goes
// into the page as text.
'use strict';

window.hushControls = function (h) {
  const {el, clear, api, toast, failed, section, table, countdown, localEnd, duration} = h;
  const DURATIONS = [[900, '15 min'], [1800, '30 min'], [3600, '1 h'], [7200, '2 h'], [28800, '8 h'], [86400, '1 day']];
  const KIND = {allow: 'allowed', deny: 'blocked', pause: 'paused', service: 'service blocked'};

  function deviceSection(id) {
    const group = 'device-' + id;
    const box = el('div', {id: 'device-controls'}, el('p', {class: 'muted'}, 'Loading…'));
    const services = el('div', {id: 'device-services'});
    async function add(body, what) {
      try {
        const r = await api('POST', '/api/controls', Object.assign({device: Number(id)}, body));
        toast(what + (r.applied ? '' : ' (applies shortly)'));
        await draw();
      } catch (e) { failed(e); }
    }
    async function cancel(c) {
      try {
        await api('DELETE', '/api/controls/' + encodeURIComponent(c.id));
        toast(c.kind === 'service' ? 'Unblocked ' + c.target : 'Cancelled');
        await draw();
      } catch (e) { failed(e); }
    }
    function controlRow(c, names) {
      const what = c.kind === 'pause' ? 'blocking paused' :
        c.kind === 'service' ? (names[c.target] || c.target) + ' blocked' : KIND[c.kind] + ' ' + c.target;
      return el('tr', {'data-control': c.id, 'data-kind': c.kind},
        el('td', {class: 'domain'}, what),
        el('td', {class: 'nowrap'}, c.until ? [countdown(localEnd(c.seconds_left), draw), ' left'] : 'until unblocked'),
        el('td', {}, el('button', {class: 'small', onclick: () => cancel(c)}, 'Cancel now')));
    }
    function exceptionForm() {
      const kind = el('select', {name: 'kind', id: 'exception-kind', 'aria-label': 'Allow or block'},
        el('option', {value: 'allow'}, 'Allow'), el('option', {value: 'deny'}, 'Block'));
      const name = el('input', {type: 'text', name: 'name', id: 'exception-name', placeholder: 'example.com', required: true});
      const len = el('select', {name: 'duration', id: 'exception-duration', 'aria-label': 'For how long'},
        DURATIONS.map(([s, t]) => el('option', {value: s, selected: s === 1800}, 'for ' + t)));
      const form = el('form', {class: 'inline-form', id: 'exception-form'}, kind, name, len, el('button', {type: 'submit'}, 'Add'));
      form.addEventListener('submit', ev => {
        ev.preventDefault();
        const seconds = Number(len.value);
        add({kind: kind.value, target: name.value.trim(), seconds},
          (kind.value === 'allow' ? 'Allowed ' : 'Blocked ') + name.value.trim() + ' for ' + duration(seconds));
      });
      return form;
    }
    async function draw() {
      let c, s;
      try {
        [c, s] = await Promise.all([api('GET', '/api/controls?group=' + group), api('GET', '/api/services?group=' + group)]);
      } catch (e) { failed(e); return; }
      const names = Object.fromEntries(s.services.map(x => [x.id, x.name]));
      const pause = c.controls.find(x => x.kind === 'pause');
      clear(box);
      box.appendChild(pause ?
        el('p', {id: 'device-paused'}, 'Blocking is paused for this device: it resumes in ',
          countdown(localEnd(pause.seconds_left), draw), '. ',
          el('button', {class: 'small', id: 'device-resume', onclick: () => cancel(pause)}, 'Cancel now')) :
        el('p', {class: 'muted'}, 'Pause blocking for this device only, or allow or block one name for a while.'));
      box.appendChild(el('div', {class: 'buttons'},
        el('button', {id: 'device-pause-5', onclick: () => add({kind: 'pause', seconds: 300}, 'Paused for 5 min')}, 'Pause 5 min'),
        el('button', {id: 'device-pause-15', onclick: () => add({kind: 'pause', seconds: 900}, 'Paused for 15 min')}, 'Pause 15 min'),
        el('button', {id: 'device-pause-60', onclick: () => add({kind: 'pause', seconds: 3600}, 'Paused for 1 h')}, 'Pause 1 h')));
      box.appendChild(exceptionForm());
      const timed = c.controls.filter(x => x.kind !== 'pause');
      if (timed.length)
        box.appendChild(table([['What'], ['Ends'], ['']], timed.map(x => controlRow(x, names))));
      clear(services);
      services.appendChild(el('p', {class: 'muted'}, 'One click blocks a whole service for this device; click again to unblock it.'));
      services.appendChild(el('div', {class: 'services'}, s.services.map(x => {
        const on = x.blocked[0];
        return el('button', {class: 'small' + (on ? ' on' : ''), 'data-service': x.id, 'aria-pressed': on ? 'true' : 'false',
          title: on ? 'Unblock ' + x.name : 'Block ' + x.name,
          onclick: () => on ? cancel(on) : add({kind: 'service', target: x.id}, 'Blocked ' + x.name)},
        (on ? 'Blocked: ' : 'Block ') + x.name);
      })));
    }
    draw();
    return [section('Pause and timed exceptions', box), section('Blocked services', services)];
  }

  // Allow or block one name for a while for everyone or a group, and every
  // timed exception in force (devices' too) with its countdown and "Cancel now".
  function timedSection() {
    const box = el('div', {id: 'timed-exceptions'}, el('p', {class: 'muted'}, 'Loading…'));
    async function draw() {
      let c, g;
      try {
        [c, g] = await Promise.all([api('GET', '/api/controls'), api('GET', '/api/groups')]);
      } catch (e) { failed(e); return; }
      const kind = el('select', {id: 'timed-kind', 'aria-label': 'Allow or block'},
        el('option', {value: 'allow'}, 'Allow'), el('option', {value: 'deny'}, 'Block'));
      const name = el('input', {type: 'text', id: 'timed-name', placeholder: 'example.com', required: true, 'aria-label': 'Name'});
      const whom = el('select', {id: 'timed-whom', 'aria-label': 'For whom'}, el('option', {value: ''}, 'for everyone'),
        g.groups.filter(x => !/^device-\d+$/.test(x.name)).map(x => el('option', {value: x.name}, 'for group ' + x.name)));
      const len = el('select', {id: 'timed-duration', 'aria-label': 'For how long'},
        DURATIONS.map(([s, t]) => el('option', {value: s, selected: s === 1800}, 'for ' + t)));
      const form = el('form', {class: 'inline-form', id: 'timed-form'}, kind, name, whom, len, el('button', {type: 'submit'}, 'Add'));
      form.addEventListener('submit', async ev => {
        ev.preventDefault();
        const seconds = Number(len.value), target = name.value.trim();
        const body = {kind: kind.value, target, seconds};
        if (whom.value) body.group = whom.value;
        try {
          const r = await api('POST', '/api/controls', body);
          toast((kind.value === 'allow' ? 'Allowed ' : 'Blocked ') + target + ' ' + (whom.value ? 'for group ' + whom.value : 'for everyone') +
            ' for ' + duration(seconds) + (r.applied ? '' : ' (applies shortly)'));
          await draw();
        } catch (e) { failed(e); }
      });
      const timed = c.controls.filter(x => (x.kind === 'allow' || x.kind === 'deny') && x.until);
      const rows = timed.map(x => el('tr', {'data-control': x.id, 'data-kind': x.kind, 'data-group': x.group},
        el('td', {class: 'domain'}, KIND[x.kind] + ' ' + x.target),
        el('td', {}, x.label),
        el('td', {class: 'nowrap'}, countdown(localEnd(x.seconds_left), draw), ' left'),
        el('td', {}, el('button', {class: 'small', onclick: async () => {
          try {
            await api('DELETE', '/api/controls/' + encodeURIComponent(x.id));
            toast('Cancelled');
            await draw();
          } catch (e) { failed(e); }
        }}, 'Cancel now'))));
      clear(box);
      box.append(el('p', {class: 'muted'}, 'Allow or block one name (and the names below it) for a while, for everyone or one group; ' +
        'it ends by itself. A single device\'s are on its page and listed here too.'), form,
        rows.length ? table([['What'], ['For'], ['Ends'], ['']], rows, 'timed-list') : el('p', {class: 'muted', id: 'no-timed'}, 'None in force.'));
    }
    draw();
    return section('Timed exceptions', box);
  }

  return {deviceSection, timedSection};
};
