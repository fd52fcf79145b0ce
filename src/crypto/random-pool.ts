// Random bytes for per-request IVs, drawn from a pooled buffer refilled by the CSPRNG 4 KiB at a
// time (as node's own randomUUID does): one randomFillSync per request showed up on the encrypt
// hot path. Every byte is handed out once.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** A fresh copy of `length` (at most 256) bytes from the CSPRNG. */
export function pooledRandomBytes(length: number): Buffer {
  if (length > 256) return randomFillSync(Buffer.alloc(length));
  if (offset + length > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_SIZE));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + length));
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}
