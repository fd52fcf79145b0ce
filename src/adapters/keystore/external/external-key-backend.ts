// The EXTERNAL protection level: keys held by external KMS providers (AWS KMS, another Keyhaven,
// Azure Key Vault, Google Cloud KMS...) through the integration layer (src/integration), with its
// fallback order, circuit breakers, retries and timeouts.
//
// Each operation goes to the providers; nothing of the key is ever in this process. A key version
// is a key at each configured provider (created there, their references stored as the version's
// material). A message is sealed under a fresh data key, which every healthy provider wraps under
// its key for the version; opening asks the providers in fallback order until one unwraps it. So a
// provider down, or its circuit open, leaves every operation to the others (docs/external-keys.md).
import { createHmac, randomBytes } from 'node:crypto';
import {
  KmsError,
  invalidCiphertext,
  unsupportedOperation,
  validationError,
} from '../../../domain/errors.js';
import type { KeySpec } from '../../../domain/key-spec.js';
import { aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';
import { ALGORITHM_BACKEND_SEALED, CIPHERTEXT_HEADER_LENGTH } from '../../../domain/ciphertext.js';
import { LIMITS } from '../../../domain/limits.js';
import type { KeyBackend, NewVersionMaterial, OwnSealing, VersionRef } from '../../../ports/key-backend.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import {
  AllProvidersFailedError,
  codeOf,
  ProviderError,
  type ProviderFailure,
} from '../../../integration/errors.js';
import type { RootKeyStore } from '../../../ports/root-key-store.js';
import type { MaterialCache } from '../software/material-cache.js';
import type { KmsIntegrationService } from '../../../integration/kms-integration-service.js';
import {
  encodeRecord,
  macMatches,
  recordOf,
  referencesMac,
  type ExternalReference,
} from './external-references.js';
import { decodeSealed, encodeWrappings, MAX_WRAPPED_LENGTH } from './external-sealed-form.js';

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
  /** Version records whose references were checked against their MAC. */
  private readonly verified = new WeakSet<object>();

  constructor(
    private readonly providers: KmsIntegrationService,
    private readonly providerNames: readonly string[],
    /** Wraps each version's secret (so that no provider alone can open a message). */
    private readonly root: RootKeyStore,
    /** Unwrapped version secrets, bounded and zeroized on eviction (the SOFTWARE keys' cache). */
    private readonly cache: MaterialCache,
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
      throw providersFailed('no external provider could create the key', error);
    }
    // In fallback order, so that the stored list reads as the order providers are tried.
    const references: ExternalReference[] = this.providerNames.flatMap((provider) => {
      const info = created.keys[provider];
      return info ? [{ provider, keyRef: info.keyRef }] : [];
    });
    const secret = randomBytes(32);
    try {
      const wrappedSecret = await this.root.wrapKeyMaterial(secret, keyId, version);
      const mac = referencesMac(secret, keyId, version, references);
      return { material: encodeRecord({ references, wrappedSecret, mac }), publicKeySpki: null };
    } finally {
      secret.fill(0);
    }
  }

  importVersionMaterial(): Promise<NewVersionMaterial> {
    return Promise.reject(
      validationError('imported key material (origin EXTERNAL) is not supported for EXTERNAL keys'),
    );
  }

  private async seal(ref: VersionRef, nonce: Buffer, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    const { references } = recordOf(ref);
    // Before any provider sees a data key: the references are the ones this server wrote.
    const secret = await this.secretOf(ref);
    const dataKey = randomBytes(32);
    try {
      const { wrapped, failures } = await this.providers.wrapEverywhere(
        versionLabel(ref.keyId, ref.version.version),
        dataKey,
        references,
        this.options.wrapGraceMs === undefined ? {} : { graceMs: this.options.wrapGraceMs },
      );
      // A provider whose answer the form cannot carry is that provider's failure, not the message's.
      const usable = wrapped.filter((w) => {
        if (w.ciphertext.length > 0 && w.ciphertext.length <= MAX_WRAPPED_LENGTH) return true;
        failures.push({
          provider: w.provider,
          error: new ProviderError('InvalidRequest', 'answered a wrapped data key of unusable length'),
        });
        return false;
      });
      if (usable.length === 0)
        throw providersFailed('no external provider could wrap the data key', failures);
      const prefix = encodeWrappings(
        usable.map((w) => ({
          reference: references.findIndex((r) => r.provider === w.provider),
          ciphertext: w.ciphertext,
        })),
      );
      if (CIPHERTEXT_HEADER_LENGTH + prefix.length + plaintext.length + 16 > LIMITS.ciphertextBytes) {
        throw validationError(
          `the plaintext is too large for this EXTERNAL key: with its providers' wrapped data keys the ciphertext would exceed ${LIMITS.ciphertextBytes} bytes`,
        );
      }
      // The wrapped keys are authenticated with the payload: a changed one fails like a flipped bit.
      const payloadKey = payloadKeyOf(secret, dataKey);
      try {
        const { ciphertext, tag } = aesGcmEncrypt(payloadKey, plaintext, Buffer.concat([aad, prefix]), nonce);
        return Buffer.concat([prefix, ciphertext, tag]);
      } finally {
        payloadKey.fill(0);
      }
    } finally {
      dataKey.fill(0);
      secret.fill(0);
    }
  }

  private async open(ref: VersionRef, nonce: Buffer, sealed: Buffer, aad: Buffer): Promise<Buffer> {
    const { references } = recordOf(ref);
    const message = decodeSealed(sealed);
    // At most one wrapping per reference: a forged message cannot make more provider calls than
    // the version has providers.
    const seen = new Set<number>();
    const wrappings = message.wrappings.map((w) => {
      const reference = references[w.reference];
      if (!reference || seen.has(w.reference)) throw invalidCiphertext();
      seen.add(w.reference);
      return { ...reference, ciphertext: w.ciphertext };
    });
    const associated = Buffer.concat([aad, encodeWrappings(message.wrappings)]);
    const secret = await this.secretOf(ref);
    try {
      const { result } = await this.providers.unwrapDataKey(
        versionLabel(ref.keyId, ref.version.version),
        wrappings,
        (dataKey) => {
          const payloadKey = payloadKeyOf(secret, dataKey);
          try {
            return aesGcmDecrypt(payloadKey, nonce, message.ciphertext, message.tag, associated);
          } catch {
            throw new DoesNotOpen('the data key does not open the message');
          } finally {
            payloadKey.fill(0);
          }
        },
      );
      return result;
    } catch (error) {
      // Every provider that answered said the ciphertext is not theirs, or its key does not open
      // the message: the caller's ciphertext is at fault.
      const failures = error instanceof AllProvidersFailedError ? error.failures : [];
      if (failures.length > 0 && failures.every((f) => codeOf(f.error) === 'InvalidCiphertext')) {
        throw invalidCiphertext();
      }
      throw providersFailed('no external provider could unwrap the data key', error);
    } finally {
      secret.fill(0);
    }
  }

  /**
   * A copy of the version's secret (the caller zeroizes it), from the cache or unwrapped by the
   * root key; the first use of each version record checks its references' MAC with it.
   */
  private async secretOf(ref: VersionRef): Promise<Buffer> {
    const record = recordOf(ref);
    const id = `external:${ref.keyId}:${ref.version.version}`;
    let secret: Buffer;
    const cached = this.cache.get(id);
    if (cached) {
      secret = Buffer.from(cached.material);
    } else {
      if (ref.version.state !== 'Enabled') {
        throw new KmsError('Unavailable', `key ${ref.keyId} v${ref.version.version} is destroyed`);
      }
      secret = await this.root.unwrapKeyMaterial(record.wrappedSecret, ref.keyId, ref.version.version);
      const copy = Buffer.from(secret);
      if (!this.cache.set(id, { material: copy })) copy.fill(0);
    }
    if (!this.verified.has(record)) {
      const expected = referencesMac(secret, ref.keyId, ref.version.version, record.references);
      if (!macMatches(record.mac, expected)) {
        secret.fill(0);
        throw new KmsError(
          'Internal',
          `the stored record of key ${ref.keyId} v${ref.version.version} does not verify: its provider references were changed`,
        );
      }
      this.verified.add(record);
    }
    return secret;
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

  /** Drops the key's cached version secrets (zeroized). */
  evictKey(keyId: string): void {
    const prefix = `external:${keyId}:`;
    this.cache.removeWhere((id) => id.startsWith(prefix));
  }

  /**
   * The provider keys stay at the providers (Keyhaven forgets them with the version; their own
   * deletion is the providers' administrators' to schedule, docs/external-keys.md).
   */
  async destroyVersionMaterial(): Promise<void> {}

  /**
   * One part per provider, in one failover group (EXTERNAL keys are available while any provider
   * is), each optional: with every provider down the server still serves its other keys, so it
   * stays ready. A probe asks every provider now (an open circuit's through the circuit, so that it closes
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
        optional: true,
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

/**
 * Every provider failed: 409 (InvalidState) when each refused the key itself (access revoked, key
 * disabled or gone at the provider: trying again will not help), otherwise 503. Each provider is
 * named with its error code, never its message (it may quote a URL).
 */
function providersFailed(what: string, cause: unknown): KmsError {
  const failures: readonly ProviderFailure[] = Array.isArray(cause)
    ? (cause as ProviderFailure[])
    : cause instanceof AllProvidersFailedError
      ? cause.failures
      : [];
  const causes = failures.map((f) => `${f.provider}: ${codeOf(f.error)}`).join(', ');
  const message = causes ? `${what} (${causes})` : what;
  const refused = (error: Error) =>
    error instanceof ProviderError && ['AccessDenied', 'KeyUnavailable', 'NotFound'].includes(error.code);
  if (failures.length > 0 && failures.every((f) => refused(f.error))) {
    return new KmsError('Conflict', `${message}: the providers refuse the key`, {
      cause,
      conflict: 'InvalidState',
    });
  }
  return new KmsError('Unavailable', message, { cause });
}

/**
 * The payload key: the data key (which each provider holds wrapped) mixed with the version's
 * secret (which only the root key unwraps), so that neither a provider nor the root alone opens a
 * message, as an AWS external key store double-encrypts.
 */
function payloadKeyOf(secret: Buffer, dataKey: Buffer): Buffer {
  return createHmac('sha256', secret).update('keyhaven-external-payload/1\0').update(dataKey).digest();
}
