// ClientTokenStore over Kysely: a claim is an insert that the (tenant_id, principal_id, client_token)
// primary key lets through once, whatever the number of concurrent requests and processes (ON CONFLICT DO
// NOTHING, then read the claim that won), never a check followed by an insert.
import type { Kysely } from 'kysely';
import type { ClaimOutcome, ClientTokenClaim, ClientTokenStore } from '../../ports/client-token-store.js';
import type { Database } from './schema.js';

export class KyselyClientTokenStore implements ClientTokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async claim(
    tenantId: string,
    principalId: string,
    token: string,
    claim: ClientTokenClaim,
  ): Promise<ClaimOutcome> {
    const inserted = await this.db
      .insertInto('client_tokens')
      .values({
        tenant_id: tenantId,
        principal_id: principalId,
        client_token: token,
        request_digest: claim.requestDigest,
        key_id: claim.keyId,
        created_at: claim.createdAt.getTime(),
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'principal_id', 'client_token']).doNothing())
      .returning('key_id')
      .executeTakeFirst();
    if (inserted) return { claimed: true };
    const row = await this.db
      .selectFrom('client_tokens')
      .select(['request_digest', 'key_id', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('principal_id', '=', principalId)
      .where('client_token', '=', token)
      .executeTakeFirst();
    return {
      claimed: false,
      existing: row && {
        requestDigest: row.request_digest,
        keyId: row.key_id,
        createdAt: new Date(Number(row.created_at)),
      },
    };
  }

  async release(tenantId: string, principalId: string, token: string, keyId: string): Promise<void> {
    await this.db
      .deleteFrom('client_tokens')
      .where('tenant_id', '=', tenantId)
      .where('principal_id', '=', principalId)
      .where('client_token', '=', token)
      .where('key_id', '=', keyId)
      .execute();
  }

  async purge(before: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('client_tokens')
      .where('created_at', '<', before.getTime())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
