// Key lifecycle: create, describe, list, update, enable/disable, rotate, schedule/cancel deletion,
// aliases, public keys, usage and BYOK import. One method per API action (DESIGN.md). The background
// work (due rotations and deletions) is in scheduled-key-jobs.ts.
import { type KeyObject, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { assertWellFormed } from '../domain/unicode.js';
import { KmsError, conflict, keyUsageMismatch, notFound, validationError } from '../domain/errors.js';
import {
  DAY_MS,
  DEFAULT_DELETION_WINDOW_DAYS,
  MAX_DELETION_WINDOW_DAYS,
  MAX_ROTATION_DAYS,
  MIN_DELETION_WINDOW_DAYS,
  MIN_ROTATION_DAYS,
  type Key,
  type KeyOrigin,
  type KeyVersion,
} from '../domain/key.js';
import {
  allowedUsages,
  isAsymmetric,
  type KeySpec,
  type KeyUsage,
  type ProtectionLevel,
} from '../domain/key-spec.js';
import { assertNotPendingDeletion, assertTransition, type KeyState } from '../domain/key-state.js';
import {
  generateKeyMaterial,
  normalizeImportedMaterial,
  normalizeImportedPublicKey,
  privateKeyFromMaterial,
  publicKeyFromSpki,
  zeroize,
} from '../crypto/key-material.js';
import { aesKwpUnwrap } from '../crypto/keywrap.js';
import { rsaOaepDecrypt } from '../crypto/rsa-oaep.js';
import type { KeyBackend } from '../ports/key-backend.js';
import type { Clock } from '../ports/clock.js';
import type { KeyUsageRecord, MetadataStore } from '../ports/metadata-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import { ALIAS_PATTERN, fullAliasName, type KeyDirectory } from './key-directory.js';
import type { UsageRecorder } from './usage-recorder.js';

export interface KeyDescription extends Key {
  aliases: string[];
}

export interface CreateKeyInput {
  keySpec?: KeySpec;
  keyUsage?: KeyUsage;
  alias?: string;
  description?: string;
  tags?: Record<string, string>;
  protectionLevel?: ProtectionLevel;
  origin?: KeyOrigin;
  rotationPeriodDays?: number;
  expiresAt?: string;
  exportable?: boolean;
}

export interface UpdateKeyInput {
  description?: string;
  tags?: Record<string, string>;
  rotationPeriodDays?: number | null;
  expiresAt?: string | null;
}

export interface ListKeysInput {
  alias?: string;
  tag?: string;
  state?: KeyState;
  limit?: number;
  cursor?: string;
}

export type KeyMaterialType = 'SYMMETRIC' | 'PRIVATE_KEY' | 'PUBLIC_KEY';

/**
 * AWS's import wrapping algorithms. RSAES_OAEP_SHA_256 fits material of at most 318 bytes under the
 * RSA-3072 wrapping key (symmetric keys, small public keys); RSA_AES_KEY_WRAP_SHA_256 carries any
 * size: RSA-OAEP-SHA-256 of a fresh AES-256 key, followed by the material wrapped with AES-KWP
 * (RFC 5649) under that key.
 */
export const IMPORT_WRAPPING_ALGORITHMS = ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'] as const;
export type ImportWrappingAlgorithm = (typeof IMPORT_WRAPPING_ALGORITHMS)[number];

export interface ImportKeyMaterialInput {
  importToken: string;
  encryptedKeyMaterial: Buffer;
  keyMaterialType?: KeyMaterialType;
  wrappingAlgorithm?: ImportWrappingAlgorithm;
  /** When the imported material expires (AWS ImportKeyMaterial's ValidTo); kept as the key's expiresAt. */
  expiresAt?: string;
}

export interface ImportParameters {
  keyId: string;
  importToken: string;
  wrappingPublicKey: string;
  wrappingAlgorithm: 'RSAES_OAEP_SHA_256';
  wrappingKeySpec: 'RSA_3072';
  expiresAt: Date;
}

export interface PublicKeyView {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  publicKey: string;
  spki: Buffer;
}

export const MAX_TAGS = 50;
const IMPORT_TOKEN_TTL_MS = DAY_MS;
export const MAX_LIST_LIMIT = 1000;

export class KeyService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly backends: Partial<Record<ProtectionLevel, KeyBackend>>,
    private readonly root: RootKeyStore,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock,
    private readonly maxKeys = Number.POSITIVE_INFINITY,
  ) {}

  backendFor(level: ProtectionLevel): KeyBackend {
    const backend = this.backends[level];
    if (!backend) {
      throw validationError(`protection level ${level} is not available with the configured key store`);
    }
    return backend;
  }

  async createKey(input: CreateKeyInput): Promise<KeyDescription> {
    const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
    const usages = allowedUsages(keySpec);
    const keyUsage = input.keyUsage ?? usages[0]!;
    if (!usages.includes(keyUsage)) {
      throw validationError(
        `keyUsage ${keyUsage} is not valid for ${keySpec}; use one of ${usages.join(', ')}`,
      );
    }
    if (keyUsage === 'KEY_AGREEMENT') throw validationError('KEY_AGREEMENT keys are not supported yet');
    const protectionLevel = input.protectionLevel ?? 'SOFTWARE';
    const backend = this.backendFor(protectionLevel);
    const origin = input.origin ?? 'KEYHAVEN';
    if (origin === 'EXTERNAL' && protectionLevel !== 'SOFTWARE') {
      throw validationError('imported key material (origin EXTERNAL) is only supported for SOFTWARE keys');
    }
    if (input.alias !== undefined) assertAliasName(input.alias);
    if (input.description !== undefined) assertWellFormed(input.description, 'description');
    const tags = checkTags(input.tags ?? {});
    const now = this.clock.now();
    const rotationPeriodDays = checkRotationPeriod(input.rotationPeriodDays ?? null, keySpec, origin);
    const expiresAt = parseFutureDate(input.expiresAt, now, 'expiresAt');
    // Checked before any material is generated; concurrent creates may overshoot by a few, as with
    // any quota enforced without a lock (AWS documents the same for its resource quotas).
    if ((await this.metadata.countKeys()) >= this.maxKeys) {
      throw new KmsError(
        'LimitExceeded',
        `the key quota (${this.maxKeys} keys) is reached; delete keys or raise limits.maxKeys`,
      );
    }
    const keyId = randomUUID();

    let firstVersion: KeyVersion | null = null;
    if (origin === 'KEYHAVEN') {
      const created = await backend.createVersionMaterial(keyId, 1, keySpec);
      firstVersion = { keyId, version: 1, state: 'Enabled', createdAt: now, ...created };
    }
    const key: Key = {
      keyId,
      keySpec,
      keyUsage,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
      protectionLevel,
      origin,
      currentVersion: firstVersion ? 1 : 0,
      description: input.description ?? '',
      tags,
      createdAt: now,
      updatedAt: now,
      rotationPeriodDays,
      // checkRotationPeriod refused a period for EXTERNAL keys.
      nextRotationAt: rotationPeriodDays ? addDays(now, rotationPeriodDays) : null,
      expiresAt,
      deletionDate: null,
      exportable: input.exportable ?? false,
      publicKeyOnly: false,
      tenant: null,
    };
    try {
      await this.metadata.createKey(key, firstVersion, input.alias ? [input.alias] : []);
    } catch (error) {
      if (firstVersion) await backend.destroyVersionMaterial({ keyId, keySpec, version: firstVersion });
      throw error;
    }
    return { ...key, aliases: input.alias ? [input.alias] : [] };
  }

  async describeKey(reference: string): Promise<KeyDescription> {
    return this.describe(await this.fresh(reference));
  }

  async listKeys(input: ListKeysInput): Promise<{ keys: KeyDescription[]; nextCursor: string | null }> {
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw validationError(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    let tag: { key: string; value: string } | undefined;
    if (input.tag !== undefined) {
      const at = input.tag.indexOf(':');
      if (at <= 0) throw validationError('tag filter must be key:value');
      tag = { key: input.tag.slice(0, at), value: input.tag.slice(at + 1) };
    }
    const alias = input.alias === undefined ? undefined : fullAliasName(input.alias);
    const page = await this.metadata.listKeys({
      alias,
      tag,
      state: input.state,
      limit,
      cursor: input.cursor,
    });
    const aliases = await this.metadata.aliasesOf(page.keys.map((k) => k.keyId));
    return {
      keys: page.keys.map((k) => ({ ...k, aliases: aliases.get(k.keyId) ?? [] })),
      nextCursor: page.nextCursor,
    };
  }

  async updateKey(reference: string, input: UpdateKeyInput): Promise<KeyDescription> {
    return this.change(reference, (key, now) => {
      assertNotPendingDeletion(key);
      const next = { ...key };
      if (input.description !== undefined) {
        assertWellFormed(input.description, 'description');
        next.description = input.description;
      }
      if (input.tags !== undefined) next.tags = checkTags(input.tags);
      if (input.rotationPeriodDays !== undefined) {
        next.rotationPeriodDays = checkRotationPeriod(input.rotationPeriodDays, key.keySpec, key.origin);
        next.nextRotationAt = next.rotationPeriodDays ? addDays(now, next.rotationPeriodDays) : null;
      }
      if (input.expiresAt !== undefined) {
        next.expiresAt = input.expiresAt === null ? null : parseFutureDate(input.expiresAt, now, 'expiresAt');
      }
      return next;
    });
  }

  async enableKey(reference: string): Promise<KeyDescription> {
    return this.change(reference, (key) => {
      assertTransition(key, 'enable');
      return { ...key, state: 'Enabled' };
    });
  }

  async disableKey(reference: string): Promise<KeyDescription> {
    const disabled = await this.change(reference, (key) => {
      assertTransition(key, 'disable');
      return { ...key, state: 'Disabled' };
    });
    // Unusable now: its material has no reason to stay in memory.
    this.evictMaterial(disabled);
    return disabled;
  }

  async scheduleKeyDeletion(reference: string, pendingWindowDays?: number): Promise<KeyDescription> {
    const days = pendingWindowDays ?? DEFAULT_DELETION_WINDOW_DAYS;
    if (!Number.isInteger(days) || days < MIN_DELETION_WINDOW_DAYS || days > MAX_DELETION_WINDOW_DAYS) {
      throw validationError(
        `pendingWindowDays must be an integer from ${MIN_DELETION_WINDOW_DAYS} to ${MAX_DELETION_WINDOW_DAYS}`,
      );
    }
    const scheduled = await this.change(reference, (key, now) => {
      assertTransition(key, 'scheduleDeletion');
      return { ...key, state: 'PendingDeletion', deletionDate: addDays(now, days) };
    });
    this.evictMaterial(scheduled);
    return scheduled;
  }

  async cancelKeyDeletion(reference: string): Promise<KeyDescription> {
    return this.change(reference, (key) => {
      assertTransition(key, 'cancelDeletion');
      return { ...key, state: 'Disabled', deletionDate: null };
    });
  }

  /**
   * Adds a version and makes it current. With `fromVersion`, only if that is still the current one
   * (an automatic rotation that another process, or a person, already did is not done twice).
   */
  async rotateKey(reference: string, fromVersion?: number): Promise<KeyDescription> {
    const key = await this.fresh(reference);
    if (fromVersion !== undefined && key.currentVersion !== fromVersion) return this.describe(key);
    assertTransition(key, 'rotate');
    if (key.origin === 'EXTERNAL')
      throw conflict(`key ${key.keyId} holds imported material and cannot be rotated`);
    // Verify, RSA decrypt and the public key use the current version only, so a new version would
    // orphan every signature and ciphertext made before it; AWS KMS rotates no asymmetric key either.
    if (isAsymmetric(key.keySpec)) {
      throw keyUsageMismatch(`key ${key.keyId} is ${key.keySpec}; only symmetric and HMAC keys rotate`);
    }
    const backend = this.backendFor(key.protectionLevel);
    const now = this.clock.now();
    const version = key.currentVersion + 1;
    const created = await backend.createVersionMaterial(key.keyId, version, key.keySpec);
    const newVersion: KeyVersion = {
      keyId: key.keyId,
      version,
      state: 'Enabled',
      createdAt: now,
      ...created,
    };
    const next: Key = {
      ...key,
      currentVersion: version,
      updatedAt: laterThan(now, key.updatedAt),
      nextRotationAt: key.rotationPeriodDays ? addDays(now, key.rotationPeriodDays) : null,
    };
    try {
      await this.metadata.addVersion(next, newVersion, key.updatedAt);
    } catch (error) {
      // All-or-nothing (Vault transit's rotate): material of a version never recorded is destroyed.
      await backend.destroyVersionMaterial({ keyId: key.keyId, keySpec: key.keySpec, version: newVersion });
      throw error;
    } finally {
      this.directory.invalidate(key.keyId);
    }
    return this.describe(next);
  }

  async listKeyVersions(reference: string): Promise<{ keyId: string; versions: KeyVersion[] }> {
    const key = await this.fresh(reference);
    return { keyId: key.keyId, versions: await this.metadata.listVersions(key.keyId) };
  }

  async getPublicKey(reference: string): Promise<PublicKeyView> {
    const key = await this.directory.getKey(reference);
    if (!isAsymmetric(key.keySpec)) {
      throw keyUsageMismatch(`key ${key.keyId} is ${key.keySpec}; only asymmetric keys have a public key`);
    }
    if (key.state === 'PendingImport') throw conflict(`key ${key.keyId} has no key material yet`);
    assertNotPendingDeletion(key);
    const version = await this.directory.getVersion(key, key.currentVersion);
    const spki = version.publicKeySpki;
    if (!spki) throw new KmsError('Internal', `key ${key.keyId} has no stored public key`);
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({
      format: 'pem',
      type: 'spki',
    }) as string;
    return { keyId: key.keyId, keySpec: key.keySpec, keyUsage: key.keyUsage, publicKey, spki };
  }

  async getKeyUsage(reference: string): Promise<{ keyId: string } & KeyUsageRecord> {
    const key = await this.directory.getKey(reference);
    await this.usage.flush();
    return { keyId: key.keyId, ...(await this.metadata.getUsage(key.keyId)) };
  }

  async getImportParameters(reference: string): Promise<ImportParameters> {
    const key = await this.fresh(reference);
    if (key.origin !== 'EXTERNAL') {
      throw conflict(`key ${key.keyId} was created with origin KEYHAVEN; only EXTERNAL keys take imports`);
    }
    assertTransition(key, 'import');
    const { material: pkcs8, publicKeySpki } = await generateKeyMaterial('RSA_3072');
    const id = randomBytes(24).toString('base64url');
    const expiresAt = new Date(this.clock.now().getTime() + IMPORT_TOKEN_TTL_MS);
    try {
      const wrappedPrivateKey = await this.root.wrapKeyMaterial(pkcs8, `import:${id}`, 0);
      await this.metadata.saveImportToken({ id, keyId: key.keyId, wrappedPrivateKey, expiresAt });
    } finally {
      zeroize(pkcs8);
    }
    return {
      keyId: key.keyId,
      importToken: id,
      wrappingPublicKey: publicKeyFromSpki(publicKeySpki!).export({ format: 'pem', type: 'spki' }) as string,
      wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      wrappingKeySpec: 'RSA_3072',
      expiresAt,
    };
  }

  async importKeyMaterial(reference: string, input: ImportKeyMaterialInput): Promise<KeyDescription> {
    const key = await this.fresh(reference);
    assertTransition(key, 'import');
    const now = this.clock.now();
    // Validate the request before the single-use token is spent.
    const expiresAt =
      input.expiresAt === undefined ? key.expiresAt : parseFutureDate(input.expiresAt, now, 'expiresAt');
    const token = await this.metadata.takeImportToken(input.importToken, key.keyId);
    if (!token) {
      throw validationError('importToken is unknown or belongs to another key');
    }
    if (token.expiresAt <= now)
      throw validationError('importToken has expired; request new import parameters');

    const wrappingKey = await this.root.unwrapKeyMaterial(token.wrappedPrivateKey, `import:${token.id}`, 0);
    let material: Buffer;
    try {
      material = unwrapImportedMaterial(
        privateKeyFromMaterial(wrappingKey),
        input.wrappingAlgorithm ?? 'RSAES_OAEP_SHA_256',
        input.encryptedKeyMaterial,
      );
    } catch {
      throw new KmsError(
        'InvalidCiphertext',
        'encryptedKeyMaterial could not be decrypted with the wrapping key',
      );
    } finally {
      zeroize(wrappingKey);
    }

    const materialType = input.keyMaterialType ?? (isAsymmetric(key.keySpec) ? 'PRIVATE_KEY' : 'SYMMETRIC');
    if (isAsymmetric(key.keySpec) === (materialType === 'SYMMETRIC')) {
      zeroize(material);
      throw validationError(`keyMaterialType ${materialType} does not fit ${key.keySpec}`);
    }
    let version: KeyVersion;
    try {
      if (materialType === 'PUBLIC_KEY') {
        const spki = normalizeImportedPublicKey(key.keySpec, material);
        version = {
          keyId: key.keyId,
          version: 1,
          state: 'Enabled',
          createdAt: now,
          material: Buffer.alloc(0),
          publicKeySpki: spki,
        };
      } else {
        const normalized = normalizeImportedMaterial(key.keySpec, material);
        let stored;
        try {
          stored = await this.backendFor(key.protectionLevel).importVersionMaterial(
            key.keyId,
            1,
            key.keySpec,
            normalized.material,
            normalized.publicKeySpki ?? null,
          );
        } finally {
          // Normalising may have produced a second buffer (e.g. PKCS#8 re-encoded): wipe it too,
          // also when storing fails.
          if (normalized.material !== material) zeroize(normalized.material);
        }
        version = { keyId: key.keyId, version: 1, state: 'Enabled', createdAt: now, ...stored };
      }
    } finally {
      zeroize(material);
    }
    const next: Key = {
      ...key,
      state: 'Enabled',
      currentVersion: 1,
      publicKeyOnly: materialType === 'PUBLIC_KEY',
      expiresAt,
      updatedAt: laterThan(now, key.updatedAt),
    };
    try {
      await this.metadata.addVersion(next, version, key.updatedAt);
    } finally {
      this.directory.invalidate(key.keyId);
    }
    return this.describe(next);
  }

  async putAlias(name: string, reference: string): Promise<{ name: string; keyId: string }> {
    assertAliasName(name);
    const key = await this.fresh(reference);
    assertNotPendingDeletion(key);
    await this.metadata.putAlias(name, key.keyId, this.clock.now());
    return { name, keyId: key.keyId };
  }

  async deleteAlias(name: string): Promise<void> {
    assertAliasName(name);
    if (!(await this.metadata.deleteAlias(name))) throw notFound(`alias ${name} does not exist`);
  }

  async listAliases(reference?: string): Promise<{ name: string; keyId: string; createdAt: Date }[]> {
    const keyId = reference === undefined ? undefined : (await this.fresh(reference)).keyId;
    return this.metadata.listAliases(keyId);
  }

  private evictMaterial(key: Key): void {
    this.backends[key.protectionLevel]?.evictKey(key.keyId);
  }

  private async fresh(reference: string): Promise<Key> {
    const keyId = await this.directory.resolveKeyId(reference);
    const key = await this.metadata.getKey(keyId);
    if (!key) throw notFound(`key ${reference} does not exist`);
    return key;
  }

  private async describe(key: Key): Promise<KeyDescription> {
    const aliases = await this.metadata.aliasesOf([key.keyId]);
    return { ...key, aliases: aliases.get(key.keyId) ?? [] };
  }

  /** Read, change in memory, write with an optimistic check, invalidate caches: all or nothing. */
  private async change(reference: string, apply: (key: Key, now: Date) => Key): Promise<KeyDescription> {
    const key = await this.fresh(reference);
    const now = this.clock.now();
    const next = { ...apply(key, now), updatedAt: laterThan(now, key.updatedAt) };
    try {
      await this.metadata.updateKey(next, key.updatedAt);
    } finally {
      this.directory.invalidate(key.keyId);
    }
    return this.describe(next);
  }
}

function unwrapImportedMaterial(
  wrappingKey: KeyObject,
  algorithm: ImportWrappingAlgorithm,
  encrypted: Buffer,
): Buffer {
  if (algorithm === 'RSAES_OAEP_SHA_256') return rsaOaepDecrypt(wrappingKey, 'RSAES_OAEP_SHA_256', encrypted);
  const modulusBytes = (wrappingKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (encrypted.length <= modulusBytes) throw new Error('no AES-KWP part');
  const aesKey = rsaOaepDecrypt(wrappingKey, 'RSAES_OAEP_SHA_256', encrypted.subarray(0, modulusBytes));
  try {
    if (aesKey.length !== 32) throw new Error('the wrapped AES key must be 256 bits');
    return aesKwpUnwrap(aesKey, encrypted.subarray(modulusBytes));
  } finally {
    zeroize(aesKey);
  }
}

function assertAliasName(name: string): void {
  if (!ALIAS_PATTERN.test(name)) {
    throw validationError(
      'alias must look like alias/<name> (letters, digits, / _ -; at most 256 characters)',
    );
  }
  if (name.startsWith('alias/aws/')) throw validationError('alias/aws/ is reserved');
}

function checkTags(tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw validationError(`at most ${MAX_TAGS} tags`);
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || typeof v !== 'string' || v.length > 256) {
      throw validationError('tag keys are 1-128 characters, values at most 256');
    }
    assertWellFormed(k, 'tag keys');
    assertWellFormed(v, 'tag values');
  }
  return { ...tags };
}

function checkRotationPeriod(days: number | null, spec: KeySpec, origin: KeyOrigin): number | null {
  if (days === null) return null;
  if (isAsymmetric(spec)) {
    throw validationError('automatic rotation is only available for symmetric and HMAC keys');
  }
  if (origin === 'EXTERNAL') throw validationError('keys with imported material cannot rotate automatically');
  if (!Number.isInteger(days) || days < MIN_ROTATION_DAYS || days > MAX_ROTATION_DAYS) {
    throw validationError(
      `rotationPeriodDays must be an integer from ${MIN_ROTATION_DAYS} to ${MAX_ROTATION_DAYS}`,
    );
  }
  return days;
}

function parseFutureDate(value: string | undefined, now: Date, field: string): Date | null {
  if (value === undefined) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw validationError(`${field} must be an ISO 8601 date-time`);
  if (date <= now) throw validationError(`${field} must be in the future`);
  return date;
}

const addDays = (date: Date, days: number) => new Date(date.getTime() + days * DAY_MS);

/** updatedAt doubles as the optimistic-concurrency token, so it must move forward on every write. */
const laterThan = (now: Date, previous: Date) =>
  now.getTime() > previous.getTime() ? now : new Date(previous.getTime() + 1);
