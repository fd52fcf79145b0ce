// The integration layer's errors: one class per failure kind, each with a stable `code`. Adapters
// translate their SDK's errors into ProviderError; messages never carry plaintext or key material.

/**
 * What went wrong at a provider. Retryable kinds are the provider's trouble (it may answer next
 * time); the others are answers about the request, the same on every attempt.
 */
export const PROVIDER_ERROR_CODES = {
  InvalidCiphertext: { retryable: false },
  AccessDenied: { retryable: false },
  NotFound: { retryable: false },
  InvalidRequest: { retryable: false },
  KeyUnavailable: { retryable: false },
  Throttled: { retryable: true },
  Unavailable: { retryable: true },
  Timeout: { retryable: true },
} as const;
export type ProviderErrorCode = keyof typeof PROVIDER_ERROR_CODES;

export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  readonly retryable: boolean;

  constructor(code: ProviderErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.code = code;
    this.retryable = PROVIDER_ERROR_CODES[code].retryable;
  }

  /** Whether the failure says the provider is unwell (counts against its circuit breaker). */
  get isProviderFault(): boolean {
    return this.retryable;
  }
}

export class ProviderTimeoutError extends ProviderError {
  constructor(operation: string, timeoutMs: number) {
    super('Timeout', `${operation} did not answer within ${timeoutMs} ms`);
    this.name = 'ProviderTimeoutError';
  }
}

/** The provider was not called: its circuit is open (or half-open with its one probe in flight). */
export class CircuitOpenError extends Error {
  readonly code = 'CircuitOpen';

  constructor(provider: string, state: string) {
    super(`provider ${provider}: circuit ${state}, call not attempted`);
    this.name = 'CircuitOpenError';
  }
}

/** A configuration mistake found at construction (unknown provider in fallbackOrder, bad option). */
export class IntegrationConfigError extends Error {
  readonly code = 'InvalidConfiguration';

  constructor(message: string) {
    super(message);
    this.name = 'IntegrationConfigError';
  }
}

/** The envelope is malformed, or no provider named in it is configured. */
export class InvalidEnvelopeError extends Error {
  readonly code = 'InvalidEnvelope';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InvalidEnvelopeError';
  }
}

export interface ProviderFailure {
  provider: string;
  error: Error;
}

/** Every provider tried failed: `failures` lists each one's cause, in the order they were tried. */
export class AllProvidersFailedError extends Error {
  readonly code = 'AllProvidersFailed';
  readonly failures: readonly ProviderFailure[];

  constructor(operation: string, failures: ProviderFailure[]) {
    const causes = failures.map((f) => `${f.provider}: ${codeOf(f.error)} (${f.error.message})`).join('; ');
    super(`${operation} failed on every provider: ${causes || 'no provider configured'}`, {
      cause: failures[0]?.error,
    });
    this.name = 'AllProvidersFailedError';
    this.failures = failures;
  }
}

export function codeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}

/**
 * What an SDK error says, without the request it carries: the Azure RestError and the GaxiosError
 * keep the sent request (its body holds the plaintext or key being wrapped), so an adapter whose SDK
 * does that keeps this summary as the cause instead: name, code, HTTP status and the service's message.
 */
export function requestFreeCause(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const e = error as Error & { code?: unknown; status?: unknown; statusCode?: unknown };
  const summary = new Error(e.message) as Error & { code?: unknown; status?: unknown };
  summary.name = e.name;
  if (e.code !== undefined) summary.code = e.code;
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.status;
  if (typeof status === 'number') summary.status = status;
  return summary;
}
