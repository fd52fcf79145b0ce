// The audit export (GET /v1/logs/export): JSON Lines, one record or checkpoint a line, its fields in
// format order (audit-record.ts), so that an offline verifier can stream a file through
// AuditChainVerifier line by line:
//   {"type":"record","record":{"seq":1,"time":"2026-03-01T12:00:00.000Z",...,"hash":"9f2c..."}}
//   {"type":"checkpoint","checkpoint":{"seq":10,"hash":"4be1...",...,"signature":"MEUCIQ..."}}
// Writers put each checkpoint right after the record it covers. A record of a later format will name
// it in a field of its own; records without one are kh-audit-v1.
import {
  AUDIT_CHECKPOINT_FIELDS,
  AUDIT_RECORD_FIELDS,
  parseAuditCheckpoint,
  parseAuditRecord,
  type AuditCheckpoint,
  type AuditRecord,
} from './audit-record.js';
import { KmsError, validationError } from './errors.js';

export type AuditExportItem =
  { type: 'record'; record: AuditRecord } | { type: 'checkpoint'; checkpoint: AuditCheckpoint };

/** Far above any real line (ids, an action, an address, hashes), far below a memory problem. */
export const MAX_EXPORT_LINE_LENGTH = 65_536;

/**
 * One line of the export, without its newline. Only the format's fields are written, in format
 * order, whatever else the stored row carries; values are not checked, so that a tampered row is
 * exported as it is and the verifier reports it.
 */
export function exportLine(item: AuditExportItem): string {
  return item.type === 'record'
    ? JSON.stringify({ type: 'record', record: pick(item.record, AUDIT_RECORD_FIELDS) })
    : JSON.stringify({ type: 'checkpoint', checkpoint: pick(item.checkpoint, AUDIT_CHECKPOINT_FIELDS) });
}

/**
 * Reads one line of an export (`lineNumber` from 1, for the messages). Throws ValidationError naming
 * the line and the first problem: not JSON, an unknown type or field, a missing field, a value the
 * format cannot hold. Whether the record matches its hash is the verifier's question, not this one's.
 */
export function parseExportLine(line: string, lineNumber: number): AuditExportItem {
  const at = `line ${lineNumber}`;
  if (line.length > MAX_EXPORT_LINE_LENGTH) {
    throw validationError(`${at} is longer than ${MAX_EXPORT_LINE_LENGTH} characters`);
  }
  if (line.trim() === '') throw validationError(`${at} is empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new KmsError('ValidationError', `${at} is not JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw validationError(`${at} must be a JSON object`);
  }
  const raw = parsed as Record<string, unknown>;
  if (raw.type === 'record') {
    onlyKeys(raw, ['type', 'record'], at);
    return { type: 'record', record: parseAuditRecord(raw.record, `${at}: record`) };
  }
  if (raw.type === 'checkpoint') {
    onlyKeys(raw, ['type', 'checkpoint'], at);
    return { type: 'checkpoint', checkpoint: parseAuditCheckpoint(raw.checkpoint, `${at}: checkpoint`) };
  }
  throw validationError(`${at}: type must be "record" or "checkpoint"`);
}

function pick<T extends object>(source: T, fields: readonly (keyof T)[]): Partial<T> {
  const picked: Partial<T> = {};
  for (const field of fields) picked[field] = source[field];
  return picked;
}

function onlyKeys(raw: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) throw validationError(`${at}: unknown field "${key}"`);
  }
}
