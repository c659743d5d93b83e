// Connections and rules when things go wrong: a Test Connection with the wrong token
// reports each step and offers to fix it or continue anyway (a failing connection can be
// saved, as in the seed); the rule's toggle explains the API's 409 while its connection
// is disabled; bad input is reported next to the field it concerns; a late answer of an
// earlier load never overwrites the details pane.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil } from './lib.mjs';

async function openWizard(page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Provisioning', exact: true }).click();
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByRole('menuitem', { name: 'New Connection' }).click();
  const wiz = page.getByRole('dialog', { name: 'New Connection' });
  await wiz.getByRole('button', { name: /Identity Store/ }).click();
  await wiz.getByRole('region', { name: 'SCIM Outbound' }).getByRole('button', { name: 'Select' }).click();
  await wiz.getByRole('button', { name: 'Next' }).click();
  return wiz;
}

/** The error text shown for a field (its aria-describedby error slot), once it is invalid. */
async function fieldError(page, input) {
  await waitUntil(async () => (await input.getAttribute('aria-invalid')) === 'true', { what: 'the field to be marked invalid' });
  const ids = (await input.getAttribute('aria-describedby')).split(' ');
  return page.locator(`#${ids[ids.length - 1]}`).textContent();
}

test('a failing Test Connection reports each step; fix it or continue anyway', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const wiz = await openWizard(page);
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    await wiz.getByLabel('OAuth Access Token').fill('not-the-token');
    await wiz.getByRole('button', { name: 'Test Connection' }).click();
    const report = wiz.getByRole('region', { name: 'Test Connection results' });
    await report.getByText('Connection test failed.').waitFor();
    const failed = report.locator('li.step-fail');
    assert.equal(await failed.count(), 1, 'exactly one step fails');
    assert.match(await failed.textContent(), /Authentication/);
    assert.match(await failed.textContent(), /401|token/i, 'the failure says what to fix');
    assert.ok(await report.locator('li.step-ok').count() >= 2, 'the steps before it passed');
    // Fix it leads to the field to change: the token, here.
    await wiz.getByRole('button', { name: 'Fix it' }).click();
    await waitUntil(() => wiz.getByLabel('OAuth Access Token').evaluate((el) => el === document.activeElement), { what: 'focus on the token field' });
    await wiz.getByRole('button', { name: 'Continue anyway' }).waitFor();
    await screenshot(page, 'test-connection-failed');

    // Continue anyway: the connection is saved although its test failed.
    await wiz.getByRole('button', { name: 'Continue anyway' }).click();
    await wiz.getByRole('heading', { name: 'Configure Preferences' }).waitFor();
    // Advanced: a custom header (an API gateway key), a secret like the token; SCIM Bulk,
    // on by default, turned off.
    await wiz.getByText('Advanced').click();
    await wiz.getByRole('button', { name: 'Add header' }).click();
    await wiz.getByLabel('Header name').fill('X-Api-Key');
    await wiz.getByLabel('Header value').fill('gateway-key-1');
    const bulk = wiz.getByLabel('Use SCIM Bulk when the application offers it');
    assert.equal(await bulk.isChecked(), true, 'Bulk is on by default');
    await bulk.uncheck();
    await screenshot(page, 'connection-advanced');
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });
    const conn = (await serve.ok('GET', '/api/v1/connections')).items[0];
    assert.equal(conn.name, 'Code42');
    assert.equal(conn.enabled, false);
    assert.deepEqual(conn.headers, { 'X-Api-Key': '********' });
    assert.equal(conn.preferences.useBulk, false);

    // Its details pane says so and tests it again, then Edit fixes the token.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    const bulkRow = pane.locator('dt', { hasText: 'Use SCIM Bulk' });
    assert.equal(await bulkRow.locator('xpath=following-sibling::dd[1]').textContent(), 'No');
    await pane.getByRole('button', { name: 'Test Connection' }).click();
    await pane.getByRole('region', { name: 'Test Connection results' }).getByText('Connection test failed.').waitFor();
    await pane.getByRole('button', { name: 'Edit' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit Code42' });
    await ed.getByRole('button', { name: 'Next' }).click();
    assert.equal(await ed.getByLabel('OAuth Access Token').inputValue(), '********', 'the stored token is never sent back');
    await ed.getByLabel('OAuth Access Token').fill(target.token);
    await ed.getByRole('button', { name: 'Test Connection' }).click();
    await ed.getByRole('region', { name: 'Test Connection results' }).getByText('Connection test passed.').waitFor();
    await ed.getByRole('button', { name: 'Next' }).click();
    assert.equal(await ed.getByLabel('Header name').inputValue(), 'X-Api-Key');
    assert.equal(await ed.getByLabel('Header value').inputValue(), '********');
    await ed.getByText('Advanced').click();
    const edBulk = ed.getByLabel('Use SCIM Bulk when the application offers it');
    assert.equal(await edBulk.isChecked(), false, 'the stored choice is shown');
    await edBulk.check();
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.waitFor({ state: 'detached' });
    const saved = await serve.ok('GET', `/api/v1/connections/${conn.id}`);
    assert.deepEqual(saved.headers, { 'X-Api-Key': '********' }, 'the header is kept');
    assert.equal(saved.preferences.useBulk, true);
    const ok = await serve.ok('POST', `/api/v1/connections/${conn.id}/test`, {});
    assert.equal(ok.ok, true, 'the new token was stored');
    // The pane's test shows what the target supports: Bulk, which the engine now uses.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    await pane.getByRole('button', { name: 'Test Connection' }).click();
    await pane.getByRole('region', { name: 'Test Connection results' }).getByText('Connection test passed.').waitFor();
    const caps = pane.getByRole('region', { name: 'What the target supports' });
    const bulkCap = caps.locator('dt', { hasText: /^Bulk$/ }).locator('xpath=following-sibling::dd[1]');
    await waitUntil(async () => /^Supported \(up to 1000 operations.*\); used for writes/.test(await bulkCap.textContent()), { what: 'Bulk shown as used' });

    // A rule that targets the still-disabled connection cannot be enabled: a clear message.
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('menuitem', { name: 'New Rule' }).click();
    const nr = page.getByRole('dialog', { name: 'New Rule' });
    await nr.getByLabel('Name', { exact: true }).fill('To Code42');
    await nr.getByRole('button', { name: 'Create Rule' }).click();
    await page.getByRole('button', { name: 'Target', exact: true }).click();
    await page.getByRole('button', { name: 'Add Code42 as target' }).click();
    await page.getByRole('region', { name: 'Target' }).getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    await page.getByRole('button', { name: 'Edit user filter' }).click();
    await page.getByLabel('Value', { exact: true }).selectOption('Sales');
    await page.getByRole('region', { name: 'User Filter' }).getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Edit user filter' }).waitFor();
    const toggle = page.getByRole('switch', { name: 'Enable rule' });
    await toggle.click();
    const alert = page.getByRole('alert').filter({ hasText: /Code42/ });
    await alert.waitFor();
    assert.match(await alert.textContent(), /disabled|enable the connection/i);
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    await screenshot(page, 'rule-enable-refused');

    // Once the connection is enabled, the rule can be.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Provisioning', exact: true }).click();
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const connToggle = page.getByRole('switch', { name: 'Enable connection' });
    await connToggle.click();
    await waitUntil(async () => (await connToggle.getAttribute('aria-checked')) === 'true', { what: 'the connection toggle' });
    await page.getByRole('tab', { name: 'Rules' }).click();
    const ruleToggle = page.getByRole('switch', { name: 'Enable rule To Code42' });
    await ruleToggle.click();
    await waitUntil(async () => (await ruleToggle.getAttribute('aria-checked')) === 'true', { what: 'the rule toggle in the Rules tab' });
    assert.equal((await serve.ok('GET', '/api/v1/rules')).items[0].enabled, true);
  });
});

test('bad input is reported next to the field it concerns', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const wiz = await openWizard(page);
    // Client-side checks before the API is even asked.
    await wiz.getByRole('button', { name: 'Next' }).click();
    assert.match(await fieldError(page, wiz.getByLabel('Name', { exact: true })), /name/i);
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByLabel('SCIM base URL').fill('ftp://example.com/scim');
    await wiz.getByRole('button', { name: 'Next' }).click();
    assert.match(await fieldError(page, wiz.getByLabel('SCIM base URL')), /http/);
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    await wiz.getByLabel('OAuth Access Token').fill(target.token);
    await wiz.getByRole('button', { name: 'Next' }).click();
    // The API refuses a user filter expression without %s: the wizard shows it there.
    await wiz.getByLabel('User Filter Expression').fill('username Eq "fixed"');
    await wiz.getByRole('button', { name: 'Save' }).click();
    const msg = await fieldError(page, wiz.getByLabel('User Filter Expression'));
    assert.match(msg, /%s/);
    await screenshot(page, 'connection-bad-input');
    await wiz.getByLabel('User Filter Expression').fill('username Eq "%s"');
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });

    // A mapping row with a broken expression is pointed at, with the position of the error.
    const conn = (await serve.ok('GET', '/api/v1/connections')).items[0];
    const rule = await serve.ok('POST', '/api/v1/rules', { name: 'R' });
    await serve.ok('PATCH', `/api/v1/rules/${rule.id}`, { target: conn.id });
    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const mapSec = page.getByRole('region', { name: 'Attribute Mapping' });
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    await mapSec.getByRole('button', { name: 'Add', exact: true }).click();
    const row = mapSec.locator('tbody tr').last();
    await row.getByLabel('Target attribute').fill('department');
    await row.getByLabel('Source attribute').fill('lower(title');
    await mapSec.getByRole('button', { name: 'Save' }).click();
    const alert = mapSec.getByRole('alert');
    await alert.filter({ hasText: /Row 15/ }).waitFor();
    assert.match(await alert.textContent(), /position/);
    assert.equal(await row.getByLabel('Source attribute').getAttribute('aria-invalid'), 'true');
    // An expression that parses is accepted as a source.
    await row.getByLabel('Source attribute').fill('upper(title)');
    await mapSec.getByRole('button', { name: 'Save' }).click();
    await mapSec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    const m = await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`);
    assert.deepEqual(m.find((x) => x.target === 'department'), { target: 'department', source: 'upper(title)' });

    // A filter with no condition is refused by the API with its reason.
    await page.getByRole('button', { name: 'User Filter', exact: true }).click();
    const fSec = page.getByRole('region', { name: 'User Filter' });
    await fSec.getByRole('button', { name: 'Edit user filter' }).click();
    await fSec.getByRole('button', { name: 'Remove condition' }).click();
    await fSec.getByRole('button', { name: 'Save' }).click();
    await fSec.getByRole('alert').filter({ hasText: /condition/ }).waitFor();
  });
});

test('a late answer of an earlier load does not overwrite the details pane', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    // Save opens the new connection's pane: its GET is answered (the connection as it is
    // then, disabled) but the answer is held back until the pane was opened again and the
    // connection enabled there.
    let release;
    const released = new Promise((r) => { release = r; });
    let arrived;
    const heldArrived = new Promise((r) => { arrived = r; });
    let first = true;
    await page.route(/\/api\/v1\/connections\/[^/?]+$/, async (route) => {
      if (route.request().method() !== 'GET' || !first) { await route.continue(); return; }
      first = false;
      const response = await route.fetch();
      arrived();
      await released;
      await route.fulfill({ response });
    });
    // Each body the page reads is noted one turn of the event loop after it was read: by
    // then the code that awaited it has run (its continuation is microtasks of that turn).
    await page.evaluate(() => {
      window.e2eBodies = [];
      const text = Response.prototype.text;
      Response.prototype.text = function textNoted() {
        const { url } = this;
        const p = text.call(this);
        p.then(() => setTimeout(() => window.e2eBodies.push(new URL(url).pathname), 0), () => {});
        return p;
      };
    });

    const wiz = await openWizard(page);
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    await wiz.getByLabel('OAuth Access Token').fill(target.token);
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });
    await heldArrived;

    // The pane again, and the toggle: enabled, in the pane and in the list.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    const connToggle = pane.getByRole('switch', { name: 'Enable connection' });
    await connToggle.click();
    await waitUntil(async () => (await connToggle.getAttribute('aria-checked')) === 'true', { what: 'the connection toggle' });
    const card = page.getByRole('list', { name: 'Connections' }).getByRole('listitem');
    await card.getByText('Enabled', { exact: true }).waitFor();
    const conn = (await serve.ok('GET', '/api/v1/connections')).items[0];
    assert.equal(conn.enabled, true);

    // Now the first answer (disabled) arrives, and is read; the pane stays as it is.
    const path = `/api/v1/connections/${conn.id}`;
    const readBefore = await page.evaluate((p) => window.e2eBodies.filter((x) => x === p).length, path);
    release();
    await waitUntil(() => page.evaluate(([p, n]) => window.e2eBodies.filter((x) => x === p).length > n, [path, readBefore]), { what: 'the held answer to be read' });
    assert.equal(await connToggle.getAttribute('aria-checked'), 'true', 'the toggle still says enabled');
    assert.equal(await card.getByText('Enabled', { exact: true }).count(), 1, 'the list still says Enabled');
    assert.equal(await pane.count(), 1);
  });
});
