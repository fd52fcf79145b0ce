// SecretKms over the AWS KMS JSON protocol (@aws-sdk/client-kms, an optional peer dependency): AWS
// itself, or Keyhaven's AWS dialect with `endpoint` set. The SDK parses responses into JS objects, so
// unlike keyhaven-rest.ts a decrypted value passes through the SDK's strings on its way. Nor is it
// recipient-bound: AWS's Decrypt `Recipient` takes only a Nitro Enclaves attestation document.
import type { KMSClient, KMSClientConfig } from '@aws-sdk/client-kms';
import { SecretsError, type SecretsErrorCode } from '../errors.js';
import { isRsaEnvelope, openRsaEnvelope, sealRsaEnvelope, type RsaCipher } from './rsa-envelope.js';
import type { SecretKms } from './secret-kms.js';

const RSA_ALGORITHM = 'RSAES_OAEP_SHA_256';

export interface AwsKmsOptions {
  /** e.g. https://kms.eu-west-1.amazonaws.com, or a Keyhaven server's URL; default: the SDK's. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** An existing client instead (its configuration wins). */
  client?: KMSClient;
  /**
   * The RSA key of values in @faizahmed/secret-keystore's envelope format (see rsa-envelope.ts):
   * AWS decrypts RSA ciphertext only when told the key.
   */
  keyId?: string;
}

export function awsKms(options: AwsKmsOptions = {}): SecretKms & { close(): void } {
  let loading: Promise<{ client: KMSClient; sdk: typeof import('@aws-sdk/client-kms') }> | undefined;
  const sdk = () =>
    (loading ??= import('@aws-sdk/client-kms').then((module) => {
      const config: KMSClientConfig = { maxAttempts: 2 };
      if (options.endpoint) config.endpoint = options.endpoint;
      if (options.region) config.region = options.region;
      if (options.credentials) config.credentials = options.credentials;
      return { sdk: module, client: options.client ?? new module.KMSClient(config) };
    }));

  const call = async <T>(work: (loaded: Awaited<ReturnType<typeof sdk>>) => Promise<T>): Promise<T> => {
    const loaded = await sdk();
    try {
      return await work(loaded);
    } catch (cause) {
      throw errorOf(cause);
    }
  };

  const rsa: RsaCipher = {
    encrypt: (keyId, plaintext) =>
      call(async ({ client, sdk }) => {
        const answer = await client.send(
          new sdk.EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionAlgorithm: RSA_ALGORITHM }),
        );
        return answer.CiphertextBlob!;
      }),
    decrypt: (keyId, ciphertext) =>
      call(async ({ client, sdk }) => {
        const answer = await client.send(
          new sdk.DecryptCommand({
            KeyId: keyId,
            CiphertextBlob: ciphertext,
            EncryptionAlgorithm: RSA_ALGORITHM,
          }),
        );
        if (!answer.Plaintext) throw new SecretsError('KmsError', 'KMS answered without a plaintext');
        return answer.Plaintext;
      }),
  };
  const keySpecs = new Map<string, Promise<string | undefined>>();
  const keySpecOf = (keyId: string) => {
    let spec = keySpecs.get(keyId);
    if (!spec) {
      spec = call(
        async ({ client, sdk }) =>
          (await client.send(new sdk.DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeySpec,
      );
      keySpecs.set(keyId, spec);
    }
    return spec;
  };

  return {
    decrypt: ({ ciphertext, context }) =>
      call(async ({ client, sdk }) => {
        if (!context && options.keyId && isRsaEnvelope(ciphertext))
          return openRsaEnvelope(rsa, options.keyId, ciphertext);
        const answer = await client.send(
          new sdk.DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: context }),
        );
        if (!answer.Plaintext) throw new SecretsError('KmsError', 'KMS answered without a plaintext');
        const plaintext = Buffer.alloc(answer.Plaintext.length);
        plaintext.set(answer.Plaintext);
        answer.Plaintext.fill(0);
        return plaintext;
      }),
    encrypt: ({ keyId, plaintext, context }) =>
      call(async ({ client, sdk }) => {
        // AWS encrypts at most a few hundred bytes under an RSA key: secret-keystore's envelope.
        if (!context && (await keySpecOf(keyId))?.startsWith('RSA_'))
          return sealRsaEnvelope(rsa, keyId, plaintext);
        const answer = await client.send(
          new sdk.EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }),
        );
        return answer.CiphertextBlob!;
      }),
    reencrypt: ({ ciphertext, context, destinationKeyId, destinationContext }) =>
      call(async ({ client, sdk }) => {
        const answer = await client.send(
          new sdk.ReEncryptCommand({
            CiphertextBlob: ciphertext,
            SourceEncryptionContext: context,
            DestinationKeyId: destinationKeyId,
            DestinationEncryptionContext: destinationContext,
          }),
        );
        return answer.CiphertextBlob!;
      }),
    close() {
      void loading?.then(({ client }) => {
        if (!options.client) client.destroy();
      });
    },
  };
}

const CODES: Record<string, SecretsErrorCode> = {
  InvalidCiphertextException: 'InvalidCiphertext',
  IncorrectKeyException: 'InvalidCiphertext',
  DisabledException: 'KeyDisabled',
  KMSInvalidStateException: 'KeyDisabled',
  AccessDeniedException: 'AccessDenied',
  NotFoundException: 'NotFound',
  KMSInternalException: 'Unavailable',
  DependencyTimeoutException: 'Unavailable',
};

function errorOf(cause: unknown): SecretsError {
  if (cause instanceof SecretsError) return cause;
  const name = (cause as { name?: unknown })?.name;
  const status = (cause as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (typeof name === 'string' && status !== undefined) {
    return new SecretsError(
      CODES[name] ?? (status >= 500 ? 'Unavailable' : 'KmsError'),
      `KMS answered ${status} ${name}`,
      {
        kmsCode: name,
      },
    );
  }
  return new SecretsError('Unavailable', 'the KMS cannot be reached', { cause });
}
