// Integrations > Provisioning: the Connections and Rules tabs, the plus button's menu
// (New Connection, New Rule), a connection's details pane with its enable toggle, and the
// rule page: Configuration (Target, User Filter, Attribute Mapping, Group Provisioning),
// Sync Status (live
// counters, Full Resync with a dry-run preview and the brake's Allow) and Log.

import { h, icon, clear, button, toggle, field, dialog, alertBox, showApiError, toast, confirmDialog, when, badge, empty, nextId, debounce, setDisabled, keepFocus, loadOrder, requiredNote } from './dom.js';
import * as api from './api.js';
import { openConnectionWizard, testReport, tokenAuthLabel, capabilitiesView } from './connection.js';
import { filterEditor, filterSummary } from './filter.js';
import { DEFAULT_MAPPING, SOURCE_ATTRIBUTES, TARGET_ATTRIBUTES, FUNCTIONS, displayName, attributeFromText, authLabel, targetKey } from './attrs.js';
import { logView } from './logs.js';
import { renderGroupProvisioning, groupCounters } from './groups.js';

// Set when a tab was switched (keys or click), so the page, which is rebuilt, focuses its
// newly selected tab instead of leaving the focus on the removed one.
let focusSelectedTab = false;

function focusTabSoon(container) {
  if (!focusSelectedTab) return;
  focusSelectedTab = false;
  queueMicrotask(() => container.querySelector('[role=tab][aria-selected=true]')?.focus());
}

function crumbs(...items) {
  return h('nav', { class: 'crumbs', attrs: { 'aria-label': 'Breadcrumb' } },
    h('ol', {}, items.map(([label, href]) => h('li', {}, href ? h('a', { href, text: label }) : h('span', { text: label, attrs: { 'aria-current': 'page' } })))));
}

// The + button's menu (ARIA menu button): Enter, Space or ArrowDown open it on its first
// item, ArrowUp on its last; the arrows, Home and End move; Escape and Tab close it and
// the focus goes back to +. An item closes the menu and gives the focus back to + before
// it opens its dialog, so that closing the dialog returns there.
function plusMenu(onConnection, onRule) {
  const btn = h('button', { type: 'button', class: 'btn btn-primary btn-round', attrs: { 'aria-label': 'Add', title: 'Add', 'aria-haspopup': 'menu', 'aria-expanded': 'false' } }, icon('+'));
  const menu = h('div', { class: 'menu menu-right', attrs: { role: 'menu', 'aria-label': 'Add' }, hidden: true });
  const close = () => { menu.hidden = true; btn.setAttribute('aria-expanded', 'false'); };
  const item = (label, fn) => {
    const b = h('button', { type: 'button', class: 'menuitem', tabIndex: -1, attrs: { role: 'menuitem' }, text: label });
    b.addEventListener('click', () => { close(); btn.focus(); fn(); });
    return b;
  };
  menu.append(item('New Connection', onConnection), item('New Rule', onRule));
  const open = (which) => {
    menu.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    (which === 'last' ? menu.lastChild : menu.firstChild).focus();
  };
  btn.addEventListener('click', () => { if (menu.hidden) open('first'); else close(); });
  btn.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); open('first'); }
    if (e.key === 'ArrowUp') { e.preventDefault(); open('last'); }
  });
  menu.addEventListener('keydown', (e) => {
    const its = [...menu.children];
    const i = its.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(); btn.focus(); }
    if (e.key === 'ArrowDown') { e.preventDefault(); its[(i + 1) % its.length].focus(); }
    if (e.key === 'ArrowUp') { e.preventDefault(); its[(i + its.length - 1) % its.length].focus(); }
    if (e.key === 'Home') { e.preventDefault(); its[0].focus(); }
    if (e.key === 'End') { e.preventDefault(); its[its.length - 1].focus(); }
    if (e.key === 'Tab') { close(); btn.focus(); }
  });
  const wrap = h('div', { class: 'menu-wrap' }, btn, menu);
  // The menu closes when the focus or a click goes elsewhere.
  wrap.addEventListener('focusout', (e) => { if (!wrap.contains(e.relatedTarget)) close(); });
  const outside = (e) => {
    if (!document.contains(btn)) { document.removeEventListener('click', outside); return; }
    if (!btn.contains(e.target) && !menu.contains(e.target)) close();
  };
  document.addEventListener('click', outside);
  return wrap;
}

/** Opens the New Rule dialog; onCreated(rule). */
export function openNewRule(onCreated) {
  const name = field('Name', { required: true });
  const description = field('Description', { kind: 'textarea', help: 'Description is an optional field.' });
  const err = alertBox();
  const create = button('Create Rule', null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true }, requiredNote(), err, name.wrap, description.wrap,
    h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), create));
  const d = dialog('New Rule', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.get().trim()) { name.error('Enter a name for the rule.'); name.input.focus(); return; }
    setDisabled(create, true);
    try {
      const r = await api.post('/rules', { name: name.get().trim(), description: description.get() });
      d.close();
      toast(`Rule ${r.name} created.`, 'success');
      onCreated(r);
    } catch (ex) {
      showApiError(ex, { name, description }, err);
    } finally {
      setDisabled(create, false);
    }
  });
}

/** Integrations > Provisioning with its two tabs. */
export function renderProvisioning(main, tab) {
  let paneFor = null;
  const list = h('div', { class: 'list-col' });
  const pane = h('aside', { id: 'conn-pane', class: 'pane', attrs: { 'aria-label': 'Details' }, hidden: true });
  const tabs = h('div', { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Provisioning' } },
    [['Connections', '#/provisioning'], ['Rules', '#/provisioning/rules']].map(([label, href]) => {
      const selected = (label === 'Rules') === (tab === 'rules');
      const t = h('button', { type: 'button', id: `prov-tab-${label.toLowerCase()}`, class: 'tab', attrs: { role: 'tab', 'aria-selected': selected ? 'true' : 'false', 'aria-controls': 'prov-panel' }, tabIndex: selected ? 0 : -1, text: label });
      t.addEventListener('click', () => { if (!selected) { focusSelectedTab = true; location.hash = href; } });
      t.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') { e.preventDefault(); focusSelectedTab = true; location.hash = label === 'Rules' ? '#/provisioning' : '#/provisioning/rules'; }
      });
      return t;
    }));
  const tabButtons = [...tabs.children];
  tabs.addEventListener('keydown', (e) => {
    if (e.key !== 'Home' && e.key !== 'End') return;
    e.preventDefault();
    (e.key === 'Home' ? tabButtons[0] : tabButtons[tabButtons.length - 1]).click();
  });
  clear(main,
    crumbs(['Integrations', null], ['Provisioning', null]),
    h('header', { class: 'page-head' }, h('h1', { text: 'Provisioning' }),
      plusMenu(() => openConnectionWizard(null, (c) => {
        tab = 'connections';
        if (location.hash !== '#/provisioning') { focusSelectedTab = true; location.hash = '#/provisioning'; } else load().then(() => openConnectionPane(c.id));
      }),
        () => openNewRule((r) => { location.hash = `#/provisioning/rules/${encodeURIComponent(r.id)}/configuration`; }))),
    tabs,
    h('div', { id: 'prov-panel', class: 'split', attrs: { role: 'tabpanel', 'aria-labelledby': tab === 'rules' ? 'prov-tab-rules' : 'prov-tab-connections' } }, list, pane));
  focusTabSoon(tabs);

  // The list and the pane each apply only the answer of their latest load: opening the
  // pane again (a click while the pane of a saved connection is still loading) or
  // refreshing the list after a toggle makes the earlier, slower answers stale.
  const listLoad = loadOrder();
  const paneLoad = loadOrder();
  let shownPane = null;
  let connections = [];
  async function load() {
    const current = listLoad();
    const items = await api.listAll('/connections');
    if (!current()) return;
    connections = items;
    if (tab === 'connections') renderConnections();
    else await renderRules(current);
  }

  function renderConnections() {
    if (!connections.length) {
      keepFocus(list, () => clear(list, empty('No connections yet. Click + and then New Connection to create one.')));
      return;
    }
    // The card's button is named by the connection's name ("Code42 details"); its visible
    // type, URL and state are its description, and a click anywhere on the card opens it.
    keepFocus(list, () => clear(list, h('ul', { class: 'cards', attrs: { 'aria-label': 'Connections' } }, connections.map((c) => {
      const metaId = nextId('card');
      const stateId = nextId('card');
      const open = h('button', { type: 'button', class: 'card-main', attrs: { 'aria-describedby': `${metaId} ${stateId}`, 'aria-expanded': paneFor === c.id ? 'true' : 'false', 'aria-controls': 'conn-pane' } },
        h('strong', { text: c.name }), h('span', { class: 'sr-only', text: ' details' }));
      open.addEventListener('click', () => openConnectionPane(c.id));
      const state = c.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'muted');
      state.id = stateId;
      return h('li', { class: `card ${paneFor === c.id ? 'active' : ''}` },
        h('span', { class: 'card-icon', attrs: { 'aria-hidden': 'true' }, text: '⇪' }),
        h('div', { class: 'card-text' }, open, h('span', { id: metaId, class: 'muted card-meta', text: `SCIM Outbound · ${c.scim ? c.scim.baseUrl : ''}` })),
        state);
    }))));
  }

  function closePane() {
    paneLoad();
    const had = pane.contains(document.activeElement);
    const id = paneFor;
    paneFor = null;
    pane.hidden = true;
    renderConnections();
    if (had) list.querySelectorAll('.card-main')[connections.findIndex((x) => x.id === id)]?.focus();
  }

  async function openConnectionPane(id) {
    const current = paneLoad();
    paneFor = id;
    renderConnections();
    let c;
    let caps;
    try {
      // What the last Test Connection learnt of the target comes with the connection; a
      // failure to read it leaves the rest of the pane usable.
      [c, caps] = await Promise.all([api.get(`/connections/${api.seg(id)}`),
        api.get(`/connections/${api.seg(id)}/capabilities`).catch((e) => ({ loadError: e.message }))]);
    } catch (e) { if (current()) toast(e.message, 'error'); return; }
    if (!current()) return;
    // The same connection, unchanged, is left as it is shown (its test report, the focus).
    const paneKey = () => JSON.stringify([c, caps]);
    if (!pane.hidden && shownPane === paneKey()) return;
    shownPane = paneKey();
    const capsEl = h('section', { class: 'caps', attrs: { 'aria-labelledby': `caps-h-${c.id}` } });
    const drawCaps = () => keepFocus(capsEl, () => clear(capsEl, h('h3', { id: `caps-h-${c.id}`, text: 'What the target supports' }), capabilitiesView(caps, c)));
    drawCaps();
    const testOut = h('div', { attrs: { 'aria-live': 'polite' } });
    const pAlert = alertBox();
    const rows = [
      ['Type', 'SCIM Outbound (Identity Store)'],
      ['SCIM base URL', c.scim.baseUrl], ['Users Resource', c.scim.usersResource], ['Groups Resource', c.scim.groupsResource],
      ['SCIM Version', c.scim.version], ['Authentication Method', authLabel(c.auth.method)],
      c.auth.method === 'OAUTH2_BEARER' ? ['OAuth Access Token', c.auth.accessToken ? '********' : '—'] : null,
      c.auth.method === 'OAUTH2_BEARER' ? ['Auth Type Header', c.auth.typeHeader] : null,
      c.auth.method === 'BASIC' ? ['Username', c.auth.username] : null,
      c.auth.method === 'OAUTH2_CLIENT_CREDENTIALS' ? ['Token URL', c.auth.tokenUrl] : null,
      c.auth.method === 'OAUTH2_CLIENT_CREDENTIALS' ? ['Client ID', c.auth.clientId] : null,
      c.auth.method === 'OAUTH2_CLIENT_CREDENTIALS' ? ['Client Authentication', tokenAuthLabel(c.auth.tokenEndpointAuthMethod || 'client_secret_basic')] : null,
      ['User Filter Expression', c.preferences.userFilterExpression], ['User Identifier', c.preferences.userIdentifier],
      ['Remove Action', c.preferences.removeAction === 'DELETE' ? 'Delete' : 'Disable'],
      ['Allow users to be created', c.preferences.allowCreate ? 'Yes' : 'No'],
      ['Allow users to be updated', c.preferences.allowUpdate ? 'Yes' : 'No'],
      ['Allow users to be disabled', c.preferences.allowDisable ? 'Yes' : 'No'],
      ['Update Method', c.preferences.updateMethod],
      ['Use SCIM Bulk', c.preferences.useBulk === false ? 'No' : 'Yes'],
    ].filter(Boolean);
    keepFocus(pane, () => clear(pane,
      h('header', { class: 'pane-head' },
        h('div', {}, h('h2', { text: c.name }), h('p', { class: 'muted', text: c.description || 'SCIM Outbound' })),
        h('div', { class: 'pane-tools' },
          toggle('Enable connection', c.enabled, async (on) => {
            try {
              await api.patch(`/connections/${api.seg(c.id)}`, { enabled: on });
              // A pane load that started before this answer (the one a wizard's Save
              // starts, say) may have read the old state: it must not draw it over this.
              paneLoad();
              c.enabled = on;
              shownPane = paneKey();
              const idx = connections.findIndex((x) => x.id === c.id);
              if (idx >= 0) connections[idx].enabled = on;
              renderConnections();
              // A list load that started before this change would bring the old state back.
              load().catch(() => {});
              toast(`Connection ${c.name} ${on ? 'enabled' : 'disabled'}.`, 'success');
              return true;
            } catch (e) { showApiError(e, {}, pAlert); return false; }
          }),
          button('', () => closePane(), { kind: 'icon', aria: 'Close details', icon: '×' }))),
      pAlert,
      h('dl', { class: 'props' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v ?? '—' })])),
      capsEl,
      h('div', { class: 'actions actions-left' },
        button('Test Connection', async (e) => {
          const b = e.currentTarget; setDisabled(b, true); testOut.replaceChildren();
          try {
            testOut.append(testReport(await api.post(`/connections/${api.seg(c.id)}/test`)));
            // A test of the saved connection stores what it learnt: show it.
            caps = await api.get(`/connections/${api.seg(c.id)}/capabilities`).catch((ex) => ({ loadError: ex.message }));
            if (!pane.hidden && paneFor === c.id) { shownPane = paneKey(); drawCaps(); }
          } catch (ex) { showApiError(ex, {}, pAlert); } finally { setDisabled(b, false); }
        }, { kind: 'secondary' }),
        button('Edit', () => openConnectionWizard(c, () => load().then(() => openConnectionPane(c.id))), { kind: 'secondary' }),
        button('Delete', async () => {
          if (!await confirmDialog('Delete connection', `Delete the connection ${c.name}? Rules that target it stop provisioning.`)) return;
          try {
            await api.del(`/connections/${api.seg(c.id)}`);
            closePane();
            toast(`Connection ${c.name} deleted.`, 'success');
            await load();
            const first = list.querySelector('.card-main');
            if (first) first.focus(); else tabs.querySelector('[aria-selected=true]').focus();
          } catch (ex) { showApiError(ex, {}, pAlert); }
        }, { kind: 'danger' })),
      testOut));
    pane.hidden = false;
  }

  async function renderRules(current = listLoad()) {
    const rules = await api.listAll('/rules');
    if (!current()) return;
    const byId = Object.fromEntries(connections.map((c) => [c.id, c]));
    if (!rules.length) {
      keepFocus(list, () => clear(list, empty('No rules yet. Click + and then New Rule to create one.')));
      return;
    }
    const alertEl = alertBox();
    keepFocus(list, () => clear(list, alertEl, h('table', { class: 'table', attrs: { 'aria-label': 'Rules' } },
      h('thead', {}, h('tr', {}, ['Name', 'Source', 'Target', 'Status', 'Enabled'].map((t) => h('th', { text: t })))),
      h('tbody', {}, rules.map((r) => h('tr', {},
        h('td', {}, h('a', { href: `#/provisioning/rules/${encodeURIComponent(r.id)}/${r.target ? 'status' : 'configuration'}`, text: r.name })),
        h('td', { text: 'Directory' }),
        h('td', { text: r.target ? (byId[r.target] ? byId[r.target].name : r.target) : '—' }),
        h('td', {}, r.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'muted')),
        h('td', {}, toggle(`Enable rule ${r.name}`, r.enabled, async (on) => {
          try { await api.patch(`/rules/${api.seg(r.id)}`, { enabled: on }); r.enabled = on; alertEl.hidden = true; toast(`Rule ${r.name} ${on ? 'enabled' : 'disabled'}.`, 'success'); renderRules(); return true; } catch (e) { showApiError(e, {}, alertEl); return false; }
        }))))))));
  }

  load().catch((e) => toast(e.message, 'error'));
}

/** The rule page: header with toggle, tabs Configuration / Sync Status / Log. */
export function renderRule(main, id, tab) {
  const stops = [];
  const body = h('div', { class: 'rule-body' });
  const headAlert = alertBox();
  let rule = null;

  async function load() {
    stops.splice(0).forEach((s) => s());
    body.replaceChildren();
    rule = await api.get(`/rules/${api.seg(id)}`);
    const tabs = [['configuration', 'Configuration'], ['status', 'Sync Status'], ['log', 'Log']];
    keepFocus(main, () => clear(main,
      crumbs(['Integrations', null], ['Provisioning', '#/provisioning'], ['Rules', '#/provisioning/rules'], [rule.name, null]),
      h('header', { class: 'page-head' },
        h('div', {}, h('h1', { text: rule.name }), rule.description ? h('p', { class: 'muted', text: rule.description }) : null),
        h('div', { class: 'head-tools' },
          h('span', { class: 'toggle-label', text: 'Enabled' }),
          toggle('Enable rule', rule.enabled, async (on) => {
            try {
              const r = await api.patch(`/rules/${api.seg(id)}`, { enabled: on });
              rule = r || { ...rule, enabled: on };
              headAlert.hidden = true;
              toast(`Rule ${rule.name} ${on ? 'enabled' : 'disabled'}.`, 'success');
              return true;
            } catch (e) { showApiError(e, {}, headAlert); return false; }
          }),
          button('Edit', () => editRuleDetails(rule, (r) => { rule = r; load(); }), { kind: 'secondary', aria: 'Edit rule name and description' }),
          button('Delete', async () => {
            if (!await confirmDialog('Delete rule', `Delete the rule ${rule.name}? Users already in the application stay there.`)) return;
            try { await api.del(`/rules/${api.seg(id)}`); toast(`Rule ${rule.name} deleted.`, 'success'); location.hash = '#/provisioning/rules'; } catch (e) { showApiError(e, {}, headAlert); }
          }, { kind: 'danger', aria: 'Delete rule' }))),
      headAlert,
      h('div', { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Rule' } }, tabs.map(([key, label]) => {
        const t = h('button', { type: 'button', id: `rule-tab-${key}`, class: 'tab', attrs: { role: 'tab', 'aria-selected': key === tab ? 'true' : 'false', 'aria-controls': 'rule-panel' }, tabIndex: key === tab ? 0 : -1, text: label });
        t.addEventListener('click', () => { if (key !== tab) { focusSelectedTab = true; location.hash = `#/provisioning/rules/${encodeURIComponent(id)}/${key}`; } });
        t.addEventListener('keydown', (e) => {
          const i = tabs.findIndex(([k]) => k === key);
          const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
          if (to === undefined) return;
          e.preventDefault();
          const next = tabs[(to + tabs.length) % tabs.length][0];
          if (next === tab) return;
          focusSelectedTab = true;
          location.hash = `#/provisioning/rules/${encodeURIComponent(id)}/${next}`;
        });
        return t;
      })),
      h('div', { id: 'rule-panel', attrs: { role: 'tabpanel', 'aria-labelledby': `rule-tab-${tabs.some(([k]) => k === tab) ? tab : 'configuration'}` } }, body)));
    focusTabSoon(main);
    if (tab === 'status') stops.push(statusTab(body, id, () => rule));
    else if (tab === 'log') { const v = logView({ rule: id }); body.append(v.el); stops.push(v.stop); }
    else await configurationTab(body, id, () => rule, (r) => { rule = r; });
  }
  load().catch((e) => { clear(main, crumbs(['Provisioning', '#/provisioning'], ['Rule', null]), h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, text: e.message })); });
  return () => stops.forEach((s) => s());
}

function editRuleDetails(rule, onSaved) {
  const name = field('Name', { required: true, value: rule.name });
  const description = field('Description', { kind: 'textarea', value: rule.description || '' });
  const err = alertBox();
  const save = button('Save', null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true }, requiredNote(), err, name.wrap, description.wrap,
    h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), save));
  const d = dialog(`Edit ${rule.name}`, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.get().trim()) { name.error('Enter a name for the rule.'); name.input.focus(); return; }
    setDisabled(save, true);
    try {
      const r = await api.patch(`/rules/${api.seg(rule.id)}`, { name: name.get().trim(), description: description.get() });
      d.close();
      toast('Rule saved.', 'success');
      onSaved(r || { ...rule, name: name.get().trim(), description: description.get() });
    } catch (ex) { showApiError(ex, { name, description }, err); } finally { setDisabled(save, false); }
  });
}

async function configurationTab(body, id, getRule, setRule) {
  const [connections, populations, groups] = await Promise.all([
    api.listAll('/connections'), api.listAll('/populations'), api.listAll('/groups'),
  ]);
  const lists = { populations: populations.map((p) => p.name), groups: groups.map((g) => g.name) };
  const sections = [];
  function section(title, renderBody) {
    const bodyEl = h('div', { id: nextId('acc'), class: 'acc-body', hidden: true });
    const headBtn = h('button', { type: 'button', class: 'acc-head', attrs: { 'aria-expanded': 'false', 'aria-controls': bodyEl.id } }, h('span', { text: title }), h('span', { class: 'chev', attrs: { 'aria-hidden': 'true' }, text: '▸' }));
    const s = { title, bodyEl, headBtn, open: false };
    headBtn.addEventListener('click', () => setOpen(s, !s.open));
    function setOpen(sec, open) {
      for (const o of sections) if (o !== sec && open) { o.open = false; o.bodyEl.hidden = true; o.headBtn.setAttribute('aria-expanded', 'false'); }
      sec.open = open; sec.bodyEl.hidden = !open; sec.headBtn.setAttribute('aria-expanded', open ? 'true' : 'false');
      if (open) renderBody(bodyEl);
    }
    s.setOpen = (o) => setOpen(s, o);
    sections.push(s);
    return h('section', { class: 'acc', attrs: { 'aria-label': title } }, h('h2', { class: 'acc-title' }, headBtn), bodyEl);
  }

  // Target.
  function renderTarget(el) {
    const rule = getRule();
    let chosen = rule.target || null;
    const err = alertBox();
    const save = button('Save', async () => {
      setDisabled(save, true);
      try {
        const r = await api.patch(`/rules/${api.seg(id)}`, { target: chosen });
        setRule(r || { ...getRule(), target: chosen });
        toast('Target saved.', 'success');
      } catch (e) { showApiError(e, {}, err); } finally { keepFocus(el, draw); }
    }, { kind: 'primary' });
    function draw() {
      const target = connections.find((c) => c.id === chosen);
      const dirty = chosen !== (getRule().target || null);
      setDisabled(save, !dirty);
      clear(el,
        err,
        h('div', { class: 'endpoints' },
          h('div', { class: 'endpoint' }, h('p', { class: 'ep-label', text: 'Source' }), h('p', { class: 'ep-name', text: 'Directory' }), h('p', { class: 'muted', text: 'the scimitar directory (selected automatically)' })),
          h('div', { class: 'arrow', attrs: { 'aria-hidden': 'true' }, text: '→' }),
          h('div', { class: 'endpoint' }, h('p', { class: 'ep-label', text: 'Target' }),
            target ? [h('p', { class: 'ep-name', text: target.name }), target.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'muted'),
              button('', () => { chosen = null; draw(); el.querySelector('.cell-actions button')?.focus(); }, { kind: 'icon', aria: `Remove ${target.name} as target`, icon: '×' })]
              : h('p', { class: 'muted', text: 'No target connection yet' }))),
        h('h3', { text: 'Available Connections' }),
        h('p', { class: 'note', text: 'You can add a disabled connection as the target, but you must enable the connection before you can enable this rule.' }),
        connections.length ? h('table', { class: 'table', attrs: { 'aria-label': 'Available Connections' } },
          h('thead', {}, h('tr', {}, ['Connection', 'Type', 'Status', ''].map((t) => h('th', { text: t })))),
          h('tbody', {}, connections.map((c) => h('tr', { class: c.id === chosen ? 'selected' : '' },
            h('td', { text: c.name }), h('td', { text: 'SCIM Outbound' }),
            h('td', {}, c.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'muted')),
            h('td', { class: 'cell-actions' }, c.id === chosen ? h('span', { class: 'muted', text: 'Target' })
              : button('', () => { chosen = c.id; draw(); save.focus(); }, { kind: 'icon', aria: `Add ${c.name} as target`, icon: '+' }))))))
          : empty('No connections yet: create one under Provisioning > Connections first.'),
        h('div', { class: 'actions' }, save));
    }
    draw();
  }

  // User Filter.
  function renderFilter(el) {
    const err = alertBox();
    // Back from the editor (Save, Cancel), the focus goes to the pencil that opened it.
    async function view(focusEdit) {
      let f = null;
      try { f = await api.get(`/rules/${api.seg(id)}/filter`); } catch (e) { if (e.status !== 404) { showApiError(e, {}, err); } }
      const pencil = button('', () => edit(f), { kind: 'icon', aria: 'Edit user filter', icon: '✎' });
      clear(el, err, h('div', { class: 'acc-tools' }, pencil), filterSummary(f));
      if (focusEdit) pencil.focus();
    }
    function edit(f) {
      const ed = filterEditor(f, lists);
      const save = button('Save', async () => {
        setDisabled(save, true);
        try {
          await api.put(`/rules/${api.seg(id)}/filter`, ed.value());
          toast('User filter saved. The rule resyncs its users.', 'success');
          await view(true);
        } catch (e) { showApiError(e, {}, err); } finally { setDisabled(save, false); }
      }, { kind: 'primary' });
      clear(el, err,
        h('p', { class: 'note', text: 'For outbound provisioning rules, specify a population or a group to define the users to be provisioned. All works as AND, Any as OR. A group includes its direct, dynamic and inherited members.' }),
        ed.el,
        h('div', { class: 'actions' }, button('Cancel', () => view(true), { kind: 'ghost' }), save));
      el.querySelector('input[type=radio]:checked')?.focus();
    }
    view();
  }

  // Attribute Mapping. Beside each row: what the target said of it. The attributes it
  // rejected for some users (GET /rules/{id}/users, "rejected": the count of users and
  // its words) and the warnings of the last Test Connection of the target connection
  // (GET /connections/{id}/capabilities, "warnings" naming this rule and the row).
  function renderMapping(el) {
    const err = alertBox();
    const conn = () => connections.find((c) => c.id === getRule().target);
    const unmapHelp = 'Clear on unmap: removing a row normally stops its value flowing and leaves the value on the target as it is; with Clear on unmap, removing the row clears the value on the target once.';
    async function context() {
      const target = getRule().target;
      const [m, users, caps] = await Promise.all([
        api.get(`/rules/${api.seg(id)}/mappings`).catch((e) => { if (e.status !== 404) showApiError(e, {}, err); return []; }),
        api.listAll(`/rules/${api.seg(id)}/users`).catch(() => []),
        target ? api.get(`/connections/${api.seg(target)}/capabilities`).catch(() => null) : null,
      ]);
      let rows = m || [];
      if (!Array.isArray(rows) && Array.isArray(rows.items)) rows = rows.items;
      // Rejections by attribute path: the users, and the target's answers with how often.
      const rejected = new Map();
      for (const u of users) {
        for (const r of u.rejected || []) {
          const key = targetKey(r.attribute);
          if (!rejected.has(key)) rejected.set(key, { users: [], errors: new Map() });
          const x = rejected.get(key);
          x.users.push(u.username || u.userId);
          x.errors.set(r.error, (x.errors.get(r.error) || 0) + 1);
        }
      }
      const warnings = ((caps && caps.warnings) || []).filter((w) => w.ruleId === id);
      return { rows, rejected, warnings };
    }
    // The notes of a row: [kind, text], kind 'rejected' or 'warning'. index is the row's
    // place in the saved mapping (warnings name it), or null for a row added since.
    function notesFor(ctx, target, index) {
      const out = [];
      const x = ctx.rejected.get(targetKey(target));
      if (x) {
        const n = x.users.length;
        const sorted = [...x.users].sort((a, b) => a.localeCompare(b));
        const names = sorted.slice(0, 3).join(', ') + (n > 3 ? ` and ${n - 3} more` : '');
        const answers = [...x.errors.entries()].sort((a, b) => b[1] - a[1]);
        const others = answers.length > 1 ? ` (and ${answers.length - 1} other answer${answers.length === 2 ? '' : 's'}: see Sync Status)` : '';
        out.push(['rejected', `Rejected by the target for ${n} user${n === 1 ? '' : 's'} (${names}): ${answers[0][0]}${others}`]);
      }
      if (index !== null) {
        for (const w of ctx.warnings.filter((y) => y.row === index)) {
          const text = String(w.message || '').replace(/\s*\(mapping row \d+ of rule .*\)$/, '');
          out.push(['warning', `Test Connection: ${text}`]);
        }
      }
      return out;
    }
    const noteList = (notes, listId) => h('ul', { id: listId, class: 'row-notes' }, notes.map(([kind, text]) => h('li', { class: `row-note-${kind}` },
      h('span', { class: 'warn-mark', attrs: { 'aria-hidden': 'true' }, text: '⚠' }), h('span', { text }))));
    async function view(focusEdit) {
      const ctx = await context();
      const m = ctx.rows;
      const tname = conn() ? `${conn().name} SCIM Attribute` : 'SCIM Attribute';
      const pencil = button('', () => edit(ctx), { kind: 'icon', aria: 'Edit attribute mapping', icon: '✎' });
      clear(el, err, h('div', { class: 'acc-tools' }, pencil),
        m.length ? h('table', { class: 'table mapping-view', attrs: { 'aria-label': 'Attribute Mapping' } },
          h('thead', {}, h('tr', {}, h('th', { text: tname }), h('th', { text: 'Directory Attribute' }), h('th', { text: 'Clear on unmap' }))),
          h('tbody', {}, m.map((r, i) => {
            const notes = notesFor(ctx, r.target, i);
            const row = h('tr', { class: notes.length ? 'has-note' : '' }, h('td', {}, h('code', { text: r.target })), h('td', { text: displayName(r.source) }),
              h('td', { text: r.clearOnUnmap ? 'Yes' : 'No' }));
            return notes.length ? [row, h('tr', { class: 'row-note' }, h('td', { colSpan: 3 }, noteList(notes, nextId('map-note'))))] : row;
          })))
          : empty('No attributes are mapped yet. Click the pencil to add them.'));
      if (focusEdit) pencil.focus();
    }
    function edit(ctx) {
      const m = ctx.rows;
      const rowsEl = h('tbody', {});
      const prefilled = !m.length;
      const start = prefilled ? DEFAULT_MAPPING : m;
      const srcList = 'dl-src';
      const tgtList = 'dl-tgt';
      const unmapHelpId = nextId('unmap-help');
      // Saved rows marked Clear on unmap whose attribute is no longer mapped: Save clears them.
      const clearing = h('p', { class: 'note', attrs: { 'aria-live': 'polite' }, hidden: true });
      const savedClear = prefilled ? [] : m.filter((r) => r.clearOnUnmap);
      function updateClearing() {
        const mapped = new Set([...rowsEl.children].filter((x) => x.value).map((x) => targetKey(x.value().target)));
        const gone = savedClear.filter((r) => !mapped.has(targetKey(r.target))).map((r) => r.target);
        const text = gone.length ? `On Save, ${gone.join(', ')} ${gone.length === 1 ? 'is' : 'are'} cleared on the target for every linked account (Clear on unmap).` : '';
        if (clearing.textContent !== text) clearing.textContent = text;
        clearing.hidden = !gone.length;
      }
      // The user the Test control previews sources with, shared by every row.
      const tester = { user: null };
      function addRow(r, focus, index = null) {
        const src = h('input', { type: 'text', value: r.source ? displayName(r.source) : '', attrs: { list: srcList, 'aria-label': 'Source attribute' }, spellcheck: false });
        const tgt = h('input', { type: 'text', value: r.target || '', attrs: { list: tgtList, 'aria-label': 'Target attribute' }, spellcheck: false });
        const unmap = h('input', { type: 'checkbox', checked: !!r.clearOnUnmap, attrs: { 'aria-label': 'Clear on unmap', 'aria-describedby': unmapHelpId } });
        let testRow = null;
        let noteRow = null;
        const noteId = nextId('map-note');
        const original = index === null ? null : targetKey(r.target);
        // The notes follow the target typed: a warning only while it is the saved row's.
        function refreshNotes() {
          const key = targetKey(tgt.value);
          const notes = notesFor(ctx, tgt.value, key === original ? index : null);
          if (!notes.length) {
            if (noteRow) { noteRow.remove(); noteRow = null; tgt.removeAttribute('aria-describedby'); }
            return;
          }
          const list = noteList(notes, noteId);
          if (noteRow) noteRow.firstChild.replaceChildren(list);
          else { noteRow = h('tr', { class: 'row-note' }, h('td', { colSpan: 4 }, list)); tr.after(noteRow); }
          tgt.setAttribute('aria-describedby', noteId);
        }
        const sourceOf = () => { const s = src.value.trim(); return attributeFromText(s) || s; };
        const test = button('Test', () => {
          if (!testRow) {
            testRow = sourceTester(tester, sourceOf, src, () => { testRow.el.remove(); testRow = null; src.removeAttribute('aria-describedby'); test.focus(); });
            (noteRow || tr).after(testRow.el);
          }
          testRow.start();
        }, { kind: 'ghost', class: 'btn-small', aria: 'Test source', title: 'Try this source with a user of the directory' });
        const tr = h('tr', { class: 'map-row' }, h('td', {}, tgt), h('td', {}, h('div', { class: 'src-cell' }, src, test)),
          h('td', { class: 'cell-check' }, unmap),
          h('td', { class: 'cell-actions' }, button('', () => {
            // The focus goes on to the next row (or the row before, or Add).
            const next = [...rowsEl.children].filter((x) => x.value && x !== tr);
            const after = next.find((x) => tr.compareDocumentPosition(x) & Node.DOCUMENT_POSITION_FOLLOWING) || next[next.length - 1];
            testRow?.el.remove(); noteRow?.remove(); tr.remove();
            updateClearing();
            (after ? after.querySelector('input') : el.querySelector('.actions-split .btn'))?.focus();
          }, { kind: 'icon', aria: 'Remove mapping', icon: '×' })));
        tr.value = () => {
          const v = { target: tgt.value.trim(), source: sourceOf() };
          if (unmap.checked) v.clearOnUnmap = true;
          return v;
        };
        tgt.addEventListener('input', () => { refreshNotes(); updateClearing(); });
        rowsEl.append(tr);
        refreshNotes();
        if (focus) tgt.focus();
      }
      start.forEach((r, i) => addRow(r, false, prefilled ? null : i));
      const save = button('Save', async () => {
        const mapRows = [...rowsEl.children].filter((tr) => tr.value);
        const rows = mapRows.map((tr) => tr.value()).filter((r) => r.target || r.source);
        const bad = rows.findIndex((r) => !r.target || !r.source);
        [...rowsEl.querySelectorAll('input')].forEach((i) => i.removeAttribute('aria-invalid'));
        if (bad >= 0) { err.textContent = `Row ${bad + 1}: choose both a source and a target attribute.`; err.hidden = false; return; }
        setDisabled(save, true);
        try {
          await api.put(`/rules/${api.seg(id)}/mappings`, rows);
          toast('Attribute mapping saved. The rule resyncs its users.', 'success');
          await view(true);
        } catch (e) {
          const idx = /(\d+)/.exec(e.field || '');
          if (idx) {
            const tr = mapRows.filter((t) => { const v = t.value(); return v.target || v.source; })[Number(idx[1])];
            if (tr) { const inp = tr.querySelectorAll('input[type=text]')[/target/.test(e.field) ? 0 : 1]; inp.setAttribute('aria-invalid', 'true'); inp.focus(); }
          }
          err.textContent = idx ? `Row ${Number(idx[1]) + 1}: ${e.message}` : e.message;
          err.hidden = false;
        } finally { setDisabled(save, false); }
      }, { kind: 'primary' });
      clear(el, err,
        prefilled ? h('p', { class: 'note', text: 'The default Code42 SCIM attributes are filled in. Check them, add any that are missing with Add, then click Save.' }) : null,
        h('datalist', { id: srcList }, SOURCE_ATTRIBUTES.map(([, d]) => h('option', { value: d }))),
        h('datalist', { id: tgtList }, TARGET_ATTRIBUTES.map((a) => h('option', { value: a.name, label: `${a.label}: ${a.path}` }))),
        h('table', { class: 'table mapping-edit', attrs: { 'aria-label': 'Attribute Mapping' } },
          h('thead', {}, h('tr', {}, h('th', { text: conn() ? `${conn().name} SCIM Attribute` : 'SCIM Attribute' }), h('th', { text: 'Directory Attribute or expression' }),
            h('th', { class: 'cell-check', text: 'Clear on unmap' }), h('th', {}, h('span', { class: 'sr-only', text: 'Remove' })))),
          rowsEl),
        h('p', { id: unmapHelpId, class: 'field-help', text: unmapHelp }),
        clearing,
        h('p', { class: 'field-help', text: `Pick a directory attribute or type an expression, such as lower(email) or name.given + " " + name.family. Functions: ${FUNCTIONS.map((f) => f.usage).join(', ')}. Test shows what a source gives for a user.` }),
        h('div', { class: 'actions actions-split' },
          button('Add', () => addRow({}, true), { icon: '+', kind: 'ghost', aria: 'Add' }),
          h('span', { class: 'grow' }),
          button('Cancel', () => view(true), { kind: 'ghost' }), save));
      rowsEl.querySelector('input')?.focus();
    }
    view();
  }

  clear(body,
    section('Target', renderTarget),
    section('User Filter', renderFilter),
    section('Attribute Mapping', renderMapping),
    section('Group Provisioning', (el) => renderGroupProvisioning(el, id, lists.groups)));
}

// The mapping editor's Test control: a row under a mapping row where the admin picks a
// user of the directory (username, with suggestions) and sees what the row's source
// (a field or an expression) gives for that user, or the expression's error with its
// position, through POST /mappings/preview. Nothing is saved or sent to the target.
// shared.user ({id, username}) is remembered across the editor's rows.
function sourceTester(shared, sourceOf, srcInput, onClose) {
  const userId = nextId('test-user');
  const listId = nextId('test-users');
  const outId = nextId('test-out');
  const user = h('input', { id: userId, type: 'text', value: shared.user ? shared.user.username : '', placeholder: 'username', spellcheck: false, attrs: { list: listId, autocomplete: 'off' } });
  const list = h('datalist', { id: listId });
  const out = h('div', { id: outId, class: 'test-out', attrs: { role: 'status', 'aria-live': 'polite' } });
  const known = new Map(); // lower-case username -> user
  const remember = (items) => { for (const u of items || []) known.set(u.username.toLowerCase(), u); };
  const suggest = debounce(async () => {
    const q = user.value.trim();
    if (!q) return;
    try {
      const r = await api.get(`/users?q=${encodeURIComponent(q)}&limit=10`);
      remember(r.items);
      list.replaceChildren(...(r.items || []).map((u) => h('option', { value: u.username })));
    } catch { /* suggestions only */ }
  }, 200);
  user.addEventListener('input', () => { user.removeAttribute('aria-invalid'); suggest(); });
  user.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); run(); } if (e.key === 'Escape') { e.preventDefault(); onClose(); } });

  async function findUser(name) {
    const key = name.toLowerCase();
    if (!known.has(key)) remember((await api.get(`/users?q=${encodeURIComponent(name)}&limit=50`)).items);
    return known.get(key) || null;
  }
  function show(...children) { out.className = 'test-out'; clear(out, ...children); }
  function showError(...children) { out.className = 'test-out test-error'; clear(out, ...children); }

  async function run() {
    const name = user.value.trim();
    const source = sourceOf();
    srcInput.removeAttribute('aria-invalid');
    if (!source) { showError('Enter a source attribute or an expression first.'); srcInput.focus(); return; }
    if (!name) { showError('Enter the username of the user to test with.'); user.setAttribute('aria-invalid', 'true'); user.focus(); return; }
    setDisabled(runBtn, true);
    show(h('span', { class: 'muted', text: 'Testing…' }));
    try {
      const u = await findUser(name);
      if (!u) { showError(`No user is called ${name}.`); user.setAttribute('aria-invalid', 'true'); user.focus(); return; }
      shared.user = { id: u.id, username: u.username };
      const r = await api.post('/mappings/preview', { source, userId: u.id });
      const v = r ? r.value : null;
      show(h('span', { text: `For ${u.username}: ` }),
        v === null || v === '' ? h('span', { class: 'muted test-value', text: 'empty (this attribute is left out)' }) : h('code', { class: 'test-value', text: typeof v === 'string' ? v : JSON.stringify(v) }));
    } catch (e) {
      if (e.field === 'source') {
        srcInput.setAttribute('aria-invalid', 'true');
        srcInput.setAttribute('aria-describedby', outId);
        const pos = Number((/at position (\d+)/.exec(e.message) || [])[1] || 0);
        const chars = [...source];
        showError(h('span', { text: e.message }),
          pos > 0 ? h('pre', { class: 'test-caret', attrs: { 'aria-hidden': 'true' }, text: `${source}\n${' '.repeat(Math.min(pos - 1, chars.length))}^` }) : null);
        if (pos > 0) {
          const at = chars.slice(0, pos - 1).join('').length;
          srcInput.setSelectionRange(at, Math.min(at + 1, source.length));
        }
      } else if (e.field === 'userId') {
        showError(e.message);
        user.setAttribute('aria-invalid', 'true');
      } else {
        showError(e.message);
      }
    } finally { setDisabled(runBtn, false); }
  }

  const runBtn = button('Test', run, { kind: 'secondary', aria: 'Run test', title: 'Show what the source gives for this user' });
  const el = h('tr', { class: 'test-row' }, h('td', { colSpan: 4 },
    h('div', { class: 'test-panel' },
      h('label', { htmlFor: userId, text: 'Test with user' }), user, list, runBtn,
      button('', onClose, { kind: 'icon', aria: 'Close test', icon: '×' })),
    out));
  return {
    el,
    start() {
      if (shared.user && user.value.trim()) run();
      else user.focus();
    },
  };
}

function statusTab(body, id, getRule) {
  const counters = [['impacted', 'Impacted'], ['success', 'Success'], ['unsynced', 'Unsynced'], ['partiallySynced', 'Partially synced'], ['failed', 'Failed']];
  const statusEl = h('span');
  const lastEl = h('span', { text: '—' });
  const verifyEl = h('span');
  const verifyFact = h('div', { hidden: true }, h('dt', { class: 'muted', text: 'Last verify' }), h('dd', {}, verifyEl));
  const pendingEl = h('span', { class: 'muted' });
  const quarantineEl = h('p', { class: 'alert alert-warn', attrs: { role: 'status' }, hidden: true });
  const brakeEl = h('div');
  const err = alertBox();
  const nums = {};
  const usersEl = h('div');
  const groupsEl = groupCounters();
  // A description list: each counter's name (dt) and its value (dd); the value is drawn
  // above its name.
  const cards = h('dl', { class: 'counters' }, counters.map(([k, label]) => {
    nums[k] = h('dd', { class: 'num', text: '0' });
    return h('div', { class: `counter counter-${k}` }, h('dt', { class: 'lbl', text: label }), nums[k]);
  }));
  const statusKinds = { ACTIVE: 'ok', INACTIVE: 'muted', FAILED: 'error', QUARANTINED: 'warn' };
  clear(body,
    err,
    h('section', { class: 'panel', attrs: { 'aria-label': 'Sync status' } },
      h('div', { class: 'status-line' },
        h('dl', { class: 'status-facts' },
          h('div', {}, h('dt', { class: 'muted', text: 'Status' }), h('dd', {}, statusEl)),
          h('div', {}, h('dt', { class: 'muted', text: 'Last sync' }), h('dd', {}, lastEl)),
          verifyFact),
        pendingEl,
        h('span', { class: 'grow' }),
        button('Full Resync', () => openResync(), { kind: 'secondary' })),
      brakeEl, quarantineEl,
      cards, groupsEl.el),
    h('section', { class: 'panel', attrs: { 'aria-label': 'Users' } }, h('h2', { text: 'Users' }), usersEl));

  function isBraked(s) {
    return !!(s && (s.braked || s.brake || s.awaitingAllow || s.held || s.status === 'BRAKED' || s.status === 'HELD'));
  }
  // Every two seconds: only what changed is written, so that live regions and alerts
  // are not announced again, and the focus (on Allow, say) is not taken away.
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  let shownStatus = null;
  let shownBrake = null;
  let shownUsers = null;
  const statusOrder = loadOrder();
  async function tick() {
    const current = statusOrder();
    try {
      const s = await api.get(`/rules/${api.seg(id)}/status`);
      if (!current()) return;
      if (shownStatus !== s.status) { shownStatus = s.status; statusEl.replaceChildren(badge(titleCase(s.status || 'INACTIVE'), statusKinds[s.status] || 'muted')); }
      setText(lastEl, when(s.lastSyncAt));
      // The last drift repair: when, how many linked accounts were compared, how many differed.
      const v = s.verify;
      verifyFact.hidden = !v;
      if (v) setText(verifyEl, `${when(v.lastVerifyAt)} · ${v.checked ?? 0} checked · ${v.drifted ?? 0} drifted`);
      for (const [k] of counters) setText(nums[k], String((s.users && s.users[k]) || 0));
      groupsEl.update(s);
      setText(pendingEl, s.pending ? `${s.pending} change${s.pending === 1 ? '' : 's'} waiting to be sent` : '');
      quarantineEl.hidden = !s.quarantineReason;
      setText(quarantineEl, s.quarantineReason ? `Quarantined: ${s.quarantineReason}` : '');
      if (isBraked(s)) renderBrake(s); else if (shownBrake !== null) { shownBrake = null; keepFocus(brakeEl, () => brakeEl.replaceChildren()); }
      err.hidden = true;
    } catch (e) { if (current()) showApiError(e, {}, err); }
    try {
      const u = await api.get(`/rules/${api.seg(id)}/users?limit=100`);
      if (!current()) return;
      const items = (u && u.items) || [];
      const key = JSON.stringify(items);
      if (key === shownUsers) return;
      shownUsers = key;
      keepFocus(usersEl, () => clear(usersEl, items.length ? h('table', { class: 'table rule-users', attrs: { 'aria-label': 'Rule users' } },
        h('thead', {}, h('tr', {}, ['User', 'State', 'Target ID', 'Last error', 'Updated'].map((t) => h('th', { text: t })))),
        h('tbody', {}, items.map((r) => userRow(r))))
        : empty('No user is linked to the target yet.')));
    } catch (e) { /* the users list is secondary; the status line shows errors */ }
  }
  function renderBrake(s) {
    const b = typeof s.brake === 'object' && s.brake ? s.brake : {};
    const msg = b.held !== undefined
      ? `Safety brake: the full resync would disable or delete ${b.held} users, more than the threshold of ${b.threshold}. Nothing was removed; it waits for you to allow it.`
      : 'Safety brake: the full resync would disable or delete more users than the threshold allows. It waits for you to allow it.';
    if (shownBrake === msg) return;
    shownBrake = msg;
    keepFocus(brakeEl, () => clear(brakeEl, h('div', { class: 'alert alert-warn', attrs: { role: 'alert' } },
      h('p', { text: msg }),
      button('Allow', async () => {
        try { await api.post(`/rules/${api.seg(id)}/resync?allow=true`); toast('Resync allowed.', 'success'); tick(); } catch (e) { showApiError(e, {}, err); }
      }, { kind: 'danger', aria: 'Allow resync' }))));
  }
  // Full Resync: a dry run first (with Verify, it reads the linked accounts from the
  // target and lists what differs), then Start Full Resync sends it. Ticking or unticking
  // Verify runs the preview again; only the latest preview is shown.
  function openResync() {
    const out = h('div', { class: 'plan', attrs: { 'aria-live': 'polite' } });
    const dErr = alertBox();
    const verify = field('Verify accounts on the target', { kind: 'checkbox', value: false,
      help: 'Reads every linked account from the target and corrects what differs from the mapping: edits made on the target, and accounts deleted there (created again).' });
    const intro = h('p');
    const previews = loadOrder();
    const start = button('Start Full Resync', async () => {
      setDisabled(start, true);
      const v = verify.get();
      try {
        const r = await api.post(`/rules/${api.seg(id)}/resync`, v ? { verify: true } : {});
        d.close();
        if (isBraked(r)) renderBrake(r);
        toast(v ? 'Full resync with verify started.' : 'Full resync started.', 'success');
        tick();
      } catch (e) { showApiError(e, {}, dErr); setDisabled(start, false); }
    }, { kind: 'primary' });
    function preview() {
      const current = previews();
      const v = verify.get();
      intro.textContent = v
        ? `Preview (dry run) of a full resync of ${getRule().name} with verify: the linked accounts are read from the target; nothing has been changed or sent yet.`
        : `Preview (dry run) of a full resync of ${getRule().name}: nothing has been sent yet.`;
      dErr.hidden = true;
      clear(out, h('p', { class: 'muted', text: v ? 'Reading the linked accounts from the target and computing what a full resync would do…' : 'Computing what a full resync would do…' }));
      api.post(`/rules/${api.seg(id)}/resync`, v ? { dryRun: true, verify: true } : { dryRun: true })
        .then((plan) => { if (current()) clear(out, planView(plan)); })
        .catch((e) => { if (!current()) return; out.replaceChildren(); showApiError(e, {}, dErr); });
    }
    verify.input.addEventListener('change', preview);
    const d = dialog('Full Resync', h('div', {}, intro, verify.wrap, dErr, out,
      h('div', { class: 'actions' }, button('Cancel', () => d.close(), { kind: 'ghost' }), start)), { wide: true });
    preview();
  }
  tick();
  const timer = setInterval(tick, 2000);
  return () => clearInterval(timer);
}

// The badge of a user's sync state: green when in step, amber when the target's account
// is not entirely what the mapping says (or nothing could be sent), red when it failed,
// blue while the first answer is awaited.
const STATE_KINDS = { SYNCED: 'ok', PARTIALLY_SYNCED: 'warn', UNSYNCED: 'warn', FAILED: 'error', PENDING: 'info', DISABLED: 'muted', DELETED: 'muted', OUT_OF_SCOPE: 'muted' };

/**
 * One row of a rule's users (GET /rules/{id}/users): its state, the account on the
 * target, the attributes the target rejected with its words (a PARTIALLY_SYNCED user),
 * or the last error. A PENDING user is queued and has no answer yet (updatedAt null).
 */
function userRow(r) {
  const state = r.state || '';
  const pending = state === 'PENDING';
  const rejected = Array.isArray(r.rejected) ? r.rejected : [];
  let problem = '';
  if (rejected.length) {
    problem = h('div', { class: 'rejected' },
      h('p', { text: `The target rejected ${rejected.length === 1 ? 'one attribute' : `${rejected.length} attributes`}:` }),
      h('ul', {}, rejected.map((x) => h('li', {}, h('code', { text: x.attribute }), ': ', h('span', { class: 'err-text', text: x.error || `HTTP ${x.httpStatus}` })))));
  } else if (r.lastError) {
    problem = h('span', { class: 'err-text', text: r.lastError });
  }
  return h('tr', {},
    h('td', { text: r.username || r.userId }),
    h('td', {}, badge(titleCase(state), STATE_KINDS[state] || 'muted')),
    h('td', {}, r.targetId ? h('code', { text: r.targetId }) : h('span', { class: 'muted', text: pending ? 'not linked yet' : '—' })),
    h('td', { class: 'problem-cell' }, problem),
    h('td', {}, r.updatedAt ? when(r.updatedAt) : h('span', { class: 'muted', text: pending ? 'Queued: no answer yet' : '—' })));
}

function titleCase(s) {
  return String(s).toLowerCase().replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

/** Renders a dry-run plan: creates (with their attributes), updates (old → new),
 * disables, deletes and unsynced users, and the brake when removals would stop at it. */
function planView(plan) {
  if (!plan || typeof plan !== 'object') return empty('Nothing to do.');
  const order = ['creates', 'updates', 'disables', 'deletes', 'unsynced', 'drifted'];
  const lists = order.filter((k) => Array.isArray(plan[k])).map((k) => [k, plan[k]]);
  const who = (x) => (typeof x === 'string' ? x : x.username || x.userName || x.userId || x.id || JSON.stringify(x));
  const changesOf = (x) => {
    if (Array.isArray(x.changes)) return x.changes;
    if (x.gone) return [];
    if (x.attributes && typeof x.attributes === 'object') return Object.entries(x.attributes).map(([attribute, v]) => ({ attribute, old: null, new: v }));
    return [];
  };
  const total = lists.reduce((n, [, v]) => n + v.length, 0);
  const brake = plan.brake && typeof plan.brake === 'object' ? plan.brake : null;
  return h('div', {},
    plan.counts && plan.counts.users !== undefined ? h('p', { class: 'muted', text: `${plan.counts.users} users in scope.${plan.counts.checked !== undefined ? ` ${plan.counts.checked} linked account${plan.counts.checked === 1 ? '' : 's'} checked on the target, ${plan.counts.drifted || 0} drifted.` : ''}` }) : null,
    brake ? h('p', { class: 'alert alert-warn', attrs: { role: 'alert' }, text: `The safety brake would stop this resync: ${brake.held} removals, more than the threshold of ${brake.threshold}. It would wait for you to allow it.` }) : null,
    h('dl', { class: 'plan-counts' }, lists.map(([k, v]) => h('div', { class: 'counter' }, h('dt', { class: 'lbl', text: titleCase(k) }), h('dd', { class: 'num', text: String(v.length) })))),
    total === 0 ? h('p', { class: 'note', text: 'Nothing to send: the target is up to date.' }) : null,
    lists.filter(([, v]) => v.length).map(([k, v]) => h('section', { class: 'plan-list', attrs: { 'aria-label': titleCase(k) } },
      h('h3', { text: `${titleCase(k)} (${v.length})` }),
      k === 'drifted' ? h('p', { class: 'muted', text: 'Each attribute: the value on the target → what the mapping says (sent by the resync).' }) : null,
      h('ul', {}, v.slice(0, 200).map((x) => {
        const ch = changesOf(x);
        return h('li', {}, h('strong', { text: who(x) }), x.action ? h('span', { class: 'muted', text: ` (${titleCase(x.action)})` }) : null,
          x.gone ? h('span', { class: 'gone', text: ': account gone (deleted on the target; the resync creates it again)' }) : null,
          ch.length ? h('ul', { class: 'changes' }, ch.map((c) => h('li', {}, h('code', { text: c.attribute }), ': ', h('span', { class: 'old', text: fmt(c.old) }),
            k === 'drifted' ? h('span', { class: 'sr-only', text: ' on the target, expected' }) : null, ' → ', h('span', { class: 'new', text: fmt(c.new) })))) : null);
      })),
      v.length > 200 ? h('p', { class: 'muted', text: `and ${v.length - 200} more` }) : null)));
}

function fmt(v) {
  if (v === null || v === undefined) return '(none)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export { fmt as formatValue };
