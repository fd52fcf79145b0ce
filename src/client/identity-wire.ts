// Wire -> SDK conversion of identity replies (tenants, principals, credentials, policies, decisions).
// As for keys, identity fields are checked and the rest is typed by the contract: a newer server may
// add fields, and they pass through.
import type {
  AccessKey,
  ApiKey,
  DecidedBy,
  KeyPolicy,
  Policy,
  PolicyVersionInfo,
  Principal,
  Tenant,
} from './identity-types.js';
import { array, asObject, malformed, num, str, type WireObject } from './wire.js';

/** The list under `name` and the cursor of the next page (null on the last page). */
export function toPage<T>(
  body: WireObject,
  name: string,
  convert: (item: unknown) => T,
): { items: T[]; nextCursor: string | null } {
  const nextCursor = body.nextCursor;
  return {
    items: array(body, name).map(convert),
    nextCursor: typeof nextCursor === 'string' && nextCursor !== '' ? nextCursor : null,
  };
}

export function toTenant(value: unknown): Tenant {
  const tenant = asObject(value, 'tenant');
  str(tenant, 'tenantId');
  tenant.quotas ??= {};
  tenant.policyIds ??= [];
  return tenant as unknown as Tenant;
}

export function toPrincipal(value: unknown): Principal {
  const principal = asObject(value, 'principal');
  str(principal, 'principalId');
  str(principal, 'tenantId');
  principal.roles ??= [];
  principal.attributes ??= {};
  principal.policyIds ??= [];
  return principal as unknown as Principal;
}

export function toApiKey(value: unknown): ApiKey {
  const apiKey = asObject(value, 'apiKey');
  str(apiKey, 'apiKeyId');
  apiKey.expiresAt ??= null;
  apiKey.revokedAt ??= null;
  return apiKey as unknown as ApiKey;
}

export function toAccessKey(value: unknown): AccessKey {
  const accessKey = asObject(value, 'accessKey');
  str(accessKey, 'accessKeyId');
  accessKey.revokedAt ??= null;
  return accessKey as unknown as AccessKey;
}

export function toPolicy(value: unknown): Policy {
  const policy = asObject(value, 'policy');
  str(policy, 'policyId');
  num(policy, 'version');
  asObject(policy.document, 'document');
  return policy as unknown as Policy;
}

export function toPolicyVersion(value: unknown): PolicyVersionInfo {
  const version = asObject(value, 'policy version');
  num(version, 'version');
  asObject(version.document, 'document');
  return version as unknown as PolicyVersionInfo;
}

export function toKeyPolicy(body: WireObject): KeyPolicy {
  return {
    keyId: str(body, 'keyId'),
    version: num(body, 'version'),
    document: asObject(body.document, 'document') as unknown as KeyPolicy['document'],
  };
}

export function toDecidedBy(body: WireObject): DecidedBy | null {
  const value = body.decidedBy;
  if (value === null || value === undefined) return null;
  const decidedBy = asObject(value, 'decidedBy');
  const sid = decidedBy.sid;
  return {
    policyId: str(decidedBy, 'policyId'),
    version: num(decidedBy, 'version'),
    sid: typeof sid === 'string' ? sid : null,
  };
}

export function toDecision(body: WireObject): 'allow' | 'deny' {
  const decision = str(body, 'decision');
  if (decision !== 'allow' && decision !== 'deny') throw malformed(`unknown decision "${decision}"`);
  return decision;
}
