// Work that runs in one process at a time across every process sharing the database: a lease
// (ports/lease-store.ts) names its holder and an expiry. The holder renews it while it works and
// keeps it between runs, so the same process goes on doing the work; if it dies, another takes
// the lease over once it expires. A lease is a way to avoid duplicated work, not a guarantee of
// mutual exclusion (a holder stalled past the expiry overlaps with the next): the work itself stays
// idempotent (conditional deletes, rotations conditional on the version that was due).
import type { Clock } from '../ports/clock.js';
import type { LeaseStore } from '../ports/lease-store.js';

export interface ExclusiveWork {
  /** Runs `work` if this process holds the lease (or takes it); undefined if another holds it. */
  whileHeld<T>(work: () => Promise<T>): Promise<T | undefined>;
}

/** A process alone with its database (the CLI, tests of one service): it always holds the lease. */
export const soleProcess: ExclusiveWork = { whileHeld: (work) => work() };

export class Lease implements ExclusiveWork {
  private released = false;

  constructor(
    private readonly store: LeaseStore,
    readonly name: string,
    /** Unique per process and start (host, pid, random): a restarted process is a new holder. */
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  async whileHeld<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.released || !(await this.acquire())) return undefined;
    // Renewed at a third of its life, so that two missed renewals still leave it held.
    const renewal = setInterval(() => void this.acquire().catch(() => undefined), this.ttlMs / 3);
    renewal.unref();
    try {
      return await work();
    } finally {
      clearInterval(renewal);
    }
  }

  /** Gives the lease up (at shutdown): another process takes the work over at its next run. */
  async release(): Promise<void> {
    this.released = true;
    await this.store.release(this.name, this.holder);
  }

  private acquire(): Promise<boolean> {
    return this.store.tryAcquire(this.name, this.holder, this.clock.now(), this.ttlMs);
  }
}
