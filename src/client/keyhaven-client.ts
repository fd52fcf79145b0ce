// KeyhavenClient: one typed method per REST endpoint of API.md (keys, cryptographic operations,
// identity and policy, operations). Bytes in, bytes out; base64 and JSON stay on the wire.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type {
  AuditPublicKey,
  AuditRecord,
  AuditVerification,
  ListLogsInput,
  ListLogsResult,
  LogRange,
} from './audit-types.js';
import { KeyhavenError } from './errors.js';
import { openRecipientEnvelope } from './recipient-envelope.js';
import { HttpTransport, type HttpRequest, type HttpTransportOptions } from './http-transport.js';
import type {
  AccessKey,
  AccessToken,
  ApiKey,
  CreateApiKeyInput,
  CreatedAccessKey,
  CreatedApiKey,
  CreatePolicyInput,
  CreatePrincipalInput,
  CreateTenantInput,
  KeyPolicy,
  ListPoliciesInput,
  ListPoliciesResult,
  ListPrincipalsInput,
  ListPrincipalsResult,
  ListTenantsResult,
  PageInput,
  Policy,
  PolicyDocument,
  PolicyVersionInfo,
  Principal,
  SimulateInput,
  SimulationResult,
  Tenant,
  UpdatePolicyInput,
  UpdatePrincipalInput,
  UpdateTenantInput,
  VerifyAccessInput,
  VerifyAccessResult,
} from './identity-types.js';
import {
  toAccessKey,
  toApiKey,
  toDecidedBy,
  toDecision,
  toKeyPolicy,
  toPage,
  toPolicy,
  toPolicyVersion,
  toPrincipal,
  toTenant,
} from './identity-wire.js';
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
  DecryptForRecipientInput,
  DecryptForRecipientResult,
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
  BackupKeysInput,
  BackupKeysResult,
  ExportedKeyVersion,
  ExportKeyInput,
  ExportKeyResult,
  ExportWrappingAlgorithm,
  RestoreKeysInput,
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
const tenantPath = (tenantId: string, suffix = '') => `/v1/tenants/${encodeURIComponent(tenantId)}${suffix}`;
const principalPath = (principalId: string, suffix = '') =>
  `/v1/principals/${encodeURIComponent(principalId)}${suffix}`;
const policyPath = (policyId: string, suffix = '') => `/v1/policies/${encodeURIComponent(policyId)}${suffix}`;

export function isBatchError<T>(result: BatchResult<T>): result is BatchItemError {
  return typeof result === 'object' && result !== null && 'error' in result;
}

/** createKey's attempts when the answer is lost (safe: they share one client token). */
const CREATE_ATTEMPTS = 3;

const generateRsaKeyPair = promisify(generateKeyPair);

export class KeyhavenClient {
  private readonly http: HttpTransport;
  /** decryptSealed's recipient key pair, made at its first call. */
  private ephemeralKeyPair?: Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

  constructor(options: KeyhavenClientOptions) {
    this.http = new HttpTransport(options);
  }

  // ---- Keys -------------------------------------------------------------------------------------

  /**
   * Creates a key. The request carries a client token (`input.clientToken`, or one made for this
   * call), so when the answer is lost (a timeout, a dropped connection, 503) the request is sent
   * again, up to twice, and the server answers the key the first attempt created, never a second.
   */
  async createKey(input: CreateKeyInput = {}): Promise<KeyMetadata> {
    const body = compact({ ...input, clientToken: input.clientToken ?? globalThis.crypto.randomUUID() });
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.keyResponse({ method: 'POST', path: '/v1/keys', body });
      } catch (error) {
        if (!(error instanceof KeyhavenError) || error.code !== 'Unavailable' || attempt >= CREATE_ATTEMPTS)
          throw error;
        await new Promise((turn) => setTimeout(turn, 100 * attempt));
      }
    }
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

  // ---- Export, backup, restore ------------------------------------------------------------------

  /** The material of an exportable key, wrapped to `wrappingPublicKey` (open it with the private key). */
  async exportKey(input: ExportKeyInput): Promise<ExportKeyResult> {
    const body = await this.object({
      method: 'GET',
      path: keyPath(input.keyId, '/export'),
      query: {
        wrappingPublicKey: toBase64(input.wrappingPublicKey),
        wrappingAlgorithm: input.wrappingAlgorithm,
        version: input.version === undefined ? undefined : String(input.version),
      },
    });
    const versions = body.versions;
    if (!Array.isArray(versions)) throw malformed('versions');
    return {
      keyId: str(body, 'keyId'),
      keySpec: str(body, 'keySpec') as KeySpec,
      keyUsage: str(body, 'keyUsage'),
      wrappingAlgorithm: str(body, 'wrappingAlgorithm') as ExportWrappingAlgorithm,
      versions: versions.map((item) => {
        const version = asObject(item, 'version');
        return compact({
          version: num(version, 'version'),
          createdAt: str(version, 'createdAt'),
          keyMaterialType: str(version, 'keyMaterialType') as ExportedKeyVersion['keyMaterialType'],
          encryptedKeyMaterial: bytes(version, 'encryptedKeyMaterial'),
          publicKey: optionalBytes(version, 'publicKey'),
        }) as ExportedKeyVersion;
      }),
    };
  }

  /** One sealed bundle of the keys with every version, their metadata, aliases and key policy. */
  async backupKeys(input: BackupKeysInput): Promise<BackupKeysResult> {
    const body = await this.object({ method: 'POST', path: '/v1/keys/backup', body: compact({ ...input }) });
    const keyIds = body.keyIds;
    if (!Array.isArray(keyIds)) throw malformed('keyIds');
    return { bundle: bytes(body, 'bundle'), keyIds: keyIds.map(String) };
  }

  /** Recreates a bundle's keys with their ids in the caller's tenant: all of them, or none. */
  async restoreKeys(input: RestoreKeysInput): Promise<KeyMetadata[]> {
    const body = await this.object({
      method: 'POST',
      path: '/v1/keys/restore',
      body: compact({ bundle: toBase64(input.bundle), passphrase: input.passphrase }),
    });
    const keys = body.keys;
    if (!Array.isArray(keys)) throw malformed('keys');
    return keys.map(toKey);
  }

  // ---- Aliases ----------------------------------------------------------------------------------

  /**
   * Creates or repoints an alias (`alias/<name>`, or just `<name>`) to a key. With `createOnly`,
   * only creates: an alias that exists, of any key, is a Conflict (409) and stays as it is.
   */
  async putAlias(alias: string, keyId: string, options: { createOnly?: boolean } = {}): Promise<AliasEntry> {
    return toAlias(
      await this.object({
        method: 'PUT',
        path: aliasPath(alias),
        body: { keyId },
        headers: options.createOnly ? { 'if-none-match': '*' } : undefined,
      }),
    );
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

  /**
   * Decrypts with the plaintext sealed to `recipient` (CMS EnvelopedData): it never crosses the wire
   * in the clear. Open it with the recipient's private key (`openssl cms -decrypt -inform DER`).
   */
  async decryptForRecipient(input: DecryptForRecipientInput): Promise<DecryptForRecipientResult> {
    const { recipient } = input;
    const body = await this.object({
      method: 'POST',
      path: '/v1/decrypt',
      body: {
        ...decryptBody(input),
        recipient: compact({
          publicKey: 'publicKey' in recipient ? toBase64(recipient.publicKey) : undefined,
          attestationDocument:
            'attestationDocument' in recipient ? toBase64(recipient.attestationDocument) : undefined,
          keyEncryptionAlgorithm: recipient.keyEncryptionAlgorithm,
        }),
      },
    });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      ciphertextForRecipient: bytes(body, 'ciphertextForRecipient'),
    };
  }

  /**
   * Decrypts with the plaintext sealed, on the wire, to an RSA key pair of this client's own (made
   * once, kept in memory only), and opened here: the plaintext never crosses the wire in the
   * clear, even inside TLS. Needs a server that serves recipients (docs/api.md).
   */
  async decryptSealed(input: DecryptInput): Promise<DecryptResult> {
    this.ephemeralKeyPair ??= generateRsaKeyPair('rsa', { modulusLength: 2048 });
    const { publicKey, privateKey } = await this.ephemeralKeyPair;
    const sealed = await this.decryptForRecipient({
      ...input,
      recipient: { publicKey: publicKey.export({ type: 'spki', format: 'der' }) },
    });
    return {
      keyId: sealed.keyId,
      keyVersion: sealed.keyVersion,
      plaintext: openRecipientEnvelope(sealed.ciphertextForRecipient, privateKey),
    };
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

  // ---- Tenants ----------------------------------------------------------------------------------

  /** System administrators only. */
  async createTenant(input: CreateTenantInput): Promise<Tenant> {
    return toTenant(
      field(await this.object({ method: 'POST', path: '/v1/tenants', body: compact(input) }), 'tenant'),
    );
  }

  /** Every tenant for a system administrator; one's own otherwise. */
  async listTenants(input: PageInput = {}): Promise<ListTenantsResult> {
    const body = await this.object({ method: 'GET', path: '/v1/tenants', query: pageQuery(input) });
    const page = toPage(body, 'tenants', toTenant);
    return { tenants: page.items, nextCursor: page.nextCursor };
  }

  /** Every tenant the caller sees, page by page. */
  async *listAllTenants(input: Omit<PageInput, 'cursor'> = {}): AsyncGenerator<Tenant, void, undefined> {
    yield* allPages(input, async (page) => {
      const { tenants, nextCursor } = await this.listTenants(page);
      return { items: tenants, nextCursor };
    });
  }

  async getTenant(tenantId: string): Promise<Tenant> {
    return toTenant(field(await this.object({ method: 'GET', path: tenantPath(tenantId) }), 'tenant'));
  }

  async updateTenant(tenantId: string, input: UpdateTenantInput): Promise<Tenant> {
    const body = await this.object({ method: 'PATCH', path: tenantPath(tenantId), body: compact(input) });
    return toTenant(field(body, 'tenant'));
  }

  async listTenantKeys(tenantId: string, input: PageInput = {}): Promise<ListKeysResult> {
    const body = await this.object({
      method: 'GET',
      path: tenantPath(tenantId, '/keys'),
      query: pageQuery(input),
    });
    const page = toPage(body, 'keys', toKey);
    return { keys: page.items, nextCursor: page.nextCursor };
  }

  async *listAllTenantKeys(
    tenantId: string,
    input: Omit<PageInput, 'cursor'> = {},
  ): AsyncGenerator<KeyMetadata, void, undefined> {
    yield* allPages(input, async (page) => {
      const { keys, nextCursor } = await this.listTenantKeys(tenantId, page);
      return { items: keys, nextCursor };
    });
  }

  // ---- Principals and their credentials ---------------------------------------------------------

  async createPrincipal(input: CreatePrincipalInput): Promise<Principal> {
    const body = await this.object({ method: 'POST', path: '/v1/principals', body: compact(input) });
    return toPrincipal(field(body, 'principal'));
  }

  async listPrincipals(input: ListPrincipalsInput = {}): Promise<ListPrincipalsResult> {
    const body = await this.object({
      method: 'GET',
      path: '/v1/principals',
      query: { tenantId: input.tenantId, ...pageQuery(input) },
    });
    const page = toPage(body, 'principals', toPrincipal);
    return { principals: page.items, nextCursor: page.nextCursor };
  }

  async *listAllPrincipals(
    input: Omit<ListPrincipalsInput, 'cursor'> = {},
  ): AsyncGenerator<Principal, void, undefined> {
    yield* allPages(input, async (page) => {
      const { principals, nextCursor } = await this.listPrincipals(page);
      return { items: principals, nextCursor };
    });
  }

  async getPrincipal(principalId: string): Promise<Principal> {
    return toPrincipal(
      field(await this.object({ method: 'GET', path: principalPath(principalId) }), 'principal'),
    );
  }

  async updatePrincipal(principalId: string, input: UpdatePrincipalInput): Promise<Principal> {
    const body = await this.object({
      method: 'PATCH',
      path: principalPath(principalId),
      body: compact(input),
    });
    return toPrincipal(field(body, 'principal'));
  }

  /** Deletes the principal and every credential it holds. */
  async deletePrincipal(principalId: string): Promise<void> {
    await this.http.send({ method: 'DELETE', path: principalPath(principalId) });
  }

  /** Replaces the policies attached to the principal (`[]` detaches them all). */
  async setPrincipalPolicies(principalId: string, policyIds: string[]): Promise<Principal> {
    const body = await this.object({
      method: 'PUT',
      path: principalPath(principalId, '/policies'),
      body: { policyIds },
    });
    return toPrincipal(field(body, 'principal'));
  }

  /** The secret in the result is the Bearer token, and the only time the server shows it. */
  async createApiKey(principalId: string, input: CreateApiKeyInput = {}): Promise<CreatedApiKey> {
    const body = await this.object({
      method: 'POST',
      path: principalPath(principalId, '/api-keys'),
      body: compact(input),
    });
    return { apiKey: toApiKey(body.apiKey), secret: str(body, 'secret') };
  }

  /** A principal's API keys, revoked ones included; never their secrets. */
  async listApiKeys(principalId: string): Promise<ApiKey[]> {
    const body = await this.object({ method: 'GET', path: principalPath(principalId, '/api-keys') });
    return array(body, 'apiKeys').map(toApiKey);
  }

  /** Refused from the next request on. */
  async revokeApiKey(principalId: string, apiKeyId: string): Promise<void> {
    await this.http.send({
      method: 'DELETE',
      path: principalPath(principalId, `/api-keys/${encodeURIComponent(apiKeyId)}`),
    });
  }

  /** AWS Signature V4 credentials; the secret access key is shown this once. */
  async createAccessKey(principalId: string): Promise<CreatedAccessKey> {
    const body = await this.object({ method: 'POST', path: principalPath(principalId, '/access-keys') });
    return compact({
      accessKeyId: str(body, 'accessKeyId'),
      secretAccessKey: str(body, 'secretAccessKey'),
      accessKey: body.accessKey === undefined ? undefined : toAccessKey(body.accessKey),
    }) as CreatedAccessKey;
  }

  async listAccessKeys(principalId: string): Promise<AccessKey[]> {
    const body = await this.object({ method: 'GET', path: principalPath(principalId, '/access-keys') });
    return array(body, 'accessKeys').map(toAccessKey);
  }

  async deleteAccessKey(principalId: string, accessKeyId: string): Promise<void> {
    await this.http.send({
      method: 'DELETE',
      path: principalPath(principalId, `/access-keys/${encodeURIComponent(accessKeyId)}`),
    });
  }

  /**
   * Trades this client's API key for an access token (server default lifetime unless `ttlSeconds`,
   * up to the server's maximum). Only API-key callers get one: an access token cannot mint another.
   */
  async createAccessToken(ttlSeconds?: number): Promise<AccessToken> {
    const body = await this.object({ method: 'POST', path: '/v1/auth/token', body: compact({ ttlSeconds }) });
    const tokenType = str(body, 'tokenType');
    if (tokenType !== 'Bearer') throw malformed(`unknown token type "${tokenType}"`);
    return { accessToken: str(body, 'accessToken'), tokenType, expiresIn: num(body, 'expiresIn') };
  }

  // ---- Policies ---------------------------------------------------------------------------------

  async createPolicy(input: CreatePolicyInput): Promise<Policy> {
    const body = await this.object({ method: 'POST', path: '/v1/policies', body: compact(input) });
    return toPolicy(field(body, 'policy'));
  }

  /** A tenant's policies (key policies are read through their key: getKeyPolicy). */
  async listPolicies(input: ListPoliciesInput = {}): Promise<ListPoliciesResult> {
    const body = await this.object({
      method: 'GET',
      path: '/v1/policies',
      query: { tenantId: input.tenantId, ...pageQuery(input) },
    });
    const page = toPage(body, 'policies', toPolicy);
    return { policies: page.items, nextCursor: page.nextCursor };
  }

  async *listAllPolicies(
    input: Omit<ListPoliciesInput, 'cursor'> = {},
  ): AsyncGenerator<Policy, void, undefined> {
    yield* allPages(input, async (page) => {
      const { policies, nextCursor } = await this.listPolicies(page);
      return { items: policies, nextCursor };
    });
  }

  /** The policy at the version in force now. */
  async getPolicy(policyId: string): Promise<Policy> {
    return toPolicy(field(await this.object({ method: 'GET', path: policyPath(policyId) }), 'policy'));
  }

  /** Adds a version, in force at once or from `effectiveAt`. */
  async updatePolicy(policyId: string, input: UpdatePolicyInput): Promise<Policy> {
    const body = await this.object({ method: 'PUT', path: policyPath(policyId), body: compact(input) });
    return toPolicy(field(body, 'policy'));
  }

  /** Refused (Conflict) while a principal, a tenant or a key has it attached. */
  async deletePolicy(policyId: string): Promise<void> {
    await this.http.send({ method: 'DELETE', path: policyPath(policyId) });
  }

  async listPolicyVersions(policyId: string): Promise<PolicyVersionInfo[]> {
    const body = await this.object({ method: 'GET', path: policyPath(policyId, '/versions') });
    return array(body, 'versions').map(toPolicyVersion);
  }

  /** Makes `version`'s document the newest version, in force at once. */
  async rollbackPolicy(policyId: string, version: number): Promise<Policy> {
    const body = await this.object({
      method: 'POST',
      path: policyPath(policyId, '/rollback'),
      body: { version },
    });
    return toPolicy(field(body, 'policy'));
  }

  /** Version 0 and no statements while the key has no policy of its own. */
  async getKeyPolicy(keyId: string): Promise<KeyPolicy> {
    return toKeyPolicy(await this.object({ method: 'GET', path: keyPath(keyId, '/policy') }));
  }

  /** Writes a new version of the key's policy. */
  async putKeyPolicy(keyId: string, document: PolicyDocument): Promise<KeyPolicy> {
    return toKeyPolicy(
      await this.object({ method: 'PUT', path: keyPath(keyId, '/policy'), body: { document } }),
    );
  }

  // ---- Access decisions -------------------------------------------------------------------------

  /** What the server would decide for a principal's request, and which statement decided; nothing is done. */
  async simulate(input: SimulateInput): Promise<SimulationResult> {
    const body = await this.object({ method: 'POST', path: '/v1/simulate', body: compact(input) });
    return { decision: toDecision(body), decidedBy: toDecidedBy(body), reason: str(body, 'reason') };
  }

  /** Whether the caller itself may perform an action (on a key, with a context). */
  async verifyAccess(input: VerifyAccessInput): Promise<VerifyAccessResult> {
    const body = await this.object({ method: 'POST', path: '/v1/auth/verify', body: compact(input) });
    return compact({
      allowed: bool(body, 'allowed'),
      principalId: str(body, 'principalId'),
      decidedBy: toDecidedBy(body),
      reason: optionalStr(body, 'reason'),
    }) as VerifyAccessResult;
  }

  // ---- Audit log ----------------------------------------------------------------------------------

  /** Audit records, oldest first: the caller's tenant's, or every tenant's for system auditors. */
  async listLogs(input: ListLogsInput = {}): Promise<ListLogsResult> {
    const { limit, cursor, ...filter } = input;
    const body = await this.object({ method: 'GET', path: '/v1/logs', query: { ...filter, limit, cursor } });
    const page = toPage(body, 'records', (record) => asObject(record, 'record') as unknown as AuditRecord);
    return { records: page.items, nextCursor: page.nextCursor };
  }

  async *listAllLogs(
    input: Omit<ListLogsInput, 'cursor'> = {},
  ): AsyncGenerator<AuditRecord, void, undefined> {
    yield* allPages(input, async (page) => {
      const { records, nextCursor } = await this.listLogs(page);
      return { items: records, nextCursor };
    });
  }

  /** Verifies the chain (or a time range of it) on the server: the first bad record, if any. */
  async verifyLogs(range: LogRange = {}): Promise<AuditVerification> {
    const body = await this.object({ method: 'GET', path: '/v1/logs/verify', query: { ...range } });
    bool(body, 'valid');
    return body as unknown as AuditVerification;
  }

  /** The export, JSON Lines of records and signed checkpoints (`keyhaven audit verify --export`). */
  async exportLogs(range: LogRange = {}): Promise<string> {
    return (await this.http.send({ method: 'GET', path: '/v1/logs/export', query: { ...range } })).text;
  }

  /** The audit key's public key, to pin for offline verification. */
  async auditPublicKey(): Promise<AuditPublicKey> {
    const body = await this.object({ method: 'GET', path: '/v1/logs/public-key' });
    return {
      keyId: str(body, 'keyId'),
      keyVersion: num(body, 'keyVersion'),
      algorithm: str(body, 'algorithm'),
      publicKey: str(body, 'publicKey'),
    };
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

const pageQuery = (input: PageInput) => ({ limit: input.limit, cursor: input.cursor });

/** Follows nextCursor from the first page to the last. */
async function* allPages<T, I extends object>(
  input: I,
  fetchPage: (input: I & { cursor?: string }) => Promise<{ items: T[]; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage({ ...input, cursor });
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
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
