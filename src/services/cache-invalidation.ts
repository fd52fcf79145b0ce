// Cross-process cache invalidation (issue 15): the one place that knows the ChangeFeed. Each cache
// of database state announces its own invalidations through `announce` (handed to it by the
// composition root), which publishes them; a change published by another process reaches `apply`,
// which drops the same entries here through the droppers the composition root registered, without
// publishing again. Services know neither the feed nor each other's caches.
import type { Change, ChangeFeed } from '../ports/change-feed.js';

/** What a cache calls after a local invalidation, so that the other processes drop theirs too. */
export type AnnounceChange = (change: Change) => void;

/** For a cache alone in its process (the CLI, unit tests): nobody to tell. */
export const announceNowhere: AnnounceChange = () => undefined;

/** How each kind of change is dropped locally: the composition root maps them to the caches. */
export interface CacheDroppers {
  key(keyId: string): void;
  grants(keyId: string): void;
  policy(policyId: string, keyId: string | null): void;
  tenant(tenantId: string): void;
  credentials(): void;
  systemKeys(): void;
  /** Everything cached from the database (after notifications may have been missed). */
  all(): void;
}

export class CacheInvalidation {
  private unsubscribe: (() => void) | undefined;
  /** Changes published since start, and changes applied from other processes (for /metrics). */
  published = 0;
  applied = 0;

  constructor(private readonly feed: ChangeFeed) {}

  /** Publishes a local invalidation; a bound function, handed to each cache at construction. */
  readonly announce: AnnounceChange = (change) => {
    this.published++;
    this.feed.publish(change);
  };

  /** Starts applying other processes' changes through `droppers` (once the caches exist). */
  listen(droppers: CacheDroppers): void {
    this.unsubscribe?.();
    this.unsubscribe = this.feed.subscribe((change) => {
      this.applied++;
      applyChange(droppers, change);
    });
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.feed.close();
  }
}

export function applyChange(droppers: CacheDroppers, change: Change): void {
  switch (change.kind) {
    case 'key':
      return droppers.key(change.keyId);
    case 'grants':
      return droppers.grants(change.keyId);
    case 'policy':
      return droppers.policy(change.policyId, change.keyId ?? null);
    case 'tenant':
      return droppers.tenant(change.tenantId);
    case 'credentials':
      return droppers.credentials();
    case 'system-keys':
      return droppers.systemKeys();
    case 'all':
      return droppers.all();
  }
}
