// External OpenID Connect issuers (src/adapters/identity/oidc-verifier.ts) against a real issuer:
// a node:http server on loopback serving JWKS documents of generated RSA and EC keys, and tokens
// signed with jose's SignJWT. Nothing of jose or fetch is mocked.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OidcIssuerConfig } from '../../src/config.js';
import { OidcVerifier, type OidcVerifierOptions } from '../../src/adapters/identity/oidc-verifier.js';
import { KmsError } from '../../src/domain/errors.js';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  jwk: JWK;
}

function signingKey(kid: string, alg: SigningKey['alg']): SigningKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    alg,
    privateKey,
    jwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
  };
}

/** What one path of the test issuer answers, and how often it was asked. */
interface Endpoint {
  body: () => unknown;
  mode: 'serve' | 'hang' | 'status-500' | 'redirect';
  requests: number;
}

const endpoints = new Map<string, Endpoint>();
let server: Server;
let base: string;
let closedPort: number;

const aRsa = signingKey('a-rsa', 'RS256');
const aEc = signingKey('a-ec', 'ES256');
const bEc = signingKey('b-ec', 'ES256');
const aKeys: SigningKey[] = [aRsa, aEc];

function serve(path: string, body: () => unknown, mode: Endpoint['mode'] = 'serve'): Endpoint {
  const endpoint: Endpoint = { body, mode, requests: 0 };
  endpoints.set(path, endpoint);
  return endpoint;
}

const listen = (http: Server) =>
  new Promise<number>((resolve) =>
    http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)),
  );

beforeAll(async () => {
  server = createServer((request, response) => {
    const endpoint = endpoints.get(request.url ?? '');
    if (!endpoint) return void response.writeHead(404).end();
    endpoint.requests++;
    if (endpoint.mode === 'hang') return; // answers never: the fetch must time out
    if (endpoint.mode === 'status-500') return void response.writeHead(500).end();
    if (endpoint.mode === 'redirect')
      return void response.writeHead(302, { location: `${base}/a/certs` }).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(endpoint.body()));
  });
  base = `http://127.0.0.1:${await listen(server)}`;
  serve('/a/certs', () => ({ keys: aKeys.map((key) => key.jwk) }));
  serve('/b/jwks', () => ({ keys: [bEc.jwk] }));
  // A port that was just free and is closed again: connection refused, as from an issuer that is down.
  const closed = createServer();
  closedPort = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const A = () => `${base}/a`;
const B = () => `${base}/b`;

/** A Keycloak-style issuer: roles in realm_access.roles, mapped; the tenant in a claim. */
const issuerA = (): OidcIssuerConfig => ({
  issuer: A(),
  audience: 'keyhaven',
  jwksUrl: `${base}/a/certs`,
  principalClaim: 'sub',
  rolesClaim: 'realm_access.roles',
  roleMapping: { 'kms-admin': 'admin', 'kms-operator': 'crypto-user' },
  tenantClaim: 'org',
  algorithms: ['RS256', 'ES256', 'EdDSA'],
  clockToleranceSeconds: 30,
});

/** An issuer with one fixed tenant, roles passed through unmapped, ES256 only, principal by email. */
const issuerB = (): OidcIssuerConfig => ({
  issuer: B(),
  audience: ['keyhaven', 'other-service'],
  jwksUrl: `${base}/b/jwks`,
  principalClaim: 'email',
  rolesClaim: 'roles',
  tenant: 'acme',
  algorithms: ['ES256'],
  clockToleranceSeconds: 30,
});

const endpoint = (path: string) => endpoints.get(path)!;

const verifier = (issuers = [issuerA(), issuerB()], options: OidcVerifierOptions = {}) =>
  new OidcVerifier(issuers, { fetchTimeoutMs: 1000, ...options });

const nowSeconds = () => Math.floor(Date.now() / 1000);

function token(
  key: SigningKey,
  payload: JWTPayload,
  {
    issuer = A(),
    audience = 'keyhaven',
    expiresIn = 300,
  }: { issuer?: string; audience?: string; expiresIn?: number } = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(nowSeconds() + expiresIn)
    .sign(key.privateKey);
}

const keycloakClaims = (): JWTPayload => ({
  sub: 'f3b1c9e2-user',
  preferred_username: 'alice',
  email: 'alice@example.com',
  email_verified: true,
  org: 'ops',
  realm_access: { roles: ['kms-admin', 'offline_access', 'kms-operator', 'kms-admin'] },
});

async function refusal(promise: Promise<unknown>, jwt?: string): Promise<KmsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(KmsError);
  if (jwt !== undefined)
    for (const part of [jwt, ...jwt.split('.')].filter((p) => p.length > 8))
      expect((error as Error).message).not.toContain(part);
  return error as KmsError;
}

async function unauthenticated(oidc: OidcVerifier, jwt: string, reason: RegExp): Promise<void> {
  const error = await refusal(oidc.verify(jwt), jwt);
  expect(error.code).toBe('Unauthenticated');
  expect(error.message).toMatch(reason);
}

describe('OidcVerifier admits', () => {
  it('a Keycloak token (RS256): realm_access.roles mapped and deduplicated, unmapped dropped', async () => {
    const jwt = await token(aRsa, keycloakClaims());
    await expect(verifier().verify(jwt)).resolves.toEqual({
      issuer: A(),
      subject: 'f3b1c9e2-user',
      principalName: 'alice',
      roles: ['admin', 'crypto-user'],
      tenant: 'ops',
      attributes: {
        email: 'alice@example.com',
        email_verified: 'true',
        preferred_username: 'alice',
      },
    });
  });

  it('an ES256 token of the same issuer, and a fixed-tenant issuer whose roles pass through unmapped', async () => {
    const oidc = verifier();
    await expect(oidc.verify(await token(aEc, keycloakClaims()))).resolves.toMatchObject({
      roles: ['admin', 'crypto-user'],
    });
    const jwt = await token(
      bEc,
      { sub: 'u-42', email: 'bob@acme.test', roles: ['crypto-user', 'auditor', 7], org: 'ignored' },
      { issuer: B(), audience: 'other-service' },
    );
    await expect(oidc.verify(jwt)).resolves.toEqual({
      issuer: B(),
      subject: 'bob@acme.test',
      principalName: 'bob@acme.test',
      roles: ['crypto-user', 'auditor'],
      tenant: 'acme',
      attributes: { email: 'bob@acme.test' },
    });
  });

  it('roles under a claim whose name holds dots (Auth0 style) before a dotted path, or space-separated', async () => {
    const auth0 = { ...issuerB(), rolesClaim: 'https://kms.example/roles' };
    const payload = { email: 'c@acme.test', 'https://kms.example/roles': ['key-admin'] };
    const jwt = await token(bEc, payload, { issuer: B() });
    await expect(verifier([auth0]).verify(jwt)).resolves.toMatchObject({ roles: ['key-admin'] });
    const scoped = { ...issuerB(), rolesClaim: 'scope' };
    const scopeJwt = await token(
      bEc,
      { email: 'c@acme.test', scope: 'crypto-user  auditor' },
      { issuer: B() },
    );
    await expect(verifier([scoped]).verify(scopeJwt)).resolves.toMatchObject({
      roles: ['crypto-user', 'auditor'],
    });
    // No rolesClaim configured: no roles, whatever the token claims.
    const roleless = { ...issuerB(), rolesClaim: undefined };
    const claiming = await token(bEc, { email: 'c@acme.test', roles: ['admin'] }, { issuer: B() });
    await expect(verifier([roleless]).verify(claiming)).resolves.toMatchObject({ roles: [] });
  });

  it('a token up to clockToleranceSeconds past its expiry, fetching the keys once for many tokens', async () => {
    const before = endpoint('/a/certs').requests;
    const oidc = verifier();
    const late = await token(aRsa, keycloakClaims(), { expiresIn: -10 });
    for (let i = 0; i < 5; i++)
      await expect(oidc.verify(late)).resolves.toMatchObject({ subject: 'f3b1c9e2-user' });
    expect(endpoint('/a/certs').requests - before).toBe(1);
  });
});

describe('OidcVerifier refuses as Unauthenticated', () => {
  it('a token signed by another key under a kid the issuer publishes (bad signature)', async () => {
    const forger = signingKey('a-rsa', 'RS256');
    await unauthenticated(verifier(), await token(forger, keycloakClaims()), /invalid signature/);
  });

  it('a token for another audience', async () => {
    await unauthenticated(
      verifier(),
      await token(aRsa, keycloakClaims(), { audience: 'billing' }),
      /meant for another audience/,
    );
  });

  it('an expired token, beyond the clock tolerance', async () => {
    await unauthenticated(verifier(), await token(aRsa, keycloakClaims(), { expiresIn: -31 }), /has expired/);
    const noExp = await new SignJWT(keycloakClaims())
      .setProtectedHeader({ alg: 'RS256', kid: 'a-rsa' })
      .setIssuer(A())
      .setAudience('keyhaven')
      .sign(aRsa.privateKey);
    await unauthenticated(verifier(), noExp, /lacks a required claim \(exp\)/);
  });

  it('a token of an unknown issuer, without fetching anything; canVerify says no to it', async () => {
    const oidc = verifier();
    const before = endpoint('/a/certs').requests;
    const stranger = await token(aRsa, keycloakClaims(), { issuer: `${base}/c` });
    expect(oidc.canVerify(stranger)).toBe(false);
    await unauthenticated(oidc, stranger, /issuer that is not trusted/);
    // Close to a configured issuer is not the issuer: compared exactly.
    await unauthenticated(oidc, await token(aRsa, keycloakClaims(), { issuer: `${A()}/` }), /not trusted/);
    expect(endpoint('/a/certs').requests).toBe(before);
  });

  it('a token of issuer A whose kid only issuer B publishes', async () => {
    const oidc = verifier([issuerA(), issuerB()], { cooldownMs: 0 });
    const jwt = await token(bEc, keycloakClaims(), { issuer: A() });
    await unauthenticated(oidc, jwt, /signed with an unknown key/);
    // The same key and kid in B's own token: B's keys verify it.
    await expect(
      oidc.verify(await token(bEc, { email: 'bob@acme.test' }, { issuer: B() })),
    ).resolves.toMatchObject({ issuer: B() });
  });

  it('a token without the principal claim or the tenant claim', async () => {
    const { sub: _, ...noSubject } = keycloakClaims();
    await unauthenticated(verifier(), await token(aRsa, noSubject), /no claim naming the principal/);
    await unauthenticated(
      verifier(),
      await token(aRsa, { ...keycloakClaims(), sub: '' }),
      /naming the principal/,
    );
    const { org: __, ...noTenant } = keycloakClaims();
    await unauthenticated(verifier(), await token(aRsa, noTenant), /no claim naming the tenant/);
  });

  it('algorithms the issuer is not configured for, before any key is fetched: RS256 at B, HS256, none', async () => {
    const oidc = verifier();
    const before = endpoint('/b/jwks').requests;
    const rsaAtB = await token({ ...aRsa, kid: 'b-ec' }, { email: 'bob@acme.test' }, { issuer: B() });
    await unauthenticated(oidc, rsaAtB, /algorithm that is not accepted/);
    const confused = await new SignJWT({ email: 'bob@acme.test' })
      .setProtectedHeader({ alg: 'HS256', kid: 'b-ec' })
      .setIssuer(B())
      .setAudience('keyhaven')
      .setExpirationTime('5m')
      .sign(Buffer.from(JSON.stringify(bEc.jwk)));
    await unauthenticated(oidc, confused, /algorithm that is not accepted/);
    const [, payload] = confused.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    await unauthenticated(oidc, none, /algorithm that is not accepted/);
    expect(endpoint('/b/jwks').requests).toBe(before);
  });

  it('malformed tokens; canVerify says no to them', async () => {
    const oidc = verifier();
    for (const jwt of ['', 'khk_an-api-key', 'a.b.c', 'a.b', '{}.{}.{}'])
      expect(oidc.canVerify(jwt)).toBe(false);
    await unauthenticated(oidc, 'a.b.c', /malformed or names no issuer/);
    const signed = await token(aRsa, keycloakClaims());
    const [header, , signature] = signed.split('.');
    const tampered = Buffer.from(
      JSON.stringify({ ...keycloakClaims(), org: 'other', iss: A(), aud: 'keyhaven' }),
    );
    await unauthenticated(
      oidc,
      `${header}.${tampered.toString('base64url')}.${signature}`,
      /invalid signature/,
    );
  });
});

describe('OidcVerifier and the issuer key endpoint', () => {
  it('answers Unavailable, saying the keys could not be fetched: issuer down, timeout, HTTP 500, redirect, no JWKS', async () => {
    serve('/hang/certs', () => ({}), 'hang');
    serve('/error/certs', () => ({}), 'status-500');
    serve('/redirect/certs', () => ({}), 'redirect');
    serve('/garbage/certs', () => ({ keys: 'none' }));
    const issuers = [
      { ...issuerA(), issuer: `${base}/down`, jwksUrl: `http://127.0.0.1:${closedPort}/certs` },
      { ...issuerA(), issuer: `${base}/hang`, jwksUrl: `${base}/hang/certs` },
      { ...issuerA(), issuer: `${base}/error`, jwksUrl: `${base}/error/certs` },
      { ...issuerA(), issuer: `${base}/redirect`, jwksUrl: `${base}/redirect/certs` },
      { ...issuerA(), issuer: `${base}/garbage`, jwksUrl: `${base}/garbage/certs` },
    ];
    const oidc = verifier(issuers, { fetchTimeoutMs: 200 });
    for (const { issuer } of issuers) {
      const jwt = await token(aRsa, keycloakClaims(), { issuer });
      expect(oidc.canVerify(jwt)).toBe(true);
      const error = await refusal(oidc.verify(jwt), jwt);
      expect(error.code, issuer).toBe('Unavailable');
      expect(error.message).toMatch(/the issuer's keys could not be fetched/);
    }
    expect(endpoint('/hang/certs').requests).toBe(1);
    // The redirect is not followed: the keys that decide who is admitted come from jwksUrl only.
    expect(endpoint('/redirect/certs').requests).toBe(1);
  });

  it('fetches the keys again for a kid it has not seen (rotation at the issuer), at most once per cooldown', async () => {
    const first = signingKey('r-1', 'RS256');
    const rotating: SigningKey[] = [first];
    const certs = serve('/rotating/certs', () => ({ keys: rotating.map((key) => key.jwk) }));
    const config = { ...issuerA(), issuer: `${base}/rotating`, jwksUrl: `${base}/rotating/certs` };
    const oidc = verifier([config], { cooldownMs: 300 });
    const issued = (key: SigningKey) => token(key, keycloakClaims(), { issuer: config.issuer });

    await expect(oidc.verify(await issued(first))).resolves.toMatchObject({ tenant: 'ops' });
    expect(certs.requests).toBe(1);

    const next = signingKey('r-2', 'ES256');
    rotating.push(next);
    // Within the cooldown an unknown kid is refused without a fetch: tokens naming made-up kids
    // cannot make the server hammer the issuer.
    await unauthenticated(oidc, await issued(next), /signed with an unknown key/);
    expect(certs.requests).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(oidc.verify(await issued(next))).resolves.toMatchObject({ tenant: 'ops' });
    expect(certs.requests).toBe(2);
    // The old key is still published, so its tokens still verify, from the cache.
    await expect(oidc.verify(await issued(first))).resolves.toBeDefined();
    expect(certs.requests).toBe(2);

    // Once the issuer drops the old key, a refetch (the next unknown kid) forgets it too.
    rotating.shift();
    await new Promise((resolve) => setTimeout(resolve, 350));
    await unauthenticated(oidc, await issued(signingKey('made-up', 'RS256')), /unknown key/);
    expect(certs.requests).toBe(3);
    await unauthenticated(oidc, await issued(first), /unknown key/);
  });

  it('canVerify reads only the unverified iss: a forged token of a known issuer is still refused by verify', async () => {
    const oidc = verifier();
    const forged = await token(signingKey('a-rsa', 'RS256'), keycloakClaims());
    expect(oidc.canVerify(forged)).toBe(true);
    await unauthenticated(oidc, forged, /invalid signature/);
    expect(verifier([]).canVerify(forged)).toBe(false);
  });
});
