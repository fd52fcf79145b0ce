// What a key store reports about its parts (a sealed software root, each configured HSM token) for
// /ready, /metrics and `keyhaven hsm status`. Both key-store ports (root-key-store.ts,
// key-backend.ts) return it; each part reports what it has (a software root has no sessions).
export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Cumulative latency buckets of a part's calls (Prometheus histogram semantics). */
export interface LatencyHistogram {
  count: number;
  sumSeconds: number;
  /** Ascending upper bounds (seconds) with the number of calls at or below each. */
  buckets: { le: number; count: number }[];
}

/**
 * The state of one part of a key store. `name` is the configured HSM backend's name (or the root's);
 * /metrics labels its series `backend` with it. Everything beyond `healthy` is optional.
 */
export interface KeyStoreStatus {
  name: string;
  kind: string;
  healthy: boolean;
  detail?: string;
  circuit?: CircuitStateName;
  sessions?: { inUse: number; open: number; max: number; waiting: number };
  calls?: { total: number; failures: number; latency: LatencyHistogram };
  /** Key objects this HSM backend still lacks (replication between HSMs). */
  pendingReplications?: number;
  /**
   * Parts that stand in for one another (HSM backends, `pkcs11`; EXTERNAL providers, `external`):
   * the store is ready while one part of the group is healthy. A part without a group must be
   * healthy itself.
   */
  failoverGroup?: string;
  /**
   * The server serves without it (EXTERNAL providers: only EXTERNAL keys need them, and a server
   * pulled from a load balancer would stop serving every other key too): reported, never failing
   * readiness.
   */
  optional?: boolean;
}

export interface StatusOptions {
  /**
   * Whether to check the part now (a health probe through its circuit). Without it the last known
   * state is returned and nothing is touched: metrics scrapes use that.
   */
  probe?: boolean;
}
