// Integrations > Inbound SCIM: the tokens an identity provider (Entra ID, Okta, ...) uses to
// provision users and groups into the directory through /scim/v2 (GET/POST
// /api/v1/inbound-tokens, PATCH/DELETE /api/v1/inbound-tokens/{id}, docs/inbound.md). Each
// token is bound to a population (the users it creates join it; it sees only them) and a
// scope (read or write), and may name the connection that is its source's own (loop safety).
// A new token is shown once, with the SCIM base URL to give the identity provider.

import { h, clear, button, field, dialog, confirmDialog, toast, alertBox, showApiError, setDisabled, requiredNote, empty, when, keepFocus, loadOrder, badge } from './dom.js';
import * as api from './api.js';
import { showCreated } from './tokens.js';

function timeCell(iso, none) {
  return h('td', { class: 'nowrap' }, iso ? h('time', { attrs: { datetime: iso }, text: when(iso) }) : none);
}

function scimBase() {
  return `${location.origin}/scim/v2`;
}

function createForm(populations, connections, onCreated) {
  const name = field('Name', { required: true, help: 'The identity provider it is for, e.g. "Entra ID production". Unique; it is shown as the source of the users it creates.' });
  const pop = field('Population', { kind: 'select', required: true, options: [['', 'Choose a population…'], ...populations.map((p) => [p.id, p.name])], help: 'Users the identity provider creates join it; the token sees and changes only its users.' });
  const scope = field('Scope', { kind: 'select', required: true, value: 'write', options: [['write', 'Read and write'], ['read', 'Read only']] });
  const source = field('Source connection', { kind: 'select', options: [['', 'None'], ...connections.map((c) => [c.id, c.name])], help: 'The connection that writes back to this identity provider, if any: no rule towards it may take in the population, so its users never go back where they came from.' });
  const err = alertBox();
  const save = button('Create Token', null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true }, requiredNote(), err, name.wrap, pop.wrap, scope.wrap, source.wrap,
    h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), save));
  const d = dialog('Create Inbound SCIM Token', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.get().trim()) { name.error('Enter a name.'); name.input.focus(); return; }
    if (!pop.get()) { pop.error('Choose a population.'); pop.input.focus(); return; }
    const body = { name: name.get().trim(), population: pop.get(), scope: scope.get() };
    if (source.get()) body.sourceConnection = source.get();
    setDisabled(save, true);
    try {
      const made = await api.post('/inbound-tokens', body);
      showCreated(d, made);
      d.body.prepend(h('p', {}, 'SCIM base URL for the identity provider: ', h('code', { text: scimBase() })));
      onCreated(made);
    } catch (ex) {
      showApiError(ex, { name, population: pop, scope, sourceConnection: source }, err);
    } finally {
      setDisabled(save, false);
    }
  });
}

/** The Integrations > Inbound SCIM page. */
export function renderInbound(main) {
  const err = alertBox();
  const table = h('div');
  const order = loadOrder();
  let populations = [];
  let connections = [];
  clear(main,
    h('nav', { class: 'crumbs', attrs: { 'aria-label': 'Breadcrumb' } },
      h('ol', {}, h('li', {}, h('span', { text: 'Integrations' })), h('li', {}, h('span', { text: 'Inbound SCIM', attrs: { 'aria-current': 'page' } })))),
    h('header', { class: 'page-head' }, h('h1', { text: 'Inbound SCIM' }),
      button('Create Token', () => createForm(populations, connections, () => load()), { kind: 'primary', icon: '+' })),
    h('p', { class: 'muted intro' }, 'An identity provider that speaks SCIM provisions users and groups into this directory at ',
      h('code', { text: scimBase() }), ' with a token made here; the rules then send them on like any other change. Tokens are stored as hashes: a token is shown once, when it is created.'),
    err, table);

  async function revoke(t) {
    if (!await confirmDialog('Revoke token', `Revoke the inbound token ${t.name}? The identity provider that uses it stops provisioning at once.`, 'Revoke')) return;
    try {
      await api.del(`/inbound-tokens/${api.seg(t.id)}`);
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
      [items, populations, connections] = await Promise.all([api.listAll('/inbound-tokens'), api.listAll('/populations'), api.listAll('/connections')]);
    } catch (e) {
      if (current() && e.status !== 401) showApiError(e, {}, err);
      return;
    }
    if (!current()) return;
    const connName = (id) => (connections.find((c) => c.id === id) || {}).name || id;
    keepFocus(main, () => {
      if (!items.length) { clear(table, empty('No inbound tokens yet. Click Create Token to let an identity provider provision into the directory.')); return; }
      clear(table, h('table', { class: 'table', attrs: { 'aria-label': 'Inbound SCIM tokens' } },
        h('thead', {}, h('tr', {}, ['Name', 'Population', 'Scope', 'Source connection', 'Prefix', 'Created', 'Last used', h('span', { class: 'sr-only', text: 'Actions' })].map((x) => h('th', { attrs: { scope: 'col' } }, x)))),
        h('tbody', {}, items.map((t) => h('tr', {},
          h('th', { attrs: { scope: 'row' }, text: t.name }),
          h('td', { text: t.population ? t.population.name || t.population.id : '' }),
          h('td', {}, t.scope === 'write' ? badge('Read and write', 'info') : badge('Read only', 'muted')),
          h('td', { text: t.sourceConnection ? connName(t.sourceConnection) : '—' }),
          h('td', {}, t.prefix ? h('code', { text: `${t.prefix}…` }) : '—'),
          timeCell(t.createdAt, '—'),
          timeCell(t.lastUsedAt, 'Never'),
          h('td', { class: 'cell-actions' }, button('Revoke', () => revoke(t), { kind: 'ghost', aria: `Revoke ${t.name}` })))))));
    });
  }

  load();
  return null;
}
