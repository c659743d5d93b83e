// The seed document's four procedures, click by click, with the seed's own words:
// creating the provisioning connection (with Test Connection against a real
// `scimitar target --no-delete`), creating the rule, configuring its population filter and
// its attribute mapping; then enabling both and checking on the target that the users of
// that population arrived with the mapped values (and no one else did).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, counter } from './lib.mjs';

const SEED_TABLE_1 = [['userName', 'Username'], ['givenName', 'Given Name'], ['familyName', 'Family Name'], ['workPhone', 'Primary Phone'], ['workEmail', 'Email Address']];
const SEED_TABLE_2 = [['externalId', 'External ID'], ['workCity', 'Locality'], ['workStreetAddeess', 'Street Address'], ['workCountry', 'Country Code'],
  ['workPostalCode', 'Postal Code'], ['userType', 'Type'], ['title', 'Title'], ['nickName', 'Nickname'], ['formattedName', 'Formatted']];

const work = (list) => (list || []).find((x) => x.type === 'work') || {};

test('seed: the four procedures of the Code42 walkthrough, click by click', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    // ---- Creating a provisioning connection ----
    // 1. Go to Integrations > Provisioning.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByText('Integrations').waitFor();
    await nav.getByRole('link', { name: 'Provisioning', exact: true }).click();
    await page.getByRole('heading', { name: 'Provisioning', level: 1 }).waitFor();
    // 2. Click +, then New Connection.
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menuitem', { name: 'New Connection' }).click();
    const wiz = page.getByRole('dialog', { name: 'New Connection' });
    // 3. In the Choose a connection type section, select Identity Store.
    await wiz.getByRole('region', { name: 'Choose a connection type' }).getByRole('button', { name: /Identity Store/ }).click();
    // 4. On the SCIM Outbound tile, click Select, and then click Next.
    await wiz.getByRole('region', { name: 'SCIM Outbound' }).getByRole('button', { name: 'Select' }).click();
    await screenshot(page, 'seed-01-connection-type');
    await wiz.getByRole('button', { name: 'Next' }).click();
    // 5. Enter a name and description, then click Next.
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByLabel('Description', { exact: true }).fill('Provisioning to Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    // 6. Configure Authentication.
    await wiz.getByRole('heading', { name: 'Configure Authentication' }).waitFor();
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    assert.equal(await wiz.getByLabel('Users Resource').inputValue(), '/Users');
    assert.equal(await wiz.getByLabel('SCIM Version').inputValue(), '2.0');
    await wiz.getByLabel('Authentication Method').selectOption({ label: 'OAuth 2 Bearer Token' });
    await wiz.getByLabel('OAuth Access Token').fill(target.token);
    assert.equal(await wiz.getByLabel('Auth Type Header').inputValue(), 'Bearer');
    await wiz.getByRole('button', { name: 'Test Connection' }).click();
    const report = wiz.getByRole('region', { name: 'Test Connection results' });
    await report.getByText('Connection test passed.').waitFor();
    assert.equal(await report.locator('li.step-fail').count(), 0);
    assert.ok(await report.locator('li.step-ok').count() >= 3, 'each step is reported');
    await screenshot(page, 'seed-02-configure-authentication');
    await wiz.getByRole('button', { name: 'Next' }).click();
    // 7. Configure Preferences: the seed's defaults, then Save.
    await wiz.getByRole('heading', { name: 'Configure Preferences' }).waitFor();
    assert.equal(await wiz.getByLabel('User Filter Expression').inputValue(), 'username Eq "%s"');
    assert.equal(await wiz.getByLabel('User Identifier').inputValue(), 'userName');
    assert.equal(await wiz.getByLabel('Remove Action').inputValue(), 'DISABLE');
    for (const l of ['Allow users to be created', 'Allow users to be updated', 'Allow users to be disabled']) {
      assert.equal(await wiz.getByLabel(l).isChecked(), true, l);
    }
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });
    // 8. To enable the connection, in its details pane, click the toggle.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    await pane.getByRole('heading', { name: 'Code42' }).waitFor();
    assert.equal(await pane.getByText('********').count(), 1, 'the token is never shown back');
    const connToggle = pane.getByRole('switch', { name: 'Enable connection' });
    await connToggle.click();
    await waitUntil(async () => (await connToggle.getAttribute('aria-checked')) === 'true', { what: 'the connection toggle' });
    const conns = (await serve.ok('GET', '/api/v1/connections')).items;
    assert.equal(conns.length, 1);
    assert.equal(conns[0].enabled, true);
    assert.equal(conns[0].scim.baseUrl, target.scimBase);
    assert.equal(conns[0].auth.method, 'OAUTH2_BEARER');
    await screenshot(page, 'seed-03-connection-details');

    // ---- Creating a provisioning rule ----
    // 1-2. Integrations > Provisioning, +, New Rule.
    await nav.getByRole('link', { name: 'Provisioning', exact: true }).click();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menuitem', { name: 'New Rule' }).click();
    // 3. Name and description, Create Rule.
    const nr = page.getByRole('dialog', { name: 'New Rule' });
    await nr.getByLabel('Name', { exact: true }).fill('Code42 users');
    await nr.getByLabel('Description', { exact: true }).fill('Sales to Code42');
    await nr.getByRole('button', { name: 'Create Rule' }).click();
    // 4. On the Configuration tab: Target, then + in the connection's row.
    await page.getByRole('tab', { name: 'Configuration', selected: true }).waitFor();
    await page.getByRole('button', { name: 'Target', exact: true }).click();
    const targetSec = page.getByRole('region', { name: 'Target' });
    await targetSec.getByRole('heading', { name: 'Available Connections' }).waitFor();
    await targetSec.getByText('you must enable the connection before you can enable this rule').waitFor();
    await targetSec.getByRole('table', { name: 'Available Connections' }).getByRole('row', { name: /Code42/ }).getByRole('button', { name: 'Add Code42 as target' }).click();
    // Result: the directory is the Source.
    await targetSec.getByText('Source').waitFor();
    await targetSec.getByText('Directory', { exact: true }).waitFor();
    // 5. Save.
    await targetSec.getByRole('button', { name: 'Save' }).click();
    const rules = () => serve.ok('GET', '/api/v1/rules').then((b) => b.items);
    await waitUntil(async () => (await rules())[0]?.target === conns[0].id, { what: 'the rule to target the connection' });
    await screenshot(page, 'seed-04-rule-target');

    // ---- Configuring a user filter ----
    // 1-2. User Filter, then the pencil.
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const filterSec = page.getByRole('region', { name: 'User Filter' });
    await filterSec.getByRole('button', { name: 'Edit user filter' }).click();
    // 3. All; Attribute Population Name; Operator Equals; Value Sales.
    await filterSec.getByRole('radio', { name: 'All' }).check();
    await filterSec.getByLabel('Attribute', { exact: true }).selectOption({ label: 'Population Name' });
    await filterSec.getByLabel('Operator', { exact: true }).selectOption({ label: 'Equals' });
    await filterSec.getByLabel('Value', { exact: true }).selectOption('Sales');
    // The + Add menu offers conditions and condition sets.
    await filterSec.getByRole('button', { name: 'Add', exact: true }).click();
    await filterSec.getByRole('menuitem', { name: 'Condition Set' }).waitFor();
    await filterSec.getByRole('menuitem', { name: 'Condition', exact: true }).waitFor();
    await page.keyboard.press('Escape');
    await screenshot(page, 'seed-05-user-filter');
    // 4. Save.
    await filterSec.getByRole('button', { name: 'Save' }).click();
    await filterSec.getByRole('button', { name: 'Edit user filter' }).waitFor();
    await filterSec.getByText('Population Name').waitFor();
    const rule = (await rules())[0];
    const f = await serve.ok('GET', `/api/v1/rules/${rule.id}/filter`);
    assert.equal(f.match, 'ALL');
    assert.deepEqual(f.conditions, [{ attribute: 'population.name', operator: 'EQUALS', value: 'Sales' }]);

    // ---- Configuring attribute mapping ----
    // 1-2. Attribute Mapping, the pencil; the default attributes are within the mapping.
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const mapSec = page.getByRole('region', { name: 'Attribute Mapping' });
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    const rowsOf = async () => {
      const out = [];
      for (const tr of await mapSec.locator('tbody tr').all()) {
        out.push([await tr.getByLabel('Target attribute').inputValue(), await tr.getByLabel('Source attribute').inputValue()]);
      }
      return out;
    };
    const rows = await rowsOf();
    for (const pair of [...SEED_TABLE_1, ...SEED_TABLE_2]) {
      assert.ok(rows.some(([t, s]) => t === pair[0] && s === pair[1]), `the mapping has ${pair[0]} <- ${pair[1]}`);
    }
    // 2.1 Add a row with source and target (then remove it again: the seed's mapping is complete).
    const before = rows.length;
    await mapSec.getByRole('button', { name: 'Add', exact: true }).click();
    assert.equal(await mapSec.locator('tbody tr').count(), before + 1);
    await mapSec.locator('tbody tr').last().getByRole('button', { name: 'Remove mapping' }).click();
    await screenshot(page, 'seed-06-attribute-mapping', { fullPage: true });
    // 4. Save.
    await mapSec.getByRole('button', { name: 'Save' }).click();
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    const mappings = await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`);
    assert.equal(mappings.length, 14);
    assert.deepEqual(mappings.find((m) => m.target === 'workEmail'), { target: 'workEmail', source: 'email' });

    // The rule's name is in the list on the Rules tab.
    await page.getByRole('link', { name: 'Rules', exact: true }).click();
    await page.getByRole('table', { name: 'Rules' }).getByRole('link', { name: 'Code42 users' }).click();
    // 6. To enable the rule, in its details pane, click the toggle.
    const ruleToggle = page.getByRole('switch', { name: 'Enable rule' });
    await ruleToggle.click();
    await waitUntil(async () => (await ruleToggle.getAttribute('aria-checked')) === 'true', { what: 'the rule toggle' });

    // The users of the Sales population arrive on the target with the mapped values.
    const onTarget = await waitUntil(async () => {
      const u = await target.users();
      return u.ada && u.bob ? u : null;
    }, { timeout: 30000, what: 'ada and bob on the target' });
    assert.equal(onTarget.cyd, undefined, 'cyd (Engineering) is not in scope');
    const ada = onTarget.ada;
    assert.equal(ada.active, true);
    assert.equal(ada.name.givenName, 'Ada');
    assert.equal(ada.name.familyName, 'Lovelace');
    assert.equal(ada.name.formatted, 'Ada Lovelace');
    assert.equal(ada.nickName, 'Ada');
    assert.equal(ada.title, 'Title 1');
    assert.equal(ada.userType, 'Employee');
    assert.equal(ada.externalId, 'E101');
    assert.equal(work(ada.emails).value, 'ada@example.com');
    assert.equal(work(ada.phoneNumbers).value, '+1 555 0101');
    const addr = work(ada.addresses);
    assert.equal(addr.streetAddress, '1 Main St');
    assert.equal(addr.locality, 'Springfield');
    assert.equal(addr.postalCode, '62701');
    assert.equal(addr.country, 'US');
    assert.equal(work(onTarget.bob.emails).value, 'bob@example.com');

    // The rule's sync status shows them.
    await page.getByRole('tab', { name: 'Sync Status' }).click();
    await waitUntil(async () => (await counter(page, 'Success')) >= 2, { timeout: 30000, what: 'the Success counter' });
    await page.getByRole('table', { name: 'Rule users' }).getByText('ada', { exact: true }).waitFor();
    await screenshot(page, 'seed-07-sync-status');
    await page.getByRole('tab', { name: 'Log' }).click();
    await page.getByRole('table', { name: 'Provisioning log' }).getByText('bob', { exact: true }).first().waitFor();
    await screenshot(page, 'seed-08-log');
  });
});
