// Keys and their lifecycle: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
// ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription.
import { AWS_POLICY_MAX_CHARS, AwsPolicyText } from '../../../domain/aws-policy.js';
import { KEY_SPECS, KEY_USAGES } from '../../../domain/key-spec.js';
import {
  DEFAULT_DELETION_WINDOW_DAYS,
  MAX_DELETION_WINDOW_DAYS,
  MIN_DELETION_WINDOW_DAYS,
} from '../../../domain/key.js';
import { notFound, unsupportedOperation, validationError } from '../../../domain/errors.js';
import { MAX_DESCRIPTION_LENGTH } from '../../../services/key-records.js';
import { keyArn } from '../key-references.js';
import {
  epochSeconds,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalString,
  optionalTags,
  requiredText,
} from '../wire.js';
import { checkGrantTokens, keyRef, type AwsActions } from './action-call.js';
import { truncation } from './marker-pages.js';
import { EXTERNAL_KEY_STORE_ID, keyMetadata } from './key-metadata.js';

export const KEY_ACTIONS: AwsActions = {
  async DescribeKey(call) {
    checkGrantTokens(call.input);
    return {
      KeyMetadata: keyMetadata(await call.keyhaven.keys.describeKey(call.ctx, keyRef(call)), call.arns),
    };
  },

  async CreateKey(call) {
    const { input } = call;
    // In AWS's policy language, translated and kept as written (docs/aws.md "Key policies"); no
    // lockout check to bypass: a key's admins may always rewrite its policy.
    const policy = optionalString(input, 'Policy', AWS_POLICY_MAX_CHARS);
    optionalBoolean(input, 'BypassPolicyLockoutSafetyCheck');
    if (optionalBoolean(input, 'MultiRegion') === true) {
      throw unsupportedOperation('multi-Region keys are not served by Keyhaven');
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
    if (origin === 'AWS_CLOUDHSM') throw unsupportedOperation(`Origin ${origin} is not served by Keyhaven`);
    // Keyhaven's one external key store is its configured providers (docs/external-keys.md): an
    // EXTERNAL key is created at each of them, so no XksKeyId names one key outside.
    const customKeyStoreId = optionalString(input, 'CustomKeyStoreId');
    if (optionalString(input, 'XksKeyId') !== undefined) {
      throw unsupportedOperation(
        'XksKeyId is not served by Keyhaven: an EXTERNAL_KEY_STORE key is created at every configured provider',
      );
    }
    if (customKeyStoreId !== undefined && customKeyStoreId !== EXTERNAL_KEY_STORE_ID) {
      throw notFound(
        `custom key store ${customKeyStoreId} does not exist (Keyhaven's is ${EXTERNAL_KEY_STORE_ID})`,
      );
    }
    if (customKeyStoreId !== undefined && origin !== 'EXTERNAL_KEY_STORE') {
      throw validationError('CustomKeyStoreId goes with Origin EXTERNAL_KEY_STORE');
    }
    const description = optionalString(input, 'Description', MAX_DESCRIPTION_LENGTH);
    const tags = optionalTags(input);
    const key = await call.keyhaven.keys.createKey(call.ctx, {
      ...(keySpec ? { keySpec } : {}),
      ...(keyUsage ? { keyUsage } : {}),
      ...(origin === 'EXTERNAL' ? { origin: 'EXTERNAL' as const } : {}),
      ...(origin === 'EXTERNAL_KEY_STORE' ? { protectionLevel: 'EXTERNAL' as const } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(tags ? { tags } : {}),
      ...(policy !== undefined ? { policy: new AwsPolicyText(policy) } : {}),
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
      ...truncation(page.nextCursor ?? undefined),
    };
  },

  // AWS answers these three with an empty body.
  async EnableKey(call) {
    await call.keyhaven.keys.enableKey(call.ctx, keyRef(call));
    return {};
  },

  async DisableKey(call) {
    await call.keyhaven.keys.disableKey(call.ctx, keyRef(call));
    return {};
  },

  async UpdateKeyDescription(call) {
    const reference = keyRef(call);
    const description = requiredText(call.input, 'Description', MAX_DESCRIPTION_LENGTH);
    await call.keyhaven.keys.updateKey(call.ctx, reference, { description });
    return {};
  },

  async ScheduleKeyDeletion(call) {
    const reference = keyRef(call);
    // botocore allows 1-365 on the wire; AWS KMS itself takes 7-30 (default 30), as Keyhaven does.
    const days = optionalInteger(
      call.input,
      'PendingWindowInDays',
      MIN_DELETION_WINDOW_DAYS,
      MAX_DELETION_WINDOW_DAYS,
    );
    const key = await call.keyhaven.keys.scheduleKeyDeletion(call.ctx, reference, days);
    return {
      KeyId: keyArn(key.keyId, key.tenant, call.arns),
      DeletionDate: epochSeconds(key.deletionDate!),
      KeyState: key.state,
      PendingWindowInDays: days ?? DEFAULT_DELETION_WINDOW_DAYS,
    };
  },

  // AWS leaves a key whose deletion is cancelled Disabled, as Keyhaven does.
  async CancelKeyDeletion(call) {
    const key = await call.keyhaven.keys.cancelKeyDeletion(call.ctx, keyRef(call));
    return { KeyId: keyArn(key.keyId, key.tenant, call.arns) };
  },
};
