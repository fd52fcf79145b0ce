import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPaddedBase64 } from '../../src/domain/base64.js';
import { fromB64 } from '../../src/transports/rest/views.js';
import { KmsError } from '../../src/domain/errors.js';

// The grammar of API.md's base64 fields, as a regular expression: the reference the fast check must match.
const REFERENCE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const NOISE = [...ALPHABET, '=', '-', '_', ' ', '\n', '.', 'é', '\u0000', '\u{1F600}'];

function mutate(value: string): string {
  const chars = [...value];
  const at = randomInt(chars.length + 1);
  switch (randomInt(3)) {
    case 0:
      chars.splice(at, 0, NOISE[randomInt(NOISE.length)]!);
      break;
    case 1:
      chars.splice(at, 1);
      break;
    default:
      chars[Math.min(at, chars.length - 1)] = NOISE[randomInt(NOISE.length)]!;
  }
  return chars.join('');
}

describe('base64 fields', () => {
  it('accepts exactly what the reference grammar accepts (10 000 encodings and mutations)', () => {
    for (let i = 0; i < 5000; i++) {
      const valid = randomBytes(randomInt(0, 40)).toString('base64');
      expect(isPaddedBase64(valid)).toBe(true);
      const mutated = mutate(valid);
      expect(isPaddedBase64(mutated), JSON.stringify(mutated)).toBe(REFERENCE.test(mutated));
    }
  });

  it('refuses padding in the wrong place, base64url and whitespace', () => {
    for (const bad of [
      '=',
      '==',
      '====',
      'A===',
      'AB=C',
      'A=BC',
      'AB==AB==',
      'ab-_',
      'AB C',
      'ABC',
      'ABCD\n',
    ]) {
      expect(isPaddedBase64(bad), bad).toBe(false);
    }
    for (const good of ['', 'AB==', 'ABC=', 'ABCD', '+/+/']) expect(isPaddedBase64(good), good).toBe(true);
  });

  it('decodes, and names the field in a ValidationError otherwise', () => {
    expect(fromB64('aGVsbG8=', 'plaintext').toString()).toBe('hello');
    expect(() => fromB64('aGVsbG8', 'plaintext')).toThrow(KmsError);
    expect(() => fromB64('aGVsbG8', 'plaintext')).toThrow(/plaintext must be standard base64/);
  });
});
