import { cpSync, existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { ROOT_MARKER_FILE } from '../../../src/adapters/keystore/pkcs11/pkcs11-root-key-store.js';
import { KmsError } from '../../../src/domain/errors.js';
import { createPkcs11Fixture, parseListObjects, type Pkcs11Fixture } from './fixtures.js';

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).code).toBe(code);
}

describe('Pkcs11RootKeyStore on SoftHSM2', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('generates the root key in the token on first start and records its check value', () => {
    expect(store.rootKeyCreated).toBe(true);
    expect(store.available).toBe(true);
    expect(existsSync(`${fixture.dataDir}/${ROOT_MARKER_FILE}`)).toBe(true);
  });

  it('shows the root key to pkcs11-tool as sensitive and never extractable, and refuses to export it', () => {
    const objects = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));
    const root = objects.find((o) => o.label === 'keyhaven-root');
    expect(root?.kind).toBe('Secret Key');
    expect(root?.flags).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
    expect(() =>
      fixture.hsm.pkcs11Tool(['--read-object', '--type', 'secrkey', '--label', 'keyhaven-root']),
    ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
  });

  it('wraps material with AES-GCM in the HSM, bound to key id and version', async () => {
    const material = Buffer.from('0123456789abcdef0123456789abcdef');
    const wrapped = await store.root.wrapKeyMaterial(material, 'key-a', 3);
    expect(wrapped[0]).toBe(0x02);
    expect(wrapped.length).toBe(1 + 12 + material.length + 16);
    expect(wrapped.includes(material)).toBe(false);
    expect(await store.root.unwrapKeyMaterial(wrapped, 'key-a', 3)).toEqual(material);
    await expectCode(store.root.unwrapKeyMaterial(wrapped, 'key-a', 4), 'Unavailable');
    await expectCode(store.root.unwrapKeyMaterial(wrapped, 'key-b', 3), 'Unavailable');
    const tampered = Buffer.from(wrapped);
    tampered[20]! ^= 1;
    await expectCode(store.root.unwrapKeyMaterial(tampered, 'key-a', 3), 'Unavailable');
    // A failed tag is the data's fault: the circuit stays closed.
    expect(store.failover.primary.circuit).toBe('closed');
  });

  it('wraps empty material too', async () => {
    const wrapped = await store.root.wrapKeyMaterial(Buffer.alloc(0), 'key-e', 1);
    expect(await store.root.unwrapKeyMaterial(wrapped, 'key-e', 1)).toEqual(Buffer.alloc(0));
  });

  it('finds the same root key on the next start instead of creating another', async () => {
    const wrapped = await store.root.wrapKeyMaterial(Buffer.from('persisted'), 'key-p', 1);
    await store.root.close();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
    expect(store.rootKeyCreated).toBe(false);
    expect((await store.root.unwrapKeyMaterial(wrapped, 'key-p', 1)).toString()).toBe('persisted');
    const roots = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'])).filter(
      (o) => o.label === 'keyhaven-root',
    );
    expect(roots).toHaveLength(1);
  });

  it('answers Unavailable while the token is gone, and recovers by itself when it returns', async () => {
    const wrapped = await store.root.wrapKeyMaterial(Buffer.from('survives'), 'key-r', 1);
    const tokenDir = fixture.hsm.tokens[0]!.directory();
    // Saved outside the token directory: SoftHSM would take a copy beside it for a second token.
    const saved = `${fixture.dataDir}/token-saved`;
    cpSync(tokenDir, saved, { recursive: true });
    rmSync(tokenDir, { recursive: true, force: true });
    // SoftHSM keeps serving cached objects until something looks at the token: the health probe does.
    const status = await store.root.status();
    expect(status[0]).toMatchObject({ name: 'hsm-1', kind: 'pkcs11', healthy: false });
    await expectCode(store.root.unwrapKeyMaterial(wrapped, 'key-r', 1), 'Unavailable');
    await expectCode(store.root.unwrapKeyMaterial(wrapped, 'key-r', 1), 'Unavailable');
    expect(store.failover.primary.circuit).not.toBe('closed');

    cpSync(saved, tokenDir, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let recovered: Buffer | undefined;
    for (let attempt = 0; attempt < 20 && !recovered; attempt++) {
      recovered = await store.root.unwrapKeyMaterial(wrapped, 'key-r', 1).catch(() => undefined);
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(recovered?.toString()).toBe('survives');
    expect(store.failover.primary.circuit).toBe('closed');
    expect((await store.root.status())[0]?.healthy).toBe(true);
  });

  it('never creates a second root key when the recorded one is missing from the token', async () => {
    await store.root.close();
    const otherToken = fixture.config([fixture.hsm.tokens[0]!], { rootKeyLabel: 'keyhaven-root' });
    // Same data directory, but the token lost its root key: the store starts degraded instead.
    fixture.hsm.pkcs11Tool(['--delete-object', '--type', 'secrkey', '--label', 'keyhaven-root']);
    store = await openPkcs11KeyStore(otherToken, fixture.dataDir);
    expect(store.available).toBe(false);
    expect(store.rootKeyCreated).toBe(false);
    await expectCode(store.root.wrapKeyMaterial(Buffer.from('x'), 'k', 1), 'Unavailable');
    const roots = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'])).filter(
      (o) => o.label === 'keyhaven-root',
    );
    expect(roots).toHaveLength(0);
  });

  it('refuses to start with a wrong PIN instead of retrying into a lockout', async () => {
    // Login state is per process and token: close every session first, or the old login would stand.
    await store.root.close();
    const config = fixture.config();
    config.backends[0]!.pin = 'wrong-pin';
    await expect(openPkcs11KeyStore(config, fixture.dataDir)).rejects.toThrow(/PIN .* was refused/);
  });

  it('makes one root key when concurrent first uses find none (the token was away at start)', async () => {
    const fresh = createPkcs11Fixture();
    let late: Pkcs11KeyStore | undefined;
    try {
      const tokenDir = fresh.hsm.tokens[0]!.directory();
      const saved = `${fresh.dataDir}/token-saved`;
      cpSync(tokenDir, saved, { recursive: true });
      rmSync(tokenDir, { recursive: true, force: true });
      late = await openPkcs11KeyStore(fresh.config(), fresh.dataDir);
      expect(late.available).toBe(false);
      cpSync(saved, tokenDir, { recursive: true });
      await new Promise((resolve) => setTimeout(resolve, 1100));

      let wrapped: Buffer[] = [];
      for (let attempt = 0; attempt < 20 && wrapped.length === 0; attempt++) {
        wrapped = await Promise.all(
          Array.from({ length: 8 }, (_, i) => late!.root.wrapKeyMaterial(Buffer.from(`m${i}`), `k${i}`, 1)),
        ).catch(() => []);
        if (wrapped.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(wrapped).toHaveLength(8);
      const roots = parseListObjects(fresh.hsm.pkcs11Tool(['--list-objects'])).filter(
        (o) => o.label === 'keyhaven-root',
      );
      expect(roots).toHaveLength(1);
      for (const [i, blob] of wrapped.entries()) {
        expect((await late.root.unwrapKeyMaterial(blob, `k${i}`, 1)).toString()).toBe(`m${i}`);
      }
    } finally {
      await late?.root.close();
      fresh.dispose();
    }
  });
});
