// The Keyhaven SDK: `new KeyhavenClient({ endpoint, token })`, its types, and its error class.
export { KeyhavenClient, isBatchError, type KeyhavenClientOptions } from './keyhaven-client.js';
export { KeyhavenError, type KeyhavenErrorCode } from './errors.js';
export {
  encryptKeyMaterialForImport,
  normalizeKeyMaterial,
  wrappingAlgorithmFor,
} from './import-material.js';
export type { ClientTlsOptions, Pem } from './agent-fetch.js';
export type * from './types.js';
export type * from './identity-types.js';
export type * from './audit-types.js';
