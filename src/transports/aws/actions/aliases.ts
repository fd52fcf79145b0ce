// Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, over the alias service REST's
// /v1/aliases uses (authorized as PutAlias, DeleteAlias, ListAliases).
import { validationError } from '../../../domain/errors.js';
import { AwsActionError, type AwsError } from '../aws-errors.js';
import { aliasArn, keyReference } from '../key-references.js';
import { epochSeconds, optionalInteger, optionalString, requiredString, type Members } from '../wire.js';
import { keyRef, type ActionCall, type AwsActions } from './action-call.js';
import { truncation } from './marker-pages.js';

/** What AWS answers for a name under alias/aws/, the prefix of AWS managed keys' aliases. */
const RESERVED_ALIAS: AwsError = { type: 'NotAuthorizedException', status: 400 };

/** AliasName as AWS checks it; the alias service then applies Keyhaven's own pattern. */
function aliasName(input: Members): string {
  const name = requiredString(input, 'AliasName', 256);
  if (!name.startsWith('alias/')) {
    throw validationError(
      'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
    );
  }
  if (name.startsWith('alias/aws/')) {
    throw new AwsActionError(
      RESERVED_ALIAS,
      `${name}: the alias/aws/ prefix is reserved for AWS managed keys`,
      'AccessDenied',
    );
  }
  return name;
}

/** TargetKeyId: a key id or key ARN, never an alias (AWS: aliases name keys, not aliases). */
function targetKey(call: ActionCall): string {
  const reference = keyRef(call, 'TargetKeyId');
  if (reference.startsWith('alias/')) throw validationError('Aliases must refer to keys. Not aliases');
  return reference;
}

export const ALIAS_ACTIONS: AwsActions = {
  async CreateAlias(call) {
    const name = aliasName(call.input);
    await call.keyhaven.aliases.createAlias(call.ctx, name, targetKey(call));
    return {};
  },

  async UpdateAlias(call) {
    const name = aliasName(call.input);
    await call.keyhaven.aliases.updateAlias(call.ctx, name, targetKey(call));
    return {};
  },

  async DeleteAlias(call) {
    await call.keyhaven.aliases.deleteAlias(call.ctx, aliasName(call.input));
    return {};
  },

  async ListAliases(call) {
    const { ctx, input, arns } = call;
    const keyId = optionalString(input, 'KeyId', 2048);
    // AWS takes 1-100 here (botocore's model says 1000), 50 by default.
    const limit = optionalInteger(input, 'Limit', 1, 100) ?? 50;
    const marker = optionalString(input, 'Marker', 1024);
    const page = await call.keyhaven.aliases.listAliasPage(ctx, {
      ...(keyId === undefined ? {} : { reference: keyReference(keyId, ctx.tenant, arns) }),
      limit,
      ...(marker === undefined ? {} : { cursor: marker }),
    });
    // The aliases are the listed key's tenant's (a system administrator's may be another's).
    const tenant = ctx.facts.keyTenant ?? ctx.tenant;
    return {
      Aliases: page.aliases.map((alias) => ({
        AliasName: alias.name,
        AliasArn: aliasArn(alias.name, tenant, arns),
        TargetKeyId: alias.keyId,
        CreationDate: epochSeconds(alias.createdAt),
        LastUpdatedDate: epochSeconds(alias.updatedAt),
      })),
      ...truncation(page.nextCursor ?? undefined),
    };
  },
};
