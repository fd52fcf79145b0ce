import { describe, expect, it } from 'vitest';
import { MaterialCache } from '../../src/adapters/keystore/software/material-cache.js';

const material = (byte: number) => Buffer.alloc(32, byte);

describe('MaterialCache', () => {
  it('zeroizes the least recently used entry when the bound is reached', () => {
    const cache = new MaterialCache(2, 60_000);
    const a = material(1);
    const b = material(2);
    const c = material(3);
    cache.set('a', { material: a });
    cache.set('b', { material: b });
    expect(cache.get('a')?.material).toBe(a); // a is now most recently used
    cache.set('c', { material: c });
    expect(cache.get('b')).toBeUndefined();
    expect(b.every((x) => x === 0)).toBe(true);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(cache.size).toBe(2);
    expect(cache.evictions).toBe(1);
  });

  it('gives a used entry one second chance, not immunity: unused since, it is evicted next', () => {
    const cache = new MaterialCache(2, 60_000);
    const a = material(1);
    cache.set('a', { material: a });
    cache.set('b', { material: material(2) });
    cache.get('a');
    cache.set('c', { material: material(3) }); // passes over a (used), evicts b
    expect(cache.get('b')).toBeUndefined();
    cache.set('d', { material: material(4) }); // a was not used since: it goes before c
    expect(cache.get('a')).toBeUndefined();
    expect(a.every((x) => x === 0)).toBe(true);
    expect(cache.get('c')).toBeDefined();
    expect(cache.get('d')).toBeDefined();
    expect(cache.evictions).toBe(2);
  });

  it('zeroizes and drops entries after their TTL', () => {
    let now = 1000;
    const cache = new MaterialCache(10, 500, () => now);
    const a = material(7);
    cache.set('a', { material: a });
    now += 499;
    expect(cache.get('a')).toBeDefined();
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(a.every((x) => x === 0)).toBe(true);
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
  });

  it('zeroizes every entry on clear and on removal by key prefix', () => {
    const cache = new MaterialCache(10, 60_000);
    const entries = ['k1:1', 'k1:2', 'k2:1'].map((id, i) => [id, material(i + 1)] as const);
    for (const [id, m] of entries) cache.set(id, { material: m });
    cache.removeWhere((id) => id.startsWith('k1:'));
    expect(entries[0]![1].every((x) => x === 0) && entries[1]![1].every((x) => x === 0)).toBe(true);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(entries[2]![1].every((x) => x === 0)).toBe(true);
  });

  it('caches nothing when its bound is zero', () => {
    const cache = new MaterialCache(0, 60_000);
    cache.set('a', { material: material(1) });
    expect(cache.get('a')).toBeUndefined();
  });

  it('sweeps expired entries out, zeroized, without anyone asking for them', () => {
    let now = 0;
    const cache = new MaterialCache(10, 100, () => now);
    const old = material(1);
    const young = material(2);
    cache.set('old', { material: old });
    now = 60;
    cache.set('young', { material: young });
    now = 100;
    cache.sweep();
    expect(old.every((x) => x === 0)).toBe(true);
    expect(young.every((x) => x === 2)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('sweeps on its own timer until closed', async () => {
    const cache = new MaterialCache(10, 30);
    const m = material(5);
    cache.set('a', { material: m });
    cache.startSweeping(10);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(m.every((x) => x === 0)).toBe(true);
    expect(cache.size).toBe(0);
    cache.close();
  });
});
