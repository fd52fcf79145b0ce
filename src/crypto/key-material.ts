// Key material for every KeySpec: generation, import checks and parsing. Formats: AES and HMAC keys
// are raw bytes, private keys PKCS#8 DER, public keys SubjectPublicKeyInfo DER (as AWS KMS uses them).
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { KmsError, validationError } from '../domain/errors.js';
import { hmacKeyLength, keyFamily, signingAlgorithmsFor, type KeySpec } from '../domain/key-spec.js';
import { signMessage, verifySignature } from './signature.js';

export const AES_KEY_LENGTH = 32;

export const RSA_MODULUS_BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
type RsaSpec = keyof typeof RSA_MODULUS_BITS;

/** OpenSSL curve names, as in KeyObject.asymmetricKeyDetails.namedCurve. */
export const EC_CURVE_OF_SPEC = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
} as const;
type EcSpec = keyof typeof EC_CURVE_OF_SPEC;

/**
 * Importable HMAC key lengths, as AWS KMS allows: at least the hash output length (RFC 2104 §3) and
 * at most the hash block size (longer keys would be hashed down to the output length anyway).
 */
export const HMAC_IMPORT_LENGTH: Record<string, { min: number; max: number }> = {
  HMAC_224: { min: 28, max: 64 },
  HMAC_256: { min: 32, max: 64 },
  HMAC_384: { min: 48, max: 128 },
  HMAC_512: { min: 64, max: 128 },
};

/** FIPS 186-4 §B.3.1: 2^16 < e < 2^256, e odd. */
const MIN_RSA_EXPONENT = 2n ** 16n + 1n;
const MAX_RSA_EXPONENT = 2n ** 256n;

type AsymmetricKeyRequest =
  { type: 'rsa'; modulusLength: number } | { type: 'ec'; namedCurve: string } | { type: 'ed25519' };

/** Asynchronous generation (libuv thread pool): an RSA-4096 key takes long enough to stall requests. */
function generateDerKeyPair(
  request: AsymmetricKeyRequest,
): Promise<{ material: Buffer; publicKeySpki: Buffer }> {
  const encodings = {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKeySpki: Buffer, material: Buffer) =>
      err ? reject(err) : resolve({ material, publicKeySpki });
    if (request.type === 'rsa') {
      generateKeyPair(
        'rsa',
        { modulusLength: request.modulusLength, publicExponent: 0x10001, ...encodings },
        done,
      );
    } else if (request.type === 'ec') {
      generateKeyPair('ec', { namedCurve: request.namedCurve, ...encodings }, done);
    } else {
      generateKeyPair('ed25519', encodings, done);
    }
  });
}

function hmacLength(spec: KeySpec): number {
  const length = hmacKeyLength[spec];
  if (length === undefined) throw new KmsError('Internal', `no HMAC key length for ${spec}`);
  return length;
}

export async function generateKeyMaterial(
  spec: KeySpec,
): Promise<{ material: Buffer; publicKeySpki?: Buffer }> {
  switch (keyFamily(spec)) {
    case 'AES':
      return { material: randomBytes(AES_KEY_LENGTH) };
    case 'HMAC':
      return { material: randomBytes(hmacLength(spec)) };
    case 'RSA':
      return generateDerKeyPair({ type: 'rsa', modulusLength: RSA_MODULUS_BITS[spec as RsaSpec] });
    case 'EC':
      return generateDerKeyPair({ type: 'ec', namedCurve: EC_CURVE_OF_SPEC[spec as EcSpec] });
    case 'ED25519':
      return generateDerKeyPair({ type: 'ed25519' });
  }
}

/** Parses our own stored material; failure means corrupted storage, hence Internal. */
export function privateKeyFromMaterial(material: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new KmsError('Internal', 'stored key material is not a PKCS#8 private key', { cause });
  }
}

export function publicKeyFromSpki(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new KmsError('ValidationError', 'public key is not a DER SubjectPublicKeyInfo', { cause });
  }
}

export function specOfPublicKey(key: KeyObject): KeySpec | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (Object.keys(RSA_MODULUS_BITS) as RsaSpec[]).find(
        (spec) => RSA_MODULUS_BITS[spec] === details?.modulusLength,
      );
    case 'ec':
      return (Object.keys(EC_CURVE_OF_SPEC) as EcSpec[]).find(
        (spec) => EC_CURVE_OF_SPEC[spec] === details?.namedCurve,
      );
    case 'ed25519':
      return 'ECC_NIST_EDWARDS25519';
    default:
      return undefined;
  }
}

/** What a key is, for error messages: type and size or curve, never key bytes. */
function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (details?.modulusLength !== undefined)
    return `a ${details.modulusLength}-bit ${key.asymmetricKeyType} key`;
  if (details?.namedCurve !== undefined) return `an ${key.asymmetricKeyType} key on ${details.namedCurve}`;
  return `an ${key.asymmetricKeyType ?? 'unknown'} key`;
}

/** Exact match of type and size/curve; RSA also needs a FIPS 186-4 public exponent. */
function checkKeyMatchesSpec(spec: KeySpec, key: KeyObject): void {
  if (specOfPublicKey(key) !== spec) {
    throw validationError(`key material does not match key spec ${spec}: got ${describeKey(key)}`);
  }
  const exponent = key.asymmetricKeyDetails?.publicExponent;
  if (key.asymmetricKeyType === 'rsa') {
    if (
      exponent === undefined ||
      exponent % 2n === 0n ||
      exponent < MIN_RSA_EXPONENT ||
      exponent >= MAX_RSA_EXPONENT
    ) {
      throw validationError('RSA public exponent must be odd and between 2^16 and 2^256 (FIPS 186-4)');
    }
  }
}

/**
 * Pairwise consistency test (FIPS 140-3 IG 10.3.A): a private key whose halves disagree would
 * produce signatures or ciphertexts nobody can use, so it is refused at import.
 */
function checkPairwiseConsistency(spec: KeySpec, privateKey: KeyObject, publicKey: KeyObject): void {
  const algorithm = signingAlgorithmsFor(spec)[0];
  if (algorithm === undefined) throw new KmsError('Internal', `no signing algorithm for ${spec}`);
  const probe = Buffer.from('keyhaven pairwise consistency test');
  let consistent = false;
  try {
    consistent = verifySignature(
      publicKey,
      algorithm,
      probe,
      'RAW',
      signMessage(privateKey, algorithm, probe, 'RAW'),
    );
  } catch {
    consistent = false;
  }
  if (!consistent)
    throw validationError('private key is inconsistent: its public and private parts do not match');
}

export function normalizeImportedMaterial(
  spec: KeySpec,
  material: Buffer,
): { material: Buffer; publicKeySpki?: Buffer } {
  const family = keyFamily(spec);
  if (family === 'AES') {
    if (material.length !== AES_KEY_LENGTH) {
      throw validationError(`${spec} key material must be exactly ${AES_KEY_LENGTH} bytes (AES-256)`);
    }
    return { material: Buffer.from(material) };
  }
  if (family === 'HMAC') {
    const range = HMAC_IMPORT_LENGTH[spec];
    if (range === undefined) throw new KmsError('Internal', `no HMAC import length for ${spec}`);
    if (material.length < range.min || material.length > range.max) {
      throw validationError(`${spec} key material must be ${range.min} to ${range.max} bytes`);
    }
    return { material: Buffer.from(material) };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new KmsError(
      'ValidationError',
      `${spec} key material must be an unencrypted PKCS#8 DER private key`,
      {
        cause,
      },
    );
  }
  checkKeyMatchesSpec(spec, privateKey);
  const publicKey = createPublicKey(privateKey);
  checkPairwiseConsistency(spec, privateKey, publicKey);
  // Re-encoding drops optional PKCS#8 attributes and fixes one canonical form for storage.
  return {
    material: privateKey.export({ type: 'pkcs8', format: 'der' }),
    publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** For verify-only keys whose public half alone is imported. */
export function normalizeImportedPublicKey(spec: KeySpec, spki: Buffer): Buffer {
  const family = keyFamily(spec);
  if (family === 'AES' || family === 'HMAC')
    throw validationError(`${spec} is symmetric and has no public key`);
  const publicKey = publicKeyFromSpki(spki);
  checkKeyMatchesSpec(spec, publicKey);
  return publicKey.export({ type: 'spki', format: 'der' });
}

/** Overwrites key material in place; copies made by V8 or OpenSSL are out of our reach. */
export function zeroize(buf: Buffer): void {
  buf.fill(0);
}
