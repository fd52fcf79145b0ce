// Replication of key objects between several PKCS#11 backends (docs/hsm.md "Several HSMs"). A shared
// transport key (pkcs11-transport-key.ts: a wrap-only and an unwrap-only object per token) carries
// each new object: made on one backend extractable only under trusted keys (CKA_WRAP_WITH_TRUSTED),
// wrapped there (C_WrapKey), unwrapped into every other backend as a non-extractable copy, then
// sealed on its source (CKA_EXTRACTABLE true -> false). What a backend missed while it was down is
// queued (ports/replication-queue.ts: in the metadata database once the server has opened it, so
// every node sees it; a file in the data directory before that) and copied by a catch-up pass once
// it answers again, for at most `windowMs`: then the original is sealed anyway, so nothing stays
// extractable for long. The pass runs in one process of the cluster at a time (the hsm-replication
// lease), so two nodes never unwrap the same copy twice.
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import type { PendingReplication, ReplicationQueue } from '../../../ports/replication-queue.js';
import type { TokenFailover } from './pkcs11-token-failover.js';
import { pkcs11Code, pkcs11ErrorName } from './pkcs11-errors.js';
import type { Handle } from './pkcs11-object-policy.js';
import { replicaTemplate, type ReplicaShape } from './pkcs11-templates.js';
import type { Pkcs11Token, SessionScope } from './pkcs11-token.js';
import { FileReplicationQueue, REPLICATION_FILE } from './replication-file-queue.js';
import {
  distributeTransportKey,
  hasTransportKey,
  transportLabels,
  type TransportLabels,
} from './pkcs11-transport-key.js';

export { REPLICATION_FILE };

/** What a lease offers (services/lease.ts): `work` runs only in the process that holds it. */
export interface ExclusiveWork {
  whileHeld<T>(work: () => Promise<T>): Promise<T | undefined>;
}

/** Alone with its queue (start-up, `keyhaven hsm init`): nobody else to leave the work to. */
const alone: ExclusiveWork = { whileHeld: (work) => work() };

export type TransportKeyState = 'present' | 'created' | 'unavailable' | 'not-needed';

interface Wrapped {
  blob: Buffer;
  mechanism: number;
  shape: ReplicaShape;
}

/** C_WrapKey output room: the PKCS#8 encoding of an RSA-4096 key is about 2.4 KB. */
const MAX_WRAPPED_BYTES = 16 * 1024;

const REFUSED_WRAP = new Set([
  pkcs11js.CKR_KEY_NOT_WRAPPABLE,
  pkcs11js.CKR_KEY_UNEXTRACTABLE,
  pkcs11js.CKR_WRAPPING_KEY_HANDLE_INVALID,
  pkcs11js.CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
  pkcs11js.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
  pkcs11js.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
]);

export class Pkcs11Replication {
  /** The queue as last read or written by this process (status counts from it without a query). */
  private pending: PendingReplication[] = [];
  private queue: ReplicationQueue;
  private exclusive: ExclusiveWork = alone;
  /** Labels whose last change could not be written to the queue (the database away): written next pass. */
  private readonly unsaved = new Set<string>();
  private transportState: TransportKeyState = 'unavailable';
  private transportProblem: string | undefined;
  private catchingUp: Promise<void> | undefined;
  private copies = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly file: FileReplicationQueue;
  private readonly transport: TransportLabels;

  constructor(
    private readonly failover: TokenFailover,
    dataDir: string,
    readonly transportKeyLabel: string,
    catchUpMs: number,
    /** How long an object may wait for its copies while extractable (config replicationWindowSeconds). */
    private readonly windowMs = 86_400_000,
  ) {
    this.transport = transportLabels(transportKeyLabel);
    this.file = new FileReplicationQueue(dataDir);
    this.queue = this.file;
    if (this.enabled && catchUpMs > 0) {
      this.timer = setInterval(() => void this.catchUp(), catchUpMs);
      this.timer.unref();
    }
  }

  /** Replication only exists with several backends; a single token keeps never-extractable keys. */
  get enabled(): boolean {
    return this.failover.tokens.length > 1;
  }

  /**
   * From now on the queue is `queue` (the metadata database every node shares) and catch-up passes
   * run only while `exclusive` (the hsm-replication lease) is held. What this node queued in its data
   * directory's file before is moved there, and the file removed.
   */
  async share(queue: ReplicationQueue, exclusive: ExclusiveWork): Promise<void> {
    for (const entry of await this.file.list()) await queue.put(entry);
    this.file.delete();
    this.queue = queue;
    this.exclusive = exclusive;
    this.pending = await queue.list();
  }

  /** Copies this process made onto other backends (inline and in catch-up passes). */
  get copiesMade(): number {
    return this.copies;
  }

  /** How many objects `backend` still lacks. */
  pendingFor(backend: string): number {
    return this.pending.filter((p) => p.missing.includes(backend)).length;
  }

  /** Why replication cannot run now, for status details (undefined when it can). */
  get problem(): string | undefined {
    return this.transportState === 'unavailable' ? this.transportProblem : undefined;
  }

  /**
   * Makes sure every token holds the same transport key. When any token lacks it, a fresh one is
   * generated in the first token and sent to all (old copies destroyed first, so a half-finished
   * setup is redone rather than left with two different keys). Needs every backend reachable and its
   * SO PIN, and must run while nothing else uses the tokens (`hsm init`, start-up).
   */
  async ensureTransportKey(): Promise<TransportKeyState> {
    if (!this.enabled) return (this.transportState = 'not-needed');
    const tokens = this.failover.tokens;
    const presence = await Promise.all(
      tokens.map((token) =>
        token
          .run((scope) => hasTransportKey(scope, this.transport))
          .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ),
    );
    if (presence.every((present) => present === true)) {
      this.transportProblem = undefined;
      return (this.transportState = 'present');
    }
    const unreachable = tokens.filter((_, i) => presence[i] instanceof Error).map((t) => t.name);
    const noSoPin = tokens.filter((t) => t.options.soPin === undefined).map((t) => t.name);
    if (unreachable.length > 0 || noSoPin.length > 0) {
      this.transportProblem =
        unreachable.length > 0
          ? `no transport key yet and ${unreachable.join(', ')} unreachable`
          : `no transport key yet and no soPin for ${noSoPin.join(', ')}`;
      return (this.transportState = 'unavailable');
    }
    try {
      await distributeTransportKey(tokens, this.transportKeyLabel);
    } catch (error) {
      this.transportProblem = `setting up the transport key failed: ${(error as Error).message}`;
      this.transportState = 'unavailable';
      throw error;
    }
    this.transportProblem = undefined;
    return (this.transportState = 'created');
  }

  /**
   * Copies `label` from `source` to every backend lacking it, then seals it on `source`. What
   * could not be done is recorded and retried by catchUp(); returns the backends that still lack
   * the object. Throws only NotCopyableError: the token can never wrap this kind of key (SoftHSM
   * 2.6.1 and Ed25519), so nothing is recorded.
   */
  async replicate(source: Pkcs11Token, label: string, objectClass: number): Promise<string[]> {
    if (!this.enabled) return [];
    const entry = this.pending.find((p) => p.label === label);
    const createdAt = entry?.createdAt ?? new Date().toISOString();
    const missing: string[] = [];
    let wrapped: Wrapped | undefined;
    let sealed = false;
    try {
      for (const target of this.failover.tokens) {
        if (target === source) continue;
        try {
          const present = await target.run((scope) => scope.find(label, objectClass) !== undefined);
          if (present) continue;
          wrapped ??= await source.run((scope) => this.wrap(scope, source, label, objectClass));
          const copy = wrapped;
          await target.run((scope) => this.unwrap(scope, target, label, copy));
          this.copies++;
        } catch (error) {
          if (error instanceof NotCopyableError) {
            // An entry from before such keys were refused: sealed, so that it stops being
            // extractable, and no longer pending.
            if (entry) {
              await source.run((scope) => seal(scope, label, objectClass)).catch(() => undefined);
              await this.record(label, undefined);
            }
            throw error;
          }
          missing.push(target.name);
        }
      }
      if (missing.length === 0) {
        await source.run((scope) => seal(scope, label, objectClass));
        sealed = true;
      }
    } catch (error) {
      if (error instanceof NotCopyableError) throw error;
      // Sealing failed (the source went away): the entry stays pending with nothing missing.
    } finally {
      wrapped?.blob.fill(0);
    }
    const next: PendingReplication | undefined = sealed
      ? undefined
      : { label, objectClass, source: source.name, missing, createdAt, expired: false };
    // Written only when it changes (usually not: a new object copied everywhere at once).
    if (JSON.stringify(entry) !== JSON.stringify(next)) await this.record(label, next);
    return missing;
  }

  /**
   * Retries every pending object (one pass at a time, and in one process of the cluster at a time);
   * one small read of the queue when nothing is pending. Never throws.
   */
  async catchUp(): Promise<void> {
    if (!this.enabled || this.transportState === 'not-needed') return;
    this.catchingUp ??= (async () => {
      try {
        await this.saveUnsaved();
        this.pending = await this.queue.list();
        if (this.pending.length === 0) return;
        await this.exclusive.whileHeld(async () => {
          // Read again under the lease: the previous holder may have copied some since.
          this.pending = await this.queue.list();
          for (const entry of [...this.pending]) {
            const source = this.failover.tokens.find((t) => t.name === entry.source);
            // The source is no longer configured: nothing can copy this object any more.
            if (!source || source.circuit === 'open' || entry.expired) continue;
            if (this.windowPassed(entry)) await this.expire(source, entry);
            else await this.replicate(source, entry.label, entry.objectClass).catch(ignoreNotCopyable);
          }
        });
      } catch {
        // The queue (the database) is away: the next pass tries again.
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  /** The object was destroyed everywhere: nothing left to replicate. */
  forget(label: string): void {
    if (!this.pending.some((p) => p.label === label)) return;
    void this.record(label, undefined);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private windowPassed(entry: PendingReplication): boolean {
    return Date.now() - Date.parse(entry.createdAt) > this.windowMs;
  }

  /** Sets (or, undefined, removes) the label's entry here and in the queue; a failed write is retried. */
  private async record(label: string, entry: PendingReplication | undefined): Promise<void> {
    this.pending = this.pending.filter((p) => p.label !== label);
    if (entry) this.pending.push(entry);
    try {
      if (entry) await this.queue.put(entry);
      else await this.queue.remove(label);
      this.unsaved.delete(label);
    } catch {
      this.unsaved.add(label);
    }
  }

  private async saveUnsaved(): Promise<void> {
    for (const label of [...this.unsaved]) {
      await this.record(
        label,
        this.pending.find((p) => p.label === label),
      );
      // Still failing: leave the rest for the next pass, and keep this process's view until then.
      if (this.unsaved.has(label)) throw new KmsError('Unavailable', 'the replication queue is unavailable');
    }
  }

  /** Seals the original for good; the entry stays (expired) so status keeps counting what is missing. */
  private async expire(source: Pkcs11Token, entry: PendingReplication): Promise<void> {
    try {
      await source.run((scope) => seal(scope, entry.label, entry.objectClass));
    } catch {
      return; // The source is away: tried again on the next pass.
    }
    await this.record(entry.label, { ...entry, expired: true });
  }

  private wrap(scope: SessionScope, source: Pkcs11Token, label: string, objectClass: number): Wrapped {
    const { api, session } = scope;
    const key = scope.find(label, objectClass);
    if (!key) throw new KmsError('Unavailable', `${label} is missing from ${source.name}`);
    const transport = this.transportKey(scope, source, 'wrap');
    const [extractable] = api.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_EXTRACTABLE }]);
    if (!extractable?.value?.[0]) {
      throw new KmsError(
        'Unavailable',
        `${label} on ${source.name} is not extractable (made before several backends were configured): copy it with the vendor's tools`,
      );
    }
    const shape = readShape(scope, key, objectClass);
    // RFC 3394 for AES keys; the padded variant for keys of other lengths and PKCS#8 private keys.
    // SoftHSM 2.6's CKM_AES_KEY_WRAP_PAD is not RFC 5649, but it only has to agree with itself here.
    const mechanism =
      shape.keyType === pkcs11js.CKK_AES ? pkcs11js.CKM_AES_KEY_WRAP : pkcs11js.CKM_AES_KEY_WRAP_PAD;
    try {
      const blob = api.C_WrapKey(session, { mechanism }, transport, key, Buffer.alloc(MAX_WRAPPED_BYTES));
      return { blob, mechanism, shape };
    } catch (error) {
      if (pkcs11Code(error) === pkcs11js.CKR_KEY_NOT_WRAPPABLE) {
        throw new NotCopyableError(`${source.name} cannot wrap ${label} (CKR_KEY_NOT_WRAPPABLE)`);
      }
      throw refused(error, `${source.name} refused to wrap ${label}`);
    }
  }

  private unwrap(scope: SessionScope, target: Pkcs11Token, label: string, wrapped: Wrapped): void {
    const transport = this.transportKey(scope, target, 'unwrap');
    try {
      scope.api.C_UnwrapKey(
        scope.session,
        { mechanism: wrapped.mechanism },
        transport,
        wrapped.blob,
        replicaTemplate(label, wrapped.shape),
      );
    } catch (error) {
      throw refused(error, `${target.name} refused to unwrap ${label}`);
    }
  }

  private transportKey(scope: SessionScope, token: Pkcs11Token, use: 'wrap' | 'unwrap'): Handle {
    const handle = scope.find(this.transport[use], pkcs11js.CKO_SECRET_KEY, `transport-${use}`);
    if (!handle) {
      throw new KmsError(
        'Unavailable',
        `${token.name} has no transport key "${this.transport[use]}" (run keyhaven hsm init with every backend's soPin)`,
      );
    }
    return handle;
  }
}

/** The original's class, type and usage flags, so the copy allows exactly the same operations. */
function readShape({ api, session }: SessionScope, key: Handle, objectClass: number): ReplicaShape {
  const secret = objectClass === pkcs11js.CKO_SECRET_KEY;
  const flags = secret
    ? [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY]
    : [pkcs11js.CKA_SIGN, pkcs11js.CKA_DECRYPT];
  const [keyType, allowed, ...values] = api.C_GetAttributeValue(session, key, [
    { type: pkcs11js.CKA_KEY_TYPE },
    { type: pkcs11js.CKA_ALLOWED_MECHANISMS },
    ...flags.map((type) => ({ type })),
  ]);
  const usage: ReplicaShape['usage'] = flags.map((type, i) => ({ type, value: values[i]?.value?.[0] === 1 }));
  const off = secret
    ? [pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE]
    : [pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE];
  return {
    objectClass,
    keyType: keyType!.value!.readUInt32LE(0),
    usage: [...usage, ...off.map((type) => ({ type, value: false }))],
    // The copy is restricted to the same mechanisms as the original (pkcs11-templates.ts).
    allowedMechanisms: allowed?.value && allowed.value.length > 0 ? Buffer.from(allowed.value) : undefined,
  };
}

/** CKA_EXTRACTABLE true -> false: the one direction PKCS#11 allows (v2.40 §4.10, footnote 11). */
function seal({ api, session, find }: SessionScope, label: string, objectClass: number): void {
  const key = find(label, objectClass);
  if (!key) return;
  const [extractable] = api.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_EXTRACTABLE }]);
  if (!extractable?.value?.[0]) return;
  api.C_SetAttributeValue(session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: false }]);
}

/** The source token can never wrap this kind of key, so no backend can ever get a copy. */
export class NotCopyableError extends KmsError {
  constructor(message: string) {
    super('ValidationError', message);
  }
}

function ignoreNotCopyable(error: unknown): void {
  if (!(error instanceof NotCopyableError)) throw error;
}

/** A wrap/unwrap refusal is the object's or key's, not the token's health: keep it off the circuit. */
function refused(error: unknown, message: string): unknown {
  const code = pkcs11Code(error);
  if (code === undefined || !REFUSED_WRAP.has(code)) return error;
  return new KmsError('Unavailable', `${message} (${pkcs11ErrorName(error)})`, { cause: error });
}
