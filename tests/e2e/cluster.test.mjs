// System > Cluster: the nodes sharing the database (GET /api/v1/cluster). On SQLite one
// node: its row (this node, its listen address, started and last seen with the exact
// time, leased items), refreshed while shown (last seen moves on; the leased items rise
// while a slow target holds the first sync and fall back to 0), reached from the sidebar
// and by the keyboard; the error, stale and empty states. On PostgreSQL two nodes share one
// database, and the console of each marks its own node as This node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withConsole, waitUntil, screenshot, focusedName, startServe, launchBrowser, signIn, provisionSales } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The page's facts ("Live nodes", "Leased items") and each row's cells, read at once. */
function readView(page) {
  return page.evaluate(() => {
    const facts = {};
    for (const d of document.querySelectorAll('dl.status-facts > div')) facts[d.querySelector('dt').textContent] = d.querySelector('dd').textContent;
    const rows = [...document.querySelectorAll('table.nodes-table tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));
    return { facts, rows };
  });
}

test('System > Cluster: this node, its listen address, live leased items and times', async () => {
  // Every answer of the target takes 6 s, so the first sync holds its items leased for a
  // while (a look-up, then a create, per user).
  await withConsole({ target: { faults: 'latency=6s' } }, async ({ serve, target, page }) => {
    const node = await waitUntil(async () => (await serve.ok('GET', '/api/v1/cluster')).items[0], { what: 'the node in the list' });
    assert.equal(node.self, true);
    const listen = `127.0.0.1:${serve.port}`;

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cluster', exact: true }).click();
    const h1 = page.getByRole('heading', { name: 'Cluster', level: 1 });
    await h1.waitFor();
    await waitUntil(() => h1.evaluate((el) => el === document.activeElement), { what: 'the focus on the heading' });
    assert.equal(await page.title(), 'Cluster · scimitar');
    assert.equal(await page.getByRole('link', { name: 'Cluster', exact: true }).getAttribute('aria-current'), 'page');

    const table = page.getByRole('table', { name: 'Nodes' });
    const row = table.getByRole('row').filter({ hasText: listen });
    await row.waitFor();
    assert.deepEqual(await table.getByRole('columnheader').allTextContents(), ['Node', 'Listen address', 'Started', 'Last seen', 'Leased items']);
    const head = row.getByRole('rowheader');
    assert.equal(await head.locator('code').textContent(), node.id);
    assert.equal(await head.locator('.badge').textContent(), 'This node');
    const cells = row.getByRole('cell');
    assert.equal(await cells.nth(0).textContent(), listen);
    assert.equal(await cells.nth(3).textContent(), '0');
    assert.deepEqual((await readView(page)).facts, { 'Live nodes': '1', 'Leased items': '0' });
    // Started: how long ago, with the exact time in the title and under it.
    const started = cells.nth(1).locator('time');
    assert.equal(await started.getAttribute('datetime'), node.startedAt);
    const exact = await cells.nth(1).locator('.cell-sub').textContent();
    assert.match(exact, /\d{4}/);
    assert.equal(await started.getAttribute('title'), exact);
    assert.match(await started.textContent(), /^(now|\d+ (second|minute)s? ago)$/);
    // Last seen moves on with the node's reports, without a reload.
    const seen = cells.nth(2).locator('time');
    const seen0 = await seen.getAttribute('datetime');
    await waitUntil(async () => (await seen.getAttribute('datetime')) > seen0, { what: 'last seen refreshed' });
    assert.ok(await seen.getAttribute('title'));
    await screenshot(page, 'cluster');

    // The keyboard reaches Refresh from the heading.
    await h1.focus();
    await page.keyboard.press('Tab');
    assert.equal(await focusedName(page), 'Refresh');
    await page.keyboard.press('Enter');

    // The first sync to the slow target: the node holds items leased, then none.
    await provisionSales(serve, target);
    const busy = await waitUntil(async () => {
      const v = await readView(page);
      return v.rows.length === 1 && Number(v.rows[0][4]) > 0 && v;
    }, { timeout: 30000, what: 'leased items on the node' });
    assert.equal(busy.facts['Leased items'], busy.rows[0][4]);
    await screenshot(page, 'cluster-leased');
    await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob; }, { timeout: 90000, what: 'ada and bob on the target' });
    await waitUntil(async () => (await readView(page)).rows[0]?.[4] === '0', { timeout: 30000, what: 'no leased items left' });
    assert.equal((await readView(page)).facts['Leased items'], '0');
  });
});

test('System > Cluster: the error, stale and empty states', async () => {
  await withConsole({ directory: false }, async ({ serve, page }) => {
    let answer = { status: 500, body: { error: { code: 'INTERNAL', message: 'cannot read the nodes' } } };
    await page.route('**/api/v1/cluster', (route) => (answer
      ? route.fulfill({ status: answer.status, contentType: 'application/json', body: JSON.stringify(answer.body) })
      : route.continue()));
    await page.goto(`${serve.base}/#/system/cluster`);
    await page.getByRole('heading', { name: 'Cluster', level: 1 }).waitFor();
    const alert = page.getByRole('alert');
    await alert.getByText('The node list could not be read: cannot read the nodes').waitFor();
    await page.getByText('No nodes to show.').waitFor();
    await screenshot(page, 'cluster-error');

    // The server answers again: the alert goes, the node shows.
    answer = null;
    const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: `127.0.0.1:${serve.port}` });
    await row.waitFor();
    assert.equal(await alert.count(), 0);

    // A failed refresh keeps the nodes shown, and says they are as of the last answer.
    answer = { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'the database is not reachable' } } };
    await alert.getByText('The node list could not be refreshed (the database is not reachable); the nodes below are as of the last answer.').waitFor();
    assert.equal(await row.count(), 1);
    await screenshot(page, 'cluster-stale');

    // No node has reported (as in the moment after a start).
    answer = { status: 200, body: { items: [] } };
    await page.getByText('No node has reported in the last 10 seconds.', { exact: false }).waitFor();
    assert.deepEqual((await readView(page)).facts, { 'Live nodes': '0', 'Leased items': '0' });
    await screenshot(page, 'cluster-empty');

    // A node list without this node (its first report is still to come) says so.
    answer = { status: 200, body: { items: [{ id: '00000000-0000-4000-8000-000000000001', listen: '10.0.0.9:8080', startedAt: new Date(Date.now() - 3600e3).toISOString(), lastSeenAt: new Date().toISOString(), leased: 3, self: false }] } };
    await page.getByText('The node serving this console has not reported yet', { exact: false }).waitFor();
    const v = await readView(page);
    assert.deepEqual(v.facts, { 'Live nodes': '1', 'Leased items': '3' });
    assert.equal(v.rows[0][1], '10.0.0.9:8080');
    assert.match(v.rows[0][2], /^1 hour ago/);
    assert.equal(await page.locator('table.nodes-table .badge').count(), 0);
    await screenshot(page, 'cluster-not-self');
  });
});

// Debian's PostgreSQL server (scripts/install-deps.sh --test): the throwaway cluster of the
// integration tests (tests/integration/pgcluster.py).
const havePostgres = fs.existsSync('/usr/lib/postgresql') && fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));

test('System > Cluster on PostgreSQL: two nodes, each console marks its own', { skip: !havePostgres && 'PostgreSQL is not installed' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimitar-e2e-pg-'));
  const state = path.join(dir, 'pg.json');
  const helper = path.join(here, '..', 'integration', 'pgcluster.py');
  const pg = (cmd) => {
    const r = spawnSync('python3', [helper, cmd, state], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`pgcluster.py ${cmd}: ${r.stderr || r.error}`);
  };
  const started = [];
  let browser = null;
  try {
    pg('start');
    const { port } = JSON.parse(fs.readFileSync(state, 'utf8'));
    const db = { dsn: `postgresql://scimitar@127.0.0.1:${port}/postgres`, keyFile: path.join(dir, 'secrets.key') };
    // One after the other: the first creates the schema and the key.
    const a = await startServe(db);
    started.push(a);
    const b = await startServe(db);
    started.push(b);
    await waitUntil(async () => (await b.ok('GET', '/api/v1/cluster')).items.length === 2, { timeout: 30000, what: 'two live nodes' });

    browser = await launchBrowser();
    const { page } = browser;
    for (const [me, other] of [[b, a], [a, b]]) {
      await signIn(page, me);
      await page.goto(`${me.base}/#/system/cluster`);
      const table = page.getByRole('table', { name: 'Nodes' });
      const mine = table.getByRole('row').filter({ hasText: `127.0.0.1:${me.port}` });
      const theirs = table.getByRole('row').filter({ hasText: `127.0.0.1:${other.port}` });
      await mine.getByText('This node', { exact: true }).waitFor();
      await theirs.waitFor();
      assert.equal(await theirs.getByText('This node', { exact: true }).count(), 0);
      assert.equal((await readView(page)).facts['Live nodes'], '2');
      await screenshot(page, me === b ? 'cluster-two-nodes' : 'cluster-two-nodes-other');
    }
    if (browser.errors.length) throw new Error(`the page reported errors:\n${browser.errors.join('\n')}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const p of started.reverse()) await p.stop();
    if (fs.existsSync(state)) pg('stop');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
