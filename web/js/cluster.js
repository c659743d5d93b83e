// System > Cluster: where the engine runs. Every `scimitar serve` sharing the database is a
// node (GET /api/v1/cluster, docs/api.md): its id, the address its API listens on, when it
// started, when it last reported, how many outbox items it holds leased, and which one is
// this node (the one serving the console). Refreshed every two seconds while the page is
// shown and the browser tab visible; only what changed is rewritten.

import { h, clear, button, when, badge, empty, alertBox, keepFocus, loadOrder } from './dom.js';
import * as api from './api.js';

const REFRESH_MS = 2000;
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const UNITS = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];

/**
 * How long ago iso was, for people ("now", "5 seconds ago", "3 hours ago"), from the
 * browser's clock (a time slightly in the future, from clocks apart, reads "now").
 */
export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  const [unit, size] = UNITS.find(([, n]) => s >= n) || UNITS[UNITS.length - 1];
  return rtf.format(-Math.floor(s / size), unit);
}

// A time shown as how long ago it was, with the exact time in its title (on hover) and,
// with exact, also under it (for keyboard and screen reader users, who get no hover).
function timeCell(iso, exact) {
  const t = h('time', { attrs: { datetime: iso || null, title: iso ? when(iso) : null }, text: ago(iso) });
  return h('td', { class: 'nowrap' }, t, exact && iso ? h('div', { class: 'cell-sub', text: when(iso) }) : null);
}

/** The System > Cluster page. Returns the cleanup that stops its refresh. */
export function renderCluster(main) {
  const err = alertBox();
  const facts = h('dl', { class: 'status-facts' });
  const note = h('p', { class: 'note', hidden: true, attrs: { role: 'status' } });
  const table = h('div', { class: 'nodes' });
  const refresh = button('Refresh', () => load(), { kind: 'secondary' });
  clear(main,
    h('nav', { class: 'crumbs', attrs: { 'aria-label': 'Breadcrumb' } },
      h('ol', {}, h('li', {}, h('span', { text: 'System' })), h('li', {}, h('span', { text: 'Cluster', attrs: { 'aria-current': 'page' } })))),
    h('header', { class: 'page-head' }, h('h1', { text: 'Cluster' }), refresh),
    h('p', { class: 'muted intro', text: 'Each scimitar serve sharing this database is a node: it serves the API and this console, and its provisioning engine takes a share of the work. A node reports every 2 seconds; one silent for 10 seconds is left out, and the others take over its leased items (the changes it is sending or has queued to send). This page refreshes every 2 seconds.' }),
    err,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'nodes-title' } },
      h('div', { class: 'status-line' }, h('h2', { id: 'nodes-title', text: 'Nodes' }), facts),
      note, table));

  const order = loadOrder();
  let items = null; // the last answer shown
  let shown = null; // what the table was built from: every field but lastSeenAt
  let cells = []; // per row: its Started and Last seen <time> elements

  function fact(name, value) {
    return h('div', {}, h('dt', { class: 'muted', text: name }), h('dd', { text: value }));
  }

  function setTime(el, iso) {
    const t = ago(iso);
    if (el.textContent !== t) el.textContent = t;
    if (el.dateTime !== (iso || '')) { el.dateTime = iso || ''; el.title = iso ? when(iso) : ''; }
  }

  function draw() {
    const key = JSON.stringify(items.map((x) => ({ ...x, lastSeenAt: undefined })));
    if (key === shown) {
      // The same nodes and facts (a node reports every 2 s): only the times move on.
      items.forEach((x, i) => { setTime(cells[i].started, x.startedAt); setTime(cells[i].seen, x.lastSeenAt); });
      return;
    }
    shown = key;
    const leased = items.reduce((n, x) => n + (Number(x.leased) || 0), 0);
    facts.replaceChildren(fact('Live nodes', String(items.length)), fact('Leased items', String(leased)));
    note.hidden = !items.length || items.some((x) => x.self);
    note.textContent = note.hidden ? '' : 'The node serving this console has not reported yet: it does within 2 seconds of starting.';
    cells = [];
    keepFocus(table, () => {
      if (!items.length) {
        clear(table, empty('No node has reported in the last 10 seconds. A node reports every 2 seconds once scimitar serve has started.'));
        return;
      }
      clear(table, h('table', { class: 'table nodes-table', attrs: { 'aria-labelledby': 'nodes-title' } },
        h('thead', {}, h('tr', {}, ['Node', 'Listen address', 'Started', 'Last seen', 'Leased items'].map((t, i) => h('th', { attrs: { scope: 'col' }, class: i === 4 ? 'num-col' : null, text: t })))),
        h('tbody', {}, items.map((x) => {
          const started = timeCell(x.startedAt, true);
          const seen = timeCell(x.lastSeenAt, false);
          cells.push({ started: started.firstChild, seen: seen.firstChild });
          return h('tr', { class: x.self ? 'selected' : null },
            h('th', { attrs: { scope: 'row' }, class: 'node-id' }, h('code', { text: x.id }), x.self ? badge('This node', 'info') : null),
            h('td', {}, h('code', { text: x.listen || '—' })),
            started, seen,
            h('td', { class: 'num-col', text: String(x.leased ?? 0) }));
        }))));
    });
  }

  async function load() {
    const current = order();
    try {
      const r = await api.get('/cluster');
      if (!current()) return;
      items = (r && Array.isArray(r.items)) ? r.items : [];
      if (!err.hidden) { err.hidden = true; err.textContent = ''; }
      draw();
    } catch (e) {
      if (!current() || e.status === 401) return;
      // A failed refresh keeps the last answer on screen, and says so.
      const msg = items === null ? `The node list could not be read: ${e.message}` : `The node list could not be refreshed (${e.message}); the nodes below are as of the last answer.`;
      if (err.textContent !== msg) err.textContent = msg;
      err.hidden = false;
      if (items === null) clear(table, empty('No nodes to show.'));
    }
  }

  load();
  const tick = () => { if (!document.hidden) load(); };
  const timer = setInterval(tick, REFRESH_MS);
  document.addEventListener('visibilitychange', tick);
  return () => { clearInterval(timer); document.removeEventListener('visibilitychange', tick); };
}
