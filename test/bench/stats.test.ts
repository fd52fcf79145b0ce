import { describe, expect, it } from 'vitest';
import { median, quantile, summarize } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('interpolates quartiles between the nearest values', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.75)).toBe(3.25);
    expect(quantile([7], 0.25)).toBe(7);
  });

  it('gives the spreads as a percentage of the median', () => {
    const summary = summarize([90, 100, 100, 110, 200]);
    expect(summary).toMatchObject({ n: 5, median: 100, min: 90, max: 200, q1: 100, q3: 110 });
    expect(summary.iqrPercent).toBeCloseTo(10);
    expect(summary.rangePercent).toBeCloseTo(110);
  });

  it('ignores rounds without a value and reports NaN when none has one', () => {
    expect(summarize([Number.NaN, 4, Number.POSITIVE_INFINITY, 6]).median).toBe(5);
    const empty = summarize([Number.NaN]);
    expect(empty.n).toBe(0);
    expect(empty.median).toBeNaN();
    expect(empty.rangePercent).toBeNaN();
  });
});
