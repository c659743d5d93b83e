// Integrations > Inbound SCIM: tokens an identity provider uses to provision into the
// directory. Reached from the sidebar; Create Token asks for a name and a population
// (the server's refusal lands on the field it names), shows the token once with the SCIM
// base URL, and the token works on /scim/v2 at once; the list shows population, scope and
// prefix, never the token; a user the identity provider creates shows its source in the
// Users list; Revoke asks first and the token stops at once. Checked with axe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, checkA11y } from './lib.mjs';

async function scim(serve, token, method, path, body) {
  const r = await fetch(`${serve.base}/scim/v2${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
}

test('Integrations > Inbound SCIM: create (shown once), use, source in Users, revoke', async () => {
  await withConsole({}, async ({ serve, page }) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbound SCIM', exact: true }).click();
    await page.getByRole('heading', { name: 'Inbound SCIM', level: 1 }).waitFor();
    assert.equal(await page.title(), 'Inbound SCIM · scimitar');
    await page.getByText('No inbound tokens yet').waitFor();
    await checkA11y(page, 'inbound, empty');

    await page.getByRole('button', { name: 'Create Token' }).click();
    const dlg = page.getByRole('dialog', { name: 'Create Inbound SCIM Token' });
    await dlg.waitFor();
    await dlg.getByLabel('Name').fill('Entra ID');
    await dlg.getByRole('button', { name: 'Create Token' }).click();
    await dlg.getByText('Choose a population.').waitFor();
    await dlg.getByLabel('Population').selectOption({ label: 'Sales' });
    await checkA11y(page, 'inbound, create');
    await dlg.getByRole('button', { name: 'Create Token' }).click();
    const shown = page.getByRole('dialog', { name: 'Token Entra ID created' });
    await shown.waitFor();
    const token = await shown.getByRole('textbox', { name: 'Token' }).inputValue();
    assert.match(token, /^scmi_[A-Za-z0-9_-]{43}$/);
    await shown.getByText(`${serve.base}/scim/v2`).waitFor();
    await screenshot(page, 'inbound-created');
    await shown.getByRole('button', { name: 'Done' }).click();

    const table = page.getByRole('table', { name: 'Inbound SCIM tokens' });
    const row = table.getByRole('row').filter({ hasText: 'Entra ID' });
    await row.waitFor();
    assert.deepEqual(await table.getByRole('columnheader').allTextContents(), ['Name', 'Population', 'Scope', 'Source connection', 'Prefix', 'Created', 'Last used', 'Actions']);
    assert.match(await row.textContent(), /Sales.*Read and write/);
    assert.ok(!(await page.content()).includes(token));

    // the token works at once; the user it creates shows where it came from
    const made = await scim(serve, token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'grace' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const imported = await serve.ok('POST', '/api/v1/users/import', [{ username: 'ivy', population: { name: 'Sales' } }]);
    assert.equal(imported.created, 1, JSON.stringify(imported));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByRole('row').filter({ hasText: 'grace' }).getByText('SCIM · Entra ID').waitFor();
    await users.getByRole('row').filter({ hasText: 'ada' }).getByText('REST API', { exact: true }).waitFor();
    await users.getByRole('row').filter({ hasText: 'ivy' }).getByText('Import', { exact: true }).waitFor();
    await checkA11y(page, 'users with sources');

    // revoke: asked first, then the token stops
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbound SCIM', exact: true }).click();
    await table.getByRole('button', { name: 'Revoke Entra ID' }).click();
    await page.getByRole('dialog', { name: 'Revoke token' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('No inbound tokens yet').waitFor();
    assert.equal((await scim(serve, token, 'GET', '/Users')).status, 401);
  });
});
