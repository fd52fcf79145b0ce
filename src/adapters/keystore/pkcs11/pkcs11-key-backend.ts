// The HSM protection level: each key version is a non-extractable object in the token (in every
// token, with several backends: pkcs11-replication.ts), labelled `keyhaven/<keyId>/v<version>`;
// metadata stores only that label. Encrypt, decrypt, sign, MAC and RSA decryption run inside the
// token; the public half is exported once as SPKI at creation.
import pkcs11js from 'pkcs11js';
import {
  alreadyExists,
  invalidCiphertext,
  KmsError,
  keyUsageMismatch,
  validationError,
} from '../../../domain/errors.js';
import {
  hashOf,
  hmacKeyLength,
  keyFamily,
  type KeySpec,
  type KeyUsage,
  type MacAlgorithm,
  type SigningAlgorithm,
} from '../../../domain/key-spec.js';
import { RSA_MODULUS_BITS } from '../../../crypto/key-material.js';
import { emsaPkcs1v15Encode, HASH_LENGTH, type SignatureHash } from '../../../crypto/rsa-emsa.js';
import type {
  KeyBackend,
  MessageType,
  NewVersionMaterial,
  RsaEncryptionAlgorithm,
  VersionRef,
} from '../../../ports/key-backend.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import { GcmAuthenticationError, hsmGcmDecrypt, hsmGcmEncrypt, isRequestFault } from './hsm-aes-gcm.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, ecSign, generateEcKeyPair } from './pkcs11-ec-keys.js';
import { expectCheckValue, expectPrivateHalfOf, keyCheckValue } from './pkcs11-content-checks.js';
import { Pkcs11WrappedImport } from './pkcs11-wrapped-import.js';
import { hsmKwpUnwrap, hsmKwpWrap } from './pkcs11-key-wrap.js';
import type { ObjectRole } from './pkcs11-object-policy.js';
import { NotCopyableError } from './pkcs11-replication.js';
import type { TokenFailover } from './pkcs11-token-failover.js';
import {
  ALLOWED_MECHANISMS,
  HMAC_MECHANISM,
  hmacMechanismOf,
  withMechanismRestriction,
  rsaKeyPairTemplates,
  rsaPublicKeySpki,
  secretKeyTemplate,
} from './pkcs11-templates.js';
import type { Handle, Pkcs11Token, SessionScope } from './pkcs11-token.js';
import {
  decodeVersionReference,
  encodeVersionReference,
  hsmObjectLabel,
  type VersionReference,
} from './pkcs11-version-reference.js';

/** Key specs the HSM protection level offers: those PKCS#11 v2.40 tokens commonly implement. */
export const HSM_KEY_SPECS: readonly KeySpec[] = [
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
];

export { hsmObjectLabel } from './pkcs11-version-reference.js';

const HASH_MECHANISM: Record<SignatureHash | 'sha224' | 'sha1', number> = {
  sha1: pkcs11js.CKM_SHA_1,
  sha224: pkcs11js.CKM_SHA224,
  sha256: pkcs11js.CKM_SHA256,
  sha384: pkcs11js.CKM_SHA384,
  sha512: pkcs11js.CKM_SHA512,
};
const MGF1: Record<SignatureHash | 'sha1', number> = {
  sha1: pkcs11js.CKG_MGF1_SHA1,
  sha256: pkcs11js.CKG_MGF1_SHA256,
  sha384: pkcs11js.CKG_MGF1_SHA384,
  sha512: pkcs11js.CKG_MGF1_SHA512,
};
const RSA_PKCS1_WITH_HASH: Record<SignatureHash, number> = {
  sha256: pkcs11js.CKM_SHA256_RSA_PKCS,
  sha384: pkcs11js.CKM_SHA384_RSA_PKCS,
  sha512: pkcs11js.CKM_SHA512_RSA_PKCS,
};
const RSA_PSS_WITH_HASH: Record<SignatureHash, number> = {
  sha256: pkcs11js.CKM_SHA256_RSA_PKCS_PSS,
  sha384: pkcs11js.CKM_SHA384_RSA_PKCS_PSS,
  sha512: pkcs11js.CKM_SHA512_RSA_PKCS_PSS,
};
const MAX_SIGNATURE_BYTES = 512;
/** PKCS#11 v2.40 §2.1.8: the OAEP encoding parameter source (pkcs11js exports no CKZ_* names). */
const CKZ_DATA_SPECIFIED = 0x00000001;

/** Mechanisms each key spec needs from the token (`keyhaven hsm init` lists the missing ones). */
export function mechanismsFor(spec: KeySpec): Record<string, number> {
  switch (keyFamily(spec)) {
    case 'AES':
      return {
        CKM_AES_KEY_GEN: pkcs11js.CKM_AES_KEY_GEN,
        CKM_AES_GCM: pkcs11js.CKM_AES_GCM,
        // wrap/unwrap only; encryption works without it.
        CKM_AES_KEY_WRAP_PAD: pkcs11js.CKM_AES_KEY_WRAP_PAD,
      };
    case 'HMAC': {
      const bits = spec.slice('HMAC_'.length);
      return {
        CKM_GENERIC_SECRET_KEY_GEN: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN,
        [`CKM_SHA${bits}_HMAC`]: hmacMechanismOf(spec)!,
      };
    }
    case 'RSA':
      return {
        CKM_RSA_PKCS_KEY_PAIR_GEN: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_RSA_PKCS: pkcs11js.CKM_RSA_PKCS,
        CKM_RSA_PKCS_PSS: pkcs11js.CKM_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP: pkcs11js.CKM_RSA_PKCS_OAEP,
        CKM_SHA256_RSA_PKCS: pkcs11js.CKM_SHA256_RSA_PKCS,
        CKM_SHA256_RSA_PKCS_PSS: pkcs11js.CKM_SHA256_RSA_PKCS_PSS,
      };
    case 'ED25519':
      return { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA };
    default:
      return { CKM_EC_KEY_PAIR_GEN: pkcs11js.CKM_EC_KEY_PAIR_GEN, CKM_ECDSA: pkcs11js.CKM_ECDSA };
  }
}

export class Pkcs11KeyBackend implements KeyBackend {
  readonly protectionLevel = 'HSM' as const;
  /** BYOK: material unwrapped by the token into the version's object (pkcs11-key-import.ts). */
  readonly wrappedImport: Pkcs11WrappedImport;

  constructor(private readonly failover: TokenFailover) {
    this.wrappedImport = new Pkcs11WrappedImport(failover);
  }

  async createVersionMaterial(
    keyId: string,
    version: number,
    spec: KeySpec,
    usage?: KeyUsage,
  ): Promise<NewVersionMaterial> {
    if (!HSM_KEY_SPECS.includes(spec)) {
      throw validationError(
        `${spec} is not available with protection level HSM; use one of ${HSM_KEY_SPECS.join(', ')}`,
      );
    }
    const label = hsmObjectLabel(keyId, version);
    const family = keyFamily(spec);
    const objectClass = objectClassOf(spec);
    const replication = this.failover.replication;
    const replicable = replication?.enabled ?? false;
    const rsaUsage = family === 'RSA' ? rsaUsageOf(spec, usage) : undefined;
    let source: Pkcs11Token | undefined;
    let checkValue: Buffer | undefined;
    const publicKeySpki = await this.failover.run(async (scope, token) => {
      const { api, session } = scope;
      source = token;
      if (scope.find(label, objectClass)) {
        throw alreadyExists(`the token already holds an object labelled ${label}`);
      }
      return withMechanismRestriction(async (restrict) => {
        if (family === 'AES') {
          const handle = await api.C_GenerateKeyAsync(
            session,
            { mechanism: pkcs11js.CKM_AES_KEY_GEN },
            secretKeyTemplate({
              label,
              keyType: pkcs11js.CKK_AES,
              length: 32,
              usage: 'encrypt',
              replicable,
              wrapping: !replicable,
              mechanisms: restrict ? ALLOWED_MECHANISMS[replicable ? 'aes' : 'aesWrapping'] : undefined,
            }),
          );
          checkValue = keyCheckValue(scope, handle, spec);
          return null;
        }
        if (family === 'HMAC') {
          const handle = await api.C_GenerateKeyAsync(
            session,
            { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN },
            secretKeyTemplate({
              label,
              keyType: pkcs11js.CKK_GENERIC_SECRET,
              length: hmacKeyLength[spec]!,
              usage: 'mac',
              replicable,
              mechanisms: restrict ? [hmacMechanismOf(spec)!] : undefined,
            }),
          );
          checkValue = keyCheckValue(scope, handle, spec);
          return null;
        }
        if (family === 'RSA') {
          const templates = rsaKeyPairTemplates({
            label,
            modulusBits: RSA_MODULUS_BITS[spec as keyof typeof RSA_MODULUS_BITS],
            usage: rsaUsage!,
            replicable,
            restrictMechanisms: restrict,
          });
          const pair = await api.C_GenerateKeyPairAsync(
            session,
            { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
            templates.publicKey,
            templates.privateKey,
          );
          return withSessionObject(scope, pair.publicKey, () => rsaPublicKeySpki(scope, pair.publicKey));
        }
        return generateEcKeyPair(scope, { label, spec, replicable, restrictMechanisms: restrict });
      });
    });
    // Copied to the other backends before the version is acknowledged; a backend that is down gets
    // it from the catch-up pass (docs/hsm.md).
    if (replication && source) await this.replicateOrDiscard(source, label, objectClass, spec);
    return { material: encodeVersionReference({ label, checkValue }), publicKeySpki };
  }

  /** A key the token can never copy to the other backends would not survive a failover: refused. */
  private async replicateOrDiscard(
    source: Pkcs11Token,
    label: string,
    objectClass: number,
    spec: KeySpec,
  ): Promise<void> {
    try {
      await this.failover.replication!.replicate(source, label, objectClass);
    } catch (error) {
      if (!(error instanceof NotCopyableError)) throw error;
      await source.run((scope) => destroyObject(scope, source, label, objectClass, 'key'));
      throw validationError(
        `${spec} keys cannot be copied between these HSM backends (${error.message}); with several backends use another key spec, or configure one backend`,
      );
    }
  }

  /** Clear material never enters an HSM through this process: imports go through wrappedImport. */
  async importVersionMaterial(): Promise<NewVersionMaterial> {
    throw validationError(
      'HSM keys take imported material only wrapped to their import parameters (the token unwraps it)',
    );
  }

  async encrypt(ref: VersionRef, iv: Buffer, plaintext: Buffer, aad: Buffer) {
    this.expectFamily(ref, 'AES', 'symmetric encryption');
    return this.failover.run((scope) => hsmGcmEncrypt(scope, this.secretKey(scope, ref), iv, aad, plaintext));
  }

  async decrypt(ref: VersionRef, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<Buffer> {
    this.expectFamily(ref, 'AES', 'symmetric decryption');
    return this.failover.run(async (scope) => {
      try {
        return await hsmGcmDecrypt(scope, this.secretKey(scope, ref), iv, aad, ciphertext, tag);
      } catch (error) {
        if (error instanceof GcmAuthenticationError) throw invalidCiphertext();
        throw error;
      }
    });
  }

  async sign(ref: VersionRef, algorithm: SigningAlgorithm, message: Buffer, messageType: MessageType) {
    const family = keyFamily(ref.keySpec);
    if (family === 'EC' || family === 'ED25519') {
      return this.failover.run((scope) =>
        ecSign(scope, this.privateKey(scope, ref), ref.keySpec, algorithm, message, messageType),
      );
    }
    if (family !== 'RSA') {
      throw keyUsageMismatch(`key ${ref.keyId} (${ref.keySpec}) has no private key`);
    }
    const hash = hashOf(algorithm) as SignatureHash;
    if (messageType === 'DIGEST' && message.length !== HASH_LENGTH[hash]) {
      throw validationError(`a ${algorithm} digest must be exactly ${HASH_LENGTH[hash]} bytes`);
    }
    return this.failover.run(async (scope) => {
      const key = this.privateKey(scope, ref);
      const { api, session } = scope;
      if (algorithm.startsWith('RSASSA_PSS_')) {
        const parameter: pkcs11js.RsaPSS = {
          type: pkcs11js.CK_PARAMS_RSA_PSS,
          hashAlg: HASH_MECHANISM[hash],
          mgf: MGF1[hash],
          saltLen: HASH_LENGTH[hash],
        };
        const mechanism = messageType === 'DIGEST' ? pkcs11js.CKM_RSA_PKCS_PSS : RSA_PSS_WITH_HASH[hash];
        api.C_SignInit(session, { mechanism, parameter }, key);
        return api.C_SignAsync(session, message, Buffer.alloc(MAX_SIGNATURE_BYTES));
      }
      if (messageType === 'DIGEST') {
        // CKM_RSA_PKCS pads a DigestInfo we supply (RFC 8017 §9.2 steps 2-5 run in the token).
        const block = emsaPkcs1v15Encode(hash, message, MAX_SIGNATURE_BYTES);
        const digestInfo = block.subarray(block.indexOf(0x00, 2) + 1);
        api.C_SignInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS }, key);
        return api.C_SignAsync(session, digestInfo, Buffer.alloc(MAX_SIGNATURE_BYTES));
      }
      api.C_SignInit(session, { mechanism: RSA_PKCS1_WITH_HASH[hash] }, key);
      return api.C_SignAsync(session, message, Buffer.alloc(MAX_SIGNATURE_BYTES));
    });
  }

  async mac(ref: VersionRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    this.expectFamily(ref, 'HMAC', 'MAC generation');
    return this.failover.run(async (scope) => {
      const { api, session } = scope;
      api.C_SignInit(session, { mechanism: HMAC_MECHANISM[algorithm] }, this.secretKey(scope, ref));
      // pkcs11js refuses an empty input buffer; C_SignFinal alone is the MAC of the empty message.
      if (message.length === 0) return Buffer.from(api.C_SignFinal(session, Buffer.alloc(64)));
      return api.C_SignAsync(session, message, Buffer.alloc(64));
    });
  }

  async rsaDecrypt(ref: VersionRef, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    this.expectFamily(ref, 'RSA', 'RSA decryption');
    // expectFamily leaves only RSA_2048/3072/4096, each a key of RSA_MODULUS_BITS.
    const bits = RSA_MODULUS_BITS[ref.keySpec as keyof typeof RSA_MODULUS_BITS];
    // RFC 8017 §7.1.2 step 1b: exactly k octets.
    if (ciphertext.length !== Math.ceil(bits / 8)) throw invalidCiphertext();
    const hash = algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
    const parameter: pkcs11js.RsaOAEP = {
      type: pkcs11js.CK_PARAMS_RSA_OAEP,
      hashAlg: HASH_MECHANISM[hash],
      mgf: MGF1[hash],
      source: CKZ_DATA_SPECIFIED,
    };
    return this.failover.run(async (scope) => {
      const { api, session } = scope;
      api.C_DecryptInit(
        session,
        { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter },
        this.privateKey(scope, ref),
      );
      try {
        return await api.C_DecryptAsync(session, ciphertext, Buffer.alloc(ciphertext.length));
      } catch (error) {
        // One error for every padding failure (RFC 8017 §7.1.2 note), as SOFTWARE keys answer.
        if (isRequestFault(scope, error)) throw invalidCiphertext();
        throw error;
      }
    });
  }

  async wrapKey(ref: VersionRef, keyMaterial: Buffer): Promise<Buffer> {
    this.expectWrapping(ref, 'key wrapping');
    return this.failover.run((scope, token) =>
      hsmKwpWrap(scope, token, this.secretKey(scope, ref), keyMaterial),
    );
  }

  async unwrapKey(ref: VersionRef, wrappedKey: Buffer): Promise<Buffer> {
    this.expectWrapping(ref, 'key unwrapping');
    return this.failover.run((scope) => hsmKwpUnwrap(scope, this.secretKey(scope, ref), wrappedKey));
  }

  async deriveKey(): Promise<Buffer> {
    // CKM_HKDF_DERIVE is PKCS#11 v3.0; v2.40 tokens such as SoftHSM 2.6 have no HKDF.
    throw validationError('deriveKey is not supported for HSM keys; use a SOFTWARE key');
  }

  /** HSM material never enters this process: there is nothing to evict. */
  evictKey(): void {}

  /** C_DestroyObject on every backend that holds the version; absent objects are already gone. */
  async destroyVersionMaterial(ref: VersionRef): Promise<void> {
    if (ref.version.material.length === 0) return;
    const reference = this.referenceOf(ref);
    const label = reference.label;
    const objectClass = objectClassOf(ref.keySpec);
    const errors = await this.failover.runOnEach((scope, token) =>
      destroyObject(scope, token, label, objectClass, roleOf(reference)),
    );
    if (errors.length === 0) this.failover.replication?.forget(label);
    if (errors.length > 0) {
      throw new KmsError('Unavailable', `could not destroy ${label} on every HSM backend; will retry`, {
        cause: errors[0],
      });
    }
  }

  async status(options?: StatusOptions): Promise<KeyStoreStatus[]> {
    return this.failover.status(options);
  }

  /** The backends are shared with (and closed by) the PKCS#11 root key store. */
  async close(): Promise<void> {}

  private expectFamily(ref: VersionRef, family: 'AES' | 'HMAC' | 'RSA', operation: string): void {
    if (keyFamily(ref.keySpec) !== family) {
      throw keyUsageMismatch(`${operation} is not possible with key ${ref.keyId} (${ref.keySpec})`);
    }
  }

  /** Copies of a key on other backends could never unwrap (docs/hsm.md): one backend only. */
  private expectWrapping(ref: VersionRef, operation: string): void {
    this.expectFamily(ref, 'AES', operation);
    if (this.failover.replication?.enabled) {
      throw validationError(
        `${operation} is not available for HSM keys with several HSM backends (a copied key cannot unwrap); use a SOFTWARE key`,
      );
    }
  }

  private referenceOf(ref: VersionRef): VersionReference {
    const label = hsmObjectLabel(ref.keyId, ref.version.version);
    // The blob names the object; it must be this version's, so blobs cannot be swapped between keys.
    if (ref.version.state !== 'Enabled' || ref.version.material.length === 0) {
      throw new KmsError('Unavailable', `key material of ${ref.keyId} v${ref.version.version} is destroyed`);
    }
    const reference = decodeVersionReference(ref.version.material);
    // Imported material has a label of its own per import (pkcs11-key-import.ts), under the version's.
    const own = reference.label === label || (reference.imported && reference.label.startsWith(`${label}/`));
    if (!own) {
      throw new KmsError(
        'Internal',
        `stored HSM reference of ${ref.keyId} v${ref.version.version} is not its own`,
      );
    }
    return reference;
  }

  /** Checked for its content (the recorded check value) on each token's first use. */
  private secretKey(scope: SessionScope, ref: VersionRef): Handle {
    const reference = this.referenceOf(ref);
    const { label, checkValue } = reference;
    if (!checkValue) return scope.require(label, pkcs11js.CKO_SECRET_KEY);
    const verify = expectCheckValue(scope, ref.keySpec, checkValue, { label });
    return scope.require(label, pkcs11js.CKO_SECRET_KEY, roleOf(reference), verify);
  }

  /** Checked to be the private half of the recorded public key on each token's first use. */
  private privateKey(scope: SessionScope, ref: VersionRef): Handle {
    const { label } = this.referenceOf(ref);
    const spki = ref.version.publicKeySpki;
    if (!spki) return scope.require(label, pkcs11js.CKO_PRIVATE_KEY);
    const verify = expectPrivateHalfOf(scope, ref.keySpec, spki, { label });
    return scope.require(label, pkcs11js.CKO_PRIVATE_KEY, 'key', verify);
  }
}

/** An RSA key in the token either signs or decrypts (CKA_SIGN or CKA_DECRYPT), as its key usage says. */
function rsaUsageOf(spec: KeySpec, usage: KeyUsage | undefined): 'sign' | 'decrypt' {
  if (usage === 'SIGN_VERIFY') return 'sign';
  if (usage === 'ENCRYPT_DECRYPT') return 'decrypt';
  throw validationError(`an HSM ${spec} key needs key usage SIGN_VERIFY or ENCRYPT_DECRYPT`);
}

const roleOf = (reference: VersionReference): ObjectRole => (reference.imported ? 'imported-key' : 'key');

/** Destroys our object under `label` in this token, if it holds one, and forgets its handle. */
function destroyObject(
  scope: SessionScope,
  token: Pkcs11Token,
  label: string,
  objectClass: number,
  role: ObjectRole,
): void {
  const handle = scope.find(label, objectClass, role);
  token.forgetHandle(label, objectClass);
  if (handle) scope.api.C_DestroyObject(scope.session, handle);
}

/** The class of the token object holding a version of `spec`: a secret key or a private key. */
function objectClassOf(spec: KeySpec): number {
  const family = keyFamily(spec);
  return family === 'AES' || family === 'HMAC' ? pkcs11js.CKO_SECRET_KEY : pkcs11js.CKO_PRIVATE_KEY;
}

/** Destroys a session object once `read` is done with it (public halves of new key pairs). */
function withSessionObject<T>(scope: SessionScope, handle: Handle, read: () => T): T {
  try {
    return read();
  } finally {
    scope.api.C_DestroyObject(scope.session, handle);
  }
}
