// GrantStore over Kysely: the queries every SQL dialect shares.
import type { Kysely, Selectable } from 'kysely';
import { KmsError } from '../../domain/errors.js';
import type { Grant, GrantConstraints, GrantOperation } from '../../domain/grant.js';
import type { GrantPage, GrantStore } from '../../ports/grant-store.js';
import type { Database, GrantsTable } from './schema.js';
import { serializeOn, type SqlDialect } from './sql-dialect.js';

function grantToRow(grant: Grant): GrantsTable {
  return {
    grant_id: grant.grantId,
    key_id: grant.keyId,
    tenant_id: grant.tenant,
    name: grant.name,
    grantee_principal_id: grant.granteePrincipalId,
    grantee_principal: grant.granteePrincipal,
    retiring_principal_id: grant.retiringPrincipalId,
    retiring_principal: grant.retiringPrincipal,
    issuing_principal_id: grant.issuingPrincipalId,
    operations: JSON.stringify(grant.operations),
    constraints: grant.constraints ? JSON.stringify(grant.constraints) : null,
    created_at: grant.createdAt.getTime(),
    token_secret: grant.tokenSecret,
  };
}

function rowToGrant(row: Selectable<GrantsTable>): Grant {
  return {
    grantId: row.grant_id,
    keyId: row.key_id,
    tenant: row.tenant_id,
    name: row.name,
    granteePrincipalId: row.grantee_principal_id,
    granteePrincipal: row.grantee_principal,
    retiringPrincipalId: row.retiring_principal_id,
    retiringPrincipal: row.retiring_principal,
    issuingPrincipalId: row.issuing_principal_id,
    operations: JSON.parse(row.operations) as GrantOperation[],
    constraints: row.constraints === null ? null : (JSON.parse(row.constraints) as GrantConstraints),
    createdAt: new Date(Number(row.created_at)),
    tokenSecret: Buffer.from(row.token_secret),
  };
}

function page(rows: Selectable<GrantsTable>[], limit: number): GrantPage {
  const grants = rows.slice(0, limit).map(rowToGrant);
  return { grants, next: rows.length > limit ? grants[grants.length - 1]!.grantId : null };
}

export class KyselyGrantStore implements GrantStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect = 'sqlite',
  ) {}

  async createGrant(grant: Grant, same: (existing: Grant) => boolean, maxPerKey: number): Promise<Grant> {
    return this.db.transaction().execute(async (trx) => {
      // The same-name lookup and the count hold only if no other create of this key's grants
      // runs in between.
      await serializeOn(trx, this.dialect, `grants:${grant.keyId}`);
      if (grant.name !== null) {
        const named = await trx
          .selectFrom('grants')
          .selectAll()
          .where('key_id', '=', grant.keyId)
          .where('name', '=', grant.name)
          .orderBy('grant_id')
          .execute();
        const existing = named.map(rowToGrant).find(same);
        if (existing) return existing;
      }
      const count = await trx
        .selectFrom('grants')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('key_id', '=', grant.keyId)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= maxPerKey) {
        throw new KmsError('LimitExceeded', `key ${grant.keyId} already has ${maxPerKey} grants`);
      }
      await trx.insertInto('grants').values(grantToRow(grant)).execute();
      return grant;
    });
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const row = await this.db
      .selectFrom('grants')
      .selectAll()
      .where('grant_id', '=', grantId)
      .executeTakeFirst();
    return row && rowToGrant(row);
  }

  async grantsOfKey(keyId: string): Promise<Grant[]> {
    const rows = await this.db.selectFrom('grants').selectAll().where('key_id', '=', keyId).execute();
    return rows.map(rowToGrant);
  }

  async listGrants(filter: {
    keyId: string;
    grantId?: string;
    granteePrincipalId?: string;
    limit: number;
    after?: string;
  }): Promise<GrantPage> {
    let query = this.db.selectFrom('grants').selectAll().where('key_id', '=', filter.keyId);
    if (filter.grantId !== undefined) query = query.where('grant_id', '=', filter.grantId);
    if (filter.granteePrincipalId !== undefined) {
      query = query.where('grantee_principal_id', '=', filter.granteePrincipalId);
    }
    if (filter.after !== undefined) query = query.where('grant_id', '>', filter.after);
    return page(
      await query
        .orderBy('grant_id')
        .limit(filter.limit + 1)
        .execute(),
      filter.limit,
    );
  }

  async listRetirableGrants(filter: {
    tenant: string;
    retiringPrincipalId: string;
    limit: number;
    after?: string;
  }): Promise<GrantPage> {
    let query = this.db
      .selectFrom('grants')
      .selectAll()
      .where('tenant_id', '=', filter.tenant)
      .where('retiring_principal_id', '=', filter.retiringPrincipalId);
    if (filter.after !== undefined) query = query.where('grant_id', '>', filter.after);
    return page(
      await query
        .orderBy('grant_id')
        .limit(filter.limit + 1)
        .execute(),
      filter.limit,
    );
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('grants').where('grant_id', '=', grantId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
