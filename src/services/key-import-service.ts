// BYOK import (API.md, docs/aws.md "Importing key material"): import parameters (a one-time RSA
// wrapping key, itself kept wrapped under the root key for a day, bound to one wrapping algorithm
// when the caller names it), the import of material wrapped under it into the key's backend, and the
// deletion of imported material, after which only the same material can be imported again.
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../domain/request-context.js';
import {
  KmsError,
  expiredImportToken,
  incorrectKeyMaterial,
  invalidImportToken,
  notFound,
  unsupportedOperation,
  validationError,
} from '../domain/errors.js';
import { DAY_MS, type Key, type KeyVersion, type MaterialFingerprint } from '../domain/key.js';
import { isAsymmetric } from '../domain/key-spec.js';
import { assertTransition } from '../domain/key-state.js';
import {
  generateKeyMaterial,
  normalizeImportedMaterial,
  normalizeImportedPublicKey,
  privateKeyFromMaterial,
  publicKeyFromSpki,
  zeroize,
} from '../crypto/key-material.js';
import {
  unwrapImportedMaterial,
  type ImportWrappingAlgorithm,
  type ImportWrappingKeySpec,
} from '../crypto/import-wrapping.js';
import { materialDigest, newFingerprintSecret, sameDigest } from '../crypto/material-fingerprint.js';
import type { Clock } from '../ports/clock.js';
import type { WrappedImport } from '../ports/key-backend.js';
import type { ImportToken, MetadataStore } from '../ports/metadata-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import type { AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import { describeKey, freshKey, laterThan, parseFutureDate, type KeyDescription } from './key-records.js';
import type { KeyService } from './key-service.js';

export {
  IMPORT_WRAPPING_ALGORITHMS,
  IMPORT_WRAPPING_KEY_SPECS,
  type ImportWrappingAlgorithm,
  type ImportWrappingKeySpec,
} from '../crypto/import-wrapping.js';

export type KeyMaterialType = 'SYMMETRIC' | 'PRIVATE_KEY' | 'PUBLIC_KEY';

/** AWS's ImportType: new material (a first import) or material the key already had (a re-import). */
export type ImportType = 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL';

export interface ImportKeyMaterialInput {
  importToken: string;
  encryptedKeyMaterial: Buffer;
  keyMaterialType?: KeyMaterialType;
  /** Only for tokens issued without an algorithm; a token's own algorithm cannot be changed. */
  wrappingAlgorithm?: ImportWrappingAlgorithm;
  /**
   * When the imported material expires (AWS ImportKeyMaterial's ValidTo); kept as the key's
   * expiresAt. Null: it does not expire; absent: the key's expiresAt stays as it is.
   */
  expiresAt?: string | null;
  /** Refuses (IncorrectKeyMaterial) unless the material is new, or is the key's earlier material. */
  importType?: ImportType;
  /** Refuses (IncorrectKeyMaterial) unless the material's id is this one (AWS's KeyMaterialId). */
  expectedMaterialId?: string;
}

export interface ImportParametersOptions {
  /** Binds the token to this algorithm (AWS: always); without it the import names one. */
  wrappingAlgorithm?: ImportWrappingAlgorithm;
  wrappingKeySpec?: ImportWrappingKeySpec;
}

export interface ImportParameters {
  keyId: string;
  importToken: string;
  /** PEM; `wrappingPublicKeySpki` is the same key as DER. */
  wrappingPublicKey: string;
  wrappingPublicKeySpki: Buffer;
  wrappingAlgorithm: ImportWrappingAlgorithm;
  wrappingKeySpec: ImportWrappingKeySpec;
  expiresAt: Date;
}

/** A key with the id of the material imported into it, or deleted from it (hex; AWS's KeyMaterialId). */
export interface KeyWithMaterial extends KeyDescription {
  keyMaterialId: string | null;
}

const IMPORT_TOKEN_TTL_MS = DAY_MS;
const DEFAULT_WRAPPING_ALGORITHM: ImportWrappingAlgorithm = 'RSAES_OAEP_SHA_256';
const DEFAULT_WRAPPING_KEY_SPEC: ImportWrappingKeySpec = 'RSA_3072';
/** Imported keys do not rotate: their material is version 1, imported again after a deletion. */
const IMPORTED_VERSION = 1;

/** What an import knows before it writes: the earlier version (a re-import), the key's expiry, now. */
interface ImportState {
  previous: KeyVersion | undefined;
  expiresAt: Date | null;
  now: Date;
}

const RSA_BITS: Record<ImportWrappingKeySpec, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

/** Root-key binding of a key's fingerprint secret, apart from any version's material. */
const fingerprintBinding = (keyId: string) => `material-id:${keyId}`;

export class KeyImportService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly keys: Pick<KeyService, 'backendFor'>,
    private readonly root: RootKeyStore,
    private readonly clock: Clock,
    private readonly access: AccessControl,
  ) {}

  async getImportParameters(
    ctx: RequestContext,
    reference: string,
    options: ImportParametersOptions = {},
  ): Promise<ImportParameters> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['GetImportParameters'], key });
    assertExternal(key);
    assertTransition(key, 'import');
    const wrappingKeySpec = options.wrappingKeySpec ?? DEFAULT_WRAPPING_KEY_SPEC;
    const id = randomBytes(24).toString('base64url');
    const expiresAt = new Date(this.clock.now().getTime() + IMPORT_TOKEN_TTL_MS);
    const inBackend = this.keys.backendFor(key.protectionLevel).wrappedImport;
    if (inBackend) {
      return this.backendImportParameters(key, inBackend, id, expiresAt, wrappingKeySpec, options);
    }
    const { material: pkcs8, publicKeySpki } = await generateKeyMaterial(wrappingKeySpec);
    try {
      const wrappedPrivateKey = await this.root.wrapKeyMaterial(pkcs8, `import:${id}`, 0);
      await this.metadata.saveImportToken({
        id,
        keyId: key.keyId,
        wrappedPrivateKey,
        expiresAt,
        wrappingAlgorithm: options.wrappingAlgorithm ?? null,
      });
    } finally {
      zeroize(pkcs8);
    }
    return {
      keyId: key.keyId,
      importToken: id,
      wrappingPublicKey: publicKeyFromSpki(publicKeySpki!).export({ format: 'pem', type: 'spki' }) as string,
      wrappingPublicKeySpki: publicKeySpki!,
      wrappingAlgorithm: options.wrappingAlgorithm ?? DEFAULT_WRAPPING_ALGORITHM,
      wrappingKeySpec,
      expiresAt,
    };
  }

  async importKeyMaterial(
    ctx: RequestContext,
    reference: string,
    input: ImportKeyMaterialInput,
  ): Promise<KeyWithMaterial> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['ImportKeyMaterial'], key });
    assertExternal(key);
    assertTransition(key, 'import');
    const now = this.clock.now();
    // Validate the request before the single-use token is spent.
    const expiresAt =
      input.expiresAt === undefined
        ? key.expiresAt
        : input.expiresAt === null
          ? null
          : parseFutureDate(input.expiresAt, now, 'expiresAt');
    // An EXTERNAL key has one version; its row outlives a deletion of the material (currentVersion
    // 0 again), so that a re-import can be held to the same material.
    const previous = await this.metadata.getVersion(key.keyId, IMPORTED_VERSION);
    const hadMaterial = previous !== undefined;
    if (hadMaterial && input.importType === 'NEW_KEY_MATERIAL') {
      throw unsupportedOperation(
        `key ${key.keyId} had imported material: only that material can be imported again (imported keys do not rotate)`,
      );
    }
    if (!hadMaterial && (input.importType === 'EXISTING_KEY_MATERIAL' || input.expectedMaterialId)) {
      throw incorrectKeyMaterial(`key ${key.keyId} never had key material: import new key material`);
    }
    const inBackend = this.keys.backendFor(key.protectionLevel).wrappedImport;
    if (inBackend && (input.keyMaterialType ?? 'SYMMETRIC') !== 'SYMMETRIC') {
      throw validationError(`${key.protectionLevel} keys take SYMMETRIC key material only`);
    }
    const token = await this.metadata.takeImportToken(input.importToken, key.keyId);
    if (!token) throw invalidImportToken('the import token is unknown, spent, or belongs to another key');
    // The token is spent: a wrapping key the backend holds for it goes too, whatever follows fails.
    const discard = () => inBackend?.discardWrappingKey(token.wrappedPrivateKey).catch(() => undefined);
    if (token.expiresAt <= now) {
      await discard();
      throw expiredImportToken('the import token has expired; request new import parameters');
    }
    const algorithm = (token.wrappingAlgorithm ??
      input.wrappingAlgorithm ??
      DEFAULT_WRAPPING_ALGORITHM) as ImportWrappingAlgorithm;
    if (
      token.wrappingAlgorithm !== null &&
      input.wrappingAlgorithm &&
      input.wrappingAlgorithm !== algorithm
    ) {
      await discard();
      throw validationError(`the import token was issued for ${algorithm}, not ${input.wrappingAlgorithm}`);
    }

    if (inBackend) {
      return this.importInBackend(key, inBackend, token, algorithm, input, { previous, expiresAt, now });
    }
    const wrappingKey = await this.root.unwrapKeyMaterial(token.wrappedPrivateKey, `import:${token.id}`, 0);
    let material: Buffer;
    try {
      material = unwrapImportedMaterial(
        privateKeyFromMaterial(wrappingKey),
        algorithm,
        input.encryptedKeyMaterial,
      );
    } catch (cause) {
      throw new KmsError(
        'InvalidCiphertext',
        `encryptedKeyMaterial could not be decrypted with the wrapping key and ${algorithm}`,
        { cause },
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
    let keyMaterialId: string;
    try {
      const normalized =
        materialType === 'PUBLIC_KEY'
          ? { material: normalizeImportedPublicKey(key.keySpec, material), publicKeySpki: null }
          : normalizeImportedMaterial(key.keySpec, material);
      try {
        const fingerprint = await this.fingerprintOf(key.keyId, normalized.material, previous);
        keyMaterialId = fingerprint.digest.toString('hex');
        if (input.expectedMaterialId !== undefined && input.expectedMaterialId !== keyMaterialId) {
          throw incorrectKeyMaterial(`the key material is not ${input.expectedMaterialId}`);
        }
        const stored =
          materialType === 'PUBLIC_KEY'
            ? { material: Buffer.alloc(0), publicKeySpki: normalized.material }
            : await this.keys
                .backendFor(key.protectionLevel)
                .importVersionMaterial(
                  key.keyId,
                  IMPORTED_VERSION,
                  key.keySpec,
                  normalized.material,
                  normalized.publicKeySpki ?? null,
                );
        version = {
          keyId: key.keyId,
          version: IMPORTED_VERSION,
          state: 'Enabled',
          createdAt: previous?.createdAt ?? now,
          ...stored,
          materialFingerprint: fingerprint,
        };
      } finally {
        // Normalising may have produced a second buffer (e.g. PKCS#8 re-encoded): wipe it too,
        // also when storing fails.
        if (normalized.material !== material && materialType !== 'PUBLIC_KEY') zeroize(normalized.material);
      }
    } finally {
      zeroize(material);
    }
    return this.saveImported(key, version, { previous, expiresAt, now }, materialType, keyMaterialId);
  }

  /** Writes the imported version and the key's new state; the caller's checks are done. */
  private async saveImported(
    key: Key,
    version: KeyVersion,
    { previous, expiresAt, now }: ImportState,
    materialType: KeyMaterialType,
    keyMaterialId: string,
  ): Promise<KeyWithMaterial> {
    const next: Key = {
      ...key,
      state: 'Enabled',
      currentVersion: IMPORTED_VERSION,
      publicKeyOnly: materialType === 'PUBLIC_KEY',
      expiresAt,
      updatedAt: laterThan(now, key.updatedAt),
    };
    try {
      if (previous) await this.metadata.restoreVersion(next, version, key.updatedAt);
      else await this.metadata.addVersion(next, version, key.updatedAt);
    } finally {
      // forget, not invalidate: a re-import changes a version the directory may hold.
      this.directory.forget(key.keyId);
    }
    return { ...(await describeKey(this.metadata, next)), keyMaterialId };
  }

  /**
   * Import parameters whose wrapping key the key's backend holds (an HSM makes the key pair in the
   * token), for the algorithms it can unwrap with inside itself.
   */
  private async backendImportParameters(
    key: Key,
    backend: WrappedImport,
    id: string,
    expiresAt: Date,
    wrappingKeySpec: ImportWrappingKeySpec,
    options: ImportParametersOptions,
  ): Promise<ImportParameters> {
    const wrappingAlgorithm = (options.wrappingAlgorithm ?? backend.algorithms[0]) as ImportWrappingAlgorithm;
    if (!backend.algorithms.includes(wrappingAlgorithm)) {
      throw unsupportedOperation(
        `${key.protectionLevel} keys take material wrapped with ${backend.algorithms.join(', ')} (the HSM unwraps it inside itself; docs/hsm.md "Import"), not ${wrappingAlgorithm}`,
      );
    }
    const made = await backend.createWrappingKey(key.keyId, id, RSA_BITS[wrappingKeySpec], expiresAt);
    try {
      // Bound to the algorithm: the backend can unwrap with no other.
      await this.metadata.saveImportToken({
        id,
        keyId: key.keyId,
        wrappedPrivateKey: made.reference,
        expiresAt,
        wrappingAlgorithm,
      });
    } catch (error) {
      await backend.discardWrappingKey(made.reference).catch(() => undefined);
      throw error;
    }
    return {
      keyId: key.keyId,
      importToken: id,
      wrappingPublicKey: publicKeyFromSpki(made.publicKeySpki).export({
        format: 'pem',
        type: 'spki',
      }) as string,
      wrappingPublicKeySpki: made.publicKeySpki,
      wrappingAlgorithm,
      wrappingKeySpec,
      expiresAt,
    };
  }

  /** The backend unwraps the material into the version itself; the service sees its check value only. */
  private async importInBackend(
    key: Key,
    backend: WrappedImport,
    token: ImportToken,
    algorithm: ImportWrappingAlgorithm,
    input: ImportKeyMaterialInput,
    state: ImportState,
  ): Promise<KeyWithMaterial> {
    if (!backend.algorithms.includes(algorithm)) {
      await backend.discardWrappingKey(token.wrappedPrivateKey).catch(() => undefined);
      throw unsupportedOperation(`${key.protectionLevel} keys take ${backend.algorithms.join(', ')} only`);
    }
    const made = await backend.importWrapped({
      keyId: key.keyId,
      version: IMPORTED_VERSION,
      spec: key.keySpec,
      reference: token.wrappedPrivateKey,
      encrypted: input.encryptedKeyMaterial,
    });
    const stored: KeyVersion = {
      keyId: key.keyId,
      version: IMPORTED_VERSION,
      state: 'Enabled',
      createdAt: state.previous?.createdAt ?? state.now,
      material: made.material,
      publicKeySpki: null,
    };
    try {
      const fingerprint = await this.fingerprintOf(key.keyId, made.checkValue, state.previous);
      const keyMaterialId = fingerprint.digest.toString('hex');
      if (input.expectedMaterialId !== undefined && input.expectedMaterialId !== keyMaterialId) {
        throw incorrectKeyMaterial(`the key material is not ${input.expectedMaterialId}`);
      }
      const version = { ...stored, materialFingerprint: fingerprint };
      return await this.saveImported(key, version, state, 'SYMMETRIC', keyMaterialId);
    } catch (error) {
      // Refused material, or a save that failed (the key changed meanwhile, the database went
      // away), leaves nothing behind in the backend.
      await this.keys
        .backendFor(key.protectionLevel)
        .destroyVersionMaterial({ keyId: key.keyId, keySpec: key.keySpec, version: stored })
        .catch(() => undefined);
      throw error;
    }
  }

  /**
   * Deletes the key's imported material (AWS DeleteImportedKeyMaterial): the key goes to
   * PendingImport in the same transaction that erases the material and queues it for its backend
   * to destroy; only the same material can be imported again.
   */
  async deleteImportedKeyMaterial(
    ctx: RequestContext,
    reference: string,
    expectedMaterialId?: string,
  ): Promise<KeyWithMaterial> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['DeleteImportedKeyMaterial'], key });
    assertExternal(key);
    assertTransition(key, 'deleteMaterial');
    const version = await this.metadata.getVersion(key.keyId, IMPORTED_VERSION);
    const keyMaterialId = version?.materialFingerprint?.digest.toString('hex') ?? null;
    if (expectedMaterialId !== undefined && expectedMaterialId !== keyMaterialId) {
      throw notFound(`key ${key.keyId} holds no key material ${expectedMaterialId}`);
    }
    // Nothing left to delete: the key awaits its (re-)import already.
    if (key.state === 'PendingImport' || key.currentVersion === 0 || !version) {
      return { ...(await describeKey(this.metadata, key)), keyMaterialId };
    }
    if (!version.materialFingerprint) {
      throw unsupportedOperation(
        `key ${key.keyId} was imported before Keyhaven kept material fingerprints: a re-import could not be checked, so its material is not deleted`,
      );
    }
    const now = this.clock.now();
    // currentVersion 0: no material (as before the first import); CancelKeyDeletion relies on it.
    const next: Key = {
      ...key,
      state: 'PendingImport',
      currentVersion: 0,
      updatedAt: laterThan(now, key.updatedAt),
    };
    let queued;
    try {
      queued = await this.metadata.destroyImportedMaterial(next, key.updatedAt, now);
    } finally {
      this.directory.forget(key.keyId);
    }
    const backend = this.keys.backendFor(key.protectionLevel);
    backend.evictKey(key.keyId);
    for (const item of queued) {
      try {
        await backend.destroyVersionMaterial(item);
        await this.metadata.completeDestruction(item.keyId, item.version.version);
      } catch {
        // Still queued: the scheduled key jobs destroy it when the backend answers again.
      }
    }
    return { ...(await describeKey(this.metadata, next)), keyMaterialId };
  }

  /** A re-import is held to the earlier material's digest; a first import gets a new secret. */
  private async fingerprintOf(
    keyId: string,
    material: Buffer,
    previous: KeyVersion | undefined,
  ): Promise<MaterialFingerprint> {
    if (previous) {
      const known = previous.materialFingerprint;
      if (!known) throw incorrectKeyMaterial(`key ${keyId} has no fingerprint of its earlier material`);
      const secret = await this.root.unwrapKeyMaterial(known.wrappedSecret, fingerprintBinding(keyId), 0);
      try {
        if (!sameDigest(known.digest, materialDigest(secret, keyId, material))) {
          throw incorrectKeyMaterial('the key material is not the one imported before');
        }
      } finally {
        zeroize(secret);
      }
      return known;
    }
    const secret = newFingerprintSecret();
    try {
      return {
        digest: materialDigest(secret, keyId, material),
        wrappedSecret: await this.root.wrapKeyMaterial(secret, fingerprintBinding(keyId), 0),
      };
    } finally {
      zeroize(secret);
    }
  }
}

function assertExternal(key: Key): void {
  if (key.origin !== 'EXTERNAL') {
    throw unsupportedOperation(
      `key ${key.keyId} was created with origin KEYHAVEN; only EXTERNAL keys take imported material`,
    );
  }
}
