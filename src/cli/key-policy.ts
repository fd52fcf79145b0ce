// `keyhaven keys policy get|put`: a key's own policy, versioned with the key and evaluated beside
// the policies of the caller and its tenant.
import type { Command } from 'commander';
import type { KeyPolicy } from '../client/index.js';
import { createClient, emit } from './cli-context.js';
import { renderDetails } from './output.js';
import {
  DOCUMENT_OPTION_HELP,
  readPolicyDocument,
  renderPolicyDocument,
  writePolicyDocument,
} from './policy-document.js';

function renderKeyPolicy(policy: KeyPolicy): string {
  const details = renderDetails([
    ['Key ID', policy.keyId],
    ['Version', policy.version === 0 ? '0 (the key has no policy of its own)' : policy.version],
  ]);
  return `${details}Document:\n${renderPolicyDocument(policy.document)}`;
}

/** Adds `policy get|put` under the `keys` command group. */
export function registerKeyPolicyCommands(keys: Command): void {
  const policy = keys
    .command('policy')
    .description("read or replace a key's policy")
    .addHelpText(
      'after',
      `
Examples:
  $ keyhaven keys policy get alias/orders --out orders-policy.json
  $ keyhaven keys policy put alias/orders --document orders-policy.json`,
    );

  policy
    .command('get')
    .description("show a key's policy (version 0 and no statements while it has none)")
    .argument('<keyId>', 'key id, alias (alias/<name>) or kh:<tenant>:key/<uuid>')
    .option('--out <file>', 'write only the document (JSON) to this file, ready to edit and put back')
    .action(async (keyId: string, options: { out?: string }, command: Command) => {
      const keyPolicy = await createClient(command).getKeyPolicy(keyId);
      if (options.out) await writePolicyDocument(options.out, keyPolicy.document);
      else emit(command, keyPolicy, () => renderKeyPolicy(keyPolicy));
    });

  policy
    .command('put')
    .description("write a new version of a key's policy")
    .argument('<keyId>', 'key id or alias')
    .requiredOption('--document <file>', DOCUMENT_OPTION_HELP)
    .action(async (keyId: string, options: { document: string }, command: Command) => {
      const document = await readPolicyDocument(options.document);
      const keyPolicy = await createClient(command).putKeyPolicy(keyId, document);
      emit(command, keyPolicy, () => renderKeyPolicy(keyPolicy));
    });
}
