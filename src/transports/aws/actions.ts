// The AWS KMS actions the dialect serves so far, each a translation: AWS's request members to one
// service call through the same request context as REST, and the result to AWS's response
// members. Authorization, quotas and audit happen where they happen for REST, in the services and
// the hooks. Actions AWS has that are not here answer UnsupportedOperationException.
import {
  DATA_KEY_SPECS,
  KEY_SPECS,
  KEY_USAGES,
  encryptionAlgorithmsFor,
  macAlgorithmFor,
  signingAlgorithmsFor,
} from '../../domain/key-spec.js';
import { LIMITS } from '../../domain/limits.js';
import { validationError, unsupportedOperation } from '../../domain/errors.js';
import type { RequestContext } from '../../domain/request-context.js';
import type { Keyhaven } from '../../keyhaven.js';
import type { KeyDescription } from '../../services/key-records.js';
import { accountIdOf, keyArn, keyReference, type ArnScope } from './key-references.js';
import {
  blob,
  epochSeconds,
  optionalBoolean,
  optionalContext,
  optionalEnum,
  optionalInteger,
  optionalString,
  optionalTags,
  requiredBlob,
  requiredString,
  type Members,
} from './wire.js';

export interface ActionCall {
  ctx: RequestContext;
  input: Members;
  keyhaven: Keyhaven;
  arns: ArnScope;
}

export type AwsAction = (call: ActionCall) => Promise<Members>;

/** The KeyId member as the services take it (ARNs resolved against the caller's account). */
const keyRef = ({ ctx, input, arns }: ActionCall, name = 'KeyId') =>
  keyReference(requiredString(input, name, 2048), ctx.tenant, arns);

/** The ARN of a key the call used: in its own tenant (a system administrator's may be another's). */
const usedKeyArn = ({ ctx, arns }: ActionCall, keyId: string) =>
  keyArn(keyId, ctx.facts.keyTenant ?? ctx.tenant, arns);

function keyMetadata(key: KeyDescription, arns: ArnScope): Members {
  const metadata: Members = {
    AWSAccountId: accountIdOf(key.tenant, arns),
    KeyId: key.keyId,
    Arn: keyArn(key.keyId, key.tenant, arns),
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.state,
    Origin: key.origin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
  };
  if (key.deletionDate) metadata.DeletionDate = epochSeconds(key.deletionDate);
  if (key.expiresAt) {
    metadata.ValidTo = epochSeconds(key.expiresAt);
    metadata.ExpirationModel = 'KEY_MATERIAL_EXPIRES';
  } else if (key.origin === 'EXTERNAL') {
    metadata.ExpirationModel = 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  }
  if (key.keyUsage === 'ENCRYPT_DECRYPT')
    metadata.EncryptionAlgorithms = encryptionAlgorithmsFor(key.keySpec);
  if (key.keyUsage === 'SIGN_VERIFY') metadata.SigningAlgorithms = signingAlgorithmsFor(key.keySpec);
  const mac = macAlgorithmFor(key.keySpec);
  if (key.keyUsage === 'GENERATE_VERIFY_MAC' && mac) metadata.MacAlgorithms = [mac];
  return metadata;
}

function onlySymmetricDefault(input: Members): void {
  const algorithm = optionalString(input, 'EncryptionAlgorithm', 64);
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw unsupportedOperation(`EncryptionAlgorithm ${algorithm} is not served by the AWS dialect yet`);
  }
}

/** GenerateDataKey's size: KeySpec or NumberOfBytes, not both, not neither (as AWS). */
function dataKeySpec(input: Members): 'AES_128' | 'AES_256' {
  const keySpec = optionalEnum(input, 'KeySpec', DATA_KEY_SPECS);
  const bytes = optionalInteger(input, 'NumberOfBytes', 1, 1024);
  if ((keySpec === undefined) === (bytes === undefined)) {
    throw validationError('Please specify either number of bytes or key spec.');
  }
  if (keySpec !== undefined) return keySpec;
  if (bytes === 16) return 'AES_128';
  if (bytes === 32) return 'AES_256';
  throw unsupportedOperation('NumberOfBytes other than 16 or 32 is not served by the AWS dialect yet');
}

async function generateDataKey(call: ActionCall, withoutPlaintext: boolean): Promise<Members> {
  const spec = dataKeySpec(call.input);
  const result = await call.keyhaven.crypto.generateDataKey(
    call.ctx,
    keyRef(call),
    spec,
    optionalContext(call.input),
    withoutPlaintext,
  );
  return {
    CiphertextBlob: blob(result.ciphertext),
    KeyId: usedKeyArn(call, result.keyId),
    ...(result.plaintext ? { Plaintext: blob(result.plaintext) } : {}),
  };
}

export const AWS_ACTIONS: Readonly<Record<string, AwsAction>> = {
  async Encrypt(call) {
    onlySymmetricDefault(call.input);
    const result = await call.keyhaven.crypto.encrypt(
      call.ctx,
      keyRef(call),
      requiredBlob(call.input, 'Plaintext', LIMITS.plaintextBytes),
      optionalContext(call.input),
    );
    return {
      CiphertextBlob: blob(result.ciphertext),
      KeyId: usedKeyArn(call, result.keyId),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },

  async Decrypt(call) {
    onlySymmetricDefault(call.input);
    const keyId = optionalString(call.input, 'KeyId', 2048);
    const result = await call.keyhaven.crypto.decrypt(
      call.ctx,
      requiredBlob(call.input, 'CiphertextBlob', LIMITS.ciphertextBytes),
      optionalContext(call.input),
      keyId === undefined ? undefined : keyReference(keyId, call.ctx.tenant, call.arns),
    );
    return {
      KeyId: usedKeyArn(call, result.keyId),
      Plaintext: blob(result.plaintext),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },

  GenerateDataKey: (call) => generateDataKey(call, false),
  GenerateDataKeyWithoutPlaintext: (call) => generateDataKey(call, true),

  async GenerateRandom(call) {
    const bytes = optionalInteger(call.input, 'NumberOfBytes', 1, 1024);
    if (bytes === undefined) throw validationError('NumberOfBytes is required');
    if (optionalString(call.input, 'CustomKeyStoreId') !== undefined) {
      throw unsupportedOperation('custom key stores are not served by Keyhaven');
    }
    return { Plaintext: blob(await call.keyhaven.crypto.random(call.ctx, bytes)) };
  },

  async DescribeKey(call) {
    return {
      KeyMetadata: keyMetadata(await call.keyhaven.keys.describeKey(call.ctx, keyRef(call)), call.arns),
    };
  },

  async CreateKey(call) {
    const { input } = call;
    if (input.Policy !== undefined) {
      throw unsupportedOperation(
        'key policies in the AWS policy language are not served by the AWS dialect yet',
      );
    }
    if (optionalBoolean(input, 'MultiRegion') === true) {
      throw unsupportedOperation('multi-Region keys are not served by Keyhaven');
    }
    if (
      optionalString(input, 'CustomKeyStoreId') !== undefined ||
      optionalString(input, 'XksKeyId') !== undefined
    ) {
      throw unsupportedOperation('custom key stores are not served by Keyhaven');
    }
    const keySpec =
      optionalEnum(input, 'KeySpec', KEY_SPECS) ?? optionalEnum(input, 'CustomerMasterKeySpec', KEY_SPECS);
    const keyUsage = optionalEnum(input, 'KeyUsage', KEY_USAGES);
    const origin = optionalEnum(input, 'Origin', [
      'AWS_KMS',
      'EXTERNAL',
      'AWS_CLOUDHSM',
      'EXTERNAL_KEY_STORE',
    ] as const);
    if (origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE') {
      throw unsupportedOperation(`Origin ${origin} is not served by Keyhaven`);
    }
    const description = optionalString(input, 'Description', 8192);
    const tags = optionalTags(input);
    const key = await call.keyhaven.keys.createKey(call.ctx, {
      ...(keySpec ? { keySpec } : {}),
      ...(keyUsage ? { keyUsage } : {}),
      ...(origin === 'EXTERNAL' ? { origin: 'EXTERNAL' as const } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(tags ? { tags } : {}),
    });
    return { KeyMetadata: keyMetadata(key, call.arns) };
  },

  async ListKeys(call) {
    const limit = optionalInteger(call.input, 'Limit', 1, 1000) ?? 100;
    const marker = optionalString(call.input, 'Marker', 1024);
    const page = await call.keyhaven.keys.listKeys(call.ctx, {
      limit,
      ...(marker === undefined ? {} : { cursor: marker }),
    });
    return {
      Keys: page.keys.map((key) => ({ KeyId: key.keyId, KeyArn: keyArn(key.keyId, key.tenant, call.arns) })),
      Truncated: page.nextCursor !== null,
      ...(page.nextCursor === null ? {} : { NextMarker: page.nextCursor }),
    };
  },
};

/** Every action of the AWS KMS API: those not in AWS_ACTIONS are UnsupportedOperation here. */
export const AWS_KMS_ACTION_NAMES: ReadonlySet<string> = new Set([
  'CancelKeyDeletion',
  'ConnectCustomKeyStore',
  'CreateAlias',
  'CreateCustomKeyStore',
  'CreateGrant',
  'CreateKey',
  'Decrypt',
  'DeleteAlias',
  'DeleteCustomKeyStore',
  'DeleteImportedKeyMaterial',
  'DeriveSharedSecret',
  'DescribeCustomKeyStores',
  'DescribeKey',
  'DisableKey',
  'DisableKeyRotation',
  'DisconnectCustomKeyStore',
  'EnableKey',
  'EnableKeyRotation',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'GenerateRandom',
  'GetKeyPolicy',
  'GetKeyRotationStatus',
  'GetParametersForImport',
  'GetPublicKey',
  'ImportKeyMaterial',
  'ListAliases',
  'ListGrants',
  'ListKeyPolicies',
  'ListKeyRotations',
  'ListKeys',
  'ListResourceTags',
  'ListRetirableGrants',
  'PutKeyPolicy',
  'ReEncrypt',
  'ReplicateKey',
  'RetireGrant',
  'RevokeGrant',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'Sign',
  'TagResource',
  'UntagResource',
  'UpdateAlias',
  'UpdateCustomKeyStore',
  'UpdateKeyDescription',
  'UpdatePrimaryRegion',
  'Verify',
  'VerifyMac',
]);
