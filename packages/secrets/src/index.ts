// @keyhaven/secrets: ENC[...] values in .env, JSON and YAML files, encrypted under a Keyhaven key
// (or an AWS KMS-compatible one), and a runtime store that decrypts them only in memory.
export { SecretsError, type SecretsErrorCode } from './errors.js';
export { NAME_CONTEXT_KEY, isEncryptedValue, parseToken, formatToken, type ContextMode } from './token.js';
export { compilePattern, selects, type Selection } from './selection.js';
export {
  formatOfPath,
  parseSecretDocument,
  type SecretDocument,
  type SecretEntry,
  type SecretFormat,
} from './formats/index.js';
export {
  encryptText,
  decryptText,
  rotateText,
  DEFAULT_CONCURRENCY,
  type AcceptedContext,
  type EncryptTextOptions,
  type DecryptTextOptions,
  type RotateTextOptions,
  type OperationResult,
} from './file-operations.js';
export { findPlaintextSecrets, type SecretFinding } from './secret-check.js';
export type { SecretDecryptor, SecretKms, DecryptRequest, EncryptionContext } from './kms/secret-kms.js';
export { keyhavenKms, type KeyhavenKmsOptions } from './kms/keyhaven-rest.js';
export { awsKms, type AwsKmsOptions } from './kms/aws-kms.js';
export {
  createSecretStore,
  SEALED_MATERIAL,
  type SecretSource,
  type SecretStore,
  type SecretStoreOptions,
} from './secret-store.js';
