// Policies (API.md): versioned documents that belong to a tenant, attached to principals or to the
// whole tenant, plus one key policy per key. A new version may take effect later (effectiveAt);
// rollback makes an old version's document the newest version, in force at once. The simulator and
// /v1/auth/verify ask AccessControl exactly what authorize() would decide.
import { randomUUID } from 'node:crypto';
import { awsAccountId } from '../domain/aws-account.js';
import {
  AWS_POLICY_MAX_CHARS,
  AwsPolicyText,
  isAwsPolicyDocument,
  parseAwsPolicyText,
  translateAwsPolicy,
} from '../domain/aws-policy.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import { KmsError, malformedPolicyDocument, notFound, validationError } from '../domain/errors.js';
import { canSeeTenant, checkName, toPrincipal } from '../domain/identity.js';
import type { Key } from '../domain/key.js';
import { parsePolicyDocument, type Decision, type PolicyDocument } from '../domain/policy.js';
import type { RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore, Page, PolicyRecord, PolicyVersion } from '../ports/identity-store.js';
import { inForce, type AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import type { PrincipalService } from './principal-service.js';
import { pageLimit, type TenantService } from './tenant-service.js';

/** A policy with the version in force now (or, before any is, the first one waiting). */
export interface PolicyView extends PolicyRecord {
  version: number;
  document: PolicyDocument;
  effectiveAt: Date;
  awsSource: string | null;
}

export interface KeyPolicyView {
  keyId: string;
  /** 0 while the key has no policy of its own. */
  version: number;
  document: PolicyDocument;
  /** The text of a key policy written in AWS's policy language; null for one in Keyhaven's. */
  awsSource: string | null;
}

/** A key policy checked (and translated from AWS's language if written in it), ready to write. */
export interface CheckedKeyPolicy {
  document: PolicyDocument;
  awsSource: string | null;
}

export interface SimulationInput {
  principalId: string;
  action: string;
  keyId?: string;
  context?: EncryptionContext;
  sourceIp?: string;
  at?: string;
}

/** What the default deny answers (domain/policy.ts evaluatePolicies, when nothing allows). */
const DEFAULT_DENY: Decision = {
  allowed: false,
  decidedBy: null,
  reason: 'no statement allows this request',
};

const policyNotFound = (policyId: string) => notFound(`policy ${policyId} does not exist`);
const MAX_DOCUMENT_BYTES = 64 * 1024;

export class PolicyService {
  constructor(
    private readonly identity: IdentityStore,
    private readonly tenants: TenantService,
    private readonly principals: PrincipalService,
    private readonly access: AccessControl,
    private readonly directory: KeyDirectory,
    private readonly clock: Clock,
    /** The AWS dialect's region and default account id: key policies in AWS's language name ARNs. */
    private readonly aws: { region: string; accountId: string } = {
      region: 'us-east-1',
      accountId: '000000000000',
    },
  ) {}

  async createPolicy(
    ctx: RequestContext,
    input: { name: string; tenantId?: string; document: unknown; effectiveAt?: string },
  ): Promise<PolicyView> {
    const tenant = await this.tenants.visibleTenant(ctx, input.tenantId);
    await this.access.authorize(ctx, { actions: ['CreatePolicy'] });
    const now = this.clock.now();
    const record: PolicyRecord = {
      policyId: randomUUID(),
      name: checkName(input.name, 'policy'),
      tenantId: tenant.tenantId,
      keyId: null,
      createdAt: now,
    };
    const first: PolicyVersion = {
      policyId: record.policyId,
      version: 1,
      document: checkDocument(input.document),
      effectiveAt: effectiveAt(input.effectiveAt, now),
      createdAt: now,
    };
    await this.identity.createPolicy(record, first);
    return view(record, [first], now);
  }

  async listPolicies(
    ctx: RequestContext,
    input: { tenantId?: string; limit?: number; cursor?: string },
  ): Promise<Page<PolicyView>> {
    const tenant = await this.tenants.visibleTenant(ctx, input.tenantId);
    await this.access.authorize(ctx, { actions: ['ListPolicies'] });
    const page = await this.identity.listPolicies(tenant.tenantId, {
      limit: pageLimit(input.limit),
      cursor: input.cursor,
    });
    const now = this.clock.now();
    const items: PolicyView[] = [];
    for (const record of page.items) {
      items.push(view(record, await this.identity.listPolicyVersions(record.policyId), now));
    }
    return { items, nextCursor: page.nextCursor };
  }

  async getPolicy(ctx: RequestContext, policyId: string): Promise<PolicyView> {
    const record = await this.visiblePolicy(ctx, policyId);
    await this.access.authorize(ctx, { actions: ['GetPolicy'] });
    return view(record, await this.identity.listPolicyVersions(policyId), this.clock.now());
  }

  /** PUT: a new version (in force now, or at effectiveAt), and a new name if one is given. */
  async updatePolicy(
    ctx: RequestContext,
    policyId: string,
    input: { document: unknown; effectiveAt?: string },
  ): Promise<PolicyView> {
    const record = await this.visiblePolicy(ctx, policyId);
    await this.access.authorize(ctx, { actions: ['UpdatePolicy'] });
    const document = checkDocument(input.document);
    return this.addVersion(record, document, input.effectiveAt);
  }

  async deletePolicy(ctx: RequestContext, policyId: string): Promise<void> {
    await this.visiblePolicy(ctx, policyId);
    await this.access.authorize(ctx, { actions: ['DeletePolicy'] });
    if (!(await this.identity.deletePolicy(policyId))) throw policyNotFound(policyId);
    this.access.invalidatePolicy(policyId);
  }

  async listPolicyVersions(ctx: RequestContext, policyId: string): Promise<PolicyVersion[]> {
    await this.visiblePolicy(ctx, policyId);
    await this.access.authorize(ctx, { actions: ['ListPolicyVersions'] });
    return this.identity.listPolicyVersions(policyId);
  }

  /** Makes an earlier version's document the newest version, in force at once. */
  async rollbackPolicy(ctx: RequestContext, policyId: string, version: number): Promise<PolicyView> {
    const record = await this.visiblePolicy(ctx, policyId);
    await this.access.authorize(ctx, { actions: ['RollbackPolicy'] });
    const target = (await this.identity.listPolicyVersions(policyId)).find((v) => v.version === version);
    if (!target) throw notFound(`policy ${policyId} has no version ${version}`);
    return this.addVersion(record, target.document, undefined);
  }

  async getKeyPolicy(ctx: RequestContext, reference: string): Promise<KeyPolicyView> {
    const key = await this.directory.getKey(ctx, reference);
    await this.access.authorize(ctx, { actions: ['GetKeyPolicy'], key });
    const record = await this.identity.getKeyPolicy(key.keyId);
    if (!record) return { keyId: key.keyId, version: 0, document: { statements: [] }, awsSource: null };
    const current = view(record, await this.identity.listPolicyVersions(record.policyId), this.clock.now());
    return {
      keyId: key.keyId,
      version: current.version,
      document: current.document,
      awsSource: current.awsSource,
    };
  }

  /**
   * The key policy in force, for a backup bundle (KeyBackupService has authorized BackupKey on the
   * key); null when the key has none.
   */
  async keyPolicyInForce(keyId: string): Promise<CheckedKeyPolicy | null> {
    const record = await this.identity.getKeyPolicy(keyId);
    if (!record) return null;
    const current = view(record, await this.identity.listPolicyVersions(record.policyId), this.clock.now());
    return { document: current.document, awsSource: current.awsSource };
  }

  /**
   * A new version of the key's policy: a document in Keyhaven's language, in AWS's (a JSON object
   * with `Version`/`Statement`), or AWS's text (AwsPolicyText, from the AWS dialect).
   */
  async putKeyPolicy(ctx: RequestContext, reference: string, document: unknown): Promise<KeyPolicyView> {
    const key = await this.directory.getKey(ctx, reference);
    await this.access.authorize(ctx, { actions: ['PutKeyPolicy'], key });
    const checked = await this.checkKeyPolicy(ctx, document, key);
    const existing = await this.identity.getKeyPolicy(key.keyId);
    const written = existing
      ? await this.addVersion(existing, checked.document, undefined, checked.awsSource)
      : await this.createKeyPolicy(key, checked);
    return {
      keyId: key.keyId,
      version: written.version,
      document: written.document,
      awsSource: written.awsSource,
    };
  }

  /**
   * Checks a key policy for a key of the caller's tenant (`key` absent: at its creation), translating
   * one in AWS's policy language (domain/aws-policy.ts): its principals are looked up in the key's
   * tenant, or the caller's, the only accounts it may name.
   */
  async checkKeyPolicy(ctx: RequestContext, input: unknown, key?: Key): Promise<CheckedKeyPolicy> {
    let parsed = input;
    let awsSource: string | null = null;
    if (input instanceof AwsPolicyText) {
      if (input.text.length > AWS_POLICY_MAX_CHARS) {
        throw malformedPolicyDocument(`a key policy is at most ${AWS_POLICY_MAX_CHARS} characters`);
      }
      parsed = parseAwsPolicyText(input.text);
      awsSource = input.text;
    }
    if (!isAwsPolicyDocument(parsed)) {
      try {
        return { document: checkDocument(parsed), awsSource: null };
      } catch (error) {
        // AWS's PutKeyPolicy and CreateKey answer any bad document as MalformedPolicyDocument.
        if (awsSource !== null && error instanceof KmsError && error.code === 'ValidationError') {
          throw malformedPolicyDocument(error.message);
        }
        throw error;
      }
    }
    awsSource ??= JSON.stringify(parsed);
    if (awsSource.length > AWS_POLICY_MAX_CHARS) {
      throw malformedPolicyDocument(`a key policy is at most ${AWS_POLICY_MAX_CHARS} characters`);
    }
    const keyTenant = key?.tenant ?? ctx.tenant;
    const accounts = new Map<string, string>([
      [awsAccountId(ctx.tenant, this.aws.accountId), ctx.tenant],
      [awsAccountId(keyTenant, this.aws.accountId), keyTenant],
    ]);
    const document = await translateAwsPolicy(parsed, {
      keyTenant,
      accounts,
      ...(key
        ? {
            keyArn: `arn:aws:kms:${this.aws.region}:${awsAccountId(key.tenant, this.aws.accountId)}:key/${key.keyId}`,
          }
        : {}),
      findPrincipal: async (tenant, name) => {
        const found = await this.identity.findPrincipalByName(tenant, name);
        return found && { principalId: found.principalId, type: found.type };
      },
    });
    return { document, awsSource };
  }

  /** The key policy given at creation: checked before the key exists, written by KeyService. */
  async createKeyPolicy(key: Key, checked: CheckedKeyPolicy): Promise<PolicyView> {
    const now = this.clock.now();
    const record: PolicyRecord = {
      policyId: randomUUID(),
      name: `key policy of ${key.keyId}`,
      tenantId: key.tenant,
      keyId: key.keyId,
      createdAt: now,
    };
    const first: PolicyVersion = {
      policyId: record.policyId,
      version: 1,
      document: checked.document,
      effectiveAt: now,
      createdAt: now,
      awsSource: checked.awsSource,
    };
    await this.identity.createPolicy(record, first);
    this.access.invalidatePolicy(record.policyId, key.keyId);
    return view(record, [first], now);
  }

  /**
   * Removes a key policy whose key could not be written (KeyService.createKey's compensation).
   * Given `policyId`, only that policy: a restore that lost a race to another restore of the same
   * key undoes its own write, never the winner's policy nor the versions added to it since.
   */
  async deleteKeyPolicy(keyId: string, policyId?: string): Promise<void> {
    const id = policyId ?? (await this.identity.getKeyPolicy(keyId))?.policyId;
    if (id === undefined) return;
    await this.identity.deletePolicy(id);
    this.access.invalidatePolicy(id, keyId);
  }

  async simulate(ctx: RequestContext, input: SimulationInput): Promise<Decision> {
    const record = await this.principals.visiblePrincipal(ctx, input.principalId);
    await this.access.authorize(ctx, { actions: ['SimulatePolicy'] });
    const principal = toPrincipal(record);
    const at = input.at === undefined ? this.clock.now() : parseInstant(input.at, 'at');
    // The key as the simulated principal would see it: another tenant's key does not exist for it.
    const key =
      input.keyId === undefined
        ? undefined
        : await this.directory.getKey({ ...ctx, principal, tenant: principal.tenant }, input.keyId);
    return this.access.decide(principal, {
      action: input.action,
      key,
      context: input.context,
      sourceIp: input.sourceIp ?? ctx.sourceIp,
      at,
    });
  }

  /** What the caller itself may do (POST /v1/auth/verify): the decision authorize() would make. */
  async verifyAccess(
    ctx: RequestContext,
    input: { action: string; keyId?: string; context?: EncryptionContext },
  ): Promise<Decision> {
    let key: Key | undefined;
    try {
      key = input.keyId === undefined ? undefined : await this.directory.getKey(ctx, input.keyId);
    } catch (error) {
      // A key that does not exist answers as one the caller may not use: no existence oracle.
      if (error instanceof KmsError && error.code === 'NotFound') return DEFAULT_DENY;
      throw error;
    }
    return this.access.decide(ctx.principal, {
      action: input.action,
      key,
      context: input.context,
      sourceIp: ctx.sourceIp,
      at: this.clock.now(),
    });
  }

  private async addVersion(
    record: PolicyRecord,
    document: PolicyDocument,
    effective: string | undefined,
    awsSource: string | null = null,
  ): Promise<PolicyView> {
    const now = this.clock.now();
    await this.identity.addPolicyVersion(record.policyId, {
      document,
      effectiveAt: effectiveAt(effective, now),
      createdAt: now,
      awsSource,
    });
    this.access.invalidatePolicy(record.policyId, record.keyId);
    return view(record, await this.identity.listPolicyVersions(record.policyId), now);
  }

  private async visiblePolicy(ctx: RequestContext, policyId: string): Promise<PolicyRecord> {
    const record = await this.identity.getPolicy(policyId);
    // Key policies are reached through their key (GET/PUT /v1/keys/{keyId}/policy) only.
    if (!record || record.keyId !== null || !canSeeTenant(ctx.principal, record.tenantId)) {
      throw policyNotFound(policyId);
    }
    return record;
  }
}

/** The version in force now, or before any is, the first one that will be. */
function view(record: PolicyRecord, versions: PolicyVersion[], now: Date): PolicyView {
  const shown = inForce(versions, now) ?? versions[0];
  if (!shown) throw policyNotFound(record.policyId);
  return {
    ...record,
    version: shown.version,
    document: shown.document,
    effectiveAt: shown.effectiveAt,
    awsSource: shown.awsSource ?? null,
  };
}

export function checkDocument(input: unknown): PolicyDocument {
  if (Buffer.byteLength(JSON.stringify(input ?? null)) > MAX_DOCUMENT_BYTES) {
    throw validationError(`a policy document is at most ${MAX_DOCUMENT_BYTES} bytes`);
  }
  return parsePolicyDocument(input);
}

function effectiveAt(value: string | undefined, now: Date): Date {
  return value === undefined ? now : parseInstant(value, 'effectiveAt');
}

function parseInstant(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw validationError(`${field} must be an ISO 8601 date-time`);
  return date;
}
