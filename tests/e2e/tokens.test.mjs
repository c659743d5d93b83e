// System > API tokens: the named admin tokens. Reached from the sidebar (focus on the
// heading); the list (initial, created, last used, expires; never the token); Create
// Token checks its fields (the server's refusal lands on the field it names), shows the
// new token once with a Copy button, and the token works at once; Revoke asks first and
// the token stops at once; the last token cannot be revoked; revoking the token the
// console signed in with signs it out. Each screen is checked with axe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, waitUntil, screenshot, focusedName } from './lib.mjs';

async function apiWith(serve, token, method, path) {
  const r = await fetch(`${serve.base}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
  return r.status;
}

/** 'YYYY-MM-DDTHH:MM' (a datetime-local value) of a time days ahead, in local time. */
function localInput(daysAhead) {
  const d = new Date(Date.now() + daysAhead * 86400000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

test('System > API tokens: create (shown once, copy), list, revoke, not the last one', async () => {
  await withConsole({ directory: false }, async ({ serve, page }) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens', exact: true }).click();
    const h1 = page.getByRole('heading', { name: 'API tokens', level: 1 });
    await h1.waitFor();
    await waitUntil(() => h1.evaluate((el) => el === document.activeElement), { what: 'the focus on the heading' });
    assert.equal(await page.title(), 'API tokens · scimitar');
    const table = page.getByRole('table', { name: 'API tokens' });
    await table.getByRole('row').filter({ hasText: 'initial' }).waitFor();
    assert.deepEqual(await table.getByRole('columnheader').allTextContents(), ['Name', 'Prefix', 'Created', 'Last used', 'Expires', 'Actions']);
    await screenshot(page, 'tokens');

    // Create: the name is required; the server's refusal (a taken name) lands on the field.
    await h1.focus();
    await page.keyboard.press('Tab');
    assert.equal(await focusedName(page), 'Create Token');
    await page.keyboard.press('Enter');
    const dlg = page.getByRole('dialog', { name: 'Create API Token' });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Create Token' }).click();
    await dlg.getByText('Enter a name.').waitFor();
    await dlg.getByLabel('Name').fill('initial');
    await dlg.getByRole('button', { name: 'Create Token' }).click();
    await dlg.getByText("an admin token named 'initial' exists").waitFor();
    assert.equal(await dlg.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    await dlg.getByLabel('Name').fill('CI pipeline');
    await dlg.getByLabel('Expires').fill(localInput(30));
    await dlg.getByRole('button', { name: 'Create Token' }).click();

    // Shown once, selected, with a Copy button.
    const shown = page.getByRole('dialog', { name: 'Token CI pipeline created' });
    await shown.waitFor();
    const value = shown.getByRole('textbox', { name: 'Token' });
    const token = await value.inputValue();
    assert.match(token, /^scm_[A-Za-z0-9_-]{43}$/);
    assert.equal(await value.getAttribute('readonly'), '');
    await shown.getByText('This is the only time the token is shown').waitFor();
    await screenshot(page, 'tokens-created');
    await shown.getByRole('button', { name: 'Copy the token' }).click();
    await waitUntil(async () => (await shown.getByRole('status').textContent()).length > 0, { what: 'the copy status' });
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    assert.equal(await apiWith(serve, token, 'GET', '/api/v1/users'), 200);

    // Listed with its prefix, never the token.
    const row = table.getByRole('row').filter({ hasText: 'CI pipeline' });
    await row.waitFor();
    assert.equal(await row.locator('code').textContent(), `${token.slice(0, 8)}…`);
    assert.notEqual(await row.getByRole('cell').nth(3).textContent(), 'Never'); // expires
    assert.ok(!(await page.content()).includes(token));

    // Revoke asks first; Cancel keeps it, Revoke stops it at once.
    await row.getByRole('button', { name: 'Revoke CI pipeline' }).click();
    const ask = page.getByRole('dialog', { name: 'Revoke token' });
    await ask.getByText('Everything that uses it stops working at once').waitFor();
    await screenshot(page, 'tokens-revoke');
    await ask.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await apiWith(serve, token, 'GET', '/api/v1/users'), 200);
    await row.getByRole('button', { name: 'Revoke CI pipeline' }).click();
    await ask.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal(await apiWith(serve, token, 'GET', '/api/v1/users'), 401);

    // The last token cannot be revoked: the server says why.
    await table.getByRole('row').filter({ hasText: 'initial' }).getByRole('button', { name: 'Revoke initial' }).click();
    await ask.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('alert').filter({ hasText: 'the last admin token cannot be revoked' }).waitFor();
  });
});

test('System > API tokens: revoking the token the console signed in with signs it out', async () => {
  await withConsole({ directory: false }, async ({ serve, page }) => {
    const made = await serve.ok('POST', '/api/v1/tokens', { name: 'my browser' });
    // Sign in again, with the new token.
    await page.evaluate(() => { sessionStorage.clear(); location.hash = '#/system/tokens'; });
    await page.reload();
    await page.getByLabel('Admin token').fill(made.token);
    await page.getByRole('button', { name: 'Sign In' }).click();
    const row = page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'my browser' });
    await row.waitFor();
    await row.getByText('This session').waitFor();
    await row.getByRole('button', { name: 'Revoke my browser' }).click();
    const ask = page.getByRole('dialog', { name: 'Revoke token' });
    await ask.getByText('you will be signed out').waitFor();
    await ask.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
  });
});
