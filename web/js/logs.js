// The provisioning log: one entry per operation (time, rule, user, action, status, HTTP
// status, each changed attribute's old → new value, the target's error), with filters
// by rule, user, action and status, paging, and a live refresh while it is on screen.

import { h, clear, button, field, when, badge, empty, debounce, toast, keepFocus, loadOrder } from './dom.js';
import * as api from './api.js';

// VERIFY / DRIFTED: a drift repair (Full Resync with verify) found the account on the
// target different from what the mapping says (old: the target's value, new: the
// mapping's), or gone.
const ACTIONS = ['CREATE', 'UPDATE', 'DISABLE', 'ENABLE', 'DELETE', 'LINK', 'SKIP', 'VERIFY', 'MEMBERS_ADD', 'MEMBERS_REMOVE', 'UNLINK'];
const KINDS = [['', 'Users and groups'], ['user', 'Users'], ['group', 'Groups']];
const STATUSES = ['SUCCESS', 'FAILED', 'RETRY', 'UNSYNCED', 'DRIFTED'];
const STATUS_KINDS = { SUCCESS: 'ok', FAILED: 'error' };
const label = (s) => (s.charAt(0) + s.slice(1).toLowerCase()).replace('_', ' ');

function show(v) {
  if (v === null || v === undefined || v === '') return '(none)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// A verify entry's old value is the one found on the target, its new value the mapping's.
function changesCell(changes, verify = false) {
  if (!changes || !changes.length) return '—';
  const list = h('ul', { class: 'changes' }, changes.map((c) => h('li', {},
    h('code', { text: c.attribute }), ': ', h('span', { class: 'old', text: show(c.old) }),
    verify ? h('span', { class: 'sr-only', text: ' on the target, expected' }) : null, ' → ', h('span', { class: 'new', text: show(c.new) }))));
  if (changes.length <= 3) return list;
  return h('details', { class: 'changes-more' }, h('summary', { text: `${changes.length} attributes` }), list);
}

/**
 * A log view. fixed: {rule} to show one rule's entries. Returns {el, stop}.
 */
export function logView(fixed = {}) {
  const rules = {};
  const ruleF = fixed.rule ? null : field('Rule', { kind: 'select', options: [['', 'All rules']] });
  const userF = field('User', { placeholder: 'username', help: null });
  const actionF = field('Action', { kind: 'select', options: [['', 'All actions'], ...ACTIONS.map((a) => [a, label(a)])] });
  const statusF = field('Status', { kind: 'select', options: [['', 'All statuses'], ...STATUSES.map((a) => [a, label(a)])] });
  const kindF = field('Kind', { kind: 'select', options: KINDS });
  const table = h('div', { class: 'log-table' });
  const more = h('div', { class: 'actions actions-left' });
  let cursor = null;
  let entries = [];
  let userId = null;

  // The id of the user the User field names (or the text itself, or null when empty).
  async function resolveUser() {
    const name = userF.get().trim();
    if (!name) return null;
    try {
      const r = await api.get(`/users?q=${encodeURIComponent(name)}&limit=20`);
      const hit = (r.items || []).find((u) => u.username.toLowerCase() === name.toLowerCase());
      return hit ? hit.id : name;
    } catch { return name; }
  }

  function query(c) {
    const q = new URLSearchParams();
    const rule = fixed.rule || (ruleF && ruleF.get());
    if (rule) q.set('rule', rule);
    if (userId) q.set('user', userId);
    if (actionF.get()) q.set('action', actionF.get());
    if (statusF.get()) q.set('status', statusF.get());
    if (kindF.get()) q.set('kind', kindF.get());
    q.set('limit', '50');
    if (c) q.set('cursor', c);
    return `/logs?${q}`;
  }

  // The live refresh and a filter change can overlap: only the latest load's answer is
  // shown (an older, unfiltered page never replaces the filtered one), and an answer
  // equal to what is shown changes nothing (the focus and an opened "N attributes" stay).
  const order = loadOrder();
  let shown = null;
  async function load(append) {
    const current = order();
    try {
      const page = await api.get(query(append ? cursor : null));
      if (!current()) return;
      const items = page.items || [];
      entries = append ? entries.concat(items) : items;
      cursor = page.nextCursor || null;
      render();
    } catch (e) {
      if (!current()) return;
      shown = null;
      clear(table, h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, text: e.message }));
    }
  }

  function render() {
    const key = JSON.stringify([entries, cursor, Object.keys(rules).length]);
    if (key === shown) return;
    shown = key;
    keepFocus(el, () => draw());
  }

  function draw() {
    if (!entries.length) {
      clear(table, empty('No provisioning operations match.'));
      more.replaceChildren();
      return;
    }
    clear(table, h('table', { class: 'table log', attrs: { 'aria-label': 'Provisioning log' } },
      h('thead', {}, h('tr', {}, ['Time', fixed.rule ? null : 'Rule', 'User or group', 'Action', 'Status', 'HTTP', 'Changes', 'Error'].filter(Boolean).map((t) => h('th', { text: t })))),
      h('tbody', {}, entries.map((e) => h('tr', { class: e.status === 'FAILED' ? 'row-failed' : '' },
        h('td', { class: 'nowrap', text: when(e.time) }),
        fixed.rule ? null : h('td', { text: rules[e.ruleId] || e.ruleId || '—' }),
        e.kind === 'group' ? h('td', {}, h('span', { class: 'muted', text: 'Group ' }), e.groupName || e.groupId || '—')
          : h('td', { text: e.username || e.userId || '—' }),
        h('td', { text: label(e.action || '') }),
        h('td', {}, badge(label(e.status || ''), STATUS_KINDS[e.status] || 'warn')),
        h('td', { text: e.httpStatus ? String(e.httpStatus) : '—' }),
        h('td', {}, changesCell(e.changes, e.action === 'VERIFY')),
        h('td', { class: 'err-text', text: e.error || '' }))))));
    more.replaceChildren(cursor ? button('Load more', () => load(true), { kind: 'ghost' }) : '');
  }

  const filterOrder = loadOrder();
  const reload = debounce(async () => {
    const current = filterOrder();
    const id = await resolveUser();
    if (!current()) return;
    userId = id;
    load(false);
  }, 300);
  for (const f of [ruleF, actionF, statusF, kindF].filter(Boolean)) f.input.addEventListener('change', reload);
  userF.input.addEventListener('input', reload);

  const el = h('section', { class: 'panel', attrs: { 'aria-label': 'Provisioning log' } },
    h('div', { class: 'filters' }, ruleF ? ruleF.wrap : null, userF.wrap, kindF.wrap, actionF.wrap, statusF.wrap,
      h('div', { class: 'field field-btn' }, button('Refresh', () => load(false), { kind: 'secondary' }))),
    table, more);

  if (ruleF) {
    api.listAll('/rules').then((rs) => {
      for (const r of rs) { rules[r.id] = r.name; ruleF.input.append(h('option', { value: r.id, text: r.name })); }
      render();
    }).catch((e) => toast(e.message, 'error'));
  }
  load(false);
  // Live: refresh the first page every few seconds unless the reader paged further.
  const timer = setInterval(() => { if (!document.hidden && entries.length <= 50) load(false); }, 3000);
  return { el, stop: () => clearInterval(timer) };
}

/** The Monitoring > Provisioning Log page. */
export function renderLogPage(main) {
  const v = logView();
  clear(main, h('header', { class: 'page-head' }, h('h1', { text: 'Provisioning Log' })), v.el);
  return v.stop;
}
