// `keyhaven access-keys ...`: a principal's AWS Signature V4 credentials (for AWS SDKs and tools
// pointed at Keyhaven). The secret access key is printed once, at creation.
import type { Command } from 'commander';
import type { AccessKey } from '../client/index.js';
import { createClient, emit, globalOptions } from './cli-context.js';
import { credentialStatus } from './credential-status.js';
import { renderDetails, renderTable, tableTime } from './output.js';

export function registerAccessKeyCommands(program: Command): void {
  const accessKeys = program
    .command('access-keys')
    .description("create, list and delete a principal's access keys (AWS Signature V4 credentials)")
    .addHelpText(
      'after',
      `
Examples:
  $ keyhaven access-keys create <principalId>
  $ keyhaven access-keys list <principalId>
  $ keyhaven access-keys delete <principalId> <accessKeyId>`,
    );

  accessKeys
    .command('create')
    .description('create an access key pair and print its secret, this once')
    .argument('<principalId>', 'the principal the key acts as')
    .addHelpText(
      'after',
      `
Use the pair as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The secret cannot be shown again.`,
    )
    .action(async (principalId: string, _options: unknown, command: Command) => {
      const created = await createClient(command).createAccessKey(principalId);
      emit(command, created, () =>
        renderDetails([
          ['Access key ID', created.accessKeyId],
          ['Principal', created.accessKey?.principalId ?? principalId],
          ['Secret access key', created.secretAccessKey],
        ]),
      );
      if (!globalOptions(command).json) {
        process.stderr.write('The secret access key is shown only this once: store it now.\n');
      }
    });

  accessKeys
    .command('list')
    .description("list a principal's access keys (never their secrets)")
    .argument('<principalId>', 'principal id')
    .action(async (principalId: string, _options: unknown, command: Command) => {
      const keys = await createClient(command).listAccessKeys(principalId);
      emit(command, { accessKeys: keys }, () =>
        renderTable<AccessKey>(keys, [
          { header: 'ACCESS KEY ID', value: (k) => k.accessKeyId },
          { header: 'CREATED', value: (k) => tableTime(k.createdAt) },
          { header: 'STATUS', value: credentialStatus },
        ]),
      );
    });

  accessKeys
    .command('delete')
    .description('revoke an access key: requests signed with it are refused at once')
    .argument('<principalId>', 'principal id')
    .argument('<accessKeyId>', 'access key id (KHAK...)')
    .action(async (principalId: string, accessKeyId: string, _options: unknown, command: Command) => {
      await createClient(command).deleteAccessKey(principalId, accessKeyId);
      emit(command, { accessKeyId, deleted: true }, () => `deleted access key ${accessKeyId}\n`);
    });
}
