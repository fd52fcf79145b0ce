// `keyhaven secrets encrypt|decrypt|rotate|check FILE`: ENC[...] values in .env, JSON and YAML files,
// through @keyhaven/secrets (packages/secrets), against Keyhaven's REST API or, with --aws, an AWS
// KMS-compatible endpoint.
import { Command, Option } from 'commander';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type {
  AcceptedContext,
  ContextMode,
  OperationResult,
  SecretFormat,
  SecretKms,
} from '../../packages/secrets/src/index.js';
import { CliError, usageError } from './cli-error.js';
import { globalOptions } from './cli-context.js';
import { collectList, parseInteger } from './option-parsers.js';
import { writeJson } from './output.js';

interface SecretsOptions {
  keyId?: string;
  only?: string[];
  except?: string[];
  context?: ContextMode;
  accept?: AcceptedContext;
  format?: SecretFormat;
  out?: string;
  concurrency?: number;
  aws?: boolean;
  awsEndpoint?: string;
  awsRegion?: string;
  /** false with --no-recipient-bound. */
  recipientBound?: boolean;
}

const FORMATS: SecretFormat[] = ['dotenv', 'json', 'yaml'];

// Loaded by these commands only: every other command's start-up stays free of yaml and jsonc-parser.
const library = () => import('../../packages/secrets/src/index.js');

export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('encrypt the values of .env, JSON and YAML files in place as ENC[...] tokens, and back')
    .addHelpText(
      'after',
      `
Values are selected by name: the variable name (.env) or the dotted path (JSON/YAML: db.password,
servers[0].token); patterns match case-insensitively, * within a segment, ** across segments, and
$.a.b is the path a.b. Each value is bound to its name as encryption context
{"keyhaven:secret": NAME} and written ENC[kh1:<base64>]; with --context none it is written
ENC[<base64>] with no context, the form @faizahmed/secret-keystore reads and writes.

Examples:
  $ keyhaven secrets encrypt .env --key-id alias/app
  $ keyhaven secrets encrypt config.yaml --key-id alias/app --only 'db.*' --only '**.token'
  $ keyhaven secrets decrypt .env            # to stdout; --out FILE to write a file
  $ keyhaven secrets rotate .env --key-id alias/app
  $ keyhaven secrets check .env              # exit 1 when a plaintext value looks like a secret
  $ AWS_REGION=eu-west-1 keyhaven secrets encrypt .env --aws --key-id alias/app --context none`,
    );

  withCommon(secrets.command('encrypt').argument('<file>'))
    .description('replace the selected values with ENC[...] tokens (in place unless --out)')
    .requiredOption('--key-id <keyId>', 'the ENCRYPT_DECRYPT key (id, alias/<name> or ARN)')
    .option('--only <pattern>', 'encrypt only names matching (repeatable; default: all)', collectList)
    .option('--except <pattern>', 'never encrypt names matching (repeatable)', collectList)
    .addOption(
      new Option('--context <mode>', 'bind each value to its name, or no context')
        .choices(['name', 'none'])
        .default('name'),
    )
    .option('--out <file>', 'write here instead of in place')
    .action(async (file: string, options: SecretsOptions, command: Command) => {
      const { text, format } = await readDocument(file, options);
      const { encryptText } = await library();
      const kms = await kmsFor(command, options);
      const result = await run(() =>
        encryptText(text, format, {
          kms,
          keyId: options.keyId!,
          context: options.context,
          selection: { only: options.only, except: options.except },
          concurrency: options.concurrency,
        }),
      );
      writeDocument(options.out ?? file, result.text);
      report(command, 'encrypted', result, 'already encrypted or empty');
    });

  withCommon(secrets.command('decrypt').argument('<file>'))
    .description('print the file with its ENC[...] values decrypted (to stdout unless --out)')
    .option('--only <pattern>', 'decrypt only names matching (repeatable)', collectList)
    .addOption(acceptOption())
    .option('--key-id <keyId>', "with --aws: the RSA key of values in secret-keystore's envelope format")
    .option('--out <file>', 'write the plaintext file here (mode 0600) instead of stdout')
    .action(async (file: string, options: SecretsOptions, command: Command) => {
      const { text, format } = await readDocument(file, options);
      const { decryptText } = await library();
      const kms = await kmsFor(command, options);
      const result = await run(() =>
        decryptText(text, format, {
          kms,
          accept: options.accept,
          selection: { only: options.only },
          concurrency: options.concurrency,
        }),
      );
      if (options.out) {
        writeDocument(options.out, result.text);
        report(command, 'decrypted', result, 'not encrypted');
      } else process.stdout.write(result.text);
    });

  withCommon(secrets.command('rotate').argument('<file>'))
    .description("re-encrypt the ENC[...] values under a key's current version, or another key (in the KMS)")
    .requiredOption(
      '--key-id <keyId>',
      'the key to encrypt under: the same key (after `keys rotate`) or another',
    )
    .option('--only <pattern>', 'rotate only names matching (repeatable)', collectList)
    .addOption(acceptOption())
    .addOption(
      new Option('--context <mode>', 'write tokens in this mode (default: as they were)').choices([
        'name',
        'none',
      ]),
    )
    .option('--out <file>', 'write here instead of in place')
    .action(async (file: string, options: SecretsOptions, command: Command) => {
      const { text, format } = await readDocument(file, options);
      const { rotateText } = await library();
      const kms = await kmsFor(command, options);
      const result = await run(() =>
        rotateText(text, format, {
          kms,
          keyId: options.keyId!,
          accept: options.accept,
          context: options.context,
          selection: { only: options.only },
          concurrency: options.concurrency,
        }),
      );
      writeDocument(options.out ?? file, result.text);
      report(command, 'rotated', result, 'not encrypted');
    });

  secrets
    .command('check')
    .argument('<file>')
    .description('list plaintext values that look like secrets; exit 1 if there are any (no server needed)')
    .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(FORMATS))
    .action(async (file: string, options: SecretsOptions, command: Command) => {
      const { text, format } = await readDocument(file, options);
      const { findPlaintextSecrets } = await library();
      const findings = findPlaintextSecrets(text, format);
      if (globalOptions(command).json) writeJson(process.stdout, { findings });
      else for (const finding of findings) process.stdout.write(`${finding.name}: ${finding.reason}\n`);
      if (findings.length > 0) {
        throw new CliError(
          'PlaintextSecrets',
          `${findings.length} plaintext value(s) in ${basename(file)} look like secrets`,
        );
      }
    });
}

function withCommon(command: Command): Command {
  return command
    .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(FORMATS))
    .addOption(
      new Option('--concurrency <n>', 'KMS requests in flight at once')
        .argParser(parseInteger(1, 64))
        .default(8),
    )
    .option(
      '--no-recipient-bound',
      'REST: ask for plain decrypt results, for servers without recipient-bound decryption (docs/secrets.md)',
    )
    .option(
      '--aws',
      "use the AWS KMS protocol (AWS, or a Keyhaven server's AWS dialect) instead of the REST API",
    )
    .addOption(
      new Option('--aws-endpoint <url>', "with --aws: the endpoint (default: the AWS SDK's)").env(
        'AWS_ENDPOINT_URL_KMS',
      ),
    )
    .addOption(new Option('--aws-region <region>', 'with --aws: the region').env('AWS_REGION'));
}

function acceptOption(): Option {
  return new Option('--accept <mode>', 'tokens accepted: bound to their name, without context, or any')
    .choices(['name', 'none', 'any'])
    .default('name');
}

async function kmsFor(command: Command, options: SecretsOptions): Promise<SecretKms> {
  const { awsKms, keyhavenKms } = await library();
  if (options.aws) {
    // Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID, profiles, roles).
    return awsKms({
      endpoint: options.awsEndpoint,
      region: options.awsRegion ?? 'us-east-1',
      keyId: options.keyId,
    });
  }
  const { endpoint, token, timeout, ca, cert } = globalOptions(command);
  if (!token) throw usageError('no API token: set KEYHAVEN_TOKEN (or pass --token)');
  if (ca || cert)
    throw usageError('secrets commands take no --ca/--cert yet: use NODE_EXTRA_CA_CERTS for a private CA');
  return keyhavenKms({
    endpoint,
    token,
    timeoutMs: timeout,
    recipientBound: options.recipientBound ?? true,
  });
}

async function readDocument(
  file: string,
  options: SecretsOptions,
): Promise<{ text: string; format: SecretFormat }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw usageError(`cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try {
    return { text, format: options.format ?? (await library()).formatOfPath(file) };
  } catch (error) {
    throw await asCliError(error);
  }
}

/** Written beside the target and renamed over it: a failure never leaves half a file. */
function writeDocument(file: string, text: string): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}

async function run(work: () => Promise<OperationResult>): Promise<OperationResult> {
  try {
    return await work();
  } catch (error) {
    throw await asCliError(error);
  }
}

async function asCliError(error: unknown): Promise<unknown> {
  if (!(error instanceof (await library()).SecretsError)) return error;
  return new CliError(error.code, error.message, error.code === 'UsageError' ? 2 : 1, { cause: error });
}

function report(command: Command, verb: string, result: OperationResult, skippedAs: string): void {
  if (globalOptions(command).json) {
    writeJson(process.stdout, { [verb]: result.changed, skipped: result.skipped });
    return;
  }
  const skipped = result.skipped.length > 0 ? `; ${result.skipped.length} ${skippedAs}` : '';
  process.stderr.write(
    `${verb} ${result.changed.length} value(s)${result.changed.length ? `: ${result.changed.join(', ')}` : ''}${skipped}\n`,
  );
}
