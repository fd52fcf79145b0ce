// Every Conflict says which kind it is (domain/errors.ts ConflictKind): REST answers them all as 409
// Conflict, the AWS dialect as distinct exceptions, so the services must tell them apart. Driven
// through the real services on a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { KmsError, type ConflictKind } from '../../src/domain/errors.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

async function conflictOf(work: Promise<unknown>): Promise<ConflictKind | string> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof KmsError)) return `no KmsError: ${String(error)}`;
  expect(error.code).toBe('Conflict');
  return error.conflict ?? 'no kind';
}

describe('kinds of Conflict', () => {
  let dir: string;
  let keyhaven: Keyhaven;
  const ctx = () => adminContext('Test');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-conflicts-'));
    keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dir }));
  });
  afterAll(async () => {
    await keyhaven.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('InvalidState: a transition the key state forbids, material used before it is imported', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    await keyhaven.keys.disableKey(ctx(), key.keyId);
    expect(await conflictOf(keyhaven.keys.rotateKey(ctx(), key.keyId))).toBe('InvalidState');
    const external = await keyhaven.keys.createKey(ctx(), { origin: 'EXTERNAL' });
    expect(await conflictOf(keyhaven.crypto.encrypt(ctx(), external.keyId, Buffer.from('x')))).toBe(
      'InvalidState',
    );
  });

  it('AlreadyExists: an alias or a tenant name taken', async () => {
    await keyhaven.keys.createKey(ctx(), { alias: 'alias/taken' });
    expect(await conflictOf(keyhaven.keys.createKey(ctx(), { alias: 'alias/taken' }))).toBe('AlreadyExists');
    await keyhaven.tenants.createTenant(ctx(), { name: 'taken-tenant' });
    expect(await conflictOf(keyhaven.tenants.createTenant(ctx(), { name: 'taken-tenant' }))).toBe(
      'AlreadyExists',
    );
  });

  it('UnsupportedOperation: import parameters for a key Keyhaven generated', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    expect(await conflictOf(keyhaven.imports.getImportParameters(ctx(), key.keyId))).toBe(
      'UnsupportedOperation',
    );
  });

  it('ConcurrentModification: a key changed between its read and its write', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    const stored = (await keyhaven.metadata.getKey(key.keyId))!;
    // Written as of a read older than the stored row (another request's write came between).
    const readBefore = new Date(stored.updatedAt.getTime() - 1);
    expect(await conflictOf(keyhaven.metadata.updateKey(stored, readBefore))).toBe('ConcurrentModification');
  });
});
