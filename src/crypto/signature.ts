// Digital signatures with AWS KMS semantics: RSASSA-PSS (salt = hash length, MGF1 with the same hash),
// RSASSA-PKCS1-v1_5, DER-encoded ECDSA, Ed25519 and Ed25519ph, over a RAW message or a precomputed
// DIGEST.
import {
  constants,
  createHash,
  createPublicKey,
  privateEncrypt,
  publicDecrypt,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import { validationError } from '../domain/errors.js';
import type { SigningAlgorithm } from '../domain/key-spec.js';
import { ecCurveOfKey, ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa-digest.js';
import { ed25519phSign, ed25519phVerify } from './ed25519ph.js';
import {
  emsaPkcs1v15Encode,
  emsaPssEncode,
  emsaPssVerify,
  HASH_LENGTH,
  type SignatureHash,
} from './rsa-emsa.js';

export type MessageType = 'RAW' | 'DIGEST';

type Scheme = 'RSA_PSS' | 'RSA_PKCS1' | 'ECDSA' | 'ED25519' | 'ED25519_PH';

const SCHEMES: Record<SigningAlgorithm, { scheme: Scheme; hash: SignatureHash }> = {
  RSASSA_PSS_SHA_256: { scheme: 'RSA_PSS', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { scheme: 'RSA_PSS', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { scheme: 'RSA_PSS', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: 'RSA_PKCS1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: 'RSA_PKCS1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: 'RSA_PKCS1', hash: 'sha512' },
  ECDSA_SHA_256: { scheme: 'ECDSA', hash: 'sha256' },
  ECDSA_SHA_384: { scheme: 'ECDSA', hash: 'sha384' },
  ECDSA_SHA_512: { scheme: 'ECDSA', hash: 'sha512' },
  ED25519_SHA_512: { scheme: 'ED25519', hash: 'sha512' },
  ED25519_PH_SHA_512: { scheme: 'ED25519_PH', hash: 'sha512' },
};

const KEY_TYPE_OF_SCHEME: Record<Scheme, string> = {
  RSA_PSS: 'rsa',
  RSA_PKCS1: 'rsa',
  ECDSA: 'ec',
  ED25519: 'ed25519',
  ED25519_PH: 'ed25519',
};

/** Checks shared by sign and verify, so that each scheme below only does the work. */
function checkSignatureInput(
  key: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
  messageType: MessageType,
) {
  if (!Object.hasOwn(SCHEMES, algorithm))
    throw validationError(`unknown signing algorithm ${String(algorithm)}`);
  const entry = SCHEMES[algorithm];
  // An 'rsa-pss' key (PKCS#8 with the RSASSA-PSS OID) is refused like AWS refuses it on import.
  if (key.asymmetricKeyType !== KEY_TYPE_OF_SCHEME[entry.scheme]) {
    throw validationError(`signing algorithm ${algorithm} is not valid for this key`);
  }
  if (entry.scheme === 'ECDSA') ecCurveOfKey(key);
  // AWS: ED25519_PH_SHA_512 requires MessageType DIGEST (a 64-byte SHA-512 digest, which the
  // algorithm's own prehash then hashes again), ED25519_SHA_512 requires RAW.
  if (entry.scheme === 'ED25519_PH' && messageType !== 'DIGEST') {
    throw validationError(`${algorithm} requires messageType DIGEST`);
  }
  if (messageType === 'DIGEST') {
    // AWS: Ed25519 (ED25519_SHA_512) signs messages only; pre-hashed EdDSA is a different algorithm.
    if (entry.scheme === 'ED25519') throw validationError(`${algorithm} does not support messageType DIGEST`);
    if (message.length !== HASH_LENGTH[entry.hash]) {
      throw validationError(`a ${algorithm} digest must be exactly ${HASH_LENGTH[entry.hash]} bytes`);
    }
  } else if (messageType !== 'RAW') {
    throw validationError(`messageType must be RAW or DIGEST`);
  }
  return entry;
}

function modulusBitsOf(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw validationError('RSA key without a modulus length');
  return bits;
}

const pssOptions = (hash: SignatureHash) => ({
  padding: constants.RSA_PKCS1_PSS_PADDING,
  // Explicit on both sides: node's default verify salt length is "auto", which would accept any sLen.
  saltLength: HASH_LENGTH[hash],
});

export function signMessage(
  privateKey: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
  messageType: MessageType,
): Buffer {
  const { scheme, hash } = checkSignatureInput(privateKey, algorithm, message, messageType);
  if (privateKey.type !== 'private') throw validationError('signing needs a private key');
  if (scheme === 'ED25519') return sign(null, message, privateKey);
  if (scheme === 'ED25519_PH') return ed25519phSign(privateKey, message);
  if (messageType === 'RAW') {
    if (scheme === 'RSA_PSS') return sign(hash, message, { key: privateKey, ...pssOptions(hash) });
    if (scheme === 'RSA_PKCS1')
      return sign(hash, message, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    return sign(hash, message, { key: privateKey, dsaEncoding: 'der' });
  }
  if (scheme === 'ECDSA') return ecdsaSignDigest(privateKey, message);
  // RSA on a digest: encode the block ourselves, then the bare RSASP1 primitive (RFC 8017 §5.2.1).
  const bits = modulusBitsOf(privateKey);
  const block =
    scheme === 'RSA_PSS'
      ? emsaPssEncode(hash, message, bits)
      : emsaPkcs1v15Encode(hash, message, Math.ceil(bits / 8));
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
}

/** Returns false, never throws, for any malformed or wrong signature; bad arguments still throw. */
export function verifySignature(
  publicKey: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
  messageType: MessageType,
  signature: Buffer,
): boolean {
  const { scheme, hash } = checkSignatureInput(publicKey, algorithm, message, messageType);
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (scheme === 'ECDSA' && messageType === 'DIGEST') return ecdsaVerifyDigest(key, message, signature);
  if (scheme === 'ED25519_PH') return ed25519phVerify(key, message, signature);
  try {
    if (scheme === 'ED25519') return verify(null, message, key, signature);
    if (scheme === 'ECDSA') return verify(hash, message, { key, dsaEncoding: 'der' }, signature);
    const bits = modulusBitsOf(key);
    // RFC 8017 §8.1.2/§8.2.2 step 1: exactly k octets; OpenSSL's raw RSA would take shorter input.
    if (signature.length !== Math.ceil(bits / 8)) return false;
    if (messageType === 'RAW') {
      const options = scheme === 'RSA_PSS' ? pssOptions(hash) : { padding: constants.RSA_PKCS1_PADDING };
      return verify(hash, message, { key, ...options }, signature);
    }
    // RSAVP1 (RFC 8017 §5.2.2) alone; publicDecrypt throws if the signature is not below n.
    const block = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
    if (scheme === 'RSA_PSS') return emsaPssVerify(hash, message, block, bits);
    const expected = emsaPkcs1v15Encode(hash, message, Math.ceil(bits / 8));
    return block.length === expected.length && timingSafeEqual(block, expected);
  } catch {
    return false;
  }
}

/** The digest that DIGEST mode expects for `message` (what a client computes before calling Sign). */
export function digestForSigning(algorithm: SigningAlgorithm, message: Buffer): Buffer {
  return createHash(SCHEMES[algorithm].hash).update(message).digest();
}
