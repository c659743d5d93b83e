// The attribute names the console offers in its pick lists. They are not written here:
// the server publishes the tables it validates with (GET /api/v1/meta/attributes: the
// SCIM target aliases, the directory fields with the seed's display names, the filter
// operators, the expression functions and the default Code42 mapping), and loadMeta()
// fetches them once per sign-in. The bindings below are filled in then; views only
// render after loadMeta() resolved. What stays here is the console's own layout (the
// order of the filter's Attribute list) and the authentication method labels.

import * as api from './api.js';

let meta = null;
let pending = null;

/** Directory fields a mapping source may read: [api field, display name]. */
export let SOURCE_ATTRIBUTES = [];
/** Filter attributes: [api field, display name]; population and group first. */
export let FILTER_ATTRIBUTES = [];
/** Target attributes a pick list shows, spelling variants left out: [{name, path, label}]. */
export let TARGET_ATTRIBUTES = [];
/** Every target attribute name, spelling variants included, lower-cased -> its SCIM path. */
let TARGET_PATHS = new Map();
/** The seed's default Code42 mapping: [{target, source}], in the seed's order. */
export let DEFAULT_MAPPING = [];
/** Filter operators: [api value, label, needs a value]. */
export let OPERATORS = [];
/** Expression functions: [{name, usage, minArgs, maxArgs}]. */
export let FUNCTIONS = [];

function apply(m) {
  const fields = m.directoryFields || [];
  SOURCE_ATTRIBUTES = fields.filter((f) => f.source).map((f) => [f.name, f.label]);
  const filt = fields.filter((f) => f.filter);
  // Layout: the attributes that name a population or group (the ones an outbound rule
  // needs) open the list, the rest follow in the server's order.
  FILTER_ATTRIBUTES = [...filt.filter((f) => f.scope), ...filt.filter((f) => !f.scope)].map((f) => [f.name, f.label]);
  TARGET_ATTRIBUTES = (m.targetAttributes || []).filter((a) => !a.aliasOf);
  TARGET_PATHS = new Map((m.targetAttributes || []).map((a) => [a.name.toLowerCase(), a.path]));
  DEFAULT_MAPPING = (m.defaultMappings || []).map(({ target, source }) => ({ target, source }));
  OPERATORS = (m.filterOperators || []).map((o) => [o.name, o.label, o.takesValue]);
  FUNCTIONS = m.expressionFunctions || [];
  meta = m;
}

/** True once the tables of this sign-in are loaded. */
export function metaLoaded() {
  return meta !== null;
}

/** Loads the tables (once; later calls reuse them). Rejects with the ApiError. */
export function loadMeta() {
  if (meta) return Promise.resolve(meta);
  if (!pending) {
    pending = api.get('/meta/attributes').then((m) => { apply(m); return m; })
      .finally(() => { pending = null; });
  }
  return pending;
}

/** Forgets the tables (sign-in, sign-out): the next loadMeta() fetches them again. */
export function forgetMeta() {
  meta = null;
}

/**
 * The SCIM path a mapping row's target stands for (an alias resolved through the server's
 * table, else the path as typed), in a form to compare with the attribute paths the
 * engine reports (rejected attributes, log changes): lower case, single spaces.
 */
export function targetKey(target) {
  const t = String(target || '').trim();
  const path = TARGET_PATHS.get(t.toLowerCase()) || t;
  return path.toLowerCase().replace(/\s+/g, ' ');
}

/** Display name of a directory attribute (or the text itself, e.g. an expression). */
export function displayName(attr) {
  const f = SOURCE_ATTRIBUTES.find(([a]) => a === attr) || FILTER_ATTRIBUTES.find(([a]) => a === attr);
  return f ? f[1] : attr;
}

/** The directory attribute whose display name (or field name) is text, else null. */
export function attributeFromText(text) {
  const t = (text || '').trim();
  const f = SOURCE_ATTRIBUTES.find(([a, d]) => a === t || d.toLowerCase() === t.toLowerCase());
  return f ? f[0] : null;
}

export function operatorLabel(op) {
  const o = OPERATORS.find(([v]) => v === op);
  return o ? o[1] : op;
}

export function operatorNeedsValue(op) {
  const o = OPERATORS.find(([v]) => v === op);
  return o ? o[2] : true;
}

/** Authentication methods: [api value, label] (console labels of SPEC §3). */
export const AUTH_METHODS = [
  ['OAUTH2_BEARER', 'OAuth 2 Bearer Token'],
  ['BASIC', 'Basic'],
  ['OAUTH2_CLIENT_CREDENTIALS', 'OAuth 2 Client Credentials'],
  ['NONE', 'None'],
];

export function authLabel(m) {
  const a = AUTH_METHODS.find(([v]) => v === m);
  return a ? a[1] : m;
}
