// The audit trail of provider calls, newest last, bounded in memory. An entry names the operation,
// provider, key and outcome; it never holds plaintext, ciphertext or key material.

export interface AuditEntry {
  at: Date;
  operation: string;
  provider: string;
  /** The logical key id and the provider's reference it resolved to. */
  keyId?: string;
  keyRef?: string;
  /** 0 for the first try, 1.. for retries. */
  attempt: number;
  success: boolean;
  durationMs: number;
  /** The failure's code (ProviderError, CircuitOpen); absent on success. */
  errorCode?: string;
}

export class AuditLog {
  private readonly entries: AuditEntry[] = [];

  constructor(private readonly capacity: number) {}

  append(entry: AuditEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** The newest `count` entries (all when absent), oldest first. */
  latest(count?: number): AuditEntry[] {
    return count === undefined
      ? [...this.entries]
      : this.entries.slice(Math.max(0, this.entries.length - count));
  }
}
