// The AWS KMS adapter over @aws-sdk/client-kms. The caller builds the KMSClient (region, endpoint,
// credentials); give it `maxAttempts: 1` so that retries are the integration service's, not the SDK's.
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ListKeysCommand,
  SignCommand,
  VerifyCommand,
  type KeyMetadata,
  type KeySpec,
  type KeyUsageType,
  type KMSClient,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ProviderError, type ProviderErrorCode } from './errors.js';
import type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';

// AWS KMS exception names (API reference, "Errors" of each action) to the layer's codes.
const AWS_ERROR_CODES: Record<string, ProviderErrorCode> = {
  InvalidCiphertextException: 'InvalidCiphertext',
  IncorrectKeyException: 'InvalidCiphertext',
  AccessDeniedException: 'AccessDenied',
  UnrecognizedClientException: 'AccessDenied',
  NotFoundException: 'NotFound',
  DisabledException: 'KeyUnavailable',
  KMSInvalidStateException: 'KeyUnavailable',
  ValidationException: 'InvalidRequest',
  InvalidKeyUsageException: 'InvalidRequest',
  InvalidGrantTokenException: 'InvalidRequest',
  InvalidArnException: 'InvalidRequest',
  UnsupportedOperationException: 'InvalidRequest',
  ThrottlingException: 'Throttled',
  LimitExceededException: 'Throttled',
  KMSInternalException: 'Unavailable',
  DependencyTimeoutException: 'Unavailable',
  KeyUnavailableException: 'Unavailable',
};

export function awsErrorToProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const mapped = AWS_ERROR_CODES[name];
  if (mapped) return new ProviderError(mapped, `AWS KMS answered ${name}`, { cause: error });
  if (name === 'AbortError') return new ProviderError('Timeout', 'AWS KMS call aborted', { cause: error });
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    return new ProviderError('InvalidRequest', `AWS KMS answered ${name} (HTTP ${status})`, { cause: error });
  }
  // No answer (connection refused or reset), a 5xx, a 429: the provider's trouble.
  const what = status === undefined ? 'no answer' : `HTTP ${status}`;
  return new ProviderError('Unavailable', `AWS KMS: ${name} (${what})`, { cause: error });
}

export class AwsKmsProvider implements KmsProvider {
  readonly kind = 'aws-kms';

  constructor(private readonly client: KMSClient) {}

  /** Releases the client's sockets (KMSClient.destroy). */
  close(): void {
    this.client.destroy();
  }

  async encrypt(keyRef: string, plaintext: Bytes, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(new EncryptCommand({ KeyId: keyRef, Plaintext: plaintext }), {
        abortSignal: context.signal,
      }),
    );
    return { ciphertext: Buffer.from(out.CiphertextBlob!) };
  }

  async decrypt(keyRef: string, ciphertext: Bytes, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(new DecryptCommand({ KeyId: keyRef, CiphertextBlob: ciphertext }), {
        abortSignal: context.signal,
      }),
    );
    return { plaintext: takeSecret(out.Plaintext!) };
  }

  async generateDataKey(keyRef: string, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(new GenerateDataKeyCommand({ KeyId: keyRef, KeySpec: 'AES_256' }), {
        abortSignal: context.signal,
      }),
    );
    return { plaintext: takeSecret(out.Plaintext!), ciphertext: Buffer.from(out.CiphertextBlob!) };
  }

  async sign(keyRef: string, message: Bytes, algorithm: string, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(
        new SignCommand({
          KeyId: keyRef,
          Message: message,
          MessageType: 'RAW',
          SigningAlgorithm: algorithm as SigningAlgorithmSpec,
        }),
        { abortSignal: context.signal },
      ),
    );
    return { signature: Buffer.from(out.Signature!) };
  }

  async verify(keyRef: string, message: Bytes, signature: Bytes, algorithm: string, context: CallContext) {
    const command = new VerifyCommand({
      KeyId: keyRef,
      Message: message,
      MessageType: 'RAW',
      Signature: signature,
      SigningAlgorithm: algorithm as SigningAlgorithmSpec,
    });
    try {
      return {
        valid: (await this.client.send(command, { abortSignal: context.signal })).SignatureValid === true,
      };
    } catch (error) {
      // AWS answers a wrong signature with KMSInvalidSignatureException, not SignatureValid: false.
      if ((error as { name?: string }).name === 'KMSInvalidSignatureException') return { valid: false };
      throw awsErrorToProviderError(error);
    }
  }

  async keyInfo(keyRef: string, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(new DescribeKeyCommand({ KeyId: keyRef }), { abortSignal: context.signal }),
    );
    return toKeyInfo(out.KeyMetadata!);
  }

  async generateKey(options: GenerateKeyOptions, context: CallContext) {
    const out = await this.call(() =>
      this.client.send(
        new CreateKeyCommand({
          KeySpec: (options.keySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec,
          KeyUsage: (options.keyUsage ?? 'ENCRYPT_DECRYPT') as KeyUsageType,
          Description: options.description,
        }),
        { abortSignal: context.signal },
      ),
    );
    return toKeyInfo(out.KeyMetadata!);
  }

  async health(context: CallContext) {
    await this.call(() =>
      this.client.send(new ListKeysCommand({ Limit: 1 }), { abortSignal: context.signal }),
    );
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw awsErrorToProviderError(error);
    }
  }
}

/** A copy of secret bytes the SDK decoded, zeroizing the SDK's array so one copy is left to the caller. */
function takeSecret(bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  bytes.fill(0);
  return copy;
}

function toKeyInfo(metadata: KeyMetadata): ProviderKeyInfo {
  return {
    keyRef: metadata.KeyId!,
    keySpec: metadata.KeySpec ?? 'SYMMETRIC_DEFAULT',
    keyUsage: metadata.KeyUsage ?? 'ENCRYPT_DECRYPT',
    enabled: metadata.Enabled === true,
    state: metadata.KeyState ?? 'Unknown',
    createdAt: metadata.CreationDate,
    description: metadata.Description,
  };
}
