// AES-256-GCM inside the token (CKM_AES_GCM, 96-bit IV, 128-bit tag): the same output as
// crypto/aead.ts computes in process, so HSM keys share the SOFTWARE ciphertext format.
import pkcs11js from 'pkcs11js';
import { AES_GCM_TAG_LENGTH } from '../../../crypto/aead.js';
import { classifyPkcs11Error, pkcs11Code } from './pkcs11-errors.js';
import type { Handle, SessionScope } from './pkcs11-token.js';

/** The tag did not verify (wrong key, tampered data or associated data). */
export class GcmAuthenticationError extends Error {
  override name = 'GcmAuthenticationError';
}

/** CKM_AES_GCM with a 128-bit tag (PKCS#11 v2.40 §2.12.3). */
export const gcmMechanism = (iv: Buffer, aad: Buffer): pkcs11js.Mechanism => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    aad,
    ivBits: iv.length * 8,
    tagBits: AES_GCM_TAG_LENGTH * 8,
  } as pkcs11js.AesGCM,
});

export async function hsmGcmEncrypt(
  { api, session }: SessionScope,
  key: Handle,
  iv: Buffer,
  aad: Buffer,
  plaintext: Buffer,
): Promise<{ ciphertext: Buffer; tag: Buffer }> {
  api.C_EncryptInit(session, gcmMechanism(iv, aad), key);
  // pkcs11js refuses an empty input buffer; C_EncryptFinal alone yields the tag of an empty message.
  const out =
    plaintext.length === 0
      ? api.C_EncryptFinal(session, Buffer.alloc(AES_GCM_TAG_LENGTH))
      : await api.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + AES_GCM_TAG_LENGTH));
  return {
    ciphertext: out.subarray(0, out.length - AES_GCM_TAG_LENGTH),
    tag: out.subarray(out.length - AES_GCM_TAG_LENGTH),
  };
}

export async function hsmGcmDecrypt(
  { api, session, slot }: SessionScope,
  key: Handle,
  iv: Buffer,
  aad: Buffer,
  ciphertext: Buffer,
  tag: Buffer,
): Promise<Buffer> {
  api.C_DecryptInit(session, gcmMechanism(iv, aad), key);
  const input = Buffer.concat([ciphertext, tag]);
  try {
    if (ciphertext.length === 0) {
      api.C_DecryptUpdate(session, input, Buffer.alloc(AES_GCM_TAG_LENGTH));
      return Buffer.from(api.C_DecryptFinal(session, Buffer.alloc(AES_GCM_TAG_LENGTH)));
    }
    return await api.C_DecryptAsync(session, input, Buffer.alloc(input.length));
  } catch (error) {
    const code = pkcs11Code(error);
    if (code === pkcs11js.CKR_ENCRYPTED_DATA_INVALID || code === pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE) {
      throw new GcmAuthenticationError('AES-GCM tag mismatch', { cause: error });
    }
    // SoftHSM 2.6 reports a tag mismatch as CKR_GENERAL_ERROR: if the token still answers, the
    // failure was the data's, not the token's.
    if (code === pkcs11js.CKR_GENERAL_ERROR && tokenAnswers(api, slot)) {
      throw new GcmAuthenticationError('AES-GCM tag mismatch', { cause: error });
    }
    throw error;
  }
}

/**
 * Whether a failed call was the request data's fault rather than the token's: an input error, or
 * SoftHSM 2.6's CKR_GENERAL_ERROR for data it rejects (OAEP padding, a wrap's integrity check) from a
 * token that still answers.
 */
export function isRequestFault(scope: SessionScope, error: unknown): boolean {
  if (classifyPkcs11Error(error) === 'input') return true;
  return pkcs11Code(error) === pkcs11js.CKR_GENERAL_ERROR && tokenAnswers(scope.api, scope.slot);
}

/** Whether the token still answers C_GetTokenInfo (a failure was then the data's, not the token's). */
export function tokenAnswers(api: pkcs11js.PKCS11, slot: Handle): boolean {
  try {
    api.C_GetTokenInfo(slot);
    return true;
  } catch {
    return false;
  }
}
