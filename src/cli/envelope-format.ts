// The Keyhaven envelope file format (`keyhaven encrypt` output): header codec and per-segment AEAD.
// Streaming lives in envelope-stream.ts; this module is the byte layout and nothing else.
//
// Layout, version 1 (all integers big-endian):
//   offset  size  field
//   0       4     magic "KHEF" (Keyhaven Envelope File)
//   4       1     format version = 0x01
//   5       1     algorithm = 0x01: AES-256-GCM in STREAM segments
//   6       4     segment size S: plaintext bytes per segment (1 KiB .. 16 MiB; the CLI writes 64 KiB)
//   10      7     nonce prefix, random per file
//   17      2     N = length of the wrapped data key
//   19      N     wrapped data key: the Keyhaven ciphertext returned by POST /v1/datakey (it names its
//                 key and key version, and is bound to the encryption context given at encryption)
//   19+N    ...   segments 0, 1, ..., each AES-256-GCM(data key) ciphertext followed by its 16-byte tag
//
// Segment i is sealed with nonce = prefix(7) || i as uint32 (4) || last flag (1: 0x01 on the final
// segment, else 0x00) and with the whole header (bytes 0 .. 19+N) as associated data. This is the
// STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and its
// Nonce-Reuse Misuse-Resistance", CRYPTO 2015; as in Tink's streaming AEAD): the counter makes
// reordered or dropped segments fail, the last flag makes truncation at a segment boundary fail, and
// the header as associated data makes any header change fail. Every segment but the final one holds
// exactly S plaintext bytes; the final one holds 0..S (0 only for an empty file), so there is always
// exactly one final segment and a multiple-of-S file ends with a full final segment.
import { aesGcmDecrypt, aesGcmEncrypt } from '../crypto/aead.js';

const ENVELOPE_MAGIC = Buffer.from('KHEF', 'latin1');
const ENVELOPE_VERSION = 0x01;
const ALGORITHM_AES_256_GCM_STREAM = 0x01;
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;
export const MIN_SEGMENT_SIZE = 1024;
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;
export const NONCE_PREFIX_LENGTH = 7;
export const TAG_LENGTH = 16;
export const DATA_KEY_LENGTH = 32;
/** Bytes before the wrapped key: magic, version, algorithm, segment size, nonce prefix, key length. */
export const FIXED_HEADER_LENGTH = 4 + 1 + 1 + 4 + NONCE_PREFIX_LENGTH + 2;
const MAX_SEGMENTS = 2 ** 32;

/** A file that is not an envelope, or was modified, truncated or reordered; or a wrong context. */
export class EnvelopeError extends Error {
  readonly code = 'InvalidCiphertext';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnvelopeError';
  }
}

export interface EnvelopeHeader {
  segmentSize: number;
  noncePrefix: Buffer;
  wrappedKey: Buffer;
}

export function encodeEnvelopeHeader(header: EnvelopeHeader): Buffer {
  if (
    !Number.isInteger(header.segmentSize) ||
    header.segmentSize < MIN_SEGMENT_SIZE ||
    header.segmentSize > MAX_SEGMENT_SIZE
  ) {
    throw new RangeError(`segment size must be ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE} bytes`);
  }
  if (header.noncePrefix.length !== NONCE_PREFIX_LENGTH) throw new RangeError('nonce prefix must be 7 bytes');
  if (header.wrappedKey.length === 0 || header.wrappedKey.length > 0xffff) {
    throw new RangeError('wrapped data key must be 1..65535 bytes');
  }
  const fixed = Buffer.alloc(FIXED_HEADER_LENGTH);
  ENVELOPE_MAGIC.copy(fixed, 0);
  fixed[4] = ENVELOPE_VERSION;
  fixed[5] = ALGORITHM_AES_256_GCM_STREAM;
  fixed.writeUInt32BE(header.segmentSize, 6);
  header.noncePrefix.copy(fixed, 10);
  fixed.writeUInt16BE(header.wrappedKey.length, 17);
  return Buffer.concat([fixed, header.wrappedKey]);
}

/**
 * Reads the header from the start of `data`. Returns undefined while more bytes are needed, and
 * throws as soon as the bytes seen cannot begin an envelope (so a plaintext file fails at once).
 */
export function decodeEnvelopeHeader(data: Buffer): { header: EnvelopeHeader; length: number } | undefined {
  const magicSeen = data.subarray(0, ENVELOPE_MAGIC.length);
  if (!magicSeen.equals(ENVELOPE_MAGIC.subarray(0, magicSeen.length))) {
    throw new EnvelopeError('input is not a Keyhaven encrypted file (bad magic)');
  }
  if (data.length < FIXED_HEADER_LENGTH) return undefined;
  if (data[4] !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported envelope format version ${data[4]}`);
  if (data[5] !== ALGORITHM_AES_256_GCM_STREAM)
    throw new EnvelopeError(`unsupported envelope algorithm ${data[5]}`);
  const segmentSize = data.readUInt32BE(6);
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new EnvelopeError(`invalid envelope segment size ${segmentSize}`);
  }
  const wrappedLength = data.readUInt16BE(17);
  if (wrappedLength === 0) throw new EnvelopeError('envelope header has an empty wrapped data key');
  const length = FIXED_HEADER_LENGTH + wrappedLength;
  if (data.length < length) return undefined;
  return {
    header: {
      segmentSize,
      noncePrefix: Buffer.from(data.subarray(10, 10 + NONCE_PREFIX_LENGTH)),
      wrappedKey: Buffer.from(data.subarray(FIXED_HEADER_LENGTH, length)),
    },
    length,
  };
}

function segmentNonce(noncePrefix: Buffer, index: number, last: boolean): Buffer {
  if (index >= MAX_SEGMENTS) throw new RangeError('too many segments for one envelope');
  const nonce = Buffer.alloc(12);
  noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

export interface SegmentParams {
  key: Buffer;
  /** The encoded header, the associated data of every segment. */
  header: Buffer;
  noncePrefix: Buffer;
}

export function sealSegment(params: SegmentParams, index: number, last: boolean, plaintext: Buffer): Buffer {
  const nonce = segmentNonce(params.noncePrefix, index, last);
  const { ciphertext, tag } = aesGcmEncrypt(params.key, plaintext, params.header, nonce);
  return Buffer.concat([ciphertext, tag]);
}

/** Returns the segment's plaintext only once its tag has verified (aesGcmDecrypt wipes it otherwise). */
export function openSegment(params: SegmentParams, index: number, last: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG_LENGTH) throw new EnvelopeError('encrypted file is truncated');
  const nonce = segmentNonce(params.noncePrefix, index, last);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  try {
    return aesGcmDecrypt(
      params.key,
      nonce,
      sealed.subarray(0, sealed.length - TAG_LENGTH),
      tag,
      params.header,
    );
  } catch (cause) {
    throw new EnvelopeError(
      `segment ${index} failed authentication: the file was modified, truncated or reordered`,
      { cause },
    );
  }
}
