// A map keyed by (key id, version) that builds no string per lookup. A `${keyId}:${version}` key is
// a new string on every request: the Map has to flatten and hash it, about 0.3 µs a lookup, where a
// key id string (hashed once, kept by the key's record) and a small integer cost about 20 ns.
export class KeyVersionMap<V> {
  private readonly byKey = new Map<string, Map<number, V>>();
  private count = 0;

  /** The number of (key id, version) entries. */
  get size(): number {
    return this.count;
  }

  get(keyId: string, version: number): V | undefined {
    return this.byKey.get(keyId)?.get(version);
  }

  set(keyId: string, version: number, value: V): void {
    let versions = this.byKey.get(keyId);
    if (!versions) {
      versions = new Map();
      this.byKey.set(keyId, versions);
    }
    if (!versions.has(version)) this.count++;
    versions.set(version, value);
  }

  delete(keyId: string, version: number): void {
    const versions = this.byKey.get(keyId);
    if (!versions?.delete(version)) return;
    this.count--;
    if (versions.size === 0) this.byKey.delete(keyId);
  }

  /** Drops every version of the key. */
  deleteKey(keyId: string): void {
    const versions = this.byKey.get(keyId);
    if (!versions) return;
    this.count -= versions.size;
    this.byKey.delete(keyId);
  }

  clear(): void {
    this.byKey.clear();
    this.count = 0;
  }
}
