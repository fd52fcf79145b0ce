// The STATUS column of API key and access key tables.
import { tableTime } from './output.js';

/** Revoked, expired or active, as of this machine's clock. */
export function credentialStatus(credential: {
  revokedAt: string | null;
  expiresAt?: string | null;
}): string {
  if (credential.revokedAt) return `revoked ${tableTime(credential.revokedAt)}`;
  if (credential.expiresAt && Date.parse(credential.expiresAt) <= Date.now()) return 'expired';
  return 'active';
}
