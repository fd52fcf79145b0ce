// Scheduled key work (automatic rotation, deletion after the waiting period) through the composition
// root on a real SQLite file, with a clock the test advances (the only test double: time).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DAY_MS } from '../../src/domain/key.js';
import { KmsError } from '../../src/domain/errors.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import type { KeyDescription } from '../../src/services/key-service.js';
import { adminContext } from '../helpers/request-context.js';

const ctx = adminContext();

class TestClock {
  constructor(private current = Date.now()) {}
  now = () => new Date(this.current);
  advanceDays(days: number) {
    this.current += days * DAY_MS;
  }
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    if (error instanceof KmsError) return error.code;
    throw error;
  }
}

describe('scheduled key jobs', () => {
  let dataDir: string;
  let clock: TestClock;
  let keyhaven: Keyhaven;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-jobs-'));
    clock = new TestClock();
    keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dataDir }), { clock });
  });

  afterEach(async () => {
    await keyhaven.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('rotates a key automatically once its rotation period has elapsed, and not before', async () => {
    const key = await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 });
    const before = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('kept'));

    clock.advanceDays(89);
    expect(await keyhaven.runScheduledJobs()).toEqual({ rotated: 0, deleted: 0, destroyed: 0, failures: [] });
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(1);

    clock.advanceDays(2);
    expect((await keyhaven.runScheduledJobs()).rotated).toBe(1);
    const rotated = await keyhaven.keys.describeKey(ctx, key.keyId);
    expect(rotated.currentVersion).toBe(2);
    expect(rotated.nextRotationAt!.getTime()).toBe(clock.now().getTime() + 90 * DAY_MS);

    const after = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('new'));
    expect(after.keyVersion).toBe(2);
    expect((await keyhaven.crypto.decrypt(ctx, before.ciphertext)).plaintext.toString()).toBe('kept');
    // The audit log says who rotated it: the server itself.
    const records = (await keyhaven.audit.listLogs(ctx, { action: 'RotateKey', keyId: key.keyId })).records;
    expect(records).toMatchObject([{ principalId: 'system', keyVersion: 2, result: 'allow', sourceIp: '' }]);
  });

  it('writes a scheduled rotation and its RotateKey record together, or neither', async () => {
    const key = await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 });
    clock.advanceDays(91);
    // The audit record cannot be written (another program refuses inserts into the real file).
    const db = new Database(join(dataDir, 'keyhaven.db'));
    db.exec(
      "create trigger refuse_audit before insert on audit_records begin select raise(abort, 'refused'); end",
    );
    const refused = await keyhaven.runScheduledJobs();
    expect(refused.rotated).toBe(0);
    expect(refused.failures).toEqual([expect.objectContaining({ job: 'rotate', keyId: key.keyId })]);
    const versions = () => db.prepare('select version from key_versions where key_id = ?').all(key.keyId);
    expect(versions()).toEqual([{ version: 1 }]);
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(1);

    db.exec('drop trigger refuse_audit');
    expect((await keyhaven.runScheduledJobs()).rotated).toBe(1);
    expect(versions()).toEqual([{ version: 1 }, { version: 2 }]);
    const rotations = db
      .prepare("select key_version from audit_records where action = 'RotateKey' and key_id = ?")
      .all(key.keyId);
    db.close();
    expect(rotations).toEqual([{ key_version: 2 }]);
    // The log's own appends chain after the record the rotation wrote, though it did not write it.
    await keyhaven.audit.record({
      time: clock.now().toISOString(),
      requestId: randomUUID(),
      tenantId: key.tenant,
      principalId: 'system',
      action: 'ListKeys',
      result: 'allow',
      sourceIp: '',
      latencyMs: 0,
    });
    expect((await keyhaven.audit.verifyLogs(ctx, {})).valid).toBe(true);
  });

  it('does not rotate a disabled key when its period elapses', async () => {
    const key = await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 });
    await keyhaven.keys.disableKey(ctx, key.keyId);
    clock.advanceDays(100);
    expect((await keyhaven.runScheduledJobs()).rotated).toBe(0);
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(1);
  });

  it('destroys a key only after its deletion window, after which its ciphertexts no longer decrypt', async () => {
    const key = await keyhaven.keys.createKey(ctx, { alias: 'alias/doomed' });
    const { ciphertext } = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('secret'));
    const scheduled = await keyhaven.keys.scheduleKeyDeletion(ctx, key.keyId, 7);
    expect(scheduled.state).toBe('PendingDeletion');
    expect(await codeOf(() => keyhaven.crypto.decrypt(ctx, ciphertext))).toBe('KeyPendingDeletion');

    clock.advanceDays(6);
    expect((await keyhaven.runScheduledJobs()).deleted).toBe(0);
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).state).toBe('PendingDeletion');

    clock.advanceDays(2);
    expect(await keyhaven.runScheduledJobs()).toMatchObject({ deleted: 1, destroyed: 1, failures: [] });
    expect(await keyhaven.metadata.queuedDestructions(10)).toEqual([]);
    expect(await codeOf(() => keyhaven.keys.describeKey(ctx, key.keyId))).toBe('NotFound');
    expect(await codeOf(() => keyhaven.keys.describeKey(ctx, 'alias/doomed'))).toBe('NotFound');
    expect(await codeOf(() => keyhaven.crypto.decrypt(ctx, ciphertext))).toBe('InvalidCiphertext');
    expect(await keyhaven.metadata.listVersions(key.keyId)).toEqual([]);
    const records = (await keyhaven.audit.listLogs(ctx, { action: 'DeleteKey', keyId: key.keyId })).records;
    expect(records).toMatchObject([{ principalId: 'system', result: 'allow' }]);
  });

  it('keeps a key whose deletion was cancelled inside the window', async () => {
    const key = await keyhaven.keys.createKey(ctx, {});
    await keyhaven.keys.scheduleKeyDeletion(ctx, key.keyId, 7);
    clock.advanceDays(3);
    expect((await keyhaven.keys.cancelKeyDeletion(ctx, key.keyId)).state).toBe('Disabled');
    clock.advanceDays(30);
    expect((await keyhaven.runScheduledJobs()).deleted).toBe(0);
    expect((await keyhaven.keys.enableKey(ctx, key.keyId)).state).toBe('Enabled');
  });

  it('keeps a key whose deletion is cancelled after the job listed it and before it removed it', async () => {
    const key = await keyhaven.keys.createKey(ctx, {});
    const { ciphertext } = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('kept'));
    await keyhaven.keys.scheduleKeyDeletion(ctx, key.keyId, 7);
    clock.advanceDays(8);
    // The cancel commits between the job's listing of due keys and its removal of this one: the
    // store is the real SQLite store, only the moment of the cancel is chosen.
    const store = keyhaven.metadata;
    const listDue = store.keysDueForDeletion.bind(store);
    store.keysDueForDeletion = async (...args) => {
      const due = await listDue(...args);
      if (due.some((k) => k.keyId === key.keyId)) await keyhaven.keys.cancelKeyDeletion(ctx, key.keyId);
      return due;
    };
    expect(await keyhaven.runScheduledJobs()).toMatchObject({ deleted: 0, destroyed: 0, failures: [] });
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).state).toBe('Disabled');
    await keyhaven.keys.enableKey(ctx, key.keyId);
    expect((await keyhaven.crypto.decrypt(ctx, ciphertext)).plaintext.toString()).toBe('kept');
  });

  it('passes over a key that cannot rotate and rotates the ones due after it, in due order', async () => {
    const keys: KeyDescription[] = [];
    for (let i = 0; i < 3; i++) {
      keys.push(await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 }));
      clock.advanceDays(1);
    }
    clock.advanceDays(90);
    // The first one due is disabled after the job listed it: its rotation fails, the others proceed.
    const store = keyhaven.metadata;
    const listDue = store.keysDueForRotation.bind(store);
    const order: string[][] = [];
    store.keysDueForRotation = async (...args) => {
      const due = await listDue(...args);
      order.push(due.map((k) => k.keyId));
      if (due[0]?.keyId === keys[0]!.keyId) await keyhaven.keys.disableKey(ctx, keys[0]!.keyId);
      return due;
    };
    const report = await keyhaven.runScheduledJobs();
    expect(order[0]).toEqual(keys.map((k) => k.keyId));
    expect(report.rotated).toBe(2);
    expect(report.failures).toEqual([
      expect.objectContaining({ job: 'rotate', keyId: keys[0]!.keyId, code: 'Conflict' }),
    ]);
    for (const key of keys.slice(1))
      expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(2);
  });

  it('a hundred keys that keep failing (their protection level has no backend here) do not starve the key due after them', async () => {
    const stuck: KeyDescription[] = [];
    for (let i = 0; i < 100; i++) stuck.push(await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 }));
    clock.advanceDays(1);
    const healthy = await keyhaven.keys.createKey(ctx, { rotationPeriodDays: 90 });
    // As if these were HSM keys and the server now ran with the software key store: each rotation
    // fails with the same error at every run. Edited in the real SQLite file.
    const file = new Database(join(dataDir, 'keyhaven.db'));
    const mark = file.prepare("update keys set protection_level = 'HSM' where key_id = ?");
    for (const key of stuck) mark.run(key.keyId);
    file.close();
    clock.advanceDays(90);

    for (let run = 0; run < 2; run++) {
      const report = await keyhaven.runScheduledJobs();
      expect(report.failures.filter((f) => f.job === 'rotate')).toHaveLength(100);
      expect(report.failures.every((f) => f.code === 'ValidationError')).toBe(true);
    }
    const rotated = await keyhaven.keys.describeKey(ctx, healthy.keyId);
    expect(rotated.currentVersion).toBe(2);
  });

  it("more than a run's worth of destructions that keep failing do not hold back a deleted key's material", async () => {
    // 1200 queued versions of a protection level this server has no backend for: each destruction
    // fails at every run. Written in the real SQLite file, queued before the key below.
    const file = new Database(join(dataDir, 'keyhaven.db'));
    const queue = file.prepare(
      "insert into material_destruction values (?, 1, 'SYMMETRIC_DEFAULT', 'HSM', x'00', ?)",
    );
    file.transaction(() => {
      for (let i = 0; i < 1200; i++) queue.run(randomUUID(), i);
    })();
    file.close();
    const key = await keyhaven.keys.createKey(ctx, {});
    await keyhaven.keys.scheduleKeyDeletion(ctx, key.keyId, 7);
    clock.advanceDays(8);
    const queued = () => keyhaven.metadata.queuedDestructions(2000);
    let runs = 0;
    while ((await queued()).some((q) => q.keyId === key.keyId)) {
      expect(++runs, "runs until the deleted key's material is destroyed").toBeLessThanOrEqual(3);
      await keyhaven.runScheduledJobs();
    }
    expect((await queued()).length).toBe(1200);
  });

  it('stops encrypting and signing with an expired key but still decrypts and verifies', async () => {
    const expiresAt = new Date(clock.now().getTime() + DAY_MS).toISOString();
    const aes = await keyhaven.keys.createKey(ctx, { expiresAt });
    const ec = await keyhaven.keys.createKey(ctx, { keySpec: 'ECC_NIST_P256', expiresAt });
    const { ciphertext } = await keyhaven.crypto.encrypt(ctx, aes.keyId, Buffer.from('x'));
    const { signature } = await keyhaven.crypto.sign(ctx, ec.keyId, Buffer.from('m'), 'ECDSA_SHA_256');

    clock.advanceDays(2);
    expect(await codeOf(() => keyhaven.crypto.encrypt(ctx, aes.keyId, Buffer.from('x')))).toBe('KeyExpired');
    expect(await codeOf(() => keyhaven.crypto.generateDataKey(ctx, aes.keyId))).toBe('KeyExpired');
    expect(await codeOf(() => keyhaven.crypto.sign(ctx, ec.keyId, Buffer.from('m'), 'ECDSA_SHA_256'))).toBe(
      'KeyExpired',
    );
    expect((await keyhaven.crypto.decrypt(ctx, ciphertext)).plaintext.toString()).toBe('x');
    expect(
      (await keyhaven.crypto.verify(ctx, ec.keyId, Buffer.from('m'), signature, 'ECDSA_SHA_256')).valid,
    ).toBe(true);
  });

  it("drops a key's material from the cache, zeroized, the moment it is disabled or scheduled for deletion", async () => {
    const cache = keyhaven.materialCache;
    const cached = (keyId: string) => cache.get(`${keyId}:1`)?.material;
    for (const retire of [
      (keyId: string) => keyhaven.keys.disableKey(ctx, keyId),
      (keyId: string) => keyhaven.keys.scheduleKeyDeletion(ctx, keyId, 7),
    ]) {
      const key = await keyhaven.keys.createKey(ctx, {});
      await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('x'));
      const material = cached(key.keyId)!;
      expect(material.some((byte) => byte !== 0)).toBe(true);
      await retire(key.keyId);
      expect(cached(key.keyId)).toBeUndefined();
      expect(material.every((byte) => byte === 0)).toBe(true);
    }
  });

  it('flushes usage counters into the metadata store', async () => {
    const key = await keyhaven.keys.createKey(ctx, {});
    for (let i = 0; i < 3; i++) await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('x'));
    await keyhaven.crypto.generateDataKey(ctx, key.keyId);
    const usage = await keyhaven.keys.getKeyUsage(ctx, key.keyId);
    expect(usage.counts).toEqual({ encrypt: 3, generateDataKey: 1 });
    expect(usage.lastUsedAt).not.toBeNull();
  });
});
