// Keyhaven's own access tokens (API.md `POST /v1/auth/token`): short-lived JWTs in the RFC 9068
// profile (typ at+jwt), signed by a Keyhaven key through the key store, so that the private key may
// stay in an HSM; verified with jose against the JWKS that `GET /.well-known/jwks.json` publishes.
import { createPublicKey } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { decodeEcdsaSignature } from '../crypto/ecdsa-der.js';
import { describeJwtFailure } from '../crypto/jwt-failure.js';
import { KmsError, validationError } from '../domain/errors.js';

/**
 * A Keyhaven signing key (ECC_NIST_P256) as the token issuer sees it. `sign` returns the ECDSA
 * signature over SHA-256 of its input DER-encoded (RFC 3279 §2.2.3), which is what Keyhaven's Sign
 * with ECDSA_SHA_256 and messageType RAW returns, whichever backend holds the key. DER only: a
 * 64-byte DER signature also exists, so "DER or raw r || s" could not be told apart by length.
 */
export interface TokenSigner {
  /** Published in the JWKS and named by every token's header. */
  readonly kid: string;
  readonly alg: 'ES256';
  /** The public key (kty EC, crv P-256, x, y); only those members are ever published. */
  readonly publicJwk: JWK;
  sign(signingInput: Buffer): Promise<Buffer>;
}

/** A key the JWKS publishes: the current signer, or a retired one whose tokens may still be live. */
export type PublishedKey = Pick<TokenSigner, 'kid' | 'publicJwk'>;

export interface JwksDocument {
  readonly keys: readonly JWK[];
}

/** The private claims, namespaced so that they never collide with registered or OIDC claims. */
export const TENANT_CLAIM = 'kh_tenant';
export const ROLES_CLAIM = 'kh_roles';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenLifetimes {
  /** When the caller names none. */
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
}

export const ACCESS_TOKEN_LIFETIMES: AccessTokenLifetimes = Object.freeze({
  defaultTtlSeconds: 900,
  maxTtlSeconds: 3600,
});

export interface AccessTokenClaims {
  issuer: string;
  /** The principal's id. */
  subject: string;
  tenant: string;
  roles: readonly string[];
  /** Omitted: the token carries no `aud`, and only verifiers that expect none accept it. */
  audience?: string | readonly string[];
  ttlSeconds: number;
  now: Date;
  /** Unique per token (a UUID): the handle for audit records and any later revocation list. */
  jti: string;
}

export interface AccessTokenExpectations {
  issuer: string;
  /** Omitted: only tokens without `aud` are accepted (RFC 7519 §4.1.3). */
  audience?: string | readonly string[];
  now: Date;
  clockToleranceSeconds: number;
}

export interface VerifiedAccessToken {
  subject: string;
  tenant: string;
  roles: readonly string[];
  jti: string;
  expiresAt: Date;
}

/** The order of P-256 (SEC 2 §2.4.2): r and s of a valid signature lie in [1, n - 1]. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_SCALAR_BYTES = 32;

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

/**
 * The lifetime of a token asked for with `requested` seconds (the default when undefined); a
 * ValidationError unless a whole number from 1 to the maximum.
 */
export function accessTokenTtl(
  requested: number | undefined,
  lifetimes: AccessTokenLifetimes = ACCESS_TOKEN_LIFETIMES,
): number {
  const ttl = requested ?? lifetimes.defaultTtlSeconds;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > lifetimes.maxTtlSeconds)
    throw validationError(`ttlSeconds must be a whole number from 1 to ${lifetimes.maxTtlSeconds}`);
  return ttl;
}

function checkAudience(audience: unknown, name: string): void {
  if (audience === undefined || isNonEmptyString(audience)) return;
  if (Array.isArray(audience) && audience.length > 0 && audience.every(isNonEmptyString)) return;
  throw validationError(`${name} must be a non-empty string or a non-empty list of them`);
}

function checkClaims(claims: AccessTokenClaims): void {
  for (const name of ['issuer', 'subject', 'tenant', 'jti'] as const)
    if (!isNonEmptyString(claims[name])) throw validationError(`${name} must be a non-empty string`);
  if (!isStringArray(claims.roles)) throw validationError('roles must be a list of strings');
  checkAudience(claims.audience, 'audience');
  if (!(claims.now instanceof Date) || Number.isNaN(claims.now.getTime()))
    throw validationError('now must be a valid date');
}

/** JWS's ECDSA form (RFC 7518 §3.4): r and s as fixed-width big-endian integers, concatenated. */
function joseSignatureFromDer(der: Buffer): Buffer {
  const decoded = Buffer.isBuffer(der) ? decodeEcdsaSignature(der) : undefined;
  const inRange = (value: bigint) => value >= 1n && value < P256_ORDER;
  if (!decoded || !inRange(decoded.r) || !inRange(decoded.s))
    throw new KmsError('Internal', 'the token signer returned no DER-encoded P-256 ECDSA signature');
  const fixed = (value: bigint) =>
    Buffer.from(value.toString(16).padStart(P256_SCALAR_BYTES * 2, '0'), 'hex');
  return Buffer.concat([fixed(decoded.r), fixed(decoded.s)]);
}

/**
 * Builds and signs a compact JWS: header {alg, kid, typ}, then iss, sub, aud (when given), iat,
 * nbf, exp, jti, client_id (RFC 9068 §2.2: the principal is its own client, authenticated by its
 * own API key) and the tenant and roles under TENANT_CLAIM and ROLES_CLAIM.
 */
export async function issueAccessToken(
  signer: TokenSigner,
  claims: AccessTokenClaims,
  lifetimes: AccessTokenLifetimes = ACCESS_TOKEN_LIFETIMES,
): Promise<string> {
  if (signer.alg !== 'ES256') throw new KmsError('Internal', 'access tokens are signed with ES256 only');
  if (!isNonEmptyString(signer.kid)) throw new KmsError('Internal', 'the token signer has no kid');
  checkClaims(claims);
  const ttl = accessTokenTtl(claims.ttlSeconds, lifetimes);
  const issuedAt = Math.floor(claims.now.getTime() / 1000);
  const header = { alg: signer.alg, kid: signer.kid, typ: ACCESS_TOKEN_TYPE };
  const payload: JWTPayload = {
    iss: claims.issuer,
    sub: claims.subject,
    ...(claims.audience === undefined
      ? {}
      : { aud: typeof claims.audience === 'string' ? claims.audience : [...claims.audience] }),
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + ttl,
    jti: claims.jti,
    client_id: claims.subject,
    [TENANT_CLAIM]: claims.tenant,
    [ROLES_CLAIM]: [...claims.roles],
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = joseSignatureFromDer(await signer.sign(Buffer.from(signingInput, 'ascii')));
  return `${signingInput}.${base64url(signature)}`;
}

/**
 * The public members of a P-256 key, checked to be a point on the curve; a JWK carrying `d` (the
 * private scalar) is refused rather than trimmed, as it means the caller mixed up the keys.
 */
function publicP256Jwk(key: PublishedKey): JWK {
  const { publicJwk, kid } = key;
  if (!isNonEmptyString(kid)) throw new KmsError('Internal', 'every published key needs a kid');
  if (publicJwk.d !== undefined)
    throw new KmsError('Internal', `the key ${kid} to publish holds private material`);
  const { kty, crv, x, y } = publicJwk;
  if (kty !== 'EC' || crv !== 'P-256' || !isNonEmptyString(x) || !isNonEmptyString(y))
    throw new KmsError('Internal', `the key ${kid} to publish is not a P-256 public key`);
  try {
    createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
  } catch (cause) {
    throw new KmsError('Internal', `the key ${kid} to publish is not a P-256 public key`, { cause });
  }
  return { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' };
}

/**
 * The document for `GET /.well-known/jwks.json`: the current key and the retired ones whose tokens
 * may still be live (a retired key can go once maxTtlSeconds, plus the clock tolerance, has passed
 * since it signed its last token). Frozen: verifyAccessToken reads each document once.
 */
export function accessTokenJwks(keys: readonly PublishedKey[]): JwksDocument {
  const kids = new Set<string>();
  const published = keys.map((key) => {
    const jwk = publicP256Jwk(key);
    if (kids.has(key.kid)) throw new KmsError('Internal', `the key id ${key.kid} is published twice`);
    kids.add(key.kid);
    return Object.freeze(jwk);
  });
  return Object.freeze({ keys: Object.freeze(published) });
}

/**
 * One jose resolver per document: it imports each key once. Our tokens always name their key, so
 * one without a kid is refused rather than tried against whichever key the document holds.
 */
const resolvers = new WeakMap<JwksDocument, JWTVerifyGetKey>();

function resolverFor(jwks: JwksDocument): JWTVerifyGetKey {
  let resolver = resolvers.get(jwks);
  if (!resolver) {
    const local = createLocalJWKSet({ keys: [...jwks.keys] });
    resolver = (header, token) => {
      if (!isNonEmptyString(header.kid)) throw new errors.JWKSNoMatchingKey('the token names no key id');
      return local(header, token);
    };
    resolvers.set(jwks, resolver);
  }
  return resolver;
}

const WHAT = 'the access token';
const unauthenticated = (reason: string, cause?: unknown) =>
  new KmsError('Unauthenticated', reason, cause === undefined ? undefined : { cause });

function checkExpectations(expectations: AccessTokenExpectations): void {
  if (!isNonEmptyString(expectations.issuer)) throw validationError('issuer must be a non-empty string');
  checkAudience(expectations.audience, 'audience');
  if (!(expectations.now instanceof Date) || Number.isNaN(expectations.now.getTime()))
    throw validationError('now must be a valid date');
  const tolerance = expectations.clockToleranceSeconds;
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw validationError('clockToleranceSeconds must be a number of seconds, 0 or more');
}

/**
 * Verifies a Keyhaven access token: ES256 only, typ at+jwt, the expected issuer (and audience),
 * exp, nbf and the Keyhaven claims present and well-typed. Every refusal is an Unauthenticated
 * KmsError whose message gives the kind of failure and never the token.
 */
export async function verifyAccessToken(
  token: string,
  jwks: JwksDocument,
  expectations: AccessTokenExpectations,
): Promise<VerifiedAccessToken> {
  checkExpectations(expectations);
  if (typeof token !== 'string') throw unauthenticated(`${WHAT} is malformed`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, resolverFor(jwks), {
      algorithms: ['ES256'],
      typ: ACCESS_TOKEN_TYPE,
      issuer: expectations.issuer,
      audience: expectations.audience === undefined ? undefined : [expectations.audience].flat(),
      currentDate: expectations.now,
      clockTolerance: expectations.clockToleranceSeconds,
      requiredClaims: ['exp', 'iat', 'sub', 'jti', TENANT_CLAIM, ROLES_CLAIM],
    }));
  } catch (error) {
    throw unauthenticated(describeJwtFailure(error, WHAT), error);
  }
  // A verifier that names no audience is not among any a token names.
  if (expectations.audience === undefined && payload.aud !== undefined)
    throw unauthenticated(`${WHAT} is meant for another audience`);
  const { sub, jti, exp } = payload;
  const tenant = payload[TENANT_CLAIM];
  const roles = payload[ROLES_CLAIM];
  if (
    !isNonEmptyString(sub) ||
    !isNonEmptyString(jti) ||
    !isNonEmptyString(tenant) ||
    !isStringArray(roles) ||
    typeof exp !== 'number'
  )
    throw unauthenticated(`${WHAT} has malformed claims`);
  return {
    subject: sub,
    tenant,
    roles: Object.freeze([...roles]),
    jti,
    expiresAt: new Date(exp * 1000),
  };
}
