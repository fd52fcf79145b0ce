// What the HSM protection level offers, operation by operation, and what it does not, with the
// reason: printed by `keyhaven hsm init` and mirrored in docs/hsm.md. Every "offered" row runs inside
// the token; the reasons are what SoftHSM 2.6.1 was tested to do (test/adapters/pkcs11/*).

export interface OfferedOperation {
  specs: string;
  operations: string;
  mechanisms: string;
}

export interface NotOffered {
  feature: string;
  reason: string;
}

export const HSM_OFFERED: readonly OfferedOperation[] = [
  {
    specs: 'SYMMETRIC_DEFAULT',
    operations: 'encrypt, decrypt, generate data key',
    mechanisms: 'CKM_AES_KEY_GEN, CKM_AES_GCM',
  },
  {
    specs: 'SYMMETRIC_DEFAULT',
    operations: 'wrap, unwrap (RFC 5649; one backend)',
    mechanisms: 'CKM_AES_KEY_WRAP_PAD',
  },
  {
    specs: 'HMAC_224/256/384/512',
    operations: 'generate MAC, verify MAC',
    mechanisms: 'CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA*_HMAC',
  },
  {
    specs: 'RSA_2048/3072/4096',
    operations: 'sign RSASSA_PSS_*, RSASSA_PKCS1_V1_5_* (RAW, DIGEST)',
    mechanisms: 'CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA*_RSA_PKCS(_PSS), CKM_RSA_PKCS(_PSS)',
  },
  {
    specs: 'RSA_2048/3072/4096',
    operations: 'decrypt RSAES_OAEP_SHA_1 (SHA_256 where the token has it)',
    mechanisms: 'CKM_RSA_PKCS_OAEP',
  },
  {
    specs: 'ECC_NIST_P256/P384/P521, ECC_SECG_P256K1',
    operations: 'sign ECDSA_SHA_256/384/512 (RAW, DIGEST; DER)',
    mechanisms: 'CKM_EC_KEY_PAIR_GEN, CKM_ECDSA',
  },
  {
    specs: 'ECC_NIST_EDWARDS25519',
    operations: 'sign ED25519_SHA_512 (RAW)',
    mechanisms: 'CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA',
  },
  {
    specs: 'SYMMETRIC_DEFAULT, HMAC_224/256/384/512',
    operations: 'import (origin EXTERNAL) wrapped RSAES_OAEP_SHA_1, unwrapped by the token',
    mechanisms: 'CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS_OAEP (unwrap)',
  },
];

export const HSM_NOT_OFFERED: readonly NotOffered[] = [
  {
    feature: 'ED25519_PH_SHA_512',
    reason:
      'SoftHSM 2.6.1 ignores CK_EDDSA_PARAMS (phFlag) and returns pure Ed25519; no token reports support',
  },
  {
    feature: 'RSAES_OAEP_SHA_256 decrypt',
    reason: 'on SoftHSM 2.6: its CKM_RSA_PKCS_OAEP has SHA-1 only (CKR_ARGUMENTS_BAD), answered 400',
  },
  {
    feature: 'wrap of material not a multiple of 8 bytes',
    reason:
      "where the token's CKM_AES_KEY_WRAP_PAD zero-pads first, as SoftHSM 2.6 does (a known-answer test per token decides)",
  },
  {
    feature: 'wrap, unwrap with several backends',
    reason: "copies cannot carry CKA_UNWRAP (the transport key's unwrap template forbids it)",
  },
  {
    feature: 'derive (HKDF)',
    reason: 'token lacks CKM_HKDF_DERIVE (PKCS#11 v3.0)',
  },
  {
    feature: 'import wrapped RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_*',
    reason:
      'token lacks OAEP with SHA-256 and CKM_RSA_AES_KEY_WRAP; the two-step form would leave an AES key that unwraps under any template (docs/hsm.md)',
  },
  {
    feature: 'import of asymmetric material',
    reason:
      'the public key could not be checked against the unwrapped private key without the clear material',
  },
  {
    feature: 'export, backup',
    reason: 'key objects are never extractable (by design)',
  },
];
