// The circuit breaker's state machine, driven by a clock the test moves: closed -> open after the
// threshold of consecutive faults, half-open after the recovery timeout with exactly one probe.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../src/integration/circuit-breaker.js';

function breaker(failureThreshold = 3, recoveryTimeoutMs = 1000) {
  const clock = { now: 0 };
  const changes: CircuitState[] = [];
  const cb = new CircuitBreaker({
    failureThreshold,
    recoveryTimeoutMs,
    now: () => clock.now,
    onStateChange: (state) => changes.push(state),
  });
  return { cb, clock, changes };
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and counts consecutive failures only', () => {
    const { cb } = breaker(3);
    expect(cb.tryAcquire()).toBe(true);
    cb.recordFailure();
    cb.recordFailure();
    expect(cb.getState()).toEqual({ state: 'closed', failureCount: 2 });
    cb.recordSuccess();
    expect(cb.getState()).toEqual({ state: 'closed', failureCount: 0 });
    cb.recordFailure();
    cb.recordFailure();
    expect(cb.getState().state).toBe('closed');
  });

  it('opens at the threshold and refuses calls until the recovery timeout has passed', () => {
    const { cb, clock, changes } = breaker(3, 1000);
    for (let i = 0; i < 3; i++) cb.recordFailure();
    expect(cb.getState()).toEqual({ state: 'open', failureCount: 3 });
    expect(cb.tryAcquire()).toBe(false);
    clock.now = 999;
    expect(cb.tryAcquire()).toBe(false);
    expect(cb.getState().state).toBe('open');
    expect(changes).toEqual(['open']);
  });

  it('turns half-open after the timeout and lets exactly one probe through', () => {
    const { cb, clock } = breaker(1, 1000);
    cb.recordFailure();
    clock.now = 1000;
    expect(cb.tryAcquire()).toBe(true);
    expect(cb.getState().state).toBe('half-open');
    expect(cb.tryAcquire()).toBe(false);
    expect(cb.tryAcquire()).toBe(false);
  });

  it('closes when the probe succeeds', () => {
    const { cb, clock, changes } = breaker(2, 500);
    cb.recordFailure();
    cb.recordFailure();
    clock.now = 600;
    expect(cb.tryAcquire()).toBe(true);
    cb.recordSuccess();
    expect(cb.getState()).toEqual({ state: 'closed', failureCount: 0 });
    expect(cb.tryAcquire()).toBe(true);
    expect(cb.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again, for a fresh timeout, when the probe fails', () => {
    const { cb, clock, changes } = breaker(2, 500);
    cb.recordFailure();
    cb.recordFailure();
    clock.now = 500;
    expect(cb.tryAcquire()).toBe(true);
    cb.recordFailure();
    expect(cb.getState().state).toBe('open');
    clock.now = 999;
    expect(cb.tryAcquire()).toBe(false);
    clock.now = 1000;
    expect(cb.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open']);
  });

  it('treats a probe answered with a client error as proof the provider is reachable', () => {
    const { cb, clock } = breaker(1, 100);
    cb.recordFailure();
    clock.now = 100;
    expect(cb.tryAcquire()).toBe(true);
    cb.releaseProbe();
    expect(cb.getState()).toEqual({ state: 'closed', failureCount: 0 });
  });

  it('reports an open circuit past its recovery timeout as half-open before any call arrives', () => {
    const { cb, clock, changes } = breaker(1, 1000);
    cb.recordFailure();
    clock.now = 1000;
    expect(cb.getState().state).toBe('half-open');
    expect(changes).toEqual(['open']);
  });

  it('counts the times it opened from closed, not each failed probe', () => {
    const { cb, clock } = breaker(2, 100);
    cb.recordFailure();
    cb.recordFailure();
    clock.now = 100;
    expect(cb.tryAcquire()).toBe(true);
    cb.recordFailure();
    expect(cb.opened).toBe(1);
    clock.now = 200;
    expect(cb.tryAcquire()).toBe(true);
    cb.recordSuccess();
    cb.recordFailure();
    cb.recordFailure();
    expect(cb.opened).toBe(2);
  });

  it("with probeAnsweredWithClientError 'release' (HSM backends), a client error only frees the probe slot", () => {
    const clock = { now: 0 };
    const cb = new CircuitBreaker({
      failureThreshold: 1,
      recoveryTimeoutMs: 100,
      probeAnsweredWithClientError: 'release',
      now: () => clock.now,
    });
    cb.recordFailure();
    clock.now = 100;
    expect(cb.tryAcquire()).toBe(true);
    expect(cb.tryAcquire()).toBe(false);
    cb.releaseProbe();
    expect(cb.getState().state).toBe('half-open');
    expect(cb.tryAcquire()).toBe(true);
    cb.recordSuccess();
    expect(cb.getState()).toEqual({ state: 'closed', failureCount: 0 });
  });
});
