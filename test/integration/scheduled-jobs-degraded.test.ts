// Scheduled work with the HSM down, over a real server process and a real SoftHSM2 token: work
// that fell due while the server was stopped never stops it from starting (it runs degraded, as
// docs/hsm.md says), each failed key is reported, and the work is done once the token is back,
// the deleted key's token objects destroyed only then. Time is moved by editing the SQLite file.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListObjects } from '../adapters/pkcs11/fixtures.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, expectError } from './http.js';
import type { KeyReply, KeyView } from './wire-types.js';

describe('scheduled key jobs with the HSM down (server process, SoftHSM2)', () => {
  let hsm: SoftHsm;
  let server: TestServer;
  let api: Api;
  const labels = () => parseListObjects(hsm.pkcs11Tool(['--list-objects'])).map((o) => o.label);
  const createHsmKey = async (input: Record<string, unknown> = {}): Promise<KeyView> => {
    const response = await api.post<KeyReply>('/v1/keys', { protectionLevel: 'HSM', ...input });
    expect(response.status, response.text).toBe(201);
    return response.body.key;
  };

  beforeAll(async () => {
    hsm = createSoftHsm({ labelPrefix: 'keyhaven-jobs-down' });
    server = await startServer({ env: { ...hsm.keyhavenEnv, KEYHAVEN_LOG_LEVEL: 'warn' } });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('starts with due rotations and deletions while the token is gone, and does them once it is back', async () => {
    const doomed = await createHsmKey();
    const rotating = await createHsmKey({ rotationPeriodDays: 90 });
    expect((await api.delete(`/v1/keys/${doomed.keyId}?pendingWindowDays=7`)).status).toBe(200);
    expect(labels()).toContain(`keyhaven/${doomed.keyId}/v1`);
    await server.stop();

    // Both fell due while the server was stopped.
    const database = new Database(join(server.dataDir, 'keyhaven.db'));
    database
      .prepare('update keys set deletion_date = ? where key_id = ?')
      .run(Date.now() - 1000, doomed.keyId);
    database
      .prepare('update keys set next_rotation_at = ? where key_id = ?')
      .run(Date.now() - 1000, rotating.keyId);
    database.close();

    const tokenDir = hsm.tokens[0]!.directory();
    const saved = join(server.dataDir, 'token-saved');
    cpSync(tokenDir, saved, { recursive: true });
    rmSync(tokenDir, { recursive: true, force: true });
    try {
      await server.restart();
      expect((await api.get('/health', { token: null })).status).toBe(200);
      expect((await api.get('/ready', { token: null })).status).toBe(503);
      await expect.poll(() => server.output(), { timeout: 10_000 }).toContain('scheduled key job failed');
      expect(server.output()).toContain(rotating.keyId);
      // The deletion is a metadata transition and happened; the material waits for the token.
      expectError(await api.get(`/v1/keys/${doomed.keyId}`), 404, 'NotFound');
      expect((await api.ok<KeyReply>('GET', `/v1/keys/${rotating.keyId}`)).key.currentVersion).toBe(1);
    } finally {
      await server.stop();
      cpSync(saved, tokenDir, { recursive: true });
    }
    await server.restart();
    await expect
      .poll(async () => (await api.ok<KeyReply>('GET', `/v1/keys/${rotating.keyId}`)).key.currentVersion, {
        timeout: 10_000,
      })
      .toBe(2);
    await expect
      .poll(() => labels().filter((label) => label.includes(doomed.keyId)), { timeout: 10_000 })
      .toEqual([]);
    expect(labels()).toContain(`keyhaven/${rotating.keyId}/v2`);
  });
});
