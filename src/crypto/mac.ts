// HMAC (RFC 2104) generation and constant-time verification for GENERATE_VERIFY_MAC keys.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hashOf, type MacAlgorithm } from '../domain/key-spec.js';

export function computeMac(algorithm: MacAlgorithm, key: Buffer, message: Buffer): Buffer {
  return createHmac(hashOf(algorithm), key).update(message).digest();
}

/**
 * Only the full-length tag verifies: AWS VerifyMac accepts no truncated MACs. The length check comes
 * first because timingSafeEqual throws on unequal lengths; the length is public anyway.
 */
export function verifyMac(algorithm: MacAlgorithm, key: Buffer, message: Buffer, mac: Buffer): boolean {
  const expected = computeMac(algorithm, key, message);
  return expected.length === mac.length && timingSafeEqual(expected, mac);
}
