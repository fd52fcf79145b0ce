// Keyhaven access tokens (src/services/access-tokens.ts): signed through a signer over a real
// node:crypto P-256 key, checked independently with node:crypto, and every refusal crafted for real.
import { generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import {
  accessTokenJwks,
  accessTokenTtl,
  issueAccessToken,
  verifyAccessToken,
  type AccessTokenClaims,
  type AccessTokenExpectations,
  type TokenSigner,
} from '../../src/services/access-tokens.js';

const ISSUER = 'https://kms.example.test';
const NOW = new Date('2030-01-01T12:00:00.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;

interface TestKey {
  signer: TokenSigner;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A signer as the key store would be one: DER ECDSA over SHA-256 (Keyhaven's ECDSA_SHA_256, RAW). */
function p256Key(kid: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer: TokenSigner = {
    kid,
    alg: 'ES256',
    publicJwk: publicKey.export({ format: 'jwk' }) as JWK,
    sign: async (input) => sign('sha256', input, { key: privateKey, dsaEncoding: 'der' }),
  };
  return { signer, privateKey, publicKey };
}

const current = p256Key('kh-2030-01');
const jwks = accessTokenJwks([current.signer]);

const claims = (overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  issuer: ISSUER,
  subject: 'principal-1',
  tenant: 'acme',
  roles: ['crypto-user'],
  ttlSeconds: 900,
  now: NOW,
  jti: randomUUID(),
  ...overrides,
});

const expecting = (overrides: Partial<AccessTokenExpectations> = {}): AccessTokenExpectations => ({
  issuer: ISSUER,
  now: NOW,
  clockToleranceSeconds: 5,
  ...overrides,
});

const segments = (token: string) => token.split('.');
const decodeSegment = (segment: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
const encodeSegment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The claims a valid Keyhaven token carries, for tokens crafted with jose's SignJWT. */
const validPayload = (): JWTPayload => ({
  sub: 'principal-1',
  jti: randomUUID(),
  kh_tenant: 'acme',
  kh_roles: ['crypto-user'],
});

function crafted(payload: JWTPayload = validPayload()) {
  return new SignJWT(payload)
    .setIssuer(ISSUER)
    .setIssuedAt(NOW_SECONDS)
    .setNotBefore(NOW_SECONDS)
    .setExpirationTime(NOW_SECONDS + 900);
}

async function refusal(token: string, expectations = expecting()): Promise<KmsError> {
  const error = await verifyAccessToken(token, jwks, expectations).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(KmsError);
  const kmsError = error as KmsError;
  expect(kmsError.code).toBe('Unauthenticated');
  // The reason is general: never the token, nor any of its parts.
  for (const part of [token, ...segments(token)].filter((p) => p.length > 8))
    expect(kmsError.message).not.toContain(part);
  return kmsError;
}

describe('issueAccessToken', () => {
  it('signs a compact JWS whose header, claims and signature node:crypto checks independently', async () => {
    const jti = randomUUID();
    const token = await issueAccessToken(
      current.signer,
      claims({ jti, roles: ['crypto-user', 'auditor'], audience: 'keyhaven-api' }),
    );
    const [header, payload, signature] = segments(token) as [string, string, string];
    expect(decodeSegment(header)).toEqual({ alg: 'ES256', kid: 'kh-2030-01', typ: 'at+jwt' });
    expect(decodeSegment(payload)).toEqual({
      iss: ISSUER,
      sub: 'principal-1',
      aud: 'keyhaven-api',
      iat: NOW_SECONDS,
      nbf: NOW_SECONDS,
      exp: NOW_SECONDS + 900,
      jti,
      client_id: 'principal-1',
      kh_tenant: 'acme',
      kh_roles: ['crypto-user', 'auditor'],
    });
    // RFC 7518 §3.4: the signature is r || s, 32 bytes each, over "header.payload".
    const raw = Buffer.from(signature, 'base64url');
    expect(raw).toHaveLength(64);
    const input = Buffer.from(`${header}.${payload}`);
    expect(verify('sha256', input, { key: current.publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
  });

  it('round trip: verifyAccessToken returns the subject, tenant, roles, jti and expiry', async () => {
    const jti = randomUUID();
    const token = await issueAccessToken(current.signer, claims({ jti, ttlSeconds: 60 }));
    await expect(verifyAccessToken(token, jwks, expecting())).resolves.toEqual({
      subject: 'principal-1',
      tenant: 'acme',
      roles: ['crypto-user'],
      jti,
      expiresAt: new Date(NOW.getTime() + 60_000),
    });
    const withAudience = await issueAccessToken(current.signer, claims({ audience: ['a', 'keyhaven-api'] }));
    await expect(
      verifyAccessToken(withAudience, jwks, expecting({ audience: 'keyhaven-api' })),
    ).resolves.toMatchObject({ subject: 'principal-1' });
  });

  it('takes lifetimes from 1 s to the maximum (900 s when unnamed), refusing others as ValidationError', async () => {
    expect(accessTokenTtl(undefined)).toBe(900);
    expect(accessTokenTtl(1)).toBe(1);
    expect(accessTokenTtl(3600)).toBe(3600);
    for (const ttl of [0, -1, 3601, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => accessTokenTtl(ttl)).toThrow(expect.objectContaining({ code: 'ValidationError' }));
    const lowered = { defaultTtlSeconds: 60, maxTtlSeconds: 300 };
    expect(accessTokenTtl(undefined, lowered)).toBe(60);
    expect(() => accessTokenTtl(301, lowered)).toThrow(/from 1 to 300/);
    await expect(
      issueAccessToken(current.signer, claims({ ttlSeconds: 301 }), lowered),
    ).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(issueAccessToken(current.signer, claims({ ttlSeconds: 0 }))).rejects.toMatchObject({
      code: 'ValidationError',
    });
  });

  it('refuses empty identities, roles that are not strings and invalid dates as ValidationError', async () => {
    const bad: Partial<AccessTokenClaims>[] = [
      { subject: '' },
      { tenant: '' },
      { issuer: '' },
      { jti: '' },
      { roles: [1] as unknown as string[] },
      { audience: [] },
      { now: new Date(Number.NaN) },
    ];
    for (const overrides of bad)
      await expect(issueAccessToken(current.signer, claims(overrides))).rejects.toMatchObject({
        code: 'ValidationError',
      });
  });

  it('refuses a signer that returns raw r || s or anything else instead of DER', async () => {
    const rawSigner: TokenSigner = {
      ...current.signer,
      sign: async (input) => sign('sha256', input, { key: current.privateKey, dsaEncoding: 'ieee-p1363' }),
    };
    await expect(issueAccessToken(rawSigner, claims())).rejects.toMatchObject({ code: 'Internal' });
    // A DER sequence, but s = 0: no ECDSA signature has it.
    const zeroS: TokenSigner = {
      ...current.signer,
      sign: async () => Buffer.from('3006020101020100', 'hex'),
    };
    await expect(issueAccessToken(zeroS, claims())).rejects.toMatchObject({ code: 'Internal' });
  });
});

describe('verifyAccessToken refuses, always as Unauthenticated', () => {
  it('an expired token, beyond the clock tolerance', async () => {
    const token = await issueAccessToken(current.signer, claims({ ttlSeconds: 60 }));
    const at = (seconds: number) => expecting({ now: new Date(NOW.getTime() + seconds * 1000) });
    await expect(verifyAccessToken(token, jwks, at(64))).resolves.toBeDefined();
    expect((await refusal(token, at(65))).message).toMatch(/has expired/);
    expect((await refusal(token, expecting({ clockToleranceSeconds: 0, now: at(60).now }))).message).toMatch(
      /has expired/,
    );
  });

  it('a token not valid yet (nbf in the future)', async () => {
    const token = await issueAccessToken(current.signer, claims({ now: new Date(NOW.getTime() + 120_000) }));
    expect((await refusal(token)).message).toMatch(/not valid yet/);
    const crafty = await crafted()
      .setNotBefore(NOW_SECONDS + 60)
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01', typ: 'at+jwt' })
      .sign(current.privateKey);
    expect((await refusal(crafty)).message).toMatch(/not valid yet/);
  });

  it('a token of another issuer, or meant for another audience', async () => {
    const token = await issueAccessToken(current.signer, claims());
    expect((await refusal(token, expecting({ issuer: 'https://other.example.test' }))).message).toMatch(
      /another issuer/,
    );
    const bound = await issueAccessToken(current.signer, claims({ audience: 'billing' }));
    expect((await refusal(bound, expecting({ audience: 'keyhaven-api' }))).message).toMatch(
      /another audience/,
    );
    // RFC 7519 §4.1.3: a verifier not among the token's audiences refuses it, even one expecting none.
    expect((await refusal(bound)).message).toMatch(/another audience/);
    expect((await refusal(token, expecting({ audience: 'keyhaven-api' }))).message).toMatch(
      /lacks a required claim \(aud\)/,
    );
  });

  it('alg none, with and without a signature', async () => {
    const real = await issueAccessToken(current.signer, claims());
    const [, payload, signature] = segments(real) as [string, string, string];
    const none = encodeSegment({ alg: 'none', kid: 'kh-2030-01', typ: 'at+jwt' });
    expect((await refusal(`${none}.${payload}.`)).message).toMatch(/algorithm that is not accepted/);
    expect((await refusal(`${none}.${payload}.${signature}`)).message).toMatch(
      /algorithm that is not accepted/,
    );
  });

  it('HS256 keyed with the public key (algorithm confusion), in every form the key is published', async () => {
    const secrets = [
      current.publicKey.export({ type: 'spki', format: 'pem' }),
      current.publicKey.export({ type: 'spki', format: 'der' }),
      JSON.stringify(jwks),
      JSON.stringify(jwks.keys[0]),
    ];
    for (const secret of secrets) {
      const token = await crafted()
        .setProtectedHeader({ alg: 'HS256', kid: 'kh-2030-01', typ: 'at+jwt' })
        .sign(Buffer.from(secret));
      expect((await refusal(token)).message).toMatch(/algorithm that is not accepted/);
    }
  });

  it('another ECDSA algorithm (ES384) under our kid', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const token = await crafted()
      .setProtectedHeader({ alg: 'ES384', kid: 'kh-2030-01', typ: 'at+jwt' })
      .sign(p384.privateKey);
    expect((await refusal(token)).message).toMatch(/algorithm that is not accepted/);
  });

  it('a token signed by an unknown key, by another key under our kid, or naming no kid', async () => {
    const stranger = p256Key('kh-unknown');
    const unknownKid = await issueAccessToken(stranger.signer, claims());
    expect((await refusal(unknownKid)).message).toMatch(/signed with an unknown key/);
    const impostor = await issueAccessToken({ ...stranger.signer, kid: 'kh-2030-01' }, claims());
    expect((await refusal(impostor)).message).toMatch(/invalid signature/);
    const noKid = await crafted()
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .sign(current.privateKey);
    expect((await refusal(noKid)).message).toMatch(/signed with an unknown key/);
  });

  it('a tampered payload or header', async () => {
    const token = await issueAccessToken(current.signer, claims());
    const [header, payload, signature] = segments(token) as [string, string, string];
    const elevated = encodeSegment({ ...decodeSegment(payload), kh_roles: ['admin'], kh_tenant: 'other' });
    expect((await refusal(`${header}.${elevated}.${signature}`)).message).toMatch(/invalid signature/);
    const extended = encodeSegment({ ...decodeSegment(payload), exp: NOW_SECONDS + 86_400 });
    expect((await refusal(`${header}.${extended}.${signature}`)).message).toMatch(/invalid signature/);
    const retyped = encodeSegment({ ...decodeSegment(header), typ: 'JWT' });
    expect((await refusal(`${retyped}.${payload}.${signature}`)).message).toMatch(/invalid signature/);
    const flipped = Buffer.from(signature, 'base64url');
    flipped[10]! ^= 1;
    expect((await refusal(`${header}.${payload}.${flipped.toString('base64url')}`)).message).toMatch(
      /invalid signature/,
    );
  });

  it('a JWT signed by our key that is no access token: typ JWT, or without the Keyhaven claims', async () => {
    const plainJwt = await crafted()
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01', typ: 'JWT' })
      .sign(current.privateKey);
    expect((await refusal(plainJwt)).message).toMatch(/of another type/);
    const untyped = await crafted()
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01' })
      .sign(current.privateKey);
    expect((await refusal(untyped)).message).toMatch(/of another type/);
    const { kh_tenant: _, ...withoutTenant } = validPayload();
    const noTenant = await crafted(withoutTenant)
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01', typ: 'at+jwt' })
      .sign(current.privateKey);
    expect((await refusal(noTenant)).message).toMatch(/lacks a required claim \(kh_tenant\)/);
    const noExp = await new SignJWT(validPayload())
      .setIssuer(ISSUER)
      .setIssuedAt(NOW_SECONDS)
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01', typ: 'at+jwt' })
      .sign(current.privateKey);
    expect((await refusal(noExp)).message).toMatch(/lacks a required claim \(exp\)/);
    const stringRoles = await crafted({ ...validPayload(), kh_roles: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'kh-2030-01', typ: 'at+jwt' })
      .sign(current.privateKey);
    expect((await refusal(stringRoles)).message).toMatch(/malformed claims/);
  });

  it('malformed tokens of every shape', async () => {
    const real = await issueAccessToken(current.signer, claims());
    const [header, payload, signature] = segments(real) as [string, string, string];
    const malformed = [
      '',
      'khk_not-a-jwt-at-all',
      `${header}.${payload}`,
      `${header}.${payload}.${signature}.${signature}`,
      `${header}.${payload}.${signature}.x.y`,
      `${Buffer.from('{not json').toString('base64url')}.${payload}.${signature}`,
      `${header}.${payload}.@@@@`,
      `${header}!.${payload}.${signature}`,
    ];
    for (const token of malformed) expect((await refusal(token)).message).toMatch(/is malformed/);
    // The header still decodes, but what was signed is not what is checked.
    expect((await refusal(` ${real}`)).message).toMatch(/invalid signature/);
    await expect(verifyAccessToken(42 as unknown as string, jwks, expecting())).rejects.toMatchObject({
      code: 'Unauthenticated',
    });
  });
});

describe('the JWKS document and key rotation', () => {
  it('publishes only the public members, with kid, alg ES256 and use sig', () => {
    const document = accessTokenJwks([
      { kid: 'k1', publicJwk: { ...current.signer.publicJwk, key_ops: ['verify'], ext: true } },
    ]);
    const { x, y } = current.signer.publicJwk;
    expect(document).toEqual({
      keys: [{ kty: 'EC', crv: 'P-256', x, y, kid: 'k1', alg: 'ES256', use: 'sig' }],
    });
    expect(Object.isFrozen(document.keys)).toBe(true);
  });

  it('refuses to publish private material, other key types, points off the curve and a kid twice', () => {
    const privateJwk = current.privateKey.export({ format: 'jwk' }) as JWK;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      format: 'jwk',
    }) as JWK;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      format: 'jwk',
    }) as JWK;
    const offCurve = { ...current.signer.publicJwk, y: current.signer.publicJwk.x };
    for (const publicJwk of [privateJwk, rsa, p384, offCurve])
      expect(() => accessTokenJwks([{ kid: 'k', publicJwk }])).toThrow(
        expect.objectContaining({ code: 'Internal' }),
      );
    expect(() => accessTokenJwks([{ kid: 'k', publicJwk: privateJwk }])).toThrow(/private material/);
    expect(() =>
      accessTokenJwks([current.signer, { ...p256Key('x').signer, kid: current.signer.kid }]),
    ).toThrow(/published twice/);
  });

  it('verifies tokens of the retired key while it is published, and refuses them once it is gone', async () => {
    const next = p256Key('kh-2030-02');
    const oldToken = await issueAccessToken(current.signer, claims({ subject: 'old' }));
    const newToken = await issueAccessToken(next.signer, claims({ subject: 'new' }));
    expect((await refusal(newToken)).message).toMatch(/unknown key/);

    const during = accessTokenJwks([next.signer, current.signer]);
    await expect(verifyAccessToken(oldToken, during, expecting())).resolves.toMatchObject({ subject: 'old' });
    await expect(verifyAccessToken(newToken, during, expecting())).resolves.toMatchObject({ subject: 'new' });

    const after = accessTokenJwks([next.signer]);
    await expect(verifyAccessToken(newToken, after, expecting())).resolves.toMatchObject({ subject: 'new' });
    await expect(verifyAccessToken(oldToken, after, expecting())).rejects.toMatchObject({
      code: 'Unauthenticated',
      message: expect.stringMatching(/unknown key/),
    });
  });
});
