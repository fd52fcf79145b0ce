// The primary of `keyhaven server` with server.workers > 1 (docs/cluster.md): it does the first
// start once, forks the workers that share the port (node:cluster), relays the change feed between
// them, replaces a worker that dies, and on SIGINT/SIGTERM has every worker drain its in-flight
// requests, then exits 0. It serves no request and holds no database connection.
import cluster, { type Worker } from 'node:cluster';
import type { KeyhavenConfig } from './config.js';
import { relayChanges } from './adapters/change-feed/cluster-change-feed.js';

/** A worker's message once it listens (with its URL). */
export const WORKER_READY = 'keyhavenWorkerReady';
/**
 * A worker asks for the configuration once it listens for the answer (a message sent before that
 * would be lost: the CLI loads the server module after the fork), and the primary answers with it,
 * secrets included.
 */
const CONFIG_PLEASE = 'keyhavenConfigPlease';
const CONFIG = 'keyhavenConfig';
/** Workers that fail to start this many times in a row (a broken set-up) stop the primary. */
const MAX_FAILED_STARTS = 3;
/** How long the workers have to drain at shutdown before they are killed. */
const DRAIN_TIMEOUT_MS = 30_000;

export async function runPrimary(config: KeyhavenConfig, prepare: () => Promise<void>): Promise<void> {
  await prepare();
  // The configuration goes to each worker over the fork's IPC socket pair (structured clone: as it
  // was loaded): loadConfig took the secrets out of this process's environment, so a worker could
  // not load them again, and they never appear in a command line or an environment.
  cluster.setupPrimary({ serialization: 'advanced' });
  const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  let stopping = false;
  let failedStarts = 0;
  let listening = 0;

  const fork = () => {
    const worker = cluster.fork();
    let ready = false;
    worker.on('message', (message: unknown) => {
      if (relayChanges(worker, workers, message)) return;
      if (typeof message === 'object' && message !== null && CONFIG_PLEASE in message) {
        worker.send({ [CONFIG]: config });
        return;
      }
      if (typeof message === 'object' && message !== null && WORKER_READY in message) {
        ready = true;
        failedStarts = 0;
        if (++listening === config.server.workers) {
          console.error(
            `keyhaven: ${config.server.workers} workers listening on ${String(message[WORKER_READY])} (data directory ${config.dataDir})`,
          );
        }
      }
    });
    worker.once('exit', (code, signal) => {
      if (ready) listening--;
      if (stopping) return;
      const pid = worker.process.pid;
      if (!ready && ++failedStarts >= MAX_FAILED_STARTS) {
        console.error(`keyhaven: workers fail to start (worker ${pid}: exit ${signal ?? code}); stopping`);
        void stop('failure', 1);
        return;
      }
      console.error(`keyhaven: worker ${pid} exited (${signal ?? `code ${code}`}); starting another`);
      // A worker that died at start waits a moment: a busy database, a port in use.
      setTimeout(fork, ready ? 0 : 1000);
    });
    worker.once('online', () => console.error(`keyhaven: worker ${worker.process.pid} started`));
  };

  const stop = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    if (reason !== 'failure') console.error(`keyhaven: ${reason} received, draining the workers`);
    const exits = workers().map(
      (worker) =>
        new Promise<number | null>((exited) => {
          if (worker.isDead()) return exited(worker.process.exitCode);
          worker.once('exit', (code) => exited(code));
          worker.process.kill('SIGTERM');
        }),
    );
    const timer = setTimeout(() => {
      console.error('keyhaven: workers did not drain in time; killing them');
      for (const worker of workers()) worker.process.kill('SIGKILL');
    }, DRAIN_TIMEOUT_MS);
    const codes = await Promise.all(exits);
    clearTimeout(timer);
    process.exit(codes.every((code) => code === 0) ? exitCode : 1);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  for (let i = 0; i < config.server.workers; i++) fork();
}

/** A worker's side: the configuration the primary sends first. */
export function receiveConfig(): Promise<KeyhavenConfig> {
  return new Promise((received) => {
    const onMessage = (message: unknown) => {
      if (typeof message !== 'object' || message === null || !(CONFIG in message)) return;
      process.off('message', onMessage);
      received(message[CONFIG] as KeyhavenConfig);
    };
    process.on('message', onMessage);
    process.send?.({ [CONFIG_PLEASE]: true });
  });
}
