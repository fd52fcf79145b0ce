// Policies over real HTTP: explicit deny overrides any allow (principal, tenant and key policies),
// each condition inside and outside its range, a version dated in the future before and after it
// takes effect, rollback, the simulator and /v1/auth/verify naming the deciding statement,
// credentials that expire or are revoked, and the tenant quotas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { Api, b64, expectError } from './http.js';
import {
  attach,
  createActor,
  createPolicy,
  createTenant,
  statement,
  type Actor,
  type PolicyWire,
} from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** HH:MM in a time zone, `offsetMinutes` from now. */
function clockIn(timeZone: string, offsetMinutes: number): string {
  const at = new Date(Date.now() + offsetMinutes * 60_000);
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('hour')}:${part('minute')}`;
}

describe('policies over REST', () => {
  let server: InProcessApp;
  let system: Api;
  let tenantId: string;
  let admin: Actor;

  beforeAll(async () => {
    server = await startInProcessApp();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    admin = await createActor(system, tenantId, ['admin']);
  });
  afterAll(async () => server?.close());

  const encrypt = (api: Api, keyId: string, context?: Record<string, string>) =>
    api.post<{ ciphertext: string }>('/v1/encrypt', {
      keyId,
      plaintext: b64('secret'),
      ...(context ? { context } : {}),
    });

  describe('explicit deny overrides allow', () => {
    it('a deny in a policy attached to the principal beats its role', async () => {
      const user = await createActor(system, tenantId, ['crypto-user']);
      const key = await createKey(admin.api);
      const encrypted = await encrypt(user.api, key.keyId);
      expect(encrypted.status).toBe(200);
      const deny = await createPolicy(admin.api, tenantId, {
        statements: [statement('deny', user.principal.principalId, ['Decrypt'], { sid: 'no-decrypt' })],
      });
      await attach(admin.api, user.principal.principalId, [deny.policyId]);
      const refused = expectError(
        await user.api.post('/v1/decrypt', { ciphertext: encrypted.body.ciphertext }),
        403,
        'AccessDenied',
      );
      expect(refused.message).toContain('no-decrypt');
      // Neither a re-encryption nor a batch opens what Decrypt may not.
      expectError(
        await user.api.post('/v1/reencrypt', {
          ciphertext: encrypted.body.ciphertext,
          destinationKeyId: key.keyId,
        }),
        403,
        'AccessDenied',
      );
      const batch = await user.api.post<{ results: { error?: { code: string } }[] }>('/v1/decrypt/batch', {
        items: [{ ciphertext: encrypted.body.ciphertext }],
      });
      expect(batch.body.results[0]?.error?.code).toBe('AccessDenied');
      expect((await encrypt(user.api, key.keyId)).status).toBe(200);
    });

    it("a deny in the tenant's policies applies to every principal of the tenant, admins included", async () => {
      const key = await createKey(admin.api, { tags: { class: 'frozen' } });
      const user = await createActor(system, tenantId, ['crypto-user']);
      const policy = await createPolicy(admin.api, tenantId, {
        statements: [
          {
            sid: 'frozen',
            effect: 'deny',
            principals: ['*'],
            actions: ['Encrypt'],
            resources: ['tag:class=frozen'],
          },
        ],
      });
      expect(
        (await admin.api.patch(`/v1/tenants/${tenantId}`, { policyIds: [policy.policyId] })).status,
      ).toBe(200);
      try {
        expectError(await encrypt(user.api, key.keyId), 403, 'AccessDenied');
        expectError(await encrypt(admin.api, key.keyId), 403, 'AccessDenied');
        expect((await encrypt(user.api, (await createKey(admin.api)).keyId)).status).toBe(200);
      } finally {
        expect((await admin.api.patch(`/v1/tenants/${tenantId}`, { policyIds: [] })).status).toBe(200);
      }
      expect((await encrypt(user.api, key.keyId)).status).toBe(200);
    });

    it('a key policy given at creation denies on that key only, and its admins can still change it', async () => {
      const user = await createActor(system, tenantId, ['crypto-user']);
      const created = await admin.api.post<{ key: { keyId: string } }>('/v1/keys', {
        policy: {
          statements: [{ sid: 'lock', effect: 'deny', principals: ['*'], actions: ['*'], resources: ['*'] }],
        },
      });
      expect(created.status, created.text).toBe(201);
      const keyId = created.body.key.keyId;
      expectError(await encrypt(user.api, keyId), 403, 'AccessDenied');
      expectError(await admin.api.get(`/v1/keys/${keyId}`), 403, 'AccessDenied');
      expect((await encrypt(user.api, (await createKey(admin.api)).keyId)).status).toBe(200);
      // Lockout safety: the key's tenant admins may read and replace the key policy.
      const read = await admin.api.get<{ version: number }>(`/v1/keys/${keyId}/policy`);
      expect(read.body.version).toBe(1);
      const replaced = await admin.api.put<{ version: number }>(`/v1/keys/${keyId}/policy`, {
        document: { statements: [statement('allow', user.principal.principalId, ['Encrypt'])] },
      });
      expect(replaced.body.version).toBe(2);
      expect((await encrypt(user.api, keyId)).status).toBe(200);
      expectError(
        await user.api.put(`/v1/keys/${keyId}/policy`, { document: { statements: [] } }),
        403,
        'AccessDenied',
      );
    });

    it('refuses a malformed key policy at creation with ValidationError and creates no key', async () => {
      const before = (await admin.api.get<{ keys: unknown[] }>('/v1/keys?limit=1000')).body.keys.length;
      const response = await admin.api.post('/v1/keys', {
        policy: { statements: [{ effect: 'maybe', principals: ['*'], actions: ['*'], resources: ['*'] }] },
      });
      expectError(response, 400, 'ValidationError');
      expect((await admin.api.get<{ keys: unknown[] }>('/v1/keys?limit=1000')).body.keys.length).toBe(before);
    });
  });

  describe('conditions, each inside and outside its range', () => {
    /** A principal with no role, allowed Encrypt only under `conditions`. */
    async function conditional(conditions: unknown, attributes: Record<string, string> = {}): Promise<Actor> {
      const actor = await createActor(system, tenantId, [], attributes);
      const policy = await createPolicy(admin.api, tenantId, {
        statements: [statement('allow', actor.principal.principalId, ['Encrypt'], { conditions })],
      });
      await attach(admin.api, actor.principal.principalId, [policy.policyId]);
      return actor;
    }

    it('sourceIp', async () => {
      const key = await createKey(admin.api);
      expect(
        (await encrypt((await conditional({ sourceIp: ['127.0.0.0/8', '::1'] })).api, key.keyId)).status,
      ).toBe(200);
      expectError(
        await encrypt((await conditional({ sourceIp: ['10.0.0.0/8'] })).api, key.keyId),
        403,
        'AccessDenied',
      );
    });

    it('timeWindow, in a time zone', async () => {
      const key = await createKey(admin.api);
      const zone = 'Asia/Kolkata';
      const inside = { start: clockIn(zone, -60), end: clockIn(zone, 60), timeZone: zone };
      const outside = { start: clockIn(zone, 120), end: clockIn(zone, 180), timeZone: zone };
      expect((await encrypt((await conditional({ timeWindow: inside })).api, key.keyId)).status).toBe(200);
      expectError(
        await encrypt((await conditional({ timeWindow: outside })).api, key.keyId),
        403,
        'AccessDenied',
      );
    });

    it('context (the encryption context of the request)', async () => {
      const key = await createKey(admin.api);
      const actor = await conditional({ context: { app: 'billing' } });
      expect((await encrypt(actor.api, key.keyId, { app: 'billing' })).status).toBe(200);
      expectError(await encrypt(actor.api, key.keyId, { app: 'payroll' }), 403, 'AccessDenied');
      expectError(await encrypt(actor.api, key.keyId), 403, 'AccessDenied');
    });

    it('keyTags', async () => {
      const actor = await conditional({ keyTags: { team: 'red' } });
      expect(
        (await encrypt(actor.api, (await createKey(admin.api, { tags: { team: 'red' } })).keyId)).status,
      ).toBe(200);
      expectError(
        await encrypt(actor.api, (await createKey(admin.api, { tags: { team: 'blue' } })).keyId),
        403,
        'AccessDenied',
      );
    });

    it('principalAttributes', async () => {
      const key = await createKey(admin.api);
      const conditions = { principalAttributes: { department: 'security' } };
      expect(
        (await encrypt((await conditional(conditions, { department: 'security' })).api, key.keyId)).status,
      ).toBe(200);
      expectError(
        await encrypt((await conditional(conditions, { department: 'sales' })).api, key.keyId),
        403,
        'AccessDenied',
      );
    });
  });

  describe('versions', () => {
    it('a version dated in the future applies only once its time has come; rollback restores an earlier one', async () => {
      const key = await createKey(admin.api);
      const actor = await createActor(system, tenantId, []);
      const id = actor.principal.principalId;
      const policy = await createPolicy(admin.api, tenantId, {
        statements: [statement('allow', id, ['Encrypt'], { sid: 'v1-allow' })],
      });
      await attach(admin.api, id, [policy.policyId]);
      expect((await encrypt(actor.api, key.keyId)).status).toBe(200);

      const takesEffect = new Date(Date.now() + 2500);
      const updated = await admin.api.put<{ policy: PolicyWire }>(`/v1/policies/${policy.policyId}`, {
        document: { statements: [statement('deny', id, ['Encrypt'], { sid: 'v2-deny' })] },
        effectiveAt: takesEffect.toISOString(),
      });
      expect(updated.status, updated.text).toBe(200);
      // Until then, version 1 is in force (and is what GET shows).
      expect(updated.body.policy.version).toBe(1);
      expect((await encrypt(actor.api, key.keyId)).status).toBe(200);
      const simulated = await admin.api.post<{
        decision: string;
        decidedBy: { version: number; sid: string };
      }>('/v1/simulate', {
        principalId: id,
        action: 'Encrypt',
        keyId: key.keyId,
        at: new Date(takesEffect.getTime() + 1000).toISOString(),
      });
      expect(simulated.body).toMatchObject({
        decision: 'deny',
        decidedBy: { policyId: policy.policyId, version: 2, sid: 'v2-deny' },
      });

      await sleep(takesEffect.getTime() - Date.now() + 300);
      expectError(await encrypt(actor.api, key.keyId), 403, 'AccessDenied');
      const versions = await admin.api.get<{ versions: { version: number }[] }>(
        `/v1/policies/${policy.policyId}/versions`,
      );
      expect(versions.body.versions.map((v) => v.version)).toEqual([1, 2]);

      const rolledBack = await admin.api.post<{ policy: PolicyWire }>(
        `/v1/policies/${policy.policyId}/rollback`,
        {
          version: 1,
        },
      );
      expect(rolledBack.body.policy).toMatchObject({ version: 3 });
      expect((await encrypt(actor.api, key.keyId)).status).toBe(200);
      expectError(
        await admin.api.post(`/v1/policies/${policy.policyId}/rollback`, { version: 9 }),
        404,
        'NotFound',
      );
    });

    it('refuses to delete a policy that is attached, and deletes it once detached', async () => {
      const actor = await createActor(system, tenantId, []);
      const policy = await createPolicy(admin.api, tenantId, {
        statements: [statement('allow', actor.principal.principalId, ['Encrypt'])],
      });
      await attach(admin.api, actor.principal.principalId, [policy.policyId]);
      expectError(await admin.api.delete(`/v1/policies/${policy.policyId}`), 409, 'Conflict');
      await attach(admin.api, actor.principal.principalId, []);
      expect((await admin.api.delete(`/v1/policies/${policy.policyId}`)).status).toBe(204);
      expectError(await admin.api.get(`/v1/policies/${policy.policyId}`), 404, 'NotFound');
    });
  });

  describe('asking about decisions', () => {
    it('/v1/simulate names the deciding statement and does nothing; /v1/auth/verify answers for the caller', async () => {
      const key = await createKey(admin.api);
      const user = await createActor(system, tenantId, ['crypto-user']);
      const allow = await admin.api.post<{ decision: string; decidedBy: unknown }>('/v1/simulate', {
        principalId: user.principal.principalId,
        action: 'kms:Encrypt',
        keyId: key.keyId,
      });
      expect(allow.body).toMatchObject({
        decision: 'allow',
        decidedBy: { policyId: 'builtin:crypto-user', sid: 'crypto-user-operations' },
      });
      const deny = await admin.api.post<{ decision: string; decidedBy: unknown; reason: string }>(
        '/v1/simulate',
        {
          principalId: user.principal.principalId,
          action: 'DisableKey',
          keyId: key.keyId,
        },
      );
      expect(deny.body).toMatchObject({ decision: 'deny', decidedBy: null });
      expect((await admin.api.get<{ key: { state: string } }>(`/v1/keys/${key.keyId}`)).body.key.state).toBe(
        'Enabled',
      );

      const mine = await user.api.post<{ allowed: boolean; principalId: string }>('/v1/auth/verify', {
        action: 'Encrypt',
        keyId: key.keyId,
      });
      expect(mine.body).toMatchObject({ allowed: true, principalId: user.principal.principalId });
      const notMine = await user.api.post<{ allowed: boolean }>('/v1/auth/verify', {
        action: 'CreatePrincipal',
      });
      expect(notMine.body.allowed).toBe(false);
    });
  });

  describe('credentials', () => {
    it('an API key stops working when it expires', async () => {
      const actor = await createActor(system, tenantId, ['crypto-user']);
      const expiring = await admin.api.post<{ secret: string }>(
        `/v1/principals/${actor.principal.principalId}/api-keys`,
        {
          expiresAt: new Date(Date.now() + 1500).toISOString(),
        },
      );
      const api = new Api(server.url, expiring.body.secret);
      expect((await api.get('/v1/keys')).status).toBe(200);
      await sleep(1800);
      expectError(await api.get('/v1/keys'), 401, 'Unauthenticated');
    });

    it('a revoked API key is refused from the next request on; the principal’s other keys still work', async () => {
      const actor = await createActor(system, tenantId, ['crypto-user']);
      const second = await admin.api.post<{ secret: string }>(
        `/v1/principals/${actor.principal.principalId}/api-keys`,
        {},
      );
      expect((await actor.api.get('/v1/keys')).status).toBe(200);
      const revoked = await admin.api.delete(
        `/v1/principals/${actor.principal.principalId}/api-keys/${actor.apiKeyId}`,
      );
      expect(revoked.status).toBe(204);
      expectError(await actor.api.get('/v1/keys'), 401, 'Unauthenticated');
      expect((await new Api(server.url, second.body.secret).get('/v1/keys')).status).toBe(200);
      const listed = await admin.api.get<{ apiKeys: { apiKeyId: string; revokedAt: string | null }[] }>(
        `/v1/principals/${actor.principal.principalId}/api-keys`,
      );
      expect(listed.body.apiKeys.find((k) => k.apiKeyId === actor.apiKeyId)?.revokedAt).toEqual(
        expect.any(String),
      );
      expect(JSON.stringify(listed.body)).not.toContain(second.body.secret);
    });

    it('changed roles apply from the next request on; a deleted principal is refused at once', async () => {
      const actor = await createActor(system, tenantId, ['crypto-user']);
      const key = await createKey(admin.api);
      expect((await encrypt(actor.api, key.keyId)).status).toBe(200);
      await admin.api.patch(`/v1/principals/${actor.principal.principalId}`, { roles: ['auditor'] });
      expectError(await encrypt(actor.api, key.keyId), 403, 'AccessDenied');
      expect((await admin.api.delete(`/v1/principals/${actor.principal.principalId}`)).status).toBe(204);
      expectError(await actor.api.get('/v1/keys'), 401, 'Unauthenticated');
    });

    it('access keys: the secret is shown once, listed never, and revocable', async () => {
      const actor = await createActor(system, tenantId, []);
      const path = `/v1/principals/${actor.principal.principalId}/access-keys`;
      const created = await admin.api.post<{ accessKeyId: string; secretAccessKey: string }>(path);
      expect(created.status).toBe(201);
      expect(created.body.accessKeyId).toMatch(/^KHAK[0-9A-F]{20}$/);
      expect(created.body.secretAccessKey.length).toBeGreaterThanOrEqual(40);
      const listed = await admin.api.get<{ accessKeys: { accessKeyId: string }[] }>(path);
      expect(listed.body.accessKeys.map((k) => k.accessKeyId)).toEqual([created.body.accessKeyId]);
      expect(listed.text).not.toContain(created.body.secretAccessKey);
      expect((await admin.api.delete(`${path}/${created.body.accessKeyId}`)).status).toBe(204);
      expectError(await admin.api.delete(`${path}/${created.body.accessKeyId}`), 404, 'NotFound');
    });
  });

  describe('tenant quotas', () => {
    it('maxKeys: the key past the quota is refused with 429 LimitExceeded', async () => {
      const tenant = await createTenant(system, { maxKeys: 2 });
      const owner = await createActor(system, tenant.tenantId, ['admin']);
      await createKey(owner.api);
      await createKey(owner.api);
      expectError(await owner.api.post('/v1/keys', {}), 429, 'LimitExceeded');
      await system.patch(`/v1/tenants/${tenant.tenantId}`, { quotas: { maxKeys: 3 } });
      await createKey(owner.api);
    });

    it('requestsPerSecond: requests past the rate get 429 LimitExceeded with Retry-After, other tenants do not', async () => {
      const tenant = await createTenant(system, { requestsPerSecond: 3 });
      const owner = await createActor(system, tenant.tenantId, ['admin']);
      const answers = await Promise.all(Array.from({ length: 12 }, () => owner.api.get('/v1/keys')));
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
      for (const answer of limited) {
        expectError(answer, 429, 'LimitExceeded');
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const others = await Promise.all(Array.from({ length: 12 }, () => admin.api.get('/v1/keys')));
      expect(others.every((a) => a.status === 200)).toBe(true);
    });
  });
});
