import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  exportLine,
  MAX_EXPORT_LINE_LENGTH,
  parseExportLine,
  type AuditExportItem,
} from '../../src/domain/audit-export.js';
import {
  CHECKPOINT_FORMAT,
  chainRecord,
  checkpointSigningBytes,
  GENESIS_HASH,
  RECORD_FORMAT,
  recordContentBytes,
  recordHash,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditRecord,
  type AuditRecordContent,
  type ChainHead,
  type UnsignedAuditCheckpoint,
} from '../../src/domain/audit-record.js';
import {
  AuditChainVerifier,
  type AuditChainVerifierOptions,
  type AuditVerification,
} from '../../src/domain/audit-verifier.js';
import { KmsError } from '../../src/domain/errors.js';

const FIRST_ENTRY: AuditEntry = {
  time: '2026-03-01T12:00:00.000Z',
  requestId: 'req-1',
  tenantId: 'acme',
  principalId: 'p-1',
  action: 'Encrypt',
  keyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  keyVersion: 2,
  result: 'allow',
  sourceIp: '10.0.0.1',
  latencyMs: 3,
};
const SECOND_ENTRY: AuditEntry = {
  time: '2026-03-01T12:00:01.250Z',
  requestId: 'req-2',
  tenantId: 'acme',
  principalId: 'system',
  action: 'ListKeys',
  result: 'error',
  errorCode: 'Unavailable',
  sourceIp: '',
  latencyMs: 0,
};

const content = (overrides: Partial<AuditRecordContent> = {}): AuditRecordContent => ({
  seq: 7,
  ...FIRST_ENTRY,
  prevHash: 'ab'.repeat(32),
  ...overrides,
});

/** Content with one field taken out, for optional fields set to absent. */
function without(
  record: AuditRecordContent,
  field: 'keyId' | 'keyVersion' | 'errorCode',
): AuditRecordContent {
  const copy = { ...record };
  delete copy[field];
  return copy;
}

/** Calls `f` with a value its types refuse, as a JavaScript caller or a database row could. */
const untyped = <T>(value: unknown): T => value as T;

function expectValidationError(f: () => unknown, message: RegExp): void {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError);
    expect((error as KmsError).code).toBe('ValidationError');
    expect((error as KmsError).message).toMatch(message);
    return;
  }
  throw new Error('expected a ValidationError');
}

// An independent reading of the format as the module header documents it: decoding every byte back
// to one record proves the encoding injective.
function decodeRecordContent(bytes: Buffer): AuditRecordContent {
  let offset = 0;
  const text = () => {
    const length = bytes.readUInt32BE(offset);
    const value = bytes.toString('utf8', offset + 4, offset + 4 + length);
    offset += 4 + length;
    return value;
  };
  const int = () => {
    const value = Number(bytes.readBigUInt64BE(offset));
    offset += 8;
    return value;
  };
  const optional = <T>(read: () => T): T | undefined => (bytes[offset++] === 1 ? read() : undefined);
  expect(text()).toBe('kh-audit-v1');
  const decoded: Record<string, unknown> = {
    seq: int(),
    time: text(),
    requestId: text(),
    tenantId: text(),
    principalId: text(),
    action: text(),
    keyId: optional(text),
    keyVersion: optional(int),
    result: text(),
    errorCode: optional(text),
    sourceIp: text(),
    latencyMs: int(),
    prevHash: bytes.toString('hex', offset, offset + 32),
  };
  offset += 32;
  expect(offset).toBe(bytes.length);
  for (const key of Object.keys(decoded)) if (decoded[key] === undefined) delete decoded[key];
  return decoded as unknown as AuditRecordContent;
}

describe('audit record format kh-audit-v1', () => {
  it('hashes to pinned values, computed by an independent implementation of the documented format', () => {
    // Python, from the module header: struct.pack('>I', len) + utf8 for text, '>Q' for integers.
    const first = chainRecord(null, FIRST_ENTRY);
    const second = chainRecord(first, SECOND_ENTRY);
    expect(first.hash).toBe('80f7160adb87d95728a69145be8bfa6dbbd939f5ee93f9f247a914d31a6a08f6');
    expect(second.hash).toBe('7a0ae0776b4dd11f5420967ab301e2ddfd13c959e735b6f5e647b1de566cb368');
  });

  it('writes the fields in the documented order, each delimiting itself', () => {
    const text = (value: string) => {
      const bytes = Buffer.from(value, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const int = (value: number) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64BE(BigInt(value));
      return bytes;
    };
    const record = { ...chainRecord(null, FIRST_ENTRY), seq: 2, keyVersion: undefined, errorCode: 'X' };
    const expected = Buffer.concat([
      text('kh-audit-v1'),
      int(2),
      text('2026-03-01T12:00:00.000Z'),
      text('req-1'),
      text('acme'),
      text('p-1'),
      text('Encrypt'),
      Buffer.from([1]),
      text('1b4e28ba-2fa1-11d2-883f-0016d3cca427'),
      Buffer.from([0]),
      text('allow'),
      Buffer.from([1]),
      text('X'),
      text('10.0.0.1'),
      int(3),
      Buffer.alloc(32),
    ]);
    expect(recordContentBytes(record).toString('hex')).toBe(expected.toString('hex'));
    expect(recordHash(record)).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('decodes back to exactly the record it encodes, whatever the text holds', () => {
    const tricky = [
      '',
      '\u0000',
      '\u0000\u0000\u0000\u0001',
      '","',
      'é',
      'e\u0301',
      '😀',
      'a'.repeat(70_000),
    ];
    for (const value of tricky) {
      for (const record of [
        content({ requestId: value }),
        content({ sourceIp: value, keyId: value, errorCode: value }),
        without(without(content({ action: value }), 'keyId'), 'keyVersion'),
      ]) {
        expect(decodeRecordContent(recordContentBytes(record))).toEqual(record);
      }
    }
  });

  it.each<[string, AuditRecordContent, AuditRecordContent]>([
    [
      'a field boundary moved',
      content({ requestId: 'a', tenantId: 'bc' }),
      content({ requestId: 'ab', tenantId: 'c' }),
    ],
    [
      'a value holding the bytes of a boundary',
      content({ requestId: 'a\u0000\u0000\u0000\u0004acme', tenantId: '' }),
      content({ requestId: 'a', tenantId: 'acme' }),
    ],
    [
      'JSON separators in a value',
      content({ requestId: 'a","b' }),
      content({ requestId: 'a', tenantId: 'b' }),
    ],
    ['keyId "" vs absent', content({ keyId: '' }), without(content(), 'keyId')],
    ['errorCode "" vs absent', content({ errorCode: '' }), content()],
    ['keyVersion 0 vs absent', content({ keyVersion: 0 }), without(content(), 'keyVersion')],
    [
      'keyId "1" without a version vs a version 1 without keyId',
      without(content({ keyId: '1' }), 'keyVersion'),
      without(content({ keyVersion: 1 }), 'keyId'),
    ],
    ['composed vs decomposed é', content({ principalId: 'é' }), content({ principalId: 'e\u0301' })],
    ['seq 1 vs seq 256', content({ seq: 1 }), content({ seq: 256 })],
  ])('tells apart %s', (_name, a, b) => {
    expect(recordContentBytes(a).equals(recordContentBytes(b))).toBe(false);
    expect(recordHash(a)).not.toBe(recordHash(b));
  });

  it.each<[string, Partial<Record<keyof AuditRecordContent, unknown>>, RegExp]>([
    ['keyVersion "1" (a string)', { keyVersion: '1' }, /record\.keyVersion must be an integer/],
    ['latencyMs 1.5', { latencyMs: 1.5 }, /record\.latencyMs must be an integer/],
    ['latencyMs -1', { latencyMs: -1 }, /record\.latencyMs/],
    ['keyVersion NaN', { keyVersion: Number.NaN }, /record\.keyVersion/],
    ['seq 0', { seq: 0 }, /record\.seq must be an integer from 1/],
    ['seq 2^53', { seq: 2 ** 53 }, /record\.seq/],
    ['a lone surrogate (UTF-8 would write it as U+FFFD)', { principalId: '\ud800' }, /well-formed Unicode/],
    ['keyId null', { keyId: null }, /record\.keyId must be a string/],
    ['requestId missing', { requestId: undefined }, /record\.requestId must be a string/],
    ['a time without milliseconds', { time: '2026-03-01T12:00:00Z' }, /record\.time/],
    ['a time with an offset', { time: '2026-03-01T13:00:00.000+01:00' }, /record\.time/],
    ['a day that does not exist', { time: '2026-02-30T12:00:00.000Z' }, /record\.time/],
    ['result "ALLOW"', { result: 'ALLOW' }, /record\.result/],
    ['an uppercase prevHash', { prevHash: 'AB'.repeat(32) }, /record\.prevHash must be 64 lowercase hex/],
    ['a short prevHash', { prevHash: 'ab' }, /record\.prevHash/],
  ])('refuses %s, which could share bytes with another record', (_name, overrides, message) => {
    expectValidationError(() => recordContentBytes(untyped({ ...content(), ...overrides })), message);
  });

  it('takes as a time exactly what Date.toISOString writes', () => {
    const isoOf = (text: string) => {
      const ms = Date.parse(text);
      return Number.isFinite(ms) && new Date(ms).toISOString() === text;
    };
    const accepts = (time: string) => {
      try {
        recordContentBytes(content({ time }));
        return true;
      } catch {
        return false;
      }
    };
    const candidates: string[] = [];
    for (const year of ['0000', '1900', '2000', '2024', '2026', '9999']) {
      for (const date of [
        '01-01',
        '02-28',
        '02-29',
        '02-30',
        '04-30',
        '04-31',
        '12-31',
        '13-01',
        '00-10',
        '05-00',
      ]) {
        for (const clock of [
          '00:00:00.000',
          '23:59:59.999',
          '24:00:00.000',
          '12:60:00.000',
          '12:00:60.000',
        ]) {
          candidates.push(`${year}-${date}T${clock}Z`);
        }
      }
    }
    for (let i = 0; i < 2_000; i++)
      candidates.push(new Date(Math.floor(Math.random() * 253402300800000)).toISOString());
    for (const time of candidates) expect([time, accepts(time)]).toEqual([time, isoOf(time)]);
  });

  it('keeps record bytes and checkpoint bytes apart by their leading format tags', () => {
    const record = recordContentBytes(content());
    const checkpoint = checkpointSigningBytes({
      seq: 7,
      hash: 'ab'.repeat(32),
      time: FIRST_ENTRY.time,
      keyId: 'k',
      keyVersion: 1,
      algorithm: 'ED25519_SHA_512',
    });
    expect(record.subarray(4, 4 + record.readUInt32BE(0)).toString()).toBe(RECORD_FORMAT);
    expect(checkpoint.subarray(4, 4 + checkpoint.readUInt32BE(0)).toString()).toBe(CHECKPOINT_FORMAT);
  });

  it('signs checkpoints over pinned bytes, computed by an independent implementation', () => {
    const bytes = checkpointSigningBytes({
      seq: 2,
      hash: '7a0ae0776b4dd11f5420967ab301e2ddfd13c959e735b6f5e647b1de566cb368',
      time: '2026-03-01T12:00:02.000Z',
      keyId: '3f0e6a54-8d1b-4c1e-9a4e-2c8f6d1b7e90',
      keyVersion: 1,
      algorithm: 'ED25519_SHA_512',
    });
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      'eb21eb5b03493acd8275f5f1141f245a46c12464d7895ddf7be86ab27a62fe0d',
    );
  });
});

describe('chainRecord', () => {
  it('starts the chain at seq 1 after the genesis hash', () => {
    const record = chainRecord(null, FIRST_ENTRY);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    expect(record).toEqual({ ...FIRST_ENTRY, seq: 1, prevHash: GENESIS_HASH, hash: record.hash });
    const { hash, ...recordContent } = record;
    expect(hash).toBe(recordHash(recordContent));
  });

  it('follows the previous record: one more seq, its hash as prevHash', () => {
    const first = chainRecord(null, FIRST_ENTRY);
    const second = chainRecord(first, SECOND_ENTRY);
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first.hash);
    expect(chainRecord({ seq: 41, hash: 'cd'.repeat(32) }, SECOND_ENTRY)).toMatchObject({
      seq: 42,
      prevHash: 'cd'.repeat(32),
    });
  });

  it('takes only the entry’s own fields, in format order, and no absent optional ones', () => {
    const entry = untyped<AuditEntry>({ ...SECOND_ENTRY, keyId: undefined, plaintext: 'never logged' });
    const record: AuditRecord = chainRecord(null, entry);
    expect(Object.keys(record)).toEqual([
      'seq',
      'time',
      'requestId',
      'tenantId',
      'principalId',
      'action',
      'result',
      'errorCode',
      'sourceIp',
      'latencyMs',
      'prevHash',
      'hash',
    ]);
  });

  it('refuses a previous record that is not one, and an entry the format cannot hold', () => {
    expectValidationError(
      () => chainRecord({ seq: 0, hash: GENESIS_HASH }, FIRST_ENTRY),
      /previous record\.seq/,
    );
    expectValidationError(() => chainRecord({ seq: 1, hash: 'abc' }, FIRST_ENTRY), /previous record\.hash/);
    expectValidationError(
      () => chainRecord(null, { ...FIRST_ENTRY, principalId: 'p-\udc00' }),
      /record\.principalId must be well-formed Unicode/,
    );
  });
});

// ---- The verifier, over a log of 50 records and checkpoints at 10, 20, 30 and 40 ----

const AUDIT_KEY = {
  keyId: '3f0e6a54-8d1b-4c1e-9a4e-2c8f6d1b7e90',
  keyVersion: 2,
  algorithm: 'ED25519_SHA_512',
};
const auditKey = generateKeyPairSync('ed25519');
const attackerKey = generateKeyPairSync('ed25519');

/** Accepts only the audit key, as a service must: a checkpoint names its key, anyone can sign. */
function verifyCheckpoint(bytes: Buffer, checkpoint: AuditCheckpoint): boolean {
  return (
    checkpoint.keyId === AUDIT_KEY.keyId &&
    checkpoint.keyVersion === AUDIT_KEY.keyVersion &&
    checkpoint.algorithm === AUDIT_KEY.algorithm &&
    verify(null, bytes, auditKey.publicKey, Buffer.from(checkpoint.signature, 'base64'))
  );
}

function signCheckpoint(head: ChainHead, privateKey: KeyObject = auditKey.privateKey): AuditCheckpoint {
  const unsigned: UnsignedAuditCheckpoint = {
    seq: head.seq,
    hash: head.hash,
    time: new Date(Date.UTC(2026, 2, 1, 13, 0, head.seq)).toISOString(),
    ...AUDIT_KEY,
  };
  return {
    ...unsigned,
    signature: sign(null, checkpointSigningBytes(unsigned), privateKey).toString('base64'),
  };
}

const ACTIONS = [
  'Encrypt',
  'Decrypt',
  'CreateKey',
  'Sign',
  'ListKeys',
  'GenerateDataKey',
  'ScheduleKeyDeletion',
];
const RESULTS = ['allow', 'deny', 'error'] as const;

/** Mixed entries: every result, on a key (even i) or not, internal work ('' address) now and then. */
function entry(i: number): AuditEntry {
  const result = RESULTS[i % 3]!;
  return {
    time: new Date(Date.UTC(2026, 2, 1, 12, 0, 0, i * 137)).toISOString(),
    requestId: `req-${i}`,
    tenantId: i % 5 === 0 ? 'globex' : 'acme',
    principalId: i % 10 === 0 ? 'system' : `p-${i % 4}`,
    action: ACTIONS[i % ACTIONS.length]!,
    ...(i % 2 === 0
      ? { keyId: `2c9d${i % 7}e1a-0000-4000-8000-00000000000${i % 7}`, keyVersion: 1 + (i % 3) }
      : {}),
    result,
    ...(result === 'deny'
      ? { errorCode: 'AccessDenied' }
      : result === 'error'
        ? { errorCode: 'KeyDisabled' }
        : {}),
    sourceIp: i % 10 === 0 ? '' : `10.0.${i % 3}.${i}`,
    latencyMs: (i * 7) % 50,
  };
}

interface Log {
  records: AuditRecord[];
  checkpoints: AuditCheckpoint[];
}

const RECORD_COUNT = 50;
const CHECKPOINT_SEQS = [10, 20, 30, 40];

function buildLog(count = RECORD_COUNT, checkpointSeqs = CHECKPOINT_SEQS): Log {
  const records: AuditRecord[] = [];
  for (let i = 1; i <= count; i++) records.push(chainRecord(records.at(-1) ?? null, entry(i)));
  return { records, checkpoints: checkpointSeqs.map((seq) => signCheckpoint(records[seq - 1]!)) };
}

const LOG = buildLog();
const recordAt = (seq: number): AuditRecord => LOG.records[seq - 1]!;

type Order = 'interleaved' | 'checkpoints first' | 'checkpoints last';
const ORDERS: Order[] = ['interleaved', 'checkpoints first', 'checkpoints last'];

/** The log as a stream: interleaved puts each checkpoint right after the records up to its seq. */
function stream(log: Log, order: Order): AuditExportItem[] {
  const records = log.records.map((record): AuditExportItem => ({ type: 'record', record }));
  const asItem = (checkpoint: AuditCheckpoint): AuditExportItem => ({ type: 'checkpoint', checkpoint });
  if (order === 'checkpoints first') return [...log.checkpoints.map(asItem), ...records];
  if (order === 'checkpoints last') return [...records, ...log.checkpoints.map(asItem)];
  const items: AuditExportItem[] = [];
  let waiting = [...log.checkpoints];
  for (const record of log.records) {
    items.push({ type: 'record', record });
    items.push(...waiting.filter((c) => c.seq <= record.seq).map(asItem));
    waiting = waiting.filter((c) => c.seq > record.seq);
  }
  return [...items, ...waiting.map(asItem)];
}

function verifyItems(
  items: Iterable<AuditExportItem>,
  options: Partial<AuditChainVerifierOptions> = {},
): AuditVerification {
  const verifier = new AuditChainVerifier({ verifyCheckpoint, ...options });
  for (const item of items) {
    if (item.type === 'record') verifier.addRecord(item.record);
    else verifier.addCheckpoint(item.checkpoint);
  }
  return verifier.finish();
}

const verifyLog = (
  log: Log,
  order: Order = 'interleaved',
  options: Partial<AuditChainVerifierOptions> = {},
) => verifyItems(stream(log, order), options);

function rehash(record: AuditRecordContent): AuditRecord {
  const { hash: _hash, ...recordContent } = record as AuditRecord;
  return { ...recordContent, hash: recordHash(recordContent) };
}

/** Re-links and re-hashes records[from..], as an attacker covering an edit would. */
function rechainFrom(records: AuditRecord[], from: number): AuditRecord[] {
  const out = [...records];
  for (let i = from; i < out.length; i++) {
    out[i] = rehash({ ...out[i]!, prevHash: i === 0 ? GENESIS_HASH : out[i - 1]!.hash });
  }
  return out;
}

const flipHex = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
const forge = (record: AuditRecord): AuditRecord => ({ ...record, principalId: 'p-attacker' });
/** Array.prototype.toSpliced, which ES2022's typings lack. */
function spliced<T>(items: readonly T[], start: number, deleteCount: number, ...inserted: T[]): T[] {
  const copy = [...items];
  copy.splice(start, deleteCount, ...inserted);
  return copy;
}

const withRecords = (log: Log, records: AuditRecord[]): Log => ({ ...log, records });
const withCheckpoints = (log: Log, checkpoints: AuditCheckpoint[]): Log => ({ ...log, checkpoints });

function omit(record: AuditRecord, field: 'keyId' | 'keyVersion' | 'errorCode'): AuditRecord {
  const copy = { ...record };
  delete copy[field];
  return copy;
}

const POSITIONS = [
  { name: 'the first record', seq: 1 },
  { name: 'a record between checkpoints', seq: 17 },
  { name: 'the last record a checkpoint covers', seq: 40 },
  { name: 'a record in the unsigned tail', seq: 45 },
];

/** One edit per field, each field kind at least once; none re-hashed. */
const FIELD_EDITS: { field: string; edit: (r: AuditRecord) => AuditRecord; reason?: RegExp }[] = [
  { field: 'seq (integer)', edit: (r) => ({ ...r, seq: r.seq + 1000 }), reason: /missing/ },
  { field: 'time', edit: (r) => ({ ...r, time: new Date(Date.parse(r.time) + 1).toISOString() }) },
  { field: 'requestId (text)', edit: (r) => ({ ...r, requestId: `${r.requestId}x` }) },
  { field: 'tenantId', edit: (r) => ({ ...r, tenantId: 'initech' }) },
  { field: 'principalId', edit: (r) => ({ ...r, principalId: 'p-attacker' }) },
  { field: 'action', edit: (r) => ({ ...r, action: 'Decrypt' === r.action ? 'Encrypt' : 'Decrypt' }) },
  {
    field: 'keyId (optional text, added or removed)',
    edit: (r) => (r.keyId === undefined ? { ...r, keyId: '' } : omit(r, 'keyId')),
  },
  {
    field: 'keyVersion (optional integer, added or changed)',
    edit: (r) => ({ ...r, keyVersion: (r.keyVersion ?? 0) + 1 }),
  },
  { field: 'result', edit: (r) => ({ ...r, result: RESULTS[(RESULTS.indexOf(r.result) + 1) % 3]! }) },
  {
    field: 'errorCode (added or removed)',
    edit: (r) => (r.errorCode === undefined ? { ...r, errorCode: '' } : omit(r, 'errorCode')),
  },
  { field: 'sourceIp', edit: (r) => ({ ...r, sourceIp: '203.0.113.9' }) },
  { field: 'latencyMs', edit: (r) => ({ ...r, latencyMs: r.latencyMs + 1 }) },
  { field: 'prevHash', edit: (r) => ({ ...r, prevHash: flipHex(r.prevHash) }) },
  { field: 'hash', edit: (r) => ({ ...r, hash: flipHex(r.hash) }) },
];

interface Tamper {
  name: string;
  apply: (log: Log, seq: number) => Log;
  /** The seq firstInvalid must name, or 'unseen' where the chain cannot tell (the unsigned tail). */
  detectedAt: (seq: number) => number | 'unseen';
  reason: RegExp;
}

const nextCheckpoint = (seq: number) => CHECKPOINT_SEQS.find((c) => c >= seq) ?? 'unseen';
const CHECKPOINT_30 = LOG.checkpoints[2]!;

const TAMPERS: Tamper[] = [
  {
    name: 'edit it and re-hash it',
    apply: (log, seq) => withRecords(log, spliced(log.records, seq - 1, 1, rehash(forge(recordAt(seq))))),
    // The next record's prevHash no longer matches, or the checkpoint on it does not.
    detectedAt: (seq) => (CHECKPOINT_SEQS.includes(seq) ? seq : seq + 1),
    reason: /re-hashed/,
  },
  {
    name: 'edit it and re-hash the rest of the chain',
    apply: (log, seq) =>
      withRecords(log, rechainFrom(spliced(log.records, seq - 1, 1, forge(recordAt(seq))), seq - 1)),
    detectedAt: nextCheckpoint,
    reason: /^checkpoint at seq \d+ does not match record \d+/,
  },
  {
    name: 'remove it',
    apply: (log, seq) => withRecords(log, spliced(log.records, seq - 1, 1)),
    detectedAt: (seq) => seq,
    reason: /missing/,
  },
  {
    name: 'insert a forged record before it, linked to the one before',
    apply: (log, seq) => {
      const before = seq === 1 ? null : recordAt(seq - 1);
      const forged = chainRecord(before, { ...entry(seq), principalId: 'p-attacker' });
      return withRecords(log, spliced(log.records, seq - 1, 0, forged));
    },
    detectedAt: (seq) => seq,
    reason: /appears twice|does not match/,
  },
  {
    name: 'swap it with the next record',
    apply: (log, seq) => withRecords(log, spliced(log.records, seq - 1, 2, recordAt(seq + 1), recordAt(seq))),
    detectedAt: (seq) => seq,
    reason: /missing/,
  },
  {
    name: 'truncate the log from it, the checkpoints left in place',
    apply: (log, seq) => withRecords(log, log.records.slice(0, seq - 1)),
    detectedAt: (seq) => (seq <= 40 ? seq : 'unseen'),
    reason: /^truncated: the checkpoint at seq 40 covers records up to 40, but /,
  },
  {
    name: 'add a checkpoint on it signed by another key',
    apply: (log, seq) =>
      withCheckpoints(log, [...log.checkpoints, signCheckpoint(recordAt(seq), attackerKey.privateKey)]),
    detectedAt: (seq) => seq,
    reason: /signature that does not verify \(forged or altered\)/,
  },
  {
    name: 'add a checkpoint on it with an altered signature',
    apply: (log, seq) => {
      const genuine = signCheckpoint(recordAt(seq));
      const signature = Buffer.from(genuine.signature, 'base64');
      signature[0]! ^= 1;
      return withCheckpoints(log, [
        ...log.checkpoints,
        { ...genuine, signature: signature.toString('base64') },
      ]);
    },
    detectedAt: (seq) => seq,
    reason: /signature that does not verify/,
  },
  {
    name: 'add a checkpoint at its seq signed by the audit key over another hash',
    apply: (log, seq) =>
      withCheckpoints(log, [...log.checkpoints, signCheckpoint({ seq, hash: recordAt(seq + 1).hash })]),
    detectedAt: (seq) => seq,
    reason: /^checkpoint at seq \d+ does not match record \d+: it signs another hash/,
  },
  {
    name: 'move the checkpoint at seq 30 onto it',
    apply: (log, seq) =>
      withCheckpoints(log, [
        ...log.checkpoints.filter((c) => c !== CHECKPOINT_30),
        { ...CHECKPOINT_30, seq, hash: recordAt(seq).hash },
      ]),
    detectedAt: (seq) => seq,
    reason: /signature that does not verify/,
  },
];

describe('AuditChainVerifier on an intact log', () => {
  it.each(ORDERS)('finds 50 mixed records and 4 checkpoints valid, checkpoints %s', (order) => {
    expect(LOG.records.filter((r) => r.keyId === undefined).length).toBeGreaterThan(10);
    expect(new Set(LOG.records.map((r) => r.result)).size).toBe(3);
    expect(verifyLog(LOG, order)).toEqual({ valid: true, records: 50, checkpoints: 4, unsignedTail: 10 });
  });

  it('counts the unsigned tail from the last verified checkpoint', () => {
    expect(verifyLog(withCheckpoints(LOG, [])).unsignedTail).toBe(50);
    expect(verifyLog(withCheckpoints(LOG, [signCheckpoint(recordAt(50))])).unsignedTail).toBe(0);
    expect(verifyLog(withCheckpoints(LOG, LOG.checkpoints.slice(0, 2))).unsignedTail).toBe(30);
  });

  it('finds an empty log valid', () => {
    expect(verifyLog({ records: [], checkpoints: [] })).toEqual({
      valid: true,
      records: 0,
      checkpoints: 0,
      unsignedTail: 0,
    });
  });

  it('takes checkpoints in any order among themselves and wherever they come in the stream', () => {
    const reversed = withCheckpoints(LOG, [...LOG.checkpoints].reverse());
    expect(verifyLog(reversed, 'checkpoints first').valid).toBe(true);
    expect(verifyLog(reversed, 'checkpoints last').valid).toBe(true);
    const items: AuditExportItem[] = stream(LOG, 'interleaved').filter((item) => item.type === 'record');
    items.splice(25, 0, { type: 'checkpoint', checkpoint: LOG.checkpoints[3]! }); // 40, before its record
    items.splice(45, 0, { type: 'checkpoint', checkpoint: LOG.checkpoints[0]! }); // 10, long after
    expect(verifyItems(items).firstInvalid).toBeUndefined();
  });

  it('hands the signature check exactly the checkpoint signing bytes', () => {
    const seen: string[] = [];
    const result = verifyLog(LOG, 'interleaved', {
      verifyCheckpoint: (bytes, checkpoint) => {
        seen.push(bytes.toString('hex'));
        expect(bytes.equals(checkpointSigningBytes(checkpoint))).toBe(true);
        return verifyCheckpoint(bytes, checkpoint);
      },
    });
    expect(result.valid).toBe(true);
    expect(seen).toHaveLength(4);
  });

  it('works with any signature scheme the check knows, here ECDSA P-256', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const checkpoints = CHECKPOINT_SEQS.map((seq) => {
      const unsigned = { seq, hash: recordAt(seq).hash, time: recordAt(seq).time, keyId: 'k', keyVersion: 1 };
      const withAlgorithm = { ...unsigned, algorithm: 'ECDSA_SHA_256' };
      const signature = sign('sha256', checkpointSigningBytes(withAlgorithm), p256.privateKey);
      return { ...withAlgorithm, signature: signature.toString('base64') };
    });
    const result = verifyLog(withCheckpoints(LOG, checkpoints), 'interleaved', {
      verifyCheckpoint: (bytes, c) =>
        c.algorithm === 'ECDSA_SHA_256' &&
        verify('sha256', bytes, p256.publicKey, Buffer.from(c.signature, 'base64')),
    });
    expect(result).toMatchObject({ valid: true, unsignedTail: 10 });
  });

  it('streams a long log in bounded memory when checkpoints follow their records', () => {
    const long = buildLog(5_000, [1_000, 2_000, 3_000, 4_000, 5_000]);
    expect(verifyLog(long, 'interleaved', { rememberHashes: 1 })).toEqual({
      valid: true,
      records: 5_000,
      checkpoints: 5,
      unsignedTail: 0,
    });
    expect(verifyLog(long, 'checkpoints first', { rememberHashes: 1 }).valid).toBe(true);
  });
});

describe.each(ORDERS)('AuditChainVerifier on a tampered log, checkpoints %s', (order) => {
  describe.each(POSITIONS)('at $name (seq $seq)', ({ seq }) => {
    it.each(FIELD_EDITS)('an edited $field is found at that record', ({ edit, reason }) => {
      const result = verifyLog(
        withRecords(LOG, spliced(LOG.records, seq - 1, 1, edit(recordAt(seq)))),
        order,
      );
      expect(result.valid).toBe(false);
      expect(result.firstInvalid?.seq).toBe(seq);
      expect(result.firstInvalid?.reason).toMatch(
        reason ?? new RegExp(`^record ${seq} does not match its hash \\(edited\\)$`),
      );
    });

    it.each(TAMPERS)('$name', ({ apply, detectedAt, reason }) => {
      const result = verifyLog(apply(LOG, seq), order);
      const expected = detectedAt(seq);
      if (expected === 'unseen') {
        // The unsigned tail is only hash-linked: rewriting or cutting it off is seen at the next checkpoint.
        expect(result.valid).toBe(true);
        expect(result.unsignedTail).toBeGreaterThan(0);
        return;
      }
      expect(result.valid).toBe(false);
      expect(result.firstInvalid?.seq).toBe(expected);
      expect(result.firstInvalid?.reason).toMatch(reason);
    });
  });
});

describe('AuditChainVerifier: what the unsigned tail cannot show', () => {
  // Documented limits: records after the last checkpoint are linked, not signed.
  it('misses the last record cut off, a record appended, or checkpoints removed with their records', () => {
    expect(verifyLog(withRecords(LOG, LOG.records.slice(0, -1)))).toMatchObject({
      valid: true,
      unsignedTail: 9,
    });
    const appended = chainRecord(recordAt(50), entry(51));
    expect(verifyLog(withRecords(LOG, [...LOG.records, appended]))).toMatchObject({
      valid: true,
      unsignedTail: 11,
    });
    const cut = { records: LOG.records.slice(0, 25), checkpoints: LOG.checkpoints.slice(0, 2) };
    expect(verifyLog(cut)).toMatchObject({ valid: true, unsignedTail: 5 });
  });

  it('sees the same cut once a later checkpoint is kept', () => {
    const cut = { records: LOG.records.slice(0, 25), checkpoints: LOG.checkpoints.slice(0, 3) };
    expect(verifyLog(cut).firstInvalid).toEqual({
      seq: 26,
      reason: 'truncated: the checkpoint at seq 30 covers records up to 30, but the records end at seq 25',
    });
  });
});

describe('AuditChainVerifier over a range (startAfter)', () => {
  const anchor = { seq: 20, hash: recordAt(20).hash };
  const range = { records: LOG.records.slice(20), checkpoints: LOG.checkpoints.slice(2) };

  it.each(ORDERS)('verifies the records after a trusted anchor, checkpoints %s', (order) => {
    expect(verifyLog(range, order, { startAfter: anchor })).toEqual({
      valid: true,
      records: 30,
      checkpoints: 2,
      unsignedTail: 10,
    });
    const withAnchorCheckpoint = withCheckpoints(range, LOG.checkpoints.slice(1));
    expect(verifyLog(withAnchorCheckpoint, order, { startAfter: anchor }).valid).toBe(true);
  });

  it('finds a first record that does not follow the anchor', () => {
    const result = verifyLog(range, 'interleaved', { startAfter: { seq: 20, hash: recordAt(19).hash } });
    expect(result.firstInvalid).toEqual({
      seq: 21,
      reason: 'record 21 does not follow the trusted anchor: its prevHash is not the hash of record 20',
    });
    const later = withRecords(range, range.records.slice(2));
    expect(verifyLog(later, 'interleaved', { startAfter: anchor }).firstInvalid).toEqual({
      seq: 21,
      reason: 'records 21 to 22 are missing: the next record is 23 (removed, or records reordered)',
    });
  });

  it('checks a checkpoint at the anchor against the anchor, and refuses one before the range', () => {
    const wrongAnchor = { seq: 20, hash: recordAt(19).hash };
    const atAnchor = withCheckpoints(range, LOG.checkpoints.slice(1));
    expect(verifyLog(atAnchor, 'checkpoints first', { startAfter: wrongAnchor }).firstInvalid?.seq).toBe(20);
    const before = withCheckpoints(range, LOG.checkpoints);
    expect(verifyLog(before, 'checkpoints last', { startAfter: anchor }).firstInvalid).toEqual({
      seq: 10,
      reason: 'checkpoint at seq 10 is before the verified range, which starts after seq 20',
    });
  });

  it('reports a truncated range against the checkpoints in it', () => {
    const empty = withRecords(range, []);
    expect(verifyLog(empty, 'interleaved', { startAfter: anchor }).firstInvalid).toEqual({
      seq: 21,
      reason:
        'truncated: the checkpoint at seq 40 covers records up to 40, but there are no records after seq 20',
    });
  });

  it('needs seq 1 after the genesis hash when there is no anchor', () => {
    expect(verifyLog(range).firstInvalid).toEqual({
      seq: 1,
      reason: 'records 1 to 20 are missing: the next record is 21 (removed, or records reordered)',
    });
    const notGenesis = rehash({ ...recordAt(1), prevHash: 'ee'.repeat(32) });
    expect(verifyLog(withRecords(LOG, spliced(LOG.records, 0, 1, notGenesis))).firstInvalid).toEqual({
      seq: 1,
      reason: 'record 1 does not start the chain: its prevHash is not the genesis hash',
    });
  });

  it('refuses an anchor that is not a record head', () => {
    const make = (startAfter: ChainHead) => () => new AuditChainVerifier({ verifyCheckpoint, startAfter });
    expectValidationError(make({ seq: 0, hash: GENESIS_HASH }), /startAfter\.seq/);
    expectValidationError(make({ seq: 3, hash: 'xyz' }), /startAfter\.hash/);
    expectValidationError(
      () => new AuditChainVerifier({ verifyCheckpoint, rememberHashes: 0 }),
      /rememberHashes/,
    );
  });
});

describe('AuditChainVerifier memory bounds', () => {
  it('keeps waiting checkpoints for their records whatever the window', () => {
    expect(verifyLog(LOG, 'checkpoints first', { rememberHashes: 1 }).valid).toBe(true);
  });

  it('reports, never passes, a checkpoint that comes later than the hashes it keeps', () => {
    expect(verifyLog(LOG, 'checkpoints last', { rememberHashes: 12 }).firstInvalid).toEqual({
      seq: 10,
      reason:
        'checkpoint at seq 10 came too late to be checked: 40 records after its record, ' +
        'and only the last 12 hashes are kept (add checkpoints first)',
    });
  });
});

describe('AuditChainVerifier on malformed input and misuse', () => {
  it('reports a record the format cannot hold at its seq, without throwing', () => {
    const bad = untyped<AuditRecord>({ ...recordAt(17), keyVersion: '1' });
    expect(verifyLog(withRecords(LOG, spliced(LOG.records, 16, 1, bad))).firstInvalid).toEqual({
      seq: 17,
      reason: 'record 17 is malformed: record.keyVersion must be an integer from 0 to 2^53 - 1',
    });
    const unnumbered = untyped<AuditRecord>({ ...recordAt(17), seq: '17' });
    expect(verifyLog(withRecords(LOG, spliced(LOG.records, 16, 1, unnumbered))).firstInvalid).toEqual({
      seq: 17,
      reason: 'the record after seq 16 is malformed: record.seq must be an integer from 1 to 2^53 - 1',
    });
  });

  it('reports a malformed checkpoint without asking for its signature to be checked', () => {
    let asked = 0;
    const counting = (bytes: Buffer, c: AuditCheckpoint) => (asked++, verifyCheckpoint(bytes, c));
    const notBase64 = { ...LOG.checkpoints[1]!, signature: 'not base64!' };
    const log = withCheckpoints(LOG, [notBase64]);
    expect(verifyLog(log, 'interleaved', { verifyCheckpoint: counting }).firstInvalid).toEqual({
      seq: 20,
      reason: 'checkpoint at seq 20 is malformed: checkpoint.signature must be standard base64 with padding',
    });
    expect(asked).toBe(0);
    const unnumbered = untyped<AuditCheckpoint>({ ...LOG.checkpoints[1]!, seq: null });
    expect(verifyLog(withCheckpoints(LOG, [unnumbered]), 'checkpoints last').firstInvalid?.reason).toMatch(
      /^a checkpoint after record 50 is malformed: checkpoint\.seq/,
    );
  });

  it('accepts only the audit key, even for a checkpoint validly signed by a key it names', () => {
    const unsigned = { ...signCheckpoint(recordAt(20)), keyId: 'attacker-key', signature: undefined };
    const signature = sign(null, checkpointSigningBytes(unsigned), attackerKey.privateKey).toString('base64');
    const own = { ...unsigned, signature };
    expect(
      verify(null, checkpointSigningBytes(own), attackerKey.publicKey, Buffer.from(signature, 'base64')),
    ).toBe(true);
    expect(verifyLog(withCheckpoints(LOG, [own])).firstInvalid?.seq).toBe(20);
  });

  it('lets a failing signature check throw: an unreachable key store is no verdict', () => {
    const unavailable = () => {
      throw new KmsError('Unavailable', 'key store unreachable');
    };
    expect(() => verifyLog(LOG, 'interleaved', { verifyCheckpoint: unavailable })).toThrow(
      /key store unreachable/,
    );
  });

  it('says it is broken from the first record that does not verify, so that a walk may stop there', () => {
    const verifier = new AuditChainVerifier({ verifyCheckpoint });
    verifier.addRecord(recordAt(1));
    expect(verifier.broken).toBe(false);
    verifier.addRecord({ ...recordAt(2), principalId: 'someone else' });
    expect(verifier.broken).toBe(true);
    expect(verifier.finish().firstInvalid?.seq).toBe(2);
  });

  it('gives one verdict, and takes nothing after it', () => {
    const verifier = new AuditChainVerifier({ verifyCheckpoint });
    verifier.addRecord(recordAt(1));
    const result = verifier.finish();
    expect(verifier.finish()).toBe(result);
    expect(() => verifier.addRecord(recordAt(2))).toThrow(KmsError);
    expect(() => verifier.addCheckpoint(LOG.checkpoints[0]!)).toThrow(/already finished/);
  });
});

describe('audit export lines', () => {
  const items = stream(LOG, 'interleaved');
  const RECORD_LINE = exportLine({ type: 'record', record: recordAt(2) });
  const CHECKPOINT_LINE = exportLine({ type: 'checkpoint', checkpoint: LOG.checkpoints[0]! });

  it('round-trip every record and checkpoint, and an exported log verifies line by line', () => {
    const lines = items.map(exportLine);
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
    const parsed = lines.map((line, i) => parseExportLine(line, i + 1));
    expect(parsed).toEqual(items);
    expect(verifyItems(parsed)).toEqual({ valid: true, records: 50, checkpoints: 4, unsignedTail: 10 });
  });

  it('write only the format’s fields, in format order, and no absent optional ones', () => {
    const row = untyped<AuditRecord>({ id: 99, ...recordAt(1), keyId: undefined, createdAt: 'db column' });
    expect(exportLine({ type: 'record', record: row })).toBe(
      '{"type":"record","record":{"seq":1,"time":"2026-03-01T12:00:00.137Z","requestId":"req-1",' +
        '"tenantId":"acme","principalId":"p-1","action":"Decrypt","result":"deny","errorCode":"AccessDenied",' +
        `"sourceIp":"10.0.1.1","latencyMs":7,"prevHash":"${GENESIS_HASH}","hash":"${recordAt(1).hash}"}}`,
    );
    expect(Object.keys(JSON.parse(CHECKPOINT_LINE).checkpoint)).toEqual([
      'seq',
      'hash',
      'time',
      'keyId',
      'keyVersion',
      'algorithm',
      'signature',
    ]);
  });

  it('export a tampered record as it is, for the verifier to find', () => {
    const edited = { ...recordAt(17), latencyMs: 0 };
    const lines = stream(withRecords(LOG, spliced(LOG.records, 16, 1, edited)), 'interleaved').map(
      exportLine,
    );
    const result = verifyItems(lines.map((line, i) => parseExportLine(line, i + 1)));
    expect(result.firstInvalid?.seq).toBe(17);
  });

  const record = JSON.parse(RECORD_LINE).record as Record<string, unknown>;
  const checkpoint = JSON.parse(CHECKPOINT_LINE).checkpoint as Record<string, unknown>;
  const recordLine = (overrides: Record<string, unknown>) =>
    JSON.stringify({ type: 'record', record: { ...record, ...overrides } });
  const checkpointLine = (overrides: Record<string, unknown>) =>
    JSON.stringify({ type: 'checkpoint', checkpoint: { ...checkpoint, ...overrides } });

  it.each<[string, string, RegExp]>([
    ['an empty line', '', /^line 7 is empty$/],
    ['text that is not JSON', 'seq=1 hash=ab', /^line 7 is not JSON \(/],
    ['a cut-off line', RECORD_LINE.slice(0, 40), /^line 7 is not JSON/],
    ['a JSON array', '[1,2]', /^line 7 must be a JSON object$/],
    ['JSON null', 'null', /^line 7 must be a JSON object$/],
    ['an unknown type', '{"type":"note","note":{}}', /^line 7: type must be "record" or "checkpoint"$/],
    ['a record line without its record', '{"type":"record"}', /^line 7: record must be an object$/],
    [
      'a field beside the record',
      RECORD_LINE.replace('{"type"', '{"extra":1,"type"'),
      /unknown field "extra"/,
    ],
    ['a __proto__ key', '{"type":"record","__proto__":{}}', /^line 7: unknown field "__proto__"$/],
    ['an unknown record field', recordLine({ comment: 'hi' }), /^line 7: record: unknown field "comment"$/],
    [
      'a record without its hash',
      recordLine({ hash: undefined }),
      /^line 7: record\.hash must be 64 lowercase/,
    ],
    ['seq "2" (a string)', recordLine({ seq: '2' }), /^line 7: record\.seq must be an integer/],
    [
      'keyVersion "1" (a string)',
      recordLine({ keyVersion: '1' }),
      /^line 7: record\.keyVersion must be an integer/,
    ],
    ['keyId null', recordLine({ keyId: null }), /^line 7: record\.keyId must be a string$/],
    ['result "ALLOW"', recordLine({ result: 'ALLOW' }), /^line 7: record\.result/],
    ['a time without milliseconds', recordLine({ time: '2026-03-01T12:00:00Z' }), /^line 7: record\.time/],
    ['a huge seq', recordLine({ seq: 1e300 }), /^line 7: record\.seq/],
    ['a lone surrogate', recordLine({ action: '\ud800' }), /^line 7: record\.action must be well-formed/],
    ['a signature not in base64', checkpointLine({ signature: 'a-b_' }), /^line 7: checkpoint\.signature/],
    ['an empty signature', checkpointLine({ signature: '' }), /^line 7: checkpoint\.signature/],
    ['a negative key version', checkpointLine({ keyVersion: -1 }), /^line 7: checkpoint\.keyVersion/],
    ['a checkpoint record field', checkpointLine({ prevHash: GENESIS_HASH }), /unknown field "prevHash"/],
    ['a line too long', recordLine({ action: 'x'.repeat(MAX_EXPORT_LINE_LENGTH) }), /^line 7 is longer than/],
  ])('refuse %s with a ValidationError naming the line', (_name, line, message) => {
    expectValidationError(() => parseExportLine(line, 7), message);
  });

  it('never fail any other way on a cut or mangled line', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const tries: string[] = [];
    for (const line of [RECORD_LINE, CHECKPOINT_LINE]) {
      for (let cut = 0; cut < line.length; cut++) tries.push(line.slice(0, cut));
      for (let i = 0; i < 2_000; i++) {
        const at = random(line.length);
        const replacement = '{}[]":,0-1enul\\ \u0000\ud800é'[random(18)]!;
        tries.push(line.slice(0, at) + replacement + line.slice(at + 1));
      }
    }
    for (const [i, line] of tries.entries()) {
      try {
        parseExportLine(line, i + 1);
      } catch (error) {
        expect(error).toBeInstanceOf(KmsError);
        expect((error as KmsError).code).toBe('ValidationError');
        expect((error as KmsError).message.startsWith(`line ${i + 1}`)).toBe(true);
      }
    }
  });
});
