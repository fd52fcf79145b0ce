// Base64 decoding from bytes to bytes, and a JSON field read from raw response bytes: the plaintext
// in a decrypt response never becomes a JS string (which a heap snapshot, or a core dump, would
// show long after use); Buffer.from(string, 'base64') would need exactly that string.

const DECODE = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  .split('')
  .forEach((char, index) => (DECODE[char.charCodeAt(0)] = index));

/** Decodes standard base64 (padding optional) in `bytes[start, end)` into a new, unpooled Buffer. */
export function decodeBase64Bytes(bytes: Uint8Array, start: number, end: number): Buffer | undefined {
  let length = end - start;
  while (length > 0 && bytes[start + length - 1] === 0x3d) length--;
  if ((end - start) % 4 === 1 || length % 4 === 1) return undefined;
  const out = Buffer.alloc(Math.floor((length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (let i = start; i < start + length; i++) {
    const sextet = DECODE[bytes[i]!]!;
    if (sextet < 0) {
      out.fill(0);
      return undefined;
    }
    value = (value << 6) | sextet;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  value = 0;
  return out;
}

/**
 * The base64 string value of a top-level `"field"` in compact JSON bytes, decoded; undefined when
 * absent. Only for server answers whose shape is known (a flat object of simple values).
 */
export function base64FieldOf(json: Uint8Array, field: string): Buffer | undefined {
  const needle = Buffer.from(`"${field}"`);
  const buffer = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  let at = buffer.indexOf(needle);
  if (at < 0) return undefined;
  at += needle.length;
  const skipSpace = () => {
    while (
      at < buffer.length &&
      (buffer[at] === 0x20 || buffer[at] === 0x0a || buffer[at] === 0x0d || buffer[at] === 0x09)
    )
      at++;
  };
  skipSpace();
  if (buffer[at] !== 0x3a) return undefined;
  at++;
  skipSpace();
  if (buffer[at] !== 0x22) return undefined;
  const start = at + 1;
  const end = buffer.indexOf(0x22, start);
  if (end < 0) return undefined;
  return decodeBase64Bytes(buffer, start, end);
}
