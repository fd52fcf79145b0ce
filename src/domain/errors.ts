// The failure kinds every surface shares. Services throw KmsError; each transport maps `code` to its
// wire form in one table (REST: transports/rest/error-status.ts). Messages never carry secrets.

export const ERROR_CODES = [
  'ValidationError',
  'InvalidCiphertext',
  'IncorrectKey',
  'KeyUsageMismatch',
  'Unauthenticated',
  'AccessDenied',
  'NotFound',
  'Conflict',
  'KeyDisabled',
  'KeyPendingDeletion',
  'KeyExpired',
  /** A CreateKey client token already used with other parameters (docs/cluster.md). */
  'ClientTokenMismatch',
  'PayloadTooLarge',
  'LimitExceeded',
  'Unavailable',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * What kind of Conflict: REST answers all of them as 409 Conflict (API.md), the AWS dialect gives
 * each its own exception (KMSInvalidStateException, AlreadyExistsException, ...).
 */
export type ConflictKind =
  /** The object's state does not allow the operation (a disabled key rotated, say). */
  | 'InvalidState'
  /** A name that must be unique is taken. */
  | 'AlreadyExists'
  /** Another request changed the object meanwhile: retrying may succeed. */
  | 'ConcurrentModification'
  /** The operation does not apply to this kind of object (an import into a generated key). */
  | 'UnsupportedOperation';

/**
 * What kind of ValidationError, where a client tells them apart: REST answers all of them as 400
 * ValidationError, the AWS dialect as InvalidMarkerException, MalformedPolicyDocumentException...
 */
export type ValidationKind =
  /** A page cursor (AWS's Marker) that this server did not issue. */
  | 'InvalidMarker'
  /** A policy document that cannot be read or cannot be honoured as written. */
  | 'MalformedPolicyDocument'
  /** A grant token this server did not issue (domain/grant.ts). */
  | 'InvalidGrantToken'
  /** A grant id that names no grant of the key, or is not a grant id. */
  | 'InvalidGrantId'
  /** An import token this server did not issue for this key, or already spent. */
  | 'InvalidImportToken'
  /** An import token past its validity: new import parameters are needed. */
  | 'ExpiredImportToken'
  /** Imported material that is not what the key expects (a re-import of other material). */
  | 'IncorrectKeyMaterial';

export class KmsError extends Error {
  readonly code: ErrorCode;
  /** For LimitExceeded: when trying again may succeed (REST sends it as Retry-After). */
  readonly retryAfterSeconds?: number;
  /** For Conflict: which kind (every Conflict has one). */
  readonly conflict?: ConflictKind;
  /** For ValidationError: which kind, when a client must tell it apart. */
  readonly validation?: ValidationKind;

  constructor(
    code: ErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      retryAfterSeconds?: number;
      conflict?: ConflictKind;
      validation?: ValidationKind;
    },
  ) {
    super(message, options);
    this.name = 'KmsError';
    this.code = code;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options?.conflict !== undefined) this.conflict = options.conflict;
    if (options?.validation !== undefined) this.validation = options.validation;
  }
}

export const validationError = (message: string) => new KmsError('ValidationError', message);
export const invalidMarker = (message = 'cursor is not valid') =>
  new KmsError('ValidationError', message, { validation: 'InvalidMarker' });
export const malformedPolicyDocument = (message: string) =>
  new KmsError('ValidationError', message, { validation: 'MalformedPolicyDocument' });
export const invalidImportToken = (message: string) =>
  new KmsError('ValidationError', message, { validation: 'InvalidImportToken' });
export const expiredImportToken = (message: string) =>
  new KmsError('ValidationError', message, { validation: 'ExpiredImportToken' });
export const incorrectKeyMaterial = (message: string) =>
  new KmsError('ValidationError', message, { validation: 'IncorrectKeyMaterial' });
export const notFound = (message: string) => new KmsError('NotFound', message);
export const invalidState = (message: string) =>
  new KmsError('Conflict', message, { conflict: 'InvalidState' });
export const alreadyExists = (message: string) =>
  new KmsError('Conflict', message, { conflict: 'AlreadyExists' });
export const concurrentModification = (message: string) =>
  new KmsError('Conflict', message, { conflict: 'ConcurrentModification' });
export const unsupportedOperation = (message: string) =>
  new KmsError('Conflict', message, { conflict: 'UnsupportedOperation' });
export const invalidCiphertext = (
  message = 'ciphertext is invalid, was tampered with, or the context differs',
) => new KmsError('InvalidCiphertext', message);
export const keyUsageMismatch = (message: string) => new KmsError('KeyUsageMismatch', message);
export const keyQuotaReached = (maxKeys: number) =>
  new KmsError('LimitExceeded', `the key quota (${maxKeys} keys) is reached; delete keys or raise the quota`);
