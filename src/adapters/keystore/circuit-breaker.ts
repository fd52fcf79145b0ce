// A circuit breaker per key-store backend (DESIGN.md "Failure is a normal input"): after
// `failureThreshold` consecutive failures the circuit opens and calls fail fast for `openMs`; then
// one probe call is let through (half-open): its success closes the circuit, its failure re-opens it.
import type { CircuitStateName } from '../../ports/key-store-status.js';

/** The states of the port's status report (KeyStoreStatus.circuit). */
export type CircuitState = CircuitStateName;

export interface CircuitBreakerOptions {
  failureThreshold: number;
  openMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probing = false;
  private current: CircuitState = 'closed';
  /** How many times the circuit opened since start. */
  opened = 0;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.openMs) return 'half-open';
    return this.current;
  }

  /**
   * Whether a call may go through now. In half-open only one probe at a time is admitted; the
   * caller must report its outcome with success() or failure().
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.probing = false;
    this.consecutiveFailures = 0;
    this.current = 'closed';
  }

  failure(): void {
    this.probing = false;
    this.consecutiveFailures++;
    if (this.current !== 'closed' || this.consecutiveFailures >= this.options.failureThreshold) {
      if (this.current === 'closed') this.opened++;
      this.current = 'open';
      this.openedAt = this.now();
    }
  }

  /** Releases a half-open probe slot whose call ended with neither verdict (e.g. a bad request). */
  release(): void {
    this.probing = false;
  }
}
