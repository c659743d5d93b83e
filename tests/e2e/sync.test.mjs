// Provisioning seen from the console: editing a rule's filter resyncs it (new users
// arrive, those who left scope are disabled, never deleted); disabling a user in the
// Users page disables the account on the target; the live counters, the dry-run preview
// of Full Resync, the log's old → new values, and the mass-deprovisioning brake's Allow.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, counter, provisionSales } from './lib.mjs';

test('editing the user filter resyncs the rule; the status and log show it', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob; }, { timeout: 30000, what: 'Sales on the target' });

    // The counters are live: they show the first sync without a reload.
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/status`);
    await waitUntil(async () => (await counter(page, 'Success')) === 2, { timeout: 30000, what: 'Success = 2' });

    // Full Resync: the dry run says there is nothing to send.
    await page.getByRole('button', { name: 'Full Resync' }).click();
    const dlg = page.getByRole('dialog', { name: 'Full Resync' });
    await dlg.getByText('Nothing to send').waitFor();
    await dlg.getByRole('button', { name: 'Cancel' }).click();

    // Edit the filter: Engineering instead of Sales.
    await page.getByRole('tab', { name: 'Configuration' }).click();
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const sec = page.getByRole('region', { name: 'User Filter' });
    await sec.getByRole('button', { name: 'Edit user filter' }).click();
    await sec.getByLabel('Value', { exact: true }).selectOption('Engineering');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit user filter' }).waitFor();

    // The resync: cyd arrives, ada and bob are disabled (Code42 never deletes).
    const after = await waitUntil(async () => {
      const u = await target.users();
      return u.cyd && u.ada && u.ada.active === false && u.bob.active === false ? u : null;
    }, { timeout: 30000, what: 'cyd created, ada and bob disabled' });
    assert.equal(after.cyd.active, true);
    assert.equal(after.cyd.name.givenName, 'Cyd');

    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await page.getByRole('table', { name: 'Rule users' }).getByText('cyd', { exact: true }).waitFor();
    await screenshot(page, 'sync-status-after-filter');
    await page.getByRole('tab', { name: 'Log' }).click();
    const log = page.getByRole('table', { name: 'Provisioning log' });
    await log.getByRole('row', { name: /ada.*Disable/ }).first().waitFor();
    // Filter the log by action.
    await page.getByLabel('Action', { exact: true }).selectOption({ label: 'Disable' });
    await waitUntil(async () => {
      const rows = await log.locator('tbody tr').allTextContents();
      return rows.length === 2 && rows.every((r) => /Disable/.test(r));
    }, { what: 'only the two Disable entries' });
    await log.getByText('active').first().waitFor();
    await screenshot(page, 'log-disable');
  });
});

test('disabling a user in the Users page disables the account on the target', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => (await target.users()).ada?.active === true, { timeout: 30000, what: 'ada on the target' });

    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Disable ada' }).click();
    await page.getByRole('button', { name: 'Enable ada' }).waitFor();
    await waitUntil(async () => (await target.users()).ada.active === false, { timeout: 30000, what: 'active:false for ada on the target' });

    // An update from the edit dialog reaches the target too, with old -> new in the log.
    await page.getByRole('button', { name: 'Edit bob' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit bob' });
    await ed.getByLabel('Title').fill('Chief Builder');
    await ed.getByRole('button', { name: 'Save' }).click();
    await waitUntil(async () => (await target.users()).bob.title === 'Chief Builder', { timeout: 30000, what: 'the new title on the target' });

    // Enable again: the same account comes back (no duplicate).
    await page.getByRole('button', { name: 'Enable ada' }).click();
    await waitUntil(async () => (await target.users()).ada.active === true, { timeout: 30000, what: 'active:true for ada again' });
    assert.equal(Object.keys(await target.users()).length, 2);

    // The Users page stays on screen until the log page replaces it, and its search field
    // ("Search users") and table ("Users") match a loose 'User': wait for the log page and
    // name the field exactly.
    await page.getByRole('link', { name: 'Provisioning Log', exact: true }).click();
    await page.getByRole('heading', { name: 'Provisioning Log', level: 1 }).waitFor();
    await page.getByLabel('User', { exact: true }).fill('bob');
    const log = page.getByRole('table', { name: 'Provisioning log' });
    const row = log.getByRole('row', { name: /Update/ }).first();
    await row.waitFor();
    assert.match(await row.textContent(), /Title 2 → Chief Builder/);
    await screenshot(page, 'log-update');
    assert.ok(rule.id);
  });
});

test('the safety brake holds a mass disable until Allow is clicked', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const many = Array.from({ length: 24 }, (_, i) => ({ username: `sales${i}`, email: `sales${i}@example.com`, population: { name: 'Sales' } }));
    for (const u of many) await serve.ok('POST', '/api/v1/users', u);
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => Object.keys(await target.users()).length === 26, { timeout: 60000, what: '26 Sales users on the target' });

    // Moving the filter to Engineering would disable all 26: more than the brake allows.
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const sec = page.getByRole('region', { name: 'User Filter' });
    await sec.getByRole('button', { name: 'Edit user filter' }).click();
    await sec.getByLabel('Value', { exact: true }).selectOption('Engineering');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit user filter' }).waitFor();

    await page.getByRole('tab', { name: 'Sync Status' }).click();
    const allow = page.getByRole('button', { name: 'Allow resync' });
    await allow.waitFor({ timeout: 30000 });
    await page.getByRole('alert').filter({ hasText: /Safety brake/ }).waitFor();
    const held = await target.users();
    assert.equal(Object.values(held).filter((u) => u.active === false).length, 0, 'nothing is disabled while the brake holds');
    await screenshot(page, 'brake');

    await allow.click();
    await waitUntil(async () => Object.values(await target.users()).filter((u) => u.active === false).length === 26,
      { timeout: 60000, what: 'all 26 disabled after Allow' });
    await allow.waitFor({ state: 'detached', timeout: 30000 });
  });
});
