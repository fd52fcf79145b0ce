// `keyhaven audit verify`: checks an audit chain offline, without a server, from a database file or
// from an export (GET /v1/logs/export). Checkpoint signatures are checked against a pinned public
// key (GET /v1/logs/public-key), or, for a database file without one, against the public key the
// database itself holds, which an administrator of that database could have replaced: pin it.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { parseExportLine, MAX_EXPORT_LINE_LENGTH } from '../domain/audit-export.js';
import { AuditChainVerifier, type AuditVerification } from '../domain/audit-verifier.js';
import { SYSTEM_KEYS_TENANT } from '../domain/identity.js';
import { checkpointVerifier, walkChain } from '../services/audit-chain-reader.js';
import { CliError, usageError } from './cli-error.js';
import { globalOptions } from './cli-context.js';
import { writeJson } from './output.js';

interface VerifyOptions {
  db?: string;
  export?: string;
  publicKey?: string;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('work with the audit log offline');
  audit
    .command('verify')
    .description(
      'verify an audit chain from a database file or an export: exits 0 if intact, 3 naming the first bad record',
    )
    .option('--db <file>', 'the server database file (keyhaven.db; stop the server or copy it first)')
    .option('--export <file>', 'a JSON Lines export (GET /v1/logs/export)')
    .option('--public-key <file>', 'PEM of the audit key (GET /v1/logs/public-key): required with --export')
    .action(async (options: VerifyOptions, command: Command) => {
      if (!options.db === !options.export) throw usageError('give exactly one of --db and --export');
      const pinned = options.publicKey ? createPublicKey(await readFile(options.publicKey)) : undefined;
      if (options.export && !pinned) throw usageError('--export needs --public-key');
      const result = options.db
        ? await verifyDatabase(options.db, pinned)
        : await verifyExport(options.export!, pinned!);
      report(command, result, options.db !== undefined && !pinned);
      if (!result.valid) process.exitCode = 3;
    });
}

async function verifyDatabase(path: string, pinned: KeyObject | undefined): Promise<AuditVerification> {
  // Loaded here, not at the top: the SQLite adapter and Kysely are half of the modules the CLI
  // would otherwise load, and every other command (each a process start) would pay for them.
  const { openSqliteReadOnly } = await import('../adapters/metadata/sqlite/open-sqlite.js');
  const stores = openSqliteReadOnly(path);
  try {
    const keys = new Map<string, KeyObject>();
    if (!pinned) {
      const page = await stores.metadata.listKeys({
        tenant: SYSTEM_KEYS_TENANT,
        tag: { key: 'keyhaven:purpose', value: 'audit-checkpoint' },
        limit: 10,
      });
      for (const key of page.keys) {
        for (const version of await stores.metadata.listVersions(key.keyId)) {
          if (version.publicKeySpki) {
            keys.set(
              `${key.keyId}:${version.version}`,
              createPublicKey({ key: version.publicKeySpki, format: 'der', type: 'spki' }),
            );
          }
        }
      }
    }
    const verifier = new AuditChainVerifier({ verifyCheckpoint: checkpointVerifier(keys, pinned) });
    for await (const item of walkChain(stores.audit, 0)) {
      if (item.type === 'record') verifier.addRecord(item.record);
      else verifier.addCheckpoint(item.checkpoint);
    }
    return verifier.finish();
  } finally {
    await stores.metadata.close();
  }
}

async function verifyExport(path: string, pinned: KeyObject): Promise<AuditVerification> {
  const verifier = new AuditChainVerifier({ verifyCheckpoint: checkpointVerifier(new Map(), pinned) });
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.length > MAX_EXPORT_LINE_LENGTH)
      throw new CliError('ValidationError', `line ${number} is too long`);
    if (line === '') continue;
    const item = parseExportLine(line, number);
    if (item.type === 'record') verifier.addRecord(item.record);
    else verifier.addCheckpoint(item.checkpoint);
  }
  return verifier.finish();
}

function report(command: Command, result: AuditVerification, unpinned: boolean): void {
  if (globalOptions(command).json) return writeJson(process.stdout, result);
  const lines = [
    result.valid
      ? 'valid: the chain is intact'
      : `INVALID at record ${result.firstInvalid?.seq}: ${result.firstInvalid?.reason}`,
    `records: ${result.records}, checkpoints: ${result.checkpoints}, unsigned tail: ${result.unsignedTail}`,
  ];
  if (unpinned)
    lines.push(
      'note: checkpoints were checked with the public key from the database itself; pin it with --public-key',
    );
  process.stdout.write(`${lines.join('\n')}\n`);
}
