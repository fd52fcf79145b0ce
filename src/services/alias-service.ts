// Aliases (API.md): friendly names for keys, one key per alias, several aliases per key.
import type { RequestContext } from '../domain/request-context.js';
import { concurrentModification, notFound, validationError } from '../domain/errors.js';
import type { Key } from '../domain/key.js';
import { keyFamily } from '../domain/key-spec.js';
import { assertNotPendingDeletion } from '../domain/key-state.js';
import type { Clock } from '../ports/clock.js';
import type { AliasRecord, MetadataStore } from '../ports/metadata-store.js';
import type { AccessControl } from './access-control.js';
import type { KeyDirectory } from './key-directory.js';
import { assertAliasName, freshKey } from './key-records.js';

export class AliasService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly clock: Clock,
    private readonly access: AccessControl,
  ) {}

  async putAlias(
    ctx: RequestContext,
    name: string,
    reference: string,
  ): Promise<{ name: string; keyId: string }> {
    const key = await this.aliasTarget(ctx, name, reference);
    // The alias lives in the key's tenant (a system administrator may name another tenant's key).
    const previous = await this.metadata.resolveAlias(key.tenant, name);
    // Re-pointing takes the alias from the key it names now: that needs PutAlias there too (as
    // AWS UpdateAlias does), or anyone with one key could capture another key's traffic.
    if (previous && previous !== key.keyId) {
      const current = await freshKey(ctx, this.metadata, this.directory, previous);
      await this.access.authorize(ctx, { actions: ['PutAlias'], key: current });
    }
    await this.metadata.putAlias(key.tenant, name, key.keyId, this.clock.now());
    this.directory.invalidate(key.keyId);
    if (previous) this.directory.invalidate(previous);
    return { name, keyId: key.keyId };
  }

  /** Adds an alias that must not exist yet (AWS CreateAlias): AlreadyExists if the name is taken. */
  async createAlias(
    ctx: RequestContext,
    name: string,
    reference: string,
  ): Promise<{ name: string; keyId: string }> {
    const key = await this.aliasTarget(ctx, name, reference);
    await this.metadata.createAlias(key.tenant, name, key.keyId, this.clock.now());
    this.directory.invalidate(key.keyId);
    return { name, keyId: key.keyId };
  }

  /**
   * Re-points an alias that exists (AWS UpdateAlias): NotFound otherwise. The new key must be of
   * the same type (symmetric, HMAC, asymmetric) and usage as the old, as AWS requires, so that code
   * using the alias keeps working; PutAlias is needed on both keys.
   */
  async updateAlias(
    ctx: RequestContext,
    name: string,
    reference: string,
  ): Promise<{ name: string; keyId: string }> {
    const key = await this.aliasTarget(ctx, name, reference);
    const previousId = await this.metadata.resolveAlias(key.tenant, name);
    if (!previousId) throw notFound(`alias ${name} does not exist`);
    if (previousId !== key.keyId) {
      const previous = await freshKey(ctx, this.metadata, this.directory, previousId);
      await this.access.authorize(ctx, { actions: ['PutAlias'], key: previous });
      if (keyType(previous) !== keyType(key) || previous.keyUsage !== key.keyUsage) {
        throw validationError(
          `alias ${name} names a ${keyType(previous)} ${previous.keyUsage} key; it cannot name a ${keyType(key)} ${key.keyUsage} key`,
        );
      }
    }
    // Only if it still names the key checked above: a concurrent re-point is not overwritten.
    if (!(await this.metadata.updateAlias(key.tenant, name, previousId, key.keyId, this.clock.now()))) {
      throw concurrentModification(`alias ${name} changed meanwhile`);
    }
    this.directory.invalidate(key.keyId);
    this.directory.invalidate(previousId);
    return { name, keyId: key.keyId };
  }

  /** The key an alias is to name, once the name is valid and the caller may point it there. */
  private async aliasTarget(ctx: RequestContext, name: string, reference: string) {
    assertAliasName(name);
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['PutAlias'], key });
    assertNotPendingDeletion(key);
    return key;
  }

  async deleteAlias(ctx: RequestContext, name: string): Promise<void> {
    assertAliasName(name);
    const keyId = await this.metadata.resolveAlias(ctx.tenant, name);
    if (!keyId) throw notFound(`alias ${name} does not exist`);
    const key = await freshKey(ctx, this.metadata, this.directory, keyId);
    await this.access.authorize(ctx, { actions: ['DeleteAlias'], key });
    if (!(await this.metadata.deleteAlias(ctx.tenant, name))) throw notFound(`alias ${name} does not exist`);
    this.directory.invalidate(keyId);
  }

  async listAliases(
    ctx: RequestContext,
    reference?: string,
  ): Promise<{ name: string; keyId: string; createdAt: Date }[]> {
    const key =
      reference === undefined ? undefined : await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['ListAliases'], ...(key ? { key } : {}) });
    return this.metadata.listAliases(key?.tenant ?? ctx.tenant, key?.keyId);
  }

  /** A page of aliases by name (AWS ListAliases), optionally of one key; authorized as listAliases. */
  async listAliasPage(
    ctx: RequestContext,
    input: { reference?: string; limit: number; cursor?: string },
  ): Promise<{ aliases: AliasRecord[]; nextCursor: string | null }> {
    const key =
      input.reference === undefined
        ? undefined
        : await freshKey(ctx, this.metadata, this.directory, input.reference);
    await this.access.authorize(ctx, { actions: ['ListAliases'], ...(key ? { key } : {}) });
    if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_ALIAS_PAGE) {
      throw validationError(`limit must be an integer from 1 to ${MAX_ALIAS_PAGE}`);
    }
    return this.metadata.listAliasPage({
      tenant: key?.tenant ?? ctx.tenant,
      ...(key ? { keyId: key.keyId } : {}),
      limit: input.limit,
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
  }
}

const MAX_ALIAS_PAGE = 1000;

/** AWS's key types for UpdateAlias: symmetric encryption, HMAC, asymmetric. */
function keyType(key: Key): 'symmetric' | 'HMAC' | 'asymmetric' {
  const family = keyFamily(key.keySpec);
  return family === 'AES' ? 'symmetric' : family === 'HMAC' ? 'HMAC' : 'asymmetric';
}
