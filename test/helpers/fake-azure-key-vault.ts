// A local stand-in for Azure Key Vault (which cannot be reached from here): an HTTPS server speaking
// the Key Vault keys REST wire format (learn.microsoft.com/rest/api/keyvault/keys) with real
// cryptography (RSA-OAEP-256, RFC 3394 A256KW, RS/PS/ES signatures over digests, by node:crypto).
// It issues the bearer challenge, checks the token and api-version on every call, records each
// request for the tests to inspect, and answers faults on demand.
import {
  createCipheriv,
  createDecipheriv,
  constants,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpsStandIn } from './local-https-stand-in.js';
import { decodeEcdsaSignature, encodeEcdsaRawSignature } from '../../src/crypto/ecdsa-der.js';
import { signMessage, verifySignature } from '../../src/crypto/signature.js';
import type { SigningAlgorithm } from '../../src/domain/key-spec.js';

export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';
const RFC3394_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

interface StoredKey {
  name: string;
  version: string;
  kty: string;
  keyOps: string[];
  privateKey?: KeyObject;
  secret?: Buffer;
  crv?: string;
  enabled: boolean;
  created: number;
  tags?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  apiVersion: string | null;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
}

export interface InjectedFault {
  /** The HTTP status to answer, or 0 for no answer at all. */
  status: number;
  code: string;
  /** Only requests whose path ends with this (e.g. `/wrapkey`); any authenticated request when absent. */
  pathSuffix?: string;
}

const JWS_TO_SIGNING: Record<string, { algorithm: SigningAlgorithm; coordinate?: number }> = {
  RS256: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  RS384: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_384' },
  RS512: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_512' },
  PS256: { algorithm: 'RSASSA_PSS_SHA_256' },
  PS384: { algorithm: 'RSASSA_PSS_SHA_384' },
  PS512: { algorithm: 'RSASSA_PSS_SHA_512' },
  ES256: { algorithm: 'ECDSA_SHA_256', coordinate: 32 },
  ES384: { algorithm: 'ECDSA_SHA_384', coordinate: 48 },
  ES512: { algorithm: 'ECDSA_SHA_512', coordinate: 66 },
};
const CURVES: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const fromB64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : '', 'base64url');

class KeyVaultFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class FakeAzureKeyVault extends LocalHttpsStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Hanging requests (fault status 0) whose client closed the connection: an aborted SDK call. */
  abandonedRequests = 0;
  private readonly keys = new Map<string, StoredKey[]>();
  private readonly faults: InjectedFault[] = [];

  /** The next matching authenticated requests answer these errors, in order. */
  injectFaults(...faults: InjectedFault[]): void {
    this.faults.push(...faults);
  }

  /** Key operations (wrap, unwrap, sign, verify) the vault performed, by path suffix. */
  operations(suffix: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === 'POST' && r.path.endsWith(`/${suffix}`) && r.authorization,
    );
  }

  setEnabled(name: string, enabled: boolean): void {
    for (const version of this.keys.get(name) ?? []) version.enabled = enabled;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const raw = await readBody(req);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      return send(res, 400, { error: { code: 'BadParameter', message: 'malformed JSON' } });
    }
    const authorization = req.headers.authorization;
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      apiVersion: url.searchParams.get('api-version'),
      authorization,
      body,
    });
    // The bearer challenge (Key Vault's first answer to a request without a token).
    if (!authorization) {
      res.setHeader(
        'WWW-Authenticate',
        `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${KEY_VAULT_RESOURCE}"`,
      );
      return send(res, 401, {
        error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
      });
    }
    if (authorization !== `Bearer ${this.token}`) {
      return send(res, 401, { error: { code: 'Unauthorized', message: 'AKV10022: Invalid audience.' } });
    }
    if (!url.searchParams.get('api-version')) {
      return send(res, 400, {
        error: { code: 'BadParameter', message: 'The api-version query parameter is required.' },
      });
    }
    const faultAt = this.faults.findIndex((f) => !f.pathSuffix || url.pathname.endsWith(f.pathSuffix));
    if (faultAt >= 0) {
      const [fault] = this.faults.splice(faultAt, 1);
      // Status 0: no answer at all (the request hangs until the client gives up or stop()).
      if (fault!.status === 0) {
        res.on('close', () => this.abandonedRequests++);
        return;
      }
      if (fault!.status === 429) res.setHeader('Retry-After', '0');
      return send(res, fault!.status, { error: { code: fault!.code, message: 'injected fault' } });
    }
    try {
      send(res, 200, this.route(req.method ?? '', url.pathname, body ?? {}));
    } catch (error) {
      if (error instanceof KeyVaultFault) {
        return send(res, error.status, { error: { code: error.code, message: error.message } });
      }
      send(res, 500, { error: { code: 'InternalError', message: 'stand-in failure' } });
    }
  }

  private route(method: string, path: string, body: Record<string, unknown>): unknown {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'keys' || !parts[1]) throw new KeyVaultFault(404, 'NotFound', 'no such route');
    const name = parts[1];
    if (method === 'POST' && parts[2] === 'create' && parts.length === 3)
      return this.bundle(this.create(name, body));
    if (method === 'GET' && parts.length <= 3) return this.bundle(this.find(name, parts[2]));
    if (method === 'POST' && parts.length === 4) {
      const key = this.find(name, parts[2]);
      if (!key.enabled)
        throw new KeyVaultFault(403, 'Forbidden', 'Operation is not allowed on a disabled key.');
      return { kid: this.kid(key), ...this.operate(key, parts[3]!, body) };
    }
    throw new KeyVaultFault(404, 'NotFound', 'no such route');
  }

  private operate(key: StoredKey, operation: string, body: Record<string, unknown>): Record<string, unknown> {
    const alg = String(body.alg ?? '');
    const value = fromB64url(body.value);
    const allowed = { wrapkey: 'wrapKey', unwrapkey: 'unwrapKey', sign: 'sign', verify: 'verify' }[operation];
    if (!allowed) throw new KeyVaultFault(404, 'NotFound', 'no such operation');
    if (!key.keyOps.includes(allowed))
      throw new KeyVaultFault(403, 'Forbidden', `Operation ${allowed} is not permitted on this key.`);
    if (operation === 'wrapkey' || operation === 'unwrapkey') {
      const wrap = operation === 'wrapkey';
      try {
        if (alg === 'RSA-OAEP-256' && key.privateKey) {
          const options = {
            key: key.privateKey,
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: 'sha256',
          };
          return { value: b64url(wrap ? publicEncrypt(options, value) : privateDecrypt(options, value)) };
        }
        if (alg === 'A256KW' && key.secret) {
          const cipher = wrap
            ? createCipheriv('id-aes256-wrap', key.secret, RFC3394_IV)
            : createDecipheriv('id-aes256-wrap', key.secret, RFC3394_IV);
          return { value: b64url(Buffer.concat([cipher.update(value), cipher.final()])) };
        }
      } catch {
        throw new KeyVaultFault(400, 'BadParameter', 'Invalid ciphertext or parameter.');
      }
      throw new KeyVaultFault(400, 'BadParameter', `Algorithm ${alg} is not supported for this key.`);
    }
    const scheme = JWS_TO_SIGNING[alg];
    if (!scheme || !key.privateKey)
      throw new KeyVaultFault(400, 'BadParameter', `Algorithm ${alg} is not supported.`);
    if (operation === 'sign') {
      const signature = signMessage(key.privateKey, scheme.algorithm, value, 'DIGEST');
      // Key Vault returns ECDSA signatures as JWS does: r || s, each as wide as the curve order.
      return { value: b64url(scheme.coordinate ? rawOf(signature, scheme.coordinate) : signature) };
    }
    // Verify's body: { alg, digest, value: the signature }.
    const signature = value;
    const digest = fromB64url(body.digest);
    const der = scheme.coordinate ? encodeEcdsaRawSignature(signature) : signature;
    return { value: verifySignature(key.privateKey, scheme.algorithm, digest, 'DIGEST', der) };
  }

  private create(name: string, body: Record<string, unknown>): StoredKey {
    const kty = String(body.kty ?? '');
    const stored: StoredKey = {
      name,
      version: randomUUID().replaceAll('-', ''),
      kty,
      keyOps: Array.isArray(body.key_ops)
        ? body.key_ops.map(String)
        : ['wrapKey', 'unwrapKey', 'sign', 'verify'],
      enabled: (body.attributes as { enabled?: boolean } | undefined)?.enabled !== false,
      created: Math.floor(Date.now() / 1000),
      ...(body.tags ? { tags: body.tags as Record<string, string> } : {}),
    };
    if (kty === 'RSA' || kty === 'RSA-HSM') {
      const modulusLength = Number(body.key_size ?? 2048);
      stored.privateKey = generateKeyPairSync('rsa', { modulusLength }).privateKey;
    } else if (kty === 'EC' || kty === 'EC-HSM') {
      const crv = String(body.crv ?? 'P-256');
      if (!CURVES[crv]) throw new KeyVaultFault(400, 'BadParameter', `Curve ${crv} is not supported.`);
      stored.crv = crv;
      stored.privateKey = generateKeyPairSync('ec', { namedCurve: CURVES[crv] }).privateKey;
    } else if (kty === 'oct-HSM' || kty === 'oct') {
      if (Number(body.key_size ?? 256) !== 256)
        throw new KeyVaultFault(400, 'BadParameter', 'Only 256-bit oct keys here.');
      stored.secret = randomBytes(32);
    } else {
      throw new KeyVaultFault(400, 'BadParameter', `Key type ${kty} is not supported.`);
    }
    const versions = this.keys.get(name) ?? [];
    versions.push(stored);
    this.keys.set(name, versions);
    return stored;
  }

  private find(name: string, version: string | undefined): StoredKey {
    const versions = this.keys.get(name) ?? [];
    const found = version ? versions.find((v) => v.version === version) : versions.at(-1);
    if (!found)
      throw new KeyVaultFault(
        404,
        'KeyNotFound',
        `A key with (name/id) ${name} was not found in this key vault.`,
      );
    return found;
  }

  private kid(key: StoredKey): string {
    return `${this.url}/keys/${key.name}/${key.version}`;
  }

  private bundle(key: StoredKey): unknown {
    const jwk: Record<string, unknown> = { kid: this.kid(key), kty: key.kty, key_ops: key.keyOps };
    if (key.privateKey) {
      const exported = key.privateKey.export({ format: 'jwk' });
      if (exported.n) Object.assign(jwk, { n: exported.n, e: exported.e });
      if (exported.crv) Object.assign(jwk, { crv: key.crv, x: exported.x, y: exported.y });
    }
    return {
      key: jwk,
      attributes: {
        enabled: key.enabled,
        created: key.created,
        updated: key.created,
        recoveryLevel: 'Recoverable+Purgeable',
      },
      ...(key.tags ? { tags: key.tags } : {}),
    };
  }
}

function rawOf(der: Buffer, coordinate: number): Buffer {
  const { r, s } = decodeEcdsaSignature(der)!;
  const hex = (n: bigint) => n.toString(16).padStart(coordinate * 2, '0');
  return Buffer.from(hex(r) + hex(s), 'hex');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}
