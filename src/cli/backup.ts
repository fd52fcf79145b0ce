// `keyhaven backup database | verify`: the two steps of a whole-deployment backup that need
// Keyhaven's own code (scripts/keyhaven-backup runs them). `database` copies the live SQLite
// database consistently (SQLite's online backup API, so the sqlite3 program need not be installed);
// `verify` checks, before a restored data directory is put to use, that its root key (file and
// passphrase, or HSM) opens the restored database. Both read the server's configuration.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, usageError } from './cli-error.js';
import { emit } from './cli-context.js';

export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('whole-deployment backup steps (see scripts/keyhaven-backup and docs/deploy.md)');

  backup
    .command('database')
    .description(
      'copy the SQLite metadata database while the server runs (SQLite online backup); PostgreSQL is backed up with pg_dump',
    )
    .requiredOption('--out <file>', 'the copy to write (a new file, created 0600)')
    .action(async (options: { out: string }, command: Command) => {
      const { loadConfig } = await import('../config.js');
      const { backupSqliteDatabase } = await import('../adapters/metadata/sqlite/sqlite-backup.js');
      const config = loadConfig();
      if (config.database.url !== undefined) {
        throw usageError('the metadata database is PostgreSQL (database.url): back it up with pg_dump');
      }
      const path = config.metadata.path ?? join(config.dataDir, 'keyhaven.db');
      if (!existsSync(path)) throw usageError(`no database at ${path}`);
      const pages = await backupSqliteDatabase(path, options.out);
      emit(command, { database: path, out: options.out, pages }, () => `copied ${path} to ${options.out}\n`);
    });

  backup
    .command('verify')
    .description(
      "check that the configured root key opens the configured database: the audit checkpoint key's versions must be usable",
    )
    .action(async (_options: unknown, command: Command) => {
      const result = await verifyRootKeyOpensDatabase();
      emit(
        command,
        result,
        () => `the root key opens the database (${result.usableVersions} system key version(s) checked)\n`,
      );
    });
}

async function verifyRootKeyOpensDatabase(): Promise<{ usableVersions: number }> {
  const { loadConfig } = await import('../config.js');
  const { openKeyStore } = await import('../keyhaven.js');
  const { openMetadataStores } = await import('../adapters/metadata/open-metadata-stores.js');
  const { ROOT_KEY_FILE } = await import('../adapters/keystore/software/sealed-root-key.js');
  const { ROOT_MARKER_FILE } = await import('../adapters/keystore/pkcs11/pkcs11-root-key-store.js');
  const { MaterialCache } = await import('../adapters/keystore/software/material-cache.js');
  const { SoftwareKeyBackend } = await import('../adapters/keystore/software/software-key-backend.js');
  const { SystemKeys } = await import('../services/system-keys.js');
  const { SYSTEM_KEYS_TENANT } = await import('../domain/identity.js');
  const { systemClock } = await import('../ports/clock.js');
  const config = loadConfig();
  // Opening the key store makes a root key where there is none: here that would hide a missing file.
  const rootFile = join(config.dataDir, config.keyStore.type === 'pkcs11' ? ROOT_MARKER_FILE : ROOT_KEY_FILE);
  if (!existsSync(rootFile)) {
    throw new CliError('RootKeyMissing', `${rootFile} is missing: restore it from the backup first`);
  }
  const { root, hsm } = await openKeyStore(config);
  const software = new SoftwareKeyBackend(root, new MaterialCache(16, 60_000));
  try {
    const stores = await openMetadataStores(config);
    try {
      const systemKeys = new SystemKeys(
        stores.metadata,
        hsm ?? software,
        hsm ? 'HSM' : 'SOFTWARE',
        systemClock,
      );
      const page = await stores.metadata.listKeys({
        tenant: SYSTEM_KEYS_TENANT,
        tag: { key: 'keyhaven:purpose', value: 'audit-checkpoint' },
        limit: 10,
      });
      // Each stored version signs a challenge through the key store: only the right root key (or HSM)
      // can unwrap (or find) its private half.
      const usable = await systemKeys.publicKeys('audit-checkpoint');
      if (page.keys.length > 0 && usable.length === 0) {
        throw new CliError(
          'RootKeyMismatch',
          "the root key does not open this database: no version of its audit checkpoint key can be used (another deployment's root-key.json, or another HSM token)",
        );
      }
      return { usableVersions: usable.length };
    } finally {
      await stores.metadata.close();
    }
  } finally {
    await hsm?.close();
    await software.close();
  }
}
