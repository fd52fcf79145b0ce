// `keyhaven server`: starts the server from configuration (file + environment). Owned by the lead.
import type { Command } from 'commander';

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('start the Keyhaven server (configuration from KEYHAVEN_CONFIG and KEYHAVEN_* variables)')
    .action(async () => {
      const { runServer } = await import('../server.js');
      await runServer();
    });
}
