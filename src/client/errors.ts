// KeyhavenError: every failure the SDK reports, with the server's stable error code (API.md "Errors").
import type { ErrorCode } from '../domain/errors.js';

/** A code from API.md, or one a newer server introduced (kept verbatim rather than guessed at). */
export type KeyhavenErrorCode = ErrorCode | (string & Record<never, never>);

export class KeyhavenError extends Error {
  readonly code: KeyhavenErrorCode;
  /** HTTP status; undefined when no response arrived (network failure, timeout). */
  readonly status: number | undefined;
  readonly requestId: string | undefined;

  constructor(
    code: KeyhavenErrorCode,
    message: string,
    options: { status?: number; requestId?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeyhavenError';
    this.code = code;
    this.status = options.status;
    this.requestId = options.requestId;
  }
}

// Used when an error body is not the API's JSON (a proxy's HTML page, an empty 502).
const codeForStatus: Record<number, ErrorCode> = {
  400: 'ValidationError',
  401: 'Unauthenticated',
  403: 'AccessDenied',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  429: 'LimitExceeded',
  502: 'Unavailable',
  503: 'Unavailable',
  504: 'Unavailable',
};

export function fallbackCodeForStatus(status: number): ErrorCode {
  return codeForStatus[status] ?? (status >= 500 ? 'Internal' : 'ValidationError');
}
