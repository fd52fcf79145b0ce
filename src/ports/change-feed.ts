// Port: changes other processes must hear about. Each process caches key metadata, policies,
// grants and credentials; a write invalidates its own caches at once and publishes the change here,
// so that every other process sharing the database (node:cluster workers, nodes on one PostgreSQL)
// drops its copy too. Delivery is best effort and fast; the caches' TTL bounds the delay when a
// notification is lost, and an adapter that may have missed some says so with { kind: 'all' }.
export type Change =
  /** A key's metadata, versions, aliases, key policy or material changed. */
  | { kind: 'key'; keyId: string }
  /** A key's grants changed. */
  | { kind: 'grants'; keyId: string }
  /** A policy document changed (keyId: the key whose key policy it is). */
  | { kind: 'policy'; policyId: string; keyId?: string | null }
  /** A tenant's settings or attached policies changed. */
  | { kind: 'tenant'; tenantId: string }
  /** Principals or credentials changed (revocation, role change, deletion). */
  | { kind: 'credentials' }
  /** A system signing key was made (audit checkpoints, access tokens): reload its public keys. */
  | { kind: 'system-keys' }
  /** Notifications may have been missed (a reconnection): drop everything cached. */
  | { kind: 'all' };

export interface ChangeFeed {
  /** Tells the other processes; never delivered back to this process's own subscribers. */
  publish(change: Change): void;
  /** Calls `listener` for each change another process published; returns the unsubscribe. */
  subscribe(listener: (change: Change) => void): () => void;
  close(): Promise<void>;
}

/** One process alone: nobody to tell. */
export class LocalChangeFeed implements ChangeFeed {
  publish(): void {}

  subscribe(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}
