// The SDK's public types: what KeyhavenClient methods take and return (API.md, binary fields as bytes).
// Vocabulary types come from the domain so the SDK and the server cannot drift apart.
import type {
  DataKeyPairSpec,
  DataKeySpec,
  EncryptionAlgorithm,
  KeySpec,
  KeyUsage,
  MacAlgorithm,
  ProtectionLevel,
  SigningAlgorithm,
} from '../domain/key-spec.js';
import type { KeyState } from '../domain/key-state.js';
import type { PolicyDocument } from '../domain/policy.js';

export type {
  DataKeyPairSpec,
  DataKeySpec,
  EncryptionAlgorithm,
  KeySpec,
  KeyState,
  KeyUsage,
  MacAlgorithm,
  ProtectionLevel,
  SigningAlgorithm,
};

/** Binary input accepted by the SDK; results are always `Buffer`. */
export type Bytes = Uint8Array;

export type KeyOrigin = 'KEYHAVEN' | 'EXTERNAL';
export type EncryptionContext = Record<string, string>;
export type MessageType = 'RAW' | 'DIGEST';
export type KeyMaterialType = 'PRIVATE_KEY' | 'SYMMETRIC' | 'PUBLIC_KEY';
export type ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_256';

/** A key as the server describes it; dates are ISO-8601 strings, as on the wire. */
export interface KeyMetadata {
  keyId: string;
  alias?: string;
  aliases: string[];
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  state: KeyState;
  protectionLevel: ProtectionLevel;
  origin: KeyOrigin;
  currentVersion: number;
  createdAt: string;
  description: string;
  tags: Record<string, string>;
  rotationPeriodDays?: number | null;
  nextRotationAt?: string | null;
  expiresAt?: string | null;
  deletionDate?: string | null;
  tenant?: string | null;
  /** Extensions this server sends beyond API.md's list. */
  arn?: string;
  exportable?: boolean;
  /** Only a public key was imported: the key verifies and encrypts, never signs or decrypts. */
  publicKeyOnly?: boolean;
}

export interface CreateKeyInput {
  keySpec?: KeySpec;
  keyUsage?: KeyUsage;
  alias?: string;
  description?: string;
  tags?: Record<string, string>;
  protectionLevel?: ProtectionLevel;
  origin?: KeyOrigin;
  rotationPeriodDays?: number;
  expiresAt?: string;
  exportable?: boolean;
  /** The key's own policy, written with the key (as putKeyPolicy would). */
  policy?: PolicyDocument;
  /**
   * 1-64 printable ASCII characters: the same token and parameters within 24 h answer the key made
   * first instead of a new one. createKey makes one per call when absent (its retries are safe).
   */
  clientToken?: string;
}

export interface UpdateKeyInput {
  description?: string;
  tags?: Record<string, string>;
  /** `null` turns automatic rotation off. */
  rotationPeriodDays?: number | null;
  expiresAt?: string | null;
}

export interface ListKeysInput {
  alias?: string;
  /** `{ team: 'payments' }` is sent as `tag=team:payments`. */
  tag?: Record<string, string> | string;
  state?: KeyState;
  limit?: number;
  cursor?: string;
}

export interface ListKeysResult {
  keys: KeyMetadata[];
  nextCursor: string | null;
}

export interface KeyVersionInfo {
  version: number;
  state: string;
  createdAt: string;
}

export interface PublicKeyResult {
  keyId: string;
  keySpec: KeySpec;
  /** PEM (SPKI). */
  publicKey: string;
  /** SPKI DER. */
  spki: Buffer;
}

/** Per-operation counters plus the last time the key was used. */
export type KeyUsageStats = { keyId?: string; lastUsedAt: string | null } & Record<
  string,
  number | string | null
>;

export interface ImportParameters {
  importToken: string;
  /** PEM: encrypt key material to this key with `wrappingAlgorithm` (RSA-OAEP-SHA-256). */
  wrappingPublicKey: string;
  wrappingAlgorithm: string;
  wrappingKeySpec?: string;
  expiresAt: string;
}

export type ExportWrappingAlgorithm =
  'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';

export interface ExportKeyInput {
  keyId: string;
  /** The RSA public key (2048 bits or more) to wrap the material to, as SPKI DER. */
  wrappingPublicKey: Bytes;
  /** RSA_AES_KEY_WRAP_SHA_256 by default; RSAES_OAEP_* only for material that fits one RSA block. */
  wrappingAlgorithm?: ExportWrappingAlgorithm;
  /** A version, or 'all'; the current version by default. */
  version?: number | 'all';
}

export interface ExportedKeyVersion {
  version: number;
  createdAt: string;
  keyMaterialType: 'SYMMETRIC' | 'PRIVATE_KEY';
  /** Raw key bytes or PKCS#8 DER, wrapped as BYOK import takes it. */
  encryptedKeyMaterial: Buffer;
  /** SPKI DER, for asymmetric keys. */
  publicKey?: Buffer;
}

export interface ExportKeyResult {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: string;
  wrappingAlgorithm: ExportWrappingAlgorithm;
  versions: ExportedKeyVersion[];
}

/** Exactly one of `passphrase` (12 characters at least) and `wrappingKeyId`. */
export type BackupKeysInput =
  | { keyIds: string[]; passphrase: string; wrappingKeyId?: never }
  | { keyIds: string[]; wrappingKeyId: string; passphrase?: never };

export interface BackupKeysResult {
  bundle: Buffer;
  keyIds: string[];
}

export interface RestoreKeysInput {
  bundle: Bytes;
  /** For a bundle sealed under a passphrase. */
  passphrase?: string;
}

export interface ImportKeyMaterialInput {
  keyId: string;
  importToken: string;
  /** Key material encrypted under the wrapping public key (see encryptKeyMaterialForImport). */
  encryptedKeyMaterial: Bytes;
  keyMaterialType?: KeyMaterialType;
  /** RSAES_OAEP_SHA_256 (default; material up to 318 bytes) or RSA_AES_KEY_WRAP_SHA_256 (any size). */
  wrappingAlgorithm?: ImportWrappingAlgorithm;
  expiresAt?: string;
}

export interface AliasEntry {
  /** Full name, `alias/<name>`. */
  alias: string;
  keyId: string;
  createdAt?: string;
}

export interface EncryptInput {
  keyId: string;
  plaintext: Bytes;
  context?: EncryptionContext;
}

export interface EncryptResult {
  keyId: string;
  keyVersion: number;
  ciphertext: Buffer;
}

export interface DecryptInput {
  ciphertext: Bytes;
  context?: EncryptionContext;
  /** When given, the server refuses ciphertext produced under another key. */
  keyId?: string;
}

export interface DecryptResult {
  keyId: string;
  keyVersion: number;
  plaintext: Buffer;
}

/**
 * Who the plaintext is sealed to (docs/api.md "Recipient-bound results"): an RSA key of 2048 to
 * 4096 bits as a DER SubjectPublicKeyInfo, or an AWS Nitro attestation document carrying one.
 */
export type Recipient =
  | { publicKey: Bytes; keyEncryptionAlgorithm?: 'RSAES_OAEP_SHA_256' }
  | { attestationDocument: Bytes; keyEncryptionAlgorithm?: 'RSAES_OAEP_SHA_256' };

export interface DecryptForRecipientInput extends DecryptInput {
  recipient: Recipient;
}

export interface DecryptForRecipientResult {
  keyId: string;
  keyVersion: number;
  /** DER CMS EnvelopedData (RFC 5652) that only the recipient's private key opens. */
  ciphertextForRecipient: Buffer;
}

export interface ReencryptInput {
  ciphertext: Bytes;
  context?: EncryptionContext;
  destinationKeyId: string;
  destinationContext?: EncryptionContext;
}

/** One failed item of a batch; the other items still succeed. */
export interface BatchItemError {
  error: { code: string; message: string };
}

export type BatchResult<T> = T | BatchItemError;

export interface GenerateDataKeyInput {
  keyId: string;
  keySpec?: DataKeySpec;
  context?: EncryptionContext;
  withoutPlaintext?: boolean;
}

export interface DataKeyResult {
  keyId: string;
  keyVersion: number;
  ciphertext: Buffer;
  /** Absent with `withoutPlaintext`. Zeroize (`fill(0)`) after use. */
  plaintext?: Buffer;
}

export interface GenerateDataKeyPairInput {
  keyId: string;
  keyPairSpec: DataKeyPairSpec;
  context?: EncryptionContext;
  withoutPlaintext?: boolean;
}

export interface DataKeyPairResult {
  keyId: string;
  keyVersion: number;
  keyPairSpec: DataKeyPairSpec;
  /** SPKI DER. */
  publicKey: Buffer;
  privateKeyCiphertext: Buffer;
  /** PKCS#8 DER; absent with `withoutPlaintext`. */
  privateKeyPlaintext?: Buffer;
}

export interface SignInput {
  keyId: string;
  message: Bytes;
  messageType?: MessageType;
  algorithm: SigningAlgorithm;
}

export interface SignResult {
  keyId: string;
  keyVersion: number;
  signature: Buffer;
  algorithm: SigningAlgorithm;
}

export interface VerifyInput extends SignInput {
  signature: Bytes;
}

export interface VerifyResult {
  keyId?: string;
  valid: boolean;
}

export interface ReencryptResult extends EncryptResult {
  /** Where the ciphertext came from. */
  sourceKeyId?: string;
  sourceKeyVersion?: number;
}

export interface GenerateMacInput {
  keyId: string;
  message: Bytes;
  algorithm: MacAlgorithm;
}

export interface MacResult {
  keyId: string;
  keyVersion?: number;
  mac: Buffer;
  algorithm: MacAlgorithm;
}

export interface VerifyMacInput extends GenerateMacInput {
  mac: Bytes;
}

export interface AsymmetricEncryptInput {
  keyId: string;
  plaintext: Bytes;
  algorithm: EncryptionAlgorithm;
}

export interface AsymmetricEncryptResult {
  keyId: string;
  keyVersion: number;
  ciphertext: Buffer;
  algorithm: EncryptionAlgorithm;
}

export interface AsymmetricDecryptInput {
  keyId: string;
  ciphertext: Bytes;
  algorithm: EncryptionAlgorithm;
}

export interface AsymmetricDecryptResult {
  keyId: string;
  keyVersion?: number;
  plaintext: Buffer;
  algorithm: EncryptionAlgorithm;
}

export interface WrapKeyInput {
  keyId: string;
  keyMaterial: Bytes;
}

export interface WrapKeyResult {
  keyId: string;
  keyVersion: number;
  wrappedKey: Buffer;
}

export interface UnwrapKeyInput {
  keyId: string;
  wrappedKey: Bytes;
}

export interface UnwrapKeyResult {
  keyId: string;
  keyVersion?: number;
  keyMaterial: Buffer;
}

export interface DeriveKeyInput {
  keyId: string;
  /** HKDF info. */
  context: string;
  salt?: Bytes;
  /** Output length in bytes. */
  length: number;
}

export interface DeriveKeyResult {
  keyId: string;
  keyVersion?: number;
  derivedKey: Buffer;
}

/** /health and /ready: `ok` reflects the HTTP status (a not-ready server answers 503), `body` its JSON. */
export interface ServiceStatus {
  ok: boolean;
  status: number;
  body: Record<string, unknown>;
}
