// KeyhavenClient: one typed method per REST endpoint of API.md (keys, cryptographic operations,
// operations). Bytes in, bytes out; base64 and JSON stay on the wire.
import { HttpTransport, type HttpRequest, type HttpTransportOptions } from './http-transport.js';
import { encryptKeyMaterialForImport, wrappingAlgorithmFor } from './import-material.js';
import type {
  AliasEntry,
  AsymmetricDecryptInput,
  AsymmetricDecryptResult,
  AsymmetricEncryptInput,
  AsymmetricEncryptResult,
  BatchItemError,
  BatchResult,
  CreateKeyInput,
  DataKeyPairResult,
  DataKeyPairSpec,
  DataKeyResult,
  DecryptInput,
  DecryptResult,
  DeriveKeyInput,
  DeriveKeyResult,
  EncryptInput,
  EncryptResult,
  EncryptionAlgorithm,
  GenerateDataKeyInput,
  GenerateDataKeyPairInput,
  GenerateMacInput,
  ImportKeyMaterialInput,
  ImportParameters,
  KeyMaterialType,
  KeyMetadata,
  KeySpec,
  KeyUsageStats,
  KeyVersionInfo,
  ListKeysInput,
  ListKeysResult,
  MacAlgorithm,
  MacResult,
  PublicKeyResult,
  ReencryptInput,
  ReencryptResult,
  ServiceStatus,
  SignInput,
  SignResult,
  SigningAlgorithm,
  UnwrapKeyInput,
  UnwrapKeyResult,
  UpdateKeyInput,
  VerifyInput,
  VerifyMacInput,
  VerifyResult,
  WrapKeyInput,
  WrapKeyResult,
} from './types.js';
import {
  array,
  asObject,
  bool,
  bytes,
  compact,
  field,
  malformed,
  num,
  optionalBytes,
  optionalNum,
  optionalStr,
  str,
  toBase64,
  type WireObject,
} from './wire.js';

export type KeyhavenClientOptions = HttpTransportOptions;

const keyPath = (keyId: string, suffix = '') => `/v1/keys/${encodeURIComponent(keyId)}${suffix}`;

export function isBatchError<T>(result: BatchResult<T>): result is BatchItemError {
  return typeof result === 'object' && result !== null && 'error' in result;
}

export class KeyhavenClient {
  private readonly http: HttpTransport;

  constructor(options: KeyhavenClientOptions) {
    this.http = new HttpTransport(options);
  }

  // ---- Keys -------------------------------------------------------------------------------------

  async createKey(input: CreateKeyInput = {}): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'POST', path: '/v1/keys', body: compact(input) });
  }

  async getKey(keyId: string): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'GET', path: keyPath(keyId) });
  }

  /** Same as getKey; the AWS KMS name. */
  async describeKey(keyId: string): Promise<KeyMetadata> {
    return this.getKey(keyId);
  }

  async listKeys(input: ListKeysInput = {}): Promise<ListKeysResult> {
    const tag =
      typeof input.tag === 'object'
        ? Object.entries(input.tag)
            .map(([k, v]) => `${k}:${v}`)
            .join(',')
        : input.tag;
    const body = await this.object({
      method: 'GET',
      path: '/v1/keys',
      query: { alias: input.alias, tag, state: input.state, limit: input.limit, cursor: input.cursor },
    });
    const nextCursor = body.nextCursor;
    return {
      keys: array(body, 'keys').map((key) => toKey(key)),
      nextCursor: typeof nextCursor === 'string' && nextCursor !== '' ? nextCursor : null,
    };
  }

  /** Every key matching the filter, page by page (following nextCursor). */
  async *listAllKeys(
    input: Omit<ListKeysInput, 'cursor'> = {},
  ): AsyncGenerator<KeyMetadata, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listKeys({ ...input, cursor });
      yield* page.keys;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  async updateKey(keyId: string, input: UpdateKeyInput): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'PATCH', path: keyPath(keyId), body: compact(input) });
  }

  async enableKey(keyId: string): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'POST', path: keyPath(keyId, '/enable') });
  }

  async disableKey(keyId: string): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'POST', path: keyPath(keyId, '/disable') });
  }

  async rotateKey(keyId: string): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'POST', path: keyPath(keyId, '/rotate') });
  }

  async listKeyVersions(keyId: string): Promise<KeyVersionInfo[]> {
    const body = await this.object({ method: 'GET', path: keyPath(keyId, '/versions') });
    return array(body, 'versions').map((entry) => {
      const version = asObject(entry, 'version entry');
      return {
        version: num(version, 'version'),
        state: str(version, 'state'),
        createdAt: str(version, 'createdAt'),
      };
    });
  }

  /** Schedules deletion after 7..30 days (server default 30); the key turns PendingDeletion. */
  async scheduleKeyDeletion(keyId: string, pendingWindowDays?: number): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'DELETE', path: keyPath(keyId), query: { pendingWindowDays } });
  }

  async cancelKeyDeletion(keyId: string): Promise<KeyMetadata> {
    return this.keyResponse({ method: 'POST', path: keyPath(keyId, '/cancel-deletion') });
  }

  async getPublicKey(keyId: string): Promise<PublicKeyResult> {
    const body = await this.object({ method: 'GET', path: keyPath(keyId, '/public-key') });
    return {
      keyId: str(body, 'keyId'),
      keySpec: str(body, 'keySpec') as KeySpec,
      publicKey: str(body, 'publicKey'),
      spki: bytes(body, 'spki'),
    };
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageStats> {
    const body = await this.object({ method: 'GET', path: keyPath(keyId, '/usage') });
    const lastUsedAt = body.lastUsedAt;
    return { ...(body as KeyUsageStats), lastUsedAt: typeof lastUsedAt === 'string' ? lastUsedAt : null };
  }

  async getImportParameters(keyId: string): Promise<ImportParameters> {
    const body = await this.object({ method: 'GET', path: '/v1/keys/import-parameters', query: { keyId } });
    return {
      importToken: str(body, 'importToken'),
      wrappingPublicKey: str(body, 'wrappingPublicKey'),
      wrappingAlgorithm: str(body, 'wrappingAlgorithm'),
      wrappingKeySpec: typeof body.wrappingKeySpec === 'string' ? body.wrappingKeySpec : undefined,
      expiresAt: str(body, 'expiresAt'),
    };
  }

  async importKeyMaterial(input: ImportKeyMaterialInput): Promise<KeyMetadata> {
    const { keyId, encryptedKeyMaterial, ...rest } = input;
    return this.keyResponse({
      method: 'POST',
      path: keyPath(keyId, '/import'),
      body: compact({ ...rest, encryptedKeyMaterial: toBase64(encryptedKeyMaterial) }),
    });
  }

  /**
   * BYOK in one call: fetches import parameters, encrypts `keyMaterial` (raw bytes for SYMMETRIC,
   * PKCS#8 DER for PRIVATE_KEY, SPKI DER for PUBLIC_KEY) to the wrapping key, and imports it.
   */
  async importKey(input: {
    keyId: string;
    keyMaterial: Uint8Array;
    keyMaterialType?: KeyMaterialType;
    expiresAt?: string;
  }): Promise<KeyMetadata> {
    const parameters = await this.getImportParameters(input.keyId);
    const wrappingAlgorithm = wrappingAlgorithmFor(input.keyMaterial);
    return this.importKeyMaterial({
      keyId: input.keyId,
      importToken: parameters.importToken,
      encryptedKeyMaterial: encryptKeyMaterialForImport(
        parameters.wrappingPublicKey,
        input.keyMaterial,
        wrappingAlgorithm,
      ),
      wrappingAlgorithm,
      keyMaterialType: input.keyMaterialType,
      expiresAt: input.expiresAt,
    });
  }

  // ---- Aliases ----------------------------------------------------------------------------------

  /** Creates or repoints an alias (`alias/<name>`, or just `<name>`) to a key. */
  async putAlias(alias: string, keyId: string): Promise<AliasEntry> {
    return toAlias(await this.object({ method: 'PUT', path: aliasPath(alias), body: { keyId } }));
  }

  async deleteAlias(alias: string): Promise<void> {
    await this.http.send({ method: 'DELETE', path: aliasPath(alias) });
  }

  /** Every alias, or only those of one key. */
  async listAliases(keyId?: string): Promise<AliasEntry[]> {
    const body = await this.object({ method: 'GET', path: '/v1/aliases', query: { keyId } });
    return array(body, 'aliases').map((entry) => toAlias(asObject(entry, 'alias entry')));
  }

  // ---- Cryptographic operations -----------------------------------------------------------------

  async encrypt(input: EncryptInput): Promise<EncryptResult> {
    return toEncryptResult(
      await this.object({ method: 'POST', path: '/v1/encrypt', body: encryptBody(input) }),
    );
  }

  async decrypt(input: DecryptInput): Promise<DecryptResult> {
    return toDecryptResult(
      await this.object({ method: 'POST', path: '/v1/decrypt', body: decryptBody(input) }),
    );
  }

  /** Decrypts and encrypts again under `destinationKeyId` without the plaintext leaving the server. */
  async reencrypt(input: ReencryptInput): Promise<ReencryptResult> {
    const { ciphertext, ...rest } = input;
    const body = await this.object({
      method: 'POST',
      path: '/v1/reencrypt',
      body: compact({ ...rest, ciphertext: toBase64(ciphertext) }),
    });
    return compact({
      ...toEncryptResult(body),
      sourceKeyId: optionalStr(body, 'sourceKeyId'),
      sourceKeyVersion: optionalNum(body, 'sourceKeyVersion'),
    }) as ReencryptResult;
  }

  /** Results are in item order; a failed item is `{error}` (see isBatchError) and fails nothing else. */
  async encryptBatch(items: EncryptInput[]): Promise<BatchResult<EncryptResult>[]> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/encrypt/batch',
      body: { items: items.map(encryptBody) },
    });
    return batchResults(body, toEncryptResult);
  }

  async decryptBatch(items: DecryptInput[]): Promise<BatchResult<DecryptResult>[]> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/decrypt/batch',
      body: { items: items.map(decryptBody) },
    });
    return batchResults(body, toDecryptResult);
  }

  async generateDataKey(input: GenerateDataKeyInput): Promise<DataKeyResult> {
    const body = await this.object({ method: 'POST', path: '/v1/datakey', body: compact(input) });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      ciphertext: bytes(body, 'ciphertext'),
      plaintext: optionalBytes(body, 'plaintext'),
    };
  }

  async generateDataKeyPair(input: GenerateDataKeyPairInput): Promise<DataKeyPairResult> {
    const body = await this.object({ method: 'POST', path: '/v1/datakey-pair', body: compact(input) });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      keyPairSpec: str(body, 'keyPairSpec') as DataKeyPairSpec,
      publicKey: bytes(body, 'publicKey'),
      privateKeyCiphertext: bytes(body, 'privateKeyCiphertext'),
      privateKeyPlaintext: optionalBytes(body, 'privateKeyPlaintext'),
    };
  }

  async sign(input: SignInput): Promise<SignResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/sign',
      body: compact({ ...input, message: toBase64(input.message) }),
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      signature: bytes(body, 'signature'),
      algorithm: str(body, 'algorithm') as SigningAlgorithm,
    };
  }

  /** An invalid signature is `{valid: false}`, not an error. */
  async verify(input: VerifyInput): Promise<VerifyResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/verify',
      body: compact({ ...input, message: toBase64(input.message), signature: toBase64(input.signature) }),
    });
    return { keyId: typeof body.keyId === 'string' ? body.keyId : input.keyId, valid: bool(body, 'valid') };
  }

  async generateMac(input: GenerateMacInput): Promise<MacResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/mac',
      body: { ...input, message: toBase64(input.message) },
    });
    return {
      keyId: typeof body.keyId === 'string' ? body.keyId : input.keyId,
      keyVersion: optionalNum(body, 'keyVersion'),
      mac: bytes(body, 'mac'),
      algorithm: (typeof body.algorithm === 'string' ? body.algorithm : input.algorithm) as MacAlgorithm,
    };
  }

  async verifyMac(input: VerifyMacInput): Promise<VerifyResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/mac/verify',
      body: { ...input, message: toBase64(input.message), mac: toBase64(input.mac) },
    });
    return { keyId: typeof body.keyId === 'string' ? body.keyId : input.keyId, valid: bool(body, 'valid') };
  }

  async asymmetricEncrypt(input: AsymmetricEncryptInput): Promise<AsymmetricEncryptResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/asymmetric/encrypt',
      body: { ...input, plaintext: toBase64(input.plaintext) },
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      ciphertext: bytes(body, 'ciphertext'),
      algorithm: str(body, 'algorithm') as EncryptionAlgorithm,
    };
  }

  async asymmetricDecrypt(input: AsymmetricDecryptInput): Promise<AsymmetricDecryptResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/asymmetric/decrypt',
      body: { ...input, ciphertext: toBase64(input.ciphertext) },
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: optionalNum(body, 'keyVersion'),
      plaintext: bytes(body, 'plaintext'),
      algorithm: str(body, 'algorithm') as EncryptionAlgorithm,
    };
  }

  async wrapKey(input: WrapKeyInput): Promise<WrapKeyResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/wrap',
      body: { keyId: input.keyId, keyMaterial: toBase64(input.keyMaterial) },
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      wrappedKey: bytes(body, 'wrappedKey'),
    };
  }

  async unwrapKey(input: UnwrapKeyInput): Promise<UnwrapKeyResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/unwrap',
      body: { keyId: input.keyId, wrappedKey: toBase64(input.wrappedKey) },
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: optionalNum(body, 'keyVersion'),
      keyMaterial: bytes(body, 'keyMaterial'),
    };
  }

  /** HKDF-SHA-256 under the key; `context` is the HKDF info. */
  async deriveKey(input: DeriveKeyInput): Promise<DeriveKeyResult> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/derive',
      body: compact({ ...input, salt: input.salt === undefined ? undefined : toBase64(input.salt) }),
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: optionalNum(body, 'keyVersion'),
      derivedKey: bytes(body, 'derivedKey'),
    };
  }

  /** 1..1024 random bytes from the server's generator (the HSM's, when there is one). */
  async random(byteCount: number): Promise<Buffer> {
    const body = await this.object({ method: 'GET', path: '/v1/random', query: { bytes: byteCount } });
    return bytes(body, 'random');
  }

  // ---- Operations -------------------------------------------------------------------------------

  async health(): Promise<ServiceStatus> {
    return this.status('/health');
  }

  /** Readiness: a server whose database or key store is unreachable answers `ok: false` (503). */
  async ready(): Promise<ServiceStatus> {
    return this.status('/ready');
  }

  /** Prometheus text exposition. */
  async metrics(): Promise<string> {
    return (await this.http.send({ method: 'GET', path: '/metrics' })).text;
  }

  /** The OpenAPI 3.1 document. */
  async openapi(): Promise<Record<string, unknown>> {
    return this.object({ method: 'GET', path: '/openapi.json' });
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private async object(request: HttpRequest): Promise<WireObject> {
    return asObject((await this.http.json(request)).body);
  }

  private async keyResponse(request: HttpRequest): Promise<KeyMetadata> {
    return toKey(field(await this.object(request), 'key'));
  }

  private async status(path: string): Promise<ServiceStatus> {
    const { status, body } = await this.http.json({ method: 'GET', path, acceptStatuses: [503] });
    const object =
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as WireObject) : {};
    return { ok: status >= 200 && status < 300, status, body: object };
  }
}

// The path segment is the bare name: a slash cannot sit in one segment, and proxies often refuse %2F.
const aliasPath = (alias: string) => `/v1/aliases/${encodeURIComponent(alias.replace(/^alias\//, ''))}`;

function toAlias(body: WireObject): AliasEntry {
  const name = typeof body.name === 'string' ? body.name : str(body, 'alias');
  return compact({
    alias: name.startsWith('alias/') ? name : `alias/${name}`,
    keyId: str(body, 'keyId'),
    createdAt: typeof body.createdAt === 'string' ? body.createdAt : undefined,
  }) as AliasEntry;
}

function toKey(value: unknown): KeyMetadata {
  const key = asObject(value, 'key');
  // Only identity is checked: newer servers may add fields, and the rest is typed by the contract.
  str(key, 'keyId');
  if (!Array.isArray(key.aliases)) key.aliases = typeof key.alias === 'string' ? [key.alias] : [];
  return key as unknown as KeyMetadata;
}

function encryptBody(input: EncryptInput): WireObject {
  return compact({ keyId: input.keyId, plaintext: toBase64(input.plaintext), context: input.context });
}

function decryptBody(input: DecryptInput): WireObject {
  return compact({ ciphertext: toBase64(input.ciphertext), context: input.context, keyId: input.keyId });
}

function toEncryptResult(body: WireObject): EncryptResult {
  return {
    keyId: str(body, 'keyId'),
    keyVersion: num(body, 'keyVersion'),
    ciphertext: bytes(body, 'ciphertext'),
  };
}

function toDecryptResult(body: WireObject): DecryptResult {
  return {
    keyId: str(body, 'keyId'),
    keyVersion: num(body, 'keyVersion'),
    plaintext: bytes(body, 'plaintext'),
  };
}

function batchResults<T>(body: WireObject, convert: (item: WireObject) => T): BatchResult<T>[] {
  return array(body, 'results').map((entry) => {
    const item = asObject(entry, 'batch result');
    if (item.error === undefined) return convert(item);
    const error = asObject(item.error, 'batch error');
    if (typeof error.code !== 'string') throw malformed('batch error without a code');
    return {
      error: { code: error.code, message: typeof error.message === 'string' ? error.message : error.code },
    };
  });
}
