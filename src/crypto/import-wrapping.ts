// How imported key material travels (AWS KMS "Importing key material", "Select a wrapping
// algorithm"): RSAES-OAEP of the material under the import wrapping key, or RSA_AES_KEY_WRAP, that
// is RSAES-OAEP of a fresh AES-256 key followed by the material wrapped with AES-KWP (RFC 5649)
// under that AES key. Both with SHA-1 or SHA-256 (MGF1 with the same hash, empty label). Export
// (GET /v1/keys/{keyId}/export) is the same wrapping run the other way, to the caller's RSA key.
import { randomBytes, type KeyObject } from 'node:crypto';
import { invalidCiphertext, validationError } from '../domain/errors.js';
import { zeroize } from './key-material.js';
import { aesKwpUnwrap, aesKwpWrap } from './keywrap.js';
import { rsaOaepDecrypt, rsaOaepEncrypt, rsaOaepMaxPlaintext, type RsaOaepAlgorithm } from './rsa-oaep.js';

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

/** The smallest RSA key material is exported to (NIST SP 800-131A: 2048 bits from 2014 on). */
export const MIN_EXPORT_RSA_BITS = 2048;

/**
 * `material` wrapped to `wrappingKey` as unwrapImportedMaterial opens it: what a KMS importing it
 * (Keyhaven, AWS) expects. RSAES_OAEP only takes material that fits one RSA block.
 */
export function wrapMaterialForExport(
  wrappingKey: KeyObject,
  algorithm: ImportWrappingAlgorithm,
  material: Buffer,
): Buffer {
  const bits = wrappingKey.asymmetricKeyType === 'rsa' ? wrappingKey.asymmetricKeyDetails?.modulusLength : 0;
  if (!bits) throw validationError('the wrapping public key must be an RSA key (rsaEncryption SPKI)');
  if (bits < MIN_EXPORT_RSA_BITS) {
    throw validationError(
      `the wrapping public key has ${bits} bits; at least ${MIN_EXPORT_RSA_BITS} are needed`,
    );
  }
  const oaep = OAEP_OF[algorithm];
  if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') {
    const max = rsaOaepMaxPlaintext(bits, oaep);
    if (material.length > max) {
      throw validationError(
        `the key material (${material.length} bytes) does not fit ${algorithm} with a ${bits}-bit key (at most ${max}); use RSA_AES_KEY_WRAP_SHA_256`,
      );
    }
    return rsaOaepEncrypt(wrappingKey, oaep, material);
  }
  const aesKey = randomBytes(AES_KEY_BYTES);
  try {
    return Buffer.concat([rsaOaepEncrypt(wrappingKey, oaep, aesKey), aesKwpWrap(aesKey, material)]);
  } finally {
    zeroize(aesKey);
  }
}
