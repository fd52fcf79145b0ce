// Port: the HSM objects still waiting for their copies on other backends (pkcs11-replication.ts).
// Kept where every node can read it (the metadata database), so whichever node holds the
// `hsm-replication` lease catches up what any node could not copy.

/** An object that exists on `source` but not yet on every backend, or is not sealed there yet. */
export interface PendingReplication {
  label: string;
  objectClass: number;
  source: string;
  /** Backend names that lack the object. */
  missing: string[];
  /** When the object was made (ISO 8601): it may stay extractable until createdAt + window. */
  createdAt: string;
  /** The window passed: the original was sealed, the missing backends will never get it. */
  expired: boolean;
}

export interface ReplicationQueue {
  list(): Promise<PendingReplication[]>;
  /** Writes the entry for its label, replacing one there. */
  put(entry: PendingReplication): Promise<void>;
  remove(label: string): Promise<void>;
}
