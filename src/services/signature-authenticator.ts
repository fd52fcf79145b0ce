// Authentication by AWS Signature Version 4 (the AWS KMS dialect): the request names an access key
// pair (PrincipalService.createAccessKey), whose secret is kept wrapped by the root key because
// checking a signature needs it. The secret is unwrapped once per access key, day and region to
// derive that day's signing key, which is cached (bounded, for at most cacheTtlMs); the secret
// itself is zeroed at once. A dropped signing key is left to the collector, not zeroed: a request
// may still hold it between its lookup and its check, and a zeroed key would verify a signature
// anyone can compute. It is one day's key for one region and service, never the secret. A revocation or a deleted principal takes
// effect at once: forget() drops every cached key (AuthService.forgetCredentials calls it).
import { toPrincipal, type AccessKeyRecord } from '../domain/identity.js';
import {
  SignatureError,
  checkRequestTime,
  deriveSigningKey,
  parseAmzDate,
  parseAuthorization,
  signatureMatches,
  type ParsedAuthorization,
  type SignedRequest,
} from '../domain/sigv4.js';
import type { Principal } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore } from '../ports/identity-store.js';
import type { Authenticated } from './auth-service.js';

export interface SignatureSettings {
  /** The region requests must be signed for. */
  region: string;
  /** The service name in the credential scope ("kms"). */
  service: string;
  /** How far X-Amz-Date may be from the server's clock, either way. */
  skewMs: number;
  /** How long a derived signing key (and the principal) is used without reading the store again. */
  cacheTtlMs: number;
}

/** What a request carries for SigV4, beside what was signed. */
export interface SignatureInput {
  request: SignedRequest;
  authorization: string | undefined;
  amzDate: string | undefined;
  /** X-Amz-Security-Token: temporary credentials, which Keyhaven does not issue. */
  securityToken: string | undefined;
}

interface CachedKey {
  principal: Principal;
  signingKey: Buffer;
  until: number;
}

const MAX_CACHED = 1000;
const UNKNOWN_KEY = 'The security token included in the request is invalid.';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS ' +
  'Secret Access Key and signing method. Consult the service documentation for details.';

export class SignatureAuthenticator {
  private readonly cache = new Map<string, CachedKey>();
  /** Counts forget() calls: a key derived while one happened is not cached. */
  private generation = 0;

  constructor(
    private readonly identity: IdentityStore,
    /** The access key's secret, unwrapped by the root key (the caller zeroes nothing: we do). */
    private readonly unwrapSecret: (accessKey: AccessKeyRecord) => Promise<Buffer>,
    private readonly clock: Clock,
    private readonly settings: SignatureSettings,
  ) {}

  /** The principal whose access key signed the request; throws SignatureError otherwise. */
  async authenticate(input: SignatureInput): Promise<Authenticated> {
    const authorization = parseAuthorization(input.authorization);
    const signedAt = this.checkScope(authorization, input);
    checkRequestTime(signedAt, this.clock.now(), this.settings.skewMs);
    if (input.securityToken !== undefined) throw new SignatureError('unknown-key', UNKNOWN_KEY);
    const key = await this.signingKey(authorization);
    if (!signatureMatches(input.request, authorization, input.amzDate!, key.signingKey)) {
      throw new SignatureError('mismatch', MISMATCH);
    }
    return { principal: key.principal, credential: 'access-key' };
  }

  forget(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Checks what the credential scope and the signed headers must say; returns X-Amz-Date's time. */
  private checkScope(authorization: ParsedAuthorization, input: SignatureInput): Date {
    const { scope, signedHeaders } = authorization;
    const signedAt = parseAmzDate(input.amzDate);
    if (signedAt === undefined) {
      throw new SignatureError(
        'incomplete',
        input.amzDate === undefined
          ? "Authorization header requires existence of a 'X-Amz-Date' header."
          : 'X-Amz-Date must have the form YYYYMMDDTHHMMSSZ',
      );
    }
    // What says which operation runs on what must be signed too: an unsigned X-Amz-Target would let
    // anyone who saw a request replay it as another action.
    const { rawHeaders } = input.request;
    for (const required of ['host', 'x-amz-date', 'x-amz-target', 'content-type']) {
      if (signedHeaders.includes(required)) continue;
      let present = required === 'host' || required === 'x-amz-date';
      for (let i = 0; !present && i < rawHeaders.length; i += 2) {
        present = rawHeaders[i]!.length === required.length && rawHeaders[i]!.toLowerCase() === required;
      }
      if (present) throw new SignatureError('incomplete', `the '${required}' header must be signed`);
    }
    if (scope.date !== input.amzDate!.slice(0, 8)) {
      throw new SignatureError(
        'mismatch',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scope.date}' != '${input.amzDate!.slice(0, 8)}'`,
      );
    }
    if (scope.service !== this.settings.service) {
      throw new SignatureError(
        'mismatch',
        `Credential should be scoped to correct service: '${this.settings.service}'.`,
      );
    }
    if (scope.region !== this.settings.region) {
      throw new SignatureError(
        'mismatch',
        `Credential should be scoped to a valid region, not '${scope.region}'. This server is '${this.settings.region}'.`,
      );
    }
    return signedAt;
  }

  private async signingKey(authorization: ParsedAuthorization): Promise<CachedKey> {
    const { accessKeyId, scope } = authorization;
    const cacheKey = `${accessKeyId}\n${scope.date}\n${scope.region}\n${scope.service}`;
    const now = this.clock.now();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > now.getTime()) return cached;
    const generation = this.generation;
    const accessKey = await this.identity.getAccessKey(accessKeyId);
    if (!accessKey || accessKey.revokedAt !== null) throw new SignatureError('unknown-key', UNKNOWN_KEY);
    const record = await this.identity.getPrincipal(accessKey.principalId);
    if (!record) throw new SignatureError('unknown-key', UNKNOWN_KEY);
    const secret = await this.unwrapSecret(accessKey);
    let signingKey: Buffer;
    try {
      signingKey = deriveSigningKey(secret, scope);
    } finally {
      secret.fill(0);
    }
    const entry: CachedKey = {
      principal: toPrincipal(record),
      signingKey,
      until: now.getTime() + this.settings.cacheTtlMs,
    };
    if (generation === this.generation) {
      if (this.cache.size >= MAX_CACHED) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(cacheKey, entry);
    }
    return entry;
  }
}
