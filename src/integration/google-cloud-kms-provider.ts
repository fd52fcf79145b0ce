// The Google Cloud KMS adapter over @google-cloud/kms. The caller builds the KeyManagementServiceClient
// (credentials; `fallback: true` for HTTP/JSON); every byte field travels with its CRC32C both ways,
// checked as Google's data-integrity guidelines say, and a mismatch is a retryable provider fault.
import {
  constants,
  createHash,
  createPublicKey,
  randomBytes,
  randomUUID,
  verify as verifySignature,
} from 'node:crypto';
import type { KeyManagementServiceClient, protos } from '@google-cloud/kms';
import { crc32c } from './crc32c.js';
import { ProviderError, requestFreeCause, type ProviderErrorCode } from './errors.js';
import type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';

type CryptoKey = protos.google.cloud.kms.v1.ICryptoKey;
type VersionAlgorithm = NonNullable<protos.google.cloud.kms.v1.ICryptoKeyVersionTemplate['algorithm']>;
type Int64Value = { value?: number | string | { toString(): string } | null } | null | undefined;

export interface GoogleCloudKmsProviderOptions {
  client: KeyManagementServiceClient;
  /** `projects/{p}/locations/{l}/keyRings/{r}`: where generateKey creates keys. */
  keyRing?: string;
  /** Protection level of the keys generateKey creates (`SOFTWARE`, the default, or `HSM`). */
  protectionLevel?: 'SOFTWARE' | 'HSM';
  /** RSA signing keys: Google fixes one padding per key; generateKey makes `PSS` (default) or `PKCS1` keys. */
  rsaSigningPadding?: 'PSS' | 'PKCS1';
  /** Prefix of the cryptoKeyId generateKey gives new keys (`keyhaven-` then a UUID). */
  keyIdPrefix?: string;
}

// Google's CryptoKeyVersionAlgorithm of a signing key to the interface's (AWS KMS) algorithm name,
// its digest, and node:crypto's verify options.
const SIGNING_ALGORITHMS: Record<
  string,
  { aws: string; digest: 'sha256' | 'sha384' | 'sha512'; pss: boolean }
> = {
  RSA_SIGN_PSS_2048_SHA256: { aws: 'RSASSA_PSS_SHA_256', digest: 'sha256', pss: true },
  RSA_SIGN_PSS_3072_SHA256: { aws: 'RSASSA_PSS_SHA_256', digest: 'sha256', pss: true },
  RSA_SIGN_PSS_4096_SHA256: { aws: 'RSASSA_PSS_SHA_256', digest: 'sha256', pss: true },
  RSA_SIGN_PSS_4096_SHA512: { aws: 'RSASSA_PSS_SHA_512', digest: 'sha512', pss: true },
  RSA_SIGN_PKCS1_2048_SHA256: { aws: 'RSASSA_PKCS1_V1_5_SHA_256', digest: 'sha256', pss: false },
  RSA_SIGN_PKCS1_3072_SHA256: { aws: 'RSASSA_PKCS1_V1_5_SHA_256', digest: 'sha256', pss: false },
  RSA_SIGN_PKCS1_4096_SHA256: { aws: 'RSASSA_PKCS1_V1_5_SHA_256', digest: 'sha256', pss: false },
  RSA_SIGN_PKCS1_4096_SHA512: { aws: 'RSASSA_PKCS1_V1_5_SHA_512', digest: 'sha512', pss: false },
  EC_SIGN_P256_SHA256: { aws: 'ECDSA_SHA_256', digest: 'sha256', pss: false },
  EC_SIGN_P384_SHA384: { aws: 'ECDSA_SHA_384', digest: 'sha384', pss: false },
};

// Key specs (AWS vocabulary) of the algorithms above, for keyInfo.
const ALGORITHM_KEY_SPECS: Record<string, string> = {
  GOOGLE_SYMMETRIC_ENCRYPTION: 'SYMMETRIC_DEFAULT',
  EC_SIGN_P256_SHA256: 'ECC_NIST_P256',
  EC_SIGN_P384_SHA384: 'ECC_NIST_P384',
};

// google.rpc.Code (the gax error's numeric `code`) to the layer's codes.
const GOOGLE_ERROR_CODES: Record<number, ProviderErrorCode> = {
  1: 'Unavailable', // CANCELLED
  3: 'InvalidRequest', // INVALID_ARGUMENT
  4: 'Timeout', // DEADLINE_EXCEEDED
  5: 'NotFound', // NOT_FOUND
  6: 'InvalidRequest', // ALREADY_EXISTS
  7: 'AccessDenied', // PERMISSION_DENIED
  8: 'Throttled', // RESOURCE_EXHAUSTED
  9: 'KeyUnavailable', // FAILED_PRECONDITION: a disabled or destroyed key version
  10: 'Unavailable', // ABORTED
  11: 'InvalidRequest', // OUT_OF_RANGE
  12: 'InvalidRequest', // UNIMPLEMENTED
  13: 'Unavailable', // INTERNAL
  14: 'Unavailable', // UNAVAILABLE
  16: 'AccessDenied', // UNAUTHENTICATED
};

type GoogleOperation = 'decrypt' | 'other';

// google.rpc.Code names (the `status` of Google's JSON error body) to their numbers.
const RPC_CODE_OF_STATUS: Record<string, number> = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

// HTTP statuses to google.rpc.Code (cloud.google.com/apis/design/errors#handling_errors), for an
// answer whose body names no status; 400 is the lossy one (also FAILED_PRECONDITION, OUT_OF_RANGE).
const RPC_CODE_OF_HTTP: Record<number, number> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  409: 10,
  429: 8,
  499: 1,
  500: 13,
  501: 12,
  503: 14,
  504: 4,
};

/**
 * The google.rpc.Code of a failed call. gax's own GoogleError carries it as `code`; on the REST
 * fallback with gaxios 7 an HTTP error arrives instead as a GaxiosError whose `status` is the HTTP
 * status and whose message is the response body, Google's JSON error (googleapis/gax-nodejs#1803):
 * its `error.status` is read as data, to tell FAILED_PRECONDITION from INVALID_ARGUMENT.
 */
function rpcCodeOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; status?: unknown; response?: unknown; message?: unknown };
  if (e?.response !== undefined && typeof e.status === 'number') {
    let status: unknown;
    try {
      status = (JSON.parse(String(e.message)) as { error?: { status?: unknown } }).error?.status;
    } catch {
      status = undefined;
    }
    return (
      (typeof status === 'string' ? RPC_CODE_OF_STATUS[status] : undefined) ??
      RPC_CODE_OF_HTTP[e.status] ??
      (e.status >= 500 ? 14 : 3)
    );
  }
  return typeof e?.code === 'number' && e.code >= 0 && e.code <= 16 ? e.code : undefined;
}

export function googleErrorToProviderError(
  error: unknown,
  operation: GoogleOperation = 'other',
): ProviderError {
  if (error instanceof ProviderError) return error;
  const cause = requestFreeCause(error);
  const name = (error as { name?: string })?.name ?? 'Error';
  if (name === 'AbortError') {
    return new ProviderError('Timeout', 'Google Cloud KMS call aborted', { cause });
  }
  const code = rpcCodeOf(error);
  const mapped = code === undefined ? undefined : GOOGLE_ERROR_CODES[code];
  if (mapped) {
    const what = `Google Cloud KMS answered code ${code}`;
    // Cloud KMS answers a decrypt of bytes its key did not produce with INVALID_ARGUMENT.
    if (operation === 'decrypt' && code === 3) {
      return new ProviderError('InvalidCiphertext', what, { cause });
    }
    return new ProviderError(mapped, what, { cause });
  }
  // A refused or reset connection (ECONNREFUSED, ECONNRESET...), an unparseable answer.
  return new ProviderError('Unavailable', `Google Cloud KMS: no usable answer (${name})`, { cause });
}

// No retries inside gax: the integration service retries, under its circuit breaker.
const NO_SDK_RETRY = { retry: { retryCodes: [] as number[] } };

export class GoogleCloudKmsProvider implements KmsProvider {
  readonly kind = 'google-cloud-kms';
  private readonly client: KeyManagementServiceClient;
  private readonly options: GoogleCloudKmsProviderOptions;
  /** The public key of each signing key version (PEM, algorithm), fetched once. */
  private readonly publicKeys = new Map<string, Promise<{ pem: string; algorithm: string }>>();

  constructor(options: GoogleCloudKmsProviderOptions) {
    this.client = options.client;
    this.options = options;
  }

  async encrypt(keyRef: string, plaintext: Bytes, context: CallContext) {
    const [out] = await this.call(context, () =>
      this.client.encrypt(
        { name: keyRef, plaintext, plaintextCrc32c: { value: crc32c(plaintext) } },
        NO_SDK_RETRY,
      ),
    );
    if (out.verifiedPlaintextCrc32c !== true) throw corrupted('the plaintext checksum was not verified');
    const ciphertext = Buffer.from(asBytes(out.ciphertext));
    checkCrc32c(ciphertext, out.ciphertextCrc32c, 'ciphertext');
    return { ciphertext };
  }

  async decrypt(keyRef: string, ciphertext: Bytes, context: CallContext) {
    const [out] = await this.call(
      context,
      () =>
        this.client.decrypt(
          { name: cryptoKeyOf(keyRef), ciphertext, ciphertextCrc32c: { value: crc32c(ciphertext) } },
          NO_SDK_RETRY,
        ),
      'decrypt',
    );
    const plaintext = takeSecret(asBytes(out.plaintext));
    try {
      checkCrc32c(plaintext, out.plaintextCrc32c, 'plaintext');
    } catch (error) {
      plaintext.fill(0);
      throw error;
    }
    return { plaintext };
  }

  /** 32 random bytes made here, encrypted there (Cloud KMS has no data-key operation). */
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

  /** `keyRef` names a CryptoKeyVersion; the algorithm must be the one Google fixed for it. */
  async sign(keyRef: string, message: Bytes, algorithm: string, context: CallContext) {
    const version = versionOf(keyRef);
    const { algorithm: googleAlgorithm } = await this.publicKey(version, context);
    const alg = matching(googleAlgorithm, algorithm);
    const digest = createHash(alg.digest).update(message).digest();
    const [out] = await this.call(context, () =>
      this.client.asymmetricSign(
        { name: version, digest: { [alg.digest]: digest }, digestCrc32c: { value: crc32c(digest) } },
        NO_SDK_RETRY,
      ),
    );
    if (out.verifiedDigestCrc32c !== true) throw corrupted('the digest checksum was not verified');
    const signature = Buffer.from(asBytes(out.signature));
    checkCrc32c(signature, out.signatureCrc32c, 'signature');
    return { signature };
  }

  /** Cloud KMS has no verify RPC: the signature is checked here against the version's public key. */
  async verify(keyRef: string, message: Bytes, signature: Bytes, algorithm: string, context: CallContext) {
    const version = versionOf(keyRef);
    const { pem, algorithm: googleAlgorithm } = await this.publicKey(version, context);
    const alg = matching(googleAlgorithm, algorithm);
    const key = createPublicKey(pem);
    const valid = verifySignature(
      alg.digest,
      message,
      {
        key,
        // Cloud KMS's PSS salt is as long as the digest.
        ...(alg.pss
          ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : {}),
      },
      signature,
    );
    return { valid };
  }

  async keyInfo(keyRef: string, context: CallContext) {
    const [key] = await this.call(context, () =>
      this.client.getCryptoKey({ name: cryptoKeyOf(keyRef) }, NO_SDK_RETRY),
    );
    return toKeyInfo(key, keyRef);
  }

  async generateKey(options: GenerateKeyOptions, context: CallContext) {
    const keyRing = this.options.keyRing;
    if (!keyRing)
      throw new ProviderError('InvalidRequest', 'Google Cloud KMS adapter: no keyRing configured');
    const signing = (options.keyUsage ?? 'ENCRYPT_DECRYPT') === 'SIGN_VERIFY';
    const algorithm = googleAlgorithmFor(
      options.keySpec ?? 'SYMMETRIC_DEFAULT',
      signing,
      this.options.rsaSigningPadding,
    );
    const [key] = await this.call(context, () =>
      this.client.createCryptoKey(
        {
          parent: keyRing,
          cryptoKeyId: `${this.options.keyIdPrefix ?? 'keyhaven-'}${randomUUID()}`,
          cryptoKey: {
            purpose: signing ? 'ASYMMETRIC_SIGN' : 'ENCRYPT_DECRYPT',
            versionTemplate: { algorithm, protectionLevel: this.options.protectionLevel ?? 'SOFTWARE' },
          },
        },
        NO_SDK_RETRY,
      ),
    );
    // A signing key's reference is its first version (created with the key): asymmetricSign needs one.
    return toKeyInfo(key, signing ? `${key.name}/cryptoKeyVersions/1` : key.name!);
  }

  /** A getKeyRing of the configured key ring (or a listKeyRings-free NOT_FOUND probe without one). */
  async health(context: CallContext) {
    const name = this.options.keyRing ?? 'projects/-/locations/global/keyRings/keyhaven-health-probe';
    try {
      await this.call(context, () => this.client.getKeyRing({ name }, NO_SDK_RETRY));
    } catch (error) {
      if (this.options.keyRing || (error as ProviderError).code !== 'NotFound') throw error;
    }
  }

  private publicKey(version: string, context: CallContext) {
    let found = this.publicKeys.get(version);
    if (!found) {
      found = this.call(context, () => this.client.getPublicKey({ name: version }, NO_SDK_RETRY)).then(
        ([key]) => {
          const pem = key.pem ?? '';
          checkCrc32c(Buffer.from(pem, 'utf8'), key.pemCrc32c, 'public key');
          return { pem, algorithm: String(key.algorithm) };
        },
      );
      this.publicKeys.set(version, found);
      found.catch(() => this.publicKeys.delete(version));
    }
    return found;
  }

  private async call<T>(
    context: CallContext,
    work: () => Promise<T>,
    operation: GoogleOperation = 'other',
  ): Promise<T> {
    if (context.signal.aborted) throw new ProviderError('Timeout', 'Google Cloud KMS call aborted');
    try {
      return await work();
    } catch (error) {
      throw googleErrorToProviderError(error, operation);
    }
  }
}

function googleAlgorithmFor(
  keySpec: string,
  signing: boolean,
  padding: 'PSS' | 'PKCS1' = 'PSS',
): VersionAlgorithm {
  if (!signing && keySpec === 'SYMMETRIC_DEFAULT') return 'GOOGLE_SYMMETRIC_ENCRYPTION';
  if (signing) {
    const bits = /^RSA_(2048|3072|4096)$/.exec(keySpec)?.[1];
    if (bits) return `RSA_SIGN_${padding}_${bits}_SHA256` as VersionAlgorithm;
    if (keySpec === 'ECC_NIST_P256') return 'EC_SIGN_P256_SHA256';
    if (keySpec === 'ECC_NIST_P384') return 'EC_SIGN_P384_SHA384';
  }
  throw new ProviderError(
    'InvalidRequest',
    `Google Cloud KMS adapter: no key algorithm for ${keySpec} with ${signing ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT'}`,
  );
}

function matching(googleAlgorithm: string, algorithm: string) {
  const alg = SIGNING_ALGORITHMS[googleAlgorithm];
  if (!alg || alg.aws !== algorithm) {
    throw new ProviderError('InvalidRequest', `the key signs with ${googleAlgorithm}, not ${algorithm}`);
  }
  return alg;
}

/** The CryptoKey part of a CryptoKey or CryptoKeyVersion resource name. */
function cryptoKeyOf(keyRef: string): string {
  return keyRef.replace(/\/cryptoKeyVersions\/[^/]+$/, '');
}

function versionOf(keyRef: string): string {
  if (!/\/cryptoKeyVersions\/[^/]+$/.test(keyRef)) {
    throw new ProviderError(
      'InvalidRequest',
      'signing needs a CryptoKeyVersion name (.../cryptoKeyVersions/N)',
    );
  }
  return keyRef;
}

function corrupted(what: string): ProviderError {
  // Google: "discard the response and retry a limited number of times" (data-integrity guidelines).
  return new ProviderError('Unavailable', `Google Cloud KMS response failed its integrity check: ${what}`);
}

function checkCrc32c(bytes: Uint8Array, expected: Int64Value, field: string): void {
  if (expected?.value === undefined || expected.value === null) throw corrupted(`no ${field} checksum`);
  if (String(expected.value) !== String(crc32c(bytes))) throw corrupted(`${field} checksum mismatch`);
}

/** Bytes fields decode to Uint8Array; the typings also allow the base64 string form. */
function asBytes(field: Uint8Array | string | null | undefined): Uint8Array {
  if (typeof field === 'string') return Buffer.from(field, 'base64');
  return field ?? new Uint8Array();
}

/** A copy of secret bytes the SDK decoded, zeroizing the SDK's array so one copy is left to the caller. */
function takeSecret(bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  bytes.fill(0);
  return copy;
}

function toKeyInfo(key: CryptoKey, keyRef: string): ProviderKeyInfo {
  const algorithm = String(key.versionTemplate?.algorithm ?? key.primary?.algorithm ?? '');
  const rsaBits = /^RSA_\w+?_(2048|3072|4096)_/.exec(algorithm)?.[1];
  const state = String(
    key.primary?.state ?? (String(key.purpose) === 'ASYMMETRIC_SIGN' ? 'ENABLED' : 'UNKNOWN'),
  );
  const seconds = key.createTime?.seconds;
  return {
    keyRef,
    keySpec: ALGORITHM_KEY_SPECS[algorithm] ?? (rsaBits ? `RSA_${rsaBits}` : algorithm),
    keyUsage: String(key.purpose) === 'ASYMMETRIC_SIGN' ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT',
    enabled: state === 'ENABLED',
    state,
    ...(seconds === undefined || seconds === null ? {} : { createdAt: new Date(Number(seconds) * 1000) }),
  };
}
