// Keyhaven principals as AWS names principals: `arn:aws:iam::<account>:user/<name>` for users and
// `arn:aws:iam::<account>:role/<name>` for services, the account being the tenant's
// (key-references.ts accountIdOf). Grants name their grantee and retiring principals this way.
import { parsePrincipalArn, principalArnOf } from '../../domain/aws-account.js';
import { validationError } from '../../domain/errors.js';
import type { PrincipalType } from '../../domain/identity.js';
import { accountIdOf, type ArnScope } from './key-references.js';

export const principalArn = (name: string, type: PrincipalType, tenant: string, scope: ArnScope) =>
  principalArnOf(accountIdOf(tenant, scope), type, name);

/** The tenant's account itself, as AWS names an issuing account. */
export const accountArn = (tenant: string, scope: ArnScope) =>
  `arn:aws:iam::${accountIdOf(tenant, scope)}:root`;

/**
 * The principal an ARN of the caller's account names: its name, and its type (user/ a user,
 * role/ a service principal), or a ValidationException naming the member: Keyhaven has no
 * cross-account or AWS service principals.
 */
export function principalNameOf(
  value: string,
  member: string,
  tenant: string,
  scope: ArnScope,
): { name: string; type: PrincipalType } {
  const principal = parsePrincipalArn(value);
  if (!principal) {
    throw validationError(
      `${member} must be a principal ARN, arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:role/<name>`,
    );
  }
  if (principal.account !== accountIdOf(tenant, scope)) {
    throw validationError(`${member} ${value} is not a principal of this account`);
  }
  return { name: principal.name, type: principal.type };
}
