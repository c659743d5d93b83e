// The New Connection wizard (and the same steps to edit a connection), in the seed's words:
// Choose a connection type > Identity Store > the SCIM Outbound tile's Select > Next;
// name and description; Configure Authentication with Test Connection; Configure
// Preferences; Save. API errors go to the step and the field they name.

import { h, button, field, dialog, alertBox, showApiError, toast, setDisabled, requiredNote, nextId, when } from './dom.js';
import * as api from './api.js';
import { AUTH_METHODS } from './attrs.js';

const DEFAULTS = {
  name: '', description: '', type: 'SCIM_OUTBOUND',
  scim: { baseUrl: '', usersResource: '/Users', groupsResource: '/Groups', version: '2.0' },
  auth: { method: 'OAUTH2_BEARER', accessToken: '', typeHeader: 'Bearer', username: '', password: '', tokenUrl: '', clientId: '', clientSecret: '', scope: '', tokenEndpointAuthMethod: 'client_secret_basic' },
  preferences: { userFilterExpression: 'username Eq "%s"', userIdentifier: 'userName', removeAction: 'DISABLE', allowCreate: true, allowUpdate: true, allowDisable: true, updateMethod: 'PATCH', maxRequestsPerSecond: 0, maxConcurrency: 0, useBulk: true },
};

const STEP_TITLES = ['Choose a connection type', 'Name and description', 'Configure Authentication', 'Configure Preferences'];

/** How an OAuth 2 client authenticates at the token URL (RFC 6749 §2.3.1): [api value, label]. */
export const TOKEN_AUTH_METHODS = [
  ['client_secret_basic', 'HTTP Basic (client_secret_basic)'],
  ['client_secret_post', 'In the request body (client_secret_post)'],
];

export function tokenAuthLabel(m) {
  const a = TOKEN_AUTH_METHODS.find(([v]) => v === m);
  return a ? a[1] : m;
}

// A step is passed (✓), failed (✗), or a warning (⚠): the discovery steps never fail,
// and "warning": true marks what the administrator should know about the target.
function stepKind(s) {
  if (!s.ok) return 'fail';
  return s.warning ? 'warn' : 'ok';
}
const STEP_MARKS = { ok: ['✓', ' passed'], warn: ['⚠', ' warning'], fail: ['✗', ' failed'] };

/** Renders a Test Connection report ({ok, steps}) into a list. */
export function testReport(result) {
  const steps = (result && result.steps) || [];
  const warnings = steps.filter((s) => stepKind(s) === 'warn').length;
  const summary = result.ok
    ? `Connection test passed.${warnings ? ` ${warnings} warning${warnings === 1 ? '' : 's'}: see below.` : ''}`
    : 'Connection test failed.';
  return h('div', { class: `test-report ${result.ok ? (warnings ? 'ok warned' : 'ok') : 'failed'}`, attrs: { 'aria-label': 'Test Connection results', role: 'region' } },
    h('p', { class: 'test-summary', text: summary }),
    h('ol', { class: 'steps' }, steps.map((s) => {
      const kind = stepKind(s);
      return h('li', { class: `step-${kind}` },
        h('span', { class: 'mark', attrs: { 'aria-hidden': 'true' }, text: STEP_MARKS[kind][0] }),
        h('span', { class: 'step-name', text: s.name }),
        h('span', { class: 'sr-only', text: STEP_MARKS[kind][1] }),
        s.detail ? h('span', { class: 'step-detail', text: s.detail }) : null);
    })));
}

// Words for what a capability says: true, false, or null (not known).
function yesNo(v, yes = 'Supported', no = 'Not supported') {
  if (v === true) return yes;
  if (v === false) return no;
  return 'Unknown';
}

function bytes(n) {
  if (typeof n !== 'number') return null;
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

// The facts the sync engine learnt while sending, in words.
const LEARNT = {
  filterHonoured: (v) => (v ? 'the target honours filters' : 'the target ignores filters: look-ups search its listing instead'),
  userNameCaseInsensitive: (v) => (v ? 'userName look-ups are case-insensitive' : 'userName look-ups are case-sensitive'),
  bulk: (v) => (v && v.supported === false
    ? `the target refused a Bulk request (${v.reason || `status ${v.status}`}): writes go one by one until a Test Connection finds Bulk offered again`
    : `bulk: ${JSON.stringify(v)}`),
};

/** Whether the engine sends writes in Bulk requests, in words (conn: the connection, may be absent). */
function bulkUse(caps, conn) {
  if (caps.learnt && caps.learnt.bulk && caps.learnt.bulk.supported === false) return 'not used: the target refused a Bulk request';
  if (conn && conn.preferences && conn.preferences.useBulk === false) return 'not used: turned off in the connection\'s preferences';
  if (conn && conn.scim && conn.scim.version !== '2.0') return 'not used with SCIM 1.1';
  return 'used for writes, many users per request';
}

/**
 * What the last Test Connection of a saved connection learnt of its target
 * (GET /connections/{id}/capabilities): a description list of what it supports, when it
 * was tested, what the engine learnt since, and the mapping warnings with a link to the
 * rule each one names. caps may be {loadError} when it could not be read; conn (the
 * connection, optional) says whether the engine uses Bulk with it.
 */
export function capabilitiesView(caps, conn) {
  if (!caps || caps.loadError) return h('p', { class: 'muted', text: `The target's capabilities could not be read${caps && caps.loadError ? `: ${caps.loadError}` : '.'}` });
  if (!caps.testedAt) return h('p', { class: 'note', text: 'Not tested yet: Test Connection finds out what the target supports (PATCH, Bulk, filters, listing, its User schema).' });
  const f = caps.filter || {};
  const b = caps.bulk || {};
  const bulk = b.supported === true
    ? `Supported${b.maxOperations ? ` (up to ${b.maxOperations} operations${bytes(b.maxPayloadSize) ? `, ${bytes(b.maxPayloadSize)}` : ''})` : ''}; ${bulkUse(caps, conn)}`
    : yesNo(b.supported ?? null);
  const filters = f.supported === true ? `Supported${f.maxResults ? ` (up to ${f.maxResults} results)` : ''}` : yesNo(f.supported ?? null);
  const attrs = Array.isArray(caps.userAttributes) ? caps.userAttributes.length : null;
  const learnt = Object.entries(caps.learnt || {}).map(([k, v]) => (LEARNT[k] ? LEARNT[k](v) : `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`));
  const rows = [
    ['Tested', when(caps.testedAt)],
    ['SCIM Version', caps.scimVersion || 'Unknown'],
    ['PATCH', yesNo(caps.patch, 'Supported', 'Not supported: updates are sent with PUT')],
    ['Bulk', bulk],
    ['Filters', filters],
    ['Filters honoured', yesNo(f.honoured ?? null, 'Yes', 'No: the target ignores filters, so look-ups search its listing')],
    ['Listing', yesNo(caps.listing, 'Lists users in pages', 'Does not list users in pages')],
    ['userName case', yesNo(caps.userNameCaseInsensitive, 'Case-insensitive look-ups', 'Case-sensitive look-ups')],
    ['ETag', yesNo(caps.etag)],
    ['Sort', yesNo(caps.sort)],
    ['Change password', yesNo(caps.changePassword)],
    ['Users endpoint', caps.usersEndpoint || (caps.resourceTypes === false ? 'Not served (no /ResourceTypes)' : 'Unknown')],
    ['User schema', attrs !== null ? `${attrs} attribute path${attrs === 1 ? '' : 's'} declared` : (caps.schemas === false ? 'Not served (no /Schemas)' : 'Unknown')],
    learnt.length ? ['Learnt while sending', learnt.join('; ')] : null,
  ].filter(Boolean);
  const warnings = caps.warnings || [];
  return h('div', {},
    h('dl', { class: 'props caps-props' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
    warnings.length ? h('div', { class: 'caps-warnings' },
      h('h4', { text: `Mapping warnings (${warnings.length})` }),
      h('ul', { class: 'warn-list' }, warnings.map((w) => h('li', {},
        h('span', { class: 'warn-mark', attrs: { 'aria-hidden': 'true' }, text: '⚠' }),
        h('span', { text: `${w.message} ` }),
        w.ruleId ? h('a', { href: `#/provisioning/rules/${encodeURIComponent(w.ruleId)}/configuration`, text: `Open ${w.ruleName || 'the rule'}` }) : null))))
      : null);
}

/**
 * Opens the wizard. existing: a connection to edit (starts at its name), or null for a
 * new one. onSaved(connection) is called after a successful save.
 */
export function openConnectionWizard(existing, onSaved) {
  const editing = !!existing;
  const c = structuredClone(DEFAULTS);
  if (existing) {
    c.name = existing.name || ''; c.description = existing.description || '';
    Object.assign(c.scim, existing.scim || {});
    for (const [k, v] of Object.entries(existing.auth || {})) c.auth[k] = v ?? '';
    Object.assign(c.preferences, existing.preferences || {});
  }
  let step = editing ? 1 : 0;
  let typeChosen = editing;
  let categoryChosen = editing;

  const fields = {};
  const stepOf = {};
  const add = (s, key, f) => { fields[key] = f; stepOf[key] = s; return f.wrap; };

  // Step 0: connection type.
  const tile = h('section', { class: 'tile', attrs: { 'aria-label': 'SCIM Outbound' } },
    h('div', { class: 'tile-icon', attrs: { 'aria-hidden': 'true' }, text: '⇪' }),
    h('h3', { text: 'SCIM Outbound' }),
    h('p', { text: 'Provision users from the directory to any application with a SCIM 1.1 or 2.0 endpoint, such as Code42.' }));
  const selectBtn = button('Select', () => { typeChosen = true; tile.classList.add('selected'); selectBtn.textContent = 'Selected'; selectBtn.setAttribute('aria-pressed', 'true'); update(); }, { kind: 'secondary' });
  selectBtn.setAttribute('aria-pressed', 'false');
  tile.append(selectBtn);
  const tiles = h('div', { class: 'tiles', hidden: !categoryChosen }, tile);
  const catBtn = h('button', { type: 'button', class: 'category', attrs: { 'aria-pressed': categoryChosen ? 'true' : 'false' } },
    h('strong', { text: 'Identity Store' }), h('span', { text: 'Users are provisioned to an external identity store or application.' }));
  catBtn.addEventListener('click', () => { categoryChosen = true; catBtn.setAttribute('aria-pressed', 'true'); tiles.hidden = false; update(); });
  const step0 = h('div', { class: 'step' },
    h('section', { attrs: { 'aria-labelledby': 'cct' } }, h('h3', { id: 'cct', text: 'Choose a connection type' }), h('div', { class: 'categories' }, catBtn)),
    tiles);

  // Step 1: name and description.
  const step1 = h('div', { class: 'step' },
    add(1, 'name', field('Name', { value: c.name, required: true, help: 'The connection name appears in your connections list after you save.' })),
    add(1, 'description', field('Description', { kind: 'textarea', value: c.description })));

  // Step 2: authentication.
  const method = field('Authentication Method', { kind: 'select', options: AUTH_METHODS, value: c.auth.method });
  const authBoxes = {
    OAUTH2_BEARER: h('div', { class: 'auth-box' },
      add(2, 'auth.accessToken', field('OAuth Access Token', { kind: 'password', value: c.auth.accessToken, autocomplete: 'off', help: editing ? 'Leave ******** to keep the stored token.' : null })),
      add(2, 'auth.typeHeader', field('Auth Type Header', { kind: 'select', options: [['Bearer', 'Bearer'], ['OAuth', 'OAuth'], ['Basic', 'Basic']], value: c.auth.typeHeader || 'Bearer' }))),
    BASIC: h('div', { class: 'auth-box' },
      add(2, 'auth.username', field('Username', { value: c.auth.username, autocomplete: 'off' })),
      add(2, 'auth.password', field('Password', { kind: 'password', value: c.auth.password, autocomplete: 'off', help: editing ? 'Leave ******** to keep the stored password.' : null }))),
    OAUTH2_CLIENT_CREDENTIALS: h('div', { class: 'auth-box' },
      add(2, 'auth.tokenUrl', field('Token URL', { kind: 'url', value: c.auth.tokenUrl, placeholder: 'https://idp.example.com/oauth/token' })),
      add(2, 'auth.clientId', field('Client ID', { value: c.auth.clientId, autocomplete: 'off' })),
      add(2, 'auth.clientSecret', field('Client Secret', { kind: 'password', value: c.auth.clientSecret, autocomplete: 'off', help: editing ? 'Leave ******** to keep the stored secret.' : null })),
      add(2, 'auth.scope', field('Scope', { value: c.auth.scope })),
      add(2, 'auth.tokenEndpointAuthMethod', field('Client Authentication', { kind: 'select', options: TOKEN_AUTH_METHODS, value: c.auth.tokenEndpointAuthMethod || 'client_secret_basic', help: 'How the Client ID and Client Secret are sent to the Token URL.' }))),
    NONE: h('div', { class: 'auth-box' }, h('p', { class: 'field-help', text: 'No credentials are sent.' })),
  };
  const showAuth = () => { for (const [m, box] of Object.entries(authBoxes)) box.hidden = m !== method.get(); };
  method.input.addEventListener('change', showAuth);
  fields['auth.method'] = method; stepOf['auth.method'] = 2;
  const testOut = h('div', { class: 'test-out', attrs: { 'aria-live': 'polite' } });
  const testBtn = button('Test Connection', runTest, { kind: 'secondary' });
  const step2 = h('div', { class: 'step' },
    add(2, 'scim.baseUrl', field('SCIM base URL', { kind: 'url', value: c.scim.baseUrl, required: true, placeholder: 'https://example.code42.com/api/v29/scim-user-provisioning/…/v2', spellcheck: false })),
    h('div', { class: 'row2' },
      add(2, 'scim.usersResource', field('Users Resource', { value: c.scim.usersResource })),
      add(2, 'scim.groupsResource', field('Groups Resource', { value: c.scim.groupsResource }))),
    add(2, 'scim.version', field('SCIM Version', { kind: 'select', options: [['2.0', '2.0'], ['1.1', '1.1']], value: c.scim.version })),
    method.wrap, Object.values(authBoxes),
    h('div', { class: 'test-bar' }, testBtn), testOut);
  showAuth();

  // Custom headers (API-gateway keys): values are secrets, shown back as ********. An
  // error the API ties to a header (headers.X-Api-Key) is shown under that header's row.
  const headersEditor = (() => {
    const rows = h('div', { class: 'header-rows' });
    const addRow = (name = '', value = '', focus = false) => {
      const errEl = h('p', { id: nextId('hdr-err'), class: 'field-error', hidden: true });
      const n = h('input', { type: 'text', value: name, spellcheck: false, attrs: { 'aria-label': 'Header name', placeholder: 'X-Api-Key' } });
      const v = h('input', { type: 'password', value, attrs: { 'aria-label': 'Header value', autocomplete: 'off', 'aria-describedby': errEl.id } });
      const clearError = () => { errEl.hidden = true; errEl.textContent = ''; v.removeAttribute('aria-invalid'); };
      n.addEventListener('input', clearError);
      v.addEventListener('input', clearError);
      const row = h('div', { class: 'header-item' },
        h('div', { class: 'header-row' }, n, v, button('', () => { row.remove(); addBtn.focus(); }, { kind: 'icon', aria: 'Remove header', icon: '×' })),
        errEl);
      row.pair = () => [n.value.trim(), v.value];
      row.showError = (msg) => { errEl.textContent = msg; errEl.hidden = false; v.setAttribute('aria-invalid', 'true'); v.focus(); };
      rows.append(row);
      if (focus) n.focus();
    };
    const addBtn = button('Add header', () => addRow('', '', true), { kind: 'ghost', icon: '+' });
    for (const [k, v] of Object.entries((existing && existing.headers) || {})) addRow(k, v ?? '');
    return {
      el: h('div', { class: 'field' }, h('span', { class: 'label', text: 'Custom headers' }),
        h('p', { class: 'field-help', text: 'Extra HTTP headers sent with every request, such as an API gateway key. Values are secrets: they are never shown back.' }),
        rows, h('div', {}, addBtn)),
      value: () => Object.fromEntries([...rows.children].map((r) => r.pair()).filter(([k]) => k)),
      /** Shows msg under the header called name; false when there is no such row. */
      showError(name, msg) {
        const row = [...rows.children].find((r) => r.pair()[0].toLowerCase() === String(name).toLowerCase());
        if (!row) return false;
        row.showError(msg);
        return true;
      },
    };
  })();

  // Step 3: preferences.
  const step3 = h('div', { class: 'step' },
    add(3, 'preferences.userFilterExpression', field('User Filter Expression', { value: c.preferences.userFilterExpression, spellcheck: false, help: '%s is replaced by the user identifier\'s value, escaped as a SCIM string.' })),
    add(3, 'preferences.userIdentifier', field('User Identifier', { value: c.preferences.userIdentifier, spellcheck: false })),
    add(3, 'preferences.removeAction', field('Remove Action', { kind: 'select', options: [['DISABLE', 'Disable'], ['DELETE', 'Delete']], value: c.preferences.removeAction, help: 'Code42 doesn\'t support user deletion: use Disable.' })),
    h('div', { class: 'checks' },
      add(3, 'preferences.allowCreate', field('Allow users to be created', { kind: 'checkbox', value: c.preferences.allowCreate })),
      add(3, 'preferences.allowUpdate', field('Allow users to be updated', { kind: 'checkbox', value: c.preferences.allowUpdate })),
      add(3, 'preferences.allowDisable', field('Allow users to be disabled', { kind: 'checkbox', value: c.preferences.allowDisable }))),
    h('details', { class: 'advanced' }, h('summary', { text: 'Advanced' }),
      add(3, 'preferences.updateMethod', field('Update Method', { kind: 'select', options: [['PATCH', 'PATCH'], ['PUT', 'PUT']], value: c.preferences.updateMethod })),
      h('div', { class: 'row2' },
        add(3, 'preferences.maxRequestsPerSecond', field('Max requests per second', { kind: 'number', value: c.preferences.maxRequestsPerSecond, help: '0 = no limit' })),
        add(3, 'preferences.maxConcurrency', field('Max concurrent requests', { kind: 'number', value: c.preferences.maxConcurrency, help: '0 = no limit' }))),
      add(3, 'preferences.useBulk', field('Use SCIM Bulk when the application offers it', { kind: 'checkbox', value: c.preferences.useBulk !== false, help: 'Sends many users\' changes in one request where Test Connection found Bulk offered; a Bulk request counts once toward the limits above.' })),
      headersEditor.el));

  const steps = [step0, step1, step2, step3];
  const stepper = h('ol', { class: 'stepper', attrs: { 'aria-label': 'Steps' } }, STEP_TITLES.map((t) => h('li', { text: t })));
  const heading = h('h3', { class: 'step-title' });
  const err = alertBox();
  const back = button('Back', () => { step -= 1; update(); focusStep(); }, { kind: 'ghost' });
  const next = button('Next', () => goNext(), { kind: 'primary' });
  const save = button('Save', () => doSave(), { kind: 'primary' });
  const cancel = button('Cancel', () => d.close(), { kind: 'ghost' });
  const reqNote = requiredNote();
  const body = h('div', { class: 'wizard' }, stepper, heading, reqNote, err, steps,
    h('div', { class: 'actions' }, cancel, back, next, save));
  const d = dialog(editing ? `Edit ${existing.name}` : 'New Connection', body, { wide: true });

  function update() {
    steps.forEach((s, i) => { s.hidden = i !== step; });
    [...stepper.children].forEach((li, i) => {
      li.className = i < step ? 'done' : i === step ? 'current' : '';
      if (i === step) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
    });
    heading.textContent = STEP_TITLES[step];
    heading.hidden = step === 0;
    reqNote.hidden = step !== 1 && step !== 2;
    back.hidden = step === 0 || (editing && step === 1);
    next.hidden = step === 3;
    save.hidden = step !== 3;
    setDisabled(next, step === 0 && !typeChosen);
  }

  function validateStep(s) {
    if (s === 1 && !fields.name.get().trim()) { fields.name.error('Enter a name for the connection.'); fields.name.input.focus(); return false; }
    if (s === 2) {
      const u = fields['scim.baseUrl'].get().trim();
      if (!u) { fields['scim.baseUrl'].error('Enter the SCIM base URL of the application.'); fields['scim.baseUrl'].input.focus(); return false; }
      if (!/^https?:\/\/[^\s/]+/i.test(u)) { fields['scim.baseUrl'].error('The SCIM base URL must start with http:// or https://'); fields['scim.baseUrl'].input.focus(); return false; }
    }
    return true;
  }

  function goNext() {
    err.hidden = true;
    if (!validateStep(step)) return;
    step += 1;
    update();
    focusStep();
  }

  // A step change hides the button that made it: the focus goes to the new step's first field.
  function focusStep() {
    (steps[step].querySelector('input, select, textarea') || steps[step].querySelector('button'))?.focus();
  }

  function body_() {
    const v = (k) => fields[k].get();
    const s = (k) => { const x = String(v(k)).trim(); return x === '' ? null : x; };
    const m = v('auth.method');
    const auth = { method: m, accessToken: null, typeHeader: null, username: null, password: null, tokenUrl: null, clientId: null, clientSecret: null, scope: null, tokenEndpointAuthMethod: null };
    if (m === 'OAUTH2_BEARER') { auth.accessToken = s('auth.accessToken'); auth.typeHeader = s('auth.typeHeader') || 'Bearer'; }
    if (m === 'BASIC') { auth.username = s('auth.username'); auth.password = s('auth.password'); }
    if (m === 'OAUTH2_CLIENT_CREDENTIALS') { auth.tokenUrl = s('auth.tokenUrl'); auth.clientId = s('auth.clientId'); auth.clientSecret = s('auth.clientSecret'); auth.scope = s('auth.scope'); auth.tokenEndpointAuthMethod = v('auth.tokenEndpointAuthMethod'); }
    const num = (k) => { const n = Number(v(k)); return Number.isFinite(n) ? n : 0; };
    const out = {
      name: v('name').trim(), description: v('description'),
      scim: { baseUrl: v('scim.baseUrl').trim(), usersResource: s('scim.usersResource') || '/Users', groupsResource: s('scim.groupsResource') || '/Groups', version: v('scim.version') },
      auth,
      preferences: {
        userFilterExpression: v('preferences.userFilterExpression'), userIdentifier: v('preferences.userIdentifier').trim(),
        removeAction: v('preferences.removeAction'), allowCreate: v('preferences.allowCreate'), allowUpdate: v('preferences.allowUpdate'),
        allowDisable: v('preferences.allowDisable'), updateMethod: v('preferences.updateMethod'),
        maxRequestsPerSecond: num('preferences.maxRequestsPerSecond'), maxConcurrency: num('preferences.maxConcurrency'),
        useBulk: v('preferences.useBulk'),
      },
    };
    out.headers = headersEditor.value();
    if (!editing) out.type = 'SCIM_OUTBOUND';
    return out;
  }

  function placeError(e) {
    const f = e.field;
    if (f && fields[f]) {
      step = stepOf[f]; update();
      if (f.startsWith('auth.') && fields['auth.method']) showAuth();
    } else if (f && f.startsWith('auth.')) {
      step = 2; update();
    } else if (f && f.startsWith('headers')) {
      step = 3; update();
      steps[3].querySelector('details.advanced').open = true;
      if (f.startsWith('headers.') && headersEditor.showError(f.slice('headers.'.length), e.message)) {
        for (const x of Object.values(fields)) x.error(null);
        err.hidden = true; err.textContent = '';
        return;
      }
    }
    showApiError(e, fields, err);
  }

  // The field to fix for a failed test: the credentials when authentication failed,
  // the users resource when the users step failed, else the base URL.
  function fixField(result) {
    const failed = ((result && result.steps) || []).find((x) => !x.ok);
    const name = failed ? failed.name.toLowerCase() : '';
    const m = method.get();
    if (/auth/.test(name)) {
      const key = { OAUTH2_BEARER: 'auth.accessToken', BASIC: 'auth.username', OAUTH2_CLIENT_CREDENTIALS: 'auth.tokenUrl' }[m];
      if (key) return fields[key];
      return method;
    }
    if (/users/.test(name)) return fields['scim.usersResource'];
    return fields['scim.baseUrl'];
  }

  async function runTest() {
    if (!validateStep(2)) return;
    setDisabled(testBtn, true);
    testBtn.textContent = 'Testing…';
    testOut.replaceChildren();
    try {
      const b = body_();
      const r = editing ? await api.post(`/connections/${api.seg(existing.id)}/test`, b) : await api.post('/connections/test', b);
      testOut.append(testReport(r));
      if (!r.ok) {
        testOut.append(h('div', { class: 'alert alert-warn' },
          h('p', { text: 'Resolve the issues reported above and click Test Connection again, or continue anyway: a connection that fails its test can still be saved.' }),
          h('div', { class: 'actions' },
            button('Fix it', () => fixField(r).input.focus(), { kind: 'ghost' }),
            button('Continue anyway', () => goNext(), { kind: 'secondary' }))));
      }
    } catch (e) {
      placeError(e);
    } finally {
      setDisabled(testBtn, false);
      testBtn.textContent = 'Test Connection';
    }
  }

  async function doSave() {
    err.hidden = true;
    setDisabled(save, true);
    try {
      const b = body_();
      const saved = editing ? await api.patch(`/connections/${api.seg(existing.id)}`, b) : await api.post('/connections', b);
      d.close();
      toast(editing ? `Connection ${b.name} saved.` : `Connection ${b.name} created. Enable it with the toggle in its details pane.`, 'success');
      if (onSaved) onSaved(saved);
    } catch (e) {
      placeError(e);
    } finally {
      setDisabled(save, false);
    }
  }

  update();
  return d;
}
