// Canonical encoding of an encryption context, bound to ciphertext as associated data.
// Pairs are sorted by key (UTF-8 byte order) and length-prefixed, so no two contexts encode alike.
import { validationError } from './errors.js';

export type EncryptionContext = Record<string, string>;

export const MAX_CONTEXT_BYTES = 8192;

export function encodeContext(context: EncryptionContext | undefined): Buffer {
  if (!context) return EMPTY;
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  // Sorting by UTF-16 code units differs from UTF-8 byte order only above U+FFFF vs U+E000-U+FFFF;
  // sort by the encoded bytes, as the format says, but skip the work for printable ASCII keys.
  const ascii = keys.every((k) => /^[\x20-\x7e]*$/.test(k));
  const ordered = ascii
    ? keys.sort()
    : keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  let size = 0;
  for (const key of ordered)
    size += 8 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(context[key]!, 'utf8');
  if (size > MAX_CONTEXT_BYTES)
    throw validationError(`encryption context exceeds ${MAX_CONTEXT_BYTES} bytes`);
  const encoded = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const key of ordered) {
    offset = writeField(encoded, offset, key);
    offset = writeField(encoded, offset, context[key]!);
  }
  return encoded;
}

const EMPTY = Buffer.alloc(0);

/** A 32-bit big-endian length, then the UTF-8 bytes. */
function writeField(target: Buffer, offset: number, text: string): number {
  const length = target.write(text, offset + 4, 'utf8');
  target.writeUInt32BE(length, offset);
  return offset + 4 + length;
}
