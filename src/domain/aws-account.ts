// The AWS account id a tenant answers as (docs/aws.md): the configured aws.accountId for the
// default tenant, a fixed 12 digits derived from the tenant id for the others. Used by the dialect's
// ARNs and by key policies written in AWS's policy language, which name principals by account.
import { createHash } from 'node:crypto';
import { DEFAULT_TENANT } from './request-context.js';

export function awsAccountId(tenant: string, defaultAccountId: string): string {
  if (tenant === DEFAULT_TENANT) return defaultAccountId;
  const digits = BigInt(
    `0x${createHash('sha256').update(`keyhaven-tenant:${tenant}`).digest('hex').slice(0, 16)}`,
  );
  return (digits % 10n ** 12n).toString().padStart(12, '0');
}
