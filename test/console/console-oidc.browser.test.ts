// The console's OpenID Connect sign-in (authorization code with PKCE) in Debian's headless Chromium.
// The identity provider is a stand-in on loopback (node:http: discovery, an authorization endpoint
// that approves at once, a token endpoint that checks the PKCE verifier, the JWKS): a real provider
// cannot run here. The Keyhaven server is the real built process, configured to trust that issuer.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWK } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';

const CLIENT_ID = 'keyhaven-console';
const KID = 'console-test-key';
const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'console');
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const base64url = (bytes: Buffer) => bytes.toString('base64url');

interface PendingCode {
  challenge: string;
  redirectUri: string;
  clientId: string;
}

/** What the stand-in provider saw, for the assertions. */
const seen = { authorizations: [] as URLSearchParams[], tokenRequests: [] as URLSearchParams[] };
/** How the stand-in provider misbehaves in the tests of the console's refusals. */
const misbehave = {
  forgeState: false,
  refuseToken: false,
  tokenEndpointElsewhere: false,
  wrongIssuer: false,
};

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => resolve(body));
  });
}

interface IdentityProvider {
  server: Server;
  issuer: string;
  /** The same provider on a second port: another origin, for a token endpoint away from the issuer's. */
  tokenHost: Server;
  tokenEndpointElsewhere: string;
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );

async function startIssuer(): Promise<IdentityProvider> {
  const codes = new Map<string, PendingCode>();
  let issuer = '';
  let tokenHostUrl = '';
  const handler = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', issuer);
    // The console fetches discovery and the token endpoint from its own origin: CORS, as real providers do.
    const cors = { 'access-control-allow-origin': '*' };
    const json = (status: number, value: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json', ...cors }).end(JSON.stringify(value));
    if (url.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer: misbehave.wrongIssuer ? 'https://someone-else.example' : issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${misbehave.tokenEndpointElsewhere ? tokenHostUrl : issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        code_challenge_methods_supported: ['S256'],
      });
    if (url.pathname === '/jwks') {
      const jwk = {
        ...(signingKey.publicKey.export({ format: 'jwk' }) as JWK),
        kid: KID,
        alg: 'RS256',
        use: 'sig',
      };
      return json(200, { keys: [jwk] });
    }
    if (url.pathname === '/authorize') {
      const query = url.searchParams;
      seen.authorizations.push(query);
      const redirectUri = query.get('redirect_uri') ?? '';
      if (query.get('client_id') !== CLIENT_ID || query.get('code_challenge_method') !== 'S256')
        return void response.writeHead(400).end('bad authorization request');
      const code = base64url(randomBytes(16));
      codes.set(code, { challenge: query.get('code_challenge') ?? '', redirectUri, clientId: CLIENT_ID });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', misbehave.forgeState ? 'another-sign-in' : (query.get('state') ?? ''));
      return void response.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token' && request.method === 'POST') {
      const form = new URLSearchParams(await readBody(request));
      seen.tokenRequests.push(form);
      const pending = codes.get(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (
        misbehave.refuseToken ||
        !pending ||
        form.get('grant_type') !== 'authorization_code' ||
        form.get('client_id') !== pending.clientId ||
        form.get('redirect_uri') !== pending.redirectUri ||
        base64url(createHash('sha256').update(verifier).digest()) !== pending.challenge
      )
        return json(400, {
          error: 'invalid_grant',
          error_description: 'the code or its verifier is not valid',
        });
      codes.delete(form.get('code')!);
      const now = Math.floor(Date.now() / 1000);
      const accessToken = await new SignJWT({ roles: ['auditor'] })
        .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject('alice')
        .setAudience('keyhaven')
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(signingKey.privateKey);
      return json(200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300 });
    }
    response.writeHead(404, cors).end();
  };
  const server = createServer(handler);
  const tokenHost = createServer(handler);
  issuer = await listen(server);
  tokenHostUrl = await listen(tokenHost);
  return { server, issuer, tokenHost, tokenEndpointElsewhere: `${tokenHostUrl}/token` };
}

/** A Keyhaven server trusting the stand-in issuer, with `console.oidc` extended by `consoleOidc`. */
function configFileFor(issuer: string, consoleOidc: Record<string, string> = {}): string {
  const configFile = join(configDir, `keyhaven-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      auth: {
        oidc: {
          issuers: [
            {
              issuer,
              audience: 'keyhaven',
              jwksUrl: `${issuer}/jwks`,
              principalClaim: 'sub',
              rolesClaim: 'roles',
              tenant: 'default',
              algorithms: ['RS256'],
            },
          ],
        },
      },
      console: { oidc: { issuer, clientId: CLIENT_ID, ...consoleOidc } },
    }),
  );
  return configFile;
}

/** Resolves once the popup is closed (it may be already: the callback closes it at once). */
async function closed(popup: Page): Promise<void> {
  if (!popup.isClosed()) await popup.waitForEvent('close');
}

let identityProvider: IdentityProvider;
let server: TestServer;
let browser: Browser;
let configDir: string;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  identityProvider = await startIssuer();
  const { issuer } = identityProvider;
  configDir = mkdtempSync(join(tmpdir(), 'keyhaven-console-oidc-'));
  server = await startServer({ env: { KEYHAVEN_CONFIG: configFileFor(issuer) } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.dispose();
  for (const listener of [identityProvider?.server, identityProvider?.tokenHost]) {
    listener?.closeAllConnections();
    await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
  }
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('console sign-in through an OpenID Connect issuer (stand-in provider on loopback)', () => {
  it("allows the issuer's origin, and only it, to be fetched by the page", async () => {
    const page = await fetch(`${server.url}/ui/`);
    expect(page.headers.get('content-security-policy')).toContain(
      `connect-src 'self' ${identityProvider.issuer};`,
    );
    const settings = await (await fetch(`${server.url}/ui/config.json`)).json();
    expect(settings).toEqual({
      oidc: { issuer: identityProvider.issuer, clientId: CLIENT_ID, scope: 'openid' },
    });
  });

  it('signs in with the authorization code and PKCE (S256), keeps the token in memory, and the roles apply', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on(
      'console',
      (m) => /Content Security Policy|Refused to/i.test(m.text()) && problems.push(m.text()),
    );
    page.on('pageerror', (e) => problems.push(e.message));
    try {
      await page.goto(`${server.url}/ui/`);
      const popupOpened = page.waitForEvent('popup');
      await page.getByRole('button', { name: 'Sign in with the identity provider' }).click();
      await closed(await popupOpened);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(await page.locator('header .who').textContent()).toBe(
        `Signed in as oidc:${identityProvider.issuer}#alice`,
      );

      // The provider saw a PKCE request and a verifier that matches it; the challenge is not the verifier.
      const authorization = seen.authorizations.at(-1)!;
      const tokenRequest = seen.tokenRequests.at(-1)!;
      expect(authorization.get('code_challenge_method')).toBe('S256');
      expect(authorization.get('redirect_uri')).toBe(`${server.url}/ui/callback.html`);
      expect(authorization.get('state')!.length).toBeGreaterThanOrEqual(16);
      const verifier = tokenRequest.get('code_verifier')!;
      expect(verifier.length).toBeGreaterThanOrEqual(43);
      expect(base64url(createHash('sha256').update(verifier).digest())).toBe(
        authorization.get('code_challenge'),
      );

      // The issuer's roles (auditor): creating a key is disabled with the server's reason.
      const create = page.getByRole('button', { name: 'Create key' });
      await expect.poll(() => create.isDisabled()).toBe(true);
      await expect
        .poll(async () => page.locator(`#${await create.getAttribute('aria-describedby')}`).textContent())
        .toBe('no statement allows this request');

      expect(
        await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]),
      ).toEqual(['', 0, 0]);
      await page.screenshot({ path: join(SCREENSHOTS, '11-oidc-signed-in.png') });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('stays signed out, with the reason, when the answer is for another sign-in or the token is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/ui/`);
      const attempt = async () => {
        const popupOpened = page.waitForEvent('popup');
        await page.getByRole('button', { name: 'Sign in with the identity provider' }).click();
        await closed(await popupOpened);
      };
      const alert = () => page.getByRole('alert').textContent();
      const tokenRequests = seen.tokenRequests.length;
      misbehave.forgeState = true;
      await attempt();
      await expect.poll(alert).toBe('OidcError: the issuer answered for another sign-in (state mismatch)');
      // A code for another sign-in is never exchanged.
      expect(seen.tokenRequests.length).toBe(tokenRequests);
      misbehave.forgeState = false;
      misbehave.refuseToken = true;
      await attempt();
      await expect.poll(alert).toBe('invalid_grant: the code or its verifier is not valid');
      // A discovery document of another issuer (RFC 8414 section 3.3): refused before the popup
      // goes anywhere, and the popup is closed, not left at about:blank.
      misbehave.refuseToken = false;
      misbehave.wrongIssuer = true;
      const authorizations = seen.authorizations.length;
      await attempt();
      await expect
        .poll(alert)
        .toBe(
          `OidcMisconfigured: the discovery document at ${identityProvider.issuer}/.well-known/openid-configuration is for issuer https://someone-else.example, not ${identityProvider.issuer}`,
        );
      expect(seen.authorizations.length).toBe(authorizations);
      expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    } finally {
      misbehave.forgeState = false;
      misbehave.refuseToken = false;
      misbehave.wrongIssuer = false;
      await context.close();
    }
  });

  it('refuses a token endpoint on another origin unless console.oidc.tokenEndpoint names it, and then signs in through it', async () => {
    const { issuer, tokenEndpointElsewhere } = identityProvider;
    const tokenRequests = () => seen.tokenRequests.length;
    const signIn = async (page: Page) => {
      const popupOpened = page.waitForEvent('popup');
      await page.getByRole('button', { name: 'Sign in with the identity provider' }).click();
      await closed(await popupOpened);
    };
    misbehave.tokenEndpointElsewhere = true;
    const elsewhere = await startServer({
      env: { KEYHAVEN_CONFIG: configFileFor(issuer, { tokenEndpoint: tokenEndpointElsewhere }) },
    });
    const context = await browser.newContext();
    try {
      // The first server admits the issuer's origin only: the console says what to configure, and
      // no code is asked for (the popup is closed before it reaches the issuer).
      const page = await context.newPage();
      await page.goto(`${server.url}/ui/`);
      const before = { authorizations: seen.authorizations.length, tokens: tokenRequests() };
      await signIn(page);
      await expect
        .poll(() => page.getByRole('alert').textContent())
        .toBe(
          `OidcMisconfigured: the issuer's token endpoint ${tokenEndpointElsewhere} is on another origin: set console.oidc.tokenEndpoint to it`,
        );
      expect([seen.authorizations.length, tokenRequests()]).toEqual([before.authorizations, before.tokens]);

      // The second names it: its origin joins connect-src, and the sign-in goes through it.
      const answer = await fetch(`${elsewhere.url}/ui/`);
      expect(answer.headers.get('content-security-policy')).toContain(
        `connect-src 'self' ${issuer} ${new URL(tokenEndpointElsewhere).origin};`,
      );
      const other = await context.newPage();
      const problems: string[] = [];
      other.on(
        'console',
        (m) => /Content Security Policy|Refused to/i.test(m.text()) && problems.push(m.text()),
      );
      await other.goto(`${elsewhere.url}/ui/`);
      await signIn(other);
      await other.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(tokenRequests()).toBe(before.tokens + 1);
      expect(problems).toEqual([]);
    } finally {
      misbehave.tokenEndpointElsewhere = false;
      await context.close();
      await elsewhere.dispose();
    }
  });
});
