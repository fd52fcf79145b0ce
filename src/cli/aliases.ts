// `keyhaven aliases ...`: friendly names (alias/<name>) that point at keys and can be repointed.
import type { Command } from 'commander';
import { createClient, emit } from './cli-context.js';
import { renderTable } from './output.js';

export function registerAliasCommands(program: Command): void {
  const aliases = program.command('aliases').description('list, set and delete key aliases');

  aliases
    .command('list')
    .description('list aliases and the keys they point at')
    .action(async (_options: unknown, command: Command) => {
      const entries = await createClient(command).listAliases();
      emit(command, { aliases: entries }, () =>
        renderTable(entries, [
          { header: 'ALIAS', value: (a) => a.alias },
          { header: 'KEY ID', value: (a) => a.keyId },
        ]),
      );
    });

  aliases
    .command('set')
    .description('point an alias at a key, creating the alias or moving it from another key')
    .argument('<alias>', 'alias/<name>')
    .argument('<keyId>', 'key id')
    .option('--create-only', 'refuse (409 Conflict) an alias that exists already instead of moving it')
    .action(async (alias: string, keyId: string, options: { createOnly?: boolean }, command: Command) => {
      const entry = await createClient(command).putAlias(alias, keyId, { createOnly: options.createOnly });
      emit(command, entry, () => `${entry.alias} -> ${entry.keyId}\n`);
    });

  aliases
    .command('delete')
    .description('delete an alias (the key itself is unaffected)')
    .argument('<alias>', 'alias/<name>')
    .action(async (alias: string, _options: unknown, command: Command) => {
      await createClient(command).deleteAlias(alias);
      emit(command, { alias, deleted: true }, () => `deleted ${alias}\n`);
    });
}
