// Counts key operations in memory and writes them in one transaction per flush, so usage statistics
// cost nothing on the request path. Counts not yet flushed are lost only on a crash.
import type { MetadataStore, UsageCounts } from '../ports/metadata-store.js';
import type { Clock } from '../ports/clock.js';

export const USAGE_OPERATIONS = [
  'encrypt',
  'decrypt',
  'reencrypt',
  'generateDataKey',
  'generateDataKeyPair',
  'sign',
  'verify',
  'generateMac',
  'verifyMac',
  'asymmetricEncrypt',
  'asymmetricDecrypt',
  'wrapKey',
  'unwrapKey',
  'deriveKey',
] as const;
export type UsageOperation = (typeof USAGE_OPERATIONS)[number];

export class UsageRecorder {
  private pending: UsageCounts = new Map();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: Clock,
  ) {}

  record(keyId: string, operation: UsageOperation, count = 1): void {
    let operations = this.pending.get(keyId);
    if (!operations) this.pending.set(keyId, (operations = new Map()));
    operations.set(operation, (operations.get(operation) ?? 0) + count);
  }

  /** Writes pending counts; concurrent calls are serialised. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      await this.metadata.addUsage(batch, this.clock.now());
    });
    return this.flushing;
  }

  forget(keyId: string): void {
    this.pending.delete(keyId);
  }
}
