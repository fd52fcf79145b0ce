// A keyed digest of imported key material (HMAC-SHA-256, RFC 2104) under a per-key secret: equal
// digests mean the same material, and without the secret the digest tells nothing about it.
import { createHmac, randomBytes } from 'node:crypto';
import { macMatches } from './mac.js';

export const FINGERPRINT_SECRET_BYTES = 32;

export const newFingerprintSecret = (): Buffer => randomBytes(FINGERPRINT_SECRET_BYTES);

/** Bound to the key's id too, as AWS's KeyMaterialId is "based on the KMS key ID and the material". */
export function materialDigest(secret: Buffer, keyId: string, material: Buffer): Buffer {
  return createHmac('sha256', secret).update(keyId).update(Buffer.of(0)).update(material).digest();
}

export const sameDigest = (expected: Buffer, presented: Buffer): boolean => macMatches(expected, presented);
