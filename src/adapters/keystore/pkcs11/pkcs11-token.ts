// One configured PKCS#11 backend: a library, the slot holding the token with a given label, a bounded
// pool of logged-in sessions reused across requests, cached object handles, and a circuit breaker.
// Recovery is automatic: a dead session is replaced, a lost login is redone, and a token that went
// away is looked up again (re-initialising the library if need be) the next time the circuit allows.
import pkcs11js from 'pkcs11js';
import { ConfigError } from '../../../config.js';
import { KmsError } from '../../../domain/errors.js';
import type { BackendStatus, LatencyHistogram } from '../../../ports/root-key-store.js';
import { CircuitBreaker, type CircuitState } from '../circuit-breaker.js';
import { classifyPkcs11Error, pkcs11Code, pkcs11ErrorName, type Pkcs11Failure } from './pkcs11-errors.js';
import { openPkcs11Module, type Pkcs11Api, type Pkcs11Module } from './pkcs11-module.js';
import { ObjectLookup } from './pkcs11-object-lookup.js';
import type { Handle, ObjectRole } from './pkcs11-object-policy.js';

export type { Handle } from './pkcs11-object-policy.js';

export interface Pkcs11TokenOptions {
  /** Name shown in /ready, /metrics and `keyhaven hsm status`. */
  name: string;
  module: string;
  tokenLabel: string;
  pin: string;
  /** Security officer PIN: only for setting up the transport key (runAsSecurityOfficer). */
  soPin?: string;
  sessionPoolSize: number;
  /** How long a request waits for a free session before failing with Unavailable. */
  sessionWaitMs: number;
  failureThreshold: number;
  openMs: number;
  /**
   * Interval of the background health probe (0: none). Some tokens (SoftHSM among them) keep serving
   * cached objects after the device is gone; the probe notices, so the circuit opens before requests
   * depend on it.
   */
  healthCheckMs: number;
  /** A secret-key label every healthy token holds (the root key): the probe looks it up afresh. */
  probeLabel?: string;
  /** Several backends share objects by replication: keys may be copies (pkcs11-object-policy.ts). */
  replicated: boolean;
}

/** What an operation gets: the library, a logged-in session it owns until it returns, and lookups. */
export interface SessionScope {
  api: Pkcs11Api;
  session: Handle;
  slot: Handle;
  /**
   * The handle of our object with this label and class (`role` says what it must be; default a key),
   * checked before first use; undefined when there is none. Throws UntrustedObjectError for an
   * object under that label that fails the checks.
   */
  find(label: string, objectClass: number, role?: ObjectRole): Handle | undefined;
  /** Like find, for an object that must exist: its absence means the token is not the one we know. */
  require(label: string, objectClass: number, role?: ObjectRole): Handle;
}

/** A backend failure (not the request's): the next backend in line may serve the request. */
export class HsmUnavailableError extends KmsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
}

/**
 * The token is missing, or misses an object it must hold. Repaired like a token failure (SoftHSM
 * shows a token directory that was restored only after re-initialisation), then reported Unavailable.
 */
export class TokenLostError extends Error {
  override name = 'TokenLostError';
}

export interface TokenStatistics {
  operations: number;
  failures: number;
  /** Exponentially weighted mean latency of successful operations, in milliseconds. */
  latencyMs: number;
  sessionsOpen: number;
  sessionsInUse: number;
  sessionsWaiting: number;
}

/** Upper bounds (seconds) of the latency histogram: HSM calls take from ~0.1 ms to seconds (RSA-4096). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Waiter {
  resolve: (session: Handle) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export const SESSION_FLAGS = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

export class Pkcs11Token {
  readonly breaker: CircuitBreaker;
  private readonly module: Pkcs11Module;
  private slot: Handle | undefined;
  /** Module generation the slot, sessions, login and handles belong to. */
  private generation = -1;
  private loggedIn = false;
  private idle: Handle[] = [];
  private open = 0;
  private inUse = 0;
  private waiters: Waiter[] = [];
  private readonly objects: ObjectLookup;
  private lastError: string | undefined;
  private readonly stats = { operations: 0, failures: 0, latencyMs: 0 };
  private readonly latency = { sumSeconds: 0, counts: LATENCY_BUCKETS.map(() => 0) };
  /** Outcome of the last health probe (undefined before the first). */
  private lastProbeHealthy: boolean | undefined;
  private closed = false;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: Pkcs11TokenOptions) {
    this.module = openPkcs11Module(options.module);
    this.objects = new ObjectLookup(
      { name: options.name, tokenLabel: options.tokenLabel },
      options.replicated,
    );
    this.breaker = new CircuitBreaker({ failureThreshold: options.failureThreshold, openMs: options.openMs });
  }

  /**
   * Starts the background health probe (healthCheckMs; 0 = none). Called once the key store is open:
   * a probe during set-up would see the root key missing, re-initialise the library and break the
   * security officer's transport key set-up under way.
   */
  startHealthChecks(): void {
    if (this.options.healthCheckMs <= 0 || this.healthTimer || this.closed) return;
    this.healthTimer = setInterval(() => void this.probe(), this.options.healthCheckMs);
    this.healthTimer.unref();
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * Runs `operation` on a pooled session. Stale sessions, handles and logins are repaired and the
   * operation retried once; a broken token fails with Unavailable and counts against the circuit.
   * KmsErrors thrown by the operation pass through untouched (they are the request's verdict).
   */
  async run<T>(operation: (scope: SessionScope) => Promise<T> | T): Promise<T> {
    if (this.closed) throw new KmsError('Unavailable', `HSM backend ${this.name} is closed`);
    if (!this.breaker.tryAcquire()) {
      throw new HsmUnavailableError(`HSM backend ${this.name} is unavailable (circuit open)`);
    }
    const started = performance.now();
    let lastFailure: unknown;
    let failure: Pkcs11Failure | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let session: Handle | undefined;
      let healthy = true;
      try {
        session = await this.acquire();
        if (!this.loggedIn) await this.module.call((api) => this.logIn(api, session!));
        const scope = this.scope(session);
        const result = await this.module.call(() => operation(scope));
        this.recordSuccess(performance.now() - started);
        return result;
      } catch (error) {
        if (error instanceof KmsError) {
          // The operation's own verdict on the request (or a full pool): says nothing about the token.
          this.breaker.release();
          throw error;
        }
        lastFailure = error;
        failure = error instanceof TokenLostError ? 'token' : classifyPkcs11Error(error);
        healthy = failure !== 'session' && failure !== 'token';
        if (!(await this.repair(failure)) || attempt === 1) break;
      } finally {
        if (session) this.release(session, healthy);
      }
    }
    if (failure === 'unsupported' || failure === 'input') {
      // The token refused this request (a mechanism or parameter it lacks, input it rejects).
      this.breaker.release();
      throw new KmsError(
        'ValidationError',
        `HSM backend ${this.name} cannot perform this operation (${pkcs11ErrorName(lastFailure)})`,
        { cause: lastFailure },
      );
    }
    const reason = lastFailure instanceof TokenLostError ? lastFailure.message : pkcs11ErrorName(lastFailure);
    this.recordFailure(reason);
    throw new HsmUnavailableError(`HSM backend ${this.name} failed: ${reason}`, { cause: lastFailure });
  }

  /** Connects (slot lookup and login) at start-up; throws ConfigError for a wrong PIN. */
  async connect(): Promise<void> {
    try {
      await this.run(() => undefined);
    } catch (error) {
      if (error instanceof HsmUnavailableError && classifyPkcs11Error(error.cause) === 'pin') {
        throw new ConfigError(
          `the PIN for token "${this.options.tokenLabel}" was refused (${pkcs11ErrorName(error.cause)})`,
        );
      }
      throw error;
    }
  }

  /**
   * Health check for /ready and the background probe, through the circuit: the token answers
   * C_GetTokenInfo and still holds the probe object (looked up afresh, not from the handle cache).
   */
  async probe(): Promise<BackendStatus> {
    const label = this.options.probeLabel;
    try {
      await this.run((scope) => {
        scope.api.C_GetTokenInfo(scope.slot);
        if (label === undefined) return;
        this.forgetHandle(label, pkcs11js.CKO_SECRET_KEY);
        scope.require(label, pkcs11js.CKO_SECRET_KEY);
      });
      this.lastProbeHealthy = true;
      return this.snapshot();
    } catch (error) {
      this.lastProbeHealthy = false;
      const reason = error instanceof Error ? error.message : String(error);
      return { ...this.snapshot(), healthy: false, detail: `${this.describe()}; ${reason}` };
    }
  }

  /** The last known state, without touching the token (for metrics scrapes). */
  snapshot(): BackendStatus {
    const s = this.statistics();
    const circuit = this.circuit;
    return {
      name: this.name,
      kind: 'pkcs11',
      healthy: this.lastProbeHealthy !== false && circuit === 'closed',
      detail: this.describe(),
      circuit,
      sessions: {
        inUse: s.sessionsInUse,
        open: s.sessionsOpen,
        max: this.options.sessionPoolSize,
        waiting: s.sessionsWaiting,
      },
      calls: { total: s.operations + s.failures, failures: s.failures, latency: this.latencyHistogram() },
    };
  }

  private latencyHistogram(): LatencyHistogram {
    let cumulative = 0;
    return {
      count: this.stats.operations,
      sumSeconds: this.latency.sumSeconds,
      buckets: LATENCY_BUCKETS.map((le, i) => ({ le, count: (cumulative += this.latency.counts[i]!) })),
    };
  }

  get circuit(): CircuitState {
    return this.breaker.state;
  }

  statistics(): TokenStatistics {
    return {
      ...this.stats,
      sessionsOpen: this.open,
      sessionsInUse: this.inUse,
      sessionsWaiting: this.waiters.length,
    };
  }

  /**
   * Runs `operation` logged in as the security officer (CKA_TRUSTED can only be set by the SO), then
   * logs out; the next operation logs the user in again. PKCS#11 login is per application and token,
   * so this logs every session out: call it only while nothing else uses the token (init, start-up).
   */
  async runAsSecurityOfficer<T>(operation: (scope: SessionScope) => Promise<T> | T): Promise<T> {
    const soPin = this.options.soPin;
    if (soPin === undefined) {
      throw new KmsError('Unavailable', `HSM backend ${this.name} has no security officer PIN (soPin)`);
    }
    return this.run(async (scope) => {
      const { api, session } = scope;
      try {
        api.C_Logout(session);
      } catch {
        // Not logged in: nothing to undo.
      }
      this.loggedIn = false;
      try {
        api.C_Login(session, pkcs11js.CKU_SO, soPin);
      } catch (error) {
        // A refused SO PIN is the configuration's fault, not the token's: keep the circuit out of it.
        throw new KmsError(
          'Unavailable',
          `HSM backend ${this.name} refused the security officer login (${pkcs11ErrorName(error)})`,
          { cause: error },
        );
      }
      try {
        return await operation(scope);
      } finally {
        try {
          api.C_Logout(session);
        } catch {
          // The session may be gone; the next operation logs in afresh anyway.
        }
      }
    });
  }

  /** Mechanisms the token offers (for `keyhaven hsm init`). */
  async mechanisms(): Promise<number[]> {
    return this.run(({ api, slot }) => api.C_GetMechanismList(slot));
  }

  forgetHandle(label: string, objectClass: number): void {
    this.objects.forget(label, objectClass);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.healthTimer);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new KmsError('Unavailable', `HSM backend ${this.name} is closing`));
    }
    for (const session of this.idle.splice(0)) this.closeSession(session);
    this.module.release();
  }

  private describe(): string {
    const s = this.statistics();
    return (
      `token "${this.options.tokenLabel}", circuit ${this.circuit}, sessions ${s.sessionsInUse}/${s.sessionsOpen}` +
      ` in use (max ${this.options.sessionPoolSize}), latency ${s.latencyMs.toFixed(2)} ms` +
      (this.lastError && this.circuit !== 'closed' ? `, last error ${this.lastError}` : '')
    );
  }

  private recordSuccess(ms: number): void {
    this.breaker.success();
    this.stats.operations++;
    this.stats.latencyMs = this.stats.operations === 1 ? ms : this.stats.latencyMs * 0.9 + ms * 0.1;
    const seconds = ms / 1000;
    this.latency.sumSeconds += seconds;
    const bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) this.latency.counts[bucket]!++;
  }

  private recordFailure(reason: string): void {
    this.breaker.failure();
    this.stats.failures++;
    this.lastError = reason;
  }

  /** Repairs what `failure` says is broken; returns whether a retry can help. */
  private async repair(failure: Pkcs11Failure): Promise<boolean> {
    switch (failure) {
      case 'session':
        // One dead session usually means all of them died (token reset, C_CloseAllSessions), and
        // with the last session the token forgets the login: private objects would look absent.
        this.dropIdleSessions();
        this.loggedIn = false;
        return true;
      case 'login':
        this.loggedIn = false;
        return true;
      case 'object':
        // A logged-out session sees no private objects either: log in again before looking them up.
        this.objects.clear();
        this.loggedIn = false;
        return true;
      case 'token':
        this.invalidate();
        // SoftHSM (and some vendor libraries) only see a token that came back after re-initialising.
        await this.module.reinitialize();
        return true;
      default:
        return false;
    }
  }

  /** Closes the pooled idle sessions (sessions in use are left to their current operation). */
  private dropIdleSessions(): void {
    for (const session of this.idle.splice(0)) {
      this.closeSession(session);
      this.open--;
    }
  }

  /** Drops the slot, login, idle sessions and handles: all are looked up afresh on next use. */
  private invalidate(): void {
    this.dropIdleSessions();
    this.slot = undefined;
    this.loggedIn = false;
    this.objects.clear();
    this.generation = -1;
  }

  private scope(session: Handle): SessionScope {
    const api = this.module.api;
    const slot = this.slot!;
    const scope: SessionScope = {
      api,
      session,
      slot,
      require: (label, objectClass, role) => {
        const handle = scope.find(label, objectClass, role);
        if (!handle)
          throw new TokenLostError(`object "${label}" is missing from token "${this.options.tokenLabel}"`);
        return handle;
      },
      find: (label, objectClass, role = 'key') => this.objects.find(api, session, label, objectClass, role),
    };
    return scope;
  }

  /** Borrows a session: an idle one, a new one while the pool has room, else waits in line. */
  private async acquire(): Promise<Handle> {
    this.syncGeneration();
    const idle = this.idle.pop();
    if (idle) {
      this.inUse++;
      return idle;
    }
    if (this.open < this.options.sessionPoolSize) {
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
              `HSM backend ${this.name}: no free session within ${this.options.sessionWaitMs} ms`,
            ),
          );
        }, this.options.sessionWaitMs),
      };
      this.waiters.push(waiter);
    });
  }

  private release(session: Handle, healthy: boolean): void {
    this.inUse--;
    const current = this.generation === this.module.generation && this.slot !== undefined;
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

  /** After the library was re-initialised (by this token or another on it), nothing old is valid. */
  private syncGeneration(): void {
    if (this.generation === this.module.generation) return;
    if (this.generation !== -1) {
      // Sessions of an older generation died with C_Finalize: forget them without closing.
      this.open -= this.idle.length;
      this.idle = [];
    }
    this.slot = undefined;
    this.loggedIn = false;
    this.objects.clear();
    this.generation = this.module.generation;
  }

  private openSession(): Handle {
    const api = this.module.api;
    this.slot ??= this.findSlot(api);
    const session = api.C_OpenSession(this.slot, SESSION_FLAGS);
    try {
      if (!this.loggedIn) this.logIn(api, session);
    } catch (error) {
      this.closeSession(session);
      throw error;
    }
    return session;
  }

  /** PKCS#11 login is per application and token: one C_Login serves every session. */
  private logIn(api: Pkcs11Api, session: Handle): void {
    try {
      api.C_Login(session, pkcs11js.CKU_USER, this.options.pin);
    } catch (error) {
      if (pkcs11Code(error) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error;
    }
    this.loggedIn = true;
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
