// The envelope file format and its streams: round trips at the edges of the segmenting, and every
// kind of tampering (header, wrapped key, segment bits, truncation, reordering, extension) failing.
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEGMENT_SIZE,
  EnvelopeError,
  FIXED_HEADER_LENGTH,
  MIN_SEGMENT_SIZE,
  TAG_LENGTH,
  decodeEnvelopeHeader,
} from '../../src/cli/envelope-format.js';
import {
  EnvelopeDecryptStream,
  EnvelopeEncryptStream,
  type DataKeyProvider,
} from '../../src/cli/envelope-stream.js';
import { inProcessDataKeyProvider } from './in-process-data-key-provider.js';

/** Feeds `data` in chunks of `chunkSize` (odd sizes exercise the segment reassembly). */
function source(data: Buffer, chunkSize = 10_007): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      this.push(data.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** Collects output; `chunks` holds whatever was written even when the pipeline fails. */
function sink(): { stream: Writable; chunks: Buffer[]; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, chunks, bytes: () => Buffer.concat(chunks) };
}

async function encrypt(provider: DataKeyProvider, plaintext: Buffer, segmentSize?: number): Promise<Buffer> {
  const out = sink();
  await pipeline(source(plaintext), new EnvelopeEncryptStream(provider, { segmentSize }), out.stream);
  return out.bytes();
}

async function decrypt(provider: DataKeyProvider, envelope: Buffer, chunkSize?: number): Promise<Buffer> {
  const out = sink();
  await pipeline(source(envelope, chunkSize), new EnvelopeDecryptStream(provider), out.stream);
  return out.bytes();
}

function headerLength(envelope: Buffer): number {
  return decodeEnvelopeHeader(envelope)!.length;
}

function flipBit(data: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(data);
  copy[offset]! ^= 1 << bit;
  return copy;
}

const SMALL = MIN_SEGMENT_SIZE;

describe('envelope round trip', () => {
  it('encrypts and decrypts more than 1 MiB with the default 64 KiB segments', async () => {
    const provider = inProcessDataKeyProvider();
    const plaintext = randomBytes(1024 * 1024 + 12_345);
    const envelope = await encrypt(provider, plaintext);
    const segments = Math.ceil(plaintext.length / DEFAULT_SEGMENT_SIZE);
    expect(envelope.length).toBe(headerLength(envelope) + plaintext.length + segments * TAG_LENGTH);
    expect(envelope.includes(plaintext.subarray(0, 64))).toBe(false);
    expect((await decrypt(provider, envelope)).equals(plaintext)).toBe(true);
  });

  it('encrypts an empty input as a header and one empty, authenticated final segment', async () => {
    const provider = inProcessDataKeyProvider();
    const envelope = await encrypt(provider, Buffer.alloc(0));
    expect(envelope.length).toBe(headerLength(envelope) + TAG_LENGTH);
    expect((await decrypt(provider, envelope)).length).toBe(0);
  });

  it('ends an input of exactly n segments with a full final segment, not an extra empty one', async () => {
    const provider = inProcessDataKeyProvider();
    const plaintext = randomBytes(4 * SMALL);
    const envelope = await encrypt(provider, plaintext, SMALL);
    expect(envelope.length).toBe(headerLength(envelope) + 4 * (SMALL + TAG_LENGTH));
    expect((await decrypt(provider, envelope)).equals(plaintext)).toBe(true);
  });

  it('round-trips sizes around the segment boundary whatever the read chunking', async () => {
    const provider = inProcessDataKeyProvider();
    for (const size of [1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL - 1, 2 * SMALL + 1]) {
      const plaintext = randomBytes(size);
      const envelope = await encrypt(provider, plaintext, SMALL);
      for (const chunkSize of [1, 17, SMALL + TAG_LENGTH, 100_000]) {
        expect((await decrypt(provider, envelope, chunkSize)).equals(plaintext)).toBe(true);
      }
    }
  });

  it('uses a fresh data key and nonce prefix per file', async () => {
    const provider = inProcessDataKeyProvider();
    const plaintext = Buffer.from('same input');
    const [a, b] = [await encrypt(provider, plaintext), await encrypt(provider, plaintext)];
    expect(a.equals(b)).toBe(false);
  });

  it('zeroizes every data key once the stream is done', async () => {
    const provider = inProcessDataKeyProvider();
    const envelope = await encrypt(provider, randomBytes(3 * SMALL), SMALL);
    await decrypt(provider, envelope);
    expect(provider.issued).toHaveLength(2);
    for (const key of provider.issued) expect(key.equals(Buffer.alloc(32))).toBe(true);
  });

  it('streams: output leaves the encryptor before the input has ended', async () => {
    const stream = new EnvelopeEncryptStream(inProcessDataKeyProvider(), { segmentSize: SMALL });
    const seen: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => seen.push(chunk));
    stream.write(randomBytes(5 * SMALL));
    await new Promise((resolve) => setImmediate(resolve));
    // Header plus the four segments known not to be the last; the fifth waits for the end.
    expect(seen.length).toBe(5);
    stream.end();
  });
});

describe('envelope tampering fails', () => {
  const wrappingKey = randomBytes(32);
  const provider = inProcessDataKeyProvider(wrappingKey, 'context-a');
  const plaintext = randomBytes(3 * SMALL + 100);
  let envelope: Buffer;
  let start: number;
  const sealed = SMALL + TAG_LENGTH;

  const setup = async () => {
    envelope ??= await encrypt(provider, plaintext, SMALL);
    start = headerLength(envelope);
  };

  const expectFailure = async (tampered: Buffer) => {
    await expect(decrypt(provider, tampered)).rejects.toThrow();
  };

  it('flipping any bit of the header (magic, version, sizes, nonce prefix, wrapped key)', async () => {
    await setup();
    for (let offset = 0; offset < start; offset++) {
      for (const bit of [0, 7]) await expectFailure(flipBit(envelope, offset, bit));
    }
  });

  it('flipping a bit in the wrapped data key is caught when unwrapping it', async () => {
    await setup();
    await expect(decrypt(provider, flipBit(envelope, FIXED_HEADER_LENGTH + 5))).rejects.toThrow(
      /unable to authenticate data/i,
    );
  });

  it('flipping a bit in a segment body or tag', async () => {
    await setup();
    for (const offset of [start, start + sealed - 1, start + sealed + 10, envelope.length - 1]) {
      await expect(decrypt(provider, flipBit(envelope, offset))).rejects.toBeInstanceOf(EnvelopeError);
    }
  });

  it('dropping the last segment (truncation at a segment boundary)', async () => {
    await setup();
    await expect(decrypt(provider, envelope.subarray(0, start + 3 * sealed))).rejects.toThrow(
      /segment 2 failed authentication/,
    );
  });

  it('cutting bytes off the end, down to the header and below', async () => {
    await setup();
    for (const cut of [1, TAG_LENGTH, 100 + TAG_LENGTH - 1])
      await expectFailure(envelope.subarray(0, envelope.length - cut));
    await expect(decrypt(provider, envelope.subarray(0, start))).rejects.toThrow(/truncated/);
    await expect(decrypt(provider, envelope.subarray(0, start - 1))).rejects.toThrow(/truncated/);
    await expect(decrypt(provider, Buffer.alloc(0))).rejects.toThrow(/truncated/);
  });

  it('swapping two segments', async () => {
    await setup();
    const segment = (i: number) => envelope.subarray(start + i * sealed, start + (i + 1) * sealed);
    const swapped = Buffer.concat([
      envelope.subarray(0, start),
      segment(1),
      segment(0),
      envelope.subarray(start + 2 * sealed),
    ]);
    await expect(decrypt(provider, swapped)).rejects.toThrow(/segment 0 failed authentication/);
  });

  it('appending data after the final segment', async () => {
    await setup();
    await expectFailure(Buffer.concat([envelope, Buffer.from([0])]));
    await expectFailure(Buffer.concat([envelope, envelope.subarray(start, start + sealed)]));
  });

  it('moving a segment into another file encrypted under the same provider', async () => {
    await setup();
    const other = await encrypt(provider, randomBytes(plaintext.length), SMALL);
    const spliced = Buffer.concat([envelope.subarray(0, start + sealed), other.subarray(start + sealed)]);
    await expectFailure(spliced);
  });

  it('a different context (the provider refuses to unwrap)', async () => {
    await setup();
    const otherContext = inProcessDataKeyProvider(wrappingKey, 'context-b');
    await expect(decrypt(otherContext, envelope)).rejects.toThrow(/unable to authenticate data/i);
  });

  it('input that is not an envelope fails at once with a clear message', async () => {
    await expect(decrypt(provider, Buffer.from('hello, plain text'))).rejects.toThrow(
      /not a Keyhaven encrypted file/,
    );
  });

  it('writes no plaintext of a failed segment, only the segments verified before it', async () => {
    await setup();
    const tampered = flipBit(envelope, start + 2 * sealed + 3);
    const out = sink();
    await expect(pipeline(source(tampered), new EnvelopeDecryptStream(provider), out.stream)).rejects.toThrow(
      /segment 2 failed authentication/,
    );
    const written = out.bytes();
    expect(written.length).toBe(2 * SMALL);
    expect(written.equals(plaintext.subarray(0, 2 * SMALL))).toBe(true);
  });
});
