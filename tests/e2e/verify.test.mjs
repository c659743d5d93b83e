// Drift repair from the console: accounts edited or deleted directly on the target are
// invisible to a plain Full Resync; with "Verify accounts on the target" the dry run reads
// them and lists each drifted attribute (the target's value and the expected one) or the
// account gone, Start Full Resync repairs them, Sync Status shows the last verify's
// figures, and the log has a Verify / Drifted entry per drifted account.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, provisionSales } from './lib.mjs';

test('Full Resync with verify previews and repairs drift; the status and the log show it', async () => {
  await withConsole({ target: { noDelete: false } }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    const synced = await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob ? u : null; }, { timeout: 30000, what: 'Sales on the target' });
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/rules/${rule.id}/status`)).users.success === 2, { timeout: 30000, what: 'ada and bob synced' });

    // Drift made on the target itself: bob's title edited, ada's account deleted.
    const edited = await target.scim('PATCH', `/Users/${synced.bob.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Edited on the target' }],
    });
    assert.equal(edited.status, 200);
    assert.equal((await target.scim('DELETE', `/Users/${synced.ada.id}`)).status, 204);

    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/status`);
    await page.getByRole('table', { name: 'Rule users' }).getByRole('cell', { name: 'bob', exact: true }).waitFor();
    const facts = page.locator('dl.status-facts');
    assert.equal(await facts.getByText('Last verify').isVisible(), false, 'no verify yet');

    // A plain dry run trusts what was sent: nothing to do.
    await page.getByRole('button', { name: 'Full Resync' }).click();
    const dlg = page.getByRole('dialog', { name: 'Full Resync' });
    await dlg.getByText('Nothing to send').waitFor();
    // With Verify the accounts are read from the target.
    const verify = dlg.getByLabel('Verify accounts on the target');
    assert.equal(await verify.isChecked(), false);
    await verify.check();
    const drifted = dlg.getByRole('region', { name: 'Drifted' });
    await drifted.waitFor();
    assert.match(await drifted.getByRole('heading').textContent(), /^Drifted \(2\)$/);
    assert.match(await dlg.textContent(), /2 linked accounts checked on the target, 2 drifted\./);
    const bob = drifted.getByRole('listitem').filter({ has: page.getByText('bob', { exact: true }) }).first();
    const change = bob.locator('ul.changes li');
    assert.equal(await change.count(), 1);
    assert.equal(await change.textContent(), 'title: Edited on the target on the target, expected → Title 2');
    assert.equal(await change.locator('.old').textContent(), 'Edited on the target');
    assert.equal(await change.locator('.new').textContent(), 'Title 2');
    const ada = drifted.getByRole('listitem').filter({ has: page.getByText('ada', { exact: true }) }).first();
    assert.match(await ada.textContent(), /account gone/);
    await screenshot(page, 'resync-verify-preview');
    // The preview changed nothing on the target.
    const still = await target.users();
    assert.equal(still.bob.title, 'Edited on the target');
    assert.equal(still.ada, undefined);

    // Start: the drift is repaired (ada's account created again).
    await dlg.getByRole('button', { name: 'Start Full Resync' }).click();
    await dlg.waitFor({ state: 'detached' });
    const repaired = await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob.title === 'Title 2' ? u : null; }, { timeout: 30000, what: 'the drift repaired on the target' });
    assert.equal(repaired.ada.name.givenName, 'Ada');
    assert.notEqual(repaired.ada.id, synced.ada.id, 'a new account for ada');
    const lastVerify = facts.locator('div').filter({ has: page.getByText('Last verify', { exact: true }) }).getByRole('definition');
    await waitUntil(async () => /· 2 checked · 2 drifted$/.test(await lastVerify.textContent()), { what: 'the last verify figures' });
    await screenshot(page, 'sync-status-verify');

    // The log: Verify / Drifted entries, found with the new filters.
    await page.getByRole('tab', { name: 'Log' }).click();
    const log = page.getByRole('table', { name: 'Provisioning log' });
    await log.getByRole('row').first().waitFor();
    await page.getByLabel('Action', { exact: true }).selectOption({ label: 'Verify' });
    await page.getByLabel('Status', { exact: true }).selectOption({ label: 'Drifted' });
    await waitUntil(async () => {
      const rows = await log.locator('tbody tr').allTextContents();
      return rows.length === 2 && rows.every((r) => /VerifyDrifted/.test(r));
    }, { what: 'the two Verify / Drifted entries' });
    const bobEntry = log.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'bob', exact: true }) });
    assert.match(await bobEntry.textContent(), /title: Edited on the target on the target, expected → Title 2/);
    const adaEntry = log.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'ada', exact: true }) });
    assert.match(await adaEntry.textContent(), /no longer exists/);
    await screenshot(page, 'log-verify');
  });
});
