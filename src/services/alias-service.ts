// Aliases (API.md): friendly names for keys, one key per alias, several aliases per key.
import type { RequestContext } from '../domain/request-context.js';
import { notFound } from '../domain/errors.js';
import { assertNotPendingDeletion } from '../domain/key-state.js';
import type { Clock } from '../ports/clock.js';
import type { MetadataStore } from '../ports/metadata-store.js';
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
    assertAliasName(name);
    const key = await freshKey(ctx, this.metadata, this.directory, reference);
    await this.access.authorize(ctx, { actions: ['PutAlias'], key });
    assertNotPendingDeletion(key);
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
}
