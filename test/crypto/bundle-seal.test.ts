// The key bundle's seal (crypto/bundle-seal.ts, domain/key-bundle.ts) and export wrapping
// (crypto/import-wrapping.ts wrapMaterialForExport): what opens, and what a changed byte, a wrong
// passphrase or a forged header asking for huge scrypt costs does.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveBundleKey, openBundle, passphraseSeal, sealBundle } from '../../src/crypto/bundle-seal.js';
import { unwrapImportedMaterial, wrapMaterialForExport } from '../../src/crypto/import-wrapping.js';
import {
  BUNDLE_FORMAT_NAME,
  decodeBundleHeader,
  encodeBundlePrefix,
  type BundleHeader,
} from '../../src/domain/key-bundle.js';
import { KmsError } from '../../src/domain/errors.js';

const LOW_COST = { N: 2 ** 14, r: 8, p: 1 };
const PASSPHRASE = 'twelve chars at least';

async function sealedBundle(payload: Buffer) {
  const { seal, key } = await passphraseSeal(PASSPHRASE, LOW_COST);
  const header: Omit<BundleHeader, 'iv'> = {
    format: BUNDLE_FORMAT_NAME,
    version: 1,
    createdAt: new Date().toISOString(),
    keyIds: ['k'],
    seal,
  };
  return { bundle: sealBundle(key, header, payload), key };
}

const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as KmsError).code;
  }
  return 'none';
};

describe('bundle seal', () => {
  it('opens with the key derived from the passphrase and the header salt; not with another passphrase', async () => {
    const payload = randomBytes(100);
    const { bundle } = await sealedBundle(payload);
    const { header } = decodeBundleHeader(bundle);
    expect(header.seal.kind).toBe('passphrase');
    if (header.seal.kind !== 'passphrase') return;
    const salt = Buffer.from(header.seal.salt, 'base64');
    expect(openBundle(await deriveBundleKey(PASSPHRASE, salt, header.seal), bundle)).toEqual(payload);
    const wrong = await deriveBundleKey(`${PASSPHRASE}!`, salt, header.seal);
    expect(codeOf(() => openBundle(wrong, bundle))).toBe('InvalidCiphertext');
  });

  it('fails for any flipped byte, header or body, and for a truncated bundle', async () => {
    const { bundle, key } = await sealedBundle(randomBytes(64));
    for (let at = 0; at < bundle.length; at += 7) {
      const flipped = Buffer.from(bundle);
      flipped[at]! ^= 0x80;
      expect(['InvalidCiphertext', 'ValidationError'], `byte ${at}`).toContain(
        codeOf(() => openBundle(key, flipped)),
      );
    }
    expect(['InvalidCiphertext', 'ValidationError']).toContain(
      codeOf(() => openBundle(key, bundle.subarray(0, bundle.length - 1))),
    );
  });

  it('refuses a header asking for more scrypt memory than 256 MiB, or a cost below 2^14, before deriving', async () => {
    await expect(
      deriveBundleKey(PASSPHRASE, randomBytes(16), { N: 2 ** 20, r: 8, p: 1 }),
    ).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(
      deriveBundleKey(PASSPHRASE, randomBytes(16), { N: 2 ** 10, r: 8, p: 1 }),
    ).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(passphraseSeal('short')).rejects.toMatchObject({ code: 'ValidationError' });
  });

  it('refuses what is not a bundle: other magic bytes, another format version, a header past the end', () => {
    const prefix = encodeBundlePrefix({
      format: BUNDLE_FORMAT_NAME,
      version: 1,
      createdAt: 'x',
      keyIds: [],
      iv: randomBytes(12).toString('base64'),
      seal: { kind: 'key', keyId: 'k', encryptedDataKey: 'AA==' },
    });
    expect(decodeBundleHeader(prefix).header.seal.kind).toBe('key');
    const other = Buffer.from(prefix);
    other[4] = 2;
    expect(codeOf(() => decodeBundleHeader(other))).toBe('ValidationError');
    expect(codeOf(() => decodeBundleHeader(Buffer.from('not a bundle at all')))).toBe('ValidationError');
    expect(codeOf(() => decodeBundleHeader(prefix.subarray(0, prefix.length - 1)))).toBe('ValidationError');
  });
});

describe('export wrapping', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it.each([
    'RSAES_OAEP_SHA_1',
    'RSAES_OAEP_SHA_256',
    'RSA_AES_KEY_WRAP_SHA_1',
    'RSA_AES_KEY_WRAP_SHA_256',
  ] as const)('%s: what export wraps, import unwraps', (algorithm) => {
    const material = randomBytes(algorithm.startsWith('RSAES') ? 32 : 1200);
    expect(
      unwrapImportedMaterial(privateKey, algorithm, wrapMaterialForExport(publicKey, algorithm, material)),
    ).toEqual(material);
  });

  it('refuses RSAES_OAEP for material longer than one block, and keys under 2048 bits', () => {
    expect(codeOf(() => wrapMaterialForExport(publicKey, 'RSAES_OAEP_SHA_256', randomBytes(191)))).toBe(
      'ValidationError',
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(codeOf(() => wrapMaterialForExport(small, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(32)))).toBe(
      'ValidationError',
    );
  });
});
