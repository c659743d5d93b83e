// Unmapping from the console: removing an Attribute Mapping row stops the value flowing
// and leaves the target's value as it is; a row marked "Clear on unmap" clears the value
// on the target once when it is removed. The editor explains the choice in one line and
// says, before Save, which attributes Save clears.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil, provisionSales } from './lib.mjs';

/** The mapping editor's row whose target attribute is target. */
async function rowOf(sec, target) {
  const rows = sec.locator('tbody tr.map-row');
  const i = await rows.evaluateAll((trs, t) => trs.findIndex((tr) => tr.querySelector('input[aria-label="Target attribute"]').value === t), target);
  assert.ok(i >= 0, `no mapping row for ${target}`);
  return rows.nth(i);
}

test('Clear on unmap: a removed row clears its value on the target; without it the value stays', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    const { rule } = await provisionSales(serve, target);
    await waitUntil(async () => { const u = await target.users(); return u.ada?.nickName === 'Ada' && u.bob?.nickName === 'Bob'; }, { timeout: 30000, what: 'Sales on the target with their nicknames' });

    await page.goto(`${serve.base}/#/provisioning/rules/${rule.id}/configuration`);
    await page.getByRole('button', { name: 'Attribute Mapping', exact: true }).click();
    const sec = page.getByRole('region', { name: 'Attribute Mapping' });
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    // One checkbox per row, explained in one line.
    const nick = await rowOf(sec, 'nickName');
    const clear = nick.getByRole('checkbox', { name: 'Clear on unmap' });
    assert.equal(await clear.isChecked(), false, 'off by default');
    const explained = await clear.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')).textContent);
    assert.match(explained, /removing a row normally stops its value flowing and leaves the value on the target as it is; with Clear on unmap, removing the row clears the value on the target once/);
    assert.equal(await sec.getByRole('checkbox', { name: 'Clear on unmap' }).count(), 14);
    await clear.check();
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    const saved = await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`);
    assert.deepEqual(saved.find((m) => m.target === 'nickName'), { target: 'nickName', source: 'nickname', clearOnUnmap: true });
    assert.deepEqual(saved.find((m) => m.target === 'title'), { target: 'title', source: 'title' }, 'only the marked row carries it');
    const viewRow = sec.getByRole('table', { name: 'Attribute Mapping' }).getByRole('row').filter({ has: page.getByText('nickName', { exact: true }) });
    assert.match(await viewRow.textContent(), /Yes$/);

    // Remove nickName (marked) and title (not marked): the editor says what Save clears.
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).click();
    await (await rowOf(sec, 'nickName')).getByRole('button', { name: 'Remove mapping' }).click();
    await (await rowOf(sec, 'title')).getByRole('button', { name: 'Remove mapping' }).click();
    await sec.getByText('On Save, nickName is cleared on the target for every linked account (Clear on unmap).').waitFor();
    await screenshot(page, 'mapping-clear-on-unmap', { fullPage: true });
    await sec.getByRole('button', { name: 'Save' }).click();
    await sec.getByRole('button', { name: 'Edit attribute mapping' }).waitFor();
    assert.equal((await serve.ok('GET', `/api/v1/rules/${rule.id}/mappings`)).length, 12);

    const after = await waitUntil(async () => { const u = await target.users(); return u.ada.nickName === undefined && u.bob.nickName === undefined ? u : null; },
      { timeout: 30000, what: 'nickName cleared on the target' });
    assert.equal(after.ada.title, 'Title 1', 'an unmapped row without Clear on unmap leaves the value');
    assert.equal(after.bob.title, 'Title 2');
  });
});
