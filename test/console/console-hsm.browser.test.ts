// The console's System page and HSM keys against a real PKCS#11 key store: two SoftHSM2 tokens as
// backends hsm-a and hsm-b, in Debian's headless Chromium. The first token's directory is moved
// away and back: the page shows its health and circuit as /ready reports them.
import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';
import { createSoftHsm, writeMultiBackendConfig, type SoftHsm } from '../helpers/softhsm.js';

const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'console');

let hsm: SoftHsm;
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  hsm = createSoftHsm({ tokens: 2, labelPrefix: 'keyhaven-console' });
  const config = writeMultiBackendConfig(hsm);
  server = await startServer({ env: { ...hsm.env, KEYHAVEN_CONFIG: config, KEYHAVEN_LOG_LEVEL: 'error' } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.dispose();
  hsm?.dispose();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.url}/ui/`);
  await page.getByLabel('API key').fill(server.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

describe('the console with a PKCS#11 key store (two SoftHSM2 tokens)', () => {
  it('creates an HSM key, and shows each backend with its health and circuit as a token goes away and comes back', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await signIn(page);
      // An HSM key made in the form.
      await page.getByLabel('Protection level').selectOption('HSM');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('status').getByRole('link').click();
      await page.getByTestId('key-state').waitFor();
      await expect.poll(() => page.locator('dt:text-is("Protection level") + dd').textContent()).toBe('HSM');

      await page.getByRole('link', { name: 'System' }).click();
      const row = (name: string) =>
        page.getByRole('table').first().getByRole('row').filter({ hasText: name });
      const cells = async (name: string) => (await row(name).getByRole('cell').allTextContents()).slice(0, 4);
      await expect
        .poll(() => cells('hsm-a'), { timeout: 30_000 })
        .toEqual(['hsm-a', 'pkcs11', 'yes', 'closed']);
      expect(await cells('hsm-b')).toEqual(['hsm-b', 'pkcs11', 'yes', 'closed']);

      // The first token vanishes: the page (refreshed every 5 s) shows it unhealthy, its circuit
      // not closed, and the server still ready on the second.
      const tokenDir = hsm.tokens[0]!.directory();
      const away = join(dirname(hsm.tokenDir), 'token-a-away');
      renameSync(tokenDir, away);
      try {
        await expect
          .poll(async () => (await cells('hsm-a')).slice(2).join(' '), { timeout: 30_000, interval: 500 })
          .toMatch(/^no (open|half-open)$/);
        expect(await page.getByTestId('readiness').textContent()).toMatch(/^Ready/);
        expect(await cells('hsm-b')).toEqual(['hsm-b', 'pkcs11', 'yes', 'closed']);
        await page.screenshot({ path: join(SCREENSHOTS, '17-system-hsm-circuit-open.png'), fullPage: true });
      } finally {
        renameSync(away, tokenDir);
      }
      await expect
        .poll(() => cells('hsm-a'), { timeout: 30_000, interval: 500 })
        .toEqual(['hsm-a', 'pkcs11', 'yes', 'closed']);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
