// BYOK: encrypts key material to the wrapping public key from GET /v1/keys/import-parameters
// (RSA-OAEP with SHA-256 for both the hash and MGF1, as wrappingAlgorithm RSAES_OAEP_SHA_256 names).
import { constants, createPrivateKey, createPublicKey, publicEncrypt } from 'node:crypto';
import type { KeyMaterialType } from './types.js';

export function encryptKeyMaterialForImport(wrappingPublicKeyPem: string, keyMaterial: Uint8Array): Buffer {
  return publicEncrypt(
    { key: wrappingPublicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    keyMaterial,
  );
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
