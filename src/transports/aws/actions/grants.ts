// Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, each one call of
// GrantService (services/grant-service.ts). Principals are IAM-style ARNs of the caller's account
// (principal-arns.ts); DryRun answers DryRunOperationException when the request would succeed.
import { unsupportedOperation, validationError } from '../../../domain/errors.js';
import type { Grant, GrantConstraints } from '../../../domain/grant.js';
import type { GrantPage } from '../../../ports/grant-store.js';
import type { PrincipalName } from '../../../services/grant-service.js';
import { AwsActionError, RESULT_ERRORS } from '../aws-errors.js';
import { keyArn, keyReference } from '../key-references.js';
import { accountArn, principalNameOf } from '../principal-arns.js';
import {
  epochSeconds,
  optionalBoolean,
  optionalContext,
  optionalInteger,
  optionalString,
  optionalStringList,
  requiredString,
  type Members,
} from '../wire.js';
import { checkGrantTokens, keyRef, type ActionCall, type AwsActions } from './action-call.js';
import { truncation } from './marker-pages.js';

const dryRunSucceeded = () =>
  new AwsActionError(RESULT_ERRORS.dryRun, 'The request would have succeeded, but the DryRun option is set.');

function principal(call: ActionCall, member: string, required: boolean): PrincipalName | undefined {
  const written = required
    ? requiredString(call.input, member, 256)
    : optionalString(call.input, member, 256);
  if (written === undefined) return undefined;
  return { ...principalNameOf(written, member, call.ctx.tenant, call.arns), written };
}

/** Members Keyhaven cannot honour change the grant's meaning: refused, never ignored. */
function refuseServicePrincipals(input: Members, members: readonly string[]): void {
  for (const member of members) {
    if (input[member] !== undefined && input[member] !== null) {
      throw unsupportedOperation(`${member}: Keyhaven has no AWS service principals`);
    }
  }
}

function constraintsOf(input: Members): GrantConstraints | undefined {
  const value = input.Constraints;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw validationError(
      "1 validation error detected: Value at 'constraints' failed to satisfy constraint: Member must be a structure",
    );
  }
  const members = value as Members;
  if (members.SourceArn !== undefined && members.SourceArn !== null) {
    throw unsupportedOperation('the SourceArn grant constraint is not served by Keyhaven');
  }
  const subset = optionalContext(members, 'EncryptionContextSubset');
  const equals = optionalContext(members, 'EncryptionContextEquals');
  return {
    ...(subset !== undefined ? { encryptionContextSubset: subset } : {}),
    ...(equals !== undefined ? { encryptionContextEquals: equals } : {}),
  };
}

function grantEntry(call: ActionCall, grant: Grant): Members {
  const constraints = grant.constraints?.encryptionContextEquals
    ? { EncryptionContextEquals: grant.constraints.encryptionContextEquals }
    : grant.constraints?.encryptionContextSubset
      ? { EncryptionContextSubset: grant.constraints.encryptionContextSubset }
      : undefined;
  return {
    KeyId: keyArn(grant.keyId, grant.tenant, call.arns),
    GrantId: grant.grantId,
    ...(grant.name !== null ? { Name: grant.name } : {}),
    CreationDate: epochSeconds(grant.createdAt),
    GranteePrincipal: grant.granteePrincipal,
    ...(grant.retiringPrincipal !== null ? { RetiringPrincipal: grant.retiringPrincipal } : {}),
    IssuingAccount: accountArn(grant.tenant, call.arns),
    Operations: grant.operations,
    ...(constraints ? { Constraints: constraints } : {}),
  };
}

function grantList(call: ActionCall, page: GrantPage): Members {
  return {
    Grants: page.grants.map((grant) => grantEntry(call, grant)),
    ...truncation(page.next ?? undefined),
  };
}

const listPage = (input: Members) => {
  const limit = optionalInteger(input, 'Limit', 1, 100);
  const marker = optionalString(input, 'Marker', 1024);
  return { ...(limit !== undefined ? { limit } : {}), ...(marker !== undefined ? { marker } : {}) };
};

export const GRANT_ACTIONS: AwsActions = {
  async CreateGrant(call) {
    checkGrantTokens(call.input);
    refuseServicePrincipals(call.input, ['GranteeServicePrincipal', 'RetiringServicePrincipal']);
    const operations = optionalStringList(call.input, 'Operations', 17, 64);
    if (operations === undefined) {
      throw validationError(
        "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must not be null",
      );
    }
    const keyId = keyRef(call);
    const retiring = principal(call, 'RetiringPrincipal', false);
    const constraints = constraintsOf(call.input);
    const name = optionalString(call.input, 'Name', 256);
    const dryRun = optionalBoolean(call.input, 'DryRun') ?? false;
    const created = await call.keyhaven.grants.createGrant(call.ctx, {
      keyId,
      grantee: principal(call, 'GranteePrincipal', true)!,
      ...(retiring ? { retiring } : {}),
      operations,
      ...(constraints ? { constraints } : {}),
      ...(name !== undefined ? { name } : {}),
      dryRun,
    });
    if (!created) throw dryRunSucceeded();
    return { GrantToken: created.grantToken, GrantId: created.grantId };
  },

  async ListGrants(call) {
    refuseServicePrincipals(call.input, ['GranteeServicePrincipal']);
    const grantId = optionalString(call.input, 'GrantId', 128);
    const grantee = principal(call, 'GranteePrincipal', false);
    const page = await call.keyhaven.grants.listGrants(call.ctx, {
      keyId: keyRef(call),
      ...listPage(call.input),
      ...(grantId !== undefined ? { grantId } : {}),
      ...(grantee ? { grantee } : {}),
    });
    return grantList(call, page);
  },

  async ListRetirableGrants(call) {
    refuseServicePrincipals(call.input, ['RetiringServicePrincipal']);
    const retiring = principal(call, 'RetiringPrincipal', true)!;
    const page = await call.keyhaven.grants.listRetirableGrants(call.ctx, {
      retiring,
      ...listPage(call.input),
    });
    return grantList(call, page);
  },

  async RetireGrant(call) {
    const token = optionalString(call.input, 'GrantToken', 8192);
    const keyId = optionalString(call.input, 'KeyId', 2048);
    const grantId = optionalString(call.input, 'GrantId', 128);
    const dryRun = optionalBoolean(call.input, 'DryRun') ?? false;
    const key = keyId === undefined ? undefined : keyReference(keyId, call.ctx.tenant, call.arns);
    if (token !== undefined) {
      await call.keyhaven.grants.retireGrant(call.ctx, { token, ...(key ? { keyId: key } : {}), dryRun });
    } else if (key !== undefined && grantId !== undefined) {
      await call.keyhaven.grants.retireGrant(call.ctx, { keyId: key, grantId, dryRun });
    } else {
      throw validationError('RetireGrant needs GrantToken, or both KeyId and GrantId');
    }
    if (dryRun) throw dryRunSucceeded();
    return {};
  },

  async RevokeGrant(call) {
    const dryRun = optionalBoolean(call.input, 'DryRun') ?? false;
    await call.keyhaven.grants.revokeGrant(call.ctx, {
      keyId: keyRef(call),
      grantId: requiredString(call.input, 'GrantId', 128),
      dryRun,
    });
    if (dryRun) throw dryRunSucceeded();
    return {};
  },
};
