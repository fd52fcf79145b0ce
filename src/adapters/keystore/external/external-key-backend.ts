// The EXTERNAL protection level: keys held by external KMS providers (AWS KMS, another Keyhaven,
// Azure Key Vault, Google Cloud KMS...) through the integration layer (src/integration), with its
// fallback order, circuit breakers, retries and timeouts.
//
// Each operation goes to the providers; nothing of the key is ever in this process. A key version
// is a key at each configured provider (created there, their references stored as the version's
// material). A message is sealed under a fresh data key, which every healthy provider wraps under
// its key for the version; opening asks the providers in fallback order until one unwraps it. So a
// provider down, or its circuit open, leaves every operation to the others (docs/external-keys.md).
import { randomBytes } from 'node:crypto';
import {
  KmsError,
  invalidCiphertext,
  unsupportedOperation,
  validationError,
} from '../../../domain/errors.js';
import type { KeySpec } from '../../../domain/key-spec.js';
import { aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';
import { ALGORITHM_BACKEND_SEALED } from '../../../domain/ciphertext.js';
import type { KeyBackend, NewVersionMaterial, OwnSealing, VersionRef } from '../../../ports/key-backend.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import { AllProvidersFailedError, codeOf, type ProviderFailure } from '../../../integration/errors.js';
import type { KmsIntegrationService } from '../../../integration/kms-integration-service.js';
import { encodeReferences, referencesOf, type ExternalReference } from './external-references.js';
import { decodeSealed, encodeSealed, encodeWrappings } from './external-sealed-form.js';

/** The key specs an EXTERNAL key may have: one symmetric key per provider, any provider. */
export const EXTERNAL_KEY_SPECS: readonly KeySpec[] = ['SYMMETRIC_DEFAULT'];

/** The label a version's keys and calls carry at the providers and in the integration audit trail. */
const versionLabel = (keyId: string, version: number) => `${keyId}/v${version}`;

/** A data key that unwrapped but did not open the message: like a flipped bit, try the next provider. */
class DoesNotOpen extends Error {
  readonly code = 'InvalidCiphertext';
}

export class ExternalKeyBackend implements KeyBackend {
  readonly protectionLevel = 'EXTERNAL' as const;
  readonly sealing: OwnSealing;
  /** The last health check's answer per provider (status without a probe reports it). */
  private lastHealth = new Map<string, { healthy: boolean; detail?: string }>();

  constructor(
    private readonly providers: KmsIntegrationService,
    private readonly providerNames: readonly string[],
    private readonly options: { wrapGraceMs?: number } = {},
  ) {
    this.sealing = {
      algorithm: ALGORITHM_BACKEND_SEALED,
      seal: (ref, nonce, plaintext, aad) => this.seal(ref, nonce, plaintext, aad),
      open: (ref, nonce, sealed, aad) => this.open(ref, nonce, sealed, aad),
    };
  }

  async createVersionMaterial(keyId: string, version: number, spec: KeySpec): Promise<NewVersionMaterial> {
    if (!EXTERNAL_KEY_SPECS.includes(spec)) {
      throw validationError(
        `EXTERNAL keys are ${EXTERNAL_KEY_SPECS.join(', ')} only: key spec ${spec} is not available`,
      );
    }
    let created;
    try {
      created = await this.providers.createKeys(versionLabel(keyId, version), {
        keySpec: 'SYMMETRIC_DEFAULT',
        keyUsage: 'ENCRYPT_DECRYPT',
        description: `Keyhaven EXTERNAL key ${keyId} version ${version}`,
      });
    } catch (error) {
      throw unavailable('no external provider could create the key', error);
    }
    // In fallback order, so that the stored list reads as the order providers are tried.
    const references: ExternalReference[] = this.providerNames.flatMap((provider) => {
      const info = created.keys[provider];
      return info ? [{ provider, keyRef: info.keyRef }] : [];
    });
    return { material: encodeReferences(references), publicKeySpki: null };
  }

  importVersionMaterial(): Promise<NewVersionMaterial> {
    return Promise.reject(
      validationError('imported key material (origin EXTERNAL) is not supported for EXTERNAL keys'),
    );
  }

  private async seal(ref: VersionRef, nonce: Buffer, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    const references = referencesOf(ref);
    const dataKey = randomBytes(32);
    try {
      const { wrapped, failures } = await this.providers.wrapEverywhere(
        versionLabel(ref.keyId, ref.version.version),
        dataKey,
        references,
        this.options.wrapGraceMs === undefined ? {} : { graceMs: this.options.wrapGraceMs },
      );
      if (wrapped.length === 0) throw unavailable('no external provider could wrap the data key', failures);
      const wrappings = wrapped.map((w) => ({
        reference: references.findIndex((r) => r.provider === w.provider),
        ciphertext: w.ciphertext,
      }));
      // The wrapped keys are authenticated with the payload: a changed one fails like a flipped bit.
      const { ciphertext, tag } = aesGcmEncrypt(
        dataKey,
        plaintext,
        Buffer.concat([aad, encodeWrappings(wrappings)]),
        nonce,
      );
      return encodeSealed({ wrappings, ciphertext, tag });
    } finally {
      dataKey.fill(0);
    }
  }

  private async open(ref: VersionRef, nonce: Buffer, sealed: Buffer, aad: Buffer): Promise<Buffer> {
    const references = referencesOf(ref);
    const message = decodeSealed(sealed);
    const wrappings = message.wrappings.map((w) => {
      const reference = references[w.reference];
      if (!reference) throw invalidCiphertext();
      return { ...reference, ciphertext: w.ciphertext };
    });
    const associated = Buffer.concat([aad, encodeWrappings(message.wrappings)]);
    try {
      const { result } = await this.providers.unwrapDataKey(
        versionLabel(ref.keyId, ref.version.version),
        wrappings,
        (dataKey) => {
          try {
            return aesGcmDecrypt(dataKey, nonce, message.ciphertext, message.tag, associated);
          } catch {
            throw new DoesNotOpen('the data key does not open the message');
          }
        },
      );
      return result;
    } catch (error) {
      // Every provider that answered said the ciphertext is not theirs, or its key does not open
      // the message: the caller's ciphertext is at fault. Any provider that did not answer: 503.
      const failures = error instanceof AllProvidersFailedError ? error.failures : [];
      if (failures.length > 0 && failures.every((f) => codeOf(f.error) === 'InvalidCiphertext')) {
        throw invalidCiphertext();
      }
      throw unavailable('no external provider could unwrap the data key', error);
    }
  }

  sign(): Promise<Buffer> {
    return Promise.reject(notHere('signing'));
  }

  mac(): Promise<Buffer> {
    return Promise.reject(notHere('MACs'));
  }

  rsaDecrypt(): Promise<Buffer> {
    return Promise.reject(notHere('RSA decryption'));
  }

  wrapKey(): Promise<Buffer> {
    return Promise.reject(notHere('key wrapping (RFC 5649)'));
  }

  unwrapKey(): Promise<Buffer> {
    return Promise.reject(notHere('key unwrapping (RFC 5649)'));
  }

  deriveKey(): Promise<Buffer> {
    return Promise.reject(notHere('key derivation'));
  }

  /** Nothing of an EXTERNAL key is held here. */
  evictKey(): void {}

  /**
   * The provider keys stay at the providers (Keyhaven forgets them with the version; their own
   * deletion is the providers' administrators' to schedule, docs/external-keys.md).
   */
  async destroyVersionMaterial(): Promise<void> {}

  /**
   * One part per provider, in one failover group: EXTERNAL keys are available while any provider
   * is. A probe asks every provider now (an open circuit's through the circuit, so that it closes
   * once the provider is back even if no request needs it); without one, the last answer and the
   * circuit's state.
   */
  async status(options: StatusOptions = {}): Promise<KeyStoreStatus[]> {
    if (options.probe !== false) {
      const report = await this.providers.healthCheck({ probeOpenCircuits: true });
      for (const result of report.results) {
        this.lastHealth.set(result.provider, {
          healthy: result.healthy,
          ...(result.errorCode ? { detail: `health check: ${result.errorCode}` } : {}),
        });
      }
    }
    return this.providerNames.map((name) => {
      const { kind, circuitBreaker } = this.providers.getProvider(name);
      const circuit = circuitBreaker.getState().state;
      const health = this.lastHealth.get(name) ?? { healthy: true };
      return {
        name,
        kind: `external:${kind}`,
        healthy: health.healthy && circuit !== 'open',
        circuit,
        failoverGroup: 'external',
        ...(health.detail ? { detail: health.detail } : {}),
      };
    });
  }

  async close(): Promise<void> {
    await this.providers.close();
  }
}

const notHere = (operation: string) =>
  unsupportedOperation(`EXTERNAL keys encrypt and decrypt only: ${operation} is not available`);

/** 503 naming each provider's failure by code (never a provider's message: it may quote a URL). */
function unavailable(what: string, cause: unknown): KmsError {
  const failures: readonly ProviderFailure[] = Array.isArray(cause)
    ? (cause as ProviderFailure[])
    : cause instanceof AllProvidersFailedError
      ? cause.failures
      : [];
  const causes = failures.map((f) => `${f.provider}: ${codeOf(f.error)}`).join(', ');
  return new KmsError('Unavailable', causes ? `${what} (${causes})` : what, { cause });
}
