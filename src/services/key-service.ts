// Key lifecycle: create, describe, list, update, enable/disable, rotate, schedule/cancel deletion,
// public keys and usage. One method per API action (DESIGN.md). Aliases are in alias-service.ts,
// BYOK import in key-import-service.ts, the background work (due rotations and deletions) in
// scheduled-key-jobs.ts.
import { createPublicKey, randomUUID } from 'node:crypto';
import type { AuditEntry } from '../domain/audit-record.js';
import type { RequestContext } from '../domain/request-context.js';
import { assertWellFormed } from '../domain/unicode.js';
import {
  KmsError,
  alreadyExists,
  invalidState,
  keyQuotaReached,
  keyUsageMismatch,
  unsupportedOperation,
  validationError,
} from '../domain/errors.js';
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
import type { CheckedKeyPolicy } from './policy-service.js';
import type { KeyBackend } from '../ports/key-backend.js';
import type { Clock } from '../ports/clock.js';
import type { KeyUsageRecord, MetadataStore } from '../ports/metadata-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import { fullAliasName, type KeyDirectory } from './key-directory.js';
import {
  assertAliasName,
  checkDescription,
  describeKey,
  freshKey,
  laterThan,
  parseFutureDate,
  type KeyDescription,
} from './key-records.js';
import type { AccessControl } from './access-control.js';
import type { ClientTokens } from './client-tokens.js';
import type { UsageRecorder } from './usage-recorder.js';

export type { KeyDescription } from './key-records.js';

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
  /** A key policy document, written with the key (as PUT /v1/keys/{keyId}/policy would). */
  policy?: unknown;
  /** Makes retries safe: the same token and parameters in the tenant answer the key made first. */
  clientToken?: string;
}

/** Where KeyService learns a tenant's key quota and writes a key policy given at creation. */
export interface KeyTenancy {
  /** The tenant's id if the caller may see it; NotFound as for a tenant that does not exist. */
  visibleTenantId(ctx: RequestContext, tenantId: string): Promise<string>;
  maxKeysOf(tenantId: string): Promise<number | undefined>;
  /** Checks (and translates, if in AWS's policy language) a key policy for a key of the caller's tenant. */
  checkKeyPolicy(ctx: RequestContext, document: unknown): Promise<CheckedKeyPolicy>;
  createKeyPolicy(key: Key, policy: CheckedKeyPolicy): Promise<unknown>;
  deleteKeyPolicy(keyId: string): Promise<void>;
}

export interface UpdateKeyInput {
  description?: string;
  tags?: Record<string, string>;
  rotationPeriodDays?: number | null;
  expiresAt?: string | null;
}

export interface ListKeysInput {
  /** Another tenant's keys (one the caller may see: a system administrator's); its own by default. */
  tenantId?: string;
  alias?: string;
  tag?: string;
  state?: KeyState;
  limit?: number;
  cursor?: string;
}

export interface PublicKeyView {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  publicKey: string;
  spki: Buffer;
}

/**
 * A surface's own refusal, checked on the key as the operation reads it, after authorization and
 * before the service's own checks: the AWS dialect's rules for which keys rotate (AWS refuses
 * some that Keyhaven serves). It throws to refuse.
 */
export type KeyPrecondition = (key: Key) => void;

export const MAX_TAGS = 50;
export const MAX_LIST_LIMIT = 1000;

export class KeyService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly keyBackends: Partial<Record<ProtectionLevel, KeyBackend>>,
    private readonly root: RootKeyStore,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock,
    private readonly access: AccessControl,
    private readonly tenancy: KeyTenancy,
    private readonly maxKeys = Number.POSITIVE_INFINITY,
    private readonly clientTokens?: ClientTokens,
  ) {}

  backendFor(level: ProtectionLevel): KeyBackend {
    const backend = this.keyBackends[level];
    if (!backend) {
      throw validationError(`protection level ${level} is not available with the configured key store`);
    }
    return backend;
  }

  /** `fixed.keyId`: the server's own seeding only (services/key-seeder.ts); callers never choose ids. */
  async createKey(
    ctx: RequestContext,
    input: CreateKeyInput,
    fixed: { keyId?: string } = {},
  ): Promise<KeyDescription> {
    await this.access.authorize(ctx, {
      actions: input.policy === undefined ? ['CreateKey'] : ['CreateKey', 'PutKeyPolicy'],
    });
    if (input.clientToken !== undefined && this.clientTokens && fixed.keyId === undefined) {
      // Authorized first: a caller who may not create keys learns nothing of others' tokens.
      const { clientToken, ...request } = input;
      return this.clientTokens.createOnce(
        ctx,
        clientToken,
        request,
        (keyId) => this.createKey(ctx, request, { keyId }),
        async (keyId) => {
          const key = await this.metadata.getKey(keyId);
          if (!key) return undefined;
          ctx.facts.keyId = keyId;
          return describeKey(this.metadata, key);
        },
      );
    }
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
    if (origin === 'EXTERNAL') checkImportable(backend, keySpec);
    checkExportable(input.exportable ?? false, backend);
    if (input.alias !== undefined) assertAliasName(input.alias);
    if (input.description !== undefined) checkDescription(input.description);
    const tags = checkTags(input.tags ?? {});
    const policy =
      input.policy === undefined ? undefined : await this.tenancy.checkKeyPolicy(ctx, input.policy);
    const now = this.clock.now();
    const rotationPeriodDays = checkRotationPeriod(input.rotationPeriodDays ?? null, keySpec, origin);
    const expiresAt = parseFutureDate(input.expiresAt, now, 'expiresAt');
    // Checked before any material is generated (a quick refusal), and again where the key is
    // written, in the same transaction as the insert, so concurrent creates never overshoot.
    const maxKeys = (await this.tenancy.maxKeysOf(ctx.tenant)) ?? this.maxKeys;
    if ((await this.metadata.countKeys(ctx.tenant)) >= maxKeys) {
      throw keyQuotaReached(maxKeys);
    }
    // A taken alias too, before an EXTERNAL key's material is made at its providers (a create
    // refused after that would leave keys there); the insert checks it again.
    if (input.alias !== undefined) {
      const alias = fullAliasName(input.alias);
      if ((await this.metadata.resolveAlias(ctx.tenant, alias)) !== undefined) {
        throw alreadyExists(`alias ${alias} already exists`);
      }
    }
    const keyId = fixed.keyId ?? randomUUID();
    ctx.facts.keyId = keyId;

    let firstVersion: KeyVersion | null = null;
    if (origin === 'KEYHAVEN') {
      const created = await backend.createVersionMaterial(keyId, 1, keySpec, keyUsage);
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
      tenant: ctx.tenant,
    };
    // The policy first: if the key then fails to be written, a policy of no key is removed again,
    // and a key never exists, even for a moment, without the policy it was created with.
    if (policy) await this.tenancy.createKeyPolicy(key, policy);
    try {
      await this.metadata.createKey(key, firstVersion, input.alias ? [input.alias] : [], maxKeys);
    } catch (error) {
      if (firstVersion) await backend.destroyVersionMaterial({ keyId, keySpec, version: firstVersion });
      if (policy) await this.tenancy.deleteKeyPolicy(keyId);
      throw error;
    }
    return { ...key, aliases: input.alias ? [input.alias] : [] };
  }

  async describeKey(ctx: RequestContext, reference: string): Promise<KeyDescription> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['DescribeKey'], key });
    return describeKey(this.metadata, key);
  }

  async listKeys(
    ctx: RequestContext,
    input: ListKeysInput,
  ): Promise<{ keys: KeyDescription[]; nextCursor: string | null }> {
    const tenant =
      input.tenantId === undefined ? ctx.tenant : await this.tenancy.visibleTenantId(ctx, input.tenantId);
    await this.access.authorize(ctx, { actions: ['ListKeys'] });
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
      tenant,
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

  async updateKey(
    ctx: RequestContext,
    reference: string,
    input: UpdateKeyInput,
    precondition?: KeyPrecondition,
  ): Promise<KeyDescription> {
    return this.change(ctx, reference, 'UpdateKey', precondition, (key, now) => {
      assertNotPendingDeletion(key);
      const next = { ...key };
      if (input.description !== undefined) {
        next.description = checkDescription(input.description);
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

  /**
   * Adds or overwrites the given tags and keeps the others, inside one optimistic change: a
   * concurrent change of the key fails (ConcurrentModification) rather than being lost.
   */
  async tagKey(
    ctx: RequestContext,
    reference: string,
    tags: Record<string, string>,
  ): Promise<KeyDescription> {
    return this.change(ctx, reference, 'UpdateKey', undefined, (key) => {
      assertNotPendingDeletion(key);
      const merged = new Map(Object.entries(key.tags));
      for (const [tagKey, value] of Object.entries(tags)) merged.set(tagKey, value);
      return { ...key, tags: checkTags(Object.fromEntries(merged)) };
    });
  }

  /** Removes the named tags (a name the key lacks is no error, as in AWS UntagResource). */
  async untagKey(
    ctx: RequestContext,
    reference: string,
    tagKeys: readonly string[],
  ): Promise<KeyDescription> {
    return this.change(ctx, reference, 'UpdateKey', undefined, (key) => {
      assertNotPendingDeletion(key);
      const removed = new Set(tagKeys);
      return { ...key, tags: Object.fromEntries(Object.entries(key.tags).filter(([k]) => !removed.has(k))) };
    });
  }

  async enableKey(ctx: RequestContext, reference: string): Promise<KeyDescription> {
    return this.change(ctx, reference, 'EnableKey', undefined, (key) => {
      assertTransition(key, 'enable');
      return { ...key, state: 'Enabled' };
    });
  }

  async disableKey(ctx: RequestContext, reference: string): Promise<KeyDescription> {
    const disabled = await this.change(ctx, reference, 'DisableKey', undefined, (key) => {
      assertTransition(key, 'disable');
      return { ...key, state: 'Disabled' };
    });
    // Unusable now: its material has no reason to stay in memory.
    this.evictMaterial(disabled);
    return disabled;
  }

  async scheduleKeyDeletion(
    ctx: RequestContext,
    reference: string,
    pendingWindowDays?: number,
  ): Promise<KeyDescription> {
    const days = pendingWindowDays ?? DEFAULT_DELETION_WINDOW_DAYS;
    if (!Number.isInteger(days) || days < MIN_DELETION_WINDOW_DAYS || days > MAX_DELETION_WINDOW_DAYS) {
      throw validationError(
        `pendingWindowDays must be an integer from ${MIN_DELETION_WINDOW_DAYS} to ${MAX_DELETION_WINDOW_DAYS}`,
      );
    }
    const scheduled = await this.change(ctx, reference, 'ScheduleKeyDeletion', undefined, (key, now) => {
      assertTransition(key, 'scheduleDeletion');
      return { ...key, state: 'PendingDeletion', deletionDate: addDays(now, days) };
    });
    this.evictMaterial(scheduled);
    return scheduled;
  }

  async cancelKeyDeletion(ctx: RequestContext, reference: string): Promise<KeyDescription> {
    return this.change(ctx, reference, 'CancelKeyDeletion', undefined, (key) => {
      assertTransition(key, 'cancelDeletion');
      // AWS: a key without material (never imported, or deleted) goes back to PendingImport.
      const state = key.currentVersion === 0 ? 'PendingImport' : 'Disabled';
      return { ...key, state, deletionDate: null };
    });
  }

  /**
   * Adds a version and makes it current. With `fromVersion`, only if that is still the current one
   * (an automatic rotation that another process, or a person, already did is not done twice): that
   * is the server's own rotation (schedule, AES-GCM bound), recorded AUTOMATIC; without, ON_DEMAND.
   */
  async rotateKey(
    ctx: RequestContext,
    reference: string,
    fromVersion?: number,
    precondition?: KeyPrecondition,
  ): Promise<KeyDescription> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['RotateKey'], key });
    precondition?.(key);
    if (fromVersion !== undefined && key.currentVersion !== fromVersion)
      return describeKey(this.metadata, key);
    return this.addVersion(key, fromVersion);
  }

  /**
   * The server's own rotation of `fromVersion`, which fell due: undefined when that version is no
   * longer current (another process, or a person, rotated first), so that the caller neither counts
   * nor records a rotation it did not do. Two processes that both saw it current race on the key's
   * optimistic check: one adds the version, the other fails with nothing written.
   */
  async rotateDue(
    ctx: RequestContext,
    keyId: string,
    fromVersion: number,
    auditEntry?: (rotated: Key) => AuditEntry | undefined,
  ): Promise<KeyDescription | undefined> {
    const key = await freshKey(ctx, this.metadata, this.directory, keyId);
    await this.access.authorize(ctx, { actions: ['RotateKey'], key });
    if (key.currentVersion !== fromVersion) return undefined;
    return this.addVersion(key, fromVersion, auditEntry);
  }

  /**
   * With `auditEntry`, the rotation's audit record (given the key as rotated) is written in the
   * transaction that adds the version: a process killed midway leaves neither, never a version
   * nobody recorded making.
   */
  private async addVersion(
    key: Key,
    fromVersion: number | undefined,
    auditEntry?: (rotated: Key) => AuditEntry | undefined,
  ): Promise<KeyDescription> {
    assertTransition(key, 'rotate');
    if (key.origin === 'EXTERNAL')
      throw unsupportedOperation(`key ${key.keyId} holds imported material and cannot be rotated`);
    // Verify, RSA decrypt and the public key use the current version only, so a new version would
    // orphan every signature and ciphertext made before it; AWS KMS rotates no asymmetric key either.
    if (isAsymmetric(key.keySpec)) {
      throw keyUsageMismatch(`key ${key.keyId} is ${key.keySpec}; only symmetric and HMAC keys rotate`);
    }
    const backend = this.backendFor(key.protectionLevel);
    const now = this.clock.now();
    const version = key.currentVersion + 1;
    const created = await backend.createVersionMaterial(key.keyId, version, key.keySpec, key.keyUsage);
    const newVersion: KeyVersion = {
      keyId: key.keyId,
      version,
      state: 'Enabled',
      createdAt: now,
      ...created,
      rotation: fromVersion === undefined ? 'ON_DEMAND' : 'AUTOMATIC',
    };
    const next: Key = {
      ...key,
      currentVersion: version,
      updatedAt: laterThan(now, key.updatedAt),
      nextRotationAt: key.rotationPeriodDays ? addDays(now, key.rotationPeriodDays) : null,
    };
    try {
      await this.metadata.addVersion(next, newVersion, key.updatedAt, auditEntry?.(next));
    } catch (error) {
      // All-or-nothing (Vault transit's rotate): material of a version never recorded is destroyed.
      await backend.destroyVersionMaterial({ keyId: key.keyId, keySpec: key.keySpec, version: newVersion });
      throw error;
    } finally {
      this.directory.invalidate(key.keyId);
    }
    return describeKey(this.metadata, next);
  }

  async listKeyVersions(
    ctx: RequestContext,
    reference: string,
    precondition?: KeyPrecondition,
  ): Promise<{ keyId: string; versions: KeyVersion[] }> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['ListKeyVersions'], key });
    precondition?.(key);
    return { keyId: key.keyId, versions: await this.metadata.listVersions(key.keyId) };
  }

  async getPublicKey(ctx: RequestContext, reference: string): Promise<PublicKeyView> {
    const key = await this.directory.getKey(ctx, reference);
    await this.access.authorize(ctx, { actions: ['GetPublicKey'], key });
    if (!isAsymmetric(key.keySpec)) {
      throw keyUsageMismatch(`key ${key.keyId} is ${key.keySpec}; only asymmetric keys have a public key`);
    }
    if (key.state === 'PendingImport') throw invalidState(`key ${key.keyId} has no key material yet`);
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

  async getKeyUsage(ctx: RequestContext, reference: string): Promise<{ keyId: string } & KeyUsageRecord> {
    const key = await this.directory.getKey(ctx, reference);
    await this.access.authorize(ctx, { actions: ['GetKeyUsage'], key });
    await this.usage.flush();
    return { keyId: key.keyId, ...(await this.metadata.getUsage(key.keyId)) };
  }

  private evictMaterial(key: Key): void {
    this.keyBackends[key.protectionLevel]?.evictKey(key.keyId);
  }

  /** Read, change in memory, write with an optimistic check, invalidate caches: all or nothing. */
  private async change(
    ctx: RequestContext,
    reference: string,
    action: string,
    precondition: KeyPrecondition | undefined,
    apply: (key: Key, now: Date) => Key,
  ): Promise<KeyDescription> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: [action], key });
    precondition?.(key);
    const now = this.clock.now();
    const next = { ...apply(key, now), updatedAt: laterThan(now, key.updatedAt) };
    // Tags are what `tag:` resources and keyTags conditions read: the change must be allowed on
    // the key as it will be too, or a retag could escape a deny (or walk into a grant).
    if (next.tags !== key.tags) await this.access.authorize(ctx, { actions: [action], key: next });
    try {
      await this.metadata.updateKey(next, key.updatedAt);
    } finally {
      this.directory.invalidate(key.keyId);
    }
    return describeKey(this.metadata, next);
  }
}

/** A key's tags as CreateKey and restores accept them. */
/**
 * `exportable: true` only where the material can ever leave its backend: a key whose backend never
 * hands material out (the PKCS#11 backend keeps every version non-extractable) would carry a flag
 * that promises an export every ExportKey and BackupKey then refuses.
 */
export function checkExportable(exportable: boolean, backend: KeyBackend): void {
  if (exportable && !backend.exportVersionMaterial) {
    throw validationError(
      `${backend.protectionLevel} keys cannot be exportable: the ${backend.protectionLevel} backend never lets key material leave it`,
    );
  }
}

export function checkTags(tags: Record<string, string>): Record<string, string> {
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

/** SOFTWARE keys take any imported material; a backend that unwraps it itself, the specs it lists. */
export function checkImportable(backend: KeyBackend, keySpec: KeySpec): void {
  if (backend.protectionLevel === 'SOFTWARE') return;
  const specs = backend.wrappedImport?.keySpecs ?? [];
  if (!specs.includes(keySpec)) {
    throw validationError(
      specs.length === 0
        ? `imported key material (origin EXTERNAL) is not supported for ${backend.protectionLevel} keys`
        : `imported key material (origin EXTERNAL) for ${backend.protectionLevel} keys: key spec ${keySpec} is not importable; use one of ${specs.join(', ')}`,
    );
  }
}

/** A rotation period as CreateKey and restores accept it (null: no automatic rotation). */
export function checkRotationPeriod(days: number | null, spec: KeySpec, origin: KeyOrigin): number | null {
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

const addDays = (date: Date, days: number) => new Date(date.getTime() + days * DAY_MS);
