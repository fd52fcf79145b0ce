// BYOK import (API.md): import parameters (a one-time RSA-3072 wrapping key, itself kept wrapped
// under the root key for a day) and the import of material wrapped under it, into the key's backend.
import { type KeyObject, randomBytes } from 'node:crypto';
import type { RequestContext } from '../domain/request-context.js';
import { KmsError, unsupportedOperation, validationError } from '../domain/errors.js';
import { DAY_MS, type Key, type KeyVersion } from '../domain/key.js';
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
import { aesKwpUnwrap } from '../crypto/keywrap.js';
import { rsaOaepDecrypt } from '../crypto/rsa-oaep.js';
import type { Clock } from '../ports/clock.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import type { AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import { describeKey, freshKey, laterThan, parseFutureDate, type KeyDescription } from './key-records.js';
import type { KeyService } from './key-service.js';

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

const IMPORT_TOKEN_TTL_MS = DAY_MS;

export class KeyImportService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly keys: Pick<KeyService, 'backendFor'>,
    private readonly root: RootKeyStore,
    private readonly clock: Clock,
    private readonly access: AccessControl,
  ) {}

  async getImportParameters(ctx: RequestContext, reference: string): Promise<ImportParameters> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['GetImportParameters'], key });
    if (key.origin !== 'EXTERNAL') {
      throw unsupportedOperation(
        `key ${key.keyId} was created with origin KEYHAVEN; only EXTERNAL keys take imports`,
      );
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

  async importKeyMaterial(
    ctx: RequestContext,
    reference: string,
    input: ImportKeyMaterialInput,
  ): Promise<KeyDescription> {
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['ImportKeyMaterial'], key });
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
          stored = await this.keys
            .backendFor(key.protectionLevel)
            .importVersionMaterial(
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
    return describeKey(this.metadata, next);
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
