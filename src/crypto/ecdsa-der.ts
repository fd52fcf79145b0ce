// DER encoding of ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3), the
// signature format AWS KMS returns. Decoding is strict DER: BER variants are forgeries' raw material.
import { derLength } from './der-writer.js';

const bytesToBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

const TAG_SEQUENCE = 0x30;
const TAG_INTEGER = 0x02;

function encodeInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let content = Buffer.from(hex, 'hex');
  // A leading 1 bit would make the INTEGER negative (X.690 §8.3.2): prefix a zero octet.
  if ((content[0] ?? 0) & 0x80) content = Buffer.concat([Buffer.from([0]), content]);
  return Buffer.concat([Buffer.from([TAG_INTEGER]), derLength(content.length), content]);
}

export function encodeEcdsaSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([encodeInteger(r), encodeInteger(s)]);
  return Buffer.concat([Buffer.from([TAG_SEQUENCE]), derLength(body.length), body]);
}

/** DER from the fixed-width r || s form (IEEE P1363) that PKCS#11's CKM_ECDSA and noble return. */
export function encodeEcdsaRawSignature(raw: Uint8Array): Buffer {
  const half = raw.length / 2;
  return encodeEcdsaSignature(bytesToBigInt(raw.subarray(0, half)), bytesToBigInt(raw.subarray(half)));
}

/** Reads tag and definite, minimally encoded length at `offset`; returns the content bounds. */
function readElement(der: Buffer, offset: number, tag: number): { start: number; end: number } | undefined {
  if (der[offset] !== tag) return undefined;
  const first = der[offset + 1];
  if (first === undefined) return undefined;
  let length = first;
  let start = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than two octets never occurs for these sizes.
    if (count === 0 || count > 2 || start + count > der.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | (der[start + i] ?? 0);
    start += count;
    // Minimal length encoding (X.690 §10.1): long form only when short form cannot hold it.
    if (length < 0x80 || (count === 2 && length < 0x100)) return undefined;
  }
  const end = start + length;
  return end <= der.length ? { start, end } : undefined;
}

function readPositiveInteger(der: Buffer, offset: number): { value: bigint; next: number } | undefined {
  const element = readElement(der, offset, TAG_INTEGER);
  if (!element) return undefined;
  const content = der.subarray(element.start, element.end);
  const [first, second] = content;
  if (first === undefined) return undefined;
  if (first & 0x80) return undefined; // negative
  if (first === 0 && second !== undefined && !(second & 0x80)) return undefined; // non-minimal
  return { value: bytesToBigInt(content), next: element.end };
}

/** Returns undefined for anything but the exact DER encoding of two non-negative INTEGERs. */
export function decodeEcdsaSignature(der: Buffer): { r: bigint; s: bigint } | undefined {
  const sequence = readElement(der, 0, TAG_SEQUENCE);
  if (!sequence || sequence.end !== der.length) return undefined;
  const r = readPositiveInteger(der, sequence.start);
  if (!r) return undefined;
  const s = readPositiveInteger(der, r.next);
  if (!s || s.next !== sequence.end) return undefined;
  return { r: r.value, s: s.value };
}
