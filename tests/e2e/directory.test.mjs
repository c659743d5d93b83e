// The Directory pages in a real browser against a real `scimitar serve`: populations,
// users (search, create, edit, disable, delete), groups with nested members and a dynamic
// filter, and the API's errors shown next to the field they concern.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, startServe, launchBrowser } from './lib.mjs';

test('directory: populations, users and groups through the console', async () => {
  await withConsole({}, async ({ serve, page, users }) => {
    // Populations: create one, and see the API's conflict next to the Name field.
    await page.getByRole('link', { name: 'Populations' }).click();
    await page.getByRole('table', { name: 'Populations' }).getByRole('link', { name: 'Sales' }).waitFor();
    await page.getByRole('button', { name: 'Add Population' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add Population' });
    await dlg.getByLabel('Name', { exact: true }).fill('Sales');
    await dlg.getByRole('button', { name: 'Create Population' }).click();
    const nameInput = dlg.getByLabel('Name', { exact: true });
    await waitUntil(async () => (await nameInput.getAttribute('aria-invalid')) === 'true', { what: 'the Name field to be marked invalid' });
    const described = await nameInput.getAttribute('aria-describedby');
    const errText = await page.locator(`#${described.split(' ').pop()}`).textContent();
    assert.match(errText, /already exists/, 'the 409 message is next to the Name field');
    await nameInput.fill('Support');
    await dlg.getByRole('button', { name: 'Create Population' }).click();
    await page.getByRole('table', { name: 'Populations' }).getByRole('link', { name: 'Support' }).waitFor();

    // Deleting a population that still has users gives the API's clear 409.
    await page.getByRole('button', { name: 'Delete Engineering' }).click();
    await page.getByRole('dialog', { name: 'Delete population' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('alert').filter({ hasText: /user/i }).waitFor();

    // Users: bad input is refused with the message next to Email Address.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('table', { name: 'Users' }).getByRole('button', { name: 'ada', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Add User' }).click();
    const ud = page.getByRole('dialog', { name: 'Add User' });
    await ud.getByLabel('Username').fill('dee');
    await ud.getByLabel('Population').selectOption({ label: 'Support' });
    await ud.getByLabel('Given Name').fill('Dee');
    await ud.getByLabel('Email Address').fill('not-an-email');
    await ud.getByRole('button', { name: 'Create User' }).click();
    const email = ud.getByLabel('Email Address');
    await waitUntil(async () => (await email.getAttribute('aria-invalid')) === 'true', { what: 'the email field to be marked invalid' });
    const emailErr = await page.locator(`#${(await email.getAttribute('aria-describedby')).split(' ').pop()}`).textContent();
    assert.match(emailErr, /email/i);
    await screenshot(page, 'users-bad-input');
    await email.fill('dee@example.com');
    await ud.getByRole('button', { name: 'Create User' }).click();
    await page.getByRole('table', { name: 'Users' }).getByRole('button', { name: 'dee', exact: true }).waitFor();
    const dee = (await serve.ok('GET', '/api/v1/users?q=dee')).items.find((u) => u.username === 'dee');
    assert.equal(dee.email, 'dee@example.com');
    assert.equal(dee.population.name, 'Support');

    // Search narrows the list.
    await page.getByLabel('Search users').fill('cyd');
    await waitUntil(async () => (await page.getByRole('table', { name: 'Users' }).locator('tbody tr').count()) === 1, { what: 'search to leave one row' });
    await page.getByLabel('Search users').fill('');
    await page.getByRole('table', { name: 'Users' }).getByRole('button', { name: 'dee', exact: true }).waitFor();

    // Edit a user.
    await page.getByRole('button', { name: 'Edit dee' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit dee' });
    await ed.getByLabel('Title').fill('Support Lead');
    await ed.getByRole('button', { name: 'Save' }).click();
    await waitUntil(async () => (await serve.ok('GET', `/api/v1/users/${dee.id}`)).title === 'Support Lead', { what: 'the title to be saved' });

    // Disable and enable from the list.
    await page.getByRole('button', { name: 'Disable dee' }).click();
    await page.getByRole('button', { name: 'Enable dee' }).waitFor();
    assert.equal((await serve.ok('GET', `/api/v1/users/${dee.id}`)).enabled, false);
    await screenshot(page, 'users');

    // Delete.
    await page.getByRole('button', { name: 'Edit dee' }).click();
    await page.getByRole('dialog', { name: 'Edit dee' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete user' }).getByRole('button', { name: 'Delete' }).click();
    await waitUntil(async () => (await serve.api('GET', `/api/v1/users/${dee.id}`)).status === 404, { what: 'dee to be deleted' });

    // Groups: a group with a user, a nested group, and a dynamic filter.
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('button', { name: 'Add Group' }).click();
    let gd = page.getByRole('dialog', { name: 'Add Group' });
    await gd.getByLabel('Name', { exact: true }).fill('Builders');
    await gd.getByRole('button', { name: 'Create Group' }).click();
    await page.getByRole('heading', { name: 'Builders' }).waitFor();
    await page.getByLabel('User', { exact: true }).fill('bob');
    await page.getByRole('button', { name: 'Add User' }).click();
    await page.getByRole('button', { name: 'Remove bob' }).waitFor();

    // The group page has its own Add Group (members): wait for the list page first.
    await page.getByRole('link', { name: 'Groups', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Groups', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Add Group' }).click();
    gd = page.getByRole('dialog', { name: 'Add Group' });
    await gd.getByLabel('Name', { exact: true }).fill('Everyone');
    await gd.getByRole('button', { name: 'Create Group' }).click();
    await page.getByRole('heading', { name: 'Everyone' }).waitFor();
    await page.getByLabel('Group', { exact: true }).selectOption({ label: 'Builders' });
    await page.getByRole('button', { name: 'Add Group' }).click();
    await page.getByRole('button', { name: 'Remove Builders' }).waitFor();
    // bob is an effective member through the nested group.
    await page.getByRole('region', { name: 'Effective members' }).getByText('bob', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Make dynamic' }).click();
    const dyn = page.getByRole('region', { name: 'Dynamic membership' });
    await dyn.getByLabel('Attribute', { exact: true }).selectOption({ label: 'Population Name' });
    await dyn.getByLabel('Operator', { exact: true }).selectOption({ label: 'Equals' });
    await dyn.getByLabel('Value', { exact: true }).selectOption('Engineering');
    await dyn.getByRole('button', { name: 'Save filter' }).click();
    await page.getByText('Dynamic', { exact: true }).first().waitFor();
    const groups = (await serve.ok('GET', '/api/v1/groups')).items;
    const everyone = groups.find((g) => g.name === 'Everyone');
    assert.deepEqual(everyone.userFilter.conditions[0], { attribute: 'population.name', operator: 'EQUALS', value: 'Engineering' });
    await page.getByRole('region', { name: 'Effective members' }).getByText('cyd', { exact: true }).waitFor();
    await screenshot(page, 'group');
    assert.ok(users.ada);

    // The user's dialog lists the groups, direct and inherited.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Edit bob' }).click();
    const ug = page.getByRole('dialog', { name: 'Edit bob' }).getByRole('region', { name: 'Groups' });
    await ug.getByText('Builders', { exact: true }).waitFor();
    await ug.getByText(/^Everyone/).waitFor();
    await page.keyboard.press('Escape');

    // A population's name leads to its users.
    await page.getByRole('link', { name: 'Populations' }).click();
    await page.getByRole('table', { name: 'Populations' }).getByRole('link', { name: 'Engineering' }).click();
    await waitUntil(async () => {
      const rows = await page.getByRole('table', { name: 'Users' }).locator('tbody tr').allTextContents();
      return rows.length === 1 && /cyd/.test(rows[0]);
    }, { what: 'only the Engineering users' });

    // A group is deleted from its own page.
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'Everyone' }).click();
    await page.getByRole('button', { name: 'Delete group' }).click();
    await page.getByRole('dialog', { name: 'Delete group' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'Builders' }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'Everyone' }).count(), 0);
  });
});

test('sign-in: the admin token in session storage, no cookies, a strict CSP, sign out', async () => {
  const serve = await startServe();
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    const res = await page.goto(`${serve.base}/`);
    const csp = res.headers()['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    await page.getByLabel('Admin token').fill('wrong-token-0123456789');
    await page.getByRole('button', { name: 'Sign In' }).click();
    const tok = page.getByLabel('Admin token');
    await waitUntil(async () => (await tok.getAttribute('aria-invalid')) === 'true', { what: 'the token field to be marked invalid' });
    await page.getByText('This token is not valid for this server.').waitFor();
    await tok.fill(serve.token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Provisioning', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('scimitar.token')), serve.token);
    assert.deepEqual(await browser.context.cookies(), [], 'the console sets no cookie');
    // A reload keeps the session (same tab); Sign Out ends it.
    await page.reload();
    await page.getByRole('heading', { name: 'Provisioning', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign Out' }).click();
    await page.getByLabel('Admin token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('scimitar.token')), null);
    assert.deepEqual(browser.errors, []);
  } finally {
    await browser.close();
    await serve.stop();
  }
});

test('keyboard: menus, dialogs, forms and tabs work without a mouse', async () => {
  await withConsole({}, async ({ serve, page }) => {
    await page.goto(`${serve.base}/#/provisioning`);
    await page.getByRole('button', { name: 'Add', exact: true }).focus();
    await page.keyboard.press('Enter');
    await waitUntil(() => page.evaluate(() => document.activeElement?.textContent === 'New Connection'), { what: 'focus on New Connection' });
    await page.keyboard.press('ArrowDown');
    await waitUntil(() => page.evaluate(() => document.activeElement?.textContent === 'New Rule'), { what: 'focus on New Rule' });
    await page.keyboard.press('Enter');
    const dlg = page.getByRole('dialog', { name: 'New Rule' });
    await waitUntil(() => dlg.getByLabel('Name', { exact: true }).evaluate((el) => el === document.activeElement), { what: 'focus in the Name field' });
    await page.keyboard.type('Keyboard rule');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Keyboard rule', level: 1 }).waitFor();
    assert.equal((await serve.ok('GET', '/api/v1/rules')).items[0].name, 'Keyboard rule');

    // Tabs move with the arrow keys and keep the focus.
    await page.getByRole('tab', { name: 'Configuration' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tab', { name: 'Sync Status', selected: true }).waitFor();
    await waitUntil(() => page.getByRole('tab', { name: 'Sync Status' }).evaluate((el) => el === document.activeElement), { what: 'focus on the Sync Status tab' });

    // Escape closes a dialog and gives the focus back.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Add User' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Add User' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Add User' }).waitFor({ state: 'detached' });
    await waitUntil(() => page.getByRole('button', { name: 'Add User' }).evaluate((el) => el === document.activeElement), { what: 'focus back on Add User' });
  });
});
