// ChangeFeed over PostgreSQL's LISTEN/NOTIFY: every process sharing the database listens on one
// channel on a connection of its own and publishes there with its node id, so it skips its own
// notifications. When that connection drops, it reconnects with backoff and then tells its
// subscribers { kind: 'all' }: notifications sent meanwhile are lost.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Change, ChangeFeed } from '../../../ports/change-feed.js';
import { createPool, tlsOptions, type PostgresSettings } from './postgres-pool.js';

const CHANNEL = 'keyhaven_changes';

export interface PostgresChangeFeedOptions {
  /** This process's id in its notifications (a fresh UUID unless given). */
  nodeId?: string;
  /** First and longest wait before reconnecting the listener. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Envelope {
  node: string;
  change: Change;
}

export class PostgresChangeFeed implements ChangeFeed {
  readonly nodeId: string;
  private readonly listeners = new Set<(change: Change) => void>();
  /** Publishes borrow from a small pool of their own: never a request's connection. */
  private readonly publisher: pg.Pool;
  private listener: pg.Client | undefined;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly settings: PostgresSettings,
    private readonly options: Required<Omit<PostgresChangeFeedOptions, 'nodeId'>>,
    nodeId: string,
  ) {
    this.nodeId = nodeId;
    this.backoffMs = options.minBackoffMs;
    this.publisher = createPool(settings, { max: 2 });
  }

  /** Listens before it returns, so nothing published after this resolves is missed. */
  static async open(
    settings: PostgresSettings,
    options: PostgresChangeFeedOptions = {},
  ): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(
      settings,
      { minBackoffMs: options.minBackoffMs ?? 100, maxBackoffMs: options.maxBackoffMs ?? 5000 },
      options.nodeId ?? randomUUID(),
    );
    await feed.listen();
    return feed;
  }

  publish(change: Change): void {
    if (this.closed) return;
    const payload = JSON.stringify({ node: this.nodeId, change } satisfies Envelope);
    // Fire and forget: a request never waits for, nor fails with, a notification. A lost one is
    // bounded by the caches' TTL.
    this.publisher.query('select pg_notify($1, $2)', [CHANNEL, payload]).catch(() => undefined);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
    await this.publisher.end();
  }

  private async listen(): Promise<void> {
    const { url, connectTimeoutMs, tls } = this.settings;
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      application_name: 'keyhaven-changes',
      ssl: tlsOptions(tls),
    });
    client.on('notification', (message) => this.deliver(message.payload));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      // close() ran while this reconnection was under way.
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private deliver(payload: string | undefined): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload ?? '') as Envelope;
    } catch {
      return;
    }
    if (envelope.node === this.nodeId || typeof envelope.change !== 'object') return;
    this.emit(envelope.change);
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // One subscriber's failure must not keep the change from the others.
      }
    }
  }

  private lost(client: pg.Client): void {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    this.reconnectTimer = setTimeout(() => {
      this.listen().then(
        () => {
          if (this.closed) return;
          this.backoffMs = this.options.minBackoffMs;
          // Whatever was published while the listener was away is gone.
          this.emit({ kind: 'all' });
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.reconnectTimer.unref();
  }
}
