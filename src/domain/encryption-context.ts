// Canonical encoding of an encryption context, bound to ciphertext as associated data.
// Pairs are sorted by key (UTF-8 byte order) and length-prefixed, so no two contexts encode alike.
import { validationError } from './errors.js';
import { assertWellFormed } from './unicode.js';

export type EncryptionContext = Record<string, string>;

export const MAX_CONTEXT_BYTES = 8192;

/**
 * The canonical encoding, after `reserve` bytes left unwritten for the caller (the ciphertext header
 * goes there, so the associated data is one buffer).
 */
export function encodeContext(context: EncryptionContext | undefined, reserve = 0): Buffer {
  const keys = context ? Object.keys(context) : [];
  if (keys.length === 0) return reserve === 0 ? EMPTY : Buffer.allocUnsafe(reserve);
  // Sorting by UTF-16 code units differs from UTF-8 byte order only above U+FFFF vs U+E000-U+FFFF;
  // sort by the encoded bytes, as the format says, but skip the work for printable ASCII keys.
  const asciiKeys = keys.every(isPrintableAscii);
  if (!asciiKeys) for (const key of keys) assertWellFormed(key, 'encryption context keys');
  const ordered = asciiKeys
    ? keys.sort()
    : keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  let size = 0;
  for (const key of ordered) {
    const value = context![key]!;
    if (!isPrintableAscii(value)) assertWellFormed(value, 'encryption context values');
    size += 8 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (size > MAX_CONTEXT_BYTES)
    throw validationError(`encryption context exceeds ${MAX_CONTEXT_BYTES} bytes`);
  const encoded = Buffer.allocUnsafe(reserve + size);
  let offset = reserve;
  for (const key of ordered) {
    offset = writeField(encoded, offset, key);
    offset = writeField(encoded, offset, context![key]!);
  }
  return encoded;
}

function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

const EMPTY = Buffer.alloc(0);

/** A 32-bit big-endian length, then the UTF-8 bytes. */
function writeField(target: Buffer, offset: number, text: string): number {
  const length = target.write(text, offset + 4, 'utf8');
  target.writeUInt32BE(length, offset);
  return offset + 4 + length;
}
