// A local stand-in for Google Cloud KMS (which cannot be reached from here): an HTTPS server speaking
// the Cloud KMS v1 REST wire format (cloud.google.com/kms/docs/reference/rest) with real cryptography
// (AES-256-GCM for symmetric keys, RSA-PSS / PKCS#1 / ECDSA over digests, by node:crypto). It checks
// the bearer token and every request CRC32C as Google does, records requests, and can be told to fail
// or to corrupt a response checksum.
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpsStandIn } from './local-https-stand-in.js';
import { protos } from '@google-cloud/kms';
import { signMessage } from '../../src/crypto/signature.js';
import type { SigningAlgorithm } from '../../src/domain/key-spec.js';
import { crc32c } from '../../src/integration/crc32c.js';

const v1 = protos.google.cloud.kms.v1;
const ALGORITHMS = v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm as unknown as Record<
  string | number,
  string | number
>;
const PURPOSES = v1.CryptoKey.CryptoKeyPurpose as unknown as Record<string | number, string | number>;
const LEVELS = v1.ProtectionLevel as unknown as Record<string | number, string | number>;
const STATES = v1.CryptoKeyVersion.CryptoKeyVersionState as unknown as Record<
  string | number,
  string | number
>;

// Google algorithm -> how the stand-in makes the key and signs.
const SIGNING: Record<string, { key: () => KeyObject; algorithm: SigningAlgorithm; digest: string }> = {
  RSA_SIGN_PSS_2048_SHA256: { key: () => rsa(2048), algorithm: 'RSASSA_PSS_SHA_256', digest: 'sha256' },
  RSA_SIGN_PSS_3072_SHA256: { key: () => rsa(3072), algorithm: 'RSASSA_PSS_SHA_256', digest: 'sha256' },
  RSA_SIGN_PKCS1_2048_SHA256: {
    key: () => rsa(2048),
    algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    digest: 'sha256',
  },
  RSA_SIGN_PKCS1_3072_SHA256: {
    key: () => rsa(3072),
    algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    digest: 'sha256',
  },
  EC_SIGN_P256_SHA256: { key: () => ec('prime256v1'), algorithm: 'ECDSA_SHA_256', digest: 'sha256' },
  EC_SIGN_P384_SHA384: { key: () => ec('secp384r1'), algorithm: 'ECDSA_SHA_384', digest: 'sha384' },
};
const rsa = (modulusLength: number) => generateKeyPairSync('rsa', { modulusLength }).privateKey;
const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;

interface StoredKey {
  name: string;
  purpose: string;
  algorithm: string;
  protectionLevel: string;
  createTime: string;
  /** Version 1 only: enough for these tests. */
  secret?: Buffer;
  privateKey?: KeyObject;
  enabled: boolean;
}

export interface RecordedGoogleRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
}

export interface GoogleFault {
  /** The HTTP status to answer, or 0 for no answer at all. */
  httpStatus: number;
  status: string;
  /** Only requests whose path ends with this (e.g. `:encrypt`); any request when absent. */
  pathSuffix?: string;
}

class GoogleRpcError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

export class FakeGoogleCloudKms extends LocalHttpsStandIn {
  readonly requests: RecordedGoogleRequest[] = [];
  private readonly keyRings = new Set<string>();
  private readonly keys = new Map<string, StoredKey>();
  private readonly faults: GoogleFault[] = [];
  private readonly corruptions: string[] = [];

  addKeyRing(name: string): void {
    this.keyRings.add(name);
  }

  injectFaults(...faults: GoogleFault[]): void {
    this.faults.push(...faults);
  }

  /** The next response carrying `field` (a `*Crc32c` or a `verified*Crc32c` field) has it corrupted. */
  corruptNext(field: string): void {
    this.corruptions.push(field);
  }

  calls(suffix: string): RecordedGoogleRequest[] {
    return this.requests.filter((r) => r.path.endsWith(suffix));
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const numericEnums = /enum-encoding=int/.test(url.searchParams.get('$alt') ?? '');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      return sendError(res, new GoogleRpcError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'));
    }
    const path = decodeURIComponent(url.pathname);
    this.requests.push({
      method: req.method ?? '',
      path,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
    });
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return sendError(
        res,
        new GoogleRpcError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
      );
    }
    const faultAt = this.faults.findIndex((f) => !f.pathSuffix || path.endsWith(f.pathSuffix));
    if (faultAt >= 0) {
      const [fault] = this.faults.splice(faultAt, 1);
      // Status 0: no answer at all (the request hangs until the client gives up or stop()).
      if (fault!.httpStatus === 0) return;
      return sendError(res, new GoogleRpcError(fault!.httpStatus, fault!.status, 'injected fault'));
    }
    try {
      const answer = this.route(req.method ?? '', path, url.searchParams, body ?? {}, numericEnums);
      for (const field of Object.keys(answer)) {
        const at = this.corruptions.indexOf(field);
        if (at < 0) continue;
        this.corruptions.splice(at, 1);
        answer[field] =
          typeof answer[field] === 'boolean' ? false : String((Number(answer[field]) + 1) % 2 ** 32);
      }
      send(res, 200, answer);
    } catch (error) {
      if (error instanceof GoogleRpcError) return sendError(res, error);
      sendError(res, new GoogleRpcError(500, 'INTERNAL', 'stand-in failure'));
    }
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    numericEnums: boolean,
  ): Record<string, unknown> {
    const m = /^\/v1\/(.+?)(?::(encrypt|decrypt|asymmetricSign))?$/.exec(path);
    if (!m) throw new GoogleRpcError(404, 'NOT_FOUND', 'no such route');
    const [, resource, verb] = m as unknown as [string, string, string | undefined];
    const enumOut = (table: Record<string | number, string | number>, value: string) =>
      numericEnums ? table[value] : value;
    if (method === 'POST' && resource.endsWith('/cryptoKeys') && !verb) {
      const parent = resource.slice(0, -'/cryptoKeys'.length);
      if (!this.keyRings.has(parent))
        throw new GoogleRpcError(404, 'NOT_FOUND', `KeyRing ${parent} not found.`);
      const id = query.get('cryptoKeyId') ?? '';
      if (!/^[a-zA-Z0-9_-]{1,63}$/.test(id))
        throw new GoogleRpcError(400, 'INVALID_ARGUMENT', 'Invalid cryptoKeyId.');
      const name = `${parent}/cryptoKeys/${id}`;
      if (this.keys.has(name))
        throw new GoogleRpcError(409, 'ALREADY_EXISTS', `CryptoKey ${name} already exists.`);
      const template = (body.versionTemplate ?? {}) as {
        algorithm?: string | number;
        protectionLevel?: string | number;
      };
      const key: StoredKey = {
        name,
        purpose: enumName(PURPOSES, (body.purpose as string | number | undefined) ?? 'ENCRYPT_DECRYPT'),
        algorithm: enumName(ALGORITHMS, template.algorithm ?? 'GOOGLE_SYMMETRIC_ENCRYPTION'),
        protectionLevel: enumName(LEVELS, template.protectionLevel ?? 'SOFTWARE'),
        createTime: new Date().toISOString(),
        enabled: true,
      };
      if (key.purpose === 'ENCRYPT_DECRYPT' && key.algorithm === 'GOOGLE_SYMMETRIC_ENCRYPTION') {
        key.secret = randomBytes(32);
      } else if (key.purpose === 'ASYMMETRIC_SIGN' && SIGNING[key.algorithm]) {
        key.privateKey = SIGNING[key.algorithm]!.key();
      } else {
        throw new GoogleRpcError(
          400,
          'INVALID_ARGUMENT',
          `Unsupported purpose/algorithm ${key.purpose}/${key.algorithm}.`,
        );
      }
      this.keys.set(name, key);
      return this.cryptoKeyJson(key, enumOut);
    }
    if (method === 'GET' && /\/keyRings\/[^/]+$/.test(resource)) {
      if (!this.keyRings.has(resource))
        throw new GoogleRpcError(404, 'NOT_FOUND', `KeyRing ${resource} not found.`);
      return { name: resource, createTime: new Date(0).toISOString() };
    }
    if (method === 'GET' && /\/cryptoKeys\/[^/]+$/.test(resource)) {
      return this.cryptoKeyJson(this.find(resource), enumOut);
    }
    if (method === 'GET' && resource.endsWith('/publicKey')) {
      const version = resource.slice(0, -'/publicKey'.length);
      const key = this.findVersion(version);
      if (!key.privateKey) throw new GoogleRpcError(400, 'FAILED_PRECONDITION', 'Not an asymmetric key.');
      const pem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
      return {
        pem,
        algorithm: enumOut(ALGORITHMS, key.algorithm),
        pemCrc32c: String(crc32c(Buffer.from(pem))),
        name: version,
        protectionLevel: enumOut(LEVELS, key.protectionLevel),
      };
    }
    if (method !== 'POST' || !verb) throw new GoogleRpcError(404, 'NOT_FOUND', 'no such route');
    if (verb === 'encrypt' || verb === 'decrypt') {
      const key = /\/cryptoKeyVersions\//.test(resource) ? this.findVersion(resource) : this.find(resource);
      if (!key.secret)
        throw new GoogleRpcError(400, 'FAILED_PRECONDITION', `${key.name} is not a symmetric key.`);
      if (!key.enabled)
        throw new GoogleRpcError(
          400,
          'FAILED_PRECONDITION',
          `${key.name}/cryptoKeyVersions/1 is not enabled.`,
        );
      const field = verb === 'encrypt' ? 'plaintext' : 'ciphertext';
      const input = Buffer.from(String(body[field] ?? ''), 'base64');
      checkRequestCrc(body, field, input);
      const aad = Buffer.from(key.name);
      if (verb === 'encrypt') {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key.secret, iv).setAAD(aad);
        const ciphertext = Buffer.concat([
          Buffer.from([1]),
          iv,
          cipher.update(input),
          cipher.final(),
          cipher.getAuthTag(),
        ]);
        return {
          name: `${key.name}/cryptoKeyVersions/1`,
          ciphertext: ciphertext.toString('base64'),
          ciphertextCrc32c: String(crc32c(ciphertext)),
          verifiedPlaintextCrc32c: body.plaintextCrc32c !== undefined,
          verifiedAdditionalAuthenticatedDataCrc32c: false,
          protectionLevel: enumOut(LEVELS, key.protectionLevel),
        };
      }
      let plaintext: Buffer;
      try {
        if (input[0] !== 1 || input.length < 29) throw new Error('format');
        const decipher = createDecipheriv('aes-256-gcm', key.secret, input.subarray(1, 13)).setAAD(aad);
        decipher.setAuthTag(input.subarray(input.length - 16));
        plaintext = Buffer.concat([decipher.update(input.subarray(13, input.length - 16)), decipher.final()]);
      } catch {
        throw new GoogleRpcError(400, 'INVALID_ARGUMENT', 'Decryption failed: the ciphertext is invalid.');
      }
      return {
        plaintext: plaintext.toString('base64'),
        plaintextCrc32c: String(crc32c(plaintext)),
        usedPrimary: true,
        protectionLevel: enumOut(LEVELS, key.protectionLevel),
      };
    }
    // asymmetricSign
    const key = this.findVersion(resource);
    const signing = SIGNING[key.algorithm];
    if (!key.privateKey || !signing)
      throw new GoogleRpcError(400, 'FAILED_PRECONDITION', 'Not a signing key.');
    const digestField = (body.digest ?? {}) as Record<string, string>;
    if (Object.keys(digestField).join() !== signing.digest) {
      throw new GoogleRpcError(400, 'INVALID_ARGUMENT', `The key requires a ${signing.digest} digest.`);
    }
    const digest = Buffer.from(digestField[signing.digest]!, 'base64');
    checkRequestCrc(body, 'digest', digest);
    const signature = signMessage(key.privateKey, signing.algorithm, digest, 'DIGEST');
    return {
      signature: signature.toString('base64'),
      signatureCrc32c: String(crc32c(signature)),
      verifiedDigestCrc32c: body.digestCrc32c !== undefined,
      name: resource,
      protectionLevel: enumOut(LEVELS, key.protectionLevel),
    };
  }

  private find(name: string): StoredKey {
    const key = this.keys.get(name);
    if (!key) throw new GoogleRpcError(404, 'NOT_FOUND', `CryptoKey ${name} not found.`);
    return key;
  }

  private findVersion(name: string): StoredKey {
    const m = /^(.+)\/cryptoKeyVersions\/([^/]+)$/.exec(name);
    if (!m || m[2] !== '1') throw new GoogleRpcError(404, 'NOT_FOUND', `CryptoKeyVersion ${name} not found.`);
    return this.find(m[1]!);
  }

  setEnabled(name: string, enabled: boolean): void {
    this.find(name).enabled = enabled;
  }

  private cryptoKeyJson(
    key: StoredKey,
    enumOut: (table: Record<string | number, string | number>, value: string) => string | number | undefined,
  ): Record<string, unknown> {
    const version = {
      name: `${key.name}/cryptoKeyVersions/1`,
      state: enumOut(STATES, key.enabled ? 'ENABLED' : 'DISABLED'),
      algorithm: enumOut(ALGORITHMS, key.algorithm),
      protectionLevel: enumOut(LEVELS, key.protectionLevel),
      createTime: key.createTime,
    };
    return {
      name: key.name,
      // Asymmetric keys have no primary version (Cloud KMS sets one for ENCRYPT_DECRYPT only).
      ...(key.secret ? { primary: version } : {}),
      purpose: enumOut(PURPOSES, key.purpose),
      createTime: key.createTime,
      versionTemplate: {
        algorithm: enumOut(ALGORITHMS, key.algorithm),
        protectionLevel: enumOut(LEVELS, key.protectionLevel),
      },
    };
  }
}

function enumName(table: Record<string | number, string | number>, value: string | number): string {
  return typeof value === 'number' ? String(table[value]) : value;
}

/** As Cloud KMS does: a request checksum that does not match its field is INVALID_ARGUMENT. */
function checkRequestCrc(body: Record<string, unknown>, field: string, bytes: Buffer): void {
  const sent = body[`${field}Crc32c`];
  if (sent !== undefined && String(sent) !== String(crc32c(bytes))) {
    throw new GoogleRpcError(
      400,
      'INVALID_ARGUMENT',
      `The checksum in field ${field}_crc32c did not match the data in field ${field}.`,
    );
  }
}

function sendError(res: ServerResponse, error: GoogleRpcError): void {
  send(res, error.httpStatus, {
    error: { code: error.httpStatus, message: error.message, status: error.status },
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}
