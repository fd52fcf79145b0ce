// The audit log's formats (API.md "Identity, policy, tenants, audit"): pure, no I/O. Each record
// holds the hash of the one before it, so an edit, a removal, an insertion or a reordering breaks the
// chain; a checkpoint is a signature over one record's hash, so re-hashing the chain after an edit
// breaks it too. audit-verifier.ts checks both; audit-export.ts writes and reads them as JSON Lines.
//
// Record hash, format "kh-audit-v1": `hash` is the SHA-256 (lowercase hex) of these fields, in order:
//   text "kh-audit-v1", int seq, text time, text requestId, text tenantId, text principalId,
//   text action, opt text keyId, opt int keyVersion, text result, opt text errorCode,
//   text sourceIp, int latencyMs, hash prevHash
// Checkpoint signing bytes, format "kh-audit-checkpoint-v1" (what the audit signing key signs):
//   text "kh-audit-checkpoint-v1", int seq, hash hash, text time, text keyId, int keyVersion,
//   text algorithm
// text: uint32 BE byte length, then the UTF-8 bytes; int: uint64 BE; hash: the 32 bytes the 64 hex
// digits spell; opt: one byte, 0x00 for absent, or 0x01 followed by the value. Every field sits at a
// fixed place and delimits itself, so the bytes decode to exactly one record, and a record's bytes
// never equal a checkpoint's (their first fields differ). The values are checked before they are
// written, because two values that write the same bytes would break that: text must be well-formed
// Unicode (UTF-8 writes every lone surrogate as U+FFFD), integers safe and non-negative (seq from 1),
// time exactly as Date.toISOString writes it (UTC, milliseconds), result one of its three words.
// A later format gets a new tag; records of this one keep hashing as above.
import { createHash } from 'node:crypto';
import { isPaddedBase64 } from './base64.js';
import { validationError } from './errors.js';
import { assertWellFormed } from './unicode.js';

export const RECORD_FORMAT = 'kh-audit-v1';
export const CHECKPOINT_FORMAT = 'kh-audit-checkpoint-v1';

/** The `prevHash` of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

export type AuditResult = 'allow' | 'deny' | 'error';

export interface AuditRecord {
  /** The record's place in the chain: 1 for the first, then one more per record. */
  seq: number;
  /** When the request ended, as Date.toISOString writes it. */
  time: string;
  requestId: string;
  tenantId: string;
  principalId: string;
  action: string;
  keyId?: string;
  keyVersion?: number;
  result: AuditResult;
  errorCode?: string;
  /** '' for work the server starts itself (internalContext). */
  sourceIp: string;
  /** Whole milliseconds. */
  latencyMs: number;
  /** The previous record's hash; GENESIS_HASH for the first. */
  prevHash: string;
  /** SHA-256 (hex) of recordContentBytes. */
  hash: string;
}

/** What the service hands in: the record's fields but its place in the chain. */
export type AuditEntry = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>;

/** What a record's hash covers: every field but the hash. */
export type AuditRecordContent = Omit<AuditRecord, 'hash'>;

/** The end of a chain so far: the last record's seq and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface AuditCheckpoint {
  /** The last record covered. */
  seq: number;
  /** That record's hash. */
  hash: string;
  time: string;
  /** The signing key: its id, version and signing algorithm (API.md names, e.g. ED25519_SHA_512). */
  keyId: string;
  keyVersion: number;
  algorithm: string;
  /** Standard base64 of the signature over checkpointSigningBytes. */
  signature: string;
}

export type UnsignedAuditCheckpoint = Omit<AuditCheckpoint, 'signature'>;

type FieldKind = 'seq' | 'int' | 'text' | 'time' | 'result' | 'hash' | 'signature';

interface Field<T> {
  name: keyof T & string;
  kind: FieldKind;
  optional?: boolean;
}

// The tables below are the formats: the hashed and signed bytes, the export's field order and the
// fields a parsed line may hold all follow them (recordContent spells the same order out by hand).
const RECORD_CONTENT_FIELDS: readonly Field<AuditRecordContent>[] = [
  { name: 'seq', kind: 'seq' },
  { name: 'time', kind: 'time' },
  { name: 'requestId', kind: 'text' },
  { name: 'tenantId', kind: 'text' },
  { name: 'principalId', kind: 'text' },
  { name: 'action', kind: 'text' },
  { name: 'keyId', kind: 'text', optional: true },
  { name: 'keyVersion', kind: 'int', optional: true },
  { name: 'result', kind: 'result' },
  { name: 'errorCode', kind: 'text', optional: true },
  { name: 'sourceIp', kind: 'text' },
  { name: 'latencyMs', kind: 'int' },
  { name: 'prevHash', kind: 'hash' },
];
const RECORD_FIELDS: readonly Field<AuditRecord>[] = [
  ...RECORD_CONTENT_FIELDS,
  { name: 'hash', kind: 'hash' },
];
const CHECKPOINT_SIGNED_FIELDS: readonly Field<UnsignedAuditCheckpoint>[] = [
  { name: 'seq', kind: 'seq' },
  { name: 'hash', kind: 'hash' },
  { name: 'time', kind: 'time' },
  { name: 'keyId', kind: 'text' },
  { name: 'keyVersion', kind: 'int' },
  { name: 'algorithm', kind: 'text' },
];
const CHECKPOINT_FIELDS: readonly Field<AuditCheckpoint>[] = [
  ...CHECKPOINT_SIGNED_FIELDS,
  { name: 'signature', kind: 'signature' },
];

/** A record's fields in format order, as an export line lists them. */
export const AUDIT_RECORD_FIELDS: readonly (keyof AuditRecord)[] = RECORD_FIELDS.map((f) => f.name);
/** A checkpoint's fields in format order. */
export const AUDIT_CHECKPOINT_FIELDS: readonly (keyof AuditCheckpoint)[] = CHECKPOINT_FIELDS.map(
  (f) => f.name,
);

/**
 * The bytes a record's hash covers (format "kh-audit-v1" above). Throws ValidationError naming the
 * first field whose value the format cannot hold.
 */
export function recordContentBytes(record: AuditRecordContent): Buffer {
  return encodeFields(RECORD_FORMAT, RECORD_CONTENT_FIELDS, record, 'record');
}

/** SHA-256, lowercase hex, of recordContentBytes. */
export function recordHash(record: AuditRecordContent): string {
  return createHash('sha256').update(recordContentBytes(record)).digest('hex');
}

/**
 * The record that follows `prev` (null: the first record, seq 1 after GENESIS_HASH). Only the
 * entry's own fields are taken, so a caller's extra properties never reach the log. Text fields must
 * be well-formed Unicode: pass text that came from a request through String.prototype.toWellFormed.
 */
export function chainRecord(prev: ChainHead | null, entry: AuditEntry): AuditRecord {
  if (prev !== null) checkChainHead(prev, 'the previous record');
  const record = recordContent(
    entry,
    prev === null ? 1 : prev.seq + 1,
    prev === null ? GENESIS_HASH : prev.hash,
  );
  (record as AuditRecord).hash = recordHash(record);
  return record as AuditRecord;
}

/**
 * A new object with the content fields in format order and no absent optional ones. Built one named
 * property at a time, in the tables' order: copying by the table, or spreading, cost many times as
 * much, on every request's record.
 */
function recordContent(entry: AuditEntry, seq: number, prevHash: string): AuditRecordContent {
  const record: Partial<AuditRecordContent> = { seq };
  record.time = entry.time;
  record.requestId = entry.requestId;
  record.tenantId = entry.tenantId;
  record.principalId = entry.principalId;
  record.action = entry.action;
  if (entry.keyId !== undefined) record.keyId = entry.keyId;
  if (entry.keyVersion !== undefined) record.keyVersion = entry.keyVersion;
  record.result = entry.result;
  if (entry.errorCode !== undefined) record.errorCode = entry.errorCode;
  record.sourceIp = entry.sourceIp;
  record.latencyMs = entry.latencyMs;
  record.prevHash = prevHash;
  return record as AuditRecordContent;
}

/** Throws ValidationError unless `head` names a record: a seq from 1 and a 64-hex-digit hash. */
export function checkChainHead(head: ChainHead, at: string): void {
  checkValue('seq', head.seq, at, 'seq');
  checkValue('hash', head.hash, at, 'hash');
}

/** The bytes the audit signing key signs for a checkpoint (format "kh-audit-checkpoint-v1" above). */
export function checkpointSigningBytes(checkpoint: UnsignedAuditCheckpoint): Buffer {
  return encodeFields(CHECKPOINT_FORMAT, CHECKPOINT_SIGNED_FIELDS, checkpoint, 'checkpoint');
}

/** Throws ValidationError unless the signature is standard base64; whether it verifies is not asked. */
export function checkSignatureEncoding(checkpoint: Pick<AuditCheckpoint, 'signature'>): void {
  checkValue('signature', checkpoint.signature, 'checkpoint', 'signature');
}

/**
 * Checks that `input` is a record: no field missing, none unknown, every value one the format holds
 * (the hash is not checked against the content: that is the verifier's finding to report). `at`
 * prefixes every message, e.g. "line 7: record".
 */
export function parseAuditRecord(input: unknown, at = 'record'): AuditRecord {
  const raw = checkFields(RECORD_FIELDS, input, at) as unknown as AuditRecord;
  const record = recordContent(raw, raw.seq, raw.prevHash) as AuditRecord;
  record.hash = raw.hash;
  return record;
}

/** Checks that `input` is a checkpoint, as parseAuditRecord does for records (not its signature). */
export function parseAuditCheckpoint(input: unknown, at = 'checkpoint'): AuditCheckpoint {
  const raw = checkFields(CHECKPOINT_FIELDS, input, at) as unknown as AuditCheckpoint;
  return {
    seq: raw.seq,
    hash: raw.hash,
    time: raw.time,
    keyId: raw.keyId,
    keyVersion: raw.keyVersion,
    algorithm: raw.algorithm,
    signature: raw.signature,
  };
}

function checkFields<T>(fields: readonly Field<T>[], input: unknown, at: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw validationError(`${at} must be an object`);
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!fields.some((field) => field.name === key)) throw validationError(`${at}: unknown field "${key}"`);
  }
  for (const field of fields) {
    if (field.optional && raw[field.name] === undefined) continue;
    checkValue(field.kind, raw[field.name], at, field.name);
  }
  return raw;
}

/** Sizes, checks, then writes the fields into one buffer. */
function encodeFields<T>(format: string, fields: readonly Field<T>[], source: T, what: string): Buffer {
  const values = source as Record<string, unknown>;
  let size = 4 + Buffer.byteLength(format, 'utf8');
  for (const field of fields) {
    const value = values[field.name];
    if (field.optional) {
      size += 1;
      if (value === undefined) continue;
    }
    checkValue(field.kind, value, what, field.name);
    size += encodedSize(field.kind, value);
  }
  const out = Buffer.allocUnsafe(size);
  let offset = writeText(out, 0, format);
  for (const field of fields) {
    const value = values[field.name];
    if (field.optional) {
      out[offset++] = value === undefined ? 0 : 1;
      if (value === undefined) continue;
    }
    offset = writeValue(out, offset, field.kind, value);
  }
  return out;
}

/** The bytes a value checkValue accepted takes. */
function encodedSize(kind: FieldKind, value: unknown): number {
  if (kind === 'seq' || kind === 'int') return 8;
  if (kind === 'hash') return 32;
  return 4 + Buffer.byteLength(value as string, 'utf8');
}

/** Writes a value checkValue accepted at `offset`; returns the offset after it. */
function writeValue(out: Buffer, offset: number, kind: FieldKind, value: unknown): number {
  switch (kind) {
    case 'seq':
    case 'int': {
      const n = value as number;
      out.writeUInt32BE(Math.floor(n / 2 ** 32), offset);
      out.writeUInt32BE(n >>> 0, offset + 4);
      return offset + 8;
    }
    case 'hash':
      return offset + out.write(value as string, offset, 'hex');
    case 'text':
    case 'time':
    case 'result':
    case 'signature':
      return writeText(out, offset, value as string);
  }
}

function writeText(out: Buffer, offset: number, text: string): number {
  const length = out.write(text, offset + 4, 'utf8');
  out.writeUInt32BE(length, offset);
  return offset + 4 + length;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const RESULTS: readonly unknown[] = ['allow', 'deny', 'error'] satisfies AuditResult[];

/** Throws ValidationError unless `value` is one the format holds for `kind` (named `at`.`name`). */
function checkValue(kind: FieldKind, value: unknown, at: string, name: string): void {
  const problem = valueProblem(kind, value);
  if (problem !== undefined) throw validationError(`${at}.${name} ${problem}`);
  if (kind === 'text') assertWellFormed(value as string, `${at}.${name}`);
}

function valueProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case 'seq':
      return Number.isSafeInteger(value) && (value as number) >= 1
        ? undefined
        : 'must be an integer from 1 to 2^53 - 1';
    case 'int':
      return Number.isSafeInteger(value) && (value as number) >= 0
        ? undefined
        : 'must be an integer from 0 to 2^53 - 1';
    case 'text':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'time':
      return typeof value === 'string' && isIsoMilliseconds(value)
        ? undefined
        : 'must be a UTC time such as 2026-03-01T12:00:00.000Z';
    case 'result':
      return RESULTS.includes(value) ? undefined : 'must be "allow", "deny" or "error"';
    case 'hash':
      return typeof value === 'string' && HEX_SHA256.test(value)
        ? undefined
        : 'must be 64 lowercase hex digits';
    case 'signature':
      return typeof value === 'string' && value !== '' && isPaddedBase64(value)
        ? undefined
        : 'must be standard base64 with padding';
  }
}

const ISO_MILLISECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Exactly Date.toISOString's form of a real instant: no 2026-02-30, no offset, no missing ms. */
function isIsoMilliseconds(text: string): boolean {
  if (!ISO_MILLISECONDS.test(text)) return false;
  // Digits by position, "YYYY-MM-DDTHH:mm:ss.sssZ": cheaper than Date.parse on every record.
  const digits = (from: number, count: number) => {
    let n = 0;
    for (let i = from; i < from + count; i++) n = n * 10 + text.charCodeAt(i) - 48;
    return n;
  };
  const year = digits(0, 4);
  const month = digits(5, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  const day = digits(8, 2);
  return (
    monthDays !== undefined &&
    day >= 1 &&
    day <= monthDays &&
    digits(11, 2) <= 23 &&
    digits(14, 2) <= 59 &&
    digits(17, 2) <= 59
  );
}
