// Configuration: read once at start-up from an optional JSON file (KEYHAVEN_CONFIG) overlaid with
// KEYHAVEN_* environment variables, validated, and passed down. Nothing else reads process.env.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const configSchema = z
  .object({
    dataDir: z.string().min(1),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8400),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        trustProxy: z.boolean().default(false),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8400, bodyLimitBytes: 1024 * 1024, trustProxy: false }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    keyStore: z
      .object({
        type: z.literal('software').default('software'),
        rootPassphrase: z.string().min(8, 'rootPassphrase must have at least 8 characters').optional(),
      })
      .strict()
      .default({ type: 'software' }),
    metadata: z
      .object({
        type: z.literal('sqlite').default('sqlite'),
        path: z.string().optional(),
      })
      .strict()
      .default({ type: 'sqlite' }),
    cache: z
      .object({
        maxEntries: z.number().int().min(0).default(10_000),
        ttlSeconds: z.number().int().min(1).default(300),
        keyMetadataTtlMs: z.number().int().min(0).default(1000),
      })
      .strict()
      .default({ maxEntries: 10_000, ttlSeconds: 300, keyMetadataTtlMs: 1000 }),
    jobs: z
      .object({
        intervalSeconds: z.number().int().min(1).default(60),
        usageFlushMs: z.number().int().min(10).default(1000),
      })
      .strict()
      .default({ intervalSeconds: 60, usageFlushMs: 1000 }),
    adminToken: z.string().min(16, 'the admin token must have at least 16 characters').optional(),
  })
  .strict();

export type KeyhavenConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function integerFromEnv(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function setDefined(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== '') target[key] = value;
}

/** Builds the validated configuration. Throws ConfigError with every problem listed. */
export function loadConfig(env: Env = process.env): KeyhavenConfig {
  let fileConfig: Record<string, unknown> = {};
  const file = env.KEYHAVEN_CONFIG;
  if (file) {
    try {
      fileConfig = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`);
    }
    if (typeof fileConfig !== 'object' || fileConfig === null || Array.isArray(fileConfig)) {
      throw new ConfigError(`configuration file ${file} must hold a JSON object`);
    }
  }
  const merged: Record<string, unknown> = { ...fileConfig };
  const server = { ...((fileConfig.server as Record<string, unknown>) ?? {}) };
  const keyStore = { ...((fileConfig.keyStore as Record<string, unknown>) ?? {}) };
  setDefined(merged, 'dataDir', env.KEYHAVEN_DATA_DIR);
  merged.dataDir ??= join(homedir(), '.keyhaven');
  merged.dataDir = resolve(String(merged.dataDir));
  setDefined(server, 'host', env.KEYHAVEN_HOST);
  setDefined(server, 'port', integerFromEnv(env, 'KEYHAVEN_PORT'));
  setDefined(keyStore, 'rootPassphrase', env.KEYHAVEN_ROOT_PASSPHRASE);
  setDefined(merged, 'logLevel', env.KEYHAVEN_LOG_LEVEL);
  setDefined(merged, 'adminToken', env.KEYHAVEN_ADMIN_TOKEN);
  merged.server = server;
  merged.keyStore = keyStore;

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}
