// The built-in roles over real HTTP: every API action, as a principal of each role (and of none),
// is answered 403 AccessDenied exactly when the role does not grant it, and succeeds otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIONS,
  CRYPTO_ACTIONS,
  IDENTITY_ACTIONS,
  IDENTITY_READ_ACTIONS,
  KEY_EXPORT_ACTIONS,
  LIFECYCLE_ACTIONS,
  READ_ACTIONS,
  SELF_ACTIONS,
} from '../../src/domain/actions.js';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { ACTION_REQUESTS, prepareFixtures, send, type Fixtures } from './action-catalogue.js';
import { Api, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';

const ROLE_GRANTS: Record<string, readonly string[]> = {
  admin: [
    ...LIFECYCLE_ACTIONS,
    ...CRYPTO_ACTIONS,
    ...READ_ACTIONS,
    ...AUDIT_ACTIONS,
    ...IDENTITY_ACTIONS,
    ...IDENTITY_READ_ACTIONS,
    ...KEY_EXPORT_ACTIONS,
  ],
  'key-admin': [...LIFECYCLE_ACTIONS, ...READ_ACTIONS, 'GetKeyPolicy'],
  'crypto-user': [...CRYPTO_ACTIONS, ...READ_ACTIONS],
  auditor: [...READ_ACTIONS, ...AUDIT_ACTIONS, ...IDENTITY_READ_ACTIONS],
  none: [],
};

/**
 * Actions not in the catalogue: CreateTenant, and the whole-chain VerifyLogs and ExportLogs, are
 * for the default tenant's admins and auditors whatever a tenant role grants (tested below and in
 * audit.test.ts); Metrics is not a service call.
 */
// UnknownOperation: the AWS dialect's one route (POST /) names its action per request, from
// X-Amz-Target; the services it calls authorize as for REST (test/integration/aws-sdk.test.ts).
const OUTSIDE_CATALOGUE = new Set([
  'CreateTenant',
  'VerifyLogs',
  'ExportLogs',
  'Metrics',
  'UnknownOperation',
]);

describe('built-in roles over REST', () => {
  let server: InProcessApp;
  let system: Api;
  let tenantId: string;
  let fixtures: Fixtures;
  const actors = new Map<string, Actor>();

  beforeAll(async () => {
    server = await startInProcessApp();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    const tenantAdmin = await createActor(system, tenantId, ['admin']);
    fixtures = await prepareFixtures(tenantAdmin.api, tenantId);
    for (const role of Object.keys(ROLE_GRANTS)) {
      actors.set(role, await createActor(system, tenantId, role === 'none' ? [] : [role]));
    }
  });
  afterAll(async () => server?.close());

  it('has a request for every action a route names', () => {
    const routeActions = new Set(server.app.routeTable.filter((r) => !r.public).map((r) => r.action!));
    const missing = [...routeActions].filter((a) => !OUTSIDE_CATALOGUE.has(a) && !ACTION_REQUESTS[a]);
    expect(missing).toEqual([]);
  });

  for (const role of Object.keys(ROLE_GRANTS)) {
    it(`${role}: every action answers AccessDenied exactly when the role does not grant it`, async () => {
      const actor = actors.get(role)!;
      const granted = new Set([...ROLE_GRANTS[role]!, ...SELF_ACTIONS]);
      const wrong: string[] = [];
      for (const [action, prepare] of Object.entries(ACTION_REQUESTS)) {
        const request = await prepare(fixtures);
        const response = await send(actor.api, request);
        const denied = request.batch
          ? (response.body as { results: { error?: { code: string } }[] }).results[0]?.error?.code ===
            'AccessDenied'
          : response.status === 403;
        if (denied && !request.batch) expectError(response, 403, 'AccessDenied');
        const succeeded = !denied && response.status >= 200 && response.status < 300;
        if (granted.has(action) ? !succeeded : !denied) {
          wrong.push(`${action}: ${response.status} ${response.text.slice(0, 200)}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  it('lets only system administrators create tenants or change quotas, whatever a tenant role grants', async () => {
    const tenantAdmin = actors.get('admin')!;
    expectError(await tenantAdmin.api.post('/v1/tenants', { name: 'not-mine' }), 403, 'AccessDenied');
    expectError(
      await tenantAdmin.api.patch(`/v1/tenants/${tenantId}`, { quotas: { maxKeys: 1 } }),
      403,
      'AccessDenied',
    );
    expect((await system.post('/v1/tenants', { name: `by-system-${Date.now()}` })).status).toBe(201);
  });

  it("lets only the default tenant's admins and auditors verify or export the whole audit chain", async () => {
    for (const role of ['admin', 'auditor']) {
      const api = actors.get(role)!.api;
      expectError(await api.get('/v1/logs/verify'), 403, 'AccessDenied');
      expectError(await api.get('/v1/logs/export'), 403, 'AccessDenied');
    }
    expect((await system.get('/v1/logs/verify')).status).toBe(200);
  });

  it('shows a tenant admin only its own tenant in /v1/tenants; the system administrator all of them', async () => {
    const own = await actors.get('admin')!.api.get<{ tenants: { tenantId: string }[] }>('/v1/tenants');
    expect(own.body.tenants.map((t) => t.tenantId)).toEqual([tenantId]);
    const all = await system.get<{ tenants: { tenantId: string }[] }>('/v1/tenants?limit=1000');
    expect(all.body.tenants.map((t) => t.tenantId)).toEqual(expect.arrayContaining(['default', tenantId]));
  });
});
