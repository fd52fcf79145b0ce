// The import wrapping algorithms against node:crypto as a client uses it (AWS's guide): what the
// client wraps, the server unwraps; anything else is InvalidCiphertext, never another error.
import { constants, createCipheriv, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  IMPORT_WRAPPING_ALGORITHMS,
  unwrapImportedMaterial,
  type ImportWrappingAlgorithm,
} from '../../src/crypto/import-wrapping.js';
import { materialDigest, sameDigest } from '../../src/crypto/material-fingerprint.js';
import { KmsError } from '../../src/domain/errors.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

function clientWrap(algorithm: ImportWrappingAlgorithm, material: Buffer): Buffer {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const oaep = (data: Buffer) =>
    publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return oaep(material);
  const aesKey = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([oaep(aesKey), kwp.update(material), kwp.final()]);
}

const code = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return error instanceof KmsError ? error.code : 'not a KmsError';
  }
  return 'no error';
};

describe('import wrapping algorithms', () => {
  it.each(IMPORT_WRAPPING_ALGORITHMS)('%s: unwraps what node:crypto wrapped', (algorithm) => {
    const material = randomBytes(algorithm.startsWith('RSA_AES') ? 1217 : 32);
    expect(unwrapImportedMaterial(privateKey, algorithm, clientWrap(algorithm, material))).toEqual(material);
  });

  it.each([
    ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'],
    ['RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['RSA_AES_KEY_WRAP_SHA_256', 'RSAES_OAEP_SHA_256'],
    ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'],
  ] as const)('material wrapped for %s, unwrapped as %s: InvalidCiphertext', (wrappedAs, unwrappedAs) => {
    const wrapped = clientWrap(wrappedAs, randomBytes(32));
    expect(code(() => unwrapImportedMaterial(privateKey, unwrappedAs, wrapped))).toBe('InvalidCiphertext');
  });

  it('a tampered AES key wrap part, or an AES key of another size, is InvalidCiphertext', () => {
    const wrapped = clientWrap('RSA_AES_KEY_WRAP_SHA_256', randomBytes(64));
    wrapped[wrapped.length - 1]! ^= 1;
    expect(code(() => unwrapImportedMaterial(privateKey, 'RSA_AES_KEY_WRAP_SHA_256', wrapped))).toBe(
      'InvalidCiphertext',
    );
    const aes128 = randomBytes(16);
    const kwp = createCipheriv('id-aes128-wrap-pad', aes128, Buffer.from('A65959A6', 'hex'));
    const short = Buffer.concat([
      publicEncrypt(
        { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        aes128,
      ),
      kwp.update(randomBytes(32)),
      kwp.final(),
    ]);
    expect(code(() => unwrapImportedMaterial(privateKey, 'RSA_AES_KEY_WRAP_SHA_256', short))).toBe(
      'InvalidCiphertext',
    );
  });
});

describe('material fingerprints', () => {
  it('tell the same material from other material, per key and per secret', () => {
    const secret = randomBytes(32);
    const material = randomBytes(32);
    const digest = materialDigest(secret, 'key-a', material);
    expect(sameDigest(digest, materialDigest(secret, 'key-a', Buffer.from(material)))).toBe(true);
    expect(sameDigest(digest, materialDigest(secret, 'key-a', randomBytes(32)))).toBe(false);
    expect(sameDigest(digest, materialDigest(secret, 'key-b', material))).toBe(false);
    expect(sameDigest(digest, materialDigest(randomBytes(32), 'key-a', material))).toBe(false);
    expect(sameDigest(digest, digest.subarray(0, 16))).toBe(false);
  });
});
