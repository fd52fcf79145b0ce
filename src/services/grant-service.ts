// Grants on keys (domain/grant.ts): create, list, retire, revoke. Authorization of the requests a
// grant allows happens in AccessControl, like every other decision; this service keeps the grants
// and tells KeyGrants when they change.
import { randomBytes } from 'node:crypto';
import { zeroize } from '../crypto/key-material.js';
import { KmsError, invalidMarker, notFound, validationError } from '../domain/errors.js';
import {
  GRANT_ID,
  GRANT_NAME,
  checkConstraints,
  checkOperations,
  invalidGrantId,
  invalidGrantToken,
  mintGrantToken,
  parseGrantToken,
  sameParameters,
  tokenMatches,
  withinParent,
  type Grant,
  type GrantConstraints,
  type GrantParameters,
} from '../domain/grant.js';
import type { PrincipalType } from '../domain/identity.js';
import type { Key } from '../domain/key.js';
import type { RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { GrantPage, GrantStore } from '../ports/grant-store.js';
import type { IdentityStore } from '../ports/identity-store.js';
import type { AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyGrants } from './key-grants.js';

/** A principal named by its name in the key's tenant, and as the caller wrote it (echoed back). */
export interface PrincipalName {
  name: string;
  /** What the ARN said it is (user/ a user, role/ a service): a principal of the other type is not it. */
  type: PrincipalType;
  written: string;
}

export interface CreateGrantInput {
  keyId: string;
  grantee: PrincipalName;
  retiring?: PrincipalName;
  operations: readonly string[];
  constraints?: GrantConstraints;
  name?: string;
  dryRun?: boolean;
}

export interface CreatedGrant {
  grantId: string;
  grantToken: string;
  keyId: string;
}

/** Which grant to retire: by its token, or by its key and id. */
export type RetireGrantInput =
  | { token: string; keyId?: string; dryRun?: boolean }
  | { token?: undefined; keyId: string; grantId: string; dryRun?: boolean };

export interface GrantListInput {
  limit?: number;
  marker?: string;
}

/** A key holds at most this many grants (AWS: 50,000); every grant-allowed request scans them. */
export const MAX_GRANTS_PER_KEY = 1000;
const DEFAULT_PAGE = 50;
const MAX_PAGE = 100;

export class GrantService {
  constructor(
    private readonly store: GrantStore,
    private readonly keyGrants: KeyGrants,
    private readonly identity: IdentityStore,
    private readonly directory: KeyDirectory,
    private readonly access: AccessControl,
    private readonly clock: Clock,
  ) {}

  /** Undefined for a dry run that would have succeeded. */
  async createGrant(ctx: RequestContext, input: CreateGrantInput): Promise<CreatedGrant | undefined> {
    const key = await this.directory.getKey(ctx, input.keyId);
    const operations = checkOperations(input.operations, key);
    const constraints = checkConstraints(input.constraints);
    // Only symmetric encryption takes a context: a constraint on any other key would be ignored.
    if (constraints && key.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw validationError(
        `encryption context constraints are for symmetric encryption keys; key ${key.keyId} is ${key.keySpec}`,
      );
    }
    if (input.name !== undefined && !GRANT_NAME.test(input.name)) {
      throw validationError('Name must be 1 to 256 characters of a-z, A-Z, 0-9, :, /, _ and -');
    }
    const grantee = await this.principalOf(key, input.grantee, 'GranteePrincipal');
    const retiring = input.retiring && (await this.principalOf(key, input.retiring, 'RetiringPrincipal'));
    const parameters: GrantParameters = {
      granteePrincipalId: grantee,
      retiringPrincipalId: retiring ?? null,
      operations,
      constraints,
    };
    // Through a grant, only a grant within it (AWS); through a policy, any grant.
    await this.access.authorize(ctx, {
      actions: ['CreateGrant'],
      key,
      grantCheck: (parent) => withinParent(parameters, parent),
    });
    assertGrantable(key);
    if (input.dryRun) return undefined;
    const grant: Grant = {
      grantId: randomBytes(32).toString('hex'),
      keyId: key.keyId,
      tenant: key.tenant,
      name: input.name ?? null,
      ...parameters,
      granteePrincipal: input.grantee.written,
      retiringPrincipal: input.retiring?.written ?? null,
      issuingPrincipalId: ctx.principal.id,
      createdAt: this.clock.now(),
      tokenSecret: randomBytes(32),
    };
    const stored = await this.store.createGrant(
      grant,
      (existing) => sameParameters(existing, parameters),
      MAX_GRANTS_PER_KEY,
    );
    if (stored !== grant) zeroize(grant.tokenSecret);
    this.keyGrants.invalidate(key.keyId);
    return {
      grantId: stored.grantId,
      grantToken: mintGrantToken(stored.grantId, stored.tokenSecret, randomBytes(16)),
      keyId: key.keyId,
    };
  }

  async listGrants(
    ctx: RequestContext,
    input: GrantListInput & { keyId: string; grantId?: string; grantee?: PrincipalName },
  ): Promise<GrantPage & { keyId: string }> {
    const key = await this.directory.getKey(ctx, input.keyId);
    await this.access.authorize(ctx, { actions: ['ListGrants'], key });
    if (input.grantId !== undefined) checkGrantId(input.grantId);
    const page = { limit: pageLimit(input.limit), ...after(input.marker) };
    let granteePrincipalId: string | undefined;
    if (input.grantee) {
      granteePrincipalId = (await this.identity.findPrincipalByName(key.tenant, input.grantee.name))
        ?.principalId;
      if (granteePrincipalId === undefined) return { grants: [], next: null, keyId: key.keyId };
    }
    const found = await this.store.listGrants({
      keyId: key.keyId,
      ...(input.grantId !== undefined ? { grantId: input.grantId } : {}),
      ...(granteePrincipalId !== undefined ? { granteePrincipalId } : {}),
      ...page,
    });
    return { ...found, keyId: key.keyId };
  }

  /** The caller's tenant's grants that name this retiring principal. */
  async listRetirableGrants(
    ctx: RequestContext,
    input: GrantListInput & { retiring: PrincipalName },
  ): Promise<GrantPage> {
    await this.access.authorize(ctx, { actions: ['ListRetirableGrants'] });
    const page = { limit: pageLimit(input.limit), ...after(input.marker) };
    const principal = await this.identity.findPrincipalByName(ctx.tenant, input.retiring.name);
    if (!principal) return { grants: [], next: null };
    return this.store.listRetirableGrants({
      tenant: ctx.tenant,
      retiringPrincipalId: principal.principalId,
      ...page,
    });
  }

  /**
   * Retires a grant (AWS RetireGrant): allowed to its retiring principal, to its grantee if it
   * includes RetireGrant, and to whoever may RetireGrant on the key by policy. Any key state.
   */
  async retireGrant(
    ctx: RequestContext,
    input: RetireGrantInput,
  ): Promise<{ keyId: string; grantId: string }> {
    const { key, grant } =
      input.token !== undefined
        ? await this.byToken(ctx, input.token, input.keyId)
        : await this.byId(ctx, input);
    if (grant.retiringPrincipalId === ctx.principal.id) {
      // The grant itself delegates this; no policy is asked (the principal may hold none).
      ctx.facts.keyId ??= key.keyId;
      ctx.facts.grantId ??= grant.grantId;
    } else {
      await this.access.authorize(ctx, {
        actions: ['RetireGrant'],
        key,
        grantCheck: (allowing) => allowing.grantId === grant.grantId,
      });
    }
    if (!input.dryRun) await this.remove(grant);
    return { keyId: key.keyId, grantId: grant.grantId };
  }

  /** Revokes a grant (AWS RevokeGrant): authorized as RevokeGrant on the key. Any key state. */
  async revokeGrant(
    ctx: RequestContext,
    input: { keyId: string; grantId: string; dryRun?: boolean },
  ): Promise<{ keyId: string }> {
    const key = await this.directory.getKey(ctx, input.keyId);
    await this.access.authorize(ctx, { actions: ['RevokeGrant'], key });
    const grant = await this.grantOfKey(key, input.grantId);
    if (!input.dryRun) await this.remove(grant);
    return { keyId: key.keyId };
  }

  private async byToken(
    ctx: RequestContext,
    token: string,
    keyId: string | undefined,
  ): Promise<{ key: Key; grant: Grant }> {
    const parts = parseGrantToken(token);
    if (!parts) throw invalidGrantToken();
    const grant = await this.store.getGrant(parts.grantId);
    if (!grant) throw grantNotFound(parts.grantId);
    // Another tenant's grant answers as one that does not exist.
    const key = await this.directory.getKey(ctx, grant.keyId).catch((error: unknown) => {
      throw error instanceof KmsError && error.code === 'NotFound' ? grantNotFound(parts.grantId) : error;
    });
    if (!tokenMatches(parts, grant)) throw invalidGrantToken();
    if (keyId !== undefined && (await this.directory.resolveKeyId(ctx, keyId)) !== key.keyId) {
      throw grantNotFound(parts.grantId);
    }
    return { key, grant };
  }

  private async byId(ctx: RequestContext, input: { keyId: string; grantId: string }) {
    const key = await this.directory.getKey(ctx, input.keyId);
    return { key, grant: await this.grantOfKey(key, input.grantId) };
  }

  private async grantOfKey(key: Key, grantId: string): Promise<Grant> {
    checkGrantId(grantId);
    const grant = await this.store.getGrant(grantId);
    if (!grant || grant.keyId !== key.keyId) throw grantNotFound(grantId);
    return grant;
  }

  private async remove(grant: Grant): Promise<void> {
    try {
      if (!(await this.store.deleteGrant(grant.grantId))) throw grantNotFound(grant.grantId);
    } finally {
      this.keyGrants.invalidate(grant.keyId);
    }
  }

  private async principalOf(key: Key, principal: PrincipalName, member: string): Promise<string> {
    const found = await this.identity.findPrincipalByName(key.tenant, principal.name);
    if (!found || found.type !== principal.type)
      throw validationError(`${member} ${principal.written} is not a principal of this account`);
    return found.principalId;
  }
}

/** CreateGrant's key states (AWS): not on a disabled key, nor one pending deletion. */
function assertGrantable(key: Key): void {
  if (key.state === 'Disabled') throw new KmsError('KeyDisabled', `key ${key.keyId} is disabled`);
  if (key.state === 'PendingDeletion') {
    throw new KmsError('KeyPendingDeletion', `key ${key.keyId} is pending deletion`);
  }
  if (key.state === 'Unavailable') throw new KmsError('Unavailable', `key ${key.keyId} is unavailable`);
}

function checkGrantId(grantId: string): void {
  if (!GRANT_ID.test(grantId)) throw invalidGrantId(`${grantId.slice(0, 128)} is not a grant id`);
}

const grantNotFound = (grantId: string) => notFound(`grant ${grantId.slice(0, 128)} does not exist`);

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw validationError(`Limit must be an integer from 1 to ${MAX_PAGE}`);
  }
  return limit;
}

/** The marker is the last grant id of the page before (AWS markers are opaque). */
function after(marker: string | undefined): { after?: string } {
  if (marker === undefined) return {};
  if (!GRANT_ID.test(marker)) throw invalidMarker('Marker is not one this server issued');
  return { after: marker };
}
