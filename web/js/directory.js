// Directory pages: Users (search, population filter, create, edit, disable/enable,
// delete), Populations (create, edit, delete) and Groups (create, edit, delete, direct
// members incl. nested groups, effective members, and a dynamic group's user filter).

import { h, clear, button, field, dialog, alertBox, showApiError, toast, confirmDialog, badge, empty, debounce, setDisabled, keepFocus, loadOrder, requiredNote } from './dom.js';
import * as api from './api.js';
import { filterEditor, filterSummary } from './filter.js';

const USER_FORM = [
  ['username', 'Username', { required: true, autocomplete: 'off' }],
  ['name.given', 'Given Name'], ['name.family', 'Family Name'], ['name.formatted', 'Formatted'],
  ['nickname', 'Nickname'], ['title', 'Title'], ['type', 'Type'],
  ['email', 'Email Address', { kind: 'email' }], ['primaryPhone', 'Primary Phone'], ['externalId', 'External ID'],
  ['address.streetAddress', 'Street Address'], ['address.locality', 'Locality'], ['address.region', 'Region'],
  ['address.postalCode', 'Postal Code'], ['address.countryCode', 'Country Code'],
];

const getPath = (o, p) => p.split('.').reduce((x, k) => (x == null ? x : x[k]), o);
function setPath(o, p, v) {
  const ks = p.split('.');
  let x = o;
  for (const k of ks.slice(0, -1)) { if (!x[k] || typeof x[k] !== 'object') x[k] = {}; x = x[k]; }
  x[ks[ks.length - 1]] = v;
}

// Where a user came from: an inbound SCIM token (by its name), an import, or the REST
// API (the console included).
function sourceLabel(src) {
  if (src && src.kind === 'scim') return `SCIM · ${src.token}`;
  if (src && src.kind === 'import') return 'Import';
  return 'REST API';
}

function pageHead(title, ...tools) {
  return h('header', { class: 'page-head' }, h('h1', { text: title }), h('div', { class: 'head-tools' }, tools));
}

/** The user dialog (create when user is null). */
function openUser(user, populations, onDone) {
  const fields = {};
  const err = alertBox();
  for (const [k, label, o] of USER_FORM) fields[k] = field(label, { ...(o || {}), value: user ? getPath(user, k) ?? '' : '' });
  fields.population = field('Population', { kind: 'select', required: true, options: [['', 'Choose a population…'], ...populations.map((p) => [p.id, p.name])], value: user && user.population ? user.population.id : (populations.length === 1 ? populations[0].id : '') });
  fields.enabled = field('Enabled', { kind: 'checkbox', value: user ? user.enabled !== false : true });
  const save = button(user ? 'Save' : 'Create User', null, { kind: 'primary', submit: true });
  const groupsOf = h('section', { class: 'user-groups', attrs: { 'aria-label': 'Groups' } }, h('h3', { text: 'Groups' }), h('p', { class: 'muted', text: 'Loading…' }));
  if (user) {
    api.get(`/users/${api.seg(user.id)}/groups`).then((r) => {
      const gs = Array.isArray(r) ? r : (r && r.items) || [];
      clear(groupsOf, h('h3', { text: 'Groups' }), gs.length
        ? h('ul', { class: 'chips' }, gs.map((g) => h('li', { text: g.direct === false ? `${g.name} (inherited or dynamic)` : g.name })))
        : h('p', { class: 'muted', text: 'Not a member of any group.' }));
    }).catch(() => groupsOf.remove());
  }
  const g = (keys) => h('div', { class: 'grid2' }, keys.map((k) => fields[k].wrap));
  const form = h('form', { noValidate: true, class: 'user-form' }, requiredNote(), err,
    g(['username', 'population']),
    h('h3', { text: 'Name' }), g(['name.given', 'name.family', 'name.formatted', 'nickname']),
    h('h3', { text: 'Work' }), g(['title', 'type', 'email', 'primaryPhone', 'externalId']),
    h('h3', { text: 'Address' }), g(['address.streetAddress', 'address.locality', 'address.region', 'address.postalCode', 'address.countryCode']),
    fields.enabled.wrap,
    user ? groupsOf : null,
    h('div', { class: 'actions' },
      user ? button('Delete', async () => {
        if (!await confirmDialog('Delete user', `Delete ${user.username}? Provisioning applies each rule's Remove Action to the user's accounts.`)) return;
        try { await api.del(`/users/${api.seg(user.id)}`); d.close(); toast(`User ${user.username} deleted.`, 'success'); onDone(); } catch (e) { showApiError(e, fields, err); }
      }, { kind: 'danger', class: 'left' }) : null,
      button('Cancel', () => d.close(), { kind: 'ghost' }), save));
  const d = dialog(user ? `Edit ${user.username}` : 'Add User', form, { wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!fields.username.get().trim()) { fields.username.error('Enter a username.'); fields.username.input.focus(); return; }
    if (!fields.population.get()) { fields.population.error('Choose the population the user belongs to.'); fields.population.input.focus(); return; }
    const body = {};
    for (const [k] of USER_FORM) {
      const v = fields[k].get().trim();
      if (v !== '') setPath(body, k, v);
      else if (user && getPath(user, k) != null && getPath(user, k) !== '') setPath(body, k, null);
    }
    body.population = { id: fields.population.get() };
    body.enabled = fields.enabled.get();
    setDisabled(save, true);
    try {
      if (user) await api.patch(`/users/${api.seg(user.id)}`, body);
      else await api.post('/users', body);
      d.close();
      toast(user ? `User ${body.username} saved.` : `User ${body.username} created.`, 'success');
      onDone();
    } catch (ex) {
      showApiError(ex, fields, err);
    } finally { setDisabled(save, false); }
  });
}

/** The Users page; populationId (optional) preselects the population filter. */
export function renderUsers(main, populationId) {
  let populations = [];
  const search = field('Search users', { kind: 'search', placeholder: 'username, name or email' });
  const popF = field('Population', { kind: 'select', options: [['', 'All populations']] });
  const tableEl = h('div');
  const more = h('div', { class: 'actions actions-left' });
  let items = [];
  let cursor = null;
  // Typing in the search starts a load per pause: only the latest one's answer is shown.
  const order = loadOrder();
  clear(main, pageHead('Users', button('Add User', () => openUser(null, populations, () => load(false)), { kind: 'primary', icon: '+' })),
    h('div', { class: 'filters' }, search.wrap, popF.wrap), tableEl, more);

  async function load(append) {
    const q = new URLSearchParams({ limit: '100' });
    if (search.get().trim()) q.set('q', search.get().trim());
    if (popF.get()) q.set('population', popF.get());
    if (append && cursor) q.set('cursor', cursor);
    const current = order();
    try {
      const page = await api.get(`/users?${q}`);
      if (!current()) return;
      items = append ? items.concat(page.items || []) : (page.items || []);
      cursor = page.nextCursor || null;
      keepFocus(main, render);
    } catch (e) { if (current()) clear(tableEl, h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, text: e.message })); }
  }
  function render() {
    more.replaceChildren(cursor ? button('Load more', () => load(true), { kind: 'ghost' }) : '');
    if (!items.length) { clear(tableEl, empty(search.get() ? 'No user matches.' : 'No users yet. Click Add User to create one.')); return; }
    clear(tableEl, h('table', { class: 'table', attrs: { 'aria-label': 'Users' } },
      h('thead', {}, h('tr', {}, ['Username', 'Name', 'Email Address', 'Population', 'Source', 'Status', h('span', { class: 'sr-only', text: 'Actions' })].map((t) => h('th', {}, t)))),
      h('tbody', {}, items.map((u) => h('tr', { class: u.enabled === false ? 'row-muted' : '' },
        h('td', {}, h('button', { type: 'button', class: 'link', text: u.username, on: { click: () => openUser(u, populations, () => load(false)) } })),
        h('td', { text: (u.name && (u.name.formatted || [u.name.given, u.name.family].filter(Boolean).join(' '))) || '' }),
        h('td', { text: u.email || '' }),
        h('td', { text: u.population ? u.population.name : '' }),
        h('td', { text: sourceLabel(u.source) }),
        h('td', {}, u.enabled === false ? badge('Disabled', 'muted') : badge('Enabled', 'ok')),
        h('td', { class: 'cell-actions' },
          button(u.enabled === false ? 'Enable' : 'Disable', async () => {
            try {
              await api.patch(`/users/${api.seg(u.id)}`, { enabled: u.enabled === false });
              toast(`User ${u.username} ${u.enabled === false ? 'enabled' : 'disabled'}.`, 'success');
              load(false);
            } catch (e) { toast(e.message, 'error'); }
          }, { kind: 'ghost', aria: `${u.enabled === false ? 'Enable' : 'Disable'} ${u.username}` }),
          button('Edit', () => openUser(u, populations, () => load(false)), { kind: 'ghost', aria: `Edit ${u.username}` })))))));
  }
  search.input.addEventListener('input', debounce(() => load(false), 250));
  popF.input.addEventListener('change', () => load(false));
  api.listAll('/populations').then((ps) => {
    populations = ps;
    for (const p of ps) popF.input.append(h('option', { value: p.id, text: p.name }));
    if (populationId && ps.some((p) => p.id === populationId)) popF.set(populationId);
    load(false);
  }).catch((e) => { toast(e.message, 'error'); load(false); });
}

function simpleForm(title, initial, submitLabel, onSubmit) {
  const name = field('Name', { required: true, value: initial ? initial.name : '' });
  const description = field('Description', { kind: 'textarea', value: initial ? initial.description || '' : '' });
  const err = alertBox();
  const save = button(submitLabel, null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true }, requiredNote(), err, name.wrap, description.wrap, h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), save));
  const d = dialog(title, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.get().trim()) { name.error('Enter a name.'); name.input.focus(); return; }
    setDisabled(save, true);
    try { await onSubmit({ name: name.get().trim(), description: description.get() }); d.close(); } catch (ex) { showApiError(ex, { name, description }, err); } finally { setDisabled(save, false); }
  });
}

export function renderPopulations(main) {
  const tableEl = h('div');
  const alertEl = alertBox();
  clear(main, pageHead('Populations', button('Add Population', () => simpleForm('Add Population', null, 'Create Population', async (b) => { await api.post('/populations', b); toast(`Population ${b.name} created.`, 'success'); load(); }), { kind: 'primary', icon: '+' })),
    alertEl, tableEl);
  async function load() {
    const current = order();
    const ps = await api.listAll('/populations');
    if (!current()) return;
    if (!ps.length) { keepFocus(main, () => clear(tableEl, empty('No populations yet. Every user belongs to one: click Add Population.'))); return; }
    keepFocus(main, () => clear(tableEl, h('table', { class: 'table', attrs: { 'aria-label': 'Populations' } },
      h('thead', {}, h('tr', {}, ['Name', 'Description', 'Users', h('span', { class: 'sr-only', text: 'Actions' })].map((t) => h('th', {}, t)))),
      h('tbody', {}, ps.map((p) => h('tr', {},
        h('td', {}, h('a', { href: `#/directory/users/${encodeURIComponent(p.id)}`, text: p.name, title: `Users of ${p.name}` })),
        h('td', { text: p.description || '' }),
        h('td', { text: p.userCount ?? '' }),
        h('td', { class: 'cell-actions' },
          button('Edit', () => simpleForm(`Edit ${p.name}`, p, 'Save', async (b) => { await api.patch(`/populations/${api.seg(p.id)}`, b); toast('Population saved.', 'success'); load(); }), { kind: 'ghost', aria: `Edit ${p.name}` }),
          button('Delete', async () => {
            if (!await confirmDialog('Delete population', `Delete the population ${p.name}?`)) return;
            try { await api.del(`/populations/${api.seg(p.id)}`); alertEl.hidden = true; toast(`Population ${p.name} deleted.`, 'success'); load(); } catch (e) { showApiError(e, {}, alertEl); }
          }, { kind: 'ghost', aria: `Delete ${p.name}` }))))))));
  }
  const order = loadOrder();
  load().catch((e) => showApiError(e, {}, alertEl));
}

export function renderGroups(main, id) {
  if (id) return renderGroup(main, id);
  const tableEl = h('div');
  const alertEl = alertBox();
  clear(main, pageHead('Groups', button('Add Group', () => simpleForm('Add Group', null, 'Create Group', async (b) => { const g = await api.post('/groups', b); toast(`Group ${b.name} created.`, 'success'); location.hash = `#/directory/groups/${encodeURIComponent(g.id)}`; }), { kind: 'primary', icon: '+' })),
    alertEl, tableEl);
  async function load() {
    const current = order();
    const gs = await api.listAll('/groups');
    if (!current()) return;
    if (!gs.length) { keepFocus(main, () => clear(tableEl, empty('No groups yet. Click Add Group to create one.'))); return; }
    keepFocus(main, () => clear(tableEl, h('table', { class: 'table', attrs: { 'aria-label': 'Groups' } },
      h('thead', {}, h('tr', {}, ['Name', 'Description', 'Membership', h('span', { class: 'sr-only', text: 'Actions' })].map((t) => h('th', {}, t)))),
      h('tbody', {}, gs.map((g) => h('tr', {},
        h('td', {}, h('a', { href: `#/directory/groups/${encodeURIComponent(g.id)}`, text: g.name })),
        h('td', { text: g.description || '' }),
        h('td', {}, g.userFilter ? badge('Dynamic', 'info') : badge('Static', 'muted')),
        h('td', { class: 'cell-actions' }, button('Delete', async () => {
          if (!await confirmDialog('Delete group', `Delete the group ${g.name}? Rules whose filter names it resync.`)) return;
          try { await api.del(`/groups/${api.seg(g.id)}`); toast(`Group ${g.name} deleted.`, 'success'); load(); } catch (e) { showApiError(e, {}, alertEl); }
        }, { kind: 'ghost', aria: `Delete ${g.name}` }))))))));
  }
  const order = loadOrder();
  load().catch((e) => showApiError(e, {}, alertEl));
  return null;
}

function renderGroup(main, id) {
  const alertEl = alertBox();
  const order = loadOrder();
  async function load() {
    const current = order();
    const [g, members, effective, groups, populations] = await Promise.all([
      api.get(`/groups/${api.seg(id)}`),
      api.listAll(`/groups/${api.seg(id)}/members`),
      api.get(`/groups/${api.seg(id)}/members?effective=true&limit=200`).catch(() => ({ items: [] })),
      api.listAll('/groups'), api.listAll('/populations'),
    ]);
    if (!current()) return;
    const lists = { populations: populations.map((p) => p.name), groups: groups.filter((x) => x.id !== id).map((x) => x.name) };
    const name = field('Name', { value: g.name, required: true });
    const description = field('Description', { kind: 'textarea', value: g.description || '' });
    const detailsErr = alertBox();
    const details = h('form', { noValidate: true, class: 'panel', attrs: { 'aria-label': 'Group details' } }, h('h2', { text: 'Details' }), requiredNote(), detailsErr, name.wrap, description.wrap,
      h('div', { class: 'actions' }, button('Save', null, { kind: 'primary', submit: true })));
    details.addEventListener('submit', async (e) => {
      e.preventDefault();
      try { await api.patch(`/groups/${api.seg(id)}`, { name: name.get().trim(), description: description.get() }); toast('Group saved.', 'success'); load(); } catch (ex) { showApiError(ex, { name, description }, detailsErr); }
    });

    // Members.
    const memErr = alertBox();
    const userIn = field('User', { placeholder: 'username', list: 'dl-users', autocomplete: 'off' });
    const users = h('datalist', { id: 'dl-users' });
    userIn.input.addEventListener('input', debounce(async () => {
      const q = userIn.get().trim();
      if (!q) return;
      try { const r = await api.get(`/users?q=${encodeURIComponent(q)}&limit=20`); users.replaceChildren(...(r.items || []).map((u) => h('option', { value: u.username }))); } catch { /* suggestions only */ }
    }, 200));
    const groupIn = field('Group', { kind: 'select', options: [['', 'Choose a group…'], ...groups.filter((x) => x.id !== id).map((x) => [x.id, x.name])] });
    const addUser = button('Add User', async () => {
      const q = userIn.get().trim();
      if (!q) { userIn.error('Enter a username.'); return; }
      try {
        const r = await api.get(`/users?q=${encodeURIComponent(q)}&limit=50`);
        const u = (r.items || []).find((x) => x.username.toLowerCase() === q.toLowerCase());
        if (!u) { userIn.error(`No user named ${q}.`); return; }
        await api.post(`/groups/${api.seg(id)}/members`, { userId: u.id });
        toast(`${u.username} added.`, 'success'); load();
      } catch (e) { showApiError(e, { userId: userIn }, memErr); }
    }, { kind: 'secondary' });
    const addGroup = button('Add Group', async () => {
      if (!groupIn.get()) { groupIn.error('Choose a group.'); return; }
      try { await api.post(`/groups/${api.seg(id)}/members`, { groupId: groupIn.get() }); toast('Group added.', 'success'); load(); } catch (e) { showApiError(e, { groupId: groupIn }, memErr); }
    }, { kind: 'secondary' });
    const membersPanel = h('section', { class: 'panel', attrs: { 'aria-label': 'Members' } }, h('h2', { text: 'Members' }), memErr,
      members.length ? h('table', { class: 'table', attrs: { 'aria-label': 'Direct members' } },
        h('thead', {}, h('tr', {}, ['Member', 'Type', h('span', { class: 'sr-only', text: 'Actions' })].map((t) => h('th', {}, t)))),
        h('tbody', {}, members.map((m) => h('tr', {},
          h('td', {}, m.type === 'group' ? h('a', { href: `#/directory/groups/${encodeURIComponent(m.id)}`, text: m.display }) : m.display),
          h('td', {}, badge(m.type === 'group' ? 'Group' : 'User', m.type === 'group' ? 'info' : 'muted')),
          h('td', { class: 'cell-actions' }, button('Remove', async () => {
            try { await api.del(`/groups/${api.seg(id)}/members/${api.seg(m.id)}`); toast(`${m.display} removed.`, 'success'); load(); } catch (e) { showApiError(e, {}, memErr); }
          }, { kind: 'ghost', aria: `Remove ${m.display}` }))))))
        : empty('No direct members.'),
      h('div', { class: 'add-members' },
        h('div', { class: 'inline' }, userIn.wrap, users, addUser),
        h('div', { class: 'inline' }, groupIn.wrap, addGroup)));

    // Dynamic membership.
    const dynErr = alertBox();
    const dynBody = h('div');
    function dynView(focus) {
      clear(dynBody, g.userFilter ? filterSummary(g.userFilter) : empty('This group is static: its members are the users and groups above.'),
        h('div', { class: 'actions actions-left' },
          button(g.userFilter ? 'Edit filter' : 'Make dynamic', dynEdit, { kind: 'secondary' }),
          g.userFilter ? button('Make static', async () => {
            try { await api.patch(`/groups/${api.seg(id)}`, { userFilter: null }); toast('The group is static now.', 'success'); load(); } catch (e) { showApiError(e, {}, dynErr); }
          }, { kind: 'ghost' }) : null));
      if (focus === true) dynBody.querySelector('button')?.focus();
    }
    function dynEdit() {
      const ed = filterEditor(g.userFilter, lists);
      clear(dynBody, ed.el, h('div', { class: 'actions' }, button('Cancel', () => dynView(true), { kind: 'ghost' }),
        button('Save filter', async () => {
          try { await api.patch(`/groups/${api.seg(id)}`, { userFilter: ed.value() }); toast('Dynamic filter saved.', 'success'); load(); } catch (e) { showApiError(e, {}, dynErr); }
        }, { kind: 'primary' })));
      dynBody.querySelector('input[type=radio]:checked')?.focus();
    }
    dynView();
    const dynPanel = h('section', { class: 'panel', attrs: { 'aria-label': 'Dynamic membership' } }, h('h2', { text: 'Dynamic membership' }),
      h('p', { class: 'muted', text: 'A dynamic group\'s members are the users who match its filter, in addition to its direct members.' }), dynErr, dynBody);

    const eff = (effective && effective.items) || [];
    const effPanel = h('section', { class: 'panel', attrs: { 'aria-label': 'Effective members' } }, h('h2', { text: `Effective members (${eff.length}${effective && effective.nextCursor ? '+' : ''})` }),
      h('p', { class: 'muted', text: 'Every user who is a member: directly, dynamically or through a nested group.' }),
      eff.length ? h('ul', { class: 'chips' }, eff.map((m) => h('li', { text: m.display || m.username || m.id }))) : empty('No user is a member yet.'));

    keepFocus(main, () => clear(main,
      h('nav', { class: 'crumbs', attrs: { 'aria-label': 'Breadcrumb' } }, h('ol', {}, h('li', {}, h('a', { href: '#/directory/groups', text: 'Groups' })), h('li', {}, h('span', { text: g.name, attrs: { 'aria-current': 'page' } })))),
      pageHead(g.name, g.userFilter ? badge('Dynamic', 'info') : badge('Static', 'muted'),
        button('Delete', async () => {
          if (!await confirmDialog('Delete group', `Delete the group ${g.name}? Rules whose filter names it resync.`)) return;
          try { await api.del(`/groups/${api.seg(id)}`); toast(`Group ${g.name} deleted.`, 'success'); location.hash = '#/directory/groups'; } catch (e) { showApiError(e, {}, alertEl); }
        }, { kind: 'danger', aria: 'Delete group' })),
      alertEl, h('div', { class: 'grid-panels' }, details, membersPanel, dynPanel, effPanel)));
  }
  load().catch((e) => { clear(main, h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, text: e.message })); });
  return null;
}
