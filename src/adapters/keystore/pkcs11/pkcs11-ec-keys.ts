// Elliptic-curve keys of the HSM protection level: ECDSA on P-256, P-384, P-521 and secp256k1
// (CKM_EC_KEY_PAIR_GEN, CKM_ECDSA) and Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA; PKCS#11
// v3.0 mechanisms SoftHSM 2.6 implements, which pkcs11js 2.1 has no names for). Signatures leave
// the token in the wire format SOFTWARE keys use: DER ECDSA-Sig-Value, raw 64-byte Ed25519.
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { KmsError, validationError } from '../../../domain/errors.js';
import type { KeySpec, SigningAlgorithm } from '../../../domain/key-spec.js';
import { encodeEcdsaRawSignature } from '../../../crypto/ecdsa-der.js';
import { HASH_LENGTH, type SignatureHash } from '../../../crypto/rsa-emsa.js';
import { digestForSigning } from '../../../crypto/signature.js';
import type { MessageType } from '../../../ports/key-backend.js';
import {
  attribute,
  EC_PARAMS,
  ecKeyPairTemplates,
  ed25519KeyPairTemplates,
  ecPublicKeySpki,
  unwrapOctetString,
  type HsmEcSpec,
} from './pkcs11-templates.js';
import type { Handle, SessionScope } from './pkcs11-token.js';

/** PKCS#11 v3.0 §2.3: the mechanisms of Edwards curves. */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

const ED25519_POINT_BYTES = 32;
/** r || s of P-521 is 2 × 66 bytes; an Ed25519 signature 64. */
const MAX_SIGNATURE_BYTES = 2 * 66;

export const isHsmEcSpec = (spec: KeySpec): spec is HsmEcSpec => Object.hasOwn(EC_PARAMS, spec);

/** Generates an ECDSA or Ed25519 key pair; returns the public half as SPKI (the pair's public object is destroyed). */
export async function generateEcKeyPair(
  scope: SessionScope,
  options: { label: string; spec: KeySpec; replicable: boolean; restrictMechanisms: boolean },
): Promise<Buffer> {
  const { api, session } = scope;
  const { label, spec, replicable, restrictMechanisms } = options;
  const ed25519 = spec === 'ECC_NIST_EDWARDS25519';
  if (!ed25519 && !isHsmEcSpec(spec)) throw new KmsError('Internal', `${spec} is not an EC key spec`);
  const templates = ed25519
    ? ed25519KeyPairTemplates(label, replicable, restrictMechanisms)
    : ecKeyPairTemplates(label, spec as HsmEcSpec, replicable, restrictMechanisms);
  const mechanism = ed25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN;
  const pair = await api.C_GenerateKeyPairAsync(
    session,
    { mechanism },
    templates.publicKey,
    templates.privateKey,
  );
  try {
    return ed25519
      ? ed25519PublicKeySpki(scope, pair.publicKey)
      : ecPublicKeySpki(scope, pair.publicKey, spec as HsmEcSpec);
  } finally {
    api.C_DestroyObject(session, pair.publicKey);
  }
}

/** CKA_EC_POINT of an Ed25519 key: the 32-byte RFC 8032 encoding, in a DER OCTET STRING. */
export function ed25519PublicKeySpki(scope: SessionScope, publicKey: Handle): Buffer {
  const point = unwrapOctetString(attribute(scope, publicKey, pkcs11js.CKA_EC_POINT), ED25519_POINT_BYTES);
  if (point.length !== ED25519_POINT_BYTES) {
    throw new KmsError('Internal', 'the token returned an Ed25519 public key that is not 32 bytes');
  }
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') },
    format: 'jwk',
  }).export({ format: 'der', type: 'spki' });
}

/**
 * ECDSA (CKM_ECDSA signs a digest and returns r || s, PKCS#11 v2.40 §2.3.6; AWS and SOFTWARE keys
 * return DER) or pure Ed25519 (CKM_EDDSA over the message, RFC 8032 §5.1.6). The checks are those
 * of SOFTWARE keys (crypto/signature.ts): ED25519_SHA_512 signs RAW messages only.
 */
export async function ecSign(
  scope: SessionScope,
  key: Handle,
  spec: KeySpec,
  algorithm: SigningAlgorithm,
  message: Buffer,
  messageType: MessageType,
): Promise<Buffer> {
  const { api, session } = scope;
  if (spec === 'ECC_NIST_EDWARDS25519') {
    if (algorithm === 'ED25519_PH_SHA_512') {
      // SoftHSM 2.6 ignores CK_EDDSA_PARAMS (phFlag) and returns a pure Ed25519 signature, and no
      // token says through C_GetMechanismInfo whether it honours them (docs/hsm.md).
      throw validationError('ED25519_PH_SHA_512 is not available for HSM keys; use ED25519_SHA_512');
    }
    if (algorithm !== 'ED25519_SHA_512') {
      throw validationError(`signing algorithm ${algorithm} is not valid for this key`);
    }
    if (messageType !== 'RAW') throw validationError(`${algorithm} does not support messageType DIGEST`);
    // pkcs11js refuses an empty input buffer, and CKM_EDDSA is single-part in SoftHSM (no C_SignFinal).
    if (message.length === 0) throw validationError('an HSM Ed25519 key cannot sign an empty message');
    api.C_SignInit(session, { mechanism: CKM_EDDSA }, key);
    return api.C_SignAsync(session, message, Buffer.alloc(MAX_SIGNATURE_BYTES));
  }
  const hash = (/(\d{3})$/.exec(algorithm)?.[1] ?? '') as '256' | '384' | '512';
  const digestHash = `sha${hash}` as SignatureHash;
  if (!algorithm.startsWith('ECDSA_') || !Object.hasOwn(HASH_LENGTH, digestHash)) {
    throw validationError(`signing algorithm ${algorithm} is not valid for this key`);
  }
  if (messageType === 'DIGEST' && message.length !== HASH_LENGTH[digestHash]) {
    throw validationError(`a ${algorithm} digest must be exactly ${HASH_LENGTH[digestHash]} bytes`);
  }
  const digest = messageType === 'DIGEST' ? message : digestForSigning(algorithm, message);
  api.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, key);
  const raw = await api.C_SignAsync(session, digest, Buffer.alloc(MAX_SIGNATURE_BYTES));
  return encodeEcdsaRawSignature(raw);
}
