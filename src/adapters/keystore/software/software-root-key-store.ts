// RootKeyStore over the sealed software root key: AES-256-GCM with (keyId, version) as associated
// data, so a wrapped blob only unwraps for the version it was made for.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsError } from '../../../domain/errors.js';
import type { BackendStatus, RootKeyStore } from '../../../ports/root-key-store.js';

const WRAP_FORMAT = 0x01;

export const wrappingAad = (keyId: string, version: number) => Buffer.from(`keyhaven/v1/${keyId}/${version}`);

export class SoftwareRootKeyStore implements RootKeyStore {
  readonly kind = 'software';

  constructor(private readonly rootKey: Buffer) {}

  async wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(wrappingAad(keyId, version));
    const body = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([Buffer.of(WRAP_FORMAT), iv, body, cipher.getAuthTag()]);
  }

  async unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer> {
    if (wrapped.length < 1 + 12 + 16 || wrapped[0] !== WRAP_FORMAT) {
      throw new KmsError('Internal', `stored material of ${keyId} v${version} is malformed`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.rootKey, wrapped.subarray(1, 13));
      decipher.setAAD(wrappingAad(keyId, version));
      decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
      return Buffer.concat([decipher.update(wrapped.subarray(13, wrapped.length - 16)), decipher.final()]);
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

  async status(): Promise<BackendStatus[]> {
    return [{ name: 'software-root', kind: 'software', healthy: true }];
  }

  async close(): Promise<void> {
    this.rootKey.fill(0);
  }
}
