// `keyhaven server`: load configuration, open Keyhaven, serve REST, run scheduled jobs, and shut
// down gracefully (in-flight requests drain, usage counters flush) on SIGINT/SIGTERM. With
// server.workers > 1 this process is the primary of a node:cluster (cluster-primary.ts) and the
// workers it forks serve the port; each worker runs startServer as a worker.
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type KeyhavenConfig } from './config.js';
import { ClusterChangeFeed } from './adapters/change-feed/cluster-change-feed.js';
import { runPrimary, receiveConfig, WORKER_READY } from './cluster-primary.js';
import { RootKeyError } from './adapters/keystore/software/sealed-root-key.js';
import { createKeyhaven, type Keyhaven } from './keyhaven.js';
import { checkListenSecurity, type ListenSecurity } from './listen-policy.js';
import { KmsError } from './domain/errors.js';
import { loadSeedFile } from './seed-file.js';
import { SeedError } from './services/key-seeder.js';
import { loadServerTls } from './server-tls.js';
import { buildRestApp } from './transports/rest/app.js';
import { redactDatabaseUrl } from './adapters/metadata/postgres/database-url.js';

export interface RunningServer {
  url: string;
  keyhaven: Keyhaven;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * A node:cluster worker: the primary did the first start (root key, migrations, admin key, seed)
   * before it forked, and caches hear the other workers' writes through the primary.
   */
  worker?: boolean;
}

export async function startServer(
  config: KeyhavenConfig,
  log: (line: string) => void = console.error,
  options: StartOptions = {},
): Promise<RunningServer> {
  // Both before anything is opened: a server that will not listen creates no root key or admin key.
  const listenSecurity = checkListenSecurity(config.server);
  const https = config.server.tls ? loadServerTls(config.server.tls) : undefined;
  const seed = config.seedFile === undefined ? undefined : loadSeedFile(config.seedFile);
  const keyhaven = await createKeyhaven(
    config,
    // On PostgreSQL every worker listens to the database itself, as other nodes' processes do.
    options.worker && config.database.url === undefined ? { changeFeed: new ClusterChangeFeed() } : {},
  );
  const app = await buildRestApp(keyhaven, { logger: { level: config.logLevel }, https });
  if (!options.worker) await firstStart(keyhaven, listenSecurity, seed, log);

  const runJobs = () =>
    keyhaven
      .runScheduledJobs()
      .then((report) => {
        const { failures, heldElsewhere, ...done } = report;
        if (heldElsewhere) return;
        if (done.rotated || done.deleted || done.destroyed) app.log.info(done, 'scheduled key jobs ran');
        // Each failed key is retried at the next run; the HSM being down is the usual cause.
        for (const failure of failures) app.log.warn(failure, 'scheduled key job failed for a key');
      })
      .catch((error: unknown) => app.log.error({ err: error }, 'scheduled key jobs failed'));
  const timers = [
    setInterval(() => {
      keyhaven.usage.flush().catch((error: unknown) => app.log.error({ err: error }, 'usage flush failed'));
    }, config.jobs.usageFlushMs),
    setInterval(runJobs, config.jobs.intervalSeconds * 1000),
  ];
  for (const timer of timers) timer.unref();

  const url = await app.listen({ host: config.server.host, port: config.server.port });
  log(
    options.worker
      ? `keyhaven: worker ${process.pid} listening on ${url}`
      : `keyhaven: listening on ${url} (data directory ${config.dataDir}, metadata ${describeDatabase(config)})`,
  );
  // Work that fell due while the server was down runs once it serves: a backend that is down delays
  // that work, never the start (the server runs degraded, /ready says why).
  void runJobs();
  return {
    url,
    keyhaven,
    async close() {
      for (const timer of timers) clearInterval(timer);
      await app.close();
      await keyhaven.close();
    },
  };
}

/**
 * What happens once per data directory and start, before anything is served: the start-up notes,
 * the bootstrap admin credentials (the secret printed once), the seed file, and the server's own
 * signing keys (made here, so that cluster workers never race to make two).
 */
export async function firstStart(
  keyhaven: Keyhaven,
  listenSecurity: ListenSecurity,
  seed: ReturnType<typeof loadSeedFile> | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { config } = keyhaven;
  announceStartup(keyhaven, listenSecurity, log);
  const admin = await keyhaven.auth.bootstrapAdmin(config.adminToken);
  if (admin.secret) {
    // Shown once: only its hash is stored.
    process.stdout.write(
      [
        '',
        '================================================================',
        ' Bootstrap admin API key (shown once; store it now):',
        `   ${admin.secret}`,
        ' Use it as: Authorization: Bearer <key>   or KEYHAVEN_TOKEN=<key>',
        '================================================================',
        '',
      ].join('\n') + '\n',
    );
  } else if (admin.created) {
    log('keyhaven: bootstrap admin API key created from KEYHAVEN_ADMIN_TOKEN');
  } else if (config.adminToken !== undefined) {
    // Said aloud: an operator who sets it on an existing data directory may expect it to work.
    log('keyhaven: KEYHAVEN_ADMIN_TOKEN is ignored: this data directory already has its API keys');
  }
  if (config.adminAccessKey && admin.principalId) {
    await keyhaven.principals.createBootstrapAccessKey(admin.principalId, config.adminAccessKey);
    log(
      `keyhaven: bootstrap admin access key ${config.adminAccessKey.accessKeyId} created for the AWS dialect`,
    );
  } else if (config.adminAccessKey) {
    log('keyhaven: KEYHAVEN_ADMIN_ACCESS_KEY_ID is ignored: this data directory already has its principals');
  }

  if (seed) {
    const report = await keyhaven.seeder.seed(seed).catch((error: unknown) => {
      // A seed the database contradicts, or one the services refuse: the operator's to fix.
      if (error instanceof SeedError || error instanceof KmsError)
        throw new ConfigError(`seed file ${config.seedFile}: ${error.message}`, { cause: error });
      throw error;
    });
    log(
      `keyhaven: seed file ${config.seedFile}: ${report.createdKeys} keys and ${report.createdAliases} aliases created, the rest present`,
    );
  }
  // Best effort: a key store that is down now makes them on first use instead (the server runs
  // degraded); a single server makes them on first use anyway.
  await keyhaven.systemKeys.signingKey('audit-checkpoint').catch(() => undefined);
  await keyhaven.systemKeys.signingKey('access-token').catch(() => undefined);
}

function announceStartup(
  keyhaven: Keyhaven,
  listenSecurity: ListenSecurity,
  log: (line: string) => void,
): void {
  const { rootKeyCreated, rootKeySealed, rootKeyStore } = keyhaven.startup;
  if (rootKeyCreated) {
    const where = rootKeyStore === 'software' ? keyhaven.config.dataDir : `the ${rootKeyStore} key store`;
    log(`keyhaven: created a new root key in ${where}`);
  }
  if (!rootKeySealed) {
    log(
      [
        '',
        '!!! WARNING: the root key is stored UNSEALED in root-key.json (file mode 0600).',
        '!!! Anyone who can read the data directory can recover every key. This is for development only;',
        '!!! set KEYHAVEN_ROOT_PASSPHRASE (on a new data directory) to seal the root key.',
        '',
      ].join('\n'),
    );
  }
  if (!keyhaven.config.audit.enabled) {
    log(
      [
        '',
        '!!! WARNING: the audit log is OFF (audit.enabled is false): requests leave no record.',
        '!!! This is for measuring what the audit log costs; never run a production server so.',
        '',
      ].join('\n'),
    );
  }
  if (listenSecurity === 'insecure') {
    log(
      [
        '',
        `!!! WARNING: listening on ${keyhaven.config.server.host} WITHOUT TLS (server.allowInsecure is set).`,
        '!!! API tokens, plaintext and key material cross the network in the clear unless a proxy in front',
        '!!! terminates TLS; set KEYHAVEN_TLS_CERT and KEYHAVEN_TLS_KEY to serve TLS instead.',
        '',
      ].join('\n'),
    );
  }
}

/**
 * The primary's first start: the checks, the root key, the migrations, the admin key and the seed,
 * then the stores close again; workers fork only after it, so none of it happens twice.
 */
/** Where the metadata lives, for the start-up line: never the database password. */
function describeDatabase(config: KeyhavenConfig): string {
  return config.database.url === undefined ? 'SQLite' : redactDatabaseUrl(config.database.url);
}

async function prepareDataDirectory(config: KeyhavenConfig): Promise<void> {
  const listenSecurity = checkListenSecurity(config.server);
  if (config.server.tls) loadServerTls(config.server.tls);
  const seed = config.seedFile === undefined ? undefined : loadSeedFile(config.seedFile);
  const keyhaven = await createKeyhaven(config);
  try {
    await firstStart(keyhaven, listenSecurity, seed, console.error);
  } finally {
    await keyhaven.close();
  }
}

/** A failure of the set-up, said in one line with exit code 2, rather than a stack trace. */
export function isSetupError(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof RootKeyError ||
    (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE')
  );
}

/** Entry point of `keyhaven server` and `npm start`: exits non-zero with a clear message on bad setup. */
export async function runServer(): Promise<void> {
  if (cluster.isWorker) return runWorker();
  let server: RunningServer;
  try {
    const config = loadConfig();
    if (config.server.workers > 1) return await runPrimary(config, () => prepareDataDirectory(config));
    server = await startServer(config);
  } catch (error) {
    if (isSetupError(error)) {
      console.error(`keyhaven: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  stopOnSignals(server);
}

/** A cluster worker: the configuration comes from the primary (its secrets left the environment). */
async function runWorker(): Promise<void> {
  let server: RunningServer;
  try {
    server = await startServer(await receiveConfig(), console.error, { worker: true });
  } catch (error) {
    console.error(`keyhaven: worker ${process.pid} failed to start: ${(error as Error).message}`);
    process.exit(2);
  }
  process.send?.({ [WORKER_READY]: server.url });
  // The primary gone (killed), nobody restarts or stops this worker: it drains and exits.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  stopOnSignals(server, WORKER_DRAIN_GRACE_MS);
}

/**
 * How long a worker keeps serving after the signal before it closes its listener. The primary
 * accepts connections and hands them on: one handed over just before the signal has not sent its
 * request yet, and closing at once would reset it (a closing HTTP server drops connections without
 * a request). Half a second lets those be read and answered; the primary stops handing over
 * connections to a worker once it has closed.
 */
const WORKER_DRAIN_GRACE_MS = 500;

/** SIGINT/SIGTERM: in-flight requests finish, the stores close, exit 0. */
function stopOnSignals(server: RunningServer, graceMs = 0): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`keyhaven: ${signal} received, draining requests`);
    new Promise((turn) => setTimeout(turn, graceMs))
      .then(() => server.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('keyhaven: shutdown failed', error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
