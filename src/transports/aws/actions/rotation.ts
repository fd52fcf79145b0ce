// Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
// ListKeyRotations, over the key service's rotation period (PATCH /v1/keys/{keyId}), rotate and
// versions. AWS's rules of which keys rotate are stricter than Keyhaven's: they travel as a
// precondition the service checks on the key it reads, after authorization (key-service.ts).
import { KmsError, unsupportedOperation } from '../../../domain/errors.js';
import type { Key } from '../../../domain/key.js';
import { isAsymmetric } from '../../../domain/key-spec.js';
import type { KeyPrecondition } from '../../../services/key-service.js';
import { keyArn } from '../key-references.js';
import { epochSeconds, optionalEnum, optionalInteger, optionalString } from '../wire.js';
import { keyRef, type ActionCall, type AwsActions } from './action-call.js';
import { pageAfter, truncation } from './marker-pages.js';

const DEFAULT_ROTATION_DAYS = 365;

/**
 * AWS rotates symmetric keys of its own material only: imported material (origin EXTERNAL, which
 * includes every PendingImport key) and asymmetric keys answer UnsupportedOperationException.
 * Keyhaven also rotates HMAC keys, and serves them here too (docs/aws.md).
 */
function assertRotates(call: ActionCall, key: Key): void {
  const arn = keyArn(key.keyId, key.tenant, call.arns);
  if (key.origin === 'EXTERNAL') {
    throw unsupportedOperation(`${arn} origin is EXTERNAL which is not valid for this operation.`);
  }
  if (isAsymmetric(key.keySpec)) {
    throw unsupportedOperation(`${arn} is ${key.keySpec}; only symmetric encryption and HMAC keys rotate.`);
  }
}

/** What changing rotation needs: a rotatable key, and (AWS's DisabledException) an enabled one. */
const changeable =
  (call: ActionCall): KeyPrecondition =>
  (key) => {
    assertRotates(call, key);
    if (key.state === 'Disabled') {
      throw new KmsError('KeyDisabled', `${keyArn(key.keyId, key.tenant, call.arns)} is disabled.`);
    }
  };

/** Versions sort by their number as text: zero-padded to the largest integer's width. */
const versionPosition = (version: number) => String(version).padStart(16, '0');

export const ROTATION_ACTIONS: AwsActions = {
  async EnableKeyRotation(call) {
    const reference = keyRef(call);
    const days = optionalInteger(call.input, 'RotationPeriodInDays', 90, 2560) ?? DEFAULT_ROTATION_DAYS;
    await call.keyhaven.keys.updateKey(call.ctx, reference, { rotationPeriodDays: days }, changeable(call));
    return {};
  },

  async DisableKeyRotation(call) {
    await call.keyhaven.keys.updateKey(
      call.ctx,
      keyRef(call),
      { rotationPeriodDays: null },
      changeable(call),
    );
    return {};
  },

  // Authorized as DescribeKey, as REST's GET /v1/keys/{keyId}, which shows the same fields.
  async GetKeyRotationStatus(call) {
    const key = await call.keyhaven.keys.describeKey(call.ctx, keyRef(call));
    assertRotates(call, key);
    // AWS: a key pending deletion reports rotation disabled (and does not rotate); cancelling the
    // deletion restores its status, which Keyhaven keeps meanwhile.
    const enabled = key.rotationPeriodDays !== null && key.state !== 'PendingDeletion';
    return {
      KeyRotationEnabled: enabled,
      KeyId: keyArn(key.keyId, key.tenant, call.arns),
      ...(enabled ? { RotationPeriodInDays: key.rotationPeriodDays } : {}),
      ...(enabled && key.nextRotationAt ? { NextRotationDate: epochSeconds(key.nextRotationAt) } : {}),
      // No OnDemandRotationStartDate: an on-demand rotation is complete when RotateKeyOnDemand answers.
    };
  },

  async RotateKeyOnDemand(call) {
    const key = await call.keyhaven.keys.rotateKey(call.ctx, keyRef(call), undefined, changeable(call));
    return { KeyId: keyArn(key.keyId, key.tenant, call.arns) };
  },

  async ListKeyRotations(call) {
    const { input } = call;
    const reference = keyRef(call);
    const include = optionalEnum(input, 'IncludeKeyMaterial', [
      'ALL_KEY_MATERIAL',
      'ROTATIONS_ONLY',
    ] as const);
    if (include === 'ALL_KEY_MATERIAL') {
      throw unsupportedOperation('IncludeKeyMaterial ALL_KEY_MATERIAL is not served by Keyhaven');
    }
    const limit = optionalInteger(input, 'Limit', 1, 1000) ?? 100;
    const marker = optionalString(input, 'Marker', 1024);
    const { keyId, versions } = await call.keyhaven.keys.listKeyVersions(call.ctx, reference, (key) =>
      assertRotates(call, key),
    );
    // The first version is the key's creation, not a rotation (AWS's ROTATIONS_ONLY).
    const rotations = versions.filter((version) => version.version > 1);
    const { page, nextMarker } = pageAfter(rotations, (v) => versionPosition(v.version), limit, marker);
    const arn = keyArn(keyId, call.ctx.facts.keyTenant ?? call.ctx.tenant, call.arns);
    return {
      Rotations: page.map((version) => ({
        KeyId: arn,
        RotationDate: epochSeconds(version.createdAt),
        // Versions rotated before Keyhaven recorded how have no RotationType.
        ...(version.rotation ? { RotationType: version.rotation } : {}),
      })),
      ...truncation(nextMarker),
    };
  },
};
