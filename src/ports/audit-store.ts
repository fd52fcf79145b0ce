// Port: the audit log's records and signed checkpoints, in chain order. Records are only ever
// appended; nothing in Keyhaven updates or deletes them.
import type { AuditCheckpoint, AuditRecord, AuditResult, ChainHead } from '../domain/audit-record.js';

export interface AuditFilter {
  /** Only this tenant's records; all tenants' when absent (system auditors). */
  tenantId?: string;
  from?: Date;
  to?: Date;
  keyId?: string;
  principalId?: string;
  action?: string;
  result?: AuditResult;
  /** Records after this seq. */
  afterSeq?: number;
  limit: number;
}

/**
 * The records do not continue the chain as stored: another writer (a worker, a node) appended
 * first. Nothing was written; chained again from the stored head, the same records may succeed.
 * Any other rejection of appendRecords is a failure of the store.
 */
export class ChainMovedError extends Error {
  constructor(
    /** The stored head when the store knows it (read under the write lock), else undefined. */
    readonly head?: ChainHead | null,
    options?: { cause?: unknown },
  ) {
    super('the records do not continue the stored chain', options);
    this.name = 'ChainMovedError';
  }
}

export interface AuditStore {
  /**
   * Appends records, all or none. Rejects with ChainMovedError unless the first continues the
   * stored chain (its prevHash is the last stored record's hash, its seq the next): calls may
   * overlap, each computed on the one before, and one after a call that failed must fail too.
   * Overlapping calls are stored in call order.
   */
  appendRecords(records: readonly AuditRecord[]): Promise<void>;
  /** The last record's seq and hash, or null for an empty log. */
  head(): Promise<ChainHead | null>;
  findRecords(filter: AuditFilter): Promise<AuditRecord[]>;
  /** Records with seq in (afterSeq, upTo], in seq order, at most `limit`. */
  recordsAfter(afterSeq: number, limit: number, upTo?: number): Promise<AuditRecord[]>;
  /** The first record's seq whose (hashed) time is at or after `time`. */
  firstSeqFrom(time: Date): Promise<number | undefined>;
  /** The last record's seq whose time is before `time`. */
  lastSeqBefore(time: Date): Promise<number | undefined>;
  /** The last checkpoint covering a seq below `seq` (a range's anchor, once its signature holds). */
  lastCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined>;
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Checkpoints covering seqs in (afterSeq, upTo], in seq order. */
  checkpoints(afterSeq: number, upTo?: number): Promise<AuditCheckpoint[]>;
  lastCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** Stops what appends records (the database itself closes with the metadata store). */
  close(): Promise<void>;
}
