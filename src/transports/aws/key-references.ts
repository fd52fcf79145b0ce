// Key references as AWS accepts them: a key id, `alias/<name>`, a key ARN or an alias ARN
// (`arn:aws:kms:<region>:<account>:key/<id>`, `...:alias/<name>`), and the ARNs the dialect
// answers with. The region is the server's (aws.region); the account id is the tenant's: the
// configured aws.accountId for the default tenant, a fixed 12 digits derived from the tenant id for
// the others (docs/aws.md).
import { awsAccountId } from '../../domain/aws-account.js';
import { notFound } from '../../domain/errors.js';

export interface ArnScope {
  region: string;
  /** The default tenant's account id. */
  accountId: string;
}

const ARN = /^arn:aws:kms:([^:]*):([^:]*):((?:key|alias)\/.+)$/;

export const accountIdOf = (tenant: string, scope: ArnScope) => awsAccountId(tenant, scope.accountId);

export const keyArn = (keyId: string, tenant: string, scope: ArnScope) =>
  `arn:aws:kms:${scope.region}:${accountIdOf(tenant, scope)}:key/${keyId}`;

export const aliasArn = (alias: string, tenant: string, scope: ArnScope) =>
  `arn:aws:kms:${scope.region}:${accountIdOf(tenant, scope)}:${alias}`;

/**
 * What the services take for a reference (`<id>` or `alias/<name>`). An ARN of another region or
 * account names nothing here: NotFound, as for a key that does not exist.
 */
export function keyReference(value: string, tenant: string, scope: ArnScope): string {
  if (!value.startsWith('arn:')) return value;
  const match = ARN.exec(value);
  if (!match || match[1] !== scope.region || match[2] !== accountIdOf(tenant, scope)) {
    throw notFound(`Invalid arn ${value.length > 200 ? `${value.slice(0, 200)}…` : value}`);
  }
  const resource = match[3]!;
  return resource.startsWith('key/') ? resource.slice('key/'.length) : resource;
}
