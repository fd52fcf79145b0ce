// `keyhaven policies ...`: versioned policy documents of a tenant (attach them with `principals
// attach-policies` or `tenants update --policy`), their versions and rollback, and the simulator.
import type { Command } from 'commander';
import type { Policy, PolicyVersionInfo } from '../client/index.js';
import { createClient, emit } from './cli-context.js';
import { collectPair, parseInteger, parseTimestamp } from './option-parsers.js';
import { renderDetails, renderTable, tableTime, type Column } from './output.js';
import { emitListing, pageOptions, type PageOptions } from './paged-list.js';
import {
  DOCUMENT_OPTION_HELP,
  describeDecidedBy,
  readPolicyDocument,
  renderPolicyDocument,
  writePolicyDocument,
} from './policy-document.js';

const sids = (document: { statements: { sid?: string }[] }) =>
  document.statements.map((s) => s.sid ?? '-').join(',');

const policyColumns: Column<Policy>[] = [
  { header: 'POLICY ID', value: (p) => p.policyId },
  { header: 'NAME', value: (p) => p.name, maxWidth: 32 },
  { header: 'TENANT', value: (p) => p.tenantId },
  { header: 'VER', value: (p) => String(p.version) },
  { header: 'EFFECTIVE', value: (p) => tableTime(p.effectiveAt) },
  { header: 'STATEMENTS', value: (p) => sids(p.document), maxWidth: 40 },
];

function renderPolicy(policy: Policy): string {
  const details = renderDetails([
    ['Policy ID', policy.policyId],
    ['Name', policy.name],
    ['Tenant', policy.tenantId],
    ['Version', policy.version],
    ['Effective', policy.effectiveAt],
    ['Created', policy.createdAt],
  ]);
  return `${details}Document:\n${renderPolicyDocument(policy.document)}`;
}

const emitPolicy = (command: Command, policy: Policy) =>
  emit(command, { policy }, () => renderPolicy(policy));

const EFFECTIVE_AT_HELP = 'ISO-8601 time from which this version is in force (default: now)';

export function registerPolicyCommands(program: Command): void {
  const policies = program
    .command('policies')
    .description('create, version, roll back and simulate access policies')
    .addHelpText(
      'after',
      `
A document is {"statements": [{"sid", "effect": "allow"|"deny", "principals", "actions",
"resources", "conditions"}]}. Default deny; an explicit deny overrides any allow.

Examples:
  $ cat > deny-decrypt.json <<'JSON'
  {"statements": [{"sid": "no-decrypt", "effect": "deny", "principals": ["role:crypto-user"],
                   "actions": ["Decrypt"], "resources": ["*"]}]}
  JSON
  $ keyhaven policies create no-decrypt --document deny-decrypt.json
  $ keyhaven policies simulate --principal <principalId> --action Decrypt --key-id alias/orders
  $ keyhaven policies versions <policyId>
  $ keyhaven policies rollback <policyId> 1`,
    );

  policies
    .command('create')
    .description('create a policy (version 1)')
    .argument('<name>', 'display name')
    .requiredOption('--document <file>', DOCUMENT_OPTION_HELP)
    .option('--tenant <tenantId>', "the policy's tenant (default: your own)")
    .option('--effective-at <date>', EFFECTIVE_AT_HELP, parseTimestamp)
    .action(async (name: string, options: DocumentOptions & { tenant?: string }, command: Command) => {
      const policy = await createClient(command).createPolicy({
        name,
        tenantId: options.tenant,
        document: await readPolicyDocument(options.document),
        effectiveAt: options.effectiveAt,
      });
      emitPolicy(command, policy);
    });

  pageOptions(
    policies
      .command('list')
      .description("list a tenant's policies at their versions in force")
      .option('--tenant <tenantId>', 'the tenant (default: your own)'),
    'policies',
  ).action(async (options: PageOptions & { tenant?: string }, command: Command) => {
    const client = createClient(command);
    const filter = { tenantId: options.tenant };
    await emitListing(command, options, {
      field: 'policies',
      commandLine: `keyhaven policies list${options.tenant ? ` --tenant ${options.tenant}` : ''}`,
      all: () => client.listAllPolicies(filter),
      page: async (page) => {
        const { policies: items, nextCursor } = await client.listPolicies({ ...filter, ...page });
        return { items, nextCursor };
      },
      columns: policyColumns,
    });
  });

  policies
    .command('show')
    .description('show a policy and its document at the version in force')
    .argument('<policyId>', 'policy id')
    .option('--out <file>', 'write only the document (JSON) to this file, ready to edit and update')
    .action(async (policyId: string, options: { out?: string }, command: Command) => {
      const policy = await createClient(command).getPolicy(policyId);
      if (options.out) await writePolicyDocument(options.out, policy.document);
      else emitPolicy(command, policy);
    });

  policies
    .command('update')
    .description('add a version with a new document, in force now or from --effective-at')
    .argument('<policyId>', 'policy id')
    .requiredOption('--document <file>', DOCUMENT_OPTION_HELP)
    .option('--effective-at <date>', EFFECTIVE_AT_HELP, parseTimestamp)
    .action(async (policyId: string, options: DocumentOptions, command: Command) => {
      const policy = await createClient(command).updatePolicy(policyId, {
        document: await readPolicyDocument(options.document),
        effectiveAt: options.effectiveAt,
      });
      emitPolicy(command, policy);
    });

  policies
    .command('delete')
    .description('delete a policy (refused while a principal, tenant or key has it attached)')
    .argument('<policyId>', 'policy id')
    .action(async (policyId: string, _options: unknown, command: Command) => {
      await createClient(command).deletePolicy(policyId);
      emit(command, { policyId, deleted: true }, () => `deleted policy ${policyId}\n`);
    });

  policies
    .command('versions')
    .description("list a policy's versions, with when each takes effect")
    .argument('<policyId>', 'policy id')
    .action(async (policyId: string, _options: unknown, command: Command) => {
      const versions = await createClient(command).listPolicyVersions(policyId);
      emit(command, { versions }, () =>
        renderTable<PolicyVersionInfo>(versions, [
          { header: 'VERSION', value: (v) => String(v.version) },
          { header: 'EFFECTIVE', value: (v) => tableTime(v.effectiveAt) },
          { header: 'CREATED', value: (v) => tableTime(v.createdAt) },
          { header: 'STATEMENTS', value: (v) => sids(v.document), maxWidth: 40 },
        ]),
      );
    });

  policies
    .command('rollback')
    .description("make an earlier version's document the newest version, in force at once")
    .argument('<policyId>', 'policy id')
    .argument('<version>', 'the version whose document comes back', parseInteger(1, 1_000_000_000))
    .action(async (policyId: string, version: number, _options: unknown, command: Command) => {
      emitPolicy(command, await createClient(command).rollbackPolicy(policyId, version));
    });

  policies
    .command('simulate')
    .description("decide a principal's request as the server would, naming the deciding statement")
    .requiredOption('--principal <principalId>', 'who asks')
    .requiredOption('--action <action>', 'the API action, e.g. Encrypt, Decrypt, CreateKey')
    .option('--key-id <keyId>', 'the key acted on (id, alias or kh:<tenant>:key/<uuid>)')
    .option('--context <key=value>', 'encryption context pair (repeatable)', collectPair)
    .option('--source-ip <ip>', "the request's source address (for sourceIp conditions)")
    .option(
      '--at <date>',
      'ISO-8601 time of the request (for timeWindow conditions; default now)',
      parseTimestamp,
    )
    .addHelpText(
      'after',
      `
Nothing is performed. Prints the decision, the statement that decided and why; a deny still exits 0
(use "keyhaven auth verify" to test your own access in a script).`,
    )
    .action(async (options: SimulateOptions, command: Command) => {
      const result = await createClient(command).simulate({
        principalId: options.principal,
        action: options.action,
        keyId: options.keyId,
        context: options.context,
        sourceIp: options.sourceIp,
        at: options.at,
      });
      emit(command, result, () =>
        renderDetails([
          ['Decision', result.decision],
          ['Decided by', describeDecidedBy(result.decidedBy)],
          ['Reason', result.reason],
        ]),
      );
    });
}

interface DocumentOptions {
  document: string;
  effectiveAt?: string;
}

interface SimulateOptions {
  principal: string;
  action: string;
  keyId?: string;
  context?: Record<string, string>;
  sourceIp?: string;
  at?: string;
}
