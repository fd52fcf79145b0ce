// The key backup bundle (POST /v1/keys/backup, /restore; docs/api.md "Key backup bundle"), format 1:
//   0..3    magic "KHKB"
//   4       format version (0x01)
//   5..8    header length (uint32 BE)
//   9..     header: UTF-8 JSON {format, version, createdAt, keyIds, iv, seal}, no secrets
//   then    AES-256-GCM of the payload, then the 16-byte tag; bytes 0 to the header's end are the
//           associated data, so a changed header (a key id, the scrypt cost) fails like a changed body.
// The payload is a JSON part (metadata, with each version's material named by offset and length)
// followed by the material bytes, so secrets live only in Buffers that can be wiped, never in strings.
// Pure: sealing and opening are crypto/bundle-seal.ts.
import { decodePaddedBase64 } from './base64.js';
import { KmsError, validationError } from './errors.js';

export const BUNDLE_MAGIC = Buffer.from('KHKB', 'ascii');
export const BUNDLE_FORMAT_V1 = 0x01;
export const BUNDLE_FORMAT_NAME = 'keyhaven-key-bundle';
const PREFIX_LENGTH = BUNDLE_MAGIC.length + 1 + 4;
/** The header is small (ids, salt, a wrapped data key): anything larger is not ours. */
const MAX_HEADER_BYTES = 64 * 1024;

/** Scrypt's cost parameters, as written in the header (RFC 7914 §2). */
export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

export type BundleSeal =
  | ({ kind: 'passphrase'; kdf: 'scrypt'; salt: string } & ScryptParameters)
  /** A fresh data key, as a Keyhaven ciphertext under `keyId` (GenerateDataKey). */
  | { kind: 'key'; keyId: string; encryptedDataKey: string };

export interface BundleHeader {
  format: typeof BUNDLE_FORMAT_NAME;
  version: 1;
  createdAt: string;
  keyIds: string[];
  /** The payload's AES-GCM IV, base64. */
  iv: string;
  seal: BundleSeal;
}

/** Where a version's material sits in the payload's material part. */
export interface MaterialSpan {
  offset: number;
  length: number;
}

export interface BundledVersion {
  version: number;
  state: 'Enabled' | 'Destroyed';
  createdAt: string;
  rotation: 'AUTOMATIC' | 'ON_DEMAND' | null;
  /** Raw symmetric bytes or PKCS#8 DER; null for a destroyed version or a public-key-only key. */
  material: MaterialSpan | null;
  publicKeySpki: string | null;
  /** AES-GCM seals counted against the version so far (services/seal-budget.ts): never reset. */
  sealsReserved: number;
  /** Imported material's fingerprint (digest base64) and the secret it is keyed with. */
  fingerprint: { digest: string; secret: MaterialSpan } | null;
}

export interface BundledKey {
  keyId: string;
  keySpec: string;
  keyUsage: string;
  state: string;
  protectionLevel: string;
  origin: string;
  currentVersion: number;
  description: string;
  tags: Record<string, string>;
  createdAt: string;
  rotationPeriodDays: number | null;
  nextRotationAt: string | null;
  expiresAt: string | null;
  exportable: boolean;
  publicKeyOnly: boolean;
  aliases: string[];
  /** The key policy in force: Keyhaven's document, and the AWS text it was written in, if any. */
  policy: { document: unknown; awsSource: string | null } | null;
  versions: BundledVersion[];
}

export interface BundlePayload {
  keys: BundledKey[];
}

export function encodeBundlePrefix(header: BundleHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_LENGTH);
  BUNDLE_MAGIC.copy(prefix, 0);
  prefix[BUNDLE_MAGIC.length] = BUNDLE_FORMAT_V1;
  prefix.writeUInt32BE(json.length, BUNDLE_MAGIC.length + 1);
  return Buffer.concat([prefix, json]);
}

const notABundle = (why: string) => validationError(`bundle is not a Keyhaven key bundle: ${why}`);

/** The header and where it ends (the associated data) and the sealed body begins. */
export function decodeBundleHeader(bundle: Buffer): { header: BundleHeader; aad: Buffer; body: Buffer } {
  if (bundle.length < PREFIX_LENGTH || !bundle.subarray(0, BUNDLE_MAGIC.length).equals(BUNDLE_MAGIC)) {
    throw notABundle('the magic bytes are missing');
  }
  if (bundle[BUNDLE_MAGIC.length] !== BUNDLE_FORMAT_V1) {
    throw notABundle(`format ${bundle[BUNDLE_MAGIC.length]} is not supported (this server reads format 1)`);
  }
  const length = bundle.readUInt32BE(BUNDLE_MAGIC.length + 1);
  if (length > MAX_HEADER_BYTES || PREFIX_LENGTH + length > bundle.length) {
    throw notABundle('the header length is out of range');
  }
  const end = PREFIX_LENGTH + length;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bundle.subarray(PREFIX_LENGTH, end).toString('utf8'));
  } catch {
    throw notABundle('the header is not JSON');
  }
  return { header: checkHeader(parsed), aad: bundle.subarray(0, end), body: bundle.subarray(end) };
}

function checkHeader(value: unknown): BundleHeader {
  const header = value as Partial<BundleHeader> | null;
  if (
    typeof header !== 'object' ||
    header === null ||
    header.format !== BUNDLE_FORMAT_NAME ||
    header.version !== 1 ||
    typeof header.createdAt !== 'string' ||
    !Array.isArray(header.keyIds) ||
    !header.keyIds.every((id) => typeof id === 'string') ||
    typeof header.iv !== 'string' ||
    decodePaddedBase64(header.iv)?.length !== 12
  ) {
    throw notABundle('the header is malformed');
  }
  const seal = header.seal as Partial<Record<string, unknown>> | undefined;
  if (seal?.kind === 'passphrase') {
    const { N, r, p } = seal;
    if (
      seal.kdf !== 'scrypt' ||
      typeof seal.salt !== 'string' ||
      !decodePaddedBase64(seal.salt) ||
      typeof N !== 'number' ||
      typeof r !== 'number' ||
      typeof p !== 'number'
    ) {
      throw notABundle('the passphrase seal is malformed');
    }
  } else if (seal?.kind === 'key') {
    if (typeof seal.keyId !== 'string' || typeof seal.encryptedDataKey !== 'string') {
      throw notABundle('the key seal is malformed');
    }
  } else {
    throw notABundle('the seal is neither a passphrase nor a key');
  }
  return header as BundleHeader;
}

/** The payload's plaintext: uint32 BE length, the JSON part, the material part. */
export function encodePayload(payload: BundlePayload, material: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(payload), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, material]);
}

/** The JSON part and a view of the material part (the caller wipes the whole plaintext). */
export function decodePayload(plaintext: Buffer): { payload: BundlePayload; material: Buffer } {
  // Authenticated already: a malformed payload is a bundle this server did not write.
  const broken = () => new KmsError('ValidationError', 'the bundle payload is malformed');
  if (plaintext.length < 4) throw broken();
  const length = plaintext.readUInt32BE(0);
  if (4 + length > plaintext.length) throw broken();
  let payload: BundlePayload;
  try {
    payload = JSON.parse(plaintext.subarray(4, 4 + length).toString('utf8')) as BundlePayload;
  } catch {
    throw broken();
  }
  if (!payload || !Array.isArray(payload.keys)) throw broken();
  return { payload, material: plaintext.subarray(4 + length) };
}

/** The span's bytes, a view into `material`; ValidationError when it points outside. */
export function materialAt(material: Buffer, span: MaterialSpan): Buffer {
  const { offset, length } = span;
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1) {
    throw validationError('the bundle payload names material out of range');
  }
  if (offset + length > material.length)
    throw validationError('the bundle payload names material out of range');
  return material.subarray(offset, offset + length);
}
