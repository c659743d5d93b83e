// Small DOM helpers for the console: element building without innerHTML (so nothing a
// user typed is ever parsed as HTML), labelled form fields with error slots, dialogs,
// drawers, toggles and toasts. Everything here is framework-free and CSP-safe.

let uid = 0;

/** A fresh id for label/aria wiring. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * Builds an element. props: class, text, attrs (object), on (object of listeners),
 * dataset, and any DOM property (value, checked, type, disabled, hidden...).
 * children: nodes, strings or arrays of them (null/false are skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'attrs') for (const [a, av] of Object.entries(v)) { if (av !== null && av !== undefined && av !== false) el.setAttribute(a, av === true ? '' : String(av)); }
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Makes a button unavailable (busy, or nothing to do) or available again without taking
 * the keyboard focus from it: a `disabled` button that has the focus loses it to the
 * page, so the console uses aria-disabled, and button() and toggle() ignore clicks
 * (and so the Enter that submits a form) while it is set.
 */
export function setDisabled(btn, on) {
  if (on) btn.setAttribute('aria-disabled', 'true');
  else btn.removeAttribute('aria-disabled');
}

/** True while setDisabled(btn, true) holds. */
export function isDisabled(btn) {
  return btn.getAttribute('aria-disabled') === 'true';
}

/**
 * A decorative glyph (+, ×, ✎) for a button named otherwise: drawn by the stylesheet from
 * data-icon, so it is neither text of the page nor part of any accessible name.
 */
export function icon(glyph) {
  return h('span', { class: 'icon', attrs: { 'aria-hidden': 'true', 'data-icon': glyph } });
}

/** A button. label is its text; opts: aria (accessible name), kind (primary, ghost, danger, icon). */
export function button(label, onClick, opts = {}) {
  const b = h('button', {
    type: opts.submit ? 'submit' : 'button',
    class: `btn ${opts.kind ? 'btn-' + opts.kind : ''} ${opts.class || ''}`.trim(),
    attrs: { 'aria-label': opts.aria, title: opts.title || opts.aria },
  }, opts.icon ? icon(opts.icon) : null, label);
  if (opts.disabled) setDisabled(b, true);
  b.addEventListener('click', (e) => {
    // An unavailable submit button must not submit its form either (nor does Enter).
    if (isDisabled(b)) { e.preventDefault(); e.stopImmediatePropagation(); return; }
    if (onClick) onClick(e);
  });
  return b;
}

/** A switch (role=switch button) with an accessible name; onChange(newValue) may return a promise. */
export function toggle(name, checked, onChange) {
  const b = h('button', {
    type: 'button', class: 'switch',
    attrs: { role: 'switch', 'aria-checked': checked ? 'true' : 'false', 'aria-label': name, title: name },
  }, h('span', { class: 'knob', attrs: { 'aria-hidden': 'true' } }));
  b.addEventListener('click', async () => {
    if (isDisabled(b)) return;
    const next = b.getAttribute('aria-checked') !== 'true';
    setDisabled(b, true);
    try {
      const ok = await onChange(next);
      if (ok !== false) b.setAttribute('aria-checked', next ? 'true' : 'false');
    } finally {
      setDisabled(b, false);
    }
  });
  return b;
}

/**
 * A labelled field. kind: text, password, url, number, email, textarea, select, checkbox.
 * opts: value, options [[value,label]], required, placeholder, help, list (datalist id),
 * autocomplete. A required field is `required` (so aria-required) and shows a red
 * asterisk after its label (outside the label, hidden from screen readers, which say
 * "required" instead); its form explains the asterisk once with requiredNote().
 * Returns {wrap, input, error(msg), get(), set(v)}.
 */
export function field(label, opts = {}) {
  const id = nextId('in');
  const errId = `${id}-err`;
  const helpId = opts.help ? `${id}-help` : null;
  const kind = opts.kind || 'text';
  let input;
  if (kind === 'textarea') {
    input = h('textarea', { id, rows: opts.rows || 3, value: opts.value ?? '' });
  } else if (kind === 'select') {
    input = h('select', { id }, (opts.options || []).map(([v, l]) => h('option', { value: v, text: l })));
    if (opts.value !== undefined && opts.value !== null) input.value = opts.value;
  } else if (kind === 'checkbox') {
    input = h('input', { id, type: 'checkbox', checked: !!opts.value });
  } else {
    input = h('input', { id, type: kind, value: opts.value ?? '' });
  }
  if (opts.required) input.required = true;
  if (opts.placeholder) input.placeholder = opts.placeholder;
  if (opts.list) input.setAttribute('list', opts.list);
  if (opts.autocomplete) input.setAttribute('autocomplete', opts.autocomplete);
  if (opts.spellcheck === false) input.spellcheck = false;
  const describedBy = [helpId, errId].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', describedBy);
  const err = h('p', { id: errId, class: 'field-error', hidden: true });
  const help = helpId ? h('p', { id: helpId, class: 'field-help', text: opts.help }) : null;
  let wrap;
  if (kind === 'checkbox') {
    wrap = h('div', { class: 'field field-check' }, h('label', { class: 'check', htmlFor: id }, input, h('span', { text: label })), help, err);
  } else {
    const mark = opts.required ? h('span', { class: 'req', attrs: { 'aria-hidden': 'true' }, text: '*' }) : null;
    wrap = h('div', { class: 'field' }, h('div', { class: 'field-label' }, h('label', { htmlFor: id, text: label }), mark), input, help, err);
  }
  const api = {
    wrap, input,
    error(msg) {
      if (msg) {
        err.textContent = msg; err.hidden = false; input.setAttribute('aria-invalid', 'true');
      } else {
        err.textContent = ''; err.hidden = true; input.removeAttribute('aria-invalid');
      }
    },
    get() { return kind === 'checkbox' ? input.checked : input.value; },
    set(v) { if (kind === 'checkbox') input.checked = !!v; else input.value = v ?? ''; },
  };
  input.addEventListener('input', () => api.error(null));
  return api;
}

/** Puts each API error on the field it names (fields: map of dotted name -> field api);
 * returns true when it found the field, else shows it in the fallback element. */
export function showApiError(err, fields, fallback) {
  for (const f of Object.values(fields)) f.error(null);
  const name = err && err.field;
  if (name && fields[name]) {
    fields[name].error(err.message);
    fields[name].input.focus();
    if (fallback) { fallback.hidden = true; fallback.textContent = ''; }
    return true;
  }
  if (fallback) {
    fallback.textContent = err ? err.message : 'Something went wrong.';
    fallback.hidden = false;
  } else {
    toast(err ? err.message : 'Something went wrong.', 'error');
  }
  return false;
}

/** The one line of a form that says what the asterisk of its required fields means. */
export function requiredNote() {
  return h('p', { class: 'req-note' }, 'Fields marked ', h('span', { class: 'req', text: '*' }), ' are required.');
}

/** A form-level error slot (role=alert). */
export function alertBox() {
  return h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, hidden: true });
}

/** Shows a short message in the corner. kind: info, success, error. */
export function toast(msg, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}`, text: msg });
  box.append(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

let dialogStack = [];

const FOCUSABLE = 'a[href], button, input, select, textarea, summary, [tabindex]';

/** The controls of root that Tab reaches, in document order (shown, enabled, not inert). */
export function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)]
    .filter((x) => !x.disabled && x.tabIndex >= 0 && x.getClientRects().length > 0 && !x.closest('[inert]'));
}

// While a modal dialog is open, everything else in the body is inert (no focus, no
// clicks, out of the accessibility tree); only the top dialog is live. The notices
// (#toasts, a live region) stay live so that they are still announced.
function syncInert() {
  const top = dialogStack[dialogStack.length - 1] || null;
  for (const el of document.body.children) {
    if (el.id === 'toasts' || el.tagName === 'SCRIPT' || el.tagName === 'NOSCRIPT') continue;
    el.inert = top !== null && el !== top;
  }
}

function canFocus(el) {
  return !!(el && el.focus && el.isConnected && !el.closest('[inert]') && el.getClientRects().length > 0);
}

/**
 * Opens a modal dialog with a heading; content is a node; returns {el, body, close, setTitle}.
 * The rest of the page is inert while it is open; Escape closes it (onClose is called);
 * Tab and Shift+Tab stay inside it. The focus moves into its first shown control and, when
 * it closes, back to the control that opened it or, when that control is gone or hidden,
 * to the page's heading.
 */
export function dialog(title, content, opts = {}) {
  const titleId = nextId('dlg');
  const previous = document.activeElement;
  const body = h('div', { class: 'dialog-body' }, content);
  const closeBtn = button('', () => close(), { kind: 'icon', aria: 'Close', icon: '×' });
  const box = h('div', { class: `dialog ${opts.wide ? 'dialog-wide' : ''}`, attrs: { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId } },
    h('header', { class: 'dialog-head' }, h('h2', { id: titleId, text: title }), closeBtn), body);
  const backdrop = h('div', { class: 'backdrop' }, box);
  backdrop.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.stopPropagation(); close(); return; }
    if (e.key !== 'Tab') return;
    // Keep keyboard focus inside the modal dialog.
    const list = focusables(box);
    if (!list.length) return;
    const first = list[0];
    const last = list[list.length - 1];
    const at = document.activeElement;
    if (!box.contains(at)) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
    else if (e.shiftKey && at === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && at === last) { e.preventDefault(); first.focus(); }
  });
  document.body.append(backdrop);
  dialogStack.push(backdrop);
  syncInert();
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    backdrop.remove();
    dialogStack = dialogStack.filter((d) => d !== backdrop);
    syncInert();
    if (opts.onClose) opts.onClose();
    const back = [previous, document.querySelector('#main h1')].find(canFocus);
    if (back) {
      if (back.tagName === 'H1') back.tabIndex = -1;
      back.focus();
    }
  }
  // The first control that is shown (a wizard holds hidden steps), else the close button.
  queueMicrotask(() => {
    if (closed) return;
    (focusables(box).find((x) => x !== closeBtn) || closeBtn).focus();
  });
  return { el: box, body, close, setTitle: (t) => { box.querySelector('h2').textContent = t; } };
}

/** Closes every open dialog (used when the page changes). */
export function closeDialogs() {
  for (const d of [...dialogStack]) d.remove();
  dialogStack = [];
  syncInert();
}

/**
 * Rebuilds the content of container with render() and keeps the keyboard focus there:
 * when the focus was inside container and render() removed the focused control, it goes
 * to the new control with the same role and name, else to the one at the same place in
 * the Tab order. Without this, a list that refreshes drops the focus to the page.
 * Returns what render() returned.
 */
export function keepFocus(container, render) {
  const had = document.activeElement;
  if (!had || had === document.body || had === container || !container.contains(had)) return render();
  const key = focusKey(had);
  const index = focusables(container).indexOf(had);
  const out = render();
  const at = document.activeElement;
  if (at === had || (at && at !== document.body && at.isConnected)) return out; // kept, or moved on purpose
  if (canFocus(had) && container.contains(had)) { had.focus(); return out; } // taken out and put back
  const now = focusables(container);
  const same = now.find((x) => focusKey(x) === key);
  const target = same || (index >= 0 && now.length ? now[Math.min(index, now.length - 1)] : null);
  if (target) target.focus();
  return out;
}

function focusKey(el) {
  const name = el.getAttribute('aria-label') || (el.labels && el.labels[0] ? el.labels[0].textContent : '') || el.textContent;
  return [el.tagName, el.getAttribute('role') || '', el.getAttribute('href') || '', (name || '').trim()].join('|');
}

/**
 * Orders the answers of a load that can be started again before the last one answered
 * (a pane opened twice, a list refreshed while a filter changed): each call of the
 * returned function starts a load and gives a check that is true only while no later
 * load has started. A load applies its answer only if its check still holds, so a slow
 * early answer never overwrites a later one.
 */
export function loadOrder() {
  let latest = 0;
  return () => {
    latest += 1;
    const mine = latest;
    return () => mine === latest;
  };
}

/** Asks a yes/no question in a dialog; resolves true when confirmed. */
export function confirmDialog(title, message, confirmLabel = 'Delete', kind = 'danger') {
  return new Promise((resolve) => {
    let answered = false;
    const d = dialog(title, h('div', {},
      h('p', { text: message }),
      h('div', { class: 'actions' },
        button('Cancel', () => d.close(), { kind: 'ghost' }),
        button(confirmLabel, () => { answered = true; d.close(); resolve(true); }, { kind }))),
    { onClose: () => { if (!answered) resolve(false); } });
  });
}

/** Formats an ISO time for people, or an em dash. */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A status badge. */
export function badge(text, kind = 'neutral') {
  return h('span', { class: `badge badge-${kind}`, text });
}

/** A simple empty-state line. */
export function empty(text) {
  return h('p', { class: 'empty', text });
}

/** Debounces fn by ms. */
export function debounce(fn, ms = 250) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}
