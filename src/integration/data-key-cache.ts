// A cache of unwrapped envelope data keys: each entry lives at most `ttlMs` and serves at most
// `maxUses` decryptions, and its bytes are zeroized (fill(0)) when it is evicted for any reason.

export interface DataKeyCacheOptions {
  ttlMs: number;
  maxUses: number;
  /** Oldest entries are evicted beyond this many; 1000 unless given. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  key: Buffer;
  /** The provider that unwrapped it. */
  provider: string;
  expiresAt: number;
  usesLeft: number;
}

export class DataKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly options: DataKeyCacheOptions) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? 1000;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `use` on the cached key for `id`, counting one use; undefined when nothing usable is cached.
   * `use` is synchronous and must not keep the buffer: an exhausted entry is zeroized right after.
   */
  use<T>(id: string, use: (key: Buffer) => T): { result: T; provider: string } | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now() || entry.usesLeft <= 0) {
      this.evict(id);
      return undefined;
    }
    entry.usesLeft--;
    try {
      return { result: use(entry.key), provider: entry.provider };
    } finally {
      if (entry.usesLeft === 0) this.evict(id);
    }
  }

  /** Caches a copy of `key` (the caller keeps and zeroizes its own). */
  put(id: string, key: Buffer, provider: string): void {
    if (this.options.maxUses <= 0 || this.options.ttlMs <= 0) return;
    this.evict(id);
    while (this.entries.size >= this.maxEntries) this.evict(this.entries.keys().next().value as string);
    this.entries.set(id, {
      key: Buffer.from(key),
      provider,
      expiresAt: this.now() + this.options.ttlMs,
      usesLeft: this.options.maxUses,
    });
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.evict(id);
  }

  private evict(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.key.fill(0);
    this.entries.delete(id);
  }
}
