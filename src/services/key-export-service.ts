// Key export (GET /v1/keys/{keyId}/export): the material of a key created `exportable: true`,
// version by version, wrapped to the caller's RSA public key as BYOK import expects it
// (crypto/import-wrapping.ts run the other way), so another KMS, or Keyhaven, can import it.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { KmsError, unsupportedOperation, validationError } from '../domain/errors.js';
import type { Key, KeyVersion } from '../domain/key.js';
import { isAsymmetric, type KeySpec, type KeyUsage } from '../domain/key-spec.js';
import { assertUsable } from '../domain/key-state.js';
import type { RequestContext } from '../domain/request-context.js';
import { wrapMaterialForExport, type ImportWrappingAlgorithm } from '../crypto/import-wrapping.js';
import { zeroize } from '../crypto/key-material.js';
import type { Clock } from '../ports/clock.js';
import type { KeyBackend } from '../ports/key-backend.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import { freshKey } from './key-records.js';
import type { KeyService } from './key-service.js';

export type ExportedMaterialType = 'SYMMETRIC' | 'PRIVATE_KEY';

export interface ExportKeyInput {
  /** SPKI DER of an RSA public key of at least 2048 bits. */
  wrappingPublicKey: Buffer;
  wrappingAlgorithm?: ImportWrappingAlgorithm;
  /** One version, or every version that still has material; the current one by default. */
  version?: number | 'all';
}

export interface ExportedVersion {
  version: number;
  createdAt: Date;
  materialType: ExportedMaterialType;
  encryptedKeyMaterial: Buffer;
  publicKeySpki: Buffer | null;
}

export interface ExportedKey {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  wrappingAlgorithm: ImportWrappingAlgorithm;
  versions: ExportedVersion[];
}

const DEFAULT_EXPORT_ALGORITHM: ImportWrappingAlgorithm = 'RSA_AES_KEY_WRAP_SHA_256';

/**
 * Whether the key's material may leave the server at all (export or backup): the key must have
 * material of its own, and an HSM key must be exportable and held by a backend that can hand its
 * material out. Shared by KeyExportService and KeyBackupService, so both refuse alike.
 */
export function exportingBackend(key: Key, keys: Pick<KeyService, 'backendFor'>): KeyBackend {
  if (key.publicKeyOnly) {
    throw unsupportedOperation(`key ${key.keyId} holds only a public key: there is no material to export`);
  }
  if (key.protectionLevel === 'HSM' && !key.exportable) {
    throw unsupportedOperation(`key ${key.keyId} is an HSM key that is not exportable`);
  }
  if (key.protectionLevel === 'EXTERNAL') {
    throw unsupportedOperation(`key ${key.keyId} is held by an external KMS and cannot be exported`);
  }
  const backend = keys.backendFor(key.protectionLevel);
  if (!backend.exportVersionMaterial) {
    throw unsupportedOperation(
      `the ${key.protectionLevel} backend cannot wrap key material out of the key store (key ${key.keyId})`,
    );
  }
  return backend;
}

export class KeyExportService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly keys: Pick<KeyService, 'backendFor'>,
    private readonly clock: Clock,
    private readonly access: AccessControl,
  ) {}

  async exportKey(ctx: RequestContext, reference: string, input: ExportKeyInput): Promise<ExportedKey> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['ExportKey'], key });
    if (!key.exportable) {
      throw unsupportedOperation(`key ${key.keyId} was not created exportable; its material cannot leave`);
    }
    const backend = exportingBackend(key, this.keys);
    // Export is a use of the material: a disabled key or one pending deletion gives none out. An
    // expired key still exports (it still decrypts what it made; the importer can decide).
    assertUsable(key, 'unprotect', this.clock.now());
    const wrappingKey = rsaPublicKey(input.wrappingPublicKey);
    const algorithm = input.wrappingAlgorithm ?? DEFAULT_EXPORT_ALGORITHM;
    const versions = await this.chosenVersions(key, input.version);
    const exported: ExportedVersion[] = [];
    for (const version of versions) {
      const material = await backend.exportVersionMaterial!({
        keyId: key.keyId,
        keySpec: key.keySpec,
        version,
      });
      try {
        exported.push({
          version: version.version,
          createdAt: version.createdAt,
          materialType: isAsymmetric(key.keySpec) ? 'PRIVATE_KEY' : 'SYMMETRIC',
          encryptedKeyMaterial: wrapMaterialForExport(wrappingKey, algorithm, material),
          publicKeySpki: version.publicKeySpki,
        });
      } finally {
        zeroize(material);
      }
    }
    if (versions.length === 1) ctx.facts.keyVersion = versions[0]!.version;
    return {
      keyId: key.keyId,
      keySpec: key.keySpec,
      keyUsage: key.keyUsage,
      wrappingAlgorithm: algorithm,
      versions: exported,
    };
  }

  private async chosenVersions(key: Key, version: number | 'all' | undefined): Promise<KeyVersion[]> {
    const all = (await this.metadata.listVersions(key.keyId)).filter((v) => v.state === 'Enabled');
    if (version === 'all') return all;
    const wanted = version ?? key.currentVersion;
    const found = all.find((v) => v.version === wanted);
    if (!found) throw validationError(`key ${key.keyId} has no version ${wanted} with material`);
    return [found];
  }
}

function rsaPublicKey(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new KmsError('ValidationError', 'wrappingPublicKey must be an SPKI (DER) public key', { cause });
  }
}
