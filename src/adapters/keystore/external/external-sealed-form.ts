// The sealed form of a message under an EXTERNAL key (ciphertext algorithm 0x02, after the header):
// a fresh AES-256 data key per message encrypts the payload here, and travels wrapped by each
// provider that wrapped it, so that any one of them can open the message later.
//   0        form (0x01)
//   1        n: wrapped data keys, 1..255
//   n times  index into the version's references (1 byte), length (2 bytes BE), the provider's ciphertext
//   then     AES-256-GCM ciphertext of the payload, then its 16-byte tag (IV: the header's 12 bytes;
//            associated data: the header, the encoded context, then bytes 0..end of the wrapped
//            keys above, so that a changed wrapped key fails like any flipped bit)
import { invalidCiphertext } from '../../../domain/errors.js';

const FORM = 0x01;
const TAG_LENGTH = 16;
/** The longest wrapped data key the form carries (its 2-byte length). */
export const MAX_WRAPPED_LENGTH = 0xffff;

export interface SealedWrapping {
  /** Index of the wrapping key in the version's references. */
  reference: number;
  ciphertext: Buffer;
}

export interface SealedMessage {
  wrappings: SealedWrapping[];
  ciphertext: Buffer;
  tag: Buffer;
}

export function encodeSealed({ wrappings, ciphertext, tag }: SealedMessage): Buffer {
  return Buffer.concat([encodeWrappings(wrappings), ciphertext, tag]);
}

/** The form byte, the count and the wrapped keys: the part the payload's tag also covers. */
export function encodeWrappings(wrappings: readonly SealedWrapping[]): Buffer {
  const parts: Buffer[] = [Buffer.from([FORM, wrappings.length])];
  for (const { reference, ciphertext: wrapped } of wrappings) {
    if (wrapped.length > MAX_WRAPPED_LENGTH) throw new RangeError('a wrapped data key is too long');
    const head = Buffer.alloc(3);
    head[0] = reference;
    head.writeUInt16BE(wrapped.length, 1);
    parts.push(head, wrapped);
  }
  return Buffer.concat(parts);
}

/** Reads the form; anything malformed is InvalidCiphertext, like a flipped bit. */
export function decodeSealed(body: Buffer): SealedMessage {
  if (body.length < 2 + TAG_LENGTH || body[0] !== FORM || body[1] === 0) throw invalidCiphertext();
  const count = body[1]!;
  const wrappings: SealedWrapping[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 3 > body.length) throw invalidCiphertext();
    const reference = body[at]!;
    const length = body.readUInt16BE(at + 1);
    at += 3;
    if (length === 0 || at + length > body.length) throw invalidCiphertext();
    wrappings.push({ reference, ciphertext: body.subarray(at, at + length) });
    at += length;
  }
  if (body.length - at < TAG_LENGTH) throw invalidCiphertext();
  return {
    wrappings,
    ciphertext: body.subarray(at, body.length - TAG_LENGTH),
    tag: body.subarray(body.length - TAG_LENGTH),
  };
}
