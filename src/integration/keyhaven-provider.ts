// The Keyhaven adapter over Keyhaven's own SDK (src/client). Key references are Keyhaven key ids or
// aliases. The SDK's own timeout stays as configured; the service's per-call deadline races it.
import {
  KeyhavenError,
  type KeyhavenClient,
  type KeyMetadata,
  type SigningAlgorithm,
} from '../client/index.js';
import type { KeySpec, KeyUsage } from '../domain/key-spec.js';
import { ProviderError, type ProviderErrorCode } from './errors.js';
import type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';

// API.md's error codes to the layer's codes; a code a newer server adds is Unavailable when >= 500.
const KEYHAVEN_ERROR_CODES: Record<string, ProviderErrorCode> = {
  InvalidCiphertext: 'InvalidCiphertext',
  IncorrectKey: 'InvalidCiphertext',
  Unauthenticated: 'AccessDenied',
  AccessDenied: 'AccessDenied',
  NotFound: 'NotFound',
  KeyDisabled: 'KeyUnavailable',
  KeyPendingDeletion: 'KeyUnavailable',
  KeyExpired: 'KeyUnavailable',
  ValidationError: 'InvalidRequest',
  KeyUsageMismatch: 'InvalidRequest',
  Conflict: 'InvalidRequest',
  ClientTokenMismatch: 'InvalidRequest',
  PayloadTooLarge: 'InvalidRequest',
  LimitExceeded: 'Throttled',
  Unavailable: 'Unavailable',
  Internal: 'Unavailable',
};

export function keyhavenErrorToProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof KeyhavenError) {
    const code =
      KEYHAVEN_ERROR_CODES[error.code] ??
      (error.status === undefined || error.status >= 500 ? 'Unavailable' : 'InvalidRequest');
    return new ProviderError(code, `Keyhaven answered ${error.code}`, { cause: error });
  }
  return new ProviderError('Unavailable', 'Keyhaven: no answer', { cause: error });
}

export class KeyhavenProvider implements KmsProvider {
  readonly kind = 'keyhaven';

  constructor(private readonly client: KeyhavenClient) {}

  encrypt(keyRef: string, plaintext: Bytes, _context: CallContext) {
    return this.call(async () => ({
      ciphertext: (await this.client.encrypt({ keyId: keyRef, plaintext })).ciphertext,
    }));
  }

  decrypt(keyRef: string, ciphertext: Bytes, _context: CallContext) {
    return this.call(async () => ({
      plaintext: (await this.client.decrypt({ keyId: keyRef, ciphertext })).plaintext,
    }));
  }

  generateDataKey(keyRef: string, _context: CallContext) {
    return this.call(async () => {
      const out = await this.client.generateDataKey({ keyId: keyRef, keySpec: 'AES_256' });
      return { plaintext: out.plaintext!, ciphertext: out.ciphertext };
    });
  }

  sign(keyRef: string, message: Bytes, algorithm: string, _context: CallContext) {
    return this.call(async () => ({
      signature: (
        await this.client.sign({ keyId: keyRef, message, algorithm: algorithm as SigningAlgorithm })
      ).signature,
    }));
  }

  verify(keyRef: string, message: Bytes, signature: Bytes, algorithm: string, _context: CallContext) {
    return this.call(async () => ({
      valid: (
        await this.client.verify({
          keyId: keyRef,
          message,
          signature,
          algorithm: algorithm as SigningAlgorithm,
        })
      ).valid,
    }));
  }

  keyInfo(keyRef: string, _context: CallContext) {
    return this.call(async () => toKeyInfo(await this.client.getKey(keyRef)));
  }

  generateKey(options: GenerateKeyOptions, _context: CallContext) {
    return this.call(async () =>
      toKeyInfo(
        await this.client.createKey({
          keySpec: options.keySpec as KeySpec | undefined,
          keyUsage: options.keyUsage as KeyUsage | undefined,
          description: options.description,
        }),
      ),
    );
  }

  health(_context: CallContext) {
    return this.call(async () => {
      const status = await this.client.ready();
      if (!status.ok) throw new ProviderError('Unavailable', 'Keyhaven is not ready');
    });
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw keyhavenErrorToProviderError(error);
    }
  }
}

function toKeyInfo(key: KeyMetadata): ProviderKeyInfo {
  return {
    keyRef: key.keyId,
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    enabled: key.state === 'Enabled',
    state: key.state,
    createdAt: new Date(key.createdAt),
    description: key.description,
  };
}
