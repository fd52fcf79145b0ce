// One error class for the package, with a stable code and the name of the variable it concerns.
// Messages never carry a secret value: only names, codes and the KMS's own error code.

export type SecretsErrorCode =
  /** An `ENC[...]` token that is not well formed (not base64, empty). */
  | 'InvalidToken'
  /** The KMS refused the ciphertext: it was changed, moved to another name, or is under another key. */
  | 'InvalidCiphertext'
  /** The key is disabled or pending deletion. */
  | 'KeyDisabled'
  | 'AccessDenied'
  | 'NotFound'
  /** The KMS could not be reached or answered 5xx. */
  | 'Unavailable'
  /** A name the application requires is not in the source. */
  | 'MissingSecret'
  /** The file cannot be parsed in its format. */
  | 'ParseError'
  /** The store was destroyed, or its values expired without a successful refresh. */
  | 'StoreClosed'
  | 'Expired'
  /** Bad options (no key id, unknown format). */
  | 'UsageError'
  /** Anything else the KMS answered (its code is in `kmsCode`). */
  | 'KmsError';

export class SecretsError extends Error {
  constructor(
    readonly code: SecretsErrorCode,
    message: string,
    readonly details: { variable?: string; kmsCode?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SecretsError';
  }

  get variable(): string | undefined {
    return this.details.variable;
  }

  get kmsCode(): string | undefined {
    return this.details.kmsCode;
  }
}

/** The same failure, now naming the variable it happened on. */
export function forVariable(
  error: unknown,
  variable: string,
  action: 'decrypt' | 'encrypt' | 'rotate',
): SecretsError {
  if (error instanceof SecretsError) {
    // A KMS's answer is explained in our words; the package's own errors already say what is wrong.
    const reason = error.kmsCode === undefined ? error.message : (REASONS[error.code] ?? error.message);
    return new SecretsError(error.code, `cannot ${action} ${variable}: ${error.code}: ${reason}`, {
      ...error.details,
      variable,
      cause: error,
    });
  }
  return new SecretsError(
    'KmsError',
    `cannot ${action} ${variable}: ${(error as Error)?.message ?? String(error)}`,
    {
      variable,
      cause: error,
    },
  );
}

const REASONS: Partial<Record<SecretsErrorCode, string>> = {
  InvalidCiphertext:
    'the KMS refused the ciphertext (it was altered, copied from another variable name, or belongs to another key or context mode)',
  KeyDisabled: 'the key is disabled or pending deletion',
  AccessDenied: 'the credentials may not use this key',
  NotFound: 'the key does not exist (or is not visible to these credentials)',
  InvalidToken: 'the ENC[...] token is not well formed',
  Unavailable: 'the KMS is unavailable',
};
