// A circuit breaker per provider: closed until `failureThreshold` consecutive provider faults, then
// open for `recoveryTimeout` ms, then half-open, where exactly one probe call is let through.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  /** Milliseconds since some epoch; Date.now unless a test drives time. */
  now?: () => number;
  onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failureCount = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  getState(): { state: CircuitState; failureCount: number } {
    return { state: this.state, failureCount: this.failureCount };
  }

  /**
   * Whether a call may go to the provider now. Past the recovery timeout an open circuit turns
   * half-open and grants this caller the one probe; every other caller is refused until it ends.
   * A caller granted a call must report it with recordSuccess or recordFailure (or releaseProbe).
   */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.options.recoveryTimeoutMs) return false;
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
    if (this.state === 'half-open' || this.failureCount >= this.options.failureThreshold) {
      this.openedAt = this.now();
      if (this.state !== 'open') this.transition('open');
    }
  }

  /** The granted call ended with an answer that says nothing about the provider's health (a client error). */
  releaseProbe(): void {
    if (this.state === 'half-open' && this.probeInFlight) {
      // The provider answered, so it is reachable: a client error is as good a probe as a success.
      this.recordSuccess();
      return;
    }
    this.probeInFlight = false;
  }

  private transition(next: CircuitState): void {
    const previous = this.state;
    this.state = next;
    this.options.onStateChange?.(next, previous);
  }
}
