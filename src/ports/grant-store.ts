// Port: grants on keys (domain/grant.ts). Each write is one transaction; the key's deletion removes
// its grants with it (MetadataStore.deleteKeyIfDue).
import type { Grant } from '../domain/grant.js';

export interface GrantPage {
  grants: Grant[];
  /** The grant id to continue after, when more follow. */
  next: string | null;
}

export interface GrantStore {
  /**
   * Writes the grant unless the key already has a grant of the same name whose parameters `same`
   * accepts (a retried CreateGrant with a Name): then returns that grant and writes nothing. Fails
   * with LimitExceeded when the key already holds `maxPerKey` grants. One transaction.
   */
  createGrant(grant: Grant, same: (existing: Grant) => boolean, maxPerKey: number): Promise<Grant>;
  getGrant(grantId: string): Promise<Grant | undefined>;
  /** Every grant of the key (what authorization matches requests against). */
  grantsOfKey(keyId: string): Promise<Grant[]>;
  /** The key's grants in grant id order, after `after`, optionally only one grant or one grantee's. */
  listGrants(filter: {
    keyId: string;
    grantId?: string;
    granteePrincipalId?: string;
    limit: number;
    after?: string;
  }): Promise<GrantPage>;
  /** Grants of the tenant that name this retiring principal, in grant id order. */
  listRetirableGrants(filter: {
    tenant: string;
    retiringPrincipalId: string;
    limit: number;
    after?: string;
  }): Promise<GrantPage>;
  /** False when there was no such grant. */
  deleteGrant(grantId: string): Promise<boolean>;
}
