// The console's attribute lists come from the server (GET /api/v1/meta/attributes),
// fetched once per sign-in: the pick lists show the seed's display names and the SCIM
// alias table without the console keeping a copy. The Attribute Mapping editor's Test
// control previews a source (a field or an expression) for a user picked by username,
// and points at the position of an expression's error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil } from './lib.mjs';

const SEED_SOURCES = ['Username', 'Given Name', 'Family Name', 'Formatted', 'Nickname', 'Title', 'Type', 'Email Address',
  'Primary Phone', 'External ID', 'Street Address', 'Locality', 'Postal Code', 'Country Code', 'Population Name'];

async function openMappingEditor(page, serve, ruleId) {
  await page.goto(`${serve.base}/#/provisioning/rules/${ruleId}/configuration`);
  await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
  const sec = page.getByRole('region', { name: 'Attribute Mapping' });
  await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
  await sec.getByRole('button', { name: 'Save' }).waitFor();
  return sec;
}

test('pick lists come from the server, once per sign-in', async () => {
  await withConsole({}, async ({ serve, page }) => {
    const metaCalls = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/v1/meta/attributes') metaCalls.push(r.url()); });
    const meta = await serve.ok('GET', '/api/v1/meta/attributes');

    // The console's own files hold no copy of the lists.
    const attrsJs = await (await fetch(`${serve.base}/js/attrs.js`)).text();
    for (const word of ['Given Name', 'workEmail', 'Population Name', 'NOT_EQUALS', 'substring']) {
      assert.ok(!attrsJs.includes(word), `attrs.js still lists ${word}`);
    }

    const rule = await serve.ok('POST', '/api/v1/rules', { name: 'Lists' });
    const sec = await openMappingEditor(page, serve, rule.id);
    // Sources: the seed's display names, as the server's table has them.
    const sources = await sec.locator('datalist').first().locator('option').evaluateAll((os) => os.map((o) => o.value));
    for (const name of SEED_SOURCES) assert.ok(sources.includes(name), `source list lacks ${name}`);
    assert.deepEqual(sources, meta.directoryFields.filter((f) => f.source).map((f) => f.label));
    // Targets: every alias of the C table but the spelling variants, with its SCIM path.
    const targets = await sec.locator('datalist').nth(1).locator('option').evaluateAll((os) => os.map((o) => [o.value, o.label]));
    const shown = meta.targetAttributes.filter((a) => !a.aliasOf);
    assert.deepEqual(targets.map(([v]) => v), shown.map((a) => a.name));
    assert.ok(targets.some(([v, l]) => v === 'workEmail' && l.includes('emails[type eq "work"].value')));
    // The prefilled default rows show the seed's words, the misspelt target included.
    const rows = sec.locator('tbody tr.map-row');
    assert.equal(await rows.count(), 14);
    const pairs = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('input[type=text]')].map((i) => i.value)));
    assert.deepEqual(pairs.find(([t]) => t === 'workStreetAddeess'), ['workStreetAddeess', 'Street Address']);
    assert.deepEqual(pairs.find(([t]) => t === 'givenName'), ['givenName', 'Given Name']);

    // The filter editor: attributes and operators from the same tables.
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const fSec = page.getByRole('region', { name: 'User Filter' });
    await fSec.getByRole('button', { name: 'Edit user filter' }).click();
    const attrSel = fSec.getByLabel('Attribute', { exact: true }).first();
    await attrSel.waitFor();
    const attrs = await attrSel.locator('option').evaluateAll((os) => os.map((o) => o.textContent));
    assert.equal(attrs[0], 'Population Name');
    for (const name of [...SEED_SOURCES, 'Group']) assert.ok(attrs.includes(name), `filter attributes lack ${name}`);
    const ops = await fSec.getByLabel('Operator', { exact: true }).first().locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(ops, meta.filterOperators.map((o) => o.name));

    // Moving around the console does not fetch the lists again.
    const nav = page.getByRole('navigation', { name: 'Main' });
    const before = metaCalls.length;
    await nav.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('heading', { name: 'Users' }).first().waitFor();
    await nav.getByRole('link', { name: 'Provisioning', exact: true }).click();
    await page.getByRole('tab', { name: 'Connections' }).waitFor();
    assert.equal(metaCalls.length, before);
    // Signing out and in again (same page) fetches them once more.
    await page.getByRole('button', { name: 'Sign Out' }).click();
    await page.getByLabel('Admin token').fill(serve.token);
    await page.getByRole('button', { name: 'Sign In' }).click();
    await nav.waitFor();
    await waitUntil(() => metaCalls.length === before + 1, { what: 'one more fetch of the attribute lists' });
    await nav.getByRole('link', { name: 'Groups', exact: true }).click();
    await page.getByRole('heading', { name: 'Groups' }).first().waitFor();
    await nav.getByRole('link', { name: 'Provisioning', exact: true }).click();
    await page.getByRole('tab', { name: 'Connections' }).waitFor();
    assert.equal(metaCalls.length, before + 1);
  });
});

test('Test shows what a source gives for a user, or where an expression is wrong', async () => {
  await withConsole({}, async ({ serve, page }) => {
    const rule = await serve.ok('POST', '/api/v1/rules', { name: 'Preview' });
    const sec = await openMappingEditor(page, serve, rule.id);
    await sec.getByRole('button', { name: 'Add', exact: true }).click();
    const row = sec.locator('tbody tr.map-row').last();
    await row.getByLabel('Target attribute').fill('department');
    await row.getByLabel('Source attribute').fill('lower(name.given) + "." + name.family');
    await row.getByRole('button', { name: 'Test source' }).click();

    const panel = sec.locator('tr.test-row').last();
    const user = panel.getByLabel('Test with user');
    await user.fill('ad');
    // Suggestions by username.
    await waitUntil(async () => (await panel.locator('datalist option').evaluateAll((os) => os.map((o) => o.value))).includes('ada'),
      { what: 'ada among the suggestions' });
    await user.fill('zed');
    await panel.getByRole('button', { name: 'Run test' }).click();
    const out = panel.getByRole('status');
    await out.filter({ hasText: 'No user is called zed' }).waitFor();
    assert.equal(await user.getAttribute('aria-invalid'), 'true');

    await user.fill('ADA');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await out.filter({ hasText: 'For ada:' }).waitFor();
    assert.equal(await out.locator('.test-value').textContent(), 'ada.Lovelace');
    await screenshot(page, 'mapping-test');

    // A broken expression: the message with its position, the source marked.
    await row.getByLabel('Source attribute').fill('lower(name.given) + + "x"');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await out.filter({ hasText: 'at position 21' }).waitFor();
    assert.equal(await row.getByLabel('Source attribute').getAttribute('aria-invalid'), 'true');
    assert.match(await out.locator('.test-caret').textContent(), /\n {20}\^$/);

    // A plain field picked by its display name; the chosen user is kept for other rows.
    const given = sec.locator('tbody tr.map-row').nth(1);
    assert.equal(await given.getByLabel('Source attribute').inputValue(), 'Given Name');
    await given.getByRole('button', { name: 'Test source' }).click();
    const givenOut = sec.locator('tr.test-row').first().getByRole('status');
    await givenOut.filter({ hasText: 'For ada: Ada' }).waitFor();
    // Empty values say they are left out.
    await row.getByLabel('Source attribute').fill('substring(username, 10)');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await out.filter({ hasText: 'left out' }).waitFor();
    assert.equal(await row.getByLabel('Source attribute').getAttribute('aria-invalid'), null);

    // Test rows are not mapping rows: Save sends only the mapping.
    await row.getByLabel('Source attribute').fill('upper(population.name)');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    const m = await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`);
    assert.equal(m.length, 15);
    assert.deepEqual(m.at(-1), { target: 'department', source: 'upper(population.name)' });
  });
});
