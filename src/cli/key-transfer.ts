// `keyhaven keys export|backup|restore`: key material out of the server (wrapped to your RSA key, or
// sealed in a backup bundle) and back in. A passphrase comes from a file or an environment
// variable, never from an argument (arguments show in `ps` and shell history).
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { ExportWrappingAlgorithm } from '../client/index.js';
import { usageError } from './cli-error.js';
import { createClient, emit } from './cli-context.js';
import { readInput, writeOutput } from './io.js';
import { renderTable } from './output.js';

export const PASSPHRASE_ENV = 'KEYHAVEN_BACKUP_PASSPHRASE';

const WRAPPING_ALGORITHMS = [
  'RSA_AES_KEY_WRAP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSAES_OAEP_SHA_1',
] as const;

/** The passphrase from --passphrase-file (its first line) or KEYHAVEN_BACKUP_PASSPHRASE. */
function passphraseOf(file: string | undefined, required: boolean): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw usageError(
        `cannot read the --passphrase-file ${file} (${(cause as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      );
    }
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    if (line === '') throw usageError(`the --passphrase-file ${file} is empty`);
    return line;
  }
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv) return fromEnv;
  if (required) throw usageError(`give the passphrase in --passphrase-file or ${PASSPHRASE_ENV}`);
  return undefined;
}

/** A public key file, PEM or DER, as SPKI DER. */
function spkiOf(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  try {
    const key = text.includes('-----BEGIN')
      ? createPublicKey(text)
      : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    return key.export({ type: 'spki', format: 'der' });
  } catch {
    throw usageError('--wrapping-key must be an RSA public key (PEM or SPKI DER)');
  }
}

export function registerKeyTransferCommands(keys: Command): void {
  keys
    .command('export')
    .description('export an exportable key, wrapped to your RSA public key (RSA-OAEP, AES-KWP)')
    .argument('<keyId>', 'key id or alias')
    .requiredOption(
      '--wrapping-key <file>',
      'your RSA public key (2048 bits or more), PEM or DER; "-" for stdin',
    )
    .addOption(
      new Option('--algorithm <name>', 'how the material is wrapped')
        .choices(WRAPPING_ALGORITHMS)
        .default('RSA_AES_KEY_WRAP_SHA_256'),
    )
    .option('--key-version <n>', 'a version number, or "all" (default: the current version)')
    .option('--out <file>', 'write the JSON reply to this file instead of stdout')
    .addHelpText(
      'after',
      `
Each version's encryptedKeyMaterial is what an import under the same algorithm takes: open it with
your private key (raw key bytes, or PKCS#8 DER for asymmetric keys). Only keys created with
--exportable export; HSM keys whose HSM cannot wrap them out answer 409 (UnsupportedOperation).`,
    )
    .action(async (keyId: string, options: ExportOptions, command: Command) => {
      const version = options.keyVersion;
      if (version !== undefined && version !== 'all' && !/^[0-9]{1,9}$/.test(version)) {
        throw usageError('--key-version must be a version number or "all"');
      }
      const result = await createClient(command).exportKey({
        keyId,
        wrappingPublicKey: spkiOf(await readInput(options.wrappingKey)),
        wrappingAlgorithm: options.algorithm,
        ...(version === undefined ? {} : { version: version === 'all' ? 'all' : Number(version) }),
      });
      const wire = {
        ...result,
        versions: result.versions.map((v) => ({
          ...v,
          encryptedKeyMaterial: v.encryptedKeyMaterial.toString('base64'),
          ...(v.publicKey ? { publicKey: v.publicKey.toString('base64') } : {}),
        })),
      };
      if (options.out) await writeOutput(options.out, `${JSON.stringify(wire, null, 2)}\n`, { mode: 0o600 });
      else emit(command, wire, () => `${JSON.stringify(wire, null, 2)}\n`);
    });

  keys
    .command('backup')
    .description('back up keys with all their versions into one sealed bundle file')
    .requiredOption('--key-id <keyId...>', 'the keys to back up (ids or aliases)')
    .requiredOption('--out <file>', 'the bundle file to write ("-" for stdout)')
    .option('--passphrase-file <file>', `seal under the passphrase in this file (or set ${PASSPHRASE_ENV})`)
    .option('--wrapping-key-id <keyId>', 'seal under this SYMMETRIC_DEFAULT key instead (e.g. an HSM key)')
    .addHelpText(
      'after',
      `
A passphrase is read from --passphrase-file or ${PASSPHRASE_ENV}, never from an argument; it is
stretched with scrypt. A bundle sealed under a key restores only where that key exists (a
deployment sharing the HSM and the key). HSM keys back up only when exportable.`,
    )
    .action(async (options: BackupOptions, command: Command) => {
      const client = createClient(command);
      const result =
        options.wrappingKeyId !== undefined
          ? await client.backupKeys({ keyIds: options.keyId, wrappingKeyId: options.wrappingKeyId })
          : await client.backupKeys({
              keyIds: options.keyId,
              passphrase: passphraseOf(options.passphraseFile, true)!,
            });
      // 0600: the bundle holds key material (sealed, but a copy to guard all the same).
      await writeOutput(options.out, result.bundle, { mode: 0o600 });
      if (options.out !== '-') {
        emit(
          command,
          { keyIds: result.keyIds, out: options.out },
          () => `backed up ${result.keyIds.join(', ')} to ${options.out}\n`,
        );
      }
    });

  keys
    .command('restore')
    .description('restore the keys of a backup bundle, with their ids (all or nothing)')
    .argument('<file>', 'the bundle file ("-" for stdin)')
    .option('--passphrase-file <file>', `the bundle's passphrase (or set ${PASSPHRASE_ENV})`)
    .addHelpText(
      'after',
      `
Every key of the bundle is recreated in your tenant with its versions, metadata, free aliases and
key policy; if any of its key ids exists in your tenant, nothing is restored (409). An id held in a
tenant you cannot see is not yours to take: that key gets a fresh id (the KEY ID column shows it).`,
    )
    .action(async (file: string, options: RestoreOptions, command: Command) => {
      const bundle = await readInput(file);
      const passphrase = passphraseOf(options.passphraseFile, false);
      const keys = await createClient(command).restoreKeys({ bundle, ...(passphrase ? { passphrase } : {}) });
      emit(command, { keys }, () =>
        renderTable(keys, [
          { header: 'KEY ID', value: (k) => k.keyId },
          { header: 'SPEC', value: (k) => k.keySpec },
          { header: 'STATE', value: (k) => k.state },
          { header: 'VER', value: (k) => String(k.currentVersion) },
        ]),
      );
    });
}

interface ExportOptions {
  wrappingKey: string;
  algorithm: ExportWrappingAlgorithm;
  keyVersion?: string;
  out?: string;
}

interface BackupOptions {
  keyId: string[];
  out: string;
  passphraseFile?: string;
  wrappingKeyId?: string;
}

interface RestoreOptions {
  passphraseFile?: string;
}
