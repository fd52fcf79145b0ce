// Tokens of external OpenID Connect issuers (Keycloak, Entra ID, Okta, Dex, ...): each configured
// issuer's keys are fetched from its jwksUrl and cached by jose; a verified token becomes an identity
// (subject, roles, tenant) that authentication turns into a Principal.
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { OidcIssuerConfig } from '../../config.js';
import { describeJwtFailure } from '../../crypto/jwt-failure.js';
import { KmsError } from '../../domain/errors.js';
import { DEFAULT_TENANT } from '../../domain/request-context.js';

export interface OidcVerifierOptions {
  /** How long one JWKS fetch may take (jose's timeoutDuration). */
  fetchTimeoutMs?: number;
  /** How long fetched keys are used before they are fetched again (jose's cacheMaxAge). */
  cacheMaxAgeMs?: number;
  /** After a fetch, how long before a token naming an unknown kid may cause another (jose's cooldownDuration). */
  cooldownMs?: number;
}

export interface OidcIdentity {
  issuer: string;
  /** The value of the issuer's principalClaim: who the principal is at that issuer. */
  subject: string;
  /** For people to read: preferred_username, else email, else name, else the subject. */
  principalName: string;
  roles: readonly string[];
  tenant: string;
  /** The ATTRIBUTE_CLAIMS the token carries, as strings (policies' principalAttributes read them). */
  attributes: Readonly<Record<string, string>>;
}

/** The claims copied into attributes: the OIDC standard claims a policy may sensibly condition on. */
export const ATTRIBUTE_CLAIMS = ['email', 'email_verified', 'preferred_username', 'name'] as const;

/** Thrown by an issuer's key resolver when its keys could not be fetched or read. */
class IssuerKeysUnavailable extends Error {
  override name = 'IssuerKeysUnavailable';
}

/**
 * Failures of choosing a key among fetched ones: the token's doing, not the issuer's. Anything else
 * from jose's remote resolver comes from fetching (network, timeout, not 200, not JSON) or from a
 * document that is no usable JWKS.
 */
const KEY_SELECTION_FAILURES: ReadonlySet<string> = new Set([
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_NOT_SUPPORTED',
]);

interface Issuer {
  config: OidcIssuerConfig;
  roleMapping: ReadonlyMap<string, string> | undefined;
  keys: JWTVerifyGetKey;
}

const WHAT = 'the token';
const unauthenticated = (reason: string, cause?: unknown) =>
  new KmsError('Unauthenticated', reason, cause === undefined ? undefined : { cause });

/**
 * A claim by name: a top-level claim of exactly that name first (URL-named claims hold dots, as
 * Auth0's do), else a dotted path through nested objects. Own properties only.
 */
function readClaim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const step of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, step))
      return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

/** A list of strings (non-strings skipped), or a space-separated string as OAuth's `scope` is. */
function roleNames(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((role) => role !== '');
  if (Array.isArray(value))
    return value.filter((role): role is string => typeof role === 'string' && role !== '');
  return [];
}

function mapRoles(issuer: Issuer, payload: JWTPayload): readonly string[] {
  if (issuer.config.rolesClaim === undefined) return Object.freeze([]);
  const names = roleNames(readClaim(payload, issuer.config.rolesClaim));
  const mapping = issuer.roleMapping;
  const mapped = mapping ? names.flatMap((name) => mapping.get(name) ?? []) : names;
  return Object.freeze([...new Set(mapped)]);
}

function attributesOf(payload: JWTPayload): Readonly<Record<string, string>> {
  const attributes: Record<string, string> = {};
  for (const claim of ATTRIBUTE_CLAIMS) {
    const value = payload[claim];
    if (typeof value === 'string' || typeof value === 'boolean') attributes[claim] = String(value);
  }
  return Object.freeze(attributes);
}

const nonEmptyString = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export class OidcVerifier {
  private readonly issuers = new Map<string, Issuer>();

  /** `issuers` as src/config.ts validated them (auth.oidc.issuers), defaults filled in. */
  constructor(issuers: readonly OidcIssuerConfig[], options: OidcVerifierOptions = {}) {
    for (const config of issuers) {
      if (this.issuers.has(config.issuer))
        throw new TypeError(`the OpenID Connect issuer ${config.issuer} is configured twice`);
      const remote = createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: options.fetchTimeoutMs,
        cacheMaxAge: options.cacheMaxAgeMs,
        cooldownDuration: options.cooldownMs,
      });
      const keys: JWTVerifyGetKey = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          if (error instanceof errors.JOSEError && KEY_SELECTION_FAILURES.has(error.code)) throw error;
          throw new IssuerKeysUnavailable(`the keys of ${config.issuer} could not be fetched`, {
            cause: error,
          });
        }
      };
      const roleMapping = config.roleMapping ? new Map(Object.entries(config.roleMapping)) : undefined;
      this.issuers.set(config.issuer, { config, roleMapping, keys });
    }
  }

  /**
   * Whether the token names (in its unverified `iss`) an issuer configured here, so that the caller
   * knows which verifier to hand it to. Trusts nothing: verify() checks the signature.
   */
  canVerify(token: string): boolean {
    const issuer = this.unverifiedIssuer(token);
    return issuer !== undefined && this.issuers.has(issuer);
  }

  /**
   * Verifies the token against its issuer's keys, audience, algorithms and clock tolerance. Every
   * refusal is an Unauthenticated KmsError with a general reason, except that the issuer's keys
   * could not be fetched: Unavailable (503), since the credential may be perfectly good and a
   * retry, not a new login, is what helps.
   */
  async verify(token: string, now: Date = new Date()): Promise<OidcIdentity> {
    const iss = this.unverifiedIssuer(token);
    if (iss === undefined) throw unauthenticated(`${WHAT} is malformed or names no issuer`);
    const issuer = this.issuers.get(iss);
    if (!issuer) throw unauthenticated(`${WHAT} is from an issuer that is not trusted`);
    const { config } = issuer;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.clockToleranceSeconds,
        currentDate: now,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof IssuerKeysUnavailable)
        throw new KmsError('Unavailable', "the issuer's keys could not be fetched; try again later", {
          cause: error,
        });
      throw unauthenticated(describeJwtFailure(error, WHAT), error);
    }
    const subject = nonEmptyString(readClaim(payload, config.principalClaim));
    if (subject === undefined) throw unauthenticated(`${WHAT} has no claim naming the principal`);
    let tenant = config.tenant ?? DEFAULT_TENANT;
    if (config.tenantClaim !== undefined) {
      const claimed = nonEmptyString(readClaim(payload, config.tenantClaim));
      if (claimed === undefined) throw unauthenticated(`${WHAT} has no claim naming the tenant`);
      tenant = claimed;
    }
    const attributes = attributesOf(payload);
    return Object.freeze({
      issuer: config.issuer,
      subject,
      principalName: attributes.preferred_username ?? attributes.email ?? attributes.name ?? subject,
      roles: mapRoles(issuer, payload),
      tenant,
      attributes,
    });
  }

  private unverifiedIssuer(token: string): string | undefined {
    if (typeof token !== 'string') return undefined;
    try {
      return nonEmptyString(decodeJwt(token).iss);
    } catch {
      return undefined;
    }
  }
}
