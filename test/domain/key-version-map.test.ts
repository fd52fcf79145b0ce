import { describe, expect, it } from 'vitest';
import { KeyVersionMap } from '../../src/domain/key-version-map.js';

describe('KeyVersionMap', () => {
  it('keeps (key id, version) entries apart and counts them', () => {
    const map = new KeyVersionMap<string>();
    map.set('k1', 1, 'a');
    map.set('k1', 2, 'b');
    map.set('k2', 1, 'c');
    map.set('k1', 1, 'a2');
    expect([map.get('k1', 1), map.get('k1', 2), map.get('k2', 1), map.get('k2', 2)]).toEqual([
      'a2',
      'b',
      'c',
      undefined,
    ]);
    expect(map.size).toBe(3);
  });

  it('deletes one version, every version of a key, or everything', () => {
    const map = new KeyVersionMap<number>();
    map.set('k1', 1, 1);
    map.set('k1', 2, 2);
    map.set('k2', 1, 3);
    map.delete('k1', 1);
    map.delete('k1', 9);
    expect(map.size).toBe(2);
    map.deleteKey('k1');
    expect(map.get('k1', 2)).toBeUndefined();
    expect(map.size).toBe(1);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get('k2', 1)).toBeUndefined();
  });
});
