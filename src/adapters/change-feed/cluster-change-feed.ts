// ChangeFeed between node:cluster workers on one machine: a worker sends each change to the
// primary over its IPC channel, and the primary relays it to every other worker (relayChanges).
// The channel is a local socket pair the primary made at fork: nothing leaves the machine and no
// other process can write to it. A message is delivered unless a worker dies, and a dead worker's
// replacement starts with empty caches, so nothing is missed that mattered.
import type { Worker } from 'node:cluster';
import type { Change, ChangeFeed } from '../../ports/change-feed.js';

/** The IPC message that carries a change; other messages on the channel are not ours. */
interface ChangeMessage {
  keyhavenChange: Change;
}

const isChangeMessage = (message: unknown): message is ChangeMessage =>
  typeof message === 'object' && message !== null && 'keyhavenChange' in message;

/** A worker's side: publishes to the primary, hears what the primary relays from the others. */
export class ClusterChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly onMessage = (message: unknown) => {
    if (!isChangeMessage(message)) return;
    for (const listener of this.listeners) listener(message.keyhavenChange);
  };

  constructor(private readonly channel: NodeJS.Process = process) {
    if (!channel.send) throw new Error('ClusterChangeFeed runs in a worker process (it has no IPC channel)');
    channel.on('message', this.onMessage);
  }

  publish(change: Change): void {
    // A channel closing at shutdown loses the message: the primary is stopping every worker anyway.
    if (this.channel.connected) this.channel.send!({ keyhavenChange: change } satisfies ChangeMessage);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.channel.off('message', this.onMessage);
  }
}

/**
 * The primary's side: a change from one worker goes to every other live worker. Answers whether
 * the message was a change (the primary's other messages are its own).
 */
export function relayChanges(from: Worker, workers: () => Iterable<Worker>, message: unknown): boolean {
  if (!isChangeMessage(message)) return false;
  for (const worker of workers()) {
    if (worker !== from && worker.isConnected()) worker.send(message);
  }
  return true;
}
