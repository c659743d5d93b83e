// Group provisioning in the console: the rule's Configuration tab sets its Group
// Provisioning section (an invalid value is shown on its field), the chosen group arrives
// on the target with the rule's users as members, Sync Status shows the group counters,
// and the log filters the groups' entries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, counter, provisionSales } from './lib.mjs';

test('a rule pushes a group chosen in its Group Provisioning section', async () => {
  await withConsole({ target: true }, async ({ serve, target, page, users }) => {
    const team = await serve.ok('POST', '/api/v1/groups', { name: 'Sales Team' });
    await serve.ok('POST', '/api/v1/groups', { name: 'Other' });
    for (const u of ['ada', 'bob']) await serve.ok('POST', `/api/v1/groups/${team.id}/members`, { userId: users[u].id });
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob; }, { timeout: 30000, what: 'Sales on the target' });

    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'Group Provisioning', exact: true }).click();
    const sec = page.getByRole('region', { name: 'Group Provisioning' });
    await sec.getByText('no group chosen yet').waitFor();
    await sec.getByRole('button', { name: 'Edit group provisioning' }).click();
    await sec.getByLabel('Provision groups').check();
    await sec.getByRole('group', { name: 'Group names' }).getByLabel('Sales Team').check();
    // an invalid value: the server's 400 lands on its field
    await sec.getByLabel('Members per request').fill('0');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.locator('.field-error').filter({ hasText: 'membersPerRequest' }).waitFor();
    await sec.getByLabel('Members per request').fill('50');
    await screenshot(page, 'group-provisioning-edit');
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit group provisioning' }).waitFor();
    await sec.getByText('groups named Sales Team').waitFor();

    const group = await waitUntil(async () => {
      const r = await target.scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Sales Team"')}`);
      const g = (r.body.Resources || [])[0];
      return g && (g.members || []).length === 2 ? g : null;
    }, { timeout: 30000, what: 'Sales Team with two members on the target' });
    const tu = await target.users();
    assert.deepEqual(group.members.map((m) => m.value).sort(), [tu.ada.id, tu.bob.id].sort());

    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await waitUntil(async () => (await counter(page, 'Groups synced')) === 1, { timeout: 30000, what: 'Groups synced = 1' });
    assert.equal(await counter(page, 'Group memberships'), 2);
    await screenshot(page, 'group-counters');

    await page.getByRole('tab', { name: 'Log' }).click();
    const log = page.getByRole('table', { name: 'Provisioning log' });
    await log.getByRole('row', { name: /Sales Team.*Members add/ }).first().waitFor();
    await page.getByLabel('Kind', { exact: true }).selectOption({ label: 'Groups' });
    await waitUntil(async () => {
      const rows = await log.locator('tbody tr').allTextContents();
      return rows.length >= 2 && rows.every((r) => /Group Sales Team/.test(r));
    }, { what: 'only the group entries' });
    await screenshot(page, 'log-groups');
  });
});
