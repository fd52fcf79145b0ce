// The stores that share one metadata database, whichever dialect opened it.
import type { AuditStore } from '../../ports/audit-store.js';
import type { ClientTokenStore } from '../../ports/client-token-store.js';
import type { GrantStore } from '../../ports/grant-store.js';
import type { IdentityStore } from '../../ports/identity-store.js';
import type { LeaseStore } from '../../ports/lease-store.js';
import type { MetadataStore } from '../../ports/metadata-store.js';
import type { ReplicationQueue } from '../../ports/replication-queue.js';

/** Closing `metadata` closes the database for them all. */
export interface MetadataStores {
  metadata: MetadataStore;
  identity: IdentityStore;
  grants: GrantStore;
  audit: AuditStore;
  leases: LeaseStore;
  clientTokens: ClientTokenStore;
  replicationQueue: ReplicationQueue;
}
