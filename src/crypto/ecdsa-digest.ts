// ECDSA over a caller-supplied digest (SEC 1 v2 §4.1.3, §4.1.4) for AWS's MessageType DIGEST.
// node:crypto has no pre-hashed ECDSA (crypto.sign(null, digest, ecKey) hashes again), so the
// arithmetic comes from @noble/curves (audited, constant-time where JavaScript allows, RFC 6979 with
// extra entropy); DER stays with our strict codec.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { validationError } from '../domain/errors.js';
import { decodeEcdsaSignature, encodeEcdsaRawSignature } from './ecdsa-der.js';

const CURVES = {
  prime256v1: { ecdsa: p256, byteLength: 32 },
  secp384r1: { ecdsa: p384, byteLength: 48 },
  secp521r1: { ecdsa: p521, byteLength: 66 },
  secp256k1: { ecdsa: secp256k1, byteLength: 32 },
} as const;

type Curve = (typeof CURVES)[keyof typeof CURVES];

export function ecCurveOfKey(key: KeyObject): Curve {
  const name = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  const curve = name && name in CURVES ? CURVES[name as keyof typeof CURVES] : undefined;
  if (!curve) throw validationError('ECDSA needs a P-256, P-384, P-521 or secp256k1 key');
  return curve;
}

const fixed = (base64url: string | undefined, length: number) => {
  const bytes = Buffer.from(base64url ?? '', 'base64url');
  return Buffer.concat([Buffer.alloc(Math.max(0, length - bytes.length)), bytes]);
};

const toFixedBytes = (value: bigint, length: number) =>
  Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');

export function ecdsaSignDigest(privateKey: KeyObject, digest: Buffer): Buffer {
  const curve = ecCurveOfKey(privateKey);
  const secret = fixed(privateKey.export({ format: 'jwk' }).d, curve.byteLength);
  try {
    // prehash false: the digest is signed as given (truncated to the order's bit length); lowS false
    // matches OpenSSL/AWS, which do not normalise s.
    const compact = curve.ecdsa.sign(digest, secret, { prehash: false, lowS: false, extraEntropy: true });
    return encodeEcdsaRawSignature(compact);
  } finally {
    secret.fill(0);
  }
}

/** Never throws on a malformed signature: any defect is simply "not valid". */
export function ecdsaVerifyDigest(publicKey: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const curve = ecCurveOfKey(publicKey);
  const decoded = decodeEcdsaSignature(signature);
  if (!decoded) return false;
  const { byteLength } = curve;
  const { r, s } = decoded;
  if (r >> BigInt(byteLength * 8) !== 0n || s >> BigInt(byteLength * 8) !== 0n) return false;
  const jwk = (publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey).export({
    format: 'jwk',
  });
  const point = Buffer.concat([Buffer.of(0x04), fixed(jwk.x, byteLength), fixed(jwk.y, byteLength)]);
  const compact = Buffer.concat([toFixedBytes(r, byteLength), toFixedBytes(s, byteLength)]);
  try {
    return curve.ecdsa.verify(compact, digest, point, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}
