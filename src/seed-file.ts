// The seed file (KEYHAVEN_SEED_FILE, YAML or JSON): keys with fixed ids, aliases and, where given,
// fixed material, for development and test environments that rely on known keys (as local-kms
// users do). Read and checked here; services/key-seeder.ts creates what is absent at start-up.
import { createPrivateKey } from 'node:crypto';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, readConfiguredFile } from './config.js';
import { decodePaddedBase64 } from './domain/base64.js';
import { KEY_SPECS, KEY_USAGES } from './domain/key-spec.js';
import type { SeedKey } from './services/key-seeder.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const seedKeySchema = z
  .object({
    /** The key's id, fixed: a lower-case UUID, as every key id. */
    keyId: z.string().regex(UUID, 'must be a lower-case UUID such as 0b6c5e1c-8f2a-4d3b-9c1e-2f4a6b8d0e12'),
    tenant: z.string().min(1).optional(),
    keySpec: z.enum(KEY_SPECS).default('SYMMETRIC_DEFAULT'),
    keyUsage: z.enum(KEY_USAGES).optional(),
    description: z.string().max(8192).optional(),
    tags: z.record(z.string(), z.string()).optional(),
    aliases: z.array(z.string().min(1)).default([]),
    /** Symmetric or HMAC material, base64 (the key's origin becomes EXTERNAL: imported). */
    material: z.string().min(1).optional(),
    /** An asymmetric key's private key, PEM (PKCS#8, PKCS#1 or SEC 1). */
    privateKeyPem: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((key) => key.material === undefined || key.privateKeyPem === undefined, {
    message: 'give material or privateKeyPem, not both',
  });

const seedSchema = z.object({ keys: z.array(seedKeySchema).default([]) }).strict();

/** Reads and checks a seed file; ConfigError names the file and every problem, never a value. */
export function loadSeedFile(path: string): SeedKey[] {
  const text = readConfiguredFile('KEYHAVEN_SEED_FILE', path).toString('utf8');
  let document: unknown;
  try {
    document = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`seed file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}`, {
      cause,
    });
  }
  const parsed = seedSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`seed file ${path} is invalid:\n${problems.join('\n')}`);
  }
  const ids = new Set<string>();
  return parsed.data.keys.map((key, index) => {
    if (ids.has(key.keyId)) throw new ConfigError(`seed file ${path}: keys.${index}: key ${key.keyId} twice`);
    ids.add(key.keyId);
    return { ...key, material: materialOf(key, `${path}: keys.${index}`) };
  });
}

function materialOf(key: { material?: string; privateKeyPem?: string }, where: string): Buffer | undefined {
  if (key.material !== undefined) {
    const material = decodePaddedBase64(key.material);
    if (material === undefined) throw new ConfigError(`${where}.material: must be base64`);
    return material;
  }
  if (key.privateKeyPem === undefined) return undefined;
  try {
    return createPrivateKey(key.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
  } catch {
    throw new ConfigError(`${where}.privateKeyPem: not a PEM private key`);
  }
}
