// `keyhaven api-keys ...`: a principal's API keys. The secret (the Bearer token) is printed once, at
// creation: the server keeps only its hash.
import type { Command } from 'commander';
import type { ApiKey } from '../client/index.js';
import { createClient, emit, globalOptions } from './cli-context.js';
import { credentialStatus } from './credential-status.js';
import { parseTimestamp } from './option-parsers.js';
import { renderDetails, renderTable, tableTime } from './output.js';

export function registerApiKeyCommands(program: Command): void {
  const apiKeys = program
    .command('api-keys')
    .description("create, list and revoke a principal's API keys (Bearer tokens)")
    .addHelpText(
      'after',
      `
Examples:
  $ keyhaven api-keys create <principalId> --expires-at 2030-01-01T00:00:00Z
  $ keyhaven api-keys list <principalId>
  $ keyhaven api-keys revoke <principalId> <apiKeyId>`,
    );

  apiKeys
    .command('create')
    .description('create an API key and print its secret, this once')
    .argument('<principalId>', 'the principal the key acts as')
    .option('--expires-at <date>', 'ISO-8601 time after which the key is refused', parseTimestamp)
    .addHelpText(
      'after',
      `
The secret is the Bearer token (KEYHAVEN_TOKEN). Only its hash is stored: it cannot be shown again.
With --json it is the "secret" member.`,
    )
    .action(async (principalId: string, options: { expiresAt?: string }, command: Command) => {
      const created = await createClient(command).createApiKey(principalId, { expiresAt: options.expiresAt });
      emit(command, created, () =>
        renderDetails([
          ['API key ID', created.apiKey.apiKeyId],
          ['Principal', created.apiKey.principalId],
          ['Expires', created.apiKey.expiresAt ?? 'never'],
          ['Secret', created.secret],
        ]),
      );
      if (!globalOptions(command).json) {
        process.stderr.write(
          'The secret is shown only this once: store it now. Use it as KEYHAVEN_TOKEN (a Bearer token).\n',
        );
      }
    });

  apiKeys
    .command('list')
    .description("list a principal's API keys (never their secrets)")
    .argument('<principalId>', 'principal id')
    .action(async (principalId: string, _options: unknown, command: Command) => {
      const keys = await createClient(command).listApiKeys(principalId);
      emit(command, { apiKeys: keys }, () =>
        renderTable<ApiKey>(keys, [
          { header: 'API KEY ID', value: (k) => k.apiKeyId },
          { header: 'CREATED', value: (k) => tableTime(k.createdAt) },
          { header: 'EXPIRES', value: (k) => tableTime(k.expiresAt) || 'never' },
          { header: 'STATUS', value: credentialStatus },
        ]),
      );
    });

  apiKeys
    .command('revoke')
    .description('revoke an API key: it is refused from the next request on')
    .argument('<principalId>', 'principal id')
    .argument('<apiKeyId>', 'API key id (from api-keys list)')
    .action(async (principalId: string, apiKeyId: string, _options: unknown, command: Command) => {
      await createClient(command).revokeApiKey(principalId, apiKeyId);
      emit(command, { apiKeyId, revoked: true }, () => `revoked API key ${apiKeyId}\n`);
    });
}
