// Key specs, usages and algorithms (AWS KMS vocabulary, API.md) and which combinations are valid.

export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const PROTECTION_LEVELS = ['SOFTWARE', 'HSM', 'EXTERNAL'] as const;
export type ProtectionLevel = (typeof PROTECTION_LEVELS)[number];

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];

export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  // Ed25519ph (RFC 8032 §5.1, HashEdDSA with SHA-512), as AWS KMS names it.
  'ED25519_PH_SHA_512',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

export const DATA_KEY_SPECS = ['AES_256', 'AES_128'] as const;
export type DataKeySpec = (typeof DATA_KEY_SPECS)[number];

/** A data key's size: a spec, or a number of bytes (AWS GenerateDataKey's NumberOfBytes, 1 to 1024). */
export type DataKeySize = DataKeySpec | { bytes: number };

export const dataKeyLength = (size: DataKeySize): number =>
  typeof size === 'object' ? size.bytes : size === 'AES_128' ? 16 : 32;

export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
] as const;
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

export type KeyFamily = 'AES' | 'HMAC' | 'RSA' | 'EC' | 'ED25519';

export function keyFamily(spec: KeySpec): KeyFamily {
  if (spec === 'SYMMETRIC_DEFAULT') return 'AES';
  if (spec.startsWith('HMAC_')) return 'HMAC';
  if (spec.startsWith('RSA_')) return 'RSA';
  if (spec === 'ECC_NIST_EDWARDS25519') return 'ED25519';
  return 'EC';
}

export const isAsymmetric = (spec: KeySpec) => ['RSA', 'EC', 'ED25519'].includes(keyFamily(spec));

/** Usages a spec may be created with; the first is the default. */
export function allowedUsages(spec: KeySpec): readonly KeyUsage[] {
  switch (keyFamily(spec)) {
    case 'AES':
      return ['ENCRYPT_DECRYPT'];
    case 'HMAC':
      return ['GENERATE_VERIFY_MAC'];
    case 'RSA':
      return ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'];
    case 'EC':
      return spec === 'ECC_SECG_P256K1' ? ['SIGN_VERIFY'] : ['SIGN_VERIFY', 'KEY_AGREEMENT'];
    case 'ED25519':
      return ['SIGN_VERIFY'];
  }
}

/** Signing algorithms valid for a spec (AWS KMS table). */
export function signingAlgorithmsFor(spec: KeySpec): readonly SigningAlgorithm[] {
  switch (spec) {
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return SIGNING_ALGORITHMS.filter((a) => a.startsWith('RSASSA_'));
    case 'ECC_NIST_P256':
    case 'ECC_SECG_P256K1':
      return ['ECDSA_SHA_256'];
    case 'ECC_NIST_P384':
      return ['ECDSA_SHA_384'];
    case 'ECC_NIST_P521':
      return ['ECDSA_SHA_512'];
    case 'ECC_NIST_EDWARDS25519':
      // Pure Ed25519 first: it is the pairwise-consistency check of an imported key.
      return ['ED25519_SHA_512', 'ED25519_PH_SHA_512'];
    default:
      return [];
  }
}

export function encryptionAlgorithmsFor(spec: KeySpec): readonly EncryptionAlgorithm[] {
  if (spec === 'SYMMETRIC_DEFAULT') return ['SYMMETRIC_DEFAULT'];
  if (keyFamily(spec) === 'RSA') return ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  return [];
}

export function macAlgorithmFor(spec: KeySpec): MacAlgorithm | undefined {
  const bits = /^HMAC_(\d+)$/.exec(spec)?.[1];
  return bits ? (`HMAC_SHA_${bits}` as MacAlgorithm) : undefined;
}

/** Node digest name for an algorithm's hash ("sha256"...). */
export function hashOf(
  algorithm: SigningAlgorithm | MacAlgorithm,
): 'sha224' | 'sha256' | 'sha384' | 'sha512' {
  const bits = /(\d{3})$/.exec(algorithm)?.[1];
  return `sha${bits}` as 'sha224' | 'sha256' | 'sha384' | 'sha512';
}

/** Length in bytes of each digest (DIGEST-mode signing, HKDF output bounds). */
export const digestLength = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const;

/** HMAC key length in bytes generated for each HMAC spec (AWS uses the hash's block/output size). */
export const hmacKeyLength: Record<string, number> = {
  HMAC_224: 28,
  HMAC_256: 32,
  HMAC_384: 48,
  HMAC_512: 64,
};
