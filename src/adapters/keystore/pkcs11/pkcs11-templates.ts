// Object templates and public-key export. Every key the token holds for us is a token object that is
// private, sensitive and not extractable (CKA_EXTRACTABLE false cannot be set back to true), so its
// value never leaves the HSM; public halves are session objects, read once and exported as SPKI.
// With several backends a new key is made `replicable` instead: extractable only under a trusted
// key (CKA_WRAP_WITH_TRUSTED, i.e. the SO's transport key) until every backend holds a copy, then
// sealed (pkcs11-replication.ts). Usage flags follow the key's usage (an RSA key signs or decrypts,
// never both) and CKA_ALLOWED_MECHANISMS lists the mechanisms Keyhaven uses the key with.
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import type { KeySpec, MacAlgorithm } from '../../../domain/key-spec.js';
import { pkcs11Code } from './pkcs11-errors.js';
import type { Handle, SessionScope } from './pkcs11-token.js';

export type SecretKeyUsage = 'encrypt' | 'mac';
export type RsaKeyUsage = 'sign' | 'decrypt';

/** CKA_ALLOWED_MECHANISMS value: an array of CK_MECHANISM_TYPE (CK_ULONG, 8 bytes on LP64). */
export function mechanismList(mechanisms: readonly number[]): Buffer {
  const list = Buffer.alloc(mechanisms.length * 8);
  mechanisms.forEach((mechanism, i) => list.writeBigUInt64LE(BigInt(mechanism), i * 8));
  return list;
}

const allowed = (mechanisms: readonly number[] | undefined): pkcs11js.Template =>
  mechanisms ? [{ type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: mechanismList(mechanisms) }] : [];

/**
 * Generates with CKA_ALLOWED_MECHANISMS where the token knows it (SoftHSM 2.6 does, PKCS#11 v2.40
 * §4.4); a token that answers CKR_ATTRIBUTE_TYPE_INVALID gets the same template without it.
 */
export async function withMechanismRestriction<T>(generate: (restrict: boolean) => Promise<T>): Promise<T> {
  try {
    return await generate(true);
  } catch (error) {
    if (pkcs11Code(error) !== pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID) throw error;
    return generate(false);
  }
}

/** The mechanisms each kind of key is used with here (pkcs11-key-backend.ts, hsm-aes-gcm.ts). */
export const ALLOWED_MECHANISMS = {
  aes: [pkcs11js.CKM_AES_GCM],
  /** AES keys of a single backend also wrap and unwrap (RFC 5649: pkcs11-key-wrap.ts). */
  aesWrapping: [pkcs11js.CKM_AES_GCM, pkcs11js.CKM_AES_KEY_WRAP_PAD],
  rsaSign: [
    pkcs11js.CKM_RSA_PKCS,
    pkcs11js.CKM_RSA_PKCS_PSS,
    pkcs11js.CKM_SHA256_RSA_PKCS,
    pkcs11js.CKM_SHA384_RSA_PKCS,
    pkcs11js.CKM_SHA512_RSA_PKCS,
    pkcs11js.CKM_SHA256_RSA_PKCS_PSS,
    pkcs11js.CKM_SHA384_RSA_PKCS_PSS,
    pkcs11js.CKM_SHA512_RSA_PKCS_PSS,
  ],
  rsaDecrypt: [pkcs11js.CKM_RSA_PKCS_OAEP],
  ecdsa: [pkcs11js.CKM_ECDSA],
  /** CKM_EDDSA (PKCS#11 v3.0 §2.3.14; pkcs11js 2.1 has no name for it). */
  eddsa: [0x1057],
} as const;

/** The HMAC mechanism of each MAC algorithm. */
export const HMAC_MECHANISM: Readonly<Record<MacAlgorithm, number>> = {
  HMAC_SHA_224: pkcs11js.CKM_SHA224_HMAC,
  HMAC_SHA_256: pkcs11js.CKM_SHA256_HMAC,
  HMAC_SHA_384: pkcs11js.CKM_SHA384_HMAC,
  HMAC_SHA_512: pkcs11js.CKM_SHA512_HMAC,
};

/** The HMAC mechanism an HMAC key spec is used with (HMAC_256: CKM_SHA256_HMAC); undefined for others. */
export const hmacMechanismOf = (spec: KeySpec): number | undefined =>
  HMAC_MECHANISM[`HMAC_SHA_${spec.slice('HMAC_'.length)}` as MacAlgorithm];

/**
 * Named-curve OIDs as DER (CKA_EC_PARAMS): prime256v1 1.2.840.10045.3.1.7, secp384r1 1.3.132.0.34,
 * secp521r1 1.3.132.0.35, secp256k1 1.3.132.0.10. `crv` is the JWK name node:crypto imports.
 */
export const EC_PARAMS = {
  ECC_NIST_P256: { der: Buffer.from('06082a8648ce3d030107', 'hex'), crv: 'P-256', bytes: 32 },
  ECC_NIST_P384: { der: Buffer.from('06052b81040022', 'hex'), crv: 'P-384', bytes: 48 },
  ECC_NIST_P521: { der: Buffer.from('06052b81040023', 'hex'), crv: 'P-521', bytes: 66 },
  ECC_SECG_P256K1: { der: Buffer.from('06052b8104000a', 'hex'), crv: 'secp256k1', bytes: 32 },
} as const;
export type HsmEcSpec = keyof typeof EC_PARAMS;

/** PKCS#11 v3.0 §2.3.5 (pkcs11js 2.1 has no name for it). */
export const CKK_EC_EDWARDS = 0x40;
/** CKA_EC_PARAMS of Ed25519: the curve OID 1.3.101.112, which v3.0 allows beside "edwards25519". */
const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');

const protectedObject = (label: string, replicable = false): pkcs11js.Template => [
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: replicable },
  // Sealing (CKA_EXTRACTABLE true -> false) is a C_SetAttributeValue, refused on unmodifiable objects.
  { type: pkcs11js.CKA_MODIFIABLE, value: replicable },
  ...(replicable ? [{ type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true }] : []),
  { type: pkcs11js.CKA_LABEL, value: label },
  { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
];

/** Usage flags a replica copies from the original (read with C_GetAttributeValue). */
export interface ReplicaShape {
  objectClass: number;
  keyType: number;
  usage: { type: number; value: boolean }[];
  /** CKA_ALLOWED_MECHANISMS of the original, when it has any. */
  allowedMechanisms?: Buffer;
}

/**
 * Template of a copy unwrapped into another token: same label, class, type and usage as the original,
 * sensitive and not extractable. It must name every attribute the unwrap-only transport object's
 * CKA_UNWRAP_TEMPLATE forces, with the same value, or the token refuses (CKR_TEMPLATE_INCONSISTENT):
 * TOKEN, PRIVATE, SENSITIVE, EXTRACTABLE, and UNWRAP and DERIVE (both in `usage`). CKA_MODIFIABLE false comes last: SoftHSM 2.6 applies an unwrap
 * template in order and refuses (CKR_ATTRIBUTE_READ_ONLY) any attribute after it.
 */
export function replicaTemplate(label: string, shape: ReplicaShape): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: shape.objectClass },
    { type: pkcs11js.CKA_KEY_TYPE, value: shape.keyType },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
    ...shape.usage,
    ...(shape.allowedMechanisms
      ? [{ type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: shape.allowedMechanisms }]
      : []),
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
  ];
}

export function secretKeyTemplate(options: {
  label: string;
  keyType: number;
  length: number;
  usage: SecretKeyUsage;
  replicable?: boolean;
  /**
   * CKA_WRAP and CKA_UNWRAP (an encryption key that also serves /v1/wrap and /v1/unwrap). Never
   * with `replicable`: the transport key's unwrap template forbids CKA_UNWRAP on every copy.
   */
  wrapping?: boolean;
  /** CKA_ALLOWED_MECHANISMS; left out for tokens that do not know the attribute. */
  mechanisms?: readonly number[];
}): pkcs11js.Template {
  const encrypt = options.usage === 'encrypt';
  const wrapping = encrypt && options.wrapping === true && options.replicable !== true;
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: options.keyType },
    { type: pkcs11js.CKA_VALUE_LEN, value: options.length },
    ...protectedObject(options.label, options.replicable),
    { type: pkcs11js.CKA_ENCRYPT, value: encrypt },
    { type: pkcs11js.CKA_DECRYPT, value: encrypt },
    { type: pkcs11js.CKA_SIGN, value: !encrypt },
    { type: pkcs11js.CKA_VERIFY, value: !encrypt },
    { type: pkcs11js.CKA_WRAP, value: wrapping },
    { type: pkcs11js.CKA_UNWRAP, value: wrapping },
    { type: pkcs11js.CKA_DERIVE, value: false },
    ...allowed(options.mechanisms),
  ];
}

/** The key pair's public template is a session object: the SPKI is kept in metadata instead. */
export function rsaKeyPairTemplates(options: {
  label: string;
  modulusBits: number;
  usage: RsaKeyUsage;
  replicable?: boolean;
  restrictMechanisms?: boolean;
}) {
  const { label, modulusBits, usage, replicable = false } = options;
  const sign = usage === 'sign';
  const publicKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_MODULUS_BITS, value: modulusBits },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
    { type: pkcs11js.CKA_VERIFY, value: sign },
    { type: pkcs11js.CKA_ENCRYPT, value: !sign },
  ];
  // One function per key (the service also checks the usage): a signing key cannot decrypt.
  const privateKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
    ...protectedObject(label, replicable),
    { type: pkcs11js.CKA_SIGN, value: sign },
    { type: pkcs11js.CKA_DECRYPT, value: !sign },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    ...allowed(
      options.restrictMechanisms === false
        ? undefined
        : sign
          ? ALLOWED_MECHANISMS.rsaSign
          : ALLOWED_MECHANISMS.rsaDecrypt,
    ),
  ];
  return { publicKey, privateKey };
}

export function ecKeyPairTemplates(
  label: string,
  spec: HsmEcSpec,
  replicable = false,
  restrictMechanisms = true,
) {
  const publicKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_EC_PARAMS, value: EC_PARAMS[spec].der },
    { type: pkcs11js.CKA_VERIFY, value: true },
  ];
  const privateKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    ...protectedObject(label, replicable),
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    ...allowed(restrictMechanisms ? ALLOWED_MECHANISMS.ecdsa : undefined),
  ];
  return { publicKey, privateKey };
}

/**
 * Ed25519 (PKCS#11 v3.0 §2.3.5): key type CKK_EC_EDWARDS (0x40), CKA_EC_PARAMS the curve OID
 * 1.3.101.112 (RFC 8410); otherwise as ecKeyPairTemplates, signing with CKM_EDDSA only.
 */
export function ed25519KeyPairTemplates(label: string, replicable = false, restrictMechanisms = true) {
  const publicKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_EC_PARAMS, value: ED25519_PARAMS },
    { type: pkcs11js.CKA_VERIFY, value: true },
  ];
  const privateKey: pkcs11js.Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
    ...protectedObject(label, replicable),
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    ...allowed(restrictMechanisms ? ALLOWED_MECHANISMS.eddsa : undefined),
  ];
  return { publicKey, privateKey };
}

export function attribute(scope: SessionScope, handle: Handle, type: number): Buffer {
  const [result] = scope.api.C_GetAttributeValue(scope.session, handle, [{ type }]);
  if (!result?.value)
    throw new KmsError('Internal', `the token returned no attribute 0x${type.toString(16)}`);
  return result.value;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

export function rsaPublicKeySpki(scope: SessionScope, publicKey: Handle): Buffer {
  const n = attribute(scope, publicKey, pkcs11js.CKA_MODULUS);
  const e = attribute(scope, publicKey, pkcs11js.CKA_PUBLIC_EXPONENT);
  return createPublicKey({ key: { kty: 'RSA', n: base64url(n), e: base64url(e) }, format: 'jwk' }).export({
    format: 'der',
    type: 'spki',
  });
}

export function ecPublicKeySpki(scope: SessionScope, publicKey: Handle, spec: HsmEcSpec): Buffer {
  const { crv, bytes } = EC_PARAMS[spec];
  const point = unwrapOctetString(attribute(scope, publicKey, pkcs11js.CKA_EC_POINT), 1 + 2 * bytes);
  if (point.length !== 1 + 2 * bytes || point[0] !== 0x04) {
    throw new KmsError('Internal', 'the token returned an EC point that is not uncompressed');
  }
  const x = point.subarray(1, 1 + bytes);
  const y = point.subarray(1 + bytes);
  return createPublicKey({ key: { kty: 'EC', crv, x: base64url(x), y: base64url(y) }, format: 'jwk' }).export(
    {
      format: 'der',
      type: 'spki',
    },
  );
}

/** CKA_EC_POINT is DER OCTET STRING-wrapped per PKCS#11 v2.40, raw on some older tokens. */
export function unwrapOctetString(value: Buffer, pointLength: number): Buffer {
  if (value.length === pointLength) return value;
  const shortForm = value[0] === 0x04 && value[1] === pointLength && value.length === pointLength + 2;
  if (shortForm) return value.subarray(2);
  const longForm =
    value[0] === 0x04 && value[1] === 0x81 && value[2] === pointLength && value.length === pointLength + 3;
  if (longForm) return value.subarray(3);
  return value;
}
