// Streaming envelope encryption and decryption (format: envelope-format.ts) as node Transforms, so
// files of any size pass through in fixed-size segments and are never held whole in memory.
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  DATA_KEY_LENGTH,
  DEFAULT_SEGMENT_SIZE,
  EnvelopeError,
  NONCE_PREFIX_LENGTH,
  TAG_LENGTH,
  decodeEnvelopeHeader,
  encodeEnvelopeHeader,
  openSegment,
  sealSegment,
  type SegmentParams,
} from './envelope-format.js';

/** Where data keys come from: the Keyhaven server in the CLI, an in-process stand-in in unit tests. */
export interface DataKeyProvider {
  /** A fresh 32-byte data key and its wrapped form (to store in the header). */
  generateDataKey(): Promise<{ plaintext: Buffer; wrapped: Buffer }>;
  /** The data key back from its wrapped form; rejects if the wrapped key or the context is wrong. */
  unwrapDataKey(wrapped: Buffer): Promise<Buffer>;
}

/** A FIFO of chunks that hands out exact-length slices without re-copying everything per chunk. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const used = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(used);
    }
    this.length -= n;
    return out;
  }

  peekAll(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

export interface EnvelopeEncryptOptions {
  segmentSize?: number;
}

export class EnvelopeEncryptStream extends Transform {
  private readonly segmentSize: number;
  private readonly pending = new ByteQueue();
  private params: SegmentParams | undefined;
  private headerSent = false;
  private index = 0;

  constructor(
    private readonly provider: DataKeyProvider,
    options: EnvelopeEncryptOptions = {},
  ) {
    super();
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.provider.generateDataKey().then(({ plaintext, wrapped }) => {
      if (plaintext.length !== DATA_KEY_LENGTH) {
        plaintext.fill(0);
        callback(new EnvelopeError(`data key must be ${DATA_KEY_LENGTH} bytes, got ${plaintext.length}`));
        return;
      }
      const noncePrefix = randomBytes(NONCE_PREFIX_LENGTH);
      try {
        const header = encodeEnvelopeHeader({
          segmentSize: this.segmentSize,
          noncePrefix,
          wrappedKey: wrapped,
        });
        this.params = { key: plaintext, header, noncePrefix };
        callback();
      } catch (error) {
        plaintext.fill(0);
        callback(error as Error);
      }
    }, callback);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.pending.push(chunk);
      // Strictly more than one segment: the last full segment is held back until we know whether the
      // input ends there, because the final segment is sealed differently.
      while (this.pending.length > this.segmentSize) this.seal(this.pending.take(this.segmentSize), false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.pending.take(this.pending.length), true);
      this.zeroize();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.zeroize();
    callback(error);
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.requireParams().header);
  }

  private seal(plaintext: Buffer, last: boolean): void {
    this.push(sealSegment(this.requireParams(), this.index++, last, plaintext));
  }

  private requireParams(): SegmentParams {
    if (!this.params) throw new Error('envelope stream used before its data key was ready');
    return this.params;
  }

  private zeroize(): void {
    this.params?.key.fill(0);
  }
}

export class EnvelopeDecryptStream extends Transform {
  private readonly pending = new ByteQueue();
  private params: (SegmentParams & { segmentSize: number }) | undefined;
  private index = 0;

  constructor(private readonly provider: DataKeyProvider) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    if (this.params) {
      this.openFullSegments(callback);
      return;
    }
    let decoded;
    try {
      decoded = decodeEnvelopeHeader(this.pending.peekAll());
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (!decoded) {
      callback();
      return;
    }
    const { header, length } = decoded;
    const headerBytes = this.pending.take(length);
    // Unwrapping is a server call; the stream waits for it (backpressure holds the input meanwhile).
    this.provider.unwrapDataKey(header.wrappedKey).then((key) => {
      if (key.length !== DATA_KEY_LENGTH) {
        key.fill(0);
        callback(new EnvelopeError(`data key must be ${DATA_KEY_LENGTH} bytes, got ${key.length}`));
        return;
      }
      this.params = {
        key,
        header: headerBytes,
        noncePrefix: header.noncePrefix,
        segmentSize: header.segmentSize,
      };
      this.openFullSegments(callback);
    }, callback);
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.params) throw new EnvelopeError('encrypted file is truncated (incomplete header)');
      // What remains is the final segment: between a bare tag (empty file) and a full segment.
      if (this.pending.length < TAG_LENGTH) throw new EnvelopeError('encrypted file is truncated');
      this.push(openSegment(this.params, this.index++, true, this.pending.take(this.pending.length)));
      this.zeroize();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.zeroize();
    callback(error);
  }

  private openFullSegments(callback: TransformCallback): void {
    try {
      const params = this.params!;
      const sealedLength = params.segmentSize + TAG_LENGTH;
      while (this.pending.length > sealedLength) {
        this.push(openSegment(params, this.index++, false, this.pending.take(sealedLength)));
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private zeroize(): void {
    this.params?.key.fill(0);
  }
}
