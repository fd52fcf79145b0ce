// Reading the audit chain back for verification and export: the server (AuditLog) and the offline
// `keyhaven audit verify` (on a database file) walk it the same way and check checkpoint signatures
// the same way.
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import type { AuditExportItem } from '../domain/audit-export.js';
import type { AuditCheckpoint } from '../domain/audit-record.js';
import type { AuditStore } from '../ports/audit-store.js';

/** The algorithm audit checkpoints are signed with (the system key is ECDSA P-256, DER signatures). */
export const CHECKPOINT_ALGORITHM = 'ECDSA_SHA_256';
const PAGE = 1000;

/**
 * Records with seq in (afterSeq, upTo] in order, in pages, each checkpoint right after its record;
 * checkpoints at seqs no record has (a deleted record's) after the page; and when the walk runs to
 * the present (no upTo), the checkpoints beyond the last record (a truncated tail) at the end.
 */
export async function* walkChain(
  store: AuditStore,
  afterSeq: number,
  upTo?: number,
): AsyncGenerator<AuditExportItem> {
  let after = afterSeq;
  for (;;) {
    const records = await store.recordsAfter(after, PAGE, upTo);
    if (records.length === 0) break;
    const last = records[records.length - 1]!.seq;
    const checkpoints = new Map((await store.checkpoints(after, last)).map((c) => [c.seq, c]));
    const seen = new Set<number>();
    for (const record of records) {
      seen.add(record.seq);
      yield { type: 'record', record };
      const checkpoint = checkpoints.get(record.seq);
      if (checkpoint) yield { type: 'checkpoint', checkpoint };
    }
    for (const [seq, checkpoint] of checkpoints) {
      if (!seen.has(seq)) yield { type: 'checkpoint', checkpoint };
    }
    after = last;
    if (records.length < PAGE) break;
  }
  if (upTo === undefined) {
    for (const checkpoint of await store.checkpoints(after)) yield { type: 'checkpoint', checkpoint };
  }
}

/**
 * A checkpoint is authentic if it names a known key (`keyId:version`) and the signature verifies;
 * with `pinned`, any checkpoint signed by that one key (offline verification with a pinned key).
 */
export function checkpointVerifier(
  keys: ReadonlyMap<string, KeyObject>,
  pinned?: KeyObject,
): (bytes: Buffer, checkpoint: AuditCheckpoint) => boolean {
  return (bytes, checkpoint) => {
    const key = pinned ?? keys.get(`${checkpoint.keyId}:${checkpoint.keyVersion}`);
    if (!key || checkpoint.algorithm !== CHECKPOINT_ALGORITHM) return false;
    return verifySignature(
      'sha256',
      bytes,
      { key, dsaEncoding: 'der' },
      Buffer.from(checkpoint.signature, 'base64'),
    );
  };
}
