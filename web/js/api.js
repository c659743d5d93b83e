// The console's only way to the server: the admin REST API under /api/v1 (docs/api.md),
// with the admin token from sessionStorage as a bearer header. No cookies are used, so
// there is nothing for another site to ride on. Errors become ApiError with the
// API's code, message and field (the input field the error concerns).

const KEY = 'scimitar.token';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || `request failed (${status})`);
    this.status = status;
    this.code = code || 'ERROR';
    this.field = field || null;
  }
}

/** The token of this browser tab's session, or null. */
export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized = () => {};

/** Registers what to do when the server answers 401 (sign out). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * Calls the API. path is relative to /api/v1 ("/users?q=x"); body is JSON-encoded.
 * Resolves with the parsed JSON (or null for an empty body); rejects with ApiError.
 */
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const t = opts.token ?? token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached. Is scimitar serve running?');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(res.status, e.code, e.message || `${method} ${path} failed with HTTP ${res.status}`, e.field);
    if (res.status === 401 && !opts.token) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (p) => call('GET', p);
export const post = (p, b) => call('POST', p, b === undefined ? {} : b);
export const put = (p, b) => call('PUT', p, b);
export const patch = (p, b) => call('PATCH', p, b);
export const del = (p) => call('DELETE', p);

/** Every item of a paged list (follows nextCursor up to max items). */
export async function listAll(path, max = 5000) {
  const items = [];
  let cursor = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page = await get(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...(page.items || []));
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

/** Encodes one path segment. */
export const seg = (s) => encodeURIComponent(s);
