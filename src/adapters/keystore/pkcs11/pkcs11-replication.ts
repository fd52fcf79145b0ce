// Replication of key objects between several PKCS#11 backends (docs/hsm.md "Several HSMs"). A shared
// transport key (pkcs11-transport-key.ts: a wrap-only and an unwrap-only object per token) carries
// each new object: made on one backend extractable only under trusted keys (CKA_WRAP_WITH_TRUSTED),
// wrapped there (C_WrapKey), unwrapped into every other backend as a non-extractable copy, then
// sealed on its source (CKA_EXTRACTABLE true -> false). What a backend missed while it was down is
// listed in <dataDir>/pkcs11-replication.json and copied by a catch-up pass once it answers again,
// for at most `windowMs`: then the original is sealed anyway, so nothing stays extractable for long.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import type { Pkcs11Backends } from './pkcs11-backends.js';
import { pkcs11Code, pkcs11ErrorName } from './pkcs11-errors.js';
import type { Handle } from './pkcs11-object-policy.js';
import { replicaTemplate, type ReplicaShape } from './pkcs11-templates.js';
import type { Pkcs11Token, SessionScope } from './pkcs11-token.js';
import {
  distributeTransportKey,
  hasTransportKey,
  transportLabels,
  type TransportLabels,
} from './pkcs11-transport-key.js';

export const REPLICATION_FILE = 'pkcs11-replication.json';

/** An object that exists on `source` but not yet on every backend, or is not sealed there yet. */
interface PendingObject {
  label: string;
  objectClass: number;
  source: string;
  missing: string[];
  /** When the object was made (ISO 8601): it may stay extractable until createdAt + window. */
  createdAt?: string;
  /** The window passed: the original was sealed, the missing backends will never get it. */
  expired?: boolean;
}

interface ReplicationFile {
  version: 1;
  pending: PendingObject[];
}

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
  private pending: PendingObject[];
  private transportState: TransportKeyState = 'unavailable';
  private transportProblem: string | undefined;
  private catchingUp: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly path: string;
  private readonly transport: TransportLabels;

  constructor(
    private readonly backends: Pkcs11Backends,
    dataDir: string,
    readonly transportKeyLabel: string,
    catchUpMs: number,
    /** How long an object may wait for its copies while extractable (config replicationWindowSeconds). */
    private readonly windowMs = 86_400_000,
  ) {
    this.transport = transportLabels(transportKeyLabel);
    this.path = join(dataDir, REPLICATION_FILE);
    this.pending = this.read();
    if (this.enabled && catchUpMs > 0) {
      this.timer = setInterval(() => void this.catchUp(), catchUpMs);
      this.timer.unref();
    }
  }

  /** Replication only exists with several backends; a single token keeps never-extractable keys. */
  get enabled(): boolean {
    return this.backends.tokens.length > 1;
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
    const tokens = this.backends.tokens;
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
   * Copies `label` from `source` to every backend lacking it, then seals it on `source`. Never
   * throws: what could not be done is recorded and retried by catchUp(). Returns the backends
   * that still lack the object.
   */
  async replicate(source: Pkcs11Token, label: string, objectClass: number): Promise<string[]> {
    if (!this.enabled) return [];
    const entry = this.pending.find((p) => p.label === label);
    const createdAt = entry?.createdAt ?? new Date().toISOString();
    const missing: string[] = [];
    let wrapped: Wrapped | undefined;
    let sealed = false;
    try {
      for (const target of this.backends.tokens) {
        if (target === source) continue;
        try {
          const present = await target.run((scope) => scope.find(label, objectClass) !== undefined);
          if (present) continue;
          wrapped ??= await source.run((scope) => this.wrap(scope, source, label, objectClass));
          const copy = wrapped;
          await target.run((scope) => this.unwrap(scope, target, label, copy));
        } catch {
          missing.push(target.name);
        }
      }
      if (missing.length === 0) {
        await source.run((scope) => seal(scope, label, objectClass));
        sealed = true;
      }
    } catch {
      // Sealing failed (the source went away): the entry stays pending with nothing missing.
    } finally {
      wrapped?.blob.fill(0);
    }
    const before = JSON.stringify(this.pending);
    this.pending = this.pending.filter((p) => p.label !== label);
    if (!sealed) this.pending.push({ label, objectClass, source: source.name, missing, createdAt });
    // Rewritten only when its content changes (usually not: a new object copied everywhere at once).
    if (JSON.stringify(this.pending) !== before) this.write();
    return missing;
  }

  /** Retries every pending object (one pass at a time); cheap when nothing is pending. */
  async catchUp(): Promise<void> {
    if (this.pending.length === 0 || this.transportState === 'not-needed') return;
    this.catchingUp ??= (async () => {
      try {
        for (const entry of [...this.pending]) {
          const source = this.backends.tokens.find((t) => t.name === entry.source);
          // The source is no longer configured: nothing can copy this object any more.
          if (!source || source.circuit === 'open' || entry.expired) continue;
          if (this.windowPassed(entry)) await this.expire(source, entry);
          else await this.replicate(source, entry.label, entry.objectClass);
        }
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  /** The object was destroyed everywhere: nothing left to replicate. */
  forget(label: string): void {
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => p.label !== label);
    if (this.pending.length !== before) this.write();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private windowPassed(entry: PendingObject): boolean {
    // Entries written before createdAt existed start their window at this process's first look.
    entry.createdAt ??= new Date().toISOString();
    return Date.now() - Date.parse(entry.createdAt) > this.windowMs;
  }

  /** Seals the original for good; the entry stays (expired) so status keeps counting what is missing. */
  private async expire(source: Pkcs11Token, entry: PendingObject): Promise<void> {
    try {
      await source.run((scope) => seal(scope, entry.label, entry.objectClass));
    } catch {
      return; // The source is away: tried again on the next pass.
    }
    entry.expired = true;
    this.write();
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

  private read(): PendingObject[] {
    if (!existsSync(this.path)) return [];
    return (JSON.parse(readFileSync(this.path, 'utf8')) as ReplicationFile).pending;
  }

  private write(): void {
    const file: ReplicationFile = { version: 1, pending: this.pending };
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, this.path);
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

/** A wrap/unwrap refusal is the object's or key's, not the token's health: keep it off the circuit. */
function refused(error: unknown, message: string): unknown {
  const code = pkcs11Code(error);
  if (code === undefined || !REFUSED_WRAP.has(code)) return error;
  return new KmsError('Unavailable', `${message} (${pkcs11ErrorName(error)})`, { cause: error });
}
