// The `keyhaven` command line: global options, the command groups, and one place that turns errors
// into `error: <code>: <message>` and an exit code (1 for failures, 2 for usage errors).
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyhavenError } from '../client/index.js';
import { DEFAULT_TIMEOUT_MS } from '../client/http-transport.js';
import { registerAccessKeyCommands } from './access-keys.js';
import { registerAliasCommands } from './aliases.js';
import { registerApiKeyCommands } from './api-keys.js';
import { registerAuditCommands } from './audit.js';
import { registerLogCommands } from './logs.js';
import { registerAuthCommands } from './auth.js';
import { registerBackupCommands } from './backup.js';
import { ConfigError } from '../config-error.js';
import { RootKeyError } from '../adapters/keystore/software/root-key-error.js';
import { CliError } from './cli-error.js';
import { DEFAULT_ENDPOINT } from './cli-context.js';
import { registerDataKeyCommands } from './datakey.js';
import { registerEnvelopeCommands } from './envelope-commands.js';
import { registerHsmCommands } from './hsm.js';
import { EnvelopeError } from './envelope-format.js';
import { registerKeysCommands } from './keys.js';
import { parseInteger } from './option-parsers.js';
import { registerPolicyCommands } from './policies.js';
import { registerPrincipalCommands } from './principals.js';
import { registerRandomCommand } from './random.js';
import { registerSecretsCommands } from './secrets.js';
import { registerServerCommand } from './server.js';
import { registerSigningCommands } from './signing.js';
import { registerStatusCommand } from './status.js';
import { registerTenantCommands } from './tenants.js';

function buildProgram(): Command {
  const program = new Command('keyhaven')
    .description('Keyhaven: an open-source key management service (server and client)')
    .version(packageVersion(), '-V, --version')
    .addOption(
      new Option('--endpoint <url>', 'server URL (http:// or https://)')
        .env('KEYHAVEN_ENDPOINT')
        .default(DEFAULT_ENDPOINT),
    )
    .addOption(
      new Option(
        '--token <token>',
        'API token (prefer the variable: arguments are visible to other users)',
      ).env('KEYHAVEN_TOKEN'),
    )
    .option('--json', 'print machine-readable JSON instead of tables')
    .addOption(
      new Option('--timeout <ms>', 'per-request timeout in milliseconds')
        .argParser(parseInteger(1, 3_600_000))
        .env('KEYHAVEN_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--ca <file>',
        "PEM CA certificate(s) trusted for an https endpoint, instead of the system's",
      ).env('KEYHAVEN_CA_CERT'),
    )
    .addOption(
      new Option(
        '--cert <file>',
        'PEM client certificate, for a server that requires mutual TLS (with --key)',
      ).env('KEYHAVEN_CLIENT_CERT'),
    )
    .addOption(
      new Option('--key <file>', 'PEM private key of the --cert certificate').env('KEYHAVEN_CLIENT_KEY'),
    )
    // Usage errors surface as CommanderError (handled in main), never as process.exit in the middle.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError();

  registerKeysCommands(program);
  registerAliasCommands(program);
  registerEnvelopeCommands(program);
  registerSigningCommands(program);
  registerDataKeyCommands(program);
  registerSecretsCommands(program);
  registerRandomCommand(program);
  registerTenantCommands(program);
  registerPrincipalCommands(program);
  registerApiKeyCommands(program);
  registerAccessKeyCommands(program);
  registerPolicyCommands(program);
  registerAuthCommands(program);
  registerStatusCommand(program);
  registerServerCommand(program);
  registerHsmCommands(program);
  registerAuditCommands(program);
  registerBackupCommands(program);
  registerLogCommands(program);

  program.addHelpText(
    'after',
    `
Environment:
  KEYHAVEN_ENDPOINT     server URL, http:// or https:// (default ${DEFAULT_ENDPOINT})
  KEYHAVEN_TOKEN        API token
  KEYHAVEN_TIMEOUT      per-request timeout in milliseconds (default ${DEFAULT_TIMEOUT_MS})
  KEYHAVEN_CA_CERT      file: CA certificate(s) trusted for an https endpoint (--ca)
  KEYHAVEN_CLIENT_CERT  file: client certificate for a server that requires mutual TLS (--cert)
  KEYHAVEN_CLIENT_KEY   file: the client certificate's private key (--key)

Examples:
  $ export KEYHAVEN_TOKEN=...
  $ keyhaven keys create --alias alias/backups --description "nightly backups"
  $ keyhaven encrypt --key-id alias/backups --in db.dump --out db.dump.kh
  $ keyhaven decrypt --in db.dump.kh --out db.dump
  $ keyhaven keys list --json
  $ keyhaven principals create billing --role crypto-user
  $ keyhaven api-keys create <principalId>   # prints the new API key's secret, once
  $ keyhaven secrets encrypt .env --key-id alias/app   # ENC[...] values, safe to commit

Run "keyhaven <command> --help" for a command's options.`,
  );
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // A closed pipe (keyhaven decrypt | head) is the reader's choice, not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

/** Prints the error for a person and returns the exit code. */
function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message already; help and version are successful exits.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof KeyhavenError || error instanceof EnvelopeError || error instanceof CliError) {
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    if (error instanceof KeyhavenError && error.requestId)
      process.stderr.write(`request id: ${error.requestId}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
  // Configuration (and a refused HSM PIN, which is one) is the operator's to fix, not a bug.
  if (error instanceof ConfigError || error instanceof RootKeyError) {
    process.stderr.write(`error: ${error.name}: ${error.message}\n`);
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: Internal: ${message}\n`);
  if (process.env.KEYHAVEN_DEBUG && error instanceof Error && error.stack)
    process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** The version in package.json, found upward from this module (src/cli when run from source, dist/src/cli built). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'keyhaven' && pkg.version) return pkg.version;
    } catch {
      // not here; keep climbing
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
