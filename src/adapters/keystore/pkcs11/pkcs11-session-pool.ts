// A bounded pool of sessions on one token, reused across requests. It also owns what sessions hang
// on: the slot (looked up by token label) and the library generation they belong to; when the library
// was re-initialised, every session, login and object handle of the old generation is void.
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import type { Pkcs11Api, Pkcs11Module } from './pkcs11-module.js';
import type { Handle } from './pkcs11-object-policy.js';

export const SESSION_FLAGS = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

/**
 * The token is missing, or misses an object it must hold. Repaired like a token failure (SoftHSM
 * shows a token directory that was restored only after re-initialisation), then reported Unavailable.
 */
export class TokenLostError extends Error {
  override name = 'TokenLostError';
}

export interface SessionPoolOptions {
  /** The backend's name, for error messages. */
  name: string;
  tokenLabel: string;
  size: number;
  /** How long a request waits for a free session before failing with Unavailable. */
  waitMs: number;
  /** Makes a new session usable (logs in); a throw closes the session again. */
  prepare(api: Pkcs11Api, session: Handle): void;
  /** Called when the pool moves to a new library generation: logins and handles are void. */
  onNewGeneration(): void;
}

interface Waiter {
  resolve: (session: Handle) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface SessionCounts {
  open: number;
  inUse: number;
  waiting: number;
  max: number;
}

export class SessionPool {
  private slotHandle: Handle | undefined;
  /** Module generation the slot and sessions belong to (-1: none yet). */
  private generation = -1;
  private idle: Handle[] = [];
  private open = 0;
  private inUse = 0;
  private waiters: Waiter[] = [];
  private closed = false;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly options: SessionPoolOptions,
  ) {}

  /** The token's slot; valid while a session borrowed from this pool is held. */
  get slot(): Handle {
    return this.slotHandle!;
  }

  counts(): SessionCounts {
    return { open: this.open, inUse: this.inUse, waiting: this.waiters.length, max: this.options.size };
  }

  /** Borrows a session: an idle one, a new one while the pool has room, else waits in line. */
  async acquire(): Promise<Handle> {
    this.syncGeneration();
    const idle = this.idle.pop();
    if (idle) {
      this.inUse++;
      return idle;
    }
    if (this.open < this.options.size) {
      this.open++;
      try {
        const session = await this.module.call(() => this.openSession());
        this.inUse++;
        return session;
      } catch (error) {
        this.open--;
        throw error;
      }
    }
    return new Promise<Handle>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (session) => {
          this.inUse++;
          resolve(session);
        },
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new KmsError(
              'Unavailable',
              `HSM backend ${this.options.name}: no free session within ${this.options.waitMs} ms`,
            ),
          );
        }, this.options.waitMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Returns a session; an unhealthy or outdated one is closed and its place offered to a waiter. */
  release(session: Handle, healthy: boolean): void {
    this.inUse--;
    const current = this.generation === this.module.generation && this.slotHandle !== undefined;
    if (!healthy || !current || this.closed) {
      this.closeSession(session);
      this.open--;
      const waiter = this.waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        // The freed place goes to the first waiter, who opens a session of its own.
        this.acquire().then(
          (fresh) => {
            this.inUse--;
            waiter.resolve(fresh);
          },
          (error: Error) => waiter.reject(error),
        );
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(session);
    } else {
      this.idle.push(session);
    }
  }

  /** Closes the idle sessions (sessions in use are left to their current operation). */
  dropIdle(): void {
    for (const session of this.idle.splice(0)) {
      this.closeSession(session);
      this.open--;
    }
  }

  /** Drops the slot and idle sessions: both are looked up afresh on next use. */
  invalidate(): void {
    this.dropIdle();
    this.slotHandle = undefined;
    this.generation = -1;
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new KmsError('Unavailable', `HSM backend ${this.options.name} is closing`));
    }
    for (const session of this.idle.splice(0)) this.closeSession(session);
  }

  /** After the library was re-initialised (by this token or another on it), nothing old is valid. */
  private syncGeneration(): void {
    if (this.generation === this.module.generation) return;
    if (this.generation !== -1) {
      // Sessions of an older generation died with C_Finalize: forget them without closing.
      this.open -= this.idle.length;
      this.idle = [];
    }
    this.slotHandle = undefined;
    this.options.onNewGeneration();
    this.generation = this.module.generation;
  }

  private openSession(): Handle {
    const api = this.module.api;
    this.slotHandle ??= this.findSlot(api);
    const session = api.C_OpenSession(this.slotHandle, SESSION_FLAGS);
    try {
      this.options.prepare(api, session);
    } catch (error) {
      this.closeSession(session);
      throw error;
    }
    return session;
  }

  private findSlot(api: Pkcs11Api): Handle {
    for (const slot of api.C_GetSlotList(true)) {
      if (api.C_GetTokenInfo(slot).label.trimEnd() === this.options.tokenLabel) return slot;
    }
    throw new TokenLostError(`no token labelled "${this.options.tokenLabel}" is present`);
  }

  private closeSession(session: Handle): void {
    try {
      this.module.api.C_CloseSession(session);
    } catch {
      // The session may already be gone with its token; there is nothing left to free.
    }
  }
}
