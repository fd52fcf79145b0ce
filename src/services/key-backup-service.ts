// Key backup and restore (POST /v1/keys/backup, /v1/keys/restore; Vault transit's backup/restore):
// chosen keys with every version, their metadata, aliases and key policy, as one bundle
// (domain/key-bundle.ts) sealed under a passphrase or a Keyhaven key, recreated with the same ids
// in the caller's tenant of this or another deployment (an id held by a key the caller cannot see
// gets a fresh one). All or nothing: a bundle that does not open, or names a key that exists in
// the caller's sight, restores nothing.
import { randomUUID } from 'node:crypto';
import { KmsError, alreadyExists, validationError } from '../domain/errors.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import {
  BUNDLE_FORMAT_NAME,
  decodeBundleHeader,
  decodePayload,
  encodePayload,
  materialAt,
  type BundledKey,
  type BundledVersion,
  type BundleSeal,
  type MaterialSpan,
} from '../domain/key-bundle.js';
import { AwsPolicyText } from '../domain/aws-policy.js';
import { KEY_ORIGINS, type Key, type KeyOrigin, type KeyVersion } from '../domain/key.js';
import {
  KEY_SPECS,
  PROTECTION_LEVELS,
  allowedUsages,
  isAsymmetric,
  type KeySpec,
  type KeyUsage,
  type ProtectionLevel,
} from '../domain/key-spec.js';
import { assertNotPendingDeletion, type KeyState } from '../domain/key-state.js';
import { canSeeTenant } from '../domain/identity.js';
import type { RequestContext } from '../domain/request-context.js';
import { deriveBundleKey, openBundle, passphraseSeal, sealBundle } from '../crypto/bundle-seal.js';
import { normalizeImportedMaterial, normalizeImportedPublicKey, zeroize } from '../crypto/key-material.js';
import type { Clock } from '../ports/clock.js';
import type { KeyBackend } from '../ports/key-backend.js';
import type { MetadataStore, RestoredKey } from '../ports/metadata-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import type { AccessControl } from './access-control.js';
import type { CryptoService } from './crypto-service.js';
import type { KeyDirectory } from './key-directory.js';
import { exportingBackend } from './key-export-service.js';
import {
  assertAliasName,
  checkDescription,
  describeKey,
  freshKey,
  parseFutureDate,
  type KeyDescription,
} from './key-records.js';
import {
  checkExportable,
  checkImportable,
  checkRotationPeriod,
  checkTags,
  type KeyService,
} from './key-service.js';
import type { CheckedKeyPolicy } from './policy-service.js';

export const MAX_BACKUP_KEYS = 100;

export interface BackupKeysInput {
  keyIds: string[];
  /** Exactly one of passphrase and wrappingKeyId. */
  passphrase?: string;
  wrappingKeyId?: string;
}

export interface RestoreKeysInput {
  bundle: Buffer;
  /** For a bundle sealed under a passphrase; a bundle sealed under a key names the key itself. */
  passphrase?: string;
}

/** Where backup reads, and restore writes, key policies (PolicyService). */
export interface BundlePolicies {
  keyPolicyInForce(keyId: string): Promise<CheckedKeyPolicy | null>;
  /** PutKeyPolicy's check, for the key as it will be restored. */
  checkKeyPolicy(ctx: RequestContext, document: unknown, key: Key): Promise<CheckedKeyPolicy>;
  createKeyPolicy(key: Key, checked: CheckedKeyPolicy): Promise<{ policyId: string }>;
  /** Only the policy `policyId`, which this restore wrote. */
  deleteKeyPolicy(keyId: string, policyId: string): Promise<void>;
}

/** Binds a bundle's data key to its purpose: no other ciphertext under the key opens a bundle. */
const BUNDLE_CONTEXT: EncryptionContext = { 'keyhaven:purpose': BUNDLE_FORMAT_NAME };
const RESTORABLE_STATES: readonly KeyState[] = ['Enabled', 'Disabled', 'PendingImport'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Root-key binding of an imported key's fingerprint secret (as key-import-service.ts). */
const fingerprintBinding = (keyId: string) => `material-id:${keyId}`;

/** Material gathered for the payload's binary part, wiped once the bundle is sealed. */
class MaterialPart {
  readonly chunks: Buffer[] = [];
  private length = 0;

  add(bytes: Buffer): MaterialSpan {
    const span = { offset: this.length, length: bytes.length };
    this.chunks.push(bytes);
    this.length += bytes.length;
    return span;
  }

  wipe(): void {
    for (const chunk of this.chunks) zeroize(chunk);
  }
}

export class KeyBackupService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly keys: Pick<KeyService, 'backendFor'>,
    private readonly root: RootKeyStore,
    private readonly crypto: Pick<CryptoService, 'generateDataKey' | 'decrypt'>,
    private readonly policies: BundlePolicies,
    private readonly maxKeysOf: (tenantId: string) => Promise<number | undefined>,
    private readonly clock: Clock,
    private readonly access: AccessControl,
    private readonly maxKeys = Number.POSITIVE_INFINITY,
  ) {}

  async backupKeys(ctx: RequestContext, input: BackupKeysInput): Promise<Buffer> {
    if ((input.passphrase === undefined) === (input.wrappingKeyId === undefined)) {
      throw validationError('give exactly one of passphrase and wrappingKeyId');
    }
    if (input.keyIds.length < 1 || input.keyIds.length > MAX_BACKUP_KEYS) {
      throw validationError(`a backup holds 1 to ${MAX_BACKUP_KEYS} keys`);
    }
    const chosen: Key[] = [];
    for (const reference of input.keyIds) {
      const key = await freshKey(ctx, this.metadata, this.directory, reference);
      await this.access.authorize(ctx, { actions: ['BackupKey'], key });
      if (chosen.some((k) => k.keyId === key.keyId)) throw validationError(`key ${key.keyId} is named twice`);
      // A key pending deletion would come back to life, or be deleted at once, in the restore.
      assertNotPendingDeletion(key);
      chosen.push(key);
    }
    ctx.facts.keyId = chosen[0]!.keyId;
    ctx.facts.keyIds = chosen.map((k) => k.keyId);
    const material = new MaterialPart();
    let sealKey: Buffer | undefined;
    let payload: Buffer | undefined;
    try {
      const bundled: BundledKey[] = [];
      for (const key of chosen) bundled.push(await this.bundledKey(key, material));
      const joined = Buffer.concat(material.chunks);
      try {
        payload = encodePayload({ keys: bundled }, joined);
      } finally {
        zeroize(joined);
      }
      let seal: BundleSeal;
      if (input.passphrase !== undefined) {
        ({ seal, key: sealKey } = await passphraseSeal(input.passphrase));
      } else {
        const dataKey = await this.crypto.generateDataKey(
          ctx,
          input.wrappingKeyId!,
          'AES_256',
          BUNDLE_CONTEXT,
        );
        sealKey = dataKey.plaintext!;
        seal = { kind: 'key', keyId: dataKey.keyId, encryptedDataKey: dataKey.ciphertext.toString('base64') };
      }
      return sealBundle(
        sealKey,
        {
          format: BUNDLE_FORMAT_NAME,
          version: 1,
          createdAt: this.clock.now().toISOString(),
          keyIds: chosen.map((k) => k.keyId),
          seal,
        },
        payload,
      );
    } finally {
      material.wipe();
      if (payload) zeroize(payload);
      if (sealKey) zeroize(sealKey);
    }
  }

  /** The ids a bundle's header names (not secret: every ciphertext names its key too). */
  keyIdsOf(bundle: Buffer): string[] {
    return decodeBundleHeader(bundle).header.keyIds;
  }

  async restoreKeys(ctx: RequestContext, input: RestoreKeysInput): Promise<KeyDescription[]> {
    // A restore creates keys: it needs what creating them needs, beside its own action.
    await this.access.authorize(ctx, { actions: ['RestoreKey', 'CreateKey'] });
    const { header } = decodeBundleHeader(input.bundle);
    const sealKey = await this.openingKey(ctx, header.seal, input.passphrase);
    let plaintext: Buffer;
    try {
      plaintext = openBundle(sealKey, input.bundle);
    } finally {
      zeroize(sealKey);
    }
    const written: RestoredKey[] = [];
    const policies = new Map<string, CheckedKeyPolicy>();
    try {
      const { payload, material } = decodePayload(plaintext);
      const ids = payload.keys.map((k) => k.keyId);
      if (ids.length !== header.keyIds.length || ids.some((id, i) => id !== header.keyIds[i])) {
        throw validationError('the bundle payload does not hold the keys its header names');
      }
      if (new Set(ids).size !== ids.length) throw validationError('the bundle names a key twice');
      // Quick refusal before any work; the store checks again in the transaction that writes.
      const restoredIds: string[] = [];
      for (const id of ids) {
        if (!UUID.test(id)) throw validationError(`the bundle names a key id that is not a UUID: ${id}`);
        const existing = await this.metadata.getKey(id);
        if (existing && canSeeTenant(ctx.principal, existing.tenant)) {
          throw alreadyExists(`key ${id} exists already; nothing was restored`);
        }
        // Key ids are global, but another tenant's key must answer as one that does not exist
        // (docs/api.md): the bundled key comes back under a fresh id, as a 201 like any other.
        restoredIds.push(existing ? randomUUID() : id);
      }
      if (ids.length === 0) throw validationError('the bundle holds no keys');
      ctx.facts.keyId = restoredIds[0];
      ctx.facts.keyIds = restoredIds;
      for (const [i, bundled] of payload.keys.entries()) {
        const restored = await this.restoredKey(ctx, bundled, restoredIds[i]!, material);
        written.push(restored);
        if (bundled.policy) {
          policies.set(restored.key.keyId, await this.restoredPolicy(ctx, bundled, restored.key));
        }
      }
    } catch (error) {
      await this.discard(written);
      throw error;
    } finally {
      zeroize(plaintext);
    }

    const maxKeys = (await this.maxKeysOf(ctx.tenant)) ?? this.maxKeys;
    const withPolicy = written.filter(({ key }) => policies.has(key.keyId));
    let aliases: Map<string, string[]>;
    const policiesWritten: { keyId: string; policyId: string }[] = [];
    try {
      // Policies first, as KeyService.createKey: a key never exists without the policy it had.
      for (const { key } of withPolicy) {
        const { policyId } = await this.policies.createKeyPolicy(key, policies.get(key.keyId)!);
        policiesWritten.push({ keyId: key.keyId, policyId });
      }
      aliases = await this.metadata.restoreKeys(written, Number.isFinite(maxKeys) ? maxKeys : undefined);
    } catch (error) {
      // Only what this restore wrote: a concurrent restore of the same key may have won, its
      // policy (and any PutKeyPolicy since) is that key's now.
      for (const { keyId, policyId } of policiesWritten) await this.policies.deleteKeyPolicy(keyId, policyId);
      await this.discard(written);
      throw error;
    } finally {
      for (const { key } of written) this.directory.forget(key.keyId);
    }
    return Promise.all(
      written.map(async ({ key }) => ({
        ...(await describeKey(this.metadata, key)),
        aliases: aliases.get(key.keyId) ?? [],
      })),
    );
  }

  /** Material made for keys that were not written (an HSM backend's objects) is destroyed again. */
  private async discard(prepared: RestoredKey[]): Promise<void> {
    for (const { key, versions } of prepared) {
      const backend = this.keys.backendFor(key.protectionLevel);
      for (const { version } of versions) {
        if (version.material.length === 0) continue;
        await backend.destroyVersionMaterial({ keyId: key.keyId, keySpec: key.keySpec, version });
      }
    }
  }

  private async bundledKey(key: Key, material: MaterialPart): Promise<BundledKey> {
    const backend = exportingBackend(key, this.keys);
    const versions = await this.metadata.listVersions(key.keyId);
    const seals = await this.metadata.sealsReserved(key.keyId);
    const bundledVersions: BundledVersion[] = [];
    for (const version of versions) {
      const hasMaterial = version.state === 'Enabled' && version.material.length > 0 && !key.publicKeyOnly;
      const span = hasMaterial
        ? material.add(
            await backend.exportVersionMaterial!({ keyId: key.keyId, keySpec: key.keySpec, version }),
          )
        : null;
      const fingerprint = version.materialFingerprint
        ? {
            digest: version.materialFingerprint.digest.toString('base64'),
            secret: material.add(
              await this.root.unwrapKeyMaterial(
                version.materialFingerprint.wrappedSecret,
                fingerprintBinding(key.keyId),
                0,
              ),
            ),
          }
        : null;
      bundledVersions.push({
        version: version.version,
        state: version.state,
        createdAt: version.createdAt.toISOString(),
        rotation: version.rotation ?? null,
        material: span,
        publicKeySpki: version.publicKeySpki?.toString('base64') ?? null,
        sealsReserved: seals.get(version.version) ?? 0,
        fingerprint,
      });
    }
    const policy = await this.policies.keyPolicyInForce(key.keyId);
    return {
      keyId: key.keyId,
      keySpec: key.keySpec,
      keyUsage: key.keyUsage,
      state: key.state,
      protectionLevel: key.protectionLevel,
      origin: key.origin,
      currentVersion: key.currentVersion,
      description: key.description,
      tags: key.tags,
      createdAt: key.createdAt.toISOString(),
      rotationPeriodDays: key.rotationPeriodDays,
      nextRotationAt: key.nextRotationAt?.toISOString() ?? null,
      expiresAt: key.expiresAt?.toISOString() ?? null,
      exportable: key.exportable,
      publicKeyOnly: key.publicKeyOnly,
      aliases: (await this.metadata.aliasesOf([key.keyId])).get(key.keyId) ?? [],
      policy: policy && { document: policy.document, awsSource: policy.awsSource },
      versions: bundledVersions,
    };
  }

  private async openingKey(ctx: RequestContext, seal: BundleSeal, passphrase?: string): Promise<Buffer> {
    if (seal.kind === 'passphrase') {
      if (passphrase === undefined) throw validationError('the bundle is sealed under a passphrase: give it');
      return deriveBundleKey(passphrase, Buffer.from(seal.salt, 'base64'), seal);
    }
    if (passphrase !== undefined) {
      throw validationError(`the bundle is sealed under key ${seal.keyId}, not a passphrase`);
    }
    const encrypted = Buffer.from(seal.encryptedDataKey, 'base64');
    const opened = await this.crypto.decrypt(ctx, encrypted, BUNDLE_CONTEXT, seal.keyId);
    if (opened.plaintext.length !== 32) {
      zeroize(opened.plaintext);
      throw validationError('the bundle data key is not an AES-256 key');
    }
    return opened.plaintext;
  }

  /**
   * The key policy as PutKeyPolicy would take it for the key: one written in AWS's language is
   * checked, and translated here, from its source text (the text is what GetKeyPolicy shows, so the
   * document in force must be its translation, never a document carried beside it).
   */
  private async restoredPolicy(
    ctx: RequestContext,
    bundled: BundledKey,
    key: Key,
  ): Promise<CheckedKeyPolicy> {
    const { document, awsSource } = bundled.policy as { document: unknown; awsSource: unknown };
    if (awsSource !== null && typeof awsSource !== 'string') {
      throw malformed('policy.awsSource is not a string or null');
    }
    if (awsSource === null) {
      return inField(bundled.keyId, 'policy', () => this.policies.checkKeyPolicy(ctx, document, key));
    }
    return inField(bundled.keyId, 'policy.awsSource', () =>
      this.policies.checkKeyPolicy(ctx, new AwsPolicyText(awsSource), key),
    );
  }

  /** The key as this deployment will hold it: checked, material wrapped by this root key. */
  private async restoredKey(
    ctx: RequestContext,
    bundled: BundledKey,
    keyId: string,
    material: Buffer,
  ): Promise<RestoredKey> {
    // Authenticated, but by whoever held the passphrase: each field checked as the write paths
    // check it (CreateKey, UpdateKey), every refusal naming the key and the field.
    assertBundledKeyShape(bundled);
    const id = bundled.keyId;
    const keySpec = bundled.keySpec as KeySpec;
    if (!KEY_SPECS.includes(keySpec)) throw inBundle(id, 'keySpec', `unknown key spec ${keySpec}`);
    const keyUsage = bundled.keyUsage as KeyUsage;
    if (!allowedUsages(keySpec).includes(keyUsage)) {
      throw inBundle(id, 'keyUsage', `${keyUsage} is not valid for ${keySpec}`);
    }
    if (keyUsage === 'KEY_AGREEMENT')
      throw inBundle(id, 'keyUsage', 'KEY_AGREEMENT keys are not supported yet');
    const state = bundled.state as KeyState;
    if (!RESTORABLE_STATES.includes(state)) throw inBundle(id, 'state', `a key in state ${state}`);
    const protectionLevel = bundled.protectionLevel as ProtectionLevel;
    if (!PROTECTION_LEVELS.includes(protectionLevel)) {
      throw inBundle(id, 'protectionLevel', `unknown protection level ${protectionLevel}`);
    }
    const origin = bundled.origin as KeyOrigin;
    if (!KEY_ORIGINS.includes(origin)) throw inBundle(id, 'origin', `unknown origin ${origin}`);
    const backend = this.keys.backendFor(protectionLevel);
    if (origin === 'EXTERNAL') inField(id, 'origin', () => checkImportable(backend, keySpec));
    inField(id, 'exportable', () => checkExportable(bundled.exportable, backend));
    for (const alias of bundled.aliases) inField(id, 'aliases', () => assertAliasName(alias));
    const description = inField(id, 'description', () => checkDescription(bundled.description));
    const tags = inField(id, 'tags', () => checkTags(bundled.tags));
    // A period CreateKey would refuse (negative, zero) would have the rotation job rotate the key
    // again and again in one run.
    const rotationPeriodDays = inField(id, 'rotationPeriodDays', () =>
      checkRotationPeriod(bundled.rotationPeriodDays, keySpec, origin),
    );
    if (rotationPeriodDays !== null && bundled.nextRotationAt === null) {
      throw inBundle(id, 'nextRotationAt', 'a key with a rotation period needs its next rotation date');
    }
    const now = this.clock.now();
    // As CreateKey's and ImportKeyMaterial's: a key whose expiry has passed would lose its material
    // to the expiry job on arrival.
    const expiresAt = inField(id, 'expiresAt', () =>
      parseFutureDate(bundled.expiresAt ?? undefined, now, 'expiresAt'),
    );
    const key: Key = {
      keyId,
      keySpec,
      keyUsage,
      state,
      protectionLevel,
      origin,
      currentVersion: bundled.currentVersion,
      description,
      tags,
      createdAt: date(id, 'createdAt', bundled.createdAt),
      updatedAt: now,
      rotationPeriodDays,
      nextRotationAt:
        rotationPeriodDays === null ? null : date(id, 'nextRotationAt', bundled.nextRotationAt!),
      expiresAt,
      deletionDate: null,
      exportable: bundled.exportable,
      publicKeyOnly: bundled.publicKeyOnly,
      tenant: ctx.tenant,
    };
    const current = bundled.versions.find((v) => v.version === key.currentVersion);
    if (key.currentVersion !== 0 && !current) {
      throw validationError(`the bundle lacks the current version of key ${id}`);
    }
    // Restored so, the key would be usable in name only: every operation would fail.
    if (key.publicKeyOnly) {
      // As an import of a public key (ImportKeyMaterial's PUBLIC_KEY): its public half, never more.
      const halves = bundled.versions.filter((v) => v.material !== null || v.publicKeySpki === null);
      if (halves.length > 0 || !isAsymmetric(keySpec)) {
        throw inBundle(
          id,
          'publicKeyOnly',
          'a verify-only key holds the public key of an asymmetric spec, and only that',
        );
      }
    }
    const usableInName = key.currentVersion === 0 || (!current!.material && !key.publicKeyOnly);
    if (key.state !== 'PendingImport' && usableInName) {
      throw validationError(`the bundle holds key ${id} without material for its current version`);
    }
    const versions: RestoredKey['versions'] = [];
    for (const bundledVersion of bundled.versions) {
      versions.push({
        version: await this.restoredVersion(key, id, backend, bundledVersion, material),
        sealsReserved: bundledVersion.sealsReserved,
      });
    }
    return { key, versions, aliases: [...bundled.aliases] };
  }

  private async restoredVersion(
    key: Key,
    bundledKeyId: string,
    backend: KeyBackend,
    bundled: BundledVersion,
    material: Buffer,
  ): Promise<KeyVersion> {
    // The check an imported public key meets: a DER SPKI of the key's spec (none for a symmetric one).
    const spki =
      bundled.publicKeySpki === null
        ? null
        : inField(bundledKeyId, `versions[${bundled.version}].publicKeySpki`, () =>
            normalizeImportedPublicKey(key.keySpec, Buffer.from(bundled.publicKeySpki!, 'base64')),
          );
    let stored: Buffer = Buffer.alloc(0);
    let publicKeySpki: Buffer | null = spki;
    if (bundled.material !== null) {
      // The same checks as an import: the spec's sizes, a private key's halves agree.
      const normalized = normalizeImportedMaterial(key.keySpec, materialAt(material, bundled.material));
      try {
        if (normalized.publicKeySpki && spki && !normalized.publicKeySpki.equals(spki)) {
          throw validationError(
            `the bundle's public key of ${key.keyId} v${bundled.version} is not its private key's`,
          );
        }
        const made = await backend.importVersionMaterial(
          key.keyId,
          bundled.version,
          key.keySpec,
          normalized.material,
          normalized.publicKeySpki ?? spki,
        );
        stored = made.material;
        publicKeySpki = made.publicKeySpki;
      } finally {
        zeroize(normalized.material);
      }
    }
    let materialFingerprint: KeyVersion['materialFingerprint'] = null;
    if (bundled.fingerprint) {
      const secret = materialAt(material, bundled.fingerprint.secret);
      materialFingerprint = {
        digest: Buffer.from(bundled.fingerprint.digest, 'base64'),
        wrappedSecret: await this.root.wrapKeyMaterial(secret, fingerprintBinding(key.keyId), 0),
      };
    }
    return {
      keyId: key.keyId,
      version: bundled.version,
      state: bundled.material === null && !key.publicKeyOnly ? 'Destroyed' : 'Enabled',
      createdAt: date(key.keyId, `versions[${bundled.version}].createdAt`, bundled.createdAt),
      material: stored,
      publicKeySpki,
      ...(bundled.rotation ? { rotation: bundled.rotation } : {}),
      materialFingerprint,
    };
  }
}

/**
 * The payload's structure, field by field: a bundle another tool wrote (or crafted) must fail with
 * ValidationError, never with a TypeError deep in the restore (a 500).
 */
function assertBundledKeyShape(bundled: BundledKey): void {
  const broken = malformed;
  const k = bundled as unknown as Record<string, unknown>;
  if (typeof k !== 'object' || k === null) throw broken('a key is not an object');
  for (const field of [
    'keyId',
    'keySpec',
    'keyUsage',
    'state',
    'protectionLevel',
    'origin',
    'description',
    'createdAt',
  ]) {
    if (typeof k[field] !== 'string') throw broken(`${field} is not a string`);
  }
  for (const field of ['nextRotationAt', 'expiresAt']) {
    if (k[field] !== null && typeof k[field] !== 'string') throw broken(`${field} is not a date or null`);
  }
  for (const field of ['exportable', 'publicKeyOnly']) {
    if (typeof k[field] !== 'boolean') throw broken(`${field} is not a boolean`);
  }
  if (k.rotationPeriodDays !== null && typeof k.rotationPeriodDays !== 'number') {
    throw broken('rotationPeriodDays is not a number or null');
  }
  if (!Number.isSafeInteger(k.currentVersion) || (k.currentVersion as number) < 0) {
    throw broken('currentVersion is not a version number');
  }
  const tags = k.tags;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw broken('tags is not an object');
  if (Object.values(tags).some((v) => typeof v !== 'string')) throw broken('a tag value is not a string');
  if (!Array.isArray(k.aliases) || k.aliases.some((a) => typeof a !== 'string')) {
    throw broken('aliases is not a list of names');
  }
  if (!Array.isArray(k.versions)) throw broken('versions is not a list');
  const seen = new Set<number>();
  for (const v of k.versions as unknown[]) {
    const version = v as Record<string, unknown>;
    if (typeof version !== 'object' || version === null) throw broken('a version is not an object');
    if (!Number.isSafeInteger(version.version) || (version.version as number) < 1) {
      throw broken('a version number is not a positive integer');
    }
    if (seen.has(version.version as number)) throw broken(`version ${String(version.version)} appears twice`);
    seen.add(version.version as number);
    if (typeof version.createdAt !== 'string') throw broken('a version createdAt is not a string');
    if (!Number.isSafeInteger(version.sealsReserved) || (version.sealsReserved as number) < 0) {
      throw broken('a version sealsReserved is not a count');
    }
    if (version.publicKeySpki !== null && typeof version.publicKeySpki !== 'string') {
      throw broken('a version publicKeySpki is not base64 or null');
    }
    if (
      version.rotation !== null &&
      version.rotation !== undefined &&
      version.rotation !== 'AUTOMATIC' &&
      version.rotation !== 'ON_DEMAND'
    ) {
      throw broken('a version rotation is not AUTOMATIC, ON_DEMAND or null');
    }
    if (
      version.material !== null &&
      (typeof version.material !== 'object' || Array.isArray(version.material))
    ) {
      throw broken('a version material is not a span or null');
    }
    const fingerprint = version.fingerprint as Record<string, unknown> | null;
    if (
      fingerprint !== null &&
      (typeof fingerprint !== 'object' ||
        typeof fingerprint.digest !== 'string' ||
        typeof fingerprint.secret !== 'object' ||
        fingerprint.secret === null)
    ) {
      throw broken('a version fingerprint is not {digest, secret} or null');
    }
  }
  if (k.policy !== null && (typeof k.policy !== 'object' || Array.isArray(k.policy))) {
    throw broken('policy is not an object or null');
  }
}

const malformed = (what: string) => validationError(`the bundle payload is malformed: ${what}`);

/** A refusal of one bundled key's field, naming both. */
const inBundle = (keyId: string, field: string, message: string) =>
  validationError(`the bundle's key ${keyId}, ${field}: ${message}`);

/**
 * Runs a write path's own check on a bundled field; its ValidationError (of whatever kind) is
 * reworded to name the bundled key and the field, its cause kept.
 */
function inField<T>(keyId: string, field: string, check: () => T): T {
  const renamed = (error: unknown) =>
    error instanceof KmsError && error.code === 'ValidationError'
      ? new KmsError('ValidationError', `the bundle's key ${keyId}, ${field}: ${error.message}`, {
          cause: error,
          ...(error.validation ? { validation: error.validation } : {}),
        })
      : error;
  try {
    const result = check();
    return (
      result instanceof Promise ? result.catch((error: unknown) => Promise.reject(renamed(error))) : result
    ) as T;
  } catch (error) {
    throw renamed(error);
  }
}

/** A date as the write paths take one (an ISO 8601 date-time), naming the field. */
function date(keyId: string, field: string, value: string): Date {
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw inBundle(keyId, field, 'must be an ISO 8601 date-time');
  return parsed;
}
