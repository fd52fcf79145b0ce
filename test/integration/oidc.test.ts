// External OpenID Connect issuers authenticating REST requests (README "OpenID Connect"): a real
// issuer on loopback (node:http serving its JWKS), tokens signed with jose's SignJWT, the server in
// process over real HTTP with a Keycloak-style mapping (realm_access.roles, the tenant in a claim).
// Nothing of jose or fetch is mocked.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEncryptCredentials, startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createPolicy, createTenant, statement } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const listen = (http: Server) =>
  new Promise<number>((resolve) =>
    http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)),
  );

const KID = 'realm-key-1';
const issuerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** Another key under the same kid: what a forger without the issuer's key would sign with. */
const forgerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

describe('OpenID Connect tokens over REST', () => {
  let issuerServer: Server;
  let issuer: string;
  let downIssuer: string;
  let server: InProcessApp;
  let system: Api;
  let tenantId: string;
  let keyId: string;
  let credentials: string[];

  beforeAll(async () => {
    issuerServer = createServer((request, response) => {
      if (request.url !== '/realms/ops/protocol/openid-connect/certs')
        return void response.writeHead(404).end();
      const jwk = {
        ...(issuerKey.publicKey.export({ format: 'jwk' }) as JWK),
        kid: KID,
        alg: 'RS256',
        use: 'sig',
      };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    const port = await listen(issuerServer);
    issuer = `http://127.0.0.1:${port}/realms/ops`;
    // A port that was free a moment ago and is closed again: an issuer that is down.
    const closed = createServer();
    const closedPort = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    downIssuer = `http://127.0.0.1:${closedPort}/realms/down`;

    server = await startInProcessApp({
      configure: (config) => {
        config.auth.oidc.fetchTimeoutMs = 1000;
        config.auth.oidc.issuers = [
          {
            issuer,
            audience: 'keyhaven',
            jwksUrl: `${issuer}/protocol/openid-connect/certs`,
            principalClaim: 'sub',
            rolesClaim: 'realm_access.roles',
            roleMapping: { 'kms-user': 'crypto-user', 'kms-admin': 'admin' },
            tenantClaim: 'org',
            algorithms: ['RS256'],
            clockToleranceSeconds: 0,
          },
          {
            issuer: downIssuer,
            audience: 'keyhaven',
            jwksUrl: `${downIssuer}/protocol/openid-connect/certs`,
            principalClaim: 'sub',
            tenant: 'default',
            algorithms: ['RS256'],
            clockToleranceSeconds: 0,
          },
        ];
      },
      prepare: (keyhaven) => void (credentials = recordEncryptCredentials(keyhaven)),
    });
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    const admin = await createActor(system, tenantId, ['admin']);
    keyId = (await createKey(admin.api)).keyId;
  });
  afterAll(async () => {
    await server?.close();
    issuerServer?.closeAllConnections();
    await new Promise((resolve) => issuerServer?.close(resolve));
  });

  const now = () => Math.floor(Date.now() / 1000);

  /** A Keycloak access token: realm roles in realm_access.roles, the tenant in `org`. */
  const keycloakToken = (
    overrides: JWTPayload = {},
    options: { key?: KeyObject; issuer?: string; audience?: string; expiresAt?: number } = {},
  ) =>
    new SignJWT({
      preferred_username: 'alice',
      email: 'alice@example.com',
      realm_access: { roles: ['kms-user', 'offline_access'] },
      org: tenantId,
      ...overrides,
    })
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
      .setIssuer(options.issuer ?? issuer)
      .setSubject('f81d4fae-alice')
      .setAudience(options.audience ?? 'keyhaven')
      .setIssuedAt(now() - 10)
      .setExpirationTime(options.expiresAt ?? now() + 300)
      .sign(options.key ?? issuerKey.privateKey);

  const as = async (token: Promise<string> | string) => new Api(server.url, await token);
  const encrypt = (api: Api) => api.post('/v1/encrypt', { keyId, plaintext: b64('by oidc') });

  it('admits a good token as a principal with the mapped roles: encrypt yes, create a key no', async () => {
    const api = await as(keycloakToken());
    credentials.length = 0;
    const encrypted = await encrypt(api);
    expect(encrypted.status, encrypted.text).toBe(200);
    expect(credentials).toEqual(['oidc']);
    expectError(await api.post('/v1/keys', {}), 403, 'AccessDenied');
    const verified = await api.post<{ principalId: string; allowed: boolean }>('/v1/auth/verify', {
      action: 'Encrypt',
      keyId,
    });
    expect(verified.body).toMatchObject({ principalId: `oidc:${issuer}#f81d4fae-alice`, allowed: true });
  });

  it('maps another issuer role to admin, and drops roles the mapping does not name', async () => {
    const administrator = await as(keycloakToken({ realm_access: { roles: ['kms-admin'] } }));
    expect((await administrator.post('/v1/keys', {})).status).toBe(201);
    const unmapped = await as(keycloakToken({ realm_access: { roles: ['offline_access', 'crypto-user'] } }));
    expectError(await encrypt(unmapped), 403, 'AccessDenied');
  });

  it('names the principal in policies as oidc:<issuer>#<subject>', async () => {
    const other = await createTenant(system);
    const otherAdmin = await createActor(system, other.tenantId, ['admin']);
    const otherKey = (await createKey(otherAdmin.api)).keyId;
    const deny = await createPolicy(otherAdmin.api, other.tenantId, {
      statements: [statement('deny', `oidc:${issuer}#f81d4fae-alice`, ['Encrypt'], { sid: 'not-alice' })],
    });
    expect(
      (await otherAdmin.api.patch(`/v1/tenants/${other.tenantId}`, { policyIds: [deny.policyId] })).status,
    ).toBe(200);
    const alice = await as(keycloakToken({ org: other.tenantId }));
    const refused = expectError(
      await alice.post('/v1/encrypt', { keyId: otherKey, plaintext: b64('x') }),
      403,
      'AccessDenied',
    );
    expect(refused.message).toContain('not-alice');
    const bob = await as(keycloakToken({ org: other.tenantId, preferred_username: 'bob' }));
    // Same subject, so the same principal: the name is for people, the id is issuer and subject.
    expectError(await bob.post('/v1/encrypt', { keyId: otherKey, plaintext: b64('x') }), 403, 'AccessDenied');
  });

  it('refuses with 401 a bad signature, a wrong audience, an expired token and an unknown issuer', async () => {
    const refusals: [string, Promise<string>][] = [
      ['bad signature', keycloakToken({}, { key: forgerKey.privateKey })],
      ['wrong audience', keycloakToken({}, { audience: 'another-service' })],
      ['expired', keycloakToken({}, { expiresAt: now() - 5 })],
      ['unknown issuer', keycloakToken({}, { issuer: 'https://sso.elsewhere.example/realms/ops' })],
    ];
    for (const [what, token] of refusals) {
      const response = await encrypt(await as(token));
      expect(response.status, `${what}: ${response.text}`).toBe(401);
      expectError(response, 401, 'Unauthenticated');
    }
  });

  it('refuses with 401 a token whose tenant does not exist, or that names none', async () => {
    expectError(await encrypt(await as(keycloakToken({ org: 'no-such-tenant' }))), 401, 'Unauthenticated');
    expectError(await encrypt(await as(keycloakToken({ org: undefined }))), 401, 'Unauthenticated');
  });

  it("answers 503 Unavailable while an issuer's keys cannot be fetched: the token may be good", async () => {
    const token = keycloakToken({}, { issuer: downIssuer });
    const response = await encrypt(await as(token));
    expectError(response, 503, 'Unavailable');
  });
});
