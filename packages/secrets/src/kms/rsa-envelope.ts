// @faizahmed/secret-keystore's format for values under an RSA key (its kms.js, 1.1.1): a random
// AES-256-GCM data key encrypted by the KMS (RSAES_OAEP_SHA_256), then
//   0x01 || len(encrypted data key, 2 bytes BE) || encrypted data key || iv(12) || ciphertext || tag(16)
// That package takes every blob whose first byte is 0x01 for this format, which AWS-style symmetric
// ciphertext also starts with; here the shape is checked in full (an RSA ciphertext is exactly the
// modulus size) and this path is taken only for readers configured with the RSA key.
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { SecretsError } from '../errors.js';

export interface RsaCipher {
  encrypt(keyId: string, plaintext: Uint8Array): Promise<Uint8Array>;
  decrypt(keyId: string, ciphertext: Uint8Array): Promise<Uint8Array>;
}

const VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const RSA_CIPHERTEXT_BYTES = new Set([256, 384, 512]);

export function isRsaEnvelope(blob: Uint8Array): boolean {
  if (blob.length < 3 || blob[0] !== VERSION) return false;
  const wrappedLength = (blob[1]! << 8) | blob[2]!;
  return RSA_CIPHERTEXT_BYTES.has(wrappedLength) && blob.length >= 3 + wrappedLength + IV_BYTES + TAG_BYTES;
}

export async function sealRsaEnvelope(rsa: RsaCipher, keyId: string, plaintext: Uint8Array): Promise<Buffer> {
  const dataKey = randomFillSync(Buffer.alloc(32));
  const iv = randomFillSync(Buffer.alloc(IV_BYTES));
  try {
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const wrapped = await rsa.encrypt(keyId, dataKey);
    const header = Buffer.from([VERSION, wrapped.length >> 8, wrapped.length & 0xff]);
    return Buffer.concat([header, wrapped, iv, body, cipher.getAuthTag()]);
  } finally {
    dataKey.fill(0);
  }
}

/** The plaintext in a fresh Buffer the caller zeroizes. */
export async function openRsaEnvelope(rsa: RsaCipher, keyId: string, blob: Uint8Array): Promise<Buffer> {
  const wrappedLength = (blob[1]! << 8) | blob[2]!;
  const wrappedEnd = 3 + wrappedLength;
  const answer = await rsa.decrypt(keyId, blob.subarray(3, wrappedEnd));
  const dataKey = Buffer.alloc(answer.length);
  dataKey.set(answer);
  answer.fill(0);
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      dataKey,
      blob.subarray(wrappedEnd, wrappedEnd + IV_BYTES),
    );
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    const body = blob.subarray(wrappedEnd + IV_BYTES, blob.length - TAG_BYTES);
    const plaintext = Buffer.alloc(body.length);
    const opened = decipher.update(body);
    opened.copy(plaintext);
    opened.fill(0);
    try {
      decipher.final();
    } catch (cause) {
      plaintext.fill(0);
      throw new SecretsError('InvalidCiphertext', 'the enveloped value fails authentication', { cause });
    }
    return plaintext;
  } finally {
    dataKey.fill(0);
  }
}
