// What the target says, shown where the administrator looks: a target whose schema lacks
// nickName (as Code42's does) makes Test Connection warn (a warning, neither a tick nor a
// failure), the connection's details pane lists what the target supports and the mapping
// warning, the users are partially synced with the attribute the target rejected in its
// own words, and the Attribute Mapping row says so (how many users, the target's words,
// the schema warning). With `scimitar target`, a value it refuses shows the same way and
// goes away when the mapping is fixed; a user still waiting for its first answer is
// Pending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, counter, provisionSales } from './lib.mjs';
import { startFakeTarget } from './scimfake.mjs';

/** The text of the definition (dd) of the term (dt) called name in the description lists under loc. */
function prop(loc, name) {
  return loc.locator(`xpath=.//dt[normalize-space()="${name}"]/following-sibling::dd[1]`).textContent();
}

/** The text an input's aria-describedby points to ('' when none). */
function description(input) {
  return input.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent || '').join(' '));
}

/** The mapping editor's row whose target attribute is target (as it is now). */
async function rowOf(sec, target) {
  const rows = sec.locator('tbody tr.map-row');
  const i = await rows.evaluateAll((trs, t) => trs.findIndex((tr) => tr.querySelector('input[aria-label="Target attribute"]').value === t), target);
  assert.ok(i >= 0, `no mapping row for ${target}`);
  return rows.nth(i);
}

const NICKNAME_WORDS = "PATCH answered 400 (invalidPath): Attribute 'nickName' is not defined in the schema";

test('a target without nickName: Test Connection warns, users are partially synced, the mapping row says why', async () => {
  await withConsole({ target: () => startFakeTarget({ lacks: ['nickName'] }) }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.partiallySynced === 2,
      { timeout: 30000, what: 'ada and bob partially synced' });
    const tu = await target.users();
    assert.equal(tu.ada.name.givenName, 'Ada', 'what the target accepts is delivered');
    assert.equal(tu.ada.nickName, undefined);

    // The details pane (the list was read before the connection existed): nothing known
    // before the first test.
    await page.reload();
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    const caps = pane.getByRole('region', { name: 'What the target supports' });
    await caps.getByText('Not tested yet').waitFor();

    // Test Connection: the Mapping step is a warning, not a tick and not a failure.
    await pane.getByRole('button', { name: 'Test Connection' }).click();
    const report = pane.getByRole('region', { name: 'Test Connection results' });
    await report.getByText('Connection test passed.').waitFor();
    assert.match(await report.locator('.test-summary').textContent(), /1 warning/);
    const warned = report.locator('li.step-warn');
    assert.equal(await warned.count(), 1);
    assert.match(await warned.textContent(), /^⚠Mapping warning.*does not declare nickName \(mapping row 13 of rule 'Code42 users'\)/);
    assert.equal(await report.locator('li.step-fail').count(), 0);
    assert.equal(await report.locator('li.step-ok', { hasText: /^✓Mapping/ }).count(), 0);

    // What the target supports, learnt by that test.
    await caps.getByText('Tested', { exact: true }).waitFor();
    assert.equal(await prop(caps, 'SCIM Version'), '2.0');
    assert.equal(await prop(caps, 'PATCH'), 'Supported');
    assert.equal(await prop(caps, 'Bulk'), 'Not supported');
    assert.match(await prop(caps, 'Filters'), /^Supported \(up to 200 results\)/);
    assert.equal(await prop(caps, 'Filters honoured'), 'Yes');
    assert.equal(await prop(caps, 'Listing'), 'Lists users in pages');
    assert.equal(await prop(caps, 'ETag'), 'Not supported');
    assert.equal(await prop(caps, 'userName case'), 'Case-insensitive look-ups');
    assert.equal(await prop(caps, 'Users endpoint'), '/Users');
    assert.match(await prop(caps, 'User schema'), /^\d+ attribute paths declared$/);
    const warnings = caps.locator('.caps-warnings');
    assert.match(await warnings.textContent(), /the target's schema does not declare nickName \(mapping row 13 of rule 'Code42 users'\)/);
    await screenshot(page, 'capabilities-pane', { fullPage: true });

    // The rule's users: partially synced, with the attribute and the target's words.
    await warnings.getByRole('link', { name: 'Open Code42 users' }).click();
    await page.getByRole('heading', { name: 'Code42 users', level: 1 }).waitFor();
    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await waitUntil(async () => (await counter(page, 'Partially synced')) === 2, { what: 'Partially synced = 2' });
    const users = page.getByRole('table', { name: 'Rule users' });
    for (const name of ['ada', 'bob']) {
      const row = users.getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });
      await row.getByText('Partially synced', { exact: true }).waitFor();
      const text = await row.textContent();
      assert.match(text, /The target rejected one attribute:nickName: /);
      assert.ok(text.includes(NICKNAME_WORDS), `the target's words for ${name}: ${text}`);
    }
    await screenshot(page, 'partial-sync-status');

    // The Attribute Mapping: the nickName row says why, in the view and in the editor.
    await page.getByRole('tab', { name: 'Configuration' }).click();
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const sec = page.getByRole('region', { name: 'Attribute Mapping' });
    const view = sec.getByRole('table', { name: 'Attribute Mapping' });
    const note = view.locator('tr.row-note');
    await note.first().waitFor();
    assert.equal(await note.count(), 1, 'only the nickName row has notes');
    const noteText = await note.textContent();
    assert.ok(noteText.includes(`Rejected by the target for 2 users (ada, bob): ${NICKNAME_WORDS}`), noteText);
    assert.ok(noteText.includes("Test Connection: the target's schema does not declare nickName"), noteText);
    assert.equal(await note.evaluate((tr) => tr.previousElementSibling.querySelector('code').textContent), 'nickName');

    await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    const nick = await rowOf(sec, 'nickName');
    const nickTarget = nick.getByLabel('Target attribute');
    await waitUntil(async () => /Rejected by the target for 2 users/.test(await description(nickTarget)), { what: 'the notes of the nickName row' });
    const said = await description(nickTarget);
    assert.ok(said.includes(NICKNAME_WORDS));
    assert.ok(said.includes("the target's schema does not declare nickName"));
    assert.equal(await description((await rowOf(sec, 'givenName')).getByLabel('Target attribute')), '', 'other rows have no notes');
    assert.equal(await sec.locator('tr.row-note').count(), 1);
    await screenshot(page, 'partial-mapping-editor', { fullPage: true });
    // The notes follow the row's target: another attribute has none.
    await nickTarget.fill('displayName');
    await waitUntil(async () => (await sec.locator('tr.row-note').count()) === 0, { what: 'the notes to go with the target' });
    assert.equal(await description(nickTarget), '');
    await nickTarget.fill('nickName');
    await waitUntil(async () => (await sec.locator('tr.row-note').count()) === 1, { what: 'the notes to come back' });
    await sec.getByRole('button', { name: 'Cancel' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
  });
});

test('scimitar target refuses a value: partially synced with its words, synced again once the mapping is fixed', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.success === 2, { timeout: 30000, what: 'ada and bob synced' });

    // Map title from a number: the target's schema wants a string.
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const sec = page.getByRole('region', { name: 'Attribute Mapping' });
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    await (await rowOf(sec, 'title')).getByLabel('Source attribute').fill('12');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.partiallySynced === 2, { timeout: 30000, what: 'ada and bob partially synced' });
    const adaState = (await serve.ok('GET', `/api/v1/rules/${rule.id}/users`)).items.find((u) => u.username === 'ada');
    assert.equal(adaState.rejected.length, 1);
    const words = adaState.rejected[0].error;
    assert.match(words, /^PATCH answered 400 \(invalidValue\): .*title must be string/);

    await page.getByRole('tab', { name: 'Sync Status' }).click();
    const users = page.getByRole('table', { name: 'Rule users' });
    const ada = users.getByRole('row').filter({ has: page.getByRole('cell', { name: 'ada', exact: true }) });
    await ada.getByText('Partially synced', { exact: true }).waitFor();
    assert.ok((await ada.textContent()).includes(`title: ${words}`));
    assert.equal(await ada.locator('.badge').evaluate((b) => b.className), 'badge badge-warn', 'partially synced is not drawn as a success');

    // The row of the mapping says it; fixing the source syncs the users again.
    await page.getByRole('tab', { name: 'Configuration' }).click();
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    const title = await rowOf(sec, 'title');
    await waitUntil(async () => (await description(title.getByLabel('Target attribute'))).includes(`Rejected by the target for 2 users (ada, bob): ${words}`), { what: 'the title row\'s note' });
    await title.getByLabel('Source attribute').fill('Title');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.success === 2, { timeout: 30000, what: 'ada and bob synced again' });
    assert.equal((await target.users()).ada.title, 'Title 1');
    // Opened again, the mapping reads the users again: no note is left.
    await sec.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    await sec.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    await sec.getByRole('table', { name: 'Attribute Mapping' }).waitFor();
    await waitUntil(async () => (await sec.locator('tr.row-note').count()) === 0, { what: 'no note once the target accepts every attribute' });
  });
});

test('a user waiting for its first answer is Pending, then Synced', async () => {
  // Every answer of the target takes 4 s: a new user is queued well before it is answered.
  await withConsole({ target: { faults: 'latency=4s' } }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.success === 2, { timeout: 60000, what: 'ada and bob synced' });
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/status`);
    const users = page.getByRole('table', { name: 'Rule users' });
    await users.getByRole('cell', { name: 'bob', exact: true }).waitFor();

    await serve.ok('POST', '/api/v1/users', { username: 'dee', email: 'dee@example.com', population: { name: 'Sales' } });
    const dee = users.getByRole('row').filter({ has: page.getByRole('cell', { name: 'dee', exact: true }) });
    await dee.getByText('Pending', { exact: true }).waitFor({ timeout: 30000 });
    const cells = await dee.getByRole('cell').allTextContents();
    assert.deepEqual(cells, ['dee', 'Pending', 'not linked yet', '', 'Queued: no answer yet']);
    assert.equal(await dee.locator('.badge').evaluate((b) => b.className), 'badge badge-info');
    await screenshot(page, 'pending-user');
    await dee.getByText('Synced', { exact: true }).waitFor({ timeout: 60000 });
    assert.notEqual((await dee.getByRole('cell').allTextContents())[4], 'Queued: no answer yet');
    assert.ok((await target.users()).dee);
  });
});
