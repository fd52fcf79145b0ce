// `keyhaven auth ...`: questions about the caller's own credential.
import type { Command } from 'commander';
import { createClient, emit } from './cli-context.js';
import { collectPair } from './option-parsers.js';
import { renderDetails } from './output.js';
import { describeDecidedBy } from './policy-document.js';

export function registerAuthCommands(program: Command): void {
  const auth = program.command('auth').description("check what the caller's credential may do");

  auth
    .command('verify')
    .description('whether you may perform an action (on a key, with a context); exit code 1 when not')
    .requiredOption('--action <action>', 'the API action, e.g. Encrypt, Decrypt, CreateKey')
    .option('--key-id <keyId>', 'the key acted on (id, alias or kh:<tenant>:key/<uuid>)')
    .option('--context <key=value>', 'encryption context pair (repeatable)', collectPair)
    .addHelpText(
      'after',
      `
Prints "allowed" or "denied" with your principal id and the deciding statement; nothing is performed.

Examples:
  $ keyhaven auth verify --action Decrypt --key-id alias/orders --context app=billing && echo ok`,
    )
    .action(
      async (
        options: { action: string; keyId?: string; context?: Record<string, string> },
        command: Command,
      ) => {
        const result = await createClient(command).verifyAccess({
          action: options.action,
          keyId: options.keyId,
          context: options.context,
        });
        emit(command, result, () =>
          renderDetails([
            ['Access', result.allowed ? 'allowed' : 'denied'],
            ['Principal', result.principalId],
            ['Decided by', describeDecidedBy(result.decidedBy)],
            ['Reason', result.reason],
          ]),
        );
        if (!result.allowed) process.exitCode = 1;
      },
    );
}
