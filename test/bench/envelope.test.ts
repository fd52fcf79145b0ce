// The in-process closed loop of the envelope rows: every caller runs until the deadline, request
// indices wrap at the pool size starting where asked, and a throwing call is an error, not a sample.
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../../bench/envelope.js';

describe('runInProcess (the envelope rows’ load loop)', () => {
  it('walks the pool from firstRequest, counts failures as errors and keeps their first message', async () => {
    const seen: number[] = [];
    const result = await runInProcess(
      {
        poolSize: 4,
        call: async (index) => {
          seen.push(index);
          await new Promise((resolve) => setImmediate(resolve));
          if (index === 2) throw new Error('index 2 refused');
        },
      },
      { concurrency: 3, durationMs: 50, firstRequest: 1 },
    );
    expect(seen.slice(0, 4)).toEqual([1, 2, 3, 0]);
    expect(seen.every((i) => i >= 0 && i < 4)).toBe(true);
    expect(result.sent).toBe(seen.length);
    expect(result.errors).toBe(seen.filter((i) => i === 2).length);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.firstError).toBe('Error: index 2 refused');
    expect(result.completed).toBeLessThanOrEqual(result.sent - result.errors);
    expect(result.completed).toBe(result.latenciesMs.length);
    expect([...result.latenciesMs]).toEqual([...result.latenciesMs].sort((a, b) => a - b));
  });
});
