import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MaterialCache } from '../../src/adapters/keystore/software/material-cache.js';
import { SoftwareKeyBackend } from '../../src/adapters/keystore/software/software-key-backend.js';
import { SoftwareRootKeyStore } from '../../src/adapters/keystore/software/software-root-key-store.js';
import type { VersionRef } from '../../src/ports/key-backend.js';

async function symmetricKey(backend: SoftwareKeyBackend): Promise<VersionRef> {
  const keyId = randomUUID();
  const { material } = await backend.createVersionMaterial(keyId, 1, 'SYMMETRIC_DEFAULT');
  return {
    keyId,
    keySpec: 'SYMMETRIC_DEFAULT',
    version: { keyId, version: 1, state: 'Enabled', createdAt: new Date(), material, publicKeySpki: null },
  };
}

async function roundTrips(backend: SoftwareKeyBackend, ref: VersionRef, plaintext: Buffer, aad: Buffer) {
  const iv = randomBytes(12);
  const { ciphertext, tag } = await backend.encrypt(ref, iv, plaintext, aad);
  const opened = await backend.decrypt(ref, iv, ciphertext, tag, aad);
  return opened.equals(plaintext);
}

describe('SoftwareKeyBackend under concurrent cache misses', () => {
  // The cache zeroizes material it replaces or evicts; an operation must never use material that
  // another request's cache write zeroized between its lookup and its use.
  it('seals under the real key when two requests miss the cache for the same version at once', async () => {
    const root = new SoftwareRootKeyStore(randomBytes(32));
    const backend = new SoftwareKeyBackend(root, new MaterialCache(100, 60_000));
    const ref = await symmetricKey(backend);
    const aad = Buffer.from('aad');
    const sealed = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const iv = randomBytes(12);
        return { iv, ...(await backend.encrypt(ref, iv, Buffer.from('secret'), aad)) };
      }),
    );
    // A fresh backend with an empty cache unwraps the stored material: every ciphertext must open.
    const fresh = new SoftwareKeyBackend(root, new MaterialCache(100, 60_000));
    for (const { iv, ciphertext, tag } of sealed) {
      expect((await fresh.decrypt(ref, iv, ciphertext, tag, aad)).toString()).toBe('secret');
    }
  });

  it('seals under the real keys when a one-entry cache evicts between lookup and use', async () => {
    const root = new SoftwareRootKeyStore(randomBytes(32));
    const backend = new SoftwareKeyBackend(root, new MaterialCache(1, 60_000));
    const refs = await Promise.all([symmetricKey(backend), symmetricKey(backend), symmetricKey(backend)]);
    const aad = Buffer.from('aad');
    const sealed = await Promise.all(
      refs.flatMap((ref) =>
        [0, 1].map(async () => {
          const iv = randomBytes(12);
          return { ref, iv, ...(await backend.encrypt(ref, iv, Buffer.from('secret'), aad)) };
        }),
      ),
    );
    const fresh = new SoftwareKeyBackend(root, new MaterialCache(100, 60_000));
    for (const { ref, iv, ciphertext, tag } of sealed) {
      expect((await fresh.decrypt(ref, iv, ciphertext, tag, aad)).toString()).toBe('secret');
    }
    for (const ref of refs) expect(await roundTrips(backend, ref, randomBytes(64), aad)).toBe(true);
  });
});

/** A real software root that keeps every buffer it hands out, to look at them after use. */
class RecordingRoot extends SoftwareRootKeyStore {
  readonly unwrapped: Buffer[] = [];
  override async unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer> {
    const material = await super.unwrapKeyMaterial(wrapped, keyId, version);
    this.unwrapped.push(material);
    return material;
  }
}

describe('SoftwareKeyBackend material hygiene', () => {
  it('wipes material it could not cache (maxEntries 0) once the operation is done', async () => {
    const root = new RecordingRoot(randomBytes(32));
    const backend = new SoftwareKeyBackend(root, new MaterialCache(0, 60_000));
    const ref = await symmetricKey(backend);
    expect(await roundTrips(backend, ref, Buffer.from('once'), Buffer.alloc(0))).toBe(true);
    expect(root.unwrapped).toHaveLength(2);
    for (const material of root.unwrapped) expect(material.every((byte) => byte === 0)).toBe(true);
  });

  it('evicts every version of a key, zeroized, and no other key', async () => {
    const root = new RecordingRoot(randomBytes(32));
    const cache = new MaterialCache(10, 60_000);
    const backend = new SoftwareKeyBackend(root, cache);
    const [evicted, kept] = [await symmetricKey(backend), await symmetricKey(backend)];
    await roundTrips(backend, evicted, Buffer.from('a'), Buffer.alloc(0));
    await roundTrips(backend, kept, Buffer.from('b'), Buffer.alloc(0));
    const [evictedMaterial, keptMaterial] = root.unwrapped;
    backend.evictKey(evicted.keyId);
    expect(evictedMaterial!.every((byte) => byte === 0)).toBe(true);
    expect(keptMaterial!.some((byte) => byte !== 0)).toBe(true);
    expect(cache.size).toBe(1);
  });
});
