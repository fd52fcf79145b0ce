import { describe, expect, it } from 'vitest';
import { ratioDefinitions, summarizeRatio } from '../../bench/ratios.js';
import { SampleTable, buildRatios } from '../../bench/results.js';
import type { RoundSample } from '../../bench/measure.js';
import { VARIANTS, type Variant } from '../../bench/variants.js';

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

  it('reads a variant that switches a feature off as reference ÷ variant', () => {
    const off: Variant = {
      name: 'off',
      description: 'feature off',
      reference: 'keyhaven',
      operations: ['encrypt'],
      switchesOff: true,
    };
    const [definition] = ratioDefinitions(['encrypt', 'encrypt@off'], [off]);
    expect(definition).toMatchObject({ name: 'encrypt ÷ encrypt@off', numerator: 'encrypt' });
  });

  it('divides a variant by each variant of its over, operation by operation, round by round', () => {
    const variant = (name: string, extra: Partial<Variant> = {}): Variant => ({
      name,
      description: name,
      reference: 'keyhaven',
      operations: ['encrypt', 'decrypt'],
      ...extra,
    });
    const variants = [variant('b', { switchesOff: true }), variant('a', { over: ['b'] })];
    const rows = ['encrypt', 'encrypt@a', 'encrypt@b', 'decrypt', 'decrypt@a'];
    const definitions = ratioDefinitions(rows, variants);
    // decrypt@b does not run: no decrypt ratio involving it.
    expect(definitions.map((d) => d.name)).toEqual([
      'encrypt ÷ encrypt@b',
      'encrypt@a ÷ encrypt',
      'decrypt@a ÷ decrypt',
      'encrypt@a ÷ encrypt@b',
    ]);
    expect(definitions[3]!.kind).toBe('variants');

    const samples = new SampleTable();
    const rps = (requestsPerSecond: number) => ({ requestsPerSecond }) as RoundSample;
    for (const [a, b] of [
      [800, 1000],
      [300, 500],
      [900, 1000],
    ] as const) {
      samples.add('encrypt@a', 16, rps(a));
      samples.add('encrypt@b', 16, rps(b));
    }
    const [between] = buildRatios([definitions[3]!], [16], samples);
    expect(between!.perRound).toEqual([0.8, 0.6, 0.9]);
    expect(between!.summary.median).toBe(0.8);
  });

  it('defines the identity-and-audit ratios from the declared variants', () => {
    const rows = ['encrypt', 'encrypt@audit-off', 'encrypt@crypto-user', 'encrypt@crypto-user-audit-off'];
    expect(ratioDefinitions(rows, VARIANTS).map((r) => r.name)).toEqual([
      'encrypt ÷ encrypt@audit-off',
      'encrypt@crypto-user ÷ encrypt',
      'encrypt@crypto-user-audit-off ÷ encrypt',
      'encrypt@crypto-user ÷ encrypt@audit-off',
      'encrypt@crypto-user-audit-off ÷ encrypt@audit-off',
    ]);
  });
});
