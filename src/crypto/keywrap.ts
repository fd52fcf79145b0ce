// AES Key Wrap (RFC 3394) and AES Key Wrap with Padding (RFC 5649, NIST SP 800-38F KWP): how key
// material is wrapped for import (AWS RSA_AES_KEY_WRAP) and by POST /v1/wrap.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { invalidCiphertext, KmsError, validationError } from '../domain/errors.js';

/** RFC 5649 §3 alternative initial value (the high half; the low half carries the length). */
const KWP_AIV = Buffer.from('a65959a6', 'hex');
/** RFC 3394 §2.2.3.1 default initial value. */
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const SEMIBLOCK = 8;

function keyBits(kek: Buffer): 128 | 192 | 256 {
  if (kek.length === 16) return 128;
  if (kek.length === 24) return 192;
  if (kek.length === 32) return 256;
  // The KEK is always one of our own keys: a wrong length is a bug, not bad input.
  throw new KmsError('Internal', `AES key-wrapping key must be 16, 24 or 32 bytes, got ${kek.length}`);
}

function runCipher(name: string, kek: Buffer, iv: Buffer, input: Buffer, decrypt: boolean): Buffer {
  const cipher = decrypt ? createDecipheriv(name, kek, iv) : createCipheriv(name, kek, iv);
  return Buffer.concat([cipher.update(input), cipher.final()]);
}

function unwrapOrReject(name: string, kek: Buffer, iv: Buffer, wrapped: Buffer): Buffer {
  try {
    return runCipher(name, kek, iv, wrapped, true);
  } catch {
    // OpenSSL reports integrity-check and padding failures alike; both mean "not wrapped by this KEK".
    throw invalidCiphertext('wrapped key is invalid or was not wrapped with this key');
  }
}

export function aesKwpWrap(kek: Buffer, keyMaterial: Buffer): Buffer {
  const bits = keyBits(kek);
  // RFC 5649 §4.1 needs at least one octet; OpenSSL would silently "wrap" nothing into nothing.
  if (keyMaterial.length === 0) throw validationError('key material to wrap must not be empty');
  return runCipher(`id-aes${bits}-wrap-pad`, kek, KWP_AIV, keyMaterial, false);
}

export function aesKwpUnwrap(kek: Buffer, wrapped: Buffer): Buffer {
  const bits = keyBits(kek);
  // RFC 5649 §4.2: a wrapped key is at least two semiblocks and a whole number of them.
  if (wrapped.length < 2 * SEMIBLOCK || wrapped.length % SEMIBLOCK !== 0) {
    throw invalidCiphertext('wrapped key has an invalid length');
  }
  return unwrapOrReject(`id-aes${bits}-wrap-pad`, kek, KWP_AIV, wrapped);
}

export function aesKwWrap(kek: Buffer, keyMaterial: Buffer): Buffer {
  const bits = keyBits(kek);
  // RFC 3394 §2.2.1: n >= 2 semiblocks of plaintext.
  if (keyMaterial.length < 2 * SEMIBLOCK || keyMaterial.length % SEMIBLOCK !== 0) {
    throw validationError('AES-KW key material must be a multiple of 8 bytes and at least 16 bytes');
  }
  return runCipher(`id-aes${bits}-wrap`, kek, KW_IV, keyMaterial, false);
}

export function aesKwUnwrap(kek: Buffer, wrapped: Buffer): Buffer {
  const bits = keyBits(kek);
  if (wrapped.length < 3 * SEMIBLOCK || wrapped.length % SEMIBLOCK !== 0) {
    throw invalidCiphertext('wrapped key has an invalid length');
  }
  return unwrapOrReject(`id-aes${bits}-wrap`, kek, KW_IV, wrapped);
}
