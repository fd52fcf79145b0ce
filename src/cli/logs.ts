// `keyhaven logs ...`: the audit log on the server (list, verify, export, the audit key). Offline
// verification of a database file or an export is `keyhaven audit verify` (audit.ts).
import { Command, Option } from 'commander';
import type { AuditRecord } from '../client/index.js';
import { createClient, emit } from './cli-context.js';
import { writeOutput } from './io.js';
import { renderDetails, type Column } from './output.js';
import { emitListing, pageOptions, type PageOptions } from './paged-list.js';

interface FilterOptions {
  from?: string;
  to?: string;
  keyId?: string;
  principal?: string;
  action?: string;
  result?: 'allow' | 'deny' | 'error';
  tenant?: string;
}

const recordColumns: readonly Column<AuditRecord>[] = [
  { header: 'SEQ', value: (r) => String(r.seq) },
  { header: 'TIME', value: (r) => r.time },
  { header: 'PRINCIPAL', value: (r) => r.principalId || '-' },
  { header: 'ACTION', value: (r) => r.action },
  { header: 'KEY', value: (r) => r.keyId ?? '-' },
  { header: 'RESULT', value: (r) => (r.errorCode ? `${r.result} (${r.errorCode})` : r.result) },
  { header: 'SOURCE', value: (r) => r.sourceIp || '-' },
];

const range = (command: Command) =>
  command
    .option('--from <time>', 'ISO 8601 date-time, inclusive')
    .option('--to <time>', 'ISO 8601 date-time, exclusive');

export function registerLogCommands(program: Command): void {
  const logs = program.command('logs').description('read and verify the audit log on the server');

  pageOptions(
    range(
      logs
        .command('list')
        .description('audit records, oldest first (your tenant, or all for system auditors)'),
    )
      .option('--key-id <keyId>', 'only records of this key')
      .option('--principal <principalId>', 'only records of this principal')
      .option('--action <action>', 'only this API action, e.g. Decrypt')
      .addOption(new Option('--result <result>', 'only this result').choices(['allow', 'deny', 'error']))
      .option('--tenant <tenantId>', "system auditors: only this tenant's records"),
    'records',
  ).action(async (options: FilterOptions & PageOptions, command: Command) => {
    const client = createClient(command);
    const filter = {
      from: options.from,
      to: options.to,
      keyId: options.keyId,
      principalId: options.principal,
      action: options.action,
      result: options.result,
      tenantId: options.tenant,
    };
    await emitListing(command, options, {
      field: 'records',
      commandLine: 'keyhaven logs list',
      all: () => client.listAllLogs(filter),
      page: async (page) => {
        const { records: items, nextCursor } = await client.listLogs({ ...filter, ...page });
        return { items, nextCursor };
      },
      columns: recordColumns,
    });
  });

  range(
    logs
      .command('verify')
      .description('verify the chain on the server; exit code 3 naming the first bad record'),
  ).action(async (options: FilterOptions, command: Command) => {
    const result = await createClient(command).verifyLogs({ from: options.from, to: options.to });
    emit(command, result, () =>
      renderDetails([
        ['Chain', result.valid ? 'intact' : `INVALID at record ${result.firstInvalid?.seq}`],
        ['Reason', result.firstInvalid?.reason],
        ['Records', String(result.records)],
        ['Checkpoints', String(result.checkpoints)],
        ['Unsigned tail', String(result.unsignedTail)],
      ]),
    );
    if (!result.valid) process.exitCode = 3;
  });

  range(logs.command('export').description('the chain as JSON Lines (records and signed checkpoints)'))
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (options: FilterOptions & { out?: string }, command: Command) => {
      const lines = await createClient(command).exportLogs({ from: options.from, to: options.to });
      await writeOutput(options.out ?? '-', Buffer.from(lines, 'utf8'));
    });

  logs
    .command('public-key')
    .description("the audit key's public key (PEM): pin it for `keyhaven audit verify --public-key`")
    .option('--out <file>', 'write the PEM to this file')
    .action(async (options: { out?: string }, command: Command) => {
      const key = await createClient(command).auditPublicKey();
      if (options.out) await writeOutput(options.out, Buffer.from(key.publicKey, 'utf8'));
      else emit(command, key, () => key.publicKey.trimEnd());
    });
}
