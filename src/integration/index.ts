// The KMS integration layer: `new KmsIntegrationService({ providers, fallbackOrder })` over provider
// adapters (AWS KMS, Azure Key Vault, Google Cloud KMS, Keyhaven), usable by applications on their own (docs/integration.md).
export {
  KmsIntegrationService,
  type CiphertextInput,
  type EnvelopeCacheOptions,
  type HealthReport,
  type KmsIntegrationOptions,
  type OperationEvent,
  type ProviderConfig,
  type ProviderHealth,
  type RegisteredProvider,
} from './kms-integration-service.js';
export { AwsKmsProvider, awsErrorToProviderError } from './aws-kms-provider.js';
export {
  AzureKeyVaultProvider,
  azureErrorToProviderError,
  type AzureKeyVaultProviderOptions,
} from './azure-key-vault-provider.js';
export {
  GoogleCloudKmsProvider,
  googleErrorToProviderError,
  type GoogleCloudKmsProviderOptions,
} from './google-cloud-kms-provider.js';
export { crc32c } from './crc32c.js';
export { KeyhavenProvider, keyhavenErrorToProviderError } from './keyhaven-provider.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
export { backoffDelay, isRetryable, withRetries, type RetryOptions } from './retry-policy.js';
export { DataKeyCache, type DataKeyCacheOptions } from './data-key-cache.js';
export { parseEnvelope, type Envelope, type WrappedDataKey } from './envelope.js';
export type { AuditEntry } from './audit-log.js';
export {
  AllProvidersFailedError,
  CircuitOpenError,
  IntegrationConfigError,
  InvalidEnvelopeError,
  PROVIDER_ERROR_CODES,
  ProviderError,
  ProviderTimeoutError,
  type ProviderErrorCode,
  type ProviderFailure,
} from './errors.js';
export type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';
