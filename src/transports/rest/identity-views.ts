// Identity objects -> wire shapes (API.md "Identity, policy, tenants, audit"), with the JSON schemas
// that validate, serialize and document them. Secrets appear only in the one reply that creates them.
import type { AccessKeyRecord, ApiKeyRecord, PrincipalRecord, Tenant } from '../../domain/identity.js';
import type { Decision } from '../../domain/policy.js';
import type { PolicyVersion } from '../../ports/identity-store.js';
import type { PolicyView } from '../../services/policy-service.js';
import { encryptionContext, enumOf } from './schemas.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const stringMap = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 256 },
  maxProperties: 50,
} as const;

/** Ids in paths: tenant ids are UUIDs or `default`; principals, policies and API keys are UUIDs. */
export const identifier = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
export const pageQuery = {
  limit: { type: 'string', pattern: '^[0-9]{1,6}$' },
  cursor: { type: 'string', maxLength: 512 },
} as const;

export const quotasSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxKeys: { type: 'integer', minimum: 1 },
    requestsPerSecond: { type: 'integer', minimum: 1 },
  },
} as const;

export const tenantSchema = {
  type: 'object',
  required: ['tenantId', 'name', 'quotas', 'policyIds', 'createdAt'],
  properties: {
    tenantId: { type: 'string' },
    name: { type: 'string' },
    quotas: quotasSchema,
    policyIds: { type: 'array', items: { type: 'string' } },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
} as const;

export const principalSchema = {
  type: 'object',
  required: ['principalId', 'name', 'type', 'tenantId', 'roles', 'attributes', 'policyIds', 'createdAt'],
  properties: {
    principalId: { type: 'string' },
    name: { type: 'string' },
    type: enumOf(['user', 'service']),
    tenantId: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    attributes: stringMap,
    policyIds: { type: 'array', items: { type: 'string' } },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
} as const;

export const apiKeySchema = {
  type: 'object',
  required: ['apiKeyId', 'principalId', 'createdAt'],
  properties: {
    apiKeyId: { type: 'string' },
    principalId: { type: 'string' },
    createdAt: dateTime,
    expiresAt: nullableDateTime,
    revokedAt: nullableDateTime,
  },
} as const;

export const accessKeySchema = {
  type: 'object',
  required: ['accessKeyId', 'principalId', 'createdAt'],
  properties: {
    accessKeyId: { type: 'string' },
    principalId: { type: 'string' },
    createdAt: dateTime,
    revokedAt: nullableDateTime,
  },
} as const;

/** Checked fully by domain/policy.ts parsePolicyDocument; this is the shape for the OpenAPI document. */
export const policyDocumentSchema = {
  type: 'object',
  required: ['statements'],
  properties: {
    statements: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['effect', 'principals', 'actions', 'resources'],
        properties: {
          sid: { type: 'string' },
          effect: enumOf(['allow', 'deny']),
          principals: { type: 'array', items: { type: 'string' } },
          actions: { type: 'array', items: { type: 'string' } },
          resources: { type: 'array', items: { type: 'string' } },
          conditions: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;

export const policySchema = {
  type: 'object',
  required: ['policyId', 'name', 'tenantId', 'version', 'document', 'effectiveAt', 'createdAt'],
  properties: {
    policyId: { type: 'string' },
    name: { type: 'string' },
    tenantId: { type: 'string' },
    version: { type: 'integer' },
    document: policyDocumentSchema,
    effectiveAt: dateTime,
    createdAt: dateTime,
  },
} as const;

export const policyVersionSchema = {
  type: 'object',
  required: ['version', 'document', 'effectiveAt', 'createdAt'],
  properties: {
    version: { type: 'integer' },
    document: policyDocumentSchema,
    effectiveAt: dateTime,
    createdAt: dateTime,
  },
} as const;

export const decidedBySchema = {
  type: ['object', 'null'],
  properties: {
    policyId: { type: 'string' },
    version: { type: 'integer' },
    sid: { type: ['string', 'null'] },
  },
} as const;

export const accessQuestion = {
  action: { type: 'string', minLength: 1, maxLength: 128 },
  keyId: { type: 'string', minLength: 1, maxLength: 2048 },
  context: encryptionContext,
} as const;

export function tenantView(tenant: Tenant) {
  return {
    tenantId: tenant.tenantId,
    name: tenant.name,
    quotas: tenant.quotas,
    policyIds: tenant.policyIds,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

export function principalView(principal: PrincipalRecord) {
  return {
    principalId: principal.principalId,
    name: principal.name,
    type: principal.type,
    tenantId: principal.tenantId,
    roles: principal.roles,
    attributes: principal.attributes,
    policyIds: principal.policyIds,
    createdAt: principal.createdAt.toISOString(),
    updatedAt: principal.updatedAt.toISOString(),
  };
}

export function apiKeyView(apiKey: ApiKeyRecord) {
  return {
    apiKeyId: apiKey.apiKeyId,
    principalId: apiKey.principalId,
    createdAt: apiKey.createdAt.toISOString(),
    expiresAt: iso(apiKey.expiresAt),
    revokedAt: iso(apiKey.revokedAt),
  };
}

export function accessKeyView(accessKey: AccessKeyRecord) {
  return {
    accessKeyId: accessKey.accessKeyId,
    principalId: accessKey.principalId,
    createdAt: accessKey.createdAt.toISOString(),
    revokedAt: iso(accessKey.revokedAt),
  };
}

export function policyView(policy: PolicyView) {
  return {
    policyId: policy.policyId,
    name: policy.name,
    tenantId: policy.tenantId,
    version: policy.version,
    document: policy.document,
    effectiveAt: policy.effectiveAt.toISOString(),
    createdAt: policy.createdAt.toISOString(),
  };
}

export function policyVersionView(version: PolicyVersion) {
  return {
    version: version.version,
    document: version.document,
    effectiveAt: version.effectiveAt.toISOString(),
    createdAt: version.createdAt.toISOString(),
  };
}

export function decisionView(decision: Decision) {
  return {
    decision: decision.allowed ? 'allow' : 'deny',
    decidedBy: decision.decidedBy,
    reason: decision.reason,
  };
}
