// Helpers for the console's browser tests: start real `scimitar serve` and `scimitar
// target` processes on free loopback ports in a temporary folder, talk to their APIs
// with fetch, drive Debian's chromium with playwright-core (never a downloaded browser),
// wait for conditions (never sleep-and-hope), save screenshots under artifacts/ (each
// screen saved is also checked with axe-core against WCAG 2.1 A and AA), measure focus
// indicators, and stop everything when a test ends, also when it fails.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(process.env.SCIMITAR_BIN || path.join(here, '..', '..', 'build', 'scimitar'));
export const CHROMIUM = process.env.SCIMITAR_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(here, 'artifacts');
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

/** A loopback TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls fn until it returns a truthy value (or resolves to one); throws on timeout. */
export async function waitUntil(fn, { timeout = 20000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)}${lastErr ? `, error: ${lastErr.message}` : ''})`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Starts `scimitar ARGS` (args(port) gives them) in a fresh temporary folder on a free
 * port and waits until it listens. The port was free when it was chosen, but another
 * process may take it before this one binds it: then this one exits ("address in use")
 * and is started again on another port. A connection that succeeds is not enough (it may
 * be the other process answering): the process's own log line saying it listens on the
 * port is waited for too, so its log level must show info lines.
 */
export async function startProcess(args, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-'));
  const logPath = path.join(dir, 'process.log');
  const log = fs.openSync(logPath, 'a');
  const output = () => { try { return fs.readFileSync(logPath, 'utf8'); } catch { return ''; } };
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const argv = args(port);
    const mark = output().length;
    const child = spawn(BIN, argv, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    let exited = null;
    child.on('exit', (code, sig) => { exited = { code, sig }; });
    const own = new RegExp(`(serve|target)\\.listening\\W.*\\b${port}\\b`);
    const state = await waitUntil(async () => {
      if (exited) return output().slice(mark).includes('address in use') ? 'taken' : 'exited';
      return (await canConnect(port)) && own.test(output().slice(mark)) ? 'up' : null;
    }, { timeout: 30000, what: `scimitar ${argv[0]} to listen on ${port}` }).catch((e) => {
      child.kill('SIGKILL');
      throw e;
    });
    if (state === 'exited') throw new Error(`scimitar ${argv[0]} exited (${JSON.stringify(exited)}):\n${output()}`);
    if (state === 'taken') continue;
    return processHandle(child, () => exited, dir, log, port, output, argv[0]);
  }
  throw new Error(`scimitar ${args(0)[0]} found no free port`);
}

function processHandle(child, exited, dir, log, port, output, cmd) {
  return {
    child, dir, port, base: `http://127.0.0.1:${port}`, output,
    async stop() {
      if (!exited()) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15000);
        await done;
        clearTimeout(t);
      }
      fs.closeSync(log);
      const out = output();
      if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(out)) throw new Error(`sanitizer report from scimitar ${cmd}:\n${out}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function request(method, url, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = init.headers['Content-Type'] || 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, body: data, headers: res.headers };
}

/**
 * `scimitar serve` with the test admin token, on a fresh SQLite database, or on the
 * database dsn names (a PostgreSQL one, shared by several nodes, with their keyFile).
 */
export async function startServe({ dsn = null, keyFile = null } = {}) {
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-db-'));
  const db = dsn ? ['--db', dsn, '--key-file', keyFile] : ['--db', `sqlite:${path.join(dbDir, 'scimitar.db')}`];
  const p = await startProcess((port) => ['serve', '--listen', `127.0.0.1:${port}`, ...db],
    { SCIMITAR_ADMIN_TOKEN: ADMIN_TOKEN, SCIMITAR_LOG: 'info' });
  const stop = p.stop;
  return Object.assign(p, {
    token: ADMIN_TOKEN,
    /** Calls the admin API; returns {status, body}. */
    api: (method, apiPath, body) => request(method, `${p.base}${apiPath}`, body, { Authorization: `Bearer ${ADMIN_TOKEN}` }),
    /** Calls the admin API and insists on a 2xx answer; returns the body. */
    async ok(method, apiPath, body) {
      const r = await request(method, `${p.base}${apiPath}`, body, { Authorization: `Bearer ${ADMIN_TOKEN}` });
      if (r.status < 200 || r.status > 299) throw new Error(`${method} ${apiPath} -> ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async stop() {
      await stop();
      fs.rmSync(dbDir, { recursive: true, force: true });
    },
  });
}

/**
 * `scimitar target` (the built-in SCIM service provider) with a bearer token; also OAuth 2
 * client credentials (clientId, clientSecret: its token URL is `tokenUrl`) and injected
 * faults (`--faults`, e.g. 'latency=5s').
 */
export async function startTarget({ token = 'code42-scim-token', noDelete = true, clientId = null, clientSecret = null, faults = null } = {}) {
  const extra = [];
  if (noDelete) extra.push('--no-delete');
  if (clientId) extra.push('--client-id', clientId, '--client-secret', clientSecret);
  if (faults) extra.push('--faults', faults);
  const p = await startProcess((port) => ['target', '--listen', `127.0.0.1:${port}`, '--token', token, '--log-level', 'info', ...extra]);
  const scimBase = `${p.base}/scim/v2`;
  return Object.assign(p, {
    token, scimBase, tokenUrl: `${p.base}/oauth/token`,
    scim: (method, scimPath, body) => request(method, `${scimBase}${scimPath}`, body, { Authorization: `Bearer ${token}`, Accept: 'application/scim+json', 'Content-Type': 'application/scim+json' }),
    /** Every user on the target, keyed by userName (lower case). */
    async users() {
      const r = await request('GET', `${scimBase}/Users?count=200`, undefined, { Authorization: `Bearer ${token}`, Accept: 'application/scim+json' });
      if (r.status !== 200) throw new Error(`GET /Users -> ${r.status} ${JSON.stringify(r.body)}`);
      return Object.fromEntries((r.body.Resources || []).map((u) => [u.userName.toLowerCase(), u]));
    },
  });
}

/** Launches Debian's chromium headless with a fresh profile; returns {context, page, errors, close}. */
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A CSP violation means the console breaks its own policy: always a bug.
    if (/Content Security Policy/i.test(m.text())) errors.push(`csp: ${m.text()}`);
  });
  return {
    context, page, errors,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a screenshot as artifacts/NAME.png (the test artifacts), then checks the screen
 * with axe-core (checkA11y): every screen a test passes through is checked.
 */
export async function screenshot(page, name, opts = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Passing notices would hide part of the screen: clear them for the picture.
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: file, ...opts });
  await checkA11y(page, name);
  return file;
}

let axeSource = null;
function axeScript() {
  if (axeSource === null) {
    let file;
    try { file = createRequire(import.meta.url).resolve('axe-core/axe.min.js'); } catch {
      throw new Error('axe-core is not installed in tests/e2e: run `npm install` there (scripts/install-deps.sh --test on a fresh checkout)');
    }
    axeSource = fs.readFileSync(file, 'utf8');
  }
  return axeSource;
}
/** The WCAG levels the console is held to: 2.0 and 2.1, A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// What axe cannot decide alone ("needs review") and was reviewed by hand: anything else
// it leaves undecided fails the check like a violation, so that a new doubtful case is
// looked at rather than passed over.
const REVIEWED = [
  // Decorative glyphs hidden from screen readers (the accordions' chevrons, the ✓ and ✗
  // of a test report): not text, so 1.4.3 does not apply; they are drawn in --muted or
  // the state's colour, which pass 3:1 anyway.
  { rule: 'color-contrast', why: /only non-text characters/ },
];

/**
 * Runs axe-core on the page as it is (dialogs included) with the WCAG 2.1 A and AA rules
 * and throws, listing each finding with its elements, unless there is no violation and
 * nothing left for review beyond the REVIEWED cases. axe is evaluated through the
 * DevTools protocol, which the page's CSP does not apply to, so the console's policy
 * stays as strict in the tests as in use. Returns how many rules passed.
 */
export async function checkA11y(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeScript());
  const result = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'] })
    .then((r) => {
      const list = (items) => items.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, why: n.failureSummary.replace(/\s+/g, ' ') })),
      }));
      return { passes: r.passes.length, violations: list(r.violations), incomplete: list(r.incomplete) };
    }), WCAG_TAGS);
  const reviewed = (id, n) => REVIEWED.some((x) => x.rule === id && (!x.why || x.why.test(n.why)) && (!x.html || x.html.test(n.html)));
  const open = result.incomplete
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !reviewed(v.id, n)) }))
    .filter((v) => v.nodes.length);
  const found = [...result.violations.map((v) => ({ ...v, kind: 'violation' })), ...open.map((v) => ({ ...v, kind: 'needs review' }))];
  if (found.length) {
    const lines = found.map((v) => `- ${v.id} (${v.kind}, ${v.impact}): ${v.help}\n    ${v.nodes.map((n) => `${n.target}: ${n.why}`).join('\n    ')}`);
    throw new Error(`axe: ${found.length} WCAG 2.1 A/AA finding(s) on ${where}:\n${lines.join('\n')}`);
  }
  return result.passes;
}

/**
 * Measures the focus indicator of the focused element in the page: the outline of the
 * element, or of the nearest ancestor that draws one for it (a card whose button has the
 * focus). Its colour (faded by any opacity) is compared with the colours on both sides of
 * the ring, found with elementsFromPoint at the middle of each side and composited from
 * the translucent layers down to the first opaque one. Returns {what, style, width,
 * ratio} with ratio the lowest contrast found (0 when nothing is drawn).
 */
export function measureFocus(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const what = el ? `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40)}"` : 'nothing';
    if (!el || el === document.body) return { what, style: 'none', width: 0, ratio: 0 };
    let ring = el;
    while (ring && ring !== document.body && getComputedStyle(ring).outlineStyle === 'none') ring = ring.parentElement;
    if (!ring || ring === document.body) return { what, style: 'none', width: 0, ratio: 0 };
    const cs = getComputedStyle(ring);
    const width = parseFloat(cs.outlineWidth);
    const offset = parseFloat(cs.outlineOffset) || 0;
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return [0, 0, 0, 0];
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, base) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + base[i] * (1 - a)).concat(1);
    };
    const lum = (c) => {
      const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const contrast = (a, b) => { const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x); return (hi + 0.05) / (lo + 0.05); };
    // The colour of the page at (x, y) under the ring: the layers at that point from the
    // top, the ring's own content left out, blended until one is opaque (white below all).
    const backdrop = (x, y, inside) => {
      const layers = [];
      for (const e of document.elementsFromPoint(x, y)) {
        if (e !== ring && ring.contains(e)) continue;
        if (e === ring && !inside) continue;
        let c = parse(getComputedStyle(e).backgroundColor);
        let o = 1;
        for (let a = e; a; a = a.parentElement) o *= Number(getComputedStyle(a).opacity);
        c = [c[0], c[1], c[2], c[3] * o];
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      return layers.reverse().reduce((base, top) => over(top, base), [255, 255, 255, 1]);
    };
    let fade = 1;
    for (let a = ring; a; a = a.parentElement) fade *= Number(getComputedStyle(a).opacity);
    const raw = parse(cs.outlineColor);
    const r = ring.getBoundingClientRect();
    let ratio = Infinity;
    // Distances from the border edge, outward: the ring spans [offset, offset + width].
    for (const d of [offset + width + 1, offset - 1]) {
      const inside = d < 0;
      const pts = [[r.left - d, r.top + r.height / 2], [r.right + d, r.top + r.height / 2], [r.left + r.width / 2, r.top - d], [r.left + r.width / 2, r.bottom + d]];
      for (const [x, y] of pts) {
        if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
        const bg = backdrop(x, y, inside);
        const color = over([raw[0], raw[1], raw[2], raw[3] * fade], bg);
        ratio = Math.min(ratio, contrast(color, bg));
      }
    }
    return { what, style: cs.outlineStyle, width, ratio: ratio === Infinity ? 0 : Math.round(ratio * 100) / 100 };
  });
}

/**
 * Presses Tab until the focus comes back to a control it already visited (at most max
 * times) and measures the focus indicator of each control on the way. Returns the
 * measurements ({what, style, width, ratio}).
 */
export async function tabThrough(page, max = 120) {
  const seen = new Set();
  const out = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      window.e2eTabIds = window.e2eTabIds || new WeakMap();
      if (!window.e2eTabIds.has(el)) {
        window.e2eTabNext = (window.e2eTabNext || 0) + 1;
        window.e2eTabIds.set(el, window.e2eTabNext);
      }
      return window.e2eTabIds.get(el);
    });
    if (key === null) continue;
    if (seen.has(key)) break;
    seen.add(key);
    out.push(await measureFocus(page));
  }
  return out;
}

/** The accessible-ish name of the focused element (aria-label, its label, or its text). */
export function focusedName(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const lbl = el.labels && el.labels[0] ? el.labels[0].textContent : null;
    return (el.getAttribute('aria-label') || lbl || el.textContent || '').trim();
  });
}

/** Presses Tab (Shift+Tab with back) until the focused element's name is name; throws after max presses. */
export async function tabTo(page, name, { back = false, max = 60 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if ((await focusedName(page)) === name) return;
  }
  throw new Error(`Tab did not reach "${name}" in ${max} presses (at "${await focusedName(page)}")`);
}

/**
 * The value of a Sync Status counter ("Success", "Failed"...) as a number: the definition
 * (dd) of the term (dt) with exactly that name in the counters' description list.
 */
export async function counter(page, name) {
  const item = page.locator('dl.counters > div').filter({ has: page.getByRole('term').getByText(name, { exact: true }) });
  return Number(await item.getByRole('definition').textContent());
}

/** Opens the console and signs in with the admin token. */
export async function signIn(page, serve) {
  await page.goto(`${serve.base}/`);
  await page.getByLabel('Admin token').fill(serve.token);
  await page.getByRole('button', { name: 'Sign In' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Creates the sample directory: Sales (ada, bob) and Engineering (cyd) with every field. */
export async function loadSampleDirectory(serve) {
  await serve.ok('POST', '/api/v1/populations', { name: 'Sales', description: 'Sales team' });
  await serve.ok('POST', '/api/v1/populations', { name: 'Engineering', description: 'Engineers' });
  const person = (username, given, family, pop, n) => ({
    username, name: { given, family, formatted: `${given} ${family}` }, nickname: given.slice(0, 3), title: `Title ${n}`,
    type: 'Employee', email: `${username}@example.com`, primaryPhone: `+1 555 010${n}`, externalId: `E10${n}`,
    address: { streetAddress: `${n} Main St`, locality: 'Springfield', region: 'IL', postalCode: `6270${n}`, countryCode: 'US' },
    population: { name: pop },
  });
  const users = {};
  for (const u of [person('ada', 'Ada', 'Lovelace', 'Sales', 1), person('bob', 'Bob', 'Builder', 'Sales', 2), person('cyd', 'Cyd', 'Charisse', 'Engineering', 3)]) {
    users[u.username] = await serve.ok('POST', '/api/v1/users', u);
  }
  return users;
}

/**
 * A connection to target (bearer token) and an enabled rule "Code42 users" that takes
 * population Sales with the default mapping, both enabled, through the API. Returns
 * { conn, rule }.
 */
export async function provisionSales(serve, target, { description = null } = {}) {
  const conn = await serve.ok('POST', '/api/v1/connections', {
    name: 'Code42', type: 'SCIM_OUTBOUND', scim: { baseUrl: target.scimBase },
    auth: { method: 'OAUTH2_BEARER', accessToken: target.token },
  });
  await serve.ok('PATCH', `/api/v1/connections/${conn.id}`, { enabled: true });
  const rule = await serve.ok('POST', '/api/v1/rules', description ? { name: 'Code42 users', description } : { name: 'Code42 users' });
  await serve.ok('PATCH', `/api/v1/rules/${rule.id}`, { target: conn.id });
  await serve.ok('PUT', `/api/v1/rules/${rule.id}/filter`, { match: 'ALL', conditions: [{ attribute: 'population.name', operator: 'EQUALS', value: 'Sales' }] });
  const m = await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`);
  if (!m.length) throw new Error('a rule targeting a SCIM connection starts with the default mapping');
  await serve.ok('PATCH', `/api/v1/rules/${rule.id}`, { enabled: true });
  return { conn, rule };
}

/**
 * Runs fn with a started serve (and target, when wanted) and a browser, cleaning up after.
 * target: false, true (`scimitar target`), the options of startTarget, or a function that
 * starts another target (with a stop method).
 */
export async function withConsole({ target = false, directory = true } = {}, fn) {
  const started = [];
  let browser = null;
  try {
    let tgt = null;
    if (typeof target === 'function') tgt = await target();
    else if (target) tgt = await startTarget(target === true ? {} : target);
    if (tgt) started.push(tgt);
    const serve = await startServe();
    started.push(serve);
    const users = directory ? await loadSampleDirectory(serve) : {};
    browser = await launchBrowser();
    await signIn(browser.page, serve);
    await fn({ serve, target: tgt, page: browser.page, users, errors: browser.errors });
    if (browser.errors.length) throw new Error(`the page reported errors:\n${browser.errors.join('\n')}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const p of started.reverse()) await p.stop();
  }
}
