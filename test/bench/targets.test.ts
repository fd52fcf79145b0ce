import { describe, expect, it } from 'vitest';
import { ratioDefinitions, summarizeRatio } from '../../bench/ratios.js';
import { checkTargets } from '../../bench/targets.js';
import { VARIANTS } from '../../bench/variants.js';

const floorRatio = (encrypt: number[], floor: number[], concurrency: number) =>
  summarizeRatio(ratioDefinitions(['encrypt', 'aead-floor'], [])[0]!, concurrency, encrypt, floor);

describe('bench targets', () => {
  it('passes at or above the threshold and fails below it, by the median', () => {
    const passing = floorRatio([850, 900, 100], [1000, 1000, 1000], 16);
    const failing = floorRatio([600, 700, 990], [1000, 1000, 1000], 64);
    const checks = checkTargets([passing, failing], () => 0);
    expect(checks.map((c) => c.name)).toEqual([
      'encrypt ÷ aead-floor >= 0.85 at concurrency 16',
      'encrypt ÷ aead-floor >= 0.85 at concurrency 64',
    ]);
    expect(checks.map((c) => c.pass)).toEqual([true, false]);
    expect(checks[1]!.detail).toContain('median 0.70 over 3 rounds');
  });

  it('fails a target when either of its rows had errors', () => {
    const passing = floorRatio([900], [1000], 16);
    const [check] = checkTargets([passing], (row) => (row === 'aead-floor' ? 1 : 0));
    expect(check!.pass).toBe(false);
    expect(check!.detail).toContain('1 errors');
  });

  it('checks the identity-and-audit target on the crypto-user ÷ audit-off ratio', () => {
    const [definition] = ratioDefinitions(['encrypt@crypto-user', 'encrypt@audit-off'], VARIANTS);
    const ratio = summarizeRatio(definition!, 64, [790, 850, 820], [1000, 1000, 1000]);
    const checks = checkTargets([ratio], () => 0);
    expect(checks.map((c) => c.name)).toEqual([
      'encrypt@crypto-user ÷ encrypt@audit-off >= 0.80 at concurrency 64',
    ]);
    expect(checks[0]!.pass).toBe(true);
    const below = summarizeRatio(definition!, 16, [700, 850, 790], [1000, 1000, 1000]);
    expect(checkTargets([below], () => 0)[0]!.pass).toBe(false);
  });
});
