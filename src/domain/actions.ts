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
  'DeleteImportedKeyMaterial',
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

/** Read the audit log, and the server's metrics (which count every tenant's requests). */
export const AUDIT_ACTIONS = ['ListLogs', 'VerifyLogs', 'ExportLogs', 'Metrics'] as const;

/** Read tenants, principals, credentials' metadata and policies (never a secret). */
export const IDENTITY_READ_ACTIONS = [
  'ListTenants',
  'DescribeTenant',
  'ListPrincipals',
  'DescribePrincipal',
  'ListApiKeys',
  'ListAccessKeys',
  'ListPolicies',
  'GetPolicy',
  'ListPolicyVersions',
  'GetKeyPolicy',
  'SimulatePolicy',
] as const;

/** Change who may do what: tenants, principals, credentials, policies. Admins only, by default. */
export const IDENTITY_ACTIONS = [
  'CreateTenant',
  'UpdateTenant',
  'CreatePrincipal',
  'UpdatePrincipal',
  'DeletePrincipal',
  'PutPrincipalPolicies',
  'CreateApiKey',
  'RevokeApiKey',
  'CreateAccessKey',
  'DeleteAccessKey',
  'CreatePolicy',
  'UpdatePolicy',
  'DeletePolicy',
  'RollbackPolicy',
  'PutKeyPolicy',
] as const;

/**
 * Grants on keys (domain/grant.ts). AWS dialect only for now: no REST route names them, so the
 * REST role matrix (test/integration/roles.test.ts) does not list them; test/domain/grant.test.ts
 * checks what each built-in role may do with them.
 */
export const GRANT_ACTIONS = [
  'CreateGrant',
  'ListGrants',
  'RetireGrant',
  'RevokeGrant',
  'ListRetirableGrants',
] as const;

/**
 * Take key material out of the server: wrapped to a caller's RSA key (ExportKey, exportable keys
 * only), or sealed in a backup bundle with every version (BackupKey), and recreate keys from one
 * (RestoreKey). Administrative: no other built-in role grants them, since each hands out, or
 * brings in, material that a key's own policy never saw leave.
 */
export const KEY_EXPORT_ACTIONS = ['ExportKey', 'BackupKey', 'RestoreKey'] as const;

/** Every principal may do these for itself (services/access-control.ts SELF_SERVICE_ACTIONS). */
export const SELF_ACTIONS = ['VerifyAccess', 'CreateAccessToken'] as const;

export type KeyAction =
  | (typeof LIFECYCLE_ACTIONS)[number]
  | (typeof CRYPTO_ACTIONS)[number]
  | (typeof READ_ACTIONS)[number]
  | (typeof KEY_EXPORT_ACTIONS)[number];
