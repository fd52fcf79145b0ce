// `keyhaven principals ...`: the users and services that hold credentials, their roles, attributes
// and attached policies.
import { Command, Option } from 'commander';
import type { Principal, PrincipalType } from '../client/index.js';
import { usageError } from './cli-error.js';
import { createClient, emit } from './cli-context.js';
import { collectList, collectPair } from './option-parsers.js';
import { renderDetails, tableTime, type Column } from './output.js';
import { emitListing, pageOptions, type PageOptions } from './paged-list.js';

const principalColumns: Column<Principal>[] = [
  { header: 'PRINCIPAL ID', value: (p) => p.principalId },
  { header: 'NAME', value: (p) => p.name, maxWidth: 32 },
  { header: 'TYPE', value: (p) => p.type },
  { header: 'TENANT', value: (p) => p.tenantId },
  { header: 'ROLES', value: (p) => p.roles.join(','), maxWidth: 32 },
  { header: 'POLICIES', value: (p) => String(p.policyIds.length) },
  { header: 'CREATED', value: (p) => tableTime(p.createdAt) },
];

const pairs = (record: Record<string, string>) =>
  Object.entries(record)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

function renderPrincipal(principal: Principal): string {
  return renderDetails([
    ['Principal ID', principal.principalId],
    ['Name', principal.name],
    ['Type', principal.type],
    ['Tenant', principal.tenantId],
    ['Roles', principal.roles.join(', ') || 'none'],
    ['Attributes', pairs(principal.attributes)],
    ['Policies', principal.policyIds.join(', ') || 'none'],
    ['Created', principal.createdAt],
    ['Updated', principal.updatedAt],
  ]);
}

const emitPrincipal = (command: Command, principal: Principal) =>
  emit(command, { principal }, () => renderPrincipal(principal));

const ROLES = 'admin, key-admin, crypto-user, auditor, or a label that policies name';

export function registerPrincipalCommands(program: Command): void {
  const principals = program
    .command('principals')
    .description('create and manage principals (users and services), their roles and policies')
    .addHelpText(
      'after',
      `
A principal acts through its API keys (keyhaven api-keys) or access keys (keyhaven access-keys).
Built-in roles: admin (everything), key-admin (key lifecycle, no cryptographic use), crypto-user
(cryptographic use, no lifecycle), auditor (read metadata and logs).

Examples:
  $ keyhaven principals create billing --tenant <tenantId> --role crypto-user --attribute team=billing
  $ keyhaven principals list --tenant <tenantId>
  $ keyhaven principals attach-policies <principalId> <policyId>`,
    );

  principals
    .command('create')
    .description('create a principal')
    .argument('<name>', 'display name')
    .addOption(
      new Option('--type <type>', 'a person or a program').choices(['user', 'service']).default('service'),
    )
    .option('--tenant <tenantId>', "the principal's tenant (default: your own)")
    .option('--role <role>', `a role to grant (repeatable): ${ROLES}`, collectList)
    .option('--attribute <key=value>', 'an attribute policy conditions can test (repeatable)', collectPair)
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const principal = await createClient(command).createPrincipal({
        name,
        type: options.type,
        tenantId: options.tenant,
        roles: options.role,
        attributes: options.attribute,
      });
      emitPrincipal(command, principal);
    });

  pageOptions(
    principals
      .command('list')
      .description("list a tenant's principals")
      .option('--tenant <tenantId>', 'the tenant (default: your own)'),
    'principals',
  ).action(async (options: PageOptions & { tenant?: string }, command: Command) => {
    const client = createClient(command);
    const filter = { tenantId: options.tenant };
    await emitListing(command, options, {
      field: 'principals',
      commandLine: `keyhaven principals list${options.tenant ? ` --tenant ${options.tenant}` : ''}`,
      all: () => client.listAllPrincipals(filter),
      page: async (page) => {
        const { principals: items, nextCursor } = await client.listPrincipals({ ...filter, ...page });
        return { items, nextCursor };
      },
      columns: principalColumns,
    });
  });

  principals
    .command('show')
    .description("show a principal's roles, attributes and policies")
    .argument('<principalId>', 'principal id')
    .action(async (principalId: string, _options: unknown, command: Command) => {
      emitPrincipal(command, await createClient(command).getPrincipal(principalId));
    });

  principals
    .command('update')
    .description("change a principal's name, roles or attributes")
    .argument('<principalId>', 'principal id')
    .option('--name <name>', 'new display name')
    .option('--role <role>', `set the roles to these (repeatable; replaces them): ${ROLES}`, collectList)
    .option('--no-role', 'remove every role')
    .option('--attribute <key=value>', 'set the attributes to these (repeatable; replaces them)', collectPair)
    .option('--no-attribute', 'remove every attribute')
    .action(async (principalId: string, options: UpdateOptions, command: Command) => {
      const principal = await createClient(command).updatePrincipal(principalId, {
        name: options.name,
        roles: options.role === false ? [] : options.role,
        attributes: options.attribute === false ? {} : options.attribute,
      });
      emitPrincipal(command, principal);
    });

  principals
    .command('delete')
    .description('delete a principal and every API key and access key it holds')
    .argument('<principalId>', 'principal id')
    .action(async (principalId: string, _options: unknown, command: Command) => {
      await createClient(command).deletePrincipal(principalId);
      emit(command, { principalId, deleted: true }, () => `deleted principal ${principalId}\n`);
    });

  principals
    .command('attach-policies')
    .description('set the policies attached to a principal (replaces the list)')
    .argument('<principalId>', 'principal id')
    .argument('[policyIds...]', 'the policies to attach; any attached now and not named are detached')
    .option('--none', 'detach every policy')
    .addHelpText(
      'after',
      `
The list given replaces the principal's policies: name every policy it should keep.

Examples:
  $ keyhaven principals attach-policies <principalId> <policyId> <otherPolicyId>
  $ keyhaven principals attach-policies <principalId> --none`,
    )
    .action(
      async (principalId: string, policyIds: string[], options: { none?: boolean }, command: Command) => {
        if (options.none && policyIds.length > 0) throw usageError('give policy ids or --none, not both');
        if (!options.none && policyIds.length === 0)
          throw usageError('name the policies to attach, or --none to detach every policy');
        emitPrincipal(command, await createClient(command).setPrincipalPolicies(principalId, policyIds));
      },
    );
}

interface CreateOptions {
  type: PrincipalType;
  tenant?: string;
  role?: string[];
  attribute?: Record<string, string>;
}

interface UpdateOptions {
  name?: string;
  role?: string[] | false;
  attribute?: Record<string, string> | false;
}
