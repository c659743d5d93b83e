// Credentials in Configure Authentication: OAuth 2 client credentials with the Client
// Authentication the token URL expects (HTTP Basic by default, or the request body), and
// stored secrets that must be entered again when the SCIM base URL's (or the token URL's)
// host changes: the API's 400 is shown next to the field it names (the Client Secret, the
// OAuth Access Token, a custom header's value), in the step that holds it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withConsole, screenshot, waitUntil } from './lib.mjs';

async function openWizard(page) {
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

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

/** The same URL with the host 127.0.0.1 written localhost: another origin, the same server. */
const otherHost = (url) => url.replace('//127.0.0.1:', '//localhost:');

test('OAuth 2 client credentials: the Client Authentication is chosen, saved and shown', async () => {
  await withConsole({ target: { clientId: 'code42-client', clientSecret: 'code42-client-secret' } }, async ({ serve, target, page }) => {
    const wiz = await openWizard(page);
    await wiz.getByLabel('Name', { exact: true }).fill('Code42');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByLabel('SCIM base URL').fill(target.scimBase);
    await wiz.getByLabel('Authentication Method').selectOption({ label: 'OAuth 2 Client Credentials' });
    await wiz.getByLabel('Token URL').fill(target.tokenUrl);
    await wiz.getByLabel('Client ID').fill('code42-client');
    await wiz.getByLabel('Client Secret').fill('code42-client-secret');
    const how = wiz.getByLabel('Client Authentication');
    assert.equal(await how.inputValue(), 'client_secret_basic', 'HTTP Basic is the default');
    assert.deepEqual(await how.locator('option').allTextContents(), ['HTTP Basic (client_secret_basic)', 'In the request body (client_secret_post)']);
    await how.selectOption({ label: 'In the request body (client_secret_post)' });
    await wiz.getByRole('button', { name: 'Test Connection' }).click();
    await wiz.getByRole('region', { name: 'Test Connection results' }).getByText('Connection test passed.').waitFor();
    await screenshot(page, 'client-credentials');
    await wiz.getByRole('button', { name: 'Next' }).click();
    await wiz.getByRole('button', { name: 'Save' }).click();
    await wiz.waitFor({ state: 'detached' });
    const conn = (await serve.ok('GET', '/api/v1/connections')).items[0];
    assert.equal(conn.auth.method, 'OAUTH2_CLIENT_CREDENTIALS');
    assert.equal(conn.auth.tokenEndpointAuthMethod, 'client_secret_post');
    assert.equal(conn.auth.clientSecret, '********');

    // The details pane says how the client authenticates; Edit shows the choice.
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    await pane.getByText('In the request body (client_secret_post)').waitFor();
    await pane.getByRole('button', { name: 'Edit' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit Code42' });
    await ed.getByRole('button', { name: 'Next' }).click();
    assert.equal(await ed.getByLabel('Client Authentication').inputValue(), 'client_secret_post');

    // A new host for the SCIM base URL: the stored secret must be entered again. Test
    // Connection and Save say so under the Client Secret.
    await ed.getByLabel('SCIM base URL').fill(otherHost(target.scimBase));
    await ed.getByRole('button', { name: 'Test Connection' }).click();
    const secret = ed.getByLabel('Client Secret');
    assert.match(await fieldError(page, secret), /SCIM base URL's host changed: enter the Client Secret .*again/);
    await waitUntil(() => isFocused(secret), { what: 'the focus on the Client Secret' });
    await screenshot(page, 'secret-again');
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.getByRole('heading', { name: 'Configure Authentication' }).waitFor();
    assert.match(await fieldError(page, secret), /SCIM base URL's host changed/);
    await waitUntil(() => isFocused(secret), { what: 'the focus on the Client Secret after Save' });
    // The base URL back, the token URL moved instead: the same, for the token URL.
    await ed.getByLabel('SCIM base URL').fill(target.scimBase);
    await ed.getByLabel('Token URL').fill(otherHost(target.tokenUrl));
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.getByRole('heading', { name: 'Configure Authentication' }).waitFor();
    assert.match(await fieldError(page, secret), /token URL's host changed: enter the Client Secret again/);
    // Entering the secret again saves the change.
    await secret.fill('code42-client-secret');
    assert.equal(await secret.getAttribute('aria-invalid'), null, 'typing clears the error');
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.waitFor({ state: 'detached' });
    const saved = await serve.ok('GET', `/api/v1/connections/${conn.id}`);
    assert.equal(saved.auth.tokenUrl, otherHost(target.tokenUrl));
    assert.equal(saved.auth.tokenEndpointAuthMethod, 'client_secret_post');
  });
});

test('a new host asks for the OAuth Access Token and each header value again, next to each', async () => {
  await withConsole({ target: true }, async ({ serve, target, page }) => {
    await serve.ok('POST', '/api/v1/connections', {
      name: 'Code42', type: 'SCIM_OUTBOUND', scim: { baseUrl: target.scimBase },
      auth: { method: 'OAUTH2_BEARER', accessToken: target.token }, headers: { 'X-Api-Key': 'gateway-key-1' },
    });
    await page.reload();
    await page.getByRole('button', { name: 'Code42 details' }).click();
    const pane = page.getByRole('complementary', { name: 'Details' });
    await pane.getByRole('button', { name: 'Edit' }).click();
    const ed = page.getByRole('dialog', { name: 'Edit Code42' });
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByLabel('SCIM base URL').fill(otherHost(target.scimBase));
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByRole('button', { name: 'Save' }).click();
    const token = ed.getByLabel('OAuth Access Token');
    assert.equal(await fieldError(page, token), "the SCIM base URL's host changed: enter the OAuth Access Token again");
    await token.fill(target.token);
    await ed.getByRole('button', { name: 'Next' }).click();
    await ed.getByRole('button', { name: 'Save' }).click();
    // Then the header: Advanced opens, the message is under its value.
    const value = ed.getByLabel('Header value');
    assert.equal(await fieldError(page, value), "the SCIM base URL's host changed: enter the value of the header X-Api-Key again");
    await waitUntil(() => isFocused(value), { what: 'the focus on the header value' });
    assert.equal(await ed.getByRole('alert').filter({ hasText: /host changed/ }).count(), 0, 'the message is not repeated at the top');
    await screenshot(page, 'header-again');
    await value.fill('gateway-key-2');
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.waitFor({ state: 'detached' });
    const conn = (await serve.ok('GET', '/api/v1/connections')).items[0];
    assert.equal(conn.scim.baseUrl, otherHost(target.scimBase));
  });
});
