// Verification of the audit chain (formats in audit-record.ts), one record at a time: a log of
// millions of records is checked in bounded memory, as the store or an export file streams it.
//
// Records come in seq order, as stored. Checkpoints may come before the record they cover (they wait,
// few and all authentic: a forged one is reported, never kept), right after it, or after all the
// records: the hashes of the latest `rememberHashes` records (10 000 by default) are kept for them.
// A checkpoint that comes later than that is reported as unverifiable, never passed: a service
// verifying a longer range reads its checkpoints (few) first and adds them before the records.
//
// What the chain proves, and what it cannot: records up to the last checkpoint are signed, so any
// edit, removal, insertion, reordering or re-hashing of them is found, and so is a truncation that
// leaves that checkpoint behind. The records after it (`unsignedTail`) are only hash-linked: whoever
// can write the store can re-hash them, append to them, or cut them off unseen until the next
// checkpoint signs them, and removing checkpoints together with the records they cover goes unseen
// too. That is why checkpoints are written periodically and at shutdown, and why a copy of the latest
// one kept outside the store is worth having.
import {
  checkChainHead,
  checkpointSigningBytes,
  checkSignatureEncoding,
  GENESIS_HASH,
  recordHash,
  type AuditCheckpoint,
  type AuditRecord,
  type ChainHead,
} from './audit-record.js';
import { KmsError, validationError } from './errors.js';

/** The answer of GET /v1/logs/verify. */
export interface AuditVerification {
  valid: boolean;
  records: number;
  checkpoints: number;
  /** The lowest seq at which something is wrong, and what. */
  firstInvalid?: { seq: number; reason: string };
  /** Records after the last one a verified checkpoint covers: linked, not yet signed. */
  unsignedTail: number;
}

export interface AuditChainVerifierOptions {
  /**
   * Whether `checkpoint.signature` is a valid signature of `bytes` by the audit signing key. A
   * checkpoint names its key (keyId, keyVersion, algorithm), and anyone can sign with a key of their
   * own: accept only the keys the service signs checkpoints with. Throw when it cannot tell (the key
   * store is down); that is no verdict on the log.
   */
  verifyCheckpoint: (bytes: Buffer, checkpoint: AuditCheckpoint) => boolean;
  /**
   * The record just before the first one to verify (a range `?from=`), trusted. Absent: the chain
   * starts at seq 1 after GENESIS_HASH.
   */
  startAfter?: ChainHead;
  /** How many of the latest records' hashes are kept for checkpoints that come after them. */
  rememberHashes?: number;
}

const DEFAULT_REMEMBER_HASHES = 10_000;

export class AuditChainVerifier {
  private readonly verifyCheckpoint: AuditChainVerifierOptions['verifyCheckpoint'];
  private readonly anchorSeq: number;
  private readonly rememberHashes: number;
  private nextSeq: number;
  private lastHash: string;
  /** The highest seq of a record seen (the anchor's before any). */
  private lastSeq: number;
  /** The highest seq a verified checkpoint covers (the anchor's before any). */
  private signedThrough: number;
  /** The latest records' hashes, in slot seq % rememberHashes: a Map dropping its oldest doubled the cost. */
  private readonly recentSeqs: Float64Array;
  private readonly recentHashes: string[];
  /** The highest seq whose hash has been let go. */
  private forgottenThrough = 0;
  /** Authentic checkpoints whose record has not come yet, by seq. */
  private readonly waiting = new Map<number, AuditCheckpoint[]>();
  private records = 0;
  private checkpoints = 0;
  private firstInvalid: { seq: number; reason: string } | undefined;
  private result: AuditVerification | undefined;

  constructor(options: AuditChainVerifierOptions) {
    const { startAfter, rememberHashes = DEFAULT_REMEMBER_HASHES } = options;
    if (startAfter !== undefined) checkChainHead(startAfter, 'startAfter');
    if (!Number.isSafeInteger(rememberHashes) || rememberHashes < 1) {
      throw validationError('rememberHashes must be a positive integer');
    }
    this.verifyCheckpoint = options.verifyCheckpoint;
    this.rememberHashes = rememberHashes;
    this.recentSeqs = new Float64Array(rememberHashes);
    this.recentHashes = new Array<string>(rememberHashes);
    this.anchorSeq = startAfter?.seq ?? 0;
    this.nextSeq = this.anchorSeq + 1;
    this.lastHash = startAfter?.hash ?? GENESIS_HASH;
    this.lastSeq = this.anchorSeq;
    this.signedThrough = this.anchorSeq;
    if (startAfter) this.remember(startAfter.seq, startAfter.hash);
  }

  addRecord(record: AuditRecord): void {
    this.assertOpen();
    this.records++;
    const numbered = Number.isSafeInteger(record.seq) && record.seq >= 1;
    const seq = numbered ? record.seq : this.nextSeq;
    if (numbered) this.checkOrder(seq);
    const computed = this.contentHash(
      record,
      numbered ? `record ${seq}` : `the record after seq ${seq - 1}`,
      seq,
    );
    if (computed !== undefined && computed !== record.hash) {
      this.fail(seq, `record ${seq} does not match its hash (edited)`);
    } else if (computed !== undefined && seq === this.nextSeq && record.prevHash !== this.lastHash) {
      this.fail(seq, this.brokenLink(seq));
    }
    this.advance(seq, typeof record.hash === 'string' ? record.hash : '');
  }

  addCheckpoint(checkpoint: AuditCheckpoint): void {
    this.assertOpen();
    this.checkpoints++;
    const numbered = Number.isSafeInteger(checkpoint.seq) && checkpoint.seq >= 1;
    // An unnumbered checkpoint is reported where it came in: after the last record seen.
    const seq = numbered ? checkpoint.seq : Math.max(this.lastSeq, this.anchorSeq + 1);
    let bytes: Buffer;
    try {
      bytes = checkpointSigningBytes(checkpoint);
      checkSignatureEncoding(checkpoint);
    } catch (error) {
      if (!(error instanceof KmsError)) throw error;
      const label = numbered ? `checkpoint at seq ${seq}` : `a checkpoint after record ${this.lastSeq}`;
      this.fail(seq, `${label} is malformed: ${error.message}`);
      return;
    }
    if (!this.verifyCheckpoint(bytes, checkpoint)) {
      this.fail(seq, `checkpoint at seq ${seq} has a signature that does not verify (forged or altered)`);
      return;
    }
    if (seq > this.lastSeq) {
      const list = this.waiting.get(seq);
      if (list) list.push(checkpoint);
      else this.waiting.set(seq, [checkpoint]);
      return;
    }
    const hash = this.recalled(seq);
    if (hash === undefined) this.fail(seq, this.unmatchable(seq));
    else this.match(checkpoint, hash);
  }

  /** Whether something was found wrong already (the verdict can only say so too). */
  get broken(): boolean {
    return this.firstInvalid !== undefined;
  }

  /** The verdict; records and checkpoints can no longer be added. */
  finish(): AuditVerification {
    if (this.result) return this.result;
    let truncatedBefore: number | undefined;
    for (const seq of this.waiting.keys()) {
      if (seq <= this.lastSeq)
        this.fail(seq, `checkpoint at seq ${seq} covers record ${seq}, which is missing`);
      else truncatedBefore = Math.max(truncatedBefore ?? seq, seq);
    }
    if (truncatedBefore !== undefined) {
      const end =
        this.records === 0
          ? `there are no records${this.anchorSeq > 0 ? ` after seq ${this.anchorSeq}` : ''}`
          : `the records end at seq ${this.lastSeq}`;
      this.fail(
        this.lastSeq + 1,
        `truncated: the checkpoint at seq ${truncatedBefore} covers records up to ${truncatedBefore}, but ${end}`,
      );
    }
    this.waiting.clear();
    this.result = {
      valid: this.firstInvalid === undefined,
      records: this.records,
      checkpoints: this.checkpoints,
      ...(this.firstInvalid ? { firstInvalid: this.firstInvalid } : {}),
      unsignedTail: Math.max(0, this.lastSeq - this.signedThrough),
    };
    return this.result;
  }

  private checkOrder(seq: number): void {
    const expected = this.nextSeq;
    if (seq > expected) {
      const missing =
        seq - 1 === expected ? `record ${expected} is` : `records ${expected} to ${seq - 1} are`;
      this.fail(expected, `${missing} missing: the next record is ${seq} (removed, or records reordered)`);
    } else if (seq === expected - 1) {
      this.fail(seq, `record ${seq} appears twice (a record was inserted)`);
    } else if (seq < expected) {
      this.fail(seq, `seq goes back from ${expected - 1} to ${seq} (records reordered or inserted)`);
    }
  }

  /** The hash the record's content has, or undefined (reported) when the format cannot hold it. */
  private contentHash(record: AuditRecord, label: string, seq: number): string | undefined {
    try {
      return recordHash(record);
    } catch (error) {
      if (!(error instanceof KmsError)) throw error;
      this.fail(seq, `${label} is malformed: ${error.message}`);
      return undefined;
    }
  }

  private brokenLink(seq: number): string {
    const before = seq - 1;
    if (before === 0) return 'record 1 does not start the chain: its prevHash is not the genesis hash';
    if (before === this.anchorSeq) {
      return `record ${seq} does not follow the trusted anchor: its prevHash is not the hash of record ${before}`;
    }
    return (
      `record ${seq}'s prevHash is not the hash of record ${before}: ` +
      `the chain was re-hashed at record ${before} or ${seq} (edited, then re-hashed)`
    );
  }

  /** Moves on from the record at `seq`, in order or not, so one problem is reported once. */
  private advance(seq: number, hash: string): void {
    this.nextSeq = seq + 1;
    this.lastHash = hash;
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.remember(seq, hash);
    const waiting = this.waiting.get(seq);
    if (!waiting) return;
    this.waiting.delete(seq);
    for (const checkpoint of waiting) this.match(checkpoint, hash);
  }

  private remember(seq: number, hash: string): void {
    const slot = seq % this.rememberHashes;
    const replaced = this.recentSeqs[slot]!;
    if (replaced !== seq) this.forgottenThrough = Math.max(this.forgottenThrough, replaced);
    this.recentSeqs[slot] = seq;
    this.recentHashes[slot] = hash;
  }

  private recalled(seq: number): string | undefined {
    const slot = seq % this.rememberHashes;
    return this.recentSeqs[slot] === seq ? this.recentHashes[slot] : undefined;
  }

  /** Checks an authentic checkpoint against the stored hash of the record at its seq. */
  private match(checkpoint: AuditCheckpoint, hash: string): void {
    if (checkpoint.hash !== hash) {
      const seq = checkpoint.seq;
      this.fail(
        seq,
        `checkpoint at seq ${seq} does not match record ${seq}: it signs another hash ` +
          `(the records up to ${seq} were edited and re-hashed, or the checkpoint is from another log)`,
      );
    } else {
      this.signedThrough = Math.max(this.signedThrough, checkpoint.seq);
    }
  }

  private unmatchable(seq: number): string {
    if (seq < this.anchorSeq) {
      return `checkpoint at seq ${seq} is before the verified range, which starts after seq ${this.anchorSeq}`;
    }
    if (seq <= this.forgottenThrough) {
      return (
        `checkpoint at seq ${seq} came too late to be checked: ${this.lastSeq - seq} records after its ` +
        `record, and only the last ${this.rememberHashes} hashes are kept (add checkpoints first)`
      );
    }
    return `checkpoint at seq ${seq} covers record ${seq}, which is missing`;
  }

  /** Keeps the failure at the lowest seq: the first record affected, whatever came in first. */
  private fail(seq: number, reason: string): void {
    if (this.firstInvalid === undefined || seq < this.firstInvalid.seq) this.firstInvalid = { seq, reason };
  }

  private assertOpen(): void {
    if (this.result) throw new KmsError('Internal', 'the audit chain verifier has already finished');
  }
}
