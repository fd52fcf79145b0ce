// Readiness answered from a background probe: /ready is public, so a call must never reach the key
// store or the database itself (an anonymous caller could otherwise make the server probe every HSM
// backend, and start a replication catch-up, as often as it likes). The probe runs on a timer; the
// answer is the last result.
import type { KeyStoreStatus } from '../ports/key-store-status.js';

export interface Readiness {
  ready: boolean;
  backends: KeyStoreStatus[];
  /** When the probe that produced this answer ran. */
  checkedAt: Date;
}

export class ReadinessMonitor {
  private last: Readiness | undefined;
  private pending: Promise<Readiness> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly probe: () => Promise<KeyStoreStatus[]>,
    private readonly intervalMs: number,
  ) {}

  /** Probes once now and then every interval, until close(). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  /** The last probe's answer (a first probe if none has run yet). */
  async current(): Promise<Readiness> {
    return this.last ?? this.refresh();
  }

  /** Probes now; concurrent calls share one probe. */
  refresh(): Promise<Readiness> {
    this.pending ??= this.probe()
      .then((backends) => ({ ready: isReady(backends), backends, checkedAt: new Date() }))
      .then((readiness) => (this.last = readiness))
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Every part healthy, except that of a failover group one healthy part is enough, and optional
 * parts never count.
 */
export function isReady(parts: readonly KeyStoreStatus[]): boolean {
  const groups = new Map<string, boolean>();
  for (const part of parts) {
    if (part.optional) continue;
    if (part.failoverGroup === undefined) {
      if (!part.healthy) return false;
    } else {
      groups.set(part.failoverGroup, (groups.get(part.failoverGroup) ?? false) || part.healthy);
    }
  }
  return [...groups.values()].every(Boolean);
}
