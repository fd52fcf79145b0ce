// RootKeyStore over the sealed software root key: AES-256-GCM with (keyId, version) as associated
// data, so a wrapped blob only unwraps for the version it was made for.
import { AES_GCM_IV_LENGTH, AES_GCM_TAG_LENGTH, aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';
import { KmsError } from '../../../domain/errors.js';
import type { KeyStoreStatus } from '../../../ports/key-store-status.js';
import type { RootKeyStore } from '../../../ports/root-key-store.js';

const WRAP_FORMAT = 0x01;

export const wrappingAad = (keyId: string, version: number) => Buffer.from(`keyhaven/v1/${keyId}/${version}`);

export class SoftwareRootKeyStore implements RootKeyStore {
  readonly kind = 'software';

  constructor(private readonly rootKey: Buffer) {}

  async wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer> {
    const { iv, ciphertext, tag } = aesGcmEncrypt(this.rootKey, material, wrappingAad(keyId, version));
    return Buffer.concat([Buffer.of(WRAP_FORMAT), iv, ciphertext, tag]);
  }

  async unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer> {
    const ivEnd = 1 + AES_GCM_IV_LENGTH;
    const tagStart = wrapped.length - AES_GCM_TAG_LENGTH;
    if (tagStart < ivEnd || wrapped[0] !== WRAP_FORMAT) {
      throw new KmsError('Internal', `stored material of ${keyId} v${version} is malformed`);
    }
    try {
      const iv = wrapped.subarray(1, ivEnd);
      const tag = wrapped.subarray(tagStart);
      return aesGcmDecrypt(
        this.rootKey,
        iv,
        wrapped.subarray(ivEnd, tagStart),
        tag,
        wrappingAad(keyId, version),
      );
    } catch (cause) {
      // Another root key (wrong data directory or key store) is an availability problem, not bad input.
      throw new KmsError(
        'Unavailable',
        `material of ${keyId} v${version} cannot be unwrapped by this root key`,
        {
          cause,
        },
      );
    }
  }

  async status(): Promise<KeyStoreStatus[]> {
    return [{ name: 'software-root', kind: 'software', healthy: true }];
  }

  async close(): Promise<void> {
    this.rootKey.fill(0);
  }
}
