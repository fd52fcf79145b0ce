// BYOK: encrypts key material to the wrapping public key from GET /v1/keys/import-parameters
// (RSA-OAEP with SHA-256 for both the hash and MGF1, as wrappingAlgorithm RSAES_OAEP_SHA_256 names).
import {
  constants,
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import type { ImportWrappingAlgorithm, KeyMaterialType } from './types.js';

/** RSA-OAEP-SHA-256 under an RSA-3072 key holds at most 384 - 2*32 - 2 = 318 bytes. */
const MAX_OAEP_MATERIAL = 318;

/** The wrapping algorithm that fits the material: plain OAEP when it fits one block. */
export const wrappingAlgorithmFor = (keyMaterial: Uint8Array): ImportWrappingAlgorithm =>
  keyMaterial.length <= MAX_OAEP_MATERIAL ? 'RSAES_OAEP_SHA_256' : 'RSA_AES_KEY_WRAP_SHA_256';

const oaep = (wrappingPublicKeyPem: string, data: Uint8Array) =>
  publicEncrypt(
    { key: wrappingPublicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    data,
  );

export function encryptKeyMaterialForImport(
  wrappingPublicKeyPem: string,
  keyMaterial: Uint8Array,
  algorithm: ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_256',
): Buffer {
  if (algorithm === 'RSAES_OAEP_SHA_256') return oaep(wrappingPublicKeyPem, keyMaterial);
  // AWS RSA_AES_KEY_WRAP_SHA_256: OAEP(fresh AES-256 key) || AES-KWP(that key, material) (RFC 5649).
  const aesKey = randomBytes(32);
  try {
    const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
    return Buffer.concat([oaep(wrappingPublicKeyPem, aesKey), kwp.update(keyMaterial), kwp.final()]);
  } finally {
    aesKey.fill(0);
  }
}

/**
 * The DER the import endpoint expects (PKCS#8 for private keys, SPKI for public keys, raw bytes for
 * symmetric keys), from PEM or DER input.
 */
export function normalizeKeyMaterial(material: Buffer, type: KeyMaterialType): Buffer {
  if (type === 'SYMMETRIC') return material;
  const isPem = material.subarray(0, 64).toString('latin1').includes('-----BEGIN');
  if (type === 'PRIVATE_KEY') {
    const key = isPem
      ? createPrivateKey(material)
      : createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
    return key.export({ format: 'der', type: 'pkcs8' });
  }
  const key = isPem
    ? createPublicKey(material)
    : createPublicKey({ key: material, format: 'der', type: 'spki' });
  return key.export({ format: 'der', type: 'spki' });
}
