// The one table from error code to HTTP status (API.md "Errors").
import type { ErrorCode } from '../../domain/errors.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  ValidationError: 400,
  InvalidCiphertext: 400,
  IncorrectKey: 400,
  KeyUsageMismatch: 400,
  Unauthenticated: 401,
  AccessDenied: 403,
  NotFound: 404,
  Conflict: 409,
  KeyDisabled: 409,
  KeyPendingDeletion: 409,
  KeyExpired: 409,
  ClientTokenMismatch: 409,
  PayloadTooLarge: 413,
  LimitExceeded: 429,
  Unavailable: 503,
  Internal: 500,
};
