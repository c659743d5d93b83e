// The console's entry point: sign-in with the admin token, the shell (sidebar with
// Directory, Integrations > Provisioning, Monitoring and System > Cluster and API tokens), and a hash router that renders one view at
// a time into the main area. Views return a cleanup function (to stop polling). Each
// view gets a fresh container, so a view's late answers land in a detached element, never
// in the next page. When the page (not just its tab) changes, the focus moves to the new
// page's heading, so that keyboard and screen reader users start there.

import { h, clear, button, field, toast, closeDialogs, setDisabled, requiredNote } from './dom.js';
import * as api from './api.js';
import { renderProvisioning, renderRule } from './provisioning.js';
import { renderUsers, renderPopulations, renderGroups } from './directory.js';
import { renderLogPage } from './logs.js';
import { renderCluster } from './cluster.js';
import { renderTokens } from './tokens.js';
import { renderInbound } from './inbound.js';
import { loadMeta, metaLoaded, forgetMeta } from './attrs.js';

const app = document.getElementById('app');
let cleanup = null;

const NAV = [
  ['Directory', [['Users', '#/directory/users'], ['Populations', '#/directory/populations'], ['Groups', '#/directory/groups']]],
  ['Integrations', [['Provisioning', '#/provisioning'], ['Inbound SCIM', '#/inbound']]],
  ['Monitoring', [['Provisioning Log', '#/logs']]],
  ['System', [['Cluster', '#/system/cluster'], ['API tokens', '#/system/tokens']]],
];

function signIn(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  closeDialogs();
  const tok = field('Admin token', { kind: 'password', required: true, autocomplete: 'current-password', help: 'The token that scimitar serve printed at its first start (or SCIMITAR_ADMIN_TOKEN), or one made under System > API tokens.' });
  const submit = button('Sign In', null, { kind: 'primary', submit: true });
  const form = h('form', { noValidate: true, class: 'signin-card', attrs: { 'aria-labelledby': 'signin-title' } },
    h('div', { class: 'brand brand-large' }, h('span', { class: 'logo', attrs: { 'aria-hidden': 'true' } }), 'scimitar'),
    h('h1', { id: 'signin-title', text: 'Sign in to the console' }),
    message ? h('p', { class: 'alert alert-error', attrs: { role: 'alert' }, text: message }) : null,
    requiredNote(), tok.wrap, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = tok.get().trim();
    if (!t) { tok.error('Enter the admin token.'); return; }
    setDisabled(submit, true);
    try {
      await api.call('GET', '/populations?limit=1', undefined, { token: t });
      api.setToken(t);
      forgetMeta();
      start();
    } catch (err) {
      tok.error(err.status === 401 ? 'This token is not valid for this server.' : err.message);
      tok.input.focus();
    } finally {
      setDisabled(submit, false);
    }
  });
  clear(app, h('main', { class: 'signin' }, form));
  tok.input.focus();
}

function shell() {
  const nav = h('nav', { class: 'sidebar', attrs: { 'aria-label': 'Main' } },
    h('div', { class: 'brand' }, h('span', { class: 'logo', attrs: { 'aria-hidden': 'true' } }), 'scimitar'),
    NAV.map(([group, links]) => h('div', { class: 'nav-group' },
      h('p', { class: 'nav-title', text: group }),
      h('ul', {}, links.map(([label, href]) => h('li', {}, h('a', { href, text: label, dataset: { href } })))))),
    h('div', { class: 'nav-foot' }, button('Sign Out', () => { api.setToken(null); forgetMeta(); signIn(); }, { kind: 'ghost' })));
  const main = h('main', { id: 'main', class: 'main', tabIndex: -1 });
  clear(app, h('a', { class: 'skip', href: '#main', text: 'Skip to content', on: { click: (e) => { e.preventDefault(); main.focus(); } } }), nav, main);
  return main;
}

let main = null;

// The attribute tables of this sign-in (pick lists, labels): loaded before any view.
async function ensureMeta() {
  if (metaLoaded()) return true;
  main.replaceChildren(h('p', { class: 'muted', attrs: { role: 'status' }, text: 'Loading…' }));
  try {
    await loadMeta();
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    main.replaceChildren(h('div', { class: 'alert alert-error', attrs: { role: 'alert' } },
      `The console could not load the attribute lists: ${e.message} `,
      button('Retry', () => route(), { kind: 'ghost' })));
    return false;
  }
}

// The page a hash shows, without its tab: changing tabs is not changing pages.
function pageOf(parts) {
  const [area, page, id] = parts;
  if (area === 'provisioning' && page === 'rules' && id) return `provisioning/rules/${id}`;
  if (area === 'provisioning') return 'provisioning';
  return parts.slice(0, 3).join('/');
}

let shownPage = null;
let headingWatch = null;

// Moves the focus to the view's h1 once it is there (some views build it after a fetch),
// unless the focus has gone somewhere on purpose meanwhile (a dialog, a field).
function focusHeadingOf(view) {
  if (headingWatch) { headingWatch.disconnect(); headingWatch = null; }
  const before = document.activeElement;
  const settle = () => {
    const h1 = view.querySelector('h1');
    if (!view.isConnected) return true;
    if (!h1) return false;
    const now = document.activeElement;
    if (now === before || now === null || now === document.body || !now.isConnected) {
      h1.tabIndex = -1;
      h1.focus();
    }
    return true;
  };
  if (settle()) return;
  headingWatch = new MutationObserver(() => {
    if (settle()) { headingWatch.disconnect(); headingWatch = null; }
  });
  headingWatch.observe(view, { childList: true, subtree: true });
}

async function route() {
  if (!api.token()) { signIn(); return; }
  if (!main || !document.contains(main)) { main = shell(); shownPage = null; }
  if (!metaLoaded()) {
    if (cleanup) { cleanup(); cleanup = null; }
    if (!(await ensureMeta()) || !api.token()) return;
    if (!main || !document.contains(main)) return;
  }
  if (cleanup) { cleanup(); cleanup = null; }
  closeDialogs();
  const hash = location.hash || '#/provisioning';
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('.sidebar a')) {
    const active = hash === a.dataset.href || hash.startsWith(`${a.dataset.href}/`);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  let r = null;
  const [area, page, id, tab] = parts;
  if (area === 'directory' && page === 'users') r = renderUsers(view, id);
  else if (area === 'directory' && page === 'populations') r = renderPopulations(view);
  else if (area === 'directory' && page === 'groups') r = renderGroups(view, id);
  else if (area === 'provisioning' && page === 'rules' && id) r = renderRule(view, id, tab || 'configuration');
  else if (area === 'provisioning') r = renderProvisioning(view, page === 'rules' ? 'rules' : 'connections');
  else if (area === 'logs') r = renderLogPage(view);
  else if (area === 'inbound') r = renderInbound(view);
  else if (area === 'system' && page === 'cluster') r = renderCluster(view);
  else if (area === 'system' && page === 'tokens') r = renderTokens(view);
  else { location.hash = '#/provisioning'; return; }
  const titles = { users: 'Users', populations: 'Populations', groups: 'Groups', logs: 'Provisioning Log', cluster: 'Cluster', tokens: 'API tokens', inbound: 'Inbound SCIM' };
  document.title = `${titles[page] || titles[area] || (page === 'rules' && id ? 'Rule' : 'Provisioning')} · scimitar`;
  cleanup = typeof r === 'function' ? r : null;
  const now = pageOf(parts);
  if (now !== shownPage) focusHeadingOf(view);
  shownPage = now;
}

function start() {
  main = null;
  if (!location.hash) location.hash = '#/provisioning';
  route();
}

api.whenUnauthorized(() => {
  api.setToken(null);
  forgetMeta();
  signIn('Your session has ended or the token is no longer valid. Sign in again.');
});
window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => {
  const err = e.reason;
  if (err && err.status === 401) return;
  toast(err && err.message ? err.message : String(err), 'error');
});
start();
