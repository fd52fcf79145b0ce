// The seam between secret files and a KMS. The runtime store needs only a SecretDecryptor, so a
// decryptor of another kind (a recipient-bound one that receives CMS EnvelopedData, say) plugs in
// without changing the store; the CLI needs the whole SecretKms.

export type EncryptionContext = Record<string, string>;

export interface DecryptRequest {
  /** The variable the value belongs to: for error messages, and for decryptors that want it. */
  name: string;
  ciphertext: Uint8Array;
  context?: EncryptionContext;
}

export interface SecretDecryptor {
  /**
   * The plaintext in a fresh Buffer that the caller owns and zeroizes. Implementations never turn
   * the plaintext into a JS string, and throw SecretsError (InvalidCiphertext, KeyDisabled, ...).
   */
  decrypt(request: DecryptRequest): Promise<Buffer>;
}

export interface SecretKms extends SecretDecryptor {
  encrypt(request: {
    keyId: string;
    plaintext: Uint8Array;
    context?: EncryptionContext;
  }): Promise<Uint8Array>;
  /** Decrypts and encrypts again under `destinationKeyId` (its current version), inside the KMS. */
  reencrypt(request: {
    ciphertext: Uint8Array;
    context?: EncryptionContext;
    destinationKeyId: string;
    destinationContext?: EncryptionContext;
  }): Promise<Uint8Array>;
}
