// AuditStore over Kysely, on the metadata database: one row per record, one per checkpoint. Appends
// go through Kysely too unless the database gives them a writer of their own (SQLite: a worker
// thread, sqlite/audit-writer-thread.ts).
import type { Kysely, Selectable, Transaction } from 'kysely';
import {
  chainRecord,
  GENESIS_HASH,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditRecord,
  type AuditResult,
  type ChainHead,
} from '../../domain/audit-record.js';
import { ChainMovedError, type AuditFilter, type AuditStore } from '../../ports/audit-store.js';
import type { AuditCheckpointsTable, AuditRecordsTable, Database } from './schema.js';

export function recordRow(record: AuditRecord): AuditRecordsTable {
  return {
    seq: record.seq,
    time: record.time,
    request_id: record.requestId,
    tenant_id: record.tenantId,
    principal_id: record.principalId,
    action: record.action,
    key_id: record.keyId ?? null,
    key_version: record.keyVersion ?? null,
    result: record.result,
    error_code: record.errorCode ?? null,
    source_ip: record.sourceIp,
    latency_ms: record.latencyMs,
    prev_hash: record.prevHash,
    hash: record.hash,
  };
}

/** Rows as stored, whatever they hold: the verifier, not this adapter, judges them. */
export function rowToRecord(row: Selectable<AuditRecordsTable>): AuditRecord {
  return {
    seq: Number(row.seq),
    time: row.time,
    requestId: row.request_id,
    tenantId: row.tenant_id,
    principalId: row.principal_id,
    action: row.action,
    ...(row.key_id === null ? {} : { keyId: row.key_id }),
    ...(row.key_version === null ? {} : { keyVersion: Number(row.key_version) }),
    result: row.result as AuditResult,
    ...(row.error_code === null ? {} : { errorCode: row.error_code }),
    sourceIp: row.source_ip,
    latencyMs: Number(row.latency_ms),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function rowToCheckpoint(row: Selectable<AuditCheckpointsTable>): AuditCheckpoint {
  return {
    seq: Number(row.seq),
    hash: row.hash,
    time: row.time,
    keyId: row.key_id,
    keyVersion: Number(row.key_version),
    algorithm: row.algorithm,
    signature: row.signature,
  };
}

/** The last record's seq and hash, in or outside a transaction. */
async function headOf(db: Kysely<Database> | Transaction<Database>): Promise<ChainHead | null> {
  const row = await db
    .selectFrom('audit_records')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

/**
 * A unique violation on seq: another writer's transaction took the same seq first (PostgreSQL
 * 23505 under READ COMMITTED, where both read the same head; SQLite's constraint codes, which its
 * write lock makes unlikely but not impossible with another program writing).
 */
export function isSeqTaken(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return true;
  }
  // The PostgreSQL driver maps a unique violation to a KmsError (postgres-errors.ts) that keeps the
  // driver's error as its cause: look there too, or two nodes' appends would never be retried.
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== error && isSeqTaken(cause);
}

/**
 * Chains `entry` onto the stored head and inserts it, inside the caller's transaction: the record
 * of a change written in the change's own transaction (a scheduled rotation), so that neither lands
 * without the other. Another writer taking the same seq first fails the transaction (isSeqTaken).
 */
export async function appendEntryIn(trx: Transaction<Database>, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('audit_records')
    .values(recordRow(chainRecord(await headOf(trx), entry)))
    .execute();
}

/**
 * How long a transaction that appends a record keeps being run again while other writers take its
 * seq first (PostgreSQL's READ COMMITTED lets both read one head): as the audit log's own appends.
 */
const SEQ_RETRY_MS = 3000;

/** Runs `transaction` again, from the start, while its record's seq was taken by another writer. */
export async function retryWhileSeqTaken<T>(transaction: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + SEQ_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (!isSeqTaken(error) || Date.now() >= giveUpAt) throw error;
      // Writers that keep colliding fall out of step after a random pause, growing up to 50 ms.
      await new Promise((turn) => setTimeout(turn, Math.random() * Math.min(50, 2 ** attempt)));
    }
  }
}

/** Inserts rows in one transaction: all or none (ChainMovedError when another writer was first). */
export interface AuditRowWriter {
  append(rows: readonly AuditRecordsTable[]): Promise<void>;
  close(): Promise<void>;
}

export class KyselyAuditStore implements AuditStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly writer?: AuditRowWriter,
  ) {}

  async appendRecords(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.writer) return this.writer.append(records.map(recordRow));
    try {
      await this.db.transaction().execute(async (trx) => {
        const head = await headOf(trx);
        if (
          records[0]!.prevHash !== (head?.hash ?? GENESIS_HASH) ||
          records[0]!.seq !== (head?.seq ?? 0) + 1
        ) {
          throw new ChainMovedError(head);
        }
        // SQLite caps bound parameters per statement: insert in slices.
        for (let i = 0; i < records.length; i += 50) {
          await trx
            .insertInto('audit_records')
            .values(records.slice(i, i + 50).map(recordRow))
            .execute();
        }
      });
    } catch (error) {
      if (isSeqTaken(error)) throw new ChainMovedError(undefined, { cause: error });
      throw error;
    }
  }

  head(): Promise<ChainHead | null> {
    return headOf(this.db);
  }

  async findRecords(filter: AuditFilter): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_records').selectAll();
    if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
    if (filter.from) query = query.where('time', '>=', filter.from.toISOString());
    if (filter.to) query = query.where('time', '<', filter.to.toISOString());
    if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
    if (filter.principalId !== undefined) query = query.where('principal_id', '=', filter.principalId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.result !== undefined) query = query.where('result', '=', filter.result);
    if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
    const rows = await query.orderBy('seq').limit(filter.limit).execute();
    return rows.map(rowToRecord);
  }

  async recordsAfter(afterSeq: number, limit: number, upTo?: number): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_records').selectAll().where('seq', '>', afterSeq);
    if (upTo !== undefined) query = query.where('seq', '<=', upTo);
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map(rowToRecord);
  }

  async firstSeqFrom(time: Date): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('audit_records')
      .select('seq')
      .where('time', '>=', time.toISOString())
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.seq) : undefined;
  }

  async lastSeqBefore(time: Date): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('audit_records')
      .select('seq')
      .where('time', '<', time.toISOString())
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.seq) : undefined;
  }

  async lastCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '<', seq)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? rowToCheckpoint(row) : undefined;
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    await this.db
      .insertInto('audit_checkpoints')
      .values({
        seq: checkpoint.seq,
        hash: checkpoint.hash,
        time: checkpoint.time,
        key_id: checkpoint.keyId,
        key_version: checkpoint.keyVersion,
        algorithm: checkpoint.algorithm,
        signature: checkpoint.signature,
      })
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
  }

  async checkpoints(afterSeq: number, upTo?: number): Promise<AuditCheckpoint[]> {
    let query = this.db.selectFrom('audit_checkpoints').selectAll().where('seq', '>', afterSeq);
    if (upTo !== undefined) query = query.where('seq', '<=', upTo);
    return (await query.orderBy('seq').execute()).map(rowToCheckpoint);
  }

  async close(): Promise<void> {
    await this.writer?.close();
  }

  async lastCheckpoint(): Promise<AuditCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? rowToCheckpoint(row) : undefined;
  }
}
