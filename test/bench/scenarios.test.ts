import { describe, expect, it } from 'vitest';
import { spreadOverKeys } from '../../bench/scenarios.js';

describe('bench request pools over many keys', () => {
  const bodies = [
    { keyId: 'bench-key', plaintext: 'AA==', context: { a: '1' } },
    { keyId: 'bench-key', plaintext: 'AQ==', context: { a: '1' } },
  ];

  it('keeps each body but names a key drawn from the list, cycling through the payloads', () => {
    const draws = [0, 0.5, 0.999, 0.25];
    let next = 0;
    const spread = spreadOverKeys(bodies, ['k0', 'k1', 'k2', 'k3'], 4, () => draws[next++]!);
    expect(spread).toEqual([
      { keyId: 'k0', plaintext: 'AA==', context: { a: '1' } },
      { keyId: 'k2', plaintext: 'AQ==', context: { a: '1' } },
      { keyId: 'k3', plaintext: 'AA==', context: { a: '1' } },
      { keyId: 'k1', plaintext: 'AQ==', context: { a: '1' } },
    ]);
    // The scenario's own bodies are left as they were.
    expect(bodies[0]!.keyId).toBe('bench-key');
  });

  it('uses many distinct keys of a large list', () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => `k${i}`);
    const spread = spreadOverKeys(bodies, keys, 10_000) as { keyId: string }[];
    const distinct = new Set(spread.map((body) => body.keyId));
    // 10,000 draws among 100,000 keys: about 9,500 distinct; a fixed or cycling choice would give far fewer.
    expect(distinct.size).toBeGreaterThan(9000);
    const known = new Set(keys);
    expect([...distinct].every((keyId) => known.has(keyId))).toBe(true);
  });

  it('refuses an empty key list', () => {
    expect(() => spreadOverKeys(bodies, [], 10)).toThrow('needs keys');
  });
});
