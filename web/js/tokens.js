// System > API tokens: the named admin tokens (GET/POST /api/v1/tokens, DELETE
// /api/v1/tokens/{id}, docs/api.md). Each tool or person gets its own token, revocable on
// its own; the list shows a token's name, its first characters, when it was created, last
// used (recorded at most once a minute) and when it expires, never the token. A new token
// is shown once, in the dialog that created it, with a Copy button; the server keeps only
// its hash. Revoking asks first; the last token cannot be revoked (the server refuses).

import { h, clear, button, field, dialog, confirmDialog, toast, alertBox, showApiError, setDisabled, requiredNote, empty, when, keepFocus, loadOrder, badge } from './dom.js';
import * as api from './api.js';

/** True when the console's own session token has this token's prefix. */
function isMine(t) {
  const mine = api.token() || '';
  return !!t.prefix && mine.startsWith(t.prefix);
}

function timeCell(iso, none) {
  return h('td', { class: 'nowrap' }, iso ? h('time', { attrs: { datetime: iso }, text: when(iso) }) : none);
}

/** Shows the new token once, with a Copy button, in dialog d. */
export function showCreated(d, made) {
  const value = field('Token', { value: made.token, spellcheck: false, help: 'Copy it now: it is not shown again. The server keeps only its hash.' });
  value.input.readOnly = true;
  value.input.classList.add('token-value');
  const status = h('p', { class: 'field-help', attrs: { role: 'status' } });
  const copy = button('Copy', async () => {
    try {
      await navigator.clipboard.writeText(made.token);
      status.textContent = 'Copied to the clipboard.';
    } catch {
      value.input.select();
      status.textContent = 'Select the token and copy it (Ctrl+C).';
    }
  }, { kind: 'secondary', aria: 'Copy the token' });
  d.setTitle(`Token ${made.name} created`);
  clear(d.body, h('div', {},
    h('p', { class: 'alert alert-warn', text: 'This is the only time the token is shown. Copy it and keep it somewhere safe, such as your secrets manager.' }),
    value.wrap, status,
    h('div', { class: 'actions' }, copy, button('Done', () => d.close(), { kind: 'primary' }))));
  value.input.focus();
  value.input.select();
}

function createForm(onCreated) {
  const name = field('Name', { required: true, help: 'Who or what uses it, e.g. "CI pipeline" or "Backup job". Unique.' });
  const expires = field('Expires', { kind: 'datetime-local', help: 'Optional, in your local time. Leave empty for a token that does not expire.' });
  const err = alertBox();
  const save = button('Create Token', null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true }, requiredNote(), err, name.wrap, expires.wrap,
    h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), save));
  const d = dialog('Create API Token', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.get().trim()) { name.error('Enter a name.'); name.input.focus(); return; }
    const body = { name: name.get().trim() };
    if (expires.get()) {
      const t = new Date(expires.get());
      if (Number.isNaN(t.getTime())) { expires.error('Enter a date and time.'); expires.input.focus(); return; }
      body.expiresAt = t.toISOString();
    }
    setDisabled(save, true);
    try {
      const made = await api.post('/tokens', body);
      showCreated(d, made);
      onCreated(made);
    } catch (ex) {
      showApiError(ex, { name, expiresAt: expires }, err);
    } finally {
      setDisabled(save, false);
    }
  });
}

/** The System > API tokens page. */
export function renderTokens(main) {
  const err = alertBox();
  const table = h('div');
  const order = loadOrder();
  clear(main,
    h('nav', { class: 'crumbs', attrs: { 'aria-label': 'Breadcrumb' } },
      h('ol', {}, h('li', {}, h('span', { text: 'System' })), h('li', {}, h('span', { text: 'API tokens', attrs: { 'aria-current': 'page' } })))),
    h('header', { class: 'page-head' }, h('h1', { text: 'API tokens' }),
      button('Create Token', () => createForm(() => load()), { kind: 'primary', icon: '+' })),
    h('p', { class: 'muted intro', text: 'Admin tokens sign in to this console and call the admin API and the scimitar command line. Give each tool or person a token of its own, so that one can be revoked without the others. The token named initial is the one scimitar serve made at its first start (or SCIMITAR_ADMIN_TOKEN). Tokens are stored as hashes: a token is shown once, when it is created.' }),
    err, table);

  async function revoke(t) {
    const self = isMine(t);
    const msg = `Revoke the token ${t.name}? Everything that uses it stops working at once.` +
      (self ? ' It is the token this console signed in with: you will be signed out.' : '');
    if (!await confirmDialog('Revoke token', msg, 'Revoke')) return;
    try {
      await api.del(`/tokens/${api.seg(t.id)}`);
      err.hidden = true;
      toast(`Token ${t.name} revoked.`, 'success');
      load();
    } catch (e) {
      if (e.status !== 401) showApiError(e, {}, err);
    }
  }

  async function load() {
    const current = order();
    let items;
    try {
      items = await api.listAll('/tokens');
    } catch (e) {
      if (current() && e.status !== 401) showApiError(e, {}, err);
      return;
    }
    if (!current()) return;
    keepFocus(main, () => {
      if (!items.length) { clear(table, empty('No tokens.')); return; }
      clear(table, h('table', { class: 'table', attrs: { 'aria-label': 'API tokens' } },
        h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'Created', 'Last used', 'Expires', h('span', { class: 'sr-only', text: 'Actions' })].map((x) => h('th', { attrs: { scope: 'col' } }, x)))),
        h('tbody', {}, items.map((t) => h('tr', {},
          h('th', { attrs: { scope: 'row' } }, t.name, isMine(t) ? [' ', badge('This session', 'info')] : null),
          h('td', {}, t.prefix ? h('code', { text: `${t.prefix}…` }) : '—'),
          timeCell(t.createdAt, '—'),
          timeCell(t.lastUsedAt, 'Never'),
          timeCell(t.expiresAt, 'Never'),
          h('td', { class: 'cell-actions' }, button('Revoke', () => revoke(t), { kind: 'ghost', aria: `Revoke ${t.name}` })))))));
    });
  }

  load();
  return null;
}
