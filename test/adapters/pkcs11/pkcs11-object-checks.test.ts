// Objects planted under Keyhaven's labels on a SoftHSM2 token (by another process with the user PIN)
// are refused before use, with an error naming the label and the attribute that failed; Keyhaven
// neither adopts them nor makes a second root key beside them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPkcs11KeyStore } from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { createPkcs11Fixture, parseListObjects, type Pkcs11Fixture } from './fixtures.js';
import { plantSecretKey } from './plant-object.js';

describe('objects planted under our labels (SoftHSM2)', () => {
  let fixture: Pkcs11Fixture;
  const dataDirs: string[] = [];

  beforeAll(() => {
    fixture = createPkcs11Fixture(3);
  });
  afterAll(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    fixture?.dispose();
  });

  async function openOnPlanted(index: number, flags: { isPrivate: boolean; extractable: boolean }) {
    const token = fixture.hsm.tokens[index]!;
    plantSecretKey({
      env: fixture.hsm.env,
      modulePath: fixture.hsm.modulePath,
      tokenLabel: token.label,
      pin: token.pin,
      label: 'keyhaven-root',
      ...flags,
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-planted-'));
    dataDirs.push(dataDir);
    const store = await openPkcs11KeyStore(fixture.config([token]), dataDir);
    const roots = () =>
      parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'], token)).filter(
        (o) => o.label === 'keyhaven-root',
      );
    return { store, roots, token };
  }

  it('refuses a public keyhaven-root and makes no second root key beside it', async () => {
    const { store, roots, token } = await openOnPlanted(0, { isPrivate: false, extractable: false });
    try {
      expect(store.available).toBe(false);
      await expect(store.root.wrapKeyMaterial(Buffer.alloc(32), 'k', 1)).rejects.toThrow(
        `refusing object "keyhaven-root" on token "${token.label}": CKA_PRIVATE is false, expected true`,
      );
      expect(roots()).toHaveLength(1);
    } finally {
      await store.root.close();
    }
  });

  it('refuses a private keyhaven-root that is extractable', async () => {
    const { store, roots } = await openOnPlanted(1, { isPrivate: true, extractable: true });
    try {
      expect(store.available).toBe(false);
      await expect(store.root.wrapKeyMaterial(Buffer.alloc(32), 'k', 1)).rejects.toThrow(
        /refusing object "keyhaven-root" .*: CKA_EXTRACTABLE is true, expected false/,
      );
      expect(roots()).toHaveLength(1);
    } finally {
      await store.root.close();
    }
  });

  it('refuses a non-extractable keyhaven-root imported with a known value (not made in the token)', async () => {
    const { store } = await openOnPlanted(2, { isPrivate: true, extractable: false });
    try {
      expect(store.available).toBe(false);
      await expect(store.root.wrapKeyMaterial(Buffer.alloc(32), 'k', 1)).rejects.toThrow(
        /refusing object "keyhaven-root" .*: CKA_(NEVER_EXTRACTABLE|ALWAYS_SENSITIVE|LOCAL) is false, expected true/,
      );
    } finally {
      await store.root.close();
    }
  });
});
