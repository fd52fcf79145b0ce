// Port: where a key version's private/secret material is used. One implementation per protection
// level: SOFTWARE (root-wrapped material used in process), HSM (PKCS#11 objects) and EXTERNAL (keys
// held by external KMS providers, several side by side). Operations with public keys only (verify,
// RSA encrypt, public-key export) need no backend.
import type {
  KeySpec,
  KeyUsage,
  MacAlgorithm,
  ProtectionLevel,
  SigningAlgorithm,
} from '../domain/key-spec.js';
import type { KeyVersion } from '../domain/key.js';
import type { KeyStoreStatus, StatusOptions } from './key-store-status.js';

export type MessageType = 'RAW' | 'DIGEST';
export type RsaEncryptionAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';

export interface VersionRef {
  keyId: string;
  keySpec: KeySpec;
  version: KeyVersion;
}

export interface NewVersionMaterial {
  /** Opaque blob stored in metadata (wrapped material or an object reference). */
  material: Buffer;
  publicKeySpki: Buffer | null;
}

/** An import's wrapping key held by the backend (its private half never leaves it). */
export interface ImportWrappingKey {
  /** Opaque blob kept with the import token: names the key pair in the backend. */
  reference: Buffer;
  publicKeySpki: Buffer;
}

export interface ImportedVersionMaterial extends NewVersionMaterial {
  /**
   * A fixed function of the imported material computed by the backend (a key check value): it
   * identifies the material, and stands in for it in the key's material id, without revealing it.
   */
  checkValue: Buffer;
}

/**
 * Import where the backend unwraps the caller's wrapped material inside itself (an HSM), so it is
 * never in clear in this process. Backends without it get the material unwrapped by the service
 * and passed to importVersionMaterial.
 */
export interface WrappedImport {
  /** The wrapping algorithms (AWS names) the backend can unwrap with, preferred first. */
  readonly algorithms: readonly string[];
  /** Key specs it can import (symmetric ones: asymmetric material cannot be checked unseen). */
  readonly keySpecs: readonly KeySpec[];
  /** A new wrapping key for the key's import `id`; the key's earlier ones may be destroyed. */
  createWrappingKey(
    keyId: string,
    id: string,
    modulusBits: number,
    expiresAt: Date,
  ): Promise<ImportWrappingKey>;
  /** Unwraps `encrypted` with the wrapping key into the version's material; consumes the key. */
  importWrapped(input: {
    keyId: string;
    version: number;
    spec: KeySpec;
    reference: Buffer;
    encrypted: Buffer;
  }): Promise<ImportedVersionMaterial>;
  /** Destroys a wrapping key no longer needed (best effort: expired ones are swept anyway). */
  discardWrappingKey(reference: Buffer): Promise<void>;
}

/**
 * Symmetric encryption in the backend's own sealed form, for a backend whose keys do not run
 * AES-GCM with an IV the service chooses (an external KMS wraps a fresh data key per message). The
 * ciphertext carries `algorithm` in its header and the sealed bytes after it (domain/ciphertext.ts);
 * `aad` is the header and encoded context, as for AES-GCM, and `nonce` the header's 12 random bytes.
 */
export interface OwnSealing {
  /** The ciphertext header's algorithm byte for this form (domain/ciphertext.ts). */
  readonly algorithm: number;
  seal(ref: VersionRef, nonce: Buffer, plaintext: Buffer, aad: Buffer): Promise<Buffer>;
  /** Throws KmsError InvalidCiphertext when `sealed` does not open under `ref` and `aad`. */
  open(ref: VersionRef, nonce: Buffer, sealed: Buffer, aad: Buffer): Promise<Buffer>;
}

export interface KeyBackend {
  readonly protectionLevel: ProtectionLevel;
  readonly wrappedImport?: WrappedImport;
  /** Present on backends that seal messages in their own form; the others implement encrypt/decrypt. */
  readonly sealing?: OwnSealing;
  /**
   * `usage` lets a backend restrict the material to that one function (an HSM RSA key then signs or
   * decrypts, not both); backends that enforce usage only in the service may ignore it.
   */
  createVersionMaterial(
    keyId: string,
    version: number,
    spec: KeySpec,
    usage?: KeyUsage,
  ): Promise<NewVersionMaterial>;
  /** Takes plaintext material (raw symmetric bytes or PKCS#8 DER), already validated for the spec. */
  importVersionMaterial(
    keyId: string,
    version: number,
    spec: KeySpec,
    material: Buffer,
    publicKeySpki: Buffer | null,
  ): Promise<NewVersionMaterial>;
  /** AES-256-GCM under the version with the service's IV (ciphertext algorithm 1); absent with `sealing`. */
  encrypt?(
    ref: VersionRef,
    iv: Buffer,
    plaintext: Buffer,
    aad: Buffer,
  ): Promise<{ ciphertext: Buffer; tag: Buffer }>;
  decrypt?(ref: VersionRef, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<Buffer>;
  sign(
    ref: VersionRef,
    algorithm: SigningAlgorithm,
    message: Buffer,
    messageType: MessageType,
  ): Promise<Buffer>;
  mac(ref: VersionRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer>;
  rsaDecrypt(ref: VersionRef, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Promise<Buffer>;
  wrapKey(ref: VersionRef, keyMaterial: Buffer): Promise<Buffer>;
  unwrapKey(ref: VersionRef, wrappedKey: Buffer): Promise<Buffer>;
  deriveKey(ref: VersionRef, salt: Buffer, info: Buffer, length: number): Promise<Buffer>;
  /**
   * Drops any plaintext material of the key this process holds (a cache), zeroized: the key was
   * disabled or scheduled for deletion. The stored material is untouched.
   */
  evictKey(keyId: string): void;
  /**
   * The version's plaintext material (raw symmetric bytes, or PKCS#8 DER) for export or backup;
   * the caller zeroizes it. Absent where the material cannot leave the backend (HSM objects that
   * are not extractable): export and backup answer UnsupportedOperation.
   */
  exportVersionMaterial?(ref: VersionRef): Promise<Buffer>;
  /** Destroys the material irrevocably (after the deletion window). */
  destroyVersionMaterial(ref: VersionRef): Promise<void>;
  status(options?: StatusOptions): Promise<KeyStoreStatus[]>;
  close(): Promise<void>;
}
