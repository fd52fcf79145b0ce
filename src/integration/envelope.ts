// The envelope format and its local AES-256-GCM: a fresh 256-bit data key per message encrypts the
// payload; the data key travels wrapped by each provider that could wrap it. JSON-safe (base64).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { InvalidEnvelopeError } from './errors.js';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_ALGORITHM = 'AES-256-GCM';

export interface WrappedDataKey {
  /** The configured provider name that wrapped it. */
  provider: string;
  /** That provider's key reference at the time of wrapping. */
  keyRef: string;
  /** base64 */
  ciphertext: string;
}

export interface Envelope {
  version: typeof ENVELOPE_VERSION;
  algorithm: typeof ENVELOPE_ALGORITHM;
  /** The logical key-encryption key id. */
  kekId: string;
  /** base64: 12-byte IV, ciphertext, 16-byte tag. */
  iv: string;
  ciphertext: string;
  tag: string;
  wrappedKeys: WrappedDataKey[];
}

export interface SealedPayload {
  iv: string;
  ciphertext: string;
  tag: string;
}

// The header is authenticated so an envelope cannot be replayed under another KEK id or version.
const aadOf = (kekId: string) =>
  Buffer.from(`keyhaven-envelope/v${ENVELOPE_VERSION}/${ENVELOPE_ALGORITHM}/${kekId}`);

export function sealPayload(dataKey: Buffer, kekId: string, plaintext: Uint8Array): SealedPayload {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(aadOf(kekId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

export function openPayload(dataKey: Buffer, envelope: Envelope): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(envelope.iv, 'base64'));
  decipher.setAAD(aadOf(envelope.kekId));
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()]);
  } catch (cause) {
    throw new InvalidEnvelopeError('the envelope does not authenticate under its data key', { cause });
  }
}

/** An id for the envelope's data key (for the cache): a hash over its wrapped forms, never the key. */
export function dataKeyIdOf(envelope: Envelope): string {
  const hash = createHash('sha256');
  for (const wrapped of envelope.wrappedKeys) hash.update(`${wrapped.provider}\0${wrapped.ciphertext}\0`);
  return hash.digest('hex');
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** Checks the shape of an envelope from outside (it may have been stored as JSON). */
export function parseEnvelope(input: unknown): Envelope {
  const value = typeof input === 'string' ? safeJson(input) : input;
  const candidate = value as Partial<Envelope> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    candidate.version !== ENVELOPE_VERSION ||
    candidate.algorithm !== ENVELOPE_ALGORITHM ||
    ![candidate.kekId, candidate.iv, candidate.ciphertext, candidate.tag].every(isString) ||
    !Array.isArray(candidate.wrappedKeys) ||
    candidate.wrappedKeys.length === 0 ||
    !candidate.wrappedKeys.every((w: Partial<WrappedDataKey>) =>
      [w?.provider, w?.keyRef, w?.ciphertext].every(isString),
    )
  ) {
    throw new InvalidEnvelopeError(`not a version ${ENVELOPE_VERSION} ${ENVELOPE_ALGORITHM} envelope`);
  }
  return candidate as Envelope;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new InvalidEnvelopeError('the envelope is not JSON', { cause });
  }
}
