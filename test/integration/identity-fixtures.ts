// Tenants, principals and their API keys for the identity suites, made over REST by an admin.
import { expect } from 'vitest';
import { Api } from './http.js';

export interface TenantView {
  tenantId: string;
  name: string;
  quotas: { maxKeys?: number; requestsPerSecond?: number };
  policyIds: string[];
}

export interface PrincipalView {
  principalId: string;
  name: string;
  tenantId: string;
  roles: string[];
  attributes: Record<string, string>;
  policyIds: string[];
}

export interface PolicyWire {
  policyId: string;
  name: string;
  tenantId: string;
  version: number;
  document: unknown;
  effectiveAt: string;
}

export interface Actor {
  principal: PrincipalView;
  api: Api;
  apiKeyId: string;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

export async function createTenant(
  admin: Api,
  quotas?: { maxKeys?: number; requestsPerSecond?: number },
): Promise<TenantView> {
  const response = await admin.post<{ tenant: TenantView }>('/v1/tenants', {
    name: unique('tenant'),
    ...(quotas ? { quotas } : {}),
  });
  expect(response.status, response.text).toBe(201);
  return response.body.tenant;
}

/** A principal of `tenantId` with the roles and attributes given, and an API key to act as it. */
export async function createActor(
  admin: Api,
  tenantId: string,
  roles: string[],
  attributes: Record<string, string> = {},
): Promise<Actor> {
  const created = await admin.post<{ principal: PrincipalView }>('/v1/principals', {
    name: unique(roles.join('+') || 'nobody'),
    type: 'service',
    tenantId,
    roles,
    attributes,
  });
  expect(created.status, created.text).toBe(201);
  const principal = created.body.principal;
  const key = await admin.post<{ apiKey: { apiKeyId: string }; secret: string }>(
    `/v1/principals/${principal.principalId}/api-keys`,
    {},
  );
  expect(key.status, key.text).toBe(201);
  return { principal, api: new Api(admin.baseUrl, key.body.secret), apiKeyId: key.body.apiKey.apiKeyId };
}

export async function createPolicy(
  admin: Api,
  tenantId: string,
  document: unknown,
  effectiveAt?: string,
): Promise<PolicyWire> {
  const response = await admin.post<{ policy: PolicyWire }>('/v1/policies', {
    name: unique('policy'),
    tenantId,
    document,
    ...(effectiveAt ? { effectiveAt } : {}),
  });
  expect(response.status, response.text).toBe(201);
  return response.body.policy;
}

export async function attach(admin: Api, principalId: string, policyIds: string[]): Promise<void> {
  const response = await admin.put(`/v1/principals/${principalId}/policies`, { policyIds });
  expect(response.status, response.text).toBe(200);
}

/** A statement allowing or denying `actions` to one principal on every resource, with conditions. */
export function statement(
  effect: 'allow' | 'deny',
  principalId: string,
  actions: string[],
  extra: { sid?: string; resources?: string[]; conditions?: unknown } = {},
) {
  return {
    ...(extra.sid ? { sid: extra.sid } : {}),
    effect,
    principals: [`principal:${principalId}`],
    actions,
    resources: extra.resources ?? ['*'],
    ...(extra.conditions ? { conditions: extra.conditions } : {}),
  };
}
