// `keyhaven status`: is the server alive and ready (database and key store reachable)?
import type { Command } from 'commander';
import { createClient, emit, globalOptions } from './cli-context.js';
import { renderDetails } from './output.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("show the server's liveness and readiness (exit code 1 when not ready)")
    .action(async (_options: unknown, command: Command) => {
      const client = createClient(command, { requireToken: false });
      const [health, ready] = await Promise.all([client.health(), client.ready()]);
      emit(command, { health: health.body, ready: ready.body, isReady: ready.ok }, () =>
        renderDetails([
          ['endpoint', globalOptions(command).endpoint],
          ['health', health.ok ? 'ok' : `failing (HTTP ${health.status})`],
          ['ready', ready.ok ? 'yes' : `no (HTTP ${ready.status})`],
          ...backends(ready.body).map(
            (backend) => [`  ${backend.name}`, backend.healthy ? 'ok' : 'down'] as const,
          ),
        ]),
      );
      if (!ready.ok) process.exitCode = 1;
    });
}

/** /ready lists each backend (key store, metadata) with its health; tolerate servers that do not. */
function backends(body: Record<string, unknown>): { name: string; healthy: boolean }[] {
  if (!Array.isArray(body.backends)) return [];
  return body.backends.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { name, kind, healthy } = entry as Record<string, unknown>;
    if (typeof name !== 'string') return [];
    return [{ name: typeof kind === 'string' ? `${name} (${kind})` : name, healthy: healthy === true }];
  });
}
