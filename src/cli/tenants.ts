// `keyhaven tenants ...`: tenants, their quotas and tenant-wide policies, and the keys they hold.
// Creating tenants and changing names or quotas is for system administrators (the bootstrap admin).
import type { Command } from 'commander';
import type { Tenant, TenantQuotas } from '../client/index.js';
import { compact } from '../client/wire.js';
import { createClient, emit } from './cli-context.js';
import { keyColumns } from './keys.js';
import { collectList, parseInteger } from './option-parsers.js';
import { renderDetails, tableTime, type Column } from './output.js';
import { emitListing, pageOptions, type PageOptions } from './paged-list.js';

const tenantColumns: Column<Tenant>[] = [
  { header: 'TENANT ID', value: (t) => t.tenantId },
  { header: 'NAME', value: (t) => t.name, maxWidth: 32 },
  { header: 'MAX KEYS', value: (t) => String(t.quotas.maxKeys ?? '') },
  { header: 'REQ/S', value: (t) => String(t.quotas.requestsPerSecond ?? '') },
  { header: 'POLICIES', value: (t) => String(t.policyIds.length) },
  { header: 'CREATED', value: (t) => tableTime(t.createdAt) },
];

function renderTenant(tenant: Tenant): string {
  return renderDetails([
    ['Tenant ID', tenant.tenantId],
    ['Name', tenant.name],
    ['Max keys', tenant.quotas.maxKeys ?? 'server limit'],
    ['Requests/second', tenant.quotas.requestsPerSecond ?? 'unlimited'],
    ['Policies', tenant.policyIds.join(', ') || 'none'],
    ['Created', tenant.createdAt],
    ['Updated', tenant.updatedAt],
  ]);
}

const emitTenant = (command: Command, tenant: Tenant) =>
  emit(command, { tenant }, () => renderTenant(tenant));

function quotaOptions(command: Command): Command {
  return command
    .option('--max-keys <n>', 'most keys the tenant may hold', parseInteger(1, 100_000_000))
    .option('--requests-per-second <n>', "the tenant's request rate limit", parseInteger(1, 1_000_000));
}

function quotasOf(options: QuotaOptions): TenantQuotas | undefined {
  if (options.maxKeys === undefined && options.requestsPerSecond === undefined) return undefined;
  return compact({ maxKeys: options.maxKeys, requestsPerSecond: options.requestsPerSecond });
}

export function registerTenantCommands(program: Command): void {
  const tenants = program
    .command('tenants')
    .description('create and manage tenants, their quotas and tenant-wide policies')
    .addHelpText(
      'after',
      `
Every principal, key, alias and policy belongs to one tenant. System administrators (the bootstrap
admin) see every tenant; everyone else sees only their own.

Examples:
  $ keyhaven tenants create acme --max-keys 1000 --requests-per-second 200
  $ keyhaven tenants list
  $ keyhaven tenants update <tenantId> --policy <policyId>
  $ keyhaven tenants keys <tenantId>`,
    );

  quotaOptions(
    tenants
      .command('create')
      .description('create a tenant (system administrators)')
      .argument('<name>', 'display name'),
  ).action(async (name: string, options: QuotaOptions, command: Command) => {
    emitTenant(command, await createClient(command).createTenant({ name, quotas: quotasOf(options) }));
  });

  pageOptions(
    tenants.command('list').description("list tenants (every one for system administrators, else one's own)"),
    'tenants',
  ).action(async (options: PageOptions, command: Command) => {
    const client = createClient(command);
    await emitListing(command, options, {
      field: 'tenants',
      commandLine: 'keyhaven tenants list',
      all: () => client.listAllTenants(),
      page: async (page) => {
        const { tenants: items, nextCursor } = await client.listTenants(page);
        return { items, nextCursor };
      },
      columns: tenantColumns,
    });
  });

  tenants
    .command('show')
    .description("show a tenant's name, quotas and policies")
    .argument('<tenantId>', 'tenant id (the bootstrap tenant is "default")')
    .action(async (tenantId: string, _options: unknown, command: Command) => {
      emitTenant(command, await createClient(command).getTenant(tenantId));
    });

  quotaOptions(
    tenants
      .command('update')
      .description("change a tenant's name or quotas (system administrators) or its tenant-wide policies")
      .argument('<tenantId>', 'tenant id')
      .option('--name <name>', 'new display name'),
  )
    .option(
      '--policy <policyId>',
      'set the tenant-wide policies to these (repeatable; replaces the list)',
      collectList,
    )
    .option('--no-policy', 'detach every tenant-wide policy')
    .addHelpText(
      'after',
      `
A quota not named keeps its value. Tenant-wide policies apply to every principal of the tenant.`,
    )
    .action(async (tenantId: string, options: UpdateOptions, command: Command) => {
      const client = createClient(command);
      let quotas = quotasOf(options);
      // PATCH replaces the quotas object; keep the quota this command was not asked to change.
      if (quotas) quotas = { ...(await client.getTenant(tenantId)).quotas, ...quotas };
      const tenant = await client.updateTenant(tenantId, {
        name: options.name,
        quotas,
        policyIds: options.policy === false ? [] : options.policy,
      });
      emitTenant(command, tenant);
    });

  pageOptions(
    tenants.command('keys').description("list a tenant's keys").argument('<tenantId>', 'tenant id'),
    'keys',
  ).action(async (tenantId: string, options: PageOptions, command: Command) => {
    const client = createClient(command);
    await emitListing(command, options, {
      field: 'keys',
      commandLine: `keyhaven tenants keys ${tenantId}`,
      all: () => client.listAllTenantKeys(tenantId),
      page: async (page) => {
        const { keys, nextCursor } = await client.listTenantKeys(tenantId, page);
        return { items: keys, nextCursor };
      },
      columns: keyColumns,
    });
  });
}

interface QuotaOptions {
  maxKeys?: number;
  requestsPerSecond?: number;
}

interface UpdateOptions extends QuotaOptions {
  name?: string;
  policy?: string[] | false;
}
