// One configured HSM backend: a PKCS#11 library and the token with a given label, reached through a
// pool of logged-in sessions (pkcs11-session-pool.ts, pkcs11-token-login.ts), with cached object
// handles (pkcs11-object-lookup.ts), statistics and a circuit breaker. This file holds what ties them
// together: running an operation, with one retry after repairing what failed. Recovery is
// automatic: a dead session is replaced, a lost login is redone, and a token that went away is
// looked up again (re-initialising the library if need be) the next time the circuit allows.
import pkcs11js from 'pkcs11js';
import { ConfigError } from '../../../config.js';
import { KmsError } from '../../../domain/errors.js';
import type { KeyStoreStatus } from '../../../ports/key-store-status.js';
import { CircuitBreaker, type CircuitState } from '../../../integration/circuit-breaker.js';
import { classifyPkcs11Error, pkcs11ErrorName, type Pkcs11Failure } from './pkcs11-errors.js';
import { openPkcs11Module, type Pkcs11Api, type Pkcs11Module } from './pkcs11-module.js';
import { ObjectLookup, type ObjectVerifier } from './pkcs11-object-lookup.js';
import type { Handle, ObjectRole } from './pkcs11-object-policy.js';
import { SessionPool, TokenLostError } from './pkcs11-session-pool.js';
import { synchronousCalls } from './pkcs11-synchronous-calls.js';
import { TokenLogin } from './pkcs11-token-login.js';
import { TokenStatistics } from './pkcs11-token-statistics.js';

export type { Handle } from './pkcs11-object-policy.js';
export { SESSION_FLAGS, TokenLostError } from './pkcs11-session-pool.js';

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
  /** Short calls run synchronously on the event loop (pkcs11-synchronous-calls.ts). */
  synchronousCalls?: boolean;
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
  find(label: string, objectClass: number, role?: ObjectRole, verify?: ObjectVerifier): Handle | undefined;
  /** Like find, for an object that must exist: its absence means the token is not the one we know. */
  require(label: string, objectClass: number, role?: ObjectRole, verify?: ObjectVerifier): Handle;
}

/** A backend failure (not the request's): the next backend in line may serve the request. */
export class HsmUnavailableError extends KmsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
}

/** Counters and session use of one token (tests and the bench read them). */
export interface TokenStatisticsSnapshot {
  operations: number;
  failures: number;
  /** Exponentially weighted mean latency of successful operations, in milliseconds. */
  latencyMs: number;
  sessionsOpen: number;
  sessionsInUse: number;
  sessionsWaiting: number;
}

/**
 * Runs the health probe every `intervalMs` in the background (never keeping the process alive). Some
 * tokens (SoftHSM among them) keep serving cached objects after the device is gone; the probe
 * notices, so the circuit opens before requests depend on it.
 */
class HealthCheckTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly probe: () => Promise<unknown>,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export class Pkcs11Token {
  readonly breaker: CircuitBreaker;
  private readonly module: Pkcs11Module;
  /** The library as operations see it: its own Async calls, or synchronous ones (the option). */
  private readonly operationApi: Pkcs11Api;
  private readonly sessions: SessionPool;
  private readonly login: TokenLogin;
  private readonly objects: ObjectLookup;
  private readonly stats = new TokenStatistics();
  private readonly healthChecks: HealthCheckTimer;
  /** Outcome of the last health probe (undefined before the first). */
  private lastProbeHealthy: boolean | undefined;
  private closed = false;

  constructor(readonly options: Pkcs11TokenOptions) {
    this.module = openPkcs11Module(options.module);
    this.operationApi = options.synchronousCalls ? synchronousCalls(this.module.api) : this.module.api;
    this.objects = new ObjectLookup(
      { name: options.name, tokenLabel: options.tokenLabel },
      options.replicated,
    );
    this.login = new TokenLogin(options.name, options.pin);
    this.sessions = new SessionPool(this.module, {
      name: options.name,
      tokenLabel: options.tokenLabel,
      size: options.sessionPoolSize,
      waitMs: options.sessionWaitMs,
      prepare: (api, session) => this.login.ensure(api, session),
      onNewGeneration: () => {
        this.login.forget();
        this.objects.clear();
      },
    });
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      recoveryTimeoutMs: options.openMs,
      // A refusal of one request (a key's object, a mechanism) says nothing of the token.
      probeAnsweredWithClientError: 'release',
    });
    this.healthChecks = new HealthCheckTimer(options.healthCheckMs, () => this.probe());
  }

  /**
   * Starts the background health probe (healthCheckMs; 0 = none). Called once the key store is open:
   * a probe during set-up would see the root key missing, re-initialise the library and break the
   * security officer's transport key set-up under way.
   */
  startHealthChecks(): void {
    if (!this.closed) this.healthChecks.start();
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
        session = await this.sessions.acquire();
        if (!this.login.current) await this.module.call((api) => this.login.ensure(api, session!));
        const scope = this.scope(session);
        const result = await this.module.call(() => operation(scope));
        this.breaker.recordSuccess();
        this.stats.recordSuccess(performance.now() - started);
        return result;
      } catch (error) {
        if (error instanceof KmsError) {
          // The operation's own verdict on the request (or a full pool): says nothing about the token.
          this.breaker.releaseProbe();
          throw error;
        }
        lastFailure = error;
        failure = error instanceof TokenLostError ? 'token' : classifyPkcs11Error(error);
        healthy = failure !== 'session' && failure !== 'token';
        if (!(await this.repair(failure)) || attempt === 1) break;
      } finally {
        if (session) this.sessions.release(session, healthy);
      }
    }
    if (failure === 'unsupported' || failure === 'input') {
      // The token refused this request (a mechanism or parameter it lacks, input it rejects).
      this.breaker.releaseProbe();
      throw new KmsError(
        'ValidationError',
        `HSM backend ${this.name} cannot perform this operation (${pkcs11ErrorName(lastFailure)})`,
        { cause: lastFailure },
      );
    }
    const reason = lastFailure instanceof TokenLostError ? lastFailure.message : pkcs11ErrorName(lastFailure);
    this.breaker.recordFailure();
    this.stats.recordFailure(reason);
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
  async probe(): Promise<KeyStoreStatus> {
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
  snapshot(): KeyStoreStatus {
    const circuit = this.circuit;
    const { open, inUse, waiting, max } = this.sessions.counts();
    return {
      name: this.name,
      kind: 'pkcs11',
      // A backend that answers holds the root key (its probe checks it) and, replication caught up,
      // every HSM key object: one token down of several leaves the node ready. Objects it still
      // lacks (pendingReplications) fail one by one with Unavailable; readiness does not wait for them.
      failoverGroup: 'pkcs11',
      healthy: this.lastProbeHealthy !== false && circuit === 'closed',
      detail: this.describe(),
      circuit,
      sessions: { inUse, open, max, waiting },
      calls: {
        total: this.stats.operations + this.stats.failures,
        failures: this.stats.failures,
        latency: this.stats.latencyHistogram(),
      },
    };
  }

  get circuit(): CircuitState {
    return this.breaker.getState().state;
  }

  statistics(): TokenStatisticsSnapshot {
    const sessions = this.sessions.counts();
    return {
      operations: this.stats.operations,
      failures: this.stats.failures,
      latencyMs: this.stats.latencyMs,
      sessionsOpen: sessions.open,
      sessionsInUse: sessions.inUse,
      sessionsWaiting: sessions.waiting,
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
    return this.run((scope) =>
      this.login.asSecurityOfficer(scope.api, scope.session, soPin, () => operation(scope)),
    );
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
    this.healthChecks.stop();
    this.sessions.close();
    this.module.release();
  }

  private describe(): string {
    const { open, inUse, max } = this.sessions.counts();
    const lastError = this.stats.lastError;
    return (
      `token "${this.options.tokenLabel}", circuit ${this.circuit}, sessions ${inUse}/${open}` +
      ` in use (max ${max}), latency ${this.stats.latencyMs.toFixed(2)} ms` +
      (lastError && this.circuit !== 'closed' ? `, last error ${lastError}` : '')
    );
  }

  /** Repairs what `failure` says is broken; returns whether a retry can help. */
  private async repair(failure: Pkcs11Failure): Promise<boolean> {
    switch (failure) {
      case 'session':
        // One dead session usually means all of them died (token reset, C_CloseAllSessions), and
        // with the last session the token forgets the login: private objects would look absent.
        this.sessions.dropIdle();
        this.login.forget();
        return true;
      case 'login':
        this.login.forget();
        return true;
      case 'object':
        // A logged-out session sees no private objects either: log in again before looking them up.
        this.objects.clear();
        this.login.forget();
        return true;
      case 'token':
        // Slot, login, idle sessions and handles are all looked up afresh on next use.
        this.sessions.invalidate();
        this.login.forget();
        this.objects.clear();
        // SoftHSM (and some vendor libraries) only see a token that came back after re-initialising.
        await this.module.reinitialize();
        return true;
      default:
        return false;
    }
  }

  private scope(session: Handle): SessionScope {
    const api = this.operationApi;
    const slot = this.sessions.slot;
    const scope: SessionScope = {
      api,
      session,
      slot,
      require: (label, objectClass, role, verify) => {
        const handle = scope.find(label, objectClass, role, verify);
        if (handle) return handle;
        const missing = `object "${label}" is missing from token "${this.options.tokenLabel}"`;
        // One key's object gone from a token that still holds its root key is that key's problem
        // (a copy still to make, a destroyed version): the next backend may serve it, and this
        // one is neither repaired nor counted against its circuit. Otherwise the token is not the
        // one we know.
        const probe = this.options.probeLabel;
        if (probe !== undefined && label !== probe && scope.find(probe, pkcs11js.CKO_SECRET_KEY)) {
          throw new HsmUnavailableError(missing);
        }
        throw new TokenLostError(missing);
      },
      find: (label, objectClass, role = 'key', verify) =>
        this.objects.find(api, session, label, objectClass, role, verify),
    };
    return scope;
  }
}
