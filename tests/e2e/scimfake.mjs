// A small SCIM 2.0 service provider in Node for the browser tests: what `scimitar target`
// (which knows every attribute of the SCIM User schema) never shows, a target whose
// schema lacks attributes, as real applications do (Code42 has no nickName). It serves
// the discovery endpoints with a User schema that does not declare them; a POST drops
// them silently and a PATCH or PUT that touches them is answered 400 invalidPath in the
// target's own words ("Attribute 'nickName' is not defined in the schema"). Users are
// kept in memory; userName is unique case-insensitively (409 uniqueness). It runs in the
// test's process on a free loopback port and records every request.
//
//   const tgt = await startFakeTarget({ lacks: ['nickName'] });
//   tgt.scimBase, tgt.token, await tgt.users(), tgt.requests, await tgt.stop()

import http from 'node:http';
import { randomUUID } from 'node:crypto';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ERR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

// The User schema's attributes, complex ones without their sub-attributes (a complex
// attribute declared so counts as declaring them all).
const USER_ATTRIBUTES = [
  ['userName', 'string'], ['name', 'complex'], ['displayName', 'string'], ['nickName', 'string'],
  ['profileUrl', 'reference'], ['title', 'string'], ['userType', 'string'], ['preferredLanguage', 'string'],
  ['locale', 'string'], ['timezone', 'string'], ['active', 'boolean'], ['emails', 'complex', true],
  ['phoneNumbers', 'complex', true], ['addresses', 'complex', true], ['externalId', 'string'],
];
const ENT_ATTRIBUTES = [['employeeNumber', 'string'], ['costCenter', 'string'], ['organization', 'string'],
  ['division', 'string'], ['department', 'string'], ['manager', 'complex']];

const scimError = (status, detail, scimType) => [status, { schemas: [ERR], status: String(status), detail, ...(scimType ? { scimType } : {}) }];

class PatchError extends Error {
  constructor(status, detail, scimType) {
    super(detail);
    this.answer = scimError(status, detail, scimType);
  }
}

const PATH_RE = /^(?:(urn:[^[]+):)?([A-Za-z$][\w$-]*)(?:\[(\w+) eq "([^"]*)"\])?(?:\.([A-Za-z$][\w$-]*))?$/;
const findKey = (obj, name) => Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());

/** Starts the fake. opts: token, lacks (attribute names its schema does not have). */
export async function startFakeTarget({ token = 'fake-token', lacks = [] } = {}) {
  const lacking = new Set(lacks.map((a) => a.toLowerCase()));
  const users = new Map(); // id -> resource, in creation order
  const requests = [];
  let base = '';

  const attr = ([name, type, multi]) => ({ name, type, multiValued: !!multi, required: name === 'userName', mutability: 'readWrite', returned: 'default' });
  const schemas = () => [
    { id: USER, name: 'User', attributes: USER_ATTRIBUTES.filter(([n]) => !lacking.has(n.toLowerCase())).map(attr) },
    { id: ENT, name: 'EnterpriseUser', attributes: ENT_ATTRIBUTES.filter(([n]) => !lacking.has(n.toLowerCase())).map(attr) },
  ];

  function checkLacks(paths) {
    for (const p of paths) {
      const top = p.replace(/^urn:[^[]*:/, '').split('[')[0].split('.')[0];
      if (lacking.has(top.toLowerCase())) throw new PatchError(400, `Attribute '${top}' is not defined in the schema`, 'invalidPath');
    }
  }

  function list(q) {
    let all = [...users.values()];
    const f = q.get('filter');
    if (f) {
      const m = /^\s*([\w.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(f);
      if (!m) return scimError(400, 'unsupported filter', 'invalidFilter');
      const a = m[1].toLowerCase();
      const v = m[2].replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      if (a === 'username') all = all.filter((u) => u.userName.toLowerCase() === v.toLowerCase());
      else if (a === 'externalid') all = all.filter((u) => u.externalId === v);
      else if (a === 'id') all = all.filter((u) => u.id === v);
      else return scimError(400, 'unsupported filter attribute', 'invalidFilter');
    }
    const start = Math.max(Number(q.get('startIndex') || 1), 1);
    const count = Math.min(Math.max(Number(q.get('count') ?? 100), 0), 200);
    const page = all.slice(start - 1, start - 1 + count);
    return [200, { schemas: [LIST], totalResults: all.length, startIndex: start, itemsPerPage: page.length, Resources: page }];
  }

  function create(body) {
    if (!body || typeof body !== 'object' || !body.userName) return scimError(400, 'userName is required', 'invalidValue');
    for (const u of users.values()) {
      if (u.userName.toLowerCase() === String(body.userName).toLowerCase()) return scimError(409, `userName ${body.userName} is taken`, 'uniqueness');
    }
    const res = structuredClone(body);
    for (const k of Object.keys(res)) if (lacking.has(k.toLowerCase())) delete res[k];
    res.id = randomUUID();
    res.active ??= true;
    res.schemas = [USER, ...(res[ENT] ? [ENT] : [])];
    res.meta = { resourceType: 'User', location: `${base}/Users/${res.id}` };
    users.set(res.id, res);
    return [201, res, { Location: res.meta.location }];
  }

  function apply(res, op) {
    const kind = String(op.op || '').toLowerCase();
    const { path, value } = op;
    if (!path) {
      if (!value || typeof value !== 'object') throw new PatchError(400, 'value must be an object', 'invalidValue');
      checkLacks(Object.keys(value));
      Object.assign(res, value);
      return;
    }
    checkLacks([path]);
    const m = PATH_RE.exec(path);
    if (!m) throw new PatchError(400, `cannot parse the path ${path}`, 'invalidPath');
    const [, urn, name, fattr, fval, sub] = m;
    let holder = res;
    if (urn) { res[urn] ??= {}; holder = res[urn]; }
    const key = findKey(holder, name) || name;
    if (!fattr) {
      if (!sub) {
        if (kind === 'remove') delete holder[key];
        else if (kind === 'add' && Array.isArray(value) && Array.isArray(holder[key])) holder[key] = holder[key].concat(value);
        else if (kind === 'add' && value && typeof value === 'object' && !Array.isArray(value) && holder[key] && typeof holder[key] === 'object') Object.assign(holder[key], value);
        else holder[key] = value;
        return;
      }
      holder[key] ??= {};
      if (kind === 'remove') delete holder[key][sub]; else holder[key][sub] = value;
      return;
    }
    const items = Array.isArray(holder[key]) ? holder[key] : [];
    let matches = items.filter((x) => x && typeof x === 'object' && String(x[fattr]) === fval);
    if (!matches.length) {
      if (kind === 'remove') return;
      const el = { [fattr]: fval };
      items.push(el);
      holder[key] = items;
      matches = [el];
    }
    for (const x of matches) {
      if (kind === 'remove') {
        if (sub) delete x[sub]; else items.splice(items.indexOf(x), 1);
      } else if (sub) x[sub] = value;
      else Object.assign(x, value);
    }
    if (!items.length) delete holder[key];
  }

  function patch(id, body) {
    if (!body || !Array.isArray(body.Operations)) return scimError(400, 'Operations is required', 'invalidSyntax');
    const work = structuredClone(users.get(id));
    try {
      for (const op of body.Operations) apply(work, op);
    } catch (e) {
      if (e instanceof PatchError) return e.answer;
      throw e;
    }
    users.set(id, work);
    return [200, work];
  }

  function put(id, body) {
    if (!body || typeof body !== 'object') return scimError(400, 'the body must be a User', 'invalidSyntax');
    try { checkLacks(Object.keys(body).filter((k) => !['schemas', 'id', 'meta'].includes(k))); } catch (e) { return e.answer; }
    const res = { ...structuredClone(body), id, meta: users.get(id).meta };
    users.set(id, res);
    return [200, res];
  }

  function dispatch(method, url, body) {
    const u = new URL(url, 'http://x');
    const parts = u.pathname.replace(/\/+$/, '').split('/').slice(1);
    if (parts[0] !== 'scim' || parts[1] !== 'v2') return scimError(404, 'no such endpoint');
    const rest = parts.slice(2);
    if (method === 'GET' && rest[0] === 'ServiceProviderConfig') {
      return [200, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'], patch: { supported: true },
        bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 }, filter: { supported: true, maxResults: 200 },
        changePassword: { supported: false }, sort: { supported: false }, etag: { supported: false },
        authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'a bearer token' }] }];
    }
    if (method === 'GET' && rest[0] === 'ResourceTypes') {
      return [200, { schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [{ schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'User', name: 'User', endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENT, required: false }] }] }];
    }
    if (method === 'GET' && rest[0] === 'Schemas') {
      const all = schemas();
      if (rest[1]) { const s = all.find((x) => x.id === decodeURIComponent(rest[1])); return s ? [200, s] : scimError(404, 'no such schema'); }
      return [200, { schemas: [LIST], totalResults: all.length, startIndex: 1, itemsPerPage: all.length, Resources: all }];
    }
    if (rest[0] !== 'Users') return scimError(404, 'no such endpoint');
    if (rest.length === 1) {
      if (method === 'GET') return list(u.searchParams);
      if (method === 'POST') return create(body);
      return scimError(405, 'method not allowed');
    }
    const id = rest[1];
    if (!users.has(id)) return scimError(404, `no user ${id}`);
    if (method === 'GET') return [200, users.get(id)];
    if (method === 'DELETE') { users.delete(id); return [204, null]; }
    if (method === 'PATCH') return patch(id, body);
    if (method === 'PUT') return put(id, body);
    return scimError(405, 'method not allowed');
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = null;
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw) { try { body = JSON.parse(raw); } catch { body = raw; } }
      requests.push([req.method, req.url, body]);
      let answer;
      if (req.headers.authorization !== `Bearer ${token}`) answer = scimError(401, 'the bearer token is not valid');
      else answer = dispatch(req.method, req.url, body);
      const [status, out, headers = {}] = answer;
      const data = out === null || out === undefined ? '' : JSON.stringify(out);
      res.writeHead(status, { 'Content-Type': 'application/scim+json', 'Content-Length': Buffer.byteLength(data), ...headers });
      res.end(data);
    });
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  base = `http://127.0.0.1:${port}/scim/v2`;
  return {
    token, port, scimBase: base, requests,
    /** Every account, keyed by userName (lower case). */
    async users() { return Object.fromEntries([...users.values()].map((u) => [u.userName.toLowerCase(), structuredClone(u)])); },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
