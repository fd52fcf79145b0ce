// The retry policy as plain functions: exponential ceilings with full jitter, retries for
// retryable provider errors only, never for InvalidCiphertext, AccessDenied or other client errors.
import { describe, expect, it } from 'vitest';
import { CircuitOpenError, ProviderError, type ProviderErrorCode } from '../../src/integration/errors.js';
import { backoffDelay, withRetries } from '../../src/integration/retry-policy.js';

function recorder() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

const failing = (codes: ProviderErrorCode[], value = 'done') => {
  let calls = 0;
  const work = async () => {
    const code = codes[calls++];
    if (code) throw new ProviderError(code, `attempt ${calls} failed`);
    return value;
  };
  return { work, calls: () => calls };
};

describe('backoffDelay', () => {
  it('doubles its ceiling per attempt up to the maximum, and jitters below it', () => {
    const top = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, { ...top, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...top, random: () => 0.5 })).toBe(200);
  });
});

describe('withRetries', () => {
  it('retries Unavailable, Timeout and Throttled until success, sleeping the backoff between', async () => {
    const { sleeps, sleep } = recorder();
    const { work, calls } = failing(['Unavailable', 'Timeout', 'Throttled']);
    const result = await withRetries(work, {
      retries: 3,
      baseDelayMs: 10,
      maxDelayMs: 1000,
      random: () => 0.5,
      sleep,
    });
    expect(result).toBe('done');
    expect(calls()).toBe(4);
    expect(sleeps).toEqual([5, 10, 20]);
  });

  it('gives up after `retries` retries with the last error', async () => {
    const { sleeps, sleep } = recorder();
    const { work, calls } = failing(['Unavailable', 'Unavailable', 'Unavailable', 'Unavailable']);
    const error = await withRetries(work, { retries: 2, baseDelayMs: 1, maxDelayMs: 1, sleep }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).message).toBe('attempt 3 failed');
    expect(calls()).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  it.each(['InvalidCiphertext', 'AccessDenied', 'NotFound', 'InvalidRequest', 'KeyUnavailable'] as const)(
    'never retries %s',
    async (code) => {
      const { sleeps, sleep } = recorder();
      const { work, calls } = failing([code]);
      const error = await withRetries(work, { retries: 5, baseDelayMs: 1, maxDelayMs: 1, sleep }).catch(
        (e: unknown) => e,
      );
      expect((error as ProviderError).code).toBe(code);
      expect(calls()).toBe(1);
      expect(sleeps).toEqual([]);
    },
  );

  it('does not retry an open circuit or an error it does not know', async () => {
    for (const thrown of [new CircuitOpenError('aws', 'open'), new TypeError('bug')]) {
      let calls = 0;
      const error = await withRetries(
        async () => {
          calls++;
          throw thrown;
        },
        { retries: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} },
      ).catch((e: unknown) => e);
      expect(error).toBe(thrown);
      expect(calls).toBe(1);
    }
  });

  it('tells onRetry each retry with its attempt number and delay', async () => {
    const seen: Array<[number, string, number]> = [];
    const { work } = failing(['Unavailable', 'Throttled']);
    await withRetries(work, {
      retries: 2,
      baseDelayMs: 8,
      maxDelayMs: 100,
      random: () => 0.5,
      sleep: async () => {},
      onRetry: (attempt, error, delay) => seen.push([attempt, (error as ProviderError).code, delay]),
    });
    expect(seen).toEqual([
      [1, 'Unavailable', 4],
      [2, 'Throttled', 8],
    ]);
  });
});
