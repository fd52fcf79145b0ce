// The SOFTWARE protection level: material generated in process, stored wrapped by the root key, and
// used through node:crypto from the bounded, zeroizing material cache.
import type { KeyObject } from 'node:crypto';
import { KmsError, keyUsageMismatch } from '../../../domain/errors.js';
import {
  isAsymmetric,
  type KeySpec,
  type MacAlgorithm,
  type SigningAlgorithm,
} from '../../../domain/key-spec.js';
import { aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';
import { hkdfSha256 } from '../../../crypto/kdf.js';
import { generateKeyMaterial, privateKeyFromMaterial } from '../../../crypto/key-material.js';
import { aesKwpUnwrap, aesKwpWrap } from '../../../crypto/keywrap.js';
import { computeMac } from '../../../crypto/mac.js';
import { rsaOaepDecrypt } from '../../../crypto/rsa-oaep.js';
import { signMessage } from '../../../crypto/signature.js';
import type {
  KeyBackend,
  MessageType,
  NewVersionMaterial,
  RsaEncryptionAlgorithm,
  VersionRef,
} from '../../../ports/key-backend.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import type { RootKeyStore } from '../../../ports/root-key-store.js';
import { MaterialCache, type CachedMaterial } from './material-cache.js';

const cacheId = (keyId: string, version: number) => `${keyId}:${version}`;

/**
 * The cache id of a version record, built once per record object (the key directory keeps the
 * object): a concatenated id per request cost the cache lookup a flatten and a hash, ~0.3 µs.
 */
const cacheIds = new WeakMap<object, string>();
function cacheIdOf(ref: VersionRef): string {
  let id = cacheIds.get(ref.version);
  if (id === undefined) {
    // From the record itself, not from ref.keyId: the memo is keyed by the record.
    id = cacheId(ref.version.keyId, ref.version.version);
    cacheIds.set(ref.version, id);
  }
  return id;
}

export class SoftwareKeyBackend implements KeyBackend {
  readonly protectionLevel = 'SOFTWARE' as const;

  constructor(
    private readonly root: RootKeyStore,
    readonly cache: MaterialCache,
  ) {}

  async createVersionMaterial(keyId: string, version: number, spec: KeySpec): Promise<NewVersionMaterial> {
    const generated = await generateKeyMaterial(spec);
    try {
      return {
        material: await this.root.wrapKeyMaterial(generated.material, keyId, version),
        publicKeySpki: generated.publicKeySpki ?? null,
      };
    } finally {
      generated.material.fill(0);
    }
  }

  async importVersionMaterial(
    keyId: string,
    version: number,
    _spec: KeySpec,
    material: Buffer,
    publicKeySpki: Buffer | null,
  ): Promise<NewVersionMaterial> {
    return { material: await this.root.wrapKeyMaterial(material, keyId, version), publicKeySpki };
  }

  async encrypt(ref: VersionRef, iv: Buffer, plaintext: Buffer, aad: Buffer) {
    return this.withMaterial(ref, ({ material }) => {
      const { ciphertext, tag } = aesGcmEncrypt(material, plaintext, aad, iv);
      return { ciphertext, tag };
    });
  }

  async decrypt(ref: VersionRef, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<Buffer> {
    return this.withMaterial(ref, ({ material }) => aesGcmDecrypt(material, iv, ciphertext, tag, aad));
  }

  async sign(ref: VersionRef, algorithm: SigningAlgorithm, message: Buffer, messageType: MessageType) {
    return this.withPrivateKey(ref, (key) => signMessage(key, algorithm, message, messageType));
  }

  async mac(ref: VersionRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    return this.withMaterial(ref, ({ material }) => computeMac(algorithm, material, message));
  }

  async rsaDecrypt(ref: VersionRef, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    return this.withPrivateKey(ref, (key) => rsaOaepDecrypt(key, algorithm, ciphertext));
  }

  async wrapKey(ref: VersionRef, keyMaterial: Buffer): Promise<Buffer> {
    return this.withMaterial(ref, ({ material }) => aesKwpWrap(material, keyMaterial));
  }

  async unwrapKey(ref: VersionRef, wrappedKey: Buffer): Promise<Buffer> {
    return this.withMaterial(ref, ({ material }) => aesKwpUnwrap(material, wrappedKey));
  }

  async deriveKey(ref: VersionRef, salt: Buffer, info: Buffer, length: number): Promise<Buffer> {
    return this.withMaterial(ref, ({ material }) => hkdfSha256(material, salt, info, length));
  }

  async exportVersionMaterial(ref: VersionRef): Promise<Buffer> {
    // A copy: the cached buffer is the cache's to wipe, and the caller wipes this one.
    return this.withMaterial(ref, ({ material }) => Buffer.from(material));
  }

  evictKey(keyId: string): void {
    const prefix = `${keyId}:`;
    this.cache.removeWhere((id) => id.startsWith(prefix));
  }

  async destroyVersionMaterial(ref: VersionRef): Promise<void> {
    // The wrapped blob is erased by the metadata store; only the cached copy lives here.
    this.cache.remove(cacheId(ref.keyId, ref.version.version));
  }

  async status(options?: StatusOptions): Promise<KeyStoreStatus[]> {
    return this.root.status(options);
  }

  async close(): Promise<void> {
    this.cache.close();
    await this.root.close();
  }

  /**
   * Runs `use` on the version's material in the same synchronous step as the cache lookup or
   * insertion. The cache zeroizes what it replaces or evicts, so material must never be held across
   * an await: another request's cache write could wipe it before use.
   */
  private async withMaterial<T>(ref: VersionRef, use: (entry: CachedMaterial) => T): Promise<T> {
    const id = cacheIdOf(ref);
    const cached = this.cache.get(id);
    if (cached) return use(cached);
    if (ref.version.state !== 'Enabled' || ref.version.material.length === 0) {
      throw new KmsError('Unavailable', `key material of ${ref.keyId} v${ref.version.version} is destroyed`);
    }
    const material = await this.root.unwrapKeyMaterial(ref.version.material, ref.keyId, ref.version.version);
    // A concurrent miss may have cached this version meanwhile: use that entry, wipe this copy.
    const raced = this.cache.get(id);
    if (raced) {
      material.fill(0);
      return use(raced);
    }
    const entry: CachedMaterial = { material };
    if (this.cache.set(id, entry)) return use(entry);
    // Not cached (cache.maxEntries 0): used once, then wiped.
    try {
      return use(entry);
    } finally {
      material.fill(0);
    }
  }

  private async withPrivateKey<T>(ref: VersionRef, use: (key: KeyObject) => T): Promise<T> {
    if (!isAsymmetric(ref.keySpec)) {
      throw keyUsageMismatch(`key ${ref.keyId} (${ref.keySpec}) has no private key`);
    }
    return this.withMaterial(ref, (entry) =>
      use((entry.privateKey ??= privateKeyFromMaterial(entry.material))),
    );
  }
}
