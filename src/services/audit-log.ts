// The audit log (docs/architecture.md "The audit log"): one record per request, chained by hash and
// written in batches (group commit: a request's record joins the next transaction, so a busy server
// writes one transaction for many records), before the reply leaves. A record that cannot be written
// fails its request with Unavailable, and while the last write failed, new requests are refused
// before they do anything (fail closed) until a write succeeds again. Periodically and at shutdown
// the chain's head is signed by the audit key, held by the key store, so that rewriting history and
// re-hashing it is detected. Several processes may append to one chain (cluster workers, nodes on
// one database): an append that finds the chain moved is chained again from the stored head and
// retried, and checkpoints sign the stored head, by whichever process holds the checkpoint lease,
// once the records since the last checkpoint verify. Listing is tenant-scoped; verification and
// export cover the whole chain and are for system auditors.
import { createPublicKey } from 'node:crypto';
import {
  chainRecord,
  checkpointSigningBytes,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditRecord,
  type AuditResult,
  type ChainHead,
  type UnsignedAuditCheckpoint,
} from '../domain/audit-record.js';
import { exportLine } from '../domain/audit-export.js';
import { AuditChainVerifier, type AuditVerification } from '../domain/audit-verifier.js';
import { KmsError, invalidMarker, validationError } from '../domain/errors.js';
import { isSystemAuditor } from '../domain/identity.js';
import type { RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import { ChainMovedError, type AuditFilter, type AuditStore } from '../ports/audit-store.js';
import type { AccessControl } from './access-control.js';
import { CHECKPOINT_ALGORITHM, checkpointVerifier, walkChain } from './audit-chain-reader.js';
import type { SystemKeys } from './system-keys.js';
import { soleProcess, type ExclusiveWork } from './lease.js';

export interface AuditLogOptions {
  /** How often the head is signed while records arrive (and always at shutdown). */
  checkpointIntervalMs: number;
  /** Records per transaction at most. */
  maxBatch: number;
  /** Who signs the periodic checkpoints when several processes share the chain (default: this one). */
  checkpointLease?: ExclusiveWork;
  /**
   * Told when a checkpoint is refused because the records since the last authentic checkpoint do
   * not verify: the seq and the verifier's reason, which names seqs and fields, never their values.
   */
  onCheckpointRefused?: (refusal: { seq: number; reason: string }) => void;
}

/**
 * How long one batch keeps trying while other writers keep moving the chain in between; then it
 * fails with Unavailable as any failed write. Each retry starts from the head the store read under
 * its write lock, so only a writer that appends in that instant defeats it. The bound is time, not
 * a count: with at most eight attempts, the two-worker test saw a 503 under CI's load.
 */
const APPEND_RETRY_MS = 3000;

export interface ListLogsInput {
  from?: string;
  to?: string;
  keyId?: string;
  principalId?: string;
  action?: string;
  result?: AuditResult;
  /** Only for system auditors: another tenant's records (theirs by default: all). */
  tenantId?: string;
  limit?: number;
  cursor?: string;
}

interface Pending {
  entry: AuditEntry;
  resolve: () => void;
  reject: (error: Error) => void;
}

const MAX_LIST = 1000;

// As every 503 of a store that may be back in a moment (the reply replaced in audit-trail.ts too):
// clients are told when to try again.
const unavailable = (cause?: unknown) =>
  new KmsError('Unavailable', 'the audit log cannot be written; the request was refused', {
    cause,
    retryAfterSeconds: 1,
  });

export class AuditLog {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** The chain's head as written; undefined until read (and after a failed write). */
  private head: ChainHead | null | undefined;
  private writable = true;
  private signedThrough = 0;
  private timer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  /** Records that could not be written, since start (for /metrics). */
  writeFailures = 0;
  /** Records written, since start. */
  recordsWritten = 0;
  /** Appends chained again because another process had moved the chain (for /metrics). */
  chainRetries = 0;
  /** Checkpoints not signed because the chain since the last one did not verify (for /metrics). */
  checkpointRefusals = 0;
  /** The seq of the last refusal told: one broken record is logged once, counted at every try. */
  private refusedAt: number | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly systemKeys: SystemKeys,
    private readonly access: AccessControl,
    private readonly clock: Clock,
    private readonly options: AuditLogOptions,
    private readonly enabled = true,
  ) {}

  async start(): Promise<void> {
    this.head = await this.store.head();
    this.signedThrough = (await this.store.lastCheckpoint())?.seq ?? 0;
    const lease = this.options.checkpointLease ?? soleProcess;
    this.timer = setInterval(
      () => void lease.whileHeld(() => this.checkpoint()).catch(() => undefined),
      this.options.checkpointIntervalMs,
    );
    this.timer.unref();
  }

  /** Throws Unavailable while the last write failed: nothing is done that could not be recorded. */
  assertWritable(): void {
    if (!this.writable) throw unavailable();
  }

  /** Appends a record; resolves once it is in the database, rejects with Unavailable otherwise. */
  record(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      // The write waits for the event loop's next turn: requests whose bytes have arrived meanwhile
      // add their records to the same transaction. While a transaction commits (off the event loop
      // where the store allows: SQLite's writer thread), arriving records queue for the next one.
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    this.flushing ??= new Promise<void>((turn) => setImmediate(turn))
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        // A record queued after flush() last looked at the queue and before this runs (a caller
        // that records again as soon as its last record resolved) would otherwise wait for the
        // next caller's record to be written.
        if (this.queue.length > 0) this.scheduleFlush();
      });
  }

  /**
   * The record of work the server did by itself (a scheduled rotation, a deletion after its
   * waiting period, a rotation at the AES-GCM bound): principal `system`, no address. The work has
   * happened; a record that cannot be written is counted, and the log turns unwritable as usual.
   */
  async recordInternal(
    ctx: RequestContext,
    tenantId: string,
    outcome: { startedAt: number; errorCode?: string },
  ): Promise<void> {
    const entry = this.internalEntry(ctx, tenantId, outcome);
    if (entry) await this.record(entry).catch(() => undefined);
  }

  /**
   * The record recordInternal would write, for a store to write in the transaction of the work
   * itself (a scheduled rotation: both land or neither); undefined while the log is disabled. The
   * log's own appends find the chain moved by it and chain again, as after another process's.
   */
  internalEntry(
    ctx: RequestContext,
    tenantId: string,
    outcome: { startedAt: number; errorCode?: string },
  ): AuditEntry | undefined {
    if (!this.enabled) return undefined;
    const entry: AuditEntry = {
      time: this.clock.now().toISOString(),
      requestId: ctx.requestId,
      tenantId,
      principalId: ctx.principal.id,
      action: ctx.action,
      result: outcome.errorCode === undefined ? 'allow' : 'error',
      sourceIp: '',
      latencyMs: Math.max(0, Math.round(Date.now() - outcome.startedAt)),
    };
    if (ctx.facts.keyId !== undefined) entry.keyId = ctx.facts.keyId;
    if (ctx.facts.keyVersion !== undefined) entry.keyVersion = ctx.facts.keyVersion;
    if (outcome.errorCode !== undefined) entry.errorCode = outcome.errorCode;
    return entry;
  }

  /** Signs the chain's head if it moved since the last checkpoint. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.signHead().finally(() => (this.checkpointing = undefined));
    return this.checkpointing;
  }

  /** Writes what is queued and signs the head: at shutdown. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.flushing) await this.flushing;
    await this.checkpoint().catch(() => undefined);
    await this.store.close();
  }

  async listLogs(
    ctx: RequestContext,
    input: ListLogsInput,
  ): Promise<{ records: AuditRecord[]; nextCursor: string | null }> {
    await this.access.authorize(ctx, { actions: ['ListLogs'] });
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) {
      throw validationError(`limit must be an integer from 1 to ${MAX_LIST}`);
    }
    const everyTenant = ctx.credential === 'internal' || isSystemAuditor(ctx.principal);
    const filter: AuditFilter = {
      ...(everyTenant
        ? input.tenantId === undefined
          ? {}
          : { tenantId: input.tenantId }
        : { tenantId: ctx.tenant }),
      ...(input.from === undefined ? {} : { from: instant(input.from, 'from') }),
      ...(input.to === undefined ? {} : { to: instant(input.to, 'to') }),
      ...(input.keyId === undefined ? {} : { keyId: input.keyId }),
      ...(input.principalId === undefined ? {} : { principalId: input.principalId }),
      ...(input.action === undefined ? {} : { action: input.action }),
      ...(input.result === undefined ? {} : { result: input.result }),
      ...(input.cursor === undefined ? {} : { afterSeq: decodeCursor(input.cursor) }),
      limit: limit + 1,
    };
    const rows = await this.store.findRecords(filter);
    const records = rows.slice(0, limit);
    const last = records[records.length - 1];
    return { records, nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
  }

  /**
   * Checks the whole chain, or a time range of it: links, hashes, signed checkpoints, truncation. A
   * range is checked from the last signed checkpoint before it (a verified signature is the only
   * anchor a database administrator cannot move); the whole-chain check covers everything.
   */
  async verifyLogs(ctx: RequestContext, range: { from?: string; to?: string }): Promise<AuditVerification> {
    await this.access.authorizeServerWide(ctx, 'VerifyLogs');
    const verifyCheckpoint = await this.checkpointVerifier();
    const span = await this.span(range, verifyCheckpoint);
    const verifier = new AuditChainVerifier({
      verifyCheckpoint,
      ...(span.anchor ? { startAfter: span.anchor } : {}),
    });
    for await (const item of walkChain(this.store, span.anchor?.seq ?? 0, span.upTo)) {
      if (item.type === 'record') verifier.addRecord(item.record);
      else verifier.addCheckpoint(item.checkpoint);
    }
    return verifier.finish();
  }

  /** JSON Lines: every record of the range, each checkpoint right after the record it signs. */
  async *exportLogs(ctx: RequestContext, range: { from?: string; to?: string }): AsyncGenerator<string> {
    await this.access.authorizeServerWide(ctx, 'ExportLogs');
    const span = await this.span(range, await this.checkpointVerifier());
    for await (const item of walkChain(this.store, span.anchor?.seq ?? 0, span.upTo))
      yield `${exportLine(item)}\n`;
  }

  /** The audit key's public key, to pin for offline verification (`keyhaven audit verify`). */
  async publicKey(
    ctx: RequestContext,
  ): Promise<{ keyId: string; keyVersion: number; algorithm: string; publicKey: string }> {
    await this.access.authorizeServerWide(ctx, 'VerifyLogs');
    const key = await this.systemKeys.signingKey('audit-checkpoint');
    return {
      keyId: key.keyId,
      keyVersion: key.version,
      algorithm: CHECKPOINT_ALGORITHM,
      publicKey: createPublicKey({ key: key.publicKeySpki, format: 'der', type: 'spki' })
        .export({ format: 'pem', type: 'spki' })
        .toString(),
    };
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      try {
        const records = await this.append(batch.map(({ entry }) => entry));
        this.writable = true;
        this.recordsWritten += records;
        for (const pending of batch) pending.resolve();
      } catch (error) {
        // The head is read again before the next write: this batch never joined the chain.
        this.head = undefined;
        this.writable = false;
        this.writeFailures += batch.length;
        for (const pending of batch) pending.reject(unavailable(error));
      }
    }
  }

  /**
   * Chains the entries from the head and appends them; when another writer moved the chain first,
   * chains them again from the stored head and tries again (bounded). Resolves with the count.
   */
  private async append(entries: readonly AuditEntry[]): Promise<number> {
    const giveUpAt = Date.now() + APPEND_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      this.head ??= await this.store.head();
      let head = this.head;
      const records = entries.map((entry) => {
        const record = chainRecord(head, entry);
        head = { seq: record.seq, hash: record.hash };
        return record;
      });
      try {
        await this.store.appendRecords(records);
        this.head = head;
        return records.length;
      } catch (error) {
        if (!(error instanceof ChainMovedError) || Date.now() >= giveUpAt) throw error;
        this.chainRetries++;
        this.head = error.head;
        // Two writers that keep colliding fall out of step after a random pause or two, growing
        // with each collision up to 50 ms.
        if (attempt > 1) {
          const pauseMs = Math.random() * Math.min(50, 2 ** attempt);
          await new Promise((turn) => setTimeout(turn, pauseMs));
        }
      }
    }
  }

  /**
   * Signs the stored head (other processes append to the same chain, not only this one), once the
   * records from the last authentic checkpoint up to it verify: a signature over a head whose chain
   * was edited since would vouch for the edit. A chain that does not verify is not signed; the
   * refusal is counted and told (seq and reason, never a record's content), and the next try walks
   * it again, so a store put right is signed then.
   */
  private async signHead(): Promise<void> {
    while (this.flushing) await this.flushing;
    const head = await this.store.head();
    this.signedThrough = Math.max(this.signedThrough, (await this.store.lastCheckpoint())?.seq ?? 0);
    if (!head || head.seq <= this.signedThrough) return;
    const refusal = await this.chainUpTo(head);
    if (refusal) {
      this.checkpointRefusals++;
      if (this.refusedAt !== refusal.seq) this.options.onCheckpointRefused?.(refusal);
      this.refusedAt = refusal.seq;
      return;
    }
    this.refusedAt = undefined;
    const key = await this.systemKeys.signingKey('audit-checkpoint');
    const unsigned: UnsignedAuditCheckpoint = {
      seq: head.seq,
      hash: head.hash,
      time: this.clock.now().toISOString(),
      keyId: key.keyId,
      keyVersion: key.version,
      algorithm: CHECKPOINT_ALGORITHM,
    };
    const signature = await key.sign(checkpointSigningBytes(unsigned));
    await this.store.addCheckpoint({ ...unsigned, signature: signature.toString('base64') });
    this.signedThrough = head.seq;
  }

  /**
   * Verifies the records after the last authentic checkpoint before `head` up to it, ending at
   * `head` itself; undefined when they do, else where and why not.
   */
  private async chainUpTo(head: ChainHead): Promise<{ seq: number; reason: string } | undefined> {
    const verifyCheckpoint = await this.checkpointVerifier();
    const anchor = await this.authenticCheckpointBefore(head.seq + 1, verifyCheckpoint);
    const verifier = new AuditChainVerifier({ verifyCheckpoint, ...(anchor ? { startAfter: anchor } : {}) });
    let last: ChainHead | undefined;
    for await (const item of walkChain(this.store, anchor?.seq ?? 0, head.seq)) {
      if (item.type === 'checkpoint') verifier.addCheckpoint(item.checkpoint);
      else {
        verifier.addRecord(item.record);
        last = { seq: item.record.seq, hash: item.record.hash };
      }
      // Refused either way: a chain that stays broken is walked only up to the break at each try,
      // not through every record appended since.
      if (verifier.broken) break;
    }
    const verdict = verifier.finish();
    if (verdict.firstInvalid) return verdict.firstInvalid;
    if (last?.seq !== head.seq || last.hash !== head.hash) {
      return { seq: head.seq, reason: `record ${head.seq} changed while the chain was verified` };
    }
    return undefined;
  }

  /**
   * Verifies checkpoint signatures with the audit key versions the key store proves it holds (each
   * signs a fresh challenge): a database administrator who added or swapped in a key of their own,
   * and re-signed with it, has every checkpoint fail.
   */
  private async checkpointVerifier(): Promise<(bytes: Buffer, checkpoint: AuditCheckpoint) => boolean> {
    const proven = await this.systemKeys.publicKeys('audit-checkpoint');
    return checkpointVerifier(new Map(proven.map((key) => [`${key.keyId}:${key.version}`, key.publicKey])));
  }

  /**
   * Where a range's walk starts (after the last authentic checkpoint before its first record, or at
   * the beginning) and ends (its last record before `to`; the present when absent).
   */
  private async span(
    range: { from?: string; to?: string },
    verifyCheckpoint: (bytes: Buffer, checkpoint: AuditCheckpoint) => boolean,
  ): Promise<{ anchor?: ChainHead; upTo?: number }> {
    const upTo =
      range.to === undefined ? undefined : ((await this.store.lastSeqBefore(instant(range.to, 'to'))) ?? 0);
    if (range.from === undefined) return { upTo };
    const first = await this.store.firstSeqFrom(instant(range.from, 'from'));
    const anchor =
      first === undefined ? undefined : await this.authenticCheckpointBefore(first, verifyCheckpoint);
    return anchor ? { anchor, upTo } : { upTo };
  }

  /** The last checkpoint covering a seq below `seq` whose signature verifies, as a chain head. */
  private async authenticCheckpointBefore(
    seq: number,
    verifyCheckpoint: (bytes: Buffer, checkpoint: AuditCheckpoint) => boolean,
  ): Promise<ChainHead | undefined> {
    let checkpoint = await this.store.lastCheckpointBefore(seq);
    while (checkpoint) {
      const { signature, ...unsigned } = checkpoint;
      if (signature && verifyCheckpoint(checkpointSigningBytes(unsigned), checkpoint)) {
        return { seq: checkpoint.seq, hash: checkpoint.hash };
      }
      checkpoint = await this.store.lastCheckpointBefore(checkpoint.seq);
    }
    return undefined;
  }
}

function instant(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw validationError(`${field} must be an ISO 8601 date-time`);
  return date;
}

const encodeCursor = (seq: number) => Buffer.from(`seq:${seq}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const match = /^seq:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw invalidMarker();
  return Number(match[1]);
}
