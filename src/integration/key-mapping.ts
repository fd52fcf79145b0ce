// Logical key ids to each provider's key reference. The same logical key is a different key at each
// provider (an AWS key id, a Keyhaven key id): the caller configures the references per provider,
// generateKey records the ones it creates, and an id with no entry is passed to the provider as-is.

export type KeyReferences = Readonly<Record<string, string>>;

export class KeyMapping {
  private readonly byProvider = new Map<string, Map<string, string>>();

  constructor(configured: Readonly<Record<string, KeyReferences | undefined>>) {
    for (const [provider, references] of Object.entries(configured)) {
      this.byProvider.set(provider, new Map(Object.entries(references ?? {})));
    }
  }

  /** The provider's reference for `keyId`: its mapped reference, else `keyId` itself. */
  resolve(provider: string, keyId: string): string {
    return this.byProvider.get(provider)?.get(keyId) ?? keyId;
  }

  set(provider: string, keyId: string, keyRef: string): void {
    let references = this.byProvider.get(provider);
    if (!references) this.byProvider.set(provider, (references = new Map()));
    references.set(keyId, keyRef);
  }

  /** Every mapping, per provider, for the caller to persist (generateKey adds to it at run time). */
  snapshot(): Record<string, Record<string, string>> {
    return Object.fromEntries([...this.byProvider].map(([name, refs]) => [name, Object.fromEntries(refs)]));
  }
}
