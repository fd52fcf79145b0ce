// CRC32C against published check values: RFC 3720 §B.4 (iSCSI) and the catalogue's "123456789".
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/integration/crc32c.js';

describe('crc32c (Castagnoli) matches the published check values', () => {
  it.each([
    ['32 zero bytes (RFC 3720 B.4)', Buffer.alloc(32, 0), 0x8a9136aa],
    ['32 bytes of 0xff (RFC 3720 B.4)', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['0x00..0x1f ascending (RFC 3720 B.4)', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    [
      '0x1f..0x00 descending (RFC 3720 B.4)',
      Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)),
      0x113fdb5c,
    ],
    ['"123456789" (the CRC catalogue check)', Buffer.from('123456789'), 0xe3069283],
    ['the empty string', Buffer.alloc(0), 0],
  ])('%s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });
});
