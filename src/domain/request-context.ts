// Who asks, from where, for what: the one description of a request that every transport builds
// (REST today; the AWS KMS dialect and later transports the same way) and every service method
// receives, so that authorization and audit, when they are added, see the same facts whatever the
// wire. Pure data: building it is the transport's job, deciding on it the services'.
import type { RecipientFacts } from './recipient.js';

/** An authenticated caller (domain/identity.ts keeps the stored record it comes from). */
export interface Principal {
  id: string;
  name: string;
  /** The tenant the principal belongs to; everything it touches is scoped to it. */
  tenant: string;
  roles: readonly string[];
  attributes: Readonly<Record<string, string>>;
  /** Policies attached to the principal itself (its roles' and its tenant's come on top). */
  policyIds: readonly string[];
}

/** How the caller proved who it is. */
export type CredentialKind = 'api-key' | 'access-key' | 'jwt' | 'oidc' | 'client-certificate' | 'internal';

/** Which surface the request came in on; `internal` for work the server does by itself. */
export type Transport = 'rest' | 'aws' | 'cli' | 'internal';

/**
 * What the services learn while they work that the audit record names: the key acted on (the first
 * one authorized) and the version used. Written by the services, read by the transport's audit.
 */
export interface RequestFacts {
  keyId?: string;
  keyVersion?: number;
  /**
   * Every key a request acted on, when it names several (a backup or restore of many keys): the
   * request then leaves one audit record per key, each with its keyId, so that a search by any of
   * them finds it. keyId is then the first.
   */
  keyIds?: readonly string[];
  /**
   * The tenant of that key, when it is not the caller's (a system administrator acting on a
   * tenant's key): the record belongs to the key's tenant, so that its auditors see it.
   */
  keyTenant?: string;
  /** The grant that allowed the request, when no policy did (domain/grant.ts). */
  grantId?: string;
  /**
   * The request's result is sealed to a recipient (domain/recipient.ts): set before the request is
   * authorized, so that the policies' recipient conditions and the audit record see it.
   */
  recipient?: RecipientFacts;
}

export interface RequestContext {
  readonly principal: Principal;
  readonly tenant: string;
  readonly credential: CredentialKind;
  /** The client's address as the transport saw it (after trusted proxies), or '' for internal work. */
  readonly sourceIp: string;
  readonly requestId: string;
  /** The API action (e.g. `Encrypt`), as named in API.md and the AWS dialect. */
  readonly action: string;
  readonly transport: Transport;
  readonly facts: RequestFacts;
}

/** The tenant of everything that exists before tenants do (API.md "Identity, policy, tenants"). */
export const DEFAULT_TENANT = 'default';

/**
 * The server acting on its own behalf: scheduled rotations and rotations at the AES-GCM bound (the
 * scheduled deletions and material destruction work on the store directly; they get a context when
 * the audit log records them). Frozen: it is shared by every internal context.
 */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({
  id: 'system',
  name: 'keyhaven',
  tenant: DEFAULT_TENANT,
  roles: Object.freeze(['admin']),
  attributes: Object.freeze({}),
  policyIds: Object.freeze([]),
});

/** The context of work the server starts itself (no caller, no address). */
export function internalContext(action: string, requestId: string, tenant = DEFAULT_TENANT): RequestContext {
  return {
    principal: SYSTEM_PRINCIPAL,
    tenant,
    credential: 'internal',
    sourceIp: '',
    requestId,
    action,
    transport: 'internal',
    facts: {},
  };
}
