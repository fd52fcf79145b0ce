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
  'PayloadTooLarge',
  'LimitExceeded',
  'Unavailable',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class KmsError extends Error {
  readonly code: ErrorCode;
  /** For LimitExceeded: when trying again may succeed (REST sends it as Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.name = 'KmsError';
    this.code = code;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const validationError = (message: string) => new KmsError('ValidationError', message);
export const notFound = (message: string) => new KmsError('NotFound', message);
export const conflict = (message: string) => new KmsError('Conflict', message);
export const invalidCiphertext = (
  message = 'ciphertext is invalid, was tampered with, or the context differs',
) => new KmsError('InvalidCiphertext', message);
export const keyUsageMismatch = (message: string) => new KmsError('KeyUsageMismatch', message);
export const keyQuotaReached = (maxKeys: number) =>
  new KmsError('LimitExceeded', `the key quota (${maxKeys} keys) is reached; delete keys or raise the quota`);
