// The Azure Key Vault adapter over @azure/keyvault-keys. The caller builds the KeyClient (vault URL,
// a TokenCredential from @azure/identity, `retryOptions: { maxRetries: 0 }` so that retries are the
// integration service's); encrypt and decrypt are Key Vault wrapKey / unwrapKey under the key.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
// Types only: importing keyhaven/integration does not load the Azure SDK (0.25 s); the caller's
// KeyClient brings it.
import type {
  CryptographyClient,
  KeyClient,
  KeyVaultKey,
  KeyWrapAlgorithm,
  SignatureAlgorithm,
} from '@azure/keyvault-keys';
import { decodeEcdsaSignature, encodeEcdsaRawSignature } from '../crypto/ecdsa-der.js';
import { ProviderError, requestFreeCause, type ProviderErrorCode } from './errors.js';
import type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';

export interface AzureKeyVaultProviderOptions {
  /** The vault's KeyClient; its pipeline (credential, TLS, retries) serves every call. */
  keyClient: KeyClient;
  /**
   * The key type generateKey makes for SYMMETRIC_DEFAULT: `RSA` (default; a standard vault's
   * software-protected RSA 3072 key), `RSA-HSM` (premium vault) or `oct-HSM` (Managed HSM, AES-256).
   */
  symmetricKeyType?: 'RSA' | 'RSA-HSM' | 'oct-HSM';
  /** Prefix of the names generateKey gives new keys (`keyhaven-` then a UUID). */
  keyNamePrefix?: string;
}

// The interface's (AWS KMS) signing algorithm names to JWS algorithms (RFC 7518 §3.1) and digests.
const SIGNING_ALGORITHMS: Record<string, { jws: SignatureAlgorithm; digest: string; ecdsa: boolean }> = {
  RSASSA_PKCS1_V1_5_SHA_256: { jws: 'RS256', digest: 'sha256', ecdsa: false },
  RSASSA_PKCS1_V1_5_SHA_384: { jws: 'RS384', digest: 'sha384', ecdsa: false },
  RSASSA_PKCS1_V1_5_SHA_512: { jws: 'RS512', digest: 'sha512', ecdsa: false },
  RSASSA_PSS_SHA_256: { jws: 'PS256', digest: 'sha256', ecdsa: false },
  RSASSA_PSS_SHA_384: { jws: 'PS384', digest: 'sha384', ecdsa: false },
  RSASSA_PSS_SHA_512: { jws: 'PS512', digest: 'sha512', ecdsa: false },
  ECDSA_SHA_256: { jws: 'ES256', digest: 'sha256', ecdsa: true },
  ECDSA_SHA_384: { jws: 'ES384', digest: 'sha384', ecdsa: true },
  ECDSA_SHA_512: { jws: 'ES512', digest: 'sha512', ecdsa: true },
};

// ECDSA signature sizes: Key Vault returns the JWS form r || s (RFC 7518 §3.4); the interface's is DER.
const EC_COORDINATE_BYTES: Record<string, number> = { ES256: 32, ES384: 48, ES512: 66 };

const EC_CURVES: Record<string, 'P-256' | 'P-384' | 'P-521' | 'P-256K'> = {
  ECC_NIST_P256: 'P-256',
  ECC_NIST_P384: 'P-384',
  ECC_NIST_P521: 'P-521',
  ECC_SECG_P256K1: 'P-256K',
};
const CURVE_SPECS = Object.fromEntries(Object.entries(EC_CURVES).map(([spec, curve]) => [curve, spec]));

// Key Vault error codes (the `error.code` of its error body) that say more than the HTTP status.
const AZURE_ERROR_CODES: Record<string, ProviderErrorCode> = {
  KeyNotFound: 'NotFound',
  Forbidden: 'AccessDenied',
  Unauthorized: 'AccessDenied',
  KeyDisabled: 'KeyUnavailable',
  Throttled: 'Throttled',
  ServiceUnavailable: 'Unavailable',
};

type AzureOperation = 'unwrapKey' | 'other';

const MAX_RESOLVED_KEYS = 1_000;

export function azureErrorToProviderError(
  error: unknown,
  operation: AzureOperation = 'other',
): ProviderError {
  if (error instanceof ProviderError) return error;
  const cause = requestFreeCause(error);
  const e = error as {
    name?: string;
    statusCode?: number;
    code?: string;
    details?: { error?: { innererror?: { code?: string } } };
  };
  const name = e?.name ?? 'Error';
  if (name === 'AbortError') return new ProviderError('Timeout', 'Azure Key Vault call aborted', { cause });
  if (name !== 'RestError') {
    // The SDK refused before sending (a key operation the key does not allow, a bad argument).
    return new ProviderError('InvalidRequest', `Azure Key Vault client refused the call (${name})`, {
      cause,
    });
  }
  const status = e.statusCode;
  if (status === undefined) {
    return new ProviderError('Unavailable', `Azure Key Vault: no answer (${e.code ?? name})`, {
      cause,
    });
  }
  const innerCode = e.details?.error?.innererror?.code;
  const mapped = (innerCode && AZURE_ERROR_CODES[innerCode]) || (e.code && AZURE_ERROR_CODES[e.code]);
  const what = `Azure Key Vault answered ${e.code ?? 'an error'} (HTTP ${status})`;
  // Key Vault answers an unwrapKey of bytes its key did not wrap with 400 BadParameter.
  if (operation === 'unwrapKey' && status === 400)
    return new ProviderError('InvalidCiphertext', what, { cause });
  if (mapped) return new ProviderError(mapped, what, { cause });
  if (status === 401 || status === 403) return new ProviderError('AccessDenied', what, { cause });
  if (status === 404) return new ProviderError('NotFound', what, { cause });
  if (status === 429) return new ProviderError('Throttled', what, { cause });
  if (status >= 500) return new ProviderError('Unavailable', what, { cause });
  return new ProviderError('InvalidRequest', what, { cause });
}

interface ResolvedKey {
  crypto: CryptographyClient;
  /** Absent for EC keys, which only sign. */
  wrapAlgorithm?: KeyWrapAlgorithm;
}

export class AzureKeyVaultProvider implements KmsProvider {
  readonly kind = 'azure-key-vault';
  private readonly keyClient: KeyClient;
  /** The host of the client's vault, which key identifiers must name. */
  private readonly vaultHost: string;
  private readonly symmetricKeyType: 'RSA' | 'RSA-HSM' | 'oct-HSM';
  private readonly keyNamePrefix: string;
  /** One CryptographyClient per key reference, made after one getKey tells the key's type. */
  private readonly resolved = new Map<string, Promise<ResolvedKey>>();

  constructor(options: AzureKeyVaultProviderOptions) {
    this.keyClient = options.keyClient;
    this.vaultHost = new URL(options.keyClient.vaultUrl).host;
    this.symmetricKeyType = options.symmetricKeyType ?? 'RSA';
    this.keyNamePrefix = options.keyNamePrefix ?? 'keyhaven-';
  }

  async encrypt(keyRef: string, plaintext: Bytes, context: CallContext) {
    const key = await this.resolve(keyRef, context);
    const algorithm = wrapping(key);
    checkWrapInput(algorithm, plaintext.length);
    const out = await this.call(() =>
      key.crypto.wrapKey(algorithm, plaintext, { abortSignal: context.signal }),
    );
    return { ciphertext: Buffer.from(out.result) };
  }

  async decrypt(keyRef: string, ciphertext: Bytes, context: CallContext) {
    const key = await this.resolve(keyRef, context);
    const out = await this.call(
      () => key.crypto.unwrapKey(wrapping(key), ciphertext, { abortSignal: context.signal }),
      'unwrapKey',
    );
    return { plaintext: takeSecret(out.result) };
  }

  /** Key Vault has no data-key operation: 32 random bytes made here, wrapped there. */
  async generateDataKey(keyRef: string, context: CallContext) {
    const plaintext = randomBytes(32);
    try {
      const { ciphertext } = await this.encrypt(keyRef, plaintext, context);
      return { plaintext, ciphertext };
    } catch (error) {
      plaintext.fill(0);
      throw error;
    }
  }

  async sign(keyRef: string, message: Bytes, algorithm: string, context: CallContext) {
    const alg = signingAlgorithm(algorithm);
    const key = await this.resolve(keyRef, context);
    const digest = createHash(alg.digest).update(message).digest();
    const out = await this.call(() => key.crypto.sign(alg.jws, digest, { abortSignal: context.signal }));
    const signature = Buffer.from(out.result);
    return { signature: alg.ecdsa ? encodeEcdsaRawSignature(signature) : signature };
  }

  async verify(keyRef: string, message: Bytes, signature: Bytes, algorithm: string, context: CallContext) {
    const alg = signingAlgorithm(algorithm);
    let wire: Uint8Array = signature;
    if (alg.ecdsa) {
      // A signature that is not DER, or whose r or s does not fit the curve, is simply invalid.
      const decoded = decodeEcdsaSignature(Buffer.from(signature));
      const width = EC_COORDINATE_BYTES[alg.jws]!;
      if (!decoded || decoded.r >= 1n << BigInt(width * 8) || decoded.s >= 1n << BigInt(width * 8)) {
        return { valid: false };
      }
      wire = Buffer.concat([fixedWidth(decoded.r, width), fixedWidth(decoded.s, width)]);
    }
    const key = await this.resolve(keyRef, context);
    const digest = createHash(alg.digest).update(message).digest();
    const out = await this.call(() =>
      key.crypto.verify(alg.jws, digest, wire, { abortSignal: context.signal }),
    );
    return { valid: out.result === true };
  }

  async keyInfo(keyRef: string, context: CallContext) {
    const { name, version } = this.nameOf(keyRef);
    const key = await this.call(() => this.keyClient.getKey(name, { version, abortSignal: context.signal }));
    return toKeyInfo(key);
  }

  async generateKey(options: GenerateKeyOptions, context: CallContext) {
    const keySpec = options.keySpec ?? 'SYMMETRIC_DEFAULT';
    const signing = (options.keyUsage ?? 'ENCRYPT_DECRYPT') === 'SIGN_VERIFY';
    const name = `${this.keyNamePrefix}${randomUUID()}`;
    const common = {
      abortSignal: context.signal,
      ...(options.description === undefined ? {} : { tags: { description: options.description } }),
    };
    const rsaBits = /^RSA_(2048|3072|4096)$/.exec(keySpec)?.[1];
    const curve = EC_CURVES[keySpec];
    let create: () => Promise<KeyVaultKey>;
    if (keySpec === 'SYMMETRIC_DEFAULT' && !signing) {
      create =
        this.symmetricKeyType === 'oct-HSM'
          ? () =>
              this.keyClient.createOctKey(name, {
                ...common,
                hsm: true,
                keySize: 256,
                keyOps: ['wrapKey', 'unwrapKey'],
              })
          : () =>
              this.keyClient.createRsaKey(name, {
                ...common,
                hsm: this.symmetricKeyType === 'RSA-HSM',
                keySize: 3072,
                keyOps: ['wrapKey', 'unwrapKey'],
              });
    } else if (rsaBits) {
      create = () =>
        this.keyClient.createRsaKey(name, {
          ...common,
          keySize: Number(rsaBits),
          keyOps: signing ? ['sign', 'verify'] : ['wrapKey', 'unwrapKey'],
        });
    } else if (curve && signing) {
      create = () => this.keyClient.createEcKey(name, { ...common, curve, keyOps: ['sign', 'verify'] });
    } else {
      throw new ProviderError(
        'InvalidRequest',
        `Azure Key Vault adapter: no key type for ${keySpec} with ${signing ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT'}`,
      );
    }
    return toKeyInfo(await this.call(create));
  }

  /** A getKey of a name that cannot exist: the vault's 404 proves it reachable and the token accepted. */
  async health(context: CallContext) {
    try {
      await this.keyClient.getKey(`${this.keyNamePrefix}health-probe`, { abortSignal: context.signal });
    } catch (error) {
      const mapped = azureErrorToProviderError(error);
      if (mapped.code !== 'NotFound') throw mapped;
    }
  }

  /** `name`, `name/version` or a key id URL (`https://{vault}/keys/{name}/{version}`). */
  private nameOf(keyRef: string): { name: string; version?: string } {
    if (/^https:\/\//i.test(keyRef)) {
      // A key identifier, https://<vault>/keys/<name>[/<version>], of this provider's vault: the
      // client calls its own vault whatever host the identifier names, so another host is refused
      // rather than read as a key of this one.
      const url = URL.canParse(keyRef) ? new URL(keyRef) : undefined;
      const [collection, name, version, extra] = url ? url.pathname.split('/').slice(1) : [];
      if (collection !== 'keys' || !name || extra !== undefined || !/^[0-9a-zA-Z-]{1,127}$/.test(name))
        throw new ProviderError('InvalidRequest', 'not a Key Vault key identifier');
      if (url!.host !== this.vaultHost)
        throw new ProviderError('InvalidRequest', `the key identifier names another vault (${url!.host})`);
      return { name, ...(version ? { version } : {}) };
    }
    const [name, version, extra] = keyRef.split('/');
    if (!name || extra !== undefined || !/^[0-9a-zA-Z-]{1,127}$/.test(name)) {
      throw new ProviderError('InvalidRequest', 'not a Key Vault key name, name/version or key id');
    }
    return { name, ...(version ? { version } : {}) };
  }

  /** The key's CryptographyClient and wrap algorithm, from one getKey per reference (kept only when it succeeds). */
  private resolve(keyRef: string, context: CallContext): Promise<ResolvedKey> {
    let found = this.resolved.get(keyRef);
    if (!found) {
      const { name, version } = this.nameOf(keyRef);
      found = this.call(() => this.keyClient.getKey(name, { version, abortSignal: context.signal })).then(
        (key) => ({
          crypto: this.keyClient.getCryptographyClient(name, { keyVersion: version }),
          wrapAlgorithm: wrapAlgorithmOf(key),
        }),
      );
      // A bound on the references remembered (an application naming endless key ids): oldest first out.
      if (this.resolved.size >= MAX_RESOLVED_KEYS) this.resolved.delete(this.resolved.keys().next().value!);
      this.resolved.set(keyRef, found);
      found.catch(() => this.resolved.delete(keyRef));
    }
    return found;
  }

  private async call<T>(work: () => Promise<T>, operation: AzureOperation = 'other'): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw azureErrorToProviderError(error, operation);
    }
  }
}

/** RSA keys wrap with RSA-OAEP-256 (OAEP, SHA-256, MGF1-SHA-256); AES keys (oct, oct-HSM) with A256KW (RFC 3394). */
function wrapAlgorithmOf(key: KeyVaultKey): KeyWrapAlgorithm | undefined {
  const kty = key.keyType ?? key.key?.kty;
  if (kty === 'RSA' || kty === 'RSA-HSM') return 'RSA-OAEP-256';
  if (kty === 'oct' || kty === 'oct-HSM') return 'A256KW';
  return undefined;
}

function wrapping(key: ResolvedKey): KeyWrapAlgorithm {
  if (!key.wrapAlgorithm)
    throw new ProviderError('InvalidRequest', 'this Key Vault key cannot wrap (an EC key)');
  return key.wrapAlgorithm;
}

// RFC 3394 wraps whole 64-bit blocks, at least two; RSA-OAEP-256 fits k - 2*32 - 2 bytes (k the modulus size).
function checkWrapInput(algorithm: KeyWrapAlgorithm, length: number): void {
  if (algorithm === 'A256KW' && (length < 16 || length % 8 !== 0)) {
    throw new ProviderError('InvalidRequest', 'A256KW wraps a multiple of 8 bytes, at least 16');
  }
}

function signingAlgorithm(algorithm: string) {
  const found = SIGNING_ALGORITHMS[algorithm];
  if (!found)
    throw new ProviderError('InvalidRequest', `Azure Key Vault adapter: no mapping for ${algorithm}`);
  return found;
}

function fixedWidth(value: bigint, width: number): Buffer {
  return Buffer.from(value.toString(16).padStart(width * 2, '0'), 'hex');
}

/** A copy of secret bytes the SDK decoded, zeroizing the SDK's array so one copy is left to the caller. */
function takeSecret(bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  bytes.fill(0);
  return copy;
}

function keySpecOf(key: KeyVaultKey): string {
  const kty = key.keyType ?? key.key?.kty;
  if (kty === 'RSA' || kty === 'RSA-HSM') return `RSA_${(key.key?.n?.length ?? 0) * 8}`;
  if (kty === 'EC' || kty === 'EC-HSM') return CURVE_SPECS[key.key?.crv ?? ''] ?? `EC_${key.key?.crv}`;
  return 'SYMMETRIC_DEFAULT';
}

function toKeyInfo(key: KeyVaultKey): ProviderKeyInfo {
  const enabled = key.properties.enabled !== false;
  const description = key.properties.tags?.description;
  return {
    keyRef: key.id ?? key.name,
    keySpec: keySpecOf(key),
    keyUsage: key.keyOperations?.includes('sign') ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT',
    enabled,
    state: enabled ? 'Enabled' : 'Disabled',
    ...(key.properties.createdOn ? { createdAt: key.properties.createdOn } : {}),
    ...(description === undefined ? {} : { description }),
  };
}
