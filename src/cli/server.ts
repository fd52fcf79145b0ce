// `keyhaven server`: starts the server from configuration (file + environment). Owned by the lead.
import type { Command } from 'commander';

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('start the Keyhaven server (configuration from KEYHAVEN_CONFIG and KEYHAVEN_* variables)')
    .addHelpText(
      'after',
      `
Workers:
  KEYHAVEN_WORKERS=N (server.workers, default 1) starts N worker processes that share the port
  and the database (node:cluster). The first start (root key, migrations, the bootstrap admin key
  printed once, the seed file) happens once, before they fork. This process then serves nothing:
  it relays cache invalidations between the workers, replaces a worker that dies, and on SIGTERM
  or SIGINT lets each worker finish its in-flight requests, then exits 0. Scheduled work
  (rotations, deletions, audit checkpoints) runs in one worker at a time, under a lease.
  See docs/cluster.md.`,
    )
    .action(async () => {
      const { runServer } = await import('../server.js');
      await runServer();
    });
}
