// Aliases (API.md): friendly names for keys, one key per alias, several aliases per key.
import type { RequestContext } from '../domain/request-context.js';
import { notFound } from '../domain/errors.js';
import { assertNotPendingDeletion } from '../domain/key-state.js';
import type { Clock } from '../ports/clock.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { KeyDirectory } from './key-directory.js';
import { assertAliasName, freshKey } from './key-records.js';

export class AliasService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly directory: KeyDirectory,
    private readonly clock: Clock,
  ) {}

  async putAlias(
    ctx: RequestContext,
    name: string,
    reference: string,
  ): Promise<{ name: string; keyId: string }> {
    assertAliasName(name);
    const key = await freshKey(this.metadata, this.directory, reference);
    assertNotPendingDeletion(key);
    await this.metadata.putAlias(name, key.keyId, this.clock.now());
    return { name, keyId: key.keyId };
  }

  async deleteAlias(ctx: RequestContext, name: string): Promise<void> {
    assertAliasName(name);
    if (!(await this.metadata.deleteAlias(name))) throw notFound(`alias ${name} does not exist`);
  }

  async listAliases(
    ctx: RequestContext,
    reference?: string,
  ): Promise<{ name: string; keyId: string; createdAt: Date }[]> {
    const keyId =
      reference === undefined ? undefined : (await freshKey(this.metadata, this.directory, reference)).keyId;
    return this.metadata.listAliases(keyId);
  }
}
