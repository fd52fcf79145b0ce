import { describe, expect, it } from 'vitest';
import { encodeContext } from '../../src/domain/encryption-context.js';

const field = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};

describe('canonical encryption context', () => {
  it('sorts pairs by key and length-prefixes every key and value', () => {
    const expected = Buffer.concat([field('a'), field('1'), field('b'), field('22')]);
    expect(encodeContext({ b: '22', a: '1' })).toEqual(expected);
    expect(encodeContext({ a: '1', b: '22' })).toEqual(expected);
  });

  it('orders non-ASCII keys by their UTF-8 bytes, not UTF-16 code units', () => {
    // In UTF-16 U+1F600 (D83D DE00) sorts before U+FF61; in UTF-8 it sorts after (F0.. > EF..).
    const encoded = encodeContext({ '\u{1F600}': 'x', '\uFF61': 'y' });
    expect(encoded).toEqual(Buffer.concat([field('\uFF61'), field('y'), field('\u{1F600}'), field('x')]));
  });

  it('refuses keys and values that are not well-formed Unicode: a lone surrogate would encode as U+FFFD', () => {
    const code = (run: () => unknown) => {
      try {
        run();
        return 'accepted';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    for (const context of <Record<string, string>[]>[
      { k: '\ud800' },
      { k: 'a\udfff' },
      { k: '\udc00\ud800' },
      { '\ud800': 'v' },
      { ['x\udbff']: 'v' },
    ]) {
      expect(code(() => encodeContext(context))).toBe('ValidationError');
    }
    // U+FFFD itself and well-formed pairs are fine, and stay distinct from each other.
    expect(code(() => encodeContext({ k: '\ufffd' }))).toBe('accepted');
    expect(encodeContext({ k: '\u{1F600}' })).not.toEqual(encodeContext({ k: '\ufffd' }));
  });

  it('keeps pairs that concatenate alike apart, and encodes no context as empty', () => {
    expect(encodeContext({ ab: 'c' })).not.toEqual(encodeContext({ a: 'bc' }));
    expect(encodeContext(undefined)).toHaveLength(0);
    expect(encodeContext({})).toHaveLength(0);
  });

  it('leaves the reserved bytes in front of the same encoding, with or without pairs', () => {
    const withRoom = encodeContext({ b: '22', a: '1' }, 34);
    expect(withRoom.subarray(34)).toEqual(encodeContext({ a: '1', b: '22' }));
    expect(encodeContext(undefined, 34)).toHaveLength(34);
    expect(encodeContext({}, 34)).toHaveLength(34);
  });

  it('sorts keys with control characters by bytes too', () => {
    const encoded = encodeContext({ 'b\n': 'x', a: 'y' });
    expect(encoded).toEqual(Buffer.concat([field('a'), field('y'), field('b\n'), field('x')]));
  });

  it('refuses a context over 8192 encoded bytes', () => {
    expect(() => encodeContext({ k: 'v'.repeat(8192) })).toThrow(/exceeds 8192 bytes/);
  });
});
