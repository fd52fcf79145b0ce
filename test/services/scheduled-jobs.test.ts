// Scheduled key work (automatic rotation, deletion after the waiting period) through the composition
// root on a real SQLite file, with a clock the test advances (the only test double: time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DAY_MS } from '../../src/domain/key.js';
import { KmsError } from '../../src/domain/errors.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';

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
    const key = await keyhaven.keys.createKey({ rotationPeriodDays: 90 });
    const before = await keyhaven.crypto.encrypt(key.keyId, Buffer.from('kept'));

    clock.advanceDays(89);
    expect(await keyhaven.runScheduledJobs()).toEqual({ rotated: 0, deleted: 0 });
    expect((await keyhaven.keys.describeKey(key.keyId)).currentVersion).toBe(1);

    clock.advanceDays(2);
    expect((await keyhaven.runScheduledJobs()).rotated).toBe(1);
    const rotated = await keyhaven.keys.describeKey(key.keyId);
    expect(rotated.currentVersion).toBe(2);
    expect(rotated.nextRotationAt!.getTime()).toBe(clock.now().getTime() + 90 * DAY_MS);

    const after = await keyhaven.crypto.encrypt(key.keyId, Buffer.from('new'));
    expect(after.keyVersion).toBe(2);
    expect((await keyhaven.crypto.decrypt(before.ciphertext)).plaintext.toString()).toBe('kept');
  });

  it('does not rotate a disabled key when its period elapses', async () => {
    const key = await keyhaven.keys.createKey({ rotationPeriodDays: 90 });
    await keyhaven.keys.disableKey(key.keyId);
    clock.advanceDays(100);
    expect((await keyhaven.runScheduledJobs()).rotated).toBe(0);
    expect((await keyhaven.keys.describeKey(key.keyId)).currentVersion).toBe(1);
  });

  it('destroys a key only after its deletion window, after which its ciphertexts no longer decrypt', async () => {
    const key = await keyhaven.keys.createKey({ alias: 'alias/doomed' });
    const { ciphertext } = await keyhaven.crypto.encrypt(key.keyId, Buffer.from('secret'));
    const scheduled = await keyhaven.keys.scheduleKeyDeletion(key.keyId, 7);
    expect(scheduled.state).toBe('PendingDeletion');
    expect(await codeOf(() => keyhaven.crypto.decrypt(ciphertext))).toBe('KeyPendingDeletion');

    clock.advanceDays(6);
    expect((await keyhaven.runScheduledJobs()).deleted).toBe(0);
    expect((await keyhaven.keys.describeKey(key.keyId)).state).toBe('PendingDeletion');

    clock.advanceDays(2);
    expect((await keyhaven.runScheduledJobs()).deleted).toBe(1);
    expect(await codeOf(() => keyhaven.keys.describeKey(key.keyId))).toBe('NotFound');
    expect(await codeOf(() => keyhaven.keys.describeKey('alias/doomed'))).toBe('NotFound');
    expect(await codeOf(() => keyhaven.crypto.decrypt(ciphertext))).toBe('InvalidCiphertext');
    expect(await keyhaven.metadata.listVersions(key.keyId)).toEqual([]);
  });

  it('keeps a key whose deletion was cancelled inside the window', async () => {
    const key = await keyhaven.keys.createKey({});
    await keyhaven.keys.scheduleKeyDeletion(key.keyId, 7);
    clock.advanceDays(3);
    expect((await keyhaven.keys.cancelKeyDeletion(key.keyId)).state).toBe('Disabled');
    clock.advanceDays(30);
    expect((await keyhaven.runScheduledJobs()).deleted).toBe(0);
    expect((await keyhaven.keys.enableKey(key.keyId)).state).toBe('Enabled');
  });

  it('stops encrypting and signing with an expired key but still decrypts and verifies', async () => {
    const expiresAt = new Date(clock.now().getTime() + DAY_MS).toISOString();
    const aes = await keyhaven.keys.createKey({ expiresAt });
    const ec = await keyhaven.keys.createKey({ keySpec: 'ECC_NIST_P256', expiresAt });
    const { ciphertext } = await keyhaven.crypto.encrypt(aes.keyId, Buffer.from('x'));
    const { signature } = await keyhaven.crypto.sign(ec.keyId, Buffer.from('m'), 'ECDSA_SHA_256');

    clock.advanceDays(2);
    expect(await codeOf(() => keyhaven.crypto.encrypt(aes.keyId, Buffer.from('x')))).toBe('KeyExpired');
    expect(await codeOf(() => keyhaven.crypto.generateDataKey(aes.keyId))).toBe('KeyExpired');
    expect(await codeOf(() => keyhaven.crypto.sign(ec.keyId, Buffer.from('m'), 'ECDSA_SHA_256'))).toBe(
      'KeyExpired',
    );
    expect((await keyhaven.crypto.decrypt(ciphertext)).plaintext.toString()).toBe('x');
    expect((await keyhaven.crypto.verify(ec.keyId, Buffer.from('m'), signature, 'ECDSA_SHA_256')).valid).toBe(
      true,
    );
  });

  it('flushes usage counters into the metadata store', async () => {
    const key = await keyhaven.keys.createKey({});
    for (let i = 0; i < 3; i++) await keyhaven.crypto.encrypt(key.keyId, Buffer.from('x'));
    await keyhaven.crypto.generateDataKey(key.keyId);
    const usage = await keyhaven.keys.getKeyUsage(key.keyId);
    expect(usage.counts).toEqual({ encrypt: 3, generateDataKey: 1 });
    expect(usage.lastUsedAt).not.toBeNull();
  });
});
