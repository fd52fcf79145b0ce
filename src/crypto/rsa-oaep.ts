// RSAES-OAEP (RFC 8017 §7.1) for RSA keys with ENCRYPT_DECRYPT usage. As in AWS KMS, MGF1 uses the
// same hash as OAEP and the label is empty.
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { invalidCiphertext, validationError } from '../domain/errors.js';
import type { EncryptionAlgorithm } from '../domain/key-spec.js';

export type RsaOaepAlgorithm = Extract<EncryptionAlgorithm, 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256'>;

const OAEP_HASH = {
  RSAES_OAEP_SHA_1: { name: 'sha1', length: 20 },
  RSAES_OAEP_SHA_256: { name: 'sha256', length: 32 },
} as const satisfies Record<RsaOaepAlgorithm, { name: string; length: number }>;

/** RFC 8017 §7.1.1 step 1b: mLen <= k - 2hLen - 2 (RSA_2048: 214 bytes with SHA-1, 190 with SHA-256). */
export function rsaOaepMaxPlaintext(modulusBits: number, algorithm: RsaOaepAlgorithm): number {
  return Math.ceil(modulusBits / 8) - 2 * OAEP_HASH[algorithm].length - 2;
}

function modulusBitsOf(key: KeyObject): number {
  const bits = key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits === undefined) throw validationError('RSAES-OAEP needs an RSA key');
  return bits;
}

export function rsaOaepEncrypt(publicKey: KeyObject, algorithm: RsaOaepAlgorithm, plaintext: Buffer): Buffer {
  const max = rsaOaepMaxPlaintext(modulusBitsOf(publicKey), algorithm);
  if (plaintext.length > max) {
    throw validationError(`plaintext is too long for ${algorithm} with this key (at most ${max} bytes)`);
  }
  // node:crypto sets the MGF1 hash to the OAEP hash when only oaepHash is given.
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm].name },
    plaintext,
  );
}

export function rsaOaepDecrypt(
  privateKey: KeyObject,
  algorithm: RsaOaepAlgorithm,
  ciphertext: Buffer,
): Buffer {
  // RFC 8017 §7.1.2 step 1b: the ciphertext is exactly k octets (OpenSSL would accept shorter ones).
  if (ciphertext.length !== Math.ceil(modulusBitsOf(privateKey) / 8)) throw invalidCiphertext();
  try {
    return privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm].name },
      ciphertext,
    );
  } catch {
    // One error for every failure (RFC 8017 §7.1.2 note): distinguishable errors are a padding oracle.
    throw invalidCiphertext();
  }
}
