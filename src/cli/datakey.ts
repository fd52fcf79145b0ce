// `keyhaven datakey` and `keyhaven datakey-pair`: data keys for your own envelope encryption.
import { Command, Option } from 'commander';
import type { DataKeyPairSpec, DataKeySpec, EncryptionContext } from '../client/index.js';
import { DATA_KEY_PAIR_SPECS, DATA_KEY_SPECS } from '../domain/key-spec.js';
import { createClient, emit } from './cli-context.js';
import { collectPair } from './option-parsers.js';
import { renderDetails } from './output.js';

interface DataKeyOptions {
  keyId: string;
  keySpec: DataKeySpec;
  keyPairSpec: DataKeyPairSpec;
  context?: EncryptionContext;
  withoutPlaintext?: boolean;
}

const base64 = (bytes: Buffer | undefined) => bytes?.toString('base64');

export function registerDataKeyCommands(program: Command): void {
  program
    .command('datakey')
    .description('generate a data key: its plaintext (use, then discard) and its ciphertext (store)')
    .requiredOption('--key-id <keyId>', 'the ENCRYPT_DECRYPT key that wraps the data key')
    .addOption(new Option('--key-spec <spec>', 'data key type').choices(DATA_KEY_SPECS).default('AES_256'))
    .option('--context <key=value>', 'encryption context pair (repeatable)', collectPair)
    .option('--without-plaintext', 'return only the wrapped data key')
    .addHelpText(
      'after',
      `
Prints base64 values; decrypt the ciphertext later with the same --context (POST /v1/decrypt).`,
    )
    .action(async (options: DataKeyOptions, command: Command) => {
      const dataKey = await createClient(command).generateDataKey({
        keyId: options.keyId,
        keySpec: options.keySpec,
        context: options.context,
        withoutPlaintext: options.withoutPlaintext,
      });
      emit(command, dataKey, () =>
        renderDetails([
          ['keyId', dataKey.keyId],
          ['keyVersion', dataKey.keyVersion],
          ['ciphertext', base64(dataKey.ciphertext)],
          ['plaintext', base64(dataKey.plaintext)],
        ]),
      );
      dataKey.plaintext?.fill(0);
    });

  program
    .command('datakey-pair')
    .description('generate an asymmetric data key pair: the public key, and the private key wrapped')
    .requiredOption('--key-id <keyId>', 'the ENCRYPT_DECRYPT key that wraps the private key')
    .addOption(
      new Option('--key-pair-spec <spec>', 'key pair type')
        .choices(DATA_KEY_PAIR_SPECS)
        .makeOptionMandatory(),
    )
    .option('--context <key=value>', 'encryption context pair (repeatable)', collectPair)
    .option('--without-plaintext', 'do not return the private key in the clear')
    .action(async (options: DataKeyOptions, command: Command) => {
      const pair = await createClient(command).generateDataKeyPair({
        keyId: options.keyId,
        keyPairSpec: options.keyPairSpec,
        context: options.context,
        withoutPlaintext: options.withoutPlaintext,
      });
      emit(command, pair, () =>
        renderDetails([
          ['keyId', pair.keyId],
          ['keyVersion', pair.keyVersion],
          ['keyPairSpec', pair.keyPairSpec],
          ['publicKey', base64(pair.publicKey)],
          ['privateKeyCiphertext', base64(pair.privateKeyCiphertext)],
          ['privateKeyPlaintext', base64(pair.privateKeyPlaintext)],
        ]),
      );
      pair.privateKeyPlaintext?.fill(0);
    });
}
