// Helpers for the console's browser tests: start real `scimitar serve` and `scimitar
// target` processes on free loopback ports in a temporary folder, talk to their APIs
// with fetch, drive Debian's chromium with playwright-core (never a downloaded browser),
// wait for conditions (never sleep-and-hope), save screenshots under artifacts/, and
// stop everything when a test ends, also when it fails.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
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

/** Starts `scimitar ARGS` in a fresh temporary folder and waits until port listens. */
export async function startProcess(args, port, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-'));
  const logPath = path.join(dir, 'process.log');
  const log = fs.openSync(logPath, 'a');
  const child = spawn(BIN, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const output = () => { try { return fs.readFileSync(logPath, 'utf8'); } catch { return ''; } };
  await waitUntil(async () => {
    if (exited) throw Object.assign(new Error(`scimitar ${args[0]} exited (${JSON.stringify(exited)}):\n${output()}`), { fatal: true });
    return canConnect(port);
  }, { timeout: 30000, what: `scimitar ${args[0]} to listen on ${port}` }).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    child, dir, port, base: `http://127.0.0.1:${port}`, output,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15000);
        await done;
        clearTimeout(t);
      }
      fs.closeSync(log);
      const out = output();
      if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(out)) throw new Error(`sanitizer report from scimitar ${args[0]}:\n${out}`);
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

/** `scimitar serve` on a fresh SQLite database with the test admin token. */
export async function startServe() {
  const port = await freePort();
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-db-'));
  const p = await startProcess(['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${path.join(dbDir, 'scimitar.db')}`], port,
    { SCIMITAR_ADMIN_TOKEN: ADMIN_TOKEN, SCIMITAR_LOG: process.env.SCIMITAR_LOG || 'warn' });
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

/** `scimitar target` (the built-in SCIM service provider) with a bearer token. */
export async function startTarget({ token = 'code42-scim-token', noDelete = true } = {}) {
  const port = await freePort();
  const args = ['target', '--listen', `127.0.0.1:${port}`, '--token', token, '--log-level', 'warn'];
  if (noDelete) args.push('--no-delete');
  const p = await startProcess(args, port);
  const scimBase = `${p.base}/scim/v2`;
  return Object.assign(p, {
    token, scimBase,
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

/** Saves a screenshot as artifacts/NAME.png (the test artifacts). */
export async function screenshot(page, name, opts = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Passing notices would hide part of the screen: clear them for the picture.
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: file, ...opts });
  return file;
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

/** Runs fn with a started serve (and target, when wanted) and a browser, cleaning up after. */
export async function withConsole({ target = false, directory = true } = {}, fn) {
  const started = [];
  let browser = null;
  try {
    const tgt = target ? await startTarget() : null;
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
