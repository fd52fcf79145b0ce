// Retries with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And
// Jitter"), for retryable provider errors only: InvalidCiphertext or AccessDenied never change on retry.
import { ProviderError } from './errors.js';

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** In [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told before each retry (for the audit trail and metrics). */
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
}

export const isRetryable = (error: unknown): boolean => error instanceof ProviderError && error.retryable;

/** The delay before retry `attempt` (1-based): uniform in [0, min(max, base * 2^(attempt-1))). */
export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
) {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withRetries<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= options.retries || !isRetryable(error)) throw error;
      const delay = backoffDelay(attempt + 1, options);
      options.onRetry?.(attempt + 1, error, delay);
      await sleep(delay);
    }
  }
}
