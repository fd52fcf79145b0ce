// The AES-GCM message bound, enforced (domain/seal-limits.ts, docs/architecture.md): every seal under
// a key version takes one index from a budget reserved in the metadata store, in blocks, so the
// count is monotonic across restarts and processes and the hot path touches the store once per
// block. A version past `rotateAfter` is rotated in the background; one at `maxMessages` seals
// nothing more (LimitExceeded), which is where keys that cannot rotate (imported material) stop.
// A version's first seal in each process waits for its first block (a conditional UPDATE): only the
// store knows how many seals other processes and earlier runs reserved, so sealing before it answers
// could pass maxMessages (an imported key at its bound, a version whose rotation keeps failing). The
// writes that can be saved are the repeats: budgets dropped at maxTrackedVersions reserve again.
import { KmsError } from '../domain/errors.js';
import type { Key } from '../domain/key.js';
import { KeyVersionMap } from '../domain/key-version-map.js';
import type { MetadataStore } from '../ports/metadata-store.js';

export interface SealLimits {
  rotateAfter: number;
  maxMessages: number;
  /**
   * Versions whose budgets are held at once (cache.keyMetadataMaxEntries); past it they are all
   * dropped, their unused reservations lost (never reused), and each version reserves again.
   */
  maxTrackedVersions?: number;
}

interface VersionBudget {
  /** The next index this process hands out, and the end (exclusive) of its reserved range. */
  next: number;
  end: number;
  /** The next block's size: doubles with use, so cold versions reserve little and hot ones rarely. */
  block: number;
  reserving?: Promise<void>;
  rotationRequested: boolean;
  /** The store granted nothing: the version is at the bound for good (the count never falls). */
  exhausted: boolean;
}

const FIRST_BLOCK = 64;
const MAX_BLOCK = 65_536;
const MAX_TRACKED_VERSIONS = 10_000;
/** A rotation that failed (the HSM is down) is asked for again by a seal after this long. */
const ROTATION_RETRY_MS = 5000;

export class SealBudget {
  private readonly budgets = new KeyVersionMap<VersionBudget>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly limits: SealLimits,
    /** Rotates the key away from `version` (a no-op if it already moved on). */
    private readonly rotateFrom: (keyId: string, version: number) => Promise<unknown>,
    private readonly retryRotationMs = ROTATION_RETRY_MS,
  ) {}

  /**
   * Takes one seal of the key's `version`. Synchronous (undefined) while the reserved block lasts;
   * otherwise a promise that resolves once a block is reserved, or rejects with LimitExceeded.
   */
  take(key: Key, version: number): Promise<void> | undefined {
    let budget = this.budgets.get(key.keyId, version);
    if (!budget) {
      if (this.budgets.size >= (this.limits.maxTrackedVersions ?? MAX_TRACKED_VERSIONS)) this.budgets.clear();
      budget = { next: 0, end: 0, block: FIRST_BLOCK, rotationRequested: false, exhausted: false };
      this.budgets.set(key.keyId, version, budget);
    }
    if (budget.next < budget.end) {
      this.consume(key, version, budget);
      return undefined;
    }
    // At the bound the store is not asked again (about 17 halving attempts each time).
    if (budget.exhausted) {
      this.rotate(key, version, budget);
      return Promise.reject(limitReached(key, version));
    }
    return this.reserveThenTake(key, version, budget);
  }

  private async reserveThenTake(key: Key, version: number, budget: VersionBudget): Promise<void> {
    while (budget.next >= budget.end) {
      budget.reserving ??= this.reserve(key, version, budget).finally(() => (budget.reserving = undefined));
      await budget.reserving;
    }
    this.consume(key, version, budget);
  }

  private async reserve(key: Key, version: number, budget: VersionBudget): Promise<void> {
    const { first, granted } = await this.metadata.reserveSeals(
      key.keyId,
      version,
      budget.block,
      this.limits.maxMessages,
    );
    if (granted === 0) {
      budget.exhausted = true;
      this.rotate(key, version, budget);
      throw limitReached(key, version);
    }
    budget.next = first;
    budget.end = first + granted;
    budget.block = Math.min(budget.block * 2, MAX_BLOCK);
  }

  private consume(key: Key, version: number, budget: VersionBudget): void {
    const index = budget.next++;
    if (index + 1 >= this.limits.rotateAfter) this.rotate(key, version, budget);
  }

  private rotate(key: Key, version: number, budget: VersionBudget): void {
    if (budget.rotationRequested || key.origin === 'EXTERNAL') return;
    budget.rotationRequested = true;
    this.rotateFrom(key.keyId, version).catch(() => {
      // Asked again by a later seal; meanwhile sealing goes on up to maxMessages.
      setTimeout(() => (budget.rotationRequested = false), this.retryRotationMs).unref();
    });
  }
}

function limitReached(key: Key, version: number): KmsError {
  return new KmsError(
    'LimitExceeded',
    key.origin === 'EXTERNAL'
      ? `key ${key.keyId} v${version} has sealed the most AES-GCM messages one key may; imported material cannot rotate: import new material into a new key`
      : `key ${key.keyId} v${version} has sealed the most AES-GCM messages one key may; its rotation is pending: retry shortly`,
  );
}
