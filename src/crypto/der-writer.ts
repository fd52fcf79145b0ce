// A minimal DER writer (X.690 §10): definite, minimal lengths, for the few structures Keyhaven
// builds itself (CMS EnvelopedData). Each function returns one complete TLV.

export const TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
} as const;

export function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derElement(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const derSequence = (...items: Buffer[]) => derElement(TAG.sequence, ...items);

/** A SET OF: DER orders its elements by their encodings (X.690 §11.6). */
export const derSetOf = (...items: Buffer[]) =>
  derElement(TAG.set, ...[...items].sort((a, b) => Buffer.compare(a, b)));

export const derOctetString = (bytes: Buffer) => derElement(TAG.octetString, bytes);
export const derNull = () => Buffer.from([TAG.null, 0x00]);

/** A small non-negative INTEGER (versions). */
export function derSmallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 127) throw new RangeError('small integers only');
  return derElement(TAG.integer, Buffer.from([value]));
}

/** An OBJECT IDENTIFIER from its dotted form (X.690 §8.19). */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      chunk.unshift((value & 0x7f) | 0x80);
    }
    bytes.push(...chunk);
  }
  return derElement(TAG.oid, Buffer.from(bytes));
}

/** [n] EXPLICIT: a constructed context-specific tag around one complete element. */
export const derExplicit = (n: number, element: Buffer) => derElement(0xa0 | n, element);

/** [n] IMPLICIT on a primitive type (OCTET STRING): the tag replaces the universal one. */
export const derImplicitPrimitive = (n: number, content: Buffer) => derElement(0x80 | n, content);
