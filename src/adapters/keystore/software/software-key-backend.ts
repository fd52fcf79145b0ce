// The SOFTWARE protection level: material generated in process, stored wrapped by the root key, and
// used through node:crypto from the bounded, zeroizing material cache.
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
import type { BackendStatus, RootKeyStore, StatusOptions } from '../../../ports/root-key-store.js';
import { MaterialCache, type CachedMaterial } from './material-cache.js';

const cacheId = (keyId: string, version: number) => `${keyId}:${version}`;

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
    const { material } = await this.unwrap(ref);
    const { ciphertext, tag } = aesGcmEncrypt(material, plaintext, aad, iv);
    return { ciphertext, tag };
  }

  async decrypt(ref: VersionRef, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<Buffer> {
    const { material } = await this.unwrap(ref);
    return aesGcmDecrypt(material, iv, ciphertext, tag, aad);
  }

  async sign(ref: VersionRef, algorithm: SigningAlgorithm, message: Buffer, messageType: MessageType) {
    return signMessage(await this.privateKey(ref), algorithm, message, messageType);
  }

  async mac(ref: VersionRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    const { material } = await this.unwrap(ref);
    return computeMac(algorithm, material, message);
  }

  async rsaDecrypt(ref: VersionRef, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Promise<Buffer> {
    return rsaOaepDecrypt(await this.privateKey(ref), algorithm, ciphertext);
  }

  async wrapKey(ref: VersionRef, keyMaterial: Buffer): Promise<Buffer> {
    const { material } = await this.unwrap(ref);
    return aesKwpWrap(material, keyMaterial);
  }

  async unwrapKey(ref: VersionRef, wrappedKey: Buffer): Promise<Buffer> {
    const { material } = await this.unwrap(ref);
    return aesKwpUnwrap(material, wrappedKey);
  }

  async deriveKey(ref: VersionRef, salt: Buffer, info: Buffer, length: number): Promise<Buffer> {
    const { material } = await this.unwrap(ref);
    return hkdfSha256(material, salt, info, length);
  }

  async destroyVersionMaterial(ref: VersionRef): Promise<void> {
    // The wrapped blob is erased by the metadata store; only the cached copy lives here.
    this.cache.remove(cacheId(ref.keyId, ref.version.version));
  }

  /** Drops every cached version of a key (disable, deletion). */
  forgetKey(keyId: string): void {
    this.cache.removeWhere((id) => id.startsWith(`${keyId}:`));
  }

  async status(options?: StatusOptions): Promise<BackendStatus[]> {
    return this.root.status(options);
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.root.close();
  }

  private async unwrap(ref: VersionRef): Promise<CachedMaterial> {
    const id = cacheId(ref.keyId, ref.version.version);
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (ref.version.state !== 'Enabled' || ref.version.material.length === 0) {
      throw new KmsError('Unavailable', `key material of ${ref.keyId} v${ref.version.version} is destroyed`);
    }
    const material = await this.root.unwrapKeyMaterial(ref.version.material, ref.keyId, ref.version.version);
    const entry: CachedMaterial = { material };
    this.cache.set(id, entry);
    return entry;
  }

  private async privateKey(ref: VersionRef) {
    const entry = await this.unwrap(ref);
    if (!isAsymmetric(ref.keySpec)) {
      throw keyUsageMismatch(`key ${ref.keyId} (${ref.keySpec}) has no private key`);
    }
    return (entry.privateKey ??= privateKeyFromMaterial(entry.material));
  }
}
