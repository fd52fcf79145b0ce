// AES-GCM authenticated encryption (NIST SP 800-38D) over node:crypto: the symmetric primitive
// behind SYMMETRIC_DEFAULT ciphertexts and data keys.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { invalidCiphertext, KmsError } from '../domain/errors.js';

/** 96-bit IVs only: other lengths are GHASHed into the counter (SP 800-38D §7.1) and invite misuse. */
export const AES_GCM_IV_LENGTH = 12;
/** Full 128-bit tags only: truncated tags weaken forgery resistance (SP 800-38D Appendix C). */
export const AES_GCM_TAG_LENGTH = 16;

type GcmCipherName = 'aes-128-gcm' | 'aes-256-gcm';

// The key always comes from our own key material, so a wrong length is a bug, never bad input.
function gcmCipherName(key: Buffer): GcmCipherName {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new KmsError('Internal', `AES-GCM key must be 16 or 32 bytes, got ${key.length}`);
}

/**
 * `ivIn` is for callers that must know the IV before encrypting, to bind it into the AAD. It must
 * never repeat under one key: a repeated GCM nonce reveals the authentication key (SP 800-38D §8).
 */
export function aesGcmEncrypt(
  key: Buffer,
  plaintext: Buffer,
  aad: Buffer,
  ivIn?: Buffer,
): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  const cipherName = gcmCipherName(key);
  // A random 96-bit IV per message (SP 800-38D §8.2.2); callers keep each key under 2^32 messages.
  // Callers that bind the IV into associated data (the ciphertext header) draw it themselves.
  const iv = ivIn ?? randomBytes(AES_GCM_IV_LENGTH);
  if (iv.length !== AES_GCM_IV_LENGTH) throw new KmsError('Internal', 'AES-GCM IV must be 12 bytes');
  const cipher = createCipheriv(cipherName, key, iv, { authTagLength: AES_GCM_TAG_LENGTH });
  cipher.setAAD(aad);
  // GCM is a stream mode: update() returns every byte and final() none, so no concatenation.
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

export function aesGcmDecrypt(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const cipherName = gcmCipherName(key);
  if (iv.length !== AES_GCM_IV_LENGTH || tag.length !== AES_GCM_TAG_LENGTH) throw invalidCiphertext();
  const decipher = createDecipheriv(cipherName, key, iv, { authTagLength: AES_GCM_TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  // update() releases unauthenticated plaintext before final() checks the tag: wipe it on failure.
  const unverified = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    unverified.fill(0);
    throw invalidCiphertext();
  }
  return unverified;
}
