// Ed25519ph (RFC 8032 §5.1: HashEdDSA, PH = SHA-512, dom2 with phflag 1 and an empty context), which
// node:crypto (OpenSSL 3.0 in Node 20) does not expose; the arithmetic comes from @noble/curves.
// As in AWS KMS's ED25519_PH_SHA_512, the message given is hashed by the algorithm itself (step 1
// of FIPS 186-5 §7.8.1), whatever the caller did to it before.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { validationError } from '../domain/errors.js';

const KEY_BYTES = 32;

function rawKey(base64url: string | undefined): Buffer {
  const bytes = Buffer.from(base64url ?? '', 'base64url');
  if (bytes.length !== KEY_BYTES) throw validationError('Ed25519ph needs an Ed25519 key');
  return bytes;
}

export function ed25519phSign(privateKey: KeyObject, message: Buffer): Buffer {
  const seed = rawKey(privateKey.export({ format: 'jwk' }).d);
  try {
    return Buffer.from(ed25519ph.sign(message, seed));
  } finally {
    seed.fill(0);
  }
}

/** Never throws on a malformed signature. Strict RFC 8032 decoding (no ZIP-215), as OpenSSL's Ed25519. */
export function ed25519phVerify(publicKey: KeyObject, message: Buffer, signature: Buffer): boolean {
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  const point = rawKey(key.export({ format: 'jwk' }).x);
  if (signature.length !== 2 * KEY_BYTES) return false;
  try {
    return ed25519ph.verify(signature, message, point, { zip215: false });
  } catch {
    return false;
  }
}
