// Port: leases on work that must run in one process at a time across every process sharing the
// database (scheduled key jobs, audit checkpoints, later HSM replication catch-up).
export interface LeaseStore {
  /**
   * Takes the lease `name` for `holder` until `now + ttlMs`, in one conditional statement: when
   * nobody holds it, when `holder` does already (a renewal), or when its holder let it expire (it
   * died). Answers whether `holder` holds it now.
   */
  tryAcquire(name: string, holder: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it (at shutdown: another takes over without waiting). */
  release(name: string, holder: string): Promise<void>;
}
