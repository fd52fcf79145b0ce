// The one decision point (docs/architecture.md "One request context, one path per action"): which
// policies apply to a request, their versions in force at its time, and the pure evaluation of
// domain/policy.ts over them. Services call authorize() after resolving the key and before touching
// its state, so a denied caller learns nothing about the key beyond its existence in its own tenant.
// Policies are cached: writes in this process invalidate at once, other processes within the TTL.
// Grants (domain/grant.ts) come after the policies: when no policy denies and none allows, a live
// grant of the key to the caller for the request's operation and context allows. Policy-allowed
// requests, the hot path, never look at grants.
import {
  BUILTIN_ROLE_POLICIES,
  builtinRolePolicyId,
  BUILTIN_ROLES,
  type BuiltinRole,
} from '../domain/builtin-roles.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import { KmsError } from '../domain/errors.js';
import { grantAllows, grantPolicyId, requiredGrantOperation, type Grant } from '../domain/grant.js';
import { isSystemAuditor } from '../domain/identity.js';
import type { Key } from '../domain/key.js';
import {
  evaluatePolicies,
  type AccessRequest,
  type Decision,
  type PolicyDocument,
  type PolicyVersionRef,
} from '../domain/policy.js';
import type { RecipientFacts } from '../domain/recipient.js';
import type { Principal, RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore, PolicyVersion } from '../ports/identity-store.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyGrants } from './key-grants.js';
import { announceNowhere, type AnnounceChange } from './cache-invalidation.js';

/** A policy version ready to evaluate. */
export interface ApplicablePolicy {
  ref: PolicyVersionRef;
  document: PolicyDocument;
}

/** What a decision is about, beyond the caller (who comes from the context). */
export interface AccessTarget {
  /** Every action must be allowed: a composite action names itself and what it does to the key. */
  actions: readonly string[];
  key?: Key;
  context?: EncryptionContext;
  /**
   * What a grant must also satisfy to allow the request: CreateGrant's new grant stays within it,
   * RetireGrant's grantee retires only that grant.
   */
  grantCheck?: (grant: Grant) => boolean;
}

/** Checked for the caller itself, never denied: asking what one may do, or trading a credential. */
export const SELF_SERVICE_ACTIONS: ReadonlySet<string> = new Set(['VerifyAccess', 'CreateAccessToken']);

/** Key-policy actions an admin of the key's tenant may always do: a key policy cannot lock out its admins. */
const LOCKOUT_SAFE_ACTIONS: ReadonlySet<string> = new Set(['GetKeyPolicy', 'PutKeyPolicy']);

const ROLE_POLICIES: ReadonlyMap<string, ApplicablePolicy> = new Map(
  BUILTIN_ROLES.map((role: BuiltinRole) => [
    role,
    { ref: { policyId: builtinRolePolicyId(role), version: 1 }, document: BUILTIN_ROLE_POLICIES[role] },
  ]),
);

interface Cached<T> {
  value: T;
  until: number;
}

export class AccessControl {
  private readonly versions = new Map<string, Cached<PolicyVersion[]>>();
  private readonly keyPolicies = new Map<string, Cached<string | null>>();
  private readonly tenantPolicies = new Map<string, Cached<string[]>>();

  constructor(
    private readonly identity: IdentityStore,
    private readonly directory: KeyDirectory,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly grants?: KeyGrants,
    private readonly maxEntries = 10_000,
    private readonly announce: AnnounceChange = announceNowhere,
  ) {}

  /**
   * Throws AccessDenied unless every action of the target is allowed for the caller. Synchronous
   * (no promise) while everything it needs is cached, which is every request's hot path.
   */
  authorize(ctx: RequestContext, target: AccessTarget): void | Promise<void> {
    if (target.key && ctx.facts.keyId === undefined) {
      ctx.facts.keyId = target.key.keyId;
      if (target.key.tenant !== ctx.tenant) ctx.facts.keyTenant = target.key.tenant;
    }
    if (ctx.credential === 'internal') return;
    const at = this.clock.now();
    let unallowed: Unallowed | undefined;
    for (const [index, action] of target.actions.entries()) {
      const request = {
        action,
        key: target.key,
        context: target.context,
        sourceIp: ctx.sourceIp,
        at,
        recipient: ctx.facts.recipient,
      };
      const decision = this.decideFromCache(ctx.principal, request);
      if (decision === undefined) return this.authorizeLoading(ctx, target, index, at, unallowed);
      if (!decision.allowed) {
        // An explicit deny wins over any grant; the default deny may still be lifted by one.
        if (decision.decidedBy !== null) throw accessDenied(ctx, action, target, decision);
        unallowed ??= { action, decision };
      }
    }
    if (unallowed) return this.authorizeByGrant(ctx, target, unallowed);
  }

  /**
   * For actions that see every tenant (the whole audit chain, the metrics): authorized as usual,
   * and only for the default tenant's admins and auditors, whatever a tenant's role grants.
   */
  async authorizeServerWide(ctx: RequestContext, action: string): Promise<void> {
    await this.authorize(ctx, { actions: [action] });
    if (ctx.credential !== 'internal' && !isSystemAuditor(ctx.principal)) {
      throw new KmsError(
        'AccessDenied',
        `${action} covers every tenant: it is for auditors and admins of the default tenant`,
      );
    }
  }

  /** The decision for one action, as authorize() makes it (also what /v1/simulate reports). */
  async decide(principal: Principal, request: AccessQuestion): Promise<Decision> {
    const decision = await this.decideByPolicies(principal, request);
    if (decision.allowed || decision.decidedBy !== null || !request.key || !this.grants) return decision;
    const need = requiredGrantOperation(request.action, [request.action]);
    if (!need) return decision;
    const context = request.context;
    const grant = (await this.grants.of(request.key.keyId)).find((g) =>
      grantAllows(g, principal.id, need, context),
    );
    return grant ? grantDecision(grant) : decision;
  }

  /** The decision of the policies alone (no grant). */
  private async decideByPolicies(principal: Principal, request: AccessQuestion): Promise<Decision> {
    const cached = this.decideFromCache(principal, request);
    if (cached) return cached;
    const withKeyPolicy = keyPolicyApplies(principal, request);
    const ids = [...principal.policyIds, ...(await this.tenantPolicyIds(principal.tenant))];
    if (request.key && withKeyPolicy) {
      const keyPolicy = await this.keyPolicyId(request.key.keyId);
      if (keyPolicy) ids.push(keyPolicy);
    }
    const versions = new Map<string, PolicyVersion[]>();
    for (const id of ids) versions.set(id, await this.policyVersions(id));
    const policies = applicablePolicies(principal, ids, (id) => versions.get(id)!, request.at);
    const aliases =
      request.key && policies.some(namesAliases) ? await this.directory.aliasesOf(request.key) : [];
    return evaluate(principal, request, policies, aliases);
  }

  /** Forgets cached versions of a policy (after a write), and which policy a key has. */
  invalidatePolicy(policyId: string, keyId?: string | null): void {
    this.dropPolicy(policyId, keyId ?? null);
    this.announce({ kind: 'policy', policyId, keyId: keyId ?? null });
  }

  invalidateTenant(tenantId: string): void {
    this.dropTenant(tenantId);
    this.announce({ kind: 'tenant', tenantId });
  }

  /** Another process changed the policy: dropped here, not announced again. */
  dropPolicy(policyId: string, keyId: string | null): void {
    this.versions.delete(policyId);
    if (keyId) this.keyPolicies.delete(keyId);
  }

  dropTenant(tenantId: string): void {
    this.tenantPolicies.delete(tenantId);
  }

  dropAll(): void {
    this.versions.clear();
    this.keyPolicies.clear();
    this.tenantPolicies.clear();
  }

  private async authorizeLoading(
    ctx: RequestContext,
    target: AccessTarget,
    from: number,
    at: Date,
    unallowed: Unallowed | undefined,
  ): Promise<void> {
    for (const action of target.actions.slice(from)) {
      const decision = await this.decideByPolicies(ctx.principal, {
        action,
        key: target.key,
        context: target.context,
        sourceIp: ctx.sourceIp,
        at,
        recipient: ctx.facts.recipient,
      });
      if (!decision.allowed) {
        if (decision.decidedBy !== null) throw accessDenied(ctx, action, target, decision);
        unallowed ??= { action, decision };
      }
    }
    if (unallowed) await this.authorizeByGrant(ctx, target, unallowed);
  }

  /**
   * No policy denies and some action is not allowed: a grant of the key to the caller for the
   * request's grant operation, whose constraints the context meets, allows the whole request.
   * Synchronous while the key's grants are cached.
   */
  private authorizeByGrant(
    ctx: RequestContext,
    target: AccessTarget,
    unallowed: Unallowed,
  ): void | Promise<void> {
    const need = requiredGrantOperation(ctx.action, target.actions);
    const key = target.key;
    if (!need || !key || !this.grants || key.tenant !== ctx.principal.tenant) {
      throw accessDenied(ctx, unallowed.action, target, unallowed.decision);
    }
    const choose = (grants: readonly Grant[]) => {
      const grant = grants.find(
        (g) => grantAllows(g, ctx.principal.id, need, target.context) && (target.grantCheck?.(g) ?? true),
      );
      if (!grant) throw accessDenied(ctx, unallowed.action, target, unallowed.decision);
      ctx.facts.grantId ??= grant.grantId;
    };
    const cached = this.grants.peek(key.keyId);
    if (cached) return choose(cached);
    return this.grants.of(key.keyId).then(choose);
  }

  /** The decision if every policy, attachment and alias it needs is cached; undefined otherwise. */
  private decideFromCache(principal: Principal, request: AccessQuestion): Decision | undefined {
    if (SELF_SERVICE_ACTIONS.has(request.action)) {
      return { allowed: true, decidedBy: null, reason: `${request.action} is always allowed for oneself` };
    }
    const tenantIds = this.peek(this.tenantPolicies, principal.tenant);
    if (tenantIds === undefined) return undefined;
    const ids =
      principal.policyIds.length + tenantIds.length === 0 ? [] : [...principal.policyIds, ...tenantIds];
    if (request.key && keyPolicyApplies(principal, request)) {
      const keyPolicy = this.peek(this.keyPolicies, request.key.keyId);
      if (keyPolicy === undefined) return undefined;
      if (keyPolicy) ids.push(keyPolicy);
    }
    for (const id of ids) if (this.peek(this.versions, id) === undefined) return undefined;
    const policies = applicablePolicies(principal, ids, (id) => this.peek(this.versions, id)!, request.at);
    let aliases: readonly string[] = [];
    if (request.key && policies.some(namesAliases)) {
      const cached = this.directory.peekAliases(request.key);
      if (cached === undefined) return undefined;
      aliases = cached;
    }
    return evaluate(principal, request, policies, aliases);
  }

  private async policyVersions(policyId: string): Promise<PolicyVersion[]> {
    return this.cached(this.versions, policyId, () => this.identity.listPolicyVersions(policyId));
  }

  private async keyPolicyId(keyId: string): Promise<string | null> {
    return this.cached(
      this.keyPolicies,
      keyId,
      async () => (await this.identity.getKeyPolicy(keyId))?.policyId ?? null,
    );
  }

  private async tenantPolicyIds(tenantId: string): Promise<string[]> {
    return this.cached(
      this.tenantPolicies,
      tenantId,
      async () => (await this.identity.getTenant(tenantId))?.policyIds ?? [],
    );
  }

  private peek<T>(map: Map<string, Cached<T>>, id: string): T | undefined {
    const hit = map.get(id);
    return hit && hit.until > Date.now() ? hit.value : undefined;
  }

  private async cached<T>(map: Map<string, Cached<T>>, id: string, load: () => Promise<T>): Promise<T> {
    const hit = this.peek(map, id);
    if (hit !== undefined) return hit;
    const value = await load();
    if (map.size >= this.maxEntries) map.clear();
    map.set(id, { value, until: Date.now() + this.ttlMs });
    return value;
  }
}

/** The first action no policy allowed (nor denied), and that default-deny decision. */
interface Unallowed {
  action: string;
  decision: Decision;
}

const grantDecision = (grant: Grant): Decision => ({
  allowed: true,
  decidedBy: { policyId: grantPolicyId(grant.grantId), version: 1, sid: null },
  reason: `allowed by grant ${grant.grantId}`,
});

interface AccessQuestion {
  action: string;
  key?: Key;
  context?: EncryptionContext;
  sourceIp: string;
  at: Date;
  /** The request's result is sealed to this recipient (RequestFacts.recipient). */
  recipient?: RecipientFacts | undefined;
}

/** Key-policy actions of a key's admins ignore the key policy itself (its lockout safety). */
const keyPolicyApplies = (principal: Principal, request: AccessQuestion) =>
  !(
    LOCKOUT_SAFE_ACTIONS.has(request.action) &&
    request.key !== undefined &&
    principal.roles.includes('admin')
  );

/** Role policies first, then the policies named by `ids`, each at its version in force at `at`. */
function applicablePolicies(
  principal: Principal,
  ids: readonly string[],
  versionsOf: (id: string) => readonly PolicyVersion[],
  at: Date,
): ApplicablePolicy[] {
  const policies: ApplicablePolicy[] = [];
  for (const role of principal.roles) {
    const rolePolicy = ROLE_POLICIES.get(role);
    if (rolePolicy) policies.push(rolePolicy);
  }
  for (const id of ids) {
    const version = inForce(versionsOf(id), at);
    if (version)
      policies.push({ ref: { policyId: id, version: version.version }, document: version.document });
  }
  return policies;
}

function evaluate(
  principal: Principal,
  request: AccessQuestion,
  policies: readonly ApplicablePolicy[],
  aliases: readonly string[],
): Decision {
  const key = request.key;
  const accessRequest: AccessRequest = {
    principal,
    action: request.action,
    ...(key ? { key: { keyId: key.keyId, tags: key.tags, aliases } } : {}),
    ...(request.context ? { context: request.context } : {}),
    ...(request.recipient ? { recipient: request.recipient } : {}),
    sourceIp: request.sourceIp,
    at: request.at,
  };
  return evaluatePolicies(policies, accessRequest);
}

function accessDenied(
  ctx: RequestContext,
  action: string,
  target: AccessTarget,
  decision: Decision,
): KmsError {
  const on = target.key ? ` on key ${target.key.keyId}` : '';
  return new KmsError(
    'AccessDenied',
    `principal ${ctx.principal.id} is not allowed to ${action}${on}: ${decision.reason}`,
  );
}

/** The version in force at `at`: the latest whose effectiveAt has come (versions in version order). */
export function inForce(versions: readonly PolicyVersion[], at: Date): PolicyVersion | undefined {
  let found: PolicyVersion | undefined;
  for (const version of versions) {
    if (version.effectiveAt.getTime() <= at.getTime() && (!found || version.version > found.version)) {
      found = version;
    }
  }
  return found;
}

const namesAliases = (policy: ApplicablePolicy) =>
  policy.document.statements.some((statement) => statement.resources.some((r) => r.startsWith('alias/')));
