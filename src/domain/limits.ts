// Request size limits of the cryptographic operations: AWS KMS's, mirrored so that the
// AWS-compatible endpoint and REST behave the same. The services enforce them; the transports'
// schemas derive their field bounds from them, so a too-large field is refused before it is decoded.
export const LIMITS = {
  plaintextBytes: 4096,
  ciphertextBytes: 6144,
  messageBytes: 4096,
  /** Verify's signature (AWS: 6144 bytes, as any ciphertext-typed blob). */
  signatureBytes: 6144,
  macMessageBytes: 4096,
  batchItems: 100,
  randomBytes: 1024,
  dataKeyBytes: 1024,
  derivedKeyBytes: 1024,
  wrapKeyBytes: 4096,
} as const;
