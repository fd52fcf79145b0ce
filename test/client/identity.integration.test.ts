// The SDK's tenant, principal, credential, policy and access-decision methods against a real server
// process over HTTP (test/helpers/server.ts), including the errors a caller must be able to tell apart.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeyhavenClient,
  KeyhavenError,
  type PolicyDocument,
  type Principal,
  type Tenant,
} from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: KeyhavenClient;

beforeAll(async () => {
  server = await startServer();
  admin = new KeyhavenClient({ endpoint: server.url, token: server.token });
});

afterAll(async () => {
  await server?.dispose();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const RANDOM_ID = '00000000-0000-4000-8000-000000000000';

async function expectKeyhavenError(promise: Promise<unknown>, code: string, status: number) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyhavenError);
  expect((error as KeyhavenError).code).toBe(code);
  expect((error as KeyhavenError).status).toBe(status);
  return error as KeyhavenError;
}

/** A principal of `tenantId` holding `roles`, and a client acting as it with a fresh API key. */
async function actor(
  tenantId: string,
  roles: string[],
): Promise<{ principal: Principal; as: KeyhavenClient }> {
  const principal = await admin.createPrincipal({
    name: unique(roles.join('+')),
    type: 'service',
    tenantId,
    roles,
  });
  const { secret } = await admin.createApiKey(principal.principalId);
  return { principal, as: new KeyhavenClient({ endpoint: server.url, token: secret }) };
}

const denyStatement = (principalId: string, actions: string[], sid: string) => ({
  sid,
  effect: 'deny' as const,
  principals: [`principal:${principalId}`],
  actions,
  resources: ['*'],
});

describe('tenants', () => {
  let tenant: Tenant;

  beforeAll(async () => {
    tenant = await admin.createTenant({ name: unique('acme'), quotas: { maxKeys: 10 } });
  });

  it('createTenant returns the tenant with its quotas and ISO dates', () => {
    expect(tenant).toMatchObject({ quotas: { maxKeys: 10 }, policyIds: [] });
    expect(tenant.tenantId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(tenant.createdAt).toISOString()).toBe(tenant.createdAt);
  });

  it('getTenant and listTenants see it; listAllTenants pages through every tenant', async () => {
    expect(await admin.getTenant(tenant.tenantId)).toEqual(tenant);
    const second = await admin.createTenant({ name: unique('second') });
    const first = await admin.listTenants({ limit: 1 });
    expect(first.tenants).toHaveLength(1);
    expect(first.nextCursor).toBeTruthy();
    const all: string[] = [];
    for await (const t of admin.listAllTenants({ limit: 1 })) all.push(t.tenantId);
    expect(all).toEqual(expect.arrayContaining(['default', tenant.tenantId, second.tenantId]));
    expect(new Set(all).size).toBe(all.length);
  });

  it('updateTenant renames, replaces the quotas and attaches tenant-wide policies', async () => {
    const policy = await admin.createPolicy({
      name: unique('tenant-wide'),
      tenantId: tenant.tenantId,
      document: { statements: [denyStatement(RANDOM_ID, ['ScheduleKeyDeletion'], 'tenant-wide')] },
    });
    const updated = await admin.updateTenant(tenant.tenantId, {
      name: 'renamed',
      quotas: { requestsPerSecond: 50 },
      policyIds: [policy.policyId],
    });
    expect(updated).toMatchObject({
      tenantId: tenant.tenantId,
      name: 'renamed',
      quotas: { requestsPerSecond: 50 },
      policyIds: [policy.policyId],
    });
    expect((await admin.getTenant(tenant.tenantId)).name).toBe('renamed');
    expect((await admin.updateTenant(tenant.tenantId, { policyIds: [] })).policyIds).toEqual([]);
  });

  it("listTenantKeys lists the keys that the tenant's own principals created", async () => {
    const { as: tenantAdmin } = await actor(tenant.tenantId, ['admin']);
    const created = await Promise.all([1, 2].map(() => tenantAdmin.createKey()));
    const page = await admin.listTenantKeys(tenant.tenantId, { limit: 1 });
    expect(page.keys).toHaveLength(1);
    expect(page.nextCursor).toBeTruthy();
    const all: string[] = [];
    for await (const key of admin.listAllTenantKeys(tenant.tenantId, { limit: 1 })) all.push(key.keyId);
    expect(all.sort()).toEqual(created.map((k) => k.keyId).sort());
    expect((await admin.listTenantKeys('default')).keys.map((k) => k.keyId)).not.toContain(created[0]!.keyId);
  });

  it('a tenant admin sees only its own tenant', async () => {
    const { as: tenantAdmin } = await actor(tenant.tenantId, ['admin']);
    expect((await tenantAdmin.listTenants()).tenants.map((t) => t.tenantId)).toEqual([tenant.tenantId]);
    await expectKeyhavenError(tenantAdmin.getTenant('default'), 'NotFound', 404);
    await expectKeyhavenError(tenantAdmin.createTenant({ name: unique('nope') }), 'AccessDenied', 403);
  });
});

describe('principals', () => {
  let tenant: Tenant;

  beforeAll(async () => {
    tenant = await admin.createTenant({ name: unique('people') });
  });

  it('create, get, list, update, set policies, delete', async () => {
    const principal = await admin.createPrincipal({
      name: 'billing',
      type: 'service',
      tenantId: tenant.tenantId,
      roles: ['crypto-user'],
      attributes: { team: 'billing' },
    });
    expect(principal).toMatchObject({
      name: 'billing',
      type: 'service',
      tenantId: tenant.tenantId,
      roles: ['crypto-user'],
      attributes: { team: 'billing' },
      policyIds: [],
    });
    expect(await admin.getPrincipal(principal.principalId)).toEqual(principal);

    const other = await admin.createPrincipal({ name: 'alice', type: 'user', tenantId: tenant.tenantId });
    const page = await admin.listPrincipals({ tenantId: tenant.tenantId, limit: 1 });
    expect(page.principals).toHaveLength(1);
    expect(page.nextCursor).toBeTruthy();
    const all: string[] = [];
    for await (const p of admin.listAllPrincipals({ tenantId: tenant.tenantId, limit: 1 }))
      all.push(p.principalId);
    expect(all.sort()).toEqual([principal.principalId, other.principalId].sort());
    // Without tenantId: the caller's own tenant.
    expect((await admin.listPrincipals()).principals.every((p) => p.tenantId === 'default')).toBe(true);

    const updated = await admin.updatePrincipal(principal.principalId, {
      name: 'billing-v2',
      roles: ['crypto-user', 'auditor'],
      attributes: { team: 'finance' },
    });
    expect(updated).toMatchObject({
      name: 'billing-v2',
      roles: ['crypto-user', 'auditor'],
      attributes: { team: 'finance' },
    });

    const policy = await admin.createPolicy({
      name: unique('attached'),
      tenantId: tenant.tenantId,
      document: { statements: [denyStatement(principal.principalId, ['Sign'], 'no-sign')] },
    });
    const attached = await admin.setPrincipalPolicies(principal.principalId, [policy.policyId]);
    expect(attached.policyIds).toEqual([policy.policyId]);
    expect((await admin.setPrincipalPolicies(principal.principalId, [])).policyIds).toEqual([]);

    await admin.deletePrincipal(principal.principalId);
    await expectKeyhavenError(admin.getPrincipal(principal.principalId), 'NotFound', 404);
    await expectKeyhavenError(admin.deletePrincipal(principal.principalId), 'NotFound', 404);
  });

  it("another tenant's principal is NotFound exactly as a random id is", async () => {
    const otherTenant = await admin.createTenant({ name: unique('other') });
    const stranger = await admin.createPrincipal({ name: 'x', type: 'user', tenantId: otherTenant.tenantId });
    const { as: tenantAdmin } = await actor(tenant.tenantId, ['admin']);

    const hidden = await expectKeyhavenError(tenantAdmin.getPrincipal(stranger.principalId), 'NotFound', 404);
    const missing = await expectKeyhavenError(tenantAdmin.getPrincipal(RANDOM_ID), 'NotFound', 404);
    expect(hidden.message.replace(stranger.principalId, '<id>')).toBe(
      missing.message.replace(RANDOM_ID, '<id>'),
    );
    // Every route that names a principal hides it the same way.
    for (const attempt of [
      () => tenantAdmin.updatePrincipal(stranger.principalId, { name: 'mine' }),
      () => tenantAdmin.deletePrincipal(stranger.principalId),
      () => tenantAdmin.setPrincipalPolicies(stranger.principalId, []),
      () => tenantAdmin.createApiKey(stranger.principalId),
      () => tenantAdmin.listApiKeys(stranger.principalId),
      () => tenantAdmin.createAccessKey(stranger.principalId),
      () => tenantAdmin.listAccessKeys(stranger.principalId),
      () => tenantAdmin.simulate({ principalId: stranger.principalId, action: 'Encrypt' }),
    ]) {
      await expectKeyhavenError(attempt(), 'NotFound', 404);
    }
    await expectKeyhavenError(
      tenantAdmin.listPrincipals({ tenantId: otherTenant.tenantId }),
      'NotFound',
      404,
    );
    expect((await admin.getPrincipal(stranger.principalId)).name).toBe('x');
  });

  it('a crypto-user API key may not create principals (AccessDenied)', async () => {
    const { as: cryptoUser } = await actor(tenant.tenantId, ['crypto-user']);
    const error = await expectKeyhavenError(
      cryptoUser.createPrincipal({ name: unique('escalate'), type: 'service', roles: ['admin'] }),
      'AccessDenied',
      403,
    );
    expect(error.requestId).toBeTruthy();
  });

  it('a malformed principal is a ValidationError', async () => {
    await expectKeyhavenError(
      admin.createPrincipal({ name: '', type: 'service', tenantId: tenant.tenantId }),
      'ValidationError',
      400,
    );
  });
});

describe('API keys and access keys', () => {
  let principal: Principal;

  beforeAll(async () => {
    const tenant = await admin.createTenant({ name: unique('creds') });
    principal = await admin.createPrincipal({
      name: 'app',
      type: 'service',
      tenantId: tenant.tenantId,
      roles: ['crypto-user'],
    });
  });

  it('createApiKey returns the secret once; it authenticates until revokeApiKey', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await admin.createApiKey(principal.principalId, { expiresAt });
    expect(created.apiKey).toMatchObject({
      principalId: principal.principalId,
      expiresAt,
      revokedAt: null,
    });
    expect(created.secret).toMatch(/^khk_/);

    const listed = await admin.listApiKeys(principal.principalId);
    expect(listed.map((k) => k.apiKeyId)).toContain(created.apiKey.apiKeyId);
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    const asApp = new KeyhavenClient({ endpoint: server.url, token: created.secret });
    expect((await asApp.verifyAccess({ action: 'Encrypt' })).principalId).toBe(principal.principalId);

    await admin.revokeApiKey(principal.principalId, created.apiKey.apiKeyId);
    await expectKeyhavenError(asApp.verifyAccess({ action: 'Encrypt' }), 'Unauthenticated', 401);
    const revoked = (await admin.listApiKeys(principal.principalId)).find(
      (k) => k.apiKeyId === created.apiKey.apiKeyId,
    );
    expect(revoked?.revokedAt).toBeTruthy();
    await expectKeyhavenError(admin.revokeApiKey(principal.principalId, RANDOM_ID), 'NotFound', 404);
  });

  it('createApiKey without options makes a key that does not expire', async () => {
    const created = await admin.createApiKey(principal.principalId);
    expect(created.apiKey.expiresAt).toBeNull();
  });

  it("createAccessToken trades an API key for a short-lived token acting as the key's principal", async () => {
    const { secret } = await admin.createApiKey(principal.principalId);
    const asApp = new KeyhavenClient({ endpoint: server.url, token: secret });
    const token = await asApp.createAccessToken(60);
    expect(token).toMatchObject({ tokenType: 'Bearer', expiresIn: 60 });
    expect(token.accessToken.split('.')).toHaveLength(3);
    const withToken = new KeyhavenClient({ endpoint: server.url, token: token.accessToken });
    expect((await withToken.verifyAccess({ action: 'Encrypt' })).principalId).toBe(principal.principalId);
    expect((await asApp.createAccessToken()).expiresIn).toBeGreaterThan(0);
    // Only an API key mints tokens, and only within the server's maximum lifetime.
    await expectKeyhavenError(withToken.createAccessToken(), 'AccessDenied', 403);
    await expectKeyhavenError(asApp.createAccessToken(10_000_000), 'ValidationError', 400);
  });

  it('createAccessKey, listAccessKeys, deleteAccessKey', async () => {
    const created = await admin.createAccessKey(principal.principalId);
    expect(created.accessKeyId).toMatch(/^KHAK[0-9A-F]{20}$/);
    expect(created.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    expect(created.accessKey).toMatchObject({ accessKeyId: created.accessKeyId, revokedAt: null });

    const listed = await admin.listAccessKeys(principal.principalId);
    expect(listed.map((k) => k.accessKeyId)).toContain(created.accessKeyId);
    expect(JSON.stringify(listed)).not.toContain(created.secretAccessKey);

    await admin.deleteAccessKey(principal.principalId, created.accessKeyId);
    const after = (await admin.listAccessKeys(principal.principalId)).find(
      (k) => k.accessKeyId === created.accessKeyId,
    );
    expect(after === undefined || after.revokedAt !== null).toBe(true);
    await expectKeyhavenError(admin.deleteAccessKey(principal.principalId, 'KHAKNOPE'), 'NotFound', 404);
  });
});

describe('policies', () => {
  let tenant: Tenant;
  let app: { principal: Principal; as: KeyhavenClient };

  beforeAll(async () => {
    tenant = await admin.createTenant({ name: unique('policies') });
    app = await actor(tenant.tenantId, ['crypto-user']);
  });

  const denyEncrypt = (sid: string): PolicyDocument => ({
    statements: [denyStatement(app.principal.principalId, ['Encrypt'], sid)],
  });

  it('create, get, list, update (now and later), versions, rollback, delete', async () => {
    const created = await admin.createPolicy({
      name: unique('deny-encrypt'),
      tenantId: tenant.tenantId,
      document: denyEncrypt('v1'),
    });
    expect(created).toMatchObject({ tenantId: tenant.tenantId, version: 1, document: denyEncrypt('v1') });
    expect(await admin.getPolicy(created.policyId)).toEqual(created);

    const second = await admin.createPolicy({
      name: unique('other'),
      tenantId: tenant.tenantId,
      document: denyEncrypt('other'),
    });
    const page = await admin.listPolicies({ tenantId: tenant.tenantId, limit: 1 });
    expect(page.policies).toHaveLength(1);
    expect(page.nextCursor).toBeTruthy();
    const all: string[] = [];
    for await (const p of admin.listAllPolicies({ tenantId: tenant.tenantId, limit: 1 }))
      all.push(p.policyId);
    expect(all.sort()).toEqual([created.policyId, second.policyId].sort());

    const v2 = await admin.updatePolicy(created.policyId, { document: denyEncrypt('v2') });
    expect(v2).toMatchObject({ policyId: created.policyId, version: 2, document: denyEncrypt('v2') });

    // A version that takes effect later is listed, but the one in force stays.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await admin.updatePolicy(created.policyId, { document: denyEncrypt('v3'), effectiveAt: later });
    expect((await admin.getPolicy(created.policyId)).version).toBe(2);
    const versions = await admin.listPolicyVersions(created.policyId);
    expect(versions.map((v) => [v.version, v.document.statements[0]!.sid])).toEqual([
      [1, 'v1'],
      [2, 'v2'],
      [3, 'v3'],
    ]);
    expect(versions[2]!.effectiveAt).toBe(later);

    const rolledBack = await admin.rollbackPolicy(created.policyId, 1);
    expect(rolledBack).toMatchObject({ version: 4, document: denyEncrypt('v1') });
    await expectKeyhavenError(admin.rollbackPolicy(created.policyId, 99), 'NotFound', 404);

    await admin.setPrincipalPolicies(app.principal.principalId, [created.policyId]);
    await expectKeyhavenError(admin.deletePolicy(created.policyId), 'Conflict', 409);
    await admin.setPrincipalPolicies(app.principal.principalId, []);
    await admin.deletePolicy(created.policyId);
    await expectKeyhavenError(admin.getPolicy(created.policyId), 'NotFound', 404);
  });

  it('a malformed policy document is a ValidationError', async () => {
    const malformed = { statements: [{ effect: 'maybe', principals: ['*'] }] } as unknown as PolicyDocument;
    const error = await expectKeyhavenError(
      admin.createPolicy({ name: unique('bad'), tenantId: tenant.tenantId, document: malformed }),
      'ValidationError',
      400,
    );
    expect(error.message).toMatch(/effect/);
    const policy = await admin.createPolicy({
      name: unique('good'),
      tenantId: tenant.tenantId,
      document: denyEncrypt('good'),
    });
    await expectKeyhavenError(
      admin.updatePolicy(policy.policyId, { document: malformed }),
      'ValidationError',
      400,
    );
    const key = await admin.createKey();
    await expectKeyhavenError(admin.putKeyPolicy(key.keyId, malformed), 'ValidationError', 400);
  });

  it('getKeyPolicy is version 0 until putKeyPolicy writes one', async () => {
    const key = await admin.createKey();
    expect(await admin.getKeyPolicy(key.keyId)).toEqual({
      keyId: key.keyId,
      version: 0,
      document: { statements: [] },
    });
    const document: PolicyDocument = {
      statements: [{ sid: 'k1', effect: 'deny', principals: ['*'], actions: ['Decrypt'], resources: ['*'] }],
    };
    const written = await admin.putKeyPolicy(key.keyId, document);
    expect(written).toEqual({ keyId: key.keyId, version: 1, document });
    expect(await admin.getKeyPolicy(key.keyId)).toEqual(written);
    await expectKeyhavenError(admin.getKeyPolicy(RANDOM_ID), 'NotFound', 404);

    const withPolicy = await admin.createKey({ policy: document });
    expect(await admin.getKeyPolicy(withPolicy.keyId)).toEqual({
      keyId: withPolicy.keyId,
      version: 1,
      document,
    });
  });

  it('simulate names the deciding statement; verifyAccess answers for the caller', async () => {
    const { as: tenantAdmin } = await actor(tenant.tenantId, ['admin']);
    const key = await tenantAdmin.createKey();
    const principalId = app.principal.principalId;

    const allowed = await admin.simulate({ principalId, action: 'Encrypt', keyId: key.keyId });
    expect(allowed).toMatchObject({
      decision: 'allow',
      decidedBy: { policyId: 'builtin:crypto-user', version: 1 },
    });
    const lifecycle = await admin.simulate({ principalId, action: 'ScheduleKeyDeletion', keyId: key.keyId });
    expect(lifecycle).toMatchObject({ decision: 'deny', decidedBy: null });
    expect(lifecycle.reason).toBeTruthy();

    const policy = await admin.createPolicy({
      name: unique('deny'),
      tenantId: tenant.tenantId,
      document: {
        statements: [
          {
            ...denyStatement(principalId, ['Encrypt'], 'no-billing'),
            conditions: { context: { app: 'billing' } },
          },
        ],
      },
    });
    await admin.setPrincipalPolicies(principalId, [policy.policyId]);
    const denied = await admin.simulate({
      principalId,
      action: 'Encrypt',
      keyId: key.keyId,
      context: { app: 'billing' },
      sourceIp: '10.0.0.1',
      at: new Date().toISOString(),
    });
    expect(denied).toEqual({
      decision: 'deny',
      decidedBy: { policyId: policy.policyId, version: 1, sid: 'no-billing' },
      reason: expect.any(String),
    });

    const mine = await app.as.verifyAccess({
      action: 'Encrypt',
      keyId: key.keyId,
      context: { app: 'billing' },
    });
    expect(mine).toMatchObject({
      allowed: false,
      principalId,
      decidedBy: { policyId: policy.policyId, sid: 'no-billing' },
    });
    const other = await app.as.verifyAccess({ action: 'Encrypt', keyId: key.keyId, context: { app: 'web' } });
    expect(other).toMatchObject({ allowed: true, decidedBy: { policyId: 'builtin:crypto-user' } });
    await expect(
      app.as.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x'), context: { app: 'billing' } }),
    ).rejects.toMatchObject({
      code: 'AccessDenied',
      status: 403,
    });
    await admin.setPrincipalPolicies(principalId, []);
  });
});
