// The unwrapped-data-key cache: a TTL, a use limit, and zeroized bytes on every kind of eviction.
import { describe, expect, it } from 'vitest';
import { DataKeyCache } from '../../src/integration/data-key-cache.js';

const key = () => Buffer.alloc(32, 7);
const isZero = (b: Buffer) => b.every((byte) => byte === 0);

function captured(cache: DataKeyCache, id: string): Buffer | undefined {
  let held: Buffer | undefined;
  cache.use(id, (k) => (held = k));
  return held;
}

describe('DataKeyCache', () => {
  it('keeps a copy: the caller may zeroize its own buffer', () => {
    const cache = new DataKeyCache({ ttlMs: 1000, maxUses: 5 });
    const mine = key();
    cache.put('a', mine, 'aws');
    mine.fill(0);
    const hit = cache.use('a', (k) => Buffer.from(k));
    expect(hit?.provider).toBe('aws');
    expect(hit?.result.equals(key())).toBe(true);
  });

  it('serves at most maxUses times, then zeroizes the key', () => {
    const cache = new DataKeyCache({ ttlMs: 1000, maxUses: 2 });
    cache.put('a', key(), 'aws');
    const first = captured(cache, 'a')!;
    expect(isZero(first)).toBe(false);
    captured(cache, 'a');
    expect(isZero(first)).toBe(true);
    expect(cache.use('a', () => 1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('expires at the TTL and zeroizes the key', () => {
    const clock = { now: 0 };
    const cache = new DataKeyCache({ ttlMs: 100, maxUses: 10, now: () => clock.now });
    cache.put('a', key(), 'aws');
    const held = captured(cache, 'a')!;
    clock.now = 100;
    expect(cache.use('a', () => 1)).toBeUndefined();
    expect(isZero(held)).toBe(true);
  });

  it('zeroizes everything on clear and the oldest beyond maxEntries', () => {
    const cache = new DataKeyCache({ ttlMs: 1000, maxUses: 10, maxEntries: 2 });
    cache.put('a', key(), 'aws');
    const a = captured(cache, 'a')!;
    cache.put('b', key(), 'aws');
    const b = captured(cache, 'b')!;
    cache.put('c', key(), 'aws');
    expect(isZero(a)).toBe(true);
    expect(isZero(b)).toBe(false);
    cache.clear();
    expect(isZero(b)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('counts a use even when the work on the key throws', () => {
    const cache = new DataKeyCache({ ttlMs: 1000, maxUses: 1 });
    cache.put('a', key(), 'aws');
    expect(() =>
      cache.use('a', () => {
        throw new Error('bad envelope');
      }),
    ).toThrow('bad envelope');
    expect(cache.size).toBe(0);
  });
});
