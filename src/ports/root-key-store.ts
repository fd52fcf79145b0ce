// Port: the root of the key hierarchy. It wraps every SOFTWARE key version's material so that the
// metadata store alone never suffices to recover a key. Implemented by the sealed software root and
// the PKCS#11 store (the root key is then an HSM object).
export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Cumulative latency buckets of a backend's calls (Prometheus histogram semantics). */
export interface LatencyHistogram {
  count: number;
  sumSeconds: number;
  /** Ascending upper bounds (seconds) with the number of calls at or below each. */
  buckets: { le: number; count: number }[];
}

/**
 * A backend's state as /ready, /metrics and `keyhaven hsm status` show it. Everything beyond
 * `healthy` is optional: backends report what they have (a software root has no sessions).
 */
export interface BackendStatus {
  name: string;
  kind: string;
  healthy: boolean;
  detail?: string;
  circuit?: CircuitStateName;
  sessions?: { inUse: number; open: number; max: number; waiting: number };
  calls?: { total: number; failures: number; latency: LatencyHistogram };
  /** Key objects this backend still lacks (replication between HSMs). */
  pendingReplications?: number;
}

export interface StatusOptions {
  /**
   * Whether to check the backend now (a health probe through its circuit). Without it the last known
   * state is returned and the backend is not touched: metrics scrapes use that.
   */
  probe?: boolean;
}

export interface RootKeyStore {
  readonly kind: string;
  /** Wraps material, binding it to (keyId, version) so blobs cannot be swapped between versions. */
  wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer>;
  unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer>;
  /** Probes by default (readiness); `{ probe: false }` reports the last known state. */
  status(options?: StatusOptions): Promise<BackendStatus[]>;
  close(): Promise<void>;
}
