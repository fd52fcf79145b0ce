// The console's static routes (src/transports/rest/console.ts): what they serve, with which headers,
// and what they refuse; and that `console.enabled: false` leaves no /ui route at all.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { CONSOLE_CSP, registerConsoleRoutes, type ConsoleOidc } from '../../src/transports/rest/console.js';
import { startInProcessApp } from '../helpers/in-process-app.js';

const directories: string[] = [];
afterAll(() => directories.forEach((d) => rmSync(d, { recursive: true, force: true })));

function consoleFiles(files: Record<string, string>): string {
  const directory = mkdtempSync(join(tmpdir(), 'keyhaven-console-'));
  directories.push(directory);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(directory, name, '..'), { recursive: true });
    writeFileSync(join(directory, name), text);
  }
  return directory;
}

async function appServing(directory: string, oidc?: ConsoleOidc) {
  const app = Fastify();
  registerConsoleRoutes(app, { directory, oidc });
  await app.ready();
  return app;
}

describe('the console routes', () => {
  it('serve the built files with the CSP, nosniff and no-referrer; the page itself is never cached', async () => {
    const app = await appServing(
      consoleFiles({ 'index.html': '<!doctype html>', 'app.js': 'export {}', 'img/logo.svg': '<svg/>' }),
    );
    const page = await app.inject({ method: 'GET', url: '/ui/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toBe('<!doctype html>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
    expect((await app.inject({ method: 'GET', url: '/ui/index.html' })).headers['cache-control']).toBe(
      'no-store',
    );
    const script = await app.inject({ method: 'GET', url: '/ui/app.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('no-cache');
    expect((await app.inject({ method: 'GET', url: '/ui/img/logo.svg' })).headers['content-type']).toBe(
      'image/svg+xml',
    );
    const redirect = await app.inject({ method: 'GET', url: '/ui' });
    expect([redirect.statusCode, redirect.headers.location]).toEqual([302, '/ui/']);
    await app.close();
  });

  it('serve nothing but the files read at start: no other type, no way out of the directory', async () => {
    const directory = consoleFiles({ 'index.html': 'x', 'notes.txt': 'SECRET-CONTENT', 'inner/app.js': '' });
    writeFileSync(join(directory, '..', 'keyhaven-console-outside.js'), 'OUTSIDE-CONTENT');
    const app = await appServing(directory);
    for (const url of [
      '/ui/notes.txt',
      '/ui/../keyhaven-console-outside.js',
      '/ui/..%2fkeyhaven-console-outside.js',
      '/ui/inner/../../x',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      // A target with dot segments may never reach the route at all (a 404 of the bare app here).
      expect(response.statusCode, url).toBe(404);
      expect(response.body, url).not.toMatch(/OUTSIDE-CONTENT|SECRET-CONTENT/);
    }
    rmSync(join(directory, '..', 'keyhaven-console-outside.js'));
    await app.close();
  });

  it('tell the page its sign-in settings, and let it fetch from the OpenID Connect issuer only when one is set', async () => {
    const files = consoleFiles({ 'index.html': 'x' });
    const plain = await appServing(files);
    expect((await plain.inject({ method: 'GET', url: '/ui/config.json' })).json()).toEqual({ oidc: null });
    await plain.close();
    const oidc = { issuer: 'https://login.example.com/realms/ops', clientId: 'console', scope: 'openid' };
    const withIssuer = await appServing(files, oidc);
    const settings = await withIssuer.inject({ method: 'GET', url: '/ui/config.json' });
    expect(settings.json()).toEqual({ oidc });
    expect(settings.headers['cache-control']).toBe('no-store');
    const csp = (await withIssuer.inject({ method: 'GET', url: '/ui/' })).headers['content-security-policy'];
    expect(csp).toBe(
      CONSOLE_CSP.replace("connect-src 'self'", "connect-src 'self' https://login.example.com"),
    );
    await withIssuer.close();
  });

  it('refuse a console issuer that auth.oidc.issuers does not list (its tokens would never be admitted)', () => {
    const directory = consoleFiles({});
    const file = join(directory, 'keyhaven.json');
    writeFileSync(
      file,
      JSON.stringify({ console: { oidc: { issuer: 'https://login.example.com', clientId: 'console' } } }),
    );
    expect(() => loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_DATA_DIR: directory })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_DATA_DIR: directory })).toThrow(
      /console.oidc.issuer|issuer of auth.oidc.issuers/,
    );
  });

  it('say the console is not built when dist/console is missing', async () => {
    const app = await appServing(join(tmpdir(), 'keyhaven-console-absent-directory'));
    const response = await app.inject({ method: 'GET', url: '/ui/' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.message).toBe('the console is not built (npm run build)');
    await app.close();
  });

  it('do not exist with console.enabled false: /ui is an unknown route, refused without a credential', async () => {
    const running = await startInProcessApp({ configure: (config) => (config.console.enabled = false) });
    try {
      expect(running.app.routeTable.some((route) => route.url.startsWith('/ui'))).toBe(false);
      const response = await fetch(`${running.url}/ui/`);
      expect(response.status).toBe(401);
    } finally {
      await running.close();
    }
  });
});
