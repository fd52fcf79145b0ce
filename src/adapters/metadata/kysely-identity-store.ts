// IdentityStore over Kysely: tenants, principals, API keys, access keys and policies, on the same
// database (and dialects) as the key metadata.
import type { Kysely, Selectable, Transaction } from 'kysely';
import { alreadyExists, invalidMarker, invalidState } from '../../domain/errors.js';
import type {
  AccessKeyRecord,
  ApiKeyRecord,
  PrincipalRecord,
  PrincipalType,
  Tenant,
} from '../../domain/identity.js';
import type { PolicyDocument } from '../../domain/policy.js';
import type {
  AttachmentTarget,
  IdentityStore,
  Page,
  PageRequest,
  PolicyRecord,
  PolicyVersion,
} from '../../ports/identity-store.js';
import type {
  AccessKeysTable,
  ApiKeysTable,
  Database,
  PoliciesTable,
  PolicyVersionsTable,
  PrincipalsTable,
  TenantsTable,
} from './schema.js';

const toDate = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)));

/** Pages in id order; the cursor is the last id returned. */
function pageOf<T>(rows: T[], limit: number, idOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > limit && last ? Buffer.from(idOf(last)).toString('base64url') : null,
  };
}

function cursorId(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw invalidMarker();
  return id;
}

function rowToTenant(row: Selectable<TenantsTable>, policyIds: string[]): Tenant {
  const quotas: Tenant['quotas'] = {};
  if (row.max_keys !== null) quotas.maxKeys = Number(row.max_keys);
  if (row.requests_per_second !== null) quotas.requestsPerSecond = Number(row.requests_per_second);
  return {
    tenantId: row.tenant_id,
    name: row.name,
    quotas,
    policyIds,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

function rowToPrincipal(row: Selectable<PrincipalsTable>, policyIds: string[]): PrincipalRecord {
  return {
    principalId: row.principal_id,
    name: row.name,
    type: row.type as PrincipalType,
    tenantId: row.tenant_id,
    roles: JSON.parse(row.roles) as string[],
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    policyIds,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

function rowToApiKey(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    apiKeyId: row.id,
    principalId: row.principal_id,
    secretHash: Buffer.from(row.secret_hash),
    createdAt: new Date(Number(row.created_at)),
    expiresAt: toDate(row.expires_at),
    revokedAt: toDate(row.revoked_at),
  };
}

function rowToAccessKey(row: Selectable<AccessKeysTable>): AccessKeyRecord {
  return {
    accessKeyId: row.access_key_id,
    principalId: row.principal_id,
    wrappedSecret: Buffer.from(row.wrapped_secret),
    createdAt: new Date(Number(row.created_at)),
    revokedAt: toDate(row.revoked_at),
  };
}

function rowToPolicy(row: Selectable<PoliciesTable>): PolicyRecord {
  return {
    policyId: row.policy_id,
    name: row.name,
    tenantId: row.tenant_id,
    keyId: row.key_id,
    createdAt: new Date(Number(row.created_at)),
  };
}

function rowToPolicyVersion(row: Selectable<PolicyVersionsTable>): PolicyVersion {
  return {
    policyId: row.policy_id,
    version: Number(row.version),
    document: JSON.parse(row.document) as PolicyDocument,
    effectiveAt: new Date(Number(row.effective_at)),
    createdAt: new Date(Number(row.created_at)),
    awsSource: row.aws_source ?? null,
  };
}

export class KyselyIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createTenant(tenant: Tenant): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('tenants')
        .select('tenant_id')
        .where('name', '=', tenant.name)
        .executeTakeFirst();
      if (taken) throw alreadyExists(`a tenant named ${tenant.name} already exists`);
      await trx.insertInto('tenants').values(tenantRow(tenant)).execute();
    });
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const row = await this.db
      .selectFrom('tenants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (!row) return undefined;
    return rowToTenant(row, await this.attached(this.db, { kind: 'tenant', id: tenantId }));
  }

  async listTenants(page: PageRequest): Promise<Page<Tenant>> {
    let query = this.db
      .selectFrom('tenants')
      .selectAll()
      .orderBy('tenant_id')
      .limit(page.limit + 1);
    const after = cursorId(page.cursor);
    if (after !== undefined) query = query.where('tenant_id', '>', after);
    const rows = await query.execute();
    const result = pageOf(rows, page.limit, (row) => row.tenant_id);
    const tenants: Tenant[] = [];
    for (const row of result.items) {
      tenants.push(rowToTenant(row, await this.attached(this.db, { kind: 'tenant', id: row.tenant_id })));
    }
    return { items: tenants, nextCursor: result.nextCursor };
  }

  async updateTenant(tenant: Tenant): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('tenants')
        .select('tenant_id')
        .where('name', '=', tenant.name)
        .where('tenant_id', '!=', tenant.tenantId)
        .executeTakeFirst();
      if (taken) throw alreadyExists(`a tenant named ${tenant.name} already exists`);
      const { tenant_id: _id, created_at: _created, ...changes } = tenantRow(tenant);
      await trx.updateTable('tenants').set(changes).where('tenant_id', '=', tenant.tenantId).execute();
    });
  }

  async createPrincipal(principal: PrincipalRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('principals')
        .select('principal_id')
        .where('tenant_id', '=', principal.tenantId)
        .where('name', '=', principal.name)
        .executeTakeFirst();
      if (taken) throw alreadyExists(`a principal named ${principal.name} already exists`);
      await trx.insertInto('principals').values(principalRow(principal)).execute();
      await this.writeAttachments(trx, { kind: 'principal', id: principal.principalId }, principal.policyIds);
    });
  }

  async getPrincipal(principalId: string): Promise<PrincipalRecord | undefined> {
    const row = await this.db
      .selectFrom('principals')
      .selectAll()
      .where('principal_id', '=', principalId)
      .executeTakeFirst();
    if (!row) return undefined;
    return rowToPrincipal(row, await this.attached(this.db, { kind: 'principal', id: principalId }));
  }

  async findPrincipalByName(tenantId: string, name: string): Promise<PrincipalRecord | undefined> {
    const row = await this.db
      .selectFrom('principals')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    return rowToPrincipal(row, await this.attached(this.db, { kind: 'principal', id: row.principal_id }));
  }

  async listPrincipals(tenantId: string, page: PageRequest): Promise<Page<PrincipalRecord>> {
    let query = this.db
      .selectFrom('principals')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('principal_id')
      .limit(page.limit + 1);
    const after = cursorId(page.cursor);
    if (after !== undefined) query = query.where('principal_id', '>', after);
    const rows = await query.execute();
    const result = pageOf(rows, page.limit, (row) => row.principal_id);
    const principals: PrincipalRecord[] = [];
    for (const row of result.items) {
      const policyIds = await this.attached(this.db, { kind: 'principal', id: row.principal_id });
      principals.push(rowToPrincipal(row, policyIds));
    }
    return { items: principals, nextCursor: result.nextCursor };
  }

  async updatePrincipal(principal: PrincipalRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('principals')
        .select('principal_id')
        .where('tenant_id', '=', principal.tenantId)
        .where('name', '=', principal.name)
        .where('principal_id', '!=', principal.principalId)
        .executeTakeFirst();
      if (taken) throw alreadyExists(`a principal named ${principal.name} already exists`);
      const { principal_id: _id, created_at: _created, ...changes } = principalRow(principal);
      await trx
        .updateTable('principals')
        .set(changes)
        .where('principal_id', '=', principal.principalId)
        .execute();
    });
  }

  async deletePrincipal(principalId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('principals')
        .where('principal_id', '=', principalId)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await trx.deleteFrom('api_keys').where('principal_id', '=', principalId).execute();
      await trx.deleteFrom('access_keys').where('principal_id', '=', principalId).execute();
      await trx
        .deleteFrom('policy_attachments')
        .where('target_kind', '=', 'principal')
        .where('target_id', '=', principalId)
        .execute();
      return true;
    });
  }

  async countPrincipals(): Promise<number> {
    const row = await this.db
      .selectFrom('principals')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async createApiKey(apiKey: ApiKeyRecord): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: apiKey.apiKeyId,
        secret_hash: apiKey.secretHash,
        principal_id: apiKey.principalId,
        created_at: apiKey.createdAt.getTime(),
        expires_at: apiKey.expiresAt?.getTime() ?? null,
        revoked_at: apiKey.revokedAt?.getTime() ?? null,
      })
      .execute();
  }

  async findApiKeyByHash(secretHash: Buffer): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst();
    return row ? rowToApiKey(row) : undefined;
  }

  async listApiKeys(principalId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('principal_id', '=', principalId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(rowToApiKey);
  }

  async revokeApiKey(principalId: string, apiKeyId: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at.getTime() })
      .where('id', '=', apiKeyId)
      .where('principal_id', '=', principalId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async createAccessKey(accessKey: AccessKeyRecord): Promise<void> {
    await this.db
      .insertInto('access_keys')
      .values({
        access_key_id: accessKey.accessKeyId,
        principal_id: accessKey.principalId,
        wrapped_secret: accessKey.wrappedSecret,
        created_at: accessKey.createdAt.getTime(),
        revoked_at: accessKey.revokedAt?.getTime() ?? null,
      })
      .execute();
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('access_keys')
      .selectAll()
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    return row ? rowToAccessKey(row) : undefined;
  }

  async listAccessKeys(principalId: string): Promise<AccessKeyRecord[]> {
    const rows = await this.db
      .selectFrom('access_keys')
      .selectAll()
      .where('principal_id', '=', principalId)
      .orderBy('created_at')
      .orderBy('access_key_id')
      .execute();
    return rows.map(rowToAccessKey);
  }

  async revokeAccessKey(principalId: string, accessKeyId: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('access_keys')
      .set({ revoked_at: at.getTime() })
      .where('access_key_id', '=', accessKeyId)
      .where('principal_id', '=', principalId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async createPolicy(policy: PolicyRecord, first: PolicyVersion): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (policy.keyId !== null) {
        const existing = await trx
          .selectFrom('policies')
          .select('policy_id')
          .where('key_id', '=', policy.keyId)
          .executeTakeFirst();
        if (existing) throw alreadyExists(`key ${policy.keyId} already has a policy`);
      }
      await trx
        .insertInto('policies')
        .values({
          policy_id: policy.policyId,
          tenant_id: policy.tenantId,
          name: policy.name,
          key_id: policy.keyId,
          created_at: policy.createdAt.getTime(),
        })
        .execute();
      await trx.insertInto('policy_versions').values(policyVersionRow(first)).execute();
    });
  }

  async getPolicy(policyId: string): Promise<PolicyRecord | undefined> {
    const row = await this.db
      .selectFrom('policies')
      .selectAll()
      .where('policy_id', '=', policyId)
      .executeTakeFirst();
    return row ? rowToPolicy(row) : undefined;
  }

  async getKeyPolicy(keyId: string): Promise<PolicyRecord | undefined> {
    const row = await this.db
      .selectFrom('policies')
      .selectAll()
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    return row ? rowToPolicy(row) : undefined;
  }

  async listPolicies(tenantId: string, page: PageRequest): Promise<Page<PolicyRecord>> {
    let query = this.db
      .selectFrom('policies')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('key_id', 'is', null)
      .orderBy('policy_id')
      .limit(page.limit + 1);
    const after = cursorId(page.cursor);
    if (after !== undefined) query = query.where('policy_id', '>', after);
    const rows = await query.execute();
    const result = pageOf(rows, page.limit, (row) => row.policy_id);
    return { items: result.items.map(rowToPolicy), nextCursor: result.nextCursor };
  }

  async addPolicyVersion(
    policyId: string,
    version: Omit<PolicyVersion, 'version' | 'policyId'>,
  ): Promise<PolicyVersion> {
    return this.db.transaction().execute(async (trx) => {
      const latest = await trx
        .selectFrom('policy_versions')
        .select((eb) => eb.fn.max('version').as('latest'))
        .where('policy_id', '=', policyId)
        .executeTakeFirst();
      const added: PolicyVersion = { ...version, policyId, version: Number(latest?.latest ?? 0) + 1 };
      await trx.insertInto('policy_versions').values(policyVersionRow(added)).execute();
      return added;
    });
  }

  async listPolicyVersions(policyId: string): Promise<PolicyVersion[]> {
    const rows = await this.db
      .selectFrom('policy_versions')
      .selectAll()
      .where('policy_id', '=', policyId)
      .orderBy('version')
      .execute();
    return rows.map(rowToPolicyVersion);
  }

  async deletePolicy(policyId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const attached = await trx
        .selectFrom('policy_attachments')
        .select(['target_kind', 'target_id'])
        .where('policy_id', '=', policyId)
        .executeTakeFirst();
      if (attached) {
        throw invalidState(
          `policy ${policyId} is attached to ${attached.target_kind} ${attached.target_id}; detach it first`,
        );
      }
      const result = await trx.deleteFrom('policies').where('policy_id', '=', policyId).executeTakeFirst();
      await trx.deleteFrom('policy_versions').where('policy_id', '=', policyId).execute();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async setAttachments(target: AttachmentTarget, policyIds: string[]): Promise<void> {
    await this.db.transaction().execute((trx) => this.writeAttachments(trx, target, policyIds));
  }

  private async writeAttachments(
    trx: Transaction<Database>,
    target: AttachmentTarget,
    policyIds: string[],
  ): Promise<void> {
    await trx
      .deleteFrom('policy_attachments')
      .where('target_kind', '=', target.kind)
      .where('target_id', '=', target.id)
      .execute();
    if (policyIds.length === 0) return;
    await trx
      .insertInto('policy_attachments')
      .values(
        policyIds.map((policyId, position) => ({
          target_kind: target.kind,
          target_id: target.id,
          policy_id: policyId,
          position,
        })),
      )
      .execute();
  }

  private async attached(db: Kysely<Database>, target: AttachmentTarget): Promise<string[]> {
    const rows = await db
      .selectFrom('policy_attachments')
      .select('policy_id')
      .where('target_kind', '=', target.kind)
      .where('target_id', '=', target.id)
      .orderBy('position')
      .execute();
    return rows.map((row) => row.policy_id);
  }
}

function tenantRow(tenant: Tenant): TenantsTable {
  return {
    tenant_id: tenant.tenantId,
    name: tenant.name,
    max_keys: tenant.quotas.maxKeys ?? null,
    requests_per_second: tenant.quotas.requestsPerSecond ?? null,
    created_at: tenant.createdAt.getTime(),
    updated_at: tenant.updatedAt.getTime(),
  };
}

function principalRow(principal: PrincipalRecord): PrincipalsTable {
  return {
    principal_id: principal.principalId,
    tenant_id: principal.tenantId,
    name: principal.name,
    type: principal.type,
    roles: JSON.stringify(principal.roles),
    attributes: JSON.stringify(principal.attributes),
    created_at: principal.createdAt.getTime(),
    updated_at: principal.updatedAt.getTime(),
  };
}

function policyVersionRow(version: PolicyVersion): PolicyVersionsTable {
  return {
    policy_id: version.policyId,
    version: version.version,
    document: JSON.stringify(version.document),
    effective_at: version.effectiveAt.getTime(),
    created_at: version.createdAt.getTime(),
    aws_source: version.awsSource ?? null,
  };
}
