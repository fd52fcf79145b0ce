// A minimal CBOR decoder (RFC 8949) for what COSE_Sign1 attestation documents hold: integers, byte
// and text strings, arrays, maps, tags and the simple values false, true, null and undefined. Only
// definite lengths; anything else (floats, indefinite lengths, trailing bytes, nesting deeper than
// MAX_DEPTH) is refused, so that a hostile document cannot make the server work hard or guess.
import { validationError } from './errors.js';

export type CborValue =
  | number
  | bigint
  | Buffer
  | string
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTagged;

export interface CborTagged {
  tag: number;
  value: CborValue;
}

const MAX_DEPTH = 16;

export const isCborTagged = (value: CborValue): value is CborTagged =>
  typeof value === 'object' &&
  value !== null &&
  !Buffer.isBuffer(value) &&
  !Array.isArray(value) &&
  !(value instanceof Map);

/** Decodes exactly one item spanning all of `bytes`; ValidationError naming `what` otherwise. */
export function decodeCbor(bytes: Buffer, what = 'CBOR data'): CborValue {
  const reader = { bytes, offset: 0, what };
  const value = readItem(reader, 0);
  if (reader.offset !== bytes.length) throw malformed(reader, 'trailing bytes');
  return value;
}

interface Reader {
  bytes: Buffer;
  offset: number;
  what: string;
}

const malformed = (reader: Reader, why: string) =>
  validationError(`${reader.what} is not valid CBOR: ${why}`);

function take(reader: Reader, length: number): Buffer {
  if (length > reader.bytes.length - reader.offset) throw malformed(reader, 'truncated');
  const slice = reader.bytes.subarray(reader.offset, reader.offset + length);
  reader.offset += length;
  return slice;
}

/** The argument of an initial byte (RFC 8949 §3): a number when it is safe, else a bigint. */
function readArgument(reader: Reader, info: number): number | bigint {
  if (info < 24) return info;
  if (info === 24) return take(reader, 1).readUInt8(0);
  if (info === 25) return take(reader, 2).readUInt16BE(0);
  if (info === 26) return take(reader, 4).readUInt32BE(0);
  if (info === 27) {
    const value = take(reader, 8).readBigUInt64BE(0);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  throw malformed(reader, info === 31 ? 'indefinite lengths are not supported' : 'reserved additional info');
}

function readLength(reader: Reader, info: number): number {
  const length = readArgument(reader, info);
  // Every element takes at least one byte: a count beyond what is left cannot be honest.
  if (typeof length === 'bigint' || length > reader.bytes.length - reader.offset) {
    throw malformed(reader, 'truncated');
  }
  return length;
}

function readItem(reader: Reader, depth: number): CborValue {
  if (depth > MAX_DEPTH) throw malformed(reader, 'nested too deeply');
  const initial = take(reader, 1).readUInt8(0);
  const major = initial >> 5;
  const info = initial & 0x1f;
  switch (major) {
    case 0:
      return readArgument(reader, info);
    case 1: {
      const argument = readArgument(reader, info);
      return typeof argument === 'bigint' || argument >= Number.MAX_SAFE_INTEGER
        ? -1n - BigInt(argument)
        : -1 - argument;
    }
    case 2:
      return Buffer.from(take(reader, readLength(reader, info)));
    case 3: {
      const bytes = take(reader, readLength(reader, info));
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) throw malformed(reader, 'a text string is not UTF-8');
      return text;
    }
    case 4: {
      const count = readLength(reader, info);
      const items: CborValue[] = [];
      for (let i = 0; i < count; i++) items.push(readItem(reader, depth + 1));
      return items;
    }
    case 5: {
      const count = readLength(reader, info);
      const map = new Map<CborValue, CborValue>();
      for (let i = 0; i < count; i++) {
        const key = readItem(reader, depth + 1);
        if (typeof key !== 'string' && typeof key !== 'number')
          throw malformed(reader, 'a map key is not an integer or text');
        if (map.has(key)) throw malformed(reader, 'a map key is repeated');
        map.set(key, readItem(reader, depth + 1));
      }
      return map;
    }
    case 6: {
      const tag = readArgument(reader, info);
      if (typeof tag === 'bigint') throw malformed(reader, 'tag out of range');
      return { tag, value: readItem(reader, depth + 1) };
    }
    default: {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      if (info === 23) return undefined;
      throw malformed(reader, 'floating-point and other simple values are not supported');
    }
  }
}
