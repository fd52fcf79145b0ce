// The one circuit breaker, for the integration layer's providers and the pkcs11 key store's HSM
// backends (DESIGN.md "Failure is a normal input"): closed until `failureThreshold` consecutive
// faults, then open for `recoveryTimeoutMs`, then half-open, where exactly one probe call is let
// through: its success closes the circuit, its fault opens it again for a fresh timeout.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  /**
   * What a half-open probe answered with a client error (an answer about the request, not the
   * callee's health) does: `close` the circuit, since the callee answered (the default: a KMS
   * provider that says InvalidCiphertext is up), or only `release` the probe slot for the next
   * call (an HSM whose refusal of one key's object says nothing of the token).
   */
  probeAnsweredWithClientError?: 'close' | 'release';
  /** Milliseconds since some epoch; Date.now unless a test drives time. */
  now?: () => number;
  onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failureCount = 0;
  private openedAt = 0;
  private probeInFlight = false;
  /** How many times the circuit opened from closed since start. */
  opened = 0;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The state as a report reads it: an open circuit whose recovery timeout has passed is
   * half-open (its next call is the probe) even before a call arrives.
   */
  getState(): { state: CircuitState; failureCount: number } {
    const state = this.state === 'open' && this.recovered() ? 'half-open' : this.state;
    return { state, failureCount: this.failureCount };
  }

  /**
   * Whether a call may go through now. Past the recovery timeout an open circuit turns half-open
   * and grants this caller the one probe; every other caller is refused until it ends. A caller
   * granted a call must report it with recordSuccess or recordFailure (or releaseProbe).
   */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (!this.recovered()) return false;
      this.transition('half-open');
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.probeInFlight = false;
    this.failureCount = 0;
    if (this.state !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.probeInFlight = false;
    this.failureCount++;
    if (this.state !== 'closed' || this.failureCount >= this.options.failureThreshold) {
      if (this.state === 'closed') this.opened++;
      this.openedAt = this.now();
      if (this.state !== 'open') this.transition('open');
    }
  }

  /** The granted call ended with an answer that says nothing about the callee's health (a client error). */
  releaseProbe(): void {
    if (
      this.state === 'half-open' &&
      this.probeInFlight &&
      (this.options.probeAnsweredWithClientError ?? 'close') === 'close'
    ) {
      this.recordSuccess();
      return;
    }
    this.probeInFlight = false;
  }

  private recovered(): boolean {
    return this.now() - this.openedAt >= this.options.recoveryTimeoutMs;
  }

  private transition(next: CircuitState): void {
    const previous = this.state;
    this.state = next;
    this.options.onStateChange?.(next, previous);
  }
}
