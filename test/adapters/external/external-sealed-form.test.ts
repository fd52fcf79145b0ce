// The EXTERNAL sealed form and version references: round trips, and every malformed input is
// InvalidCiphertext (or, for a stored record, Internal), never a crash or a partial read.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeSealed,
  encodeSealed,
  encodeWrappings,
} from '../../../src/adapters/keystore/external/external-sealed-form.js';
import { encodeRecord, recordOf } from '../../../src/adapters/keystore/external/external-references.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';

const message = {
  wrappings: [
    { reference: 0, ciphertext: randomBytes(184) },
    { reference: 2, ciphertext: randomBytes(82) },
  ],
  ciphertext: randomBytes(40),
  tag: randomBytes(16),
};

describe('EXTERNAL sealed form', () => {
  it('round-trips, and its wrapped-key part is the prefix the payload tag covers', () => {
    const sealed = encodeSealed(message);
    const decoded = decodeSealed(sealed);
    expect(decoded.wrappings.map((w) => [w.reference, w.ciphertext.toString('hex')])).toEqual(
      message.wrappings.map((w) => [w.reference, w.ciphertext.toString('hex')]),
    );
    expect(decoded.ciphertext.equals(message.ciphertext)).toBe(true);
    expect(decoded.tag.equals(message.tag)).toBe(true);
    const prefix = encodeWrappings(decoded.wrappings);
    expect(sealed.subarray(0, prefix.length).equals(prefix)).toBe(true);
  });

  it('an empty payload is fine: the tag alone follows the wrapped keys', () => {
    const decoded = decodeSealed(encodeSealed({ ...message, ciphertext: Buffer.alloc(0) }));
    expect(decoded.ciphertext.length).toBe(0);
  });

  it('refuses every truncation, a zero count, another form and a zero-length key as InvalidCiphertext', () => {
    const sealed = encodeSealed(message);
    const minimum = 2 + 3 + 184 + 3 + 82 + 16;
    for (let length = 0; length < minimum; length++) {
      expect(() => decodeSealed(sealed.subarray(0, length)), `length ${length}`).toThrow(
        expect.objectContaining({ code: 'InvalidCiphertext' }),
      );
    }
    for (const mangle of [
      (b: Buffer) => (b[0] = 2),
      (b: Buffer) => (b[1] = 0),
      (b: Buffer) => b.writeUInt16BE(0, 3),
      (b: Buffer) => b.writeUInt16BE(0xffff, 3),
      (b: Buffer) => (b[1] = 200),
    ]) {
      const copy = Buffer.from(sealed);
      mangle(copy);
      expect(() => decodeSealed(copy)).toThrow(expect.objectContaining({ code: 'InvalidCiphertext' }));
    }
  });

  it('never throws anything but InvalidCiphertext on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(i % 300);
      try {
        decodeSealed(junk);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('InvalidCiphertext');
      }
    }
  });
});

describe('EXTERNAL version references', () => {
  const refOf = (material: Buffer): VersionRef => ({
    keyId: 'k',
    keySpec: 'SYMMETRIC_DEFAULT',
    version: {
      keyId: 'k',
      version: 1,
      state: 'Enabled',
      createdAt: new Date(),
      material,
      publicKeySpki: null,
    },
  });

  it('round-trips provider names and key references in order, the wrapped secret and the MAC', () => {
    const references = [
      { provider: 'aws-eu', keyRef: 'arn:aws:kms:eu-west-1:111122223333:key/1' },
      { provider: 'keyhaven-dr', keyRef: '6f1c0000-0000-4000-8000-000000000000' },
    ];
    const record = { references, wrappedSecret: Buffer.from('wrapped'), mac: Buffer.alloc(32, 1) };
    expect(recordOf(refOf(encodeRecord(record)))).toEqual(record);
  });

  it('a record that does not read is an Internal error (the database’s fault), never a crash', () => {
    for (const material of [
      Buffer.from('not json'),
      Buffer.from('{}'),
      Buffer.from(JSON.stringify({ format: 'keyhaven-external/1', references: [] })),
      Buffer.from(JSON.stringify({ format: 'keyhaven-external/1', references: [{ provider: 1 }] })),
      randomBytes(32),
    ]) {
      expect(() => recordOf(refOf(material))).toThrow(expect.objectContaining({ code: 'Internal' }));
    }
  });
});
