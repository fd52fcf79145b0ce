import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT,
  chainRecord,
  checkpointSigningBytes,
  GENESIS_HASH,
  RECORD_FORMAT,
  recordContentBytes,
  recordHash,
  type AuditEntry,
  type AuditRecord,
  type AuditRecordContent,
} from '../../src/domain/audit-record.js';
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
