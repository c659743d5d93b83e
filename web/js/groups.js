// A rule's group provisioning in the console: the Group Provisioning section of the rule's
// Configuration tab (GET/PUT /rules/{id}/groups: which groups, flattened or nested, what
// leaving scope does, members per request, the group attribute mapping) and the group
// counters of its Sync Status (status.groups).

import { h, button, field, alertBox, showApiError, toast, badge, setDisabled } from './dom.js';
import * as api from './api.js';

const OPERATORS = [['STARTS_WITH', 'starts with'], ['EQUALS', 'equals'], ['ENDS_WITH', 'ends with'], ['CONTAINS', 'contains']];
const SOURCES = [['name', 'Group name'], ['id', 'Group ID'], ['description', 'Description']];

function selectionText(sel) {
  if (!sel) return 'none';
  if (sel.names) return sel.names.length ? `groups named ${sel.names.join(', ')}` : 'no group chosen yet';
  if (sel.filter) return `groups whose name ${(OPERATORS.find(([v]) => v === sel.filter.operator) || [, sel.filter.operator])[1]} "${sel.filter.value}"`;
  if (sel.under) return `"${sel.under}" and every group nested in it`;
  return 'none';
}

function mapped(s, target) {
  const row = (s.mappings || []).find((m) => m.target === target);
  return row ? (SOURCES.find(([v]) => v === row.source) || [, row.source])[1] : 'not mapped';
}

// The groups to choose by name: one checkbox per directory group, in a fieldset, with
// the field interface showApiError uses (input, error).
function nameChoices(groupNames, chosen) {
  const errEl = h('p', { class: 'field-error', hidden: true });
  const boxes = groupNames.map((n) => {
    const c = field(n, { kind: 'checkbox', value: chosen.some((x) => x.toLowerCase() === n.toLowerCase()) });
    c.name = n;
    return c;
  });
  const wrap = h('fieldset', { class: 'field group-names' }, h('legend', { text: 'Group names' }),
    boxes.length ? boxes.map((c) => c.wrap) : h('p', { class: 'muted', text: 'The directory has no groups yet.' }), errEl);
  return {
    wrap,
    input: boxes.length ? boxes[0].input : wrap,
    error(msg) { errEl.textContent = msg || ''; errEl.hidden = !msg; },
    get() { return boxes.filter((c) => c.get()).map((c) => c.name); },
  };
}

/** Renders the Group Provisioning section's body into el for rule id. groupNames: the
 * directory's group names (for choosing by name or a parent). */
export function renderGroupProvisioning(el, id, groupNames) {
  const err = alertBox();
  async function view(focusEdit) {
    let s;
    try { s = await api.get(`/rules/${api.seg(id)}/groups`); } catch (e) { showApiError(e, {}, err); el.replaceChildren(err); return; }
    const pencil = button('', () => edit(s), { kind: 'icon', aria: 'Edit group provisioning', icon: '✎' });
    const facts = [
      ['Group provisioning', s.enabled ? badge('On', 'ok') : badge('Off', 'muted')],
      ['Groups', selectionText(s.select)],
      ['Nested groups', s.nested === 'nested' ? 'pushed as groups within groups' : 'flattened (every effective member)'],
      ['Leaving scope', s.onRemove === 'delete' ? 'the group is deleted on the target' : 'its members are removed; the group stays'],
      ['Members per request', String(s.membersPerRequest)],
      ['displayName', mapped(s, 'displayName')],
      ['externalId', mapped(s, 'externalId')],
    ];
    el.replaceChildren(err, h('div', { class: 'acc-tools' }, pencil),
      h('dl', { class: 'facts group-provisioning' }, facts.map(([k, v]) => h('div', {}, h('dt', { class: 'muted', text: k }), h('dd', {}, v)))));
    if (focusEdit) pencil.focus();
  }

  function edit(s) {
    const sel = s.select || { names: [] };
    const mode = sel.filter ? 'filter' : sel.under ? 'under' : 'names';
    const enabledF = field('Provision groups', { kind: 'checkbox', value: s.enabled });
    const modeF = field('Choose groups', { kind: 'select', options: [['names', 'By name'], ['filter', 'By a name filter'], ['under', 'A group and the groups nested in it']], value: mode });
    const namesF = nameChoices(groupNames, sel.names || []);
    const opF = field('Name', { kind: 'select', options: OPERATORS, value: sel.filter ? sel.filter.operator : 'STARTS_WITH' });
    const valueF = field('Value', { value: sel.filter ? sel.filter.value : '' });
    const underF = field('Parent group', { kind: 'select', options: groupNames.map((n) => [n, n]), value: sel.under || groupNames[0] || '' });
    const nestedF = field('Nested groups', { kind: 'select', options: [['flatten', 'Flatten (every effective member)'], ['nested', 'Push as groups within groups']], value: s.nested });
    const removeF = field('When a group leaves scope', { kind: 'select', options: [['removeMembers', 'Remove its members, keep the group'], ['delete', 'Delete the group']], value: s.onRemove });
    const perF = field('Members per request', { kind: 'number', value: String(s.membersPerRequest) });
    perF.input.min = '1'; perF.input.max = '1000';
    const dnF = field('displayName from', { kind: 'select', options: SOURCES, value: (s.mappings.find((m) => m.target === 'displayName') || {}).source || 'name' });
    const xF = field('externalId from', { kind: 'select', options: [['', 'Not mapped'], ...SOURCES], value: (s.mappings.find((m) => m.target === 'externalId') || {}).source || '' });
    const byName = h('div', {}, namesF.wrap);
    const byFilter = h('div', { class: 'row' }, opF.wrap, valueF.wrap);
    const byUnder = h('div', {}, underF.wrap);
    function showMode() {
      byName.hidden = modeF.get() !== 'names';
      byFilter.hidden = modeF.get() !== 'filter';
      byUnder.hidden = modeF.get() !== 'under';
    }
    modeF.input.addEventListener('change', showMode);
    showMode();
    const fields = {
      enabled: enabledF, select: modeF, 'select.names': namesF, 'select.filter.operator': opF,
      'select.filter.value': valueF, 'select.under': underF, nested: nestedF, onRemove: removeF,
      membersPerRequest: perF, mappings: dnF, 'mappings[0].source': dnF, 'mappings[1].source': xF,
    };
    function body() {
      let select;
      if (modeF.get() === 'names') select = { names: namesF.get() };
      else if (modeF.get() === 'filter') select = { filter: { attribute: 'name', operator: opF.get(), value: valueF.get() } };
      else select = { under: underF.get() };
      const per = Number(perF.get());
      const mappings = [{ target: 'displayName', source: dnF.get() }];
      if (xF.get()) mappings.push({ target: 'externalId', source: xF.get() });
      return { enabled: enabledF.get(), select, nested: nestedF.get(), onRemove: removeF.get(), membersPerRequest: Number.isInteger(per) ? per : perF.get(), mappings };
    }
    const save = button('Save', async () => {
      setDisabled(save, true);
      try {
        const b = body();
        await api.put(`/rules/${api.seg(id)}/groups`, b);
        toast(b.enabled ? 'Group provisioning saved. The rule syncs its groups.' : 'Group provisioning saved.', 'success');
        await view(true);
      } catch (e) {
        // select.names[2] and the like: shown on the names list
        const f = e && e.field && e.field.startsWith('select.names') ? { ...e, field: 'select.names' } : e;
        showApiError(f, fields, err);
      } finally { setDisabled(save, false); }
    }, { kind: 'primary' });
    el.replaceChildren(err,
      h('p', { class: 'note', text: 'Pushes the chosen directory groups to the target connection\'s Groups resource, with the users this rule provisions as members. An existing group of the same displayName is linked, not duplicated.' }),
      enabledF.wrap, modeF.wrap, byName, byFilter, byUnder, nestedF.wrap, removeF.wrap, perF.wrap, dnF.wrap, xF.wrap,
      h('div', { class: 'actions' }, button('Cancel', () => view(true), { kind: 'ghost' }), save));
    enabledF.input.focus();
  }
  view();
}

/** The group counters of the Sync Status tab: {el, update(status)}. */
export function groupCounters() {
  const rows = [['linked', 'Groups'], ['synced', 'Groups synced'], ['failed', 'Groups failed'], ['braked', 'Groups held by the brake'], ['members', 'Group memberships']];
  const nums = {};
  const el = h('dl', { class: 'counters counters-groups', attrs: { 'aria-label': 'Group counters' }, hidden: true }, rows.map(([k, label]) => {
    nums[k] = h('dd', { class: 'num', text: '0' });
    return h('div', { class: `counter counter-group-${k}` }, h('dt', { class: 'lbl', text: label }), nums[k]);
  }));
  function update(s) {
    const g = s && s.groups;
    el.hidden = !g || (!g.enabled && !g.linked);
    if (!g) return;
    for (const [k] of rows) {
      const t = String(g[k] || 0);
      if (nums[k].textContent !== t) nums[k].textContent = t;
    }
  }
  return { el, update };
}
