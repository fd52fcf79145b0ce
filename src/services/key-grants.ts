// Each key's grants, as authorization matches requests against them: read through a small cache
// with the key metadata's TTL. Every grant write in this process calls invalidate() (the one
// invalidation point, announced to the other processes through cache-invalidation.ts), so a retired
// grant stops at once.
import type { Grant } from '../domain/grant.js';
import type { GrantStore } from '../ports/grant-store.js';
import { announceNowhere, type AnnounceChange } from './cache-invalidation.js';

interface Cached {
  grants: readonly Grant[];
  until: number;
}

export class KeyGrants {
  private readonly cache = new Map<string, Cached>();
  /** Bumped by every invalidation: a read that began before one is not cached (it may be stale). */
  private epoch = 0;

  constructor(
    private readonly store: GrantStore,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly announce: AnnounceChange = announceNowhere,
  ) {}

  /** The key's grants if cached and fresh; never touches the store. */
  peek(keyId: string): readonly Grant[] | undefined {
    const hit = this.cache.get(keyId);
    return hit && hit.until > Date.now() ? hit.grants : undefined;
  }

  async of(keyId: string): Promise<readonly Grant[]> {
    const hit = this.peek(keyId);
    if (hit) return hit;
    const epoch = this.epoch;
    const grants = await this.store.grantsOfKey(keyId);
    if (epoch !== this.epoch) return grants;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(keyId, { grants, until: Date.now() + this.ttlMs });
    return grants;
  }

  invalidate(keyId: string): void {
    this.drop(keyId);
    this.announce({ kind: 'grants', keyId });
  }

  /** Another process changed the key's grants: dropped here, not announced again. */
  drop(keyId: string): void {
    this.epoch++;
    this.cache.delete(keyId);
  }

  dropAll(): void {
    this.epoch++;
    this.cache.clear();
  }
}
