import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ALGORITHM_AES_256_GCM,
  CIPHERTEXT_HEADER_LENGTH,
  encodeCiphertext,
  openingData,
  parseCiphertext,
  sealingData,
} from '../../src/domain/ciphertext.js';
import { KmsError } from '../../src/domain/errors.js';

describe('ciphertext format 1', () => {
  it('writes a header that parses back to the same fields, followed by the context in the AAD', () => {
    const keyId = randomUUID();
    const iv = randomBytes(12);
    const context = Buffer.from('encoded context bytes');
    const withRoom = Buffer.concat([Buffer.alloc(CIPHERTEXT_HEADER_LENGTH), context]);
    const { header, aad } = sealingData(
      { keyId, keyVersion: 70000, algorithm: ALGORITHM_AES_256_GCM, iv },
      withRoom,
    );

    expect(header.length).toBe(CIPHERTEXT_HEADER_LENGTH);
    expect(aad.subarray(0, CIPHERTEXT_HEADER_LENGTH).equals(header)).toBe(true);
    expect(aad.subarray(CIPHERTEXT_HEADER_LENGTH).equals(context)).toBe(true);

    const sealed = Buffer.from('sealed');
    const tag = randomBytes(16);
    const parsed = parseCiphertext(encodeCiphertext(header, sealed, tag));
    expect(parsed).toMatchObject({ keyId, keyVersion: 70000, algorithm: ALGORITHM_AES_256_GCM });
    expect(parsed.iv.equals(iv)).toBe(true);
    expect(parsed.ciphertext.equals(sealed)).toBe(true);
    expect(parsed.tag.equals(tag)).toBe(true);

    // Opening rebuilds the same associated data from the parsed header.
    const reopened = openingData(
      parsed.header,
      Buffer.concat([Buffer.alloc(CIPHERTEXT_HEADER_LENGTH), context]),
    );
    expect(reopened.equals(aad)).toBe(true);
  });

  it('leaves no byte of the unzeroed buffer unwritten', () => {
    // Fill the allocation pool with a marker: any header byte not written would show it.
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(64).fill(0xa5);
    const keyId = '00000000-0000-4000-8000-000000000000';
    const { header } = sealingData(
      { keyId, keyVersion: 0, algorithm: 0, iv: Buffer.alloc(12) },
      Buffer.allocUnsafe(CIPHERTEXT_HEADER_LENGTH),
    );
    expect([...header]).toEqual([
      1,
      ...new Array<number>(6).fill(0),
      0x40,
      0,
      0x80,
      ...new Array<number>(24).fill(0),
    ]);
  });

  it('refuses a key id that is not a UUID or an IV that is not 12 bytes, as an internal error', () => {
    const iv = randomBytes(12);
    const room = Buffer.alloc(CIPHERTEXT_HEADER_LENGTH);
    expect(() => sealingData({ keyId: 'alias/x', keyVersion: 1, algorithm: 1, iv }, room)).toThrow(KmsError);
    expect(() =>
      sealingData(
        { keyId: randomUUID(), keyVersion: 1, algorithm: 1, iv: randomBytes(16) },
        Buffer.alloc(CIPHERTEXT_HEADER_LENGTH),
      ),
    ).toThrow(/IV 12 bytes/);
    expect(() =>
      sealingData({ keyId: randomUUID(), keyVersion: 1, algorithm: 1, iv }, Buffer.alloc(10)),
    ).toThrow(/no room/);
  });
});
