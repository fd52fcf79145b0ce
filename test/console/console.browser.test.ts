// The admin console in a real browser: Debian's headless Chromium driven by playwright-core against
// a real server process (the built dist/, console included). Every page is checked by axe-core for
// WCAG 2.x level A and AA violations and photographed into test-results/console/.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'console');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The console's own work never needs these: they carry plaintext, ciphertext or key material. */
const MATERIAL_ROUTES =
  /^\/v1\/(encrypt|decrypt|reencrypt|datakey|sign|verify$|mac|asymmetric|wrap|unwrap|derive|random)|\/(import|export|backup|restore|material)(\/|$|\?)/;

let server: TestServer;
let browser: Browser;

async function api<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, ...(text ? JSON.parse(text) : {}) } as T;
}

/** A principal (with `roles`) and the secret of an API key of its own. */
async function principalWithKey(name: string, roles: string[]): Promise<{ id: string; secret: string }> {
  const { principal } = await api<{ principal: { principalId: string } }>(
    'POST',
    '/v1/principals',
    server.token,
    {
      name,
      type: 'service',
      roles,
    },
  );
  const { secret } = await api<{ secret: string }>(
    'POST',
    `/v1/principals/${principal.principalId}/api-keys`,
    server.token,
    {},
  );
  return { id: principal.principalId, secret };
}

interface Session {
  page: Page;
  /** Paths the console requested of the server. */
  requested: string[];
  /** Content-Security-Policy refusals and uncaught errors the page reported. */
  problems: string[];
  close(): Promise<void>;
}

async function openConsole(): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requested: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === server.url) requested.push(url.pathname + url.search);
    else problems.push(`request to another origin: ${request.url()}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${server.url}/ui/`);
  return { page, requested, problems, close: () => context.close() };
}

/** Presses Tab until the focused element has this accessible text (keyboard-only navigation). */
async function tabTo(page: Page, text: string | RegExp): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return '';
      const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : undefined;
      return (el.getAttribute('aria-label') ?? labelled ?? el.textContent ?? '').trim();
    });
    if (typeof text === 'string' ? focused === text : text.test(focused)) return;
  }
  throw new Error(`no element named ${String(text)} is reachable with Tab`);
}

async function signInWithKeyboard(page: Page, secret: string): Promise<void> {
  await tabTo(page, 'API key');
  await page.keyboard.type(secret);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** axe-core in the page (run through the DevTools protocol: the page's CSP still holds for it). */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(options: unknown): Promise<AxeResults> } }).axe;
    const results = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return results.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  });
  return violations;
}
interface AxeResults {
  violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
}

/** Checks the page as it is now for A/AA violations and saves its screenshot. */
async function inspect(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  expect(await accessibilityViolations(page), name).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.dispose();
});

describe('the console at /ui', () => {
  it('is served with a strict Content-Security-Policy, no caching of the page, and no inline script', async () => {
    const page = await fetch(`${server.url}/ui/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const body = await page.text();
    expect(body).toMatch(/<script type="module" src="app.js"><\/script>/);
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(body).not.toMatch(/https?:\/\//);

    const script = await fetch(`${server.url}/ui/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('content-security-policy')).toBe(csp);
    expect((await fetch(`${server.url}/ui`, { redirect: 'manual' })).headers.get('location')).toBe('/ui/');
    const missing = await fetch(`${server.url}/ui/nothing.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NotFound');
  });

  it('an administrator signs in, creates, rotates and disables a key, denies a principal by policy, sees the denial in the simulator and the audit log, verifies the chain and signs out', async () => {
    const session = await openConsole();
    const { page } = session;
    try {
      await inspect(page, '01-sign-in');
      // A wrong key: the API's code and message, and no way in.
      await signInAttempt(page, 'khk_not_a_key_at_all');
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Unauthenticated: /);

      await page.getByLabel('API key').fill('');
      await signInWithKeyboard(page, server.token);
      await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();

      // A principal for the application, and its API key: the secret is shown once.
      await tabTo(page, 'Principals');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Principals' }).waitFor();
      await page.getByLabel('Name').fill('payments-app');
      await page.getByLabel('crypto-user').check();
      await page.getByRole('button', { name: 'Create principal' }).click();
      await page.getByRole('table').getByRole('link', { name: 'payments-app' }).waitFor();
      await inspect(page, '02-principals');
      await page.getByRole('status').getByRole('link', { name: 'payments-app' }).click();
      await page.getByRole('heading', { level: 1, name: 'Principal payments-app' }).waitFor();
      const app = { id: decodeURIComponent(new URL(page.url()).hash.split('/')[2]!), secret: '' };
      expect(app.id).toMatch(/^[0-9a-f-]{36}$/);
      await page.getByRole('button', { name: 'Create API key' }).click();
      const shown = page.getByTestId('new-secret');
      await expect.poll(() => shown.textContent()).toMatch(/khk_/);
      app.secret = (await shown.locator('dd').first().textContent())!;
      await page.getByRole('button', { name: 'Create access key' }).click();
      await expect.poll(() => shown.textContent()).toMatch(/Secret access key/);
      await expect.poll(() => page.getByRole('table').nth(1).getByRole('row').count()).toBe(2);
      await inspect(page, '02-principal-keys');
      await page.getByRole('button', { name: 'I have copied it: hide' }).click();
      expect(await page.getByText(app.secret).count()).toBe(0);
      await page.getByRole('link', { name: 'Keys', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();

      // Create: every key spec the server offers is in the list.
      const specs = () => page.getByLabel('Key spec').locator('option').allTextContents();
      await expect
        .poll(specs)
        .toEqual(expect.arrayContaining(['SYMMETRIC_DEFAULT', 'RSA_2048', 'ECC_NIST_P256', 'HMAC_256']));
      expect(await page.getByLabel('Protection level').locator('option').allTextContents()).toContain('HSM');
      // An invalid alias: the server's code and message are shown as they are.
      await page.getByLabel('Alias', { exact: true }).fill('not an alias');
      await page.getByRole('button', { name: 'Create key' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^ValidationError: /);
      await page.getByLabel('Alias', { exact: true }).fill('alias/payments');
      await page.getByLabel('Tags').fill('team=payments, env=test');
      await page.getByRole('button', { name: 'Create key' }).click();
      const created = page.getByRole('status').getByRole('link');
      await created.waitFor();
      const keyId = (await created.textContent())!;
      await page.getByRole('table').getByRole('link', { name: keyId }).waitFor();
      await inspect(page, '03-keys');

      // Filter by alias, tag and state.
      await page.getByLabel('Alias filter').fill('alias/payments');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await expect.poll(() => page.getByRole('table').getByRole('link').allTextContents()).toEqual([keyId]);
      await page.getByLabel('Alias filter').fill('');
      await page.getByLabel('Tag filter').fill('team:nobody');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await page.getByText('No key matches.').waitFor();

      // One key: rotate, disable, enable again.
      await page.evaluate((id) => (location.hash = `#/keys/${id}`), keyId);
      await page.getByTestId('key-state').waitFor();
      await page.reload();
      // A reload forgets the credential: it lived in memory only.
      await page.getByLabel('API key').waitFor();
      expect(
        await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]),
      ).toEqual(['', 0, 0]);
      await signInWithKeyboard(page, server.token);
      const state = page.getByTestId('key-state');
      await expect.poll(() => state.textContent()).toBe('Enabled');
      await page.getByRole('button', { name: 'Rotate' }).click();
      await expect.poll(() => page.getByTestId('key-version').textContent()).toBe('2');
      await expect.poll(() => page.getByRole('table').getByRole('row').count()).toBe(3);
      await page.getByRole('button', { name: 'Disable' }).click();
      await expect.poll(() => state.textContent()).toBe('Disabled');
      await expect.poll(() => page.getByRole('button', { name: 'Disable' }).isDisabled()).toBe(true);
      await page.getByText('the key is disabled').waitFor();
      await inspect(page, '04-key');
      await page.getByRole('button', { name: 'Enable' }).click();
      await expect.poll(() => state.textContent()).toBe('Enabled');
      expect(
        await api<{ key: { state: string; currentVersion: number } }>(
          'GET',
          `/v1/keys/${keyId}`,
          server.token,
        ),
      ).toMatchObject({
        key: { state: 'Enabled', currentVersion: 2 },
      });

      // Before any policy of ours the application may encrypt.
      const plaintext = Buffer.from('console test').toString('base64');
      expect(
        (await api<{ status: number }>('POST', '/v1/encrypt', app.secret, { keyId, plaintext })).status,
      ).toBe(200);

      // A policy that denies the application Encrypt on this key.
      await tabTo(page, 'Policies');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Policies' }).waitFor();
      await page.getByLabel('Name').fill('deny-payments-encrypt');
      const editor = page.getByLabel('Document (JSON)');
      await editor.fill('{"statements": [{"effect": "maybe"}]}');
      await page.getByText('"effect" must be "allow" or "deny"').waitFor();
      expect(await page.getByRole('button', { name: 'Create policy' }).isDisabled()).toBe(true);
      await editor.fill(
        JSON.stringify({
          statements: [
            {
              sid: 'no-encrypt-for-payments',
              effect: 'deny',
              principals: [`principal:${app.id}`],
              actions: ['Encrypt'],
              resources: [`key:${keyId}`],
            },
          ],
        }),
      );
      await page.getByText('The document is well formed.').waitFor();
      await page.getByRole('button', { name: 'Create policy' }).click();
      await page.getByRole('heading', { name: 'History of deny-payments-encrypt' }).waitFor();
      await page.getByLabel('Principal to attach to').selectOption(app.id);
      await page.getByRole('button', { name: 'Attach to principal' }).click();
      await page.getByText('Attached to: payments-app').waitFor();

      // The simulator names the deciding statement.
      await page.getByLabel('Principal', { exact: true }).selectOption(app.id);
      await page.getByLabel('Action').fill('Encrypt');
      await page.getByLabel('Key (id or alias)').fill(keyId);
      await page.getByRole('button', { name: 'Simulate' }).click();
      const simulation = page.getByTestId('simulation');
      await expect.poll(() => simulation.textContent()).toMatch(/^Denied: /);
      expect(await simulation.textContent()).toContain('no-encrypt-for-payments');
      await inspect(page, '05-policies');

      // A second version that denies Decrypt instead, then a rollback to the first: version 3 is
      // version 1's document again (the refusal below proves it is the one in force).
      const decryptOnly = (await editor.inputValue()).replace('"Encrypt"', '"Decrypt"');
      await editor.fill(decryptOnly);
      await page.getByRole('button', { name: 'Save new version' }).click();
      await page.getByRole('heading', { name: 'Edit deny-payments-encrypt (version 2)' }).waitFor();
      await page.getByRole('button', { name: 'Roll back to version 1' }).click();
      await page.getByRole('heading', { name: 'Edit deny-payments-encrypt (version 3)' }).waitFor();
      expect(await editor.inputValue()).toContain('"Encrypt"');
      const history = page.getByRole('table').filter({ hasText: 'Rollback' }).getByRole('row');
      await expect.poll(() => history.count()).toBe(4);

      // The application is now refused, and the audit log shows it.
      const refused = await api<{ status: number; error: { code: string } }>(
        'POST',
        '/v1/encrypt',
        app.secret,
        {
          keyId,
          plaintext,
        },
      );
      expect(refused).toMatchObject({ status: 403, error: { code: 'AccessDenied' } });
      // The key page's usage chart counts both requests (from the audit log), today's bar included.
      await page.evaluate((id) => (location.hash = `#/keys/${id}`), keyId);
      const today = new Date().toISOString().slice(0, 10);
      await expect.poll(() => page.getByTestId(`usage-${today}`).textContent()).toBe('2');
      await page.getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
      await page.getByLabel('Principal id').fill(app.id);
      await page.getByLabel('Result').selectOption('deny');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      const rows = page.getByRole('table').getByRole('row');
      await expect.poll(() => rows.count()).toBe(2);
      expect(await rows.nth(1).textContent()).toContain('Encrypt');
      await page.getByRole('button', { name: /^Show record / }).click();
      const record = page.getByTestId('audit-record');
      await expect.poll(() => record.textContent()).toContain('AccessDenied');
      expect(await record.textContent()).toContain(keyId);
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await expect
        .poll(() => page.getByTestId('chain-status').textContent())
        .toMatch(/^Chain valid: \d+ records/);
      await inspect(page, '06-audit');

      // Tenants and quotas.
      await page.getByRole('link', { name: 'Tenants' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
      await page.getByLabel('Tenant name').fill('acme');
      await page.getByLabel('Maximum keys of the new tenant').fill('10');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      const acme = page.getByRole('row').filter({ hasText: 'acme' });
      await expect.poll(() => acme.textContent()).toContain('10 keys, no rate limit');
      await page.getByRole('button', { name: 'Change the quotas of acme' }).click();
      await page.getByLabel('Requests per second', { exact: true }).fill('50');
      await page.getByRole('button', { name: 'Save quotas' }).click();
      await expect.poll(() => acme.textContent()).toContain('10 keys, 50 requests/s');
      await inspect(page, '07-tenants');

      // System: readiness with the key store backend and its circuit, request counts from /metrics.
      await page.getByRole('link', { name: 'System' }).click();
      await page.getByRole('heading', { level: 1, name: 'System' }).waitFor();
      await expect.poll(() => page.getByTestId('readiness').textContent()).toMatch(/^Ready/);
      expect(await page.getByRole('table').first().getByRole('row').count()).toBeGreaterThan(1);
      const rates = page.getByTestId('request-rates');
      await expect.poll(() => rates.getByRole('row').filter({ hasText: 'CreateKey' }).count()).toBe(1);
      await inspect(page, '08-system');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API key').waitFor();
      // Signed out, the console holds no credential: a page change asks for one again.
      await page.evaluate(() => (location.hash = '#/keys'));
      await page.getByRole('heading', { level: 1, name: 'Sign in to Keyhaven' }).waitFor();

      expect(session.problems).toEqual([]);
      expect(session.requested.filter((path) => MATERIAL_ROUTES.test(path))).toEqual([]);
      expect(session.requested.some((path) => path.startsWith('/v1/auth/verify'))).toBe(true);
    } finally {
      await session.close();
    }
  });

  it('a principal without rights sees every action disabled, with the reason the server gave', async () => {
    const { key } = await api<{ key: { keyId: string } }>('POST', '/v1/keys', server.token, {});
    const keyId = key.keyId;
    const reader = await principalWithKey('read-only', ['auditor']);
    const session = await openConsole();
    const { page } = session;
    try {
      await signInWithKeyboard(page, reader.secret);
      const create = page.getByRole('button', { name: 'Create key' });
      await create.waitFor();
      await expect.poll(() => create.isDisabled()).toBe(true);
      const reasonOf = async (name: string) => {
        const button = page.getByRole('button', { name });
        const describedBy = await button.getAttribute('aria-describedby');
        return describedBy ? page.locator(`#${describedBy}`).textContent() : null;
      };
      await expect.poll(() => reasonOf('Create key')).not.toMatch(/checking/);
      expect(await reasonOf('Create key')).toBeTruthy();
      await inspect(page, '09-keys-read-only');

      await page.evaluate((id) => (location.hash = `#/keys/${id}`), keyId);
      await page.getByTestId('key-state').waitFor();
      const actions = {
        Rotate: 'RotateKey',
        Disable: 'DisableKey',
        'Schedule deletion': 'ScheduleKeyDeletion',
        'Save settings': 'UpdateKey',
      };
      for (const [name, action] of Object.entries(actions)) {
        const button = page.getByRole('button', { name });
        await expect.poll(() => reasonOf(name), { message: name }).not.toMatch(/checking/);
        expect(await button.isDisabled(), name).toBe(true);
        // The reason beside the button is the server's own, as /v1/auth/verify gives it.
        const answer = await api<{ allowed: boolean; reason: string }>(
          'POST',
          '/v1/auth/verify',
          reader.secret,
          {
            action,
            keyId,
          },
        );
        expect(answer.allowed, name).toBe(false);
        expect(await reasonOf(name), name).toBe(answer.reason);
      }
      await inspect(page, '10-key-read-only');
      expect(session.problems).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('works from the keyboard alone: the skip link, the navigation, and a form submitted with Enter', async () => {
    const session = await openConsole();
    const { page } = session;
    try {
      await signInWithKeyboard(page, server.token);
      const { keys: before } = await api<{ keys: unknown[] }>('GET', '/v1/keys?limit=1000', server.token);
      // The page's heading takes the focus after sign-in; the skip link is the first stop after it.
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
      await page.evaluate(() => (document.activeElement as HTMLElement).blur());
      await tabTo(page, 'Skip to content');
      expect(await page.locator('.skip-link').isVisible()).toBe(true);
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Keys');
      await tabTo(page, 'Description');
      await page.keyboard.type('made with the keyboard');
      await tabTo(page, 'Create key');
      await page.keyboard.press('Enter');
      await page.getByRole('status').getByRole('link').waitFor();
      const { keys: after } = await api<{ keys: { description: string }[] }>(
        'GET',
        '/v1/keys?limit=1000',
        server.token,
      );
      expect(after.length).toBe(before.length + 1);
      expect(after.some((key) => key.description === 'made with the keyboard')).toBe(true);
      // Every page is reached by Tab and Enter on its link.
      for (const name of ['Policies', 'Principals', 'Tenants', 'Audit', 'System', 'Keys']) {
        await tabTo(page, name);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name }).waitFor();
      }
      expect(session.problems).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it("pages through keys and audit records, and runs the rest of a key's and a principal's life: settings, aliases, deletion, key policy, public key, import parameters, access keys", async () => {
    // 23 keys of one batch: two pages of the key list (20 a page).
    const batch = `batch${Date.now().toString(36)}`;
    const made = await Promise.all(
      Array.from({ length: 23 }, () =>
        api<{ key: { keyId: string } }>('POST', '/v1/keys', server.token, {
          tags: { batch: 'yes', [batch]: '1' },
        }),
      ),
    );
    const batchIds = made.map(({ key }) => key.keyId).sort();
    const app = await principalWithKey('lifecycle-app', ['crypto-user']);
    const session = await openConsole();
    const { page } = session;
    try {
      await signInWithKeyboard(page, server.token);
      const listed = () => page.getByRole('table').getByRole('link').allTextContents();
      const keyPager = page.getByRole('navigation', { name: 'Pages of the key list' });
      await page.getByLabel('Tag filter').fill(`${batch}:1`);
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await expect.poll(async () => (await listed()).length).toBe(20);
      const firstPage = await listed();
      expect(await keyPager.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
      await keyPager.getByRole('button', { name: 'Next page' }).click();
      await expect.poll(async () => (await listed()).length).toBe(3);
      expect(await keyPager.getByTestId('page-number').textContent()).toBe('Page 2');
      expect(await keyPager.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
      // The two pages are the batch, each key once.
      expect([...firstPage, ...(await listed())].sort()).toEqual(batchIds);
      await keyPager.getByRole('button', { name: 'Previous page' }).click();
      await expect.poll(listed).toEqual(firstPage);
      // A new filter starts again at page 1.
      await keyPager.getByRole('button', { name: 'Next page' }).click();
      await expect.poll(() => keyPager.getByTestId('page-number').textContent()).toBe('Page 2');
      await page.getByLabel('Tag filter').fill('batch:yes');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await expect.poll(() => keyPager.getByTestId('page-number').textContent()).toBe('Page 1');

      // An RSA signing key made in the form; its public key downloads as the server's PEM.
      await page.getByLabel('Key spec').selectOption('RSA_2048');
      await page.getByLabel('Key usage').selectOption('SIGN_VERIFY');
      await page.getByRole('button', { name: 'Create key' }).click();
      const created = page.getByRole('status').getByRole('link');
      await created.waitFor();
      const rsaKeyId = (await created.textContent())!;
      await created.click();
      await page.getByTestId('key-state').waitFor();
      const downloading = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Download public key (PEM)' }).click();
      const download = await downloading;
      expect(download.suggestedFilename()).toBe(`${rsaKeyId}.pem`);
      const pem = readFileSync((await download.path())!, 'utf8');
      const { publicKey } = await api<{ publicKey: string }>(
        'GET',
        `/v1/keys/${rsaKeyId}/public-key`,
        server.token,
      );
      expect(pem).toBe(publicKey);
      expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(pem).not.toMatch(/PRIVATE/);

      // Aliases: add, see it on the key and in the API, remove.
      await page.getByLabel('New alias').fill('alias/console-signer');
      await page.getByRole('button', { name: 'Add alias' }).click();
      await page.getByRole('button', { name: 'Remove alias/console-signer' }).waitFor();
      const keyOf = (id: string) =>
        api<{ status: number; key: Record<string, unknown> }>(
          'GET',
          `/v1/keys/${encodeURIComponent(id)}`,
          server.token,
        );
      expect((await keyOf('alias/console-signer')).key.keyId).toBe(rsaKeyId);
      // An alias that names another key is not taken from it (PUT would re-point it).
      await api('POST', '/v1/keys', server.token, { alias: 'alias/console-other' });
      const other = (await keyOf('alias/console-other')).key.keyId;
      await page.getByLabel('New alias').fill('alias/console-other');
      await page.getByRole('button', { name: 'Add alias' }).click();
      await expect
        .poll(() => page.getByRole('alert').textContent())
        .toMatch(
          new RegExp(
            `^Conflict: alias alias/console-other already exists: it names key ${other}; remove it there first`,
          ),
        );
      expect((await keyOf('alias/console-other')).key.keyId).toBe(other);
      // One this key has already: nothing to do, and no error.
      await page.getByLabel('New alias').fill('alias/console-signer');
      await page.getByRole('button', { name: 'Add alias' }).click();
      await expect.poll(() => page.getByLabel('New alias').inputValue()).toBe('');
      expect(await page.getByRole('alert').count()).toBe(0);
      await page.getByRole('button', { name: 'Remove alias/console-signer' }).click();
      await expect
        .poll(() => page.getByRole('button', { name: 'Remove alias/console-signer' }).count())
        .toBe(0);
      expect((await keyOf('alias/console-signer')).status).toBe(404);

      // The key policy: a malformed document cannot be saved; a good one becomes version 2.
      const keyPolicy = page.getByLabel('Key policy document (JSON)');
      await expect.poll(() => keyPolicy.inputValue()).toMatch(/statements/);
      const heading = page.getByRole('heading', { name: /^Key policy \(version \d+\)$/ });
      const versionBefore = Number((await heading.textContent())!.match(/\d+/)![0]);
      await keyPolicy.fill('{"statements": [');
      await expect.poll(() => page.getByRole('button', { name: 'Save key policy' }).isDisabled()).toBe(true);
      const document = {
        statements: [
          { sid: 'admins', effect: 'allow', principals: ['*'], actions: ['*'], resources: ['*'] },
          {
            sid: 'no-signing-for-the-app',
            effect: 'deny',
            principals: [`principal:${app.id}`],
            actions: ['Sign'],
            resources: ['*'],
          },
        ],
      };
      await keyPolicy.fill(JSON.stringify(document));
      await page.getByRole('button', { name: 'Save key policy' }).click();
      await page.getByRole('heading', { name: `Key policy (version ${versionBefore + 1})` }).waitFor();
      const stored = await api<{ version: number; document: { statements: { sid: string }[] } }>(
        'GET',
        `/v1/keys/${rsaKeyId}/policy`,
        server.token,
      );
      expect(stored.version).toBe(versionBefore + 1);
      expect(stored.document.statements.map((s) => s.sid)).toEqual(['admins', 'no-signing-for-the-app']);
      const message = Buffer.from('signed by the app').toString('base64');
      expect(
        await api('POST', '/v1/sign', app.secret, {
          keyId: rsaKeyId,
          message,
          algorithm: 'RSASSA_PSS_SHA_256',
        }),
      ).toMatchObject({ status: 403, error: { code: 'AccessDenied' } });

      // The simulator with an encryption context: a policy denying the app Decrypt when the
      // context says it is for export decides one context and not another.
      const { policy } = await api<{ policy: { policyId: string } }>('POST', '/v1/policies', server.token, {
        name: 'no-export-decrypts',
        document: {
          statements: [
            {
              sid: 'not-for-export',
              effect: 'deny',
              principals: [`principal:${app.id}`],
              actions: ['Decrypt'],
              resources: ['*'],
              conditions: { context: { purpose: 'export' } },
            },
          ],
        },
      });
      expect(
        (
          await api<{ status: number }>('PUT', `/v1/principals/${app.id}/policies`, server.token, {
            policyIds: [policy.policyId],
          })
        ).status,
      ).toBe(200);
      await page.getByRole('link', { name: 'Policies' }).click();
      const simulator = page.getByRole('region', { name: 'Simulator' });
      await simulator.getByLabel('Principal', { exact: true }).selectOption(app.id);
      await simulator.getByLabel('Action').fill('Decrypt');
      await simulator.getByLabel('Key (id or alias)').fill(rsaKeyId);
      const simulate = async (context: string) => {
        await simulator.getByLabel('Encryption context (JSON)').fill(context);
        await simulator.getByRole('button', { name: 'Simulate' }).click();
      };
      const verdict = page.getByTestId('simulation');
      await simulate('{"purpose": "export"}');
      await expect.poll(() => verdict.textContent()).toMatch(/^Denied: /);
      expect(await verdict.textContent()).toContain('not-for-export');
      await simulate('{"purpose": "billing"}');
      await expect.poll(() => verdict.textContent()).toMatch(/^Allowed: /);
      await simulate('{"purpose": ');
      await expect
        .poll(() => simulator.getByRole('alert').textContent())
        .toMatch(/^ValidationError: context: /);

      // A symmetric key's settings: description, tags, rotation period and expiry; emptied, the
      // rotation period and the expiry are turned off.
      const { key: symmetric } = await api<{ key: { keyId: string } }>('POST', '/v1/keys', server.token, {});
      await page.evaluate((id) => (location.hash = `#/keys/${id}`), symmetric.keyId);
      await page.getByTestId('key-state').waitFor();
      const settings = page.getByRole('region', { name: 'Settings' });
      await settings.getByLabel('Description').fill('set in the console');
      await settings.getByLabel('Tags').fill('team=ops, tier=gold');
      await settings.getByLabel('Rotation period (days)').fill('90');
      await settings.getByLabel('Expires at').fill('2031-05-04T03:02');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await expect.poll(async () => (await keyOf(symmetric.keyId)).key.rotationPeriodDays).toBe(90);
      const saved = (await keyOf(symmetric.keyId)).key;
      expect(saved).toMatchObject({ description: 'set in the console', tags: { team: 'ops', tier: 'gold' } });
      // The browser's local time zone is the machine's: compare with the instant it means there.
      expect(saved.expiresAt).toBe(
        new Date(await page.evaluate(() => new Date('2031-05-04T03:02').toISOString())).toISOString(),
      );
      // The page shows the saved values (and the form starts again from them) before the next edit.
      await page.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor();
      await page
        .locator('dt:text-is("Rotation period") + dd')
        .filter({ hasText: /^90 days/ })
        .waitFor();
      expect(await settings.getByLabel('Rotation period (days)').inputValue()).toBe('90');
      await settings.getByLabel('Rotation period (days)').fill('');
      await settings.getByLabel('Expires at').fill('');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await expect.poll(async () => (await keyOf(symmetric.keyId)).key.rotationPeriodDays ?? null).toBe(null);
      expect((await keyOf(symmetric.keyId)).key.expiresAt ?? null).toBe(null);
      // Only what changed is sent: a re-sent rotation period would restart its schedule.
      await page.locator('dt:text-is("Rotation period") + dd').filter({ hasText: /^—$/ }).waitFor();
      await settings.getByLabel('Rotation period (days)').fill('180');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await page
        .locator('dt:text-is("Rotation period") + dd')
        .filter({ hasText: /^180 days/ })
        .waitFor();
      const nextRotation = (await keyOf(symmetric.keyId)).key.nextRotationAt;
      const patches: unknown[] = [];
      page.on('request', (request) => {
        if (request.method() === 'PATCH') patches.push(request.postDataJSON());
      });
      await settings.getByLabel('Description').fill('described again');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await expect.poll(async () => (await keyOf(symmetric.keyId)).key.description).toBe('described again');
      expect(patches).toEqual([{ description: 'described again' }]);
      expect((await keyOf(symmetric.keyId)).key.nextRotationAt).toBe(nextRotation);
      await page.locator('dt:text-is("Description") + dd').filter({ hasText: 'described again' }).waitFor();
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await expect
        .poll(() => settings.getByRole('alert').textContent())
        .toBe('NothingChanged: no setting was changed');
      expect(patches).toHaveLength(1);

      // Schedule deletion (7 days), see it pending with its date and the actions it forbids, cancel it.
      const state = page.getByTestId('key-state');
      await page.getByLabel('Waiting period (days, 7 to 30)').fill('7');
      await page.getByRole('button', { name: 'Schedule deletion' }).click();
      await expect.poll(() => state.textContent()).toBe('PendingDeletion');
      const deletionDate = (await keyOf(symmetric.keyId)).key.deletionDate as string;
      expect(Date.parse(deletionDate) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
      await page.getByText('Deletion date').waitFor();
      expect(await page.getByRole('button', { name: 'Rotate' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Schedule deletion' }).isDisabled()).toBe(true);
      await inspect(page, '13-key-pending-deletion');
      await page.getByRole('button', { name: 'Cancel deletion' }).click();
      await expect.poll(() => state.textContent()).toBe('Disabled');
      expect((await keyOf(symmetric.keyId)).key.deletionDate ?? null).toBe(null);
      // An out-of-range waiting period is the server's to refuse.
      await page.getByLabel('Waiting period (days, 7 to 30)').fill('3');
      await page.getByRole('button', { name: 'Schedule deletion' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /^ValidationError: / })
        .waitFor();
      expect(await state.textContent()).toBe('Disabled');

      // A key for imported material: its import parameters (a public key and a token, no secret).
      await page.getByRole('link', { name: 'Keys', exact: true }).click();
      await page.getByLabel('Origin').selectOption('EXTERNAL');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('status').getByRole('link').click();
      await expect.poll(() => state.textContent()).toBe('PendingImport');
      await page.getByRole('button', { name: 'Get import parameters' }).click();
      const parameters = page.getByRole('region', { name: 'Import parameters' });
      // The server makes a fresh RSA wrapping key pair: that may take seconds.
      await expect
        .poll(() => parameters.textContent(), { timeout: 30_000 })
        .toMatch(/-----BEGIN PUBLIC KEY-----/);
      expect(await parameters.textContent()).toMatch(/Import token/);
      expect(await parameters.textContent()).not.toMatch(/PRIVATE/);
      await inspect(page, '14-key-import-parameters');

      // A principal's access key deleted and its API key revoked: the server refuses the secret after.
      await page.evaluate((id) => (location.hash = `#/principals/${id}`), app.id);
      await page.getByRole('heading', { level: 1, name: 'Principal lifecycle-app' }).waitFor();
      await page.getByRole('button', { name: 'Create access key' }).click();
      const shown = page.getByTestId('new-secret');
      await expect.poll(() => shown.textContent()).toMatch(/Secret access key/);
      const accessKeyId = (await shown.locator('dd').first().textContent())!;
      await page.getByRole('button', { name: `Delete ${accessKeyId}` }).click();
      await expect
        .poll(() => page.getByRole('button', { name: `Delete ${accessKeyId}` }).isDisabled())
        .toBe(true);
      // The secret shown once is gone with the next action.
      expect(await page.getByTestId('new-secret').count()).toBe(0);
      const { accessKeys } = await api<{ accessKeys: { accessKeyId: string; revokedAt: string | null }[] }>(
        'GET',
        `/v1/principals/${app.id}/access-keys`,
        server.token,
      );
      expect(accessKeys.find((k) => k.accessKeyId === accessKeyId)?.revokedAt).toBeTruthy();
      expect((await api<{ status: number }>('GET', '/v1/keys', app.secret)).status).toBe(200);
      const apiKeyRow = page.getByRole('region', { name: 'API keys' }).getByRole('row').nth(1);
      await apiKeyRow.getByRole('button', { name: /^Revoke / }).click();
      await expect.poll(() => apiKeyRow.getByRole('button', { name: /^Revoke / }).isDisabled()).toBe(true);
      expect(await api('GET', '/v1/keys', app.secret)).toMatchObject({ status: 401 });
      await inspect(page, '15-principal-keys-revoked');

      // The audit records of the batch's creation page 25 at a time.
      await page.getByRole('link', { name: 'Audit' }).click();
      await page.getByLabel('Action').fill('CreateKey');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      const records = page.getByRole('table').getByRole('row');
      await expect.poll(() => records.count()).toBe(26);
      const seqs = async () => (await records.locator('td:first-child').allTextContents()).map(Number);
      const firstSeqs = await seqs();
      const auditPager = page.getByRole('navigation', { name: 'Pages of the audit records' });
      await auditPager.getByRole('button', { name: 'Next page' }).click();
      await expect.poll(() => auditPager.getByTestId('page-number').textContent()).toBe('Page 2');
      await expect.poll(async () => (await seqs()).some((seq) => firstSeqs.includes(seq))).toBe(false);
      const secondSeqs = await seqs();
      expect(secondSeqs.length).toBeGreaterThan(0);
      // In the log's order: every record of page 2 comes after page 1's.
      expect(Math.min(...secondSeqs)).toBeGreaterThan(Math.max(...firstSeqs));
      await inspect(page, '16-audit-page-2');

      expect(session.problems).toEqual([]);
      expect(session.requested.filter((path) => MATERIAL_ROUTES.test(path))).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('keeps its tab out of reach of a site that opened it, signs out when the credential is revoked, and survives a malformed link', async () => {
    // Another origin (a second loopback port) opens the console: with Cross-Origin-Opener-Policy
    // its handle to the tab is severed at once, so it cannot steer the signed-in tab later.
    const page = await fetch(`${server.url}/ui/`);
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin-allow-popups');
    // The OIDC callback page must reach the console that opened it: no such header there.
    expect(
      (await fetch(`${server.url}/ui/callback.html`)).headers.get('cross-origin-opener-policy'),
    ).toBeNull();
    const attacker = createServer((_request, response) =>
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'),
    );
    const attackerUrl = await new Promise<string>((resolve) =>
      attacker.listen(0, '127.0.0.1', () =>
        resolve(`http://localhost:${(attacker.address() as AddressInfo).port}/`),
      ),
    );
    const context = await browser.newContext();
    try {
      const elsewhere = await context.newPage();
      await elsewhere.goto(attackerUrl);
      const opened = context.waitForEvent('page');
      await elsewhere.evaluate((url) => {
        (window as unknown as { handle: Window | null }).handle = window.open(url);
      }, `${server.url}/ui/`);
      const consoleTab = await opened;
      await consoleTab.getByLabel('API key').waitFor();
      expect(await elsewhere.evaluate(() => (window as unknown as { handle: Window }).handle.closed)).toBe(
        true,
      );
      expect(await consoleTab.evaluate(() => window.opener)).toBeNull();
    } finally {
      await context.close();
      attacker.closeAllConnections();
      await new Promise((resolve) => attacker.close(resolve));
    }

    // A revoked API key: the next request is refused and the console returns to sign-in.
    const operator = await principalWithKey('revoked-operator', ['key-admin']);
    const session = await openConsole();
    try {
      await signInWithKeyboard(session.page, operator.secret);
      await session.page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
      const { apiKeys } = await api<{ apiKeys: { apiKeyId: string }[] }>(
        'GET',
        `/v1/principals/${operator.id}/api-keys`,
        server.token,
      );
      expect(
        (
          await api<{ status: number }>(
            'DELETE',
            `/v1/principals/${operator.id}/api-keys/${apiKeys[0]!.apiKeyId}`,
            server.token,
          )
        ).status,
      ).toBe(204);
      await session.page.getByRole('link', { name: 'Audit' }).click();
      await session.page.getByRole('heading', { level: 1, name: 'Sign in to Keyhaven' }).waitFor();
      expect(await session.page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);

      // A link with a malformed escape shows the server's refusal of that id, not a blank page.
      await signInWithKeyboard(session.page, server.token);
      await session.page.evaluate(() => (location.hash = '#/keys/%E0'));
      await expect
        .poll(() => session.page.getByRole('alert').textContent())
        .toMatch(/^ValidationError: keyId must be/);
      expect(session.problems).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('serves the API documentation at /docs under a policy of its own that forbids framing, and it still renders', async () => {
    const answer = await fetch(`${server.url}/docs/`);
    const csp = answer.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(csp).not.toMatch(/https:|swagger\.io/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    const context = await browser.newContext();
    const problems: string[] = [];
    try {
      const page = await context.newPage();
      page.on(
        'console',
        (m) => /Content Security Policy|Refused to/i.test(m.text()) && problems.push(m.text()),
      );
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${server.url}/docs/`);
      await page
        .getByRole('heading', { name: /Keyhaven/ })
        .first()
        .waitFor();
      await page.getByText('/v1/keys', { exact: true }).first().waitFor();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  // Last: it breaks the server's chain for good.
  it('names the first broken record when the audit chain has been tampered with', async () => {
    const session = await openConsole();
    const { page } = session;
    try {
      await signInWithKeyboard(page, server.token);
      await page.getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await expect.poll(() => page.getByTestId('chain-status').textContent()).toMatch(/^Chain valid/);
      // Someone with the database file rewrites who did what in record 3.
      const db = new Database(join(server.dataDir, 'keyhaven.db'));
      try {
        db.pragma('busy_timeout = 5000');
        expect(
          db.prepare("update audit_records set principal_id = 'someone-else' where seq = 3").run().changes,
        ).toBe(1);
      } finally {
        db.close();
      }
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await expect
        .poll(() => page.getByTestId('chain-status').textContent())
        .toMatch(/^Chain broken at record 3: /);
      await inspect(page, '12-audit-chain-broken');
      expect(session.problems).toEqual([]);
    } finally {
      await session.close();
    }
  });
});

async function signInAttempt(page: Page, secret: string): Promise<void> {
  await page.getByLabel('API key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
