// `keyhaven encrypt|decrypt`: envelope encryption of files of any size. The server issues and unwraps
// the data key (POST /v1/datakey, POST /v1/decrypt); the bulk data never leaves this machine.
import { Command, Option } from 'commander';
import { pipeline } from 'node:stream/promises';
import type { EncryptionContext, KeyhavenClient } from '../client/index.js';
import { createClient } from './cli-context.js';
import { DEFAULT_SEGMENT_SIZE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE } from './envelope-format.js';
import { EnvelopeDecryptStream, EnvelopeEncryptStream, type DataKeyProvider } from './envelope-stream.js';
import { isStdio, openInput, openOutput } from './io.js';
import { collectPair, parseInteger } from './option-parsers.js';
import { createProgress } from './progress.js';
import type { Transform } from 'node:stream';

/**
 * Data keys from the Keyhaven server: AES-256, bound to the encryption context. The streams zeroize
 * the returned Buffer; the base64 copy inside the parsed JSON is a JS string and cannot be wiped.
 */
function serverDataKeyProvider(
  client: KeyhavenClient,
  options: { keyId?: string; context?: EncryptionContext },
): DataKeyProvider {
  return {
    async generateDataKey() {
      if (!options.keyId) throw new Error('a key id is needed to generate a data key');
      const dataKey = await client.generateDataKey({
        keyId: options.keyId,
        keySpec: 'AES_256',
        context: options.context,
      });
      if (!dataKey.plaintext) throw new Error('server returned a data key without plaintext');
      return { plaintext: dataKey.plaintext, wrapped: dataKey.ciphertext };
    },
    async unwrapDataKey(wrapped) {
      const result = await client.decrypt({
        ciphertext: wrapped,
        context: options.context,
        keyId: options.keyId,
      });
      return result.plaintext;
    },
  };
}

interface EnvelopeOptions {
  keyId?: string;
  in?: string;
  out?: string;
  context?: EncryptionContext;
  segmentSize?: number;
}

const ioOptions = (command: Command) =>
  command
    .option('--in <file>', 'input file, or - for stdin', '-')
    .option('--out <file>', 'output file, or - for stdout', '-')
    .option(
      '--context <key=value>',
      'encryption context pair (repeatable); decryption must give the same pairs',
      collectPair,
    );

export function registerEnvelopeCommands(program: Command): void {
  ioOptions(
    program
      .command('encrypt')
      .description('encrypt a file or stream of any size (envelope encryption with a data key)')
      .requiredOption('--key-id <keyId>', 'the ENCRYPT_DECRYPT key that wraps the data key (id or alias)'),
  )
    .addOption(
      new Option('--segment-size <bytes>', 'plaintext bytes per authenticated segment')
        .argParser(parseInteger(MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE))
        .default(DEFAULT_SEGMENT_SIZE)
        .hideHelp(),
    )
    .addHelpText(
      'after',
      `
The server generates a fresh AES-256 data key, bound to --context; the input is encrypted locally with
AES-256-GCM in 64 KiB authenticated segments, so any change, reordering or truncation is detected.
The output starts with a header holding the wrapped data key: keep --context to decrypt.

Examples:
  $ keyhaven encrypt --key-id alias/backups --in db.dump --out db.dump.kh --context app=billing
  $ tar c data | keyhaven encrypt --key-id alias/backups > data.tar.kh`,
    )
    .action(async (options: EnvelopeOptions, command: Command) => {
      const provider = serverDataKeyProvider(createClient(command), options);
      await runEnvelopePipeline(
        options,
        () => new EnvelopeEncryptStream(provider, options),
        'encrypting',
        undefined,
      );
    });

  ioOptions(
    program
      .command('decrypt')
      .description('decrypt a file made by `keyhaven encrypt`')
      .option('--key-id <keyId>', 'refuse files whose data key was wrapped by another key'),
  )
    .addHelpText(
      'after',
      `
Each segment is written only after its authentication tag verifies. On any tampering, truncation or a
wrong --context the command fails with exit code 1; an --out file is then not created (stdout may
already hold the verified segments before the failure).

Examples:
  $ keyhaven decrypt --in db.dump.kh --out db.dump --context app=billing
  $ keyhaven decrypt < data.tar.kh | tar x`,
    )
    .action(async (options: EnvelopeOptions, command: Command) => {
      const provider = serverDataKeyProvider(createClient(command), options);
      // Plaintext files are private to the user from the first byte.
      await runEnvelopePipeline(options, () => new EnvelopeDecryptStream(provider), 'decrypting', 0o600);
    });
}

async function runEnvelopePipeline(
  options: EnvelopeOptions,
  createTransform: () => Transform,
  label: string,
  mode: number | undefined,
): Promise<void> {
  if (isStdio(options.in) && process.stdin.isTTY) {
    process.stderr.write(`reading from the terminal; end with Ctrl-D (or pass --in FILE)\n`);
  }
  const input = await openInput(options.in);
  const output = openOutput(options.out, { mode });
  const progress = createProgress(label, input.size);
  // Created here, after the awaits above, so the pipeline is listening before the encryptor's
  // data-key request can fail.
  const transform = createTransform();
  try {
    await pipeline(input.stream, progress.stream, transform, output.stream);
  } catch (error) {
    progress.finish();
    transform.destroy();
    await output.abort();
    throw error;
  }
  progress.finish();
  await output.commit();
}
