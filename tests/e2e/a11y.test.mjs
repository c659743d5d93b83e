// Accessibility of the console to WCAG 2.1 AA. axe-core checks every page and dialog
// (and each state with its own markup: errors, test reports, editors, menus, notices);
// the focus indicator of every control that Tab reaches is measured against what
// surrounds it (1.4.11 asks 3:1); and the keyboard alone opens the + menu, goes through
// the New Connection wizard to Save, gets the focus back from a closed dialog, stays
// inside an open one (the rest of the page inert), and lands on the heading of each new
// page. Required fields are marked, for eyes and for screen readers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, waitUntil, checkA11y, tabThrough, measureFocus, focusedName, tabTo, provisionSales } from './lib.mjs';

async function provision(serve, target) {
  const r = await provisionSales(serve, target, { description: 'Sales to Code42' });
  await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob; }, { timeout: 30000, what: 'Sales on the target' });
  return r;
}

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

test('axe: every page and dialog of the console meets WCAG 2.1 A and AA', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const where = [];
    const check = async (name) => { assert.ok(await checkA11y(page, name) > 0, `axe ran on ${name}`); where.push(name); };
    const nav = page.getByRole('navigation', { name: 'Main' });
    const go = async (link) => {
      await nav.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: link, level: 1 }).waitFor();
    };

    // Integrations > Provisioning, the + menu and the New Connection wizard, step by step.
    await page.getByRole('heading', { name: 'Provisioning', level: 1 }).waitFor();
    await page.getByText('No connections yet').waitFor();
    await check('Provisioning without connections');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menu', { name: 'Add' }).waitFor();
    await check('the + menu');
    await page.getByRole('menuitem', { name: 'New Connection' }).click();
    const wiz = page.getByRole('dialog', { name: 'New Connection' });
    await wiz.getByRole('button', { name: /Identity Store/ }).waitFor();
    await check('New Connection: Choose a connection type');
    await wiz.getByRole('button', { name: /Identity Store/ }).click();
    await wiz.getByRole('region', { name: 'SCIM Outbound' }).getByRole('button', { name: 'Select' }).click();
    await check('New Connection: SCIM Outbound selected');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByRole('button', { name: 'Next' }).click();
    await waitUntil(async () => (await wiz.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')) === 'true', { what: 'the missing name' });
    await check('New Connection: a missing name');
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByLabel('Description', { exact: true }).fill('Provisioning to Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByRole('heading', { name: 'Configure Authentication' }).waitFor();
    await check('New Connection: Configure Authentication');
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    for (const m of ['Basic', 'OAuth 2 Client Credentials', 'None']) {
      await wiz.getByLabel('Authentication Method').selectOption({ label: m });
      await check(`New Connection: authentication ${m}`);
    }
    await wiz.getByLabel('Authentication Method').selectOption({ label: 'OAuth 2 Bearer Token' });
    await wiz.getByLabel('OAuth Access Token').fill('not-the-token');
    await wiz.getByRole('button', { name: 'Test Connection' }).click();
    await wiz.getByText('Connection test failed.').waitFor();
    await check('New Connection: a failed Test Connection');
    await wiz.getByLabel('OAuth Access Token').fill(target.token);
    await wiz.getByRole('button', { name: 'Test Connection' }).click();
    await wiz.getByText('Connection test passed.').waitFor();
    await check('New Connection: a passed Test Connection');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByRole('heading', { name: 'Configure Preferences' }).waitFor();
    await check('New Connection: Configure Preferences');
    await wiz.getByText('Advanced').click();
    await wiz.getByRole('button', { name: 'Add header' }).click();
    await check('New Connection: Advanced with a custom header');
    await wiz.getByRole('button', { name: 'Remove header' }).click();
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });

    // The connection's details pane, its test, Edit and Delete.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    await pane.getByRole('heading', { name: 'Code42' }).waitFor();
    await check('a connection in the list, its details pane open');
    const connToggle = pane.getByRole('switch', { name: 'Enable connection' });
    await connToggle.click();
    await waitUntil(async () => (await connToggle.getAttribute('aria-checked')) === 'true', { what: 'the connection toggle' });
    await pane.getByRole('button', { name: 'Test Connection' }).click();
    await pane.getByText('Connection test passed.').waitFor();
    await pane.getByRole('region', { name: 'What the target supports' }).getByText('Tested', { exact: true }).waitFor();
    await check('the details pane with a test report, the target\'s capabilities and a notice');
    await pane.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog', { name: 'Edit Code42' }).getByLabel('Name', { exact: true }).waitFor();
    await check('Edit Code42');
    await page.keyboard.press('Escape');
    await pane.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete connection' }).waitFor();
    await check('Delete connection');
    await page.getByRole('dialog', { name: 'Delete connection' }).getByRole('button', { name: 'Cancel' }).click();

    // New Rule, and the rule's Configuration with each section and editor.
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menuitem', { name: 'New Rule' }).click();
    const nr = page.getByRole('dialog', { name: 'New Rule' });
    await nr.getByRole('button', { name: 'Create Rule' }).click();
    await waitUntil(async () => (await nr.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')) === 'true', { what: 'the missing rule name' });
    await check('New Rule with a missing name');
    await nr.getByLabel('Name', { exact: true }).fill('Code42 users');
    await nr.getByRole('button', { name: 'Create Rule' }).click();
    await page.getByRole('heading', { name: 'Code42 users', level: 1 }).waitFor();
    await check('a rule: Configuration');
    await page.getByRole('button', { name: 'Target', exact: true }).click();
    const targetSec = page.getByRole('region', { name: 'Target' });
    await targetSec.getByRole('button', { name: 'Add Code42 as target' }).click();
    await check('the rule\'s Target, a connection chosen');
    await targetSec.getByRole('button', { name: 'Save' }).click();
    await waitUntil(async () => (await targetSec.getByRole('button', { name: 'Save' }).getAttribute('aria-disabled')) === 'true', { what: 'the target to be saved' });
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const filterSec = page.getByRole('region', { name: 'User Filter' });
    await filterSec.getByRole('button', { name: 'Edit user filter' }).click();
    await filterSec.getByLabel('Value', { exact: true }).selectOption('Sales');
    await check('the User Filter editor');
    await filterSec.getByRole('button', { name: 'Add', exact: true }).click();
    await filterSec.getByRole('menuitem', { name: 'Condition Set' }).click();
    await check('the User Filter editor with a condition set');
    await filterSec.getByRole('button', { name: 'Remove condition set' }).click();
    await filterSec.getByRole('button', { name: 'Save' }).click();
    await filterSec.getByText('Population Name').waitFor();
    await check('the User Filter');
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const mapSec = page.getByRole('region', { name: 'Attribute Mapping' });
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    const first = mapSec.locator('tbody tr.map-row').first();
    await first.getByRole('button', { name: 'Test source' }).click();
    await mapSec.getByLabel('Test with user').fill('ada');
    await mapSec.getByRole('button', { name: 'Run test' }).click();
    await mapSec.getByText('For ada:').waitFor();
    await check('the Attribute Mapping editor with a Test');
    await mapSec.getByRole('button', { name: 'Save' }).click();
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    await check('the Attribute Mapping');

    // Enabled, the rule provisions: Sync Status, Full Resync, Edit, Delete, Log, the Rules tab.
    await page.getByRole('switch', { name: 'Enable rule' }).click();
    await waitUntil(async () => { const u = await target.users(); return u.ada && u.bob; }, { timeout: 30000, what: 'Sales on the target' });
    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await page.getByRole('table', { name: 'Rule users' }).getByText('ada', { exact: true }).waitFor();
    await check('a rule: Sync Status');
    await page.getByRole('button', { name: 'Full Resync' }).click();
    const resync = page.getByRole('dialog', { name: 'Full Resync' });
    await resync.getByText(/Nothing to send|users in scope/).first().waitFor();
    await check('Full Resync (dry run)');
    await resync.getByLabel('Verify accounts on the target').check();
    await resync.getByText(/linked accounts? checked on the target/).waitFor();
    await check('Full Resync with verify (dry run)');
    await resync.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Edit rule name and description' }).click();
    await page.getByRole('dialog', { name: 'Edit Code42 users' }).waitFor();
    await check('Edit rule');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Delete rule' }).click();
    await page.getByRole('dialog', { name: 'Delete rule' }).waitFor();
    await check('Delete rule');
    await page.getByRole('dialog', { name: 'Delete rule' }).getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('tab', { name: 'Log' }).click();
    await page.getByRole('table', { name: 'Provisioning log' }).getByText('ada', { exact: true }).first().waitFor();
    await check('a rule: Log');
    await go('Provisioning');
    await page.getByRole('tab', { name: 'Rules' }).click();
    await page.getByRole('table', { name: 'Rules' }).waitFor();
    await check('Provisioning: Rules');

    // The directory.
    await go('Users');
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await check('Users');
    await page.getByRole('button', { name: 'Add User' }).click();
    const add = page.getByRole('dialog', { name: 'Add User' });
    await add.getByRole('button', { name: 'Create User' }).click();
    await waitUntil(async () => (await add.getByLabel('Username').getAttribute('aria-invalid')) === 'true', { what: 'the missing username' });
    await check('Add User with a missing username');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Edit ada' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit ada' });
    await edit.getByRole('region', { name: 'Groups' }).getByText('Not a member of any group.').waitFor();
    await check('Edit ada');
    await edit.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete user' }).waitFor();
    await check('Delete user (over Edit ada)');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await go('Populations');
    await page.getByRole('table', { name: 'Populations' }).waitFor();
    await page.getByRole('button', { name: 'Delete Engineering' }).click();
    await page.getByRole('dialog', { name: 'Delete population' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('alert').filter({ hasText: /user/i }).waitFor();
    await check('Populations with an error');
    await page.getByRole('button', { name: 'Add Population' }).click();
    await page.getByRole('dialog', { name: 'Add Population' }).waitFor();
    await check('Add Population');
    await page.keyboard.press('Escape');
    await go('Groups');
    await page.getByText('No groups yet').waitFor();
    await check('Groups without groups');
    await page.getByRole('button', { name: 'Add Group' }).click();
    const gd = page.getByRole('dialog', { name: 'Add Group' });
    await gd.getByLabel('Name', { exact: true }).fill('Builders');
    await check('Add Group');
    await gd.getByRole('button', { name: 'Create Group' }).click();
    await page.getByRole('heading', { name: 'Builders', level: 1 }).waitFor();
    await page.getByLabel('User', { exact: true }).fill('bob');
    await page.getByRole('button', { name: 'Add User' }).click();
    await page.getByRole('button', { name: 'Remove bob' }).waitFor();
    await check('a group with a member');
    await page.getByRole('button', { name: 'Make dynamic' }).click();
    await page.getByRole('region', { name: 'Dynamic membership' }).getByRole('button', { name: 'Save filter' }).waitFor();
    await check('a group\'s dynamic membership editor');
    await go('Groups');
    await page.getByRole('table', { name: 'Groups' }).waitFor();
    await check('Groups');

    // Monitoring > Provisioning Log, an entry's attributes unfolded.
    await go('Provisioning Log');
    const log = page.getByRole('table', { name: 'Provisioning log' });
    await log.getByText(/\d+ attributes/).first().click();
    await check('Provisioning Log');

    // System > Cluster: this node's row.
    await go('Cluster');
    await page.getByRole('table', { name: 'Nodes' }).getByText('This node').waitFor();
    await check('Cluster');

    // The sign-in page, and its error.
    await page.getByRole('button', { name: 'Sign Out' }).click();
    await page.getByLabel('Admin token').waitFor();
    await check('Sign in');
    await page.getByLabel('Admin token').fill('wrong-token-0123456789');
    await page.getByRole('button', { name: 'Sign In' }).click();
    await page.getByText('This token is not valid for this server.').waitFor();
    await check('Sign in with a wrong token');
    console.log(`axe checked ${where.length} screens`);
    assert.ok(where.length >= 47, `axe checked ${where.length} screens`);
  });
});

test('focus indicators: every control Tab reaches draws a ring of 3:1 or more', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const { rule } = await provision(serve, target);
    const rings = [];
    const walk = async (name) => {
      const got = await tabThrough(page);
      assert.ok(got.length > 0, `Tab reached nothing on ${name}`);
      rings.push(...got.map((r) => ({ ...r, where: name })));
    };
    const measure = async (name) => rings.push({ ...(await measureFocus(page)), where: name });

    await page.getByRole('button', { name: 'Sign Out' }).click();
    await page.getByLabel('Admin token').waitFor();
    await walk('Sign in');
    await page.getByLabel('Admin token').fill(serve.token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Provisioning', level: 1 }).waitFor();

    // The sidebar, the page and the details pane.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    await page.getByRole('complementary', { name: 'Details' }).getByRole('heading', { name: 'Code42' }).waitFor();
    await walk('Provisioning with the details pane');
    // The + menu's items, moved through with the arrows.
    await page.getByRole('button', { name: 'Add', exact: true }).focus();
    await page.keyboard.press('Enter');
    await measure('+ menu');
    await page.keyboard.press('ArrowDown');
    await measure('+ menu');
    // The wizard, each step (Tab stays in the dialog, so the walk ends there).
    await page.keyboard.press('Home');
    await page.keyboard.press('Enter');
    const wiz = page.getByRole('dialog', { name: 'New Connection' });
    await wiz.getByRole('button', { name: /Identity Store/ }).click();
    await wiz.getByRole('button', { name: 'Select' }).click();
    await walk('wizard: type');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await walk('wizard: name');
    await wiz.getByLabel('Name', { exact: true }).fill('Other');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await walk('wizard: authentication');
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByText('Advanced').click();
    await wiz.getByRole('button', { name: 'Add header' }).click();
    await walk('wizard: preferences');
    await page.keyboard.press('Escape');

    // A rule: the header, tabs, each configuration section and editor, status and log.
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'Target', exact: true }).click();
    await page.getByRole('region', { name: 'Target' }).getByRole('heading', { name: 'Available Connections' }).waitFor();
    await walk('rule: Target');
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const filterSec = page.getByRole('region', { name: 'User Filter' });
    await filterSec.getByRole('button', { name: 'Edit user filter' }).click();
    await walk('rule: User Filter editor');
    await filterSec.getByRole('button', { name: 'Add', exact: true }).focus();
    await page.keyboard.press('Enter');
    await measure('User Filter: Add menu');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const mapSec = page.getByRole('region', { name: 'Attribute Mapping' });
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    await mapSec.locator('tbody tr.map-row').first().getByRole('button', { name: 'Test source' }).click();
    await walk('rule: Attribute Mapping editor');
    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await page.getByRole('table', { name: 'Rule users' }).waitFor();
    await walk('rule: Sync Status');
    await page.getByRole('button', { name: 'Full Resync' }).click();
    await page.getByRole('dialog', { name: 'Full Resync' }).getByText(/Nothing to send|users in scope/).first().waitFor();
    await walk('Full Resync');
    await page.keyboard.press('Escape');

    // The directory and the log.
    await page.goto(`${serve.base}/#/directory/users`);
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await walk('Users');
    await page.getByRole('button', { name: 'Edit ada' }).click();
    await page.getByRole('dialog', { name: 'Edit ada' }).getByLabel('Username').waitFor();
    await walk('Edit ada');
    await page.keyboard.press('Escape');
    await page.goto(`${serve.base}/#/directory/populations`);
    await page.getByRole('table', { name: 'Populations' }).waitFor();
    await walk('Populations');
    const g = await serve.ok('POST', '/api/v1/groups', { name: 'Builders' });
    await page.goto(`${serve.base}/#/directory/groups/${g.id}`);
    await page.getByRole('heading', { name: 'Builders', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Make dynamic' }).click();
    await walk('a group, dynamic membership editor');
    await page.goto(`${serve.base}/#/logs`);
    await page.getByRole('table', { name: 'Provisioning log' }).waitFor();
    await walk('Provisioning Log');
    await page.goto(`${serve.base}/#/system/cluster`);
    await page.getByRole('table', { name: 'Nodes' }).getByText('This node').waitFor();
    await walk('Cluster');

    const weak = rings.filter((r) => r.style === 'none' || r.width < 2 || r.ratio < 3);
    assert.deepEqual(weak, [], `focus indicators under 3:1 (or none):\n${weak.map((r) => JSON.stringify(r)).join('\n')}`);
    const low = rings.reduce((a, r) => (r.ratio < a.ratio ? r : a));
    console.log(`focus rings measured: ${rings.length}; lowest contrast ${low.ratio}:1 (${low.what} on ${low.where})`);
    assert.ok(rings.length > 150, `measured ${rings.length} focus rings`);
  });
});

test('keyboard: the + menu, the wizard to Save, Escape, the focus trap, page headings', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    // A new page puts the focus on its heading: the Provisioning page after sign-in.
    const heading = page.getByRole('heading', { name: 'Provisioning', level: 1 });
    await waitUntil(() => isFocused(heading), { what: 'focus on the Provisioning heading' });

    // The + menu: Tab from the heading reaches +; Enter opens the menu on its first item;
    // the arrows, Home and End move; Escape closes it and gives the focus back to +.
    await page.keyboard.press('Tab');
    assert.equal(await focusedName(page), 'Add');
    const plus = page.getByRole('button', { name: 'Add', exact: true });
    await page.keyboard.press('Enter');
    assert.equal(await plus.getAttribute('aria-expanded'), 'true');
    assert.equal(await focusedName(page), 'New Connection');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focusedName(page), 'New Rule');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focusedName(page), 'New Connection', 'the arrows wrap around');
    await page.keyboard.press('End');
    assert.equal(await focusedName(page), 'New Rule');
    await page.keyboard.press('Escape');
    assert.equal(await plus.getAttribute('aria-expanded'), 'false');
    assert.ok(await isFocused(plus), 'Escape gives the focus back to +');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focusedName(page), 'New Rule', 'ArrowUp opens the menu on its last item');
    await page.keyboard.press('Tab');
    assert.equal(await plus.getAttribute('aria-expanded'), 'false', 'Tab closes the menu');
    assert.equal(await focusedName(page), 'Connections', 'and moves on past +');

    // The New Connection wizard, start to Save, with the keyboard alone.
    await page.keyboard.press('Shift+Tab');
    assert.ok(await isFocused(plus));
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    const wiz = page.getByRole('dialog', { name: 'New Connection' });
    await wiz.waitFor();
    assert.equal(await page.evaluate(() => document.getElementById('app').inert), true, 'the page behind the dialog is inert');
    await waitUntil(async () => /Identity Store/.test(await focusedName(page)), { what: 'focus on Identity Store' });
    await page.keyboard.press('Enter');
    await tabTo(page, 'Select');
    await page.keyboard.press('Enter');
    await tabTo(page, 'Next');
    await page.keyboard.press('Enter');
    await waitUntil(() => isFocused(wiz.getByLabel('Name', { exact: true })), { what: 'focus on Name' });
    await page.keyboard.type('Keyboard');
    await tabTo(page, 'Next');
    await page.keyboard.press('Enter');
    await waitUntil(() => isFocused(wiz.getByLabel('SCIM base URL')), { what: 'focus on SCIM base URL' });
    await page.keyboard.type(target.scimBase);
    await tabTo(page, 'OAuth Access Token');
    await page.keyboard.type(target.token);
    await tabTo(page, 'Test Connection');
    await page.keyboard.press('Enter');
    await wiz.getByText('Connection test passed.').waitFor();
    assert.equal(await focusedName(page), 'Test Connection', 'the focus stays on Test Connection while and after it runs');
    await tabTo(page, 'Next');
    await page.keyboard.press('Enter');
    await waitUntil(() => isFocused(wiz.getByLabel('User Filter Expression')), { what: 'focus on User Filter Expression' });
    await tabTo(page, 'Save');
    await page.keyboard.press('Enter');
    await wiz.waitFor({ state: 'detached' });
    await waitUntil(() => isFocused(plus), { what: 'focus back on + after Save' });
    assert.equal(await page.evaluate(() => document.getElementById('app').inert), false, 'the page is live again');
    const conns = (await serve.ok('GET', '/api/v1/connections')).items;
    assert.equal(conns.length, 1);
    assert.equal(conns[0].name, 'Keyboard');
    assert.equal(conns[0].scim.baseUrl, target.scimBase);

    // The card opens the pane; Space on the switch enables the connection.
    await tabTo(page, 'Keyboard details');
    await page.keyboard.press('Enter');
    const pane = page.getByRole('complementary', { name: 'Details' });
    await pane.getByRole('heading', { name: 'Keyboard' }).waitFor();
    await tabTo(page, 'Enable connection');
    await page.keyboard.press('Space');
    await waitUntil(async () => (await pane.getByRole('switch', { name: 'Enable connection' }).getAttribute('aria-checked')) === 'true', { what: 'the connection enabled' });
    assert.equal(await focusedName(page), 'Enable connection', 'the switch keeps the focus');
    await page.getByRole('list', { name: 'Connections' }).getByText('Enabled', { exact: true }).waitFor();

    // Escape returns the focus to the control that opened the dialog: + for a dialog opened
    // from its menu (by mouse too), Edit in the pane.
    await plus.click();
    await page.getByRole('menuitem', { name: 'New Rule' }).click();
    await page.getByRole('dialog', { name: 'New Rule' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'New Rule' }).waitFor({ state: 'detached' });
    await waitUntil(() => isFocused(plus), { what: 'focus back on + after Escape' });
    const editBtn = pane.getByRole('button', { name: 'Edit' });
    await editBtn.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Edit Keyboard' }).waitFor();
    await page.keyboard.press('Escape');
    await waitUntil(() => isFocused(editBtn), { what: 'focus back on Edit' });

    // Tab and Shift+Tab stay inside an open dialog, the wizard and a confirmation alike.
    const staysInside = async (dlg, what) => {
      for (const key of ['Tab', 'Shift+Tab']) {
        for (let i = 0; i < 25; i++) {
          await page.keyboard.press(key);
          assert.ok(await dlg.evaluate((el) => el.contains(document.activeElement)), `${key} ${i + 1} left the ${what} dialog (at ${await focusedName(page)})`);
        }
      }
    };
    await plus.focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await wiz.waitFor();
    await staysInside(wiz, 'New Connection');
    await page.keyboard.press('Escape');
    await pane.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete connection' });
    await confirm.waitFor();
    assert.equal(await focusedName(page), 'Cancel', 'a confirmation starts on Cancel');
    await staysInside(confirm, 'Delete connection');
    await page.keyboard.press('Escape');

    // A new page moves the focus to its heading, whether the page builds it at once
    // (Users) or after a fetch (a rule); a new tab of the same page keeps it on the tab.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Users', exact: true }).click();
    await waitUntil(() => isFocused(page.getByRole('heading', { name: 'Users', level: 1 })), { what: 'focus on the Users heading' });
    await nav.getByRole('link', { name: 'Groups', exact: true }).focus();
    await page.keyboard.press('Enter');
    await waitUntil(() => isFocused(page.getByRole('heading', { name: 'Groups', level: 1 })), { what: 'focus on the Groups heading' });
    const rule = await serve.ok('POST', '/api/v1/rules', { name: 'Headed' });
    await nav.getByRole('link', { name: 'Provisioning', exact: true }).click();
    await waitUntil(() => isFocused(page.getByRole('heading', { name: 'Provisioning', level: 1 })), { what: 'focus on the Provisioning heading' });
    await page.getByRole('tab', { name: 'Rules' }).click();
    await waitUntil(() => isFocused(page.getByRole('tab', { name: 'Rules', selected: true })), { what: 'focus on the selected Rules tab' });
    await page.getByRole('table', { name: 'Rules' }).getByRole('link', { name: 'Headed' }).click();
    await waitUntil(() => isFocused(page.getByRole('heading', { name: 'Headed', level: 1 })), { what: 'focus on the rule\'s heading' });
    assert.equal(await page.title(), 'Rule · scimitar');
    await page.getByRole('tab', { name: 'Log' }).click();
    await waitUntil(() => isFocused(page.getByRole('tab', { name: 'Log', selected: true })), { what: 'focus on the selected Log tab' });
    assert.ok(rule.id);
  });
});

test('required fields are marked (asterisk, required) and the mark is explained once per form', async () => {
  await withConsole({}, async ({ page }) => {
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menuitem', { name: 'New Rule' }).click();
    const nr = page.getByRole('dialog', { name: 'New Rule' });
    const name = nr.getByLabel('Name', { exact: true });
    assert.equal(await name.evaluate((el) => el.required), true);
    assert.equal(await nr.getByLabel('Description', { exact: true }).evaluate((el) => el.required), false);
    // The asterisk follows the label, hidden from screen readers (they say "required").
    const mark = await name.evaluate((el) => { const m = el.closest('.field').querySelector('.req'); return m && [m.textContent, m.getAttribute('aria-hidden'), m.checkVisibility()]; });
    assert.deepEqual(mark, ['*', 'true', true]);
    assert.equal(await nr.getByText('Fields marked * are required.').count(), 1);
    await page.keyboard.press('Escape');

    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('button', { name: 'Add User' }).click();
    const ud = page.getByRole('dialog', { name: 'Add User' });
    const required = await ud.locator('input, select, textarea').evaluateAll((els) => els.filter((e) => e.required).map((e) => e.labels[0].textContent));
    assert.deepEqual(required, ['Username', 'Population']);
    assert.equal(await ud.locator('.field .req').count(), 2);
    assert.equal(await ud.getByText('Fields marked * are required.').count(), 1);
  });
});
