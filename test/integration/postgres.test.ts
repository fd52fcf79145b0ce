// The server on PostgreSQL over HTTP (a compiled server process, a throwaway cluster): everything
// persists across a server restart; while PostgreSQL is down requests answer 503 Unavailable at
// once and /ready says not ready; when it returns, requests succeed again without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_PASSWORD, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError, ref } from './http.js';
import { BUNDLE_PASSPHRASE, bundleOfNewKey } from './action-catalogue.js';
import { createActor, createTenant, statement } from './identity-fixtures.js';
import { createKey } from './suite-server.js';
import type { DecryptReply, EncryptReply, KeyReply } from './wire-types.js';

interface Verification {
  valid: boolean;
  records: number;
}

interface ReadyReply {
  ready: boolean;
  backends?: { name: string; kind: string; healthy: boolean }[];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('the server on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let server: TestServer;
  let api: Api;

  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('keyhaven');
    server = await startServer({
      env: {
        KEYHAVEN_DATABASE_URL: url,
        // Roomy (the defaults are 5 s): the quota race below queues twelve transactions on one
        // tenant's lock, and on a loaded two-core machine the last waits seconds, where a tight
        // statement timeout would answer it 503 instead of the 429 under test. A stopped server
        // refuses connections at once, so the outage test does not wait on either.
        KEYHAVEN_DATABASE_CONNECT_TIMEOUT_MS: '5000',
        KEYHAVEN_DATABASE_STATEMENT_TIMEOUT_MS: '15000',
        KEYHAVEN_LOG_LEVEL: 'info',
      },
    });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    await cluster?.remove();
  });

  it('creates, encrypts, rotates, aliases and sets policies, and finds it all after a restart', async () => {
    const key = await createKey(api, { alias: 'alias/pg', description: 'on postgres', tags: { db: 'pg' } });
    const sealed = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
      keyId: 'alias/pg',
      plaintext: b64('before the restart'),
    });
    await api.ok('POST', `/v1/keys/${key.keyId}/rotate`);
    const second = await createKey(api);
    await api.ok('PUT', `/v1/aliases/${ref('alias/moved')}`, { keyId: second.keyId });
    await api.ok('PUT', `/v1/keys/${key.keyId}/policy`, {
      document: { statements: [statement('deny', 'nobody', ['Encrypt'])] },
    });

    await server.restart();

    const described = await api.ok<KeyReply>('GET', `/v1/keys/${ref('alias/pg')}`);
    expect(described.key).toMatchObject({ keyId: key.keyId, description: 'on postgres', tags: { db: 'pg' } });
    expect(described.key.currentVersion).toBe(2);
    expect((await api.ok<KeyReply>('GET', `/v1/keys/${ref('alias/moved')}`)).key.keyId).toBe(second.keyId);
    const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext: sealed.ciphertext });
    expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('before the restart');
    const policy = await api.ok<{ document: { statements: { principals: string[] }[] } }>(
      'GET',
      `/v1/keys/${key.keyId}/policy`,
    );
    expect(policy.document.statements[0]!.principals).toEqual(['principal:nobody']);
    const verified = await api.ok<Verification>('GET', '/v1/logs/verify');
    expect(verified.valid).toBe(true);
    expect(verified.records).toBeGreaterThan(5);
    const ready = await api.ok<ReadyReply>('GET', '/ready');
    expect(ready.backends).toContainEqual(
      expect.objectContaining({ name: 'metadata', kind: 'postgres', healthy: true }),
    );
    expect(server.output()).not.toContain(POSTGRES_PASSWORD);
    // The start-up line names the database, with its password replaced.
    expect(server.output()).toMatch(
      /listening on .*metadata postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/keyhaven/,
    );
  });

  it("never lets concurrent restores and creates pass a tenant's key quota (PostgreSQL's READ COMMITTED)", async () => {
    const maxKeys = 3;
    const tenant = await createTenant(api, { maxKeys });
    const admin = await createActor(api, tenant.tenantId, ['admin']);
    const bundles = await Promise.all(Array.from({ length: 6 }, () => bundleOfNewKey()));
    const replies = await Promise.all([
      ...bundles.map((bundle) =>
        admin.api.post('/v1/keys/restore', { bundle: b64(bundle), passphrase: BUNDLE_PASSPHRASE }),
      ),
      ...bundles.map(() => admin.api.post('/v1/keys', {})),
    ]);
    const written = replies.filter((r) => r.status === 201);
    expect(written).toHaveLength(maxKeys);
    for (const refused of replies.filter((r) => r.status !== 201)) expectError(refused, 429, 'LimitExceeded');
    const listed = await admin.api.ok<{ keys: unknown[] }>('GET', '/v1/keys');
    expect(listed.keys).toHaveLength(maxKeys);
  });

  it("keeps the key policy of the one restore that wins a race, and a PutKeyPolicy's version after it", async () => {
    const document = {
      statements: [statement('allow', 'nobody', ['Decrypt'], { sid: 'raced' })],
    };
    let keyId = '';
    const raced = b64(
      await bundleOfNewKey((k) => {
        keyId = k.keyId as string;
        k.policy = { document, awsSource: null };
      }),
    );
    const restore = () => api.post('/v1/keys/restore', { bundle: raced, passphrase: BUNDLE_PASSPHRASE });
    const first = await Promise.all(Array.from({ length: 6 }, restore));
    expect(first.filter((r) => r.status === 201)).toHaveLength(1);
    for (const lost of first.filter((r) => r.status !== 201)) expectError(lost, 409, 'Conflict');
    // A loser's undoing removed only what it wrote itself: the winner's policy is in force.
    expect(await api.ok('GET', `/v1/keys/${keyId}/policy`)).toMatchObject({ version: 1, document });
    const changed = { statements: [statement('allow', 'nobody', ['Decrypt'], { sid: 'changed' })] };
    const racing = await Promise.all([
      api.put(`/v1/keys/${keyId}/policy`, { document: changed }),
      restore(),
      restore(),
    ]);
    expect(racing[0]!.status, racing[0]!.text).toBe(200);
    for (const lost of racing.slice(1)) expectError(lost, 409, 'Conflict');
    expect(await api.ok('GET', `/v1/keys/${keyId}/policy`)).toMatchObject({ version: 2, document: changed });
  });

  it('answers 503 Unavailable while PostgreSQL is down, and recovers without a restart', async () => {
    const key = await createKey(api);
    await cluster.stop();
    try {
      // Each request answers (no hang); none is a 500.
      for (let i = 0; i < 3; i++) {
        const created = await api.post('/v1/keys', {});
        const error = expectError(created, 503, 'Unavailable');
        expect(error.message).not.toContain(POSTGRES_PASSWORD);
        expect(created.headers.get('retry-after')).toBe('1');
      }
      // Anonymously: authenticating a credential needs the database too.
      const notReady = await until('/ready to report the database down', async () => {
        const reply = await api.get<ReadyReply>('/ready', { token: null });
        return reply.status === 503 ? reply.body : undefined;
      });
      expect(notReady).toEqual({ ready: false });
    } finally {
      await cluster.start();
    }
    await until('/ready to recover', async () =>
      (await api.get('/ready', { token: null })).status === 200 ? true : undefined,
    );
    const sealed = await until('encrypt to succeed again', async () => {
      const reply = await api.post<EncryptReply>('/v1/encrypt', {
        keyId: key.keyId,
        plaintext: b64('after'),
      });
      return reply.status === 200 ? reply.body : undefined;
    });
    const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext: sealed.ciphertext });
    expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('after');
    expect((await api.post('/v1/keys', {})).status).toBe(201);
    expect(server.output()).not.toContain(POSTGRES_PASSWORD);
  });
});
