// The small interface every KMS provider adapter implements (AWS KMS, Azure Key Vault, Google Cloud
// KMS, Keyhaven). Key references are the provider's own names for a key; the service maps logical ids to them.

export type Bytes = Uint8Array;

/** What a provider reports of a key, in one vocabulary whatever the provider. */
export interface ProviderKeyInfo {
  /** The provider's reference to the key (an AWS key id or ARN, a Key Vault key id URL, a Cloud KMS resource name, a Keyhaven key id). */
  keyRef: string;
  keySpec: string;
  keyUsage: string;
  enabled: boolean;
  /** The provider's own state name (`Enabled`, `Disabled`, `PendingDeletion`, ...). */
  state: string;
  createdAt?: Date;
  description?: string;
}

export interface GenerateKeyOptions {
  /** AWS KMS vocabulary (SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, ...); SYMMETRIC_DEFAULT if absent. */
  keySpec?: string;
  /** ENCRYPT_DECRYPT (the default) or SIGN_VERIFY. */
  keyUsage?: string;
  description?: string;
}

/** Every call receives an AbortSignal that fires at the per-call timeout; adapters pass it on when their SDK can. */
export interface CallContext {
  signal: AbortSignal;
}

export interface KmsProvider {
  /** The kind of provider ('aws-kms', 'keyhaven'), for health reports; the configured name is the caller's. */
  readonly kind: string;
  encrypt(keyRef: string, plaintext: Bytes, context: CallContext): Promise<{ ciphertext: Buffer }>;
  decrypt(keyRef: string, ciphertext: Bytes, context: CallContext): Promise<{ plaintext: Buffer }>;
  /** A 256-bit data key, in plaintext and wrapped under `keyRef`. Zeroize the plaintext after use. */
  generateDataKey(keyRef: string, context: CallContext): Promise<{ plaintext: Buffer; ciphertext: Buffer }>;
  sign(
    keyRef: string,
    message: Bytes,
    algorithm: string,
    context: CallContext,
  ): Promise<{ signature: Buffer }>;
  /** An invalid signature is `{valid: false}`, not an error. */
  verify(
    keyRef: string,
    message: Bytes,
    signature: Bytes,
    algorithm: string,
    context: CallContext,
  ): Promise<{ valid: boolean }>;
  keyInfo(keyRef: string, context: CallContext): Promise<ProviderKeyInfo>;
  generateKey(options: GenerateKeyOptions, context: CallContext): Promise<ProviderKeyInfo>;
  /** Resolves when the provider answers; throws a ProviderError when it does not. */
  health(context: CallContext): Promise<void>;
  /** Releases the SDK client's connections (optional: adapters whose client holds none omit it). */
  close?(): Promise<void> | void;
}
