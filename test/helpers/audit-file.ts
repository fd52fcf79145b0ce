// The audit chain as someone holding the SQLite file sees and rewrites it (the tamper tests).
import type Database from 'better-sqlite3';
import { rowToRecord } from '../../src/adapters/metadata/kysely-audit-store.js';
import type { AuditRecordsTable } from '../../src/adapters/metadata/schema.js';
import { GENESIS_HASH, recordHash, type AuditRecord } from '../../src/domain/audit-record.js';

/** The records as stored, in seq order, read with the adapter's own row mapping. */
export function auditRecords(db: Database.Database): AuditRecord[] {
  return (db.prepare('select * from audit_records order by seq').all() as AuditRecordsTable[]).map(
    rowToRecord,
  );
}

/**
 * Recomputes prev_hash and hash from `fromSeq` on, as an attacker covering an edit would; returns
 * every record's hash afterwards, by seq.
 */
export function rehashFrom(db: Database.Database, fromSeq: number): Map<number, string> {
  const all = auditRecords(db);
  const update = db.prepare('update audit_records set prev_hash = ?, hash = ? where seq = ?');
  const hashes = new Map(all.map((r) => [r.seq, r.hash]));
  let prev = all.find((r) => r.seq === fromSeq - 1)?.hash ?? GENESIS_HASH;
  for (const record of all.filter((r) => r.seq >= fromSeq)) {
    const hash = recordHash({ ...record, prevHash: prev });
    update.run(prev, hash, record.seq);
    hashes.set(record.seq, hash);
    prev = hash;
  }
  return hashes;
}
