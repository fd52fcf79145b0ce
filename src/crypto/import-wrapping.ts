// How imported key material travels (AWS KMS "Importing key material", "Select a wrapping
// algorithm"): RSAES-OAEP of the material under the import wrapping key, or RSA_AES_KEY_WRAP, that
// is RSAES-OAEP of a fresh AES-256 key followed by the material wrapped with AES-KWP (RFC 5649)
// under that AES key. Both with SHA-1 or SHA-256 (MGF1 with the same hash, empty label).
import type { KeyObject } from 'node:crypto';
import { invalidCiphertext } from '../domain/errors.js';
import { zeroize } from './key-material.js';
import { aesKwpUnwrap } from './keywrap.js';
import { rsaOaepDecrypt, type RsaOaepAlgorithm } from './rsa-oaep.js';

export const IMPORT_WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
] as const;
export type ImportWrappingAlgorithm = (typeof IMPORT_WRAPPING_ALGORITHMS)[number];

/** The RSA sizes of import wrapping keys (AWS's WrappingKeySpec, but for its SM2). */
export const IMPORT_WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export type ImportWrappingKeySpec = (typeof IMPORT_WRAPPING_KEY_SPECS)[number];

const OAEP_OF: Record<ImportWrappingAlgorithm, RsaOaepAlgorithm> = {
  RSAES_OAEP_SHA_1: 'RSAES_OAEP_SHA_1',
  RSAES_OAEP_SHA_256: 'RSAES_OAEP_SHA_256',
  RSA_AES_KEY_WRAP_SHA_1: 'RSAES_OAEP_SHA_1',
  RSA_AES_KEY_WRAP_SHA_256: 'RSAES_OAEP_SHA_256',
};

const AES_KEY_BYTES = 32;

/** The material inside `encrypted`; InvalidCiphertext for anything not wrapped this way. */
export function unwrapImportedMaterial(
  wrappingKey: KeyObject,
  algorithm: ImportWrappingAlgorithm,
  encrypted: Buffer,
): Buffer {
  const oaep = OAEP_OF[algorithm];
  if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') {
    return rsaOaepDecrypt(wrappingKey, oaep, encrypted);
  }
  const modulusBytes = (wrappingKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (encrypted.length <= modulusBytes) throw invalidCiphertext('the AES key wrap part is missing');
  const aesKey = rsaOaepDecrypt(wrappingKey, oaep, encrypted.subarray(0, modulusBytes));
  try {
    // AWS: "an AES symmetric key that is 256 bits" (RSA_AES_KEY_WRAP_SHA_*).
    if (aesKey.length !== AES_KEY_BYTES) throw invalidCiphertext('the wrapped AES key must be 256 bits');
    return aesKwpUnwrap(aesKey, encrypted.subarray(modulusBytes));
  } finally {
    zeroize(aesKey);
  }
}
