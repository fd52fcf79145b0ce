// Canonical encoding of an encryption context, bound to ciphertext as associated data.
// Pairs are sorted by key (UTF-8 byte order) and length-prefixed, so no two contexts encode alike.
import { validationError } from './errors.js';

export type EncryptionContext = Record<string, string>;

export const MAX_CONTEXT_BYTES = 8192;

export function encodeContext(context: EncryptionContext | undefined): Buffer {
  if (!context) return Buffer.alloc(0);
  const entries = Object.entries(context).map(
    ([key, value]) => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')] as const,
  );
  entries.sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Buffer[] = [];
  for (const [key, value] of entries) {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(key.length, 0);
    header.writeUInt32BE(value.length, 4);
    parts.push(header.subarray(0, 4), key, header.subarray(4), value);
  }
  const encoded = Buffer.concat(parts);
  if (encoded.length > MAX_CONTEXT_BYTES) {
    throw validationError(`encryption context exceeds ${MAX_CONTEXT_BYTES} bytes`);
  }
  return encoded;
}
