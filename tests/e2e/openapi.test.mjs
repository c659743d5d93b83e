// The OpenAPI 3.1 description served at GET /api/v1/openapi.json (built by the server from
// its route table, src/api/openapi.c): valid by a maintained validator
// (@readme/openapi-parser), served without a token, describing every route the console
// (web/js) and the command line (src/cli) call, and with component schemas that the
// server's real answers for the main resources satisfy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate, compileErrors } from '@readme/openapi-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { startServe, startTarget } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir, ext) {
  return fs.readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith(ext))
    .map((f) => ({ file: path.join(dir, f), text: fs.readFileSync(path.join(root, dir, f), 'utf8') }));
}

/** A path as the document's templates would match it: every ${...} or %s is one segment. */
function normalise(p) {
  return p.replace(/\$\{[^}]*\}/g, 'X').replace(/%s/g, 'X').replace(/[?].*$/, '').replace(/\/$/, '');
}

/** [method or null, path] of every API call in the console's sources. */
function consoleCalls() {
  const out = [];
  const methods = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE', listAll: 'GET' };
  for (const { file, text } of sources('web/js', '.js')) {
    if (file.endsWith('api.js')) continue; // the fetch wrapper itself
    const lit = String.raw`(?:'([^']*)'|\x60([^\x60]*)\x60)`;
    const call = new RegExp(String.raw`(?:api\.)?\b(get|post|put|patch|del|listAll)\(\s*` + lit, 'g');
    for (const m of text.matchAll(call)) {
      const p = m[2] ?? m[3];
      if (p.startsWith('/')) out.push({ file, method: methods[m[1]], path: p });
    }
    const raw = new RegExp(String.raw`call\(\s*'([A-Z]+)',\s*` + lit, 'g');
    for (const m of text.matchAll(raw)) out.push({ file, method: m[1], path: m[2] ?? m[3] });
    // paths built in a helper and returned (e.g. the log's query)
    const ret = new RegExp(String.raw`return\s+` + lit, 'g');
    for (const m of text.matchAll(ret)) {
      const p = m[1] ?? m[2];
      if (/^\/[a-z]/.test(p)) out.push({ file, method: null, path: p });
    }
  }
  return out.map((c) => ({ ...c, path: '/api/v1' + normalise(c.path) }));
}

/** The command line's calls: whole paths, and the suffixes it appends to an item path. */
function cliCalls() {
  const whole = [];
  const suffixes = [];
  for (const { file, text } of sources('src/cli', '.c')) {
    for (const m of text.matchAll(/"(\/api\/v1\/[^"]*)"/g)) whole.push({ file, path: normalise(m[1]) });
    const sfx = /(?:item_path\([^,]+,[^,]+,[^,]+,|item_call\([^,]+,\s*"([A-Z]+)",|list_item_collection\([^,]+,|get_or_put\([^,]+,)\s*(?:[^"]*\?\s*)?"(\/[a-z][^"]*)"/g;
    for (const m of text.matchAll(sfx)) suffixes.push({ file, method: m[1] || null, suffix: normalise(m[2]) });
  }
  return { whole, suffixes };
}

function matcher(doc) {
  const templates = Object.keys(doc.paths).map((p) => ({
    p, re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.') + '$'),
  }));
  return (p, method) => templates.some((t) => t.re.test(p) &&
    (!method || doc.paths[t.p][method.toLowerCase()]));
}

test('the OpenAPI document is valid 3.1, served without a token, and covers every call of the console and the CLI', async () => {
  const serve = await startServe();
  try {
    const res = await fetch(`${serve.base}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.openapi, '3.1.0');

    const result = await validate(structuredClone(doc));
    assert.ok(result.valid, compileErrors(result));

    const described = matcher(doc);
    const web = consoleCalls();
    assert.ok(web.length >= 30, `only ${web.length} console calls found: the extraction broke`);
    for (const c of web) assert.ok(described(c.path, c.method), `${c.file}: ${c.method || ''} ${c.path} is not in the document`);

    const { whole, suffixes } = cliCalls();
    assert.ok(whole.length >= 20 && suffixes.length >= 8, `the CLI extraction broke (${whole.length}, ${suffixes.length})`);
    for (const c of whole) assert.ok(described(c.path), `${c.file}: ${c.path} is not in the document`);
    // a suffix is appended to an item of one of the CLI's resources: some such item path
    const bases = whole.map((c) => c.path).filter((p) => /^\/api\/v1\/[a-z]+$/.test(p));
    for (const s of suffixes) {
      assert.ok(bases.some((b) => described(`${b}/X${s.suffix}${s.suffix.endsWith('/') ? 'X' : ''}`.replace(/\/\/+/g, '/'), s.method)),
        `${s.file}: an item path ending ${s.method || ''} ${s.suffix} is not in the document`);
    }
  } finally {
    await serve.stop();
  }
});

test('the main resources as the server answers them satisfy the document\'s schemas', async () => {
  const serve = await startServe();
  const target = await startTarget();
  try {
    const doc = await (await fetch(`${serve.base}/api/v1/openapi.json`)).json();
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi', components: doc.components });
    const check = (name, value) => {
      const v = ajv.getSchema(`openapi#/components/schemas/${name}`);
      assert.ok(v, `no schema ${name}`);
      assert.ok(v(value), `${name}: ${JSON.stringify(v.errors)} in ${JSON.stringify(value)}`);
    };
    const pop = await serve.ok('POST', '/api/v1/populations', { name: 'Sales', description: 'the sales team' });
    check('Population', pop);
    const user = await serve.ok('POST', '/api/v1/users', {
      username: 'ada', name: { given: 'Ada', family: 'Lovelace' }, email: 'ada@example.com',
      address: { locality: 'London', countryCode: 'GB' }, population: { id: pop.id },
    });
    check('User', user);
    const group = await serve.ok('POST', '/api/v1/groups', { name: 'Engineering' });
    check('Group', group);
    check('Member', await serve.ok('POST', `/api/v1/groups/${group.id}/members`, { userId: user.id }));
    const conn = await serve.ok('POST', '/api/v1/connections', {
      name: 'Target', scim: { baseUrl: `${target.base}/scim/v2` },
      auth: { method: 'OAUTH2_BEARER', accessToken: target.token },
    });
    check('Connection', conn);
    const rule = await serve.ok('POST', '/api/v1/rules', { name: 'Sales users', target: conn.id });
    check('Rule', rule);
    check('Mappings', await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`));
    check('FilterOrNull', await serve.ok('GET', `/api/v1/rules/${rule.id}/filter`));
    check('RuleStatus', await serve.ok('GET', `/api/v1/rules/${rule.id}/status`));
    check('TestReport', await serve.ok('POST', `/api/v1/connections/${conn.id}/test`));
    check('Capabilities', await serve.ok('GET', `/api/v1/connections/${conn.id}/capabilities`));
    check('AttributeTables', await serve.ok('GET', '/api/v1/meta/attributes'));
    check('Cluster', await serve.ok('GET', '/api/v1/cluster'));
    const made = await serve.ok('POST', '/api/v1/tokens', { name: 'schema check' });
    check('AdminTokenCreated', made);
    for (const t of (await serve.ok('GET', '/api/v1/tokens')).items) check('AdminToken', t);
    const bad = await serve.api('POST', '/api/v1/users', { username: '' });
    check('Error', bad.body);
    for (const [route, name] of [['/users', 'User'], ['/groups', 'Group'], ['/populations', 'Population'],
      ['/connections', 'Connection'], ['/rules', 'Rule'], ['/logs', 'LogEntry'], [`/users/${user.id}/groups`, 'UserGroup']]) {
      const page = await serve.ok('GET', `/api/v1${route}`);
      assert.ok(Array.isArray(page.items) && 'nextCursor' in page, route);
      for (const item of page.items) check(name, item);
    }
  } finally {
    await target.stop();
    await serve.stop();
  }
});
