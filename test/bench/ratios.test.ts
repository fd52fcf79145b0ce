import { describe, expect, it } from 'vitest';
import { ratioDefinitions, summarizeRatio } from '../../bench/ratios.js';
import { VARIANTS } from '../../bench/variants.js';

const floorRatio = (encrypt: (number | null)[], floor: (number | null)[], concurrency = 16) =>
  summarizeRatio(ratioDefinitions(['encrypt', 'aead-floor'], [])[0]!, concurrency, encrypt, floor);

describe('bench ratios', () => {
  it('divides each round by the same round, then takes the median', () => {
    // Round 2 is slow for both servers: its ratio is as good as the others.
    const result = floorRatio([900, 450, 880], [1000, 500, 1000]);
    expect(result.name).toBe('encrypt ÷ aead-floor');
    expect(result.perRound).toEqual([0.9, 0.9, 0.88]);
    expect(result.summary.median).toBe(0.9);
  });

  it('skips rounds whose denominator is missing or zero', () => {
    expect(floorRatio([1, 2, 3], [2, 0, null]).summary.n).toBe(1);
  });

  it('defines a ratio only when both of its rows run', () => {
    expect(ratioDefinitions(['encrypt', 'baseline'], []).map((r) => r.name)).toEqual(['encrypt ÷ baseline']);
    const names = ratioDefinitions(['encrypt', 'encrypt@no-cache', 'sign'], VARIANTS).map((r) => r.name);
    expect(names).toEqual(['encrypt@no-cache ÷ encrypt']);
  });
});
