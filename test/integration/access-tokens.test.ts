// Keyhaven's access tokens over real HTTP (API.md `POST /v1/auth/token`, `GET /.well-known/jwks.json`):
// an API key traded for a token that then authenticates as its principal with the principal's
// current roles, the JWKS verifying it independently (jose's createLocalJWKSet), and every refusal:
// expired, tampered, a deleted principal's, and a token asking for another token.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEncryptCredentials, startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TokenReply {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
}

describe('access tokens over REST', () => {
  let server: InProcessApp;
  let system: Api;
  let tenantId: string;
  let admin: Actor;
  let keyId: string;
  let credentials: string[];

  beforeAll(async () => {
    server = await startInProcessApp({
      // No tolerance past exp, so that a token of one second is refused a second or two later.
      configure: (config) => void (config.auth.accessTokens.clockToleranceSeconds = 0),
      prepare: (keyhaven) => void (credentials = recordEncryptCredentials(keyhaven)),
    });
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    admin = await createActor(system, tenantId, ['admin']);
    keyId = (await createKey(admin.api)).keyId;
  });
  afterAll(async () => server?.close());

  const tokenFor = async (api: Api, body: unknown = {}) => {
    const response = await api.post<TokenReply>('/v1/auth/token', body);
    expect(response.status, response.text).toBe(200);
    return response;
  };
  const as = (token: string) => new Api(server.url, token);
  const encrypt = (api: Api) => api.post('/v1/encrypt', { keyId, plaintext: b64('by token') });

  it("trades a crypto-user's API key for a token that encrypts as that principal, never stored by caches", async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const response = await tokenFor(user.api);
    expect(response.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
    expect(response.headers.get('cache-control')).toBe('no-store');
    credentials.length = 0;
    const encrypted = await encrypt(as(response.body.accessToken));
    expect(encrypted.status, encrypted.text).toBe(200);
    expect(credentials).toEqual(['jwt']);
    const verified = await as(response.body.accessToken).post<{ principalId: string }>('/v1/auth/verify', {
      action: 'Encrypt',
    });
    expect(verified.body.principalId).toBe(user.principal.principalId);
  });

  it("applies the principal's roles: a crypto-user's token may not create a key", async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api)).body.accessToken;
    expectError(await as(token).post('/v1/keys', {}), 403, 'AccessDenied');
  });

  it('applies roles as they are now, not as the token says: roles taken away after issue are gone', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api)).body.accessToken;
    expect((await encrypt(as(token))).status).toBe(200);
    const changed = await system.patch(`/v1/principals/${user.principal.principalId}`, { roles: [] });
    expect(changed.status, changed.text).toBe(200);
    expectError(await encrypt(as(token)), 403, 'AccessDenied');
  });

  it('serves the JWKS without a credential, and it verifies the token on its own (jose)', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api, { ttlSeconds: 120 })).body.accessToken;
    const response = await fetch(`${server.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as JSONWebKeySet;
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
    expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: 'keyhaven',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({
      sub: user.principal.principalId,
      kh_tenant: tenantId,
      kh_roles: ['crypto-user'],
      client_id: user.principal.principalId,
    });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('refuses an expired token with 401, even one verified (and cached) moments before', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    // Five seconds, not one: the first use must come before the expiry, and on a loaded machine
    // (two test files at a time, beside other work) a request can take over a second.
    const token = (await tokenFor(user.api, { ttlSeconds: 5 })).body.accessToken;
    expect((await encrypt(as(token))).status).toBe(200);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 1100);
    const refused = expectError(await encrypt(as(token)), 401, 'Unauthenticated');
    expect(refused.message).toMatch(/expired/);
  });

  it("refuses a deleted principal's token at once", async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api)).body.accessToken;
    expect((await encrypt(as(token))).status).toBe(200);
    expect((await system.delete(`/v1/principals/${user.principal.principalId}`)).status).toBe(204);
    expectError(await encrypt(as(token)), 401, 'Unauthenticated');
  });

  it('issues no token for a token: only an API key trades for one', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api)).body.accessToken;
    expectError(await as(token).post('/v1/auth/token', {}), 403, 'AccessDenied');
    // Nor for the admin's: the rule is the credential's, not the role's.
    const adminToken = (await tokenFor(admin.api)).body.accessToken;
    expectError(await as(adminToken).post('/v1/auth/token', {}), 403, 'AccessDenied');
  });

  it('refuses a tampered token with 401: a changed signature, a changed claim, a changed header', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    const token = (await tokenFor(user.api)).body.accessToken;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...claims, kh_roles: ['admin'] })).toString('base64url');
    const unsigned = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    for (const tampered of [
      `${header}.${payload}.${flipped}`,
      `${header}.${promoted}.${signature}`,
      `${unsigned}.${payload}.${signature}`,
      `${header}.${payload}.`,
    ]) {
      expectError(await encrypt(as(tampered)), 401, 'Unauthenticated');
    }
    expect((await encrypt(as(token))).status).toBe(200);
  });

  it('refuses a lifetime beyond the maximum, and an unknown field', async () => {
    const user = await createActor(system, tenantId, ['crypto-user']);
    expectError(await user.api.post('/v1/auth/token', { ttlSeconds: 3601 }), 400, 'ValidationError');
    expectError(await user.api.post('/v1/auth/token', { ttl: 60 }), 400, 'ValidationError');
  });
});
