// The AWS account id a tenant answers as (docs/aws.md): the configured aws.accountId for the
// default tenant, a fixed 12 digits derived from the tenant id for the others. Used by the dialect's
// ARNs and by key policies written in AWS's policy language, which name principals by account.
// Principals are named as IAM names them: `arn:aws:iam::<account>:user/<name>` a user,
// `arn:aws:iam::<account>:role/<name>` a service principal (key policies and grants alike).
import { createHash } from 'node:crypto';
import type { PrincipalType } from './identity.js';
import { DEFAULT_TENANT } from './request-context.js';

const PRINCIPAL_ARN = /^arn:aws:iam::(\d{12}):(user|role)\/(.+)$/;

/** The account, type and name a principal ARN names; undefined if it is not one. */
export function parsePrincipalArn(
  value: string,
): { account: string; type: PrincipalType; name: string } | undefined {
  const match = PRINCIPAL_ARN.exec(value);
  if (!match) return undefined;
  return { account: match[1]!, type: match[2] === 'role' ? 'service' : 'user', name: match[3]! };
}

/** The ARN of a principal of `type` named `name` in the account. */
export const principalArnOf = (account: string, type: PrincipalType, name: string) =>
  `arn:aws:iam::${account}:${type === 'service' ? 'role' : 'user'}/${name}`;

export function awsAccountId(tenant: string, defaultAccountId: string): string {
  if (tenant === DEFAULT_TENANT) return defaultAccountId;
  const digits = BigInt(
    `0x${createHash('sha256').update(`keyhaven-tenant:${tenant}`).digest('hex').slice(0, 16)}`,
  );
  return (digits % 10n ** 12n).toString().padStart(12, '0');
}
