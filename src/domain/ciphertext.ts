// Self-describing ciphertext (DESIGN.md). Layout of format 1:
//   0      format byte (0x01)
//   1..16  key id (UUID, 16 bytes)
//   17..20 key version (uint32 BE)
//   21     algorithm (0x01 = AES-256-GCM; 0x02 = the key backend's own sealed form)
//   22..33 IV (12 bytes; with 0x02, 12 random bytes the backend may use as its IV)
//   34..   AEAD ciphertext, then the 16-byte tag (with 0x02: the backend's sealed bytes)
// The header (bytes 0..33) followed by the canonical encryption context is the associated data, so a
// flipped bit anywhere, or another context, fails authentication.
import { invalidCiphertext, KmsError } from './errors.js';

export const CIPHERTEXT_FORMAT_V1 = 0x01;
export const ALGORITHM_AES_256_GCM = 0x01;
/** Sealed by the key's backend in its own form (ports/key-backend.ts OwnSealing): EXTERNAL keys. */
export const ALGORITHM_BACKEND_SEALED = 0x02;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
export const CIPHERTEXT_HEADER_LENGTH = 1 + 16 + 4 + 1 + IV_LENGTH;
export const CIPHERTEXT_OVERHEAD = CIPHERTEXT_HEADER_LENGTH + TAG_LENGTH;

export interface CiphertextHeader {
  keyId: string;
  keyVersion: number;
  algorithm: number;
  iv: Buffer;
}

export interface ParsedCiphertext extends CiphertextHeader {
  header: Buffer;
  /** Everything after the header (the backend's sealed bytes, with ALGORITHM_BACKEND_SEALED). */
  body: Buffer;
  /** AES-256-GCM only: the body without its tag, and the tag. */
  ciphertext: Buffer;
  tag: Buffer;
}

export function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The associated data of a new ciphertext: the header, then the encoded context, in one buffer whose
 * first CIPHERTEXT_HEADER_LENGTH bytes are left for the header (encodeContext's `reserve`). `header`
 * is a view of those bytes, to be reused as the ciphertext's prefix.
 */
export function sealingData(
  header: CiphertextHeader,
  contextWithRoom: Buffer,
): { header: Buffer; aad: Buffer } {
  checkRoom(contextWithRoom);
  const aad = writeHeader(contextWithRoom, header);
  return { header: aad.subarray(0, CIPHERTEXT_HEADER_LENGTH), aad };
}

/** The associated data of a ciphertext being opened: its header, then the encoded context. */
export function openingData(header: Buffer, contextWithRoom: Buffer): Buffer {
  checkRoom(contextWithRoom);
  header.copy(contextWithRoom, 0, 0, CIPHERTEXT_HEADER_LENGTH);
  return contextWithRoom;
}

function checkRoom(contextWithRoom: Buffer): void {
  if (contextWithRoom.length < CIPHERTEXT_HEADER_LENGTH) {
    throw new KmsError('Internal', 'associated data: the encoded context has no room for the header');
  }
}

/** Writes every header byte (the buffer is not zeroed: nothing may be left unwritten). */
function writeHeader(out: Buffer, header: CiphertextHeader): Buffer {
  out[0] = CIPHERTEXT_FORMAT_V1;
  const idBytes = out.write(header.keyId.replaceAll('-', ''), 1, 16, 'hex');
  if (idBytes !== 16 || header.iv.length !== IV_LENGTH) {
    throw new KmsError('Internal', 'ciphertext header: key id must be a UUID and the IV 12 bytes');
  }
  out.writeUInt32BE(header.keyVersion, 17);
  out[21] = header.algorithm;
  header.iv.copy(out, 22);
  return out;
}

export function encodeCiphertext(header: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  return Buffer.concat([header, ciphertext, tag]);
}

export function parseCiphertext(blob: Buffer): ParsedCiphertext {
  if (blob.length < CIPHERTEXT_OVERHEAD) throw invalidCiphertext('ciphertext is too short');
  if (blob[0] !== CIPHERTEXT_FORMAT_V1) throw invalidCiphertext();
  const algorithm = blob[21]!;
  if (algorithm !== ALGORITHM_AES_256_GCM && algorithm !== ALGORITHM_BACKEND_SEALED) {
    throw invalidCiphertext();
  }
  return {
    keyId: bytesToUuid(blob.subarray(1, 17)),
    keyVersion: blob.readUInt32BE(17),
    algorithm,
    iv: blob.subarray(22, 22 + IV_LENGTH),
    header: blob.subarray(0, CIPHERTEXT_HEADER_LENGTH),
    body: blob.subarray(CIPHERTEXT_HEADER_LENGTH),
    ciphertext: blob.subarray(CIPHERTEXT_HEADER_LENGTH, blob.length - TAG_LENGTH),
    tag: blob.subarray(blob.length - TAG_LENGTH),
  };
}
