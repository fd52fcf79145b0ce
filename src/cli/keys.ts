// `keyhaven keys ...`: key lifecycle (create, list, describe, update, enable/disable, rotate, delete,
// versions, public key, usage, BYOK import) and, from key-policy.ts, the key's policy; key-transfer.ts
// adds export, backup and restore.
import { Command, Option } from 'commander';
import type { KeyMaterialType, KeyMetadata } from '../client/index.js';
import { normalizeKeyMaterial } from '../client/index.js';
import { KEY_SPECS, KEY_USAGES, PROTECTION_LEVELS } from '../domain/key-spec.js';
import { KEY_STATES } from '../domain/key-state.js';
import { createClient, emit, globalOptions } from './cli-context.js';
import { readInput, writeOutput } from './io.js';
import { registerKeyPolicyCommands } from './key-policy.js';
import { registerKeyTransferCommands } from './key-transfer.js';
import { collectPair, parseInteger, parseTimestamp } from './option-parsers.js';
import { renderDetails, renderTable, type Column } from './output.js';

/** The columns of every key table (also `keyhaven tenants keys`). */
export const keyColumns: Column<KeyMetadata>[] = [
  { header: 'KEY ID', value: (k) => k.keyId },
  { header: 'ALIAS', value: (k) => k.alias ?? k.aliases[0] ?? '', maxWidth: 32 },
  { header: 'SPEC', value: (k) => k.keySpec },
  { header: 'USAGE', value: (k) => k.keyUsage },
  { header: 'STATE', value: (k) => k.state },
  { header: 'VER', value: (k) => String(k.currentVersion) },
  { header: 'CREATED', value: (k) => k.createdAt.slice(0, 19).replace('T', ' ') },
  { header: 'DESCRIPTION', value: (k) => k.description ?? '', maxWidth: 40 },
];

function renderKey(key: KeyMetadata): string {
  const tags = Object.entries(key.tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return renderDetails([
    ['Key ID', key.keyId],
    ['Aliases', key.aliases.join(', ')],
    ['Description', key.description],
    ['Key spec', key.keySpec],
    ['Key usage', key.keyUsage],
    ['State', key.state],
    ['Protection level', key.protectionLevel],
    ['Origin', key.origin],
    ['Current version', key.currentVersion],
    ['Created', key.createdAt],
    ['Tags', tags],
    ['Rotation period', key.rotationPeriodDays ? `${key.rotationPeriodDays} days` : undefined],
    ['Next rotation', key.nextRotationAt],
    ['Expires', key.expiresAt],
    ['Deletion date', key.deletionDate],
    ['Tenant', key.tenant],
  ]);
}

const emitKey = (command: Command, key: KeyMetadata) => emit(command, { key }, () => renderKey(key));

/** A subcommand acting on one key: `keyhaven keys <name> <keyId>`. */
function keyAction(
  keys: Command,
  name: string,
  description: string,
  run: (client: ReturnType<typeof createClient>, keyId: string) => Promise<KeyMetadata>,
): void {
  keys
    .command(name)
    .description(description)
    .argument('<keyId>', 'key id, alias (alias/<name>) or kh:<tenant>:key/<uuid>')
    .action(async (keyId: string, _options: unknown, command: Command) => {
      emitKey(command, await run(createClient(command), keyId));
    });
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('create, inspect and manage keys')
    .addHelpText(
      'after',
      `
Examples:
  $ keyhaven keys create --description "orders database" --alias alias/orders
  $ keyhaven keys create --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY
  $ keyhaven keys list --state Enabled
  $ keyhaven keys rotate alias/orders
  $ keyhaven keys policy get alias/orders`,
    );

  keys
    .command('create')
    .description('create a key (a 256-bit AES-GCM key unless --key-spec says otherwise)')
    .addOption(new Option('--key-spec <spec>', 'key type').choices(KEY_SPECS).default('SYMMETRIC_DEFAULT'))
    .addOption(
      new Option('--key-usage <usage>', "what the key is for (default: the spec's first usage)").choices(
        KEY_USAGES,
      ),
    )
    .option('--alias <alias>', 'alias to point at the new key, e.g. alias/orders')
    .option('--description <text>', 'free-text description')
    .option('--tag <key=value>', 'tag the key (repeatable)', collectPair)
    .addOption(
      new Option('--protection-level <level>', 'where the material lives').choices(PROTECTION_LEVELS),
    )
    .addOption(
      new Option('--origin <origin>', 'EXTERNAL creates a key without material, to import (BYOK)').choices([
        'KEYHAVEN',
        'EXTERNAL',
      ]),
    )
    .option(
      '--rotation-period-days <days>',
      'rotate automatically every N days (90..2560)',
      parseInteger(1, 100_000),
    )
    .option(
      '--expires-at <date>',
      'ISO-8601 time after which the key stops producing new output',
      parseTimestamp,
    )
    .option('--exportable', 'allow the key material to be exported')
    .option(
      '--client-token <token>',
      'makes a re-run safe: the same token and options within 24 h print the key made first (default: one per run)',
    )
    .action(async (options: CreateOptions, command: Command) => {
      const key = await createClient(command).createKey({
        keySpec: options.keySpec,
        keyUsage: options.keyUsage,
        alias: options.alias,
        description: options.description,
        tags: options.tag,
        protectionLevel: options.protectionLevel,
        origin: options.origin,
        rotationPeriodDays: options.rotationPeriodDays,
        expiresAt: options.expiresAt,
        exportable: options.exportable,
        clientToken: options.clientToken,
      });
      emitKey(command, key);
    });

  keys
    .command('list')
    .description('list keys (all pages, unless --limit or --cursor asks for one page)')
    .option('--alias <alias>', 'only the key with this alias')
    .option('--tag <key=value>', 'only keys with this tag (key:value also works)', (value: string) =>
      collectPair(value.includes('=') ? value : value.replace(':', '='), undefined),
    )
    .addOption(new Option('--state <state>', 'only keys in this state').choices(KEY_STATES))
    .option('--limit <n>', 'one page of at most n keys', parseInteger(1, 1000))
    .option('--cursor <cursor>', 'the page after this cursor (printed by a previous paged list)')
    .action(async (options: ListOptions, command: Command) => {
      const client = createClient(command);
      const filter = { alias: options.alias, tag: options.tag, state: options.state };
      if (options.limit === undefined && options.cursor === undefined) {
        const all: KeyMetadata[] = [];
        for await (const key of client.listAllKeys(filter)) all.push(key);
        emit(command, { keys: all, nextCursor: null }, () => renderTable(all, keyColumns));
        return;
      }
      const page = await client.listKeys({ ...filter, limit: options.limit, cursor: options.cursor });
      emit(command, page, () => renderTable(page.keys, keyColumns));
      // The hint goes to stderr so that stdout stays a clean table for pipes.
      if (page.nextCursor && !globalOptions(command).json) {
        const limit = options.limit === undefined ? '' : ` --limit ${options.limit}`;
        process.stderr.write(`more: keyhaven keys list${limit} --cursor ${page.nextCursor}\n`);
      }
    });

  keyAction(keys, 'describe', "show a key's metadata", (client, keyId) => client.getKey(keyId));

  keys
    .command('update')
    .description("change a key's description, tags, rotation period or expiry")
    .argument('<keyId>', 'key id or alias')
    .option('--description <text>', 'new description')
    .option('--tag <key=value>', 'replace the tags with these (repeatable)', collectPair)
    .option('--rotation-period-days <days>', 'rotate automatically every N days', parseInteger(1, 100_000))
    .option('--no-rotation', 'turn automatic rotation off')
    .option('--expires-at <date>', 'ISO-8601 expiry time', parseTimestamp)
    .action(async (keyId: string, options: UpdateOptions, command: Command) => {
      const key = await createClient(command).updateKey(keyId, {
        description: options.description,
        tags: options.tag,
        rotationPeriodDays: options.rotation === false ? null : options.rotationPeriodDays,
        expiresAt: options.expiresAt,
      });
      emitKey(command, key);
    });

  keyAction(keys, 'enable', 'enable a disabled key', (client, keyId) => client.enableKey(keyId));
  keyAction(
    keys,
    'disable',
    'disable a key: it refuses every cryptographic operation until enabled',
    (client, keyId) => client.disableKey(keyId),
  );
  keyAction(
    keys,
    'rotate',
    'add a new key version; new encryption uses it, old ciphertext still decrypts',
    (c, keyId) => c.rotateKey(keyId),
  );

  keys
    .command('delete')
    .description('schedule a key for deletion after a waiting period (cancel with cancel-deletion)')
    .argument('<keyId>', 'key id or alias')
    .option('--pending-window-days <days>', 'waiting period, 7..30 (server default 30)', parseInteger(7, 30))
    .action(async (keyId: string, options: { pendingWindowDays?: number }, command: Command) => {
      emitKey(command, await createClient(command).scheduleKeyDeletion(keyId, options.pendingWindowDays));
    });

  keyAction(
    keys,
    'cancel-deletion',
    'cancel a scheduled deletion (the key comes back Disabled)',
    (client, keyId) => client.cancelKeyDeletion(keyId),
  );

  keys
    .command('versions')
    .description("list a key's versions")
    .argument('<keyId>', 'key id or alias')
    .action(async (keyId: string, _options: unknown, command: Command) => {
      const versions = await createClient(command).listKeyVersions(keyId);
      emit(command, { versions }, () =>
        renderTable(versions, [
          { header: 'VERSION', value: (v) => String(v.version) },
          { header: 'STATE', value: (v) => v.state },
          { header: 'CREATED', value: (v) => v.createdAt },
        ]),
      );
    });

  keys
    .command('public-key')
    .description("print an asymmetric key's public key (PEM), or write it to a file")
    .argument('<keyId>', 'key id or alias')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--der', 'write SPKI DER instead of PEM')
    .action(async (keyId: string, options: { out?: string; der?: boolean }, command: Command) => {
      const result = await createClient(command).getPublicKey(keyId);
      if (options.der) {
        await writeOutput(options.out, result.spki);
      } else if (options.out) {
        await writeOutput(options.out, result.publicKey);
      } else {
        emit(command, result, () =>
          result.publicKey.endsWith('\n') ? result.publicKey : `${result.publicKey}\n`,
        );
      }
    });

  keys
    .command('usage')
    .description('show how often a key was used, per operation')
    .argument('<keyId>', 'key id or alias')
    .action(async (keyId: string, _options: unknown, command: Command) => {
      const usage = await createClient(command).getKeyUsage(keyId);
      emit(command, usage, () =>
        renderDetails(
          Object.entries(usage).map(([name, value]) => [name, value === null ? 'never' : value] as const),
        ),
      );
    });

  keys
    .command('import')
    .description('import your own key material into a key created with --origin EXTERNAL (BYOK)')
    .argument('<keyId>', 'key id or alias')
    .requiredOption(
      '--material <file>',
      'the key material: raw bytes (SYMMETRIC) or a PEM/DER key; "-" for stdin',
    )
    .addOption(
      new Option('--material-type <type>', 'what the material is')
        .choices(['SYMMETRIC', 'PRIVATE_KEY', 'PUBLIC_KEY'])
        .default('SYMMETRIC'),
    )
    .addHelpText(
      'after',
      `
The material is encrypted locally with RSA-OAEP-SHA-256 to the server's one-time wrapping key; it
never travels in the clear. A PUBLIC_KEY import gives a key that can only verify (or encrypt).`,
    )
    .action(async (keyId: string, options: ImportOptions, command: Command) => {
      const material = normalizeKeyMaterial(await readInput(options.material), options.materialType);
      try {
        emitKey(
          command,
          await createClient(command).importKey({
            keyId,
            keyMaterial: material,
            keyMaterialType: options.materialType,
          }),
        );
      } finally {
        material.fill(0);
      }
    });

  registerKeyPolicyCommands(keys);
  registerKeyTransferCommands(keys);
}

interface CreateOptions {
  keySpec: (typeof KEY_SPECS)[number];
  keyUsage?: (typeof KEY_USAGES)[number];
  alias?: string;
  description?: string;
  tag?: Record<string, string>;
  protectionLevel?: (typeof PROTECTION_LEVELS)[number];
  origin?: 'KEYHAVEN' | 'EXTERNAL';
  rotationPeriodDays?: number;
  expiresAt?: string;
  exportable?: boolean;
  clientToken?: string;
}

interface ListOptions {
  alias?: string;
  tag?: Record<string, string>;
  state?: (typeof KEY_STATES)[number];
  limit?: number;
  cursor?: string;
}

interface UpdateOptions {
  description?: string;
  tag?: Record<string, string>;
  rotationPeriodDays?: number;
  rotation?: boolean;
  expiresAt?: string;
}

interface ImportOptions {
  material: string;
  materialType: KeyMaterialType;
}
