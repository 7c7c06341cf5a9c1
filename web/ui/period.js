// hush dashboard: the period every page's counts cover (24 hours, 7 days or
// 30 days), one choice for every page. It is kept in the address
// (?since=7d: a link or a reload shows the same) and in localStorage, so the
// next page opened from the menu and the next visit use it too. Loaded
// before the page scripts, which take window.hushPeriod.
'use strict';

window.hushPeriod = (function () {
  const PERIODS = [['24h', 'last 24 hours', '24 h'], ['7d', 'last 7 days', '7 days'], ['30d', 'last 30 days', '30 days']];
  const KEY = 'hush.period';
  const FALLBACK = '24h';
  const known = v => PERIODS.some(p => p[0] === v);

  function keep(v) {
    try { localStorage.setItem(KEY, v); } catch (e) { /* private mode: the address still has it */ }
  }
  function kept() {
    try {
      const v = localStorage.getItem(KEY);
      return known(v) ? v : FALLBACK;
    } catch (e) { return FALLBACK; }
  }
  function hashParams() { return new URLSearchParams(location.hash.split('?')[1] || ''); }

  // The page's period: the address's (then kept for the other pages), else
  // the one picked last, else 24 hours.
  function current() {
    const v = hashParams().get('since');
    if (known(v)) {
      keep(v);
      return v;
    }
    return kept();
  }
  // "24 h", "7 days", "30 days": for headings such as "Queries (7 days)".
  function label(v) { return (PERIODS.find(p => p[0] === v) || PERIODS[0])[2]; }

  // The same page with another period in its address (which redraws it).
  function show(v) {
    const [path, query] = location.hash.split('?');
    const p = new URLSearchParams(query || '');
    p.set('since', v);
    location.hash = (path || '#/') + '?' + p.toString();
  }

  // The picker: a select with the three periods. A choice is kept, then
  // `onChange(v)` runs (by default the page is shown again with it).
  function picker(value, onChange) {
    const s = document.createElement('select');
    s.className = 'period';
    s.setAttribute('aria-label', 'Period');
    for (const [v, text] of PERIODS) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = text;
      o.selected = v === value;
      s.appendChild(o);
    }
    s.addEventListener('change', () => {
      keep(s.value);
      (onChange || show)(s.value);
    });
    return s;
  }

  return {PERIODS, known, current, kept, keep, label, picker, show};
})();
