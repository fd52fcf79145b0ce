import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeyMaterial,
  HMAC_IMPORT_LENGTH,
  normalizeImportedMaterial,
  normalizeImportedPublicKey,
  privateKeyFromMaterial,
  publicKeyFromSpki,
  specOfPublicKey,
  zeroize,
} from '../../src/crypto/key-material.js';
import { KmsError } from '../../src/domain/errors.js';
import { hmacKeyLength, isAsymmetric, KEY_SPECS, type KeySpec } from '../../src/domain/key-spec.js';

const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'der' });
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });

/**
 * A P-256 PKCS#8 whose embedded public key belongs to another key. It is spliced in the DER because
 * Node 24's JWK import refuses a JWK whose x and y do not match d ("Invalid JWK EC key"), while a
 * PKCS#8 carrying a wrong [1] publicKey is still accepted as it stands: the case to be caught.
 */
function ecPkcs8WithForeignPublicKey(): Buffer {
  const ours = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const theirs = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // node:crypto writes both encodings with the uncompressed point (65 bytes for P-256) last: in
  // SPKI as the subjectPublicKey, in PKCS#8 as ECPrivateKey's [1] publicKey. Same length, same DER.
  const POINT_BYTES = 65;
  const der = pkcs8(ours.privateKey);
  expect(der.subarray(-POINT_BYTES)).toEqual(spki(ours.publicKey).subarray(-POINT_BYTES));
  return Buffer.concat([der.subarray(0, -POINT_BYTES), spki(theirs.publicKey).subarray(-POINT_BYTES)]);
}

/** Expects a ValidationError whose message names no part of `secret` (hex or base64). */
function expectValidationError(run: () => unknown, secret?: Buffer, messagePart?: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KmsError);
  const error = caught as KmsError;
  expect(error.code).toBe('ValidationError');
  if (messagePart) expect(error.message).toMatch(messagePart);
  if (secret && secret.length >= 8) {
    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      expect(error.message).not.toContain(secret.subarray(secret.length - 8).toString(encoding));
    }
  }
}

const generated = new Map<KeySpec, { material: Buffer; publicKeySpki?: Buffer }>();

beforeAll(async () => {
  await Promise.all(KEY_SPECS.map(async (spec) => generated.set(spec, await generateKeyMaterial(spec))));
});

function generatedFor(spec: KeySpec) {
  const entry = generated.get(spec);
  if (!entry) throw new Error(`nothing generated for ${spec}`);
  return entry;
}

describe('generateKeyMaterial', () => {
  it('returns 32 random bytes for SYMMETRIC_DEFAULT and hmacKeyLength bytes for HMAC specs', async () => {
    expect(generatedFor('SYMMETRIC_DEFAULT').material).toHaveLength(32);
    expect(generatedFor('SYMMETRIC_DEFAULT').publicKeySpki).toBeUndefined();
    for (const spec of ['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'] as const) {
      expect(generatedFor(spec).material).toHaveLength(hmacKeyLength[spec]!);
      expect(generatedFor(spec).publicKeySpki).toBeUndefined();
    }
    const again = await generateKeyMaterial('SYMMETRIC_DEFAULT');
    expect(again.material.equals(generatedFor('SYMMETRIC_DEFAULT').material)).toBe(false);
  });

  for (const spec of KEY_SPECS.filter(isAsymmetric)) {
    it(`${spec}: PKCS#8 private key and matching SPKI public key of exactly that spec`, () => {
      const { material, publicKeySpki } = generatedFor(spec);
      const privateKey = privateKeyFromMaterial(material);
      expect(privateKey.type).toBe('private');
      const publicKey = publicKeyFromSpki(publicKeySpki!);
      expect(specOfPublicKey(publicKey)).toBe(spec);
      expect(specOfPublicKey(privateKey)).toBe(spec);
      expect(spki(createPublicKey(privateKey))).toEqual(publicKeySpki);
      if (spec.startsWith('RSA_')) expect(publicKey.asymmetricKeyDetails?.publicExponent).toBe(65537n);
      // Generated material must pass our own import checks unchanged.
      expect(normalizeImportedMaterial(spec, material)).toEqual({ material, publicKeySpki });
    });
  }
});

describe('normalizeImportedMaterial: symmetric specs', () => {
  it('takes exactly 32 bytes for SYMMETRIC_DEFAULT and returns a copy', () => {
    const material = randomBytes(32);
    const normalized = normalizeImportedMaterial('SYMMETRIC_DEFAULT', material);
    expect(normalized).toEqual({ material });
    expect(normalized.material).not.toBe(material);
    for (const length of [0, 16, 24, 31, 33, 64]) {
      expectValidationError(
        () => normalizeImportedMaterial('SYMMETRIC_DEFAULT', randomBytes(length)),
        undefined,
        /32 bytes/,
      );
    }
  });

  it('takes HMAC keys from the hash length up to the block size', () => {
    for (const [spec, { min, max }] of Object.entries(HMAC_IMPORT_LENGTH) as [
      KeySpec,
      { min: number; max: number },
    ][]) {
      expect(normalizeImportedMaterial(spec, randomBytes(min)).material).toHaveLength(min);
      expect(normalizeImportedMaterial(spec, randomBytes(max)).material).toHaveLength(max);
      expectValidationError(() => normalizeImportedMaterial(spec, randomBytes(min - 1)));
      expectValidationError(() => normalizeImportedMaterial(spec, randomBytes(max + 1)));
    }
    expect(HMAC_IMPORT_LENGTH.HMAC_256).toEqual({ min: 32, max: 64 });
    expect(HMAC_IMPORT_LENGTH.HMAC_512).toEqual({ min: 64, max: 128 });
  });
});

describe('normalizeImportedMaterial: asymmetric specs', () => {
  it('rejects a key on the wrong curve, naming both, never the key', () => {
    const p384 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey);
    expectValidationError(
      () => normalizeImportedMaterial('ECC_NIST_P256', p384),
      p384,
      /ECC_NIST_P256.*secp384r1/,
    );
    const k1 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey);
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', k1), k1, /secp256k1/);
    const p256 = generatedFor('ECC_NIST_P256').material;
    expectValidationError(() => normalizeImportedMaterial('ECC_SECG_P256K1', p256), p256);
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P521', p256), p256);
  });

  it('rejects an RSA key of the wrong size, or a non-RSA key for an RSA spec', () => {
    const rsa2048 = generatedFor('RSA_2048').material;
    expectValidationError(
      () => normalizeImportedMaterial('RSA_3072', rsa2048),
      rsa2048,
      /RSA_3072.*2048-bit/,
    );
    expectValidationError(() => normalizeImportedMaterial('RSA_4096', rsa2048), rsa2048);
    const rsa1024 = pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey);
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', rsa1024), rsa1024);
    const ec = generatedFor('ECC_NIST_P256').material;
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', ec), ec);
  });

  it('rejects RSASSA-PSS-only keys and non-FIPS public exponents', () => {
    const pss = pkcs8(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey);
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', pss), pss);
    const e3 = pkcs8(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey);
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', e3), e3, /exponent/);
  });

  it('rejects other Edwards and Montgomery keys for ECC_NIST_EDWARDS25519', () => {
    for (const type of ['ed448', 'x25519'] as const) {
      const material = pkcs8(generateKeyPairSync(type as 'ed448').privateKey);
      expectValidationError(() => normalizeImportedMaterial('ECC_NIST_EDWARDS25519', material), material);
    }
    const ed = generatedFor('ECC_NIST_EDWARDS25519').material;
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', ed), ed);
  });

  it('accepts only unencrypted PKCS#8 DER: not SEC1, PKCS#1, PEM, encrypted PKCS#8, raw or garbage', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const sec1 = ec.export({ type: 'sec1', format: 'der' });
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', sec1), sec1, /PKCS#8/);
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'der' });
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', pkcs1), pkcs1, /PKCS#8/);
    const pem = Buffer.from(ec.export({ type: 'pkcs8', format: 'pem' }));
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', pem), pem);
    const encrypted = ec.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'pw' });
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', encrypted), encrypted);
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', randomBytes(32)));
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', Buffer.alloc(0)));
    const truncated = pkcs8(rsa).subarray(0, 600);
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', truncated), truncated);
  });

  it('rejects private keys whose public half does not match (pairwise consistency test)', () => {
    const mixedEc = ecPkcs8WithForeignPublicKey();
    expectValidationError(() => normalizeImportedMaterial('ECC_NIST_P256', mixedEc), mixedEc, /inconsistent/);

    const ra = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const rb = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const mixedRsa = pkcs8(createPrivateKey({ key: { ...ra, d: rb.d, dp: rb.dp }, format: 'jwk' }));
    expectValidationError(() => normalizeImportedMaterial('RSA_2048', mixedRsa), mixedRsa, /inconsistent/);
  });

  it('canonicalises material and derives the SPKI public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
    // PKCS#8 from a JWK round trip: same key, possibly different optional fields.
    const material = pkcs8(createPrivateKey({ key: privateKey.export({ format: 'jwk' }), format: 'jwk' }));
    const normalized = normalizeImportedMaterial('ECC_NIST_P521', material);
    expect(normalized.publicKeySpki).toEqual(spki(publicKey));
    expect(spki(createPublicKey(privateKeyFromMaterial(normalized.material)))).toEqual(spki(publicKey));
  });
});

describe('normalizeImportedPublicKey', () => {
  it('accepts SPKI DER of the spec and returns canonical SPKI', () => {
    for (const spec of KEY_SPECS.filter(isAsymmetric)) {
      const { publicKeySpki } = generatedFor(spec);
      expect(normalizeImportedPublicKey(spec, publicKeySpki!)).toEqual(publicKeySpki);
    }
  });

  it('rejects a wrong curve or size, symmetric specs and anything but SPKI DER', () => {
    const p256 = generatedFor('ECC_NIST_P256').publicKeySpki!;
    expectValidationError(
      () => normalizeImportedPublicKey('ECC_NIST_P384', p256),
      undefined,
      /secp|prime256v1/,
    );
    expectValidationError(() => normalizeImportedPublicKey('ECC_SECG_P256K1', p256));
    const rsa3072 = generatedFor('RSA_3072').publicKeySpki!;
    expectValidationError(() => normalizeImportedPublicKey('RSA_2048', rsa3072));
    expectValidationError(() => normalizeImportedPublicKey('SYMMETRIC_DEFAULT', p256));
    expectValidationError(() => normalizeImportedPublicKey('HMAC_256', p256));
    expectValidationError(() => normalizeImportedPublicKey('ECC_NIST_P256', randomBytes(91)));
    const pkcs1 = publicKeyFromSpki(generatedFor('RSA_2048').publicKeySpki!).export({
      type: 'pkcs1',
      format: 'der',
    });
    expectValidationError(() => normalizeImportedPublicKey('RSA_2048', pkcs1));
    const e3 = spki(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey);
    expectValidationError(() => normalizeImportedPublicKey('RSA_2048', e3), undefined, /exponent/);
  });

  it('rejects an EC point that is not on the curve', () => {
    const good = Buffer.from(generatedFor('ECC_NIST_P256').publicKeySpki!);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1; // changes y only: off the curve
    expectValidationError(() => normalizeImportedPublicKey('ECC_NIST_P256', bad));
  });
});

describe('specOfPublicKey', () => {
  it('names the spec of public and private keys, and nothing for unsupported keys', () => {
    expect(specOfPublicKey(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey)).toBe(
      'ECC_NIST_P384',
    );
    expect(specOfPublicKey(generateKeyPairSync('ed25519').privateKey)).toBe('ECC_NIST_EDWARDS25519');
    expect(specOfPublicKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)).toBeUndefined();
    expect(specOfPublicKey(generateKeyPairSync('ec', { namedCurve: 'secp224r1' }).publicKey)).toBeUndefined();
    expect(specOfPublicKey(generateKeyPairSync('x25519').publicKey)).toBeUndefined();
    expect(
      specOfPublicKey(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey),
    ).toBeUndefined();
    expect(specOfPublicKey(createSecretKey(randomBytes(32)))).toBeUndefined();
  });
});

describe('privateKeyFromMaterial / publicKeyFromSpki', () => {
  it('report unparseable input as Internal (stored material) and ValidationError (public key)', () => {
    expect(() => privateKeyFromMaterial(randomBytes(40))).toThrow(
      expect.objectContaining({ code: 'Internal' }),
    );
    expect(() => publicKeyFromSpki(randomBytes(40))).toThrow(
      expect.objectContaining({ code: 'ValidationError' }),
    );
  });
});

describe('zeroize', () => {
  it('overwrites the buffer in place', () => {
    const buf = randomBytes(64);
    const view = buf.subarray(10, 20);
    zeroize(buf);
    expect(buf.equals(Buffer.alloc(64))).toBe(true);
    expect(view.equals(Buffer.alloc(10))).toBe(true);
  });
});
