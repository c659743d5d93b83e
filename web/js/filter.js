// The user filter editor and its read-only summary, shared by a rule's User Filter and a
// dynamic group's filter: a tree of condition sets ({match: ALL|ANY, conditions}) whose
// leaves are {attribute, operator, value}. All/Any, Attribute, Operator, Value and the
// Add menu (Condition, Condition Set) carry the seed's words.

import { h, button, nextId } from './dom.js';
import { FILTER_ATTRIBUTES, OPERATORS, displayName, operatorLabel, operatorNeedsValue } from './attrs.js';

/** Renders a filter as a readable tree (a list). */
export function filterSummary(filter) {
  if (!filter || !filter.conditions || filter.conditions.length === 0) {
    return h('p', { class: 'empty', text: 'No filter: no user is in scope yet.' });
  }
  const render = (set) => h('div', { class: 'summary-set' },
    h('span', { class: 'match-word', text: set.match === 'ANY' ? 'Any of' : 'All of' }),
    h('ul', {}, (set.conditions || []).map((c) => h('li', {}, c.conditions ? render(c) : [
      h('strong', { text: displayName(c.attribute) }), ' ',
      h('span', { class: 'op', text: operatorLabel(c.operator) }), ' ',
      operatorNeedsValue(c.operator) ? h('code', { text: formatValue(c.value) }) : null,
    ]))));
  return render(filter);
}

function formatValue(v) {
  if (Array.isArray(v)) return v.join(', ');
  return v === null || v === undefined ? '' : String(v);
}

/**
 * A filter editor. lists: {populations: [names], groups: [names]}. Returns {el, value()}
 * where value() gives the filter object (empty conditions dropped).
 */
export function filterEditor(initial, lists) {
  const root = setEditor(normalise(initial), lists, 0, null);
  return {
    el: h('div', { class: 'filter-editor' }, root.el),
    value: () => root.value(),
  };
}

function normalise(f) {
  if (f && Array.isArray(f.conditions) && f.conditions.length) return f;
  return { match: 'ALL', conditions: [{ attribute: 'population.name', operator: 'EQUALS', value: '' }] };
}

function setEditor(set, lists, depth, onRemove) {
  const items = [];
  const rows = h('div', { class: 'cond-rows' });
  const name = nextId('match');
  const radio = (val, label) => {
    const id = nextId('r');
    const input = h('input', { type: 'radio', name, id, value: val, checked: (set.match || 'ALL') === val });
    return h('label', { class: 'radio', htmlFor: id }, input, h('span', { text: label }));
  };
  const matchGroup = h('div', { class: 'match', attrs: { role: 'radiogroup', 'aria-label': depth ? 'Match (condition set)' : 'Match' } },
    radio('ALL', 'All'), radio('ANY', 'Any'));

  function addItem(c) {
    const item = c.conditions ? setEditor(c, lists, depth + 1, () => removeItem(item)) : conditionRow(c, lists, () => removeItem(item));
    items.push(item);
    rows.append(item.el);
    return item;
  }
  // A removed row takes the focus with it: it goes to this set's Add.
  function removeItem(item) {
    const i = items.indexOf(item);
    if (i >= 0) items.splice(i, 1);
    const had = item.el.contains(document.activeElement);
    item.el.remove();
    if (had) addBtn.focus();
  }
  for (const c of set.conditions || []) addItem(c);

  const menu = h('div', { class: 'menu', attrs: { role: 'menu' }, hidden: true });
  const addBtn = button('Add', () => toggleMenu(), { icon: '+', kind: 'ghost', class: 'add-btn' });
  addBtn.setAttribute('aria-haspopup', 'menu');
  addBtn.setAttribute('aria-expanded', 'false');
  // An ARIA menu button like the page's +: Enter, Space or ArrowDown open the menu on its
  // first item (ArrowUp on its last), the arrows, Home and End move, Escape closes it.
  function toggleMenu(force, at = 'first') {
    const open = force !== undefined ? force : menu.hidden;
    menu.hidden = !open;
    addBtn.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) { const its = menu.querySelectorAll('[role=menuitem]'); its[at === 'last' ? its.length - 1 : 0].focus(); }
  }
  addBtn.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); toggleMenu(true); }
    if (e.key === 'ArrowUp') { e.preventDefault(); toggleMenu(true, 'last'); }
  });
  const mi = (label, fn) => {
    const b = h('button', { type: 'button', class: 'menuitem', tabIndex: -1, attrs: { role: 'menuitem' }, text: label });
    b.addEventListener('click', () => { toggleMenu(false); fn(); });
    return b;
  };
  menu.append(
    mi('Condition', () => { const it = addItem({ attribute: 'population.name', operator: 'EQUALS', value: '' }); it.focus(); }),
    mi('Condition Set', () => { const it = addItem({ match: 'ALL', conditions: [{ attribute: 'population.name', operator: 'EQUALS', value: '' }] }); it.focus(); }),
  );
  menu.addEventListener('keydown', (e) => {
    const its = [...menu.querySelectorAll('[role=menuitem]')];
    const i = its.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); toggleMenu(false); addBtn.focus(); }
    if (e.key === 'ArrowDown') { e.preventDefault(); its[(i + 1) % its.length].focus(); }
    if (e.key === 'ArrowUp') { e.preventDefault(); its[(i + its.length - 1) % its.length].focus(); }
    if (e.key === 'Home') { e.preventDefault(); its[0].focus(); }
    if (e.key === 'End') { e.preventDefault(); its[its.length - 1].focus(); }
  });

  const menuWrap = h('div', { class: 'menu-wrap' }, addBtn, menu);
  // The menu closes when the focus leaves it (a click elsewhere, Tab).
  menuWrap.addEventListener('focusout', (e) => { if (!menuWrap.contains(e.relatedTarget)) toggleMenu(false); });
  const el = h('fieldset', { class: `cond-set depth-${depth}` },
    h('legend', { text: depth ? 'Condition set' : 'Conditions' }),
    h('div', { class: 'set-head' }, matchGroup,
      onRemove ? button('', onRemove, { kind: 'icon', aria: 'Remove condition set', icon: '×' }) : null),
    rows,
    menuWrap);
  return {
    el,
    focus: () => el.querySelector('select, input')?.focus(),
    value() {
      const match = el.querySelector(`input[name="${name}"]:checked`)?.value || 'ALL';
      const conditions = items.map((it) => it.value()).filter(Boolean);
      return { match, conditions };
    },
  };
}

function conditionRow(c, lists, onRemove) {
  const attrId = nextId('attr');
  const opId = nextId('op');
  const valId = nextId('val');
  const attr = h('select', { id: attrId }, FILTER_ATTRIBUTES.map(([v, l]) => h('option', { value: v, text: l })));
  attr.value = FILTER_ATTRIBUTES.some(([v]) => v === c.attribute) ? c.attribute : 'population.name';
  const op = h('select', { id: opId }, OPERATORS.map(([v, l]) => h('option', { value: v, text: l })));
  op.value = c.operator || 'EQUALS';
  const valueSlot = h('div', { class: 'value-slot' });
  let valueInput = null;
  let current = formatValue(c.value);

  function renderValue() {
    if (valueInput) current = valueInput.value;
    const a = attr.value;
    const needs = operatorNeedsValue(op.value);
    const pick = (a === 'population.name' ? lists.populations : a === 'group' ? lists.groups : null);
    let dl = null;
    if (!needs) {
      valueInput = h('input', { id: valId, type: 'text', disabled: true, value: '', placeholder: 'no value needed' });
    } else if (pick && (op.value === 'EQUALS' || op.value === 'NOT_EQUALS')) {
      const opts = [...new Set([...(pick || []), current].filter((x) => x !== ''))];
      valueInput = h('select', { id: valId },
        h('option', { value: '', text: a === 'group' ? 'Choose a group…' : 'Choose a population…' }),
        opts.map((n) => h('option', { value: n, text: n })));
      valueInput.value = current;
    } else {
      const listId = nextId('dl');
      valueInput = h('input', { id: valId, type: 'text', value: current, attrs: { list: pick ? listId : null } });
      if (pick) dl = h('datalist', { id: listId }, pick.map((n) => h('option', { value: n })));
    }
    valueSlot.replaceChildren(h('label', { htmlFor: valId, text: 'Value' }), valueInput);
    if (dl) valueSlot.append(dl);
  }
  attr.addEventListener('change', () => { current = valueInput ? valueInput.value : current; if (attr.value === 'population.name' || attr.value === 'group') current = ''; valueInput = null; renderValue(); });
  op.addEventListener('change', renderValue);
  renderValue();

  const el = h('div', { class: 'cond-row' },
    h('div', { class: 'cell' }, h('label', { htmlFor: attrId, text: 'Attribute' }), attr),
    h('div', { class: 'cell' }, h('label', { htmlFor: opId, text: 'Operator' }), op),
    h('div', { class: 'cell cell-grow' }, valueSlot),
    button('', onRemove, { kind: 'icon', aria: 'Remove condition', icon: '×' }));
  return {
    el,
    focus: () => attr.focus(),
    value() {
      const needs = operatorNeedsValue(op.value);
      let v = needs ? valueInput.value.trim() : null;
      if (needs && v === '') return null;
      if (op.value === 'IN') v = v.split(',').map((s) => s.trim()).filter(Boolean);
      return { attribute: attr.value, operator: op.value, value: v };
    },
  };
}
