// The API's action names (API.md; the names /metrics reports and policies match), grouped by what
// they do to keys, which is what the built-in roles grant.

/** Change a key or its aliases; no cryptographic use. */
export const LIFECYCLE_ACTIONS = [
  'CreateKey',
  'UpdateKey',
  'EnableKey',
  'DisableKey',
  'RotateKey',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'PutAlias',
  'DeleteAlias',
  'GetImportParameters',
  'ImportKeyMaterial',
] as const;

/** Use a key's material, or the server's randomness. */
export const CRYPTO_ACTIONS = [
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'EncryptBatch',
  'DecryptBatch',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'AsymmetricEncrypt',
  'AsymmetricDecrypt',
  'WrapKey',
  'UnwrapKey',
  'DeriveKey',
  'GenerateRandom',
] as const;

/** Read metadata: what a key is, never its material. */
export const READ_ACTIONS = [
  'DescribeKey',
  'ListKeys',
  'ListKeyVersions',
  'GetPublicKey',
  'GetKeyUsage',
  'ListAliases',
] as const;

/** Read the audit log (its endpoints come with the audit log). */
export const AUDIT_ACTIONS = ['ListLogs', 'VerifyLogs', 'ExportLogs'] as const;

export type KeyAction =
  (typeof LIFECYCLE_ACTIONS)[number] | (typeof CRYPTO_ACTIONS)[number] | (typeof READ_ACTIONS)[number];
